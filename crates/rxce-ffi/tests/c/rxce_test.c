/* Shared pieces of the C tests of librxce: see rxce_test.h. */
#define _POSIX_C_SOURCE 200809L

#include "rxce_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- checks ---------------------------------------------------------- */

static int checks_run;
static int checks_failed;

int check(int passed, const char *file, int line, const char *what)
{
    checks_run++;
    if (passed) {
        printf("ok - %s\n", what);
    } else {
        checks_failed++;
        printf("not ok - %s (%s:%d)\n", what, file, line);
    }
    fflush(stdout);
    return passed;
}

int check_status(NTSTATUS got, NTSTATUS want, const char *file, int line, const char *what)
{
    char text[1024];
    if (got == want) {
        snprintf(text, sizeof text, "%s == 0x%08X", what, (unsigned)want);
    } else {
        snprintf(text, sizeof text, "%s: got 0x%08X, want 0x%08X (last error: %s)", what,
                 (unsigned)got, (unsigned)want, RxCeGetLastErrorMessage());
    }
    return check(got == want, file, line, text);
}

int finish(void)
{
    printf("# %d checks, %d failed\n", checks_run, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

void sleep_ms(int ms)
{
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* ---- names and addresses -------------------------------------------- */

UNICODE_STRING name(const char *text, WCHAR *units)
{
    UNICODE_STRING s;
    memset(&s, 0, sizeof s);
    RxCeInitUnicodeStringFromUtf8(&s, units, 64 * sizeof(WCHAR), text);
    return s;
}

LONG ip_address(ADDRESS_BUFFER *buffer, uint32_t ip, uint16_t port)
{
    memset(buffer, 0, sizeof *buffer);
    RxCeInitIpAddress(&buffer->ip, ip, port);
    return 8 + TDI_ADDRESS_LENGTH_IP;
}

LONG other_address(ADDRESS_BUFFER *buffer, USHORT type, const void *entry, USHORT length)
{
    ULONG total = 0;
    memset(buffer, 0, sizeof *buffer);
    RxCeInitTransportAddress(&buffer->address, sizeof *buffer, type, entry, length, &total);
    return (LONG)total;
}

RXCE_CONNECTION_INFORMATION remote_info(ADDRESS_BUFFER *remote, LONG length)
{
    RXCE_CONNECTION_INFORMATION info;
    memset(&info, 0, sizeof info);
    info.RemoteAddressLength = length;
    info.RemoteAddress = remote;
    return info;
}

/* ---- the peer --------------------------------------------------------- */

#define MAX_PEER_CONNECTIONS 64

static struct {
    pthread_mutex_t lock;
    pthread_t thread;
    int listener;
    int connections[MAX_PEER_CONNECTIONS];
    int session_pending[MAX_PEER_CONNECTIONS];
    int count;
    int netbt;
    int accepted;
    enum peer_mode mode;
    long received;
    int close_newest; /* 1: orderly, 2: reset */
    const char *greeting;
    int stop;
} peer;

static void send_all(int fd, const unsigned char *bytes, size_t length)
{
    while (length > 0) {
        ssize_t n = send(fd, bytes, length, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return;
        }
        bytes += n;
        length -= (size_t)n;
    }
}

static void drop_connection(int index, int reset)
{
    int fd = peer.connections[index];
    if (reset) {
        struct linger linger;
        linger.l_onoff = 1;
        linger.l_linger = 0;
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    } else {
        shutdown(fd, SHUT_RDWR);
    }
    close(fd);
    peer.count--;
    peer.connections[index] = peer.connections[peer.count];
    peer.session_pending[index] = peer.session_pending[peer.count];
}

static void *peer_main(void *unused)
{
    static unsigned char buffer[1 << 16];
    (void)unused;
    for (;;) {
        struct pollfd fds[MAX_PEER_CONNECTIONS + 1];
        int i, n, count;
        enum peer_mode mode;
        pthread_mutex_lock(&peer.lock);
        if (peer.stop) {
            while (peer.count > 0) {
                drop_connection(peer.count - 1, 0);
            }
            pthread_mutex_unlock(&peer.lock);
            return NULL;
        }
        if (peer.close_newest && peer.count > 0) {
            drop_connection(peer.count - 1, peer.close_newest == 2);
        }
        peer.close_newest = 0;
        mode = peer.mode;
        count = peer.count;
        fds[0].fd = peer.listener;
        fds[0].events = POLLIN;
        for (i = 0; i < count; i++) {
            fds[i + 1].fd = peer.connections[i];
            fds[i + 1].events = mode == PEER_PAUSE ? 0 : POLLIN;
        }
        pthread_mutex_unlock(&peer.lock);

        n = poll(fds, (nfds_t)count + 1, 10);
        if (n <= 0) {
            continue;
        }
        pthread_mutex_lock(&peer.lock);
        if (fds[0].revents & POLLIN) {
            int fd = accept(peer.listener, NULL, NULL);
            if (fd >= 0 && peer.count < MAX_PEER_CONNECTIONS) {
                peer.session_pending[peer.count] = peer.netbt;
                peer.connections[peer.count++] = fd;
                peer.accepted++;
                if (peer.greeting != NULL) {
                    send_all(fd, (const unsigned char *)peer.greeting, strlen(peer.greeting));
                }
            } else if (fd >= 0) {
                close(fd);
            }
        }
        pthread_mutex_unlock(&peer.lock);
        for (i = count; i >= 1; i--) {
            ssize_t got;
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            got = recv(fds[i].fd, buffer, sizeof buffer, 0);
            pthread_mutex_lock(&peer.lock);
            if (got <= 0) {
                /* The client ended (or reset): close our side too. */
                int j;
                for (j = 0; j < peer.count; j++) {
                    if (peer.connections[j] == fds[i].fd) {
                        drop_connection(j, 0);
                        break;
                    }
                }
                pthread_mutex_unlock(&peer.lock);
                continue;
            }
            peer.received += got;
            mode = peer.mode;
            {
                int j, session = 0;
                for (j = 0; j < peer.count; j++) {
                    if (peer.connections[j] == fds[i].fd && peer.session_pending[j]) {
                        peer.session_pending[j] = 0;
                        session = 1;
                    }
                }
                if (session) {
                    /* The session request: answer it, echo nothing. */
                    static const unsigned char positive[4] = { 0x82, 0, 0, 0 };
                    pthread_mutex_unlock(&peer.lock);
                    send_all(fds[i].fd, positive, sizeof positive);
                    continue;
                }
            }
            pthread_mutex_unlock(&peer.lock);
            if (mode == PEER_ECHO) {
                send_all(fds[i].fd, buffer, (size_t)got);
            }
        }
    }
}

uint16_t peer_start(void)
{
    struct sockaddr_in address;
    socklen_t length = sizeof address;
    int one = 1;
    pthread_mutex_init(&peer.lock, NULL);
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(LOOPBACK);
    peer.listener = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(peer.listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(peer.listener, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(peer.listener, 64) != 0 ||
        getsockname(peer.listener, (struct sockaddr *)&address, &length) != 0) {
        perror("peer");
        return 0;
    }
    peer.mode = PEER_ECHO;
    peer.stop = 0;
    pthread_create(&peer.thread, NULL, peer_main, NULL);
    return ntohs(address.sin_port);
}

void peer_mode(enum peer_mode mode)
{
    pthread_mutex_lock(&peer.lock);
    peer.mode = mode;
    pthread_mutex_unlock(&peer.lock);
}

void peer_greet(const char *greeting)
{
    pthread_mutex_lock(&peer.lock);
    peer.greeting = greeting;
    pthread_mutex_unlock(&peer.lock);
}

void peer_netbt(int on)
{
    pthread_mutex_lock(&peer.lock);
    peer.netbt = on;
    pthread_mutex_unlock(&peer.lock);
}

int peer_accepted(void)
{
    int n;
    pthread_mutex_lock(&peer.lock);
    n = peer.accepted;
    pthread_mutex_unlock(&peer.lock);
    return n;
}

long peer_received(void)
{
    long n;
    pthread_mutex_lock(&peer.lock);
    n = peer.received;
    pthread_mutex_unlock(&peer.lock);
    return n;
}

void peer_send(const void *bytes, size_t length)
{
    int fd = -1;
    pthread_mutex_lock(&peer.lock);
    if (peer.count > 0) {
        fd = peer.connections[peer.count - 1];
    }
    pthread_mutex_unlock(&peer.lock);
    if (fd >= 0) {
        send_all(fd, bytes, length);
    }
}

void peer_close_newest(int reset)
{
    int i;
    pthread_mutex_lock(&peer.lock);
    peer.close_newest = reset ? 2 : 1;
    pthread_mutex_unlock(&peer.lock);
    for (i = 0; i < 500; i++) {
        int pending;
        pthread_mutex_lock(&peer.lock);
        pending = peer.close_newest;
        pthread_mutex_unlock(&peer.lock);
        if (!pending) {
            return;
        }
        sleep_ms(2);
    }
}

void peer_stop(void)
{
    pthread_mutex_lock(&peer.lock);
    peer.stop = 1;
    pthread_mutex_unlock(&peer.lock);
    pthread_join(peer.thread, NULL);
    close(peer.listener);
    pthread_mutex_destroy(&peer.lock);
}

int unix_listen(const char *path)
{
    struct sockaddr_un address;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(path);
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    strncpy(address.sun_path, path, sizeof address.sun_path - 1);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(fd, 1) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

uint16_t closed_port(void)
{
    struct sockaddr_in address;
    socklen_t length = sizeof address;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(LOOPBACK);
    bind(fd, (struct sockaddr *)&address, sizeof address);
    getsockname(fd, (struct sockaddr *)&address, &length);
    close(fd);
    return ntohs(address.sin_port);
}

/* ---- the recording connection handler -------------------------------- */

EVENTS events;
static pthread_mutex_t events_mutex = PTHREAD_MUTEX_INITIALIZER;

void events_lock(void)
{
    pthread_mutex_lock(&events_mutex);
}

void events_unlock(void)
{
    pthread_mutex_unlock(&events_mutex);
}

void events_reset(void)
{
    events_lock();
    memset(&events, 0, sizeof events);
    events.answer = ANSWER_TAKE_ALL;
    events_unlock();
}

int wait_for(const int *counter, int at_least, int ms)
{
    int i;
    for (i = 0; i <= ms; i++) {
        int now;
        events_lock();
        now = *counter;
        events_unlock();
        if (now >= at_least) {
            return 1;
        }
        sleep_ms(1);
    }
    return 0;
}

int wait_for_stream(size_t at_least, int ms)
{
    int i;
    for (i = 0; i <= ms; i++) {
        size_t now;
        events_lock();
        now = events.stream_length;
        events_unlock();
        if (now >= at_least) {
            return 1;
        }
        sleep_ms(1);
    }
    return 0;
}

/* Appends to the stream (events locked). */
static void record(const void *bytes, size_t length)
{
    size_t room = sizeof events.stream - events.stream_length;
    if (length > room) {
        length = room;
    }
    memcpy(events.stream + events.stream_length, bytes, length);
    events.stream_length += length;
}

/* Every callback gets this as its event context. */
#define CONTEXT ((PVOID)&events)

static int context_mismatches;

static void check_context(PVOID context)
{
    if (context != CONTEXT) {
        context_mismatches++;
    }
}

static NTSTATUS on_disconnect(PVOID context, struct _RXCE_VC *vc, int data_length, PVOID data,
                              int info_length, PVOID info, ULONG flags)
{
    events_lock();
    check_context(context);
    if (data_length != 0 || data != NULL || info_length != 0 || info != NULL) {
        context_mismatches++;
    }
    events.disconnects++;
    events.disconnect_flags = flags;
    events.disconnect_vc = vc;
    events.state_at_disconnect = vc != NULL ? vc->State : -1;
    events_unlock();
    return STATUS_SUCCESS;
}

static NTSTATUS on_error(PVOID context, struct _RXCE_VC *vc, NTSTATUS status)
{
    (void)vc;
    (void)status;
    events_lock();
    check_context(context);
    events.errors++;
    events_unlock();
    return STATUS_SUCCESS;
}

static NTSTATUS on_receive(PVOID context, struct _RXCE_VC *vc, ULONG flags, ULONG indicated,
                           ULONG available, ULONG *taken, PVOID tsdu, struct _MDL **chain,
                           PULONG size)
{
    NTSTATUS status = STATUS_SUCCESS;
    void (*hook)(PRXCE_VC) = NULL;
    ULONG n;
    events_lock();
    check_context(context);
    if (available < indicated) {
        context_mismatches++;
    }
    events.receives++;
    if (flags & TDI_RECEIVE_FORCE_INDICATION) {
        events.forced++;
    }
    events.last_flags = flags;
    events.last_indicated = indicated;
    events.last_vc = vc;
    events.last_vc_built =
        vc != NULL && vc->Signature == RXCE_VC_SIGNATURE && vc->pConnection != NULL;
    hook = events.in_receive;
    events.in_receive = NULL;
    switch (events.answer) {
    case ANSWER_TAKE_ALL:
        record(tsdu, indicated);
        *taken = indicated;
        break;
    case ANSWER_TAKE_SOME:
        n = events.take < indicated ? events.take : indicated;
        record(tsdu, n);
        *taken = n;
        break;
    case ANSWER_MORE_PROCESSING:
        n = events.take < indicated ? events.take : indicated;
        record(tsdu, n);
        *taken = n;
        *chain = events.chain;
        *size = events.chain_size;
        events.answer = ANSWER_TAKE_ALL;
        status = STATUS_MORE_PROCESSING_REQUIRED;
        break;
    case ANSWER_NOT_ACCEPTED:
        *taken = 0;
        status = STATUS_DATA_NOT_ACCEPTED;
        break;
    case ANSWER_BOGUS:
        status = STATUS_CANCELLED;
        break;
    }
    events_unlock();
    if (hook != NULL) {
        hook(vc);
    }
    return status;
}

static NTSTATUS on_send_possible(PVOID context, struct _RXCE_VC *vc, ULONG available)
{
    (void)vc;
    (void)available;
    events_lock();
    check_context(context);
    events.send_possible++;
    events_unlock();
    return STATUS_SUCCESS;
}

static NTSTATUS on_data_ready(PVOID context, struct _MDL *chain, ULONG copied, NTSTATUS status)
{
    struct _MDL *element;
    ULONG left = copied;
    events_lock();
    check_context(context);
    events.data_ready++;
    events.ready_chain = chain;
    events.ready_copied = copied;
    events.ready_status = status;
    for (element = chain; element != NULL && left > 0; element = element->Next) {
        ULONG n = element->ByteCount < left ? element->ByteCount : left;
        record(element->MappedSystemVa, n);
        left -= n;
    }
    events_unlock();
    return STATUS_SUCCESS;
}

static void note(COMPLETION *list, int *count, PVOID completion, struct _RXCE_VC *vc,
                 NTSTATUS status)
{
    if (*count < MAX_COMPLETIONS) {
        list[*count].context = completion;
        list[*count].vc = vc;
        list[*count].status = status;
    }
    (*count)++;
}

static NTSTATUS on_send_complete(PVOID context, struct _RXCE_VC *vc, PVOID completion,
                                 NTSTATUS status)
{
    events_lock();
    check_context(context);
    note(events.completions, &events.completed, completion, vc, status);
    events_unlock();
    return STATUS_SUCCESS;
}

static NTSTATUS on_send_submitted(PVOID context, struct _RXCE_VC *vc, PVOID completion,
                                  NTSTATUS status)
{
    events_lock();
    check_context(context);
    note(events.submissions, &events.submitted, completion, vc, status);
    events_unlock();
    return STATUS_SUCCESS;
}

RXCE_CONNECTION_EVENT_HANDLER recording_handler(void)
{
    RXCE_CONNECTION_EVENT_HANDLER handler;
    memset(&handler, 0, sizeof handler);
    handler.RxCeDisconnectEventHandler = on_disconnect;
    handler.RxCeErrorEventHandler = on_error;
    handler.RxCeReceiveEventHandler = on_receive;
    handler.RxCeSendPossibleEventHandler = on_send_possible;
    handler.RxCeDataReadyEventHandler = on_data_ready;
    handler.RxCeSendCompleteEventHandler = on_send_complete;
    handler.RxCeSendSubmittedEventHandler = on_send_submitted;
    return handler;
}

int context_was_always_right(void)
{
    int ok;
    events_lock();
    ok = context_mismatches == 0;
    events_unlock();
    return ok;
}

/* ---- objects --------------------------------------------------------- */

NTSTATUS stack_build(STACK *stack, uint16_t port)
{
    WCHAR units[64];
    UNICODE_STRING tcp = name("tcp", units);
    ADDRESS_BUFFER local, remote;
    RXCE_CONNECTION_INFORMATION info;
    RXCE_CONNECTION_EVENT_HANDLER handler = recording_handler();
    NTSTATUS status;
    memset(stack, 0, sizeof *stack);
    status = RxCeBuildTransport(&stack->transport, &tcp, 100);
    if (status != STATUS_SUCCESS) {
        return status;
    }
    ip_address(&local, LOOPBACK, 0);
    status = RxCeBuildAddress(&stack->address, &stack->transport, &local.address, NULL, NULL);
    if (status != STATUS_SUCCESS) {
        return status;
    }
    info = remote_info(&remote, ip_address(&remote, LOOPBACK, port));
    return RxCeBuildConnection(&stack->address, &info, &handler, CONTEXT, &stack->connection,
                               &stack->vc);
}

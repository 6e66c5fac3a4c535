/*
 * RxCeBuildConnectionOverMultipleTransports and RxCeCancelConnectRequest.
 *
 * The remote address carries two entries: an IP entry (the live peer, or a
 * black hole) that the tcp transports use, and a memory entry nobody
 * listens on, so the `memory` transport's connect is refused. Over those:
 * the first, best and all policies; the completion routine (exactly once,
 * on an engine thread, with the context filled and the objects built);
 * immediate failures that never call it; the VCs rxce allocates for an
 * all-successful build; a black-holed connect cancelled; and a build that
 * RxCeShutdown cuts short.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rxce_test.h"

#define IP STATUS_INVALID_PARAMETER
#define IH STATUS_INVALID_HANDLE

static uint16_t port;
static pthread_t main_thread;

/* ---- the completion routine ------------------------------------------ */

/* What the completion routine saw (under events_lock). */
static struct {
    int calls;
    int on_main_thread;
    NTSTATUS status;
    ULONG index;
    PRXCE_CONNECTION connection;
    PRXCE_VC vc;
    PRXCE_CONNECTION_INFORMATION information;
    int built;      /* pConnection and pVc were built when it ran */
    NTSTATUS query; /* RxCeQueryInformation on pVc from inside it */
} done;

static NTSTATUS on_completion(PRXCE_CONNECTION_COMPLETION_CONTEXT c)
{
    ULONG buffer[64];
    NTSTATUS query = STATUS_PENDING;
    if (c->Status == STATUS_SUCCESS) {
        query = RxCeQueryInformation(c->pVc, RxCeRemoteAddressInformation, buffer, sizeof buffer);
    }
    events_lock();
    done.calls++;
    done.on_main_thread = pthread_equal(pthread_self(), main_thread);
    done.status = c->Status;
    done.index = c->AddressIndex;
    done.connection = c->pConnection;
    done.vc = c->pVc;
    done.information = c->pConnectionInformation;
    done.built = c->pConnection->Signature == RXCE_CONNECTION_SIGNATURE &&
                 c->pVc->Signature == RXCE_VC_SIGNATURE &&
                 c->pVc->pConnection == c->pConnection;
    done.query = query;
    events_unlock();
    return STATUS_SUCCESS;
}

static int calls(void)
{
    int n;
    events_lock();
    n = done.calls;
    events_unlock();
    return n;
}

/* Waits up to 10 s for the routine's `n`th call. */
static int wait_done(int n)
{
    int i;
    for (i = 0; i < 10000 && calls() < n; i++) {
        sleep_ms(1);
    }
    return calls() >= n;
}

static NTSTATUS never_called(PRXCE_CONNECTION_COMPLETION_CONTEXT c)
{
    (void)c;
    CHECK(0, "the completion routine must not run");
    return STATUS_SUCCESS;
}

/* ---- a connection handler that tells the VCs apart ------------------- */

#define MAX_SEEN 8

static struct {
    PRXCE_VC vcs[MAX_SEEN];
    size_t bytes[MAX_SEEN];
    int count;
    int unbuilt;       /* indications whose VC was not built */
    int wrong_context;
} seen;

static void seen_reset(void)
{
    events_lock();
    memset(&seen, 0, sizeof seen);
    events_unlock();
}

static NTSTATUS on_receive(PVOID context, struct _RXCE_VC *vc, ULONG flags, ULONG indicated,
                           ULONG available, ULONG *taken, PVOID tsdu, struct _MDL **chain,
                           PULONG size)
{
    int i;
    (void)flags;
    (void)available;
    (void)tsdu;
    (void)chain;
    (void)size;
    events_lock();
    seen.wrong_context += context != (PVOID)&seen;
    if (vc == NULL || vc->Signature != RXCE_VC_SIGNATURE || vc->pConnection == NULL) {
        seen.unbuilt++;
    }
    for (i = 0; i < seen.count && seen.vcs[i] != vc; i++) {
    }
    if (i == seen.count && seen.count < MAX_SEEN) {
        seen.vcs[seen.count++] = vc;
    }
    if (i < MAX_SEEN) {
        seen.bytes[i] += indicated;
    }
    *taken = indicated;
    events_unlock();
    return STATUS_SUCCESS;
}

static RXCE_CONNECTION_EVENT_HANDLER handler(void)
{
    RXCE_CONNECTION_EVENT_HANDLER h;
    memset(&h, 0, sizeof h);
    h.RxCeReceiveEventHandler = on_receive;
    return h;
}

/* Waits up to 5 s for `n` VCs with at least `bytes` bytes each. */
static int wait_seen(int n, size_t bytes)
{
    int i, j;
    for (i = 0; i < 5000; i++) {
        int ok;
        events_lock();
        ok = seen.count >= n;
        for (j = 0; ok && j < n; j++) {
            ok = seen.bytes[j] >= bytes;
        }
        events_unlock();
        if (ok) {
            return 1;
        }
        sleep_ms(1);
    }
    return 0;
}

/* Bytes indicated on `vc` so far. */
static size_t bytes_of(PRXCE_VC vc)
{
    size_t n = 0;
    int i;
    events_lock();
    for (i = 0; i < seen.count; i++) {
        if (seen.vcs[i] == vc) {
            n = seen.bytes[i];
        }
    }
    events_unlock();
    return n;
}

/* Waits up to 5 s for `bytes` bytes on `vc`. */
static int wait_bytes(PRXCE_VC vc, size_t bytes)
{
    int i;
    for (i = 0; i < 5000 && bytes_of(vc) < bytes; i++) {
        sleep_ms(1);
    }
    return bytes_of(vc) >= bytes;
}

/* Waits up to a second for the peer to have accepted `n` connections. */
static int wait_accepted(int n)
{
    int i;
    for (i = 0; i < 1000 && peer_accepted() < n; i++) {
        sleep_ms(1);
    }
    return peer_accepted() >= n;
}

/* ---- objects ---------------------------------------------------------- */

/* tcp (quality 10), tcp (quality 50) and memory (quality 100) transports,
 * each with an address. */
static struct {
    RXCE_TRANSPORT tcp, tcp2, memory;
    RXCE_ADDRESS on_tcp, on_tcp2, on_memory;
} base;

static NTSTATUS build_transport(RXCE_TRANSPORT *t, RXCE_ADDRESS *a, const char *kind, ULONG quality)
{
    WCHAR units[64];
    UNICODE_STRING n = name(kind, units);
    ADDRESS_BUFFER local;
    NTSTATUS status = RxCeBuildTransport(t, &n, quality);
    if (status != STATUS_SUCCESS) {
        return status;
    }
    if (strcmp(kind, "memory") == 0) {
        LONG one = 1;
        USHORT length = 5, type = RXCE_ADDRESS_TYPE_MEMORY;
        memset(&local, 0, sizeof local);
        memcpy(local.bytes, &one, 4);
        memcpy(local.bytes + 4, &length, 2);
        memcpy(local.bytes + 6, &type, 2);
        memcpy(local.bytes + 8, "multi", 5);
    } else {
        ip_address(&local, LOOPBACK, 0);
    }
    return RxCeBuildAddress(a, t, &local.address, NULL, NULL);
}

static void base_build(void)
{
    memset(&base, 0, sizeof base);
    EXPECT(build_transport(&base.tcp, &base.on_tcp, "tcp", 10), STATUS_SUCCESS);
    EXPECT(build_transport(&base.tcp2, &base.on_tcp2, "tcp", 50), STATUS_SUCCESS);
    EXPECT(build_transport(&base.memory, &base.on_memory, "memory", 100), STATUS_SUCCESS);
}

/* A remote TRANSPORT_ADDRESS: 127.0.0.1:`ip_port` and memory:nobody. */
static RXCE_CONNECTION_INFORMATION remote_two(ADDRESS_BUFFER *b, uint16_t ip_port)
{
    LONG two = 2;
    USHORT length = 6, type = RXCE_ADDRESS_TYPE_MEMORY;
    ip_address(b, LOOPBACK, ip_port);
    memcpy(b->bytes, &two, 4);
    memcpy(b->bytes + 22, &length, 2);
    memcpy(b->bytes + 24, &type, 2);
    memcpy(b->bytes + 26, "nobody", 6);
    return remote_info(b, 32);
}

/* A build's objects and context. */
typedef struct {
    RXCE_CONNECTION connection;
    RXCE_VC vc;
    RXCE_CONNECTION_COMPLETION_CONTEXT context;
} TARGET;

static void target_init(TARGET *t)
{
    memset(t, 0, sizeof *t);
    t->context.pConnection = &t->connection;
    t->context.pVc = &t->vc;
}

static NTSTATUS start(TARGET *t, RXCE_CONNECTION_CREATE_OPTIONS option, ULONG count,
                      PRXCE_ADDRESS *addresses, RXCE_CONNECTION_INFORMATION *info)
{
    RXCE_CONNECTION_EVENT_HANDLER h = handler();
    WCHAR units[64];
    UNICODE_STRING server = name("SERVER", units);
    return RxCeBuildConnectionOverMultipleTransports(NULL, option, count, addresses, &server, info,
                                                     &h, (PVOID)&seen, on_completion, &t->context);
}

/* ---- the policies ----------------------------------------------------- */

static void first_successful(void)
{
    TARGET t;
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_two(&remote, port);
    PRXCE_ADDRESS addresses[2];
    int before = calls();
    TDI_ADDRESS_IP copied;

    addresses[0] = &base.on_memory;
    addresses[1] = &base.on_tcp;
    target_init(&t);
    seen_reset();
    peer_greet("welcome");
    EXPECT(start(&t, RxCeSelectFirstSuccessfulTransport, 2, addresses, &info), STATUS_PENDING);
    memset(&info, 0, sizeof info); /* the call copied it */
    CHECK(wait_done(before + 1), "first: the completion routine runs");
    events_lock();
    CHECK(done.status == STATUS_SUCCESS && done.index == 1, "first: SUCCESS over the tcp address (index 1)");
    CHECK(done.connection == &t.connection && done.vc == &t.vc && done.built,
          "first: the context's connection and VC were built before the routine ran");
    CHECK(done.query == STATUS_SUCCESS, "first: the VC answers a query from inside the routine");
    CHECK(!done.on_main_thread, "first: the routine runs on an engine thread");
    CHECK(done.information == t.connection.pConnectionInformation && done.information != NULL,
          "first: the context's connection information is the connection's copy");
    events_unlock();
    memcpy(&copied, ((TRANSPORT_ADDRESS *)t.connection.pConnectionInformation->RemoteAddress)
                        ->Address[0].Address,
           sizeof copied);
    CHECK(ntohs(copied.sin_port) == port, "first: the copy names the remote");
    CHECK(t.connection.pAddress == &base.on_tcp && t.connection.VirtualCircuitCount == 1 &&
              t.vc.State == RXCE_VC_ACTIVE && base.on_tcp.ConnectionCount == 1,
          "first: one VC on the winning address");
    CHECK(wait_bytes(&t.vc, 7), "first: the greeting reached the caller's VC");
    events_lock();
    CHECK(seen.count == 1 && seen.unbuilt == 0 && seen.wrong_context == 0,
          "first: only that VC, built when indicated, with the event context");
    events_unlock();
    sleep_ms(50);
    CHECK(calls() == before + 1, "first: the routine ran exactly once");
    EXPECT(RxCeTearDownConnection(&t.connection), STATUS_SUCCESS);
    peer_greet(NULL);
}

static void best_successful(void)
{
    TARGET t;
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_two(&remote, port);
    PRXCE_ADDRESS addresses[3];
    int before = calls();
    int accepted = peer_accepted();

    addresses[0] = &base.on_tcp;    /* quality 10 */
    addresses[1] = &base.on_memory; /* quality 100, refused */
    addresses[2] = &base.on_tcp2;   /* quality 50 */
    target_init(&t);
    seen_reset();
    EXPECT(start(&t, RxCeSelectBestSuccessfulTransport, 3, addresses, &info), STATUS_PENDING);
    CHECK(wait_done(before + 1), "best: the completion routine runs");
    events_lock();
    CHECK(done.status == STATUS_SUCCESS && done.index == 2 && done.built,
          "best: the success with the highest quality of service (index 2) wins");
    events_unlock();
    CHECK(wait_accepted(accepted + 2), "best: both tcp transports connected");
    CHECK(t.connection.pAddress == &base.on_tcp2 && t.connection.VirtualCircuitCount == 1 &&
              base.on_tcp.ConnectionCount == 0 && base.on_tcp.VirtualCircuitCount == 0 &&
              base.tcp.VirtualCircuitCount == 0,
          "best: the loser left nothing built");
    sleep_ms(50);
    CHECK(calls() == before + 1, "best: the routine ran exactly once");
    EXPECT(RxCeTearDownConnection(&t.connection), STATUS_SUCCESS);
}

/* Built by all_successful() and left to its transports' tear-down, with
 * the VC rxce allocated for it. */
static TARGET kept;
static PRXCE_VC kept_other;

static void all_successful(void)
{
    TARGET t;
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_two(&remote, port);
    PRXCE_ADDRESS addresses[3];
    int before = calls();
    PRXCE_VC other;
    char ping[] = "ping";
    MDL m;

    addresses[0] = &base.on_tcp;
    addresses[1] = &base.on_memory;
    addresses[2] = &base.on_tcp2;
    target_init(&t);
    seen_reset();
    peer_greet("welcome");
    EXPECT(start(&t, RxCeSelectAllSuccessfulTransports, 3, addresses, &info), STATUS_PENDING);
    CHECK(wait_done(before + 1), "all: the completion routine runs");
    events_lock();
    CHECK(done.status == STATUS_SUCCESS && (done.index == 0 || done.index == 2) && done.built,
          "all: SUCCESS, AddressIndex names a tcp address");
    CHECK(t.connection.pAddress == addresses[done.index],
          "all: the connection is on the address of its first VC");
    events_unlock();
    CHECK(t.connection.VirtualCircuitCount == 2, "all: both successes are VCs of the connection");
    CHECK(wait_seen(2, 7), "all: both VCs got the greeting");
    events_lock();
    other = seen.vcs[0] == &t.vc ? seen.vcs[1] : seen.vcs[0];
    CHECK((seen.vcs[0] == &t.vc || seen.vcs[1] == &t.vc) && other != NULL && other != &t.vc,
          "all: one is the caller's VC, one rxce's");
    CHECK(seen.unbuilt == 0 && seen.wrong_context == 0,
          "all: every indication had a built VC and the event context");
    events_unlock();
    CHECK(other->Signature == RXCE_VC_SIGNATURE && other->pConnection == &t.connection &&
              other->State == RXCE_VC_ACTIVE,
          "all: rxce's VC is built, on the connection");

    /* rxce's VC is a VC like any other. */
    m.Next = NULL;
    m.MappedSystemVa = ping;
    m.ByteCount = 4;
    EXPECT(RxCeSend(other, RXCE_SEND_SYNCHRONOUS, &m, 4, NULL), STATUS_SUCCESS);
    CHECK(wait_bytes(other, 11), "all: the peer echoed on rxce's VC");
    EXPECT(RxCeTearDownVC(other), STATUS_SUCCESS);
    CHECK(other->State == RXCE_VC_TORN_DOWN && t.connection.VirtualCircuitCount == 1,
          "all: rxce's VC torn down on its own stays readable until its connection goes");
    EXPECT(RxCeTearDownVC(other), IH);
    sleep_ms(50);
    CHECK(calls() == before + 1, "all: the routine ran exactly once");
    EXPECT(RxCeTearDownConnection(&t.connection), STATUS_SUCCESS);

    /* Another, torn down with its transports: rxce's VC goes with them. */
    target_init(&kept);
    seen_reset();
    EXPECT(start(&kept, RxCeSelectAllSuccessfulTransports, 3, addresses, &info), STATUS_PENDING);
    CHECK(wait_done(before + 2), "all: a second build completes");
    CHECK(kept.connection.VirtualCircuitCount == 2 && wait_seen(2, 7),
          "all: with two VCs that got the greeting");
    events_lock();
    kept_other = seen.vcs[0] == &kept.vc ? seen.vcs[1] : seen.vcs[0];
    events_unlock();
    peer_greet(NULL);
    /* (Torn down with the transports at the end.) */
}

static void nothing_succeeds(void)
{
    TARGET t;
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_two(&remote, port);
    PRXCE_ADDRESS addresses[1];
    int before = calls();

    addresses[0] = &base.on_memory;
    target_init(&t);
    EXPECT(start(&t, RxCeSelectAllSuccessfulTransports, 1, addresses, &info), STATUS_PENDING);
    CHECK(wait_done(before + 1), "refused: the completion routine runs");
    events_lock();
    CHECK(done.status == STATUS_CONNECTION_REFUSED && done.index == 0 && done.information == NULL,
          "refused: the attempt's status, AddressIndex 0, no connection information");
    events_unlock();
    CHECK(t.connection.Signature == 0 && t.vc.Signature == 0, "refused: nothing built");
    sleep_ms(50);
    CHECK(calls() == before + 1, "refused: the routine ran exactly once");
}

static void skipped_entries(void)
{
    TARGET t;
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_two(&remote, port);
    PRXCE_ADDRESS addresses[3];
    RXCE_ADDRESS unbuilt;
    int before = calls();

    memset(&unbuilt, 0, sizeof unbuilt);
    addresses[0] = NULL;
    addresses[1] = &unbuilt;
    addresses[2] = &base.on_tcp2;
    target_init(&t);
    EXPECT(start(&t, RxCeSelectFirstSuccessfulTransport, 3, addresses, &info), STATUS_PENDING);
    CHECK(wait_done(before + 1), "skipped: the completion routine runs");
    events_lock();
    CHECK(done.status == STATUS_SUCCESS && done.index == 2,
          "skipped: NULL and unbuilt entries are skipped; AddressIndex is the caller's position");
    events_unlock();
    EXPECT(RxCeTearDownConnection(&t.connection), STATUS_SUCCESS);
}

static void immediate_failures(void)
{
    TARGET t;
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_two(&remote, port);
    PRXCE_ADDRESS addresses[2];
    RXCE_CONNECTION_EVENT_HANDLER h = handler();
    RXCE_ADDRESS unbuilt;

    memset(&unbuilt, 0, sizeof unbuilt);
    target_init(&t);
    addresses[0] = &base.on_tcp;
    addresses[1] = &unbuilt;
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, 7, 1, addresses, NULL, &info, &h, NULL,
                                                     never_called, &t.context),
           IP);
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectAllSuccessfulTransports, 1,
                                                     addresses + 1, NULL, &info, &h, NULL,
                                                     never_called, &t.context),
           IH);
    addresses[0] = NULL;
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 2,
                                                     addresses, NULL, &info, &h, NULL,
                                                     never_called, &t.context),
           IH);
    info.RemoteAddressLength = 3;
    addresses[0] = &base.on_tcp;
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 1,
                                                     addresses, NULL, &info, &h, NULL,
                                                     never_called, &t.context),
           IP);
    sleep_ms(50);
    CHECK(t.connection.Signature == 0 && t.vc.Signature == 0, "immediate failures build nothing");
}

/* rxce's VC of `kept` runs over the other tcp address: tearing that
 * address down tears the VC down, not the connection's first VC. */
static void other_address_torn_down(void)
{
    PRXCE_ADDRESS other = kept.connection.pAddress == &base.on_tcp ? &base.on_tcp2 : &base.on_tcp;
    char byte = 'x';
    MDL m;
    m.Next = NULL;
    m.MappedSystemVa = &byte;
    m.ByteCount = 1;
    EXPECT(RxCeTearDownAddress(other), STATUS_SUCCESS);
    EXPECT(RxCeSend(kept_other, RXCE_SEND_SYNCHRONOUS, &m, 1, NULL), IH);
    EXPECT(RxCeSend(&kept.vc, RXCE_SEND_SYNCHRONOUS, &m, 1, NULL), STATUS_SUCCESS);
}

/* ---- cancelling a black-holed connect --------------------------------- */

/* A listener whose backlog is full: connects to it get no answer. */
static int hole_listener = -1, hole_filler = -1;

static uint16_t black_hole(void)
{
    struct sockaddr_in a;
    socklen_t length = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(LOOPBACK);
    hole_listener = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(hole_listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(hole_listener, 0) != 0 ||
        getsockname(hole_listener, (struct sockaddr *)&a, &length) != 0) {
        return 0;
    }
    hole_filler = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(hole_filler, (struct sockaddr *)&a, sizeof a) != 0) {
        return 0;
    }
    return ntohs(a.sin_port);
}

static void cancelled(uint16_t hole)
{
    TARGET t, same;
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_two(&remote, hole);
    PRXCE_ADDRESS addresses[1];
    int before = calls();

    addresses[0] = &base.on_tcp;
    target_init(&t);
    EXPECT(start(&t, RxCeSelectFirstSuccessfulTransport, 1, addresses, &info), STATUS_PENDING);
    sleep_ms(200);
    CHECK(calls() == before, "cancel: the black-holed connect is still in flight");
    same = t;
    same.context.pConnection = &t.connection;
    same.context.pVc = &t.vc;
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 1,
                                                     addresses, NULL, &info, NULL, NULL,
                                                     never_called, &same.context),
           IP);
    EXPECT(RxCeCancelConnectRequest(&base.on_tcp2, NULL, &info), IP);
    EXPECT(RxCeCancelConnectRequest(&base.on_tcp, NULL, &info), STATUS_SUCCESS);
    CHECK(wait_done(before + 1), "cancel: the completion routine runs");
    events_lock();
    CHECK(done.status == STATUS_CANCELLED, "cancel: it completes with STATUS_CANCELLED");
    events_unlock();
    CHECK(t.connection.Signature == 0 && t.vc.Signature == 0, "cancel: nothing built");
    EXPECT(RxCeCancelConnectRequest(&base.on_tcp, NULL, &info), IP);
    sleep_ms(50);
    CHECK(calls() == before + 1, "cancel: the routine ran exactly once");
}

static void cut_short_by_shutdown(uint16_t hole)
{
    TARGET t;
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_two(&remote, hole);
    PRXCE_ADDRESS addresses[1];
    int before = calls();

    addresses[0] = &base.on_tcp;
    target_init(&t);
    EXPECT(start(&t, RxCeSelectFirstSuccessfulTransport, 1, addresses, &info), STATUS_PENDING);
    sleep_ms(50);
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
    CHECK(calls() == before + 1, "shutdown: the build completed before RxCeShutdown returned");
    events_lock();
    CHECK(done.status == STATUS_CANCELLED && !done.on_main_thread,
          "shutdown: with STATUS_CANCELLED, on an engine thread");
    events_unlock();
    CHECK(t.connection.Signature == 0 && t.vc.Signature == 0, "shutdown: nothing built");
}

int main(void)
{
    uint16_t hole;
    main_thread = pthread_self();
    port = peer_start();
    CHECK(port != 0, "the peer listens");
    hole = black_hole();
    CHECK(hole != 0, "a black hole listens");
    base_build();
    first_successful();
    best_successful();
    all_successful();
    nothing_succeeds();
    skipped_entries();
    immediate_failures();
    cancelled(hole);
    other_address_torn_down();
    EXPECT(RxCeTearDownTransport(&base.tcp), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&base.tcp2), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&base.memory), STATUS_SUCCESS);
    base_build();
    cut_short_by_shutdown(hole);
    peer_stop();
    close(hole_filler);
    close(hole_listener);
    return finish();
}

/*
 * librxce never raises SIGPIPE in its host. This program keeps SIGPIPE's
 * default disposition (a C program does not ignore it; the signal would
 * end it with exit status 141) and sends on VCs whose peer went away:
 * over tcp after the peer's orderly close and after its reset, and over
 * unix after the peer closed, synchronously and asynchronously. Every send
 * returns a status; the program lives to print its summary.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rxce_test.h"

static unsigned char payload[64 * 1024];

/* Sends on `vc` until a send fails (at most `tries` times, a few ms
 * apart), alternating synchronous and asynchronous sends; returns the
 * first failure, or STATUS_SUCCESS if none failed. */
static NTSTATUS send_until_refused(PRXCE_VC vc, int tries)
{
    MDL m;
    int i;
    m.Next = NULL;
    m.MappedSystemVa = payload;
    m.ByteCount = sizeof payload;
    for (i = 0; i < tries; i++) {
        ULONG options = i % 2 == 0 ? RXCE_SEND_SYNCHRONOUS : 0;
        NTSTATUS status = RxCeSend(vc, options, &m, sizeof payload, NULL);
        if (status != STATUS_SUCCESS && status != STATUS_PENDING) {
            return status;
        }
        sleep_ms(5);
    }
    return STATUS_SUCCESS;
}

static int refused_as_documented(NTSTATUS status)
{
    return status == STATUS_CONNECTION_RESET || status == STATUS_CONNECTION_DISCONNECTED;
}

/* tcp: the peer ends (orderly, or with a reset) and we keep sending. */
static void tcp_after_peer_left(uint16_t port, int reset)
{
    STACK s;
    NTSTATUS status;
    char what[128];
    int accepted = peer_accepted(), i;
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    for (i = 0; i < 500 && peer_accepted() == accepted; i++) {
        sleep_ms(10);
    }
    CHECK(peer_accepted() > accepted, "the peer accepted the VC");
    peer_close_newest(reset);
    status = send_until_refused(&s.vc, 200);
    snprintf(what, sizeof what, "tcp, peer %s: a send is refused with 0x%08X",
             reset ? "reset" : "closed", (unsigned)status);
    CHECK(refused_as_documented(status), what);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
}

/* unix: the listener accepts and closes at once; writing to such a socket
 * is EPIPE at once. */
static void unix_after_peer_left(void)
{
    RXCE_TRANSPORT transport;
    RXCE_ADDRESS address;
    RXCE_CONNECTION connection;
    RXCE_VC vc;
    RXCE_CONNECTION_INFORMATION info;
    RXCE_CONNECTION_EVENT_HANDLER handler = recording_handler();
    ADDRESS_BUFFER local, remote;
    LONG remote_length;
    char path[64];
    int listener, accepted;
    NTSTATUS status;
    char what[128];
    WCHAR units[64];
    UNICODE_STRING unix_name = name("unix", units);

    snprintf(path, sizeof path, "/tmp/rxce-sigpipe-%ld.sock", (long)getpid());
    listener = unix_listen(path);
    CHECK(listener >= 0, "a Unix-domain listener");

    memset(&transport, 0, sizeof transport);
    memset(&address, 0, sizeof address);
    memset(&connection, 0, sizeof connection);
    memset(&vc, 0, sizeof vc);
    EXPECT(RxCeBuildTransport(&transport, &unix_name, 1), STATUS_SUCCESS);
    other_address(&local, TDI_ADDRESS_TYPE_UNIX, NULL, 0);
    EXPECT(RxCeBuildAddress(&address, &transport, &local.address, NULL, NULL), STATUS_SUCCESS);
    remote_length = other_address(&remote, TDI_ADDRESS_TYPE_UNIX, path, (USHORT)strlen(path));
    info = remote_info(&remote, remote_length);
    EXPECT(RxCeBuildConnection(&address, &info, &handler, (PVOID)&events, &connection, &vc),
           STATUS_SUCCESS);
    accepted = accept(listener, NULL, NULL);
    CHECK(accepted >= 0, "the listener accepted the VC");
    close(accepted);

    status = send_until_refused(&vc, 200);
    snprintf(what, sizeof what, "unix, peer closed: a send is refused with 0x%08X",
             (unsigned)status);
    CHECK(refused_as_documented(status), what);
    EXPECT(RxCeTearDownTransport(&transport), STATUS_SUCCESS);
    close(listener);
    unlink(path);
}

int main(void)
{
    struct sigaction current;
    uint16_t port;
    memset(payload, 'x', sizeof payload);
    CHECK(sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL,
          "SIGPIPE has its default disposition (it would end this program)");
    port = peer_start();
    CHECK(port != 0, "the peer listens");
    peer_mode(PEER_SINK);
    tcp_after_peer_left(port, 0);
    tcp_after_peer_left(port, 1);
    unix_after_peer_left();
    peer_stop();
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
    CHECK(sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL,
          "librxce left SIGPIPE's disposition alone");
    return finish();
}

/*
 * Every transport from C: `netbt` with a TRANSPORT_ADDRESS that carries an
 * IP entry (where to connect) and a NetBIOS entry (the called name),
 * `tcp+smb`, `tcp+rpc` (ONC RPC record marking) and `tcp+9p` (whole
 * messages; the peer echoes the framed bytes), `unix` (a Unix-domain listener of this
 * program) and `memory` (no listener: refused); and RxCeQueryAdapterStatus
 * on each (loopback for the IP transports; none for `unix` and `memory`).
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rxce_test.h"

static uint16_t port;

/* Builds a transport of `kind` and an address on it; the local address is
 * 127.0.0.1:0, or an empty unix entry for `unix`. */
static NTSTATUS build_base(STACK *s, const char *kind)
{
    WCHAR units[64];
    UNICODE_STRING n = name(kind, units);
    ADDRESS_BUFFER local;
    NTSTATUS status;
    memset(s, 0, sizeof *s);
    status = RxCeBuildTransport(&s->transport, &n, 1);
    if (status != STATUS_SUCCESS) {
        return status;
    }
    if (strcmp(kind, "unix") == 0) {
        other_address(&local, TDI_ADDRESS_TYPE_UNIX, NULL, 0);
    } else if (strcmp(kind, "memory") == 0) {
        other_address(&local, RXCE_ADDRESS_TYPE_MEMORY, "client", 6);
    } else {
        ip_address(&local, LOOPBACK, 0);
    }
    return RxCeBuildAddress(&s->address, &s->transport, &local.address, NULL, NULL);
}

static NTSTATUS connect_to(STACK *s, ADDRESS_BUFFER *remote, LONG length)
{
    RXCE_CONNECTION_INFORMATION info = remote_info(remote, length);
    RXCE_CONNECTION_EVENT_HANDLER handler = recording_handler();
    return RxCeBuildConnection(&s->address, &info, &handler, (PVOID)&events, &s->connection,
                               &s->vc);
}

/* Sends `text` synchronously and waits for it to come back whole. */
static int echoes_as_one_message(STACK *s, const char *text)
{
    char bytes[64];
    MDL m;
    ULONG flags;
    size_t length = strlen(text);
    memcpy(bytes, text, length);
    m.Next = NULL;
    m.MappedSystemVa = bytes;
    m.ByteCount = (ULONG)length;
    events_reset();
    if (RxCeSend(&s->vc, RXCE_SEND_SYNCHRONOUS, &m, (ULONG)length, NULL) != STATUS_SUCCESS ||
        !wait_for_stream(length, 5000)) {
        return 0;
    }
    events_lock();
    flags = events.last_flags;
    events_unlock();
    return events.receives == 1 && (flags & TDI_RECEIVE_ENTIRE_MESSAGE) &&
           memcmp(events.stream, text, length) == 0;
}

static void netbt(void)
{
    STACK s;
    ADDRESS_BUFFER remote;
    TA_NETBIOS_ADDRESS called;
    LONG two = 2;
    union {
        TDI_CONNECTION_INFORMATION info;
        unsigned char bytes[256];
    } query;
    TRANSPORT_ADDRESS *copy;

    /* Two entries: where to connect (IP), and whom to call (NetBIOS). */
    ip_address(&remote, LOOPBACK, port);
    EXPECT(RxCeInitNetbiosAddress(&called, "server", 0x20, TDI_ADDRESS_NETBIOS_TYPE_UNIQUE),
           STATUS_SUCCESS);
    memcpy(remote.bytes, &two, 4);
    memcpy(remote.bytes + 8 + TDI_ADDRESS_LENGTH_IP, &called.Address[0],
           4 + TDI_ADDRESS_LENGTH_NETBIOS);

    peer_netbt(1);
    EXPECT(build_base(&s, "netbt"), STATUS_SUCCESS);
    EXPECT(connect_to(&s, &remote, 26 + TDI_ADDRESS_LENGTH_NETBIOS), STATUS_SUCCESS);
    peer_netbt(0);
    CHECK(echoes_as_one_message(&s, "hello over netbt"),
          "netbt: a session to the IP entry, messages indicated whole");
    EXPECT(RxCeQueryInformation(&s.vc, RxCeConnectionInformation, &query, sizeof query),
           STATUS_SUCCESS);
    copy = (TRANSPORT_ADDRESS *)query.info.RemoteAddress;
    CHECK(copy->TAAddressCount == 2 && copy->Address[0].AddressType == TDI_ADDRESS_TYPE_IP &&
              memcmp((unsigned char *)copy + 28, "SERVER", 6) == 0,
          "the connection information keeps both entries");
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
}

static void direct_hosted(void)
{
    STACK s;
    ADDRESS_BUFFER remote;
    ADAPTER_STATUS adapter;
    EXPECT(build_base(&s, "tcp+smb"), STATUS_SUCCESS);
    EXPECT(connect_to(&s, &remote, ip_address(&remote, LOOPBACK, port)), STATUS_SUCCESS);
    CHECK(echoes_as_one_message(&s, "hello over tcp+smb"), "tcp+smb: messages indicated whole");
    EXPECT(RxCeQueryAdapterStatus(&s.transport, &adapter), STATUS_SUCCESS);
    CHECK(adapter.max_sess_pkt_size > 0 && adapter.max_sess_pkt_size <= 0xFFFF &&
              adapter.pending_sess == 1,
          "tcp+smb: the adapter status counts the VC and a largest message");
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
}

/* The file-protocol framings: each send one record / one 9P message,
 * indicated whole without its header. */
static void rpc_and_9p(void)
{
    static const char *const kinds[] = {"tcp+rpc", "tcp+9p"};
    size_t i;
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        STACK s;
        ADDRESS_BUFFER remote;
        char what[64];
        EXPECT(build_base(&s, kinds[i]), STATUS_SUCCESS);
        EXPECT(connect_to(&s, &remote, ip_address(&remote, LOOPBACK, port)), STATUS_SUCCESS);
        snprintf(what, sizeof what, "%s: messages indicated whole", kinds[i]);
        CHECK(echoes_as_one_message(&s, "a call of the file protocol"), what);
        EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
    }
}

static int all_zero(const UCHAR *bytes, size_t length)
{
    size_t i;
    for (i = 0; i < length; i++) {
        if (bytes[i] != 0) {
            return 0;
        }
    }
    return 1;
}

/* The adapter under a tcp transport on 127.0.0.1 is loopback. */
static void adapter_status(void)
{
    STACK s;
    RXCE_TRANSPORT bare;
    ADAPTER_STATUS adapter;
    ADDRESS_BUFFER remote;
    char traffic[] = "traffic";
    MDL m;
    WCHAR units[64];
    UNICODE_STRING tcp = name("tcp", units);

    EXPECT(build_base(&s, "tcp"), STATUS_SUCCESS);
    EXPECT(connect_to(&s, &remote, ip_address(&remote, LOOPBACK, port)), STATUS_SUCCESS);
    events_reset();
    m.Next = NULL;
    m.MappedSystemVa = traffic;
    m.ByteCount = sizeof traffic;
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, m.ByteCount, NULL), STATUS_SUCCESS);
    CHECK(wait_for_stream(sizeof traffic, 5000), "some traffic over loopback");
    memset(&adapter, 0xCD, sizeof adapter);
    EXPECT(RxCeQueryAdapterStatus(&s.transport, &adapter), STATUS_SUCCESS);
    CHECK(all_zero(adapter.adapter_address, 6), "loopback has no hardware address");
    CHECK(adapter.adapter_type != 0xFE, "loopback is not Ethernet");
    CHECK(adapter.rev_major == 3 && adapter.rev_minor == 0 && adapter.reserved0 == 0 &&
              adapter.reserved1 == 0,
          "revision 3.0, reserved fields zero");
    CHECK(adapter.xmit_success > 0 && adapter.recv_success > 0,
          "the packet counters moved with the traffic");
    CHECK(adapter.max_dgram_size >= 512, "a datagram size of at least 512");
    CHECK(adapter.pending_sess == 1 && adapter.max_sess > 0 && adapter.max_sess == adapter.max_cfg_sess,
          "one session of the sessions the engine can hold");
    CHECK(adapter.max_sess_pkt_size == 0xFFFF, "bare tcp has no largest packet");
    CHECK(adapter.name_count == 0 && adapter.duration == 0 && adapter.frmr_recv == 0 &&
              adapter.frmr_xmit == 0 && adapter.t1_timeouts == 0 && adapter.ti_timeouts == 0 &&
              adapter.free_ncbs == 0 && adapter.max_ncbs == 0 && adapter.max_cfg_ncbs == 0,
          "no names, and zero for what Linux does not have");
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);

    memset(&bare, 0, sizeof bare);
    EXPECT(RxCeBuildTransport(&bare, &tcp, 1), STATUS_SUCCESS);
    EXPECT(RxCeQueryAdapterStatus(&bare, &adapter), STATUS_ADDRESS_NOT_ASSOCIATED);
    EXPECT(RxCeTearDownTransport(&bare), STATUS_SUCCESS);
}

static int unix_listener = -1;

static void *unix_echo(void *unused)
{
    char buffer[256];
    int fd = accept(unix_listener, NULL, NULL);
    ssize_t n;
    (void)unused;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) {
        if (write(fd, buffer, (size_t)n) != n) {
            break;
        }
    }
    close(fd);
    return NULL;
}

static void unix_domain(void)
{
    STACK s;
    ADDRESS_BUFFER remote;
    char path[64];
    pthread_t thread;
    LONG length;
    char hello[] = "hello over unix";
    MDL m;

    snprintf(path, sizeof path, "/tmp/rxce-ffi-%ld.sock", (long)getpid());
    unix_listener = unix_listen(path);
    CHECK(unix_listener >= 0, "a Unix-domain listener");
    pthread_create(&thread, NULL, unix_echo, NULL);

    length = other_address(&remote, TDI_ADDRESS_TYPE_UNIX, path, (USHORT)strlen(path));
    EXPECT(build_base(&s, "unix"), STATUS_SUCCESS);
    {
        ADAPTER_STATUS adapter;
        EXPECT(RxCeQueryAdapterStatus(&s.transport, &adapter), STATUS_ADDRESS_NOT_ASSOCIATED);
    }
    EXPECT(connect_to(&s, &remote, length), STATUS_SUCCESS);
    events_reset();
    m.Next = NULL;
    m.MappedSystemVa = hello;
    m.ByteCount = (ULONG)strlen(hello);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, m.ByteCount, NULL), STATUS_SUCCESS);
    CHECK(wait_for_stream(strlen(hello), 5000) &&
              memcmp(events.stream, hello, strlen(hello)) == 0,
          "unix: the bytes came back");
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
    pthread_join(thread, NULL);
    close(unix_listener);
    unlink(path);
}

static void memory(void)
{
    STACK s;
    ADDRESS_BUFFER remote;
    ADAPTER_STATUS adapter;
    LONG length = other_address(&remote, RXCE_ADDRESS_TYPE_MEMORY, "nobody", 6);
    EXPECT(build_base(&s, "memory"), STATUS_SUCCESS);
    EXPECT(RxCeQueryAdapterStatus(&s.transport, &adapter), STATUS_ADDRESS_NOT_ASSOCIATED);
    EXPECT(connect_to(&s, &remote, length), STATUS_CONNECTION_REFUSED);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
}

int main(void)
{
    port = peer_start();
    CHECK(port != 0, "the peer listens");
    netbt();
    direct_hosted();
    rpc_and_9p();
    adapter_status();
    unix_domain();
    memory();
    CHECK(context_was_always_right(), "callbacks got their event context");
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
    peer_stop();
    return finish();
}

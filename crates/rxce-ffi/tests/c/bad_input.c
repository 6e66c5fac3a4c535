/*
 * Bad input to every routine: NULL pointers, unknown enumeration values,
 * bad lengths, zeroed (never built), stale (torn down), forged and
 * wrong-kind objects. Each gets STATUS_INVALID_PARAMETER or
 * STATUS_INVALID_HANDLE, and nothing crashes.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "rxce_test.h"

#define IP STATUS_INVALID_PARAMETER
#define IH STATUS_INVALID_HANDLE

static uint16_t port;
static STACK s;           /* built objects to use as good arguments */
static STACK stale;       /* objects torn down */
static RXCE_TRANSPORT zero_transport;
static RXCE_ADDRESS zero_address;
static RXCE_CONNECTION zero_connection;
static RXCE_VC zero_vc;

static void names(void)
{
    RXCE_TRANSPORT t;
    WCHAR units[64], lone[1];
    UNICODE_STRING n = name("tcp", units);

    memset(&t, 0, sizeof t);
    EXPECT(RxCeBuildTransport(NULL, &n, 0), IP);
    EXPECT(RxCeBuildTransport(&t, NULL, 0), IP);
    n.Length = 5;
    EXPECT(RxCeBuildTransport(&t, &n, 0), IP);
    n = name("tcp", units);
    n.MaximumLength = 4;
    EXPECT(RxCeBuildTransport(&t, &n, 0), IP);
    n = name("tcp", units);
    n.Length = 0;
    EXPECT(RxCeBuildTransport(&t, &n, 0), IP);
    n = name("tcp", units);
    n.Buffer = NULL;
    EXPECT(RxCeBuildTransport(&t, &n, 0), IP);
    lone[0] = 0xD800;
    n.Buffer = lone;
    n.Length = 2;
    n.MaximumLength = 2;
    EXPECT(RxCeBuildTransport(&t, &n, 0), IP);
    n = name("TCP", units);
    EXPECT(RxCeBuildTransport(&t, &n, 0), IP);
    CHECK(t.Signature == 0, "nothing was built");

    /* Memory that was never zeroed is still an unbuilt object. */
    memset(&t, 0xCD, sizeof t);
    n = name("tcp", units);
    EXPECT(RxCeBuildTransport(&t, &n, 0), STATUS_SUCCESS);
    EXPECT(RxCeBuildTransport(&t, &n, 0), IP);
    EXPECT(RxCeTearDownTransport(&t), STATUS_SUCCESS);
}

/* The Windows device names a port passes name providers; a wrong name is
 * refused, and the last error message says why. */
static void windows_names_and_messages(void)
{
    static const char *const message_devices[] = {
        "\\Device\\NetBT_Tcpip_{6AC87F1B-2A3E-4E3F-9D1B-0A1C2D3E4F50}",
        "\\device\\netbiossmb",
    };
    static const char *const stream_devices[] = {"\\Device\\Tcp", "\\Device\\Tcp6"};
    static const UCHAR loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    RXCE_TRANSPORT t;
    RXCE_ADDRESS a;
    ADDRESS_BUFFER local;
    WCHAR units[64];
    UNICODE_STRING n;
    TA_NETBIOS_ADDRESS netbios;
    size_t i;

    for (i = 0; i < 2; i++) {
        memset(&t, 0, sizeof t);
        n = name(message_devices[i], units);
        EXPECT(RxCeBuildTransport(&t, &n, 1), STATUS_SUCCESS);
        CHECK(t.Name.Length == n.Length &&
                  (t.pProviderInfo->ServiceFlags & TDI_SERVICE_MESSAGE_MODE),
              "a NetBT device name binds a message transport, and keeps its name");
        EXPECT(RxCeTearDownTransport(&t), STATUS_SUCCESS);
    }
    for (i = 0; i < 2; i++) {
        memset(&t, 0, sizeof t);
        n = name(stream_devices[i], units);
        EXPECT(RxCeBuildTransport(&t, &n, 1), STATUS_SUCCESS);
        CHECK(!(t.pProviderInfo->ServiceFlags & TDI_SERVICE_MESSAGE_MODE),
              "a TCP device name binds the tcp byte stream");
        if (i == 1) {
            EXPECT(RxCeInitIp6Address(&local.ip6, loopback6, 0, 0), STATUS_SUCCESS);
            memset(&a, 0, sizeof a);
            EXPECT(RxCeBuildAddress(&a, &t, &local.address, NULL, NULL), STATUS_SUCCESS);
            CHECK(a.pTransportAddress->Address[0].AddressType == TDI_ADDRESS_TYPE_IP6,
                  "RxCeInitIp6Address made an address the transport owns");
        }
        EXPECT(RxCeTearDownTransport(&t), STATUS_SUCCESS);
    }
    n = name("udp", units);
    memset(&t, 0, sizeof t);
    EXPECT(RxCeBuildTransport(&t, &n, 1), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&t), STATUS_SUCCESS);

    memset(&t, 0, sizeof t);
    n = name("\\Device\\Bogus", units);
    EXPECT(RxCeBuildTransport(&t, &n, 1), IP);
    printf("# the last error: %s\n", RxCeGetLastErrorMessage());
    CHECK(strstr(RxCeGetLastErrorMessage(), "0xC000000D") != NULL &&
              strstr(RxCeGetLastErrorMessage(), "no transport provider is named") != NULL,
          "RxCeGetLastErrorMessage says why the name was refused");
    EXPECT(RxCeInitNetbiosAddress(&netbios, "", 0x20, TDI_ADDRESS_NETBIOS_TYPE_UNIQUE), IP);
    EXPECT(RxCeInitNetbiosAddress(&netbios, "SIXTEEN-LETTERS!", 0x20, 0), IP);
    CHECK(strstr(RxCeGetLastErrorMessage(), "1 to 15 bytes") != NULL,
          "and it is the last failure's message");
}

static void transports(void)
{
    RXCE_TRANSPORT forged = s.transport;
    RXCE_TRANSPORT_INFORMATION info;
    ADAPTER_STATUS adapter;
    RXCE_TRANSPORT garbage;

    EXPECT(RxCeTearDownTransport(NULL), IP);
    EXPECT(RxCeTearDownTransport(&zero_transport), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&stale.transport), IH);
    EXPECT(RxCeTearDownTransport((PRXCE_TRANSPORT)&s.vc), IH);
    memset(&garbage, 0xCD, sizeof garbage);
    EXPECT(RxCeTearDownTransport(&garbage), IH);
    forged.hRxCe += 1000;
    EXPECT(RxCeTearDownTransport(&forged), IH);
    forged = s.transport; /* a copy sits elsewhere in memory */
    EXPECT(RxCeTearDownTransport(&forged), IH);

    EXPECT(RxCeQueryTransportInformation(NULL, &info), IP);
    EXPECT(RxCeQueryTransportInformation(&s.transport, NULL), IP);
    EXPECT(RxCeQueryTransportInformation(&zero_transport, &info), IH);
    EXPECT(RxCeQueryTransportInformation(&stale.transport, &info), IH);
    EXPECT(RxCeQueryTransportInformation((PRXCE_TRANSPORT)&s.address, &info), IH);

    EXPECT(RxCeQueryAdapterStatus(NULL, &adapter), IP);
    EXPECT(RxCeQueryAdapterStatus(&s.transport, NULL), IP);
    EXPECT(RxCeQueryAdapterStatus(&zero_transport, &adapter), IH);
    EXPECT(RxCeQueryAdapterStatus(&stale.transport, &adapter), IH);
}

static void put16(unsigned char *at, USHORT v)
{
    memcpy(at, &v, 2);
}

static void put32(unsigned char *at, LONG v)
{
    memcpy(at, &v, 4);
}

static void addresses(void)
{
    RXCE_ADDRESS a;
    ADDRESS_BUFFER local;
    RXCE_ADDRESS_EVENT_HANDLER handler;
    unsigned char *b = local.bytes;

    memset(&a, 0, sizeof a);
    memset(&handler, 0, sizeof handler);
    ip_address(&local, LOOPBACK, 0);
    EXPECT(RxCeBuildAddress(NULL, &s.transport, &local.address, NULL, NULL), IP);
    EXPECT(RxCeBuildAddress(&a, NULL, &local.address, NULL, NULL), IP);
    EXPECT(RxCeBuildAddress(&a, &zero_transport, &local.address, NULL, NULL), IH);
    EXPECT(RxCeBuildAddress(&a, &stale.transport, &local.address, NULL, NULL), IH);
    EXPECT(RxCeBuildAddress(&a, (PRXCE_TRANSPORT)&s.address, &local.address, NULL, NULL), IH);
    EXPECT(RxCeBuildAddress(&a, &s.transport, NULL, &handler, NULL), IP);
    EXPECT(RxCeBuildAddress(&s.address, &s.transport, &local.address, NULL, NULL), IP);

    put32(b, 0);
    EXPECT(RxCeBuildAddress(&a, &s.transport, &local.address, NULL, NULL), IP);
    put32(b, -1);
    EXPECT(RxCeBuildAddress(&a, &s.transport, &local.address, NULL, NULL), IP);
    put32(b, 65);
    EXPECT(RxCeBuildAddress(&a, &s.transport, &local.address, NULL, NULL), IP);
    ip_address(&local, LOOPBACK, 0);
    put16(b + 4, 13);
    EXPECT(RxCeBuildAddress(&a, &s.transport, &local.address, NULL, NULL), IP);
    ip_address(&local, LOOPBACK, 0);
    put16(b + 6, TDI_ADDRESS_TYPE_IPX);
    EXPECT(RxCeBuildAddress(&a, &s.transport, &local.address, NULL, NULL), IP);
    put16(b + 4, 109);
    put16(b + 6, TDI_ADDRESS_TYPE_UNIX);
    EXPECT(RxCeBuildAddress(&a, &s.transport, &local.address, NULL, NULL), IP);
    put16(b + 4, 2);
    put16(b + 6, RXCE_ADDRESS_TYPE_MEMORY);
    b[8] = 0xFF;
    b[9] = 0xFE;
    EXPECT(RxCeBuildAddress(&a, &s.transport, &local.address, NULL, NULL), IP);
    put16(b + 4, 18);
    put16(b + 6, TDI_ADDRESS_TYPE_NETBIOS);
    memcpy(b + 10, "SERVER         ", 16);
    EXPECT(RxCeBuildAddress(&a, &s.transport, &local.address, NULL, NULL), IP);
    CHECK(a.Signature == 0, "nothing was built");

    EXPECT(RxCeTearDownAddress(NULL), IP);
    EXPECT(RxCeTearDownAddress(&zero_address), IH);
    EXPECT(RxCeTearDownAddress(&stale.address), IH);
    EXPECT(RxCeTearDownAddress((PRXCE_ADDRESS)&s.transport), IH);
}

static void connections(void)
{
    RXCE_CONNECTION c;
    RXCE_VC v;
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info, bad;
    RXCE_CONNECTION_EVENT_HANDLER handler = recording_handler();
    LONG length = ip_address(&remote, LOOPBACK, port);

    memset(&c, 0, sizeof c);
    memset(&v, 0, sizeof v);
    info = remote_info(&remote, length);
    EXPECT(RxCeBuildConnection(NULL, &info, &handler, NULL, &c, &v), IP);
    EXPECT(RxCeBuildConnection(&zero_address, &info, &handler, NULL, &c, &v), IH);
    EXPECT(RxCeBuildConnection(&stale.address, &info, &handler, NULL, &c, &v), IH);
    EXPECT(RxCeBuildConnection((PRXCE_ADDRESS)&s.connection, &info, &handler, NULL, &c, &v), IH);
    EXPECT(RxCeBuildConnection(&s.address, NULL, &handler, NULL, &c, &v), IP);
    EXPECT(RxCeBuildConnection(&s.address, &info, &handler, NULL, NULL, &v), IP);
    EXPECT(RxCeBuildConnection(&s.address, &info, &handler, NULL, &c, NULL), IP);
    EXPECT(RxCeBuildConnection(&s.address, &info, &handler, NULL, &c, (PRXCE_VC)&c), IP);
    EXPECT(RxCeBuildConnection(&s.address, &info, &handler, NULL, &c, &s.vc), IP);

    bad = info;
    bad.RemoteAddressLength = 0;
    EXPECT(RxCeBuildConnection(&s.address, &bad, &handler, NULL, &c, &v), IP);
    bad.RemoteAddressLength = -22;
    EXPECT(RxCeBuildConnection(&s.address, &bad, &handler, NULL, &c, &v), IP);
    bad.RemoteAddressLength = length - 1;
    EXPECT(RxCeBuildConnection(&s.address, &bad, &handler, NULL, &c, &v), IP);
    bad = info;
    bad.RemoteAddress = NULL;
    EXPECT(RxCeBuildConnection(&s.address, &bad, &handler, NULL, &c, &v), IP);
    bad = info;
    bad.UserDataLength = -1;
    EXPECT(RxCeBuildConnection(&s.address, &bad, &handler, NULL, &c, &v), IP);
    bad = info;
    bad.UserDataLength = 4;
    EXPECT(RxCeBuildConnection(&s.address, &bad, &handler, NULL, &c, &v), IP);
    bad = info;
    bad.OptionsLength = -2;
    EXPECT(RxCeBuildConnection(&s.address, &bad, &handler, NULL, &c, &v), IP);
    bad = remote_info(&remote, ip_address(&remote, LOOPBACK, 0));
    EXPECT(RxCeBuildConnection(&s.address, &bad, &handler, NULL, &c, &v), IP);
    CHECK(c.Signature == 0 && v.Signature == 0, "nothing was built");

    EXPECT(RxCeTearDownConnection(NULL), IP);
    EXPECT(RxCeTearDownConnection(&zero_connection), IH);
    EXPECT(RxCeTearDownConnection(&stale.connection), IH);
    EXPECT(RxCeTearDownConnection((PRXCE_CONNECTION)&s.address), IH);
}

static NTSTATUS never_called(PRXCE_CONNECTION_COMPLETION_CONTEXT context)
{
    (void)context;
    CHECK(0, "the completion routine must not run");
    return STATUS_SUCCESS;
}

static void multiple_transports(void)
{
    RXCE_CONNECTION c;
    RXCE_VC v;
    RXCE_CONNECTION_COMPLETION_CONTEXT completion, bad_completion;
    PRXCE_ADDRESS addresses[2], unbuilt[2];
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_info(&remote, ip_address(&remote, LOOPBACK, port));
    WCHAR units[64];
    UNICODE_STRING server = name("server", units), odd = server;

    memset(&c, 0, sizeof c);
    memset(&v, 0, sizeof v);
    memset(&completion, 0, sizeof completion);
    completion.pConnection = &c;
    completion.pVc = &v;
    addresses[0] = &s.address;
    addresses[1] = NULL;
    unbuilt[0] = &zero_address;
    unbuilt[1] = &stale.address;
    odd.Length = 3;

    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, 3, 1, addresses, &server, &info, NULL,
                                                     NULL, never_called, &completion),
           IP);
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, -1, 1, addresses, &server, &info, NULL,
                                                     NULL, never_called, &completion),
           IP);
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectAllSuccessfulTransports, 0,
                                                     addresses, &server, &info, NULL, NULL,
                                                     never_called, &completion),
           IP);
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectBestSuccessfulTransport, 1,
                                                     NULL, &server, &info, NULL, NULL,
                                                     never_called, &completion),
           IP);
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 1,
                                                     addresses, &server, &info, NULL, NULL, NULL,
                                                     &completion),
           IP);
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 1,
                                                     addresses, &server, &info, NULL, NULL,
                                                     never_called, NULL),
           IP);
    bad_completion = completion;
    bad_completion.pVc = NULL;
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 1,
                                                     addresses, &server, &info, NULL, NULL,
                                                     never_called, &bad_completion),
           IP);
    bad_completion = completion;
    bad_completion.pConnection = &s.connection;
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 1,
                                                     addresses, &server, &info, NULL, NULL,
                                                     never_called, &bad_completion),
           IP);
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 1,
                                                     addresses, &odd, &info, NULL, NULL,
                                                     never_called, &completion),
           IP);
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 1,
                                                     addresses, &server, NULL, NULL, NULL,
                                                     never_called, &completion),
           IP);
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 2,
                                                     unbuilt, &server, &info, NULL, NULL,
                                                     never_called, &completion),
           IH);
    bad_completion = completion;
    bad_completion.pVc = (PRXCE_VC)&c;
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 1,
                                                     addresses, &server, &info, NULL, NULL,
                                                     never_called, &bad_completion),
           IP);
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 65,
                                                     addresses, &server, &info, NULL, NULL,
                                                     never_called, &completion),
           IP);
    CHECK(c.Signature == 0 && v.Signature == 0, "nothing was built");

    EXPECT(RxCeCancelConnectRequest(NULL, &server, &info), IP);
    EXPECT(RxCeCancelConnectRequest(&zero_address, &server, &info), IH);
    EXPECT(RxCeCancelConnectRequest(&stale.address, &server, &info), IH);
    EXPECT(RxCeCancelConnectRequest(&s.address, &odd, &info), IP);
    EXPECT(RxCeCancelConnectRequest(&s.address, &server, NULL), IP);
    /* Nothing in flight to cancel (decision 7). */
    EXPECT(RxCeCancelConnectRequest(&s.address, &server, &info), IP);
    EXPECT(RxCeCancelConnectRequest(&s.address, NULL, &info), IP);
}

/* Room for any object: a live object of one kind in memory passed as
 * another kind's (the build, had it gone ahead, would have written there). */
typedef union {
    RXCE_TRANSPORT transport;
    RXCE_ADDRESS address;
    RXCE_CONNECTION connection;
    RXCE_VC vc;
} ANY_OBJECT;

/* A build into memory that holds a live object of another kind is refused
 * and the object stays built: it can still be torn down on its own. */
static void builds_over_live_objects_of_another_kind(void)
{
    ANY_OBJECT address, connection, vc, fresh_vc;
    ADDRESS_BUFFER local, remote;
    RXCE_CONNECTION_INFORMATION info = remote_info(&remote, ip_address(&remote, LOOPBACK, port));
    RXCE_CONNECTION_COMPLETION_CONTEXT completion;
    PRXCE_ADDRESS addresses[1];
    WCHAR units[64];
    UNICODE_STRING tcp = name("tcp", units);

    memset(&address, 0, sizeof address);
    memset(&connection, 0, sizeof connection);
    memset(&vc, 0, sizeof vc);
    memset(&fresh_vc, 0, sizeof fresh_vc);
    ip_address(&local, LOOPBACK, 0);
    EXPECT(RxCeBuildAddress(&address.address, &s.transport, &local.address, NULL, NULL),
           STATUS_SUCCESS);
    EXPECT(RxCeBuildConnection(&s.address, &info, NULL, NULL, &connection.connection, &vc.vc),
           STATUS_SUCCESS);

    EXPECT(RxCeBuildTransport(&address.transport, &tcp, 1), IP);
    EXPECT(RxCeBuildAddress(&connection.address, &s.transport, &local.address, NULL, NULL), IP);
    EXPECT(RxCeBuildVC(&connection.vc, &connection.connection), IP);
    EXPECT(RxCeBuildConnection(&s.address, &info, NULL, NULL, &vc.connection, &fresh_vc.vc), IP);
    EXPECT(RxCeBuildConnection(&s.address, &info, NULL, NULL, &fresh_vc.connection, &address.vc),
           IP);
    memset(&completion, 0, sizeof completion);
    completion.pConnection = &fresh_vc.connection;
    completion.pVc = &connection.vc;
    addresses[0] = &s.address;
    EXPECT(RxCeBuildConnectionOverMultipleTransports(NULL, RxCeSelectFirstSuccessfulTransport, 1,
                                                     addresses, NULL, &info, NULL, NULL,
                                                     never_called, &completion),
           IP);
    CHECK(fresh_vc.vc.Signature == 0, "nothing was built into the fresh memory");
    CHECK(connection.connection.Signature == RXCE_CONNECTION_SIGNATURE &&
              connection.connection.VirtualCircuitCount == 1,
          "the connection is still built, with its one VC");

    EXPECT(RxCeTearDownVC(&vc.vc), STATUS_SUCCESS);
    EXPECT(RxCeTearDownConnection(&connection.connection), STATUS_SUCCESS);
    EXPECT(RxCeTearDownAddress(&address.address), STATUS_SUCCESS);
}

static void vcs(void)
{
    RXCE_VC v;
    ULONG buffer[64];

    memset(&v, 0, sizeof v);
    EXPECT(RxCeBuildVC(NULL, &s.connection), IP);
    EXPECT(RxCeBuildVC(&v, NULL), IP);
    EXPECT(RxCeBuildVC(&v, &zero_connection), IH);
    EXPECT(RxCeBuildVC(&v, &stale.connection), IH);
    EXPECT(RxCeBuildVC(&v, (PRXCE_CONNECTION)&s.vc), IH);
    EXPECT(RxCeBuildVC(&s.vc, &s.connection), IP);
    CHECK(v.Signature == 0, "nothing was built");

    EXPECT(RxCeTearDownVC(NULL), IP);
    EXPECT(RxCeTearDownVC(&zero_vc), IH);
    EXPECT(RxCeTearDownVC(&stale.vc), IH);
    EXPECT(RxCeTearDownVC((PRXCE_VC)&s.connection), IH);

    EXPECT(RxCeInitiateVCDisconnect(NULL), IP);
    EXPECT(RxCeInitiateVCDisconnect(&zero_vc), IH);
    EXPECT(RxCeInitiateVCDisconnect(&stale.vc), IH);

    EXPECT(RxCeResumeReceive(NULL), IP);
    EXPECT(RxCeResumeReceive(&zero_vc), IH);
    EXPECT(RxCeResumeReceive(&stale.vc), IH);

    EXPECT(RxCeQueryInformation(NULL, RxCeConnectionInformation, buffer, sizeof buffer), IP);
    EXPECT(RxCeQueryInformation(&zero_vc, RxCeConnectionInformation, buffer, sizeof buffer), IH);
    EXPECT(RxCeQueryInformation(&stale.vc, RxCeConnectionInformation, buffer, sizeof buffer), IH);
    EXPECT(RxCeQueryInformation(&s.vc, 0, buffer, sizeof buffer), IP);
    EXPECT(RxCeQueryInformation(&s.vc, 99, buffer, sizeof buffer), IP);
    EXPECT(RxCeQueryInformation(&s.vc, RxCeRemoteAddressInformation, NULL, 0), IP);
}

static void sends(void)
{
    char bytes[8] = "abcdefgh";
    MDL m, no_bytes, cycle;
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_info(&remote, ip_address(&remote, LOOPBACK, port));

    m.Next = NULL;
    m.MappedSystemVa = bytes;
    m.ByteCount = sizeof bytes;
    no_bytes.Next = NULL;
    no_bytes.MappedSystemVa = NULL;
    no_bytes.ByteCount = 4;
    cycle.Next = &cycle;
    cycle.MappedSystemVa = NULL;
    cycle.ByteCount = 0;

    EXPECT(RxCeSend(NULL, 0, &m, 8, NULL), IP);
    EXPECT(RxCeSend(&zero_vc, 0, &m, 8, NULL), IH);
    EXPECT(RxCeSend(&stale.vc, 0, &m, 8, NULL), IH);
    EXPECT(RxCeSend((PRXCE_VC)&s.transport, 0, &m, 8, NULL), IH);
    EXPECT(RxCeSend(&s.vc, 0, NULL, 8, NULL), IP);
    EXPECT(RxCeSend(&s.vc, 0, &m, 9, NULL), IP);
    EXPECT(RxCeSend(&s.vc, 0, &m, 0, NULL), IP);
    EXPECT(RxCeSend(&s.vc, 0, &no_bytes, 4, NULL), IP);
    EXPECT(RxCeSend(&s.vc, 0, &cycle, 4, NULL), IP);
    EXPECT(RxCeSend(&s.vc, 0x40000000u, &m, 8, NULL), IP);
    EXPECT(RxCeSend(&s.vc, 0x1, &m, 8, NULL), IP);

    EXPECT(RxCeSendDatagram(NULL, &info, 0, &m, 8, NULL), IP);
    EXPECT(RxCeSendDatagram(&zero_address, &info, 0, &m, 8, NULL), IH);
    EXPECT(RxCeSendDatagram(&stale.address, &info, 0, &m, 8, NULL), IH);
    EXPECT(RxCeSendDatagram(&s.address, NULL, 0, &m, 8, NULL), IP);
    EXPECT(RxCeSendDatagram(&s.address, &info, 0, &no_bytes, 4, NULL), IP);
    EXPECT(RxCeSendDatagram(&s.address, &info, 0, &m, 9, NULL), IP);
    EXPECT(RxCeSendDatagram(&s.address, &info, 0x1, &m, 8, NULL), IP);

    EXPECT(RxCeResumeDatagramReceive(NULL), IP);
    EXPECT(RxCeResumeDatagramReceive(&zero_address), IH);
    EXPECT(RxCeResumeDatagramReceive(&stale.address), IH);
    EXPECT(RxCeResumeDatagramReceive((PRXCE_ADDRESS)&s.vc), IH);
    EXPECT(RxCeResumeDatagramReceive(&s.address), STATUS_NOT_SUPPORTED);
}

int main(void)
{
    port = peer_start();
    CHECK(port != 0, "the peer listens");
    events_reset();
    EXPECT(stack_build(&stale, port), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&stale.transport), STATUS_SUCCESS);
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    names();
    windows_names_and_messages();
    transports();
    addresses();
    connections();
    multiple_transports();
    vcs();
    builds_over_live_objects_of_another_kind();
    sends();
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
    peer_stop();
    return finish();
}

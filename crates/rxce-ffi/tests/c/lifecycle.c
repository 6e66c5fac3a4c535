/*
 * Building and tearing down: transports, addresses, connections and VCs,
 * their documented fields and counts, tear-down in every order, and
 * RxCeShutdown. (Multi-transport builds: multi.c; adapter status:
 * transports.c.)
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "rxce_test.h"

static void layout(void)
{
    CHECK(sizeof(NTSTATUS) == 4 && sizeof(ULONG) == 4 && sizeof(USHORT) == 2, "base type sizes");
    CHECK(sizeof(WCHAR) == 2, "WCHAR is UTF-16");
    CHECK(sizeof(LARGE_INTEGER) == 8, "LARGE_INTEGER is 64 bits");
    CHECK(sizeof(TDI_ADDRESS_IP) == TDI_ADDRESS_LENGTH_IP && TDI_ADDRESS_LENGTH_IP == 14,
          "TDI_ADDRESS_IP is 14 bytes");
    CHECK(sizeof(TDI_ADDRESS_IP6) == TDI_ADDRESS_LENGTH_IP6 && TDI_ADDRESS_LENGTH_IP6 == 26,
          "TDI_ADDRESS_IP6 is 26 bytes");
    CHECK(sizeof(TDI_ADDRESS_NETBIOS) == TDI_ADDRESS_LENGTH_NETBIOS, "TDI_ADDRESS_NETBIOS is 18 bytes");
    CHECK(offsetof(TA_ADDRESS, Address) == 4, "TA_ADDRESS payload at 4");
    CHECK(offsetof(TRANSPORT_ADDRESS, Address) == 4, "TRANSPORT_ADDRESS entries at 4");
    CHECK(offsetof(TDI_ADDRESS_INFO, Address) == 4, "TDI_ADDRESS_INFO address at 4");
    CHECK(sizeof(ADAPTER_STATUS) == 60, "ADAPTER_STATUS is nb30's 60 bytes");
    CHECK(offsetof(RXCE_TRANSPORT, Signature) == 0 && offsetof(RXCE_ADDRESS, Signature) == 0 &&
              offsetof(RXCE_CONNECTION, Signature) == 0 && offsetof(RXCE_VC, Signature) == 0,
          "every object begins with its Signature");
    CHECK(sizeof(RXCE_ADDRESS_EVENT_HANDLER) == 5 * sizeof(PRXCE_IND_ENDPOINT_ERROR),
          "the address vector has 5 members");
    CHECK(sizeof(RXCE_CONNECTION_EVENT_HANDLER) == 9 * sizeof(PRXCE_IND_RECEIVE),
          "the connection vector has 9 members");
    CHECK(offsetof(RXCE_CONNECTION_EVENT_HANDLER, RxCeReceiveEventHandler) ==
              2 * sizeof(PRXCE_IND_RECEIVE),
          "the receive member is the third");
    CHECK(offsetof(RXCE_CONNECTION_EVENT_HANDLER, RxCeSendSubmittedEventHandler) ==
              8 * sizeof(PRXCE_IND_RECEIVE),
          "send-submitted is the ninth");
    CHECK(RxCeTransportProviderInformation == 1 && RxCeConnectionInformation == 2 &&
              RxCeConnectionEndpointInformation == 3 && RxCeRemoteAddressInformation == 4,
          "information classes are 1 to 4");
    CHECK(RXCE_SEND_SYNCHRONOUS == 0x10000000u && RXCE_SEND_PARTIAL == 0x20000000u &&
              RXCE_SEND_EXPEDITED == 0x20 && RXCE_SEND_NON_BLOCKING == 0x100,
          "send option bits");
    CHECK(STATUS_BUFFER_OVERFLOW == (NTSTATUS)0x80000005u && STATUS_BUFFER_OVERFLOW < 0,
          "BUFFER_OVERFLOW is a warning code");
    CHECK(STATUS_PENDING == 0x103 && STATUS_INVALID_HANDLE == (NTSTATUS)0xC0000008u,
          "status values");
}

static void transports(void)
{
    RXCE_TRANSPORT transport, other;
    RXCE_TRANSPORT_INFORMATION info;
    ADAPTER_STATUS adapter;
    WCHAR units[64], other_units[64];
    UNICODE_STRING tcp = name("tcp", units);
    UNICODE_STRING s;
    NTSTATUS status;

    memset(&transport, 0, sizeof transport);
    EXPECT(RxCeBuildTransport(&transport, &tcp, 7), STATUS_SUCCESS);
    CHECK(transport.Signature == RXCE_TRANSPORT_SIGNATURE, "a built transport has its signature");
    CHECK(transport.Name.Length == 6 && transport.Name.Buffer != NULL &&
              transport.Name.Buffer != units && transport.Name.Buffer[0] == 't' &&
              transport.Name.Buffer[2] == 'p',
          "the transport keeps its own copy of the name");
    CHECK(transport.pProviderInfo != NULL && transport.pProviderInfo->Version == 0x0200 &&
              (transport.pProviderInfo->ServiceFlags & TDI_SERVICE_CONNECTION_MODE) &&
              transport.pProviderInfo->StartTime.QuadPart > 0,
          "the transport caches its provider information");
    CHECK(transport.QualityOfService == 7 && transport.ConnectionCount == 0 &&
              transport.VirtualCircuitCount == 0,
          "quality of service and counts");
    EXPECT(RxCeQueryTransportInformation(&transport, &info), STATUS_SUCCESS);
    CHECK(info.ConnectionCount == 0 && info.QualityOfService == 7, "transport information");
    EXPECT(RxCeBuildTransport(&transport, &tcp, 7), STATUS_INVALID_PARAMETER);
    EXPECT(RxCeQueryAdapterStatus(&transport, &adapter), STATUS_ADDRESS_NOT_ASSOCIATED);

    s = name("memory", other_units);
    memset(&other, 0, sizeof other);
    EXPECT(RxCeBuildTransport(&other, &s, 1), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&other), STATUS_SUCCESS);
    s = name("tcp+smb", other_units);
    memset(&other, 0, sizeof other);
    EXPECT(RxCeBuildTransport(&other, &s, 1), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&other), STATUS_SUCCESS);
    s = name("carrier-pigeon", other_units);
    memset(&other, 0, sizeof other);
    EXPECT(RxCeBuildTransport(&other, &s, 1), STATUS_INVALID_PARAMETER);
    CHECK(other.Signature == 0, "a failed build leaves the transport unbuilt");
    s = name("netbt", other_units);
    status = RxCeBuildTransport(&other, &s, 1);
    CHECK(status == STATUS_SUCCESS || status == STATUS_INVALID_PARAMETER,
          "netbt is built, or unknown while the engine has no such provider");
    if (status == STATUS_SUCCESS) {
        EXPECT(RxCeTearDownTransport(&other), STATUS_SUCCESS);
    }

    EXPECT(RxCeTearDownTransport(&transport), STATUS_SUCCESS);
    CHECK(transport.Name.Buffer == NULL && transport.pProviderInfo == NULL,
          "tear-down uninitialises the transport");
    EXPECT(RxCeTearDownTransport(&transport), STATUS_INVALID_HANDLE);
    EXPECT(RxCeQueryTransportInformation(&transport, &info), STATUS_INVALID_HANDLE);
    memset(&other, 0, sizeof other);
    EXPECT(RxCeTearDownTransport(&other), STATUS_SUCCESS);
    EXPECT(RxCeBuildTransport(&transport, &tcp, 8), STATUS_SUCCESS);
    CHECK(transport.QualityOfService == 8, "a torn-down transport can be built again");
    EXPECT(RxCeTearDownTransport(&transport), STATUS_SUCCESS);
}

static NTSTATUS address_error(PVOID context, NTSTATUS status)
{
    (void)context;
    (void)status;
    return STATUS_SUCCESS;
}

static void addresses(void)
{
    RXCE_TRANSPORT transport;
    RXCE_ADDRESS address, plain;
    RXCE_ADDRESS_EVENT_HANDLER handler;
    ADDRESS_BUFFER local;
    WCHAR units[64];
    UNICODE_STRING tcp = name("tcp", units);
    TDI_ADDRESS_IP copied;
    unsigned char two[64];
    LONG count = 2;
    USHORT length, type;

    memset(&transport, 0, sizeof transport);
    memset(&address, 0, sizeof address);
    memset(&plain, 0, sizeof plain);
    memset(&handler, 0, sizeof handler);
    handler.RxCeErrorEventHandler = address_error;
    EXPECT(RxCeBuildTransport(&transport, &tcp, 1), STATUS_SUCCESS);
    ip_address(&local, LOOPBACK, 0);
    EXPECT(RxCeBuildAddress(&address, &transport, &local.address, &handler, (PVOID)0x1234),
           STATUS_SUCCESS);
    CHECK(address.Signature == RXCE_ADDRESS_SIGNATURE && address.pTransport == &transport,
          "a built address has its signature and transport");
    CHECK(address.pContext == (PVOID)0x1234, "the address keeps its event context");
    CHECK(address.pHandler != NULL && address.pHandler != &handler &&
              address.pHandler->RxCeErrorEventHandler == address_error &&
              address.pHandler->RxCeReceiveDatagramEventHandler == NULL,
          "the address keeps its own copy of the handler vector");
    memcpy(&copied, address.pTransportAddress->Address[0].Address, sizeof copied);
    CHECK(address.pTransportAddress != &local.address &&
              address.pTransportAddress->TAAddressCount == 1 &&
              address.pTransportAddress->Address[0].AddressType == TDI_ADDRESS_TYPE_IP &&
              address.pTransportAddress->Address[0].AddressLength == TDI_ADDRESS_LENGTH_IP &&
              copied.in_addr == htonl(LOOPBACK) && copied.sin_port == 0,
          "the address keeps its own copy of the TRANSPORT_ADDRESS");
    EXPECT(RxCeBuildAddress(&plain, &transport, &local.address, NULL, NULL), STATUS_SUCCESS);
    EXPECT(RxCeTearDownAddress(&plain), STATUS_SUCCESS);

    /* An entry of a type rxce does not know is skipped. */
    memset(two, 0, sizeof two);
    memcpy(two, &count, 4);
    length = 3;
    type = TDI_ADDRESS_TYPE_APPLETALK;
    memcpy(two + 4, &length, 2);
    memcpy(two + 6, &type, 2);
    memcpy(two + 11, local.bytes + 4, 4 + TDI_ADDRESS_LENGTH_IP);
    memset(&plain, 0, sizeof plain);
    {
        ADDRESS_BUFFER aligned;
        memcpy(aligned.bytes, two, sizeof two);
        EXPECT(RxCeBuildAddress(&plain, &transport, &aligned.address, NULL, NULL), STATUS_SUCCESS);
        CHECK(plain.pTransportAddress->TAAddressCount == 1, "only the IP entry is kept");
    }
    EXPECT(RxCeTearDownAddress(&plain), STATUS_SUCCESS);

    /* 192.0.2.1 (TEST-NET-1) is no address of this host. */
    ip_address(&local, 0xC0000201u, 0);
    memset(&plain, 0, sizeof plain);
    EXPECT(RxCeBuildAddress(&plain, &transport, &local.address, NULL, NULL),
           STATUS_INVALID_PARAMETER);
    CHECK(plain.Signature == 0, "a failed build leaves the address unbuilt");

    EXPECT(RxCeTearDownAddress(&address), STATUS_SUCCESS);
    CHECK(address.pTransport == NULL && address.pHandler == NULL &&
              address.pTransportAddress == NULL,
          "tear-down uninitialises the address");
    EXPECT(RxCeTearDownAddress(&address), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownTransport(&transport), STATUS_SUCCESS);
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

static void connections_and_vcs(uint16_t port)
{
    STACK s;
    RXCE_VC second, extra;
    RXCE_CONNECTION refused, again;
    RXCE_TRANSPORT_INFORMATION info;
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION ci;
    RXCE_CONNECTION_EVENT_HANDLER handler = recording_handler();
    TDI_ADDRESS_IP copied;
    int accepted = peer_accepted();

    events_reset();
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    CHECK(wait_accepted(accepted + 1), "the peer accepted the connection");
    CHECK(s.connection.Signature == RXCE_CONNECTION_SIGNATURE &&
              s.connection.pAddress == &s.address && s.connection.pContext == (PVOID)&events &&
              s.connection.pHandler != NULL &&
              s.connection.pHandler->RxCeReceiveEventHandler != NULL,
          "a built connection has its signature, address, context and vector");
    memcpy(&copied, ((TRANSPORT_ADDRESS *)s.connection.pConnectionInformation->RemoteAddress)
                        ->Address[0].Address,
           sizeof copied);
    CHECK(s.connection.pConnectionInformation != NULL &&
              s.connection.pConnectionInformation->RemoteAddressLength == 22 &&
              ntohs(copied.sin_port) == port,
          "the connection keeps its own copy of the connection information");
    CHECK(s.vc.Signature == RXCE_VC_SIGNATURE && s.vc.pConnection == &s.connection &&
              s.vc.State == RXCE_VC_ACTIVE,
          "a built VC is active and knows its connection");
    CHECK(s.connection.VirtualCircuitCount == 1 && s.address.ConnectionCount == 1 &&
              s.address.VirtualCircuitCount == 1 && s.transport.ConnectionCount == 1 &&
              s.transport.VirtualCircuitCount == 1,
          "counts after the first connection");
    EXPECT(RxCeQueryTransportInformation(&s.transport, &info), STATUS_SUCCESS);
    CHECK(info.ConnectionCount == 1 && info.QualityOfService == 100,
          "transport information counts the connection");

    memset(&second, 0, sizeof second);
    EXPECT(RxCeBuildVC(&second, &s.connection), STATUS_SUCCESS);
    CHECK(second.Signature == RXCE_VC_SIGNATURE && second.pConnection == &s.connection &&
              second.State == RXCE_VC_ACTIVE,
          "a second VC of the connection");
    CHECK(s.connection.VirtualCircuitCount == 2 && s.transport.VirtualCircuitCount == 2 &&
              s.transport.ConnectionCount == 1,
          "counts after the second VC");
    EXPECT(RxCeBuildVC(&s.vc, &s.connection), STATUS_INVALID_PARAMETER);
    EXPECT(RxCeTearDownVC(&second), STATUS_SUCCESS);
    CHECK(second.State == RXCE_VC_TORN_DOWN && second.pConnection == NULL,
          "tear-down uninitialises the VC");
    CHECK(s.connection.VirtualCircuitCount == 1 && s.transport.VirtualCircuitCount == 1,
          "counts after the VC's tear-down");
    EXPECT(RxCeTearDownVC(&second), STATUS_INVALID_HANDLE);

    memset(&refused, 0, sizeof refused);
    memset(&extra, 0, sizeof extra);
    ci = remote_info(&remote, ip_address(&remote, LOOPBACK, closed_port()));
    EXPECT(RxCeBuildConnection(&s.address, &ci, &handler, NULL, &refused, &extra),
           STATUS_CONNECTION_REFUSED);
    CHECK(refused.Signature == 0 && extra.Signature == 0,
          "a refused connect leaves the connection and VC unbuilt");
    CHECK(s.transport.ConnectionCount == 1, "a refused connect is not counted");

    ci = remote_info(&remote, ip_address(&remote, LOOPBACK, port));
    EXPECT(RxCeBuildConnection(&s.address, &ci, &handler, NULL, &s.connection, &extra),
           STATUS_INVALID_PARAMETER);
    memset(&again, 0, sizeof again);
    EXPECT(RxCeBuildConnection(&s.address, &ci, NULL, NULL, &again, &extra), STATUS_SUCCESS);
    CHECK(s.address.ConnectionCount == 2 && s.transport.VirtualCircuitCount == 2,
          "counts after a second connection");

    EXPECT(RxCeTearDownVC(&s.vc), STATUS_SUCCESS);
    EXPECT(RxCeTearDownConnection(&s.connection), STATUS_SUCCESS);
    EXPECT(RxCeTearDownConnection(&again), STATUS_SUCCESS);
    EXPECT(RxCeTearDownVC(&extra), STATUS_INVALID_HANDLE);
    CHECK(s.transport.ConnectionCount == 0 && s.transport.VirtualCircuitCount == 0,
          "counts after every connection is torn down");
    EXPECT(RxCeTearDownAddress(&s.address), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
    CHECK(context_was_always_right(), "callbacks got their event context");
}

static void tear_down_orders(uint16_t port)
{
    STACK s;
    RXCE_VC vc2;
    char byte = 'x';
    MDL mdl;

    /* The transport first: everything under it goes with it. */
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
    CHECK(s.vc.State == RXCE_VC_TORN_DOWN && s.connection.pHandler == NULL &&
              s.address.pHandler == NULL,
          "the transport's tear-down uninitialised its children");
    mdl.Next = NULL;
    mdl.MappedSystemVa = &byte;
    mdl.ByteCount = 1;
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &mdl, 1, NULL), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownVC(&s.vc), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownConnection(&s.connection), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownAddress(&s.address), STATUS_INVALID_HANDLE);

    /* The address first. */
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    EXPECT(RxCeTearDownAddress(&s.address), STATUS_SUCCESS);
    CHECK(s.transport.ConnectionCount == 0 && s.transport.VirtualCircuitCount == 0,
          "the transport's counts drop with the address");
    EXPECT(RxCeTearDownVC(&s.vc), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownConnection(&s.connection), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);

    /* The connection first. */
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    EXPECT(RxCeTearDownConnection(&s.connection), STATUS_SUCCESS);
    EXPECT(RxCeTearDownVC(&s.vc), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownAddress(&s.address), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);

    /* The VC first; the connection lives on without VCs and takes a new one. */
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    EXPECT(RxCeTearDownVC(&s.vc), STATUS_SUCCESS);
    CHECK(s.connection.VirtualCircuitCount == 0, "a connection without VCs");
    memset(&vc2, 0, sizeof vc2);
    EXPECT(RxCeBuildVC(&vc2, &s.connection), STATUS_SUCCESS);
    EXPECT(RxCeTearDownConnection(&s.connection), STATUS_SUCCESS);
    EXPECT(RxCeTearDownVC(&vc2), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
    EXPECT(RxCeTearDownAddress(&s.address), STATUS_INVALID_HANDLE);
}

static void shutdown_and_restart(uint16_t port)
{
    STACK s;
    RXCE_TRANSPORT transport;
    WCHAR units[64];
    UNICODE_STRING tcp = name("tcp", units);

    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
    EXPECT(RxCeResumeReceive(&s.vc), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownVC(&s.vc), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_INVALID_HANDLE);
    memset(&transport, 0, sizeof transport);
    EXPECT(RxCeBuildTransport(&transport, &tcp, 1), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&transport), STATUS_SUCCESS);
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
}

int main(void)
{
    uint16_t port = peer_start();
    CHECK(port != 0, "the peer listens");
    layout();
    transports();
    addresses();
    connections_and_vcs(port);
    tear_down_orders(port);
    shutdown_and_restart(port);
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
    peer_stop();
    return finish();
}

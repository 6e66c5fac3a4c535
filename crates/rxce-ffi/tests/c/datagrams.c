/*
 * Datagrams on a `udp` address: receive indications on the address handler
 * (taken, MORE_PROCESSING_REQUIRED with data-ready, and DATA_NOT_ACCEPTED
 * followed by RxCeResumeDatagramReceive), asynchronous and synchronous
 * RxCeSendDatagram, and a connection-mode address that has no datagrams.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rxce_test.h"

#define CONTEXT ((PVOID)0xDA7A)

/* What the address handler was told (under events_lock). */
static struct {
    int more_processing; /* answer the next datagram with `chain` */
    int refuse;          /* answer the next datagram with DATA_NOT_ACCEPTED */
    PRXCE_ADDRESS tear_down; /* tear this address down in the next datagram's callback */
    NTSTATUS torn_down;
    ULONG flags;
    PMDL chain;
    ULONG chain_size;
    int received;
    unsigned char data[2048];
    ULONG length;
    unsigned char source[64];
    int source_length;
    int ready;
    PMDL ready_chain;
    ULONG ready_copied;
    NTSTATUS ready_status;
    int completed;
    PVOID completion;
    NTSTATUS completion_status;
    int wrong_context;
} seen;

static NTSTATUS on_datagram(PVOID context, int source_length, PVOID source, int options_length,
                            PVOID options, ULONG flags, ULONG indicated, ULONG available,
                            ULONG *taken, PVOID tsdu, struct _MDL **chain, PULONG size)
{
    NTSTATUS status = STATUS_SUCCESS;
    PRXCE_ADDRESS doomed;
    events_lock();
    doomed = seen.tear_down;
    seen.tear_down = NULL;
    events_unlock();
    if (doomed != NULL) {
        NTSTATUS torn_down = RxCeTearDownAddress(doomed);
        events_lock();
        seen.torn_down = torn_down;
        events_unlock();
    }
    events_lock();
    seen.flags = flags;
    seen.wrong_context += context != CONTEXT || available < indicated || options_length != 0 ||
                          options != NULL;
    seen.received++;
    seen.length = indicated < sizeof seen.data ? indicated : sizeof seen.data;
    memcpy(seen.data, tsdu, seen.length);
    seen.source_length = source_length < (int)sizeof seen.source ? source_length : 0;
    memcpy(seen.source, source, (size_t)seen.source_length);
    if (seen.refuse) {
        seen.refuse = 0;
        *taken = 0;
        status = STATUS_DATA_NOT_ACCEPTED;
    } else if (seen.more_processing) {
        seen.more_processing = 0;
        *taken = 0;
        *chain = seen.chain;
        *size = seen.chain_size;
        status = STATUS_MORE_PROCESSING_REQUIRED;
    } else {
        *taken = indicated;
    }
    events_unlock();
    return status;
}

static NTSTATUS on_ready(PVOID context, struct _MDL *chain, ULONG copied, NTSTATUS status)
{
    events_lock();
    seen.wrong_context += context != CONTEXT;
    seen.ready++;
    seen.ready_chain = chain;
    seen.ready_copied = copied;
    seen.ready_status = status;
    events_unlock();
    return STATUS_SUCCESS;
}

static NTSTATUS on_complete(PVOID context, PVOID completion, NTSTATUS status)
{
    events_lock();
    seen.wrong_context += context != CONTEXT;
    seen.completed++;
    seen.completion = completion;
    seen.completion_status = status;
    events_unlock();
    return STATUS_SUCCESS;
}

static int wait_seen(const int *counter, int at_least)
{
    int i;
    for (i = 0; i < 5000; i++) {
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

/* A plain UDP socket on 127.0.0.1; its port in `*port`. */
static int udp_socket(uint16_t *port)
{
    struct sockaddr_in address;
    socklen_t length = sizeof address;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(LOOPBACK);
    bind(fd, (struct sockaddr *)&address, sizeof address);
    getsockname(fd, (struct sockaddr *)&address, &length);
    *port = ntohs(address.sin_port);
    return fd;
}

/* Receives one datagram on `fd` within a second; its length, or -1. */
static long receive_on(int fd, unsigned char *buffer, size_t room)
{
    struct pollfd p;
    p.fd = fd;
    p.events = POLLIN;
    if (poll(&p, 1, 1000) != 1) {
        return -1;
    }
    return (long)recv(fd, buffer, room, 0);
}

static void send_to(int fd, uint16_t port, const char *text)
{
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(LOOPBACK);
    to.sin_port = htons(port);
    sendto(fd, text, strlen(text), 0, (struct sockaddr *)&to, sizeof to);
}

int main(void)
{
    RXCE_TRANSPORT udp;
    RXCE_ADDRESS address;
    RXCE_ADDRESS_EVENT_HANDLER handler;
    ADDRESS_BUFFER local, remote;
    RXCE_CONNECTION_INFORMATION info;
    WCHAR units[64];
    UNICODE_STRING name_udp = name("udp", units);
    TDI_ADDRESS_IP bound, source;
    uint16_t our_port, their_port;
    int fd = udp_socket(&their_port);
    unsigned char got[64];
    char out1[] = "out1", out2a[] = "ou", out2b[] = "t2", letters[] = "ABCDEFGH";
    char a[3], b[5];
    MDL m, second, chain_b, chain_a;
    STACK tcp;
    uint16_t peer_port;

    memset(&udp, 0, sizeof udp);
    memset(&address, 0, sizeof address);
    memset(&handler, 0, sizeof handler);
    handler.RxCeReceiveDatagramEventHandler = on_datagram;
    handler.RxCeDataReadyEventHandler = on_ready;
    handler.RxCeSendCompleteEventHandler = on_complete;

    EXPECT(RxCeBuildTransport(&udp, &name_udp, 1), STATUS_SUCCESS);
    CHECK(udp.pProviderInfo->MaxDatagramSize > 0 &&
              (udp.pProviderInfo->ServiceFlags & TDI_SERVICE_CONNECTIONLESS_MODE),
          "udp is a datagram transport");
    ip_address(&local, LOOPBACK, 0);
    EXPECT(RxCeBuildAddress(&address, &udp, &local.address, &handler, CONTEXT), STATUS_SUCCESS);
    memcpy(&bound, address.pTransportAddress->Address[0].Address, sizeof bound);
    our_port = ntohs(bound.sin_port);
    CHECK(our_port != 0 && ntohl(bound.in_addr) == LOOPBACK,
          "the address's copy is the address as bound, with its port");

    /* Receiving: the datagram and its source. */
    send_to(fd, our_port, "dgram1");
    CHECK(wait_seen(&seen.received, 1), "a datagram is indicated on the address");
    memcpy(&source, seen.source + 8, sizeof source);
    CHECK(seen.length == 6 && memcmp(seen.data, "dgram1", 6) == 0, "with its bytes");
    CHECK(seen.source_length == 22 && ntohs(source.sin_port) == their_port,
          "and its source as a TRANSPORT_ADDRESS");

    /* Sending, asynchronously and synchronously. */
    info = remote_info(&remote, ip_address(&remote, LOOPBACK, their_port));
    m.Next = NULL;
    m.MappedSystemVa = out1;
    m.ByteCount = 4;
    EXPECT(RxCeSendDatagram(&address, &info, 0, &m, 4, (PVOID)0xD1), STATUS_PENDING);
    CHECK(wait_seen(&seen.completed, 1) && seen.completion == (PVOID)0xD1 &&
              seen.completion_status == STATUS_SUCCESS,
          "send-complete runs with the completion context");
    CHECK(receive_on(fd, got, sizeof got) == 4 && memcmp(got, "out1", 4) == 0,
          "the datagram arrived");
    second.Next = NULL;
    second.MappedSystemVa = out2b;
    second.ByteCount = 2;
    m.MappedSystemVa = out2a;
    m.ByteCount = 2;
    m.Next = &second;
    EXPECT(RxCeSendDatagram(&address, &info, RXCE_SEND_SYNCHRONOUS, &m, 4, (PVOID)0xD2),
           STATUS_SUCCESS);
    CHECK(receive_on(fd, got, sizeof got) == 4 && memcmp(got, "out2", 4) == 0,
          "a synchronous datagram of a two-element chain arrived");
    sleep_ms(20);
    CHECK(seen.completed == 1, "a synchronous datagram calls no send-complete");
    EXPECT(RxCeSendDatagram(&address, &info, 0x1, &m, 4, NULL), STATUS_INVALID_PARAMETER);

    /* A client chain for a datagram. */
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    chain_b.Next = NULL;
    chain_b.MappedSystemVa = b;
    chain_b.ByteCount = sizeof b;
    chain_a.Next = &chain_b;
    chain_a.MappedSystemVa = a;
    chain_a.ByteCount = sizeof a;
    events_lock();
    seen.more_processing = 1;
    seen.chain = &chain_a;
    seen.chain_size = 8;
    events_unlock();
    send_to(fd, our_port, letters);
    CHECK(wait_seen(&seen.ready, 1), "data-ready follows on the address");
    CHECK(seen.ready_chain == &chain_a && seen.ready_copied == 8 &&
              seen.ready_status == STATUS_SUCCESS && memcmp(a, "ABC", 3) == 0 &&
              memcmp(b, "DEFGH", 5) == 0,
          "the datagram filled the chain");

    /* A datagram not accepted is kept, and indicated again after the resume. */
    events_lock();
    seen.refuse = 1;
    events_unlock();
    send_to(fd, our_port, "again");
    CHECK(wait_seen(&seen.received, 3), "a datagram is indicated");
    sleep_ms(50);
    events_lock();
    CHECK(seen.received == 3 && seen.refuse == 0, "and not indicated again while not accepted");
    events_unlock();
    EXPECT(RxCeResumeDatagramReceive(&address), STATUS_SUCCESS);
    CHECK(wait_seen(&seen.received, 4), "the resume indicates it again");
    events_lock();
    CHECK(seen.length == 5 && memcmp(seen.data, "again", 5) == 0 &&
              (seen.flags & TDI_RECEIVE_FORCE_INDICATION),
          "the same datagram, with TDI_RECEIVE_FORCE_INDICATION");
    events_unlock();
    send_to(fd, our_port, "next");
    CHECK(wait_seen(&seen.received, 5) && seen.length == 4 && memcmp(seen.data, "next", 4) == 0,
          "and the address receives again");
    EXPECT(RxCeResumeDatagramReceive(&address), STATUS_SUCCESS);
    sleep_ms(20);
    CHECK(seen.received == 5, "a resume with nothing held indicates nothing");
    CHECK(seen.wrong_context == 0, "the handlers got their event context and arguments");

    /* Torn down inside its datagram callback, an address fills no chain:
     * the chain comes back at once, untouched, with STATUS_CANCELLED. */
    {
        RXCE_ADDRESS doomed;
        TDI_ADDRESS_IP doomed_at;
        memset(&doomed, 0, sizeof doomed);
        EXPECT(RxCeBuildAddress(&doomed, &udp, &local.address, &handler, CONTEXT),
               STATUS_SUCCESS);
        memcpy(&doomed_at, doomed.pTransportAddress->Address[0].Address, sizeof doomed_at);
        memset(a, 0x5A, sizeof a);
        memset(b, 0x5A, sizeof b);
        events_lock();
        seen.tear_down = &doomed;
        seen.more_processing = 1;
        seen.chain = &chain_a;
        seen.chain_size = 8;
        events_unlock();
        send_to(fd, ntohs(doomed_at.sin_port), letters);
        CHECK(wait_seen(&seen.ready, 2), "data-ready hands the chain back");
        sleep_ms(50);
        events_lock();
        EXPECT(seen.torn_down, STATUS_SUCCESS);
        CHECK(seen.ready == 2 && seen.ready_chain == &chain_a && seen.ready_copied == 0 &&
                  seen.ready_status == STATUS_CANCELLED,
              "once, with 0 bytes and STATUS_CANCELLED");
        CHECK(a[0] == 0x5A && a[2] == 0x5A && b[0] == 0x5A && b[4] == 0x5A,
              "no byte of the datagram was copied after the tear-down returned");
        events_unlock();
        EXPECT(RxCeTearDownAddress(&doomed), STATUS_INVALID_HANDLE);
    }

    /* An address of a connection-mode transport has no datagrams. */
    peer_port = peer_start();
    EXPECT(stack_build(&tcp, peer_port), STATUS_SUCCESS);
    m.MappedSystemVa = out1;
    m.ByteCount = 4;
    m.Next = NULL;
    EXPECT(RxCeSendDatagram(&tcp.address, &info, 0, &m, 4, NULL), STATUS_NOT_SUPPORTED);
    EXPECT(RxCeTearDownTransport(&tcp.transport), STATUS_SUCCESS);

    EXPECT(RxCeTearDownAddress(&address), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&udp), STATUS_SUCCESS);
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
    peer_stop();
    close(fd);
    return finish();
}

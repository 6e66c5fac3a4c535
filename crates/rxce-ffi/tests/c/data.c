/*
 * Data on a VC: asynchronous and synchronous sends with their completion
 * contexts, the three receive answers (with a multi-element MDL as the
 * client buffer, and data-ready), queries of every class, disconnects from
 * either side, and routines called from inside callbacks.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "rxce_test.h"

static uint16_t port;

static MDL element(void *bytes, ULONG count, MDL *next)
{
    MDL m;
    m.Next = next;
    m.MappedSystemVa = bytes;
    m.ByteCount = count;
    return m;
}

static int stream_is(const char *text)
{
    int same;
    events_lock();
    same = events.stream_length == strlen(text) && memcmp(events.stream, text, strlen(text)) == 0;
    events_unlock();
    return same;
}

static int count_of(const int *counter)
{
    int n;
    events_lock();
    n = *counter;
    events_unlock();
    return n;
}

static void wait_accepted(int n)
{
    int i;
    for (i = 0; i < 1000 && peer_accepted() < n; i++) {
        sleep_ms(1);
    }
}

static void sends(void)
{
    STACK s;
    char hello[] = "hello", abc[] = "abc", defg[] = "defg";
    MDL last, empty, first, one;
    int i, in_order = 1, before;
    static MDL many[100];
    static char bytes[100];

    events_reset();
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);

    one = element(hello, 5, NULL);
    EXPECT(RxCeSend(&s.vc, 0, &one, 5, (PVOID)0xA1), STATUS_PENDING);
    CHECK(wait_for(&events.completed, 1, 5000), "the asynchronous send completes");
    CHECK(events.completions[0].context == (PVOID)0xA1 &&
              events.completions[0].status == STATUS_SUCCESS && events.completions[0].vc == &s.vc,
          "send-complete gets the completion context, the status and the VC");
    CHECK(events.submitted == 1 && events.submissions[0].context == (PVOID)0xA1 &&
              events.submissions[0].status == STATUS_PENDING,
          "send-submitted ran once with the completion context");
    CHECK(wait_for_stream(5, 5000) && stream_is("hello"), "the peer echoed the bytes back");

    last = element(defg, 4, NULL);
    empty = element(NULL, 0, &last);
    first = element(abc, 3, &empty);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &first, 6, (PVOID)0xBAD), STATUS_SUCCESS);
    CHECK(wait_for_stream(11, 5000) && stream_is("helloabcdef"),
          "a synchronous send of SendLength bytes of a three-element chain");
    CHECK(count_of(&events.completed) == 1, "a synchronous send calls no send-complete");

    for (i = 0; i < 100; i++) {
        bytes[i] = (char)('0' + i % 10);
        many[i] = element(&bytes[i], 1, NULL);
        EXPECT(RxCeSend(&s.vc, i % 10 == 0 ? RXCE_SEND_NO_RESPONSE_EXPECTED : 0, &many[i], 1,
                        (PVOID)(size_t)(1000 + i)),
               STATUS_PENDING);
    }
    CHECK(wait_for(&events.completed, 101, 10000), "a hundred asynchronous sends complete");
    events_lock();
    for (i = 0; i < 100; i++) {
        in_order &= events.completions[i + 1].context == (PVOID)(size_t)(1000 + i);
    }
    events_unlock();
    CHECK(in_order, "each completes once, in order, with its own context");
    CHECK(wait_for_stream(111, 5000), "every byte came back");

    one = element(hello, 5, NULL);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_EXPEDITED, &one, 5, (PVOID)0xE1), STATUS_PENDING);
    CHECK(wait_for(&events.completed, 102, 5000), "an expedited send completes");

    before = count_of(&events.completed);
    EXPECT(RxCeSend(&s.vc, 0, &one, 6, NULL), STATUS_INVALID_PARAMETER);
    EXPECT(RxCeSend(&s.vc, 0, &one, 0, NULL), STATUS_INVALID_PARAMETER);
    EXPECT(RxCeSend(&s.vc, 0x4, &one, 5, NULL), STATUS_INVALID_PARAMETER);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, NULL, 5, NULL), STATUS_INVALID_PARAMETER);
    sleep_ms(50);
    CHECK(count_of(&events.completed) == before, "a refused send calls nothing");

    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
}

static void greeting(void)
{
    STACK s;
    PRXCE_VC vc;
    RXCE_VC second;
    int built;

    events_reset();
    peer_greet("welcome");
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    CHECK(wait_for_stream(7, 5000) && stream_is("welcome"), "a greeting sent at accept is indicated");
    events_lock();
    vc = events.last_vc;
    built = events.last_vc_built;
    events_unlock();
    CHECK(vc == &s.vc, "with the caller's VC, even if it came before the build returned");
    CHECK(built, "and that VC was built (signature, connection) when the indication ran");

    /* The same for a VC of RxCeBuildVC. */
    memset(&second, 0, sizeof second);
    events_reset();
    EXPECT(RxCeBuildVC(&second, &s.connection), STATUS_SUCCESS);
    CHECK(wait_for_stream(7, 5000) && stream_is("welcome"), "a greeting on RxCeBuildVC's VC is indicated");
    events_lock();
    vc = events.last_vc;
    built = events.last_vc_built;
    events_unlock();
    CHECK(vc == &second && built, "with that VC, built when the indication ran");
    peer_greet(NULL);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
}

static void receive_answers(void)
{
    STACK s;
    char text[] = "0123456789", x[] = "X", letters[] = "ABCDEFGHIJ", nope[] = "nope";
    char abc[] = "abc";
    char a[3], b[5];
    MDL m, chain_b, chain_empty, chain_a;
    static unsigned char big[300000], echo1[150000], echo2[150000];
    MDL big_send, big2, big1;
    size_t i;

    events_reset();
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);

    /* SUCCESS with some bytes taken: the rest is indicated again, first. */
    events_lock();
    events.answer = ANSWER_TAKE_SOME;
    events.take = 2;
    events_unlock();
    m = element(text, 10, NULL);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, 10, NULL), STATUS_SUCCESS);
    CHECK(wait_for_stream(10, 5000) && stream_is("0123456789") && count_of(&events.receives) >= 5,
          "taking two bytes at a time, the rest comes again at once, in order");

    /* SUCCESS with nothing taken: the bytes wait for more to arrive. */
    events_reset();
    events_lock();
    events.answer = ANSWER_TAKE_SOME;
    events.take = 0;
    events_unlock();
    m = element(abc, 3, NULL);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, 3, NULL), STATUS_SUCCESS);
    CHECK(wait_for(&events.receives, 1, 5000), "indicated");
    sleep_ms(50);
    CHECK(count_of(&events.receives) == 1 && events.stream_length == 0,
          "nothing taken: no new indication until more bytes come");
    events_lock();
    events.answer = ANSWER_TAKE_ALL;
    events_unlock();
    m = element(x, 1, NULL);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, 1, NULL), STATUS_SUCCESS);
    CHECK(wait_for_stream(4, 5000) && stream_is("abcX"),
          "the bytes not taken come first, with the new ones");

    /* MORE_PROCESSING_REQUIRED with a three-element chain (one empty). */
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    chain_b = element(b, 5, NULL);
    chain_empty = element(NULL, 0, &chain_b);
    chain_a = element(a, 3, &chain_empty);
    events_reset();
    events_lock();
    events.answer = ANSWER_MORE_PROCESSING;
    events.take = 2;
    events.chain = &chain_a;
    events.chain_size = 8;
    events_unlock();
    m = element(letters, 10, NULL);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, 10, NULL), STATUS_SUCCESS);
    CHECK(wait_for(&events.data_ready, 1, 5000), "data-ready follows MORE_PROCESSING_REQUIRED");
    CHECK(events.ready_chain == &chain_a && events.ready_copied == 8 &&
              events.ready_status == STATUS_SUCCESS,
          "data-ready hands back the same chain, full, with STATUS_SUCCESS");
    CHECK(stream_is("ABCDEFGHIJ") && memcmp(a, "CDE", 3) == 0 && memcmp(b, "FGHIJ", 5) == 0,
          "the chain holds the bytes after the taken ones, element by element");

    /* A client buffer filled from the socket: 300000 bytes over two elements. */
    for (i = 0; i < sizeof big; i++) {
        big[i] = (unsigned char)(i * 7 + i / 251);
    }
    big1 = element(echo1, sizeof echo1, NULL);
    big2 = element(echo2, sizeof echo2, NULL);
    big1.Next = &big2;
    events_reset();
    events_lock();
    events.answer = ANSWER_MORE_PROCESSING;
    events.take = 0;
    events.chain = &big1;
    events.chain_size = sizeof big;
    events_unlock();
    big_send = element(big, sizeof big, NULL);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &big_send, sizeof big, NULL), STATUS_SUCCESS);
    CHECK(wait_for(&events.data_ready, 1, 10000) && events.ready_copied == sizeof big &&
              events.ready_status == STATUS_SUCCESS,
          "a 300000-byte client buffer is filled");
    CHECK(memcmp(echo1, big, sizeof echo1) == 0 &&
              memcmp(echo2, big + sizeof echo1, sizeof echo2) == 0,
          "every byte landed in the client's chain, in order");
    CHECK(count_of(&events.receives) == 1, "no other indication while the buffer filled");

    /* DATA_NOT_ACCEPTED: kept until RxCeResumeReceive. */
    events_reset();
    events_lock();
    events.answer = ANSWER_NOT_ACCEPTED;
    events_unlock();
    m = element(nope, 4, NULL);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, 4, NULL), STATUS_SUCCESS);
    CHECK(wait_for(&events.receives, 1, 5000), "the data is indicated");
    sleep_ms(100);
    CHECK(count_of(&events.receives) == 1 && events.stream_length == 0,
          "not accepted: nothing more is indicated");
    events_lock();
    events.answer = ANSWER_TAKE_ALL;
    events_unlock();
    EXPECT(RxCeResumeReceive(&s.vc), STATUS_SUCCESS);
    CHECK(wait_for_stream(4, 5000) && stream_is("nope"), "after the resume the same bytes come");
    CHECK(count_of(&events.forced) >= 1, "indicated again with TDI_RECEIVE_FORCE_INDICATION");

    /* An answer rxce cannot use counts as not accepted. */
    events_reset();
    events_lock();
    events.answer = ANSWER_BOGUS;
    events_unlock();
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, 4, NULL), STATUS_SUCCESS);
    CHECK(wait_for(&events.receives, 1, 5000), "indicated");
    events_lock();
    events.answer = ANSWER_MORE_PROCESSING;
    events.chain = NULL;
    events.chain_size = 4;
    events_unlock();
    EXPECT(RxCeResumeReceive(&s.vc), STATUS_SUCCESS);
    CHECK(wait_for(&events.receives, 2, 5000), "indicated again after a bogus status");
    sleep_ms(50);
    events_lock();
    events.answer = ANSWER_TAKE_ALL;
    events_unlock();
    EXPECT(RxCeResumeReceive(&s.vc), STATUS_SUCCESS);
    CHECK(wait_for_stream(4, 5000) && stream_is("nope"),
          "MORE_PROCESSING_REQUIRED without a chain was not accepted either");
    CHECK(context_was_always_right(), "callbacks got their event context");

    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
}

static void queries(void)
{
    STACK s;
    union {
        TDI_PROVIDER_INFO provider;
        TDI_CONNECTION_INFORMATION connection;
        TDI_CONNECTION_INFO endpoint;
        TDI_ADDRESS_INFO address;
        unsigned char bytes[512];
    } buffer;
    TDI_ADDRESS_IP ip;
    TRANSPORT_ADDRESS *remote;
    unsigned char *end;
    char ping[] = "ping";
    MDL m;
    ULONG length;

    events_reset();
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    m = element(ping, 4, NULL);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, 4, NULL), STATUS_SUCCESS);
    CHECK(wait_for_stream(4, 5000), "some traffic first");

    memset(&buffer, 0xAB, sizeof buffer);
    EXPECT(RxCeQueryInformation(&s.vc, RxCeTransportProviderInformation, &buffer,
                                sizeof buffer.provider),
           STATUS_SUCCESS);
    CHECK(buffer.provider.Version == 0x0200 &&
              (buffer.provider.ServiceFlags & TDI_SERVICE_CONNECTION_MODE) &&
              buffer.provider.StartTime.QuadPart == s.transport.pProviderInfo->StartTime.QuadPart,
          "provider information");

    memset(&buffer, 0xAB, sizeof buffer);
    EXPECT(RxCeQueryInformation(&s.vc, RxCeConnectionInformation, &buffer, sizeof buffer),
           STATUS_SUCCESS);
    remote = (TRANSPORT_ADDRESS *)buffer.connection.RemoteAddress;
    end = buffer.bytes + sizeof buffer;
    CHECK(buffer.connection.UserDataLength == 0 && buffer.connection.UserData == NULL &&
              buffer.connection.RemoteAddressLength == 22 &&
              (unsigned char *)remote > buffer.bytes && (unsigned char *)remote + 22 <= end,
          "connection information points into the caller's buffer");
    memcpy(&ip, remote->Address[0].Address, sizeof ip);
    CHECK(remote->TAAddressCount == 1 && remote->Address[0].AddressType == TDI_ADDRESS_TYPE_IP &&
              ntohs(ip.sin_port) == port && ntohl(ip.in_addr) == LOOPBACK,
          "the remote address, in network byte order");

    memset(&buffer, 0xAB, sizeof buffer);
    EXPECT(RxCeQueryInformation(&s.vc, RxCeConnectionEndpointInformation, &buffer,
                                sizeof buffer.endpoint),
           STATUS_SUCCESS);
    CHECK(buffer.endpoint.State == RXCE_VC_ACTIVE && buffer.endpoint.TransmittedTsdus >= 1 &&
              buffer.endpoint.ReceivedTsdus >= 1 && buffer.endpoint.SendBufferSize > 0 &&
              buffer.endpoint.Unreliable == 0,
          "endpoint information");

    memset(&buffer, 0xAB, sizeof buffer);
    EXPECT(RxCeQueryInformation(&s.vc, RxCeRemoteAddressInformation, &buffer, sizeof buffer),
           STATUS_SUCCESS);
    memcpy(&ip, buffer.address.Address.Address[0].Address, sizeof ip);
    CHECK(buffer.address.ActivityCount == 1 && buffer.address.Address.TAAddressCount == 1 &&
              ntohs(ip.sin_port) == port,
          "remote address information");

    /* Too small: what fits is copied, nothing past Length is touched. */
    memset(&buffer, 0xAB, sizeof buffer);
    EXPECT(RxCeQueryInformation(&s.vc, RxCeTransportProviderInformation, &buffer, 8),
           STATUS_BUFFER_OVERFLOW);
    CHECK(buffer.provider.Version == 0x0200 && buffer.bytes[8] == 0xAB,
          "a too-small buffer gets what fits, and no more");
    memset(&buffer, 0xAB, sizeof buffer);
    length = sizeof buffer.connection;
    EXPECT(RxCeQueryInformation(&s.vc, RxCeConnectionInformation, &buffer, length),
           STATUS_BUFFER_OVERFLOW);
    CHECK(buffer.connection.RemoteAddressLength == 22 && buffer.connection.RemoteAddress == NULL &&
              buffer.bytes[length] == 0xAB,
          "a pointer whose data did not fit is NULL");
    memset(&buffer, 0xAB, sizeof buffer);
    EXPECT(RxCeQueryInformation(&s.vc, RxCeConnectionEndpointInformation, &buffer, 0),
           STATUS_BUFFER_OVERFLOW);
    CHECK(buffer.bytes[0] == 0xAB, "a zero Length writes nothing");
    EXPECT(RxCeQueryInformation(&s.vc, RxCeRemoteAddressInformation, &buffer, 6),
           STATUS_BUFFER_OVERFLOW);

    EXPECT(RxCeQueryInformation(&s.vc, 0, &buffer, sizeof buffer), STATUS_INVALID_PARAMETER);
    EXPECT(RxCeQueryInformation(&s.vc, 5, &buffer, sizeof buffer), STATUS_INVALID_PARAMETER);
    EXPECT(RxCeQueryInformation(&s.vc, -1, &buffer, sizeof buffer), STATUS_INVALID_PARAMETER);
    EXPECT(RxCeQueryInformation(&s.vc, RxCeConnectionInformation, NULL, 64),
           STATUS_INVALID_PARAMETER);

    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
}

static void disconnects(void)
{
    STACK s;
    char byte = 'z', ten[] = "0123456789";
    MDL m;
    static char target[1000];
    MDL chain;
    int accepted;

    /* We start a graceful disconnect; the peer closes in turn. */
    events_reset();
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    EXPECT(RxCeInitiateVCDisconnect(&s.vc), STATUS_SUCCESS);
    CHECK(s.vc.State == RXCE_VC_DISCONNECTING || s.vc.State == RXCE_VC_DISCONNECTED,
          "the VC is disconnecting");
    CHECK(wait_for(&events.disconnects, 1, 5000), "the disconnect indication follows");
    CHECK(events.disconnect_flags == TDI_DISCONNECT_RELEASE && events.disconnect_vc == &s.vc,
          "an orderly release, on our VC");
    CHECK(s.vc.State == RXCE_VC_DISCONNECTED, "the VC is disconnected");
    m = element(&byte, 1, NULL);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, 1, NULL), STATUS_CONNECTION_DISCONNECTED);
    EXPECT(RxCeInitiateVCDisconnect(&s.vc), STATUS_CONNECTION_DISCONNECTED);
    EXPECT(RxCeTearDownVC(&s.vc), STATUS_SUCCESS);
    sleep_ms(20);
    CHECK(count_of(&events.disconnects) == 1, "one disconnect indication");
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);

    /* The peer closes in an orderly way. */
    events_reset();
    accepted = peer_accepted();
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    wait_accepted(accepted + 1);
    peer_close_newest(0);
    CHECK(wait_for(&events.disconnects, 1, 5000), "the peer's close is indicated");
    CHECK(events.disconnect_flags == TDI_DISCONNECT_RELEASE &&
              events.state_at_disconnect == RXCE_VC_PEER_RELEASED,
          "as an orderly release, with the state published first");
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);

    /* The peer resets while a client buffer is being filled. */
    events_reset();
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    chain = element(target, sizeof target, NULL);
    events_lock();
    events.answer = ANSWER_MORE_PROCESSING;
    events.take = 0;
    events.chain = &chain;
    events.chain_size = sizeof target;
    events_unlock();
    m = element(ten, 10, NULL);
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, 10, NULL), STATUS_SUCCESS);
    CHECK(wait_for(&events.receives, 1, 5000), "the first bytes are indicated");
    sleep_ms(50);
    peer_close_newest(1);
    CHECK(wait_for(&events.disconnects, 1, 5000), "the reset is indicated");
    CHECK(events.disconnect_flags == TDI_DISCONNECT_ABORT, "as an abort");
    CHECK(events.data_ready == 1 && events.ready_chain == &chain && events.ready_copied == 10 &&
              events.ready_status != STATUS_SUCCESS && memcmp(target, ten, 10) == 0,
          "data-ready came first, with the bytes copied so far and the failure");
    CHECK(s.vc.State == RXCE_VC_DISCONNECTED, "the VC is disconnected");
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
}

/* Results of routines called from inside callbacks. */
static struct {
    NTSTATUS send, query, shutdown, sync_send, tear_down;
    int ran;
} inside;

static RXCE_CONNECTION *inner_connection;
static RXCE_TRANSPORT *inner_transport;
static char inside_bytes[] = "again";
static MDL inside_mdl;

static void call_routines(PRXCE_VC vc)
{
    TDI_PROVIDER_INFO info;
    inside_mdl = element(inside_bytes, 5, NULL);
    inside.send = RxCeSend(vc, 0, &inside_mdl, 5, (PVOID)0xC0);
    inside.sync_send = RxCeSend(vc, RXCE_SEND_SYNCHRONOUS, &inside_mdl, 5, NULL);
    inside.query = RxCeQueryInformation(vc, RxCeTransportProviderInformation, &info, sizeof info);
    inside.shutdown = RxCeShutdown();
    inside.ran = 1;
}

static void tear_down_own_vc(PRXCE_VC vc)
{
    inside.tear_down = RxCeTearDownVC(vc);
    inside.ran = 1;
}

static void tear_down_connection(PRXCE_VC vc)
{
    (void)vc;
    inside.tear_down = RxCeTearDownConnection(inner_connection);
    inside.ran = 1;
}

static void tear_down_transport(PRXCE_VC vc)
{
    (void)vc;
    inside.tear_down = RxCeTearDownTransport(inner_transport);
    inside.ran = 1;
}

static void trigger(STACK *s)
{
    char byte = '!';
    MDL m = element(&byte, 1, NULL);
    EXPECT(RxCeSend(&s->vc, RXCE_SEND_SYNCHRONOUS, &m, 1, NULL), STATUS_SUCCESS);
}

static int wait_ran(void)
{
    int i;
    for (i = 0; i < 5000; i++) {
        int ran;
        events_lock();
        ran = inside.ran;
        events_unlock();
        if (ran) {
            return 1;
        }
        sleep_ms(1);
    }
    return 0;
}

static void from_callbacks(void)
{
    STACK s;
    int receives;

    events_reset();
    memset(&inside, 0, sizeof inside);
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    events_lock();
    events.in_receive = call_routines;
    events_unlock();
    trigger(&s);
    CHECK(wait_ran(), "routines ran inside the receive indication");
    EXPECT(inside.send, STATUS_PENDING);
    EXPECT(inside.sync_send, STATUS_SUCCESS);
    EXPECT(inside.query, STATUS_SUCCESS);
    EXPECT(inside.shutdown, STATUS_INVALID_DEVICE_STATE);
    CHECK(wait_for(&events.completed, 1, 5000) && events.completions[0].context == (PVOID)0xC0,
          "the send made inside a callback completes");
    CHECK(wait_for_stream(11, 5000), "and its bytes came back");

    /* A VC torn down from inside its own indication. */
    memset(&inside, 0, sizeof inside);
    events_lock();
    events.in_receive = tear_down_own_vc;
    events_unlock();
    trigger(&s);
    CHECK(wait_ran(), "the VC's tear-down ran inside its indication");
    EXPECT(inside.tear_down, STATUS_SUCCESS);
    receives = count_of(&events.receives);
    sleep_ms(50);
    CHECK(count_of(&events.receives) == receives, "no indication after the tear-down");
    EXPECT(RxCeTearDownVC(&s.vc), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);

    /* Torn down inside its indication that then returns a chain: the chain
     * comes back at once, untouched, with 0 bytes and STATUS_CANCELLED. */
    {
        char filler[8];
        MDL chain = element(filler, sizeof filler, NULL);
        memset(filler, 0x5A, sizeof filler);
        memset(&inside, 0, sizeof inside);
        events_reset();
        EXPECT(stack_build(&s, port), STATUS_SUCCESS);
        events_lock();
        events.in_receive = tear_down_own_vc;
        events.answer = ANSWER_MORE_PROCESSING;
        events.take = 0;
        events.chain = &chain;
        events.chain_size = sizeof filler;
        events_unlock();
        trigger(&s);
        CHECK(wait_ran(), "the VC's tear-down ran inside its indication");
        EXPECT(inside.tear_down, STATUS_SUCCESS);
        CHECK(wait_for(&events.data_ready, 1, 5000), "data-ready hands the chain back");
        sleep_ms(50);
        events_lock();
        CHECK(events.data_ready == 1 && events.ready_chain == &chain &&
                  events.ready_copied == 0 && events.ready_status == STATUS_CANCELLED,
              "once, with 0 bytes and STATUS_CANCELLED");
        events_unlock();
        CHECK(filler[0] == 0x5A && filler[7] == 0x5A,
              "no byte was copied after the tear-down returned");
        EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
    }

    /* The connection, from inside its VC's indication. */
    memset(&inside, 0, sizeof inside);
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    inner_connection = &s.connection;
    events_lock();
    events.in_receive = tear_down_connection;
    events_unlock();
    trigger(&s);
    CHECK(wait_ran(), "the connection's tear-down ran inside an indication");
    EXPECT(inside.tear_down, STATUS_SUCCESS);
    EXPECT(RxCeTearDownVC(&s.vc), STATUS_INVALID_HANDLE);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);

    /* The transport, from inside an indication. */
    memset(&inside, 0, sizeof inside);
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    inner_transport = &s.transport;
    events_lock();
    events.in_receive = tear_down_transport;
    events_unlock();
    trigger(&s);
    CHECK(wait_ran(), "the transport's tear-down ran inside an indication");
    EXPECT(inside.tear_down, STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_INVALID_HANDLE);
}

/* Queues non-blocking sends of `chunk` until the queue is full; returns
 * how many were accepted (STATUS_PENDING), or -1 when the queue never
 * filled. */
static int fill(STACK *s, MDL *chunk)
{
    int n;
    for (n = 0; n < 4000; n++) {
        NTSTATUS status = RxCeSend(&s->vc, RXCE_SEND_NON_BLOCKING, chunk, chunk->ByteCount,
                                   (PVOID)(size_t)(n + 1));
        if (status == STATUS_DEVICE_NOT_READY) {
            return n;
        }
        if (status != STATUS_PENDING) {
            return -1;
        }
    }
    return -1;
}

static void backpressure(void)
{
    STACK s;
    static char bytes[65536];
    MDL chunk = element(bytes, sizeof bytes, NULL);
    int accepted, i, once = 1, cancelled_or_sent = 1;

    /* Full queue: DEVICE_NOT_READY, then send-possible once there is room. */
    events_reset();
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    peer_mode(PEER_PAUSE);
    accepted = fill(&s, &chunk);
    CHECK(accepted > 0, "a non-blocking send finds the queue full");
    peer_mode(PEER_SINK);
    CHECK(wait_for(&events.send_possible, 1, 10000), "send-possible once the peer reads");
    CHECK(wait_for(&events.completed, accepted, 10000), "every queued send completes");
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);

    /* Tear-down with sends queued: each completes exactly once, before it returns. */
    events_reset();
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    peer_mode(PEER_PAUSE);
    accepted = fill(&s, &chunk);
    CHECK(accepted > 0, "the queue is full again");
    EXPECT(RxCeTearDownVC(&s.vc), STATUS_SUCCESS);
    events_lock();
    CHECK(events.completed == accepted, "every queued send completed when the tear-down returned");
    for (i = 0; i < events.completed && i < MAX_COMPLETIONS; i++) {
        once &= events.completions[i].context == (PVOID)(size_t)(i + 1);
        cancelled_or_sent &= events.completions[i].status == STATUS_SUCCESS ||
                             events.completions[i].status == STATUS_CANCELLED;
    }
    events_unlock();
    CHECK(once, "each once, in order");
    CHECK(cancelled_or_sent, "sent, or cancelled by the tear-down");
    peer_mode(PEER_ECHO);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
}

int main(void)
{
    port = peer_start();
    CHECK(port != 0, "the peer listens");
    sends();
    greeting();
    receive_answers();
    queries();
    disconnects();
    from_callbacks();
    backpressure();
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
    peer_stop();
    return finish();
}

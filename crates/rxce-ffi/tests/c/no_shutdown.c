/*
 * A port of Windows code never calls RxCeShutdown (Windows has none): this
 * program builds, sends and receives, tears its objects down, and returns
 * from main. The C test runs it under valgrind with possible leaks counted
 * as errors: the engine must leave nothing behind.
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>

#include "rxce_test.h"

int main(void)
{
    STACK s;
    char hello[] = "hello";
    MDL m;
    uint16_t port = peer_start();
    CHECK(port != 0, "the peer listens");
    events_reset();
    EXPECT(stack_build(&s, port), STATUS_SUCCESS);
    m.Next = NULL;
    m.MappedSystemVa = hello;
    m.ByteCount = 5;
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, 5, NULL), STATUS_SUCCESS);
    EXPECT(RxCeSend(&s.vc, 0, &m, 5, (PVOID)1), STATUS_PENDING);
    CHECK(wait_for_stream(10, 5000), "the echo came back");
    CHECK(wait_for(&events.completed, 1, 5000), "the asynchronous send completed");
    EXPECT(RxCeTearDownVC(&s.vc), STATUS_SUCCESS);
    EXPECT(RxCeTearDownConnection(&s.connection), STATUS_SUCCESS);
    EXPECT(RxCeTearDownAddress(&s.address), STATUS_SUCCESS);
    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
    peer_stop();
    return finish();
}

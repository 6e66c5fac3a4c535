/*
 * A C host cannot know which of its callbacks may block (on a lock, on a
 * disk). One receive callback, then four at once, sleep 2 s on their VCs
 * (A); meanwhile another VC (B) sends to the echo peer, and its echo must
 * be indicated at once, not when the callbacks return. The delays are
 * printed; the check's bound is generous (a stalled engine takes ~2 s).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rxce_test.h"

#define MAX_BLOCKED 4

static struct {
    int blocked;          /* callbacks asleep now */
    int b_indications;
    struct timespec b_arrived;
} state;

static double seconds(struct timespec t)
{
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A's callbacks sleep; B's note when the echo arrived. The event context
 * tells them apart: 1 for A, 2 for B. */
static NTSTATUS on_receive(PVOID context, PRXCE_VC vc, ULONG flags, ULONG indicated,
                           ULONG available, ULONG *taken, PVOID tsdu, struct _MDL **chain,
                           PULONG size)
{
    (void)vc;
    (void)flags;
    (void)available;
    (void)tsdu;
    (void)chain;
    (void)size;
    *taken = indicated;
    if (context == (PVOID)1) {
        events_lock();
        state.blocked++;
        events_unlock();
        sleep_ms(2000);
        events_lock();
        state.blocked--;
        events_unlock();
    } else {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        events_lock();
        if (state.b_indications++ == 0) {
            state.b_arrived = now;
        }
        events_unlock();
    }
    return STATUS_SUCCESS;
}

static int count(const int *counter)
{
    int n;
    events_lock();
    n = *counter;
    events_unlock();
    return n;
}

static NTSTATUS connect_vc(RXCE_ADDRESS *address, uint16_t port, PVOID context,
                           RXCE_CONNECTION *connection, RXCE_VC *vc)
{
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_info(&remote, ip_address(&remote, LOOPBACK, port));
    RXCE_CONNECTION_EVENT_HANDLER handler;
    memset(&handler, 0, sizeof handler);
    handler.RxCeReceiveEventHandler = on_receive;
    memset(connection, 0, sizeof *connection);
    memset(vc, 0, sizeof *vc);
    return RxCeBuildConnection(address, &info, &handler, context, connection, vc);
}

static NTSTATUS send_text(RXCE_VC *vc, const char *text)
{
    MDL m;
    m.Next = NULL;
    m.MappedSystemVa = (PVOID)text;
    m.ByteCount = (ULONG)strlen(text);
    return RxCeSend(vc, RXCE_SEND_SYNCHRONOUS, &m, m.ByteCount, NULL);
}

/* With `blocked` callbacks asleep, how long B's echo takes, in seconds
 * (negative if it never came). */
static double echo_delay(RXCE_ADDRESS *address, uint16_t port, int blocked)
{
    RXCE_CONNECTION a_connections[MAX_BLOCKED], b_connection;
    RXCE_VC a_vcs[MAX_BLOCKED], b_vc;
    struct timespec sent;
    double delay = -1;
    int i;

    for (i = 0; i < blocked; i++) {
        EXPECT(connect_vc(address, port, (PVOID)1, &a_connections[i], &a_vcs[i]), STATUS_SUCCESS);
    }
    EXPECT(connect_vc(address, port, (PVOID)2, &b_connection, &b_vc), STATUS_SUCCESS);
    memset(&state, 0, sizeof state);
    sleep_ms(50);
    for (i = 0; i < blocked; i++) {
        EXPECT(send_text(&a_vcs[i], "block"), STATUS_SUCCESS);
    }
    for (i = 0; i < 5000 && count(&state.blocked) < blocked; i++) {
        sleep_ms(1);
    }
    CHECK(count(&state.blocked) == blocked, "A's callbacks are asleep");
    sleep_ms(50);
    clock_gettime(CLOCK_MONOTONIC, &sent);
    EXPECT(send_text(&b_vc, "ping"), STATUS_SUCCESS);
    for (i = 0; i < 10000 && count(&state.b_indications) == 0; i++) {
        sleep_ms(1);
    }
    events_lock();
    if (state.b_indications > 0) {
        delay = seconds(state.b_arrived) - seconds(sent);
    }
    events_unlock();
    for (i = 0; i < blocked; i++) {
        EXPECT(RxCeTearDownConnection(&a_connections[i]), STATUS_SUCCESS);
    }
    EXPECT(RxCeTearDownConnection(&b_connection), STATUS_SUCCESS);
    return delay;
}

int main(void)
{
    RXCE_TRANSPORT transport;
    RXCE_ADDRESS address;
    ADDRESS_BUFFER local;
    WCHAR units[64];
    UNICODE_STRING tcp = name("tcp", units);
    uint16_t port = peer_start();
    int blocked[2] = {1, MAX_BLOCKED}, i;

    CHECK(port != 0, "the peer listens");
    peer_mode(PEER_ECHO);
    memset(&transport, 0, sizeof transport);
    memset(&address, 0, sizeof address);
    EXPECT(RxCeBuildTransport(&transport, &tcp, 1), STATUS_SUCCESS);
    ip_address(&local, LOOPBACK, 0);
    EXPECT(RxCeBuildAddress(&address, &transport, &local.address, NULL, NULL), STATUS_SUCCESS);
    for (i = 0; i < 2; i++) {
        char what[160];
        double delay = echo_delay(&address, port, blocked[i]);
        printf("# %d blocked callback(s): B's echo indicated after %.3f ms\n", blocked[i],
               delay * 1e3);
        snprintf(what, sizeof what,
                 "with %d callback(s) asleep for 2 s, B's echo came within 500 ms (%.3f ms)",
                 blocked[i], delay * 1e3);
        CHECK(delay >= 0 && delay < 0.5, what);
    }
    EXPECT(RxCeTearDownTransport(&transport), STATUS_SUCCESS);
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
    peer_stop();
    return finish();
}

/*
 * Shared pieces of the C tests of librxce: checks that print "ok - ..." or
 * "not ok - ...", a loopback TCP peer on its own thread, builders of
 * names and addresses, and a connection handler that records every
 * indication.
 */
#ifndef RXCE_TEST_H
#define RXCE_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "rxce.h"

/* ---- checks ---------------------------------------------------------- */

/* Records one check; returns `passed`. */
int check(int passed, const char *file, int line, const char *what);
/* Checks that a routine returned `want`. */
int check_status(NTSTATUS got, NTSTATUS want, const char *file, int line, const char *what);
/* Prints the summary; the program's exit code (0 when every check passed). */
int finish(void);

#define CHECK(cond, what) check(!!(cond), __FILE__, __LINE__, (what))
#define EXPECT(call, want) check_status((call), (want), __FILE__, __LINE__, #call)

/* Sleeps `ms` milliseconds. */
void sleep_ms(int ms);

/* ---- names and addresses -------------------------------------------- */

/* A UNICODE_STRING over `units` (room for 64) holding `text`
 * (RxCeInitUnicodeStringFromUtf8). */
UNICODE_STRING name(const char *text, WCHAR *units);

/* Room for a TRANSPORT_ADDRESS with a few entries, aligned for it. */
typedef union {
    TRANSPORT_ADDRESS address;
    TA_IP_ADDRESS ip;
    TA_IP6_ADDRESS ip6;
    TA_NETBIOS_ADDRESS netbios;
    unsigned char bytes[256];
} ADDRESS_BUFFER;

/* Makes `buffer` a TA_IP_ADDRESS (host-order address and port,
 * RxCeInitIpAddress); returns its length in bytes. */
LONG ip_address(ADDRESS_BUFFER *buffer, uint32_t ip, uint16_t port);

/* Makes `buffer` a TRANSPORT_ADDRESS with one entry of `type`
 * (RxCeInitTransportAddress); returns its length in bytes. */
LONG other_address(ADDRESS_BUFFER *buffer, USHORT type, const void *entry, USHORT length);

/* Connection information naming `remote` (of `length` bytes). */
RXCE_CONNECTION_INFORMATION remote_info(ADDRESS_BUFFER *remote, LONG length);

#define LOOPBACK 0x7F000001u

/* ---- the peer --------------------------------------------------------- */

enum peer_mode {
    PEER_ECHO,  /* send back what arrives */
    PEER_SINK,  /* read and count */
    PEER_PAUSE  /* read nothing */
};

/* Starts the peer on 127.0.0.1 and returns its port. */
uint16_t peer_start(void);
/* Changes what the peer does with the bytes it gets. */
void peer_mode(enum peer_mode mode);
/* Bytes the peer sends on every connection as soon as it accepts it
 * (NULL: none). */
void peer_greet(const char *greeting);
/* Whether new connections begin with a NetBIOS session request, which the
 * peer answers with a positive session response before echoing. */
void peer_netbt(int on);
/* Connections accepted so far. */
int peer_accepted(void);
/* Bytes the peer has read so far (in every mode). */
long peer_received(void);
/* Sends bytes on the peer's newest connection. */
void peer_send(const void *bytes, size_t length);
/* Ends the peer's newest connection: orderly, or with a reset. */
void peer_close_newest(int reset);
/* Closes everything and stops the peer's thread. */
void peer_stop(void);

/* A Unix-domain listener at `path` (removed first); -1 on failure. */
int unix_listen(const char *path);

/* A port on 127.0.0.1 where nothing listens. */
uint16_t closed_port(void);

/* ---- the recording connection handler -------------------------------- */

enum answer {
    ANSWER_TAKE_ALL,        /* STATUS_SUCCESS, every byte */
    ANSWER_TAKE_SOME,       /* STATUS_SUCCESS, `take` bytes */
    ANSWER_MORE_PROCESSING, /* take `take`, return `chain` for `chain_size` bytes */
    ANSWER_NOT_ACCEPTED,    /* STATUS_DATA_NOT_ACCEPTED */
    ANSWER_BOGUS            /* an unexpected status: counts as not accepted */
};

/* Room for many send completions. */
#define MAX_COMPLETIONS 4096

typedef struct {
    PVOID context;
    PRXCE_VC vc;
    NTSTATUS status;
} COMPLETION;

/* What the handler was told, and how it answers. Lock with events_lock(). */
typedef struct {
    /* answers */
    enum answer answer;
    ULONG take;
    PMDL chain;
    ULONG chain_size;
    /* run once inside the next receive indication (then cleared) */
    void (*in_receive)(PRXCE_VC vc);
    /* indications */
    int receives;
    int forced;              /* receives with TDI_RECEIVE_FORCE_INDICATION */
    ULONG last_flags;
    ULONG last_indicated;
    PRXCE_VC last_vc;
    int last_vc_built;       /* it had its signature and connection then */
    unsigned char stream[1 << 16]; /* taken bytes and filled chains, in order */
    size_t stream_length;
    int data_ready;
    PMDL ready_chain;
    ULONG ready_copied;
    NTSTATUS ready_status;
    int disconnects;
    ULONG disconnect_flags;
    PRXCE_VC disconnect_vc;
    LONG state_at_disconnect;
    int errors;
    int send_possible;
    int submitted;
    COMPLETION submissions[MAX_COMPLETIONS];
    int completed;
    COMPLETION completions[MAX_COMPLETIONS];
} EVENTS;

extern EVENTS events;
void events_lock(void);
void events_unlock(void);
/* Clears the record and sets the answer back to take-all. */
void events_reset(void);
/* Waits up to `ms` for `*counter` (a field of `events`) to reach `at_least`. */
int wait_for(const int *counter, int at_least, int ms);
/* Waits up to `ms` for `events.stream_length` to reach `at_least`. */
int wait_for_stream(size_t at_least, int ms);

/* True when every callback got the event context given at build time. */
int context_was_always_right(void);

/* A vector whose every member records into `events`. */
RXCE_CONNECTION_EVENT_HANDLER recording_handler(void);

/* ---- objects --------------------------------------------------------- */

/* A tcp transport, an address on 127.0.0.1 and a connection (with its VC)
 * to the peer at `port`, recorded by recording_handler(). */
typedef struct {
    RXCE_TRANSPORT transport;
    RXCE_ADDRESS address;
    RXCE_CONNECTION connection;
    RXCE_VC vc;
} STACK;

/* Builds `stack` (zeroed first); returns the status of the first failure. */
NTSTATUS stack_build(STACK *stack, uint16_t port);

#endif /* RXCE_TEST_H */

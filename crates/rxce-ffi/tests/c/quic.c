/*
 * The `quic` transport from C: a connection to the quinn server the Rust
 * harness runs (its port and the SHA-256 pin of its self-signed
 * certificate in RXCE_QUIC_PORT and RXCE_QUIC_PIN), certificate options in
 * the connection information's Options, messages echoed whole; a wrong pin
 * and a wrong name refused with their statuses and a message saying why.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rxce_test.h"

static NTSTATUS build(STACK *s)
{
    WCHAR units[16];
    UNICODE_STRING n = name("quic", units);
    ADDRESS_BUFFER local;
    NTSTATUS status;
    memset(s, 0, sizeof *s);
    status = RxCeBuildTransport(&s->transport, &n, 1);
    if (status != STATUS_SUCCESS) {
        return status;
    }
    ip_address(&local, LOOPBACK, 0);
    return RxCeBuildAddress(&s->address, &s->transport, &local.address, NULL, NULL);
}

static NTSTATUS connect_with(STACK *s, uint16_t port, const char *options)
{
    ADDRESS_BUFFER remote;
    RXCE_CONNECTION_INFORMATION info = remote_info(&remote, ip_address(&remote, LOOPBACK, port));
    RXCE_CONNECTION_EVENT_HANDLER handler = recording_handler();
    info.OptionsLength = (LONG)strlen(options);
    info.Options = (PVOID)options;
    return RxCeBuildConnection(&s->address, &info, &handler, (PVOID)&events, &s->connection,
                               &s->vc);
}

int main(void)
{
    const char *port_text = getenv("RXCE_QUIC_PORT");
    const char *pin = getenv("RXCE_QUIC_PIN");
    char options[256];
    char bytes[] = "hello over quic";
    size_t length = strlen(bytes);
    uint16_t port;
    STACK s;
    MDL m;

    if (port_text == NULL || pin == NULL) {
        CHECK(0, "RXCE_QUIC_PORT and RXCE_QUIC_PIN are set by the harness");
        return finish();
    }
    port = (uint16_t)atoi(port_text);

    EXPECT(build(&s), STATUS_SUCCESS);
    snprintf(options, sizeof options, "pin=%s", pin);
    EXPECT(connect_with(&s, port, options), STATUS_SUCCESS);
    m.Next = NULL;
    m.MappedSystemVa = bytes;
    m.ByteCount = (ULONG)length;
    events_reset();
    EXPECT(RxCeSend(&s.vc, RXCE_SEND_SYNCHRONOUS, &m, (ULONG)length, NULL), STATUS_SUCCESS);
    CHECK(wait_for_stream(length, 5000), "the echo arrives");
    events_lock();
    CHECK(events.receives == 1 && (events.last_flags & TDI_RECEIVE_ENTIRE_MESSAGE) &&
              memcmp(events.stream, bytes, length) == 0,
          "quic: the message is indicated whole");
    events_unlock();
    EXPECT(RxCeTearDownConnection(&s.connection), STATUS_SUCCESS);

    /* A pin of another certificate. */
    EXPECT(connect_with(&s, port,
                        "pin=0000000000000000000000000000000000000000000000000000000000000000"),
           STATUS_TRUST_FAILURE);
    CHECK(strstr(RxCeGetLastErrorMessage(), "pinned") != NULL, "the message says it is not pinned");
    /* Trusting the system's roots: the self-signed certificate is unknown. */
    EXPECT(connect_with(&s, port, "sni=localhost"), STATUS_ISSUING_CA_UNTRUSTED);
    /* Options that do not parse. */
    EXPECT(connect_with(&s, port, "color=red"), STATUS_INVALID_PARAMETER);
    CHECK(strstr(RxCeGetLastErrorMessage(), "unknown key") != NULL, "the message names the key");

    EXPECT(RxCeTearDownTransport(&s.transport), STATUS_SUCCESS);
    EXPECT(RxCeShutdown(), STATUS_SUCCESS);
    return finish();
}

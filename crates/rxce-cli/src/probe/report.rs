//! The probe's output: a table for people (a column per transport), or one
//! JSON object for machines.

use std::error::Error as _;
use std::time::Duration;

use rxce::Status;
use rxce_smb2::{capability, dialect, format_guid, NegotiateResponse};
use serde::Serialize;

use super::{Attempt, Probe};
use crate::table;

/// The probe as JSON: `{"server", "attempts": [{"transport", "address",
/// "status", "connect_ms", "negotiate": {...} | null}], "winner"}`.
#[derive(Debug, Serialize)]
struct JsonProbe<'a> {
    server: &'a str,
    attempts: Vec<JsonAttempt>,
    winner: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct JsonAttempt {
    transport: &'static str,
    address: String,
    status: &'static str,
    connect_ms: f64,
    negotiate: Option<JsonNegotiate>,
}

#[derive(Debug, Serialize)]
struct JsonNegotiate {
    dialect: String,
    server_guid: String,
    max_read: u32,
    max_write: u32,
    max_transact: u32,
    capabilities: Vec<String>,
}

/// Milliseconds with microsecond precision.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// The capability names, unknown bits as one hex value.
fn capabilities(caps: u32) -> Vec<String> {
    let mut names: Vec<String> = capability::names(caps).into_iter().map(str::to_owned).collect();
    let unknown = capability::unknown(caps);
    if unknown != 0 {
        names.push(format!("{unknown:#010x}"));
    }
    names
}

/// The probe as one line of JSON: `{"server", "attempts": [{"transport",
/// "address", "status", "connect_ms", "negotiate": {...} or null}],
/// "winner"}`.
pub fn json(probe: &Probe) -> String {
    let value = JsonProbe {
        server: &probe.server,
        attempts: probe
            .attempts
            .iter()
            .map(|a| JsonAttempt {
                transport: a.transport.label(),
                address: a.address.clone(),
                status: a.status.name(),
                connect_ms: ms(a.connect_time),
                negotiate: a.negotiate.as_ref().map(|n| JsonNegotiate {
                    dialect: dialect::hex(n.dialect),
                    server_guid: format_guid(&n.server_guid),
                    max_read: n.max_read_size,
                    max_write: n.max_write_size,
                    max_transact: n.max_transact_size,
                    capabilities: capabilities(n.capabilities),
                }),
            })
            .collect(),
        winner: probe.winner().map(|a| a.transport.label()),
    };
    // Plain data with string keys always serialises.
    serde_json::to_string(&value).unwrap_or_default()
}

/// Why a status failed, in one line: its message and the system's error.
fn detail(status: &Status) -> String {
    let message = status.message().unwrap_or(status.text());
    match status.source() {
        Some(source) if !message.is_empty() => format!("{message}: {source}"),
        Some(source) => source.to_string(),
        None => message.to_owned(),
    }
}

/// A row of the table: a field, and its value per attempt.
fn field(name: &str, attempts: &[Attempt], value: impl Fn(&Attempt) -> String) -> Vec<String> {
    std::iter::once(name.to_owned())
        .chain(attempts.iter().map(value))
        .collect()
}

/// A value of the negotiate response, blank without one.
fn negotiated(a: &Attempt, value: impl Fn(&NegotiateResponse) -> String) -> String {
    a.negotiate.as_ref().map(value).unwrap_or_default()
}

/// The probe as a header line, an aligned table with a column per
/// transport (without the NEGOTIATE rows when nothing negotiated), and the
/// winner.
pub fn render(probe: &Probe) -> String {
    let attempts = &probe.attempts;
    let mut header = vec!["transport"];
    header.extend(attempts.iter().map(|a| a.transport.label()));
    let mut t = table::table(&header, &[]);
    t.add_row(field("address", attempts, |a| a.address.clone()));
    t.add_row(field("called name", attempts, |a| {
        a.called_name.map(|n| n.to_string()).unwrap_or_default()
    }));
    t.add_row(field("status", attempts, |a| a.status.name().to_owned()));
    if attempts.iter().any(|a| !a.status.is_success()) {
        t.add_row(field("detail", attempts, |a| {
            if a.status.is_success() {
                String::new()
            } else {
                detail(&a.status)
            }
        }));
    }
    t.add_row(field("connect", attempts, |a| table::millis(a.connect_time)));
    let winner = match probe.winner() {
        Some(winner) => {
            add_negotiate_rows(&mut t, attempts);
            format!(
                "winner: {} (the first of {} that negotiated)",
                winner.transport.label(),
                attempts
                    .iter()
                    .map(|a| a.transport.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        None => "winner: none (no transport negotiated)".to_owned(),
    };
    format!(
        "rxce probe {} (netbt calls {})\n{t}\n{winner}",
        probe.server, probe.called_name
    )
}

/// The rows of what the servers answered to the NEGOTIATE.
fn add_negotiate_rows(t: &mut comfy_table::Table, attempts: &[Attempt]) {
    t.add_row(field("negotiate", attempts, |a| {
        a.negotiate_time.map(table::millis).unwrap_or_default()
    }));
    t.add_row(field("dialect", attempts, |a| {
        negotiated(a, |n| {
            format!("{} ({})", dialect::hex(n.dialect), dialect::name(n.dialect))
        })
    }));
    t.add_row(field("server GUID", attempts, |a| {
        negotiated(a, |n| format_guid(&n.server_guid))
    }));
    t.add_row(field("max read", attempts, |a| {
        negotiated(a, |n| table::bytes(n.max_read_size.into()))
    }));
    t.add_row(field("max write", attempts, |a| {
        negotiated(a, |n| table::bytes(n.max_write_size.into()))
    }));
    t.add_row(field("max transact", attempts, |a| {
        negotiated(a, |n| table::bytes(n.max_transact_size.into()))
    }));
    t.add_row(field("capabilities", attempts, |a| {
        negotiated(a, |n| capabilities(n.capabilities).join("\n"))
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ProbeTransport;
    use rxce::wire::NetbiosName;

    fn response() -> NegotiateResponse {
        NegotiateResponse {
            status: 0,
            message_id: 0,
            credits_granted: 1,
            security_mode: 1,
            dialect: dialect::SMB3_1_1,
            server_guid: [0x11; 16],
            capabilities: capability::DFS | capability::LARGE_MTU | 0x8000_0000,
            max_transact_size: 8 << 20,
            max_read_size: 8 << 20,
            max_write_size: 1 << 20,
            system_time: 0,
            server_start_time: 0,
            security_blob: Vec::new(),
            contexts: Vec::new(),
        }
    }

    fn probe() -> Probe {
        Probe {
            server: "files".into(),
            called_name: NetbiosName::parse("FILES").unwrap(),
            attempts: vec![
                Attempt {
                    transport: ProbeTransport::Tcp,
                    address: "127.0.0.1:445".into(),
                    called_name: None,
                    status: Status::CONNECTION_REFUSED.with_message("connecting to 127.0.0.1:445"),
                    connect_time: Duration::from_micros(1234),
                    negotiate_time: None,
                    negotiate: None,
                },
                Attempt {
                    transport: ProbeTransport::Netbt,
                    address: "127.0.0.1:139".into(),
                    called_name: NetbiosName::parse("FILES").ok(),
                    status: Status::SUCCESS,
                    connect_time: Duration::from_micros(2500),
                    negotiate_time: Some(Duration::from_micros(3000)),
                    negotiate: Some(response()),
                },
            ],
        }
    }

    #[test]
    fn json_has_every_field_and_the_winner() {
        let value: serde_json::Value = serde_json::from_str(&json(&probe())).unwrap();
        assert_eq!(value["server"], "files");
        assert_eq!(value["winner"], "netbt");
        let tcp = &value["attempts"][0];
        assert_eq!(tcp["transport"], "tcp");
        assert_eq!(tcp["status"], "STATUS_CONNECTION_REFUSED");
        assert_eq!(tcp["connect_ms"], 1.234);
        assert!(tcp["negotiate"].is_null());
        let netbt = &value["attempts"][1]["negotiate"];
        assert_eq!(netbt["dialect"], "0x0311");
        assert_eq!(netbt["server_guid"], "11111111-1111-1111-1111-111111111111");
        assert_eq!(netbt["max_read"], 8 << 20);
        assert_eq!(netbt["max_write"], 1 << 20);
        assert_eq!(
            netbt["capabilities"],
            serde_json::json!(["DFS", "LARGE_MTU", "0x80000000"])
        );
    }

    #[test]
    fn the_table_has_a_column_per_transport_with_units() {
        let text = render(&probe());
        assert!(text.starts_with("rxce probe files (netbt calls FILES<20>)\n"), "{text}");
        for expected in [
            "STATUS_CONNECTION_REFUSED",
            "connecting to 127.0.0.1:445",
            "1.234 ms",
            "3.000 ms",
            "0x0311 (SMB 3.1.1)",
            "8.0 MiB",
            "1.0 MiB",
            "LARGE_MTU",
            "winner: netbt",
        ] {
            assert!(text.contains(expected), "{expected} in\n{text}");
        }
        let none = Probe {
            attempts: probe().attempts.into_iter().take(1).collect(),
            ..probe()
        };
        let text = render(&none);
        assert!(text.ends_with("winner: none (no transport negotiated)"), "{text}");
        assert!(!text.contains("dialect"), "{text}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json(&none)).unwrap()["winner"],
            serde_json::Value::Null
        );
    }
}

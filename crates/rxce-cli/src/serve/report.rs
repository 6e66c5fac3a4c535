//! The `rxce serve` command's flow: start a peer per endpoint, print where
//! each listens, wait for the stop, and report what each peer did.

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use rxce::Status;

use super::{Mode, Peer, PeerOptions, Snapshot};
use crate::endpoint::{Endpoint, Kind};
use crate::table;

/// One peer's line of the report.
#[derive(Debug, Clone)]
pub struct Row {
    /// The endpoint as bound.
    pub endpoint: Endpoint,
    /// The peer's mode.
    pub mode: Mode,
    /// Its final counters.
    pub stats: Snapshot,
}

/// What `rxce serve` did, for its exit table.
#[derive(Debug, Clone)]
pub struct Report {
    /// A row per endpoint, in the order given.
    pub rows: Vec<Row>,
    /// What stopped the peers (`SIGTERM`, `SIGINT`, `--duration`).
    pub stopped_by: String,
    /// How long they served.
    pub served_for: Duration,
}

/// Starts a peer on each of `endpoints`, writes `listening URL` for each
/// (the bound URL: port 0 replaced) to `out` and flushes it, serves until
/// `stop` completes (its output names what stopped it) or `duration`
/// passes, stops every peer and returns the report. When a peer cannot
/// start, the ones started are stopped and its status returned.
pub async fn run(
    endpoints: &[Endpoint],
    options: &PeerOptions,
    duration: Option<Duration>,
    stop: impl Future<Output = String>,
    out: &mut impl Write,
) -> Result<Report, Status> {
    let mut peers = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        match Peer::start(endpoint, options).await {
            Ok(peer) => peers.push(peer),
            Err(status) => {
                for peer in peers {
                    peer.stop().await;
                }
                return Err(status);
            }
        }
    }
    let announced = peers
        .iter()
        .try_for_each(|peer| {
            if let Some(pin) = peer.fingerprint() {
                // The URL carries it as `?pin=` too; said once in words.
                eprintln!("{}: certificate SHA-256 fingerprint {pin}", peer.endpoint());
            }
            writeln!(out, "listening {}", peer.endpoint())
        })
        .and_then(|()| out.flush());
    if let Err(e) = announced {
        for peer in peers {
            peer.stop().await;
        }
        return Err(Status::from_io(e, "writing the bound addresses"));
    }
    let started = Instant::now();
    let stopped_by = match duration {
        Some(duration) => tokio::select! {
            by = stop => by,
            () = tokio::time::sleep(duration) => "--duration".to_owned(),
        },
        None => stop.await,
    };
    let served_for = started.elapsed();
    let mut rows = Vec::with_capacity(peers.len());
    for peer in peers {
        let (endpoint, mode) = (peer.endpoint().clone(), peer.mode());
        rows.push(Row {
            endpoint,
            mode,
            stats: peer.stop().await,
        });
    }
    Ok(Report {
        rows,
        stopped_by,
        served_for,
    })
}

impl Report {
    /// The report as a line saying what stopped the peers and an aligned
    /// table: per endpoint its connections, refused NetBIOS sessions,
    /// payload bytes each way, messages each way (framed transports and
    /// `udp`) and keepalives sent (`netbt`).
    pub fn render(&self) -> String {
        let mut t = table::table(
            &[
                "endpoint",
                "mode",
                "connections",
                "refused",
                "received",
                "sent",
                "messages in",
                "messages out",
                "keepalives",
            ],
            &[
                "connections",
                "refused",
                "received",
                "sent",
                "messages in",
                "messages out",
                "keepalives",
            ],
        );
        for row in &self.rows {
            let kind = row.endpoint.kind();
            let s = &row.stats;
            let netbt = |n: u64| {
                if kind == Kind::Netbt {
                    n.to_string()
                } else {
                    String::new()
                }
            };
            let messages = |n: u64| {
                if kind.is_framed() || kind == Kind::Udp {
                    n.to_string()
                } else {
                    String::new()
                }
            };
            t.add_row(vec![
                row.endpoint.to_string(),
                row.mode.to_string(),
                s.connections.to_string(),
                netbt(s.refused),
                table::bytes(s.bytes_received),
                table::bytes(s.bytes_sent),
                messages(s.messages_received),
                messages(s.messages_sent),
                netbt(s.keepalives_sent),
            ]);
        }
        format!(
            "rxce serve: stopped by {} after {:.3} s\n{t}",
            self.stopped_by,
            self.served_for.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_what_applies_to_each_kind() {
        let row = |url: &str, stats: Snapshot| Row {
            endpoint: url.parse().unwrap(),
            mode: Mode::Echo,
            stats,
        };
        let stats = Snapshot {
            connections: 2,
            refused: 1,
            bytes_received: 2048,
            bytes_sent: 100,
            messages_received: 3,
            messages_sent: 4,
            keepalives_sent: 5,
        };
        let report = Report {
            rows: vec![row("tcp://127.0.0.1:1", stats), row("netbt://127.0.0.1:2", stats)],
            stopped_by: "SIGTERM".into(),
            served_for: Duration::from_millis(1500),
        };
        let text = report.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "rxce serve: stopped by SIGTERM after 1.500 s");
        let cells = table::cells(&text);
        assert_eq!(cells[0][0], "endpoint");
        assert_eq!(
            cells[1],
            ["tcp://127.0.0.1:1", "echo", "2", "", "2.0 KiB", "100 B", "", "", ""]
        );
        assert_eq!(
            cells[2],
            [
                "netbt://127.0.0.1:2",
                "echo",
                "2",
                "1",
                "2.0 KiB",
                "100 B",
                "3",
                "4",
                "5"
            ]
        );
    }
}

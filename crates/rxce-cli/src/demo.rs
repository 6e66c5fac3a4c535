//! `rxce demo`: the engine end to end with nothing installed. Embedded echo
//! peers on loopback TCP and in memory; on each a transport, an address and
//! a connection; messages of several sizes sent and received back through
//! indications (the largest through the more-processing-required path);
//! everything torn down; what happened, as a table.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rxce::{
    ConnectionEventHandler, ConnectionInformation, Engine, EngineConfig, Indication, Information, InformationClass,
    NoEvents, ReceiveAnswer, ReceiveBuffer, SendBuffers, SendOptions, Status, TransportAddress, Vc,
};
use tokio::sync::mpsc;

use crate::table;

/// Message sizes the demo echoes.
pub const SIZES: [usize; 4] = [16, 1500, 20_000, 1 << 20];
/// Messages larger than this go straight into a client buffer.
const MORE_PROCESSING_ABOVE: usize = 32 * 1024;

/// One line of the demo's report.
#[derive(Debug, Clone)]
pub struct Row {
    /// The transport the step ran on.
    pub transport: &'static str,
    /// What was done.
    pub step: String,
    /// Bytes involved.
    pub bytes: u64,
    /// How the bytes arrived, for receives.
    pub path: &'static str,
    /// The outcome.
    pub status: Status,
    /// How long it took.
    pub time: Duration,
}

/// How a message reached the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Indication,
    DataReady,
}

impl Path {
    fn label(self) -> &'static str {
        match self {
            Path::Indication => "indication",
            Path::DataReady => "more processing → data ready",
        }
    }
}

/// The demo's client: messages are a 4-byte big-endian length and a payload.
/// Small ones are taken from the indication; large ones go straight into a
/// client buffer.
/// An echoed message and how it arrived, or why none did.
type Echo = Result<(Vec<u8>, Path), Status>;

struct Client {
    messages: Mutex<mpsc::UnboundedSender<Echo>>,
}

impl Client {
    fn deliver(&self, message: Echo) {
        let _ = self.messages.lock().map(|tx| tx.send(message));
    }
}

impl ConnectionEventHandler for Client {
    fn receive(&self, _vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        let data = indication.data;
        let Some(header) = data.get(..4) else {
            return ReceiveAnswer::Taken(0);
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if len > MORE_PROCESSING_ABOVE {
            return ReceiveAnswer::MoreProcessingRequired {
                taken: 4,
                buffer: Box::new(vec![0u8; len]),
                size: len,
            };
        }
        match data.get(4..4 + len) {
            Some(payload) => {
                self.deliver(Ok((payload.to_vec(), Path::Indication)));
                ReceiveAnswer::Taken(4 + len)
            }
            None => ReceiveAnswer::Taken(0),
        }
    }

    fn data_ready(&self, _vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        let any: Box<dyn std::any::Any + Send> = buffer;
        match (status.ok(), any.downcast::<Vec<u8>>()) {
            (Ok(()), Ok(mut bytes)) => {
                bytes.truncate(copied);
                self.deliver(Ok((*bytes, Path::DataReady)));
            }
            (Err(status), _) => self.deliver(Err(status)),
            (Ok(()), Err(_)) => self.deliver(Err(Status::INVALID_PARAMETER)),
        }
    }

    fn disconnect(&self, _vc: &Vc, _flags: rxce::DisconnectFlags, status: Status) {
        self.deliver(Err(
            Status::CONNECTION_DISCONNECTED.with_message(format!("the echo peer went away: {status}"))
        ));
    }
}

/// A payload of `len` bytes that differs per message.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(167).wrapping_add(seed))
        .collect()
}

/// Collects rows, timing each step.
struct Report {
    rows: Vec<Row>,
    transport: &'static str,
}

impl Report {
    fn row(&mut self, step: impl Into<String>, bytes: u64, path: &'static str, status: Status, time: Duration) {
        self.rows.push(Row {
            transport: self.transport,
            step: step.into(),
            bytes,
            path,
            status,
            time,
        });
    }

    /// Runs a step and records it; a failure is recorded and returned.
    async fn step<T>(
        &mut self,
        step: impl Into<String>,
        bytes: u64,
        work: impl std::future::Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let started = Instant::now();
        let outcome = work.await;
        let status = match &outcome {
            Ok(_) => Status::SUCCESS,
            Err(status) => status.clone(),
        };
        self.row(step, bytes, "", status, started.elapsed());
        outcome
    }
}

/// Echoes one connection's bytes back (the TCP peer).
async fn tcp_echo_peer() -> Result<std::net::SocketAddr, Status> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Status::from_io(e, "starting the loopback echo peer"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Status::from_io(e, "reading the echo peer's address"))?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            // Without it, Nagle's algorithm holds the echo's last segment
            // for the client's delayed ACK (~40 ms).
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    Ok(addr)
}

/// Runs the demo over one transport.
async fn run_transport(
    engine: &Engine,
    name: &'static str,
    local: TransportAddress,
    remote: TransportAddress,
    rows: &mut Vec<Row>,
) -> Result<(), Status> {
    let mut report = Report {
        rows: Vec::new(),
        transport: name,
    };
    let outcome = exercise(engine, name, local, remote, &mut report).await;
    rows.append(&mut report.rows);
    outcome
}

async fn exercise(
    engine: &Engine,
    name: &'static str,
    local: TransportAddress,
    remote: TransportAddress,
    report: &mut Report,
) -> Result<(), Status> {
    let transport = report
        .step("build transport", 0, async { engine.build_transport(name, 0) })
        .await?;
    let address = report
        .step("build address", 0, async {
            transport.build_address(local, Arc::new(NoEvents))
        })
        .await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = Arc::new(Client {
        messages: Mutex::new(tx),
    });
    let (connection, vc) = report
        .step(
            format!("build connection + VC to {remote}"),
            0,
            address.build_connection(ConnectionInformation::to(remote), client),
        )
        .await?;
    for (k, size) in SIZES.iter().enumerate() {
        let body = payload(*size, k as u8);
        let started = Instant::now();
        let mut message = SendBuffers::new();
        message.push((*size as u32).to_be_bytes().to_vec());
        message.push(body.clone());
        let sent = vc.send(message, SendOptions::empty()).await;
        let echoed = match sent {
            Ok(_) => match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(result)) => result,
                Ok(None) => Err(Status::CONNECTION_DISCONNECTED),
                Err(_) => Err(Status::IO_TIMEOUT.with_message("no echo within 10 s")),
            },
            Err(status) => Err(status),
        };
        match echoed {
            Ok((got, path)) if got == body => {
                report.row("echo", *size as u64, path.label(), Status::SUCCESS, started.elapsed())
            }
            Ok((got, path)) => {
                let status = Status::INVALID_NETWORK_RESPONSE.with_message(format!(
                    "the echo of {size} bytes came back as {} different bytes",
                    got.len()
                ));
                report.row("echo", *size as u64, path.label(), status.clone(), started.elapsed());
                return Err(status);
            }
            Err(status) => {
                report.row("echo", *size as u64, "", status.clone(), started.elapsed());
                return Err(status);
            }
        }
    }
    let started = Instant::now();
    if let Ok(Information::ConnectionEndpoint(info)) = vc.query_information(InformationClass::ConnectionEndpoint) {
        report.row(
            format!(
                "query endpoint: {} TSDUs sent, {} received",
                info.transmitted_tsdus, info.received_tsdus
            ),
            0,
            "",
            Status::SUCCESS,
            started.elapsed(),
        );
    }
    report.step("tear down connection", 0, connection.tear_down()).await?;
    report.step("tear down transport", 0, transport.tear_down()).await?;
    Ok(())
}

/// Runs the whole demo on the current runtime and returns its rows, or the
/// rows so far and the first failure.
pub async fn run() -> Result<Vec<Row>, (Vec<Row>, Status)> {
    let mut rows = Vec::new();
    let engine = match Engine::with_runtime(tokio::runtime::Handle::current(), EngineConfig::default()) {
        Ok(engine) => engine,
        Err(status) => return Err((rows, status)),
    };
    let tcp_peer = match tcp_echo_peer().await {
        Ok(addr) => addr,
        Err(status) => return Err((rows, status)),
    };
    let mut memory_listener = match engine.memory_listen("demo-echo") {
        Ok(listener) => listener,
        Err(status) => return Err((rows, status)),
    };
    tokio::spawn(async move {
        while let Some(mut stream) = memory_listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = tokio::io::split(&mut stream);
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    let runs = [
        (
            "tcp",
            TransportAddress::ip("127.0.0.1:0".parse().expect("a literal address")),
            TransportAddress::ip(tcp_peer),
        ),
        (
            "memory",
            TransportAddress::memory("demo-client"),
            TransportAddress::memory("demo-echo"),
        ),
    ];
    for (name, local, remote) in runs {
        if let Err(status) = run_transport(&engine, name, local, remote, &mut rows).await {
            return Err((rows, status));
        }
    }
    let live = engine.live_objects();
    if live.total() != 0 || engine.budget_in_use() != 0 {
        let status = Status::INVALID_DEVICE_STATE.with_message(format!(
            "objects left after tear-down: {live:?}, {} budget bytes in use",
            engine.budget_in_use()
        ));
        return Err((rows, status));
    }
    Ok(rows)
}

/// The rows as an aligned table.
pub fn render(rows: &[Row]) -> String {
    let mut t = table::table(
        &["transport", "step", "bytes", "path", "status", "time"],
        &["bytes", "time"],
    );
    for row in rows {
        t.add_row(vec![
            row.transport.to_string(),
            row.step.clone(),
            if row.bytes == 0 {
                String::new()
            } else {
                table::bytes(row.bytes)
            },
            row.path.to_string(),
            row.status.name().to_string(),
            table::millis(row.time),
        ]);
    }
    t.to_string()
}

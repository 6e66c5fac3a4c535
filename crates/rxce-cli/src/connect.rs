//! `rxce connect`: one connection over one or more endpoints (one attempt
//! each, raced by a policy), then stdin to the VC and the VC's indications to
//! stdout until either side closes.
//!
//! Input goes out on the first VC (the winner; with the all-successful
//! policy the first to connect), one TSDU per read of up to 64 KiB — one
//! message per read on framed transports. Indications of every VC go to the
//! output in the order they arrive. When the output is slow the handler
//! answers "not accepted" and resumes the VC once the writer caught up:
//! backpressure reaches the peer, nothing is dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rxce::{
    AttemptReport, ConnectionEventHandler, DisconnectFlags, Engine, EngineConfig, Indication, MultiConnectOptions,
    NoEvents, ReceiveAnswer, ReceiveBuffer, SelectPolicy, SendOptions, Status, Vc,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

use crate::endpoint::Endpoint;
use crate::table;

/// Received payloads queued for the output before the VC is paused.
const OUTPUT_QUEUE: usize = 64;
/// The most bytes one read of the input sends.
const READ_SIZE: usize = 64 * 1024;
/// How long, after the input ended and our side disconnected, the peer may
/// take to end its side.
const LINGER: Duration = Duration::from_secs(5);

/// How `rxce connect` builds its connection.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Which successes are kept.
    pub policy: SelectPolicy,
    /// The delay between the starts of successive endpoints' attempts.
    pub stagger: Duration,
    /// How long the whole build may take.
    pub timeout: Duration,
}

/// A VC's end, as its disconnect indication told it.
#[derive(Debug, Clone)]
pub struct Ended {
    /// The VC's id.
    pub vc: u64,
    /// RELEASE or ABORT.
    pub flags: DisconnectFlags,
    /// Why.
    pub status: Status,
}

/// What the session did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Bytes read from the input and sent.
    pub sent: u64,
    /// Bytes received and written to the output.
    pub received: u64,
    /// How the VCs ended.
    pub ended: Vec<Ended>,
}

/// The connection's handler: payloads to a bounded queue, disconnects to a
/// list.
struct Relay {
    output: mpsc::Sender<Vec<u8>>,
    paused: Mutex<Vec<Vc>>,
    ended: Mutex<Vec<Ended>>,
    changed: Notify,
}

impl Relay {
    fn offer(&self, vc: &Vc, bytes: Vec<u8>) -> bool {
        match self.output.try_send(bytes) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.paused.lock().unwrap_or_else(|e| e.into_inner()).push(vc.clone());
                self.changed.notify_one();
                false
            }
            // The output is gone (the session is ending): drop quietly.
            Err(mpsc::error::TrySendError::Closed(_)) => true,
        }
    }
}

impl ConnectionEventHandler for Relay {
    fn receive(&self, vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        if self.offer(vc, indication.data.to_vec()) {
            ReceiveAnswer::take_all(indication)
        } else {
            ReceiveAnswer::NotAccepted
        }
    }

    fn data_ready(&self, vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, _status: Status) {
        let any: Box<dyn std::any::Any + Send> = buffer;
        if let Ok(bytes) = any.downcast::<Vec<u8>>() {
            // The relay never asks for client buffers; this is for completeness.
            self.offer(vc, bytes[..copied].to_vec());
        }
    }

    fn disconnect(&self, vc: &Vc, flags: DisconnectFlags, status: Status) {
        self.ended.lock().unwrap_or_else(|e| e.into_inner()).push(Ended {
            vc: vc.id(),
            flags,
            status,
        });
        self.changed.notify_one();
    }
}

/// The attempt table, for stderr.
pub fn render_attempts(endpoints: &[Endpoint], attempts: &[AttemptReport]) -> String {
    let mut t = table::table(&["endpoint", "remote", "status", "time", "kept"], &["time"]);
    for attempt in attempts {
        t.add_row(vec![
            endpoints[attempt.address_index].to_string(),
            attempt.remote.to_string(),
            attempt.status.name().to_string(),
            table::millis(attempt.elapsed),
            if attempt.chosen { "yes".into() } else { String::new() },
        ]);
    }
    t.to_string()
}

/// Builds the connection and relays `input` to it and its indications to
/// `output` until either side closes. `attempts` gets the attempt table as
/// soon as the build is done (also when it failed).
pub async fn run(
    endpoints: &[Endpoint],
    options: &ConnectOptions,
    input: impl AsyncRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
    attempts: impl FnOnce(&[AttemptReport]),
) -> Result<Summary, Status> {
    let engine = Engine::with_runtime(
        tokio::runtime::Handle::current(),
        EngineConfig {
            connect_timeout: options.timeout,
            ..EngineConfig::default()
        },
    )?;
    let mut addresses = Vec::new();
    for endpoint in endpoints {
        let transport = engine.build_transport(endpoint.transport_name(), 0)?;
        addresses.push(transport.build_address(endpoint.local_address(), Arc::new(NoEvents))?);
    }
    let remotes: Vec<_> = endpoints.iter().map(Endpoint::remote).collect();
    let (tx, mut rx) = mpsc::channel(OUTPUT_QUEUE);
    let relay = Arc::new(Relay {
        output: tx,
        paused: Mutex::new(Vec::new()),
        ended: Mutex::new(Vec::new()),
        changed: Notify::new(),
    });
    let build = rxce::build_connection_over_multiple_transports(
        &addresses,
        &remotes,
        relay.clone(),
        &MultiConnectOptions {
            policy: options.policy,
            transport_stagger: options.stagger,
            attempt_timeout: Some(options.timeout),
            deadline: Some(options.timeout),
            ..MultiConnectOptions::default()
        },
    )
    .await;
    let built = match build {
        Ok(built) => {
            attempts(&built.attempts);
            built
        }
        Err(failure) => {
            attempts(&failure.attempts);
            engine.shutdown().await;
            return Err(failure.status);
        }
    };
    let vcs = built.vcs.clone();
    let sending = vcs[0].clone();
    let mut summary = Summary::default();
    let mut input = input;
    let mut buf = vec![0u8; READ_SIZE];
    let mut input_open = true;
    let mut linger_until = None;
    let outcome = loop {
        let all_ended = relay.ended.lock().unwrap_or_else(|e| e.into_inner()).len() == vcs.len();
        if all_ended && rx.is_empty() {
            break Ok(());
        }
        let paused: Vec<Vc> = std::mem::take(&mut *relay.paused.lock().unwrap_or_else(|e| e.into_inner()));
        let linger = async {
            match linger_until {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            received = rx.recv() => {
                let Some(bytes) = received else { break Ok(()) };
                if let Err(e) = output.write_all(&bytes).await.and(output.flush().await) {
                    break Err(Status::from_io(e, "writing to the output"));
                }
                summary.received += bytes.len() as u64;
                for vc in paused {
                    let _ = vc.resume_receive();
                }
            }
            read = input.read(&mut buf), if input_open => match read {
                Ok(0) => {
                    input_open = false;
                    for vc in &vcs {
                        let _ = vc.initiate_disconnect();
                    }
                    linger_until = Some(tokio::time::Instant::now() + LINGER);
                }
                Ok(n) => match sending.send(buf[..n].to_vec(), SendOptions::empty()).await {
                    Ok(sent) => summary.sent += sent as u64,
                    Err(status) => break Err(status),
                },
                Err(e) => break Err(Status::from_io(e, "reading the input")),
            },
            _ = relay.changed.notified() => {
                for vc in paused {
                    let _ = vc.resume_receive();
                }
                // A peer that ended its side ends the session: no more input.
                if !relay.ended.lock().unwrap_or_else(|e| e.into_inner()).is_empty() && input_open {
                    input_open = false;
                }
            }
            _ = linger => break Ok(()),
        }
    };
    summary.ended = relay.ended.lock().unwrap_or_else(|e| e.into_inner()).clone();
    built.connection.tear_down().await.ok();
    engine.shutdown().await;
    outcome?;
    if let Some(abort) = summary.ended.iter().find(|e| e.flags == DisconnectFlags::ABORT) {
        return Err(abort.status.clone());
    }
    Ok(summary)
}

//! The datagram side of an address (a `udp` address): its task receives
//! datagrams and indicates them on the address event handler, and sends go
//! straight to the socket. Datagrams follow TDI's rules: each is indicated
//! once and whole; bytes the client neither takes nor copies are dropped; a
//! datagram not accepted is kept, nothing more is read, and it is indicated
//! again (FORCE_INDICATION) after the address's resume.

use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use smallvec::SmallVec;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use rxce_proto::vc::{Progress, ReceiveMachine, ReceiveStep};

use crate::address::Address;
use crate::budget::Budget;
use crate::buffer::{BufferPool, SendBuffers};
use crate::handler::{AddressEventHandler, DatagramIndication, ReceiveAnswer};
use crate::provider::DatagramSocket;
use crate::registry::guarded_callback;
use crate::status::Status;
use crate::tdi::{ConnectionEndpointInfo, ConnectionInformation, SendOptions, TransportAddress};

/// The largest datagram a UDP socket delivers (IPv6 without jumbograms).
const RECEIVE_BUFFER: usize = 65_536;

/// A completion the address's task owes the client.
enum Due {
    Complete { context: usize, status: Status },
}

#[derive(Default)]
struct Inner {
    due: Vec<Due>,
    resume: bool,
    closed: bool,
    /// Asynchronous sends submitted and not yet completed: the task does
    /// not end (and a tear-down that waits for it does not return) before
    /// their completions are delivered.
    submitted: usize,
}

/// An asynchronous datagram send between its submission and its
/// completion. Whatever becomes of the submitting future, the completion
/// is owed once: a send dropped before it finished completes with
/// STATUS_CANCELLED.
pub(crate) struct SubmittedSend<'a> {
    endpoint: &'a DatagramEndpoint,
    context: usize,
    /// The status to complete with; `None` once refused (no completion).
    outcome: Option<Status>,
}

impl SubmittedSend<'_> {
    /// The send ended with `status`; its completion is delivered by the
    /// address's task.
    pub(crate) fn complete(mut self, status: Status) {
        self.outcome = Some(status);
    }

    /// The send was refused at once: the caller gets the status, no
    /// completion runs.
    pub(crate) fn refuse(mut self) {
        self.outcome = None;
    }
}

impl Drop for SubmittedSend<'_> {
    fn drop(&mut self) {
        let mut inner = self.endpoint.lock();
        inner.submitted -= 1;
        if let Some(status) = self.outcome.take() {
            inner.due.push(Due::Complete {
                context: self.context,
                status,
            });
        }
        drop(inner);
        self.endpoint.wake.notify_one();
    }
}

/// Counters of an address's datagrams.
#[derive(Debug, Default)]
pub(crate) struct DatagramCounters {
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) send_errors: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
}

/// An address's datagram socket and task.
pub(crate) struct DatagramEndpoint {
    /// The socket, until the address is torn down (then it is closed).
    socket: Mutex<Option<Arc<dyn DatagramSocket>>>,
    /// The address the socket was bound to.
    pub(crate) bound: TransportAddress,
    inner: Mutex<Inner>,
    wake: Notify,
    pub(crate) counters: DatagramCounters,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl DatagramEndpoint {
    pub(crate) fn new(socket: Arc<dyn DatagramSocket>) -> Arc<DatagramEndpoint> {
        Arc::new(DatagramEndpoint {
            bound: socket.local_address(),
            socket: Mutex::new(Some(socket)),
            inner: Mutex::new(Inner::default()),
            wake: Notify::new(),
            counters: DatagramCounters::default(),
            task: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The socket, or INVALID_HANDLE once the address is torn down.
    fn socket(&self) -> Result<Arc<dyn DatagramSocket>, Status> {
        self.socket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| Status::INVALID_HANDLE.with_message("the address was torn down"))
    }

    /// Starts the receive task of `address`.
    pub(crate) fn start(self: &Arc<Self>, address: Address, runtime: &tokio::runtime::Handle) {
        let span = tracing::debug_span!("datagrams", address = address.id());
        let task = runtime.spawn(tracing::Instrument::instrument(run(self.clone(), address), span));
        *self.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
    }

    /// Sends one datagram of `data` to `remote`; the number of bytes sent.
    pub(crate) async fn send(&self, remote: &ConnectionInformation, data: &SendBuffers) -> Result<usize, Status> {
        if self.lock().closed {
            return Err(Status::INVALID_HANDLE.with_message("the address was torn down"));
        }
        let socket = self.socket()?;
        if data.len() > crate::provider::udp::MAX_DATAGRAM {
            return Err(Status::INVALID_PARAMETER.with_message(format!(
                "a {}-byte datagram is longer than the largest UDP datagram ({} bytes)",
                data.len(),
                crate::provider::udp::MAX_DATAGRAM
            )));
        }
        let to = &remote.remote_address;
        if to.ip_entry().is_none() {
            return Err(Status::INVALID_PARAMETER.with_message(format!("the remote address {to} has no IP entry")));
        }
        let slices: SmallVec<[IoSlice<'_>; 4]> = data.chunks().iter().map(|c| IoSlice::new(c)).collect();
        match socket.send_to(&slices, to).await {
            Ok(n) => {
                self.counters.sent.fetch_add(1, Ordering::Relaxed);
                self.counters.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                self.counters.send_errors.fetch_add(1, Ordering::Relaxed);
                Err(Status::from_io(e, format!("sending a datagram to {to}")))
            }
        }
    }

    /// Begins an asynchronous send with `context`: its completion is owed
    /// from now on (STATUS_CANCELLED unless the send says otherwise), and
    /// the address's task delivers it before it ends. INVALID_HANDLE once
    /// the address is being torn down.
    pub(crate) fn submit(&self, context: usize) -> Result<SubmittedSend<'_>, Status> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(Status::INVALID_HANDLE.with_message("the address was torn down"));
        }
        inner.submitted += 1;
        Ok(SubmittedSend {
            endpoint: self,
            context,
            outcome: Some(Status::CANCELLED.with_message("the datagram send was abandoned before it finished")),
        })
    }

    pub(crate) fn resume(&self) {
        self.lock().resume = true;
        self.wake.notify_one();
    }

    /// Tells the task to stop without waiting (the engine is going away).
    pub(crate) fn stop_now(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
        self.socket.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Stops the task; unless called from one of this address's callbacks,
    /// waits until it ran its last callback.
    pub(crate) async fn close(&self, address_id: u64) {
        self.lock().closed = true;
        self.wake.notify_one();
        // A wait that could never end is skipped: the task stops on its
        // own once the callback that waits for it returns.
        let waiting = crate::registry::wait_for(address_id);
        if waiting.is_ok() && !crate::registry::in_callback_of(address_id) {
            let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(task) = task {
                let _ = task.await;
            }
        }
        // The task holds its own reference until it ends; this one goes now.
        self.socket.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Endpoint information of the address (TDI_CONNECTION_INFO).
    pub(crate) fn endpoint_info(&self) -> ConnectionEndpointInfo {
        let clamp = |v: &AtomicU64| u32::try_from(v.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
        let info = self.socket().map(|s| s.info()).unwrap_or_default();
        ConnectionEndpointInfo {
            state: 1,
            event: 0,
            transmitted_tsdus: clamp(&self.counters.sent),
            received_tsdus: clamp(&self.counters.received),
            transmission_errors: clamp(&self.counters.send_errors),
            receive_errors: 0,
            throughput: 0,
            delay: 0,
            send_buffer_size: info.send_buffer_size,
            receive_buffer_size: info.receive_buffer_size,
            unreliable: true,
        }
    }
}

async fn run(endpoint: Arc<DatagramEndpoint>, address: Address) {
    let Ok(socket) = endpoint.socket() else {
        return;
    };
    let handler = address.handler().clone();
    let id = address.id();
    // The answers to datagram indications are the receive machine's, as
    // on a VC; its buffer holds the largest datagram and, as before the
    // machine, is not charged to the budget.
    let pool = Arc::new(BufferPool::new(RECEIVE_BUFFER, 1, Budget::new(usize::MAX)));
    let mut machine = ReceiveMachine::for_datagrams(pool);
    let mut source = None;
    let mut due = Vec::new();
    // False once the machine stopped (a tear-down during an indication):
    // then only completions are delivered, until the close.
    let mut receiving = true;
    loop {
        let (closed, submitted, resume) = {
            let mut inner = endpoint.lock();
            std::mem::swap(&mut due, &mut inner.due);
            (inner.closed, inner.submitted, std::mem::take(&mut inner.resume))
        };
        for Due::Complete { context, status } in due.drain(..) {
            let _ = guarded_callback(id, "datagram send complete", watch(&address), || {
                handler.send_complete(&address, context, status)
            });
        }
        // Torn down: nothing more is received, but every send submitted
        // before gets its completion first.
        if closed && submitted == 0 {
            return;
        }
        if closed || !receiving {
            endpoint.wake.notified().await;
            continue;
        }
        if resume {
            machine.handle_resume();
        }
        let mut turn = 0;
        loop {
            match indicate(&*handler, &address, &endpoint, &mut machine, source.as_ref()) {
                Progress::Answering | Progress::Ended | Progress::Failed(_) => {
                    receiving = false;
                    break;
                }
                Progress::Paused => break,
                Progress::NeedBytes => {}
            }
            if turn == 32 {
                break;
            }
            turn += 1;
            let Ok(Some(target)) = machine.read_target() else {
                break;
            };
            match socket.try_recv_from(target) {
                Ok((len, from)) => {
                    endpoint.counters.received.fetch_add(1, Ordering::Relaxed);
                    endpoint
                        .counters
                        .bytes_received
                        .fetch_add(len as u64, Ordering::Relaxed);
                    machine.handle_datagram(len);
                    source = Some(from);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // An ICMP error for an earlier send, reported on the
                    // socket: the address stays usable.
                    let status = Status::from_io(e, "receiving a datagram");
                    tracing::debug!(%status, "datagram socket error");
                    let _ = guarded_callback(id, "error", watch(&address), || handler.error(&address, status));
                }
            }
        }
        machine.release_idle_buffer();
        if turn == 32 {
            tokio::task::yield_now().await;
            continue;
        }
        let held = !receiving || !machine.wants_bytes();
        tokio::select! {
            biased;
            _ = endpoint.wake.notified() => {}
            _ = socket.readable(), if !held => {}
        }
    }
}

/// The engine's callback timing, for `address`'s callbacks.
fn watch(address: &Address) -> &crate::registry::CallbackWatch {
    &address.0.engine().callbacks
}

/// Delivers what the machine has for the client: the datagram held (from
/// `source`) and the client buffer it filled. A tear-down from inside the
/// callback cancels the answer: a buffer offered then comes back
/// untouched. Returns what the machine waits for; `Answering` never, as
/// every indication is answered here.
fn indicate(
    handler: &dyn AddressEventHandler,
    address: &Address,
    endpoint: &DatagramEndpoint,
    machine: &mut ReceiveMachine,
    source: Option<&TransportAddress>,
) -> Progress {
    loop {
        match machine.poll() {
            ReceiveStep::Indicate(lent) => {
                let Some(source) = source else {
                    machine.answer(lent, ReceiveAnswer::Taken(0));
                    continue;
                };
                let indication = DatagramIndication {
                    source,
                    indication: lent.indication(),
                };
                // A panicking handler loses this one datagram (logged); the
                // address goes on receiving.
                let answer = guarded_callback(address.id(), "receive datagram", watch(address), || {
                    handler.receive_datagram(address, &indication)
                })
                .unwrap_or(ReceiveAnswer::Taken(0));
                if endpoint.lock().closed {
                    machine.handle_failure(Status::CANCELLED.with_message("the address was torn down"));
                }
                machine.answer(lent, answer);
            }
            ReceiveStep::DataReady { buffer, copied, status } => {
                let _ = guarded_callback(address.id(), "data ready", watch(address), || {
                    handler.data_ready(address, buffer, copied, status)
                });
            }
            ReceiveStep::Error(_) => {}
            ReceiveStep::Wait(progress) => return progress,
        }
    }
}

/// Checks a datagram send's options: PARTIAL and SYNCHRONOUS only (and the
/// send-side hints, which change nothing for datagrams).
pub(crate) fn check_options(options: SendOptions) -> Result<(), Status> {
    let unknown = options.bits() & !SendOptions::all().bits();
    if unknown != 0 {
        return Err(Status::INVALID_PARAMETER.with_message(format!("unknown send options {unknown:#x}")));
    }
    Ok(())
}

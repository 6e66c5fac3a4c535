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

use crate::address::Address;
use crate::buffer::SendBuffers;
use crate::handler::{AddressEventHandler, DatagramIndication, Indication, ReceiveAnswer};
use crate::provider::DatagramSocket;
use crate::registry::guarded_callback;
use crate::status::Status;
use crate::tdi::{ConnectionEndpointInfo, ConnectionInformation, ReceiveFlags, SendOptions, TransportAddress};

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

    /// Queues a completion for the task to deliver.
    pub(crate) fn complete_later(&self, context: usize, status: Status) {
        self.lock().due.push(Due::Complete { context, status });
        self.wake.notify_one();
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

/// A datagram the client did not accept, kept for the resume.
struct Held {
    len: usize,
    source: TransportAddress,
}

async fn run(endpoint: Arc<DatagramEndpoint>, address: Address) {
    let Ok(socket) = endpoint.socket() else {
        return;
    };
    let handler = address.handler().clone();
    let id = address.id();
    let mut buffer = vec![0u8; RECEIVE_BUFFER];
    let mut held: Option<Held> = None;
    let mut due = Vec::new();
    loop {
        let (closed, resume) = {
            let mut inner = endpoint.lock();
            std::mem::swap(&mut due, &mut inner.due);
            (inner.closed, std::mem::take(&mut inner.resume))
        };
        for Due::Complete { context, status } in due.drain(..) {
            let _ = guarded_callback(id, "datagram send complete", watch(&address), || {
                handler.send_complete(&address, context, status)
            });
        }
        if closed {
            return;
        }
        if resume {
            if let Some(h) = held.take() {
                let flags = ReceiveFlags::NORMAL | ReceiveFlags::ENTIRE_MESSAGE | ReceiveFlags::FORCE_INDICATION;
                held = indicate(&*handler, &address, &buffer, h, flags);
            }
        }
        let mut turn = 0;
        while held.is_none() && turn < 32 {
            turn += 1;
            match socket.try_recv_from(&mut buffer) {
                Ok((len, source)) => {
                    endpoint.counters.received.fetch_add(1, Ordering::Relaxed);
                    endpoint
                        .counters
                        .bytes_received
                        .fetch_add(len as u64, Ordering::Relaxed);
                    let flags = ReceiveFlags::NORMAL | ReceiveFlags::ENTIRE_MESSAGE;
                    held = indicate(&*handler, &address, &buffer, Held { len, source }, flags);
                    if endpoint.lock().closed {
                        break;
                    }
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
        if turn == 32 {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            biased;
            _ = endpoint.wake.notified() => {}
            _ = socket.readable(), if held.is_none() => {}
        }
    }
}

/// The engine's callback timing, for `address`'s callbacks.
fn watch(address: &Address) -> &crate::registry::CallbackWatch {
    &address.0.transport.engine.callbacks
}

/// Indicates one datagram; returns it when the client did not accept it.
fn indicate(
    handler: &dyn AddressEventHandler,
    address: &Address,
    buffer: &[u8],
    datagram: Held,
    flags: ReceiveFlags,
) -> Option<Held> {
    let data = &buffer[..datagram.len];
    let indication = DatagramIndication {
        source: &datagram.source,
        indication: Indication {
            flags,
            data,
            available: data.len(),
        },
    };
    // A panicking handler loses this one datagram (logged); the address
    // goes on receiving.
    let Ok(answer) = guarded_callback(address.id(), "receive datagram", watch(address), || {
        handler.receive_datagram(address, &indication)
    }) else {
        return None;
    };
    match answer {
        ReceiveAnswer::Taken(_) => None,
        ReceiveAnswer::MoreProcessingRequired {
            taken,
            mut buffer,
            size,
        } => {
            let mut rest = &data[taken.min(data.len())..];
            let size = size.min(buffer.capacity());
            let truncated = rest.len() > size;
            rest = &rest[..rest.len().min(size)];
            let mut copied = 0;
            while copied < rest.len() {
                let segment = buffer.segment_mut(copied);
                let n = segment.len().min(rest.len() - copied);
                segment[..n].copy_from_slice(&rest[copied..copied + n]);
                copied += n;
            }
            // A datagram longer than the client's buffer is cut, as TDI
            // says; the status tells.
            let status = if truncated {
                Status::BUFFER_OVERFLOW.with_message("the datagram was longer than the client buffer")
            } else {
                Status::SUCCESS
            };
            let _ = guarded_callback(address.id(), "data ready", watch(address), || {
                handler.data_ready(address, buffer, copied, status)
            });
            None
        }
        ReceiveAnswer::NotAccepted => Some(datagram),
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

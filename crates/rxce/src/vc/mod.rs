//! Virtual circuits: one transport connection endpoint of a connection, with
//! its send queue, its receive pump and its indications.
//!
//! Sends are written by whoever is at hand: a synchronous sender writes the
//! queue itself while it waits (no hand-off to another task), and the VC's
//! own task writes only for asynchronous sends nobody waits for. The task
//! reads the socket, runs the [receive indication machine](indication) and
//! delivers every callback of the VC, one at a time.

//! Virtual circuits: the [`Vc`] handle and what its handles share — the
//! VC's [sans-I/O machine](rxce_proto::vc::VcMachine) beside its socket,
//! under one lock, and the task that drives them.
//!
//! Sends are written by whoever is at hand: a synchronous sender writes the
//! queue itself while it waits (no hand-off to another task), and the VC's
//! own task writes only for asynchronous sends nobody waits for. The task
//! reads the socket into the machine and delivers every callback of the VC,
//! one at a time, never holding the VC's lock while a client callback runs.

mod driver;
#[allow(unsafe_code)]
mod io;
#[cfg(all(test, rxce_loom))]
mod loom_tests;
mod send;
mod wake;

pub(crate) use wake::TaskWake;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use rxce_proto::vc::{VcConfig, VcMachine};
use tokio::task::JoinHandle;

use crate::address::AddressShared;
use crate::budget::Charge;
use crate::buffer::SendBuffers;
use crate::connection::{Connection, ConnectionShared};
use crate::provider::{Connected, Framing};
use crate::registry::LiveToken;
use crate::status::Status;
use crate::tdi::{tdi_delay, AddressInfo, ConnectionEndpointInfo, Information, InformationClass, SendOptions};
use io::{VcCell, VcLock};

pub use rxce_proto::vc::VcState;

/// The engine's clock, as the VC machine takes it (tokio's, so that paused
/// time in tests moves it).
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// What every handle to one VC shares.
pub(crate) struct VcShared {
    pub(crate) id: u64,
    pub(crate) connection: Arc<ConnectionShared>,
    /// The local address the VC was built on: the connection's own, or
    /// another transport's for a VC added by a multi-transport build.
    pub(crate) address: Arc<AddressShared>,
    /// The remote side the VC was connected to (rebuilds connect there).
    pub(crate) information: Arc<crate::tdi::ConnectionInformation>,
    /// The machine and socket under the VC's lock, with their wake-ups.
    cell: VcCell,
    /// The client's data (see [`Vc::data`]).
    data: std::sync::OnceLock<VcData>,
    /// The message framing of the transport (`None`: a bare stream).
    framing: Option<Framing>,
    task: Mutex<Option<JoinHandle<()>>>,
    built_at: Instant,
    _charge: Charge,
    _live: LiveToken,
}

/// Data a client keeps with a VC (see [`Vc::data`]).
pub type VcData = Arc<dyn std::any::Any + Send + Sync>;

/// A virtual circuit: one transport connection endpoint of a
/// [`Connection`] (`RXCE_VC`).
///
/// Handles are cheap to clone. After [`Vc::tear_down`] every method fails
/// with STATUS_INVALID_HANDLE.
#[derive(Clone)]
pub struct Vc(pub(crate) Arc<VcShared>);

impl std::fmt::Debug for Vc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vc")
            .field("id", &self.0.id)
            .field("state", &self.state())
            .finish()
    }
}

impl PartialEq for Vc {
    fn eq(&self, other: &Vc) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Vc {}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl VcShared {
    pub(crate) fn new(
        connection: Arc<ConnectionShared>,
        address: Arc<AddressShared>,
        information: Arc<crate::tdi::ConnectionInformation>,
        connected: &Connected,
        charge: Charge,
    ) -> Arc<VcShared> {
        let engine = address.engine();
        let live = engine.live.token(crate::registry::Kind::Vc);
        let framing = connected.framing;
        let config = VcConfig {
            framing,
            max_message_size: engine.config.max_message_size,
            send_queue_limit: engine.config.send_queue_limit,
            keepalive: connected.keepalive.filter(|_| framing == Some(Framing::NetbiosSession)),
            dead_peer_timeout: engine.config.dead_peer_timeout,
            disconnect_timeout: engine.config.disconnect_timeout,
        };
        let built_at = now();
        let machine = VcMachine::new(config, engine.pool.clone(), built_at);
        Arc::new(VcShared {
            id: crate::registry::next_id(),
            cell: VcCell::new(machine, connected.stream.clone()),
            data: std::sync::OnceLock::new(),
            framing,
            task: Mutex::new(None),
            built_at,
            connection,
            address,
            information,
            _charge: charge,
            _live: live,
        })
    }

    /// The engine the VC belongs to.
    pub(crate) fn engine(&self) -> &Arc<crate::engine::EngineShared> {
        self.address.engine()
    }

    /// The VC's machine and socket, locked; the work the machine leaves
    /// (closing the socket, waking the task or senders) is done when the
    /// lock is given up.
    pub(crate) fn lock(&self) -> VcLock<'_> {
        self.cell.lock()
    }

    /// Starts the VC's task (receive pump and callbacks).
    pub(crate) fn start(self: &Arc<Self>) {
        let stream = self.lock().stream().expect("a new VC has its stream");
        let engine = &self.engine();
        let span = tracing::debug_span!("vc", id = self.id, connection = self.connection.id);
        let task = engine.runtime.spawn(tracing::Instrument::instrument(
            driver::run(Vc(self.clone()), stream),
            span,
        ));
        *lock(&self.task) = Some(task);
    }

    pub(crate) fn is_torn_down(&self) -> bool {
        self.cell.is_torn_down()
    }

    /// Keeps `data` with the VC unless it has data already.
    pub(crate) fn set_data(&self, data: VcData) -> Result<(), VcData> {
        self.data.set(data)
    }

    /// Bytes waiting to be sent on an active VC, or `None` when the VC is
    /// not active (a VC whose peer ended its side is no place for new work).
    pub(crate) fn send_load(&self) -> Option<usize> {
        self.lock().machine.send_load()
    }

    /// Marks the VC torn down: queued sends are cancelled, the socket is
    /// closed and the task told to finish.
    fn mark_torn_down(&self) -> Result<(), Status> {
        self.cell.tear_down()?;
        tracing::debug!(vc = self.id, "VC torn down");
        Ok(())
    }

    /// Tears down without waiting for the task (the engine is going away).
    pub(crate) fn stop_now(&self) {
        let _ = self.mark_torn_down();
    }

    pub(crate) async fn tear_down(&self) -> Result<(), Status> {
        tear_down_and_join(&self.cell, self.id, || async {
            let task = lock(&self.task).take();
            if let Some(task) = task {
                let _ = task.await;
            }
        })
        .await?;
        // A lost VC's rebuild reports about this VC: it ends here too.
        self.connection.stop_rebuild(self.id).await;
        self.forget();
        Ok(())
    }

    /// A parent's tear-down of this VC (its connection's or its address's):
    /// as [`VcShared::tear_down`], except when waiting for the VC's running
    /// callback would close a cycle (that callback waits for the caller's
    /// own object). The VC is then torn down without waiting: its task
    /// ends when that callback returns, delivering only the cancelled
    /// completions. A parent never leaves a child running.
    pub(crate) async fn tear_down_for_parent(&self) {
        if let Err(status) = self.tear_down().await {
            if status == Status::INVALID_DEVICE_STATE {
                tracing::debug!(
                    vc = self.id,
                    "VC torn down without waiting: its callback waits for ours"
                );
                let _ = self.mark_torn_down();
                self.forget();
            }
        }
    }

    /// Takes the VC off its connection's and its address's lists.
    fn forget(&self) {
        self.connection.vcs.remove(self.id);
        if !Arc::ptr_eq(&self.address, &self.connection.address) {
            self.address.borrowed_vcs.remove(self.id);
        }
    }
}

/// The part of VC `id`'s tear-down that races its task: refused when
/// waiting for the VC's callbacks would never end (decision 15); else the
/// VC is marked torn down and, unless called from one of its own
/// callbacks, `join` waits for its task to end. (The loom tests run it
/// against a modelled task.)
async fn tear_down_and_join<F: std::future::Future<Output = ()>>(
    cell: &VcCell,
    id: u64,
    join: impl FnOnce() -> F,
) -> Result<(), Status> {
    let _waiting = crate::registry::wait_for(id)?;
    cell.tear_down()?;
    tracing::debug!(vc = id, "VC torn down");
    if !crate::registry::in_callback_of(id) {
        join().await;
    }
    Ok(())
}

impl Vc {
    /// The VC's id (unique in the process).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The local address the VC runs over: its connection's, or another
    /// transport's for a VC added by a multi-transport build.
    pub fn address(&self) -> crate::Address {
        crate::Address(self.0.address.clone())
    }

    /// The connection the VC belongs to.
    pub fn connection(&self) -> Connection {
        Connection(self.0.connection.clone())
    }

    /// The VC's state now.
    pub fn state(&self) -> VcState {
        self.0.lock().machine.state()
    }

    /// The message framing of the VC's transport: `None` for a bare byte
    /// stream (`tcp`, `unix`, `memory`), else how messages are cut
    /// (`tcp+smb`, `netbt`, `tcp+rpc`, `tcp+9p`).
    pub fn framing(&self) -> Option<Framing> {
        self.0.framing
    }

    /// True until the VC is torn down.
    pub fn is_valid(&self) -> bool {
        !self.0.is_torn_down()
    }

    /// The data the client keeps with the VC: given to the build
    /// ([`Address::build_connection_with_data`](crate::Address::build_connection_with_data),
    /// [`Connection::build_vc_with_data`](crate::Connection::build_vc_with_data),
    /// [`MultiConnectOptions::first_vc_data`](crate::MultiConnectOptions::first_vc_data)),
    /// so that it is there before the VC's first indication, or set once
    /// later with [`Vc::set_data`]. A VC rebuilt after a loss (a reconnect
    /// policy) has the lost VC's data. The C ABI keeps its `RXCE_VC` here.
    ///
    /// ```
    /// # async fn demo(address: rxce::Address, to: rxce::ConnectionInformation) -> Result<(), rxce::Status> {
    /// use std::sync::Arc;
    /// let (_connection, vc) = address
    ///     .build_connection_with_data(to, Arc::new(rxce::NoEvents), Arc::new("session 7"))
    ///     .await?;
    /// assert_eq!(vc.data().and_then(|d| d.downcast_ref::<&str>()), Some(&"session 7"));
    /// # Ok(()) }
    /// ```
    pub fn data(&self) -> Option<&VcData> {
        self.0.data.get()
    }

    /// Keeps `data` with a VC built without any; gives it back when the VC
    /// has data already (data is set once).
    pub fn set_data(&self, data: VcData) -> Result<(), VcData> {
        self.0.set_data(data)
    }

    /// Sends `data` (a buffer chain: one TSDU) and returns once every byte
    /// is handed to the kernel — the synchronous RxCeSend. Returns the bytes
    /// sent: all of them, or with `NON_BLOCKING | PARTIAL` what fit.
    ///
    /// Sends on one VC are delivered in order. With `EXPEDITED` the send goes
    /// ahead of queued normal sends. When the VC's queue is full the call
    /// waits for room, or with `NON_BLOCKING` fails with
    /// STATUS_DEVICE_NOT_READY (and send-possible is indicated once there is
    /// room). Errors: STATUS_INVALID_HANDLE after tear-down,
    /// STATUS_CONNECTION_DISCONNECTED on a disconnected VC,
    /// STATUS_INVALID_PARAMETER for a bad length or option, and the socket's
    /// failure (for example STATUS_CONNECTION_RESET) if it fails first;
    /// STATUS_CANCELLED if the VC is torn down while the send is queued.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use rxce::{ConnectionInformation, Engine, EngineConfig, NoEvents, TransportAddress};
    /// use bytes::Bytes;
    /// use rxce::{SendBuffers, SendOptions, Status};
    /// use tokio::io::AsyncReadExt;
    ///
    /// # let engine = Engine::new(EngineConfig::default())?;
    /// # engine.runtime().clone().block_on(async {
    /// # let mut listener = engine.memory_listen("server")?;
    /// # let transport = engine.build_transport("memory", 0)?;
    /// # let address = transport.build_address(TransportAddress::memory("client"), Arc::new(NoEvents))?;
    /// # let server = ConnectionInformation::to(TransportAddress::memory("server"));
    /// let (connection, vc) = address.build_connection(server, Arc::new(NoEvents)).await?;
    /// let mut peer = listener.accept().await.expect("a peer");
    /// // One TSDU from a chain of buffers, written with one vectored write.
    /// let mut tsdu = SendBuffers::new();
    /// tsdu.push(Bytes::from_static(b"head "));
    /// tsdu.push(Bytes::from_static(b"body"));
    /// assert_eq!(vc.send(tsdu, SendOptions::empty()).await?, 9);
    /// let mut got = [0u8; 9];
    /// peer.read_exact(&mut got).await.unwrap();
    /// assert_eq!(&got, b"head body");
    /// // A send of nothing on a stream is refused and sends nothing.
    /// assert_eq!(vc.send(SendBuffers::new(), SendOptions::empty()).await, Err(Status::INVALID_PARAMETER));
    /// # connection.tear_down().await?;
    /// # transport.tear_down().await
    /// # })?;
    /// # Ok::<(), rxce::Status>(())
    /// ```
    pub async fn send(&self, data: impl Into<SendBuffers>, options: SendOptions) -> Result<usize, Status> {
        self.0.cell.send(data.into(), options).await
    }

    /// Queues `data` and returns STATUS_PENDING at once (after waiting for
    /// room, unless `NON_BLOCKING`) — the asynchronous RxCeSend. The
    /// handler's send-submitted and then send-complete run, exactly once
    /// each, with `completion_context`. A send refused at submission returns
    /// its error status and calls nothing.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use rxce::{ConnectionEventHandler, ConnectionInformation, Engine, EngineConfig, NoEvents};
    /// use rxce::{SendOptions, Status, TransportAddress, Vc};
    ///
    /// /// Remembers how each asynchronous send ended.
    /// #[derive(Default)]
    /// struct Completions(Mutex<Vec<(usize, Status, usize)>>);
    ///
    /// impl ConnectionEventHandler for Completions {
    ///     fn send_complete(&self, _vc: &Vc, context: usize, status: Status, bytes: usize) {
    ///         self.0.lock().unwrap().push((context, status, bytes));
    ///     }
    /// }
    ///
    /// let engine = Engine::new(EngineConfig::default())?;
    /// engine.runtime().clone().block_on(async {
    ///     let mut listener = engine.memory_listen("server")?;
    ///     let transport = engine.build_transport("memory", 0)?;
    ///     let address = transport.build_address(TransportAddress::memory("client"), Arc::new(NoEvents))?;
    ///     let handler = Arc::new(Completions::default());
    ///     let server = ConnectionInformation::to(TransportAddress::memory("server"));
    ///     let (connection, vc) = address.build_connection(server, handler.clone()).await?;
    ///     let _peer = listener.accept().await.expect("a peer");
    ///     assert_eq!(vc.submit_send(&b"one"[..], SendOptions::empty(), 1).await, Status::PENDING);
    ///     assert_eq!(vc.try_submit_send(&b"two"[..], SendOptions::empty(), 2), Status::PENDING);
    ///     while handler.0.lock().unwrap().len() < 2 {
    ///         tokio::task::yield_now().await;
    ///     }
    ///     // In the order the bytes went out, once each.
    ///     let done = handler.0.lock().unwrap().clone();
    ///     assert_eq!(done, [(1, Status::SUCCESS, 3), (2, Status::SUCCESS, 3)]);
    ///     connection.tear_down().await?;
    ///     transport.tear_down().await
    /// })?;
    /// # Ok::<(), rxce::Status>(())
    /// ```
    pub async fn submit_send(
        &self,
        data: impl Into<SendBuffers>,
        options: SendOptions,
        completion_context: usize,
    ) -> Status {
        self.0.cell.submit(data.into(), options, completion_context).await
    }

    /// [`Vc::submit_send`] that never waits: a full queue gives
    /// STATUS_DEVICE_NOT_READY (or a partial send with `PARTIAL`). Usable
    /// from inside callbacks.
    pub fn try_submit_send(
        &self,
        data: impl Into<SendBuffers>,
        options: SendOptions,
        completion_context: usize,
    ) -> Status {
        let future = self
            .0
            .cell
            .submit(data.into(), options | SendOptions::NON_BLOCKING, completion_context);
        // A non-blocking submission never waits, so one poll finishes it.
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::future::Future::poll(future.as_mut(), &mut cx) {
            std::task::Poll::Ready(status) => status,
            std::task::Poll::Pending => unreachable!("a non-blocking submission does not wait"),
        }
    }

    /// Indicates again the bytes the handler did not accept
    /// (RxCeResumeReceive), and reads the VC again.
    pub fn resume_receive(&self) -> Result<(), Status> {
        self.0.lock().machine.resume_receive()
    }

    /// Starts a graceful disconnect (RxCeInitiateVCDisconnect) and returns at
    /// once: queued sends are written, our direction ends, and the
    /// disconnect indication (RELEASE) follows the peer's end — or an
    /// abortive one (IO_TIMEOUT) after the engine's disconnect timeout.
    pub fn initiate_disconnect(&self) -> Result<(), Status> {
        let mut core = self.0.lock();
        core.machine.initiate_disconnect(now())?;
        core.transmit(None);
        Ok(())
    }

    /// RxCeQueryInformation: one class of information about the VC.
    pub fn query_information(&self, class: InformationClass) -> Result<Information, Status> {
        let shared = &self.0;
        let core = shared.lock();
        let machine = &core.machine;
        if machine.state() == VcState::TornDown {
            return Err(Status::INVALID_HANDLE.with_message("the VC was torn down"));
        }
        let connection = &shared.connection;
        Ok(match class {
            InformationClass::TransportProvider => {
                Information::TransportProvider(shared.address.transport.info.clone())
            }
            InformationClass::Connection => {
                Information::Connection(crate::tdi::ConnectionInformation::clone(&connection.information))
            }
            InformationClass::ConnectionEndpoint => {
                let (sent, received) = (machine.send_stats(), machine.receive_stats());
                let stream_info = core.stream().map(|s| s.info()).unwrap_or_default();
                let elapsed = shared.built_at.elapsed().as_secs_f64();
                let bytes = sent.bytes + received.bytes;
                let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
                Information::ConnectionEndpoint(ConnectionEndpointInfo {
                    state: machine.state() as u32,
                    event: machine.last_event(),
                    transmitted_tsdus: clamp(sent.tsdus),
                    received_tsdus: clamp(received.tsdus),
                    transmission_errors: clamp(sent.errors.saturating_add(stream_info.lost_packets)),
                    receive_errors: clamp(received.errors),
                    throughput: if elapsed > 0.0 {
                        (bytes as f64 / elapsed) as i64
                    } else {
                        0
                    },
                    delay: stream_info.rtt.map_or(0, tdi_delay),
                    send_buffer_size: stream_info.send_buffer_size,
                    receive_buffer_size: stream_info.receive_buffer_size,
                    unreliable: false,
                })
            }
            InformationClass::RemoteAddress => Information::RemoteAddress(AddressInfo {
                activity_count: u32::try_from(connection.vcs.len()).unwrap_or(u32::MAX),
                address: match core.stream() {
                    Some(stream) => stream.peer_address(),
                    None => connection.information.remote_address.clone(),
                },
            }),
        })
    }

    /// Tears the VC down (RxCeTearDownVC): queued sends complete with
    /// STATUS_CANCELLED, the socket closes, and when this returns no
    /// indication of the VC runs or will run — except that, called from
    /// inside one of this VC's own callbacks, it returns at once and the
    /// cancelled completions run right after that callback, then nothing.
    /// A second tear-down gives STATUS_INVALID_HANDLE.
    pub async fn tear_down(&self) -> Result<(), Status> {
        self.0.tear_down().await
    }
}

//! Addresses: a local transport address on a transport, with its event
//! handler (RXCE_ADDRESS).

use std::sync::{Arc, Mutex, MutexGuard};

use crate::budget::{cost, Charge};
use crate::buffer::SendBuffers;
use crate::cancel::Cancel;
use crate::connection::{Connection, ConnectionShared};
use crate::datagram::{check_options, DatagramEndpoint};
use crate::engine::EngineShared;
use crate::handler::{AddressEventHandler, ConnectionEventHandler};
use crate::provider::{ConnectRequest, Connected, Provider};
use crate::registry::{Children, Kind, LiveToken};
use crate::status::Status;
use crate::tdi::{AddressInfo, ConnectionInformation, Information, InformationClass, SendOptions, TransportAddress};
use crate::transport::{Transport, TransportShared};
use crate::vc::{Vc, VcShared};

/// What every handle to one address shares.
pub(crate) struct AddressShared {
    pub(crate) id: u64,
    pub(crate) transport: Arc<TransportShared>,
    pub(crate) local: TransportAddress,
    pub(crate) handler: Arc<dyn AddressEventHandler>,
    pub(crate) connections: Children<ConnectionShared>,
    /// The datagram socket and task of a datagram transport's address.
    pub(crate) datagram: Option<Arc<DatagramEndpoint>>,
    /// VCs built on this address for connections of other addresses
    /// (multi-transport builds): torn down with this address too.
    pub(crate) borrowed_vcs: Children<VcShared>,
    /// Connect attempts in flight: cancel-connect-request, the address's
    /// and its connections' tear-downs cancel them through this list.
    pending: Mutex<Pending>,
    _charge: Charge,
    _live: LiveToken,
}

/// A local transport address (`RXCE_ADDRESS`): connections are built from
/// it.
#[derive(Clone)]
pub struct Address(pub(crate) Arc<AddressShared>);

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Address")
            .field("id", &self.0.id)
            .field("local", &self.0.local)
            .field("transport", &self.0.transport.name)
            .finish()
    }
}

/// An address's connect attempts in flight.
#[derive(Default)]
struct Pending {
    /// The address was torn down: no attempt starts any more.
    closed: bool,
    attempts: Vec<PendingConnect>,
}

/// A connect attempt in flight from an address.
struct PendingConnect {
    id: u64,
    /// The connection it connects a VC for (0: none yet, a race's attempt).
    owner: u64,
    /// The remote side as the client named it.
    remote: Arc<ConnectionInformation>,
    cancel: Cancel,
}

/// Removes a pending attempt when it ends, however it ends.
struct PendingGuard<'a> {
    address: &'a AddressShared,
    id: u64,
    /// The attempt came to its end (nothing left to cancel).
    ended: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        // An attempt whose caller went away (its future dropped) before it
        // ended is cancelled here: a spawned one stops, and its socket
        // closes.
        let ended = self.ended;
        self.address.lock_pending().attempts.retain(|p| {
            if p.id == self.id && !ended {
                p.cancel.cancel();
            }
            p.id != self.id
        });
    }
}

/// Takes a connection whose build did not finish (its future was dropped)
/// off its address and cancels its connect attempt.
struct BuildGuard<'a> {
    address: &'a AddressShared,
    connection: Option<Arc<ConnectionShared>>,
}

impl Drop for BuildGuard<'_> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            connection.vcs.close();
            self.address.cancel_attempts_of(connection.id);
            self.address.connections.remove(connection.id);
        }
    }
}

/// A cancelled connect attempt's status (one, shared).
fn attempt_cancelled() -> Status {
    static CANCELLED: std::sync::OnceLock<Status> = std::sync::OnceLock::new();
    Status::shared(&CANCELLED, || {
        Status::CANCELLED.with_message("the connect attempt was cancelled")
    })
}

/// One connect attempt through `provider`: STATUS_CANCELLED when `cancel`
/// fires first; with `go`, it connects only once `go` fires (a `go`
/// dropped unfired cancels it).
async fn connect_once(
    provider: &dyn Provider,
    local: &TransportAddress,
    target: &ConnectionInformation,
    cancel: &Cancel,
    timeout: std::time::Duration,
    go: Option<tokio::sync::oneshot::Receiver<()>>,
) -> Result<Connected, Status> {
    static CANCELLED: std::sync::OnceLock<Status> = std::sync::OnceLock::new();
    let cancelled = || {
        Status::shared(&CANCELLED, || {
            Status::CANCELLED.with_message("the connect attempt was cancelled")
        })
    };
    // A staggered attempt is registered (cancellable) from the start.
    if let Some(go) = go {
        tokio::select! {
            _ = cancel.cancelled() => return Err(cancelled()),
            went = go => went.map_err(|_| cancelled())?,
        }
    }
    let request = ConnectRequest {
        local,
        remote: target,
        timeout,
    };
    tokio::select! {
        _ = cancel.cancelled() => Err(cancelled()),
        connected = provider.connect(request) => connected,
    }
}

impl AddressShared {
    /// The engine the address belongs to.
    pub(crate) fn engine(&self) -> &Arc<EngineShared> {
        &self.transport.engine
    }

    fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One connect attempt from this address to `target`, on the engine's
    /// runtime, for a VC of `owner` (none: a race's attempt): it fails with
    /// STATUS_CANCELLED when `cancel` fires — the address or `owner` is torn
    /// down, a cancel-connect-request names `named` (the remote side as the
    /// client gave it), or the caller cancels it. With `go`, it is pending
    /// (and cancellable) at once but connects only when `go` fires (a
    /// staggered attempt of a multi-transport build); a `go` dropped unfired
    /// cancels it.
    pub(crate) async fn attempt(
        &self,
        target: Arc<ConnectionInformation>,
        named: &Arc<ConnectionInformation>,
        owner: Option<&ConnectionShared>,
        cancel: Cancel,
        timeout: std::time::Duration,
        go: Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> Result<Connected, Status> {
        let id = crate::registry::next_id();
        {
            let mut pending = self.lock_pending();
            if pending.closed {
                return Err(attempt_cancelled());
            }
            pending.attempts.push(PendingConnect {
                id,
                owner: owner.map_or(0, |c| c.id),
                remote: named.clone(),
                cancel: cancel.clone(),
            });
        }
        let mut guard = PendingGuard {
            address: self,
            id,
            ended: false,
        };
        // An owner torn down before the attempt was listed cancelled
        // nothing of it: its tear-down closes the owner first, then cancels
        // what the list holds.
        if owner.is_some_and(|c| c.vcs.is_closed()) {
            return Err(attempt_cancelled());
        }
        // On the engine's own runtime the attempt runs right here, borrowing
        // the provider and the local address: a spawned task would cost two
        // cross-thread wake-ups per connect. From elsewhere it is spawned
        // (with its own handles to them), so that its socket belongs to the
        // engine.
        let runtime = &self.engine().runtime;
        let outcome = if tokio::runtime::Handle::try_current().is_ok_and(|current| current.id() == runtime.id()) {
            connect_once(&*self.transport.provider, &self.local, &target, &cancel, timeout, go).await
        } else {
            let provider = self.transport.provider.clone();
            let local = self.local.clone();
            runtime
                .spawn(async move { connect_once(&*provider, &local, &target, &cancel, timeout, go).await })
                .await
                .map_err(|_| Status::CANCELLED.with_message("the engine stopped during the connect attempt"))?
        };
        guard.ended = true;
        outcome
    }

    pub(crate) fn new(
        transport: Arc<TransportShared>,
        local: TransportAddress,
        handler: Arc<dyn AddressEventHandler>,
    ) -> Result<Arc<AddressShared>, Status> {
        let engine = &transport.engine;
        let charge = engine.budget.charge(cost::ADDRESS, "an address")?;
        let datagram = transport.provider.bind_datagram(&local)?.map(DatagramEndpoint::new);
        Ok(Arc::new(AddressShared {
            id: crate::registry::next_id(),
            _live: engine.live.token(Kind::Address),
            transport,
            local,
            handler,
            connections: Children::default(),
            datagram,
            borrowed_vcs: Children::default(),
            pending: Mutex::new(Pending::default()),
            _charge: charge,
        }))
    }

    /// Cancels the connect attempts in flight from this address (those of
    /// multi-transport builds too).
    /// No attempt starts from here on.
    pub(crate) fn cancel_attempts(&self) {
        let mut pending = self.lock_pending();
        pending.closed = true;
        for attempt in &pending.attempts {
            attempt.cancel.cancel();
        }
    }

    /// Cancels the connect attempts in flight for VCs of connection `owner`
    /// (its tear-down).
    pub(crate) fn cancel_attempts_of(&self, owner: u64) {
        for attempt in self.lock_pending().attempts.iter().filter(|p| p.owner == owner) {
            attempt.cancel.cancel();
        }
    }
}

impl Address {
    /// The address's id (unique in the process).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The transport the address is on.
    pub fn transport(&self) -> Transport {
        Transport(self.0.transport.clone())
    }

    /// The local transport address given at build time.
    pub fn local_address(&self) -> &TransportAddress {
        &self.0.local
    }

    /// The address's event handler.
    pub fn handler(&self) -> &Arc<dyn AddressEventHandler> {
        &self.0.handler
    }

    /// True until the address is torn down.
    pub fn is_valid(&self) -> bool {
        !self.0.connections.is_closed()
    }

    /// Connections built on this address and not torn down.
    pub fn connections(&self) -> Vec<Connection> {
        self.0.connections.snapshot().into_iter().map(Connection).collect()
    }

    /// Builds a connection to the remote address in `information`, and its
    /// first VC (RxCeBuildConnection). `handler` receives the VC's
    /// indications; it is the event context of every call.
    ///
    /// Fails with the transport's status when the connect fails
    /// (STATUS_CONNECTION_REFUSED, STATUS_IO_TIMEOUT after the engine's
    /// connect timeout, STATUS_HOST_UNREACHABLE, ...), STATUS_INVALID_PARAMETER
    /// when the remote address has no entry the transport understands,
    /// STATUS_INSUFFICIENT_RESOURCES when the budget is spent, and
    /// STATUS_INVALID_HANDLE after the address's tear-down.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rxce::{ConnectionInformation, Engine, EngineConfig, NoEvents, Status, TransportAddress};
    ///
    /// let engine = Engine::new(EngineConfig::default())?;
    /// engine.runtime().clone().block_on(async {
    ///     let mut listener = engine.memory_listen("server")?;
    ///     let transport = engine.build_transport("memory", 0)?;
    ///     let address = transport.build_address(TransportAddress::memory("client"), Arc::new(NoEvents))?;
    ///     let server = ConnectionInformation::to(TransportAddress::memory("server"));
    ///     let (connection, vc) = address.build_connection(server, Arc::new(NoEvents)).await?;
    ///     let _peer = listener.accept().await.expect("a peer");
    ///     assert_eq!(connection.virtual_circuit_count(), 1);
    ///     assert!(vc.is_valid());
    ///     // Nobody listens there: the connect fails with its status.
    ///     let nobody = ConnectionInformation::to(TransportAddress::memory("nobody"));
    ///     let refused = address.build_connection(nobody, Arc::new(NoEvents)).await.unwrap_err();
    ///     assert_eq!(refused, Status::CONNECTION_REFUSED);
    ///     transport.tear_down().await
    /// })?;
    /// # Ok::<(), rxce::Status>(())
    /// ```
    pub async fn build_connection(
        &self,
        information: ConnectionInformation,
        handler: Arc<dyn ConnectionEventHandler>,
    ) -> Result<(Connection, Vc), Status> {
        self.build(information, handler, None).await
    }

    /// [`Address::build_connection`] with the client's data
    /// ([`Vc::data`]) kept with the first VC before its first indication
    /// can run.
    pub async fn build_connection_with_data(
        &self,
        information: ConnectionInformation,
        handler: Arc<dyn ConnectionEventHandler>,
        data: crate::vc::VcData,
    ) -> Result<(Connection, Vc), Status> {
        self.build(information, handler, Some(data)).await
    }

    async fn build(
        &self,
        information: ConnectionInformation,
        handler: Arc<dyn ConnectionEventHandler>,
        data: Option<crate::vc::VcData>,
    ) -> Result<(Connection, Vc), Status> {
        if information.remote_address.entries.is_empty() {
            return Err(Status::INVALID_PARAMETER.with_message("the connection information names no remote address"));
        }
        let shared = ConnectionShared::new(self.0.clone(), information, handler)?;
        if !self.0.connections.insert(shared.id, shared.clone()) {
            return Err(Status::INVALID_HANDLE.with_message("the address was torn down"));
        }
        let mut unfinished = BuildGuard {
            address: &self.0,
            connection: Some(shared.clone()),
        };
        let built = shared.connect_vc(data).await;
        unfinished.connection = None;
        match built {
            Ok(vc) => Ok((Connection(shared), vc)),
            Err(status) => {
                self.0.connections.remove(shared.id);
                let _ = crate::teardown::tear_down(crate::teardown::Object::Connection(shared.clone())).await;
                tracing::debug!(
                    address = self.0.id,
                    remote = %shared.information.remote_address,
                    %status,
                    "connection build failed"
                );
                Err(status)
            }
        }
    }

    fn datagrams(&self) -> Result<&Arc<DatagramEndpoint>, Status> {
        if !self.is_valid() {
            return Err(Status::INVALID_HANDLE.with_message("the address was torn down"));
        }
        self.0.datagram.as_ref().ok_or_else(|| {
            Status::NOT_SUPPORTED.with_message(format!("the {} transport carries no datagrams", self.0.transport.name))
        })
    }

    /// The local address as bound (with the port the system chose for port
    /// 0) for datagram addresses, or as given.
    pub fn bound_address(&self) -> TransportAddress {
        match &self.0.datagram {
            Some(datagram) => datagram.bound.clone(),
            None => self.0.local.clone(),
        }
    }

    /// Sends one datagram to the remote address in `remote`
    /// (RxCeSendDatagram with SYNCHRONOUS): returns once the datagram is
    /// handed to the kernel. Datagram transports only (STATUS_NOT_SUPPORTED
    /// otherwise); a datagram over the transport's largest is
    /// STATUS_INVALID_PARAMETER.
    pub async fn send_datagram(
        &self,
        remote: &ConnectionInformation,
        data: impl Into<SendBuffers>,
        options: SendOptions,
    ) -> Result<usize, Status> {
        check_options(options)?;
        self.datagrams()?.send(remote, &data.into()).await
    }

    /// Sends one datagram and returns STATUS_PENDING; the address handler's
    /// send-complete runs once with `completion_context` (RxCeSendDatagram
    /// without SYNCHRONOUS). A datagram refused at once returns its status
    /// and calls nothing.
    pub async fn submit_datagram(
        &self,
        remote: &ConnectionInformation,
        data: impl Into<SendBuffers>,
        options: SendOptions,
        completion_context: usize,
    ) -> Status {
        let datagrams = match check_options(options).and_then(|()| self.datagrams()) {
            Ok(d) => d,
            Err(status) => return status,
        };
        let submitted = match datagrams.submit(completion_context) {
            Ok(submitted) => submitted,
            Err(status) => return status,
        };
        let data = data.into();
        match datagrams.send(remote, &data).await {
            Ok(_) => submitted.complete(Status::SUCCESS),
            Err(status) if status == Status::INVALID_PARAMETER || status == Status::INVALID_HANDLE => {
                submitted.refuse();
                return status;
            }
            Err(status) => submitted.complete(status),
        }
        Status::PENDING
    }

    /// Indicates again the datagram the handler did not accept, and receives
    /// again.
    pub fn resume_receive(&self) -> Result<(), Status> {
        self.datagrams()?.resume();
        Ok(())
    }

    /// Information about a datagram address: its provider, its counters
    /// (datagrams sent and received, buffer sizes) and its bound address.
    /// A datagram address has no connection information
    /// (STATUS_INVALID_PARAMETER).
    pub fn query_information(&self, class: InformationClass) -> Result<Information, Status> {
        let datagrams = self.datagrams()?;
        match class {
            InformationClass::TransportProvider => Ok(Information::TransportProvider(self.0.transport.info.clone())),
            InformationClass::ConnectionEndpoint => Ok(Information::ConnectionEndpoint(datagrams.endpoint_info())),
            InformationClass::RemoteAddress => Ok(Information::RemoteAddress(AddressInfo {
                activity_count: 1,
                address: datagrams.bound.clone(),
            })),
            InformationClass::Connection => Err(Status::INVALID_PARAMETER
                .with_message("a datagram address has no connection; ask for its endpoint or address")),
        }
    }

    /// Cancels the connect attempts in flight from this address to `remote`
    /// (RxCeCancelConnectRequest; Windows documents it as not implemented,
    /// rxce implements it): each completes with STATUS_CANCELLED and its
    /// socket is closed. Returns how many were cancelled;
    /// STATUS_INVALID_PARAMETER when none matched.
    pub fn cancel_connect_request(&self, remote: &ConnectionInformation) -> Result<usize, Status> {
        if !self.is_valid() {
            return Err(Status::INVALID_HANDLE.with_message("the address was torn down"));
        }
        let pending = self.0.lock_pending();
        let mut cancelled = 0;
        for attempt in pending
            .attempts
            .iter()
            .filter(|p| p.remote.remote_address == remote.remote_address)
        {
            attempt.cancel.cancel();
            cancelled += 1;
        }
        if cancelled == 0 {
            return Err(Status::INVALID_PARAMETER.with_message(format!(
                "no connect attempt to {} is in flight from this address",
                remote.remote_address
            )));
        }
        Ok(cancelled)
    }

    /// Tears the address down (RxCeTearDownAddress) with every connection
    /// built on it. A second tear-down gives STATUS_INVALID_HANDLE.
    pub async fn tear_down(&self) -> Result<(), Status> {
        crate::teardown::tear_down(crate::teardown::Object::Address(self.0.clone())).await
    }
}

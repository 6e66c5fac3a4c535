//! Connections: a logical link from a local address to one remote address,
//! carried by one or more VCs (RXCE_CONNECTION).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::address::{Address, AddressShared};
use crate::budget::{cost, Charge};
use crate::cancel::Cancel;
use crate::config::ReconnectPolicy;
use crate::handler::ConnectionEventHandler;
use crate::provider::Connected;
use crate::registry::{Children, Kind, LiveToken};
use crate::status::Status;
use crate::tdi::ConnectionInformation;
use crate::vc::{Vc, VcData, VcShared};

/// What every handle to one connection shares.
pub(crate) struct ConnectionShared {
    pub(crate) id: u64,
    pub(crate) address: Arc<AddressShared>,
    pub(crate) handler: Arc<dyn ConnectionEventHandler>,
    /// Shared with the connection's VCs and its pending connect attempts.
    pub(crate) information: Arc<ConnectionInformation>,
    pub(crate) vcs: Children<VcShared>,
    /// The server's name, when the client gave one (multi-transport builds).
    server_name: std::sync::OnceLock<String>,
    /// How lost VCs are rebuilt (none by default).
    reconnect: std::sync::Mutex<Option<ReconnectPolicy>>,
    /// Rebuilds under way, by the id of the VC they replace: a tear-down
    /// of that VC or of the connection stops its rebuild and waits for it,
    /// so that no report of it comes after the tear-down returned.
    rebuilds: std::sync::Mutex<HashMap<u64, Rebuild>>,
    _charge: Charge,
    _live: LiveToken,
}

/// One lost VC's rebuild: its task, and what stops it.
struct Rebuild {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// A connection to one remote address (`RXCE_CONNECTION`), built by
/// [`Address::build_connection`] together with its first [`Vc`].
#[derive(Clone)]
pub struct Connection(pub(crate) Arc<ConnectionShared>);

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.0.id)
            .field("remote", &self.0.information.remote_address)
            .field("vcs", &self.0.vcs.len())
            .finish()
    }
}

impl ConnectionShared {
    pub(crate) fn new(
        address: Arc<AddressShared>,
        information: ConnectionInformation,
        handler: Arc<dyn ConnectionEventHandler>,
    ) -> Result<Arc<ConnectionShared>, Status> {
        let engine = address.engine();
        let charge = engine.budget.charge(cost::CONNECTION, "a connection")?;
        Ok(Arc::new(ConnectionShared {
            id: crate::registry::next_id(),
            _live: engine.live.token(Kind::Connection),
            address,
            handler,
            information: Arc::new(information),
            vcs: Children::default(),
            server_name: std::sync::OnceLock::new(),
            reconnect: std::sync::Mutex::new(None),
            rebuilds: std::sync::Mutex::new(HashMap::new()),
            _charge: charge,
        }))
    }

    /// The engine the connection belongs to.
    pub(crate) fn engine(&self) -> &Arc<crate::engine::EngineShared> {
        self.address.engine()
    }

    pub(crate) fn set_server_name(&self, name: String) {
        let _ = self.server_name.set(name);
    }

    /// Connects one more VC of this connection (the work of RxCeBuildVC),
    /// with `data` as the client's data.
    pub(crate) async fn connect_vc(self: &Arc<Self>, data: Option<VcData>) -> Result<Vc, Status> {
        if self.vcs.is_closed() {
            return Err(Status::INVALID_HANDLE.with_message("the connection was torn down"));
        }
        let engine = &self.engine();
        let charge = engine.budget.charge(cost::VC, "a VC")?;
        let connected = self
            .address
            .attempt(
                self.information.clone(),
                &self.information,
                Some(self),
                Cancel::default(),
                engine.config.connect_timeout,
                None,
            )
            .await?;
        self.adopt(self.address.clone(), self.information.clone(), connected, charge, data)
    }

    /// A VC was lost (its disconnect indicated): with a reconnect policy,
    /// rebuild it over the same address to the same remote, with backoff.
    pub(crate) fn vc_lost(self: &Arc<Self>, lost: &Vc) {
        let Some(policy) = *self.reconnect.lock().unwrap_or_else(|e| e.into_inner()) else {
            return;
        };
        if self.vcs.is_closed() || !lost.is_valid() {
            return;
        }
        let connection = self.clone();
        let lost = lost.clone();
        // The connection's tear-down (or its address's, or its transport's)
        // stops the rebuild too: it closes the connection, then cancels
        // what `rebuilds` holds, so a rebuild listed while the connection
        // is open is stopped.
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let runtime = self.engine().runtime.clone();
        let id = lost.id();
        let mut rebuilds = self.rebuilds.lock().unwrap_or_else(|e| e.into_inner());
        if self.vcs.is_closed() {
            return;
        }
        let task = runtime.spawn(async move {
            let mut backoff = policy.initial_backoff;
            let mut last = Status::CANCELLED;
            // Reports only while nothing stopped the rebuild: a tear-down
            // that stops it waits for a report under way.
            let report = |callback: &'static str, call: &dyn Fn()| {
                if !stop.is_cancelled() {
                    let watch = &connection.engine().callbacks;
                    let _ = crate::registry::guarded_callback(lost.id(), callback, watch, call);
                }
            };
            for attempt in 1..=policy.attempts {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                match connection.rebuild(&lost, &stop).await {
                    Ok(restored) => {
                        tracing::debug!(lost = lost.id(), restored = restored.id(), attempt, "VC rebuilt");
                        report("reconnected", &|| connection.handler.reconnected(&lost, &restored));
                        return;
                    }
                    Err(status) if status == Status::INVALID_HANDLE => return,
                    Err(status) => {
                        tracing::debug!(lost = lost.id(), attempt, %status, "rebuilding a VC failed");
                        last = status;
                        backoff = (backoff * 2).min(policy.max_backoff);
                    }
                }
            }
            let status = last.clone().with_message(format!(
                "gave up rebuilding the VC after {} attempts; the last failed with {}",
                policy.attempts,
                last.name()
            ));
            report("reconnect failed", &|| {
                connection.handler.reconnect_failed(&lost, status.clone())
            });
        });
        rebuilds.insert(id, Rebuild { cancel, task });
    }

    /// Stops the rebuild of the VC `id` (torn down by the client) and waits
    /// until it has ended, unless called from inside its own report.
    pub(crate) async fn stop_rebuild(&self, id: u64) {
        let rebuild = self.rebuilds.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        if let Some(rebuild) = rebuild {
            rebuild.cancel.cancel();
            if !crate::registry::in_callback_of(id) {
                let _ = rebuild.task.await;
            }
        }
    }

    /// Cancels every rebuild of the connection without waiting for them
    /// (its close).
    pub(crate) fn cancel_rebuilds(&self) {
        for rebuild in self.rebuilds.lock().unwrap_or_else(|e| e.into_inner()).values() {
            rebuild.cancel.cancel();
        }
    }

    /// Stops every rebuild of the connection (its tear-down) and waits for
    /// them, as [`stop_rebuild`](Self::stop_rebuild) does for one.
    pub(crate) async fn stop_rebuilds(&self) {
        let ids: Vec<u64> = self
            .rebuilds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect();
        for id in ids {
            self.stop_rebuild(id).await;
        }
    }

    /// One rebuild of `lost`: a new VC over its address to its remote.
    async fn rebuild(self: &Arc<Self>, lost: &Vc, stop: &CancellationToken) -> Result<Vc, Status> {
        if self.vcs.is_closed() {
            return Err(Status::INVALID_HANDLE.with_message("the connection was torn down"));
        }
        let address = lost.0.address.clone();
        let information = lost.0.information.clone();
        let engine = address.engine();
        let charge = engine.budget.charge(cost::VC, "a VC")?;
        let attempt = address.attempt(
            information.clone(),
            &information,
            Some(self),
            Cancel::default(),
            engine.config.connect_timeout,
            None,
        );
        // Stopping the rebuild drops the attempt, which cancels it.
        let connected = tokio::select! {
            _ = stop.cancelled() => {
                Err(Status::CANCELLED.with_message("the rebuild was stopped"))
            }
            connected = attempt => connected,
        }?;
        self.adopt(address, information, connected, charge, lost.data().cloned())
    }

    /// Makes a connected endpoint (opened from `address`) a VC of this
    /// connection and starts it.
    pub(crate) fn adopt(
        self: &Arc<Self>,
        address: Arc<AddressShared>,
        information: Arc<ConnectionInformation>,
        connected: Connected,
        charge: Charge,
        data: Option<VcData>,
    ) -> Result<Vc, Status> {
        let borrowed = !Arc::ptr_eq(&address, &self.address);
        let vc = VcShared::new(self.clone(), address.clone(), information, &connected, charge);
        // The client's data is in place before the VC's first indication
        // can run.
        if let Some(data) = data {
            let _ = vc.set_data(data);
        }
        let refused = || {
            connected.stream.close(false);
            Err(Status::CANCELLED.with_message("the connection or its address was torn down during the connect"))
        };
        if !self.vcs.insert(vc.id, vc.clone()) {
            return refused();
        }
        if borrowed && !address.borrowed_vcs.insert(vc.id, vc.clone()) {
            self.vcs.remove(vc.id);
            return refused();
        }
        vc.start();
        tracing::debug!(
            connection = self.id,
            vc = vc.id,
            remote = %connected.stream.peer_address(),
            "VC built"
        );
        Ok(Vc(vc))
    }
}

impl Connection {
    /// The connection's id (unique in the process).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The local address the connection was built on.
    pub fn address(&self) -> Address {
        Address(self.0.address.clone())
    }

    /// The remote side as given at build time (RXCE_CONNECTION_INFORMATION).
    pub fn information(&self) -> &ConnectionInformation {
        &self.0.information
    }

    /// Rebuild lost VCs with `policy` (`None`, the default: never). A VC
    /// is lost when its disconnect is indicated for a reason other than
    /// the client's own disconnect or tear-down; the handler hears of the
    /// rebuilt VC through `reconnected`, or `reconnect_failed` when the
    /// engine gives up. Tearing down the lost VC or the connection stops
    /// the rebuild: nothing is reported after that tear-down returned.
    pub fn set_reconnect_policy(&self, policy: Option<ReconnectPolicy>) {
        *self.0.reconnect.lock().unwrap_or_else(|e| e.into_inner()) = policy;
    }

    /// The server's name given to a multi-transport build, if any.
    pub fn server_name(&self) -> Option<&str> {
        self.0.server_name.get().map(String::as_str)
    }

    /// The active VC with the fewest bytes waiting to be sent (ties: the
    /// oldest): where a multichannel client sends next. `None` when no VC is
    /// active.
    pub fn least_loaded_vc(&self) -> Option<Vc> {
        self.0
            .vcs
            .snapshot()
            .into_iter()
            .filter_map(|vc| vc.send_load().map(|load| (load, vc)))
            .min_by_key(|(load, vc)| (*load, vc.id))
            .map(|(_, vc)| Vc(vc))
    }

    /// The connection's live VCs.
    pub fn vcs(&self) -> Vec<Vc> {
        self.0.vcs.snapshot().into_iter().map(Vc).collect()
    }

    /// How many live VCs the connection has (VirtualCircuitCount).
    pub fn virtual_circuit_count(&self) -> usize {
        self.0.vcs.len()
    }

    /// True until the connection is torn down.
    pub fn is_valid(&self) -> bool {
        !self.0.vcs.is_closed()
    }

    /// Builds another VC to the same remote address (RxCeBuildVC): a second
    /// transport connection under the same handler, for multichannel use.
    /// Fails with the transport's status when the connect fails, or
    /// STATUS_INVALID_HANDLE after tear-down.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rxce::{ConnectionInformation, Engine, EngineConfig, NoEvents, SendOptions, TransportAddress};
    ///
    /// let engine = Engine::new(EngineConfig::default())?;
    /// engine.runtime().clone().block_on(async {
    ///     let mut listener = engine.memory_listen("server")?;
    ///     tokio::spawn(async move { while let Some(peer) = listener.accept().await { std::mem::forget(peer) } });
    ///     let transport = engine.build_transport("memory", 0)?;
    ///     let address = transport.build_address(TransportAddress::memory("client"), Arc::new(NoEvents))?;
    ///     let server = ConnectionInformation::to(TransportAddress::memory("server"));
    ///     let (connection, first) = address.build_connection(server, Arc::new(NoEvents)).await?;
    ///     // A second channel to the same server, under the same handler.
    ///     let second = connection.build_vc().await?;
    ///     assert_eq!(connection.virtual_circuit_count(), 2);
    ///     // Send where the least is queued.
    ///     let vc = connection.least_loaded_vc().expect("an active VC");
    ///     assert!(vc == first || vc == second);
    ///     vc.send(&b"hello"[..], SendOptions::empty()).await?;
    ///     connection.tear_down().await?;
    ///     transport.tear_down().await
    /// })?;
    /// # Ok::<(), rxce::Status>(())
    /// ```
    pub async fn build_vc(&self) -> Result<Vc, Status> {
        self.0.connect_vc(None).await
    }

    /// [`Connection::build_vc`] with the client's data ([`Vc::data`]) kept
    /// with the VC before its first indication can run.
    pub async fn build_vc_with_data(&self, data: VcData) -> Result<Vc, Status> {
        self.0.connect_vc(Some(data)).await
    }

    /// Tears the connection down (RxCeTearDownConnection) with all of its
    /// VCs. A second tear-down gives STATUS_INVALID_HANDLE.
    pub async fn tear_down(&self) -> Result<(), Status> {
        crate::teardown::tear_down(crate::teardown::Object::Connection(self.0.clone())).await
    }
}

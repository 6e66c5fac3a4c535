//! Transports: a binding to a transport provider by name, with a quality of
//! service (RXCE_TRANSPORT).

use std::sync::Arc;
use std::time::SystemTime;

use crate::address::{Address, AddressShared};
use crate::budget::{cost, Charge};
use crate::engine::EngineShared;
use crate::handler::AddressEventHandler;
use crate::provider::Provider;
use crate::registry::{Children, Kind, LiveToken};
use crate::status::Status;
use crate::tdi::{ProviderInfo, TransportAddress, TransportInformation};

/// What every handle to one transport shares.
pub(crate) struct TransportShared {
    pub(crate) id: u64,
    pub(crate) engine: Arc<EngineShared>,
    pub(crate) name: String,
    pub(crate) quality_of_service: u32,
    pub(crate) provider: Arc<dyn Provider>,
    pub(crate) info: ProviderInfo,
    pub(crate) addresses: Children<AddressShared>,
    _charge: Charge,
    _live: LiveToken,
}

/// A bound transport (`RXCE_TRANSPORT`).
#[derive(Clone)]
pub struct Transport(pub(crate) Arc<TransportShared>);

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("id", &self.0.id)
            .field("name", &self.0.name)
            .field("quality_of_service", &self.0.quality_of_service)
            .finish()
    }
}

impl TransportShared {
    pub(crate) fn new(
        engine: Arc<EngineShared>,
        name: &str,
        quality_of_service: u32,
        provider: Arc<dyn Provider>,
    ) -> Result<Arc<TransportShared>, Status> {
        let charge = engine.budget.charge(cost::TRANSPORT, "a transport")?;
        let mut info = provider.provider_info();
        info.start_time = SystemTime::now();
        Ok(Arc::new(TransportShared {
            id: crate::registry::next_id(),
            _live: engine.live.token(Kind::Transport),
            engine,
            name: name.to_owned(),
            quality_of_service,
            provider,
            info,
            addresses: Children::default(),
            _charge: charge,
        }))
    }

    fn check_valid(&self) -> Result<(), Status> {
        if self.addresses.is_closed() {
            return Err(Status::INVALID_HANDLE.with_message(format!("the {} transport was torn down", self.name)));
        }
        Ok(())
    }
}

impl Transport {
    /// The transport's id (unique in the process).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The provider name it was bound to (`tcp`, `memory`, ...).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The quality of service given at build time (opaque to the engine;
    /// higher is better when racing transports).
    pub fn quality_of_service(&self) -> u32 {
        self.0.quality_of_service
    }

    /// True until the transport is torn down.
    pub fn is_valid(&self) -> bool {
        !self.0.addresses.is_closed()
    }

    /// The provider's TDI information (cached at build time).
    pub fn provider_info(&self) -> Result<ProviderInfo, Status> {
        self.0.check_valid()?;
        Ok(self.0.info.clone())
    }

    /// RxCeQueryTransportInformation: live connections over the transport and
    /// its quality of service.
    pub fn query_information(&self) -> Result<TransportInformation, Status> {
        self.0.check_valid()?;
        let connections: usize = self.0.addresses.snapshot().iter().map(|a| a.connections.len()).sum();
        Ok(TransportInformation {
            connection_count: u32::try_from(connections).unwrap_or(u32::MAX),
            quality_of_service: self.0.quality_of_service,
        })
    }

    /// RxCeQueryAdapterStatus: the network interface that carries the
    /// transport's local IP (the first address, in build order, with a
    /// specific IP; for the unspecified IP, the interface of the default
    /// route, or loopback), with its hardware address and the counters the
    /// kernel keeps for it, as nb30's `ADAPTER_STATUS` lays them out (see
    /// [`AdapterStatus`](crate::AdapterStatus) and the `adapter` module for
    /// each field's source). STATUS_ADDRESS_NOT_ASSOCIATED when the
    /// transport has no address, or no address with an IP (`memory`,
    /// `unix`); STATUS_INVALID_HANDLE after tear-down.
    pub fn query_adapter_status(&self) -> Result<crate::AdapterStatus, Status> {
        self.0.check_valid()?;
        crate::adapter::query(&self.0)
    }

    /// Addresses built on this transport and not torn down.
    pub fn addresses(&self) -> Vec<Address> {
        self.0.addresses.snapshot().into_iter().map(Address).collect()
    }

    /// Registers a local address on the transport (RxCeBuildAddress). The
    /// provider checks it (a `tcp` address must be an IP of this host; port 0
    /// lets each connection pick its own port). `handler` receives the
    /// address's indications. Fails with STATUS_INVALID_PARAMETER for an
    /// address the provider cannot own, STATUS_INVALID_HANDLE after the
    /// transport's tear-down.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rxce::{Engine, EngineConfig, NoEvents, Status, TransportAddress};
    ///
    /// let engine = Engine::new(EngineConfig::default())?;
    /// let tcp = engine.build_transport("tcp", 0)?;
    /// // Any local IPv4 address; each connection picks its own port.
    /// let address = tcp.build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))?;
    /// assert_eq!(address.transport().name(), "tcp");
    /// // An address this host does not have is refused.
    /// let foreign = TransportAddress::ip("192.0.2.1:0".parse().unwrap());
    /// let refused = tcp.build_address(foreign, Arc::new(NoEvents)).unwrap_err();
    /// assert_eq!(refused, Status::INVALID_PARAMETER);
    /// # Ok::<(), rxce::Status>(())
    /// ```
    pub fn build_address(
        &self,
        local: TransportAddress,
        handler: Arc<dyn AddressEventHandler>,
    ) -> Result<Address, Status> {
        self.0.check_valid()?;
        self.0.provider.check_local_address(&local)?;
        // Datagram sockets register with the engine's reactor, whatever
        // thread this is called on.
        let _runtime = self.0.engine.runtime.enter();
        let shared = AddressShared::new(self.0.clone(), local, handler)?;
        if !self.0.addresses.insert(shared.id, shared.clone()) {
            return Err(Status::INVALID_HANDLE.with_message(format!("the {} transport was torn down", self.0.name)));
        }
        if let Some(datagram) = &shared.datagram {
            datagram.start(Address(shared.clone()), &self.0.engine.runtime);
        }
        tracing::debug!(transport = self.0.id, address = shared.id, local = %shared.local, "address built");
        Ok(Address(shared))
    }

    /// Unbinds the transport (RxCeTearDownTransport), tearing down its
    /// addresses, their connections and VCs first. A second tear-down gives
    /// STATUS_INVALID_HANDLE.
    pub async fn tear_down(&self) -> Result<(), Status> {
        crate::teardown::tear_down(crate::teardown::Object::Transport(self.0.clone())).await
    }
}

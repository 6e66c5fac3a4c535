//! The engine: worker threads, the resource budget, the providers and the
//! registry of live objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::runtime::{Handle, Runtime};

use crate::budget::Budget;
use crate::buffer::BufferPool;
use crate::config::EngineConfig;
use crate::provider::memory::MemoryNetwork;
use crate::provider::{builtin_factories, MemoryListener, ProviderContext, ProviderFactory};
use crate::registry::{Children, LiveCounts, LiveObjects};
use crate::status::Status;
use crate::transport::{Transport, TransportShared};

/// What every part of one engine shares.
pub(crate) struct EngineShared {
    pub(crate) config: Arc<EngineConfig>,
    pub(crate) runtime: Handle,
    owned_runtime: Mutex<Option<Runtime>>,
    pub(crate) budget: Arc<Budget>,
    pub(crate) pool: Arc<BufferPool>,
    providers: Mutex<HashMap<String, Arc<dyn ProviderFactory>>>,
    provider_context: ProviderContext,
    pub(crate) transports: Children<TransportShared>,
    pub(crate) live: Arc<LiveCounts>,
    pub(crate) callbacks: crate::registry::CallbackWatch,
}

/// Stops the engine when the last [`Engine`] handle goes.
struct EngineGuard {
    shared: Arc<EngineShared>,
}

impl Drop for EngineGuard {
    fn drop(&mut self) {
        self.shared.stop_now();
    }
}

/// The connection engine: it owns the worker threads every callback runs
/// on, the resource budget, the transport providers and every object built
/// through it.
///
/// Handles are cheap to clone. When the last handle is dropped, every object
/// is torn down at once (sockets closed, queued sends cancelled) and the
/// engine's own worker threads stop; [`Engine::shutdown`] does the same and
/// waits until it is done.
#[derive(Clone)]
pub struct Engine {
    guard: Arc<EngineGuard>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("live", &self.live_objects())
            .field("budget_in_use", &self.budget_in_use())
            .finish()
    }
}

impl EngineShared {
    fn lock_providers(&self) -> MutexGuard<'_, HashMap<String, Arc<dyn ProviderFactory>>> {
        self.providers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tears everything down without waiting (the last handle dropped).
    fn stop_now(&self) {
        for transport in self.transports.close().unwrap_or_default() {
            crate::teardown::stop_now(crate::teardown::Object::Transport(transport));
        }
        let owned = self.owned_runtime.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(runtime) = owned {
            runtime.shutdown_background();
        }
    }
}

impl Engine {
    /// An engine with its own worker threads (`config.worker_threads`).
    /// A configuration the engine cannot run with gives
    /// STATUS_INVALID_PARAMETER.
    ///
    /// ```
    /// use rxce::{Engine, EngineConfig};
    ///
    /// let engine = Engine::new(EngineConfig { worker_threads: 1, ..EngineConfig::default() })?;
    /// let transport = engine.build_transport("tcp", 0)?;
    /// assert_eq!(engine.live_objects().transports, 1);
    /// engine.runtime().clone().block_on(transport.tear_down())?;
    /// drop(transport); // an object is counted until its last handle goes
    /// assert_eq!(engine.live_objects().total(), 0);
    /// # Ok::<(), rxce::Status>(())
    /// ```
    pub fn new(config: EngineConfig) -> Result<Engine, Status> {
        config.check()?;
        let runtime = Engine::worker_runtime(&config)?;
        let handle = runtime.handle().clone();
        Ok(Engine::build(handle, Some(runtime), config))
    }

    /// The runtime [`Engine::new`] runs on: `config.worker_threads` worker
    /// threads named `rxce-worker`, with the I/O and time drivers. For an
    /// embedder that wants to own it (to wait for its threads when it
    /// stops, as the C ABI's RxCeShutdown does) and hand it to
    /// [`Engine::with_runtime`].
    pub fn worker_runtime(config: &EngineConfig) -> Result<tokio::runtime::Runtime, Status> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("rxce-worker")
            .enable_all()
            .build()
            .map_err(|e| Status::from_io(e, "starting the engine's worker threads"))
    }

    /// An engine whose tasks and callbacks run on the embedder's runtime
    /// (which needs its I/O and time drivers enabled).
    ///
    /// ```
    /// use rxce::{Engine, EngineConfig};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), rxce::Status> {
    ///     // The engine's tasks and callbacks run on this program's runtime.
    ///     let engine = Engine::with_runtime(tokio::runtime::Handle::current(), EngineConfig::default())?;
    ///     let transport = engine.build_transport("memory", 0)?;
    ///     transport.tear_down().await?;
    ///     engine.shutdown().await;
    ///     Ok(())
    /// }
    /// ```
    pub fn with_runtime(handle: Handle, config: EngineConfig) -> Result<Engine, Status> {
        config.check()?;
        Ok(Engine::build(handle, None, config))
    }

    fn build(runtime: Handle, owned: Option<Runtime>, config: EngineConfig) -> Engine {
        let config = Arc::new(config);
        let slow_callback = config.slow_callback;
        let watchdog = config
            .blocked_callback
            .and_then(|threshold| crate::watchdog::Watchdog::start(runtime.clone(), threshold));
        let budget = Budget::new(config.budget_bytes);
        let pool = Arc::new(BufferPool::new(
            config.receive_buffer_size,
            config.pooled_buffers,
            budget.clone(),
        ));
        let provider_context = ProviderContext {
            config: config.clone(),
            memory: Arc::new(MemoryNetwork::default()),
        };
        let providers = builtin_factories()
            .into_iter()
            .map(|(name, factory)| (name.to_owned(), factory))
            .collect();
        Engine {
            guard: Arc::new(EngineGuard {
                shared: Arc::new(EngineShared {
                    config,
                    runtime,
                    owned_runtime: Mutex::new(owned),
                    budget,
                    pool,
                    providers: Mutex::new(providers),
                    provider_context,
                    transports: Children::default(),
                    live: Arc::new(LiveCounts::default()),
                    callbacks: crate::registry::CallbackWatch::new(slow_callback, watchdog),
                }),
            }),
        }
    }

    fn shared(&self) -> &Arc<EngineShared> {
        &self.guard.shared
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.shared().config
    }

    /// The runtime the engine's tasks and callbacks run on.
    pub fn runtime(&self) -> &Handle {
        &self.shared().runtime
    }

    /// Makes a provider available under `name` for
    /// [`build_transport`](Engine::build_transport) (replacing a built-in one
    /// of the same name).
    pub fn register_provider(&self, name: &str, factory: impl ProviderFactory) -> Result<(), Status> {
        if name.is_empty() {
            return Err(Status::INVALID_PARAMETER.with_message("a provider needs a name"));
        }
        self.shared()
            .lock_providers()
            .insert(name.to_owned(), Arc::new(factory));
        Ok(())
    }

    /// The names [`build_transport`](Engine::build_transport) accepts.
    pub fn provider_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shared().lock_providers().keys().cloned().collect();
        names.sort();
        names
    }

    /// Binds a transport to the provider `name` (RxCeBuildTransport) with a
    /// quality of service the engine stores and compares but does not
    /// interpret. An unknown name gives STATUS_INVALID_PARAMETER.
    ///
    /// ```
    /// let engine = rxce::Engine::new(rxce::EngineConfig::default()).unwrap();
    /// let tcp = engine.build_transport("tcp", 100).unwrap();
    /// assert_eq!(tcp.query_information().unwrap().quality_of_service, 100);
    /// let err = engine.build_transport("carrier-pigeon", 0).unwrap_err();
    /// assert_eq!(err, rxce::Status::INVALID_PARAMETER);
    /// ```
    pub fn build_transport(&self, name: &str, quality_of_service: u32) -> Result<Transport, Status> {
        let shared = self.shared();
        let factory = shared.lock_providers().get(name).cloned();
        let factory = factory.ok_or_else(|| {
            Status::INVALID_PARAMETER.with_message(format!(
                "no transport provider is named {name:?} (known: {})",
                self.provider_names().join(", ")
            ))
        })?;
        let provider = factory.create(&shared.provider_context)?;
        let transport = TransportShared::new(shared.clone(), name, quality_of_service, provider)?;
        if !shared.transports.insert(transport.id, transport.clone()) {
            return Err(Status::INVALID_HANDLE.with_message("the engine was shut down"));
        }
        tracing::debug!(transport = transport.id, name, quality_of_service, "transport built");
        Ok(Transport(transport))
    }

    /// The transports built and not torn down.
    pub fn transports(&self) -> Vec<Transport> {
        self.shared().transports.snapshot().into_iter().map(Transport).collect()
    }

    /// A listener of the `memory` transport named `name`: connections built
    /// to `memory:NAME` on this engine arrive there.
    pub fn memory_listen(&self, name: &str) -> Result<MemoryListener, Status> {
        self.shared().provider_context.memory.listen(name)
    }

    /// How many objects of each kind are alive.
    pub fn live_objects(&self) -> LiveObjects {
        self.shared().live.snapshot()
    }

    /// How many client callbacks so far ran longer than the configured
    /// [`slow_callback`](EngineConfig::slow_callback) threshold (each is
    /// also logged as a warning).
    pub fn slow_callbacks(&self) -> u64 {
        self.shared().callbacks.slow()
    }

    /// Bytes of the budget in use now.
    pub fn budget_in_use(&self) -> usize {
        self.shared().budget.used()
    }

    /// The budget's limit in bytes.
    pub fn budget_limit(&self) -> usize {
        self.shared().budget.limit()
    }

    /// Tears down every transport (and so every object) and waits until it
    /// is done. Later builds fail with STATUS_INVALID_HANDLE.
    pub async fn shutdown(&self) {
        let Some(transports) = self.shared().transports.close() else {
            return;
        };
        for transport in transports {
            let _ = crate::teardown::tear_down(crate::teardown::Object::Transport(transport)).await;
        }
    }
}

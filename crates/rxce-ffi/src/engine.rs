//! The process-wide engine behind the C routines: started by the first
//! RxCeBuildTransport, stopped when the last transport is torn down or by
//! RxCeShutdown; the bridge from the blocking C routines to the
//! engine's async API; and the multi-transport builds running on it.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rxce::{Engine, EngineConfig, Status};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::dispatch;
use crate::ffi_boundary;
use crate::handles;
use crate::types::NTSTATUS;

/// The engine and the runtime its tasks and callbacks run on. The runtime
/// is ours, not the engine's own, so that RxCeShutdown can wait for its
/// threads to end (an engine-owned runtime is stopped in the background).
struct Running {
    engine: Engine,
    runtime: Runtime,
}

/// The engine, while it runs, and the RxCeBuildTransport calls under way
/// (which may start it, and keep it from stopping for being idle).
struct Engines {
    running: Option<Running>,
    transport_builds: usize,
}

static ENGINE: Mutex<Engines> = Mutex::new(Engines {
    running: None,
    transport_builds: 0,
});

/// Multi-transport builds under way: how to stop each, and its task.
type Builds = Vec<(oneshot::Sender<()>, JoinHandle<()>)>;
static BUILDS: Mutex<Builds> = Mutex::new(Vec::new());

fn builds() -> MutexGuard<'static, Builds> {
    BUILDS.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long RxCeShutdown waits for the engine's threads to end.
const THREADS_END_WITHIN: Duration = Duration::from_secs(10);

fn lock() -> MutexGuard<'static, Engines> {
    ENGINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The C engine's configuration: the defaults, with four workers more than
/// there are cores. A C host cannot know which of its callbacks may block
/// (on a lock, on a disk); each one that blocks holds a worker, and the
/// engine's watchdog hands the blocked worker's I/O and timers to an idle
/// one, so a few blocked callbacks leave every core served (decision 32).
fn config() -> EngineConfig {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    EngineConfig {
        worker_threads: cores + 4,
        ..EngineConfig::default()
    }
}

fn start() -> Result<Running, Status> {
    let config = config();
    let runtime = Engine::worker_runtime(&config)?;
    let engine = Engine::with_runtime(runtime.handle().clone(), config)?;
    Ok(Running { engine, runtime })
}

/// The engine for an RxCeBuildTransport, started now if none runs. It
/// does not stop for being idle while the returned use is alive.
pub(crate) fn engine_for_transport() -> Result<(Engine, TransportBuild), Status> {
    let mut engines = lock();
    if engines.running.is_none() {
        engines.running = Some(start()?);
        GENERATION.fetch_add(1, Ordering::Release);
    }
    engines.transport_builds += 1;
    let engine = engines.running.as_ref().expect("started above").engine.clone();
    Ok((engine, TransportBuild))
}

/// An RxCeBuildTransport under way; when it ends, the engine stops if it
/// has nothing left (the build failed).
pub(crate) struct TransportBuild;

impl Drop for TransportBuild {
    fn drop(&mut self) {
        lock().transport_builds -= 1;
        stop_if_idle();
    }
}

/// Counts the engine's starts and stops (changed under the engine's lock):
/// a thread's cached runtime handle is good while the count is the one it
/// was cached at.
static GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's copy of the running engine's runtime handle, and the
    /// generation it belongs to: the routines of the data path find the
    /// runtime without the engine's lock, which every thread shares.
    static CACHED: RefCell<Option<(u64, Handle)>> = const { RefCell::new(None) };
}

/// The runtime of the running engine. Every object in the handle table
/// belongs to it, so a routine that found its object has one.
fn runtime() -> Result<Handle, Status> {
    let generation = GENERATION.load(Ordering::Acquire);
    let cached = CACHED
        .try_with(|c| {
            c.borrow()
                .as_ref()
                .filter(|(g, _)| *g == generation)
                .map(|(_, h)| h.clone())
        })
        .ok()
        .flatten();
    if let Some(handle) = cached {
        return Ok(handle);
    }
    let engines = lock();
    let handle = engines
        .running
        .as_ref()
        .map(|running| running.runtime.handle().clone())
        .ok_or_else(|| Status::INVALID_HANDLE.with_message("the engine was shut down"))?;
    let generation = GENERATION.load(Ordering::Acquire);
    let _ = CACHED.try_with(|c| *c.borrow_mut() = Some((generation, handle.clone())));
    Ok(handle)
}

/// Runs a synchronous engine call inside the engine's runtime context: some
/// (a `udp` address's socket) register with the runtime as they are made.
pub(crate) fn enter<R>(f: impl FnOnce() -> R) -> Result<R, Status> {
    let runtime = runtime()?;
    let _context = runtime.enter();
    Ok(f())
}

/// Runs `future` to its end from a blocking C routine. On one of the
/// engine's own threads (a routine called from inside a callback) the
/// thread first tells the runtime it is about to block, so the other tasks
/// move to another worker.
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output, Status> {
    let runtime = runtime()?;
    Ok(if Handle::try_current().is_ok() {
        tokio::task::block_in_place(|| runtime.block_on(future))
    } else {
        runtime.block_on(future)
    })
}

/// Runs a multi-transport build (`build`, given what fires when
/// RxCeShutdown wants it to stop) on the engine's workers. RxCeShutdown
/// stops the builds under way and waits for them (and so for their
/// completion routines) before it stops the engine.
pub(crate) fn spawn_build<F, Fut>(build: F) -> Result<(), Status>
where
    F: FnOnce(oneshot::Receiver<()>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runtime = runtime()?;
    let (stop, stopped) = oneshot::channel();
    let task = runtime.spawn(build(stopped));
    let mut builds = builds();
    builds.retain(|(_, task)| !task.is_finished());
    builds.push((stop, task));
    Ok(())
}

/// Stops the multi-transport builds under way and waits for them: each
/// completes (STATUS_CANCELLED unless it was done) and calls its routine.
fn stop_builds(runtime: &Handle) {
    let builds = std::mem::take(&mut *builds());
    let mut tasks = Vec::with_capacity(builds.len());
    for (stop, task) in builds {
        let _ = stop.send(());
        tasks.push(task);
    }
    runtime.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
}

/// Runs a tear-down. Called from inside a callback of a VC the tear-down
/// covers, waiting for it would wait for the callback itself: then the
/// tear-down goes as far as it can at once (the objects are torn down for
/// every caller from this point) and the rest finishes on the engine once
/// the callback returns.
pub(crate) fn tear_down<F>(future: F, covers_running_callback: bool) -> Result<(), Status>
where
    F: Future<Output = Result<(), Status>> + Send + 'static,
{
    if !covers_running_callback {
        return block_on(future)?;
    }
    let runtime = runtime()?;
    let mut future = Box::pin(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(outcome) => outcome,
        Poll::Pending => {
            runtime.spawn(future);
            Ok(())
        }
    }
}

/// True on a thread that must not wait for the engine's threads: inside a
/// callback, or on a thread that runs a tokio runtime.
fn on_engine_thread() -> bool {
    dispatch::in_callback() || Handle::try_current().is_ok()
}

/// Takes the running engine out (to stop it); threads' cached runtime
/// handles go stale.
fn take_running(engines: &mut Engines) -> Option<Running> {
    let running = engines.running.take();
    if running.is_some() {
        GENERATION.fetch_add(1, Ordering::Release);
    }
    running
}

/// Tears down what is left of a running engine (taken out of the engine's
/// lock just before) and waits for its threads.
fn stop(Running { engine, runtime }: Running) {
    let _ = CACHED.try_with(|c| c.borrow_mut().take());
    runtime.block_on(engine.shutdown());
    handles::forget_all();
    drop(engine);
    runtime.shutdown_timeout(THREADS_END_WITHIN);
}

fn shutdown() -> Result<Status, Status> {
    if on_engine_thread() {
        return Err(Status::INVALID_DEVICE_STATE
            .with_message("RxCeShutdown would wait for the callback (or runtime) it is called from"));
    }
    // The builds end first, while their completion routines can still use
    // the engine.
    let running = lock().running.as_ref().map(|running| running.runtime.handle().clone());
    if let Some(runtime) = running {
        stop_builds(&runtime);
    }
    let running = take_running(&mut lock());
    if let Some(running) = running {
        stop(running);
    }
    Ok(Status::SUCCESS)
}

/// Stops the engine once nothing is left on it: no object built, none
/// being built, no multi-transport build under way. A C port of Windows
/// code never calls RxCeShutdown, so the engine's threads end with the
/// last transport's tear-down, and a program that tore everything down
/// exits with no thread or memory of the engine left. The next build
/// starts a new engine. Not from a thread that must not wait for the
/// engine's threads (the engine then stays until the next chance).
pub(crate) fn stop_if_idle() {
    if on_engine_thread() {
        return;
    }
    let idle = {
        let mut engines = lock();
        let builds_done = builds().iter().all(|(_, task)| task.is_finished());
        if engines.transport_builds == 0 && builds_done && handles::nothing_built() {
            take_running(&mut engines)
        } else {
            None
        }
    };
    if let Some(running) = idle {
        builds().clear();
        stop(running);
    }
}

/// An rxce addition, optional (Windows has no such routine): stops the
/// process-wide engine now. Multi-transport builds under way complete
/// (with STATUS_CANCELLED) and their completion routines run, then every
/// object still built is torn down (queued sends complete with
/// STATUS_CANCELLED, sockets close) and the engine's threads stop. Objects
/// not torn down before become stale: their fields are no longer
/// maintained and every routine given one returns STATUS_INVALID_HANDLE.
/// The next RxCeBuildTransport starts a new engine.
///
/// A program that tears down every transport it built needs no
/// RxCeShutdown: the engine stops by itself when the last transport's
/// tear-down returns (unless that tear-down runs inside a callback), and
/// leaves no thread or memory behind.
///
/// Returns STATUS_SUCCESS, or STATUS_INVALID_DEVICE_STATE when called from
/// inside a callback (it would wait for that callback) or from a thread
/// that runs a tokio runtime.
#[no_mangle]
pub extern "C" fn RxCeShutdown() -> NTSTATUS {
    ffi_boundary!({ shutdown() })
}

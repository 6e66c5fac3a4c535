//! The process-wide engine behind the C routines: started on first use,
//! stopped by RxCeShutdown; the bridge from the blocking C routines to the
//! engine's async API; and the multi-transport builds running on it.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rxce_engine::{Engine, EngineConfig, Status};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::ffi_boundary;
use crate::handlers;
use crate::handles;
use crate::types::NTSTATUS;

/// The engine and the runtime its tasks and callbacks run on. The runtime
/// is ours, not the engine's own, so that RxCeShutdown can wait for its
/// threads to end (an engine-owned runtime is stopped in the background).
struct Running {
    engine: Engine,
    runtime: Runtime,
}

static ENGINE: Mutex<Option<Running>> = Mutex::new(None);

/// Multi-transport builds under way: how to stop each, and its task.
type Builds = Vec<(oneshot::Sender<()>, JoinHandle<()>)>;
static BUILDS: Mutex<Builds> = Mutex::new(Vec::new());

fn builds() -> MutexGuard<'static, Builds> {
    BUILDS.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long RxCeShutdown waits for the engine's threads to end.
const THREADS_END_WITHIN: Duration = Duration::from_secs(10);

fn lock() -> MutexGuard<'static, Option<Running>> {
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

/// The running engine, started now if there is none.
pub(crate) fn engine() -> Result<Engine, Status> {
    let mut running = lock();
    if running.is_none() {
        *running = Some(start()?);
    }
    Ok(running.as_ref().expect("started above").engine.clone())
}

/// The runtime of the running engine. Every object in the handle table
/// belongs to it, so a routine that found its object has one.
fn runtime() -> Result<Handle, Status> {
    lock()
        .as_ref()
        .map(|running| running.runtime.handle().clone())
        .ok_or_else(|| Status::INVALID_HANDLE.with_message("the engine was shut down"))
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

fn shutdown() -> Result<Status, Status> {
    if handlers::in_callback() || Handle::try_current().is_ok() {
        return Err(Status::INVALID_DEVICE_STATE
            .with_message("RxCeShutdown would wait for the callback (or runtime) it is called from"));
    }
    // The builds end first, while their completion routines can still use
    // the engine.
    let running = lock().as_ref().map(|running| running.runtime.handle().clone());
    if let Some(runtime) = running {
        stop_builds(&runtime);
    }
    let Some(Running { engine, runtime }) = lock().take() else {
        return Ok(Status::SUCCESS);
    };
    runtime.block_on(engine.shutdown());
    handles::forget_all();
    drop(engine);
    runtime.shutdown_timeout(THREADS_END_WITHIN);
    Ok(Status::SUCCESS)
}

/// Stops the process-wide engine: multi-transport builds under way complete
/// (with STATUS_CANCELLED) and their completion routines run, then every
/// object still built is torn down (queued sends complete with
/// STATUS_CANCELLED, sockets close) and the engine's threads stop. Objects not torn down before become stale: their
/// fields are no longer maintained and every routine given one returns
/// STATUS_INVALID_HANDLE. The next Build routine starts a new engine.
///
/// Returns STATUS_SUCCESS, or STATUS_INVALID_DEVICE_STATE when called from
/// inside a callback (it would wait for that callback) or from a thread
/// that runs a tokio runtime.
#[no_mangle]
pub extern "C" fn RxCeShutdown() -> NTSTATUS {
    ffi_boundary!({ shutdown() })
}

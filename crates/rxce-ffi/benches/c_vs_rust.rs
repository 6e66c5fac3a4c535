//! The C ABI against the Rust API on the same workloads, in the same
//! process, interleaved (C, Rust, Rust, C, ...), reported as the ratio of
//! C's rate to Rust's per round: median and spread.
//!
//!   cargo bench -p rxce-ffi --bench c_vs_rust [-- ROUNDS]
//!   cargo bench -p rxce-ffi --bench c_vs_rust -- --only c|rust|none bulk|rr THREADS
//!
//! (the second form runs one side once, for instruction counts under
//! callgrind; see BENCHMARKS.md).
//!
//! The C side calls the exported RxCe routines (the very entry points a C
//! program links) with MDLs and C-convention callbacks, on the C library's
//! process-wide engine; the Rust side uses `rxce` directly, on an engine
//! with the same number of workers. Workloads, each VC on its own thread
//! and loopback TCP connection to a peer on threads of its own:
//!
//! - bulk: 1 and 2 threads each sending 64 KiB TSDUs (synchronous sends)
//!   to a sink; the rate is bytes per second.
//! - rr: 1 and 2 threads each sending a 64-byte request and waiting for the
//!   echo to be indicated; the rate is round trips per second.
//!
//! Each run is timed twice: by the wall clock, and by the CPU time the
//! whole process spent (engine workers, senders and peers alike; Unix only,
//! NaN elsewhere). On a shared machine the wall clock also measures the
//! neighbours; the CPU time of the same work is the steadier cost figure.

use std::ffi::c_void;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rxce::{ConnectionEventHandler, ConnectionInformation, Engine, EngineConfig, Indication, ReceiveAnswer, Vc};
use rxce_ffi::types::*;
use rxce_ffi::*;

const TSDU: usize = 64 * 1024;
const BULK_SENDS: usize = 1500;
const REQUEST: usize = 64;
const ROUND_TRIPS: usize = 3000;

static PAYLOAD: [u8; TSDU] = [0x5A; TSDU];

/// A loopback peer on its own threads: echo (send back what arrives) or
/// sink (read and drop).
fn peer(echo: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let at = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_nodelay(true);
            std::thread::spawn(move || {
                let mut buffer = vec![0u8; 256 * 1024];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 || (echo && stream.write_all(&buffer[..n]).is_err()) {
                        return;
                    }
                }
            });
        }
    });
    at
}

/// Bytes indicated on one VC, and a way to wait for them.
#[derive(Default)]
struct Arrivals {
    bytes: Mutex<usize>,
    more: Condvar,
}

impl Arrivals {
    fn add(&self, n: usize) {
        *self.bytes.lock().unwrap() += n;
        self.more.notify_one();
    }

    fn wait_for(&self, at_least: usize) {
        let mut bytes = self.bytes.lock().unwrap();
        while *bytes < at_least {
            bytes = self.more.wait(bytes).unwrap();
        }
    }
}

// ---- the C ABI side ----------------------------------------------------

unsafe extern "C" fn on_receive(
    context: PVOID,
    _vc: *mut _RXCE_VC,
    _flags: ULONG,
    indicated: ULONG,
    _available: ULONG,
    taken: *mut ULONG,
    _tsdu: PVOID,
    _chain: *mut *mut _MDL,
    _size: PULONG,
) -> NTSTATUS {
    // SAFETY: the context is the Arrivals the VC was built with, alive
    // until the VC's tear-down; `taken` is rxce's out-value.
    unsafe {
        (*(context as *const Arrivals)).add(indicated as usize);
        *taken = indicated;
    }
    STATUS_SUCCESS
}

fn unicode(text: &str, units: &mut Vec<u16>) -> UNICODE_STRING {
    *units = text.encode_utf16().collect();
    UNICODE_STRING {
        Length: (units.len() * 2) as USHORT,
        MaximumLength: (units.len() * 2) as USHORT,
        Buffer: units.as_mut_ptr(),
    }
}

/// A tcp transport and address of the C library, and VCs to `to`.
struct CSide {
    transport: Box<RXCE_TRANSPORT>,
    _address: Box<RXCE_ADDRESS>,
    vcs: Vec<(Box<RXCE_CONNECTION>, Box<RXCE_VC>, Box<Arrivals>)>,
}

// SAFETY: the boxed structures are only handed to the C routines, which may
// be called from any thread.
unsafe impl Send for CSide {}
unsafe impl Sync for CSide {}

fn zeroed<T>() -> Box<T> {
    // SAFETY: the RxCe structures are plain data for which all-zero bytes
    // are valid (unbuilt objects).
    Box::new(unsafe { std::mem::zeroed() })
}

impl CSide {
    fn new(to: SocketAddr, count: usize) -> CSide {
        let mut units = Vec::new();
        let mut name = unicode("tcp", &mut units);
        let mut transport: Box<RXCE_TRANSPORT> = zeroed();
        let mut address: Box<RXCE_ADDRESS> = zeroed();
        let mut local: Box<TA_IP_ADDRESS> = zeroed();
        let mut remote: Box<TA_IP_ADDRESS> = zeroed();
        let SocketAddr::V4(to) = to else { panic!("an IPv4 peer") };
        // SAFETY (for every call below): valid, boxed (so unmoving) objects
        // and structures, kept until the tear-down.
        unsafe {
            assert_eq!(RxCeBuildTransport(&mut *transport, &mut name, 1), STATUS_SUCCESS);
            assert_eq!(RxCeInitIpAddress(&mut *local, 0x7F00_0001, 0), STATUS_SUCCESS);
            assert_eq!(
                RxCeBuildAddress(
                    &mut *address,
                    &mut *transport,
                    (&mut *local as *mut TA_IP_ADDRESS).cast(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut()
                ),
                STATUS_SUCCESS
            );
            assert_eq!(
                RxCeInitIpAddress(&mut *remote, u32::from(*to.ip()), to.port()),
                STATUS_SUCCESS
            );
        }
        let mut vcs = Vec::new();
        for _ in 0..count {
            let mut info: Box<RXCE_CONNECTION_INFORMATION> = zeroed();
            info.RemoteAddressLength = std::mem::size_of::<TA_IP_ADDRESS>() as LONG;
            info.RemoteAddress = (&mut *remote as *mut TA_IP_ADDRESS).cast();
            let mut handler: Box<RXCE_CONNECTION_EVENT_HANDLER> = zeroed();
            handler.RxCeReceiveEventHandler = Some(on_receive);
            let arrivals = Box::new(Arrivals::default());
            let mut connection: Box<RXCE_CONNECTION> = zeroed();
            let mut vc: Box<RXCE_VC> = zeroed();
            // SAFETY: as above.
            let status = unsafe {
                RxCeBuildConnection(
                    &mut *address,
                    &mut *info,
                    &mut *handler,
                    &*arrivals as *const Arrivals as *mut c_void,
                    &mut *connection,
                    &mut *vc,
                )
            };
            assert_eq!(status, STATUS_SUCCESS);
            vcs.push((connection, vc, arrivals));
        }
        CSide {
            transport,
            _address: address,
            vcs,
        }
    }

    fn send(&self, index: usize, bytes: &'static [u8]) {
        let mut mdl = _MDL {
            Next: std::ptr::null_mut(),
            MappedSystemVa: bytes.as_ptr() as PVOID,
            ByteCount: bytes.len() as ULONG,
        };
        let vc = &*self.vcs[index].1 as *const RXCE_VC as *mut RXCE_VC;
        // SAFETY: a built VC; the chain is valid until the synchronous send
        // returns.
        let status = unsafe {
            RxCeSend(
                vc,
                RXCE_SEND_SYNCHRONOUS,
                &mut mdl,
                bytes.len() as ULONG,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(status, STATUS_SUCCESS);
    }

    fn arrivals(&self, index: usize) -> &Arrivals {
        &self.vcs[index].2
    }
}

impl Drop for CSide {
    fn drop(&mut self) {
        // SAFETY: the transport this side built (its children go with it).
        unsafe { RxCeTearDownTransport(&mut *self.transport) };
    }
}

// ---- the Rust side -----------------------------------------------------

struct Counting(Arc<Arrivals>);

impl ConnectionEventHandler for Counting {
    fn receive(&self, _vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        self.0.add(indication.data.len());
        ReceiveAnswer::take_all(indication)
    }
}

struct RustSide {
    engine: Engine,
    vcs: Vec<(Vc, Arc<Arrivals>)>,
}

impl RustSide {
    fn new(engine: &Engine, to: SocketAddr, count: usize) -> RustSide {
        let address = engine
            .build_transport("tcp", 1)
            .unwrap()
            .build_address(rxce::TransportAddress::any_ipv4(), Arc::new(rxce::NoEvents))
            .unwrap();
        let vcs = (0..count)
            .map(|_| {
                let arrivals = Arc::new(Arrivals::default());
                let build =
                    address.build_connection(ConnectionInformation::to(to), Arc::new(Counting(arrivals.clone())));
                let (_connection, vc) = engine.runtime().block_on(build).unwrap();
                (vc, arrivals)
            })
            .collect();
        RustSide {
            engine: engine.clone(),
            vcs,
        }
    }

    fn send(&self, index: usize, bytes: &'static [u8]) {
        let vc = &self.vcs[index].0;
        self.engine
            .runtime()
            .block_on(vc.send(Bytes::from_static(bytes), rxce::SendOptions::empty()))
            .unwrap();
    }

    fn arrivals(&self, index: usize) -> &Arrivals {
        &self.vcs[index].1
    }
}

impl Drop for RustSide {
    fn drop(&mut self) {
        for (vc, _) in &self.vcs {
            let _ = self
                .engine
                .runtime()
                .block_on(vc.connection().address().transport().tear_down());
        }
    }
}

// ---- workloads ---------------------------------------------------------

/// What a side offers the workloads.
trait Side: Sync {
    fn send(&self, index: usize, bytes: &'static [u8]);
    fn arrivals(&self, index: usize) -> &Arrivals;
}

impl Side for CSide {
    fn send(&self, index: usize, bytes: &'static [u8]) {
        CSide::send(self, index, bytes)
    }
    fn arrivals(&self, index: usize) -> &Arrivals {
        CSide::arrivals(self, index)
    }
}

impl Side for RustSide {
    fn send(&self, index: usize, bytes: &'static [u8]) {
        RustSide::send(self, index, bytes)
    }
    fn arrivals(&self, index: usize) -> &Arrivals {
        RustSide::arrivals(self, index)
    }
}

/// The CPU time the process has used so far.
#[cfg(unix)]
fn process_cpu() -> Duration {
    // SAFETY: `now` is a valid timespec for the call to fill.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the clock id is a constant the kernel knows.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Not measured off Unix: the CPU rates and their ratios read as NaN.
#[cfg(not(unix))]
fn process_cpu() -> Duration {
    Duration::ZERO
}

/// A run's rates: work per wall-clock second and per process-CPU second.
#[derive(Clone, Copy)]
struct Rates {
    wall: f64,
    cpu: f64,
}

/// Runs `per_thread` on `threads` threads (thread i on VC i), which do
/// `work` units in all, and returns the rates.
fn on_threads(side: &dyn Side, threads: usize, work: usize, per_thread: impl Fn(&dyn Side, usize) + Sync) -> Rates {
    let (started, cpu) = (Instant::now(), process_cpu());
    std::thread::scope(|scope| {
        for index in 0..threads {
            let per_thread = &per_thread;
            scope.spawn(move || per_thread(side, index));
        }
    });
    let (wall, cpu) = (started.elapsed(), process_cpu() - cpu);
    Rates {
        wall: work as f64 / wall.as_secs_f64(),
        cpu: work as f64 / cpu.as_secs_f64(),
    }
}

/// Bytes per second of 64 KiB synchronous sends.
fn bulk(side: &dyn Side, threads: usize) -> Rates {
    on_threads(side, threads, threads * BULK_SENDS * TSDU, |side, index| {
        for _ in 0..BULK_SENDS {
            side.send(index, &PAYLOAD);
        }
    })
}

/// Round trips per second of 64-byte requests whose echo is indicated.
fn request_response(side: &dyn Side, threads: usize) -> Rates {
    on_threads(side, threads, threads * ROUND_TRIPS, |side, index| {
        let arrivals = side.arrivals(index);
        let start = *arrivals.bytes.lock().unwrap();
        for round in 1..=ROUND_TRIPS {
            side.send(index, &PAYLOAD[..REQUEST]);
            arrivals.wait_for(start + round * REQUEST);
        }
    })
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `--only c|rust|none WORKLOAD THREADS`: one run of one side (`none`:
/// just the set-up), for instruction counts under callgrind, which the
/// wall clock of a shared machine cannot disturb.
fn only(args: &[String]) {
    let [side, workload, threads] = args else {
        panic!("--only c|rust|none bulk|rr THREADS");
    };
    let threads: usize = threads.parse().expect("a thread count");
    let is_bulk = workload == "bulk";
    let to = peer(!is_bulk);
    let run: fn(&dyn Side, usize) -> Rates = if is_bulk { bulk } else { request_response };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    match side.as_str() {
        "c" => {
            let c = CSide::new(to, threads);
            run(&c, threads);
        }
        "rust" => {
            let engine = Engine::new(EngineConfig {
                worker_threads: cores + 4,
                ..EngineConfig::default()
            })
            .unwrap();
            let rust = RustSide::new(&engine, to, threads);
            run(&rust, threads);
        }
        _ => {}
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().is_some_and(|a| a == "--only") {
        return only(&args[1..]);
    }
    let rounds: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(7);
    let sink = peer(false);
    let echo = peer(true);
    // The C library's engine runs cores + 4 workers; the Rust engine the same.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let engine = Engine::new(EngineConfig {
        worker_threads: cores + 4,
        ..EngineConfig::default()
    })
    .unwrap();
    let c_sink = CSide::new(sink, 2);
    let c_echo = CSide::new(echo, 2);
    let rust_sink = RustSide::new(&engine, sink, 2);
    let rust_echo = RustSide::new(&engine, echo, 2);

    type Workload = fn(&dyn Side, usize) -> Rates;
    let workloads: [(&str, Workload, usize, bool); 4] = [
        ("bulk 64 KiB, 1 thread", bulk, 1, true),
        ("bulk 64 KiB, 2 threads", bulk, 2, true),
        ("rr 64 B, 1 thread", request_response, 1, false),
        ("rr 64 B, 2 threads", request_response, 2, false),
    ];
    println!("C ABI vs Rust API, {rounds} rounds, interleaved; ratio = C rate / Rust rate (median, min..max)");
    println!(
        "{:<24} {:>12} {:>12} {:>20} {:>20}",
        "workload", "C wall", "Rust wall", "wall ratio", "CPU-time ratio"
    );
    for (name, run, threads, is_bulk) in workloads {
        let (c_side, rust_side): (&dyn Side, &dyn Side) = if is_bulk {
            (&c_sink, &rust_sink)
        } else {
            (&c_echo, &rust_echo)
        };
        // One warm-up run each.
        run(c_side, threads);
        run(rust_side, threads);
        let (mut cs, mut rusts, mut wall, mut cpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let (c, rust) = if round % 2 == 0 {
                let c = run(c_side, threads);
                (c, run(rust_side, threads))
            } else {
                let rust = run(rust_side, threads);
                (run(c_side, threads), rust)
            };
            cs.push(c.wall);
            rusts.push(rust.wall);
            wall.push(c.wall / rust.wall);
            cpu.push(c.cpu / rust.cpu);
        }
        let spread = |ratios: &mut Vec<f64>| {
            let m = median(ratios);
            format!("{m:.3} ({:.2}..{:.2})", ratios[0], ratios[ratios.len() - 1])
        };
        let unit = |v: f64| {
            if is_bulk {
                format!("{:.0} MB/s", v / 1e6)
            } else {
                format!("{v:.0} rt/s")
            }
        };
        println!(
            "{name:<24} {:>12} {:>12} {:>20} {:>20}",
            unit(median(&mut cs)),
            unit(median(&mut rusts)),
            spread(&mut wall),
            spread(&mut cpu)
        );
    }
    drop((c_sink, c_echo, rust_sink, rust_echo));
}

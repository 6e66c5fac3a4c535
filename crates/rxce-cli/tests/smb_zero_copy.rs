//! The copy count of `Session::read_file` against a private smbd: where
//! every payload byte of a READ answer travelled on its way into the
//! caller's buffer.
//!
//! The caller's sink hands out buffers it allocated before the read and
//! records each one's address; the test proves that
//! - every buffer comes back as the very allocation handed out, holding the
//!   file's bytes for its offset (the payload landed in the caller's
//!   memory, not in a replacement);
//! - the client code copied no payload byte itself;
//! - the engine moved into the buffers only the bytes it already held in
//!   its lookahead when the READ answer was indicated (at most one
//!   lookahead, 256 KiB, per answer); everything else went from the socket
//!   straight into the buffers;
//! - the process allocated less than 2 MiB while reading 64 MiB: no
//!   intermediate buffer of payload size exists anywhere (a counting global
//!   allocator sees every allocation of the process).
//!
//! One test only: the global allocator counts for the whole binary.
#![cfg(target_os = "linux")] // Linux only: Samba (smbd) from Debian packages

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rxce::{Engine, EngineConfig, ReceiveBuffer, Status};
use rxce_cli::smb::{Logon, ReadOptions, ReadSink, ReadStats, Session, SessionOptions, SmbUrl};
use rxce_testsupport::samba::{require_samba, SambaServer};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: a pointer this allocator (System) handed out.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATED.fetch_add(new_size as u64, Ordering::Relaxed);
        }
        // SAFETY: as for alloc and dealloc.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MIB: usize = 1 << 20;
/// The engine's default lookahead (receive buffer) size.
const LOOKAHEAD: u64 = 256 * 1024;

fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes()[7])
        .collect()
}

/// Buffers allocated up front; each one handed out is checked on return.
struct CheckingSink<'a> {
    expected: &'a [u8],
    free: Vec<Box<[u8]>>,
    handed: HashMap<u64, usize>,
    filled: u64,
}

impl ReadSink for CheckingSink<'_> {
    fn buffer(&mut self, offset: u64, len: usize) -> Box<dyn ReceiveBuffer> {
        let buffer = self.free.pop().expect("the sink has a buffer for every READ in flight");
        assert!(buffer.len() >= len);
        self.handed.insert(offset, buffer.as_ptr() as usize);
        Box::new(buffer)
    }

    fn filled(&mut self, offset: u64, buffer: Box<dyn ReceiveBuffer>, len: usize) -> Result<(), Status> {
        let any: Box<dyn std::any::Any + Send> = buffer;
        let buffer = any.downcast::<Box<[u8]>>().expect("our buffer type came back");
        assert_eq!(
            self.handed.remove(&offset),
            Some(buffer.as_ptr() as usize),
            "the buffer for offset {offset} is the allocation handed out"
        );
        let at = offset as usize;
        assert!(buffer[..len] == self.expected[at..at + len], "bytes at {offset} differ");
        self.filled += len as u64;
        self.free.push(*buffer);
        Ok(())
    }
}

fn read_counting(engine: &Engine, url: &SmbUrl, expected: &[u8], read: ReadOptions) -> (ReadStats, u64) {
    let options = SessionOptions {
        logon: Logon::Anonymous,
        timeout: Duration::from_secs(20),
    };
    engine.runtime().clone().block_on(async {
        let mut session = Session::open(engine, url, &options).await.unwrap();
        let file = session.open_file(&url.path, false).await.unwrap();
        let size = read.read_size.unwrap_or(8 * MIB as u32) as usize;
        let mut sink = CheckingSink {
            expected,
            free: (0..read.window).map(|_| vec![0u8; size].into_boxed_slice()).collect(),
            handed: HashMap::new(),
            filled: 0,
        };
        ALLOCATED.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        let stats = session.read_file(&file, &mut sink, read, &mut |_| {}).await;
        COUNTING.store(false, Ordering::Relaxed);
        let stats = stats.unwrap();
        assert_eq!(sink.filled, expected.len() as u64);
        session.close_file(&file).await.unwrap();
        session.close().await.unwrap();
        (stats, ALLOCATED.load(Ordering::Relaxed))
    })
}

#[test]
fn read_payloads_go_from_the_socket_into_the_callers_buffers() {
    require_samba();
    let server = SambaServer::start().expect("a private Samba server starts");
    let data = pattern(64 * MIB);
    std::fs::write(server.share_path().join("big"), &data).unwrap();
    let url = SmbUrl::parse(&format!(
        "smb://127.0.0.1:{}/{}/big",
        server.direct_port(),
        server.share_name()
    ))
    .unwrap();
    let engine = Engine::new(EngineConfig::default()).unwrap();

    // MaxReadSize (8 MiB) READs: the payload bypasses the lookahead.
    let big = ReadOptions {
        read_size: None,
        window: 4,
    };
    let (stats, allocated) = read_counting(&engine, &url, &data, big);
    eprintln!("8 MiB READs: {stats:?}, {allocated} B allocated during the read");
    assert_eq!(stats.bytes, data.len() as u64);
    assert_eq!(stats.reads, 8);
    assert_eq!(stats.copied_by_client, 0, "the client copied payload bytes");
    assert_eq!(stats.from_lookahead + stats.direct, stats.bytes);
    assert!(stats.from_lookahead <= stats.reads * LOOKAHEAD, "{stats:?}");
    assert!(stats.direct >= stats.bytes / 100 * 95, "{stats:?}");
    assert!(
        allocated < 2 * MIB as u64,
        "{allocated} B allocated while reading 64 MiB"
    );

    // 64 KiB READs: each whole answer fits the lookahead and is moved from
    // it once; still no copy by the client and no payload-sized allocation.
    let small = ReadOptions {
        read_size: Some(65_536),
        window: 8,
    };
    let (stats, allocated) = read_counting(&engine, &url, &data, small);
    eprintln!("64 KiB READs: {stats:?}, {allocated} B allocated during the read");
    assert_eq!(stats.reads, 1024);
    assert_eq!(stats.copied_by_client, 0);
    assert_eq!(stats.from_lookahead + stats.direct, stats.bytes);
    assert!(
        allocated < 2 * MIB as u64,
        "{allocated} B allocated while reading 64 MiB"
    );
    engine.runtime().clone().block_on(engine.shutdown());
}

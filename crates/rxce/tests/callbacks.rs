//! What a client callback may do to the engine, and what the engine does
//! to a callback's answer afterwards.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rxce::{
    Address, AddressEventHandler, ConnectionEventHandler, DatagramIndication, Indication, ReceiveAnswer, ReceiveBuffer,
    SendOptions, Status, TransportAddress, Vc,
};
use tokio::io::AsyncWriteExt;

/// The bytes a client buffer starts with; they must still be there when
/// the buffer comes back from a torn-down object.
const UNTOUCHED: u8 = 0xEE;

/// What came back through data-ready: (bytes of the whole buffer, copied,
/// status).
type Returned = Arc<Mutex<Vec<(Vec<u8>, usize, Status)>>>;

fn returned(buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status, into: &Returned) {
    let any: Box<dyn std::any::Any + Send> = buffer;
    let bytes = *any.downcast::<Vec<u8>>().expect("the test's own buffer");
    into.lock().unwrap().push((bytes, copied, status));
}

/// Tears its object down from inside the receive callback (one poll:
/// inside its own callback the tear-down does not wait), then answers
/// MORE_PROCESSING_REQUIRED with a 16-byte buffer.
struct TearDownThenMoreProcessing {
    returned: Returned,
}

fn tear_down_now(tear_down: impl std::future::Future<Output = Result<(), Status>>) {
    let mut future = std::pin::pin!(tear_down);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let outcome = std::future::Future::poll(future.as_mut(), &mut cx);
    assert_eq!(
        outcome,
        std::task::Poll::Ready(Ok(())),
        "the tear-down finished at once"
    );
}

fn more_processing() -> ReceiveAnswer {
    ReceiveAnswer::MoreProcessingRequired {
        taken: 0,
        buffer: Box::new(vec![UNTOUCHED; 16]),
        size: 16,
    }
}

impl ConnectionEventHandler for TearDownThenMoreProcessing {
    fn receive(&self, vc: &Vc, _indication: &Indication<'_>) -> ReceiveAnswer {
        tear_down_now(vc.tear_down());
        more_processing()
    }

    fn data_ready(&self, _vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        returned(buffer, copied, status, &self.returned);
    }
}

impl AddressEventHandler for TearDownThenMoreProcessing {
    fn receive_datagram(&self, address: &Address, _indication: &DatagramIndication<'_>) -> ReceiveAnswer {
        tear_down_now(address.tear_down());
        more_processing()
    }

    fn data_ready(&self, _address: &Address, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        returned(buffer, copied, status, &self.returned);
    }
}

/// Waits up to 5 s for one buffer to come back, then 100 ms more for any
/// other; returns them all.
async fn wait_for_returned(returned: &Returned) -> Vec<(Vec<u8>, usize, Status)> {
    for _ in 0..500 {
        if !returned.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    returned.lock().unwrap().clone()
}

fn assert_cancelled_and_untouched(returned: &[(Vec<u8>, usize, Status)]) {
    assert_eq!(returned.len(), 1, "one data-ready for the buffer: {returned:?}");
    let (bytes, copied, status) = &returned[0];
    assert_eq!((*copied, status.clone()), (0, Status::CANCELLED));
    assert_eq!(bytes, &vec![UNTOUCHED; 16], "no byte was copied into the buffer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vc_torn_down_in_its_receive_callback_fills_no_client_buffer() {
    let engine = engine();
    // A bare stream, and whole messages (a direct-hosted frame of 3 bytes).
    for (transport, bytes) in [("tcp", &b"abc"[..]), ("tcp+smb", &[0, 0, 0, 3, b'a', b'b', b'c'][..])] {
        let handler = Arc::new(TearDownThenMoreProcessing {
            returned: Returned::default(),
        });
        let (_c, vc, mut peer) = tcp_vc(&engine, transport, handler.clone()).await;
        peer.write_all(bytes).await.unwrap();
        assert_cancelled_and_untouched(&wait_for_returned(&handler.returned).await);
        assert!(!vc.is_valid());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_torn_down_in_its_datagram_callback_fills_no_client_buffer() {
    let engine = engine();
    let handler = Arc::new(TearDownThenMoreProcessing {
        returned: Returned::default(),
    });
    let address = engine
        .build_transport("udp", 0)
        .unwrap()
        .build_address(TransportAddress::ip("127.0.0.1:0".parse().unwrap()), handler.clone())
        .unwrap();
    let bound = address.bound_address();
    let sender = engine
        .build_transport("udp", 0)
        .unwrap()
        .build_address(
            TransportAddress::ip("127.0.0.1:0".parse().unwrap()),
            Arc::new(rxce::NoEvents),
        )
        .unwrap();
    sender
        .send_datagram(
            &rxce::ConnectionInformation::to(bound),
            &b"abc"[..],
            SendOptions::empty(),
        )
        .await
        .unwrap();
    assert_cancelled_and_untouched(&wait_for_returned(&handler.returned).await);
}

/// A receive handler that blocks its worker for [`BLOCK_FOR`] when a TSDU
/// starts with `block`, and otherwise notes when the TSDU arrived.
struct Blocking {
    blocked: std::sync::atomic::AtomicUsize,
    arrived: std::sync::mpsc::SyncSender<std::time::Instant>,
}

const BLOCK_FOR: Duration = Duration::from_secs(2);

impl ConnectionEventHandler for Blocking {
    fn receive(&self, _vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        if indication.data.starts_with(b"block") {
            self.blocked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(BLOCK_FOR);
        } else {
            let _ = self.arrived.try_send(std::time::Instant::now());
        }
        ReceiveAnswer::take_all(indication)
    }
}

/// An echo peer on its own threads (not the engine's).
fn threaded_echo() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = stream.try_clone().unwrap();
                let _ = std::io::copy(&mut reader, &mut stream);
            });
        }
    });
    at
}

/// With `blocked` callbacks asleep on their workers, how long another VC's
/// echo takes to be indicated, and how late a 300 ms timer armed before
/// the callbacks blocked fires.
fn delays_while_callbacks_block(config: rxce::EngineConfig, blocked: usize) -> (Duration, Duration) {
    let engine = rxce::Engine::new(config).unwrap();
    let echo = threaded_echo();
    let (arrived, arrivals) = std::sync::mpsc::sync_channel(16);
    let handler = Arc::new(Blocking {
        blocked: Default::default(),
        arrived,
    });
    let runtime = engine.runtime().clone();
    let address = engine
        .build_transport("tcp", 0)
        .unwrap()
        .build_address(TransportAddress::any_ipv4(), Arc::new(rxce::NoEvents))
        .unwrap();
    let mut vcs = Vec::new();
    for _ in 0..=blocked {
        let build = address.build_connection(to(echo), handler.clone());
        vcs.push(runtime.block_on(build).unwrap());
    }
    let (_b_connection, b) = vcs.pop().unwrap();
    let timer = runtime.spawn(async {
        let started = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(300)).await;
        started.elapsed().saturating_sub(Duration::from_millis(300))
    });
    // Let the workers go idle before the callbacks block.
    std::thread::sleep(Duration::from_millis(50));
    for (_, a) in &vcs {
        runtime.block_on(a.send(&b"block"[..], SendOptions::empty())).unwrap();
    }
    while handler.blocked.load(std::sync::atomic::Ordering::SeqCst) < blocked {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    let sent = std::time::Instant::now();
    runtime.block_on(b.send(&b"ping"[..], SendOptions::empty())).unwrap();
    let echoed = arrivals.recv_timeout(Duration::from_secs(10)).expect("B's echo came") - sent;
    let late = runtime.block_on(timer).unwrap();
    drop(vcs);
    runtime.block_on(engine.shutdown());
    (echoed, late)
}

/// One callback, and four at once, blocking their workers for 2 s do not
/// hold up another VC's indications or the engine's timers, as long as a
/// worker is left (B's echo is indicated in well under a millisecond on
/// loopback; the bound is generous, a stalled engine takes the whole 2 s).
/// One blocked callback needs nothing but the defaults (2 workers).
#[test]
fn blocked_callbacks_do_not_stall_other_vcs_or_timers() {
    for blocked in [1, 4] {
        let config = rxce::EngineConfig {
            worker_threads: rxce::EngineConfig::default().worker_threads.max(blocked + 1),
            ..rxce::EngineConfig::default()
        };
        let (echoed, late) = delays_while_callbacks_block(config, blocked);
        println!(
            "{blocked} blocked callback(s): B's echo indicated after {echoed:?}, a 300 ms timer fired {late:?} late"
        );
        assert!(echoed < Duration::from_millis(500), "{blocked} blocked: {echoed:?}");
        assert!(
            late < Duration::from_millis(500),
            "{blocked} blocked: timer {late:?} late"
        );
    }
}

/// Records the client's data of the VC each indication comes from.
struct SeesData(Mutex<Vec<Option<&'static str>>>);

impl ConnectionEventHandler for SeesData {
    fn receive(&self, vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        let data = vc.data().and_then(|d| d.downcast_ref::<&'static str>()).copied();
        self.0.lock().unwrap().push(data);
        ReceiveAnswer::take_all(indication)
    }
}

/// The data given to a build is the VC's before its first indication (a
/// peer that speaks first), and data is set once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vc_s_data_is_there_before_its_first_indication() {
    let engine = engine();
    let (listener, addr) = tcp_listener().await;
    let (_t, address) = tcp_address(&engine);
    let greeter = tokio::spawn(async move {
        let (mut peer, _) = listener.accept().await.unwrap();
        peer.write_all(b"hello").await.unwrap();
        peer
    });
    let handler = Arc::new(SeesData(Mutex::default()));
    let (connection, vc) = address
        .build_connection_with_data(to(addr), handler.clone(), Arc::new("first"))
        .await
        .unwrap();
    let _peer = greeter.await.unwrap();
    for _ in 0..500 {
        if !handler.0.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(handler.0.lock().unwrap().first(), Some(&Some("first")));
    assert!(vc.set_data(Arc::new("again")).is_err(), "data is set once");
    assert_eq!(vc.data().and_then(|d| d.downcast_ref::<&str>()), Some(&"first"));
    drop(connection);
}

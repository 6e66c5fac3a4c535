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

//! The `udp` transport: datagram indications on the address with the three
//! answers, datagram sends in both modes, query information.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use rxce::tdi::service_flags;
use rxce::{
    Address, AddressEventHandler, ConnectionInformation, DatagramIndication, Information, InformationClass,
    ReceiveAnswer, ReceiveBuffer, ReceiveFlags, SendBuffers, SendOptions, Status, TransportAddress,
};
use tokio::net::UdpSocket;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Datagram {
        source: TransportAddress,
        data: Vec<u8>,
        flags: ReceiveFlags,
    },
    DataReady {
        data: Vec<u8>,
        status: Status,
    },
    SendComplete {
        context: usize,
        status: Status,
    },
}

type Answer = dyn FnMut(&DatagramIndication<'_>) -> ReceiveAnswer + Send;

struct AddressRecorder {
    seen: Mutex<Vec<Seen>>,
    answer: Mutex<Box<Answer>>,
    notify: tokio::sync::Notify,
}

impl AddressRecorder {
    fn new(answer: impl FnMut(&DatagramIndication<'_>) -> ReceiveAnswer + Send + 'static) -> Arc<AddressRecorder> {
        Arc::new(AddressRecorder {
            seen: Mutex::new(Vec::new()),
            answer: Mutex::new(Box::new(answer)),
            notify: tokio::sync::Notify::new(),
        })
    }

    fn push(&self, seen: Seen) {
        self.seen.lock().unwrap().push(seen);
        self.notify.notify_waiters();
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Seen> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.seen.lock().unwrap().len() >= n {
                return self.seen();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("waited for {n} events, got {:?}", self.seen());
            }
        }
    }
}

impl AddressEventHandler for AddressRecorder {
    fn receive_datagram(&self, _address: &Address, indication: &DatagramIndication<'_>) -> ReceiveAnswer {
        self.push(Seen::Datagram {
            source: indication.source.clone(),
            data: indication.indication.data.to_vec(),
            flags: indication.indication.flags,
        });
        // A panicking answer (one test's) must not poison the next ones.
        (self.answer.lock().unwrap_or_else(|e| e.into_inner()))(indication)
    }

    fn data_ready(&self, _address: &Address, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        self.push(Seen::DataReady {
            data: bytes_of(buffer, copied),
            status,
        });
    }

    fn send_complete(&self, _address: &Address, context: usize, status: Status) {
        self.push(Seen::SendComplete { context, status });
    }
}

async fn udp_address(
    engine: &rxce::Engine,
    answer: impl FnMut(&DatagramIndication<'_>) -> ReceiveAnswer + Send + 'static,
) -> (rxce::Transport, Address, Arc<AddressRecorder>, SocketAddr) {
    let transport = engine.build_transport("udp", 0).unwrap();
    let recorder = AddressRecorder::new(answer);
    let address = transport
        .build_address(TransportAddress::ip("127.0.0.1:0".parse().unwrap()), recorder.clone())
        .unwrap();
    let bound = address.bound_address().ip_entry().unwrap();
    assert_ne!(bound.port(), 0, "the system chose a port");
    (transport, address, recorder, bound)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_are_indicated_whole_with_their_source() {
    let engine = engine();
    let (_t, _address, recorder, bound) = udp_address(&engine, |ind| ReceiveAnswer::take_all(&ind.indication)).await;
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    peer.send_to(b"first", bound).await.unwrap();
    peer.send_to(&pattern(60_000, 1), bound).await.unwrap();
    let seen = recorder.wait_for(2).await;
    let whole = ReceiveFlags::NORMAL | ReceiveFlags::ENTIRE_MESSAGE;
    assert_eq!(
        seen[0],
        Seen::Datagram {
            source: TransportAddress::ip(peer.local_addr().unwrap()),
            data: b"first".to_vec(),
            flags: whole,
        }
    );
    match &seen[1] {
        Seen::Datagram { data, .. } => assert_eq!(*data, pattern(60_000, 1)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_answers_work_on_datagrams() {
    let engine = engine();
    let calls = Arc::new(Mutex::new(0usize));
    let (_t, address, recorder, bound) = udp_address(&engine, {
        let calls = calls.clone();
        move |ind| {
            let mut n = calls.lock().unwrap();
            *n += 1;
            match *n {
                // A partial take: the rest of a datagram is dropped.
                1 => ReceiveAnswer::Taken(2),
                // More processing into a buffer smaller than the rest.
                2 => ReceiveAnswer::MoreProcessingRequired {
                    taken: 1,
                    buffer: Box::new(vec![0u8; 3]),
                    size: 3,
                },
                // Not accepted: kept until the resume.
                3 => ReceiveAnswer::NotAccepted,
                _ => ReceiveAnswer::take_all(&ind.indication),
            }
        }
    })
    .await;
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for datagram in [&b"aaaa"[..], b"bcdefg", b"held", b"after"] {
        peer.send_to(datagram, bound).await.unwrap();
    }
    let seen = recorder.wait_for(4).await;
    assert!(matches!(&seen[0], Seen::Datagram { data, .. } if data == b"aaaa"));
    assert!(matches!(&seen[1], Seen::Datagram { data, .. } if data == b"bcdefg"));
    assert_eq!(
        seen[2],
        Seen::DataReady {
            data: b"cde".to_vec(),
            status: Status::BUFFER_OVERFLOW
        }
    );
    assert!(matches!(&seen[3], Seen::Datagram { data, .. } if data == b"held"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(recorder.seen().len(), 4, "nothing is read while a datagram is held");
    address.resume_receive().unwrap();
    let seen = recorder.wait_for(6).await;
    match &seen[4] {
        Seen::Datagram { data, flags, .. } => {
            assert_eq!(data, b"held");
            assert!(flags.contains(ReceiveFlags::FORCE_INDICATION));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&seen[5], Seen::Datagram { data, .. } if data == b"after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_are_sent_in_both_modes() {
    let engine = engine();
    let (_t, address, recorder, _bound) = udp_address(&engine, |ind| ReceiveAnswer::take_all(&ind.indication)).await;
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = ConnectionInformation::to(peer.local_addr().unwrap());
    let mut chain = SendBuffers::new();
    chain.push(Bytes::from_static(b"one "));
    chain.push(Bytes::from_static(b"datagram"));
    assert_eq!(
        address
            .send_datagram(&to, chain, SendOptions::SYNCHRONOUS)
            .await
            .unwrap(),
        12
    );
    let mut buf = [0u8; 100];
    let (n, from) = peer.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"one datagram", "a chain is gathered into one datagram");
    assert_eq!(TransportAddress::ip(from), address.bound_address());
    assert_eq!(
        address
            .submit_datagram(&to, &b"async"[..], SendOptions::empty(), 77)
            .await,
        Status::PENDING
    );
    let (n, _) = peer.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"async");
    assert_eq!(
        recorder.wait_for(1).await,
        vec![Seen::SendComplete {
            context: 77,
            status: Status::SUCCESS
        }]
    );
    let too_big = address
        .send_datagram(&to, vec![0u8; 70_000], SendOptions::empty())
        .await
        .unwrap_err();
    assert_eq!(too_big, Status::INVALID_PARAMETER);
    let no_ip = ConnectionInformation::to(TransportAddress::memory("x"));
    assert_eq!(
        address
            .submit_datagram(&no_ip, &b"x"[..], SendOptions::empty(), 1)
            .await,
        Status::INVALID_PARAMETER
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(recorder.seen().len(), 1, "refused sends call nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_information_and_the_limits_of_a_datagram_address() {
    let engine = engine();
    let (transport, address, _recorder, bound) =
        udp_address(&engine, |ind| ReceiveAnswer::take_all(&ind.indication)).await;
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    peer.send_to(b"in", bound).await.unwrap();
    let to = ConnectionInformation::to(peer.local_addr().unwrap());
    address
        .send_datagram(&to, &b"out"[..], SendOptions::empty())
        .await
        .unwrap();
    match address.query_information(InformationClass::TransportProvider).unwrap() {
        Information::TransportProvider(p) => {
            assert_ne!(p.service_flags & service_flags::CONNECTIONLESS_MODE, 0);
            assert_eq!(p.service_flags & service_flags::CONNECTION_MODE, 0);
            assert!(p.max_datagram_size >= 65_000);
        }
        other => panic!("{other:?}"),
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match address.query_information(InformationClass::ConnectionEndpoint).unwrap() {
            Information::ConnectionEndpoint(e) if e.received_tsdus == 1 => {
                assert_eq!(e.transmitted_tsdus, 1);
                assert!(e.unreliable);
                assert!(e.receive_buffer_size > 0);
                break;
            }
            _ => {
                assert!(std::time::Instant::now() < deadline);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    match address.query_information(InformationClass::RemoteAddress).unwrap() {
        Information::RemoteAddress(info) => assert_eq!(info.address, TransportAddress::ip(bound)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        address.query_information(InformationClass::Connection).unwrap_err(),
        Status::INVALID_PARAMETER
    );
    let err = address
        .build_connection(to.clone(), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::NOT_SUPPORTED);
    transport.tear_down().await.unwrap();
    assert_eq!(
        address
            .send_datagram(&to, &b"x"[..], SendOptions::empty())
            .await
            .unwrap_err(),
        Status::INVALID_HANDLE
    );
    assert_eq!(address.resume_receive().unwrap_err(), Status::INVALID_HANDLE);
    // The socket is closed: its port can be bound again.
    UdpSocket::bind(bound).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_transports_carry_no_datagrams() {
    let engine = engine();
    let (_t, address) = tcp_address(&engine);
    let to = ConnectionInformation::to("127.0.0.1:9".parse::<SocketAddr>().unwrap());
    assert_eq!(
        address
            .send_datagram(&to, &b"x"[..], SendOptions::empty())
            .await
            .unwrap_err(),
        Status::NOT_SUPPORTED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_datagram_handler_loses_that_datagram_only() {
    let engine = engine();
    let (_t, _address, recorder, bound) = udp_address(&engine, |ind| {
        if ind.indication.data == b"poison" {
            panic!("the handler cannot digest this datagram");
        }
        ReceiveAnswer::take_all(&ind.indication)
    })
    .await;
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for datagram in [&b"before"[..], b"poison", b"after"] {
        peer.send_to(datagram, bound).await.unwrap();
    }
    let seen = recorder.wait_for(3).await;
    let data: Vec<Vec<u8>> = seen
        .iter()
        .map(|s| match s {
            Seen::Datagram { data, .. } => data.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(data, vec![b"before".to_vec(), b"poison".to_vec(), b"after".to_vec()]);
    // Still receiving after the panic, and the poisoned one is not repeated.
    peer.send_to(b"later", bound).await.unwrap();
    let seen = recorder.wait_for(4).await;
    assert_eq!(seen.len(), 4);
    assert!(matches!(&seen[3], Seen::Datagram { data, .. } if data == b"later"));
}

/// Asynchronous datagram sends racing the address's tear-down: every send
/// that returned PENDING completes exactly once, and before the tear-down
/// returns (the soak found completions owed by sends in flight at the
/// tear-down that never came).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagram_sends_in_flight_complete_before_the_tear_down_returns() {
    let engine = engine();
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = ConnectionInformation::to(peer.local_addr().unwrap());
    for round in 0..100u64 {
        let (_t, address, recorder, _bound) =
            udp_address(&engine, |ind| ReceiveAnswer::take_all(&ind.indication)).await;
        let senders: Vec<_> = (0..4usize)
            .map(|lane| {
                let address = address.clone();
                let to = to.clone();
                tokio::spawn(async move {
                    let mut pending = Vec::new();
                    for n in 0.. {
                        let context = lane * 1_000_000 + n;
                        let status = address
                            .submit_datagram(&to, vec![0u8; 512], SendOptions::empty(), context)
                            .await;
                        if status != Status::PENDING {
                            assert_eq!(status, Status::INVALID_HANDLE, "lane {lane}");
                            return pending;
                        }
                        pending.push(context);
                        if n % 8 == 7 {
                            tokio::task::yield_now().await;
                        }
                    }
                    unreachable!()
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_micros(50 + round * 10)).await;
        address.tear_down().await.unwrap();
        let completed_at_tear_down = recorder.seen();
        let mut pending: Vec<usize> = Vec::new();
        for sender in senders {
            pending.extend(sender.await.unwrap());
        }
        let mut completed: Vec<usize> = completed_at_tear_down
            .iter()
            .map(|seen| match seen {
                Seen::SendComplete { context, .. } => *context,
                other => panic!("only completions expected, got {other:?}"),
            })
            .collect();
        pending.sort_unstable();
        completed.sort_unstable();
        assert_eq!(
            completed, pending,
            "round {round}: each PENDING send completes once, before the tear-down returns"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(
            recorder.seen().len(),
            completed_at_tear_down.len(),
            "nothing after the tear-down"
        );
    }
}

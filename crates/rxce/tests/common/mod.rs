//! Shared pieces of the integration tests: a handler that records every
//! indication, and small peers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rxce::{
    ConnectionEventHandler, ConnectionInformation, DisconnectFlags, Engine, EngineConfig, Indication, NoEvents,
    ReceiveAnswer, ReceiveBuffer, ReceiveFlags, Status, Transport, TransportAddress, Vc,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Everything a connection handler was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Received {
        vc: u64,
        data: Vec<u8>,
        available: usize,
        flags: ReceiveFlags,
    },
    DataReady {
        vc: u64,
        data: Vec<u8>,
        copied: usize,
        status: Status,
    },
    Disconnect {
        vc: u64,
        flags: DisconnectFlags,
        status: Status,
    },
    Error {
        vc: u64,
        status: Status,
    },
    SendSubmitted {
        vc: u64,
        context: usize,
        status: Status,
    },
    SendComplete {
        vc: u64,
        context: usize,
        status: Status,
        bytes: usize,
    },
    SendPossible {
        vc: u64,
        bytes: usize,
    },
    Reconnected {
        lost: u64,
        restored: u64,
    },
    ReconnectFailed {
        lost: u64,
        status: Status,
    },
}

type AnswerFn = dyn FnMut(&Vc, &Indication<'_>) -> ReceiveAnswer + Send;

/// A connection handler that records every call and answers receives with a
/// closure (take everything by default). `stream` rebuilds, in order, the
/// bytes the handler consumed (taken bytes and filled client buffers).
pub struct Recorder {
    events: Mutex<Vec<Event>>,
    stream: Mutex<Vec<u8>>,
    answer: Mutex<Box<AnswerFn>>,
    notify: tokio::sync::Notify,
    /// VCs the engine rebuilt (reconnect policy).
    pub restored: Mutex<Vec<Vc>>,
}

pub fn bytes_of(buffer: Box<dyn ReceiveBuffer>, copied: usize) -> Vec<u8> {
    let any: Box<dyn std::any::Any + Send> = buffer;
    match any.downcast::<Vec<u8>>() {
        Ok(v) => v[..copied].to_vec(),
        Err(any) => match any.downcast::<rxce::BufferChain>() {
            Ok(chain) => chain.prefix(copied),
            Err(_) => panic!("a client buffer of an unknown type"),
        },
    }
}

impl Recorder {
    pub fn taking_all() -> Arc<Recorder> {
        Recorder::answering(|_, ind| ReceiveAnswer::take_all(ind))
    }

    pub fn answering(answer: impl FnMut(&Vc, &Indication<'_>) -> ReceiveAnswer + Send + 'static) -> Arc<Recorder> {
        Arc::new(Recorder {
            events: Mutex::new(Vec::new()),
            stream: Mutex::new(Vec::new()),
            answer: Mutex::new(Box::new(answer)),
            notify: tokio::sync::Notify::new(),
            restored: Mutex::new(Vec::new()),
        })
    }

    pub fn set_answer(&self, answer: impl FnMut(&Vc, &Indication<'_>) -> ReceiveAnswer + Send + 'static) {
        *self.answer.lock().unwrap() = Box::new(answer);
    }

    fn push(&self, event: Event) {
        self.events.lock().unwrap().push(event);
        self.notify.notify_waiters();
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// The bytes the handler consumed, in order.
    pub fn stream(&self) -> Vec<u8> {
        self.stream.lock().unwrap().clone()
    }

    pub fn disconnects(&self) -> Vec<(DisconnectFlags, Status)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Disconnect { flags, status, .. } => Some((flags, status)),
                _ => None,
            })
            .collect()
    }

    pub fn completions(&self) -> Vec<(usize, Status, usize)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::SendComplete {
                    context, status, bytes, ..
                } => Some((context, status, bytes)),
                _ => None,
            })
            .collect()
    }

    /// Waits (at most 10 s) until `done` holds for the events so far.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let events = self.events.lock().unwrap();
                if done(&events) {
                    return events.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {what}; events: {:#?}", self.events());
            }
        }
    }

    /// Waits until the rebuilt stream holds `n` bytes.
    pub async fn wait_for_bytes(&self, n: usize) -> Vec<u8> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let stream = self.stream.lock().unwrap();
                if stream.len() >= n {
                    return stream.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out waiting for {n} bytes; got {}; events: {:#?}",
                    self.stream().len(),
                    self.events().last()
                );
            }
        }
    }
}

impl ConnectionEventHandler for Recorder {
    fn disconnect(&self, vc: &Vc, flags: DisconnectFlags, status: Status) {
        self.push(Event::Disconnect {
            vc: vc.id(),
            flags,
            status,
        });
    }

    fn error(&self, vc: &Vc, status: Status) {
        self.push(Event::Error { vc: vc.id(), status });
    }

    fn receive(&self, vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        let answer = (self.answer.lock().unwrap())(vc, indication);
        let taken = match &answer {
            ReceiveAnswer::Taken(n) => (*n).min(indication.data.len()),
            ReceiveAnswer::MoreProcessingRequired { taken, .. } => (*taken).min(indication.data.len()),
            ReceiveAnswer::NotAccepted => 0,
        };
        self.stream.lock().unwrap().extend_from_slice(&indication.data[..taken]);
        self.push(Event::Received {
            vc: vc.id(),
            data: indication.data.to_vec(),
            available: indication.available,
            flags: indication.flags,
        });
        answer
    }

    fn data_ready(&self, vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        let data = bytes_of(buffer, copied);
        self.stream.lock().unwrap().extend_from_slice(&data);
        self.push(Event::DataReady {
            vc: vc.id(),
            data,
            copied,
            status,
        });
    }

    fn send_possible(&self, vc: &Vc, bytes: usize) {
        self.push(Event::SendPossible { vc: vc.id(), bytes });
    }

    fn send_complete(&self, vc: &Vc, context: usize, status: Status, bytes: usize) {
        self.push(Event::SendComplete {
            vc: vc.id(),
            context,
            status,
            bytes,
        });
    }

    fn reconnected(&self, lost: &Vc, restored: &Vc) {
        self.restored.lock().unwrap().push(restored.clone());
        self.push(Event::Reconnected {
            lost: lost.id(),
            restored: restored.id(),
        });
    }

    fn reconnect_failed(&self, lost: &Vc, status: Status) {
        self.push(Event::ReconnectFailed {
            lost: lost.id(),
            status,
        });
    }

    fn send_submitted(&self, vc: &Vc, context: usize, status: Status) {
        self.push(Event::SendSubmitted {
            vc: vc.id(),
            context,
            status,
        });
    }
}

/// An engine on the test's runtime.
pub fn engine() -> Engine {
    engine_with(EngineConfig::default())
}

pub fn engine_with(config: EngineConfig) -> Engine {
    Engine::with_runtime(tokio::runtime::Handle::current(), config).expect("a valid configuration")
}

/// A tcp transport with an address on any IPv4 address.
pub fn tcp_address(engine: &Engine) -> (Transport, rxce::Address) {
    let transport = engine.build_transport("tcp", 0).unwrap();
    let address = transport
        .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
        .unwrap();
    (transport, address)
}

/// A memory transport with an address named `name`.
pub fn memory_address(engine: &Engine, name: &str) -> (Transport, rxce::Address) {
    let transport = engine.build_transport("memory", 0).unwrap();
    let address = transport
        .build_address(TransportAddress::memory(name), Arc::new(NoEvents))
        .unwrap();
    (transport, address)
}

pub fn to(addr: SocketAddr) -> ConnectionInformation {
    ConnectionInformation::to(addr)
}

/// A loopback TCP peer that echoes every byte of every connection.
pub async fn tcp_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// A loopback TCP listener; the test accepts from it.
pub async fn tcp_listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Reads exactly `n` bytes from `r`, within 10 s.
pub async fn read_n(r: &mut (impl AsyncReadExt + Unpin), n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(Duration::from_secs(10), r.read_exact(&mut buf))
        .await
        .expect("the peer got its bytes in time")
        .expect("the peer could read");
    buf
}

/// Reads until the end, within 10 s.
pub async fn read_to_end(r: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), r.read_to_end(&mut buf))
        .await
        .expect("the peer saw the end in time")
        .expect("the peer could read");
    buf
}

/// Writes all of `data`, within 10 s.
pub async fn write_all(w: &mut (impl AsyncWriteExt + Unpin), data: &[u8]) {
    tokio::time::timeout(Duration::from_secs(10), w.write_all(data))
        .await
        .expect("the peer wrote in time")
        .expect("the peer could write");
}

/// A deterministic test pattern.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A connection and its VC over `transport` (`tcp` or `tcp+smb`) to a
/// loopback listener, and the peer's end of it.
pub async fn tcp_vc(
    engine: &Engine,
    transport: &str,
    handler: Arc<dyn ConnectionEventHandler>,
) -> (rxce::Connection, Vc, tokio::net::TcpStream) {
    let (listener, addr) = tcp_listener().await;
    let address = engine
        .build_transport(transport, 0)
        .unwrap()
        .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
        .unwrap();
    let (connection, vc) = address.build_connection(to(addr), handler).await.unwrap();
    let (peer, _) = listener.accept().await.unwrap();
    (connection, vc, peer)
}

/// A connection and its VC over the memory transport, and the peer's end.
pub async fn memory_vc(
    engine: &Engine,
    handler: Arc<dyn ConnectionEventHandler>,
) -> (rxce::Connection, Vc, rxce::provider::MemoryStream) {
    let mut listener = engine.memory_listen("server").unwrap();
    let (_transport, address) = memory_address(engine, "client");
    let remote = ConnectionInformation::to(TransportAddress::memory("server"));
    let (connection, vc) = address.build_connection(remote, handler).await.unwrap();
    let peer = listener.accept().await.unwrap();
    (connection, vc, peer)
}

//! A connection's indications as messages to await, for code that does not
//! want callbacks: [`Inbox::new`] gives the handler to build the connection
//! with and the [`Inbox`] to [`recv`](Inbox::recv) from.
//!
//! On a framed transport (`tcp+smb`, `netbt`, `tcp+rpc`, `tcp+9p`) each
//! item is one whole message: a message longer than the lookahead whose
//! length is known (every framing but RPC's) is received straight into its
//! own buffer (MORE_PROCESSING_REQUIRED), so it is copied once, as the
//! callback path would; an RPC record, whose length is known only at its
//! last fragment, is gathered piece by piece until the indication marked
//! ENTIRE_MESSAGE. On a bare stream each item is what one indication
//! carried. The inbox holds at most its byte limit: beyond it, indications
//! are not accepted (the VC stops reading, and the peer feels the
//! backpressure) until `recv` makes room, which resumes the VC.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::buffer::ReceiveBuffer;
use crate::handler::{ConnectionEventHandler, Indication, ReceiveAnswer};
use crate::status::Status;
use crate::tdi::{DisconnectFlags, ReceiveFlags};
use crate::vc::Vc;

/// What an [`Inbox`] gives.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A message (framed transports) or the bytes of one indication (bare
    /// streams) from `vc`.
    Data {
        /// The VC it came on.
        vc: Vc,
        /// The bytes.
        bytes: Bytes,
    },
    /// `vc` was disconnected (its last delivery): RELEASE for an orderly
    /// end, ABORT otherwise, with the status saying why.
    Disconnected {
        /// The VC.
        vc: Vc,
        /// RELEASE or ABORT.
        flags: DisconnectFlags,
        /// Why.
        status: Status,
    },
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Delivery>,
    /// Bytes of the data items queued.
    bytes: usize,
    /// VCs that were refused for want of room, to resume once there is.
    paused: Vec<Vc>,
    /// The start of a message still coming on a VC (RPC records longer
    /// than the lookahead), and the buffer a VC's message is filling.
    partial: Vec<(Vc, Vec<u8>)>,
}

impl Queue {
    fn take_partial(&mut self, vc: &Vc) -> Option<Vec<u8>> {
        let at = self.partial.iter().position(|(v, _)| v == vc)?;
        Some(self.partial.swap_remove(at).1)
    }
}

struct Shared {
    limit: usize,
    queue: Mutex<Queue>,
    ready: Notify,
    /// The handler is gone: nothing more will come.
    closed: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, delivery: Delivery) {
        let mut queue = self.lock();
        if let Delivery::Data { bytes, .. } = &delivery {
            queue.bytes += bytes.len();
        }
        queue.items.push_back(delivery);
        drop(queue);
        self.ready.notify_one();
    }
}

/// A connection's indications awaited as messages, for code that does not
/// want callbacks: [`Inbox::new`] gives the handler to build the connection
/// with and the inbox to [`recv`](Inbox::recv) from.
///
/// On a framed transport (`tcp+smb`, `netbt`) each item is one whole
/// message (one longer than the lookahead is received straight into its
/// own buffer); on a bare stream, what one indication carried. The inbox
/// holds at most its byte limit: beyond it indications are not accepted
/// (the VC stops reading and the peer feels the backpressure) until `recv`
/// makes room, which resumes the VC.
///
/// ```
/// use std::sync::Arc;
/// use rxce::{ConnectionInformation, Delivery, Engine, EngineConfig, Inbox, NoEvents, SendOptions, TransportAddress};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let engine = Engine::new(EngineConfig::default())?;
/// engine.runtime().clone().block_on(async {
///     let mut listener = engine.memory_listen("echo")?;
///     tokio::spawn(async move {
///         let mut peer = listener.accept().await.unwrap();
///         let mut buf = [0u8; 4];
///         peer.read_exact(&mut buf).await.unwrap();
///         peer.write_all(&buf).await.unwrap();
///     });
///     let transport = engine.build_transport("memory", 0)?;
///     let address = transport.build_address(TransportAddress::memory("me"), Arc::new(NoEvents))?;
///     let (handler, mut inbox) = Inbox::new(1 << 20);
///     let (connection, vc) = address
///         .build_connection(ConnectionInformation::to(TransportAddress::memory("echo")), handler)
///         .await?;
///     vc.send(&b"ping"[..], SendOptions::empty()).await?;
///     match inbox.recv().await {
///         Some(Delivery::Data { bytes, .. }) => assert_eq!(&bytes[..], b"ping"),
///         other => panic!("{other:?}"),
///     }
///     connection.tear_down().await?;
///     transport.tear_down().await
/// })?;
/// # Ok::<(), rxce::Status>(())
/// ```
pub struct Inbox {
    shared: Arc<Shared>,
}

/// The handler side of an [`Inbox`]: pass it to the connection build.
pub struct InboxHandler {
    shared: Arc<Shared>,
}

impl Inbox {
    /// A handler to build a connection with, and the inbox its VCs deliver
    /// to, holding at most `limit` bytes (a single message over the limit
    /// still passes when the inbox is empty).
    pub fn new(limit: usize) -> (Arc<InboxHandler>, Inbox) {
        let shared = Arc::new(Shared {
            limit,
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        (Arc::new(InboxHandler { shared: shared.clone() }), Inbox { shared })
    }

    /// The next delivery, waiting for one. `None` once the handler is gone
    /// (its connection was torn down and dropped) and nothing is left.
    pub async fn recv(&mut self) -> Option<Delivery> {
        let shared = self.shared.clone();
        loop {
            let notified = shared.ready.notified();
            if let Some(delivery) = self.try_recv() {
                return Some(delivery);
            }
            if shared.closed.load(std::sync::atomic::Ordering::Acquire) {
                return self.try_recv();
            }
            notified.await;
        }
    }

    /// Bytes of data waiting in the inbox.
    pub fn queued_bytes(&self) -> usize {
        self.shared.lock().bytes
    }

    /// The next delivery if one is there.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        let (delivery, resume) = {
            let mut queue = self.shared.lock();
            let delivery = queue.items.pop_front()?;
            if let Delivery::Data { bytes, .. } = &delivery {
                queue.bytes -= bytes.len();
            }
            let resume = if queue.bytes < self.shared.limit {
                std::mem::take(&mut queue.paused)
            } else {
                Vec::new()
            };
            (delivery, resume)
        };
        for vc in resume {
            // A VC torn down meanwhile has nothing left to resume.
            let _ = vc.resume_receive();
        }
        Some(delivery)
    }
}

impl Drop for InboxHandler {
    fn drop(&mut self) {
        self.shared.closed.store(true, std::sync::atomic::Ordering::Release);
        self.shared.ready.notify_one();
    }
}

impl ConnectionEventHandler for InboxHandler {
    fn receive(&self, vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        {
            let mut queue = self.shared.lock();
            if queue.bytes > 0 && queue.bytes + indication.available > self.shared.limit {
                if !queue.paused.contains(vc) {
                    queue.paused.push(vc.clone());
                }
                return ReceiveAnswer::NotAccepted;
            }
        }
        let framing = vc.framing();
        let entire = indication.flags.contains(ReceiveFlags::ENTIRE_MESSAGE);
        if framing.is_none() || entire {
            // A bare stream's indication, or the (end of a) message.
            let start = self.shared.lock().take_partial(vc);
            let bytes = match start {
                Some(mut start) => {
                    start.extend_from_slice(indication.data);
                    Bytes::from(start)
                }
                None => Bytes::copy_from_slice(indication.data),
            };
            self.shared.push(Delivery::Data { vc: vc.clone(), bytes });
            return ReceiveAnswer::take_all(indication);
        }
        if framing.and_then(|f| f.fragment_size()).is_some() {
            // An RPC record: `available` counts only the fragments
            // announced so far, so the record's end is the indication
            // marked ENTIRE_MESSAGE. Its pieces are kept until then.
            let mut queue = self.shared.lock();
            match queue.partial.iter_mut().find(|(v, _)| v == vc) {
                Some((_, start)) => start.extend_from_slice(indication.data),
                None => queue.partial.push((vc.clone(), indication.data.to_vec())),
            }
            return ReceiveAnswer::take_all(indication);
        }
        // The rest of a long message (its length is known) goes straight
        // into one buffer.
        let size = indication.available;
        ReceiveAnswer::MoreProcessingRequired {
            taken: 0,
            buffer: Box::new(vec![0u8; size]),
            size,
        }
    }

    fn data_ready(&self, vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        let any: Box<dyn std::any::Any> = buffer;
        let Ok(mut bytes) = any.downcast::<Vec<u8>>() else {
            return;
        };
        if status == Status::SUCCESS {
            bytes.truncate(copied);
            self.shared.push(Delivery::Data {
                vc: vc.clone(),
                bytes: Bytes::from(*bytes),
            });
        }
    }

    fn disconnect(&self, vc: &Vc, flags: DisconnectFlags, status: Status) {
        // A message cut by the disconnect is not delivered.
        drop(self.shared.lock().take_partial(vc));
        self.shared.push(Delivery::Disconnected {
            vc: vc.clone(),
            flags,
            status,
        });
    }
}

//! The soak's event handlers: every indication is checked against the
//! books, and every receive indication answered with one of the three
//! answers, chosen by the VC's own seeded draw.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use rxce::{
    Address, AddressEventHandler, BufferChain, ConnectionEventHandler, DatagramIndication, DisconnectFlags, Indication,
    ReceiveAnswer, ReceiveBuffer, ReceiveFlags, Status, Vc,
};

use super::books::{lock, Books, Entry};
use super::stats::Source;

/// The handler of every connection and address of the soak.
pub struct SoakHandler {
    books: Arc<Books>,
}

impl SoakHandler {
    /// A handler writing into `books`.
    pub fn new(books: Arc<Books>) -> Arc<SoakHandler> {
        Arc::new(SoakHandler { books })
    }

    /// Checks that `vc` may still indicate; runs `then` on its entry.
    fn on<R>(&self, vc: &Vc, what: &str, then: impl FnOnce(&Books, &mut Entry) -> R) -> R {
        let entry = self.books.vc(vc);
        let mut entry = lock(&entry);
        if let Err(broken) = entry.ledger.check_live(what) {
            self.books.violation(vc.id(), broken);
        }
        then(&self.books, &mut entry)
    }
}

/// Resumes `vc` a little later, as a client that held bytes would.
fn resume_later(vc: &Vc, delay: Duration) {
    let vc = vc.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = vc.resume_receive();
    });
}

/// A client buffer of `size` bytes or a little more: one piece, or a
/// chain of up to three.
fn client_buffer(rng: &mut fastrand::Rng, size: usize) -> Box<dyn ReceiveBuffer> {
    let capacity = size + rng.usize(0..=16);
    if capacity < 3 || rng.bool() {
        return Box::new(vec![0u8; capacity]);
    }
    let first = rng.usize(1..capacity - 1);
    let second = rng.usize(1..capacity - first);
    Box::new(BufferChain::with_lengths(&[first, second, capacity - first - second]))
}

/// The first `n` bytes of a buffer handed back by data-ready.
fn filled(buffer: Box<dyn ReceiveBuffer>, n: usize) -> Vec<u8> {
    let any: Box<dyn Any> = buffer;
    match any.downcast::<Vec<u8>>() {
        Ok(v) => v[..n.min(v.len())].to_vec(),
        Err(any) => match any.downcast::<BufferChain>() {
            Ok(chain) => chain.prefix(n),
            Err(_) => Vec::new(),
        },
    }
}

/// How a receive indication is answered.
enum Choice {
    Take(usize),
    Fill { taken: usize, size: usize },
    Hold,
}

fn choose(rng: &mut fastrand::Rng, flags: ReceiveFlags, len: usize, available: usize) -> Choice {
    // What comes again at the peer's end is taken: a declined byte would be
    // the client's loss, not the engine's.
    if flags.contains(ReceiveFlags::FORCE_INDICATION) {
        return Choice::Take(len);
    }
    match rng.u8(0..100) {
        0..=54 => Choice::Take(len),
        55..=64 if len > 1 => Choice::Take(rng.usize(1..len)),
        65..=69 => Choice::Take(0),
        70..=84 => {
            let taken = rng.usize(0..=len);
            // Only bytes known to be there: a fill waiting for bytes the
            // echo will never send would look like a dead peer.
            let rest = available - taken;
            if rest == 0 {
                Choice::Take(len)
            } else {
                Choice::Fill {
                    taken,
                    size: rng.usize(1..=rest),
                }
            }
        }
        _ => Choice::Hold,
    }
}

impl ConnectionEventHandler for SoakHandler {
    fn receive(&self, vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        self.on(vc, "a receive indication", |books, entry| {
            let data = indication.data;
            if !entry.quarantined {
                if let Err(broken) = entry.ledger.indication(data.len(), indication.available) {
                    books.data_violation(entry, broken);
                }
            }
            let choice = choose(
                &mut entry.ledger.rng,
                indication.flags,
                data.len(),
                indication.available,
            );
            let (taken, answer) = match choice {
                Choice::Take(n) => {
                    if n == 0 {
                        resume_later(vc, Duration::from_millis(entry.ledger.rng.u64(1..=20)));
                    }
                    (n, ReceiveAnswer::Taken(n))
                }
                Choice::Fill { taken, size } => {
                    let buffer = client_buffer(&mut entry.ledger.rng, size);
                    (taken, ReceiveAnswer::MoreProcessingRequired { taken, buffer, size })
                }
                Choice::Hold => {
                    resume_later(vc, Duration::from_millis(entry.ledger.rng.u64(1..=20)));
                    (0, ReceiveAnswer::NotAccepted)
                }
            };
            books.stats.received(taken);
            if !entry.quarantined {
                if let Err(broken) = entry.ledger.consume(&data[..taken]) {
                    books.data_violation(entry, broken);
                }
            }
            answer
        })
    }

    fn data_ready(&self, vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        self.on(vc, "a data-ready indication", |books, entry| {
            let bytes = filled(buffer, copied);
            if bytes.len() != copied {
                books.violation(
                    vc.id(),
                    format!("data-ready says {copied} bytes; the buffer holds {}", bytes.len()),
                );
            }
            books.stats.received(bytes.len());
            if !status.is_success() {
                entry.ledger.send_failed();
            }
            if !entry.quarantined {
                if let Err(broken) = entry.ledger.consume(&bytes) {
                    books.data_violation(entry, broken);
                }
            }
        });
    }

    fn disconnect(&self, vc: &Vc, flags: DisconnectFlags, status: Status) {
        self.books.stats.outcome(Source::Disconnect, &status);
        // The ends the mix causes are counted; any other is worth its text.
        let usual = [
            Status::SUCCESS,
            Status::REMOTE_DISCONNECT,
            Status::CONNECTION_RESET,
            Status::IO_TIMEOUT,
        ];
        if !usual.contains(&status) {
            tracing::warn!(vc = vc.id(), ?flags, "an unusual disconnect: {status}");
        }
        self.on(vc, "a disconnect indication", |books, entry| {
            if let Err(broken) = entry.ledger.disconnected(flags, status) {
                books.violation(vc.id(), broken);
            }
        });
    }

    fn error(&self, vc: &Vc, _status: Status) {
        self.on(vc, "an error indication", |_, _| ());
    }

    fn send_possible(&self, vc: &Vc, _bytes_available: usize) {
        self.on(vc, "a send-possible indication", |_, _| ());
    }

    fn send_submitted(&self, vc: &Vc, completion_context: usize, _status: Status) {
        self.on(vc, "send-submitted", |books, entry| {
            if let Err(broken) = entry.ledger.submitted(completion_context) {
                books.violation(vc.id(), broken);
            }
        });
    }

    fn send_complete(&self, vc: &Vc, completion_context: usize, status: Status, _bytes: usize) {
        self.books.stats.outcome(Source::Completion, &status);
        self.on(vc, "send-complete", |books, entry| {
            if let Err(broken) = entry.ledger.completed(completion_context, &status) {
                books.violation(vc.id(), broken);
            }
        });
    }

    fn reconnected(&self, lost: &Vc, restored: &Vc) {
        self.books.stats.reconnected();
        let content = self.on(lost, "reconnected", |books, entry| {
            if let Err(broken) = entry.ledger.rebuild_ended("reconnected") {
                books.violation(lost.id(), broken);
            }
            entry.ledger.fresh_content()
        });
        self.books.register(restored, content);
        self.books.replaced(lost, restored);
    }

    fn reconnect_failed(&self, lost: &Vc, status: Status) {
        self.on(lost, "reconnect-failed", |books, entry| {
            if let Err(broken) = entry.ledger.rebuild_ended("reconnect-failed") {
                books.violation(lost.id(), broken);
            }
            if status.is_success() {
                books.violation(lost.id(), "reconnect-failed with STATUS_SUCCESS");
            }
        });
    }
}

impl AddressEventHandler for SoakHandler {
    fn receive_datagram(&self, address: &Address, indication: &DatagramIndication<'_>) -> ReceiveAnswer {
        let ledger = self.books.datagram(address.id(), address.transport().id());
        let mut ledger = lock(&ledger);
        if let Err(broken) = ledger.check_live("a datagram indication") {
            self.books.violation(address.id(), broken);
        }
        let data = indication.indication.data;
        let available = indication.indication.available;
        match ledger.rng.u8(0..10) {
            0 | 1 if !data.is_empty() && available >= data.len() => {
                let taken = ledger.rng.usize(0..data.len());
                ledger.begin_fill(&data[..taken]);
                let size = available - taken;
                let buffer = client_buffer(&mut ledger.rng, size);
                ReceiveAnswer::MoreProcessingRequired { taken, buffer, size }
            }
            2 => {
                let address = address.clone();
                let delay = Duration::from_millis(ledger.rng.u64(1..=20));
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = address.resume_receive();
                });
                ReceiveAnswer::NotAccepted
            }
            _ => {
                if let Err(broken) = ledger.received(data) {
                    self.books.violation(address.id(), broken);
                }
                ReceiveAnswer::take_all(&indication.indication)
            }
        }
    }

    fn data_ready(&self, address: &Address, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        let ledger = self.books.datagram(address.id(), address.transport().id());
        let mut ledger = lock(&ledger);
        if let Err(broken) = ledger.check_live("a datagram data-ready") {
            self.books.violation(address.id(), broken);
        }
        if let Err(broken) = ledger.end_fill(&filled(buffer, copied), status) {
            self.books.violation(address.id(), broken);
        }
    }

    fn send_complete(&self, address: &Address, completion_context: usize, status: Status) {
        self.books.stats.outcome(Source::Completion, &status);
        let ledger = self.books.datagram(address.id(), address.transport().id());
        let mut ledger = lock(&ledger);
        if let Err(broken) = ledger.check_live("a datagram send-complete") {
            self.books.violation(address.id(), broken);
        }
        if let Err(broken) = ledger.completed(completion_context) {
            self.books.violation(address.id(), broken);
        }
    }

    fn error(&self, address: &Address, _status: Status) {
        let ledger = self.books.datagram(address.id(), address.transport().id());
        let live = lock(&ledger).check_live("an address error indication");
        if let Err(broken) = live {
            self.books.violation(address.id(), broken);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_is_chosen_and_fills_ask_only_for_bytes_that_are_there() {
        let mut rng = fastrand::Rng::with_seed(5);
        let (mut take_all, mut take_some, mut take_none, mut fills, mut holds) = (0, 0, 0, 0, 0);
        for _ in 0..10_000 {
            match choose(&mut rng, ReceiveFlags::NORMAL, 100, 150) {
                Choice::Take(100) => take_all += 1,
                Choice::Take(0) => take_none += 1,
                Choice::Take(_) => take_some += 1,
                Choice::Fill { taken, size } => {
                    assert!(taken <= 100 && size >= 1 && taken + size <= 150);
                    fills += 1;
                }
                Choice::Hold => holds += 1,
            }
        }
        assert!([take_all, take_some, take_none, fills, holds].iter().all(|&n| n > 100));
        for _ in 0..100 {
            assert!(matches!(
                choose(&mut rng, ReceiveFlags::FORCE_INDICATION, 7, 7),
                Choice::Take(7)
            ));
        }
    }

    #[test]
    fn a_client_buffer_holds_at_least_what_is_asked_and_gives_it_back() {
        let mut rng = fastrand::Rng::with_seed(1);
        for size in 1..200 {
            let mut buffer = client_buffer(&mut rng, size);
            assert!(buffer.capacity() >= size);
            let mut offset = 0;
            while offset < size {
                let segment = buffer.segment_mut(offset);
                let n = segment.len().min(size - offset);
                for (i, b) in segment[..n].iter_mut().enumerate() {
                    *b = (offset + i) as u8;
                }
                offset += n;
            }
            let expected: Vec<u8> = (0..size).map(|i| i as u8).collect();
            assert_eq!(filled(buffer, size), expected);
        }
    }
}

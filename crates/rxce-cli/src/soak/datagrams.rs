//! One datagram address's books, sans I/O: every datagram carries its
//! sequence number and a pattern keyed by it, so an echoed datagram is
//! checked whole; datagrams may be lost (UDP), never altered or doubled.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rxce::Status;

use super::pattern;

/// How long an unanswered datagram is waited for before it counts as lost.
pub const LOST_AFTER: Duration = Duration::from_secs(30);

/// The books of one `udp` address.
#[derive(Debug)]
pub struct DatagramLedger {
    /// The address's id.
    pub address: u64,
    /// Its transport's id.
    pub transport: u64,
    key: u64,
    next_seq: u64,
    outstanding: HashMap<u64, (usize, Instant)>,
    /// A datagram being received into a client buffer: its first bytes.
    partial: Option<Vec<u8>>,
    pending: HashSet<usize>,
    torn_down: bool,
    /// Datagrams echoed intact.
    pub echoed: u64,
    /// Datagrams given up on.
    pub lost: u64,
    /// The address's own choices (receive answers).
    pub rng: fastrand::Rng,
}

impl DatagramLedger {
    /// Books for address `address` of transport `transport`.
    pub fn new(address: u64, transport: u64, key: u64) -> DatagramLedger {
        DatagramLedger {
            address,
            transport,
            key,
            next_seq: 0,
            outstanding: HashMap::new(),
            partial: None,
            pending: HashSet::new(),
            torn_down: false,
            echoed: 0,
            lost: 0,
            rng: fastrand::Rng::with_seed(key),
        }
    }

    /// The next datagram of `size` bytes (at least the 8 of its sequence
    /// number) and that number.
    pub fn next_datagram(&mut self, size: usize, now: Instant) -> (u64, Vec<u8>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let size = size.max(8);
        let mut bytes = seq.to_le_bytes().to_vec();
        bytes.extend_from_slice(&pattern::bytes(self.key ^ seq, 0, size - 8));
        self.outstanding.insert(seq, (size, now));
        (seq, bytes)
    }

    /// Datagram `seq` was not sent.
    pub fn not_sent(&mut self, seq: u64) {
        self.outstanding.remove(&seq);
    }

    /// The first `taken` bytes of a datagram were taken and the rest goes
    /// into a client buffer.
    pub fn begin_fill(&mut self, taken: &[u8]) {
        self.partial = Some(taken.to_vec());
    }

    /// The client buffer of [`begin_fill`](Self::begin_fill) came back
    /// with `rest` copied into it and `status`. A datagram whose fill ended
    /// with an error status (the address torn down while it was indicated)
    /// is accounted for by that status: what did arrive must still be the
    /// start of a datagram sent, and it counts as lost.
    pub fn end_fill(&mut self, rest: &[u8], status: Status) -> Result<(), String> {
        let mut whole = self
            .partial
            .take()
            .ok_or("a datagram buffer came back that was never given")?;
        whole.extend_from_slice(rest);
        if status.is_success() {
            return self.received(&whole);
        }
        // Fewer than 8 bytes name no datagram: it expires as lost.
        let Some(seq) = whole
            .get(..8)
            .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        else {
            return Ok(());
        };
        let Some((size, _)) = self.outstanding.remove(&seq) else {
            return Err(format!("datagram {seq} came back twice, or was never sent ({status})"));
        };
        if whole.len() > size {
            return Err(format!(
                "datagram {seq} came back with {} bytes, more than its {size}",
                whole.len()
            ));
        }
        if let Some(at) = pattern::first_difference(self.key ^ seq, 0, &whole[8..]) {
            return Err(format!("byte {} of datagram {seq} differs from what was sent", at + 8));
        }
        self.lost += 1;
        Ok(())
    }

    /// A whole echoed datagram.
    pub fn received(&mut self, data: &[u8]) -> Result<(), String> {
        let Some(seq) = data
            .get(..8)
            .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        else {
            return Err(format!(
                "a {}-byte datagram came back; every one sent has 8 or more",
                data.len()
            ));
        };
        let Some((size, _)) = self.outstanding.remove(&seq) else {
            return Err(format!("datagram {seq} came back twice, or was never sent"));
        };
        if data.len() != size {
            return Err(format!(
                "datagram {seq} came back with {} of its {size} bytes",
                data.len()
            ));
        }
        if let Some(at) = pattern::first_difference(self.key ^ seq, 0, &data[8..]) {
            return Err(format!("byte {} of datagram {seq} differs from what was sent", at + 8));
        }
        self.echoed += 1;
        Ok(())
    }

    /// Counts datagrams unanswered for [`LOST_AFTER`] as lost.
    pub fn expire(&mut self, now: Instant) {
        let before = self.outstanding.len();
        self.outstanding
            .retain(|_, (_, sent)| now.saturating_duration_since(*sent) < LOST_AFTER);
        self.lost += (before - self.outstanding.len()) as u64;
    }

    /// An asynchronous datagram send with `context` is about to be made.
    pub fn submit(&mut self, context: usize) {
        self.pending.insert(context);
    }

    /// Its submission returned a status other than PENDING: no completion
    /// may come.
    pub fn refused(&mut self, context: usize) -> Result<(), String> {
        if self.pending.remove(&context) {
            Ok(())
        } else {
            Err(format!("datagram send {context} was refused but completed"))
        }
    }

    /// send-complete for `context`.
    pub fn completed(&mut self, context: usize) -> Result<(), String> {
        if self.pending.remove(&context) {
            Ok(())
        } else {
            Err(format!(
                "datagram send {context} completed twice, or was never submitted"
            ))
        }
    }

    /// Fails once the address's tear-down returned.
    pub fn check_live(&self, what: &str) -> Result<(), String> {
        if self.torn_down {
            return Err(format!(
                "{what} after the tear-down of address {} returned",
                self.address
            ));
        }
        Ok(())
    }

    /// True once the address's tear-down (or its transport's) returned.
    pub fn is_torn_down(&self) -> bool {
        self.torn_down
    }

    /// The address's tear-down (or its transport's) returned.
    pub fn torn_down(&mut self) {
        self.torn_down = true;
    }

    /// What must hold once the tear-down returned: every asynchronous send
    /// completed.
    pub fn final_check(&self) -> Vec<String> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "{} asynchronous datagram sends of address {} never completed",
            self.pending.len(),
            self.address
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echoed_datagram_must_be_one_sent_whole_and_once() {
        let now = Instant::now();
        let mut ledger = DatagramLedger::new(1, 2, 3);
        let (_, first) = ledger.next_datagram(100, now);
        let (_, second) = ledger.next_datagram(3, now);
        assert_eq!(second.len(), 8, "room for the sequence number");
        ledger.received(&second).unwrap();
        ledger.begin_fill(&first[..10]);
        ledger.end_fill(&first[10..], Status::SUCCESS).unwrap();
        assert_eq!(ledger.echoed, 2);
        assert!(ledger.received(&first).unwrap_err().contains("twice"));
        let (_, mut third) = ledger.next_datagram(50, now);
        third[20] ^= 1;
        assert!(ledger.received(&third).unwrap_err().contains("byte 20"));
        let (_, fourth) = ledger.next_datagram(50, now);
        assert!(ledger.received(&fourth[..49]).unwrap_err().contains("49 of its 50"));
        assert!(ledger.received(&[1, 2]).unwrap_err().contains("2-byte"));
        assert!(ledger.end_fill(&[], Status::SUCCESS).is_err());
        // A fill cut short by a reported status: the datagram is lost, not
        // broken, as long as what came is what was sent.
        let (_, fifth) = ledger.next_datagram(60, now);
        ledger.begin_fill(&fifth[..12]);
        ledger.end_fill(&[], Status::CANCELLED).unwrap();
        assert_eq!(ledger.lost, 1);
        let (_, mut sixth) = ledger.next_datagram(60, now);
        sixth[30] ^= 1;
        ledger.begin_fill(&sixth[..12]);
        let broken = ledger.end_fill(&sixth[12..40], Status::CANCELLED).unwrap_err();
        assert!(broken.contains("byte 30"), "{broken}");
        // Without a status, a short datagram is broken.
        let (_, seventh) = ledger.next_datagram(60, now);
        ledger.begin_fill(&seventh[..12]);
        assert!(ledger
            .end_fill(&seventh[12..50], Status::SUCCESS)
            .unwrap_err()
            .contains("50 of its 60"));
    }

    #[test]
    fn unanswered_datagrams_count_as_lost_after_a_while() {
        let start = Instant::now();
        let mut ledger = DatagramLedger::new(1, 2, 3);
        let (seq, _) = ledger.next_datagram(10, start);
        let _ = ledger.next_datagram(10, start);
        ledger.not_sent(seq);
        ledger.expire(start + LOST_AFTER / 2);
        assert_eq!(ledger.lost, 0);
        ledger.expire(start + LOST_AFTER);
        assert_eq!(ledger.lost, 1, "the one not sent is not lost");
    }

    #[test]
    fn each_asynchronous_datagram_completes_once() {
        let mut ledger = DatagramLedger::new(1, 2, 3);
        ledger.submit(5);
        ledger.completed(5).unwrap();
        assert!(ledger.completed(5).is_err());
        ledger.submit(6);
        ledger.refused(6).unwrap();
        assert!(ledger.refused(6).is_err());
        ledger.submit(7);
        ledger.torn_down();
        assert!(ledger.check_live("a datagram").is_err());
        assert_eq!(ledger.final_check().len(), 1);
    }
}

//! Pipelined READs of one file, as a state machine with no I/O: which READ
//! to send next (offset, length, message id, credits), as many in flight as
//! the credits and the window allow, and what to do with each answer.
//!
//! Reads are `max_read` bytes (the server's MaxReadSize, or less) while
//! credits allow; with too few credits for a full read, the pipeline waits
//! for answers to bring more, unless nothing is in flight: then it sends
//! the largest read the credits cover, so a server that grants one credit
//! at a time is still read to the end, 64 KiB per round trip. A short
//! answer sends the rest again.

use std::collections::{HashMap, VecDeque};

use crate::credits::Credits;

/// One READ to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOrder {
    /// `MessageId` of the request.
    pub message_id: u64,
    /// `CreditCharge`.
    pub credit_charge: u16,
    /// `CreditRequest`.
    pub credit_request: u16,
    /// File offset.
    pub offset: u64,
    /// Bytes asked for.
    pub length: u32,
}

/// Why an answer did not fit the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// An answer to a message id with no READ in flight.
    #[error("a READ answer for message id {0}, which has no READ in flight")]
    UnknownMessage(u64),
    /// More bytes than asked for.
    #[error("a READ answer of {got} bytes for a request of {asked}")]
    TooLong {
        /// Bytes asked for.
        asked: u32,
        /// Bytes answered.
        got: u64,
    },
    /// No byte where the file should still have some: it shrank.
    #[error("the server returned no data at offset {0}, before the file's end")]
    NoData(u64),
}

/// The READs of one file of `size` bytes.
#[derive(Debug, Clone)]
pub struct ReadPipeline {
    size: u64,
    max_read: u32,
    window: usize,
    next_offset: u64,
    again: VecDeque<(u64, u32)>,
    in_flight: HashMap<u64, (u64, u32)>,
    done: u64,
}

impl ReadPipeline {
    /// Reads of at most `max_read` bytes (at least 1), at most `window`
    /// (at least 1) in flight.
    pub fn new(size: u64, max_read: u32, window: usize) -> ReadPipeline {
        ReadPipeline {
            size,
            max_read: max_read.max(1),
            window: window.max(1),
            next_offset: 0,
            again: VecDeque::new(),
            in_flight: HashMap::new(),
            done: 0,
        }
    }

    /// The next READ to send, taking its credits, or `None` when the window
    /// is full, the credits do not allow one now, or everything is asked.
    pub fn next(&mut self, credits: &mut Credits) -> Option<ReadOrder> {
        if self.in_flight.len() >= self.window {
            return None;
        }
        let (offset, wanted) = match self.again.front() {
            Some(&(offset, len)) => (offset, len),
            None if self.next_offset < self.size => {
                let left = self.size - self.next_offset;
                (
                    self.next_offset,
                    u32::try_from(left).unwrap_or(u32::MAX).min(self.max_read),
                )
            }
            None => return None,
        };
        let limit = credits.payload_limit(wanted);
        if limit == 0 || (limit < wanted && !self.in_flight.is_empty()) {
            return None;
        }
        let taken = credits.take(credits.charge(limit))?;
        if self.again.front().is_some() {
            self.again.pop_front();
            if limit < wanted {
                self.again.push_front((offset + u64::from(limit), wanted - limit));
            }
        } else {
            self.next_offset += u64::from(limit);
        }
        self.in_flight.insert(taken.message_id, (offset, limit));
        Some(ReadOrder {
            message_id: taken.message_id,
            credit_charge: taken.credit_charge,
            credit_request: taken.credit_request,
            offset,
            length: limit,
        })
    }

    /// The READ `message_id` was answered with `got` bytes: returns the
    /// offset they belong at. A short answer queues the rest again.
    ///
    /// # Errors
    ///
    /// A [`PipelineError`] when the answer cannot be right.
    pub fn answered(&mut self, message_id: u64, got: u64) -> Result<u64, PipelineError> {
        let (offset, asked) = self
            .in_flight
            .remove(&message_id)
            .ok_or(PipelineError::UnknownMessage(message_id))?;
        if got > u64::from(asked) {
            return Err(PipelineError::TooLong { asked, got });
        }
        if got == 0 {
            return Err(PipelineError::NoData(offset));
        }
        if got < u64::from(asked) {
            // `got` < `asked` fits in a u32.
            let got32 = got as u32;
            self.again.push_back((offset + got, asked - got32));
        }
        self.done += got;
        Ok(offset)
    }

    /// The READ `message_id` failed: it leaves the window (the caller ends
    /// the transfer).
    pub fn abandon(&mut self, message_id: u64) -> Option<(u64, u32)> {
        self.in_flight.remove(&message_id)
    }

    /// True when the message id has a READ in flight.
    pub fn is_in_flight(&self, message_id: u64) -> bool {
        self.in_flight.contains_key(&message_id)
    }

    /// READs in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Bytes answered so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// True when every byte of the file was answered.
    pub fn is_complete(&self) -> bool {
        self.done >= self.size && self.in_flight.is_empty() && self.again.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_reads_while_credits_allow() {
        let mut c = Credits::new(512);
        c.set_large_mtu(true);
        c.grant(63);
        let mut p = ReadPipeline::new(5 << 20, 1 << 20, 8);
        let orders: Vec<_> = std::iter::from_fn(|| p.next(&mut c)).collect();
        // 64 credits: four 1 MiB reads of 16 credits each.
        assert_eq!(orders.len(), 4);
        assert!(orders.iter().all(|o| o.length == 1 << 20 && o.credit_charge == 16));
        assert_eq!(orders[1].message_id, 16);
        assert_eq!(c.balance(), 0);
        c.grant(16);
        assert_eq!(p.answered(orders[0].message_id, 1 << 20), Ok(0));
        let last = p.next(&mut c).unwrap();
        assert_eq!((last.offset, last.length), (4 << 20, 1 << 20));
        assert_eq!(p.next(&mut c), None);
    }

    #[test]
    fn one_credit_at_a_time_reads_64k() {
        let mut c = Credits::new(512);
        c.set_large_mtu(true);
        let mut p = ReadPipeline::new(100_000, 1 << 20, 8);
        let first = p.next(&mut c).unwrap();
        assert_eq!(first.length, 65_536);
        assert_eq!(p.next(&mut c), None);
        c.grant(1);
        assert_eq!(p.answered(first.message_id, 65_536), Ok(0));
        let second = p.next(&mut c).unwrap();
        assert_eq!((second.offset, second.length), (65_536, 100_000 - 65_536));
        assert_eq!(p.answered(second.message_id, u64::from(second.length)), Ok(65_536));
        assert!(p.is_complete());
    }

    #[test]
    fn short_answers_are_asked_again_and_bad_ones_refused() {
        let mut c = Credits::new(64);
        c.set_large_mtu(true);
        c.grant(63);
        let mut p = ReadPipeline::new(1000, 1000, 4);
        let o = p.next(&mut c).unwrap();
        assert_eq!(p.answered(o.message_id, 600), Ok(0));
        let again = p.next(&mut c).unwrap();
        assert_eq!((again.offset, again.length), (600, 400));
        assert_eq!(
            p.answered(again.message_id, 401),
            Err(PipelineError::TooLong { asked: 400, got: 401 })
        );
        assert_eq!(
            p.answered(again.message_id, 1),
            Err(PipelineError::UnknownMessage(again.message_id))
        );
        let mut q = ReadPipeline::new(10, 10, 1);
        let o = q.next(&mut c).unwrap();
        assert_eq!(q.answered(o.message_id, 0), Err(PipelineError::NoData(0)));
    }

    proptest! {
        /// Whatever the server grants and in whatever order it answers, the
        /// pipeline never spends a credit it was not granted, never reuses
        /// a message id, and asks for every byte exactly once.
        #[test]
        fn credits_and_bytes_are_exact(
            size in 0u64..3_000_000,
            max_read in 1u32..1_500_000,
            window in 1usize..6,
            grants in proptest::collection::vec(0u16..40, 1..400),
            picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..400),
        ) {
            let mut c = Credits::new(64);
            c.set_large_mtu(true);
            let mut granted: u64 = 1;
            let mut p = ReadPipeline::new(size, max_read, window);
            let mut outstanding: Vec<ReadOrder> = Vec::new();
            let mut covered = vec![false; size as usize];
            let mut ids = std::collections::HashSet::new();
            let mut step = 0;
            loop {
                while let Some(o) = p.next(&mut c) {
                    let cost = u64::from(o.credit_charge.max(1));
                    for id in o.message_id..o.message_id + cost {
                        prop_assert!(ids.insert(id), "message id {} reused", id);
                    }
                    prop_assert!(o.message_id + cost <= granted, "beyond the grant");
                    prop_assert!(u64::from(o.credit_charge) * 65_536 >= u64::from(o.length));
                    outstanding.push(o);
                }
                if outstanding.is_empty() {
                    break;
                }
                let pick = picks[step % picks.len()].index(outstanding.len());
                let o = outstanding.swap_remove(pick);
                // The server answers whole reads, or a short one now and then.
                let got = if step % 7 == 3 && o.length > 1 { o.length / 2 } else { o.length };
                let g = grants[step % grants.len()].max(u16::from(outstanding.is_empty()));
                c.grant(g);
                granted += u64::from(g);
                let offset = p.answered(o.message_id, u64::from(got)).unwrap();
                for b in &mut covered[offset as usize..(offset + u64::from(got)) as usize] {
                    prop_assert!(!*b, "byte read twice");
                    *b = true;
                }
                step += 1;
            }
            prop_assert!(p.is_complete());
            prop_assert!(covered.iter().all(|b| *b));
        }
    }
}

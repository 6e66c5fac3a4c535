//! The send queue of one VC, sans I/O: admission against the bound, the
//! order of sends (expedited ahead of normal ones, never splitting a send
//! already on the wire), gathering of I/O slices for vectored writes, and
//! completion as bytes are written. A send on a transport with fragments
//! (ONC RPC record marking) goes out as fragments of a fixed size, each
//! behind its header, made as the previous fragment is written.

use std::collections::VecDeque;
use std::io::IoSlice;

use smallvec::SmallVec;

use rxce_wire::framing::HEADER_LEN;
use rxce_wire::record::encode_fragment_header;

use crate::buffer::SendBuffers;

/// How a queued send reports its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// A caller waits for it (a synchronous send); it learns the outcome
    /// from the machine (`VcMachine::outcome`).
    Waiter,
    /// Send-complete is indicated with this completion context.
    Callback(usize),
    /// Its waiter went away: it completes silently.
    Detached,
    /// A control frame of the transport (a keepalive), not a TSDU.
    Control,
}

/// One send in the queue.
#[derive(Debug)]
pub struct SendRequest {
    pub id: u64,
    /// The frame header of a framed transport (its first `header_len` bytes).
    header: [u8; 4],
    header_len: u8,
    header_sent: u8,
    buffers: SendBuffers,
    /// Fragments (RPC records): the fragment size, 0 for none; payload
    /// bytes of the current fragment not yet written.
    fragment: usize,
    fragment_left: usize,
    /// Payload bytes of the send (without the header).
    pub len: usize,
    expedited: bool,
    pub completion: Completion,
}

impl SendRequest {
    fn unsent(&self) -> usize {
        usize::from(self.header_len - self.header_sent) + self.buffers.len() + HEADER_LEN * self.headers_to_come()
    }

    /// Fragment headers not made yet (after the current fragment).
    fn headers_to_come(&self) -> usize {
        if self.fragment == 0 {
            return 0;
        }
        (self.buffers.len() - self.fragment_left).div_ceil(self.fragment)
    }

    /// The current fragment was written whole: the next one's header.
    fn next_fragment(&mut self) {
        let rest = self.buffers.len();
        let n = rest.min(self.fragment);
        self.header = encode_fragment_header(n, rest <= self.fragment).expect("fragment size is below 2^31");
        self.header_sent = 0;
        self.fragment_left = n;
    }

    fn started(&self) -> bool {
        self.header_sent > 0 || self.buffers.len() < self.len
    }
}

/// Most slices one vectored write gathers.
pub const MAX_SLICES: usize = 64;

/// A VC's queue of sends not yet fully handed to the kernel.
#[derive(Debug)]
pub struct SendQueue {
    requests: VecDeque<SendRequest>,
    unsent: usize,
    limit: usize,
    next_id: u64,
}

impl SendQueue {
    pub fn new(limit: usize) -> SendQueue {
        SendQueue {
            requests: VecDeque::new(),
            unsent: 0,
            limit,
            next_id: 1,
        }
    }

    /// Bytes queued and not yet written.
    #[inline]
    pub fn unsent(&self) -> usize {
        self.unsent
    }

    /// True when nothing is queued.
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.requests.is_empty()
    }

    /// Room left under the bound.
    #[inline]
    pub fn room(&self) -> usize {
        self.limit.saturating_sub(self.unsent)
    }

    /// True when a send of `len` bytes may be queued now: it fits under the
    /// bound, or the queue is empty (a single send may exceed the bound).
    #[inline]
    pub fn admits(&self, len: usize) -> bool {
        self.requests.is_empty() || self.unsent + len <= self.limit
    }

    /// True while the send `id` is queued.
    #[inline]
    pub fn contains(&self, id: u64) -> bool {
        self.requests.iter().any(|r| r.id == id)
    }

    /// Marks the send `id` as one nobody waits for; `false` when it is no
    /// longer queued.
    pub fn detach(&mut self, id: u64) -> bool {
        match self.requests.iter_mut().find(|r| r.id == id) {
            Some(request) => {
                request.completion = Completion::Detached;
                true
            }
            None => false,
        }
    }

    /// Queues a send and returns its id. Expedited sends go ahead of every
    /// normal send not yet started, behind earlier expedited ones.
    #[inline]
    pub fn push(
        &mut self,
        header: Option<[u8; 4]>,
        buffers: SendBuffers,
        expedited: bool,
        completion: Completion,
    ) -> u64 {
        let len = buffers.len();
        self.enqueue(SendRequest {
            id: 0,
            header: header.unwrap_or_default(),
            header_len: if header.is_some() { 4 } else { 0 },
            header_sent: 0,
            buffers,
            fragment: 0,
            fragment_left: 0,
            len,
            expedited,
            completion,
        })
    }

    /// Queues a send as one ONC RPC record in fragments of `fragment`
    /// bytes (1 to 2^31 - 1; the last may be shorter; an empty send is one
    /// empty last fragment), and returns its id.
    pub fn push_record(
        &mut self,
        fragment: usize,
        buffers: SendBuffers,
        expedited: bool,
        completion: Completion,
    ) -> u64 {
        let len = buffers.len();
        let mut request = SendRequest {
            id: 0,
            header: [0; 4],
            header_len: 4,
            header_sent: 0,
            buffers,
            fragment: fragment.max(1),
            fragment_left: 0,
            len,
            expedited,
            completion,
        };
        request.next_fragment();
        self.enqueue(request)
    }

    fn enqueue(&mut self, mut request: SendRequest) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        request.id = id;
        let expedited = request.expedited;
        self.unsent += request.unsent();
        if expedited {
            let at = self
                .requests
                .iter()
                .position(|r| !r.started() && !r.expedited)
                .unwrap_or(self.requests.len());
            self.requests.insert(at, request);
        } else {
            self.requests.push_back(request);
        }
        id
    }

    /// The unsent bytes, in order, as I/O slices (at most [`MAX_SLICES`]).
    #[inline]
    pub fn gather<'a>(&'a self, slices: &mut SmallVec<[IoSlice<'a>; MAX_SLICES]>) {
        for request in &self.requests {
            if request.header_sent < request.header_len {
                slices.push(IoSlice::new(
                    &request.header[usize::from(request.header_sent)..usize::from(request.header_len)],
                ));
            }
            if request.fragment > 0 {
                // Only the current fragment: the next header is made once
                // it is written.
                let mut left = request.fragment_left;
                for chunk in request.buffers.chunks() {
                    if slices.len() == MAX_SLICES || left == 0 {
                        break;
                    }
                    let n = chunk.len().min(left);
                    slices.push(IoSlice::new(&chunk[..n]));
                    left -= n;
                }
                if request.buffers.len() > request.fragment_left || slices.len() == MAX_SLICES {
                    return;
                }
                continue;
            }
            for chunk in request.buffers.chunks() {
                if slices.len() == MAX_SLICES {
                    return;
                }
                slices.push(IoSlice::new(chunk));
            }
            if slices.len() == MAX_SLICES {
                return;
            }
        }
    }

    /// `n` bytes were written: completes the sends they finish, in order,
    /// through `done`.
    #[inline]
    pub fn advance(&mut self, mut n: usize, mut done: impl FnMut(SendRequest)) {
        self.unsent -= n.min(self.unsent);
        while n > 0 {
            let Some(head) = self.requests.front_mut() else {
                return;
            };
            let header_left = usize::from(head.header_len - head.header_sent);
            let from_header = n.min(header_left);
            head.header_sent += from_header as u8;
            n -= from_header;
            let mut from_payload = n.min(head.buffers.len());
            if head.fragment > 0 {
                from_payload = from_payload.min(head.fragment_left);
                head.fragment_left -= from_payload;
            }
            head.buffers.advance(from_payload);
            n -= from_payload;
            if head.fragment > 0
                && head.fragment_left == 0
                && head.header_sent == head.header_len
                && !head.buffers.is_empty()
            {
                head.next_fragment();
            }
            if head.unsent() == 0 {
                let request = self.requests.pop_front().expect("head exists");
                done(request);
            }
        }
    }

    /// Empties the queue (the VC failed or was torn down).
    pub fn drain(&mut self) -> impl Iterator<Item = SendRequest> + '_ {
        self.unsent = 0;
        self.requests.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn bufs(b: &'static [u8]) -> SendBuffers {
        SendBuffers::from(b)
    }

    fn written(q: &SendQueue) -> Vec<u8> {
        let mut slices = SmallVec::new();
        q.gather(&mut slices);
        slices.iter().flat_map(|s| s.to_vec()).collect()
    }

    #[test]
    fn sends_complete_in_order_as_bytes_are_written() {
        let mut q = SendQueue::new(100);
        let a = q.push(None, bufs(b"abc"), false, Completion::Waiter);
        let b = q.push(None, bufs(b"defg"), false, Completion::Callback(7));
        assert_eq!(q.unsent(), 7);
        assert_eq!(written(&q), b"abcdefg");
        let mut done = Vec::new();
        q.advance(2, |r| done.push(r.id));
        assert!(done.is_empty());
        assert!(q.contains(a));
        q.advance(3, |r| done.push(r.id));
        assert_eq!(done, vec![a]);
        assert_eq!(written(&q), b"fg");
        q.advance(2, |r| done.push(r.id));
        assert_eq!(done, vec![a, b]);
        assert!(q.is_idle());
        assert_eq!(q.unsent(), 0);
    }

    #[test]
    fn frame_headers_go_before_their_payload() {
        let mut q = SendQueue::new(100);
        q.push(Some([0, 0, 0, 2]), bufs(b"hi"), false, Completion::Waiter);
        q.push(Some([0, 0, 0, 1]), bufs(b"!"), false, Completion::Waiter);
        assert_eq!(q.unsent(), 11);
        assert_eq!(written(&q), b"\0\0\0\x02hi\0\0\0\x01!");
        let mut done = 0;
        q.advance(3, |_| done += 1);
        assert_eq!(written(&q), b"\x02hi\0\0\0\x01!");
        q.advance(3, |_| done += 1);
        assert_eq!(done, 1);
        q.advance(5, |_| done += 1);
        assert_eq!(done, 2);
    }

    /// Writes everything in writes of at most `step` bytes; returns the
    /// bytes and the ids in the order they completed.
    fn write_all(q: &mut SendQueue, step: usize) -> (Vec<u8>, Vec<u64>) {
        let (mut out, mut done) = (Vec::new(), Vec::new());
        let mut guard = 0;
        while !q.is_idle() {
            guard += 1;
            assert!(guard < 100_000);
            let bytes = written(q);
            let n = bytes.len().min(step);
            out.extend_from_slice(&bytes[..n]);
            q.advance(n, |r| done.push(r.id));
        }
        assert_eq!(q.unsent(), 0);
        (out, done)
    }

    #[test]
    fn records_go_out_in_fragments_with_their_headers() {
        let mut q = SendQueue::new(1000);
        let a = q.push_record(3, bufs(b"abcdefg"), false, Completion::Waiter);
        let b = q.push_record(3, bufs(b""), false, Completion::Waiter);
        let c = q.push_record(3, bufs(b"xyz"), false, Completion::Waiter);
        assert_eq!(q.unsent(), 7 + 12 + 4 + 3 + 4);
        // Gathering stops at the end of the current fragment.
        assert_eq!(written(&q), b"\0\0\0\x03abc");
        for step in [1, 2, 5, 100] {
            let mut q2 = SendQueue::new(1000);
            let ids = [
                q2.push_record(3, bufs(b"abcdefg"), false, Completion::Waiter),
                q2.push_record(3, bufs(b""), false, Completion::Waiter),
                q2.push_record(3, bufs(b"xyz"), false, Completion::Waiter),
            ];
            let (out, done) = write_all(&mut q2, step);
            assert_eq!(
                out, b"\0\0\0\x03abc\0\0\0\x03def\x80\0\0\x01g\x80\0\0\0\x80\0\0\x03xyz",
                "writes of {step}"
            );
            assert_eq!(done, ids);
        }
        let (_, done) = write_all(&mut q, 4);
        assert_eq!(done, [a, b, c]);
        // The record equals the wire crate's encoding.
        let payload: Vec<u8> = (0..200u8).collect();
        let mut q = SendQueue::new(1000);
        q.push_record(64, SendBuffers::from(payload.clone()), false, Completion::Waiter);
        assert_eq!(write_all(&mut q, 7).0, rxce_wire::record::encode_record(&payload, 64));
    }

    #[test]
    fn an_expedited_send_waits_for_a_started_record_to_end() {
        let mut q = SendQueue::new(1000);
        q.push_record(2, bufs(b"abcd"), false, Completion::Waiter);
        q.advance(6, |_| {});
        q.push(None, bufs(b"!"), true, Completion::Waiter);
        assert_eq!(write_all(&mut q, 100).0, b"\x80\0\0\x02cd!");
    }

    #[test]
    fn expedited_sends_pass_normal_ones_but_never_a_started_one() {
        let mut q = SendQueue::new(100);
        q.push(None, bufs(b"AAAA"), false, Completion::Waiter);
        q.push(None, bufs(b"BB"), false, Completion::Waiter);
        q.advance(1, |_| {});
        q.push(None, bufs(b"x"), true, Completion::Waiter);
        q.push(None, bufs(b"y"), true, Completion::Waiter);
        assert_eq!(written(&q), b"AAAxyBB");
    }

    #[test]
    fn the_bound_admits_one_oversized_send_into_an_empty_queue() {
        let mut q = SendQueue::new(4);
        assert!(q.admits(10));
        q.push(None, SendBuffers::from(vec![0u8; 10]), false, Completion::Waiter);
        assert!(!q.admits(1));
        assert_eq!(q.room(), 0);
        q.advance(7, |_| {});
        assert!(q.admits(1));
        assert_eq!(q.room(), 1);
        assert_eq!(q.drain().count(), 1);
        assert!(q.is_idle());
    }

    #[test]
    fn gather_stops_at_the_slice_limit() {
        let mut q = SendQueue::new(usize::MAX);
        for _ in 0..MAX_SLICES + 5 {
            q.push(
                None,
                SendBuffers::from(Bytes::from_static(b"z")),
                false,
                Completion::Waiter,
            );
        }
        let mut slices = SmallVec::new();
        q.gather(&mut slices);
        assert_eq!(slices.len(), MAX_SLICES);
    }
}

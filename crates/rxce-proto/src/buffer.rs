//! Buffers: client receive buffers (the MDL chain a handler returns with
//! MORE_PROCESSING_REQUIRED), send buffer chains, and the pool of receive
//! buffers the engine reads sockets into.

use std::any::Any;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use smallvec::SmallVec;

use crate::budget::{Budget, Charge};
use crate::status::Status;

/// A client buffer the engine fills on the more-processing-required path: the
/// Rust form of the MDL chain a receive handler returns.
///
/// The engine writes bytes at increasing offsets from 0 up to the size the
/// handler asked for (never beyond [`ReceiveBuffer::capacity`]) and hands the
/// buffer back through the data-ready indication. Implementations exist for
/// `Vec<u8>` (its current length is the capacity) and for [`BufferChain`]
/// (several segments, like a multi-element MDL). A boxed buffer converts to
/// `Box<dyn Any + Send>` (trait upcasting) to get the concrete type back.
pub trait ReceiveBuffer: Any + Send {
    /// How many bytes the buffer can take in all.
    fn capacity(&self) -> usize;

    /// The writable bytes from `offset` to the end of the segment that holds
    /// `offset` (empty when `offset >= capacity()`).
    fn segment_mut(&mut self, offset: usize) -> &mut [u8];
}

impl std::fmt::Debug for dyn ReceiveBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiveBuffer")
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl ReceiveBuffer for Vec<u8> {
    fn capacity(&self) -> usize {
        self.len()
    }

    fn segment_mut(&mut self, offset: usize) -> &mut [u8] {
        let len = self.len();
        &mut self[offset.min(len)..]
    }
}

impl ReceiveBuffer for Box<[u8]> {
    fn capacity(&self) -> usize {
        self.len()
    }

    fn segment_mut(&mut self, offset: usize) -> &mut [u8] {
        let len = self.len();
        &mut self[offset.min(len)..]
    }
}

/// A receive buffer made of several segments, filled in order (a
/// multi-element MDL chain).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BufferChain {
    /// The segments; each one's length is its capacity.
    pub segments: Vec<Vec<u8>>,
}

impl BufferChain {
    /// A chain of zeroed segments of the given lengths.
    pub fn with_lengths(lengths: &[usize]) -> BufferChain {
        BufferChain {
            segments: lengths.iter().map(|&n| vec![0; n]).collect(),
        }
    }

    /// The first `n` bytes of the chain, concatenated.
    pub fn prefix(&self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        for seg in &self.segments {
            let want = (n - out.len()).min(seg.len());
            out.extend_from_slice(&seg[..want]);
            if out.len() == n {
                break;
            }
        }
        out
    }
}

impl ReceiveBuffer for BufferChain {
    fn capacity(&self) -> usize {
        self.segments.iter().map(Vec::len).sum()
    }

    fn segment_mut(&mut self, mut offset: usize) -> &mut [u8] {
        for seg in &mut self.segments {
            if offset < seg.len() {
                return &mut seg[offset..];
            }
            offset -= seg.len();
        }
        &mut []
    }
}

/// The bytes of one send: a chain of buffers sent with vectored writes, in
/// order, without copying (the Rust form of the MDL chain given to RxCeSend).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendBuffers {
    // Two inline slots: one payload buffer plus room to spare, so the common
    // single-buffer send allocates nothing.
    chunks: SmallVec<[Bytes; 2]>,
    len: usize,
}

impl SendBuffers {
    /// An empty chain.
    pub fn new() -> SendBuffers {
        SendBuffers::default()
    }

    /// Appends a buffer (empty buffers are skipped).
    pub fn push(&mut self, chunk: impl Into<Bytes>) {
        let chunk = chunk.into();
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.chunks.push(chunk);
        }
    }

    /// Total bytes in the chain.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the chain holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffers of the chain.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// Keeps only the first `n` bytes (for sends that take a prefix).
    pub fn truncate(&mut self, n: usize) {
        if n >= self.len {
            return;
        }
        let mut kept = 0;
        let mut keep_chunks = 0;
        for chunk in &mut self.chunks {
            if kept == n {
                break;
            }
            let take = (n - kept).min(chunk.len());
            chunk.truncate(take);
            kept += take;
            keep_chunks += 1;
        }
        self.chunks.truncate(keep_chunks);
        self.len = n;
    }

    /// Drops the first `n` bytes (after a partial write).
    pub fn advance(&mut self, mut n: usize) {
        self.len -= n.min(self.len);
        let mut drop_chunks = 0;
        for chunk in &mut self.chunks {
            if n == 0 {
                break;
            }
            if n >= chunk.len() {
                n -= chunk.len();
                drop_chunks += 1;
            } else {
                let _ = chunk.split_to(n);
                n = 0;
            }
        }
        self.chunks.drain(..drop_chunks);
    }
}

impl From<Bytes> for SendBuffers {
    fn from(b: Bytes) -> SendBuffers {
        let mut s = SendBuffers::new();
        s.push(b);
        s
    }
}

impl From<Vec<u8>> for SendBuffers {
    fn from(v: Vec<u8>) -> SendBuffers {
        SendBuffers::from(Bytes::from(v))
    }
}

impl From<&'static [u8]> for SendBuffers {
    fn from(v: &'static [u8]) -> SendBuffers {
        SendBuffers::from(Bytes::from_static(v))
    }
}

impl From<Vec<Bytes>> for SendBuffers {
    fn from(v: Vec<Bytes>) -> SendBuffers {
        let mut s = SendBuffers::new();
        for b in v {
            s.push(b);
        }
        s
    }
}

/// A pool of equal-sized receive buffers. A VC takes one only while it holds
/// received bytes, so idle VCs cost no buffer memory; every buffer out of the
/// pool is charged to the engine's budget.
#[derive(Debug)]
pub struct BufferPool {
    size: usize,
    keep: usize,
    free: Mutex<Vec<Box<[u8]>>>,
    budget: Arc<Budget>,
}

/// A receive buffer out of a [`BufferPool`], charged to the budget.
#[derive(Debug)]
pub struct PooledBuffer {
    bytes: Box<[u8]>,
    _charge: Charge,
}

impl std::ops::Deref for PooledBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::ops::DerefMut for PooledBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

impl BufferPool {
    /// A pool of `size`-byte buffers charged to `budget`, keeping up to
    /// `keep` returned buffers for reuse.
    pub fn new(size: usize, keep: usize, budget: Arc<Budget>) -> BufferPool {
        BufferPool {
            size: size.max(1),
            keep,
            free: Mutex::new(Vec::new()),
            budget,
        }
    }

    /// The size of every buffer of the pool.
    #[inline]
    pub fn buffer_size(&self) -> usize {
        self.size
    }

    /// A buffer, or INSUFFICIENT_RESOURCES when the budget is spent.
    #[inline]
    pub fn take(&self) -> Result<PooledBuffer, Status> {
        let charge = self.budget.charge(self.size, "a receive buffer")?;
        let reused = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Ok(PooledBuffer {
            bytes: reused.unwrap_or_else(|| vec![0; self.size].into_boxed_slice()),
            _charge: charge,
        })
    }

    /// Returns a buffer for reuse (the pool keeps up to its keep count).
    #[inline]
    pub fn give_back(&self, buffer: PooledBuffer) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < self.keep {
            free.push(buffer.bytes);
        }
    }

    #[cfg(test)]
    /// Buffers kept for reuse now.
    pub fn free_count(&self) -> usize {
        self.free.lock().map(|f| f.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_segments_cover_the_whole_capacity() {
        let mut chain = BufferChain::with_lengths(&[3, 0, 5]);
        assert_eq!(chain.capacity(), 8);
        assert_eq!(chain.segment_mut(0).len(), 3);
        assert_eq!(chain.segment_mut(2).len(), 1);
        assert_eq!(chain.segment_mut(3).len(), 5);
        assert_eq!(chain.segment_mut(7).len(), 1);
        assert!(chain.segment_mut(8).is_empty());
        chain.segment_mut(2)[0] = b'a';
        chain.segment_mut(3)[0] = b'b';
        assert_eq!(chain.prefix(4), vec![0, 0, b'a', b'b']);
    }

    #[test]
    fn vec_is_a_single_segment() {
        let mut v = vec![0u8; 4];
        assert_eq!(ReceiveBuffer::capacity(&v), 4);
        assert_eq!(v.segment_mut(1).len(), 3);
        assert!(v.segment_mut(9).is_empty());
    }

    #[test]
    fn send_buffers_advance_and_truncate_across_chunks() {
        let mut s = SendBuffers::from(vec![
            Bytes::from_static(b"abc"),
            Bytes::new(),
            Bytes::from_static(b"defg"),
        ]);
        assert_eq!(s.len(), 7);
        assert_eq!(s.chunks().len(), 2);
        s.advance(4);
        assert_eq!(s.len(), 3);
        assert_eq!(s.chunks(), &[Bytes::from_static(b"efg")]);
        s.push(Bytes::from_static(b"HD"));
        s.truncate(4);
        assert_eq!(s.chunks(), &[Bytes::from_static(b"efg"), Bytes::from_static(b"H")]);
        assert_eq!(s.len(), 4);
        s.advance(4);
        assert!(s.is_empty());
        assert!(s.chunks().is_empty());
    }

    #[test]
    fn pool_reuses_up_to_its_keep_count_and_charges_the_budget() {
        let budget = Budget::new(40);
        let pool = BufferPool::new(16, 1, budget.clone());
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        assert_eq!(a.len(), 16);
        assert_eq!(budget.used(), 32);
        assert_eq!(pool.take().unwrap_err(), Status::INSUFFICIENT_RESOURCES);
        pool.give_back(a);
        pool.give_back(b);
        assert_eq!(pool.free_count(), 1);
        assert_eq!(budget.used(), 0);
    }
}

//! MDL chains → send buffers and client receive buffers, without copying
//! the bytes.

use std::any::Any;

use bytes::Bytes;
use rxce::{ReceiveBuffer, SendBuffers, Status};

use super::bad;
use crate::types::{MDL, PMDL};

/// Most elements rxce follows in one chain (a cycle of empty elements
/// would never end).
const MAX_ELEMENTS: usize = 1 << 16;

/// The byte ranges of the chain at `mdl` holding its first `wanted` bytes
/// (fewer when the chain is shorter). Empty elements are skipped.
///
/// # Safety
///
/// `mdl` is NULL or the head of a chain of readable MDLs.
unsafe fn ranges(mdl: *const MDL, wanted: usize) -> Result<Vec<(*mut u8, usize)>, Status> {
    let mut ranges = Vec::new();
    let mut total = 0;
    let mut element = mdl;
    let mut seen = 0;
    while !element.is_null() && total < wanted {
        seen += 1;
        if seen > MAX_ELEMENTS || !element.is_aligned() {
            return Err(bad(format!(
                "the MDL chain is misaligned or longer than {MAX_ELEMENTS} elements"
            )));
        }
        // SAFETY: non-NULL and aligned; readable by the caller's promise.
        let MDL {
            Next,
            MappedSystemVa,
            ByteCount,
        } = unsafe { element.read() };
        let len = (ByteCount as usize).min(wanted - total);
        if len > 0 {
            if MappedSystemVa.is_null() {
                return Err(bad("an MDL with bytes has a NULL MappedSystemVa"));
            }
            ranges.push((MappedSystemVa.cast::<u8>(), len));
            total += len;
        }
        element = Next;
    }
    Ok(ranges)
}

/// The bytes of one MDL element, lent by the caller for the life of a send.
///
/// Sound to hand to the engine as a `Bytes` owner because RxCeSend's
/// contract makes the caller keep every buffer of the chain valid and
/// unchanged until the send completes: a synchronous send completes before
/// RxCeSend returns, an asynchronous one when send-complete runs (or when
/// RxCeSend returns an error). The engine reads the bytes only while the
/// send is outstanding; dropping the owner frees nothing.
struct CallerBytes {
    at: *const u8,
    len: usize,
}

// SAFETY: the bytes are the caller's for the send's whole life (see the
// type's comment) and only ever read, from any thread.
unsafe impl Send for CallerBytes {}

impl AsRef<[u8]> for CallerBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `at` is non-NULL and valid for `len` bytes until the send
        // completes (see the type's comment).
        unsafe { std::slice::from_raw_parts(self.at, self.len) }
    }
}

/// The first `send_length` bytes of the chain at `mdl`, as send buffers
/// over the caller's memory. A chain shorter than `send_length` is
/// STATUS_INVALID_PARAMETER.
///
/// # Safety
///
/// `mdl` is NULL or the head of a chain of readable MDLs whose ranges stay
/// valid and unchanged until the send completes.
pub(crate) unsafe fn send_buffers(mdl: PMDL, send_length: u32) -> Result<SendBuffers, Status> {
    let wanted = send_length as usize;
    // SAFETY: forwarded caller promise.
    let ranges = unsafe { ranges(mdl, wanted) }?;
    let found: usize = ranges.iter().map(|&(_, len)| len).sum();
    if found < wanted {
        return Err(bad(format!(
            "SendLength is {wanted} but the MDL chain holds only {found} bytes"
        )));
    }
    let mut buffers = SendBuffers::new();
    for (at, len) in ranges {
        buffers.push(Bytes::from_owner(CallerBytes { at, len }));
    }
    Ok(buffers)
}

/// An MDL chain a receive handler returned with
/// STATUS_MORE_PROCESSING_REQUIRED, as the engine's client buffer.
pub(crate) struct MdlReceiveBuffer {
    head: PMDL,
    ranges: Vec<(*mut u8, usize)>,
}

// SAFETY: the ranges are the caller's, lent to rxce until data-ready hands
// the chain back; only the VC's task writes them, one thread at a time.
unsafe impl Send for MdlReceiveBuffer {}

impl MdlReceiveBuffer {
    /// The first `size` bytes of the chain at `head` (fewer when it is
    /// shorter). A NULL head or a malformed chain is refused.
    ///
    /// # Safety
    ///
    /// `head` is NULL or the head of a chain of readable MDLs whose ranges
    /// are valid for writes and left alone by the caller until data-ready
    /// returns the chain (the TDI rule for a returned buffer).
    pub(crate) unsafe fn new(head: PMDL, size: usize) -> Result<MdlReceiveBuffer, Status> {
        if head.is_null() {
            return Err(bad("MORE_PROCESSING_REQUIRED without an MDL"));
        }
        // SAFETY: forwarded caller promise.
        let ranges = unsafe { ranges(head, size) }?;
        Ok(MdlReceiveBuffer { head, ranges })
    }

    /// The head of the chain, for the data-ready indication.
    pub(crate) fn head(&self) -> PMDL {
        self.head
    }

    /// The chain of a client buffer the engine hands back (NULL if the
    /// buffer is not one of ours).
    pub(crate) fn head_of(buffer: Box<dyn ReceiveBuffer>) -> PMDL {
        let buffer: Box<dyn Any + Send> = buffer;
        buffer
            .downcast::<MdlReceiveBuffer>()
            .map_or(std::ptr::null_mut(), |b| b.head())
    }
}

impl ReceiveBuffer for MdlReceiveBuffer {
    fn capacity(&self) -> usize {
        self.ranges.iter().map(|&(_, len)| len).sum()
    }

    fn segment_mut(&mut self, mut offset: usize) -> &mut [u8] {
        for &(at, len) in &self.ranges {
            if offset < len {
                // SAFETY: the range is valid for writes and lent to rxce
                // alone until data-ready (see `new`); `&mut self` makes this
                // the only slice over it.
                return unsafe { std::slice::from_raw_parts_mut(at.add(offset), len - offset) };
            }
            offset -= len;
        }
        &mut []
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(bytes: &mut [u8], next: PMDL) -> MDL {
        MDL {
            Next: next,
            MappedSystemVa: bytes.as_mut_ptr().cast(),
            ByteCount: bytes.len() as u32,
        }
    }

    #[test]
    fn send_buffers_take_send_length_bytes_across_elements() {
        let (mut a, mut b) = (*b"abc", *b"defg");
        let mut second = element(&mut b, std::ptr::null_mut());
        let mut empty = MDL {
            Next: &mut second,
            MappedSystemVa: std::ptr::null_mut(),
            ByteCount: 0,
        };
        let mut first = element(&mut a, &mut empty);
        // SAFETY: the chain and its bytes are locals that outlive the buffers.
        unsafe {
            let buffers = send_buffers(&mut first, 5).unwrap();
            assert_eq!(buffers.len(), 5);
            let joined: Vec<u8> = buffers.chunks().iter().flat_map(|c| c.to_vec()).collect();
            assert_eq!(joined, b"abcde");
            assert_eq!(send_buffers(&mut first, 8).unwrap_err(), Status::INVALID_PARAMETER);
            assert!(send_buffers(std::ptr::null_mut(), 0).unwrap().is_empty());
            assert!(send_buffers(std::ptr::null_mut(), 1).is_err());
        }
    }

    #[test]
    fn an_element_with_bytes_needs_an_address() {
        let mut bad_element = MDL {
            Next: std::ptr::null_mut(),
            MappedSystemVa: std::ptr::null_mut(),
            ByteCount: 4,
        };
        // SAFETY: the element is a local.
        unsafe {
            assert!(send_buffers(&mut bad_element, 4).is_err());
            assert!(MdlReceiveBuffer::new(&mut bad_element, 4).is_err());
            assert!(MdlReceiveBuffer::new(std::ptr::null_mut(), 4).is_err());
        }
    }

    #[test]
    fn a_receive_buffer_fills_its_elements_in_order() {
        let (mut a, mut b) = ([0u8; 3], [0u8; 5]);
        let mut second = element(&mut b, std::ptr::null_mut());
        let mut first = element(&mut a, &mut second);
        // SAFETY: the chain and its bytes are locals that outlive the buffer.
        let mut buffer = unsafe { MdlReceiveBuffer::new(&mut first, 6) }.unwrap();
        assert_eq!(buffer.capacity(), 6);
        assert_eq!(buffer.segment_mut(0).len(), 3);
        buffer.segment_mut(2)[0] = b'x';
        buffer.segment_mut(3)[..3].copy_from_slice(b"yzw");
        assert!(buffer.segment_mut(6).is_empty());
        let head = MdlReceiveBuffer::head_of(Box::new(buffer));
        assert_eq!(head, &mut first as PMDL);
        assert_eq!((a, b), ([0, 0, b'x'], [b'y', b'z', b'w', 0, 0]));
    }
}

//! Byte images of C answers: structures followed by the data they point
//! to, built in Rust and then copied (all of it, or what fits) into memory
//! the caller gave.

use std::mem::{size_of, MaybeUninit};

/// The bytes of a C answer. Structures go in with their padding, which may
/// be uninitialised: the image only ever moves its bytes with untyped
/// copies, never reads them as values.
#[derive(Default)]
pub(crate) struct Image(Vec<MaybeUninit<u8>>);

impl Image {
    /// Bytes so far.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Pads with zeros up to a multiple of `align`.
    pub(crate) fn align_to(&mut self, align: usize) {
        let len = self.0.len().next_multiple_of(align);
        self.0.resize(len, MaybeUninit::new(0));
    }

    /// Appends the bytes of a plain C structure.
    pub(crate) fn put<T: Copy>(&mut self, value: &T) {
        let start = self.0.len();
        self.0.resize(start + size_of::<T>(), MaybeUninit::new(0));
        // SAFETY: the source is one whole `T` and the destination the
        // `size_of::<T>()` slots just added; an untyped copy into
        // `MaybeUninit<u8>` may carry padding bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (value as *const T).cast::<MaybeUninit<u8>>(),
                self.0.as_mut_ptr().add(start),
                size_of::<T>(),
            );
        }
    }

    /// Appends plain bytes.
    pub(crate) fn put_bytes(&mut self, bytes: &[u8]) {
        self.0.extend(bytes.iter().map(|&b| MaybeUninit::new(b)));
    }

    /// Copies what fits of the image to `to` (`capacity` bytes) and says
    /// whether all of it did.
    ///
    /// # Safety
    ///
    /// `to` is valid for writes of `capacity` bytes and does not overlap
    /// the image.
    pub(crate) unsafe fn copy_to(&self, to: *mut u8, capacity: usize) -> bool {
        let n = self.0.len().min(capacity);
        // SAFETY: `n` bytes are readable from the image and, by the caller's
        // promise, writable at `to`; the copy is untyped.
        unsafe { std::ptr::copy_nonoverlapping(self.0.as_ptr(), to.cast(), n) };
        n == self.0.len()
    }
}

/// A heap copy aligned for any C structure (8 bytes), for the copies that
/// built objects point to.
pub(crate) struct AlignedCopy(Box<[u64]>);

impl AlignedCopy {
    /// Zeroed room for `len` bytes.
    pub(crate) fn zeroed(len: usize) -> AlignedCopy {
        AlignedCopy(vec![0u64; len.div_ceil(8).max(1)].into_boxed_slice())
    }

    /// The first byte; stable for the copy's life (the box never moves its
    /// heap block).
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.0.as_mut_ptr().cast()
    }

    /// Room in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.len() * 8
    }

    /// A copy of `bytes`.
    pub(crate) fn of(bytes: &[u8]) -> AlignedCopy {
        let mut copy = AlignedCopy::zeroed(bytes.len());
        // SAFETY: the copy has room for `bytes.len()` bytes and is a fresh
        // allocation, so the two do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), copy.as_mut_ptr(), bytes.len()) };
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_copy_what_fits() {
        let mut image = Image::default();
        image.put(&0x0102_0304u32);
        image.put_bytes(b"ab");
        image.align_to(4);
        assert_eq!(image.len(), 8);
        let mut out = [0xEEu8; 8];
        // SAFETY: `out` has room for the capacities given.
        unsafe {
            assert!(!image.copy_to(out.as_mut_ptr(), 5));
            assert_eq!(out[4..], [b'a', 0xEE, 0xEE, 0xEE]);
            assert!(image.copy_to(out.as_mut_ptr(), 8));
        }
        assert_eq!(u32::from_ne_bytes(out[..4].try_into().unwrap()), 0x0102_0304);
        assert_eq!(out[4..], [b'a', b'b', 0, 0]);
    }

    #[test]
    fn aligned_copies_are_aligned() {
        let mut copy = AlignedCopy::of(b"hello");
        assert_eq!(copy.as_mut_ptr() as usize % 8, 0);
        assert_eq!(copy.len(), 8);
    }
}

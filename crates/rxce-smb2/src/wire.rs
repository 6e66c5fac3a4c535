//! Little-endian field access that never panics.

/// Reads a little-endian `u16` at `off`, or `None` when it does not fit.
pub(crate) fn u16_at(bytes: &[u8], off: usize) -> Option<u16> {
    let b = bytes.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(b.try_into().ok()?))
}

/// Reads a little-endian `u32` at `off`, or `None` when it does not fit.
pub(crate) fn u32_at(bytes: &[u8], off: usize) -> Option<u32> {
    let b = bytes.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// Reads a little-endian `u64` at `off`, or `None` when it does not fit.
pub(crate) fn u64_at(bytes: &[u8], off: usize) -> Option<u64> {
    let b = bytes.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// Reads `N` bytes at `off`, or `None` when they do not fit.
pub(crate) fn array_at<const N: usize>(bytes: &[u8], off: usize) -> Option<[u8; N]> {
    bytes.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// Rounds `n` up to the next multiple of 8.
pub(crate) fn align8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// Pads `buf` with zero bytes until its length is a multiple of 8.
pub(crate) fn pad8(buf: &mut Vec<u8>) {
    buf.resize(align8(buf.len()), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(u16_at(&b, 0), Some(0x0201));
        assert_eq!(u16_at(&b, 6), Some(0x0807));
        assert_eq!(u16_at(&b, 7), None);
        assert_eq!(u32_at(&b, 4), Some(0x0807_0605));
        assert_eq!(u32_at(&b, 5), None);
        assert_eq!(u64_at(&b, 0), Some(0x0807_0605_0403_0201));
        assert_eq!(u64_at(&b, 1), None);
        assert_eq!(u16_at(&b, usize::MAX), None);
        assert_eq!(array_at::<3>(&b, 5), Some([6, 7, 8]));
        assert_eq!(array_at::<3>(&b, 6), None);
    }

    #[test]
    fn alignment() {
        assert_eq!(align8(0), 0);
        assert_eq!(align8(1), 8);
        assert_eq!(align8(8), 8);
        assert_eq!(align8(110), 112);
        let mut v = vec![0u8; 46];
        pad8(&mut v);
        assert_eq!(v.len(), 48);
    }
}

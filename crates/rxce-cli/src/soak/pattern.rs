//! The bytes the soak sends: a keyed pattern whose every byte depends on
//! its position in the stream, so an echo that comes back reordered,
//! duplicated, shifted or altered shows at the first wrong byte.

/// One 64-bit word of the pattern (SplitMix64 of key and word index).
fn word(key: u64, index: u64) -> u64 {
    let mut z = key ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `out` with the pattern of `key` from `position` on, a word at a
/// time where it can.
pub fn fill(key: u64, position: u64, out: &mut [u8]) {
    let mut at = 0;
    while at < out.len() {
        let pos = position + at as u64;
        let skip = (pos % 8) as usize;
        let bytes = word(key, pos / 8).to_le_bytes();
        let n = (8 - skip).min(out.len() - at);
        out[at..at + n].copy_from_slice(&bytes[skip..skip + n]);
        at += n;
    }
}

/// The pattern of `key` from `position`, `len` bytes long.
pub fn bytes(key: u64, position: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    fill(key, position, &mut out);
    out
}

/// The offset in `data` of the first byte that differs from the pattern
/// of `key` at `position`, if any.
pub fn first_difference(key: u64, position: u64, data: &[u8]) -> Option<usize> {
    let mut expected = [0u8; 4096];
    let mut at = 0;
    for chunk in data.chunks(expected.len()) {
        let expected = &mut expected[..chunk.len()];
        fill(key, position + at as u64, expected);
        if chunk != expected {
            let i = chunk.iter().zip(expected.iter()).position(|(a, b)| a != b)?;
            return Some(at + i);
        }
        at += chunk.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pattern byte of stream `key` at `position`, alone.
    fn byte_at(key: u64, position: u64) -> u8 {
        word(key, position / 8).to_le_bytes()[(position % 8) as usize]
    }

    #[test]
    fn the_pattern_depends_on_key_and_position() {
        let a = bytes(1, 0, 4096);
        assert_eq!(first_difference(1, 0, &a), None);
        assert_eq!(bytes(1, 100, 50), a[100..150]);
        assert_ne!(bytes(2, 0, 64), a[..64]);
        // No short period: a chunk moved by any distance up to 4 KiB shows.
        for shift in 1..2048 {
            assert!(first_difference(1, shift as u64, &a[..64]).is_some(), "shift {shift}");
        }
    }

    #[test]
    fn filling_a_word_at_a_time_gives_the_bytes_one_at_a_time() {
        for position in 0..20u64 {
            for len in 0..40usize {
                let one_by_one: Vec<u8> = (0..len as u64).map(|i| byte_at(5, position + i)).collect();
                assert_eq!(bytes(5, position, len), one_by_one, "at {position}, {len} bytes");
            }
        }
        let long = bytes(5, 3, 10_000);
        assert_eq!(first_difference(5, 3, &long), None);
        let mut changed = long.clone();
        changed[9_000] ^= 2;
        assert_eq!(first_difference(5, 3, &changed), Some(9_000));
    }

    #[test]
    fn a_changed_byte_is_found_where_it_is() {
        let mut data = bytes(9, 77, 300);
        data[123] ^= 0x40;
        assert_eq!(first_difference(9, 77, &data), Some(123));
        let mut repeated = bytes(9, 0, 100);
        repeated.extend_from_slice(&bytes(9, 90, 10));
        assert_eq!(first_difference(9, 0, &repeated), Some(100));
    }
}

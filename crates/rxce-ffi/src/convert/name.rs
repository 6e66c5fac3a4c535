//! UNICODE_STRING → a name.

use rxce::Status;

use super::bad;
use crate::types::{UNICODE_STRING, WCHAR};

/// The string at `p`, decoded, and a copy of its UTF-16 units. A NULL,
/// empty, odd-length, over-long (Length > MaximumLength) or ill-formed
/// UTF-16 string is STATUS_INVALID_PARAMETER.
///
/// # Safety
///
/// `p` is NULL or points to a readable UNICODE_STRING whose `Buffer` holds
/// `Length` readable bytes.
pub(crate) unsafe fn unicode_string(p: *const UNICODE_STRING) -> Result<(String, Vec<WCHAR>), Status> {
    if p.is_null() || !p.is_aligned() {
        return Err(bad("the name is NULL or misaligned"));
    }
    // SAFETY: non-NULL and aligned, readable by the caller's promise.
    let string = unsafe { p.read() };
    let bytes = usize::from(string.Length);
    if bytes == 0 || bytes % 2 != 0 || string.Length > string.MaximumLength {
        return Err(bad(format!(
            "a UNICODE_STRING with Length {} and MaximumLength {} is not a name",
            string.Length, string.MaximumLength
        )));
    }
    if string.Buffer.is_null() || !string.Buffer.is_aligned() {
        return Err(bad("the name's Buffer is NULL or misaligned"));
    }
    // SAFETY: `Buffer` is non-NULL and aligned, and holds `Length` bytes by
    // the caller's promise; we copy them out at once.
    let units = unsafe { std::slice::from_raw_parts(string.Buffer, bytes / 2) }.to_vec();
    let text = String::from_utf16(&units).map_err(|_| bad("the name is not well-formed UTF-16"))?;
    Ok((text, units))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(units: &mut [u16], length: u16, maximum: u16) -> UNICODE_STRING {
        UNICODE_STRING {
            Length: length,
            MaximumLength: maximum,
            Buffer: units.as_mut_ptr(),
        }
    }

    #[test]
    fn names_decode_and_bad_lengths_are_refused() {
        let mut tcp: Vec<u16> = "tcp".encode_utf16().collect();
        // SAFETY: every UNICODE_STRING below describes `tcp` (or less of it).
        unsafe {
            let (text, units) = unicode_string(&string(&mut tcp, 6, 8)).unwrap();
            assert_eq!(text, "tcp");
            assert_eq!(units.len(), 3);
            for (length, maximum) in [(0, 6), (5, 6), (6, 4)] {
                let err = unicode_string(&string(&mut tcp, length, maximum)).unwrap_err();
                assert_eq!(err, Status::INVALID_PARAMETER, "{length}/{maximum}");
            }
            assert!(unicode_string(std::ptr::null()).is_err());
            let mut lone = vec![0xD800u16];
            assert!(unicode_string(&string(&mut lone, 2, 2)).is_err());
        }
    }
}

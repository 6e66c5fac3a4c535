//! The READ answer as the redirector meets it: the first bytes of a
//! transport message and the message's length
//! (`rxce_smb2::file::ReadResponse::parse`), and compound answers split
//! with `rxce_smb2::next_in_chain`.
//!
//! Input layout: 4 bytes little-endian message length (the transport's
//! word), then the bytes of the message's start.
//!
//! Properties, on every input:
//! - no panic;
//! - a READ answer that parses places its data after the 80-byte header
//!   and fixed body and within the announced message, whatever the
//!   offset and length fields say;
//! - walking a chain with `next_in_chain` ends, every part but the last is
//!   8-byte aligned and at least a header long, and the parts add up to
//!   the input (or the walk stops at an error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_smb2::file::ReadResponse;
use rxce_smb2::next_in_chain;

fuzz_target!(|input: &[u8]| {
    let Some((len, data)) = input.split_first_chunk::<4>() else {
        return;
    };
    let message_len = u32::from_le_bytes(*len) as usize;
    if let Ok(read) = ReadResponse::parse(data, message_len) {
        assert!(!read.header.is_error());
        if read.data_length > 0 {
            assert!(read.data_offset >= ReadResponse::PREFIX_LEN);
            assert!(read.data_offset + read.data_length <= message_len);
        }
    }

    let mut rest = data;
    let mut total = 0;
    while !rest.is_empty() {
        let Ok((one, next)) = next_in_chain(rest) else {
            break;
        };
        assert!(one.len() >= 64);
        if !next.is_empty() {
            assert_eq!(one.len() % 8, 0);
        }
        total += one.len();
        rest = next;
    }
    assert!(total <= data.len());
    if rest.is_empty() {
        assert_eq!(total, data.len());
    }
});

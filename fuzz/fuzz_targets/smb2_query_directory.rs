//! QUERY_DIRECTORY answers (`rxce_smb2::directory::parse_query_directory_response`,
//! `FileDirectoryInformation` entries).
//!
//! Properties, on every input:
//! - no panic, whatever NextEntryOffset, FileNameLength and the buffer's
//!   offset and length say (loops, overlaps, huge values);
//! - an answer that parses holds no more entries than its buffer has room
//!   for (64 bytes each at least), and their names no more UTF-16 units
//!   than the message holds; STATUS_NO_MORE_FILES has no entries;
//! - an answer that parses parses the same with bytes appended.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_smb2::directory::parse_query_directory_response;
use rxce_smb2::status;

fuzz_target!(|data: &[u8]| {
    let parsed = parse_query_directory_response(data);
    if let Ok(r) = &parsed {
        if r.header.status == status::NO_MORE_FILES {
            assert!(r.entries.is_empty());
        }
        assert!(r.entries.len() * 64 <= data.len());
        let units: usize = r.entries.iter().map(|e| e.name.encode_utf16().count()).sum();
        assert!(units * 2 <= data.len());
        for e in &r.entries {
            let _ = e.is_directory();
        }
    }
    let mut longer = data.to_vec();
    longer.extend_from_slice(&[0xA5; 16]);
    if parsed.is_ok() {
        assert_eq!(parse_query_directory_response(&longer), parsed);
    }
});

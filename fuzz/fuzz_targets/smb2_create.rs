//! The answers that open and close a file: CREATE
//! (`rxce_smb2::file::parse_create_response`) and CLOSE.
//!
//! Properties, on every input:
//! - no parser panics;
//! - a CREATE answer that parses answers CREATE with a success status, and
//!   a directory is exactly one with the DIRECTORY attribute;
//! - an answer that parses parses the same with bytes appended.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_smb2::command;
use rxce_smb2::file::{parse_close_response, parse_create_response, FILE_ATTRIBUTE_DIRECTORY};

fuzz_target!(|data: &[u8]| {
    let create = parse_create_response(data);
    if let Ok(r) = &create {
        assert_eq!(r.header.command, command::CREATE);
        assert!(!r.header.is_error());
        assert_eq!(r.is_directory(), r.file_attributes & FILE_ATTRIBUTE_DIRECTORY != 0);
        assert!(data.len() >= 64 + 88);
    }
    let close = parse_close_response(data);

    let mut longer = data.to_vec();
    longer.extend_from_slice(&[0xA5; 16]);
    if create.is_ok() {
        assert_eq!(parse_create_response(&longer), create);
    }
    if close.is_ok() {
        assert_eq!(parse_close_response(&longer), close);
    }
});

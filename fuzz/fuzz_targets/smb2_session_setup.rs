//! The answers that log on and reach a share: SESSION_SETUP
//! (`rxce_smb2::session::parse_session_setup_response`), TREE_CONNECT, and
//! the 4-byte-body answers of LOGOFF and TREE_DISCONNECT.
//!
//! Properties, on every input:
//! - no parser panics, whatever the offsets and lengths say;
//! - a SESSION_SETUP answer that parses is SUCCESS or
//!   MORE_PROCESSING_REQUIRED (any other error status is a refusal), and
//!   its security blob lies within the message after the 8-byte fixed body;
//! - a message that parses parses the same with bytes appended (what
//!   follows a message is not read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_smb2::session::{parse_empty_response, parse_session_setup_response, parse_tree_connect_response};
use rxce_smb2::{command, status, ResponseHeader};

fuzz_target!(|data: &[u8]| {
    let setup = parse_session_setup_response(data);
    if let Ok(r) = &setup {
        assert!(r.header.status == status::MORE_PROCESSING_REQUIRED || !r.header.is_error());
        assert!(r.security_blob.len() <= data.len().saturating_sub(72));
        assert_eq!(
            ResponseHeader::parse(data).map(|h| h.command),
            Ok(command::SESSION_SETUP)
        );
    }
    let tree = parse_tree_connect_response(data);
    let logoff = parse_empty_response(data, command::LOGOFF);

    let mut longer = data.to_vec();
    longer.extend_from_slice(&[0xA5; 16]);
    if setup.is_ok() {
        assert_eq!(parse_session_setup_response(&longer), setup);
    }
    if tree.is_ok() {
        assert_eq!(parse_tree_connect_response(&longer), tree);
    }
    if logoff.is_ok() {
        assert_eq!(parse_empty_response(&longer, command::LOGOFF), logoff);
    }
});

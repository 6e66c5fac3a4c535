//! The SMB2 NEGOTIATE response a server answers the engine's probe with
//! (`rxce_smb2::parse_negotiate_response`), and the decoders of what it
//! carries (negotiate contexts, names of dialects, capabilities, ciphers).
//!
//! Properties, on every input:
//! - the parser never panics, whatever the offsets, lengths and counts say
//!   (the crate documents parsing as total);
//! - a response that parses is consistent: it starts with the SMB2
//!   protocol id, its security blob and contexts lie within the message,
//!   contexts only come with dialect 3.1.1, and every decoder of its parts
//!   (`cipher`, `preauth_integrity`, `ciphers`, the name helpers) returns
//!   without panicking;
//! - bytes after the message are ignored: the same input with a tail
//!   appended parses to the same response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_smb2::{
    capability, cipher, context_type, dialect, format_guid, hash_algorithm, is_smb2, parse_negotiate_response,
};

fuzz_target!(|data: &[u8]| {
    let Ok(response) = parse_negotiate_response(data) else {
        return;
    };
    assert!(is_smb2(data));
    assert!(response.security_blob.len() <= data.len().saturating_sub(128));
    if !response.contexts.is_empty() {
        assert_eq!(response.dialect, dialect::SMB3_1_1);
    }
    let context_bytes: usize = response.contexts.iter().map(|c| 8 + c.data.len()).sum();
    assert!(context_bytes <= data.len().saturating_sub(128));

    let _ = (
        dialect::name(response.dialect),
        dialect::hex(response.dialect),
        capability::names(response.capabilities),
        capability::unknown(response.capabilities),
        format_guid(&response.server_guid),
        response.signing_required(),
    );
    if let Ok(Some(c)) = response.cipher() {
        let _ = cipher::name(c);
    }
    for context in &response.contexts {
        let _ = context_type::name(context.context_type);
        if let Ok(preauth) = context.preauth_integrity() {
            assert!(4 + 2 * preauth.hash_algorithms.len() + preauth.salt.len() <= context.data.len());
            for h in preauth.hash_algorithms {
                let _ = hash_algorithm::name(h);
            }
        }
        if let Ok(ciphers) = context.ciphers() {
            assert!(2 + 2 * ciphers.len() <= context.data.len());
        }
    }

    let mut longer = data.to_vec();
    longer.extend_from_slice(&[0xA5; 16]);
    assert_eq!(parse_negotiate_response(&longer), Ok(response));
});

//! The server's NTLMSSP CHALLENGE_MESSAGE
//! (`rxce_smb2::ntlmssp::parse_challenge`) and the AUTHENTICATE_MESSAGE
//! built from it.
//!
//! Properties, on every input:
//! - no panic, whatever the field offsets and lengths say;
//! - a challenge that parses starts with the NTLMSSP signature and type 2,
//!   and its target info lies within the token;
//! - the anonymous and guest AUTHENTICATE messages built from it have the
//!   64-byte fixed part, the signature, type 3, and payload fields that lie
//!   within the message;
//! - a challenge that parses parses the same with bytes appended.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_smb2::ntlmssp::{authenticate_message, parse_challenge, Logon, SIGNATURE};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_challenge(data);
    if let Ok(challenge) = &parsed {
        assert_eq!(&data[..8], &SIGNATURE);
        assert_eq!(&data[8..12], &[2, 0, 0, 0]);
        assert!(challenge.target_info.len() <= data.len());
        for logon in [
            Logon::Anonymous,
            Logon::Guest {
                user: challenge.target_name.clone(),
            },
        ] {
            let m = authenticate_message(challenge, &logon, &challenge.target_name);
            assert!(m.len() >= 64);
            assert_eq!(&m[..8], &SIGNATURE);
            assert_eq!(&m[8..12], &[3, 0, 0, 0]);
            for field in 0..6 {
                let at = 12 + 8 * field;
                let len = u16::from_le_bytes([m[at], m[at + 1]]) as usize;
                let offset = u32::from_le_bytes([m[at + 4], m[at + 5], m[at + 6], m[at + 7]]) as usize;
                assert!(offset >= 64 && offset + len <= m.len());
            }
        }
    }
    let mut longer = data.to_vec();
    longer.extend_from_slice(&[0xA5; 16]);
    if parsed.is_ok() {
        assert_eq!(parse_challenge(&longer), parsed);
    }
});

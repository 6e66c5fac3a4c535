//! Property tests: the parser is total, and the encoder's dialect list reads
//! back unchanged.

use proptest::prelude::*;
use rxce_smb2::{dialect, parse_negotiate_response, NegotiateRequest};

const SAMBA_311: &[u8] = include_bytes!("data/samba-4.17-negotiate-311.bin");

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// A header that passes every header check, so that the body gets exercised.
fn response_header() -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[0..4].copy_from_slice(b"\xfeSMB");
    h[4] = 64; // StructureSize
    h[16] = 1; // SERVER_TO_REDIR
    h
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_negotiate_response(&bytes);
    }

    #[test]
    fn parse_never_panics_behind_a_valid_header(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        structure_size_65 in any::<bool>(),
        dialect_311 in any::<bool>(),
        sec_offset in 0u16..400,
        sec_length in 0u16..300,
        ctx_count in 0u16..6,
        ctx_offset in 0u32..400,
    ) {
        let mut b = response_header();
        b.extend_from_slice(&body);
        // Steer the interesting fields, when present, towards plausible values.
        let mut set = |off: usize, v: &[u8]| {
            if b.len() >= off + v.len() {
                b[off..off + v.len()].copy_from_slice(v);
            }
        };
        if structure_size_65 {
            set(64, &65u16.to_le_bytes());
        }
        if dialect_311 {
            set(68, &dialect::SMB3_1_1.to_le_bytes());
        }
        set(70, &ctx_count.to_le_bytes());
        set(120, &sec_offset.to_le_bytes());
        set(122, &sec_length.to_le_bytes());
        set(124, &ctx_offset.to_le_bytes());
        if let Ok(r) = parse_negotiate_response(&b) {
            prop_assert!(r.security_blob.len() <= b.len());
            prop_assert!(r.contexts.len() <= usize::from(ctx_count));
            for c in &r.contexts {
                // Decoding helpers are total too.
                let _ = c.preauth_integrity();
                let _ = c.ciphers();
            }
            let _ = r.cipher();
        }
    }

    #[test]
    fn parse_never_panics_on_a_mutated_real_response(
        edits in proptest::collection::vec((0usize..268, any::<u8>()), 1..8),
        cut in 0usize..=268,
    ) {
        let mut b = SAMBA_311.to_vec();
        for (pos, val) in edits {
            b[pos] = val;
        }
        b.truncate(cut);
        let _ = parse_negotiate_response(&b);
    }

    #[test]
    fn encoded_dialects_read_back(
        dialects in proptest::collection::vec(any::<u16>(), 1..100),
        message_id in any::<u64>(),
        security_mode in any::<u16>(),
        capabilities in any::<u32>(),
        client_guid in any::<[u8; 16]>(),
    ) {
        let req = NegotiateRequest {
            message_id,
            dialects: dialects.clone(),
            security_mode,
            capabilities,
            client_guid,
            ..NegotiateRequest::default()
        };
        let b = req.encode().unwrap();
        prop_assert_eq!(&b[0..4], b"\xfeSMB");
        prop_assert_eq!(u64::from_le_bytes(b[24..32].try_into().unwrap()), message_id);
        prop_assert_eq!(usize::from(u16_at(&b, 66)), dialects.len()); // DialectCount
        prop_assert_eq!(u16_at(&b, 68), security_mode);
        prop_assert_eq!(u32_at(&b, 72), capabilities);
        prop_assert_eq!(&b[76..92], &client_guid[..]);

        let count = usize::from(u16_at(&b, 66));
        let read_back: Vec<u16> = (0..count).map(|i| u16_at(&b, 100 + 2 * i)).collect();
        prop_assert_eq!(&read_back, &dialects);

        let dialects_end = 100 + 2 * dialects.len();
        if dialects.contains(&dialect::SMB3_1_1) {
            let ctx_offset = u32_at(&b, 92) as usize;
            prop_assert_eq!(ctx_offset % 8, 0);
            prop_assert!(ctx_offset >= dialects_end && ctx_offset < dialects_end + 8);
            prop_assert_eq!(u16_at(&b, 96), 2);
            prop_assert_eq!(u16_at(&b, ctx_offset), 1); // PREAUTH first
            prop_assert_eq!(b.len(), ctx_offset + 48 + 14);
        } else {
            prop_assert_eq!(&b[92..100], &[0u8; 8]);
            prop_assert_eq!(b.len(), dialects_end);
        }
    }
}

//! NEGOTIATE response parsing from handcrafted byte vectors.

use rxce_smb2::{
    capability, cipher, context_type, dialect, hash_algorithm, parse_negotiate_response, security_mode, status,
    NegotiateContext, Smb2Error,
};

/// The 64-byte header of a successful NEGOTIATE response to message 42 that
/// grants 5 credits.
#[rustfmt::skip]
const HEADER: [u8; 64] = [
    0xfe, b'S', b'M', b'B', // 0  ProtocolId
    0x40, 0x00,             // 4  StructureSize = 64
    0x01, 0x00,             // 6  CreditCharge = 1
    0x00, 0x00, 0x00, 0x00, // 8  Status = STATUS_SUCCESS
    0x00, 0x00,             // 12 Command = NEGOTIATE
    0x05, 0x00,             // 14 CreditResponse = 5
    0x01, 0x00, 0x00, 0x00, // 16 Flags = SERVER_TO_REDIR
    0x00, 0x00, 0x00, 0x00, // 20 NextCommand
    0x2a, 0, 0, 0, 0, 0, 0, 0, // 24 MessageId = 42
    0x00, 0x00, 0x00, 0x00, // 32 Reserved
    0x00, 0x00, 0x00, 0x00, // 36 TreeId
    0, 0, 0, 0, 0, 0, 0, 0, // 40 SessionId
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 48 Signature
];

/// A 3.1.1 response: 6-byte security blob at 128, two contexts at 136 and 184,
/// 196 bytes in all.
#[rustfmt::skip]
fn response_311() -> Vec<u8> {
    let mut b = HEADER.to_vec();
    b.extend_from_slice(&[
        0x41, 0x00,             // 64+0  StructureSize = 65
        0x03, 0x00,             // 64+2  SecurityMode = ENABLED | REQUIRED
        0x11, 0x03,             // 64+4  DialectRevision = 0x0311
        0x02, 0x00,             // 64+6  NegotiateContextCount = 2
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, // 64+8 ServerGuid
        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
        0x2f, 0x00, 0x00, 0x00, // 64+24 Capabilities = DFS|LEASING|LARGE_MTU|MULTI_CHANNEL|DIRECTORY_LEASING
        0x00, 0x00, 0x10, 0x00, // 64+28 MaxTransactSize = 1 MiB
        0x00, 0x00, 0x08, 0x00, // 64+32 MaxReadSize = 512 KiB
        0x00, 0x00, 0x04, 0x00, // 64+36 MaxWriteSize = 256 KiB
        0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0xdc, 0x01, // 64+40 SystemTime
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 64+48 ServerStartTime = 1
        0x80, 0x00,             // 64+56 SecurityBufferOffset = 128
        0x06, 0x00,             // 64+58 SecurityBufferLength = 6
        0x88, 0x00, 0x00, 0x00, // 64+60 NegotiateContextOffset = 136 (128 + 6 rounded up)
        // 128: security buffer
        0x60, 0x04, 0x06, 0x02, 0x2b, 0x06,
        0x00, 0x00,             // 134: padding to 136
        // 136: PREAUTH_INTEGRITY_CAPABILITIES
        0x01, 0x00,             // ContextType
        0x26, 0x00,             // DataLength = 38
        0x00, 0x00, 0x00, 0x00, // Reserved
        0x01, 0x00,             // HashAlgorithmCount = 1
        0x20, 0x00,             // SaltLength = 32
        0x01, 0x00,             // SHA-512
    ]);
    b.extend(0xa0..=0xbfu8); // 150: the 32-byte salt, up to 182
    b.extend_from_slice(&[
        0x00, 0x00,             // 182: padding to 184
        // 184: ENCRYPTION_CAPABILITIES
        0x02, 0x00,             // ContextType
        0x04, 0x00,             // DataLength = 4
        0x00, 0x00, 0x00, 0x00, // Reserved
        0x01, 0x00,             // CipherCount = 1
        0x02, 0x00,             // AES-128-GCM
    ]);
    assert_eq!(b.len(), 196);
    b
}

/// A 2.1 response: no contexts (the context fields are Reserved, and hold
/// junk here to prove they are ignored), a 10-byte blob at 128; 138 bytes.
#[rustfmt::skip]
fn response_21() -> Vec<u8> {
    let mut b = HEADER.to_vec();
    b.extend_from_slice(&[
        0x41, 0x00,             // 64+0  StructureSize = 65
        0x01, 0x00,             // 64+2  SecurityMode = ENABLED
        0x10, 0x02,             // 64+4  DialectRevision = 0x0210
        0x07, 0x00,             // 64+6  Reserved (junk)
        0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, // 64+8 ServerGuid
        0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00,
        0x07, 0x00, 0x00, 0x00, // 64+24 Capabilities = DFS|LEASING|LARGE_MTU
        0x00, 0x00, 0x80, 0x00, // 64+28 MaxTransactSize = 8 MiB
        0x00, 0x00, 0x80, 0x00, // 64+32 MaxReadSize = 8 MiB
        0x00, 0x00, 0x80, 0x00, // 64+36 MaxWriteSize = 8 MiB
        0, 0, 0, 0, 0, 0, 0, 0, // 64+40 SystemTime
        0, 0, 0, 0, 0, 0, 0, 0, // 64+48 ServerStartTime
        0x80, 0x00,             // 64+56 SecurityBufferOffset = 128
        0x0a, 0x00,             // 64+58 SecurityBufferLength = 10
        0xff, 0xff, 0xff, 0xff, // 64+60 Reserved2 (junk)
        // 128: security buffer
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    assert_eq!(b.len(), 138);
    b
}

fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn parses_311_with_contexts_and_blob() {
    let r = parse_negotiate_response(&response_311()).unwrap();
    assert_eq!(r.status, status::SUCCESS);
    assert_eq!(r.message_id, 42);
    assert_eq!(r.credits_granted, 5);
    assert_eq!(
        r.security_mode,
        security_mode::SIGNING_ENABLED | security_mode::SIGNING_REQUIRED
    );
    assert!(r.signing_required());
    assert_eq!(r.dialect, dialect::SMB3_1_1);
    assert_eq!(r.server_guid, core::array::from_fn(|i| i as u8));
    assert_eq!(
        rxce_smb2::format_guid(&r.server_guid),
        "03020100-0504-0706-0809-0a0b0c0d0e0f"
    );
    assert_eq!(r.capabilities, 0x2f);
    assert_eq!(
        capability::names(r.capabilities),
        ["DFS", "LEASING", "LARGE_MTU", "MULTI_CHANNEL", "DIRECTORY_LEASING"]
    );
    assert_eq!(r.max_transact_size, 1 << 20);
    assert_eq!(r.max_read_size, 512 << 10);
    assert_eq!(r.max_write_size, 256 << 10);
    assert_eq!(r.system_time, 0x01dc_0000_1234_5678);
    assert_eq!(r.server_start_time, 1);
    assert_eq!(r.security_blob, [0x60, 0x04, 0x06, 0x02, 0x2b, 0x06]);

    assert_eq!(r.contexts.len(), 2);
    let mut preauth_data = vec![1, 0, 32, 0, 1, 0];
    preauth_data.extend(0xa0..=0xbfu8);
    assert_eq!(
        r.contexts[0],
        NegotiateContext {
            context_type: context_type::PREAUTH_INTEGRITY_CAPABILITIES,
            data: preauth_data,
        }
    );
    assert_eq!(
        r.contexts[1],
        NegotiateContext {
            context_type: context_type::ENCRYPTION_CAPABILITIES,
            data: vec![1, 0, 2, 0],
        }
    );
    let preauth = r.contexts[0].preauth_integrity().unwrap();
    assert_eq!(preauth.hash_algorithms, [hash_algorithm::SHA_512]);
    assert_eq!(preauth.salt, (0xa0..=0xbfu8).collect::<Vec<_>>());
    assert_eq!(r.cipher(), Ok(Some(cipher::AES_128_GCM)));
}

#[test]
fn parses_21_without_contexts() {
    let r = parse_negotiate_response(&response_21()).unwrap();
    assert_eq!(r.dialect, dialect::SMB2_1);
    assert_eq!(r.security_mode, security_mode::SIGNING_ENABLED);
    assert!(!r.signing_required());
    assert_eq!(
        rxce_smb2::format_guid(&r.server_guid),
        "ccddeeff-aabb-8899-7766-554433221100"
    );
    assert_eq!(capability::names(r.capabilities), ["DFS", "LEASING", "LARGE_MTU"]);
    assert_eq!(r.max_transact_size, 8 << 20);
    assert_eq!(r.max_read_size, 8 << 20);
    assert_eq!(r.max_write_size, 8 << 20);
    assert_eq!(r.security_blob, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert!(r.contexts.is_empty());
    assert_eq!(r.cipher(), Ok(None));
}

#[test]
fn trailing_bytes_are_ignored() {
    let mut b = response_21();
    b.extend_from_slice(&[0xaa; 8]);
    assert_eq!(
        parse_negotiate_response(&b).unwrap(),
        parse_negotiate_response(&response_21()).unwrap()
    );
}

#[test]
fn every_truncation_is_an_error() {
    for full in [response_311(), response_21()] {
        for len in 0..full.len() {
            assert!(
                parse_negotiate_response(&full[..len]).is_err(),
                "a {len}-byte prefix of a {}-byte response parsed",
                full.len()
            );
        }
        assert!(parse_negotiate_response(&full).is_ok());
    }
}

#[test]
fn short_header_reports_truncation() {
    let b = response_21();
    assert_eq!(
        parse_negotiate_response(&b[..3]),
        Err(Smb2Error::Truncated { needed: 4, actual: 3 })
    );
    assert_eq!(
        parse_negotiate_response(&b[..63]),
        Err(Smb2Error::Truncated { needed: 64, actual: 63 })
    );
    // Body StructureSize present, fixed body cut short.
    assert_eq!(
        parse_negotiate_response(&b[..100]),
        Err(Smb2Error::Truncated {
            needed: 128,
            actual: 100
        })
    );
}

#[test]
fn bad_protocol_id() {
    let mut b = response_21();
    b[0] = 0xfd; // an SMB3 transform header is not a NEGOTIATE response
    assert_eq!(
        parse_negotiate_response(&b),
        Err(Smb2Error::BadProtocolId([0xfd, b'S', b'M', b'B']))
    );
    assert_eq!(
        parse_negotiate_response(b"HTTP/1.1 400"),
        Err(Smb2Error::BadProtocolId(*b"HTTP"))
    );
}

#[test]
fn smb1_reply_has_its_own_error() {
    // Start of an SMB1 NEGOTIATE response: Protocol, Command 0x72, Status.
    let smb1 = [0xff, b'S', b'M', b'B', 0x72, 0, 0, 0, 0, 0x88, 0x01, 0xc8];
    assert_eq!(parse_negotiate_response(&smb1), Err(Smb2Error::Smb1Reply));
    // Recognised from the protocol id alone, even when cut short.
    assert_eq!(parse_negotiate_response(&smb1[..4]), Err(Smb2Error::Smb1Reply));
}

#[test]
fn bad_header_fields() {
    let mut b = response_21();
    put16(&mut b, 4, 65);
    assert_eq!(parse_negotiate_response(&b), Err(Smb2Error::BadHeaderStructureSize(65)));

    let mut b = response_21();
    put32(&mut b, 16, 0x8); // SIGNED but not SERVER_TO_REDIR
    assert_eq!(parse_negotiate_response(&b), Err(Smb2Error::NotAResponse(0x8)));

    let mut b = response_21();
    put16(&mut b, 12, 1); // SESSION_SETUP
    assert_eq!(parse_negotiate_response(&b), Err(Smb2Error::UnexpectedCommand(1)));
}

#[test]
fn error_response_body_gives_server_status() {
    let mut b = HEADER.to_vec();
    put32(&mut b, 8, status::NOT_SUPPORTED);
    #[rustfmt::skip]
    b.extend_from_slice(&[
        0x09, 0x00,             // StructureSize = 9
        0x00,                   // ErrorContextCount
        0x00,                   // Reserved
        0x00, 0x00, 0x00, 0x00, // ByteCount
        0x00,                   // ErrorData (one byte even when empty)
    ]);
    assert_eq!(
        parse_negotiate_response(&b),
        Err(Smb2Error::ServerStatus(status::NOT_SUPPORTED))
    );
    // Only the StructureSize is needed to recognise the error body.
    assert_eq!(
        parse_negotiate_response(&b[..66]),
        Err(Smb2Error::ServerStatus(status::NOT_SUPPORTED))
    );
}

#[test]
fn success_with_error_body_is_a_structure_error() {
    let mut b = HEADER.to_vec();
    b.extend_from_slice(&[0x09, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(parse_negotiate_response(&b), Err(Smb2Error::BadBodyStructureSize(9)));
}

#[test]
fn non_success_status_with_full_body_is_parsed() {
    // A warning status that still comes with a NEGOTIATE body is reported in
    // the `status` field rather than thrown away.
    let mut b = response_21();
    put32(&mut b, 8, 0x8000_0005); // STATUS_BUFFER_OVERFLOW
    let r = parse_negotiate_response(&b).unwrap();
    assert_eq!(r.status, 0x8000_0005);
    assert_eq!(r.dialect, dialect::SMB2_1);
}

#[test]
fn bad_body_structure_size() {
    let mut b = response_21();
    put16(&mut b, 64, 64);
    assert_eq!(parse_negotiate_response(&b), Err(Smb2Error::BadBodyStructureSize(64)));
}

#[test]
fn security_buffer_out_of_bounds() {
    // Runs one byte past the end.
    let mut b = response_21();
    put16(&mut b, 64 + 58, 11);
    assert_eq!(
        parse_negotiate_response(&b),
        Err(Smb2Error::SecurityBufferOutOfBounds {
            offset: 128,
            length: 11,
            message_len: 138
        })
    );
    // Starts past the end.
    let mut b = response_21();
    put16(&mut b, 64 + 56, 0xfff0);
    assert!(matches!(
        parse_negotiate_response(&b),
        Err(Smb2Error::SecurityBufferOutOfBounds { offset: 0xfff0, .. })
    ));
    // Largest offset and length: no overflow, just an error.
    let mut b = response_21();
    put16(&mut b, 64 + 56, 0xffff);
    put16(&mut b, 64 + 58, 0xffff);
    assert!(matches!(
        parse_negotiate_response(&b),
        Err(Smb2Error::SecurityBufferOutOfBounds { .. })
    ));
    // Points into the header / fixed body.
    for offset in [0u16, 64, 127] {
        let mut b = response_21();
        put16(&mut b, 64 + 56, offset);
        assert_eq!(
            parse_negotiate_response(&b),
            Err(Smb2Error::SecurityBufferOutOfBounds {
                offset,
                length: 10,
                message_len: 138
            })
        );
    }
}

#[test]
fn empty_security_buffer_ignores_its_offset() {
    let mut b = response_21();
    put16(&mut b, 64 + 56, 0xffff);
    put16(&mut b, 64 + 58, 0);
    let r = parse_negotiate_response(&b).unwrap();
    assert!(r.security_blob.is_empty());
}

#[test]
fn misaligned_context_offset() {
    for offset in [137u32, 140, 134] {
        let mut b = response_311();
        put32(&mut b, 64 + 60, offset);
        assert_eq!(
            parse_negotiate_response(&b),
            Err(Smb2Error::BadNegotiateContextOffset { offset })
        );
    }
}

#[test]
fn context_offset_out_of_bounds() {
    // Into the fixed body, past the end, and the largest value.
    for offset in [64u32, 120, 200, 0xffff_fff8] {
        let mut b = response_311();
        put32(&mut b, 64 + 60, offset);
        assert_eq!(
            parse_negotiate_response(&b),
            Err(Smb2Error::BadNegotiateContextOffset { offset })
        );
    }
}

#[test]
fn overlong_context_data() {
    // The last context claims 5 data bytes, 4 are there.
    let mut b = response_311();
    put16(&mut b, 184 + 2, 5);
    assert_eq!(
        parse_negotiate_response(&b),
        Err(Smb2Error::NegotiateContextOutOfBounds {
            index: 1,
            offset: 184,
            message_len: 196
        })
    );
    // The first context claims more than the whole message.
    let mut b = response_311();
    put16(&mut b, 136 + 2, 0xffff);
    assert_eq!(
        parse_negotiate_response(&b),
        Err(Smb2Error::NegotiateContextOutOfBounds {
            index: 0,
            offset: 136,
            message_len: 196
        })
    );
}

#[test]
fn more_contexts_announced_than_present() {
    let mut b = response_311();
    put16(&mut b, 64 + 6, 3);
    assert_eq!(
        parse_negotiate_response(&b),
        Err(Smb2Error::NegotiateContextOutOfBounds {
            index: 2,
            offset: 200, // 196 rounded up to 8
            message_len: 196
        })
    );
}

#[test]
fn growing_first_context_shifts_the_second_off_its_boundary() {
    // With DataLength 39 the first context ends at 183, so the second is
    // looked for at 184 as before; with 41 it ends at 185 and the next
    // boundary, 192, holds no valid 8-byte context header plus data.
    let mut b = response_311();
    put16(&mut b, 136 + 2, 39);
    assert!(parse_negotiate_response(&b).is_ok());
    let mut b = response_311();
    put16(&mut b, 136 + 2, 41);
    assert!(matches!(
        parse_negotiate_response(&b),
        Err(Smb2Error::NegotiateContextOutOfBounds {
            index: 1,
            offset: 192,
            ..
        })
    ));
}

#[test]
fn zero_contexts_ignore_the_offset() {
    let mut b = response_311();
    put16(&mut b, 64 + 6, 0);
    put32(&mut b, 64 + 60, 3); // would be misaligned
    let r = parse_negotiate_response(&b).unwrap();
    assert!(r.contexts.is_empty());
    assert_eq!(r.cipher(), Ok(None));
}

#[test]
fn contexts_are_ignored_below_311() {
    // Same bytes as the 3.1.1 response but dialect 3.0.2: the context count
    // and offset are Reserved fields then.
    let mut b = response_311();
    put16(&mut b, 64 + 4, dialect::SMB3_0_2);
    put32(&mut b, 64 + 60, 0xdead_beef);
    let r = parse_negotiate_response(&b).unwrap();
    assert_eq!(r.dialect, dialect::SMB3_0_2);
    assert!(r.contexts.is_empty());
}

#[test]
fn response_cipher_must_be_single() {
    let mut b = response_311();
    put16(&mut b, 192, 0); // CipherCount = 0
    let r = parse_negotiate_response(&b).unwrap();
    assert!(matches!(
        r.cipher(),
        Err(Smb2Error::MalformedContext { context_type: 2, .. })
    ));
}

#[test]
fn errors_display() {
    assert_eq!(
        Smb2Error::ServerStatus(status::NOT_SUPPORTED).to_string(),
        "server answered the request with status 0xc00000bb"
    );
    assert_eq!(
        Smb2Error::BadProtocolId(*b"HTTP").to_string(),
        "not an SMB2 message: protocol id 48 54 54 50"
    );
}

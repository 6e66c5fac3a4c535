//! NEGOTIATE request encoding, checked byte by byte.

use rxce_smb2::{capability, dialect, security_mode, NegotiateRequest, Smb2Error};
use rxce_smb2::{DEFAULT_CLIENT_GUID, DEFAULT_PREAUTH_SALT, HEADER_LEN};

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

#[test]
fn default_request_every_field() {
    let req = NegotiateRequest {
        message_id: 0x0102_0304_0506_0708,
        ..NegotiateRequest::default()
    };
    let b = req.encode().unwrap();

    // ---- SMB2 sync header, 64 bytes -------------------------------------
    assert_eq!(&b[0..4], b"\xfeSMB"); // 0..4 ProtocolId
    assert_eq!(u16_at(&b, 4), 64); // 4 StructureSize
    assert_eq!(u16_at(&b, 6), 0); // 6 CreditCharge
    assert_eq!(u32_at(&b, 8), 0); // 8 ChannelSequence + Reserved (Status in responses)
    assert_eq!(u16_at(&b, 12), 0); // 12 Command = NEGOTIATE
    assert!(u16_at(&b, 14) >= 1); // 14 CreditRequest
    assert_eq!(u32_at(&b, 16), 0); // 16 Flags: a request, not signed
    assert_eq!(u32_at(&b, 20), 0); // 20 NextCommand: not compounded
    assert_eq!(u64_at(&b, 24), 0x0102_0304_0506_0708); // 24 MessageId
    assert_eq!(u32_at(&b, 32), 0); // 32 Reserved (ProcessId)
    assert_eq!(u32_at(&b, 36), 0); // 36 TreeId
    assert_eq!(u64_at(&b, 40), 0); // 40 SessionId
    assert_eq!(&b[48..64], &[0u8; 16]); // 48..64 Signature

    // ---- NEGOTIATE body, from offset 64 ---------------------------------
    assert_eq!(u16_at(&b, 64), 36); // 64+0 StructureSize
    assert_eq!(u16_at(&b, 66), 5); // 64+2 DialectCount
    assert_eq!(u16_at(&b, 68), security_mode::SIGNING_ENABLED); // 64+4 SecurityMode
    assert_eq!(u16_at(&b, 70), 0); // 64+6 Reserved
    assert_eq!(
        u32_at(&b, 72), // 64+8 Capabilities
        capability::DFS | capability::LEASING | capability::LARGE_MTU | capability::ENCRYPTION
    );
    assert_eq!(&b[76..92], &DEFAULT_CLIENT_GUID); // 64+12 ClientGuid
    assert_ne!(DEFAULT_CLIENT_GUID, [0; 16]);
    // 64+28 NegotiateContextOffset: the dialects end at 100 + 5*2 = 110,
    // rounded up to a multiple of 8 that is 112.
    assert_eq!(u32_at(&b, 92), 112);
    assert_eq!(u16_at(&b, 96), 2); // 64+32 NegotiateContextCount
    assert_eq!(u16_at(&b, 98), 0); // 64+34 Reserved2
                                   // 64+36 = 100: Dialects, 2 bytes each.
    assert_eq!(u16_at(&b, 100), 0x0202);
    assert_eq!(u16_at(&b, 102), 0x0210);
    assert_eq!(u16_at(&b, 104), 0x0300);
    assert_eq!(u16_at(&b, 106), 0x0302);
    assert_eq!(u16_at(&b, 108), 0x0311);
    assert_eq!(&b[110..112], &[0, 0]); // padding to 8

    // ---- Context 1 at 112: PREAUTH_INTEGRITY_CAPABILITIES ----------------
    assert_eq!(u16_at(&b, 112), 0x0001); // ContextType
    assert_eq!(u16_at(&b, 114), 38); // DataLength: 2 + 2 + 1*2 + 32
    assert_eq!(u32_at(&b, 116), 0); // Reserved
    assert_eq!(u16_at(&b, 120), 1); // HashAlgorithmCount
    assert_eq!(u16_at(&b, 122), 32); // SaltLength
    assert_eq!(u16_at(&b, 124), 0x0001); // HashAlgorithms[0] = SHA-512
    assert_eq!(&b[126..158], &DEFAULT_PREAUTH_SALT); // Salt
    assert_eq!(&b[158..160], &[0, 0]); // 158 rounded up to 160

    // ---- Context 2 at 160: ENCRYPTION_CAPABILITIES -----------------------
    assert_eq!(u16_at(&b, 160), 0x0002); // ContextType
    assert_eq!(u16_at(&b, 162), 6); // DataLength: 2 + 2*2
    assert_eq!(u32_at(&b, 164), 0); // Reserved
    assert_eq!(u16_at(&b, 168), 2); // CipherCount
    assert_eq!(u16_at(&b, 170), 0x0002); // AES-128-GCM
    assert_eq!(u16_at(&b, 172), 0x0001); // AES-128-CCM

    // No transport header before, no padding after.
    assert_eq!(b.len(), 174);
}

#[test]
fn request_without_311_has_client_start_time_and_no_contexts() {
    let req = NegotiateRequest {
        dialects: vec![dialect::SMB2_1, dialect::SMB3_0, dialect::SMB3_0_2],
        security_mode: security_mode::SIGNING_REQUIRED,
        capabilities: 0,
        client_guid: [0x11; 16],
        ..NegotiateRequest::default()
    };
    let b = req.encode().unwrap();
    assert_eq!(u16_at(&b, 66), 3); // DialectCount
    assert_eq!(u16_at(&b, 68), security_mode::SIGNING_REQUIRED);
    assert_eq!(u32_at(&b, 72), 0); // Capabilities as given
    assert_eq!(&b[76..92], &[0x11; 16]);
    assert_eq!(u64_at(&b, 92), 0); // ClientStartTime
    assert_eq!(u16_at(&b, 100), 0x0210);
    assert_eq!(u16_at(&b, 102), 0x0300);
    assert_eq!(u16_at(&b, 104), 0x0302);
    assert_eq!(b.len(), 106); // 64 + 36 + 3*2, nothing after
}

#[test]
fn contexts_follow_an_odd_dialect_count_aligned() {
    // 3.1.1 alone: the dialects end at 102, contexts start at 104.
    let req = NegotiateRequest {
        dialects: vec![dialect::SMB3_1_1],
        ..NegotiateRequest::default()
    };
    let b = req.encode().unwrap();
    assert_eq!(u32_at(&b, 92), 104);
    assert_eq!(u16_at(&b, 104), 0x0001);
    assert_eq!(u16_at(&b, 152), 0x0002); // 104 + 46 = 150, rounded up to 152
    assert_eq!(b.len(), 152 + 14);
}

#[test]
fn salt_is_taken_from_the_request() {
    let req = NegotiateRequest {
        preauth_salt: [0x5a; 32],
        ..NegotiateRequest::default()
    };
    let b = req.encode().unwrap();
    assert_eq!(&b[126..158], &[0x5a; 32]);
}

#[test]
fn empty_dialect_list_is_an_error() {
    let req = NegotiateRequest {
        dialects: Vec::new(),
        ..NegotiateRequest::default()
    };
    assert_eq!(req.encode(), Err(Smb2Error::NoDialects));
}

#[test]
fn encoded_request_is_smb2_and_not_a_response() {
    let b = NegotiateRequest::default().encode().unwrap();
    assert!(rxce_smb2::is_smb2(&b));
    assert!(b.len() > HEADER_LEN);
    assert!(matches!(
        rxce_smb2::parse_negotiate_response(&b),
        Err(Smb2Error::NotAResponse(0))
    ));
}

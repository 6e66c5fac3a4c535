//! Real NEGOTIATE responses captured from Samba 4.17.12 (smbd) on 127.0.0.1.
//!
//! `samba-4.17-negotiate-311.bin` answers `NegotiateRequest::default()` (all
//! five dialects, signing enabled, the two 3.1.1 contexts);
//! `samba-4.17-negotiate-unsupported.bin` answers a request offering only the
//! made-up dialect 0x0400. Both are the SMB2 message alone, without the 4-byte
//! direct-TCP header.

use rxce_smb2::{
    capability, cipher, context_type, dialect, format_guid, hash_algorithm, parse_negotiate_response, security_mode,
    status, Smb2Error,
};

const NEGOTIATE_311: &[u8] = include_bytes!("data/samba-4.17-negotiate-311.bin");
const NEGOTIATE_UNSUPPORTED: &[u8] = include_bytes!("data/samba-4.17-negotiate-unsupported.bin");

#[test]
fn samba_chooses_311() {
    assert_eq!(NEGOTIATE_311.len(), 268);
    let r = parse_negotiate_response(NEGOTIATE_311).unwrap();

    assert_eq!(r.status, status::SUCCESS);
    assert_eq!(r.message_id, 0);
    assert_eq!(r.credits_granted, 1);
    assert_eq!(r.dialect, dialect::SMB3_1_1);
    assert_eq!(dialect::name(r.dialect), "SMB 3.1.1");
    // Signing offered, not required (Samba's default for a standalone server).
    assert_eq!(r.security_mode, security_mode::SIGNING_ENABLED);
    // The server GUID this smbd sent holds the bytes of the host name "vm",
    // zero-padded.
    assert_eq!(format_guid(&r.server_guid), "00006d76-0000-0000-0000-000000000000");
    assert_eq!(capability::names(r.capabilities), ["DFS", "LEASING", "LARGE_MTU"]);
    assert_eq!(r.max_transact_size, 8 << 20);
    assert_eq!(r.max_read_size, 8 << 20);
    assert_eq!(r.max_write_size, 8 << 20);
    // FILETIME of the capture: 100 ns ticks since 1601.
    assert_eq!(r.system_time, 134_400_360_822_355_520);
    assert_eq!(r.server_start_time, 0);

    // A SPNEGO negTokenInit: APPLICATION 0 tag, then the SPNEGO OID
    // 1.3.6.1.5.5.2, listing NTLMSSP (1.3.6.1.4.1.311.2.2.10).
    assert_eq!(r.security_blob.len(), 74);
    assert_eq!(r.security_blob[0], 0x60);
    assert_eq!(&r.security_blob[4..10], &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]);
    let ntlmssp_oid = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
    assert!(r.security_blob.windows(ntlmssp_oid.len()).any(|w| w == ntlmssp_oid));

    let types: Vec<u16> = r.contexts.iter().map(|c| c.context_type).collect();
    assert_eq!(
        types,
        [
            context_type::PREAUTH_INTEGRITY_CAPABILITIES,
            context_type::ENCRYPTION_CAPABILITIES
        ]
    );
    let preauth = r
        .context(context_type::PREAUTH_INTEGRITY_CAPABILITIES)
        .unwrap()
        .preauth_integrity()
        .unwrap();
    assert_eq!(preauth.hash_algorithms, [hash_algorithm::SHA_512]);
    assert_eq!(preauth.salt.len(), 32);
    // Samba takes the first cipher the client prefers.
    assert_eq!(r.cipher(), Ok(Some(cipher::AES_128_GCM)));
}

#[test]
fn samba_response_truncated_anywhere_is_an_error() {
    for len in 0..NEGOTIATE_311.len() {
        assert!(
            parse_negotiate_response(&NEGOTIATE_311[..len]).is_err(),
            "{len}-byte prefix parsed"
        );
    }
}

#[test]
fn samba_refuses_an_unknown_dialect() {
    assert_eq!(
        parse_negotiate_response(NEGOTIATE_UNSUPPORTED),
        Err(Smb2Error::ServerStatus(status::NOT_SUPPORTED))
    );
}

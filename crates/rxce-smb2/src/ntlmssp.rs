//! NTLMSSP (MS-NLMP) messages for anonymous and guest logons: the
//! NEGOTIATE_MESSAGE, the server's CHALLENGE_MESSAGE and an
//! AUTHENTICATE_MESSAGE with empty responses. No password is ever hashed:
//! an anonymous logon sends no user name and empty responses; a guest logon
//! sends a user name the server does not know, which a server configured to
//! map bad users to guest (Samba's `map to guest = Bad User`) accepts as its
//! guest account.
//!
//! The messages go raw into the SESSION_SETUP security buffer, without
//! SPNEGO wrapping: Samba 4.17 accepts a bare NTLMSSP token and answers in
//! kind (other servers were not tried).

use crate::error::Smb2Error;
use crate::wire::{array_at, u16_at, u32_at};

/// `"NTLMSSP\0"`, the signature opening every message.
pub const SIGNATURE: [u8; 8] = *b"NTLMSSP\0";

/// `NegotiateFlags` bits used by this crate.
pub mod negotiate_flag {
    /// `NTLMSSP_NEGOTIATE_UNICODE`: strings in UTF-16LE.
    pub const UNICODE: u32 = 0x0000_0001;
    /// `NTLMSSP_REQUEST_TARGET`: the server should name its realm.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// `NTLMSSP_NEGOTIATE_NTLM`.
    pub const NTLM: u32 = 0x0000_0200;
    /// `NTLMSSP_NEGOTIATE_ANONYMOUS`: an anonymous logon.
    pub const ANONYMOUS: u32 = 0x0000_0800;
    /// `NTLMSSP_NEGOTIATE_ALWAYS_SIGN`.
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    /// `NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY`.
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// `NTLMSSP_NEGOTIATE_TARGET_INFO`: the challenge carries target info.
    pub const TARGET_INFO: u32 = 0x0080_0000;
    /// `NTLMSSP_NEGOTIATE_128`.
    pub const N128: u32 = 0x2000_0000;
    /// `NTLMSSP_NEGOTIATE_56`.
    pub const N56: u32 = 0x8000_0000;
}

/// The flags of the NEGOTIATE_MESSAGE this crate sends: Unicode, NTLM,
/// extended session security, target requested; nothing that needs a
/// session key (no signing, sealing or key exchange).
pub const CLIENT_FLAGS: u32 = negotiate_flag::UNICODE
    | negotiate_flag::REQUEST_TARGET
    | negotiate_flag::NTLM
    | negotiate_flag::ALWAYS_SIGN
    | negotiate_flag::EXTENDED_SESSIONSECURITY
    | negotiate_flag::N128
    | negotiate_flag::N56;

const NEGOTIATE_TYPE: u32 = 1;
const CHALLENGE_TYPE: u32 = 2;
const AUTHENTICATE_TYPE: u32 = 3;
/// Fixed part of a CHALLENGE_MESSAGE up to and including TargetInfoFields.
const CHALLENGE_FIXED: usize = 48;
/// Fixed part of the AUTHENTICATE_MESSAGE this crate sends (no Version, no
/// MIC): the payload starts right after it.
const AUTHENTICATE_FIXED: usize = 64;

/// The NEGOTIATE_MESSAGE: signature, type 1, [`CLIENT_FLAGS`], empty domain
/// and workstation fields (32 bytes).
pub fn negotiate_message() -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(&SIGNATURE);
    m.extend_from_slice(&NEGOTIATE_TYPE.to_le_bytes());
    m.extend_from_slice(&CLIENT_FLAGS.to_le_bytes());
    m.extend_from_slice(&[0u8; 16]); // DomainNameFields, WorkstationFields
    m
}

/// A parsed CHALLENGE_MESSAGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `NegotiateFlags` the server chose.
    pub flags: u32,
    /// The 8-byte `ServerChallenge`.
    pub server_challenge: [u8; 8],
    /// `TargetName` decoded (UTF-16LE with the UNICODE flag, else bytes as
    /// Latin-1); empty when absent.
    pub target_name: String,
    /// The raw `TargetInfo` AV pairs; empty when absent.
    pub target_info: Vec<u8>,
}

/// Parses a CHALLENGE_MESSAGE (the token of the first SESSION_SETUP
/// response).
///
/// # Errors
///
/// [`Smb2Error::Truncated`] for a short message,
/// [`Smb2Error::BadNtlmssp`] for a wrong signature or type, or a field that
/// points outside the message.
pub fn parse_challenge(token: &[u8]) -> Result<Challenge, Smb2Error> {
    if token.len() < CHALLENGE_FIXED {
        return Err(Smb2Error::Truncated {
            needed: CHALLENGE_FIXED,
            actual: token.len(),
        });
    }
    if token[..8] != SIGNATURE {
        return Err(Smb2Error::BadNtlmssp("no NTLMSSP signature"));
    }
    if u32_at(token, 8) != Some(CHALLENGE_TYPE) {
        return Err(Smb2Error::BadNtlmssp("not a CHALLENGE_MESSAGE (type 2)"));
    }
    let flags = u32_at(token, 20).unwrap_or(0);
    let server_challenge = array_at(token, 24).unwrap_or([0; 8]);
    let target_name = field(token, 12).ok_or(Smb2Error::BadNtlmssp("TargetName runs past the message"))?;
    let target_info = field(token, 40).ok_or(Smb2Error::BadNtlmssp("TargetInfo runs past the message"))?;
    let target_name = if flags & negotiate_flag::UNICODE != 0 {
        let units: Vec<u16> = target_name
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        target_name.iter().map(|&b| char::from(b)).collect()
    };
    Ok(Challenge {
        flags,
        server_challenge,
        target_name,
        target_info: target_info.to_vec(),
    })
}

/// The bytes a `Len, MaxLen, Offset` field at `at` points to (an offset
/// from the start of the message).
fn field(token: &[u8], at: usize) -> Option<&[u8]> {
    let len = usize::from(u16_at(token, at)?);
    let offset = usize::try_from(u32_at(token, at + 4)?).ok()?;
    if len == 0 {
        return Some(&[]);
    }
    token.get(offset..offset.checked_add(len)?)
}

/// Who logs on with an [`authenticate_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logon {
    /// A null session: no user, empty responses, the ANONYMOUS flag.
    Anonymous,
    /// A named user with empty responses: a server that maps unknown users
    /// to guest logs it on as guest.
    Guest {
        /// The user name sent (one the server does not know).
        user: String,
    },
}

/// The AUTHENTICATE_MESSAGE answering `challenge`, with empty LM and NT
/// responses (a one-zero-byte LM response for an anonymous logon, as
/// MS-NLMP asks), no session key, and the flags the server chose that this
/// crate also offered.
pub fn authenticate_message(challenge: &Challenge, logon: &Logon, workstation: &str) -> Vec<u8> {
    let mut flags = (challenge.flags & CLIENT_FLAGS) | negotiate_flag::UNICODE | negotiate_flag::NTLM;
    let (lm, user): (&[u8], &str) = match logon {
        Logon::Anonymous => {
            flags |= negotiate_flag::ANONYMOUS;
            (&[0], "")
        }
        Logon::Guest { user } => (&[], user),
    };
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let payloads: [Vec<u8>; 6] = [
        lm.to_vec(),        // LmChallengeResponse
        Vec::new(),         // NtChallengeResponse
        Vec::new(),         // DomainName
        utf16(user),        // UserName
        utf16(workstation), // Workstation
        Vec::new(),         // EncryptedRandomSessionKey
    ];
    let mut m = Vec::with_capacity(AUTHENTICATE_FIXED + payloads.iter().map(Vec::len).sum::<usize>());
    m.extend_from_slice(&SIGNATURE);
    m.extend_from_slice(&AUTHENTICATE_TYPE.to_le_bytes());
    let mut offset = AUTHENTICATE_FIXED;
    for p in &payloads {
        // Names are short; a longer one is cut at the field's limit.
        let len = u16::try_from(p.len()).unwrap_or(u16::MAX);
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_le_bytes());
        offset += usize::from(len);
    }
    m.extend_from_slice(&flags.to_le_bytes());
    for p in &payloads {
        m.extend_from_slice(&p[..p.len().min(usize::from(u16::MAX))]);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge_bytes(name: &[u8], info: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&SIGNATURE);
        m.extend_from_slice(&CHALLENGE_TYPE.to_le_bytes());
        m.extend_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend_from_slice(&48u32.to_le_bytes());
        m.extend_from_slice(&(negotiate_flag::UNICODE | negotiate_flag::NTLM).to_le_bytes());
        m.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&(info.len() as u16).to_le_bytes());
        m.extend_from_slice(&(info.len() as u16).to_le_bytes());
        m.extend_from_slice(&((48 + name.len()) as u32).to_le_bytes());
        m.extend_from_slice(name);
        m.extend_from_slice(info);
        m
    }

    #[test]
    fn negotiate_is_32_bytes_with_the_client_flags() {
        let m = negotiate_message();
        assert_eq!(m.len(), 32);
        assert_eq!(&m[..8], b"NTLMSSP\0");
        assert_eq!(u32_at(&m, 12), Some(CLIENT_FLAGS));
    }

    #[test]
    fn challenge_parses_and_checks_fields() {
        let m = challenge_bytes(&[b'W', 0, b'G', 0], &[2, 0, 0, 0]);
        let c = parse_challenge(&m).unwrap();
        assert_eq!(c.target_name, "WG");
        assert_eq!(c.server_challenge, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(c.target_info, [2, 0, 0, 0]);
        assert!(parse_challenge(&m[..m.len() - 1]).is_err());
        let mut wrong = m.clone();
        wrong[8] = 3;
        assert!(matches!(parse_challenge(&wrong), Err(Smb2Error::BadNtlmssp(_))));
        assert!(matches!(parse_challenge(&m[..20]), Err(Smb2Error::Truncated { .. })));
    }

    #[test]
    fn anonymous_authenticate_has_empty_responses() {
        let c = parse_challenge(&challenge_bytes(&[], &[])).unwrap();
        let m = authenticate_message(&c, &Logon::Anonymous, "RX");
        assert_eq!(u32_at(&m, 8), Some(AUTHENTICATE_TYPE));
        // LM: one zero byte at 64; NT, domain, user empty; workstation "RX".
        assert_eq!((u16_at(&m, 12), u32_at(&m, 16)), (Some(1), Some(64)));
        assert_eq!(u16_at(&m, 20), Some(0));
        assert_eq!(u16_at(&m, 36), Some(0));
        assert_eq!((u16_at(&m, 44), u32_at(&m, 48)), (Some(4), Some(65)));
        assert_ne!(u32_at(&m, 60).unwrap() & negotiate_flag::ANONYMOUS, 0);
        assert_eq!(&m[64..], &[0, b'R', 0, b'X', 0]);
    }

    #[test]
    fn guest_authenticate_names_the_user() {
        let c = parse_challenge(&challenge_bytes(&[], &[])).unwrap();
        let m = authenticate_message(&c, &Logon::Guest { user: "gu".to_string() }, "");
        assert_eq!(u16_at(&m, 12), Some(0));
        assert_eq!((u16_at(&m, 36), u32_at(&m, 40)), (Some(4), Some(64)));
        assert_eq!(u32_at(&m, 60).unwrap() & negotiate_flag::ANONYMOUS, 0);
        assert_eq!(&m[64..], &[b'g', 0, b'u', 0]);
    }
}

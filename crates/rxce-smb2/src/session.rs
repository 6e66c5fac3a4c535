//! SESSION_SETUP, LOGOFF, TREE_CONNECT and TREE_DISCONNECT: logging on and
//! reaching a share.

use crate::error::Smb2Error;
use crate::header::{buffer_at, check_body, response_for, ResponseHeader};
use crate::wire::{u16_at, u32_at};
use crate::{command, status, HEADER_LEN};

/// `SessionFlags` of a SESSION_SETUP response.
pub mod session_flag {
    /// `SMB2_SESSION_FLAG_IS_GUEST`: logged on as guest.
    pub const IS_GUEST: u16 = 0x0001;
    /// `SMB2_SESSION_FLAG_IS_NULL`: an anonymous (null) session.
    pub const IS_NULL: u16 = 0x0002;
    /// `SMB2_SESSION_FLAG_ENCRYPT_DATA`: the server requires encryption.
    pub const ENCRYPT_DATA: u16 = 0x0004;
}

/// `ShareFlags` bits of a TREE_CONNECT response used by this crate.
pub mod share_flag {
    /// `SMB2_SHAREFLAG_ENCRYPT_DATA`: the share requires encryption.
    pub const ENCRYPT_DATA: u32 = 0x0000_8000;
}

/// `ShareType` values of a TREE_CONNECT response.
pub mod share_type {
    /// A disk share.
    pub const DISK: u8 = 0x01;
    /// A named pipe share (IPC$).
    pub const PIPE: u8 = 0x02;
    /// A printer share.
    pub const PRINT: u8 = 0x03;
}

/// Writes the body of a SESSION_SETUP request carrying `token`
/// (`StructureSize` 25; the token follows the 24-byte fixed part).
pub fn session_setup_body(buf: &mut Vec<u8>, security_mode: u8, token: &[u8]) {
    const OFFSET: u16 = (HEADER_LEN + 24) as u16;
    buf.extend_from_slice(&25u16.to_le_bytes());
    buf.push(0); // Flags
    buf.push(security_mode);
    buf.extend_from_slice(&0u32.to_le_bytes()); // Capabilities (DFS off)
    buf.extend_from_slice(&0u32.to_le_bytes()); // Channel
    buf.extend_from_slice(&OFFSET.to_le_bytes());
    buf.extend_from_slice(&u16::try_from(token.len()).unwrap_or(u16::MAX).to_le_bytes());
    buf.extend_from_slice(&0u64.to_le_bytes()); // PreviousSessionId
    buf.extend_from_slice(token);
}

/// A parsed SESSION_SETUP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupResponse {
    /// The header: `status` is SUCCESS or MORE_PROCESSING_REQUIRED (another
    /// round of authentication is needed), `session_id` the session.
    pub header: ResponseHeader,
    /// [`session_flag`] bits.
    pub session_flags: u16,
    /// The security token (an NTLMSSP CHALLENGE after the first round).
    pub security_blob: Vec<u8>,
}

/// Parses a SESSION_SETUP response (`StructureSize` 9).
///
/// # Errors
///
/// [`Smb2Error::ServerStatus`] when the server refused the logon (e.g.
/// STATUS_LOGON_FAILURE), or the malformation found.
pub fn parse_session_setup_response(bytes: &[u8]) -> Result<SessionSetupResponse, Smb2Error> {
    let header = response_for(bytes, command::SESSION_SETUP, &[status::MORE_PROCESSING_REQUIRED])?;
    check_body(bytes, 9, 8)?;
    let b = HEADER_LEN;
    let session_flags = u16_at(bytes, b + 2).unwrap_or(0);
    let offset = usize::from(u16_at(bytes, b + 4).unwrap_or(0));
    let length = usize::from(u16_at(bytes, b + 6).unwrap_or(0));
    let blob = buffer_at(bytes, offset, length, 8)?;
    Ok(SessionSetupResponse {
        header,
        session_flags,
        security_blob: blob.to_vec(),
    })
}

/// Writes the 4-byte body of LOGOFF and TREE_DISCONNECT requests
/// (`StructureSize` 4, reserved).
pub fn empty_body(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&4u16.to_le_bytes());
    buf.extend_from_slice(&0u16.to_le_bytes());
}

/// Checks a LOGOFF, TREE_DISCONNECT (or any other 4-byte-body) response to
/// `command`.
///
/// # Errors
///
/// [`Smb2Error::ServerStatus`] when the server refused, or the
/// malformation found.
pub fn parse_empty_response(bytes: &[u8], command: u16) -> Result<ResponseHeader, Smb2Error> {
    let header = response_for(bytes, command, &[])?;
    check_body(bytes, 4, 4)?;
    Ok(header)
}

/// Writes the body of a TREE_CONNECT request for `path`
/// (`\\server\share`), sent as UTF-16LE after the 8-byte fixed part.
pub fn tree_connect_body(buf: &mut Vec<u8>, path: &str) {
    const OFFSET: u16 = (HEADER_LEN + 8) as u16;
    let name: Vec<u8> = path.encode_utf16().flat_map(u16::to_le_bytes).collect();
    buf.extend_from_slice(&9u16.to_le_bytes());
    buf.extend_from_slice(&0u16.to_le_bytes()); // Flags
    buf.extend_from_slice(&OFFSET.to_le_bytes());
    buf.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_le_bytes());
    buf.extend_from_slice(&name);
}

/// A parsed TREE_CONNECT response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeConnectResponse {
    /// The header; `tree_id` names the share from now on.
    pub header: ResponseHeader,
    /// [`share_type`] of the share.
    pub share_type: u8,
    /// `ShareFlags` ([`share_flag`] bits among others).
    pub share_flags: u32,
    /// `Capabilities` of the share.
    pub capabilities: u32,
    /// `MaximalAccess`: the access mask the session has on the share.
    pub maximal_access: u32,
}

/// Parses a TREE_CONNECT response (`StructureSize` 16).
///
/// # Errors
///
/// [`Smb2Error::ServerStatus`] when the server refused (e.g.
/// STATUS_BAD_NETWORK_NAME for an unknown share), or the malformation found.
pub fn parse_tree_connect_response(bytes: &[u8]) -> Result<TreeConnectResponse, Smb2Error> {
    let header = response_for(bytes, command::TREE_CONNECT, &[])?;
    check_body(bytes, 16, 16)?;
    let b = HEADER_LEN;
    Ok(TreeConnectResponse {
        header,
        share_type: bytes[b + 2],
        share_flags: u32_at(bytes, b + 4).unwrap_or(0),
        capabilities: u32_at(bytes, b + 8).unwrap_or(0),
        maximal_access: u32_at(bytes, b + 12).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{encode_request, RequestHeader};

    fn as_response(mut b: Vec<u8>, status: u32) -> Vec<u8> {
        b[16] |= 1;
        b[8..12].copy_from_slice(&status.to_le_bytes());
        b
    }

    fn request(command: u16, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        encode_request(
            RequestHeader {
                command,
                ..RequestHeader::default()
            },
            body,
        )
    }

    #[test]
    fn session_setup_body_layout() {
        let b = request(command::SESSION_SETUP, |b| session_setup_body(b, 1, b"tok"));
        assert_eq!(b.len(), 64 + 24 + 3);
        assert_eq!(u16_at(&b, 64 + 12), Some(88));
        assert_eq!(u16_at(&b, 64 + 14), Some(3));
        assert_eq!(&b[88..], b"tok");
    }

    #[test]
    fn session_setup_response_keeps_more_processing() {
        let mut body = Vec::new();
        body.extend_from_slice(&9u16.to_le_bytes());
        body.extend_from_slice(&session_flag::IS_GUEST.to_le_bytes());
        body.extend_from_slice(&72u16.to_le_bytes());
        body.extend_from_slice(&2u16.to_le_bytes());
        body.extend_from_slice(b"ab");
        let b = as_response(
            request(command::SESSION_SETUP, |b| b.extend_from_slice(&body)),
            status::MORE_PROCESSING_REQUIRED,
        );
        let r = parse_session_setup_response(&b).unwrap();
        assert_eq!(r.header.status, status::MORE_PROCESSING_REQUIRED);
        assert_eq!(r.session_flags, session_flag::IS_GUEST);
        assert_eq!(r.security_blob, b"ab");
        assert!(parse_session_setup_response(&b[..b.len() - 1]).is_err());
        let refused = as_response(
            request(command::SESSION_SETUP, |b| b.extend_from_slice(&body)),
            status::LOGON_FAILURE,
        );
        assert_eq!(
            parse_session_setup_response(&refused),
            Err(Smb2Error::ServerStatus(status::LOGON_FAILURE))
        );
    }

    #[test]
    fn tree_connect_path_is_utf16() {
        let b = request(command::TREE_CONNECT, |b| tree_connect_body(b, r"\\h\s"));
        assert_eq!(u16_at(&b, 64 + 4), Some(72));
        assert_eq!(u16_at(&b, 64 + 6), Some(10));
        assert_eq!(&b[72..], &[b'\\', 0, b'\\', 0, b'h', 0, b'\\', 0, b's', 0]);
    }

    #[test]
    fn tree_connect_response_fields() {
        let mut body = vec![16, 0, share_type::DISK, 0];
        body.extend_from_slice(&share_flag::ENCRYPT_DATA.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&0x1f01ffu32.to_le_bytes());
        let b = as_response(request(command::TREE_CONNECT, |b| b.extend_from_slice(&body)), 0);
        let r = parse_tree_connect_response(&b).unwrap();
        assert_eq!(r.share_type, share_type::DISK);
        assert_eq!(r.share_flags, share_flag::ENCRYPT_DATA);
        assert_eq!(r.maximal_access, 0x1f01ff);
        assert!(matches!(
            parse_tree_connect_response(&b[..b.len() - 1]),
            Err(Smb2Error::Truncated { .. })
        ));
    }

    #[test]
    fn empty_responses() {
        let b = as_response(request(command::LOGOFF, empty_body), 0);
        assert!(parse_empty_response(&b, command::LOGOFF).is_ok());
        assert!(parse_empty_response(&b, command::TREE_DISCONNECT).is_err());
    }
}

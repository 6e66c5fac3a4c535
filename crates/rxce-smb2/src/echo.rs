//! The SMB2 ECHO exchange: the smallest request a server answers after the
//! NEGOTIATE, without a session (what a client sends to see that a
//! connection is alive, and what the soak uses to load one).

use crate::error::Smb2Error;
use crate::header::{encode_request_header, parse_response_header};
use crate::wire::u16_at;
use crate::{command, status, HEADER_LEN};

/// `StructureSize` of the ECHO request and response bodies.
const ECHO_STRUCTURE_SIZE: u16 = 4;
/// `StructureSize` of the SMB2 ERROR response body.
const ERROR_STRUCTURE_SIZE: u16 = 9;

/// An SMB2 ECHO request.
///
/// ```
/// use rxce_smb2::{parse_echo_response, EchoRequest, HEADER_LEN};
///
/// let request = EchoRequest { message_id: 3, credit_request: 8 }.encode();
/// assert_eq!(request.len(), HEADER_LEN + 4);
/// // A server's answer: the same header turned into a response, with credits.
/// let mut response = request.clone();
/// response[16] = 1; // SERVER_TO_REDIR
/// response[14..16].copy_from_slice(&5u16.to_le_bytes());
/// let echo = parse_echo_response(&response).unwrap();
/// assert_eq!((echo.message_id, echo.credits_granted), (3, 5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoRequest {
    /// `MessageId`: one more than the previous request's on the connection.
    pub message_id: u64,
    /// `CreditRequest`: credits the client asks for.
    pub credit_request: u16,
}

impl EchoRequest {
    /// The request as one SMB2 message (no transport header): the 64-byte
    /// sync header and the 4-byte body.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(HEADER_LEN + 4);
        encode_request_header(&mut buf, command::ECHO, 1, self.credit_request, self.message_id);
        buf.extend_from_slice(&ECHO_STRUCTURE_SIZE.to_le_bytes()); // body: StructureSize
        buf.extend_from_slice(&0u16.to_le_bytes()); // body: Reserved
        buf
    }
}

/// A parsed SMB2 ECHO response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoResponse {
    /// `MessageId`: the id of the request answered.
    pub message_id: u64,
    /// `CreditResponse`: credits the server granted.
    pub credits_granted: u16,
}

/// Parses an SMB2 ECHO response (one message from its header, no transport
/// framing). Checks the protocol id, the header size, the response flag,
/// the command (ECHO), the status (an ERROR body gives
/// [`Smb2Error::ServerStatus`]) and the body's `StructureSize` (4). Never
/// panics.
///
/// # Errors
///
/// The first failed check, as an [`Smb2Error`].
pub fn parse_echo_response(bytes: &[u8]) -> Result<EchoResponse, Smb2Error> {
    let header = parse_response_header(bytes, command::ECHO)?;
    let body = HEADER_LEN + 4;
    let body_size = u16_at(bytes, HEADER_LEN)
        .filter(|_| bytes.len() >= body)
        .ok_or(Smb2Error::Truncated {
            needed: body,
            actual: bytes.len(),
        })?;
    if header.status != status::SUCCESS && body_size == ERROR_STRUCTURE_SIZE {
        return Err(Smb2Error::ServerStatus(header.status));
    }
    if body_size != ECHO_STRUCTURE_SIZE {
        return Err(Smb2Error::BadBodyStructureSize(body_size));
    }
    Ok(EchoResponse {
        message_id: header.message_id,
        credits_granted: header.credits_granted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(message_id: u64, credits: u16) -> Vec<u8> {
        let mut bytes = EchoRequest {
            message_id,
            credit_request: 1,
        }
        .encode();
        bytes[16] = 1;
        bytes[14..16].copy_from_slice(&credits.to_le_bytes());
        bytes
    }

    #[test]
    fn the_request_is_a_header_and_a_four_byte_body() {
        let bytes = EchoRequest {
            message_id: 0x0102_0304_0506_0708,
            credit_request: 0x20,
        }
        .encode();
        assert_eq!(bytes.len(), 68);
        assert_eq!(&bytes[..4], b"\xfeSMB");
        assert_eq!(&bytes[4..6], &[64, 0]);
        assert_eq!(&bytes[6..8], &[1, 0], "CreditCharge");
        assert_eq!(&bytes[12..14], &[0x0d, 0], "ECHO");
        assert_eq!(&bytes[14..16], &[0x20, 0]);
        assert_eq!(&bytes[16..20], &[0; 4], "a request");
        assert_eq!(&bytes[24..32], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&bytes[64..], &[4, 0, 0, 0]);
    }

    #[test]
    fn responses_are_checked() {
        assert_eq!(
            parse_echo_response(&response(9, 31)),
            Ok(EchoResponse {
                message_id: 9,
                credits_granted: 31
            })
        );
        let request = EchoRequest {
            message_id: 1,
            credit_request: 1,
        }
        .encode();
        assert_eq!(parse_echo_response(&request), Err(Smb2Error::NotAResponse(0)));
        let mut negotiate = response(1, 1);
        negotiate[12] = 0;
        assert_eq!(parse_echo_response(&negotiate), Err(Smb2Error::UnexpectedCommand(0)));
        let mut refused = response(1, 1);
        refused[8..12].copy_from_slice(&status::ACCESS_DENIED.to_le_bytes());
        refused[64] = 9;
        assert_eq!(
            parse_echo_response(&refused),
            Err(Smb2Error::ServerStatus(status::ACCESS_DENIED))
        );
        let mut odd = response(1, 1);
        odd[64] = 5;
        assert_eq!(parse_echo_response(&odd), Err(Smb2Error::BadBodyStructureSize(5)));
        let mut smb1 = response(1, 1);
        smb1[0] = 0xff;
        assert_eq!(parse_echo_response(&smb1), Err(Smb2Error::Smb1Reply));
    }

    #[test]
    fn every_prefix_is_truncated_not_a_panic() {
        let whole = response(2, 2);
        for n in 0..whole.len() {
            assert!(
                matches!(parse_echo_response(&whole[..n]), Err(Smb2Error::Truncated { .. })),
                "{n} bytes"
            );
        }
    }
}

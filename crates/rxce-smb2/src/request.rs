//! The NEGOTIATE request encoder.

use crate::context::encode_context;
use crate::error::Smb2Error;
use crate::header::encode_request_header;
use crate::wire::pad8;
use crate::HEADER_LEN;
use crate::{capability, cipher, command, context_type, dialect, hash_algorithm, security_mode};

/// `StructureSize` of the NEGOTIATE request body, the length of its fixed
/// part (the dialect array follows).
pub(crate) const REQUEST_BODY_LEN: u16 = 36;

/// The credits a NEGOTIATE request asks for (`CreditRequest`).
const CREDIT_REQUEST: u16 = 1;

/// The client GUID [`NegotiateRequest::default`] uses: the ASCII bytes of
/// `"rxce-smb2-probe!"`, fixed so that captures are reproducible, and nonzero
/// as SMB 2.1 and later want.
pub const DEFAULT_CLIENT_GUID: [u8; 16] = *b"rxce-smb2-probe!";

/// The pre-authentication integrity salt [`NegotiateRequest::default`] uses.
///
/// It is fixed so that encoded requests are reproducible. A client that goes
/// on to authenticate should put 32 fresh random bytes in
/// [`NegotiateRequest::preauth_salt`] instead.
pub const DEFAULT_PREAUTH_SALT: [u8; 32] = *b"rxce-smb2 fixed pre-auth salt:-)";

/// The ciphers offered in the `ENCRYPTION_CAPABILITIES` context, in order of
/// preference: AES-128-GCM, then AES-128-CCM.
pub const OFFERED_CIPHERS: [u16; 2] = [cipher::AES_128_GCM, cipher::AES_128_CCM];

/// An SMB2 NEGOTIATE request, the first message a client sends.
///
/// [`encode`](Self::encode) produces the SMB2 message without any transport
/// framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateRequest {
    /// `MessageId` of the header; 0 for the first message on a connection.
    pub message_id: u64,
    /// Dialect revisions offered, in the order they are put on the wire (see
    /// [`dialect`](crate::dialect)). Must not be empty.
    pub dialects: Vec<u16>,
    /// `SecurityMode`: [`security_mode`](crate::security_mode) bits.
    pub security_mode: u16,
    /// `Capabilities`: [`capability`](crate::capability) bits. MS-SMB2 wants 0
    /// here unless an SMB 3.x dialect is offered; `encode` sends the value as
    /// given.
    pub capabilities: u32,
    /// `ClientGuid`.
    pub client_guid: [u8; 16],
    /// The 32-byte salt of the `PREAUTH_INTEGRITY_CAPABILITIES` context, sent
    /// only when SMB 3.1.1 is offered.
    pub preauth_salt: [u8; 32],
}

impl Default for NegotiateRequest {
    /// All five dialects (2.0.2 to 3.1.1), signing enabled (not required),
    /// capabilities DFS, LEASING, LARGE_MTU and ENCRYPTION,
    /// [`DEFAULT_CLIENT_GUID`], [`DEFAULT_PREAUTH_SALT`], message id 0.
    fn default() -> Self {
        Self {
            message_id: 0,
            dialects: dialect::ALL.to_vec(),
            security_mode: security_mode::SIGNING_ENABLED,
            capabilities: capability::DFS | capability::LEASING | capability::LARGE_MTU | capability::ENCRYPTION,
            client_guid: DEFAULT_CLIENT_GUID,
            preauth_salt: DEFAULT_PREAUTH_SALT,
        }
    }
}

impl NegotiateRequest {
    /// Encodes the request as one SMB2 message: the 64-byte sync header, the
    /// 36-byte NEGOTIATE body, the dialect array and — when
    /// [`dialect::SMB3_1_1`] is among [`dialects`](Self::dialects) — two
    /// negotiate contexts, each starting on an 8-byte boundary:
    /// `PREAUTH_INTEGRITY_CAPABILITIES` (SHA-512 and
    /// [`preauth_salt`](Self::preauth_salt)) and `ENCRYPTION_CAPABILITIES`
    /// ([`OFFERED_CIPHERS`]).
    ///
    /// No transport header is added.
    ///
    /// # Errors
    ///
    /// [`Smb2Error::NoDialects`] if `dialects` is empty,
    /// [`Smb2Error::TooManyDialects`] if it holds more than 65535 entries.
    pub fn encode(&self) -> Result<Vec<u8>, Smb2Error> {
        if self.dialects.is_empty() {
            return Err(Smb2Error::NoDialects);
        }
        let dialect_count =
            u16::try_from(self.dialects.len()).map_err(|_| Smb2Error::TooManyDialects(self.dialects.len()))?;
        let with_contexts = self.dialects.contains(&dialect::SMB3_1_1);

        let mut buf = Vec::with_capacity(HEADER_LEN + usize::from(REQUEST_BODY_LEN) + 2 * self.dialects.len() + 72);
        encode_request_header(&mut buf, command::NEGOTIATE, 0, CREDIT_REQUEST, self.message_id);

        // NEGOTIATE request body; offsets in comments are from the body start.
        buf.extend_from_slice(&REQUEST_BODY_LEN.to_le_bytes()); // 0: StructureSize
        buf.extend_from_slice(&dialect_count.to_le_bytes()); // 2: DialectCount
        buf.extend_from_slice(&self.security_mode.to_le_bytes()); // 4: SecurityMode
        buf.extend_from_slice(&0u16.to_le_bytes()); // 6: Reserved
        buf.extend_from_slice(&self.capabilities.to_le_bytes()); // 8: Capabilities
        buf.extend_from_slice(&self.client_guid); // 12: ClientGuid
                                                  // 28: NegotiateContextOffset (u32), NegotiateContextCount (u16),
                                                  // Reserved2 (u16) when 3.1.1 is offered, else ClientStartTime (u64,
                                                  // zero). The offset is patched once the dialects are in.
        let context_fields = buf.len();
        buf.extend_from_slice(&0u64.to_le_bytes());
        for d in &self.dialects {
            buf.extend_from_slice(&d.to_le_bytes()); // 36: Dialects
        }

        if with_contexts {
            pad8(&mut buf);
            let offset = u32::try_from(buf.len()).map_err(|_| Smb2Error::TooManyDialects(self.dialects.len()))?;
            buf[context_fields..context_fields + 4].copy_from_slice(&offset.to_le_bytes());
            buf[context_fields + 4..context_fields + 6].copy_from_slice(&2u16.to_le_bytes());

            let mut preauth = Vec::with_capacity(38);
            preauth.extend_from_slice(&1u16.to_le_bytes()); // HashAlgorithmCount
            preauth.extend_from_slice(&32u16.to_le_bytes()); // SaltLength
            preauth.extend_from_slice(&hash_algorithm::SHA_512.to_le_bytes());
            preauth.extend_from_slice(&self.preauth_salt);
            encode_context(&mut buf, context_type::PREAUTH_INTEGRITY_CAPABILITIES, &preauth);

            pad8(&mut buf);
            let mut encryption = Vec::with_capacity(2 + 2 * OFFERED_CIPHERS.len());
            encryption.extend_from_slice(&(OFFERED_CIPHERS.len() as u16).to_le_bytes());
            for c in OFFERED_CIPHERS {
                encryption.extend_from_slice(&c.to_le_bytes());
            }
            encode_context(&mut buf, context_type::ENCRYPTION_CAPABILITIES, &encryption);
        }
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_request_length() {
        // 64 header + 36 body + 5 * 2 dialects = 110, padded to 112;
        // preauth context 8 + 38 = 46 (ends at 158), padded to 160;
        // encryption context 8 + 6 = 14, ends at 174.
        assert_eq!(NegotiateRequest::default().encode().unwrap().len(), 174);
    }

    #[test]
    fn without_311_there_are_no_contexts() {
        let req = NegotiateRequest {
            dialects: vec![dialect::SMB2_0_2, dialect::SMB2_1],
            ..NegotiateRequest::default()
        };
        // 64 + 36 + 2 * 2, no padding.
        assert_eq!(req.encode().unwrap().len(), 104);
    }

    #[test]
    fn too_many_dialects() {
        let req = NegotiateRequest {
            dialects: vec![dialect::SMB2_1; 65536],
            ..NegotiateRequest::default()
        };
        assert_eq!(req.encode(), Err(Smb2Error::TooManyDialects(65536)));
    }
}

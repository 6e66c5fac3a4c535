//! SMB 3.1.1 negotiate contexts.

use crate::context_type;
use crate::error::Smb2Error;
use crate::wire::{align8, u16_at, u32_at};

/// Length of a negotiate context header: `ContextType` (2), `DataLength` (2),
/// `Reserved` (4).
pub(crate) const CONTEXT_HEADER_LEN: usize = 8;

/// One negotiate context as found on the wire: its type and its raw data
/// (without the 8-byte context header and without alignment padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateContext {
    /// `ContextType`, one of the [`context_type`](crate::context_type) values
    /// or a type this crate does not know.
    pub context_type: u16,
    /// The context's `Data`, exactly `DataLength` bytes.
    pub data: Vec<u8>,
}

/// The decoded data of a `PREAUTH_INTEGRITY_CAPABILITIES` context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreauthIntegrity {
    /// `HashAlgorithms`: offered (request) or selected (response, exactly one)
    /// [`hash_algorithm`](crate::hash_algorithm) ids.
    pub hash_algorithms: Vec<u16>,
    /// `Salt`.
    pub salt: Vec<u8>,
}

impl NegotiateContext {
    /// Decodes the data of a `PREAUTH_INTEGRITY_CAPABILITIES` context:
    /// `HashAlgorithmCount` (u16), `SaltLength` (u16), the algorithm ids, then
    /// the salt.
    ///
    /// Fails with [`Smb2Error::MalformedContext`] if this context has another
    /// type or its data is too short for the counts it announces.
    pub fn preauth_integrity(&self) -> Result<PreauthIntegrity, Smb2Error> {
        const TYPE: u16 = context_type::PREAUTH_INTEGRITY_CAPABILITIES;
        let malformed = |reason| Smb2Error::MalformedContext {
            context_type: self.context_type,
            reason,
        };
        if self.context_type != TYPE {
            return Err(malformed("not a PREAUTH_INTEGRITY_CAPABILITIES context"));
        }
        let d = &self.data;
        let count = u16_at(d, 0).ok_or(malformed("no HashAlgorithmCount"))?;
        let salt_len = u16_at(d, 2).ok_or(malformed("no SaltLength"))?;
        let hash_algorithms = read_u16_list(d, 4, count).ok_or(malformed("hash algorithm list runs past the data"))?;
        let salt_start = 4 + 2 * usize::from(count);
        let salt = d
            .get(salt_start..salt_start + usize::from(salt_len))
            .ok_or(malformed("salt runs past the data"))?
            .to_vec();
        Ok(PreauthIntegrity { hash_algorithms, salt })
    }

    /// Decodes the data of an `ENCRYPTION_CAPABILITIES` context: `CipherCount`
    /// (u16) then that many [`cipher`](crate::cipher) ids. In a response the
    /// list holds exactly one id, [`cipher::NONE`](crate::cipher::NONE) when
    /// the server accepted none of those offered.
    ///
    /// Fails with [`Smb2Error::MalformedContext`] if this context has another
    /// type or its data is too short for the count it announces.
    pub fn ciphers(&self) -> Result<Vec<u16>, Smb2Error> {
        const TYPE: u16 = context_type::ENCRYPTION_CAPABILITIES;
        let malformed = |reason| Smb2Error::MalformedContext {
            context_type: self.context_type,
            reason,
        };
        if self.context_type != TYPE {
            return Err(malformed("not an ENCRYPTION_CAPABILITIES context"));
        }
        let count = u16_at(&self.data, 0).ok_or(malformed("no CipherCount"))?;
        read_u16_list(&self.data, 2, count).ok_or(malformed("cipher list runs past the data"))
    }
}

/// Reads `count` little-endian `u16`s starting at `off`.
fn read_u16_list(bytes: &[u8], off: usize, count: u16) -> Option<Vec<u16>> {
    (0..usize::from(count)).map(|i| u16_at(bytes, off + 2 * i)).collect()
}

/// Appends one context (header and data, no trailing padding) to `buf`.
///
/// The caller aligns `buf` to 8 bytes before each context.
pub(crate) fn encode_context(buf: &mut Vec<u8>, context_type: u16, data: &[u8]) {
    // Context data built by this crate is always a few dozen bytes.
    let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
    buf.extend_from_slice(&context_type.to_le_bytes());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&0u32.to_le_bytes()); // Reserved
    buf.extend_from_slice(data);
}

/// Parses `count` contexts starting at `offset` (from the start of the SMB2
/// header, which is `msg[0]`). Every context after the first starts at the
/// next 8-byte boundary after the previous one's data.
pub(crate) fn parse_context_list(
    msg: &[u8],
    offset: u32,
    count: u16,
    min_offset: usize,
) -> Result<Vec<NegotiateContext>, Smb2Error> {
    let start = usize::try_from(offset).map_err(|_| Smb2Error::BadNegotiateContextOffset { offset })?;
    if start % 8 != 0 || start < min_offset || start > msg.len() {
        return Err(Smb2Error::BadNegotiateContextOffset { offset });
    }
    let mut contexts = Vec::with_capacity(usize::from(count).min(msg.len() / CONTEXT_HEADER_LEN));
    let mut pos = start;
    for index in 0..usize::from(count) {
        if index > 0 {
            pos = align8(pos);
        }
        let out_of_bounds = Smb2Error::NegotiateContextOutOfBounds {
            index,
            offset: pos,
            message_len: msg.len(),
        };
        let (Some(context_type), Some(data_len), Some(_reserved)) =
            (u16_at(msg, pos), u16_at(msg, pos + 2), u32_at(msg, pos + 4))
        else {
            return Err(out_of_bounds);
        };
        let data_start = pos + CONTEXT_HEADER_LEN;
        let data_end = data_start + usize::from(data_len);
        let data = msg.get(data_start..data_end).ok_or(out_of_bounds)?;
        contexts.push(NegotiateContext {
            context_type,
            data: data.to_vec(),
        });
        pos = data_end;
    }
    Ok(contexts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cipher, hash_algorithm};

    #[test]
    fn preauth_decodes() {
        let ctx = NegotiateContext {
            context_type: context_type::PREAUTH_INTEGRITY_CAPABILITIES,
            // count 1, salt length 3, SHA-512, salt 0xaa 0xbb 0xcc
            data: vec![1, 0, 3, 0, 1, 0, 0xaa, 0xbb, 0xcc],
        };
        let p = ctx.preauth_integrity().unwrap();
        assert_eq!(p.hash_algorithms, [hash_algorithm::SHA_512]);
        assert_eq!(p.salt, [0xaa, 0xbb, 0xcc]);
    }

    #[test]
    fn preauth_short_data_is_an_error() {
        for data in [
            vec![],
            vec![1],
            vec![1, 0, 3],
            vec![1, 0, 3, 0, 1],
            vec![1, 0, 3, 0, 1, 0, 0xaa, 0xbb],
        ] {
            let ctx = NegotiateContext {
                context_type: context_type::PREAUTH_INTEGRITY_CAPABILITIES,
                data,
            };
            assert!(matches!(
                ctx.preauth_integrity(),
                Err(Smb2Error::MalformedContext { .. })
            ));
        }
    }

    #[test]
    fn ciphers_decode_and_check_type() {
        let ctx = NegotiateContext {
            context_type: context_type::ENCRYPTION_CAPABILITIES,
            data: vec![2, 0, 2, 0, 1, 0],
        };
        assert_eq!(ctx.ciphers().unwrap(), [cipher::AES_128_GCM, cipher::AES_128_CCM]);
        assert!(ctx.preauth_integrity().is_err());
        let short = NegotiateContext {
            context_type: context_type::ENCRYPTION_CAPABILITIES,
            data: vec![2, 0, 2, 0, 1],
        };
        assert!(short.ciphers().is_err());
        let wrong = NegotiateContext {
            context_type: context_type::SIGNING_CAPABILITIES,
            data: vec![0, 0],
        };
        assert!(wrong.ciphers().is_err());
    }

    #[test]
    fn context_list_parses_with_padding() {
        let mut msg = vec![0u8; 16];
        encode_context(&mut msg, 7, &[1, 2, 3]);
        crate::wire::pad8(&mut msg);
        encode_context(&mut msg, 9, &[]);
        let list = parse_context_list(&msg, 16, 2, 16).unwrap();
        assert_eq!(
            list,
            [
                NegotiateContext {
                    context_type: 7,
                    data: vec![1, 2, 3]
                },
                NegotiateContext {
                    context_type: 9,
                    data: vec![]
                }
            ]
        );
        // Three announced, two present.
        assert!(matches!(
            parse_context_list(&msg, 16, 3, 16),
            Err(Smb2Error::NegotiateContextOutOfBounds { index: 2, .. })
        ));
        // Misaligned, too early, past the end.
        for off in [17, 8, 48] {
            assert!(matches!(
                parse_context_list(&msg, off, 1, 16),
                Err(Smb2Error::BadNegotiateContextOffset { .. })
            ));
        }
        assert_eq!(parse_context_list(&msg, 40, 0, 16), Ok(vec![]));
    }
}

//! The error type shared by every parser and emitter in this crate.

/// Why a wire item could not be parsed or emitted.
///
/// Parsers validate every length they read exactly once, before touching
/// the bytes it covers, and report the first problem they find.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ends before the item is complete.
    ///
    /// `needed` is the smallest total input length, counted from the start of
    /// the slice handed to the function that returned the error, known to be
    /// required when parsing stopped. Supplying that many bytes may reveal
    /// that still more are needed (a later length field may ask for more).
    #[error("truncated input: at least {needed} bytes needed")]
    Truncated {
        /// Minimum total input length needed, from the start of the input.
        needed: usize,
    },
    /// A NetBIOS name (or its scope) is not acceptable, either as text or in
    /// its encoded form.
    #[error("invalid NetBIOS name: {0}")]
    InvalidName(&'static str),
    /// A packet is malformed: a bad type or flag, an inconsistent length, an
    /// unexpected record, and so on.
    #[error("invalid packet: {0}")]
    InvalidPacket(&'static str),
    /// A session service packet other than a message or a keepalive
    /// (a session request or response, say) arrived inside an established
    /// session, where it has no place.
    #[error("session packet of type 0x{packet_type:02X} ({len} bytes) inside an established session")]
    ControlPacket {
        /// The session service packet type (byte 0 of its header).
        packet_type: u8,
        /// Length of its trailer.
        len: usize,
    },
    /// A length is larger than the format can carry.
    #[error("length {len} exceeds the maximum of {max}")]
    TooLong {
        /// The offending length.
        len: usize,
        /// The largest length allowed.
        max: usize,
    },
}

impl WireError {
    /// Shifts the `needed` count of a [`WireError::Truncated`] by `offset`,
    /// for errors returned by a sub-parser that was handed
    /// `&input[offset..]`. Other errors are returned unchanged.
    pub(crate) fn at_offset(self, offset: usize) -> WireError {
        match self {
            WireError::Truncated { needed } => WireError::Truncated {
                needed: needed + offset,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_texts() {
        assert_eq!(
            WireError::Truncated { needed: 4 }.to_string(),
            "truncated input: at least 4 bytes needed"
        );
        assert_eq!(WireError::InvalidName("bad").to_string(), "invalid NetBIOS name: bad");
        assert_eq!(WireError::InvalidPacket("bad").to_string(), "invalid packet: bad");
        assert_eq!(
            WireError::ControlPacket {
                packet_type: 0x81,
                len: 68
            }
            .to_string(),
            "session packet of type 0x81 (68 bytes) inside an established session"
        );
        assert_eq!(
            WireError::TooLong { len: 5, max: 4 }.to_string(),
            "length 5 exceeds the maximum of 4"
        );
    }

    #[test]
    fn at_offset_shifts_only_truncated() {
        assert_eq!(
            WireError::Truncated { needed: 3 }.at_offset(10),
            WireError::Truncated { needed: 13 }
        );
        assert_eq!(
            WireError::InvalidPacket("x").at_offset(10),
            WireError::InvalidPacket("x")
        );
    }
}

//! ONC RPC messages (RFC 5531) and the portmapper (RFC 1833, PMAP version
//! 2): what a client needs to call a procedure with AUTH_NONE and read the
//! reply, as XDR bytes. The record marking around a message on TCP is in
//! [`crate::record`]; over UDP a message is one datagram.
//!
//! ```
//! use rxce_wire::oncrpc::{parse_reply, Call, ReplyBody, NULL_PROC, PMAP_PROG, PMAP_VERS};
//!
//! let call = Call { xid: 7, prog: PMAP_PROG, vers: PMAP_VERS, proc_: NULL_PROC }.encode(&[]);
//! assert_eq!(call.len(), 40);
//! // A successful reply to it, with no results.
//! let reply = [0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
//! let parsed = parse_reply(&reply)?;
//! assert_eq!((parsed.xid, parsed.body), (7, ReplyBody::Success { results: 24 }));
//! # Ok::<(), rxce_wire::WireError>(())
//! ```

use crate::error::WireError;

/// The RPC protocol version of RFC 5531.
pub const RPC_VERSION: u32 = 2;
/// Procedure 0 of every program: does nothing, answers nothing.
pub const NULL_PROC: u32 = 0;
/// The portmapper (rpcbind) program.
pub const PMAP_PROG: u32 = 100_000;
/// PMAP version 2 (RFC 1833 §3).
pub const PMAP_VERS: u32 = 2;
/// PMAPPROC_GETPORT: the port of (program, version, protocol).
pub const PMAPPROC_GETPORT: u32 = 3;
/// PMAPPROC_DUMP: every registration.
pub const PMAPPROC_DUMP: u32 = 4;
/// The NFS program.
pub const NFS_PROG: u32 = 100_003;
/// The mount program (mountd).
pub const MOUNT_PROG: u32 = 100_005;
/// The network lock manager.
pub const NLM_PROG: u32 = 100_021;
/// IPPROTO_TCP in a portmapper mapping.
pub const IPPROTO_TCP: u32 = 6;
/// IPPROTO_UDP in a portmapper mapping.
pub const IPPROTO_UDP: u32 = 17;

/// A well-known program's name (`portmapper`, `nfs`, `mountd`, ...).
pub fn program_name(prog: u32) -> Option<&'static str> {
    Some(match prog {
        PMAP_PROG => "portmapper",
        NFS_PROG => "nfs",
        MOUNT_PROG => "mountd",
        NLM_PROG => "nlockmgr",
        100_024 => "status",
        100_227 => "nfs_acl",
        100_011 => "rquotad",
        _ => return None,
    })
}

/// A call with AUTH_NONE credentials and verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// Transaction id, echoed by the reply.
    pub xid: u32,
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure number.
    pub proc_: u32,
}

impl Call {
    /// The call message: the header (40 bytes), then `args` (already XDR).
    pub fn encode(&self, args: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(40 + args.len());
        for word in [
            self.xid,
            0, // CALL
            RPC_VERSION,
            self.prog,
            self.vers,
            self.proc_,
            0, // cred AUTH_NONE
            0, // cred length
            0, // verf AUTH_NONE
            0, // verf length
        ] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.extend_from_slice(args);
        out
    }
}

/// Why a server refused a call (MSG_DENIED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// RPC_MISMATCH: the server speaks RPC versions `low..=high`.
    RpcMismatch {
        /// Lowest version supported.
        low: u32,
        /// Highest version supported.
        high: u32,
    },
    /// AUTH_ERROR with its auth_stat.
    AuthError(u32),
}

/// What a reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyBody {
    /// SUCCESS: the procedure's results start at this offset of the reply.
    Success {
        /// Offset of the results.
        results: usize,
    },
    /// PROG_UNAVAIL: the program is not served here.
    ProgUnavail,
    /// PROG_MISMATCH: the program is served in versions `low..=high`.
    ProgMismatch {
        /// Lowest version served.
        low: u32,
        /// Highest version served.
        high: u32,
    },
    /// PROC_UNAVAIL: no such procedure.
    ProcUnavail,
    /// GARBAGE_ARGS: the arguments could not be decoded.
    GarbageArgs,
    /// SYSTEM_ERR: the server failed.
    SystemErr,
    /// MSG_DENIED.
    Denied(Denied),
}

impl ReplyBody {
    /// The accept or reject state by its RFC 5531 name (`SUCCESS`,
    /// `PROG_UNAVAIL`, `RPC_MISMATCH`, `AUTH_ERROR(AUTH_BADCRED)`, ...).
    pub fn name(&self) -> String {
        match self {
            ReplyBody::Success { .. } => "SUCCESS".into(),
            ReplyBody::ProgUnavail => "PROG_UNAVAIL".into(),
            ReplyBody::ProgMismatch { low, high } => format!("PROG_MISMATCH({low}-{high})"),
            ReplyBody::ProcUnavail => "PROC_UNAVAIL".into(),
            ReplyBody::GarbageArgs => "GARBAGE_ARGS".into(),
            ReplyBody::SystemErr => "SYSTEM_ERR".into(),
            ReplyBody::Denied(Denied::RpcMismatch { low, high }) => format!("RPC_MISMATCH({low}-{high})"),
            ReplyBody::Denied(Denied::AuthError(stat)) => format!("AUTH_ERROR({})", auth_stat_name(*stat)),
        }
    }
}

/// An auth_stat by name (RFC 5531 §9).
pub fn auth_stat_name(stat: u32) -> &'static str {
    match stat {
        0 => "AUTH_OK",
        1 => "AUTH_BADCRED",
        2 => "AUTH_REJECTEDCRED",
        3 => "AUTH_BADVERF",
        4 => "AUTH_REJECTEDVERF",
        5 => "AUTH_TOOWEAK",
        6 => "AUTH_INVALIDRESP",
        7 => "AUTH_FAILED",
        13 => "RPCSEC_GSS_CREDPROBLEM",
        14 => "RPCSEC_GSS_CTXPROBLEM",
        _ => "unknown auth_stat",
    }
}

/// A parsed reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The call's transaction id.
    pub xid: u32,
    /// What it says.
    pub body: ReplyBody,
}

/// XDR reader over a message.
#[derive(Debug, Clone)]
pub struct Xdr<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Xdr<'a> {
    /// Reads `bytes` from offset `at`.
    pub fn new(bytes: &'a [u8], at: usize) -> Xdr<'a> {
        Xdr { bytes, at }
    }

    /// Offset of the next byte.
    pub fn offset(&self) -> usize {
        self.at
    }

    /// The next unsigned 32-bit integer.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        let end = self.at + 4;
        let word = self
            .bytes
            .get(self.at..end)
            .ok_or(WireError::Truncated { needed: end })?;
        self.at = end;
        Ok(u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
    }

    /// Variable-length opaque data (length, bytes, padding to 4).
    pub fn opaque(&mut self, max: usize) -> Result<&'a [u8], WireError> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(WireError::TooLong { len, max });
        }
        let padded = len.div_ceil(4) * 4;
        let end = self.at + padded;
        if end > self.bytes.len() {
            return Err(WireError::Truncated { needed: end });
        }
        let data = &self.bytes[self.at..self.at + len];
        self.at = end;
        Ok(data)
    }
}

/// Parses a reply message (the whole RPC message, no record marking).
pub fn parse_reply(message: &[u8]) -> Result<Reply, WireError> {
    let mut x = Xdr::new(message, 0);
    let xid = x.u32()?;
    if x.u32()? != 1 {
        return Err(WireError::InvalidPacket("an RPC message that is not a REPLY"));
    }
    let body = match x.u32()? {
        0 => {
            // MSG_ACCEPTED: the verifier, then accept_stat.
            let _flavor = x.u32()?;
            x.opaque(400)?;
            match x.u32()? {
                0 => ReplyBody::Success { results: x.offset() },
                1 => ReplyBody::ProgUnavail,
                2 => ReplyBody::ProgMismatch {
                    low: x.u32()?,
                    high: x.u32()?,
                },
                3 => ReplyBody::ProcUnavail,
                4 => ReplyBody::GarbageArgs,
                5 => ReplyBody::SystemErr,
                _ => return Err(WireError::InvalidPacket("unknown accept_stat")),
            }
        }
        1 => match x.u32()? {
            0 => ReplyBody::Denied(Denied::RpcMismatch {
                low: x.u32()?,
                high: x.u32()?,
            }),
            1 => ReplyBody::Denied(Denied::AuthError(x.u32()?)),
            _ => return Err(WireError::InvalidPacket("unknown reject_stat")),
        },
        _ => return Err(WireError::InvalidPacket("unknown reply_stat")),
    };
    Ok(Reply { xid, body })
}

/// One portmapper registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mapping {
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// IPPROTO_TCP or IPPROTO_UDP.
    pub prot: u32,
    /// Port.
    pub port: u32,
}

impl Mapping {
    /// The XDR of a mapping (GETPORT's argument; `port` is ignored there).
    pub fn encode(&self) -> Vec<u8> {
        [self.prog, self.vers, self.prot, self.port]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect()
    }
}

/// The most registrations a DUMP reply is read for (a bound on a hostile
/// list).
pub const MAX_MAPPINGS: usize = 4096;

/// The results of PMAPPROC_DUMP: the list of mappings.
pub fn parse_dump(results: &[u8]) -> Result<Vec<Mapping>, WireError> {
    let mut x = Xdr::new(results, 0);
    let mut out = Vec::new();
    while x.u32()? == 1 {
        if out.len() == MAX_MAPPINGS {
            return Err(WireError::TooLong {
                len: MAX_MAPPINGS + 1,
                max: MAX_MAPPINGS,
            });
        }
        out.push(Mapping {
            prog: x.u32()?,
            vers: x.u32()?,
            prot: x.u32()?,
            port: x.u32()?,
        });
    }
    Ok(out)
}

/// The results of PMAPPROC_GETPORT: the port, 0 when not registered.
pub fn parse_getport(results: &[u8]) -> Result<u32, WireError> {
    Xdr::new(results, 0).u32()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_bytes() {
        let call = Call {
            xid: 0x0102_0304,
            prog: PMAP_PROG,
            vers: PMAP_VERS,
            proc_: PMAPPROC_GETPORT,
        }
        .encode(
            &Mapping {
                prog: NFS_PROG,
                vers: 3,
                prot: IPPROTO_TCP,
                port: 0,
            }
            .encode(),
        );
        #[rustfmt::skip]
        let expected = [
            1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0x86, 0xa0, 0, 0, 0, 2, 0, 0, 0, 3,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 1, 0x86, 0xa3, 0, 0, 0, 3, 0, 0, 0, 6, 0, 0, 0, 0,
        ];
        assert_eq!(call, expected);
    }

    fn words(w: &[u32]) -> Vec<u8> {
        w.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn replies_by_state() {
        let cases: [(Vec<u32>, ReplyBody, &str); 8] = [
            (vec![9, 1, 0, 0, 0, 0], ReplyBody::Success { results: 24 }, "SUCCESS"),
            (vec![9, 1, 0, 0, 0, 1], ReplyBody::ProgUnavail, "PROG_UNAVAIL"),
            (
                vec![9, 1, 0, 0, 0, 2, 3, 4],
                ReplyBody::ProgMismatch { low: 3, high: 4 },
                "PROG_MISMATCH(3-4)",
            ),
            (vec![9, 1, 0, 0, 0, 3], ReplyBody::ProcUnavail, "PROC_UNAVAIL"),
            (vec![9, 1, 0, 0, 0, 4], ReplyBody::GarbageArgs, "GARBAGE_ARGS"),
            (vec![9, 1, 0, 0, 0, 5], ReplyBody::SystemErr, "SYSTEM_ERR"),
            (
                vec![9, 1, 1, 0, 2, 2],
                ReplyBody::Denied(Denied::RpcMismatch { low: 2, high: 2 }),
                "RPC_MISMATCH(2-2)",
            ),
            (
                vec![9, 1, 1, 1, 1],
                ReplyBody::Denied(Denied::AuthError(1)),
                "AUTH_ERROR(AUTH_BADCRED)",
            ),
        ];
        for (w, body, name) in cases {
            let reply = parse_reply(&words(&w)).unwrap();
            assert_eq!(reply, Reply { xid: 9, body });
            assert_eq!(body.name(), name);
        }
        // A verifier with a body: the results start after its padding.
        let reply = parse_reply(&words(&[9, 1, 0, 1, 5, 0x6162_6364, 0x6500_0000, 0, 42])).unwrap();
        assert_eq!(reply.body, ReplyBody::Success { results: 32 });
        assert!(matches!(parse_reply(&words(&[9, 0])), Err(WireError::InvalidPacket(_))));
        assert!(matches!(
            parse_reply(&words(&[9, 1, 0, 0, 9])),
            Err(WireError::Truncated { .. })
        ));
        assert!(matches!(
            parse_reply(&words(&[9, 1, 0, 0, 0, 6])),
            Err(WireError::InvalidPacket(_))
        ));
    }

    #[test]
    fn dump_and_getport_results() {
        let results = words(&[1, PMAP_PROG, 2, 6, 111, 1, NFS_PROG, 3, 17, 2049, 0]);
        assert_eq!(
            parse_dump(&results).unwrap(),
            [
                Mapping {
                    prog: PMAP_PROG,
                    vers: 2,
                    prot: 6,
                    port: 111
                },
                Mapping {
                    prog: NFS_PROG,
                    vers: 3,
                    prot: 17,
                    port: 2049
                }
            ]
        );
        assert!(parse_dump(&words(&[1, 1, 2])).is_err());
        let endless: Vec<u8> = words(&[1, 1, 1, 6, 1]).repeat(MAX_MAPPINGS + 1);
        assert!(matches!(parse_dump(&endless), Err(WireError::TooLong { .. })));
        assert_eq!(parse_getport(&words(&[2049])), Ok(2049));
        assert_eq!(program_name(NFS_PROG), Some("nfs"));
    }
}

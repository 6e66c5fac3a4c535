//! 9P message framing (9P2000, 9P2000.u, 9P2000.L), and the 9P2000.L
//! messages a client needs to attach to a tree and read a file.
//!
//! Every 9P message starts with `size[4]`, little-endian, counting the
//! whole message including those 4 bytes, then `type[1] tag[2]`. So the
//! smallest message is 7 bytes, and the largest is the `msize` the client
//! and the server agreed on in Tversion/Rversion.
//!
//! rxce treats `size[4]` as the transport's frame header, as the 4-byte
//! header of SMB: a client sends and receives `type[1] tag[2] ...`, and the
//! transport adds and strips the size ([`encode_size`], [`decode_size`]).
//!
//! ```
//! use rxce_wire::ninep::{decode_size, encode_size};
//!
//! // Tversion tag NOTAG msize 8192 "9P2000": 19 bytes in all, 15 after `size[4]`.
//! assert_eq!(encode_size(15)?, [19, 0, 0, 0]);
//! assert_eq!(decode_size([19, 0, 0, 0])?, 15);
//! assert!(decode_size([3, 0, 0, 0]).is_err()); // shorter than `size[4]` `type[1]` `tag[2]`
//! # Ok::<(), rxce_wire::WireError>(())
//! ```

use crate::error::WireError;

/// Length of `size[4]`.
pub const SIZE_LEN: usize = 4;

/// The smallest 9P message: `size[4] type[1] tag[2]`.
pub const MIN_MESSAGE: usize = 7;

/// The largest message after `size[4]` that the field can describe.
pub const MAX_BODY: usize = u32::MAX as usize - SIZE_LEN;

/// TCP port of 9P servers (IANA "9pfs").
pub const PORT: u16 = 564;

/// `size[4]` of a message whose bytes after the size field number `body`.
/// A body shorter than `type[1] tag[2]` is [`WireError::InvalidPacket`];
/// one above [`MAX_BODY`] is [`WireError::TooLong`].
pub fn encode_size(body: usize) -> Result<[u8; SIZE_LEN], WireError> {
    if body < MIN_MESSAGE - SIZE_LEN {
        return Err(WireError::InvalidPacket("a 9P message needs at least type[1] tag[2]"));
    }
    if body > MAX_BODY {
        return Err(WireError::TooLong {
            len: body,
            max: MAX_BODY,
        });
    }
    Ok(((body + SIZE_LEN) as u32).to_le_bytes())
}

/// How many bytes follow a message's `size[4]`. A size below 7 is
/// [`WireError::InvalidPacket`].
pub fn decode_size(size: [u8; SIZE_LEN]) -> Result<usize, WireError> {
    let size = u32::from_le_bytes(size) as usize;
    if size < MIN_MESSAGE {
        return Err(WireError::InvalidPacket("9P message size below 7"));
    }
    Ok(size - SIZE_LEN)
}

/// The tag of Tversion (NOTAG).
pub const NOTAG: u16 = 0xffff;
/// No fid (Tattach's afid without authentication).
pub const NOFID: u32 = 0xffff_ffff;

/// 9P message types a client of 9P2000.L uses (and Rerror of 9P2000 and
/// 9P2000.u).
pub mod msg {
    /// Rlerror (9P2000.L): `ecode[4]`, a Linux errno.
    pub const RLERROR: u8 = 7;
    /// Tlopen (9P2000.L): `fid[4]` `flags[4]`.
    pub const TLOPEN: u8 = 12;
    /// Rlopen: `qid[13]` `iounit[4]`.
    pub const RLOPEN: u8 = 13;
    /// Tversion: `msize[4]` `version[s]`.
    pub const TVERSION: u8 = 100;
    /// Rversion: `msize[4]` `version[s]`.
    pub const RVERSION: u8 = 101;
    /// Tattach: `fid[4]` `afid[4]` `uname[s]` `aname[s]` (`n_uname[4]` in .u and .L).
    pub const TATTACH: u8 = 104;
    /// Rattach: `qid[13]`.
    pub const RATTACH: u8 = 105;
    /// Rerror (9P2000, 9P2000.u): `ename[s]` (`errno[4]` in .u).
    pub const RERROR: u8 = 107;
    /// Twalk: `fid[4]` `newfid[4]` `nwname[2]` nwname*(`wname[s]`).
    pub const TWALK: u8 = 110;
    /// Rwalk: `nwqid[2]` nwqid*(`qid[13]`).
    pub const RWALK: u8 = 111;
    /// Tread: `fid[4]` `offset[8]` `count[4]`.
    pub const TREAD: u8 = 116;
    /// Rread: `count[4]` `data[count]`.
    pub const RREAD: u8 = 117;
    /// Tclunk: `fid[4]`.
    pub const TCLUNK: u8 = 120;
    /// Rclunk: nothing.
    pub const RCLUNK: u8 = 121;
}

/// A server's unique id of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Qid {
    /// QTDIR (0x80), QTFILE (0), ...
    pub kind: u8,
    /// Version (changes with the file).
    pub version: u32,
    /// The file's unique path number.
    pub path: u64,
}

/// A 9P message being built: `type[1] tag[2]`, then fields (the transport
/// adds `size[4]`).
#[derive(Debug, Clone)]
pub struct Builder(Vec<u8>);

impl Builder {
    /// A message of `kind` with `tag`.
    pub fn new(kind: u8, tag: u16) -> Builder {
        let mut out = Vec::with_capacity(64);
        out.push(kind);
        out.extend_from_slice(&tag.to_le_bytes());
        Builder(out)
    }

    /// A 2-byte field.
    pub fn u16(mut self, v: u16) -> Builder {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A 4-byte field.
    pub fn u32(mut self, v: u32) -> Builder {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// An 8-byte field.
    pub fn u64(mut self, v: u64) -> Builder {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A string: `len[2]` then the UTF-8 bytes (at most 65535).
    pub fn str(mut self, v: &str) -> Builder {
        let len = v.len().min(usize::from(u16::MAX));
        self.0.extend_from_slice(&(len as u16).to_le_bytes());
        self.0.extend_from_slice(&v.as_bytes()[..len]);
        self
    }

    /// The message, from `type[1]`.
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Tversion with NOTAG.
pub fn tversion(msize: u32, version: &str) -> Vec<u8> {
    Builder::new(msg::TVERSION, NOTAG).u32(msize).str(version).finish()
}

/// Tattach without authentication (9P2000.L and .u: with n_uname).
pub fn tattach(tag: u16, fid: u32, uname: &str, aname: &str, n_uname: u32) -> Vec<u8> {
    Builder::new(msg::TATTACH, tag)
        .u32(fid)
        .u32(NOFID)
        .str(uname)
        .str(aname)
        .u32(n_uname)
        .finish()
}

/// Twalk from `fid` to `newfid` through `names` (at most 16).
pub fn twalk(tag: u16, fid: u32, newfid: u32, names: &[&str]) -> Vec<u8> {
    let mut b = Builder::new(msg::TWALK, tag)
        .u32(fid)
        .u32(newfid)
        .u16(names.len() as u16);
    for name in names {
        b = b.str(name);
    }
    b.finish()
}

/// Tlopen (9P2000.L) with Linux open flags (0: O_RDONLY).
pub fn tlopen(tag: u16, fid: u32, flags: u32) -> Vec<u8> {
    Builder::new(msg::TLOPEN, tag).u32(fid).u32(flags).finish()
}

/// Tread of `count` bytes at `offset`.
pub fn tread(tag: u16, fid: u32, offset: u64, count: u32) -> Vec<u8> {
    Builder::new(msg::TREAD, tag).u32(fid).u64(offset).u32(count).finish()
}

/// Tclunk.
pub fn tclunk(tag: u16, fid: u32) -> Vec<u8> {
    Builder::new(msg::TCLUNK, tag).u32(fid).finish()
}

/// A reader over a received message (from `type[1]`).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Reads a message from its `type[1]`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at + n;
        let out = self
            .bytes
            .get(self.at..end)
            .ok_or(WireError::Truncated { needed: end })?;
        self.at = end;
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    /// A 2-byte field.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// A 4-byte field.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An 8-byte field.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// A string (lossy UTF-8).
    pub fn str(&mut self) -> Result<String, WireError> {
        let n = usize::from(self.u16()?);
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    /// A qid.
    pub fn qid(&mut self) -> Result<Qid, WireError> {
        Ok(Qid {
            kind: self.u8()?,
            version: self.u32()?,
            path: self.u64()?,
        })
    }

    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        self.take(n)
    }
}

/// A server's error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerError {
    /// Rlerror: a Linux errno.
    Lerror(u32),
    /// Rerror: a message (and for 9P2000.u an errno after it, not read).
    Error(String),
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerError::Lerror(errno) => write!(f, "Rlerror {} ({})", errno, errno_name(*errno)),
            ServerError::Error(text) => write!(f, "Rerror {text:?}"),
        }
    }
}

/// A few Linux errno values by name, for messages.
pub fn errno_name(errno: u32) -> &'static str {
    match errno {
        1 => "EPERM",
        2 => "ENOENT",
        5 => "EIO",
        9 => "EBADF",
        12 => "ENOMEM",
        13 => "EACCES",
        17 => "EEXIST",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        95 => "EOPNOTSUPP",
        _ => "errno",
    }
}

/// Reads a reply's `type[1] tag[2]`: a reply of type `want` gives its
/// reader past the header and its tag; Rlerror and Rerror are the server's
/// error (`Ok(Err(..))`); any other type is [`WireError::InvalidPacket`].
pub fn expect_reply(message: &[u8], want: u8) -> Result<Result<(Reader<'_>, u16), ServerError>, WireError> {
    let mut r = Reader::new(message);
    let kind = r.u8()?;
    let tag = r.u16()?;
    match kind {
        k if k == want => Ok(Ok((r, tag))),
        msg::RLERROR => Ok(Err(ServerError::Lerror(r.u32()?))),
        msg::RERROR => Ok(Err(ServerError::Error(r.str()?))),
        _ => Err(WireError::InvalidPacket("a 9P reply of an unexpected type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn size_bytes() {
        let cases = [
            (3, [7, 0, 0, 0]),
            (15, [19, 0, 0, 0]),
            (0xfffc, [0, 0, 1, 0]),
            (0x1234_5674, [0x78, 0x56, 0x34, 0x12]),
            (MAX_BODY, [0xff, 0xff, 0xff, 0xff]),
        ];
        for (body, size) in cases {
            assert_eq!(encode_size(body), Ok(size));
            assert_eq!(decode_size(size), Ok(body));
        }
        for size in [[0, 0, 0, 0], [3, 0, 0, 0], [6, 0, 0, 0]] {
            assert_eq!(
                decode_size(size),
                Err(WireError::InvalidPacket("9P message size below 7"))
            );
        }
        for body in [0, 1, 2] {
            assert!(matches!(encode_size(body), Err(WireError::InvalidPacket(_))));
        }
        assert_eq!(
            encode_size(MAX_BODY + 1),
            Err(WireError::TooLong {
                len: MAX_BODY + 1,
                max: MAX_BODY
            })
        );
    }

    #[test]
    fn message_bytes() {
        assert_eq!(
            tversion(8192, "9P2000.L"),
            [100, 0xff, 0xff, 0, 0x20, 0, 0, 8, 0, b'9', b'P', b'2', b'0', b'0', b'0', b'.', b'L']
        );
        assert_eq!(
            tattach(1, 0, "root", "/tmp/x", 0),
            [
                104, 1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 4, 0, b'r', b'o', b'o', b't', 6, 0, b'/', b't', b'm',
                b'p', b'/', b'x', 0, 0, 0, 0
            ]
        );
        assert_eq!(
            twalk(2, 0, 1, &["a", "bc"]),
            [110, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, b'a', 2, 0, b'b', b'c']
        );
        assert_eq!(tlopen(3, 1, 0), [12, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            tread(4, 1, 0x1_0000_0002, 8192),
            [116, 4, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0x20, 0, 0]
        );
        assert_eq!(tclunk(5, 1), [120, 5, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn replies() {
        let rversion = Builder::new(msg::RVERSION, NOTAG).u32(65536).str("9P2000.L").finish();
        let (mut r, tag) = expect_reply(&rversion, msg::RVERSION).unwrap().unwrap();
        assert_eq!(
            (tag, r.u32().unwrap(), r.str().unwrap().as_str()),
            (NOTAG, 65536, "9P2000.L")
        );
        let rattach = [105, 1, 0, 0x80, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0];
        let (mut r, _) = expect_reply(&rattach, msg::RATTACH).unwrap().unwrap();
        assert_eq!(
            r.qid().unwrap(),
            Qid {
                kind: 0x80,
                version: 1,
                path: 9
            }
        );
        assert_eq!(
            expect_reply(&[7, 1, 0, 2, 0, 0, 0], msg::RATTACH).unwrap().err(),
            Some(ServerError::Lerror(2))
        );
        assert_eq!(ServerError::Lerror(2).to_string(), "Rlerror 2 (ENOENT)");
        assert_eq!(
            expect_reply(&[107, 1, 0, 2, 0, b'n', b'o'], msg::RATTACH)
                .unwrap()
                .err(),
            Some(ServerError::Error("no".into()))
        );
        assert!(expect_reply(&[121, 1, 0], msg::RATTACH).is_err());
        assert!(matches!(
            expect_reply(&[105, 1], msg::RATTACH),
            Err(WireError::Truncated { .. })
        ));
        let mut r = Reader::new(&[1, 0, 0, 0]);
        assert!(matches!(r.u64(), Err(WireError::Truncated { needed: 8 })));
    }

    proptest! {
        #[test]
        fn size_round_trip(body in 3usize..=MAX_BODY) {
            prop_assert_eq!(decode_size(encode_size(body).unwrap()), Ok(body));
        }
    }
}

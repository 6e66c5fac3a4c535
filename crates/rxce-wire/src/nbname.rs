//! NetBIOS names and their on-the-wire encoding (RFC 1001 §14).
//!
//! A NetBIOS name is 16 bytes: up to 15 bytes of name, padded with spaces,
//! followed by one "suffix" byte that tells which service registered it
//! (0x20 is the file server service, 0x00 the workstation, and so on).
//!
//! On the wire a name travels in two levels of encoding:
//!
//! 1. *First level*: each of the 16 bytes is split into its high and low
//!    nibble and each nibble is sent as the character `'A' + nibble`, which
//!    gives 32 characters in the range `A..=P`.
//! 2. *Second level*: those 32 characters form the first label of a
//!    DNS-style name (a length byte of 0x20, then the characters), followed
//!    by the labels of the optional NetBIOS scope (each length-prefixed) and
//!    a terminating zero byte.
//!
//! [`encode_name`] and [`decode_name`] implement both levels together.
//! DNS compression pointers are not followed by [`decode_name`]; the name
//! service parser in [`crate::nbns`] resolves the one place where they occur.

use std::fmt;
use std::str::FromStr;

use crate::error::WireError;

/// Number of bytes in a NetBIOS name, suffix included.
pub const NAME_LEN: usize = 16;

/// Largest number of bytes of name text (the suffix byte excluded).
pub const MAX_NAME_TEXT_LEN: usize = 15;

/// Largest length of one scope label.
pub const MAX_LABEL_LEN: usize = 63;

/// Largest length of a whole encoded name: length bytes, first-level
/// characters, scope labels and the terminating zero byte.
pub const MAX_ENCODED_NAME_LEN: usize = 255;

/// Length of an encoded name without a scope: 1 length byte, 32 characters,
/// 1 terminating zero byte.
pub const ENCODED_NAME_LEN_WITHOUT_SCOPE: usize = 34;

/// Suffix of the workstation service (and of the wildcard name).
pub const SUFFIX_WORKSTATION: u8 = 0x00;

/// Suffix of the file server service, the default of [`NetbiosName::parse`].
pub const SUFFIX_SERVER: u8 = 0x20;

/// Length byte of the first label of an encoded name (32 characters).
const FIRST_LABEL_LEN: u8 = 0x20;

/// Characters that may not appear in a NetBIOS name given as text.
const RESERVED_CHARS: &[u8] = b".\\/:*?\"<>|";

/// A 16-byte NetBIOS name: 15 bytes of name, space padded, then the type
/// suffix byte.
///
/// Build one from text with [`NetbiosName::new`] or [`NetbiosName::parse`]
/// (both validate), or from raw bytes received on the wire with
/// [`NetbiosName::from_bytes`] (which accepts anything, because names such
/// as `\x01\x02__MSBROWSE__\x02\x01` exist in practice).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NetbiosName([u8; NAME_LEN]);

impl NetbiosName {
    /// `*SMBSERVER` with suffix 0x20: the generic called name a client may
    /// retry a session request with when the server rejects its first
    /// called name.
    pub const SMBSERVER: NetbiosName = NetbiosName(*b"*SMBSERVER      ");

    /// Builds a name from text and a suffix byte.
    ///
    /// ASCII letters are uppercased. The text must be 1 to 15 bytes of
    /// printable ASCII, not all spaces, and may not contain any of
    /// `. \ / : * ? " < > |`, with two exceptions:
    ///
    /// * `*SMBSERVER` (any case) is accepted;
    /// * the lone wildcard `*` is accepted and is padded with NUL bytes
    ///   instead of spaces, as node status queries require (`*` followed by
    ///   14 NULs and then `suffix`, which is normally 0x00).
    pub fn new(name: &str, suffix: u8) -> Result<NetbiosName, WireError> {
        let text = name.as_bytes();
        if text.is_empty() {
            return Err(WireError::InvalidName("name is empty"));
        }
        if text.len() > MAX_NAME_TEXT_LEN {
            return Err(WireError::TooLong {
                len: text.len(),
                max: MAX_NAME_TEXT_LEN,
            });
        }
        let mut bytes = [b' '; NAME_LEN];
        bytes[NAME_LEN - 1] = suffix;
        if text == b"*" {
            bytes[..NAME_LEN - 1].fill(0);
            bytes[0] = b'*';
            return Ok(NetbiosName(bytes));
        }
        let special = text.eq_ignore_ascii_case(b"*SMBSERVER");
        for (slot, &b) in bytes.iter_mut().zip(text) {
            if !b.is_ascii() {
                return Err(WireError::InvalidName("non-ASCII character"));
            }
            if b.is_ascii_control() {
                return Err(WireError::InvalidName("control character"));
            }
            if !special && RESERVED_CHARS.contains(&b) {
                return Err(WireError::InvalidName("reserved character"));
            }
            *slot = b.to_ascii_uppercase();
        }
        if text.iter().all(|&b| b == b' ') {
            return Err(WireError::InvalidName("name is blank"));
        }
        Ok(NetbiosName(bytes))
    }

    /// Parses `NAME` or `NAME<XX>`, where `XX` is the suffix as two hex
    /// digits (either case).
    ///
    /// Without an explicit suffix the server suffix 0x20 is used, except
    /// for the wildcard `*`, whose default suffix is 0x00. The name part is
    /// validated as by [`NetbiosName::new`].
    pub fn parse(text: &str) -> Result<NetbiosName, WireError> {
        let b = text.as_bytes();
        let n = b.len();
        if n >= 4 && b[n - 1] == b'>' && b[n - 4] == b'<' {
            let (hi, lo) = (b[n - 3], b[n - 2]);
            match (hex_value(hi), hex_value(lo)) {
                (Some(hi), Some(lo)) => {
                    // `<` is ASCII, so `n - 4` is a char boundary.
                    return NetbiosName::new(&text[..n - 4], (hi << 4) | lo);
                }
                _ => return Err(WireError::InvalidName("suffix is not two hex digits")),
            }
        }
        let suffix = if text == "*" { SUFFIX_WORKSTATION } else { SUFFIX_SERVER };
        NetbiosName::new(text, suffix)
    }

    /// Wraps 16 raw bytes (as received on the wire) without validation.
    pub const fn from_bytes(bytes: [u8; NAME_LEN]) -> NetbiosName {
        NetbiosName(bytes)
    }

    /// The 16 raw bytes: the padded name then the suffix.
    pub const fn as_bytes(&self) -> &[u8; NAME_LEN] {
        &self.0
    }

    /// The name text without its padding: the first 15 bytes with trailing
    /// spaces and NULs removed. Bytes above 0x7F (possible in names received
    /// from the wire) map to the Unicode code point of the same value.
    pub fn name(&self) -> String {
        self.trimmed().iter().map(|&b| char::from(b)).collect()
    }

    /// The suffix (type) byte.
    pub const fn suffix(&self) -> u8 {
        self.0[NAME_LEN - 1]
    }

    /// Whether this is the wildcard name `*` (used by node status queries).
    pub fn is_wildcard(&self) -> bool {
        self.0[0] == b'*' && self.0[1..NAME_LEN - 1].iter().all(|&b| b == 0)
    }

    fn trimmed(&self) -> &[u8] {
        let text = &self.0[..NAME_LEN - 1];
        let end = text.iter().rposition(|&b| b != b' ' && b != 0).map_or(0, |i| i + 1);
        &text[..end]
    }
}

impl fmt::Display for NetbiosName {
    /// Writes `NAME<XX>`: the trimmed name, with bytes outside printable
    /// ASCII (and the backslash) written as `\xNN`, then the suffix in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.trimmed() {
            if (0x20..0x7f).contains(&b) && b != b'\\' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02X}")?;
            }
        }
        write!(f, "<{:02X}>", self.suffix())
    }
}

impl FromStr for NetbiosName {
    type Err = WireError;

    /// Same as [`NetbiosName::parse`].
    fn from_str(s: &str) -> Result<NetbiosName, WireError> {
        NetbiosName::parse(s)
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Whether `b` may appear inside a scope label: printable ASCII other than
/// space and the label separator `.`.
fn is_scope_char(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'.'
}

/// Validates a scope and returns its labels. `None` and `Some("")` both
/// mean "no scope".
fn scope_labels(scope: Option<&str>) -> Result<Vec<&[u8]>, WireError> {
    let scope = match scope {
        None | Some("") => return Ok(Vec::new()),
        Some(s) => s,
    };
    let mut total = ENCODED_NAME_LEN_WITHOUT_SCOPE;
    let mut labels = Vec::new();
    for label in scope.as_bytes().split(|&b| b == b'.') {
        if label.is_empty() {
            return Err(WireError::InvalidName("empty scope label"));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(WireError::TooLong {
                len: label.len(),
                max: MAX_LABEL_LEN,
            });
        }
        if !label.iter().all(|&b| is_scope_char(b)) {
            return Err(WireError::InvalidName("bad character in scope label"));
        }
        total += 1 + label.len();
        labels.push(label);
    }
    if total > MAX_ENCODED_NAME_LEN {
        return Err(WireError::TooLong {
            len: total,
            max: MAX_ENCODED_NAME_LEN,
        });
    }
    Ok(labels)
}

/// The number of bytes [`encode_name`] writes for a name with `scope`, or
/// the error it would return for that scope.
pub fn encoded_name_len(scope: Option<&str>) -> Result<usize, WireError> {
    let labels = scope_labels(scope)?;
    Ok(ENCODED_NAME_LEN_WITHOUT_SCOPE + labels.iter().map(|l| 1 + l.len()).sum::<usize>())
}

/// Appends the encoded form of `name` with `scope` to `out`.
///
/// Writes the length byte 0x20, the 32 first-level characters
/// (`'A' + nibble`, high nibble first), then each label of the dotted
/// `scope` preceded by its length, then a zero byte. Scope labels must be
/// 1 to 63 printable ASCII bytes without spaces, and the whole encoded name
/// may not exceed 255 bytes. `None` and `Some("")` both mean no scope. On
/// error nothing is written.
pub fn encode_name(name: &NetbiosName, scope: Option<&str>, out: &mut Vec<u8>) -> Result<(), WireError> {
    let labels = scope_labels(scope)?;
    out.reserve(ENCODED_NAME_LEN_WITHOUT_SCOPE + labels.iter().map(|l| 1 + l.len()).sum::<usize>());
    out.push(FIRST_LABEL_LEN);
    for &b in name.as_bytes() {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0f));
    }
    for label in labels {
        // Validated above: 1..=63, fits in a byte.
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    Ok(())
}

/// Decodes an encoded name at the start of `bytes`.
///
/// Returns the name, its scope (labels joined with `.`, `None` when there
/// are none) and the number of bytes consumed. Bytes after the name are
/// ignored.
///
/// Rejects a first length byte other than 0x20, characters outside `A..=P`,
/// label lengths above 63, scope labels with characters other than
/// printable ASCII, names longer than 255 bytes, and compression pointers
/// (a length byte with the two top bits set), which callers holding the
/// whole packet must resolve themselves.
pub fn decode_name(bytes: &[u8]) -> Result<(NetbiosName, Option<String>, usize), WireError> {
    let Some(&first) = bytes.first() else {
        return Err(WireError::Truncated { needed: 1 });
    };
    if first & 0xc0 == 0xc0 {
        return Err(WireError::InvalidName("unexpected compression pointer"));
    }
    if first != FIRST_LABEL_LEN {
        return Err(WireError::InvalidName("first label length is not 32"));
    }
    // The 32 characters plus at least the next length byte.
    if bytes.len() < ENCODED_NAME_LEN_WITHOUT_SCOPE {
        return Err(WireError::Truncated {
            needed: ENCODED_NAME_LEN_WITHOUT_SCOPE,
        });
    }
    let mut raw = [0u8; NAME_LEN];
    for (slot, pair) in raw.iter_mut().zip(bytes[1..33].chunks_exact(2)) {
        let (hi, lo) = (pair[0], pair[1]);
        if !(b'A'..=b'P').contains(&hi) || !(b'A'..=b'P').contains(&lo) {
            return Err(WireError::InvalidName("character outside A..=P"));
        }
        *slot = ((hi - b'A') << 4) | (lo - b'A');
    }
    let mut pos = 1 + 32;
    let mut scope = String::new();
    loop {
        let Some(&len) = bytes.get(pos) else {
            return Err(WireError::Truncated { needed: pos + 1 });
        };
        if len == 0 {
            pos += 1;
            break;
        }
        if len & 0xc0 == 0xc0 {
            return Err(WireError::InvalidName("compression pointer in scope"));
        }
        let len = usize::from(len);
        if len > MAX_LABEL_LEN {
            return Err(WireError::InvalidName("label length above 63"));
        }
        let end = pos + 1 + len;
        // `end` is where the next length byte (at least the terminator) sits.
        if end + 1 > MAX_ENCODED_NAME_LEN {
            return Err(WireError::TooLong {
                len: end + 1,
                max: MAX_ENCODED_NAME_LEN,
            });
        }
        if bytes.len() < end + 1 {
            return Err(WireError::Truncated { needed: end + 1 });
        }
        let label = &bytes[pos + 1..end];
        if !label.iter().all(|&b| is_scope_char(b)) {
            return Err(WireError::InvalidName("bad character in scope label"));
        }
        if !scope.is_empty() {
            scope.push('.');
        }
        scope.extend(label.iter().map(|&b| char::from(b)));
        pos = end;
    }
    let scope = if scope.is_empty() { None } else { Some(scope) };
    Ok((NetbiosName(raw), scope, pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Encodes and returns the bytes, for brevity in tests.
    fn enc(name: &NetbiosName, scope: Option<&str>) -> Vec<u8> {
        let mut out = Vec::new();
        encode_name(name, scope, &mut out).unwrap();
        out
    }

    /// `0x20`, the characters, then the given tail.
    fn framed(chars: &str, tail: &[u8]) -> Vec<u8> {
        assert_eq!(chars.len(), 32);
        let mut v = vec![0x20];
        v.extend_from_slice(chars.as_bytes());
        v.extend_from_slice(tail);
        v
    }

    // FRED<20>: F=0x46 -> "EG", R=0x52 -> "FC", E=0x45 -> "EF",
    // D=0x44 -> "EE", then 11 padding spaces 0x20 -> "CA" each and the
    // suffix 0x20 -> "CA": "EGFCEFEE" + 12 x "CA".
    const FRED: &str = "EGFCEFEECACACACACACACACACACACACA";

    // *SMBSERVER<20>: '*'=0x2A "CK", 'S'=0x53 "FD", 'M'=0x4D "EN",
    // 'B'=0x42 "EC", 'S' "FD", 'E'=0x45 "EF", 'R'=0x52 "FC", 'V'=0x56 "FG",
    // 'E' "EF", 'R' "FC", 5 spaces "CA" x5, suffix 0x20 "CA".
    const SMBSERVER: &str = "CKFDENECFDEFFCFGEFFCCACACACACACA";

    // '*'=0x2A "CK", then 14 NUL padding bytes and the suffix 0x00: "AA" x15.
    const WILDCARD: &str = "CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn fred_encodes_by_the_rule() {
        let name = NetbiosName::new("fred", 0x20).unwrap();
        assert_eq!(name.as_bytes(), b"FRED            ");
        assert_eq!(enc(&name, None), framed(FRED, &[0]));
    }

    #[test]
    fn smbserver_encodes_by_the_rule() {
        assert_eq!(enc(&NetbiosName::SMBSERVER, None), framed(SMBSERVER, &[0]));
        assert_eq!(NetbiosName::new("*smbserver", 0x20).unwrap(), NetbiosName::SMBSERVER);
        assert_eq!(NetbiosName::parse("*SMBSERVER").unwrap(), NetbiosName::SMBSERVER);
        assert_eq!(NetbiosName::SMBSERVER.to_string(), "*SMBSERVER<20>");
    }

    #[test]
    fn wildcard_encodes_by_the_rule() {
        let name = NetbiosName::new("*", 0).unwrap();
        let mut expected = [0u8; 16];
        expected[0] = b'*';
        assert_eq!(name.as_bytes(), &expected);
        assert!(name.is_wildcard());
        assert_eq!(enc(&name, None), framed(WILDCARD, &[0]));
        assert_eq!(NetbiosName::parse("*").unwrap(), name);
        assert_eq!(name.to_string(), "*<00>");
        assert_eq!(name.name(), "*");
        assert_eq!(NetbiosName::parse("*<00>").unwrap(), name);
    }

    #[test]
    fn scope_netbios_com() {
        // After the 32 characters: label "NETBIOS" (7), label "COM" (3), 0.
        let name = NetbiosName::new("FRED", 0x20).unwrap();
        let mut tail = vec![7];
        tail.extend_from_slice(b"NETBIOS");
        tail.push(3);
        tail.extend_from_slice(b"COM");
        tail.push(0);
        let expected = framed(FRED, &tail);
        assert_eq!(expected.len(), 46);
        assert_eq!(enc(&name, Some("NETBIOS.COM")), expected);
        assert_eq!(encoded_name_len(Some("NETBIOS.COM")).unwrap(), 46);
        let (n, s, used) = decode_name(&expected).unwrap();
        assert_eq!((n, s.as_deref(), used), (name, Some("NETBIOS.COM"), 46));
    }

    #[test]
    fn empty_scope_is_no_scope() {
        let name = NetbiosName::new("FRED", 0x20).unwrap();
        assert_eq!(enc(&name, Some("")), enc(&name, None));
    }

    #[test]
    fn decode_known_vectors() {
        let v = framed(FRED, &[0, 0xff, 0xff]);
        let (name, scope, used) = decode_name(&v).unwrap();
        assert_eq!(name.name(), "FRED");
        assert_eq!(name.suffix(), 0x20);
        assert_eq!(scope, None);
        assert_eq!(used, 34, "trailing bytes are not consumed");
        let (name, _, _) = decode_name(&framed(SMBSERVER, &[0])).unwrap();
        assert_eq!(name, NetbiosName::SMBSERVER);
        let (name, _, _) = decode_name(&framed(WILDCARD, &[0])).unwrap();
        assert!(name.is_wildcard());
    }

    #[test]
    fn decode_every_prefix_is_truncated() {
        let full = enc(&NetbiosName::new("FRED", 0x20).unwrap(), Some("NETBIOS.COM"));
        for cut in 0..full.len() {
            match decode_name(&full[..cut]) {
                Err(WireError::Truncated { needed }) => {
                    assert!(needed > cut && needed <= full.len(), "cut {cut}: {needed}")
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        // The exact needed counts: 1 for the first byte, 34 for the
        // characters and the next length byte, then label by label.
        assert_eq!(decode_name(&[]), Err(WireError::Truncated { needed: 1 }));
        assert_eq!(decode_name(&full[..1]), Err(WireError::Truncated { needed: 34 }));
        assert_eq!(decode_name(&full[..34]), Err(WireError::Truncated { needed: 42 }));
        assert_eq!(decode_name(&full[..42]), Err(WireError::Truncated { needed: 46 }));
    }

    #[test]
    fn decode_rejects_bad_first_byte() {
        for first in [0x00, 0x1f, 0x21, 0x3f, 0x40] {
            let mut v = framed(FRED, &[0]);
            v[0] = first;
            assert_eq!(
                decode_name(&v),
                Err(WireError::InvalidName("first label length is not 32"))
            );
        }
        assert_eq!(
            decode_name(&[0xc0, 0x0c]),
            Err(WireError::InvalidName("unexpected compression pointer"))
        );
    }

    #[test]
    fn decode_rejects_bad_half_ascii() {
        for (i, bad) in [(1, b'Q'), (2, b'a'), (32, b'@'), (17, b'0'), (5, 0xc1)] {
            let mut v = framed(FRED, &[0]);
            v[i] = bad;
            assert_eq!(
                decode_name(&v),
                Err(WireError::InvalidName("character outside A..=P")),
                "byte {i} = {bad:#x}"
            );
        }
    }

    #[test]
    fn decode_rejects_bad_scope_labels() {
        // Pointer in place of a scope label.
        assert_eq!(
            decode_name(&framed(FRED, &[0xc0, 0x0c])),
            Err(WireError::InvalidName("compression pointer in scope"))
        );
        // Length bytes 0x40..=0xBF are neither labels nor pointers.
        for len in [0x40, 0x80, 0xbf] {
            assert_eq!(
                decode_name(&framed(FRED, &[len])),
                Err(WireError::InvalidName("label length above 63"))
            );
        }
        // A space and a dot inside a label.
        assert_eq!(
            decode_name(&framed(FRED, &[3, b'A', b' ', b'B', 0])),
            Err(WireError::InvalidName("bad character in scope label"))
        );
        assert_eq!(
            decode_name(&framed(FRED, &[3, b'A', b'.', b'B', 0])),
            Err(WireError::InvalidName("bad character in scope label"))
        );
    }

    #[test]
    fn decode_rejects_names_over_255_bytes() {
        // 33 + 3 labels of 1+63 = 225, then a label of 1+29 ends at 255,
        // leaving no room for the terminator: 256 bytes in all.
        let mut tail = Vec::new();
        for _ in 0..3 {
            tail.push(63);
            tail.extend_from_slice(&[b'X'; 63]);
        }
        let mut ok = tail.clone();
        ok.push(28);
        ok.extend_from_slice(&[b'Y'; 28]);
        ok.push(0);
        let ok = framed(FRED, &ok);
        assert_eq!(ok.len(), 255);
        assert_eq!(decode_name(&ok).unwrap().2, 255);

        tail.push(29);
        tail.extend_from_slice(&[b'Y'; 29]);
        tail.push(0);
        assert_eq!(
            decode_name(&framed(FRED, &tail)),
            Err(WireError::TooLong { len: 256, max: 255 })
        );
    }

    #[test]
    fn encode_scope_limits() {
        let name = NetbiosName::new("FRED", 0x20).unwrap();
        let l63 = "X".repeat(63);
        let l28 = "Y".repeat(28);
        let fits = format!("{l63}.{l63}.{l63}.{l28}");
        assert_eq!(enc(&name, Some(&fits)).len(), 255);
        let over = format!("{l63}.{l63}.{l63}.{l28}Y");
        let mut out = vec![1, 2, 3];
        assert_eq!(
            encode_name(&name, Some(&over), &mut out),
            Err(WireError::TooLong { len: 256, max: 255 })
        );
        assert_eq!(out, [1, 2, 3], "nothing written on error");
        assert_eq!(
            encode_name(&name, Some(&"Z".repeat(64)), &mut out),
            Err(WireError::TooLong { len: 64, max: 63 })
        );
        for bad in [".COM", "NETBIOS.", "A..B", "A B", "A\u{e9}"] {
            assert!(
                matches!(encode_name(&name, Some(bad), &mut out), Err(WireError::InvalidName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn new_validates() {
        assert_eq!(NetbiosName::new("", 0x20), Err(WireError::InvalidName("name is empty")));
        assert_eq!(
            NetbiosName::new("ABCDEFGHIJKLMNOP", 0x20),
            Err(WireError::TooLong { len: 16, max: 15 })
        );
        assert!(NetbiosName::new("ABCDEFGHIJKLMNO", 0x20).is_ok());
        assert_eq!(
            NetbiosName::new("   ", 0x20),
            Err(WireError::InvalidName("name is blank"))
        );
        for c in ['.', '\\', '/', ':', '*', '?', '"', '<', '>', '|'] {
            assert_eq!(
                NetbiosName::new(&format!("A{c}B"), 0x20),
                Err(WireError::InvalidName("reserved character")),
                "{c:?}"
            );
        }
        for c in ['\0', '\t', '\n', '\x1f', '\x7f'] {
            assert_eq!(
                NetbiosName::new(&format!("A{c}B"), 0x20),
                Err(WireError::InvalidName("control character")),
                "{c:?}"
            );
        }
        assert_eq!(
            NetbiosName::new("CAF\u{e9}", 0x20),
            Err(WireError::InvalidName("non-ASCII character"))
        );
        assert_eq!(
            NetbiosName::new("**", 0x20),
            Err(WireError::InvalidName("reserved character"))
        );
        assert_eq!(
            NetbiosName::new("*SMBSERVERX", 0x20),
            Err(WireError::InvalidName("reserved character"))
        );
        let n = NetbiosName::new("my-pc 2", 0x00).unwrap();
        assert_eq!(n.name(), "MY-PC 2");
        assert_eq!(n.suffix(), 0);
    }

    #[test]
    fn parse_suffix_forms() {
        let n = NetbiosName::parse("workgroup<1d>").unwrap();
        assert_eq!((n.name().as_str(), n.suffix()), ("WORKGROUP", 0x1d));
        assert_eq!(n.to_string(), "WORKGROUP<1D>");
        let n = NetbiosName::parse("SERVER").unwrap();
        assert_eq!(n.suffix(), 0x20);
        assert_eq!("SERVER<00>".parse::<NetbiosName>().unwrap().suffix(), 0);
        assert_eq!(
            NetbiosName::parse("SERVER<G0>"),
            Err(WireError::InvalidName("suffix is not two hex digits"))
        );
        assert_eq!(
            NetbiosName::parse("SERVER<+1>"),
            Err(WireError::InvalidName("suffix is not two hex digits"))
        );
        assert_eq!(
            NetbiosName::parse("SERVER<1D"),
            Err(WireError::InvalidName("reserved character"))
        );
        assert_eq!(NetbiosName::parse("<20>"), Err(WireError::InvalidName("name is empty")));
        // A multi-byte character right before the suffix must not panic.
        assert!(NetbiosName::parse("\u{e9}<20>").is_err());
        assert!(NetbiosName::parse("\u{e9}>").is_err());
    }

    #[test]
    fn display_escapes_raw_bytes() {
        let n = NetbiosName::from_bytes(*b"\x01\x02__MSBROWSE__\x02\x01");
        assert_eq!(n.to_string(), "\\x01\\x02__MSBROWSE__\\x02<01>");
        assert_eq!(n.name(), "\u{1}\u{2}__MSBROWSE__\u{2}");
        let n = NetbiosName::from_bytes(*b"A\\B\xe9           \x20");
        assert_eq!(n.to_string(), "A\\x5CB\\xE9<20>");
        assert_eq!(n.name(), "A\\B\u{e9}");
    }

    fn scope_strategy() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop::collection::vec("[!-\\-/-~]{1,20}", 1..4).prop_map(|labels| labels.join(".")))
    }

    /// Text accepted by `NetbiosName::new` without the special cases.
    fn name_text() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!#$%&'()+,;=@^_`{}~ -]{1,15}".prop_filter("not blank", |s| s.trim() != "")
    }

    proptest! {
        #[test]
        fn raw_names_round_trip(bytes in any::<[u8; 16]>(), scope in scope_strategy()) {
            let name = NetbiosName::from_bytes(bytes);
            let mut out = vec![0xee];
            encode_name(&name, scope.as_deref(), &mut out).unwrap();
            prop_assert_eq!(out.len() - 1, encoded_name_len(scope.as_deref()).unwrap());
            out.push(0xff);
            let (n, s, used) = decode_name(&out[1..]).unwrap();
            prop_assert_eq!(n, name);
            prop_assert_eq!(s, scope);
            prop_assert_eq!(used, out.len() - 2);
        }

        #[test]
        fn text_names_round_trip(text in name_text(), suffix in any::<u8>()) {
            let name = NetbiosName::new(&text, suffix).unwrap();
            prop_assert_eq!(name.suffix(), suffix);
            let upper = text.to_ascii_uppercase();
            prop_assert_eq!(name.name(), upper.trim_end());
            prop_assert_eq!(NetbiosName::parse(&name.to_string()).unwrap(), name);
        }

        #[test]
        fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_name(&bytes);
        }

        #[test]
        fn decode_mostly_valid_never_panics(
            mut bytes in prop::collection::vec(b'A'..=b'P', 0..120),
            tweaks in prop::collection::vec((0usize..120, any::<u8>()), 0..4),
        ) {
            if !bytes.is_empty() {
                bytes[0] = 0x20;
            }
            for (i, b) in tweaks {
                if i < bytes.len() {
                    bytes[i] = b;
                }
            }
            let _ = decode_name(&bytes);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,20}") {
            let _ = NetbiosName::parse(&text);
        }
    }
}

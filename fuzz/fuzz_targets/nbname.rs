//! NetBIOS names: the on-the-wire encoding (`decode_name`, RFC 1001 §14)
//! and the text forms (`NetbiosName::parse`, `NAME` / `NAME<XX>`).
//!
//! Properties, on every input:
//! - `decode_name` never panics; a name that decodes is canonical
//!   (`encode_name` of the result gives back exactly the bytes consumed,
//!   and `encoded_name_len` agrees); a `Truncated { needed }` error asks for
//!   more bytes than there are;
//! - `NetbiosName::parse` never panics; a name that parses prints (Display)
//!   to text that parses to the same name; `Display` and `name()` of any
//!   raw name never panic;
//! - round trip: any 16 raw bytes with any scope the encoder accepts decode
//!   back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_fuzz::Cursor;
use rxce_wire::nbname::{decode_name, encode_name, encoded_name_len, NetbiosName};
use rxce_wire::WireError;

fuzz_target!(|data: &[u8]| {
    check_decode(data);
    if let Ok(text) = std::str::from_utf8(data) {
        check_text(text);
    }
    round_trip(&mut Cursor::new(data));
});

fn check_decode(data: &[u8]) {
    match decode_name(data) {
        Ok((name, scope, used)) => {
            assert!(used <= data.len() && used <= 255, "used {used}");
            let mut out = Vec::new();
            encode_name(&name, scope.as_deref(), &mut out).expect("a decoded name encodes");
            assert_eq!(out, &data[..used], "not canonical");
            assert_eq!(encoded_name_len(scope.as_deref()), Ok(used));
            assert_eq!(decode_name(&data[..used]), Ok((name, scope, used)));
        }
        Err(WireError::Truncated { needed }) => {
            assert!(needed > data.len(), "needed {needed} of {}", data.len());
        }
        Err(_) => {}
    }
}

fn check_text(text: &str) {
    if let Ok(name) = NetbiosName::parse(text) {
        let shown = name.to_string();
        assert_eq!(NetbiosName::parse(&shown), Ok(name), "{text:?} shows as {shown:?}");
        assert_eq!(name.to_string(), shown);
    }
    // A suffix byte from the text's length: new() with any suffix.
    if let Ok(name) = NetbiosName::new(text, text.len() as u8) {
        assert_eq!(name.suffix(), text.len() as u8);
        assert_eq!(NetbiosName::parse(&name.to_string()), Ok(name));
    }
}

fn round_trip(c: &mut Cursor<'_>) {
    let name = c.raw_name();
    let _ = (name.to_string(), name.name(), name.is_wildcard());
    let scope = c.scope();
    let mut out = vec![0xEE];
    if encode_name(&name, scope.as_deref(), &mut out).is_err() {
        assert_eq!(out, [0xEE], "nothing written on error");
        return;
    }
    let len = out.len() - 1;
    out.extend_from_slice(c.rest());
    let (decoded, decoded_scope, used) = decode_name(&out[1..]).expect("an encoded name decodes");
    assert_eq!(decoded, name);
    assert_eq!(decoded_scope, scope.filter(|s| !s.is_empty()));
    assert_eq!(used, len);
}

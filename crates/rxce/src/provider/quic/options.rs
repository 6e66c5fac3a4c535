//! The `quic` transport's connection options: what a connection's
//! `ConnectionInformation::options` carries (decision 45).
//!
//! The options are UTF-8 text, `key=value` entries separated by `&` or a
//! line break, the same keys as the query of a `quic://` URL:
//!
//! | key | value |
//! |---|---|
//! | `sni` | the server name sent as SNI and checked against the certificate (default: the remote host name, else its IP address) |
//! | `ca` | a file of trusted CA certificates (PEM, or one DER certificate) in place of the system's roots |
//! | `pin` | a SHA-256 fingerprint of the server's certificate (64 hex digits, `:` allowed); repeatable; the name is not checked |
//! | `cert`, `key` | our client certificate chain and its private key (PEM or DER), given together |
//!
//! No options: the system's root certificates and the name check.

use std::path::PathBuf;

use crate::status::Status;

/// A SHA-256 certificate fingerprint.
pub type Fingerprint = [u8; 32];

/// The parsed options of one `quic` connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuicOptions {
    /// The server name (SNI and name check).
    pub sni: Option<String>,
    /// Trusted CA certificates in place of the system's roots.
    pub ca: Option<PathBuf>,
    /// Pinned server certificates; when any, the only trust.
    pub pins: Vec<Fingerprint>,
    /// Our client certificate chain.
    pub cert: Option<PathBuf>,
    /// The private key of `cert`.
    pub key: Option<PathBuf>,
}

impl QuicOptions {
    /// Parses the options text; `INVALID_PARAMETER` names the bad entry.
    pub fn parse(bytes: &[u8]) -> Result<QuicOptions, Status> {
        let bad = |what: String| Status::INVALID_PARAMETER.with_message(format!("quic options: {what}"));
        let text = std::str::from_utf8(bytes).map_err(|_| bad("the options are not UTF-8".into()))?;
        let mut options = QuicOptions::default();
        for entry in text.split(['&', '\n', '\r']).filter(|e| !e.trim().is_empty()) {
            let (key, value) = entry
                .split_once('=')
                .ok_or_else(|| bad(format!("`{entry}` is not key=value")))?;
            let (key, value) = (key.trim(), value.trim());
            if value.is_empty() {
                return Err(bad(format!("`{key}` has no value")));
            }
            let once = |given: bool| match given {
                true => Err(bad(format!("`{key}` is given twice"))),
                false => Ok(()),
            };
            match key {
                "sni" => {
                    once(options.sni.is_some())?;
                    options.sni = Some(value.to_owned());
                }
                "ca" => {
                    once(options.ca.is_some())?;
                    options.ca = Some(PathBuf::from(value));
                }
                "cert" => {
                    once(options.cert.is_some())?;
                    options.cert = Some(PathBuf::from(value));
                }
                "key" => {
                    once(options.key.is_some())?;
                    options.key = Some(PathBuf::from(value));
                }
                "pin" => options.pins.push(parse_fingerprint(value).map_err(bad)?),
                other => return Err(bad(format!("unknown key `{other}` (sni, ca, pin, cert, key)"))),
            }
        }
        if options.ca.is_some() && !options.pins.is_empty() {
            return Err(bad("give `ca` or `pin`, not both".into()));
        }
        if options.cert.is_some() != options.key.is_some() {
            return Err(bad("`cert` and `key` go together".into()));
        }
        Ok(options)
    }

    /// The options as text that [`QuicOptions::parse`] reads back.
    pub fn encode(&self) -> String {
        let mut entries = Vec::new();
        if let Some(sni) = &self.sni {
            entries.push(format!("sni={sni}"));
        }
        if let Some(ca) = &self.ca {
            entries.push(format!("ca={}", ca.display()));
        }
        for pin in &self.pins {
            entries.push(format!("pin={}", hex(pin)));
        }
        if let Some(cert) = &self.cert {
            entries.push(format!("cert={}", cert.display()));
        }
        if let Some(key) = &self.key {
            entries.push(format!("key={}", key.display()));
        }
        entries.join("\n")
    }
}

/// A fingerprint from 64 hex digits (`:` separators allowed).
pub fn parse_fingerprint(text: &str) -> Result<Fingerprint, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| *b != b':').collect();
    if digits.len() != 64 {
        return Err(format!("pin `{text}` is not a SHA-256 fingerprint (64 hex digits)"));
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => out[i] = h << 4 | l,
            _ => return Err(format!("pin `{text}` has a character that is not a hex digit")),
        }
    }
    Ok(out)
}

/// A fingerprint as lower-case hex digits.
pub fn hex(fingerprint: &Fingerprint) -> String {
    fingerprint.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 fingerprint of a DER certificate.
pub fn fingerprint(der: &[u8]) -> Fingerprint {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_and_refuse_what_they_cannot_use() {
        let pin = "ab".repeat(32);
        let parsed =
            QuicOptions::parse(format!("sni=srv.example&pin={pin}\ncert=/c.pem&key=/k.pem").as_bytes()).unwrap();
        assert_eq!(parsed.sni.as_deref(), Some("srv.example"));
        assert_eq!(parsed.pins, vec![[0xab; 32]]);
        assert_eq!(QuicOptions::parse(parsed.encode().as_bytes()).unwrap(), parsed);
        assert_eq!(QuicOptions::parse(b"").unwrap(), QuicOptions::default());
        for bad in [
            &b"color=red"[..],
            b"sni",
            b"sni=",
            b"pin=00",
            b"ca=/a&pin=0000000000000000000000000000000000000000000000000000000000000000",
            b"cert=/c",
            b"sni=a&sni=b",
            b"\xff",
        ] {
            let err = QuicOptions::parse(bad).unwrap_err();
            assert_eq!(err, Status::INVALID_PARAMETER, "{bad:?}");
            assert!(err.to_string().contains("quic options"), "{err}");
        }
        let colons = (0..32).map(|_| "0F").collect::<Vec<_>>().join(":");
        assert_eq!(parse_fingerprint(&colons).unwrap(), [0x0f; 32]);
    }
}

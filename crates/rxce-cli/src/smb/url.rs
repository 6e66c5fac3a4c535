//! `smb://HOST[:PORT]/SHARE[/PATH]` URLs.

use std::fmt;

use crate::endpoint::Host;

/// The transport an SMB session runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmbTransport {
    /// Direct-hosted SMB over TCP (port 445).
    #[default]
    TcpSmb,
    /// The NetBIOS session service (port 139).
    Netbt,
}

impl SmbTransport {
    /// The engine provider's name.
    pub fn provider(self) -> &'static str {
        match self {
            SmbTransport::TcpSmb => "tcp+smb",
            SmbTransport::Netbt => "netbt",
        }
    }

    /// The port a URL without one uses.
    pub fn default_port(self) -> u16 {
        match self {
            SmbTransport::TcpSmb => 445,
            SmbTransport::Netbt => 139,
        }
    }

    /// Parses `tcp+smb` or `netbt`.
    ///
    /// ```
    /// use rxce_cli::smb::SmbTransport;
    /// assert_eq!(SmbTransport::parse("netbt"), Ok(SmbTransport::Netbt));
    /// assert!(SmbTransport::parse("udp").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<SmbTransport, String> {
        match text {
            "tcp+smb" | "tcp" => Ok(SmbTransport::TcpSmb),
            "netbt" => Ok(SmbTransport::Netbt),
            other => Err(format!("unknown SMB transport {other:?}: use tcp+smb or netbt")),
        }
    }
}

/// A parsed `smb://` URL and the transport to reach it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmbUrl {
    /// The server.
    pub host: Host,
    /// The port written in the URL, if any.
    pub explicit_port: Option<u16>,
    /// The share.
    pub share: String,
    /// The path within the share, with backslashes and no leading one
    /// (empty for the share's root).
    pub path: String,
    /// The transport.
    pub transport: SmbTransport,
}

impl SmbUrl {
    /// Parses `smb://HOST[:PORT]/SHARE[/PATH]` (IPv6 hosts in brackets;
    /// `%XX` escapes in the share and path are decoded).
    ///
    /// ```
    /// use rxce_cli::smb::SmbUrl;
    /// let url = SmbUrl::parse("smb://127.0.0.1:4450/pub/dir/a%20b.txt").unwrap();
    /// assert_eq!((url.share.as_str(), url.path.as_str()), ("pub", r"dir\a b.txt"));
    /// assert_eq!(url.port(), 4450);
    /// assert_eq!(url.unc_share(), r"\\127.0.0.1\pub");
    /// assert!(SmbUrl::parse("smb://host").is_err());
    /// assert!(SmbUrl::parse("http://host/share").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<SmbUrl, String> {
        let rest = text
            .strip_prefix("smb://")
            .ok_or_else(|| format!("{text:?} is not an smb:// URL"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = split_port(authority)?;
        let host = Host::parse(host).map_err(|e| format!("bad host in {text:?}: {e}"))?;
        let mut parts = path.split('/').filter(|p| !p.is_empty());
        let share = parts
            .next()
            .map(decode)
            .transpose()?
            .ok_or_else(|| format!("{text:?} names no share: smb://HOST[:PORT]/SHARE/PATH"))?;
        let path = parts.map(decode).collect::<Result<Vec<_>, _>>()?.join("\\");
        Ok(SmbUrl {
            host,
            explicit_port: port,
            share,
            path,
            transport: SmbTransport::default(),
        })
    }

    /// The port: the URL's, else the transport's default.
    pub fn port(&self) -> u16 {
        self.explicit_port.unwrap_or(self.transport.default_port())
    }

    /// `HOST:PORT` for messages.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port())
    }

    /// The share as TREE_CONNECT names it: `\\HOST\SHARE`.
    pub fn unc_share(&self) -> String {
        let host = self.host.to_string();
        format!(
            r"\\{}\{}",
            host.trim_start_matches('[').trim_end_matches(']'),
            self.share
        )
    }

    /// The last component of the path (for a default output name).
    pub fn file_name(&self) -> &str {
        self.path.rsplit('\\').next().unwrap_or_default()
    }
}

impl fmt::Display for SmbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "smb://{}/{}", self.server(), self.share)?;
        if !self.path.is_empty() {
            write!(f, "/{}", self.path.replace('\\', "/"))?;
        }
        Ok(())
    }
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let colon = if authority.starts_with('[') {
        authority
            .find(']')
            .and_then(|end| authority[end..].find(':').map(|c| end + c))
    } else {
        authority.rfind(':')
    };
    match colon {
        Some(at) => {
            let port = authority[at + 1..]
                .parse::<u16>()
                .map_err(|_| format!("bad port in {authority:?}"))?;
            Ok((&authority[..at], Some(port)))
        }
        None => Ok((authority, None)),
    }
}

/// Decodes `%XX` escapes.
fn decode(part: &str) -> Result<String, String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = part
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in {part:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{part:?} is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_and_ports() {
        let url = SmbUrl::parse("smb://[::1]:99/s").unwrap();
        assert_eq!(url.port(), 99);
        assert!(url.host.is_ipv6());
        assert_eq!(url.path, "");
        assert_eq!(url.unc_share(), r"\\::1\s");
        let mut plain = SmbUrl::parse("smb://files/s/a/b/").unwrap();
        assert_eq!(plain.path, r"a\b");
        assert_eq!(plain.port(), 445);
        plain.transport = SmbTransport::Netbt;
        assert_eq!(plain.port(), 139);
        assert_eq!(plain.to_string(), "smb://files:139/s/a/b");
        assert_eq!(plain.file_name(), "b");
    }

    #[test]
    fn bad_urls() {
        for bad in [
            "smb://h:x/s",
            "smb://h:70000/s",
            "smb://h/s/%zz",
            "smb:///s",
            "smb://h/",
        ] {
            assert!(SmbUrl::parse(bad).is_err(), "{bad}");
        }
    }
}

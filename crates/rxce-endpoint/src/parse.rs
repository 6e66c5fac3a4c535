//! Parsing endpoint URLs: every function returns the problem in words
//! (`missing port`), which [`EndpointError`](super::EndpointError) puts
//! after the URL.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{parse_called_name, parse_calling_name, Endpoint, Host, Kind, Target, UnixName, MAX_UNIX_NAME};

/// The longest DNS name, without a trailing dot.
const MAX_HOST_NAME: usize = 253;
/// The longest DNS label.
const MAX_LABEL: usize = 63;

/// The schemes, for messages.
fn known_schemes() -> String {
    Kind::ALL
        .iter()
        .map(|k| match k {
            Kind::Unix | Kind::Memory => format!("{k}:"),
            _ => format!("{k}://"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a whole endpoint URL.
pub(super) fn endpoint(text: &str) -> Result<Endpoint, String> {
    if text.is_empty() {
        return Err("empty".into());
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!("control character {:?}", c));
    }
    let Some((scheme, rest)) = text.split_once(':') else {
        return Err(format!("missing scheme (one of {})", known_schemes()));
    };
    let looks_like_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !looks_like_scheme {
        return Err(format!("missing scheme (one of {})", known_schemes()));
    }
    let kind =
        Kind::from_scheme(scheme).ok_or_else(|| format!("unknown scheme {scheme:?} (known: {})", known_schemes()))?;
    match kind {
        Kind::Unix => parse_unix(rest).map(|name| Endpoint::new(kind, Target::Unix(name))),
        Kind::Memory => parse_memory(rest).map(|name| Endpoint::new(kind, Target::Memory(name))),
        _ => {
            let rest = rest
                .strip_prefix("//")
                .ok_or_else(|| format!("expected \"//\" after \"{scheme}:\" ({kind}://HOST:PORT)"))?;
            parse_inet(kind, rest)
        }
    }
}

fn parse_unix(rest: &str) -> Result<UnixName, String> {
    if rest.starts_with("//") {
        return Err("unexpected \"//\": write unix:/path/to/socket or unix:@name".into());
    }
    if let Some(name) = rest.strip_prefix('@') {
        if name.is_empty() {
            return Err("missing abstract socket name after \"@\"".into());
        }
        if name.len() > MAX_UNIX_NAME {
            return Err(format!(
                "abstract socket name is {} bytes, longer than the {MAX_UNIX_NAME} a socket address holds",
                name.len()
            ));
        }
        return Ok(UnixName::Abstract(name.to_owned()));
    }
    if rest.is_empty() {
        return Err("missing path (unix:PATH or unix:@NAME)".into());
    }
    if rest.len() > MAX_UNIX_NAME {
        return Err(format!(
            "path is {} bytes, longer than the {MAX_UNIX_NAME} a socket address holds",
            rest.len()
        ));
    }
    Ok(UnixName::Path(rest.to_owned()))
}

fn parse_memory(rest: &str) -> Result<String, String> {
    if rest.starts_with("//") {
        return Err("unexpected \"//\": write memory:NAME".into());
    }
    if rest.is_empty() {
        return Err("missing name (memory:NAME)".into());
    }
    Ok(rest.to_owned())
}

fn parse_inet(kind: Kind, rest: &str) -> Result<Endpoint, String> {
    if let Some(at) = rest.find('#') {
        return Err(format!("unexpected fragment {:?}", &rest[at..]));
    }
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(at) => before_query.split_at(at),
        None => (before_query, ""),
    };
    if !path.is_empty() {
        return Err(format!("unexpected path {path:?}"));
    }
    if authority.contains('@') {
        return Err("user information (\"user@\") is not supported".into());
    }
    let (host, port) = split_authority(authority)?;
    let port = match port {
        Some(text) => parse_port(text)?,
        None => kind.default_port().ok_or("missing port")?,
    };
    let mut endpoint = Endpoint::new(kind, Target::Inet { host, port });
    if let Some(query) = query {
        match kind {
            Kind::Netbt => parse_netbt_query(query, &mut endpoint)?,
            Kind::Quic => parse_quic_query(query, &mut endpoint)?,
            _ => {
                return Err(format!(
                    "unexpected parameters \"?{query}\" (only netbt:// and quic:// take parameters)"
                ))
            }
        }
    }
    Ok(endpoint)
}

/// Splits `HOST[:PORT]` (IPv6 in brackets) into a host and the port text.
fn split_authority(authority: &str) -> Result<(Host, Option<&str>), String> {
    if authority.is_empty() {
        return Err("missing host".into());
    }
    if let Some(inner) = authority.strip_prefix('[') {
        let (address, after) = inner.split_once(']').ok_or("missing \"]\" after the IPv6 address")?;
        let ip = parse_ipv6(address)?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {after:?} after \"]\""))?,
            ),
        };
        return Ok((Host::Ip(IpAddr::V6(ip)), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if port.is_some_and(|p| p.contains(':')) {
        return Err("an IPv6 address must be in brackets, as in tcp://[::1]:445".into());
    }
    if host.is_empty() {
        return Err("missing host".into());
    }
    Ok((parse_host(host)?, port))
}

fn parse_port(text: &str) -> Result<u16, String> {
    if text.is_empty() {
        return Err("missing port".into());
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad port {text:?}"));
    }
    text.parse::<u16>()
        .map_err(|_| format!("port {text} is out of range (0-65535)"))
}

pub(super) fn parse_ipv6(text: &str) -> Result<Ipv6Addr, String> {
    text.parse::<Ipv6Addr>()
        .map_err(|_| format!("bad IPv6 address {text:?}"))
}

/// An IPv4 literal or a DNS name (letters, digits, `-` and `_` in labels of
/// at most 63 characters, at most 253 in all, an optional final dot).
pub(super) fn parse_host(text: &str) -> Result<Host, String> {
    if let Ok(ip) = text.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    if text.is_empty() {
        return Err("missing host".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("bad IPv4 address {text:?}"));
    }
    let bad = |why: String| Err(format!("bad host name {text:?}: {why}"));
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.len() > MAX_HOST_NAME {
        return bad(format!("longer than {MAX_HOST_NAME} characters"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return bad("empty label".into());
        }
        if label.len() > MAX_LABEL {
            return bad(format!("a label is longer than {MAX_LABEL} characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return bad(format!("character {c:?} is not allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a label starts or ends with \"-\"".into());
        }
    }
    Ok(Host::Name(text.to_owned()))
}

/// `sni=&ca=&pin=&cert=&key=` (decision 45): known keys with values, each
/// at most once but `pin`; the engine reads the files and checks the rest.
fn parse_quic_query(query: &str, endpoint: &mut Endpoint) -> Result<(), String> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("parameter {pair:?} needs a value ({pair}=...)"))?;
        if !super::QUIC_KEYS.contains(&key) {
            return Err(format!(
                "unknown parameter {key:?} (quic takes sni, ca, pin, cert and key)"
            ));
        }
        if value.is_empty() || value.contains(['\n', '\r']) {
            return Err(format!("empty or multi-line {key}"));
        }
        if key != "pin" && endpoint.quic.iter().any(|(k, _)| k == key) {
            return Err(format!("parameter {key:?} is given twice"));
        }
        endpoint.quic.push((key.to_owned(), value.to_owned()));
    }
    let has = |k: &str| endpoint.quic.iter().any(|(key, _)| key == k);
    if has("cert") != has("key") {
        return Err("cert and key go together".into());
    }
    if has("ca") && has("pin") {
        return Err("give ca or pin, not both".into());
    }
    Ok(())
}

/// `called=NAME&calling=NAME`, each at most once.
fn parse_netbt_query(query: &str, endpoint: &mut Endpoint) -> Result<(), String> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("parameter {pair:?} needs a value ({pair}=NAME)"))?;
        let slot = match key {
            "called" => &mut endpoint.called,
            "calling" => &mut endpoint.calling,
            _ => return Err(format!("unknown parameter {key:?} (netbt takes called and calling)")),
        };
        if slot.is_some() {
            return Err(format!("parameter {key:?} is given twice"));
        }
        if value.is_empty() {
            return Err(format!("empty {key} name"));
        }
        let name = if key == "called" {
            parse_called_name(value)
        } else {
            parse_calling_name(value)
        };
        *slot = Some(name.map_err(|e| format!("bad {key} name {value:?}: {e}"))?);
    }
    Ok(())
}

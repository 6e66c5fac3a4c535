//! # rxce-endpoint — endpoint URLs
//!
//! How the `rxce` command line (and any program that wants the same forms)
//! names a place to connect to or to listen on, with one URL per transport
//! of the engine:
//!
//! | form | transport | notes |
//! |---|---|---|
//! | `tcp://HOST:PORT` | `tcp` | a bare byte stream |
//! | `tcp+smb://HOST[:PORT]` | `tcp+smb` | SMB direct-hosted framing; port 445 by default |
//! | `tcp+rpc://HOST[:PORT]` | `tcp+rpc` | ONC RPC record marking (NFS); port 111 (rpcbind) by default |
//! | `tcp+9p://HOST[:PORT]` | `tcp+9p` | 9P framing; port 564 by default |
//! | `quic://HOST[:PORT][?sni=NAME][&ca=FILE][&pin=SHA256][&cert=FILE&key=FILE]` | `quic` | SMB over QUIC; UDP port 443 by default; the query is the connection's certificate options (rxce decision 45) |
//! | `netbt://HOST[:PORT][?called=NAME][&calling=NAME]` | `netbt` | NetBIOS session service; port 139 by default |
//! | `udp://HOST:PORT` | `udp` | datagrams |
//! | `unix:PATH`, `unix:@NAME` | `unix` | a socket file, or (`@`) an abstract socket |
//! | `memory:NAME` | `memory` | the in-process transport |
//!
//! HOST is a DNS name or an IP literal, IPv6 in brackets (`tcp://[::1]:80`).
//! A parsed [`Endpoint`] gives the engine everything it needs: the
//! transport's provider name, the remote address of a connection, the local
//! address to build an address with, and the address a peer listens on.
//!
//! ```
//! use rxce_endpoint::Endpoint;
//!
//! let e: Endpoint = "netbt://fileserver.example?calling=MYPC".parse().unwrap();
//! assert_eq!(e.transport_name(), "netbt");
//! let remote = e.remote_address();
//! assert_eq!(remote.host_name_entry(), Some(("fileserver.example", 139)));
//! // Without `called=`, the called name is the host's first label.
//! assert_eq!(remote.to_string(), "fileserver.example:139 + FILESERVER<20>");
//!
//! let err = "tcp://host".parse::<Endpoint>().unwrap_err();
//! assert_eq!(err.to_string(), r#"bad endpoint "tcp://host": missing port"#);
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use rxce_proto::tdi::{ConnectionInformation, TaAddress, TransportAddress};
use rxce_wire::NetbiosName;

mod parse;
#[cfg(test)]
mod tests;

/// The longest Unix socket path or abstract name, in bytes (`sun_path`
/// holds 108 bytes: a path needs its NUL, an abstract name its leading NUL).
pub const MAX_UNIX_NAME: usize = 107;

/// The UDP port of SMB over QUIC.
pub const QUIC_PORT: u16 = 443;

/// The query keys of a `quic://` URL (the `quic` transport's options).
pub const QUIC_KEYS: [&str; 5] = ["sni", "ca", "pin", "cert", "key"];

/// The kind of an endpoint: which transport provider carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `tcp://`: TCP, a bare byte stream.
    Tcp,
    /// `tcp+smb://`: TCP with SMB direct-hosted framing.
    TcpSmb,
    /// `tcp+rpc://`: TCP with ONC RPC record marking.
    TcpRpc,
    /// `tcp+9p://`: TCP with 9P framing.
    Tcp9p,
    /// `quic://`: SMB over QUIC (direct-hosted framing on a QUIC stream).
    Quic,
    /// `netbt://`: the NetBIOS session service over TCP.
    Netbt,
    /// `udp://`: UDP datagrams.
    Udp,
    /// `unix:`: Unix-domain stream sockets.
    Unix,
    /// `memory:`: the engine's in-process transport.
    Memory,
}

impl Kind {
    /// Every kind, in the order the help lists them.
    pub const ALL: [Kind; 9] = [
        Kind::Tcp,
        Kind::TcpSmb,
        Kind::TcpRpc,
        Kind::Tcp9p,
        Kind::Quic,
        Kind::Netbt,
        Kind::Udp,
        Kind::Unix,
        Kind::Memory,
    ];

    /// The engine's provider name for `rxce::Engine::build_transport`
    /// (also the URL scheme).
    pub const fn transport_name(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::TcpSmb => "tcp+smb",
            Kind::TcpRpc => "tcp+rpc",
            Kind::Tcp9p => "tcp+9p",
            Kind::Quic => "quic",
            Kind::Netbt => "netbt",
            Kind::Udp => "udp",
            Kind::Unix => "unix",
            Kind::Memory => "memory",
        }
    }

    /// True for the transports that frame messages (`tcp+smb`,
    /// `tcp+rpc`, `tcp+9p`, `quic`, `netbt`).
    pub const fn is_framed(self) -> bool {
        self.framing().is_some()
    }

    /// The message framing of the transport (`None` for the others;
    /// `quic` frames as `tcp+smb` on its stream).
    pub const fn framing(self) -> Option<rxce_wire::Framing> {
        match self {
            Kind::TcpSmb | Kind::Quic => Some(rxce_wire::Framing::DirectTcp),
            Kind::TcpRpc => Some(rxce_wire::Framing::RpcRecord),
            Kind::Tcp9p => Some(rxce_wire::Framing::NineP),
            Kind::Netbt => Some(rxce_wire::Framing::NetbiosSession),
            _ => None,
        }
    }

    /// True for the kinds addressed by host and port.
    pub const fn is_inet(self) -> bool {
        matches!(
            self,
            Kind::Tcp | Kind::TcpSmb | Kind::TcpRpc | Kind::Tcp9p | Kind::Quic | Kind::Netbt | Kind::Udp
        )
    }

    /// The well-known port used when the URL gives none (the framed
    /// transports have one: 445, 111, 564, 139).
    pub const fn default_port(self) -> Option<u16> {
        if let Kind::Quic = self {
            return Some(QUIC_PORT);
        }
        match self.framing() {
            Some(framing) => Some(framing.default_port()),
            None => None,
        }
    }

    fn from_scheme(scheme: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.transport_name().eq_ignore_ascii_case(scheme))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.transport_name())
    }
}

/// A host: an IP address or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 or IPv6 literal.
    Ip(IpAddr),
    /// A DNS name, as written.
    Name(String),
}

impl Host {
    /// Parses a server as the command line takes it: an IP literal (IPv6
    /// with or without brackets) or a DNS name. The error names the problem.
    ///
    /// ```
    /// use rxce_endpoint::Host;
    /// assert_eq!(Host::parse("[::1]").unwrap(), Host::Ip("::1".parse().unwrap()));
    /// assert_eq!(Host::parse("::1").unwrap(), Host::Ip("::1".parse().unwrap()));
    /// assert_eq!(Host::parse("Files.example").unwrap(), Host::Name("Files.example".into()));
    /// assert!(Host::parse("no spaces").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Host, String> {
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| format!("missing \"]\" after the IPv6 address in {text:?}"))?;
            return parse::parse_ipv6(inner).map(|ip| Host::Ip(IpAddr::V6(ip)));
        }
        if text.contains(':') {
            return parse::parse_ipv6(text).map(|ip| Host::Ip(IpAddr::V6(ip)));
        }
        parse::parse_host(text)
    }

    /// The NetBIOS name a session request calls when none is given: the
    /// first label of a DNS name, uppercased (at most 15 characters), or
    /// `*SMBSERVER` for an IP address (or a label that is no NetBIOS name).
    ///
    /// ```
    /// use rxce_endpoint::Host;
    /// let name = Host::Name("files.example.com".into()).default_called_name();
    /// assert_eq!(name.to_string(), "FILES<20>");
    /// let ip = Host::Ip("10.0.0.1".parse().unwrap()).default_called_name();
    /// assert_eq!(ip.to_string(), "*SMBSERVER<20>");
    /// ```
    pub fn default_called_name(&self) -> NetbiosName {
        match self {
            Host::Ip(_) => NetbiosName::SMBSERVER,
            Host::Name(name) => {
                let label = name.split('.').next().unwrap_or_default();
                let label: String = label.chars().take(rxce_wire::nbname::MAX_NAME_TEXT_LEN).collect();
                NetbiosName::new(&label, rxce_wire::nbname::SUFFIX_SERVER).unwrap_or(NetbiosName::SMBSERVER)
            }
        }
    }

    /// The host and `port` as a transport address entry: an IP entry for a
    /// literal, a host-name entry (resolved by the engine) for a name.
    pub fn entry(&self, port: u16) -> TaAddress {
        match self {
            Host::Ip(ip) => TaAddress::Ip(SocketAddr::new(*ip, port)),
            Host::Name(name) => TaAddress::HostName {
                name: name.clone(),
                port,
            },
        }
    }

    /// True for an IPv6 literal.
    pub fn is_ipv6(&self) -> bool {
        matches!(self, Host::Ip(IpAddr::V6(_)))
    }
}

impl fmt::Display for Host {
    /// IPv6 literals in brackets, as in a URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

impl FromStr for Host {
    type Err = String;

    /// Same as [`Host::parse`].
    fn from_str(text: &str) -> Result<Host, String> {
        Host::parse(text)
    }
}

/// A Unix-domain socket name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixName {
    /// A socket file.
    Path(String),
    /// An abstract socket (Linux): no file, the name lives in the kernel.
    Abstract(String),
}

impl UnixName {
    /// The bytes of a `TaAddress::Unix` entry: the path, or a NUL and the
    /// abstract name.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            UnixName::Path(path) => path.as_bytes().to_vec(),
            UnixName::Abstract(name) => std::iter::once(0).chain(name.bytes()).collect(),
        }
    }
}

impl fmt::Display for UnixName {
    /// `PATH` or `@NAME`, as after `unix:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixName::Path(path) => f.write_str(path),
            UnixName::Abstract(name) => write!(f, "@{name}"),
        }
    }
}

/// Where an endpoint is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A host and port (`tcp`, `tcp+smb`, `netbt`, `udp`).
    Inet {
        /// The host.
        host: Host,
        /// The port (the kind's default when the URL gave none).
        port: u16,
    },
    /// A Unix-domain socket.
    Unix(UnixName),
    /// A named endpoint of the memory transport.
    Memory(String),
}

/// What a peer listens on (see [`Endpoint::listen_address`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenAddress {
    /// A host (resolved when it is a name) and port; port 0 lets the system
    /// choose.
    Inet {
        /// The host.
        host: Host,
        /// The port.
        port: u16,
    },
    /// A Unix-domain socket.
    Unix(UnixName),
}

/// A parsed endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    kind: Kind,
    target: Target,
    called: Option<NetbiosName>,
    calling: Option<NetbiosName>,
    /// A `quic://` URL's query entries, in order.
    quic: Vec<(String, String)>,
}

/// A malformed endpoint URL: the URL and what is wrong with it, in one line
/// (`bad endpoint "tcp://host": missing port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointError {
    text: String,
    problem: String,
}

impl EndpointError {
    fn new(text: &str, problem: impl Into<String>) -> EndpointError {
        EndpointError {
            text: text.to_owned(),
            problem: problem.into(),
        }
    }

    /// What is wrong, without the URL (`missing port`).
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad endpoint \"{}\": {}", self.text.escape_debug(), self.problem)
    }
}

impl std::error::Error for EndpointError {}

/// Numbers generated local names of the memory transport.
static NEXT_MEMORY_NAME: AtomicU64 = AtomicU64::new(0);

impl Endpoint {
    /// Parses an endpoint URL (see the [module docs](self)).
    pub fn parse(text: &str) -> Result<Endpoint, EndpointError> {
        parse::endpoint(text).map_err(|problem| EndpointError::new(text, problem))
    }

    /// An endpoint of `kind` at `target`, without NetBIOS names.
    pub fn new(kind: Kind, target: Target) -> Endpoint {
        Endpoint {
            kind,
            target,
            called: None,
            calling: None,
            quic: Vec::new(),
        }
    }

    /// The `quic` transport's options of this endpoint (its URL's query as
    /// `key=value` lines; empty for other kinds): what goes in the
    /// connection information's options.
    pub fn quic_options(&self) -> String {
        self.quic
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The same `quic://` endpoint with one more option entry.
    pub fn with_quic_option(mut self, key: &str, value: &str) -> Endpoint {
        self.quic.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The same endpoint (kind and names) at another target: for example
    /// the address a peer actually bound.
    pub fn with_target(&self, target: Target) -> Endpoint {
        Endpoint { target, ..self.clone() }
    }

    /// The endpoint's kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The engine's provider name for this endpoint (`tcp`, `tcp+smb`,
    /// `netbt`, `udp`, `unix`, `memory`).
    pub fn transport_name(&self) -> &'static str {
        self.kind.transport_name()
    }

    /// Where the endpoint is.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The `called=` name as given, if any.
    pub fn explicit_called_name(&self) -> Option<NetbiosName> {
        self.called
    }

    /// The NetBIOS name a `netbt` session request calls: `called=`, else
    /// the host's default (see [`Host::default_called_name`]). `None` for
    /// other kinds.
    pub fn called_name(&self) -> Option<NetbiosName> {
        match (&self.target, self.kind) {
            (Target::Inet { host, .. }, Kind::Netbt) => Some(self.called.unwrap_or_else(|| host.default_called_name())),
            _ => None,
        }
    }

    /// The `calling=` name of a `netbt` endpoint, if given (the engine
    /// sends its configured calling name otherwise).
    pub fn calling_name(&self) -> Option<NetbiosName> {
        self.calling
    }

    /// The remote transport address of a connection to this endpoint: an IP
    /// entry for an IP literal or a host-name entry for a DNS name (the
    /// engine resolves it), plus for `netbt` a NetBIOS entry with the
    /// [called name](Endpoint::called_name); a Unix entry (leading NUL for
    /// an abstract socket); a memory entry.
    pub fn remote_address(&self) -> TransportAddress {
        let mut entries = Vec::with_capacity(2);
        match &self.target {
            Target::Inet { host, port } => entries.push(host.entry(*port)),
            Target::Unix(name) => entries.push(TaAddress::Unix(name.to_bytes())),
            Target::Memory(name) => entries.push(TaAddress::Memory(name.clone())),
        }
        if let Some(called) = self.called_name() {
            entries.push(TaAddress::NetBios {
                name: *called.as_bytes(),
            });
        }
        TransportAddress { entries }
    }

    /// The connection information for
    /// `rxce::Address::build_connection`.
    pub fn remote(&self) -> ConnectionInformation {
        ConnectionInformation {
            options: self.quic_options().into_bytes().into(),
            ..ConnectionInformation::to(self.remote_address())
        }
    }

    /// The local address to build an address with: "any" of the host's
    /// family, port 0 (IPv4 for a DNS name: the engine binds no socket for
    /// an unspecified local address, so any family can be reached), plus the
    /// `calling=` name of a `netbt` endpoint; an empty Unix entry; a fresh
    /// memory name (`rxce-cli-PID-N`) for `memory`.
    pub fn local_address(&self) -> TransportAddress {
        let mut entries = Vec::with_capacity(2);
        match &self.target {
            Target::Inet { host, .. } => {
                let ip = if host.is_ipv6() {
                    IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                } else {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                };
                entries.push(TaAddress::Ip(SocketAddr::new(ip, 0)));
            }
            Target::Unix(_) => entries.push(TaAddress::Unix(Vec::new())),
            Target::Memory(_) => {
                let n = NEXT_MEMORY_NAME.fetch_add(1, Ordering::Relaxed);
                entries.push(TaAddress::Memory(format!("rxce-cli-{}-{n}", std::process::id())));
            }
        }
        if let Some(calling) = self.calling {
            entries.push(TaAddress::NetBios {
                name: *calling.as_bytes(),
            });
        }
        TransportAddress { entries }
    }

    /// What a peer serving this endpoint listens on. A `memory` endpoint
    /// exists only inside one process and has none.
    pub fn listen_address(&self) -> Result<ListenAddress, EndpointError> {
        match &self.target {
            Target::Inet { host, port } => Ok(ListenAddress::Inet {
                host: host.clone(),
                port: *port,
            }),
            Target::Unix(name) => Ok(ListenAddress::Unix(name.clone())),
            Target::Memory(_) => Err(EndpointError::new(
                &self.to_string(),
                "a memory endpoint exists only inside one process: nothing outside it can connect",
            )),
        }
    }
}

impl fmt::Display for Endpoint {
    /// The canonical URL: parsing it gives the same endpoint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Inet { host, port } => write!(f, "{}://{host}:{port}", self.kind)?,
            Target::Unix(name) => write!(f, "unix:{name}")?,
            Target::Memory(name) => write!(f, "memory:{name}")?,
        }
        let mut separator = '?';
        for (key, name) in [("called", self.called), ("calling", self.calling)] {
            if let Some(name) = name {
                write!(f, "{separator}{key}={name}")?;
                separator = '&';
            }
        }
        for (key, value) in &self.quic {
            write!(f, "{separator}{key}={value}")?;
            separator = '&';
        }
        Ok(())
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    /// Same as [`Endpoint::parse`].
    fn from_str(text: &str) -> Result<Endpoint, EndpointError> {
        Endpoint::parse(text)
    }
}

/// A called (server) name: `NAME` (suffix 0x20) or `NAME<XX>`.
pub fn parse_called_name(text: &str) -> Result<NetbiosName, rxce_wire::WireError> {
    NetbiosName::parse(text)
}

/// A calling (client) name: `NAME` (suffix 0x00, a workstation) or
/// `NAME<XX>`.
pub fn parse_calling_name(text: &str) -> Result<NetbiosName, rxce_wire::WireError> {
    if text.ends_with('>') {
        NetbiosName::parse(text)
    } else {
        NetbiosName::new(text, rxce_wire::nbname::SUFFIX_WORKSTATION)
    }
}

//! The TDI structures RxCe speaks in: transport addresses, connection
//! information, provider and endpoint information, and the flag sets of
//! sends, receives and disconnects.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::status::Status;

/// One entry of a TDI `TRANSPORT_ADDRESS` (a `TA_ADDRESS`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaAddress {
    /// An IPv4 or IPv6 address and port (`TDI_ADDRESS_IP` / `TDI_ADDRESS_IP6`).
    Ip(SocketAddr),
    /// A NetBIOS name (`TDI_ADDRESS_NETBIOS`): 16 bytes, the last one the name type.
    NetBios {
        /// The name, space padded to 15 bytes, followed by the type byte.
        name: [u8; 16],
    },
    /// A Unix-domain socket path; a leading NUL byte names an abstract socket.
    Unix(Vec<u8>),
    /// A named endpoint of the in-process `memory` transport.
    Memory(String),
    /// A host name and port, resolved through the system resolver when a
    /// connection is built (IPv6 and IPv4 results interleaved, RFC 8305).
    HostName {
        /// The DNS name (or an IP literal).
        name: String,
        /// The port.
        port: u16,
    },
}

impl fmt::Display for TaAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaAddress::Ip(addr) => write!(f, "{addr}"),
            TaAddress::NetBios { name } => {
                let text = String::from_utf8_lossy(&name[..15]);
                write!(f, "{}<{:02X}>", text.trim_end(), name[15])
            }
            TaAddress::Unix(path) => match path.first() {
                Some(0) => write!(f, "@{}", String::from_utf8_lossy(&path[1..])),
                _ => write!(f, "{}", String::from_utf8_lossy(path)),
            },
            TaAddress::Memory(name) => write!(f, "memory:{name}"),
            TaAddress::HostName { name, port } if name.contains(':') => write!(f, "[{name}]:{port}"),
            TaAddress::HostName { name, port } => write!(f, "{name}:{port}"),
        }
    }
}

fn netbios_entry(name: &str, suffix: u8) -> Result<TaAddress, Status> {
    let name = rxce_wire::NetbiosName::new(name, suffix)
        .map_err(|e| Status::INVALID_PARAMETER.with_message(format!("{name:?} is no NetBIOS name: {e}")))?;
    Ok(TaAddress::NetBios { name: *name.as_bytes() })
}

/// A TDI `TRANSPORT_ADDRESS`: a list of addresses of different types. A
/// transport uses the first entry of each type it understands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TransportAddress {
    /// The entries, in order (`TAAddressCount` of them).
    pub entries: Vec<TaAddress>,
}

impl TransportAddress {
    /// An address with one entry.
    pub fn new(entry: TaAddress) -> TransportAddress {
        TransportAddress { entries: vec![entry] }
    }

    /// An IP address and port.
    pub fn ip(addr: SocketAddr) -> TransportAddress {
        TransportAddress::new(TaAddress::Ip(addr))
    }

    /// A named endpoint of the memory transport.
    pub fn memory(name: impl Into<String>) -> TransportAddress {
        TransportAddress::new(TaAddress::Memory(name.into()))
    }

    /// A NetBIOS name (`TDI_ADDRESS_NETBIOS`): up to 15 characters (letters
    /// are uppercased) and the type suffix, 0x20 for a file server. A
    /// `netbt` VC calls the remote address's NetBIOS name, or
    /// `*SMBSERVER<20>` ([`TransportAddress::smbserver`]) when the address
    /// has none; without an IP entry the name is also resolved with a
    /// NetBIOS name query. A name that is not one is INVALID_PARAMETER.
    ///
    /// ```
    /// use rxce_proto::tdi::TransportAddress;
    ///
    /// let files = TransportAddress::netbios("files", 0x20)?;
    /// assert_eq!(files.to_string(), "FILES<20>");
    /// // Where to connect and whom to call, as a netbt remote address:
    /// let server = TransportAddress::ip("127.0.0.1:139".parse().unwrap()).with_netbios("files", 0x20)?;
    /// assert_eq!(server.to_string(), "127.0.0.1:139 + FILES<20>");
    /// assert!(TransportAddress::netbios("no/slash", 0x20).is_err());
    /// # Ok::<(), rxce_proto::Status>(())
    /// ```
    pub fn netbios(name: &str, suffix: u8) -> Result<TransportAddress, Status> {
        Ok(TransportAddress::new(netbios_entry(name, suffix)?))
    }

    /// `*SMBSERVER<20>`, the generic called name every SMB server answers
    /// to (and what a `netbt` VC calls when its remote address names
    /// nobody).
    pub fn smbserver() -> TransportAddress {
        TransportAddress::new(TaAddress::NetBios {
            name: *rxce_wire::NetbiosName::SMBSERVER.as_bytes(),
        })
    }

    /// This address with a NetBIOS entry added (see
    /// [`TransportAddress::netbios`]).
    pub fn with_netbios(mut self, name: &str, suffix: u8) -> Result<TransportAddress, Status> {
        self.entries.push(netbios_entry(name, suffix)?);
        Ok(self)
    }

    /// The unspecified local IPv4 address, port 0 ("any").
    pub fn any_ipv4() -> TransportAddress {
        TransportAddress::ip(SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The first IP entry, if any.
    pub fn ip_entry(&self) -> Option<SocketAddr> {
        self.entries.iter().find_map(|e| match e {
            TaAddress::Ip(a) => Some(*a),
            _ => None,
        })
    }

    /// The first NetBIOS entry, if any.
    pub fn netbios_entry(&self) -> Option<[u8; 16]> {
        self.entries.iter().find_map(|e| match e {
            TaAddress::NetBios { name } => Some(*name),
            _ => None,
        })
    }

    /// The first Unix-domain entry, if any.
    pub fn unix_entry(&self) -> Option<&[u8]> {
        self.entries.iter().find_map(|e| match e {
            TaAddress::Unix(p) => Some(p.as_slice()),
            _ => None,
        })
    }

    /// The first host-name entry, if any.
    pub fn host_name_entry(&self) -> Option<(&str, u16)> {
        self.entries.iter().find_map(|e| match e {
            TaAddress::HostName { name, port } => Some((name.as_str(), *port)),
            _ => None,
        })
    }

    /// A host name and port to resolve.
    pub fn host_name(name: impl Into<String>, port: u16) -> TransportAddress {
        TransportAddress::new(TaAddress::HostName {
            name: name.into(),
            port,
        })
    }

    /// The first memory entry, if any.
    pub fn memory_entry(&self) -> Option<&str> {
        self.entries.iter().find_map(|e| match e {
            TaAddress::Memory(n) => Some(n.as_str()),
            _ => None,
        })
    }
}

impl fmt::Display for TransportAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(" + ")?;
            }
            write!(f, "{entry}")?;
        }
        Ok(())
    }
}

impl From<SocketAddr> for TransportAddress {
    fn from(addr: SocketAddr) -> TransportAddress {
        TransportAddress::ip(addr)
    }
}

/// `RXCE_CONNECTION_INFORMATION` (a `TDI_CONNECTION_INFORMATION`): the remote
/// address of a connection, with optional user data and options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionInformation {
    /// Data exchanged at connect time (transports here carry none).
    pub user_data: Bytes,
    /// Transport-specific options.
    pub options: Bytes,
    /// The remote transport address.
    pub remote_address: TransportAddress,
}

impl ConnectionInformation {
    /// Connection information naming just a remote address.
    pub fn to(remote_address: impl Into<TransportAddress>) -> ConnectionInformation {
        ConnectionInformation {
            remote_address: remote_address.into(),
            ..ConnectionInformation::default()
        }
    }
}

/// `TDI_SERVICE_*` flags of [`ProviderInfo::service_flags`] (values of tdi.h).
pub mod service_flags {
    /// Connection-mode (virtual circuit) service.
    pub const CONNECTION_MODE: u32 = 0x0000_0001;
    /// Orderly release (graceful close) is supported.
    pub const ORDERLY_RELEASE: u32 = 0x0000_0002;
    /// Connectionless (datagram) service.
    pub const CONNECTIONLESS_MODE: u32 = 0x0000_0004;
    /// Delivery is reliable, in order and without duplicates.
    pub const ERROR_FREE_DELIVERY: u32 = 0x0000_0008;
    /// Datagrams may be broadcast.
    pub const BROADCAST_SUPPORTED: u32 = 0x0000_0020;
    /// Messages are delimited (whole-message indications).
    pub const MESSAGE_MODE: u32 = 0x0000_0040;
    /// Expedited data is supported.
    pub const EXPEDITED_DATA: u32 = 0x0000_0080;
    /// The transport buffers sends and receives internally.
    pub const INTERNAL_BUFFERING: u32 = 0x0000_0100;
    /// Datagrams may be sent to multicast groups.
    pub const MULTICAST_SUPPORTED: u32 = 0x0000_2000;
}

/// `TDI_PROVIDER_INFO`: what a transport provider can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// TDI version: 0x0200.
    pub version: u32,
    /// Largest single send, in bytes (0 = no limit).
    pub max_send_size: u32,
    /// Largest connect user data, in bytes.
    pub max_connection_user_data: u32,
    /// Largest datagram, in bytes (0 for connection-only transports).
    pub max_datagram_size: u32,
    /// `TDI_SERVICE_*` flags, see [`service_flags`].
    pub service_flags: u32,
    /// Smallest lookahead a receive indication carries (unless less data exists).
    pub minimum_lookahead_data: u32,
    /// Largest lookahead a receive indication carries.
    pub maximum_lookahead_data: u32,
    /// Number of resources (not tracked: 0).
    pub number_of_resources: u32,
    /// When the provider was bound.
    pub start_time: SystemTime,
}

impl ProviderInfo {
    /// A reliable connection-mode provider (TCP-like: orderly release,
    /// error-free delivery, internal buffering). With `message_limit`, it
    /// frames messages (MESSAGE_MODE) of at most that many bytes.
    pub fn connection_mode(message_limit: Option<u32>) -> ProviderInfo {
        let mut service_flags = service_flags::CONNECTION_MODE
            | service_flags::ORDERLY_RELEASE
            | service_flags::ERROR_FREE_DELIVERY
            | service_flags::INTERNAL_BUFFERING;
        if message_limit.is_some() {
            service_flags |= service_flags::MESSAGE_MODE;
        }
        ProviderInfo {
            version: 0x0200,
            max_send_size: message_limit.unwrap_or(0),
            max_connection_user_data: 0,
            max_datagram_size: 0,
            service_flags,
            minimum_lookahead_data: 128,
            maximum_lookahead_data: 0,
            number_of_resources: 0,
            start_time: SystemTime::UNIX_EPOCH,
        }
    }

    /// A datagram provider of datagrams up to `max_datagram` bytes.
    pub fn datagram(max_datagram: u32) -> ProviderInfo {
        ProviderInfo {
            version: 0x0200,
            max_send_size: max_datagram,
            max_connection_user_data: 0,
            max_datagram_size: max_datagram,
            service_flags: service_flags::CONNECTIONLESS_MODE
                | service_flags::BROADCAST_SUPPORTED
                | service_flags::MESSAGE_MODE,
            minimum_lookahead_data: 128,
            maximum_lookahead_data: max_datagram,
            number_of_resources: 0,
            start_time: SystemTime::UNIX_EPOCH,
        }
    }
}

/// `RXCE_TRANSPORT_INFORMATION`: what RxCeQueryTransportInformation returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportInformation {
    /// Connections currently built over the transport.
    pub connection_count: u32,
    /// The quality of service given at build time.
    pub quality_of_service: u32,
}

/// `TDI_CONNECTION_INFO`: live state and counters of one VC's endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionEndpointInfo {
    /// The VC state (rxce's `VcState` as a number).
    pub state: u32,
    /// The last TDI event indicated (`TDI_EVENT_*`).
    pub event: u32,
    /// Sends completed successfully.
    pub transmitted_tsdus: u32,
    /// Indications of received data (messages in message mode).
    pub received_tsdus: u32,
    /// Sends that failed.
    pub transmission_errors: u32,
    /// Receive failures (protocol errors, resets).
    pub receive_errors: u32,
    /// Bytes per second, when known (0 otherwise).
    pub throughput: i64,
    /// The round-trip delay as a negative 100 ns count (TDI convention), from
    /// the kernel's TCP RTT where available; 0 when unknown.
    pub delay: i64,
    /// The kernel's send buffer size (0 when not buffered).
    pub send_buffer_size: u32,
    /// The kernel's receive buffer size (0 when not buffered).
    pub receive_buffer_size: u32,
    /// True for unreliable (datagram) transports.
    pub unreliable: bool,
}

/// `TDI_ADDRESS_INFO`: an address and how many clients hold it open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressInfo {
    /// Clients with the address open.
    pub activity_count: u32,
    /// The address.
    pub address: TransportAddress,
}

/// The classes of RxCeQueryInformation, with the answer of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum InformationClass {
    /// The transport's provider information ([`ProviderInfo`]).
    TransportProvider = 1,
    /// The connection information (remote address) ([`ConnectionInformation`]).
    Connection = 2,
    /// The VC's endpoint counters ([`ConnectionEndpointInfo`]).
    ConnectionEndpoint = 3,
    /// The remote address ([`AddressInfo`]).
    RemoteAddress = 4,
}

/// The answer to a VC's `query_information` (RxCeQueryInformation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Information {
    /// For [`InformationClass::TransportProvider`].
    TransportProvider(ProviderInfo),
    /// For [`InformationClass::Connection`].
    Connection(ConnectionInformation),
    /// For [`InformationClass::ConnectionEndpoint`].
    ConnectionEndpoint(ConnectionEndpointInfo),
    /// For [`InformationClass::RemoteAddress`].
    RemoteAddress(AddressInfo),
}

bitflags::bitflags! {
    /// `RXCE_SEND_*` options of a send.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SendOptions: u32 {
        /// Queue ahead of normal sends.
        const EXPEDITED = 0x0000_0020;
        /// A hint: the peer will not answer this data.
        const NO_RESPONSE_EXPECTED = 0x0000_0080;
        /// Never wait for queue space: DEVICE_NOT_READY (or a partial send with PARTIAL) instead.
        const NON_BLOCKING = 0x0000_0100;
        /// Wait for completion and return its status (the C ABI's mode; async Rust always waits).
        const SYNCHRONOUS = 0x1000_0000;
        /// Part of the buffer may be sent.
        const PARTIAL = 0x2000_0000;
    }
}

bitflags::bitflags! {
    /// `TDI_RECEIVE_*` flags of a receive indication.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ReceiveFlags: u32 {
        /// A broadcast datagram.
        const BROADCAST = 0x0000_0004;
        /// A multicast datagram.
        const MULTICAST = 0x0000_0008;
        /// Legacy: more of the TSDU follows.
        const PARTIAL = 0x0000_0010;
        /// Normal data.
        const NORMAL = 0x0000_0020;
        /// Expedited data.
        const EXPEDITED = 0x0000_0040;
        /// The lookahead must be copied before returning.
        const COPY_LOOKAHEAD = 0x0000_0200;
        /// The whole TSDU is present in this indication.
        const ENTIRE_MESSAGE = 0x0000_0400;
        /// Rejected data indicated again.
        const FORCE_INDICATION = 0x0000_2000;
    }
}

bitflags::bitflags! {
    /// `TDI_DISCONNECT_*` flags of a disconnect indication.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct DisconnectFlags: u32 {
        /// Unused by TDI.
        const WAIT = 0x0000_0001;
        /// The connection closed at once (reset, local abort, timeout).
        const ABORT = 0x0000_0002;
        /// The peer closed in an orderly way.
        const RELEASE = 0x0000_0004;
    }
}

/// Converts a duration to TDI's negative 100-nanosecond units.
pub fn tdi_delay(d: Duration) -> i64 {
    -i64::try_from(d.as_nanos() / 100).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_option_bits_match_rxce_h() {
        assert_eq!(SendOptions::EXPEDITED.bits(), 0x20);
        assert_eq!(SendOptions::NO_RESPONSE_EXPECTED.bits(), 0x80);
        assert_eq!(SendOptions::NON_BLOCKING.bits(), 0x100);
        assert_eq!(SendOptions::SYNCHRONOUS.bits(), 0x1000_0000);
        assert_eq!(SendOptions::PARTIAL.bits(), 0x2000_0000);
        let both = SendOptions::NON_BLOCKING | SendOptions::PARTIAL;
        assert!(both.contains(SendOptions::PARTIAL));
        assert!(!both.contains(SendOptions::EXPEDITED));
        assert_eq!(format!("{both:?}"), "SendOptions(NON_BLOCKING | PARTIAL)");
        assert_eq!(
            format!("{:?}", SendOptions::from_bits_retain(0x20 | 0x4)),
            "SendOptions(EXPEDITED | 0x4)"
        );
    }

    #[test]
    fn receive_and_disconnect_bits_match_tdi_h() {
        assert_eq!(ReceiveFlags::NORMAL.bits(), 0x20);
        assert_eq!(ReceiveFlags::ENTIRE_MESSAGE.bits(), 0x400);
        assert_eq!(ReceiveFlags::EXPEDITED.bits(), 0x40);
        assert_eq!(DisconnectFlags::ABORT.bits(), 0x2);
        assert_eq!(DisconnectFlags::RELEASE.bits(), 0x4);
    }

    #[test]
    fn addresses_print_readably() {
        let mut name = [b' '; 16];
        name[..4].copy_from_slice(b"FRED");
        name[15] = 0x20;
        let addr = TransportAddress {
            entries: vec![
                TaAddress::Ip("127.0.0.1:139".parse().unwrap()),
                TaAddress::NetBios { name },
            ],
        };
        assert_eq!(addr.to_string(), "127.0.0.1:139 + FRED<20>");
        assert_eq!(addr.netbios_entry(), Some(name));
        assert_eq!(
            TransportAddress::new(TaAddress::Unix(b"\0abstract".to_vec())).to_string(),
            "@abstract"
        );
        assert_eq!(tdi_delay(Duration::from_micros(50)), -500);
    }
}

//! The TDI structures and constants RxCe speaks in: transport addresses,
//! connection and provider information, and the flag sets of sends,
//! receives and disconnects.

use super::base::{BOOLEAN, LARGE_INTEGER, LONG, PVOID, UCHAR, ULONG, USHORT};

/// One address of a TRANSPORT_ADDRESS: `AddressLength` bytes of
/// `AddressType` follow the two counts. Entries are packed one after the
/// other (the next starts right after this one's last byte), so read them
/// unaligned.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _TA_ADDRESS {
    /// Bytes in `Address`.
    pub AddressLength: USHORT,
    /// A `TDI_ADDRESS_TYPE_*` value.
    pub AddressType: USHORT,
    /// The first byte of the address (`AddressLength` bytes in all).
    pub Address: [UCHAR; 1],
}
/// One address of a TRANSPORT_ADDRESS.
pub type TA_ADDRESS = _TA_ADDRESS;
/// A pointer to a TA_ADDRESS.
pub type PTA_ADDRESS = *mut TA_ADDRESS;

/// A list of addresses of different types: `TAAddressCount` packed
/// TA_ADDRESS entries. A transport uses the first entry of each type it
/// understands and skips types it does not know.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _TRANSPORT_ADDRESS {
    /// How many entries follow.
    pub TAAddressCount: LONG,
    /// The first entry.
    pub Address: [_TA_ADDRESS; 1],
}
/// A list of addresses of different types.
pub type TRANSPORT_ADDRESS = _TRANSPORT_ADDRESS;
/// A pointer to a TRANSPORT_ADDRESS.
pub type PTRANSPORT_ADDRESS = *mut TRANSPORT_ADDRESS;

/// An IPv4 address and port (a `sockaddr_in` without its family). Both in
/// network byte order, as in `sockaddr_in`.
#[repr(C, packed)]
#[derive(Debug, Clone, Copy)]
pub struct _TDI_ADDRESS_IP {
    /// The port, in network byte order.
    pub sin_port: USHORT,
    /// The IPv4 address, in network byte order.
    pub in_addr: ULONG,
    /// Zero.
    pub sin_zero: [UCHAR; 8],
}
/// An IPv4 address and port.
pub type TDI_ADDRESS_IP = _TDI_ADDRESS_IP;
/// A pointer to a TDI_ADDRESS_IP.
pub type PTDI_ADDRESS_IP = *mut TDI_ADDRESS_IP;

/// An IPv6 address and port (a `sockaddr_in6` without its family), with the
/// byte orders of `sockaddr_in6`.
#[repr(C, packed)]
#[derive(Debug, Clone, Copy)]
pub struct _TDI_ADDRESS_IP6 {
    /// The port, in network byte order.
    pub sin6_port: USHORT,
    /// The flow information, in network byte order.
    pub sin6_flowinfo: ULONG,
    /// The address: 16 bytes in network order.
    pub sin6_addr: [USHORT; 8],
    /// The scope (interface) id, in host byte order.
    pub sin6_scope_id: ULONG,
}
/// An IPv6 address and port.
pub type TDI_ADDRESS_IP6 = _TDI_ADDRESS_IP6;
/// A pointer to a TDI_ADDRESS_IP6.
pub type PTDI_ADDRESS_IP6 = *mut TDI_ADDRESS_IP6;

/// A NetBIOS name.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _TDI_ADDRESS_NETBIOS {
    /// A `TDI_ADDRESS_NETBIOS_TYPE_*` value.
    pub NetbiosNameType: USHORT,
    /// 15 characters, space padded, then the name type (suffix) byte.
    pub NetbiosName: [UCHAR; 16],
}
/// A NetBIOS name.
pub type TDI_ADDRESS_NETBIOS = _TDI_ADDRESS_NETBIOS;
/// A pointer to a TDI_ADDRESS_NETBIOS.
pub type PTDI_ADDRESS_NETBIOS = *mut TDI_ADDRESS_NETBIOS;

/// The one entry of a TA_IP_ADDRESS.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _AddrIp {
    /// TDI_ADDRESS_LENGTH_IP.
    pub AddressLength: USHORT,
    /// TDI_ADDRESS_TYPE_IP.
    pub AddressType: USHORT,
    /// The address.
    pub Address: [TDI_ADDRESS_IP; 1],
}

/// A TRANSPORT_ADDRESS with exactly one IPv4 entry (RxCeInitIpAddress
/// fills one).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _TA_ADDRESS_IP {
    /// 1.
    pub TAAddressCount: LONG,
    /// The entry.
    pub Address: [_AddrIp; 1],
}
/// A TRANSPORT_ADDRESS with exactly one IPv4 entry.
pub type TA_IP_ADDRESS = _TA_ADDRESS_IP;
/// A pointer to a TA_IP_ADDRESS.
pub type PTA_IP_ADDRESS = *mut TA_IP_ADDRESS;

/// The one entry of a TA_IP6_ADDRESS.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _AddrIp6 {
    /// TDI_ADDRESS_LENGTH_IP6.
    pub AddressLength: USHORT,
    /// TDI_ADDRESS_TYPE_IP6.
    pub AddressType: USHORT,
    /// The address.
    pub Address: [TDI_ADDRESS_IP6; 1],
}

/// A TRANSPORT_ADDRESS with exactly one IPv6 entry (RxCeInitIp6Address
/// fills one).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _TA_ADDRESS_IP6 {
    /// 1.
    pub TAAddressCount: LONG,
    /// The entry.
    pub Address: [_AddrIp6; 1],
}
/// A TRANSPORT_ADDRESS with exactly one IPv6 entry.
pub type TA_IP6_ADDRESS = _TA_ADDRESS_IP6;
/// A pointer to a TA_IP6_ADDRESS.
pub type PTA_IP6_ADDRESS = *mut TA_IP6_ADDRESS;

/// The one entry of a TA_NETBIOS_ADDRESS.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _Addr {
    /// TDI_ADDRESS_LENGTH_NETBIOS.
    pub AddressLength: USHORT,
    /// TDI_ADDRESS_TYPE_NETBIOS.
    pub AddressType: USHORT,
    /// The name.
    pub Address: [TDI_ADDRESS_NETBIOS; 1],
}

/// A TRANSPORT_ADDRESS with exactly one NetBIOS entry
/// (RxCeInitNetbiosAddress fills one).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _TA_NETBIOS_ADDRESS {
    /// 1.
    pub TAAddressCount: LONG,
    /// The entry.
    pub Address: [_Addr; 1],
}
/// A TRANSPORT_ADDRESS with exactly one NetBIOS entry.
pub type TA_NETBIOS_ADDRESS = _TA_NETBIOS_ADDRESS;
/// A pointer to a TA_NETBIOS_ADDRESS.
pub type PTA_NETBIOS_ADDRESS = *mut TA_NETBIOS_ADDRESS;

/// The remote side of a connection or datagram. Lengths are in bytes; a
/// pointer may be NULL only when its length is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _TDI_CONNECTION_INFORMATION {
    /// Bytes at `UserData`.
    pub UserDataLength: LONG,
    /// Data exchanged at connect or disconnect time.
    pub UserData: PVOID,
    /// Bytes at `Options`.
    pub OptionsLength: LONG,
    /// Transport-specific options (`quic`: the certificate options text,
    /// see "SMB over QUIC" at the top of this header).
    pub Options: PVOID,
    /// Bytes at `RemoteAddress`: every entry must lie within them.
    pub RemoteAddressLength: LONG,
    /// A TRANSPORT_ADDRESS.
    pub RemoteAddress: PVOID,
}
/// The remote side of a connection or datagram.
pub type TDI_CONNECTION_INFORMATION = _TDI_CONNECTION_INFORMATION;
/// A pointer to a TDI_CONNECTION_INFORMATION.
pub type PTDI_CONNECTION_INFORMATION = *mut TDI_CONNECTION_INFORMATION;

/// Live state and counters of a VC's endpoint.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct _TDI_CONNECTION_INFO {
    /// The VC state: an `RXCE_VC_*` state value.
    pub State: ULONG,
    /// The last event indicated: a `TDI_EVENT_*` value.
    pub Event: ULONG,
    /// Sends completed.
    pub TransmittedTsdus: ULONG,
    /// Receive indications (messages on framed transports).
    pub ReceivedTsdus: ULONG,
    /// Sends that failed.
    pub TransmissionErrors: ULONG,
    /// Receive failures.
    pub ReceiveErrors: ULONG,
    /// Bytes per second, 0 when unknown.
    pub Throughput: LARGE_INTEGER,
    /// Round-trip delay in negative 100-nanosecond units, 0 when unknown.
    pub Delay: LARGE_INTEGER,
    /// The send buffer size in bytes (0 when not buffered).
    pub SendBufferSize: ULONG,
    /// The receive buffer size in bytes (0 when not buffered).
    pub ReceiveBufferSize: ULONG,
    /// TRUE for datagram transports.
    pub Unreliable: BOOLEAN,
}
/// Live state and counters of a VC's endpoint.
pub type TDI_CONNECTION_INFO = _TDI_CONNECTION_INFO;
/// A pointer to a TDI_CONNECTION_INFO.
pub type PTDI_CONNECTION_INFO = *mut TDI_CONNECTION_INFO;

/// What a transport provider can do.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct _TDI_PROVIDER_INFO {
    /// TDI version, low byte minor: 0x0200.
    pub Version: ULONG,
    /// Largest single send in bytes (0: no limit).
    pub MaxSendSize: ULONG,
    /// Largest connect user data in bytes.
    pub MaxConnectionUserData: ULONG,
    /// Largest datagram in bytes (0 for connection-only transports).
    pub MaxDatagramSize: ULONG,
    /// `TDI_SERVICE_*` flags.
    pub ServiceFlags: ULONG,
    /// Smallest lookahead a receive indication carries (unless less data exists).
    pub MinimumLookaheadData: ULONG,
    /// Largest lookahead a receive indication carries.
    pub MaximumLookaheadData: ULONG,
    /// Number of resources (not tracked: 0).
    pub NumberOfResources: ULONG,
    /// When the transport was bound, in 100-nanosecond units since 1601-01-01 UTC.
    pub StartTime: LARGE_INTEGER,
}
/// What a transport provider can do.
pub type TDI_PROVIDER_INFO = _TDI_PROVIDER_INFO;
/// A pointer to a TDI_PROVIDER_INFO.
pub type PTDI_PROVIDER_INFO = *mut TDI_PROVIDER_INFO;

/// An address and how many clients hold it: `ActivityCount`, then a whole
/// TRANSPORT_ADDRESS (which may be longer than this structure).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _TDI_ADDRESS_INFO {
    /// Clients with the address open (for a VC's remote address: the VCs of
    /// its connection).
    pub ActivityCount: ULONG,
    /// The address.
    pub Address: _TRANSPORT_ADDRESS,
}
/// An address and how many clients hold it.
pub type TDI_ADDRESS_INFO = _TDI_ADDRESS_INFO;
/// A pointer to a TDI_ADDRESS_INFO.
pub type PTDI_ADDRESS_INFO = *mut TDI_ADDRESS_INFO;

/// The status of a NetBIOS adapter (nb30's structure), as
/// RxCeQueryAdapterStatus fills it. Name entries would follow it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _ADAPTER_STATUS {
    /// The adapter's hardware address.
    pub adapter_address: [UCHAR; 6],
    /// Major revision.
    pub rev_major: UCHAR,
    /// Reserved: zero.
    pub reserved0: UCHAR,
    /// 0xFF token ring, 0xFE Ethernet.
    pub adapter_type: UCHAR,
    /// Minor revision.
    pub rev_minor: UCHAR,
    /// Minutes since the last reset.
    pub duration: USHORT,
    /// FRMR frames received.
    pub frmr_recv: USHORT,
    /// FRMR frames sent.
    pub frmr_xmit: USHORT,
    /// I-frames received in error.
    pub iframe_recv_err: USHORT,
    /// Aborted transmissions.
    pub xmit_aborts: USHORT,
    /// Successful transmissions.
    pub xmit_success: ULONG,
    /// Successful receptions.
    pub recv_success: ULONG,
    /// I-frames sent in error.
    pub iframe_xmit_err: USHORT,
    /// Times a receive buffer was not available.
    pub recv_buff_unavail: USHORT,
    /// T1 timer expirations.
    pub t1_timeouts: USHORT,
    /// Ti timer expirations.
    pub ti_timeouts: USHORT,
    /// Reserved: zero.
    pub reserved1: ULONG,
    /// Free network control blocks.
    pub free_ncbs: USHORT,
    /// Configured maximum of NCBs.
    pub max_cfg_ncbs: USHORT,
    /// Maximum of NCBs.
    pub max_ncbs: USHORT,
    /// Times a transmit buffer was not available.
    pub xmit_buf_unavail: USHORT,
    /// Largest datagram (at least 512).
    pub max_dgram_size: USHORT,
    /// Pending sessions.
    pub pending_sess: USHORT,
    /// Configured maximum of sessions.
    pub max_cfg_sess: USHORT,
    /// Maximum of sessions.
    pub max_sess: USHORT,
    /// Largest session packet.
    pub max_sess_pkt_size: USHORT,
    /// Names in the local name table (entries that would follow).
    pub name_count: USHORT,
}
/// The status of a NetBIOS adapter.
pub type ADAPTER_STATUS = _ADAPTER_STATUS;
/// A pointer to an ADAPTER_STATUS.
pub type PADAPTER_STATUS = *mut ADAPTER_STATUS;

/// Unspecified address type.
pub const TDI_ADDRESS_TYPE_UNSPEC: USHORT = 0;
/// A Unix-domain socket path: the path's bytes, no terminator; a leading
/// NUL byte names an abstract socket (Linux only). Empty for a client's
/// local address.
pub const TDI_ADDRESS_TYPE_UNIX: USHORT = 1;
/// TDI_ADDRESS_IP.
pub const TDI_ADDRESS_TYPE_IP: USHORT = 2;
/// IPX.
pub const TDI_ADDRESS_TYPE_IPX: USHORT = 6;
/// AppleTalk.
pub const TDI_ADDRESS_TYPE_APPLETALK: USHORT = 16;
/// TDI_ADDRESS_NETBIOS.
pub const TDI_ADDRESS_TYPE_NETBIOS: USHORT = 17;
/// IEEE 802.2.
pub const TDI_ADDRESS_TYPE_8022: USHORT = 18;
/// OSI TSAP.
pub const TDI_ADDRESS_TYPE_OSI_TSAP: USHORT = 19;
/// NetOne.
pub const TDI_ADDRESS_TYPE_NETONE: USHORT = 20;
/// TDI_ADDRESS_IP6.
pub const TDI_ADDRESS_TYPE_IP6: USHORT = 23;
/// rxce's own: a named endpoint of the in-process `memory` transport; the
/// address is the name's UTF-8 bytes.
pub const RXCE_ADDRESS_TYPE_MEMORY: USHORT = 0xF001;
/// rxce's own: a host name to resolve when a connection is built (DNS, or
/// an IP literal); the address is the port (USHORT, network byte order)
/// and then the name's UTF-8 bytes.
pub const RXCE_ADDRESS_TYPE_HOST_NAME: USHORT = 0xF002;

/// Bytes of a TDI_ADDRESS_IP.
pub const TDI_ADDRESS_LENGTH_IP: USHORT = 14;
/// Bytes of a TDI_ADDRESS_IP6.
pub const TDI_ADDRESS_LENGTH_IP6: USHORT = 26;
/// Bytes of an IPX address.
pub const TDI_ADDRESS_LENGTH_IPX: USHORT = 12;
/// Bytes of an AppleTalk address.
pub const TDI_ADDRESS_LENGTH_APPLETALK: USHORT = 4;
/// Bytes of a TDI_ADDRESS_NETBIOS.
pub const TDI_ADDRESS_LENGTH_NETBIOS: USHORT = 18;
/// Bytes of an 802.2 address.
pub const TDI_ADDRESS_LENGTH_8022: USHORT = 6;
/// Bytes of a NetOne address.
pub const TDI_ADDRESS_LENGTH_NETONE: USHORT = 22;

/// A unique NetBIOS name.
pub const TDI_ADDRESS_NETBIOS_TYPE_UNIQUE: USHORT = 0;
/// A group NetBIOS name.
pub const TDI_ADDRESS_NETBIOS_TYPE_GROUP: USHORT = 1;
/// A unique name, registered without a check.
pub const TDI_ADDRESS_NETBIOS_TYPE_QUICK_UNIQUE: USHORT = 2;
/// A group name, registered without a check.
pub const TDI_ADDRESS_NETBIOS_TYPE_QUICK_GROUP: USHORT = 3;

/// Send: queue ahead of normal sends.
pub const TDI_SEND_EXPEDITED: ULONG = 0x0020;
/// Send: part of the buffer may be sent.
pub const TDI_SEND_PARTIAL: ULONG = 0x0040;
/// Send: a hint that the peer will not answer.
pub const TDI_SEND_NO_RESPONSE_EXPECTED: ULONG = 0x0080;
/// Send: do not wait for buffer space.
pub const TDI_SEND_NON_BLOCKING: ULONG = 0x0100;
/// Send: disconnect after the data.
pub const TDI_SEND_AND_DISCONNECT: ULONG = 0x0200;

/// Receive: a broadcast datagram.
pub const TDI_RECEIVE_BROADCAST: ULONG = 0x0004;
/// Receive: a multicast datagram.
pub const TDI_RECEIVE_MULTICAST: ULONG = 0x0008;
/// Receive (legacy): more of the TSDU follows.
pub const TDI_RECEIVE_PARTIAL: ULONG = 0x0010;
/// Receive: normal data.
pub const TDI_RECEIVE_NORMAL: ULONG = 0x0020;
/// Receive: expedited data.
pub const TDI_RECEIVE_EXPEDITED: ULONG = 0x0040;
/// Receive: peek.
pub const TDI_RECEIVE_PEEK: ULONG = 0x0080;
/// Receive: a hint that no response is expected.
pub const TDI_RECEIVE_NO_RESPONSE_EXP: ULONG = 0x0100;
/// Receive: copy the lookahead before returning.
pub const TDI_RECEIVE_COPY_LOOKAHEAD: ULONG = 0x0200;
/// Receive: the whole TSDU is in this indication.
pub const TDI_RECEIVE_ENTIRE_MESSAGE: ULONG = 0x0400;
/// Receive: the handler runs at dispatch level (never in rxce).
pub const TDI_RECEIVE_AT_DISPATCH_LEVEL: ULONG = 0x0800;
/// Receive: control information.
pub const TDI_RECEIVE_CONTROL_INFO: ULONG = 0x1000;
/// Receive: data not accepted before, indicated again.
pub const TDI_RECEIVE_FORCE_INDICATION: ULONG = 0x2000;
/// Receive: no push.
pub const TDI_RECEIVE_NO_PUSH: ULONG = 0x4000;

/// Disconnect: wait (unused).
pub const TDI_DISCONNECT_WAIT: ULONG = 0x0001;
/// Disconnect: the connection closed at once (a reset, an abort, a timeout).
pub const TDI_DISCONNECT_ABORT: ULONG = 0x0002;
/// Disconnect: an orderly close.
pub const TDI_DISCONNECT_RELEASE: ULONG = 0x0004;

/// Event: connect.
pub const TDI_EVENT_CONNECT: ULONG = 0;
/// Event: disconnect.
pub const TDI_EVENT_DISCONNECT: ULONG = 1;
/// Event: error.
pub const TDI_EVENT_ERROR: ULONG = 2;
/// Event: receive.
pub const TDI_EVENT_RECEIVE: ULONG = 3;
/// Event: receive datagram.
pub const TDI_EVENT_RECEIVE_DATAGRAM: ULONG = 4;
/// Event: receive expedited.
pub const TDI_EVENT_RECEIVE_EXPEDITED: ULONG = 5;
/// Event: send possible.
pub const TDI_EVENT_SEND_POSSIBLE: ULONG = 6;

/// Service: connection-mode (virtual circuit) service.
pub const TDI_SERVICE_CONNECTION_MODE: ULONG = 0x0000_0001;
/// Service: orderly release.
pub const TDI_SERVICE_ORDERLY_RELEASE: ULONG = 0x0000_0002;
/// Service: connectionless (datagram) service.
pub const TDI_SERVICE_CONNECTIONLESS_MODE: ULONG = 0x0000_0004;
/// Service: reliable, ordered delivery.
pub const TDI_SERVICE_ERROR_FREE_DELIVERY: ULONG = 0x0000_0008;
/// Service: broadcast datagrams.
pub const TDI_SERVICE_BROADCAST_SUPPORTED: ULONG = 0x0000_0020;
/// Service: delimited messages.
pub const TDI_SERVICE_MESSAGE_MODE: ULONG = 0x0000_0040;
/// Service: expedited data.
pub const TDI_SERVICE_EXPEDITED_DATA: ULONG = 0x0000_0080;
/// Service: the transport buffers internally.
pub const TDI_SERVICE_INTERNAL_BUFFERING: ULONG = 0x0000_0100;
/// Service: multicast datagrams.
pub const TDI_SERVICE_MULTICAST_SUPPORTED: ULONG = 0x0000_2000;

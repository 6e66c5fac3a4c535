//! The RxCe objects, dispatch vectors, enumerations and option bits.
//!
//! The four objects (transport, address, connection, VC) live in memory the
//! caller owns; the Build routines initialise it, the TearDown routines
//! uninitialise it. Zeroed memory is an object that was never built. The
//! caller must keep a built object's memory valid (and must not move it)
//! until it is torn down, directly or through a parent's tear-down.

use std::ffi::c_int;

use super::base::{_MDL, _UNICODE_STRING, LONG, NTSTATUS, PULONG, PVOID, ULONG};
use super::tdi::{
    _TDI_CONNECTION_INFORMATION, _TDI_PROVIDER_INFO, _TRANSPORT_ADDRESS, TDI_CONNECTION_INFO,
    TDI_CONNECTION_INFORMATION, TDI_PROVIDER_INFO,
};

/// The remote side of a connection (a TDI_CONNECTION_INFORMATION).
pub type RXCE_CONNECTION_INFORMATION = TDI_CONNECTION_INFORMATION;
/// A pointer to an RXCE_CONNECTION_INFORMATION.
pub type PRXCE_CONNECTION_INFORMATION = *mut RXCE_CONNECTION_INFORMATION;
/// A transport's provider information (a TDI_PROVIDER_INFO).
pub type RXCE_TRANSPORT_PROVIDER_INFO = TDI_PROVIDER_INFO;
/// A pointer to an RXCE_TRANSPORT_PROVIDER_INFO.
pub type PRXCE_TRANSPORT_PROVIDER_INFO = *mut RXCE_TRANSPORT_PROVIDER_INFO;
/// A VC's endpoint information (a TDI_CONNECTION_INFO).
pub type RXCE_CONNECTION_INFO = TDI_CONNECTION_INFO;
/// A pointer to an RXCE_CONNECTION_INFO.
pub type PRXCE_CONNECTION_INFO = *mut RXCE_CONNECTION_INFO;

/// `Signature` of a built RXCE_TRANSPORT ("RxTr" in memory).
pub const RXCE_TRANSPORT_SIGNATURE: ULONG = 0x7254_7852;
/// `Signature` of a built RXCE_ADDRESS ("RxAd" in memory).
pub const RXCE_ADDRESS_SIGNATURE: ULONG = 0x6441_7852;
/// `Signature` of a built RXCE_CONNECTION ("RxCn" in memory).
pub const RXCE_CONNECTION_SIGNATURE: ULONG = 0x6E43_7852;
/// `Signature` of a built RXCE_VC ("RxVc" in memory).
pub const RXCE_VC_SIGNATURE: ULONG = 0x6356_7852;

/// VC state: connected; sends and receives flow (the state after a build).
pub const RXCE_VC_ACTIVE: LONG = 1;
/// VC state: a graceful disconnect was initiated.
pub const RXCE_VC_DISCONNECTING: LONG = 2;
/// VC state: the peer ended its direction; sends still go out.
pub const RXCE_VC_PEER_RELEASED: LONG = 3;
/// VC state: both directions are over, or the VC failed.
pub const RXCE_VC_DISCONNECTED: LONG = 4;
/// VC state: torn down.
pub const RXCE_VC_TORN_DOWN: LONG = 5;

/// Send option: queue ahead of normal sends.
pub const RXCE_SEND_EXPEDITED: ULONG = 0x0000_0020;
/// Send option: a hint that the peer will not answer this data.
pub const RXCE_SEND_NO_RESPONSE_EXPECTED: ULONG = 0x0000_0080;
/// Send option: with a full send queue, fail with STATUS_DEVICE_NOT_READY
/// (and indicate send-possible later) instead of waiting.
pub const RXCE_SEND_NON_BLOCKING: ULONG = 0x0000_0100;
/// Send option: wait for completion and return its status; the completion
/// context is ignored and no send-complete runs.
pub const RXCE_SEND_SYNCHRONOUS: ULONG = 0x1000_0000;
/// Send option: part of the buffer may be sent (with NON_BLOCKING: what fits).
pub const RXCE_SEND_PARTIAL: ULONG = 0x2000_0000;
/// The bits of the RxCe-level send flags.
pub const RXCE_SEND_FLAGS_MASK: ULONG = 0xFF00_0000;

/// What RxCeQueryInformation returns (an enumeration; an unknown value is
/// STATUS_INVALID_PARAMETER).
pub type RXCE_CONNECTION_INFORMATION_CLASS = c_int;
/// A pointer to an RXCE_CONNECTION_INFORMATION_CLASS.
pub type PRXCE_CONNECTION_INFORMATION_CLASS = *mut RXCE_CONNECTION_INFORMATION_CLASS;
/// A TDI_PROVIDER_INFO of the VC's transport.
pub const RxCeTransportProviderInformation: RXCE_CONNECTION_INFORMATION_CLASS = 1;
/// The connection's RXCE_CONNECTION_INFORMATION (a TDI_CONNECTION_INFORMATION
/// whose pointers point into the caller's buffer, after the structure).
pub const RxCeConnectionInformation: RXCE_CONNECTION_INFORMATION_CLASS = 2;
/// The VC's TDI_CONNECTION_INFO.
pub const RxCeConnectionEndpointInformation: RXCE_CONNECTION_INFORMATION_CLASS = 3;
/// A TDI_ADDRESS_INFO with the VC's remote address.
pub const RxCeRemoteAddressInformation: RXCE_CONNECTION_INFORMATION_CLASS = 4;

/// How RxCeBuildConnectionOverMultipleTransports picks among successes (an
/// enumeration; an unknown value is STATUS_INVALID_PARAMETER).
pub type RXCE_CONNECTION_CREATE_OPTIONS = c_int;
/// A pointer to an RXCE_CONNECTION_CREATE_OPTIONS.
pub type PRXCE_CONNECTION_CREATE_OPTIONS = *mut RXCE_CONNECTION_CREATE_OPTIONS;
/// The first success wins.
pub const RxCeSelectFirstSuccessfulTransport: RXCE_CONNECTION_CREATE_OPTIONS = 0;
/// The success over the transport with the highest quality of service wins
/// (ties: the earlier address).
pub const RxCeSelectBestSuccessfulTransport: RXCE_CONNECTION_CREATE_OPTIONS = 1;
/// Every success becomes a VC of the one connection.
pub const RxCeSelectAllSuccessfulTransports: RXCE_CONNECTION_CREATE_OPTIONS = 2;

/// A bound transport. Caller-allocated; zeroed until RxCeBuildTransport.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _RXCE_TRANSPORT {
    /// RXCE_TRANSPORT_SIGNATURE once built (the documented Type/Size union,
    /// read as one ULONG).
    pub Signature: ULONG,
    /// rxce's copy of the transport name.
    pub Name: _UNICODE_STRING,
    /// rxce's cached copy of the provider information.
    pub pProviderInfo: *mut _TDI_PROVIDER_INFO,
    /// Connections built over the transport and not torn down.
    pub ConnectionCount: LONG,
    /// VCs built over the transport and not torn down.
    pub VirtualCircuitCount: LONG,
    /// The quality of service given at build time.
    pub QualityOfService: ULONG,
    /// Private: rxce's handle of the object. Never change it.
    pub hRxCe: u64,
}
/// A bound transport.
pub type RXCE_TRANSPORT = _RXCE_TRANSPORT;
/// A pointer to an RXCE_TRANSPORT.
pub type PRXCE_TRANSPORT = *mut RXCE_TRANSPORT;

/// A local transport address. Caller-allocated; zeroed until RxCeBuildAddress.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _RXCE_ADDRESS {
    /// RXCE_ADDRESS_SIGNATURE once built.
    pub Signature: ULONG,
    /// The transport the address is on.
    pub pTransport: *mut _RXCE_TRANSPORT,
    /// rxce's copy of the local TRANSPORT_ADDRESS.
    pub pTransportAddress: *mut _TRANSPORT_ADDRESS,
    /// The event context given at build time.
    pub pContext: PVOID,
    /// rxce's copy of the address event handler vector.
    pub pHandler: *mut _RXCE_ADDRESS_EVENT_HANDLER,
    /// Connections built on the address and not torn down.
    pub ConnectionCount: LONG,
    /// VCs built on the address and not torn down.
    pub VirtualCircuitCount: LONG,
    /// Private: rxce's handle of the object. Never change it.
    pub hRxCe: u64,
}
/// A local transport address.
pub type RXCE_ADDRESS = _RXCE_ADDRESS;
/// A pointer to an RXCE_ADDRESS.
pub type PRXCE_ADDRESS = *mut RXCE_ADDRESS;

/// A connection to one remote address. Caller-allocated; zeroed until
/// RxCeBuildConnection.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _RXCE_CONNECTION {
    /// RXCE_CONNECTION_SIGNATURE once built.
    pub Signature: ULONG,
    /// The local address the connection was built on.
    pub pAddress: *mut _RXCE_ADDRESS,
    /// VCs of the connection not torn down.
    pub VirtualCircuitCount: ULONG,
    /// The event context given at build time.
    pub pContext: PVOID,
    /// rxce's copy of the connection event handler vector.
    pub pHandler: *mut _RXCE_CONNECTION_EVENT_HANDLER,
    /// rxce's copy of the connection information.
    pub pConnectionInformation: *mut _TDI_CONNECTION_INFORMATION,
    /// Private: rxce's handle of the object. Never change it.
    pub hRxCe: u64,
}
/// A connection to one remote address.
pub type RXCE_CONNECTION = _RXCE_CONNECTION;
/// A pointer to an RXCE_CONNECTION.
pub type PRXCE_CONNECTION = *mut RXCE_CONNECTION;

/// RXCE_VC's back pointer to its `struct _RXCE_CONNECTION`, as its own
/// (unexported) Rust type: cbindgen orders declarations by what they
/// mention, and the VC naming its connection would close a cycle (VC →
/// connection → handler vector → callback types → VC) that it cannot order.
/// `cbindgen.toml` prints it as `struct _RXCE_CONNECTION`.
pub struct _RXCE_VC_CONNECTION {
    _opaque: [u8; 0],
}

/// A virtual circuit: one transport connection of a connection.
/// Caller-allocated; zeroed until RxCeBuildConnection or RxCeBuildVC —
/// except the VCs after the first of an all-successful
/// RxCeBuildConnectionOverMultipleTransports, which rxce allocates and frees
/// with their connection (see that routine).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _RXCE_VC {
    /// RXCE_VC_SIGNATURE once built.
    pub Signature: ULONG,
    /// The connection the VC belongs to.
    pub pConnection: *mut _RXCE_VC_CONNECTION,
    /// An `RXCE_VC_*` state, as of the last routine or indication on the VC.
    pub State: LONG,
    /// Private: rxce's handle of the object. Never change it.
    pub hRxCe: u64,
}
/// A virtual circuit.
pub type RXCE_VC = _RXCE_VC;
/// A pointer to an RXCE_VC.
pub type PRXCE_VC = *mut RXCE_VC;

/// RxCeQueryTransportInformation's answer.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _RXCE_TRANSPORT_INFORMATION {
    /// Connections currently built over the transport.
    pub ConnectionCount: ULONG,
    /// The quality of service given at build time.
    pub QualityOfService: ULONG,
}
/// RxCeQueryTransportInformation's answer.
pub type RXCE_TRANSPORT_INFORMATION = _RXCE_TRANSPORT_INFORMATION;
/// A pointer to an RXCE_TRANSPORT_INFORMATION.
pub type PRXCE_TRANSPORT_INFORMATION = *mut RXCE_TRANSPORT_INFORMATION;

/// A fault on the address: stop using it. Return STATUS_SUCCESS.
pub type PRXCE_IND_ENDPOINT_ERROR = Option<unsafe extern "C" fn(pEventContext: PVOID, Status: NTSTATUS) -> NTSTATUS>;

/// A datagram arrived: `BytesIndicated` bytes at `Tsdu` (valid only during
/// the call) of `BytesAvailable`, from the TRANSPORT_ADDRESS at
/// `SourceAddress`. Answer as a receive indication does; datagram bytes
/// neither taken nor copied into a returned MDL are dropped.
pub type PRXCE_IND_RECEIVE_DATAGRAM = Option<
    unsafe extern "C" fn(
        pEventContext: PVOID,
        SourceAddressLength: c_int,
        SourceAddress: PVOID,
        OptionsLength: c_int,
        Options: PVOID,
        ReceiveDatagramFlags: ULONG,
        BytesIndicated: ULONG,
        BytesAvailable: ULONG,
        BytesTaken: *mut ULONG,
        Tsdu: PVOID,
        pDataBufferPointer: *mut *mut _MDL,
        pDataBufferSize: PULONG,
    ) -> NTSTATUS,
>;

/// The MDL chain returned with STATUS_MORE_PROCESSING_REQUIRED holds
/// `CopiedDataSize` bytes; `CopyDataStatus` is STATUS_SUCCESS, or the
/// failure that ended the copy early. The chain is the caller's again.
pub type PRXCE_IND_DATA_READY = Option<
    unsafe extern "C" fn(
        pEventContext: PVOID,
        pBuffer: *mut _MDL,
        CopiedDataSize: ULONG,
        CopyDataStatus: NTSTATUS,
    ) -> NTSTATUS,
>;

/// After a non-blocking send got STATUS_DEVICE_NOT_READY there is room
/// again (`BytesAvailable` is a hint). `pVc` is NULL for datagram addresses.
pub type PRXCE_IND_SEND_POSSIBLE =
    Option<unsafe extern "C" fn(pEventContext: PVOID, pVc: *mut _RXCE_VC, BytesAvailable: ULONG) -> NTSTATUS>;

/// An asynchronous RxCeSendDatagram finished.
pub type PRXCE_IND_SEND_COMPLETE =
    Option<unsafe extern "C" fn(pEventContext: PVOID, pCompletionContext: PVOID, Status: NTSTATUS) -> NTSTATUS>;

/// The VC is disconnected: TDI_DISCONNECT_RELEASE for an orderly close,
/// TDI_DISCONNECT_ABORT for a reset, a failure or a timeout. The last
/// indication of the VC. The data and information pointers are NULL (their
/// lengths 0). Return STATUS_SUCCESS.
pub type PRXCE_IND_DISCONNECT = Option<
    unsafe extern "C" fn(
        pEventContext: PVOID,
        pVc: *mut _RXCE_VC,
        DisconnectDataLength: c_int,
        DisconnectData: PVOID,
        DisconnectInformationLength: c_int,
        DisconnectInformation: PVOID,
        DisconnectFlags: ULONG,
    ) -> NTSTATUS,
>;

/// A fault on the VC; a disconnect indication usually follows.
pub type PRXCE_IND_CONNECTION_ERROR =
    Option<unsafe extern "C" fn(pEventContext: PVOID, pVc: *mut _RXCE_VC, Status: NTSTATUS) -> NTSTATUS>;

/// Data arrived on the VC: `BytesIndicated` bytes at `Tsdu` (valid only
/// during the call) of `BytesAvailable` known to belong to the TSDU.
/// Answer with:
/// - STATUS_SUCCESS and `*BytesTaken`: that many bytes were consumed; the
///   rest are indicated again first;
/// - STATUS_MORE_PROCESSING_REQUIRED, `*BytesTaken`, an MDL chain in
///   `*pDataBufferPointer` and a size in `*pDataBufferSize`: rxce fills the
///   chain with the next bytes after the taken ones, then calls data-ready
///   with the same chain. The chain must stay valid and untouched until then;
/// - STATUS_DATA_NOT_ACCEPTED: rxce keeps the bytes, stops reading the VC
///   and indicates them again after RxCeResumeReceive.
///
/// Any other answer (or an unusable MDL chain) counts as not accepted.
pub type PRXCE_IND_RECEIVE = Option<
    unsafe extern "C" fn(
        pEventContext: PVOID,
        pVc: *mut _RXCE_VC,
        ReceiveFlags: ULONG,
        BytesIndicated: ULONG,
        BytesAvailable: ULONG,
        BytesTaken: *mut ULONG,
        Tsdu: PVOID,
        pDataBufferPointer: *mut *mut _MDL,
        pDataBufferSize: PULONG,
    ) -> NTSTATUS,
>;

/// Expedited data arrived; answered as a receive indication. Without this
/// member, expedited data goes to the receive member.
pub type PRXCE_IND_RECEIVE_EXPEDITED = PRXCE_IND_RECEIVE;

/// An asynchronous RxCeSend finished (with the send's completion context):
/// all of its bytes were handed to the transport, or it failed.
pub type PRXCE_IND_CONNECTION_SEND_COMPLETE = Option<
    unsafe extern "C" fn(
        pEventContext: PVOID,
        pVc: *mut _RXCE_VC,
        pCompletionContext: PVOID,
        Status: NTSTATUS,
    ) -> NTSTATUS,
>;

/// An asynchronous RxCeSend was queued on its VC (Status STATUS_PENDING);
/// its send-complete follows.
pub type PRXCE_IND_CONNECTION_SEND_SUBMITTED = PRXCE_IND_CONNECTION_SEND_COMPLETE;

/// The address event handlers, in their documented order. A NULL member
/// has the default behaviour (datagrams are dropped, the rest ignored).
/// rxce copies the vector at build time.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct _RXCE_ADDRESS_EVENT_HANDLER {
    /// A fault on the address.
    pub RxCeErrorEventHandler: PRXCE_IND_ENDPOINT_ERROR,
    /// A datagram arrived.
    pub RxCeReceiveDatagramEventHandler: PRXCE_IND_RECEIVE_DATAGRAM,
    /// A datagram client buffer is filled.
    pub RxCeDataReadyEventHandler: PRXCE_IND_DATA_READY,
    /// Room for sends again.
    pub RxCeSendPossibleEventHandler: PRXCE_IND_SEND_POSSIBLE,
    /// An asynchronous datagram send finished.
    pub RxCeSendCompleteEventHandler: PRXCE_IND_SEND_COMPLETE,
}
/// The address event handlers.
pub type RXCE_ADDRESS_EVENT_HANDLER = _RXCE_ADDRESS_EVENT_HANDLER;
/// A pointer to an RXCE_ADDRESS_EVENT_HANDLER.
pub type PRXCE_ADDRESS_EVENT_HANDLER = *mut RXCE_ADDRESS_EVENT_HANDLER;

/// The connection event handlers, in their documented order. A NULL member
/// has the default behaviour: received data is not accepted (kept until
/// RxCeResumeReceive), expedited data goes to the receive member, datagrams
/// are dropped, the rest is ignored. rxce copies the vector at build time.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct _RXCE_CONNECTION_EVENT_HANDLER {
    /// The VC is disconnected.
    pub RxCeDisconnectEventHandler: PRXCE_IND_DISCONNECT,
    /// A fault on the VC.
    pub RxCeErrorEventHandler: PRXCE_IND_CONNECTION_ERROR,
    /// Normal data arrived.
    pub RxCeReceiveEventHandler: PRXCE_IND_RECEIVE,
    /// A datagram arrived on the connection.
    pub RxCeReceiveDatagramEventHandler: PRXCE_IND_RECEIVE_DATAGRAM,
    /// Expedited data arrived.
    pub RxCeReceiveExpeditedEventHandler: PRXCE_IND_RECEIVE_EXPEDITED,
    /// Room for sends again.
    pub RxCeSendPossibleEventHandler: PRXCE_IND_SEND_POSSIBLE,
    /// A client buffer is filled.
    pub RxCeDataReadyEventHandler: PRXCE_IND_DATA_READY,
    /// An asynchronous send finished.
    pub RxCeSendCompleteEventHandler: PRXCE_IND_CONNECTION_SEND_COMPLETE,
    /// An asynchronous send was queued.
    pub RxCeSendSubmittedEventHandler: PRXCE_IND_CONNECTION_SEND_SUBMITTED,
}
/// The connection event handlers.
pub type RXCE_CONNECTION_EVENT_HANDLER = _RXCE_CONNECTION_EVENT_HANDLER;
/// A pointer to an RXCE_CONNECTION_EVENT_HANDLER.
pub type PRXCE_CONNECTION_EVENT_HANDLER = *mut RXCE_CONNECTION_EVENT_HANDLER;

/// The state of a RxCeBuildConnectionOverMultipleTransports call. The
/// caller points `pConnection` and `pVc` at unbuilt objects before the
/// call and keeps the context valid until the completion routine runs;
/// before it runs, `Status`, `AddressIndex` (the winning address's index)
/// and `pConnectionInformation` are set and, on success, the two objects
/// are built.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _RXCE_CONNECTION_COMPLETION_CONTEXT {
    /// The outcome.
    pub Status: NTSTATUS,
    /// Index, in the local address array, of the address that gave the VC.
    pub AddressIndex: ULONG,
    /// The connection to build.
    pub pConnection: *mut _RXCE_CONNECTION,
    /// The (first) VC to build.
    pub pVc: *mut _RXCE_VC,
    /// Set on completion: the built connection's copy of the connection
    /// information (NULL on failure).
    pub pConnectionInformation: *mut _TDI_CONNECTION_INFORMATION,
}
/// The state of a RxCeBuildConnectionOverMultipleTransports call.
pub type RXCE_CONNECTION_COMPLETION_CONTEXT = _RXCE_CONNECTION_COMPLETION_CONTEXT;
/// A pointer to an RXCE_CONNECTION_COMPLETION_CONTEXT.
pub type PRXCE_CONNECTION_COMPLETION_CONTEXT = *mut RXCE_CONNECTION_COMPLETION_CONTEXT;

/// Called once, on an engine worker thread, when a
/// RxCeBuildConnectionOverMultipleTransports that returned STATUS_PENDING
/// finishes.
pub type PRXCE_CONNECTION_COMPLETION_ROUTINE =
    Option<unsafe extern "C" fn(pCompletionContext: *mut _RXCE_CONNECTION_COMPLETION_CONTEXT) -> NTSTATUS>;

/// The mini-redirector's device object (opaque; rxce does not use it).
pub struct _RDBSS_DEVICE_OBJECT {
    _opaque: [u8; 0],
}
/// A pointer to the mini-redirector's device object.
pub type PRDBSS_DEVICE_OBJECT = *mut _RDBSS_DEVICE_OBJECT;

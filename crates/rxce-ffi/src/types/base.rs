//! The Windows base types the RxCe declarations are written in, the
//! NTSTATUS codes, and the MDL.

use std::ffi::c_void;

/// An NTSTATUS: negative is an error, `0x8xxxxxxx` a warning, the rest success.
pub type NTSTATUS = i32;
/// 32-bit unsigned.
pub type ULONG = u32;
/// 32-bit signed.
pub type LONG = i32;
/// 16-bit unsigned.
pub type USHORT = u16;
/// 8-bit unsigned.
pub type UCHAR = u8;
/// 0 is FALSE, anything else TRUE.
pub type BOOLEAN = u8;
/// An untyped pointer.
pub type PVOID = *mut c_void;
/// A UTF-16 code unit, on every platform (not `wchar_t`).
pub type WCHAR = u16;
/// A pointer to a ULONG.
pub type PULONG = *mut ULONG;

/// A counted UTF-16 string.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _UNICODE_STRING {
    /// The string's length in bytes (not characters), without any terminator.
    pub Length: USHORT,
    /// The size of `Buffer` in bytes.
    pub MaximumLength: USHORT,
    /// The characters; need not be NUL-terminated.
    pub Buffer: *mut WCHAR,
}
/// A counted UTF-16 string.
pub type UNICODE_STRING = _UNICODE_STRING;
/// A pointer to a UNICODE_STRING.
pub type PUNICODE_STRING = *mut UNICODE_STRING;

/// The two halves of a LARGE_INTEGER.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _LARGE_INTEGER_PARTS {
    /// The low 32 bits.
    pub LowPart: ULONG,
    /// The high 32 bits.
    pub HighPart: LONG,
}

/// A signed 64-bit integer, also readable as two halves.
#[repr(C)]
#[derive(Clone, Copy)]
pub union _LARGE_INTEGER {
    /// The two halves.
    pub u: _LARGE_INTEGER_PARTS,
    /// The whole value.
    pub QuadPart: i64,
}
/// A signed 64-bit integer, also readable as two halves.
pub type LARGE_INTEGER = _LARGE_INTEGER;
/// A pointer to a LARGE_INTEGER.
pub type PLARGE_INTEGER = *mut LARGE_INTEGER;

impl _LARGE_INTEGER {
    /// A LARGE_INTEGER holding `value`.
    pub(crate) const fn new(value: i64) -> LARGE_INTEGER {
        _LARGE_INTEGER { QuadPart: value }
    }
}

/// One element of a memory descriptor list: a caller-filled chain of byte
/// ranges. rxce reads `ByteCount` bytes at `MappedSystemVa` from each element
/// in turn; an element with `ByteCount` 0 is skipped.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct _MDL {
    /// The next element, or NULL at the end of the chain.
    pub Next: *mut _MDL,
    /// The first byte of this element's range.
    pub MappedSystemVa: PVOID,
    /// How many bytes the range holds.
    pub ByteCount: ULONG,
}
/// A memory descriptor list element.
pub type MDL = _MDL;
/// A pointer to an MDL.
pub type PMDL = *mut MDL;

/// 0x00000000: The operation completed successfully.
pub const STATUS_SUCCESS: NTSTATUS = 0x0000_0000;
/// 0x00000103: The operation was accepted and will complete later.
pub const STATUS_PENDING: NTSTATUS = 0x0000_0103;
/// 0x80000005 (a warning): The data was too large for the buffer; what fit was copied.
pub const STATUS_BUFFER_OVERFLOW: NTSTATUS = 0x8000_0005_u32 as NTSTATUS;
/// 0xC0000002: The requested operation is not implemented.
pub const STATUS_NOT_IMPLEMENTED: NTSTATUS = 0xC000_0002_u32 as NTSTATUS;
/// 0xC0000008: The object is not valid: torn down, never built, or of the wrong kind.
pub const STATUS_INVALID_HANDLE: NTSTATUS = 0xC000_0008_u32 as NTSTATUS;
/// 0xC000000D: A parameter passed to the routine is not valid.
pub const STATUS_INVALID_PARAMETER: NTSTATUS = 0xC000_000D_u32 as NTSTATUS;
/// 0xC0000016: A receive handler returned a buffer for the rest of the data.
pub const STATUS_MORE_PROCESSING_REQUIRED: NTSTATUS = 0xC000_0016_u32 as NTSTATUS;
/// 0xC000009A: The engine's budget or an operating-system resource is exhausted.
pub const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = 0xC000_009A_u32 as NTSTATUS;
/// 0xC00000A3: No buffer space for a non-blocking send.
pub const STATUS_DEVICE_NOT_READY: NTSTATUS = 0xC000_00A3_u32 as NTSTATUS;
/// 0xC00000B5: The operation timed out.
pub const STATUS_IO_TIMEOUT: NTSTATUS = 0xC000_00B5_u32 as NTSTATUS;
/// 0xC00000BB: The request is not supported by this transport.
pub const STATUS_NOT_SUPPORTED: NTSTATUS = 0xC000_00BB_u32 as NTSTATUS;
/// 0xC00000BC: The remote side is not listening on the called name.
pub const STATUS_REMOTE_NOT_LISTENING: NTSTATUS = 0xC000_00BC_u32 as NTSTATUS;
/// 0xC00000BE: The network path (a host name) could not be found.
pub const STATUS_BAD_NETWORK_PATH: NTSTATUS = 0xC000_00BE_u32 as NTSTATUS;
/// 0xC00000C3: The peer sent bytes that break the transport's framing.
pub const STATUS_INVALID_NETWORK_RESPONSE: NTSTATUS = 0xC000_00C3_u32 as NTSTATUS;
/// 0xC00000C4: An unexpected network error occurred.
pub const STATUS_UNEXPECTED_NETWORK_ERROR: NTSTATUS = 0xC000_00C4_u32 as NTSTATUS;
/// 0xC00000CC: The network name (a NetBIOS name) could not be found.
pub const STATUS_BAD_NETWORK_NAME: NTSTATUS = 0xC000_00CC_u32 as NTSTATUS;
/// 0xC00000D0: The remote side is not listening for this caller.
pub const STATUS_REQUEST_NOT_ACCEPTED: NTSTATUS = 0xC000_00D0_u32 as NTSTATUS;
/// 0xC00000E5: rxce failed inside (a bug: a Rust panic was stopped at the C boundary).
pub const STATUS_INTERNAL_ERROR: NTSTATUS = 0xC000_00E5_u32 as NTSTATUS;
/// 0xC0000120: The operation was cancelled.
pub const STATUS_CANCELLED: NTSTATUS = 0xC000_0120_u32 as NTSTATUS;
/// 0xC000013B: The connection was disconnected by the local side.
pub const STATUS_LOCAL_DISCONNECT: NTSTATUS = 0xC000_013B_u32 as NTSTATUS;
/// 0xC000013C: The connection was disconnected by the remote side.
pub const STATUS_REMOTE_DISCONNECT: NTSTATUS = 0xC000_013C_u32 as NTSTATUS;
/// 0xC000013D: The remote side has insufficient resources.
pub const STATUS_REMOTE_RESOURCES: NTSTATUS = 0xC000_013D_u32 as NTSTATUS;
/// 0xC0000140: The connection is not valid.
pub const STATUS_INVALID_CONNECTION: NTSTATUS = 0xC000_0140_u32 as NTSTATUS;
/// 0xC0000144: A client callback panicked (a Rust handler; C callbacks
/// cannot); the engine stopped the panic and failed what it was for.
pub const STATUS_UNHANDLED_EXCEPTION: NTSTATUS = 0xC000_0144_u32 as NTSTATUS;
/// 0xC0000184: Not valid in the object's current state (for example a routine
/// that could only finish after the callback it is called from returns).
pub const STATUS_INVALID_DEVICE_STATE: NTSTATUS = 0xC000_0184_u32 as NTSTATUS;
/// 0xC000020C: The connection is disconnected.
pub const STATUS_CONNECTION_DISCONNECTED: NTSTATUS = 0xC000_020C_u32 as NTSTATUS;
/// 0xC000020D: The connection was reset by the peer.
pub const STATUS_CONNECTION_RESET: NTSTATUS = 0xC000_020D_u32 as NTSTATUS;
/// 0xC000021B: The indicated data was not accepted.
pub const STATUS_DATA_NOT_ACCEPTED: NTSTATUS = 0xC000_021B_u32 as NTSTATUS;
/// 0xC0000236: The remote side refused the connection.
pub const STATUS_CONNECTION_REFUSED: NTSTATUS = 0xC000_0236_u32 as NTSTATUS;
/// 0xC0000239: No address is associated with this transport.
pub const STATUS_ADDRESS_NOT_ASSOCIATED: NTSTATUS = 0xC000_0239_u32 as NTSTATUS;
/// 0xC000023C: The network is unreachable.
pub const STATUS_NETWORK_UNREACHABLE: NTSTATUS = 0xC000_023C_u32 as NTSTATUS;
/// 0xC000023D: The host is unreachable.
pub const STATUS_HOST_UNREACHABLE: NTSTATUS = 0xC000_023D_u32 as NTSTATUS;
/// 0xC0000241: The connection was aborted by the local system.
pub const STATUS_CONNECTION_ABORTED: NTSTATUS = 0xC000_0241_u32 as NTSTATUS;
/// 0xC0000022: Access denied: the peer refused our client certificate or wanted one (quic).
pub const STATUS_ACCESS_DENIED: NTSTATUS = 0xC000_0022_u32 as NTSTATUS;
/// 0xC000038A: The server's certificate was issued by an untrusted certificate authority (quic).
pub const STATUS_ISSUING_CA_UNTRUSTED: NTSTATUS = 0xC000_038A_u32 as NTSTATUS;
/// 0xC000038D: The server's certificate has expired or is not valid yet (quic).
pub const STATUS_SMARTCARD_CERT_EXPIRED: NTSTATUS = 0xC000_038D_u32 as NTSTATUS;
/// 0xC00002C3: The server's certificate does not name the server that was asked for (quic).
pub const STATUS_MUTUAL_AUTHENTICATION_FAILED: NTSTATUS = 0xC000_02C3_u32 as NTSTATUS;
/// 0xC0000190: The server's certificate is not one of the pinned certificates (quic).
pub const STATUS_TRUST_FAILURE: NTSTATUS = 0xC000_0190_u32 as NTSTATUS;
/// 0xC000A000: The server's certificate or its signature is not valid (quic).
pub const STATUS_INVALID_SIGNATURE: NTSTATUS = 0xC000_A000_u32 as NTSTATUS;

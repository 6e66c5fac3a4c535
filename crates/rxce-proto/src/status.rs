//! NTSTATUS: the one currency of success and failure in rxce.
//!
//! Every routine reports its outcome as a [`Status`], exactly as the RxCe and
//! TDI documentation does. A `Status` is a 32-bit NTSTATUS value with a name
//! and a human text; failures may carry the operating-system error that caused
//! them as their [`source`](std::error::Error::source) and a message saying
//! what rxce was doing.

use std::fmt;
use std::io;
use std::sync::Arc;

/// The severity of an NTSTATUS (its two top bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// 0b00: success.
    Success,
    /// 0b01: informational (for example `STATUS_PENDING` is a success code).
    Informational,
    /// 0b10: warning (for example `STATUS_BUFFER_OVERFLOW`).
    Warning,
    /// 0b11: error.
    Error,
}

/// An NTSTATUS code plus, for failures, the context that explains it.
///
/// Two statuses compare equal when their codes are equal; the message and the
/// source are explanation, not identity.
///
/// ```
/// use rxce_proto::Status;
/// let refused = Status::CONNECTION_REFUSED;
/// assert_eq!(refused.code(), 0xC000_0236);
/// assert_eq!(refused.name(), "STATUS_CONNECTION_REFUSED");
/// assert!(refused.is_error());
/// assert!(Status::PENDING.is_success());
/// ```
#[derive(Clone)]
pub struct Status {
    code: u32,
    detail: Option<Arc<Detail>>,
}

struct Detail {
    message: String,
    source: Option<io::Error>,
}

macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $text:literal; )*) => {
        impl Status {
            $( $(#[$doc])* pub const $name: Status = Status { code: $code, detail: None }; )*

            /// Every status rxce knows by name, for tables and bindings.
            pub const ALL: &'static [Status] = &[ $( Status::$name, )* ];

            fn lookup(code: u32) -> Option<(&'static str, &'static str)> {
                match code {
                    $( $code => Some((concat!("STATUS_", stringify!($name)), $text)), )*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    /// The operation completed successfully.
    SUCCESS = 0x0000_0000, "The operation completed successfully.";
    /// The operation was accepted and will complete later (asynchronous sends, multi-transport builds).
    PENDING = 0x0000_0103, "The operation was accepted and will complete later.";
    /// The data was too large for the buffer; what fit was copied (a warning).
    BUFFER_OVERFLOW = 0x8000_0005, "The data was too large for the buffer; what fit was copied.";
    /// The requested operation is not implemented.
    NOT_IMPLEMENTED = 0xC000_0002, "The requested operation is not implemented.";
    /// The handle is not valid: torn down, never built, or of the wrong kind.
    INVALID_HANDLE = 0xC000_0008, "The handle is not valid: it was torn down, never built, or is of the wrong kind.";
    /// A parameter passed to the routine was not valid.
    INVALID_PARAMETER = 0xC000_000D, "A parameter passed to the routine is not valid.";
    /// A receive indication handler returned a buffer for the rest of the data.
    MORE_PROCESSING_REQUIRED = 0xC000_0016, "More processing is required: the client returned a buffer for the rest of the data.";
    /// The engine's resource budget or an operating-system resource is exhausted.
    INSUFFICIENT_RESOURCES = 0xC000_009A, "Insufficient resources: the engine's budget or an operating-system resource is exhausted.";
    /// The device is not ready: no buffer space for a non-blocking send.
    DEVICE_NOT_READY = 0xC000_00A3, "The device is not ready: no buffer space for a non-blocking send.";
    /// The operation timed out.
    IO_TIMEOUT = 0xC000_00B5, "The operation timed out.";
    /// The request is not supported by this transport.
    NOT_SUPPORTED = 0xC000_00BB, "The request is not supported by this transport.";
    /// The network path (a host name) could not be found.
    BAD_NETWORK_PATH = 0xC000_00BE, "The network path could not be found.";
    /// The network name (a NetBIOS name) could not be found.
    BAD_NETWORK_NAME = 0xC000_00CC, "The network name could not be found.";
    /// The operation was cancelled.
    CANCELLED = 0xC000_0120, "The operation was cancelled.";
    /// The connection was disconnected by the local side.
    LOCAL_DISCONNECT = 0xC000_013B, "The connection was disconnected by the local side.";
    /// The connection was disconnected by the remote side.
    REMOTE_DISCONNECT = 0xC000_013C, "The connection was disconnected by the remote side.";
    /// A client callback panicked; the engine stopped the panic and failed what the callback was for.
    UNHANDLED_EXCEPTION = 0xC000_0144, "A client callback panicked; the engine stopped the panic and failed what the callback was for.";
    /// The connection is not valid.
    INVALID_CONNECTION = 0xC000_0140, "The connection is not valid.";
    /// The request is not valid in the object's current state.
    INVALID_DEVICE_STATE = 0xC000_0184, "The request is not valid in the object's current state.";
    /// The remote side has insufficient resources (NetBIOS negative response 0x83).
    REMOTE_RESOURCES = 0xC000_013D, "The remote side has insufficient resources.";
    /// The remote side is not listening on the called name (NetBIOS negative response 0x80).
    REMOTE_NOT_LISTENING = 0xC000_00BC, "The remote side is not listening on the called name.";
    /// The remote side does not accept this caller (NetBIOS negative response 0x81).
    REQUEST_NOT_ACCEPTED = 0xC000_00D0, "The remote side is not listening for this caller.";
    /// An unexpected network error (NetBIOS negative response 0x8F, unspecified).
    UNEXPECTED_NETWORK_ERROR = 0xC000_00C4, "An unexpected network error occurred.";
    /// A protocol error: the peer sent bytes that break the transport's framing.
    INVALID_NETWORK_RESPONSE = 0xC000_00C3, "The peer sent a response that breaks the protocol.";
    /// The connection is disconnected.
    CONNECTION_DISCONNECTED = 0xC000_020C, "The connection is disconnected.";
    /// The connection was reset by the peer.
    CONNECTION_RESET = 0xC000_020D, "The connection was reset by the peer.";
    /// The client did not accept the indicated data.
    DATA_NOT_ACCEPTED = 0xC000_021B, "The indicated data was not accepted.";
    /// The remote side refused the connection.
    CONNECTION_REFUSED = 0xC000_0236, "The remote side refused the connection.";
    /// The transport has no address associated with it.
    ADDRESS_NOT_ASSOCIATED = 0xC000_0239, "No address is associated with this transport.";
    /// The network is unreachable.
    NETWORK_UNREACHABLE = 0xC000_023C, "The network is unreachable.";
    /// The host is unreachable.
    HOST_UNREACHABLE = 0xC000_023D, "The host is unreachable.";
    /// The connection was aborted by the local system.
    CONNECTION_ABORTED = 0xC000_0241, "The connection was aborted by the local system.";
    /// The peer refused our client certificate, or wanted one we did not give (QUIC/TLS).
    ACCESS_DENIED = 0xC000_0022, "Access denied: the peer refused our client certificate or wanted one.";
    /// The server's certificate does not chain to a trusted authority (QUIC/TLS).
    ISSUING_CA_UNTRUSTED = 0xC000_038A, "The server's certificate was issued by an untrusted certificate authority.";
    /// The server's certificate has expired or is not valid yet (QUIC/TLS).
    SMARTCARD_CERT_EXPIRED = 0xC000_038D, "The server's certificate has expired or is not valid yet.";
    /// The server's certificate does not name the server (QUIC/TLS).
    MUTUAL_AUTHENTICATION_FAILED = 0xC000_02C3, "The server's certificate does not name the server that was asked for.";
    /// The server's certificate is not one of the pinned fingerprints (QUIC/TLS).
    TRUST_FAILURE = 0xC000_0190, "The server's certificate is not one of the pinned certificates.";
    /// The server's certificate or its handshake signature is otherwise invalid (QUIC/TLS).
    INVALID_SIGNATURE = 0xC000_A000, "The server's certificate or its signature is not valid.";
}

impl Status {
    /// A status from its raw NTSTATUS code.
    pub const fn from_code(code: u32) -> Status {
        Status { code, detail: None }
    }

    /// The raw 32-bit NTSTATUS value.
    pub const fn code(&self) -> u32 {
        self.code
    }

    /// The value as the C `NTSTATUS` type (a signed 32-bit integer).
    pub const fn as_ntstatus(&self) -> i32 {
        self.code as i32
    }

    /// The severity in the code's top two bits.
    pub const fn severity(&self) -> Severity {
        match self.code >> 30 {
            0 => Severity::Success,
            1 => Severity::Informational,
            2 => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// True for success and informational codes (`NT_SUCCESS`), including PENDING.
    pub const fn is_success(&self) -> bool {
        (self.code as i32) >= 0
    }

    /// True for warning codes such as BUFFER_OVERFLOW.
    pub const fn is_warning(&self) -> bool {
        matches!(self.severity(), Severity::Warning)
    }

    /// True for error codes.
    pub const fn is_error(&self) -> bool {
        matches!(self.severity(), Severity::Error)
    }

    /// The symbolic name, for example `STATUS_CONNECTION_REFUSED`, or
    /// `STATUS_UNKNOWN` for a code rxce does not know by name.
    pub fn name(&self) -> &'static str {
        Self::lookup(self.code).map_or("STATUS_UNKNOWN", |(name, _)| name)
    }

    /// The human text of the code (not of the attached message).
    pub fn text(&self) -> &'static str {
        Self::lookup(self.code).map_or("An unknown status.", |(_, text)| text)
    }

    /// The context message attached with [`Status::with_message`], if any.
    pub fn message(&self) -> Option<&str> {
        self.detail.as_deref().map(|d| d.message.as_str())
    }

    /// The same code with a message saying what rxce was doing.
    pub fn with_message(self, message: impl Into<String>) -> Status {
        let source = self.detail.and_then(|d| Arc::try_unwrap(d).ok().and_then(|d| d.source));
        Status {
            code: self.code,
            detail: Some(Arc::new(Detail {
                message: message.into(),
                source,
            })),
        }
    }

    /// `self` with `message`, made once and then shared: every call gives a
    /// clone of the same status (one reference count, no allocation), for
    /// statuses a hot path reports again and again (a torn-down VC's
    /// cancelled operations, a cancelled connect attempt). `cell` is the
    /// caller's own `static`.
    pub fn shared(cell: &'static std::sync::OnceLock<Status>, make: impl FnOnce() -> Status) -> Status {
        cell.get_or_init(make).clone()
    }

    /// The status an operating-system error stands for, keeping the error as
    /// the source.
    pub fn from_io(error: io::Error, doing: impl Into<String>) -> Status {
        let code = Self::code_for_io(&error).code;
        Status {
            code,
            detail: Some(Arc::new(Detail {
                message: doing.into(),
                source: Some(error),
            })),
        }
    }

    /// The status code (without context) an `io::Error` maps to: by its
    /// kind, which std derives from the errno or Winsock code on every OS,
    /// and for the few codes std gives no kind (descriptor or buffer
    /// exhaustion, a host that is down, an unsupported address family) by
    /// the OS's own code.
    pub fn code_for_io(error: &io::Error) -> Status {
        match error.kind() {
            io::ErrorKind::ConnectionRefused => Status::CONNECTION_REFUSED,
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => Status::CONNECTION_RESET,
            io::ErrorKind::ConnectionAborted => Status::CONNECTION_ABORTED,
            io::ErrorKind::TimedOut => Status::IO_TIMEOUT,
            io::ErrorKind::HostUnreachable => Status::HOST_UNREACHABLE,
            io::ErrorKind::NetworkUnreachable | io::ErrorKind::NetworkDown => Status::NETWORK_UNREACHABLE,
            io::ErrorKind::NotConnected | io::ErrorKind::UnexpectedEof => Status::CONNECTION_DISCONNECTED,
            io::ErrorKind::OutOfMemory => Status::INSUFFICIENT_RESOURCES,
            io::ErrorKind::PermissionDenied => Status::ACCESS_DENIED,
            io::ErrorKind::InvalidInput | io::ErrorKind::AddrInUse | io::ErrorKind::AddrNotAvailable => {
                Status::INVALID_PARAMETER
            }
            io::ErrorKind::NotFound => Status::BAD_NETWORK_PATH,
            io::ErrorKind::Unsupported => Status::NOT_SUPPORTED,
            _ => error
                .raw_os_error()
                .and_then(os_error::without_kind)
                .unwrap_or(Status::INVALID_DEVICE_STATE),
        }
    }

    /// `Ok(())` for success codes, `Err(self)` otherwise.
    pub fn ok(self) -> Result<(), Status> {
        if self.is_success() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl PartialEq for Status {
    fn eq(&self, other: &Status) -> bool {
        self.code == other.code
    }
}

impl Eq for Status {}

impl std::hash::Hash for Status {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.code.hash(state);
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(0x{:08X})", self.name(), self.code)?;
        if let Some(detail) = &self.detail {
            write!(f, " {:?}", detail.message)?;
            if let Some(source) = &detail.source {
                write!(f, " caused by {source:?}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:08X}): {}", self.name(), self.code, self.text())?;
        if let Some(detail) = &self.detail {
            if !detail.message.is_empty() {
                write!(f, " — {}", detail.message)?;
            }
            if let Some(source) = &detail.source {
                write!(f, ": {source}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Status {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.detail
            .as_deref()
            .and_then(|d| d.source.as_ref())
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<io::Error> for Status {
    fn from(error: io::Error) -> Status {
        Status::from_io(error, "")
    }
}

/// The OS error codes std gives no `io::ErrorKind`.
mod os_error {
    use super::Status;

    #[cfg(unix)]
    pub(super) fn without_kind(code: i32) -> Option<Status> {
        match code {
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS => Some(Status::INSUFFICIENT_RESOURCES),
            libc::EHOSTDOWN => Some(Status::HOST_UNREACHABLE),
            libc::EAFNOSUPPORT => Some(Status::INVALID_PARAMETER),
            _ => None,
        }
    }

    /// Winsock's codes (winerror.h), which std reports as raw OS errors.
    #[cfg(windows)]
    pub(super) fn without_kind(code: i32) -> Option<Status> {
        use windows_sys::Win32::Networking::WinSock::{WSAEAFNOSUPPORT, WSAEHOSTDOWN, WSAEMFILE, WSAENOBUFS};
        match code {
            WSAEMFILE | WSAENOBUFS => Some(Status::INSUFFICIENT_RESOURCES),
            WSAEHOSTDOWN => Some(Status::HOST_UNREACHABLE),
            WSAEAFNOSUPPORT => Some(Status::INVALID_PARAMETER),
            _ => None,
        }
    }

    #[cfg(not(any(unix, windows)))]
    pub(super) fn without_kind(_code: i32) -> Option<Status> {
        None
    }

    /// Raw OS codes and what they map to, for the tests.
    #[cfg(all(test, unix))]
    pub(super) const SAMPLES: &[(i32, Status)] = &[
        (libc::ECONNREFUSED, Status::CONNECTION_REFUSED),
        (libc::ECONNRESET, Status::CONNECTION_RESET),
        (libc::EPIPE, Status::CONNECTION_RESET),
        (libc::ETIMEDOUT, Status::IO_TIMEOUT),
        (libc::EHOSTUNREACH, Status::HOST_UNREACHABLE),
        (libc::EHOSTDOWN, Status::HOST_UNREACHABLE),
        (libc::ENETUNREACH, Status::NETWORK_UNREACHABLE),
        (libc::ENETDOWN, Status::NETWORK_UNREACHABLE),
        (libc::EMFILE, Status::INSUFFICIENT_RESOURCES),
        (libc::ENFILE, Status::INSUFFICIENT_RESOURCES),
        (libc::ENOMEM, Status::INSUFFICIENT_RESOURCES),
        (libc::ENOBUFS, Status::INSUFFICIENT_RESOURCES),
        (libc::EADDRINUSE, Status::INVALID_PARAMETER),
        (libc::EADDRNOTAVAIL, Status::INVALID_PARAMETER),
        (libc::EINVAL, Status::INVALID_PARAMETER),
        (libc::EAFNOSUPPORT, Status::INVALID_PARAMETER),
        (libc::ENOENT, Status::BAD_NETWORK_PATH),
        (libc::ENOTCONN, Status::CONNECTION_DISCONNECTED),
        (libc::EOPNOTSUPP, Status::NOT_SUPPORTED),
        (libc::ECONNABORTED, Status::CONNECTION_ABORTED),
    ];

    #[cfg(all(test, windows))]
    pub(super) const SAMPLES: &[(i32, Status)] = {
        use windows_sys::Win32::Networking::WinSock as ws;
        &[
            (ws::WSAECONNREFUSED, Status::CONNECTION_REFUSED),
            (ws::WSAECONNRESET, Status::CONNECTION_RESET),
            (ws::WSAETIMEDOUT, Status::IO_TIMEOUT),
            (ws::WSAEHOSTUNREACH, Status::HOST_UNREACHABLE),
            (ws::WSAEHOSTDOWN, Status::HOST_UNREACHABLE),
            (ws::WSAENETUNREACH, Status::NETWORK_UNREACHABLE),
            (ws::WSAEMFILE, Status::INSUFFICIENT_RESOURCES),
            (ws::WSAENOBUFS, Status::INSUFFICIENT_RESOURCES),
            (ws::WSAEADDRINUSE, Status::INVALID_PARAMETER),
            (ws::WSAEAFNOSUPPORT, Status::INVALID_PARAMETER),
            (ws::WSAENOTCONN, Status::CONNECTION_DISCONNECTED),
            (ws::WSAECONNABORTED, Status::CONNECTION_ABORTED),
        ]
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn documented_codes_have_their_real_values() {
        let expected: &[(Status, u32)] = &[
            (Status::SUCCESS, 0x0000_0000),
            (Status::PENDING, 0x0000_0103),
            (Status::BUFFER_OVERFLOW, 0x8000_0005),
            (Status::MORE_PROCESSING_REQUIRED, 0xC000_0016),
            (Status::DATA_NOT_ACCEPTED, 0xC000_021B),
            (Status::INVALID_PARAMETER, 0xC000_000D),
            (Status::INVALID_HANDLE, 0xC000_0008),
            (Status::INSUFFICIENT_RESOURCES, 0xC000_009A),
            (Status::DEVICE_NOT_READY, 0xC000_00A3),
            (Status::CANCELLED, 0xC000_0120),
            (Status::CONNECTION_REFUSED, 0xC000_0236),
            (Status::CONNECTION_RESET, 0xC000_020D),
            (Status::CONNECTION_DISCONNECTED, 0xC000_020C),
            (Status::CONNECTION_ABORTED, 0xC000_0241),
            (Status::IO_TIMEOUT, 0xC000_00B5),
            (Status::HOST_UNREACHABLE, 0xC000_023D),
            (Status::NETWORK_UNREACHABLE, 0xC000_023C),
            (Status::BAD_NETWORK_PATH, 0xC000_00BE),
            (Status::BAD_NETWORK_NAME, 0xC000_00CC),
            (Status::NOT_SUPPORTED, 0xC000_00BB),
            (Status::NOT_IMPLEMENTED, 0xC000_0002),
            (Status::INVALID_DEVICE_STATE, 0xC000_0184),
            (Status::ADDRESS_NOT_ASSOCIATED, 0xC000_0239),
            (Status::LOCAL_DISCONNECT, 0xC000_013B),
            (Status::REMOTE_DISCONNECT, 0xC000_013C),
            (Status::INVALID_CONNECTION, 0xC000_0140),
            (Status::UNHANDLED_EXCEPTION, 0xC000_0144),
        ];
        for (status, code) in expected {
            assert_eq!(status.code(), *code, "{}", status.name());
        }
    }

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut names: Vec<_> = Status::ALL.iter().map(|s| s.name()).collect();
        assert!(names.iter().all(|n| n.starts_with("STATUS_")));
        let mut codes: Vec<_> = Status::ALL.iter().map(|s| s.code()).collect();
        names.sort_unstable();
        names.dedup();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(names.len(), Status::ALL.len());
        assert_eq!(codes.len(), Status::ALL.len());
    }

    #[test]
    fn severity_follows_the_top_two_bits() {
        assert_eq!(Status::SUCCESS.severity(), Severity::Success);
        assert_eq!(Status::BUFFER_OVERFLOW.severity(), Severity::Warning);
        assert_eq!(Status::from_code(0x4000_0000).severity(), Severity::Informational);
        assert_eq!(Status::CANCELLED.severity(), Severity::Error);
        assert!(Status::PENDING.is_success());
        assert!(!Status::BUFFER_OVERFLOW.is_success());
        assert!(Status::BUFFER_OVERFLOW.is_warning());
        assert!(Status::IO_TIMEOUT.is_error());
        assert_eq!(Status::CANCELLED.as_ntstatus(), 0xC000_0120u32 as i32);
    }

    #[test]
    fn unknown_codes_still_print() {
        let s = Status::from_code(0xC0DE_0001);
        assert_eq!(s.name(), "STATUS_UNKNOWN");
        assert!(s.to_string().contains("0xC0DE0001"));
    }

    #[test]
    fn io_errors_map_and_keep_their_source() {
        #[cfg(any(unix, windows))]
        for &(errno, ref want) in os_error::SAMPLES {
            let status = Status::from_io(io::Error::from_raw_os_error(errno), "connecting");
            assert_eq!(&status, want, "OS error {errno}");
            let source = status.source().expect("source kept");
            let io = source.downcast_ref::<io::Error>().expect("an io::Error");
            assert_eq!(io.raw_os_error(), Some(errno));
            assert!(status.to_string().contains("connecting"));
        }
        let timed_out = Status::from(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(timed_out, Status::IO_TIMEOUT);
    }

    #[test]
    fn with_message_keeps_code_and_source() {
        let s = Status::from_io(io::Error::from(io::ErrorKind::ConnectionRefused), "first")
            .with_message("connecting to 127.0.0.1:1");
        assert_eq!(s, Status::CONNECTION_REFUSED);
        assert_eq!(s.message(), Some("connecting to 127.0.0.1:1"));
        assert!(s.source().is_some());
        assert_eq!(Status::SUCCESS.ok(), Ok(()));
        assert_eq!(Status::CANCELLED.ok(), Err(Status::CANCELLED));
    }
}

//! `rxce smb`: a minimal read-only SMB2 redirector on the engine's public
//! API — `get` a file, `ls` a directory — over `tcp+smb` or `netbt`.
//!
//! The SMB2 messages, the credit window and the READ pipeline are the
//! sans-I/O state machines of `rxce_smb2`; this module is the thin async
//! driver that moves them over a [`Vc`](rxce::Vc): [`Session`] connects,
//! negotiates (SMB 2.0.2 to 3.1.1), logs on anonymously or as guest through
//! NTLMSSP and connects a tree; its reads go with the payload of every READ
//! answer straight from the socket into the caller's buffer (the handler
//! answers MORE_PROCESSING_REQUIRED with that buffer, and the engine calls
//! data-ready once it is full). Servers that require signing or
//! encryption are refused with STATUS_NOT_SUPPORTED: anonymous and guest
//! sessions have no key to sign or encrypt with.

mod cli;
mod files;
mod get;
mod handler;
mod session;
mod url;

pub use cli::{main, SmbArgs};
pub use files::{OpenFile, ReadBuffers, ReadOptions, ReadSink, ReadStats};
pub use get::{format_filetime, get, list, render_listing, GetOptions, GetReport};
pub use rxce_smb2::directory::DirectoryEntry;
pub use rxce_smb2::ntlmssp::Logon;
pub use session::{ServerInfo, Session, SessionOptions};
pub use url::{SmbTransport, SmbUrl};

/// A status as `rxce smb` prints it: the NTSTATUS name (SMB2 statuses the
/// engine does not name included), the code, and the message.
///
/// ```
/// use rxce::Status;
/// let line = rxce_cli::smb::status_line(&Status::from_code(0xC000_0034).with_message("no such file"));
/// assert_eq!(line, "STATUS_OBJECT_NAME_NOT_FOUND (0xC0000034): no such file");
/// ```
pub fn status_line(status: &rxce::Status) -> String {
    let name = match status.name() {
        "STATUS_UNKNOWN" => rxce_smb2::status::name(status.code()).unwrap_or("STATUS_UNKNOWN"),
        known => known,
    };
    let detail = status.message().unwrap_or(status.text());
    format!("{name} (0x{:08X}): {detail}", status.code())
}

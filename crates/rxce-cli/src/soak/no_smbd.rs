//! No private smbd on Windows: Samba's smbd does not run there, so the
//! soak mixes in only its embedded peers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rxce::Status;

/// Never made here (see the module docs).
#[derive(Debug)]
pub struct PrivateSmbd {
    /// Where direct-hosted SMB (`tcp+smb`) would connect.
    pub direct: SocketAddr,
    /// Where the NetBIOS session service (`netbt`) would connect.
    pub netbt: SocketAddr,
    _never: Infallible,
}

/// None: there is no smbd to find here.
pub fn find_smbd() -> Option<PathBuf> {
    None
}

impl PrivateSmbd {
    /// Refused: there is no smbd here.
    pub fn start(program: &Path) -> Result<PrivateSmbd, Status> {
        Err(Status::NOT_SUPPORTED.with_message(format!("{}: smbd does not run on this OS", program.display())))
    }
}

impl Drop for PrivateSmbd {
    /// Stops nothing: there is never one to stop.
    fn drop(&mut self) {
        match self._never {}
    }
}

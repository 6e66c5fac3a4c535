//! Names of the NT status codes an SMB2 server answers with.

use crate::status::*;

/// The `STATUS_*` name of an NT status code an SMB2 server may answer, or
/// `None` for one this crate does not know.
///
/// ```
/// use rxce_smb2::status;
/// assert_eq!(status::name(status::BAD_NETWORK_NAME), Some("STATUS_BAD_NETWORK_NAME"));
/// assert_eq!(status::name(0xC0FF_EE00), None);
/// ```
pub fn name(code: u32) -> Option<&'static str> {
    Some(match code {
        SUCCESS => "STATUS_SUCCESS",
        PENDING => "STATUS_PENDING",
        NO_MORE_FILES => "STATUS_NO_MORE_FILES",
        INVALID_PARAMETER => "STATUS_INVALID_PARAMETER",
        END_OF_FILE => "STATUS_END_OF_FILE",
        MORE_PROCESSING_REQUIRED => "STATUS_MORE_PROCESSING_REQUIRED",
        ACCESS_DENIED => "STATUS_ACCESS_DENIED",
        OBJECT_NAME_NOT_FOUND => "STATUS_OBJECT_NAME_NOT_FOUND",
        OBJECT_PATH_NOT_FOUND => "STATUS_OBJECT_PATH_NOT_FOUND",
        LOGON_FAILURE => "STATUS_LOGON_FAILURE",
        NOT_SUPPORTED => "STATUS_NOT_SUPPORTED",
        BAD_NETWORK_NAME => "STATUS_BAD_NETWORK_NAME",
        FILE_IS_A_DIRECTORY => "STATUS_FILE_IS_A_DIRECTORY",
        NOT_A_DIRECTORY => "STATUS_NOT_A_DIRECTORY",
        USER_SESSION_DELETED => "STATUS_USER_SESSION_DELETED",
        NETWORK_SESSION_EXPIRED => "STATUS_NETWORK_SESSION_EXPIRED",
        _ => return None,
    })
}

//! RxCeGetLastErrorMessage: the message of the calling thread's last
//! failed routine, in the style of `errno` / `GetLastError`. The status a C
//! routine returns loses the message the Rust API carries ("no transport
//! provider is named ..."); this keeps it, per thread.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use rxce::Status;

thread_local! {
    static LAST: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `status` as the calling thread's last failure.
pub(crate) fn set(status: &Status) {
    // A message never holds NUL in practice; one that did is cut there.
    let text = status.to_string();
    let text = text.split('\0').next().unwrap_or_default();
    let message = CString::new(text).unwrap_or_default();
    // A thread whose locals are being destroyed keeps no message.
    let _ = LAST.try_with(|last| *last.borrow_mut() = message);
}

/// An rxce extension: the message of the last rxce routine that failed on
/// the calling thread, for example `STATUS_INVALID_PARAMETER (0xC000000D):
/// A parameter passed to the routine is not valid. — no transport provider
/// is named "tpc" (known: memory, netbt, tcp, tcp+9p, tcp+rpc, tcp+smb, udp, unix)`: the
/// status's name, code and text, then what went wrong and, when the
/// operating system said why, its error. An empty string when no routine
/// has failed on this thread yet; never NULL.
///
/// Like `errno`, it is set by a routine that fails and left alone by one
/// that succeeds, so read it right after the failure. The string belongs to
/// rxce and stays valid on this thread until the next rxce routine on it
/// fails; copy it to keep it longer.
#[no_mangle]
pub extern "C" fn RxCeGetLastErrorMessage() -> *const c_char {
    LAST.try_with(|last| last.borrow().as_ptr()).unwrap_or(c"".as_ptr())
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    fn last() -> String {
        // SAFETY: the pointer is a NUL-terminated string valid until the
        // next failure on this thread.
        unsafe { CStr::from_ptr(RxCeGetLastErrorMessage()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn the_last_failure_s_message_stays_until_the_next_failure() {
        assert_eq!(last(), "");
        set(&Status::INVALID_PARAMETER.with_message("no transport provider is named \"tpc\""));
        assert!(
            last().starts_with("STATUS_INVALID_PARAMETER (0xC000000D)"),
            "{}",
            last()
        );
        assert!(last().ends_with("no transport provider is named \"tpc\""), "{}", last());
        std::thread::spawn(|| assert_eq!(last(), "", "per thread"))
            .join()
            .unwrap();
    }
}

//! The panic boundary: no Rust panic may unwind into C.
//!
//! Every exported routine runs its body inside [`ffi_boundary!`], which
//! catches a panic and returns STATUS_INTERNAL_ERROR instead, and records
//! every failure's message for RxCeGetLastErrorMessage; the callback
//! handlers use [`callback_boundary!`] so a panic inside rxce-ffi never
//! unwinds into the engine's tasks either.

/// Runs `$body` (a block evaluating to `Result<Status, Status>`: the
/// success code or the failure) and returns its NTSTATUS. A panic becomes
/// STATUS_INTERNAL_ERROR.
macro_rules! ffi_boundary {
    ($body:block) => {{
        let outcome = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> ::std::result::Result<::rxce::Status, ::rxce::Status> { $body },
        ));
        match outcome {
            Ok(Ok(status)) => status.as_ntstatus(),
            Ok(Err(status)) => {
                $crate::last_error::set(&status);
                status.as_ntstatus()
            }
            Err(_) => {
                $crate::last_error::set(
                    &::rxce::Status::from_code($crate::types::STATUS_INTERNAL_ERROR as u32)
                        .with_message("a bug in rxce: a Rust panic was stopped at the C ABI"),
                );
                $crate::types::STATUS_INTERNAL_ERROR
            }
        }
    }};
}

/// Runs `$body` inside a C callback handler; a panic gives `$fallback`.
macro_rules! callback_boundary {
    ($fallback:expr, $body:block) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(_) => $fallback,
        }
    }};
}

pub(crate) use callback_boundary;
pub(crate) use ffi_boundary;

#[cfg(test)]
mod tests {
    use rxce::Status;

    use crate::types::{STATUS_INTERNAL_ERROR, STATUS_PENDING};

    fn quietly<R>(f: impl FnOnce() -> R) -> R {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = f();
        std::panic::set_hook(hook);
        r
    }

    #[test]
    fn a_panic_becomes_internal_error() {
        let status = quietly(|| ffi_boundary!({ panic!("a bug") }));
        assert_eq!(status, STATUS_INTERNAL_ERROR);
    }

    #[test]
    fn success_codes_and_failures_pass_through() {
        assert_eq!(ffi_boundary!({ Ok(Status::PENDING) }), STATUS_PENDING);
        assert_eq!(
            ffi_boundary!({ Err(Status::CONNECTION_RESET) }),
            Status::CONNECTION_RESET.as_ntstatus()
        );
    }

    #[test]
    fn a_panicking_callback_gives_its_fallback() {
        let value: u32 = quietly(|| callback_boundary!(7, { panic!("in a callback") }));
        assert_eq!(value, 7);
        assert_eq!(callback_boundary!(7, { 3 }), 3);
    }
}

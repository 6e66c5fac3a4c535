//! The C types of rxce.h: base types and NTSTATUS codes, the TDI
//! structures, and the RxCe objects and dispatch vectors. Names, member
//! names and member order are the documented ones; `cbindgen` turns these
//! declarations into `include/rxce.h`.

mod base;
mod rxce;
mod tdi;

pub use base::*;
pub use rxce::*;
pub use tdi::*;

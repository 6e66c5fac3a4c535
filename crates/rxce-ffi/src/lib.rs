//! # rxce-ffi — the RxCe routines for C
//!
//! The C ABI of rxce: the routines of the RDBSS connection engine
//! (`RxCeBuildTransport`, `RxCeBuildConnection`, `RxCeSend`, ...) with their
//! documented names, parameter orders, structures and callbacks, over the
//! Rust engine [`rxce`]. C programs use it as the library `rxce`, built and
//! installed by cargo-c:
//!
//! ```sh
//! cargo install --locked cargo-c --version 0.10.24   # once
//! cargo cinstall --release -p rxce-ffi --prefix /usr/local
//! cc app.c $(pkg-config --cflags --libs rxce)
//! ```
//!
//! which installs `librxce.so` (with its SONAME and version links),
//! `librxce.a`, `rxce.h` and `rxce.pc`. The header, generated from this
//! crate by cbindgen and committed as `include/rxce.h`, is the reference
//! for C users; this Rust library (`rxce_ffi`) exports the same routines
//! and [`types`] for Rust code that drives the C ABI (the fuzz targets do).
//!
//! This crate is a skin. Each routine checks its C arguments, converts
//! them (the `convert` module), finds the engine objects behind the
//! caller's structures (the `handles` module), calls the engine and turns
//! the outcome into an NTSTATUS; the dispatch vectors become the engine's
//! handler traits (the `dispatch` module). No Rust panic crosses into C.
//!
//! The engine is process-wide: it starts with the first RxCeBuildTransport
//! and stops when the last transport is torn down, or at `RxCeShutdown` (an
//! rxce addition that a port does not need). The C routines block (except
//! `RxCeBuildConnectionOverMultipleTransports`, which runs on the engine and
//! completes through its routine); called from inside a callback (on an
//! engine thread) they still work, and a tear-down of the object whose
//! callback is running does not wait for that callback.
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]
#![deny(unsafe_op_in_unsafe_fn)]

mod convert;
mod dispatch;
mod engine;
mod handles;
mod helpers;
mod last_error;
mod panic;
mod sync;
pub mod types;

mod address;
mod connection;
mod transport;
mod vc;

pub use address::{RxCeBuildAddress, RxCeResumeDatagramReceive, RxCeSendDatagram, RxCeTearDownAddress};
pub use connection::{
    RxCeBuildConnection, RxCeBuildConnectionOverMultipleTransports, RxCeCancelConnectRequest, RxCeTearDownConnection,
};
pub use engine::RxCeShutdown;
pub use helpers::{
    RxCeInitIp6Address, RxCeInitIpAddress, RxCeInitNetbiosAddress, RxCeInitTransportAddress, RxCeInitUnicodeString,
    RxCeInitUnicodeStringFromUtf8,
};
pub use last_error::RxCeGetLastErrorMessage;
pub use transport::{RxCeBuildTransport, RxCeQueryAdapterStatus, RxCeQueryTransportInformation, RxCeTearDownTransport};
pub use vc::{
    RxCeBuildVC, RxCeInitiateVCDisconnect, RxCeQueryInformation, RxCeResumeReceive, RxCeSend, RxCeTearDownVC,
};

pub(crate) use panic::ffi_boundary;

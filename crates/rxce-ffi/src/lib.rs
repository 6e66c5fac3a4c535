//! # rxce-ffi — the RxCe routines for C
//!
//! The C ABI of rxce: the routines of the RDBSS connection engine
//! (`RxCeBuildTransport`, `RxCeBuildConnection`, `RxCeSend`, ...) with their
//! documented names, parameter orders, structures and callbacks, over the
//! Rust engine. The library is `librxce.so` / `librxce.a`; its header,
//! `include/rxce.h`, is generated from this crate by cbindgen.
//!
//! This crate is a skin. Each routine checks its C arguments, converts them
//! ([`convert`]), finds the engine objects behind the caller's structures
//! ([`handles`]), calls the engine and turns the outcome into an NTSTATUS;
//! the dispatch vectors become the engine's handler traits ([`handlers`]).
//! No Rust panic crosses into C ([`panic`]).
//!
//! The engine is process-wide: it starts with the first build and stops
//! with `RxCeShutdown`. The C routines block (except
//! `RxCeBuildConnectionOverMultipleTransports`, which runs on the engine and
//! completes through its routine); called from inside a callback (on an
//! engine thread) they still work, and a tear-down of the object whose
//! callback is running does not wait for that callback.
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]
#![deny(unsafe_op_in_unsafe_fn)]

mod convert;
mod engine;
mod handlers;
mod handles;
mod panic;
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
pub use transport::{RxCeBuildTransport, RxCeQueryAdapterStatus, RxCeQueryTransportInformation, RxCeTearDownTransport};
pub use vc::{
    RxCeBuildVC, RxCeInitiateVCDisconnect, RxCeQueryInformation, RxCeResumeReceive, RxCeSend, RxCeTearDownVC,
};

pub(crate) use panic::ffi_boundary;

//! # rxce-proto — the sans-I/O core of rxce
//!
//! The values and state machines of the RDBSS connection engine, with no
//! sockets, no runtime and no clock: [`Status`] (NTSTATUS), the TDI value
//! types ([`tdi`]), buffers ([`buffer`]), the engine's byte budget
//! ([`budget`]), the VC as one state machine ([`vc::VcMachine`]) and the
//! race of a multi-transport build ([`race::Race`]). The `rxce` crate
//! drives these with tokio and re-exports every public item a client needs;
//! depend on this crate directly to drive the machines yourself (a custom
//! runtime, a simulator, a fuzzer).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod budget;
pub mod buffer;
pub mod indication;
pub mod race;
pub mod status;
pub mod tdi;
pub mod vc;

pub use buffer::{BufferChain, ReceiveBuffer, SendBuffers};
pub use indication::{DatagramIndication, Indication, ReceiveAnswer};
pub use status::{Severity, Status};

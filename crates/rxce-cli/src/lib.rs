//! The `rxce` command line's parts, as a library so that tests and
//! benchmarks can drive them: endpoint URLs, the peers of `rxce serve`, the
//! SMB probe of `rxce probe`, the demo, the soak of `rxce soak`, and the
//! output helpers.

#![warn(missing_docs)]

pub mod bench;
pub mod connect;
pub mod demo;
pub mod endpoint;
pub mod probe;
pub mod process;
pub mod serve;
pub mod smb;
pub mod soak;
pub mod spinner;
pub mod table;
mod unix;

//! The `rxce` command line's parts, as a library so that tests and
//! benchmarks can drive them: the demo and the table helpers.

#![warn(missing_docs)]

pub mod demo;
pub mod table;

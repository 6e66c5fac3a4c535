//! Conversions between the C structures and the engine's types: names,
//! transport addresses, connection information, MDL chains, and the answers
//! of the query routines (adapter status included). Every pointer a conversion follows comes from the
//! caller of a routine; every length it trusts is checked against the
//! length the caller declared.

mod address;
mod image;
mod info;
mod mdl;
mod name;

pub(crate) use address::{encode_transport_address, transport_address};
pub(crate) use image::AlignedCopy;
pub(crate) use info::{
    adapter_status, connection_information, information_image, provider_info, stored_connection_information,
};
pub(crate) use mdl::{send_buffers, MdlReceiveBuffer};
pub(crate) use name::unicode_string;

use rxce::Status;

/// STATUS_INVALID_PARAMETER with a message.
pub(crate) fn bad(message: impl Into<String>) -> Status {
    Status::INVALID_PARAMETER.with_message(message)
}

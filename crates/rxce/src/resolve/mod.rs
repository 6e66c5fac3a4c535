//! Name resolution: host names through the system resolver ([`dns`],
//! ordered as RFC 8305 wants for racing), and NetBIOS names through the
//! NetBIOS name service ([`netbios`]).

pub(crate) mod dns;
pub(crate) mod netbios;

pub(crate) use dns::{remote_ips, resolve_host};
pub use netbios::resolve_netbios_name;

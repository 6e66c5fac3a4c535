//! Endpoint URLs (`rxce_endpoint::Endpoint::parse`,
//! `Host::parse`, the NetBIOS name parameters).
//!
//! Properties, on every input that is UTF-8:
//! - parsing never panics, and a refusal names its problem (its Display
//!   quotes the URL);
//! - whatever parses prints back (Display) to the canonical URL, which
//!   parses to the same endpoint and prints the same again;
//! - every view of a parsed endpoint (remote and local transport
//!   addresses, listen address, called and calling names, transport name)
//!   can be taken, and a `netbt` endpoint always has a called name;
//! - the same for `Host::parse` (a server as the command line takes it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_endpoint::{parse_called_name, parse_calling_name, Endpoint, Host, Kind};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_endpoint(text);
    check_host(text);
    // The name parameters on their own.
    if let Ok(name) = parse_called_name(text) {
        assert_eq!(parse_called_name(&name.to_string()), Ok(name));
    }
    if let Ok(name) = parse_calling_name(text) {
        assert_eq!(parse_calling_name(&name.to_string()), Ok(name));
    }
});

fn check_endpoint(text: &str) {
    let endpoint = match Endpoint::parse(text) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            assert!(!e.problem().is_empty());
            let _ = e.to_string();
            return;
        }
    };
    let shown = endpoint.to_string();
    let again = Endpoint::parse(&shown).unwrap_or_else(|e| panic!("{text:?} prints as {shown:?}, which fails: {e}"));
    assert_eq!(again, endpoint, "{text:?} prints as {shown:?}");
    assert_eq!(again.to_string(), shown);

    let kind = endpoint.kind();
    assert_eq!(endpoint.transport_name(), kind.transport_name());
    assert!(Kind::ALL.contains(&kind));
    let remote = endpoint.remote_address();
    assert!(!remote.entries.is_empty());
    let _ = remote.to_string();
    let _ = endpoint.local_address().to_string();
    let _ = endpoint.remote();
    let _ = endpoint.listen_address().map_err(|e| e.to_string());
    assert_eq!(endpoint.called_name().is_some(), kind == Kind::Netbt);
    if kind != Kind::Netbt {
        assert_eq!(endpoint.explicit_called_name(), None);
        assert_eq!(endpoint.calling_name(), None);
    }
}

fn check_host(text: &str) {
    if let Ok(host) = Host::parse(text) {
        let shown = host.to_string();
        assert_eq!(Host::parse(&shown), Ok(host.clone()), "{text:?} prints as {shown:?}");
        let _ = (host.default_called_name(), host.entry(445), host.is_ipv6());
    }
}

//! Where an IP transport connects: the IP entry of a remote address, or its
//! host name resolved through the system resolver, IPv6 and IPv4 results
//! interleaved as RFC 8305 (Happy Eyeballs v2) orders them.

use std::net::SocketAddr;

use crate::status::Status;
use crate::tdi::TransportAddress;

/// Interleaves address families, starting with the first result's family
/// (the resolver's preference), keeping each family's own order.
pub(crate) fn interleave(addresses: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addresses.first() else {
        return addresses;
    };
    let first_v6 = first.is_ipv6();
    let (mut preferred, mut other): (Vec<_>, Vec<_>) = addresses.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(preferred.len() + other.len());
    preferred.reverse();
    other.reverse();
    loop {
        match (preferred.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// Resolves `name:port` through the system resolver; a name that does not
/// resolve is STATUS_BAD_NETWORK_PATH.
pub(crate) async fn resolve_host(name: &str, port: u16) -> Result<Vec<SocketAddr>, Status> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| Status::BAD_NETWORK_PATH.with_message(format!("the host name {name:?} does not resolve: {e}")))?
        .collect();
    if found.is_empty() {
        return Err(Status::BAD_NETWORK_PATH.with_message(format!("the host name {name:?} has no address")));
    }
    let mut unique = Vec::with_capacity(found.len());
    for addr in found {
        if !unique.contains(&addr) {
            unique.push(addr);
        }
    }
    Ok(interleave(unique))
}

/// The IP addresses to try for `remote`: its IP entry (a port of 0 becomes
/// `default_port`), else its host name resolved; `None` when it has
/// neither.
pub(crate) async fn remote_ips(
    remote: &TransportAddress,
    default_port: u16,
) -> Option<Result<Vec<SocketAddr>, Status>> {
    let with_port = |a: SocketAddr| {
        if a.port() == 0 {
            SocketAddr::new(a.ip(), default_port)
        } else {
            a
        }
    };
    if let Some(ip) = remote.ip_entry() {
        return Some(Ok(vec![with_port(ip)]));
    }
    let (name, port) = remote.host_name_entry()?;
    let port = if port == 0 { default_port } else { port };
    Some(resolve_host(name, port).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn families_alternate_starting_with_the_first() {
        let got = interleave(vec![
            a("[::1]:1"),
            a("[::2]:1"),
            a("[::3]:1"),
            a("10.0.0.1:1"),
            a("10.0.0.2:1"),
        ]);
        assert_eq!(
            got,
            vec![
                a("[::1]:1"),
                a("10.0.0.1:1"),
                a("[::2]:1"),
                a("10.0.0.2:1"),
                a("[::3]:1")
            ]
        );
        let v4_first = interleave(vec![a("10.0.0.1:1"), a("[::1]:1")]);
        assert_eq!(v4_first, vec![a("10.0.0.1:1"), a("[::1]:1")]);
        assert!(interleave(vec![]).is_empty());
    }

    #[tokio::test]
    async fn localhost_resolves_and_nonsense_is_a_bad_network_path() {
        let found = resolve_host("localhost", 445).await.unwrap();
        assert!(
            found.iter().all(|a| a.ip().is_loopback() && a.port() == 445),
            "{found:?}"
        );
        let err = resolve_host("no-such-host.invalid", 445).await.unwrap_err();
        assert_eq!(err, Status::BAD_NETWORK_PATH);
        let literal = remote_ips(&TransportAddress::host_name("127.0.0.1", 0), 139)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(literal, vec![a("127.0.0.1:139")]);
        assert!(remote_ips(&TransportAddress::memory("x"), 1).await.is_none());
    }
}

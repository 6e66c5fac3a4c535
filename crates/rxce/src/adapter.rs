//! The adapter under a transport (RxCeQueryAdapterStatus): the network
//! interface that carries the transport's local IP, with its hardware
//! address and the counters the kernel keeps for it, in the shape of
//! NetBIOS's `ADAPTER_STATUS` (nb30).
//!
//! **Which interface.** The transport's addresses are taken in the order
//! they were built. The first one with a specific local IP names the
//! interface that owns that IP (interfaces and their IPs are listed with the
//! `if-addrs` crate, as the OS reports them now; an IPv6 link-local address
//! with a scope id must also be on that interface). When the addresses only
//! have the unspecified IP (`0.0.0.0`, `::`), the interface is the one of
//! the default route (the address's family first, then the other; the
//! lowest metric wins; reject routes do not count), or the loopback
//! interface when there is no default route or the OS's is not read (every
//! OS but Linux: see `sys::interface`). A transport with no address, or
//! whose addresses carry no IP (`memory`, `unix`), has no adapter:
//! STATUS_ADDRESS_NOT_ASSOCIATED.
//!
//! **What is reported.** On Linux everything comes from
//! `/sys/class/net/IF/` (a counter file a driver does not provide reads as
//! 0). Other OSes report the interface's name and the engine's own figures;
//! the hardware address, type and counters are 0 and the datagram size is
//! the one every link of the family carries (`sys::interface` says why).
//! Counters wider than their field saturate at the field's maximum:
//!
//! | field | source |
//! |---|---|
//! | `adapter_address` | `address` when it is 6 bytes long (Ethernet, Wi-Fi; all zero for loopback), else zero |
//! | `rev_major`, `rev_minor` | 3, 0: rxce reports the NetBIOS 3.0 interface revision |
//! | `adapter_type` | 0xFE for an Ethernet-framed interface (`type` 1), 0xFF for token ring (`type` 800), 0 for anything else (loopback, tunnels) |
//! | `duration` | 0: Linux does not record when the counters started |
//! | `frmr_recv`, `frmr_xmit`, `t1_timeouts`, `ti_timeouts` | 0: Linux runs no LLC2 link layer, so there are no frame rejects or LLC timers |
//! | `iframe_recv_err` | `statistics/rx_errors` |
//! | `iframe_xmit_err` | `statistics/tx_errors` |
//! | `xmit_aborts` | `statistics/tx_aborted_errors` |
//! | `xmit_success` | `statistics/tx_packets` |
//! | `recv_success` | `statistics/rx_packets` |
//! | `recv_buff_unavail` | `statistics/rx_dropped` |
//! | `xmit_buf_unavail` | `statistics/tx_dropped` |
//! | `max_dgram_size` | `mtu` less the IP and UDP headers of the address's family (the largest unfragmented UDP datagram); where the MTU is not read, the minimum MTU of the family (576 for IPv4, 1280 for IPv6) less the same headers |
//! | `pending_sess` | the transport's live VCs |
//! | `max_sess`, `max_cfg_sess` | how many VCs the engine's budget can hold |
//! | `max_sess_pkt_size` | the provider's largest send (65535 when it has no limit) |
//! | `free_ncbs`, `max_cfg_ncbs`, `max_ncbs` | 0: rxce has no network control blocks |
//! | `name_count` | 0: rxce registers no NetBIOS names (it only queries them), so no name entries follow |

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::budget::cost;
use crate::status::Status;
use crate::sys::interface::{self as os, InterfaceFacts, LinkKind};
use crate::transport::TransportShared;

/// What RxCeQueryAdapterStatus reports about a transport's adapter, field
/// for field nb30's `ADAPTER_STATUS` (see the module docs for where each
/// value comes from), plus the interface's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterStatus {
    /// The network interface (`eth0`, `lo`, ...).
    pub interface: String,
    /// The interface's hardware address (zero for loopback, or when it is
    /// not 6 bytes long).
    pub adapter_address: [u8; 6],
    /// Major revision: 3.
    pub rev_major: u8,
    /// Minor revision: 0.
    pub rev_minor: u8,
    /// 0xFE Ethernet, 0xFF token ring, 0 anything else (loopback).
    pub adapter_type: u8,
    /// Minutes the counters cover: 0, unknown.
    pub duration: u16,
    /// FRMR frames received: 0.
    pub frmr_recv: u16,
    /// FRMR frames sent: 0.
    pub frmr_xmit: u16,
    /// Receive errors (`rx_errors`).
    pub iframe_recv_err: u16,
    /// Aborted transmissions (`tx_aborted_errors`).
    pub xmit_aborts: u16,
    /// Packets sent (`tx_packets`).
    pub xmit_success: u32,
    /// Packets received (`rx_packets`).
    pub recv_success: u32,
    /// Transmit errors (`tx_errors`).
    pub iframe_xmit_err: u16,
    /// Received packets dropped (`rx_dropped`).
    pub recv_buff_unavail: u16,
    /// T1 timer expirations: 0.
    pub t1_timeouts: u16,
    /// Ti timer expirations: 0.
    pub ti_timeouts: u16,
    /// Free network control blocks: 0.
    pub free_ncbs: u16,
    /// Configured maximum of network control blocks: 0.
    pub max_cfg_ncbs: u16,
    /// Maximum of network control blocks: 0.
    pub max_ncbs: u16,
    /// Packets dropped on transmit (`tx_dropped`).
    pub xmit_buf_unavail: u16,
    /// The largest unfragmented UDP datagram over the interface.
    pub max_dgram_size: u16,
    /// VCs live over the transport.
    pub pending_sess: u16,
    /// VCs the engine's budget can hold.
    pub max_cfg_sess: u16,
    /// VCs the engine's budget can hold.
    pub max_sess: u16,
    /// The provider's largest send (65535 when unlimited).
    pub max_sess_pkt_size: u16,
    /// NetBIOS names registered on the transport: 0.
    pub name_count: u16,
}

/// The smallest MTU every link of the family carries (RFC 791, RFC 8200).
const MIN_MTU_V4: u64 = 576;
const MIN_MTU_V6: u64 = 1280;

/// RxCeQueryAdapterStatus for `transport` (checked valid by the caller).
pub(crate) fn query(transport: &TransportShared) -> Result<AdapterStatus, Status> {
    let local = adapter_ip(transport)?;
    let interface = interface_of(local)?;
    let facts = os::facts(&interface).unwrap_or_default();
    let mut status = status_of(interface, &facts, local.is_ipv4());
    let vcs: usize = transport
        .addresses
        .snapshot()
        .iter()
        .flat_map(|a| a.connections.snapshot())
        .map(|c| c.vcs.len())
        .sum();
    status.pending_sess = saturate16(vcs as u64);
    let sessions = saturate16((transport.engine.budget.limit() / cost::VC) as u64);
    status.max_sess = sessions;
    status.max_cfg_sess = sessions;
    status.max_sess_pkt_size = match transport.info.max_send_size {
        0 => u16::MAX,
        n => saturate16(u64::from(n)),
    };
    Ok(status)
}

fn saturate16(n: u64) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn saturate32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn not_associated(why: impl Into<String>) -> Status {
    Status::ADDRESS_NOT_ASSOCIATED.with_message(why)
}

/// The local IP that names the adapter: the first address (in build order)
/// with a specific IP, else the first with the unspecified one.
fn adapter_ip(transport: &TransportShared) -> Result<SocketAddr, Status> {
    let mut addresses = transport.addresses.snapshot();
    if addresses.is_empty() {
        return Err(not_associated(format!(
            "no address is built on the {} transport",
            transport.name
        )));
    }
    addresses.sort_by_key(|a| a.id);
    let ips: Vec<SocketAddr> = addresses.iter().filter_map(|a| a.local.ip_entry()).collect();
    ips.iter()
        .find(|ip| !ip.ip().is_unspecified())
        .or_else(|| ips.first())
        .copied()
        .ok_or_else(|| {
            not_associated(format!(
                "the addresses of the {} transport have no IP, so no network adapter",
                transport.name
            ))
        })
}

/// The interface that carries `local`.
fn interface_of(local: SocketAddr) -> Result<String, Status> {
    let interfaces = if_addrs::get_if_addrs().map_err(|e| Status::from_io(e, "listing the network interfaces"))?;
    let ip = canonical(local.ip());
    if ip.is_unspecified() {
        let (own, other) = (os::default_route(ip.is_ipv4()), os::default_route(!ip.is_ipv4()));
        return Ok(own
            .or(other)
            .or_else(|| loopback_interface(&interfaces))
            .unwrap_or_else(|| "lo".to_owned()));
    }
    let scope = match local {
        SocketAddr::V6(v6) if is_link_local_v6(v6.ip()) => v6.scope_id(),
        _ => 0,
    };
    interfaces
        .iter()
        .find(|i| canonical(i.ip()) == ip && (scope == 0 || i.index == Some(scope)))
        .map(|i| i.name.clone())
        .ok_or_else(|| not_associated(format!("no network interface carries {ip} now")))
}

/// IPv4-mapped IPv6 addresses are their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn is_link_local_v6(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xFFC0 == 0xFE80
}

/// The interface that carries a loopback IP.
fn loopback_interface(interfaces: &[if_addrs::Interface]) -> Option<String> {
    interfaces.iter().find(|i| i.is_loopback()).map(|i| i.name.clone())
}

/// The status of `interface` from what the OS says of it, with the
/// datagram size of the family of the transport's IP; the engine's own
/// figures are filled in by the caller.
fn status_of(interface: String, facts: &InterfaceFacts, ipv4: bool) -> AdapterStatus {
    let (headers, min_mtu) = if ipv4 {
        (20 + 8, MIN_MTU_V4)
    } else {
        (40 + 8, MIN_MTU_V6)
    };
    AdapterStatus {
        interface,
        adapter_address: facts.hardware_address,
        rev_major: 3,
        rev_minor: 0,
        adapter_type: match facts.kind {
            LinkKind::Ethernet => 0xFE,
            LinkKind::TokenRing => 0xFF,
            LinkKind::Other => 0,
        },
        duration: 0,
        frmr_recv: 0,
        frmr_xmit: 0,
        iframe_recv_err: saturate16(facts.rx_errors),
        xmit_aborts: saturate16(facts.tx_aborted),
        xmit_success: saturate32(facts.tx_packets),
        recv_success: saturate32(facts.rx_packets),
        iframe_xmit_err: saturate16(facts.tx_errors),
        recv_buff_unavail: saturate16(facts.rx_dropped),
        t1_timeouts: 0,
        ti_timeouts: 0,
        free_ncbs: 0,
        max_cfg_ncbs: 0,
        max_ncbs: 0,
        xmit_buf_unavail: saturate16(facts.tx_dropped),
        max_dgram_size: saturate16(facts.mtu.unwrap_or(min_mtu).saturating_sub(headers)),
        pending_sess: 0,
        max_cfg_sess: 0,
        max_sess: 0,
        max_sess_pkt_size: 0,
        name_count: 0,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use super::*;
    use crate::{Engine, EngineConfig, NoEvents, TransportAddress};

    fn engine() -> Engine {
        Engine::new(EngineConfig::default()).unwrap()
    }

    fn listed() -> Vec<if_addrs::Interface> {
        if_addrs::get_if_addrs().unwrap()
    }

    /// Some packets over loopback, so its counters move.
    fn loopback_traffic() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).unwrap();
    }

    #[test]
    fn a_loopback_address_reports_the_loopback_adapter() {
        let engine = engine();
        let transport = engine.build_transport("tcp", 0).unwrap();
        let local = TransportAddress::ip("127.0.0.1:0".parse().unwrap());
        let _address = transport.build_address(local, Arc::new(NoEvents)).unwrap();
        loopback_traffic();
        let status = transport.query_adapter_status().unwrap();
        assert_eq!(Some(status.interface.clone()), loopback_interface(&listed()));
        assert_eq!(status.adapter_address, [0; 6], "loopback has no hardware address");
        assert_ne!(status.adapter_type, 0xFE, "loopback is not Ethernet");
        assert_eq!((status.rev_major, status.rev_minor), (3, 0));
        if cfg!(any(target_os = "linux", target_os = "android")) {
            assert!(status.xmit_success > 0 && status.recv_success > 0, "{status:?}");
        }
        assert!(status.max_dgram_size >= 512, "{status:?}");
        assert_eq!(status.name_count, 0);
        assert_eq!(status.max_sess_pkt_size, u16::MAX, "bare tcp has no largest send");
        assert!(status.max_sess > 0 && status.max_sess == status.max_cfg_sess);
        assert_eq!(status.pending_sess, 0);
    }

    #[test]
    fn ipv6_loopback_reports_the_same_adapter() {
        if std::net::TcpListener::bind("[::1]:0").is_err() {
            return; // no IPv6 on this host
        }
        let engine = engine();
        let transport = engine.build_transport("tcp", 0).unwrap();
        let local = TransportAddress::ip("[::1]:0".parse().unwrap());
        let _address = transport.build_address(local, Arc::new(NoEvents)).unwrap();
        let status = transport.query_adapter_status().unwrap();
        assert_eq!(Some(status.interface), loopback_interface(&listed()));
    }

    #[test]
    fn the_first_specific_address_wins_over_the_unspecified() {
        let engine = engine();
        let transport = engine.build_transport("udp", 0).unwrap();
        let any = TransportAddress::ip("0.0.0.0:0".parse().unwrap());
        let _any = transport.build_address(any, Arc::new(NoEvents)).unwrap();
        let unspecified = transport.query_adapter_status().unwrap();
        let expected = os::default_route(true)
            .or_else(|| os::default_route(false))
            .or_else(|| loopback_interface(&listed()));
        assert_eq!(Some(unspecified.interface), expected);
        let loopback = TransportAddress::ip("127.0.0.1:0".parse().unwrap());
        let _loopback = transport.build_address(loopback, Arc::new(NoEvents)).unwrap();
        let specific = transport.query_adapter_status().unwrap();
        assert_eq!(Some(specific.interface), loopback_interface(&listed()));
    }

    #[test]
    fn transports_without_an_ip_have_no_adapter() {
        let engine = engine();
        let tcp = engine.build_transport("tcp", 0).unwrap();
        assert_eq!(
            tcp.query_adapter_status().unwrap_err(),
            Status::ADDRESS_NOT_ASSOCIATED,
            "no address yet"
        );
        let memory = engine.build_transport("memory", 0).unwrap();
        let _address = memory
            .build_address(TransportAddress::memory("adapter-test"), Arc::new(NoEvents))
            .unwrap();
        assert_eq!(
            memory.query_adapter_status().unwrap_err(),
            Status::ADDRESS_NOT_ASSOCIATED
        );
        if cfg!(unix) {
            let unix = engine.build_transport("unix", 0).unwrap();
            let empty = TransportAddress::new(crate::TaAddress::Unix(Vec::new()));
            let _unix_address = unix.build_address(empty, Arc::new(NoEvents)).unwrap();
            assert_eq!(unix.query_adapter_status().unwrap_err(), Status::ADDRESS_NOT_ASSOCIATED);
        }
        engine.runtime().clone().block_on(tcp.tear_down()).unwrap();
        assert_eq!(tcp.query_adapter_status().unwrap_err(), Status::INVALID_HANDLE);
    }

    #[test]
    fn mapped_and_scoped_addresses_are_matched_as_the_kernel_lists_them() {
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(canonical(mapped), IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        assert!(is_link_local_v6(&"fe80::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"fd00::1".parse().unwrap()));
        assert!(interface_of("192.0.2.77:0".parse().unwrap()).is_err_and(|s| s == Status::ADDRESS_NOT_ASSOCIATED));
    }

    #[test]
    fn a_link_local_address_needs_its_own_interface_s_scope() {
        let Some((interface, ip, index)) = listed().into_iter().find_map(|i| match i.addr {
            if_addrs::IfAddr::V6(ref v6) if is_link_local_v6(&v6.ip) => Some((i.name.clone(), v6.ip, i.index?)),
            _ => None,
        }) else {
            eprintln!("skipped: no interface has an IPv6 link-local address");
            return;
        };
        let at = |scope| SocketAddr::V6(std::net::SocketAddrV6::new(ip, 0, 0, scope));
        assert_eq!(interface_of(at(index)).unwrap(), interface);
        assert_eq!(
            interface_of(at(0)).unwrap(),
            interface,
            "no scope: any interface with the IP"
        );
        assert!(interface_of(at(index + 1000)).is_err_and(|s| s == Status::ADDRESS_NOT_ASSOCIATED));
    }

    #[test]
    fn what_the_os_does_not_say_is_zero_and_the_datagram_fits_any_link() {
        let v4 = status_of("en0".to_owned(), &InterfaceFacts::default(), true);
        assert_eq!(v4.max_dgram_size, 576 - 28);
        assert_eq!((v4.adapter_address, v4.adapter_type, v4.xmit_success), ([0; 6], 0, 0));
        let v6 = status_of("en0".to_owned(), &InterfaceFacts::default(), false);
        assert_eq!(v6.max_dgram_size, 1280 - 48);
        let facts = InterfaceFacts {
            kind: LinkKind::Ethernet,
            mtu: Some(9000),
            tx_packets: u64::MAX,
            rx_errors: 70_000,
            ..InterfaceFacts::default()
        };
        let jumbo = status_of("eth0".to_owned(), &facts, true);
        assert_eq!(jumbo.adapter_type, 0xFE);
        assert_eq!(jumbo.max_dgram_size, 9000 - 28);
        assert_eq!(
            (jumbo.xmit_success, jumbo.iframe_recv_err),
            (u32::MAX, u16::MAX),
            "saturated"
        );
    }
}

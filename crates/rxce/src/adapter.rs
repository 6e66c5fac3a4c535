//! The adapter under a transport (RxCeQueryAdapterStatus): the network
//! interface that carries the transport's local IP, with its hardware
//! address and the counters the kernel keeps for it, in the shape of
//! NetBIOS's `ADAPTER_STATUS` (nb30).
//!
//! **Which interface.** The transport's addresses are taken in the order
//! they were built. The first one with a specific local IP names the
//! interface that owns that IP (found with `getifaddrs`, as the kernel
//! reports it now; an IPv6 link-local address with a scope id must also be
//! on that interface). When the addresses only have the unspecified IP
//! (`0.0.0.0`, `::`), the interface is the one of the default route (the
//! address's family first, then the other; the lowest metric wins; reject
//! routes do not count), or the loopback interface when there is no default
//! route. A transport with no address, or whose addresses carry no IP
//! (`memory`, `unix`), has no adapter: STATUS_ADDRESS_NOT_ASSOCIATED.
//!
//! **What is reported.** Everything comes from `/sys/class/net/IF/` (a
//! counter file a driver does not provide reads as 0); counters wider than
//! their field saturate at the field's maximum:
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
//! | `max_dgram_size` | `mtu` less the IP and UDP headers of the address's family (the largest unfragmented UDP datagram) |
//! | `pending_sess` | the transport's live VCs |
//! | `max_sess`, `max_cfg_sess` | how many VCs the engine's budget can hold |
//! | `max_sess_pkt_size` | the provider's largest send (65535 when it has no limit) |
//! | `free_ncbs`, `max_cfg_ncbs`, `max_ncbs` | 0: rxce has no network control blocks |
//! | `name_count` | 0: rxce registers no NetBIOS names (it only queries them), so no name entries follow |

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::budget::cost;
use crate::status::Status;
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

/// `/sys/class/net/IF/type` of an Ethernet-framed interface (ARPHRD_ETHER).
const ARPHRD_ETHER: u32 = 1;
/// `/sys/class/net/IF/type` of a token ring interface (ARPHRD_IEEE802_TR).
const ARPHRD_IEEE802_TR: u32 = 800;
/// Route flags of `/proc/net/route` and `/proc/net/ipv6_route`.
const RTF_UP: u32 = 0x0001;
const RTF_REJECT: u32 = 0x0200;

/// RxCeQueryAdapterStatus for `transport` (checked valid by the caller).
pub(crate) fn query(transport: &TransportShared) -> Result<AdapterStatus, Status> {
    let local = adapter_ip(transport)?;
    let interface = interface_of(local)?;
    let sysfs = Path::new("/sys/class/net").join(&interface);
    let mut status = read_interface(&sysfs, &interface, local.is_ipv4())?;
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
    let interfaces = interfaces().map_err(|e| Status::from_io(e, "listing the network interfaces"))?;
    let ip = canonical(local.ip());
    if ip.is_unspecified() {
        let (own, other) = if ip.is_ipv4() {
            (default_route_v4(), default_route_v6())
        } else {
            (default_route_v6(), default_route_v4())
        };
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
        .find(|i| {
            i.ip.is_some_and(|(at, index)| at == ip && (scope == 0 || index == scope))
        })
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

fn loopback_interface(interfaces: &[Interface]) -> Option<String> {
    interfaces
        .iter()
        .find(|i| i.flags & libc::IFF_LOOPBACK as u32 != 0)
        .map(|i| i.name.clone())
}

/// One entry of `getifaddrs`: an interface, with one of its IPs (and the
/// interface's index, for IPv6 scope ids) when the entry carries one.
#[derive(Debug)]
struct Interface {
    name: String,
    flags: u32,
    ip: Option<(IpAddr, u32)>,
}

/// The interfaces and their IPs, as the kernel reports them now.
fn interfaces() -> io::Result<Vec<Interface>> {
    /// Frees the list `getifaddrs` allocated.
    struct List(*mut libc::ifaddrs);
    impl Drop for List {
        fn drop(&mut self) {
            // SAFETY: the pointer came from a successful getifaddrs and is
            // freed exactly once, here.
            unsafe { libc::freeifaddrs(self.0) }
        }
    }

    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs only writes the list's head into `head`, a valid
    // local; on failure it writes nothing and returns -1.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let list = List(head);
    let mut out = Vec::new();
    let mut at = list.0;
    while !at.is_null() {
        // SAFETY: `at` is an entry of the list getifaddrs made, which stays
        // allocated until `list` drops at the end of this function.
        let entry = unsafe { &*at };
        at = entry.ifa_next;
        if entry.ifa_name.is_null() {
            continue;
        }
        // SAFETY: a non-NULL `ifa_name` is a NUL-terminated string of the list.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: a non-NULL `ifa_addr` points to a socket address of the
        // list whose `sa_family` says its type and so its size.
        let ip = unsafe { socket_ip(entry.ifa_addr) };
        let ip = ip.map(|(ip, scope)| {
            let index = if scope != 0 { scope } else { interface_index(&name) };
            (canonical(ip), index)
        });
        out.push(Interface {
            name,
            flags: entry.ifa_flags,
            ip,
        });
    }
    Ok(out)
}

/// The IP of a socket address of the IPv4 or IPv6 family (with its IPv6
/// scope id), or `None`.
///
/// # Safety
///
/// `address` is NULL or points to a readable socket address whose size is
/// the one its `sa_family` implies.
unsafe fn socket_ip(address: *const libc::sockaddr) -> Option<(IpAddr, u32)> {
    if address.is_null() {
        return None;
    }
    // SAFETY: readable by the caller's promise; every socket address begins
    // with a `sockaddr`, and read_unaligned makes no alignment assumption.
    let family = unsafe { address.read_unaligned() }.sa_family;
    match i32::from(family) {
        libc::AF_INET => {
            // SAFETY: an AF_INET address is a whole `sockaddr_in`.
            let v4 = unsafe { address.cast::<libc::sockaddr_in>().read_unaligned() };
            Some((IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))), 0))
        }
        libc::AF_INET6 => {
            // SAFETY: an AF_INET6 address is a whole `sockaddr_in6`.
            let v6 = unsafe { address.cast::<libc::sockaddr_in6>().read_unaligned() };
            Some((IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)), v6.sin6_scope_id))
        }
        _ => None,
    }
}

/// The interface's index (`/sys/class/net/IF/ifindex`), 0 when unknown.
fn interface_index(name: &str) -> u32 {
    read_number(&Path::new("/sys/class/net").join(name).join("ifindex")).unwrap_or(0) as u32
}

/// The interface of the IPv4 default route with the lowest metric.
fn default_route_v4() -> Option<String> {
    std::fs::read_to_string("/proc/net/route")
        .ok()
        .and_then(|table| parse_default_route_v4(&table))
}

/// The interface of the IPv6 default route with the lowest metric.
fn default_route_v6() -> Option<String> {
    std::fs::read_to_string("/proc/net/ipv6_route")
        .ok()
        .and_then(|table| parse_default_route_v6(&table))
}

/// `/proc/net/route`: `Iface Destination Gateway Flags RefCnt Use Metric
/// Mask ...`, hexadecimal, a header line first.
fn parse_default_route_v4(table: &str) -> Option<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (name, destination, flags, metric, mask) = (f.first()?, f.get(1)?, f.get(3)?, f.get(6)?, f.get(7)?);
            let flags = u32::from_str_radix(flags, 16).ok()?;
            let default = u32::from_str_radix(destination, 16).ok()? == 0 && u32::from_str_radix(mask, 16).ok()? == 0;
            (default && flags & RTF_UP != 0 && flags & RTF_REJECT == 0)
                .then(|| (metric.parse::<u32>().unwrap_or(u32::MAX), name.to_string()))
        })
        .min()
        .map(|(_, name)| name)
}

/// `/proc/net/ipv6_route`: `destination prefix-length source prefix-length
/// next-hop metric refcount use flags device`, hexadecimal, no header.
fn parse_default_route_v6(table: &str) -> Option<String> {
    table
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let default = f[0].bytes().all(|b| b == b'0') && f[1] == "00";
            let metric = u32::from_str_radix(f[5], 16).ok()?;
            let flags = u32::from_str_radix(f[8], 16).ok()?;
            (default && flags & RTF_UP != 0 && flags & RTF_REJECT == 0).then(|| (metric, f[9].to_owned()))
        })
        .min()
        .map(|(_, name)| name)
}

/// A decimal number in a sysfs file.
fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `aa:bb:cc:dd:ee:ff` as 6 bytes; anything else (no hardware address, or
/// one of another length) is zero.
fn parse_mac(text: &str) -> [u8; 6] {
    let bytes: Vec<u8> = text
        .trim()
        .split(':')
        .map_while(|part| u8::from_str_radix(part, 16).ok())
        .collect();
    <[u8; 6]>::try_from(bytes.as_slice()).unwrap_or([0; 6])
}

/// The status of the interface whose sysfs directory is `dir`, with the
/// datagram size of the family of the transport's IP.
fn read_interface(dir: &Path, interface: &str, ipv4: bool) -> Result<AdapterStatus, Status> {
    if interface.is_empty() || interface.contains('/') || interface.starts_with('.') || !dir.is_dir() {
        return Err(Status::NOT_SUPPORTED.with_message(format!(
            "the status of adapter {interface:?} comes from {}, which is not there",
            dir.display()
        )));
    }
    let statistic = |name: &str| -> u64 {
        let path: PathBuf = dir.join("statistics").join(name);
        read_number(&path).unwrap_or(0)
    };
    let kind = read_number(&dir.join("type")).unwrap_or(0);
    let adapter_type = match u32::try_from(kind) {
        Ok(ARPHRD_ETHER) => 0xFE,
        Ok(ARPHRD_IEEE802_TR) => 0xFF,
        _ => 0,
    };
    let mac = std::fs::read_to_string(dir.join("address")).map_or([0; 6], |text| parse_mac(&text));
    let headers: u64 = if ipv4 { 20 + 8 } else { 40 + 8 };
    let mtu = read_number(&dir.join("mtu")).unwrap_or(0);
    Ok(AdapterStatus {
        interface: interface.to_owned(),
        adapter_address: mac,
        rev_major: 3,
        rev_minor: 0,
        adapter_type,
        duration: 0,
        frmr_recv: 0,
        frmr_xmit: 0,
        iframe_recv_err: saturate16(statistic("rx_errors")),
        xmit_aborts: saturate16(statistic("tx_aborted_errors")),
        xmit_success: saturate32(statistic("tx_packets")),
        recv_success: saturate32(statistic("rx_packets")),
        iframe_xmit_err: saturate16(statistic("tx_errors")),
        recv_buff_unavail: saturate16(statistic("rx_dropped")),
        t1_timeouts: 0,
        ti_timeouts: 0,
        free_ncbs: 0,
        max_cfg_ncbs: 0,
        max_ncbs: 0,
        xmit_buf_unavail: saturate16(statistic("tx_dropped")),
        max_dgram_size: saturate16(mtu.saturating_sub(headers)),
        pending_sess: 0,
        max_cfg_sess: 0,
        max_sess: 0,
        max_sess_pkt_size: 0,
        name_count: 0,
    })
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
        assert_eq!(
            Some(status.interface.clone()),
            loopback_interface(&interfaces().unwrap())
        );
        assert_eq!(status.adapter_address, [0; 6], "loopback has no hardware address");
        assert_ne!(status.adapter_type, 0xFE, "loopback is not Ethernet");
        assert_eq!((status.rev_major, status.rev_minor), (3, 0));
        assert!(status.xmit_success > 0 && status.recv_success > 0, "{status:?}");
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
        assert_eq!(Some(status.interface), loopback_interface(&interfaces().unwrap()));
    }

    #[test]
    fn the_first_specific_address_wins_over_the_unspecified() {
        let engine = engine();
        let transport = engine.build_transport("udp", 0).unwrap();
        let any = TransportAddress::ip("0.0.0.0:0".parse().unwrap());
        let _any = transport.build_address(any, Arc::new(NoEvents)).unwrap();
        let unspecified = transport.query_adapter_status().unwrap();
        let expected = default_route_v4()
            .or_else(default_route_v6)
            .or_else(|| loopback_interface(&interfaces().unwrap()));
        assert_eq!(Some(unspecified.interface), expected);
        let loopback = TransportAddress::ip("127.0.0.1:0".parse().unwrap());
        let _loopback = transport.build_address(loopback, Arc::new(NoEvents)).unwrap();
        let specific = transport.query_adapter_status().unwrap();
        assert_eq!(Some(specific.interface), loopback_interface(&interfaces().unwrap()));
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
        let unix = engine.build_transport("unix", 0).unwrap();
        let empty = TransportAddress::new(crate::TaAddress::Unix(Vec::new()));
        let _unix_address = unix.build_address(empty, Arc::new(NoEvents)).unwrap();
        assert_eq!(unix.query_adapter_status().unwrap_err(), Status::ADDRESS_NOT_ASSOCIATED);
        engine.runtime().clone().block_on(tcp.tear_down()).unwrap();
        assert_eq!(tcp.query_adapter_status().unwrap_err(), Status::INVALID_HANDLE);
    }

    #[test]
    fn default_routes_are_read_from_the_route_tables() {
        let v4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                  eth1\t00000000\t010200C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
                  eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                  eth2\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(parse_default_route_v4(v4).as_deref(), Some("eth0"));
        assert_eq!(parse_default_route_v4("Iface\tDestination\n"), None);
        let v6 = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 \
                  00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
                  00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                  fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n\
                  00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                  00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
        assert_eq!(
            parse_default_route_v6(v6).as_deref(),
            Some("eth0"),
            "reject routes do not count"
        );
        let only_reject = v6.lines().last().unwrap();
        assert_eq!(parse_default_route_v6(only_reject), None);
    }

    #[test]
    fn hardware_addresses_parse_or_are_zero() {
        assert_eq!(parse_mac("02:fc:00:00:00:01\n"), [2, 0xfc, 0, 0, 0, 1]);
        assert_eq!(parse_mac("00:00:00:00:00:00"), [0; 6]);
        assert_eq!(parse_mac(""), [0; 6]);
        assert_eq!(parse_mac("80:00:02:08:fe:80:00:00:00:00:00:00"), [0; 6]);
    }

    #[test]
    fn mapped_and_scoped_addresses_are_matched_as_the_kernel_lists_them() {
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(canonical(mapped), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(is_link_local_v6(&"fe80::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"fd00::1".parse().unwrap()));
        assert!(interface_of("192.0.2.77:0".parse().unwrap()).is_err_and(|s| s == Status::ADDRESS_NOT_ASSOCIATED));
    }
}

//! What the OS says about a network interface beyond its addresses (those
//! come from the `if-addrs` crate on every OS): its hardware address, kind,
//! MTU and traffic counters, and which interface carries the default route.
//! RxCeQueryAdapterStatus reports them (see `adapter`).
//!
//! | OS | facts | default route |
//! |---|---|---|
//! | Linux, Android | `/sys/class/net/IF/` | `/proc/net/route`, `/proc/net/ipv6_route` |
//! | anything else | not read (`None`): reported as 0 | not read (`None`) |
//!
//! Elsewhere the facts need each OS's own interface (`getifaddrs`' `if_data`
//! on macOS and FreeBSD, `GetIfEntry2` on Windows), which no maintained
//! crate wraps with packet and error counters; they stay unread until a
//! machine of that kind can test them.

/// What the adapter status reports about an interface, beyond its name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct InterfaceFacts {
    /// The hardware address when it is 6 bytes long, else zero.
    pub hardware_address: [u8; 6],
    /// How frames on the link are framed.
    pub kind: LinkKind,
    /// The largest IP packet the link carries, when known.
    pub mtu: Option<u64>,
    /// Packets received and sent.
    pub rx_packets: u64,
    pub tx_packets: u64,
    /// Receive and transmit errors.
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Aborted transmissions.
    pub tx_aborted: u64,
    /// Packets dropped on receive and on transmit.
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

/// The framing of an interface's link layer, as far as NetBIOS tells them
/// apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
// Only Linux reads the link type (see the module docs).
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
pub(crate) enum LinkKind {
    /// Ethernet framing (Ethernet, Wi-Fi, veth).
    Ethernet,
    /// Token ring.
    TokenRing,
    /// Anything else: loopback, tunnels, or not known.
    #[default]
    Other,
}

pub(crate) use os::{default_route, facts};

#[cfg(any(target_os = "linux", target_os = "android"))]
mod os {
    use std::path::Path;

    use super::{InterfaceFacts, LinkKind};

    /// `/sys/class/net/IF/type` of an Ethernet-framed interface (ARPHRD_ETHER).
    const ARPHRD_ETHER: u64 = 1;
    /// `/sys/class/net/IF/type` of a token ring interface (ARPHRD_IEEE802_TR).
    const ARPHRD_IEEE802_TR: u64 = 800;
    /// Route flags of `/proc/net/route` and `/proc/net/ipv6_route`.
    const RTF_UP: u32 = 0x0001;
    const RTF_REJECT: u32 = 0x0200;

    /// The facts of `interface` from its sysfs directory (a counter file a
    /// driver does not provide reads as 0); `None` when the directory is not
    /// there (no sysfs mounted, or the interface went away).
    pub(crate) fn facts(interface: &str) -> Option<InterfaceFacts> {
        if interface.is_empty() || interface.contains('/') || interface.starts_with('.') {
            return None;
        }
        let dir = Path::new("/sys/class/net").join(interface);
        if !dir.is_dir() {
            return None;
        }
        let statistic = |name: &str| read_number(&dir.join("statistics").join(name)).unwrap_or(0);
        Some(InterfaceFacts {
            hardware_address: std::fs::read_to_string(dir.join("address")).map_or([0; 6], |text| parse_mac(&text)),
            kind: match read_number(&dir.join("type")) {
                Some(ARPHRD_ETHER) => LinkKind::Ethernet,
                Some(ARPHRD_IEEE802_TR) => LinkKind::TokenRing,
                _ => LinkKind::Other,
            },
            mtu: read_number(&dir.join("mtu")),
            rx_packets: statistic("rx_packets"),
            tx_packets: statistic("tx_packets"),
            rx_errors: statistic("rx_errors"),
            tx_errors: statistic("tx_errors"),
            tx_aborted: statistic("tx_aborted_errors"),
            rx_dropped: statistic("rx_dropped"),
            tx_dropped: statistic("tx_dropped"),
        })
    }

    /// The interface of the IPv4 (or IPv6) default route with the lowest
    /// metric; reject routes do not count.
    pub(crate) fn default_route(ipv4: bool) -> Option<String> {
        if ipv4 {
            parse_default_route_v4(&std::fs::read_to_string("/proc/net/route").ok()?)
        } else {
            parse_default_route_v6(&std::fs::read_to_string("/proc/net/ipv6_route").ok()?)
        }
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
                let default =
                    u32::from_str_radix(destination, 16).ok()? == 0 && u32::from_str_radix(mask, 16).ok()? == 0;
                (default && flags & RTF_UP != 0 && flags & RTF_REJECT == 0)
                    .then(|| (metric.parse::<u32>().unwrap_or(u32::MAX), name.to_string()))
            })
            .min()
            .map(|(_, name)| name)
    }

    /// `/proc/net/ipv6_route`: `destination prefix-length source
    /// prefix-length next-hop metric refcount use flags device`,
    /// hexadecimal, no header.
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

    /// `aa:bb:cc:dd:ee:ff` as 6 bytes; anything else (no hardware address,
    /// or one of another length) is zero.
    fn parse_mac(text: &str) -> [u8; 6] {
        let bytes: Vec<u8> = text
            .trim()
            .split(':')
            .map_while(|part| u8::from_str_radix(part, 16).ok())
            .collect();
        <[u8; 6]>::try_from(bytes.as_slice()).unwrap_or([0; 6])
    }

    #[cfg(test)]
    mod tests {
        use super::*;

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
        fn facts_come_from_sysfs_and_names_stay_inside_it() {
            let lo = facts("lo").expect("loopback has a sysfs directory");
            assert_eq!(lo.kind, LinkKind::Other, "loopback is not Ethernet");
            assert_eq!(lo.hardware_address, [0; 6]);
            assert!(lo.mtu.is_some_and(|mtu| mtu >= 1280), "{lo:?}");
            for name in ["", "..", "../lo", "lo/..", "rxce-no-such-interface"] {
                assert_eq!(facts(name), None, "{name:?}");
            }
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod os {
    use super::InterfaceFacts;

    /// Not read on this OS (see the module docs).
    pub(crate) fn facts(_interface: &str) -> Option<InterfaceFacts> {
        None
    }

    /// Not read on this OS (see the module docs).
    pub(crate) fn default_route(_ipv4: bool) -> Option<String> {
        None
    }
}

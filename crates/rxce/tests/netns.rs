//! A server reachable on two addresses, in a network namespace this test
//! creates (two veth pairs): a multichannel connection across both links
//! survives when one link is cut. Needs root (`ip netns`), as CI has.
#![cfg(target_os = "linux")] // Linux only: network namespaces, veth and nftables

mod common;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rxce::{
    build_connection_over_multiple_transports, ConnectionInformation, DisconnectFlags, EngineConfig,
    MultiConnectOptions, NoEvents, SelectPolicy, SendOptions, Status, TransportAddress,
};

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip (iproute2) runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A namespace with two veth links to this host (10.N.1.0/24 and
/// 10.N.2.0/24, the host side .1, the namespace side .2) and an echo server
/// listening in it; everything is removed on drop.
struct TwoLinkServer {
    namespace: String,
    host_ends: [String; 2],
    subnet: u8,
    port: u16,
    server: Child,
}

impl TwoLinkServer {
    fn start() -> TwoLinkServer {
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = std::process::id();
        let namespace = format!("rxce-mc-{pid}-{n}");
        let subnet = 100 + ((pid % 60) * 2 + n % 2) as u8;
        // A namespace left by a killed run of this same process id.
        let _ = Command::new("ip").args(["netns", "del", &namespace]).output();
        ip(&["netns", "add", &namespace]);
        // Interface names have at most 15 bytes.
        let host_ends = [format!("rx{n}0h{pid}"), format!("rx{n}1h{pid}")];
        let mut server = TwoLinkServer {
            namespace: namespace.clone(),
            host_ends: host_ends.clone(),
            subnet,
            port: 4450,
            server: Command::new("true").spawn().unwrap(),
        };
        for (link, host_end) in host_ends.iter().enumerate() {
            let inner = format!("rx{n}{link}n{pid}");
            let net = link + 1;
            ip(&["link", "add", host_end, "type", "veth", "peer", "name", &inner]);
            ip(&["link", "set", &inner, "netns", &namespace]);
            ip(&["addr", "add", &format!("10.{subnet}.{net}.1/24"), "dev", host_end]);
            ip(&["link", "set", host_end, "up"]);
            ip(&[
                "-n",
                &namespace,
                "addr",
                "add",
                &format!("10.{subnet}.{net}.2/24"),
                "dev",
                &inner,
            ]);
            ip(&["-n", &namespace, "link", "set", &inner, "up"]);
        }
        ip(&["-n", &namespace, "link", "set", "lo", "up"]);
        // An echo server on every address of the namespace.
        let program = format!(
            "import socket, threading\n\
             s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('0.0.0.0', {port})); s.listen(16)\n\
             def echo(c):\n\
             \x20   while True:\n\
             \x20       d = c.recv(65536)\n\
             \x20       if not d: break\n\
             \x20       c.sendall(d)\n\
             \x20   c.close()\n\
             print('ready', flush=True)\n\
             while True:\n\
             \x20   c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()\n",
            port = server.port
        );
        server.server = Command::new("ip")
            .args(["netns", "exec", &namespace, "python3", "-c", &program])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs in the namespace");
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(server.server.stdout.take().unwrap()),
            &mut ready,
        )
        .unwrap();
        assert_eq!(ready.trim(), "ready");
        server
    }

    fn host_ip(&self, link: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, link + 1, 1)
    }

    fn server_addr(&self, link: u8) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(10, self.subnet, link + 1, 2),
            self.port,
        ))
    }

    /// Takes a link down: packets on it are silently lost.
    fn cut(&self, link: usize) {
        ip(&["link", "set", &self.host_ends[link], "down"]);
    }
}

impl Drop for TwoLinkServer {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        // Deleting the namespace removes the veth pairs with it.
        let _ = Command::new("ip").args(["netns", "del", &self.namespace]).output();
        for end in &self.host_ends {
            let _ = Command::new("ip").args(["link", "del", end]).output();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multichannel_connection_survives_a_cut_link() {
    let server = TwoLinkServer::start();
    let engine = engine_with(EngineConfig {
        dead_peer_timeout: Some(Duration::from_millis(800)),
        ..EngineConfig::default()
    });
    let addresses: Vec<rxce::Address> = (0..2)
        .map(|link| {
            engine
                .build_transport("tcp", 0)
                .unwrap()
                .build_address(
                    TransportAddress::ip(SocketAddr::from((server.host_ip(link), 0))),
                    Arc::new(NoEvents),
                )
                .unwrap()
        })
        .collect();
    let remotes = [
        ConnectionInformation::to(server.server_addr(0)),
        ConnectionInformation::to(server.server_addr(1)),
    ];
    let handler = Recorder::taking_all();
    let built = build_connection_over_multiple_transports(
        &addresses,
        &remotes,
        handler.clone(),
        &MultiConnectOptions {
            policy: SelectPolicy::AllSuccessful,
            attempt_timeout: Some(Duration::from_secs(5)),
            ..MultiConnectOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(built.vcs.len(), 2, "{:?}", built.attempts);
    let over = |link: u8| {
        built
            .vcs
            .iter()
            .find(
                |vc| match vc.query_information(rxce::InformationClass::RemoteAddress).unwrap() {
                    rxce::Information::RemoteAddress(info) => info.address.ip_entry() == Some(server.server_addr(link)),
                    _ => false,
                },
            )
            .unwrap()
            .clone()
    };
    let (cut, kept) = (over(0), over(1));
    // Ping both links; echoes keep both VCs alive past the dead-peer time.
    let pinger = tokio::spawn({
        let vcs = [cut.clone(), kept.clone()];
        async move {
            loop {
                for vc in &vcs {
                    let _ = vc.send(&b"p"[..], SendOptions::empty()).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        handler.disconnects().is_empty(),
        "both links are healthy: {:?}",
        handler.events()
    );
    let cut_at = Instant::now();
    server.cut(0);
    let events = handler
        .wait_for("the cut VC's disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    let detected = cut_at.elapsed();
    let lost: Vec<(u64, DisconnectFlags, Status)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Disconnect { vc, flags, status } => Some((*vc, *flags, status.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].0, cut.id(), "the handler learns which VC went");
    assert_eq!(
        (lost[0].1, lost[0].2.clone()),
        (DisconnectFlags::ABORT, Status::IO_TIMEOUT)
    );
    assert!(detected < Duration::from_secs(5), "{detected:?}");
    // The connection carries on over the other link.
    assert!(built.connection.is_valid());
    assert_eq!(built.connection.least_loaded_vc(), Some(kept.clone()));
    let before = handler.stream().len();
    kept.send(&b"still here"[..], SendOptions::empty()).await.unwrap();
    handler.wait_for_bytes(before + 10).await;
    pinger.abort();
    built.connection.tear_down().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_loss_on_a_link_loses_no_byte() {
    let server = TwoLinkServer::start();
    // nftables in the namespace drops one packet in ten arriving on link 0.
    let rules = format!(
        "table inet rxce_loss {{\n chain input {{\n  type filter hook input priority 0;\n  \
         ip saddr {} numgen random mod 10 == 0 counter drop\n }}\n}}\n",
        server.host_ip(0)
    );
    let out = Command::new("ip")
        .args(["netns", "exec", &server.namespace, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(rules.as_bytes())?;
            child.wait_with_output()
        })
        .expect("nft (nftables) runs");
    assert!(out.status.success(), "nft: {}", String::from_utf8_lossy(&out.stderr));
    let engine = common::engine();
    let address = engine
        .build_transport("tcp", 0)
        .unwrap()
        .build_address(
            TransportAddress::ip(SocketAddr::from((server.host_ip(0), 0))),
            Arc::new(NoEvents),
        )
        .unwrap();
    let handler = Recorder::taking_all();
    let (_c, vc) = address
        .build_connection(ConnectionInformation::to(server.server_addr(0)), handler.clone())
        .await
        .unwrap();
    // Large, since the veth hands the stack GSO packets of up to 64 KiB.
    let data = pattern(8 * 1024 * 1024, 42);
    let started = Instant::now();
    for chunk in data.chunks(64 * 1024) {
        vc.send(chunk.to_vec(), SendOptions::empty()).await.unwrap();
    }
    let echoed = handler.wait_for_bytes(data.len()).await;
    eprintln!("8 MiB through 10% loss in {:?}", started.elapsed());
    assert!(echoed == data, "every byte, in order, despite the loss");
    let listed = Command::new("ip")
        .args([
            "netns",
            "exec",
            &server.namespace,
            "nft",
            "list",
            "table",
            "inet",
            "rxce_loss",
        ])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    let dropped: u64 = listed
        .split("counter packets ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {listed}"));
    eprintln!("nftables dropped {dropped} packets");
    assert!(dropped >= 5, "the loss really happened: {dropped} packets dropped");
    assert!(handler.disconnects().is_empty());
}

//! The Samba harness against real smbd and nmbd on loopback.
//!
//! Every wire message here is built by hand in this file (except the name
//! query, which exercises the crate's own `nbns` encoder and is checked
//! byte by byte), so the test does not lean on the crates it supports.
#![cfg(target_os = "linux")] // Linux only: Samba (smbd, nmbd) from Debian packages

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use rxce_testsupport::nbns::{self, QueryOutcome};
use rxce_testsupport::samba::{require_samba, SambaOptions, SambaServer};

const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// First-level encoding of a NetBIOS name (RFC 1001, 14.1), written out
/// independently of the crate: pad the upper-cased name with spaces to 15
/// bytes, append the suffix byte, then turn every byte into two letters,
/// `'A' + high nibble` and `'A' + low nibble`. On the wire the 32 letters
/// are preceded by their length (0x20) and followed by a zero byte.
fn encoded_name(name: &str, suffix: u8) -> Vec<u8> {
    let mut raw: Vec<u8> = name.to_ascii_uppercase().into_bytes();
    raw.resize(15, b' ');
    raw.push(suffix);
    let mut out = vec![0x20];
    for b in raw {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0f));
    }
    out.push(0);
    assert_eq!(out.len(), 34);
    out
}

/// NetBIOS SESSION REQUEST (RFC 1002, 4.3.2): type 0x81, flags 0, 16-bit
/// length of the trailer, then called name and calling name.
fn session_request(called: &str) -> Vec<u8> {
    let mut trailer = encoded_name(called, 0x20); // called: file server service
    trailer.extend(encoded_name("RXCECLIENT", 0x00)); // calling: workstation
    let mut p = vec![0x81, 0x00];
    p.extend_from_slice(&(trailer.len() as u16).to_be_bytes());
    p.extend(trailer);
    assert_eq!(p.len(), 72);
    p
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Send a session request and return the complete session packet that
/// comes back (4-byte header plus trailer).
fn session_exchange(addr: SocketAddr, called: &str) -> (TcpStream, Vec<u8>) {
    let mut s = connect(addr);
    s.write_all(&session_request(called)).unwrap();
    let mut header = [0u8; 4];
    s.read_exact(&mut header).unwrap();
    // Length: 17 bits (low bit of the flags byte, then 16 bits).
    let len = (usize::from(header[1] & 1) << 16) | usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut reply = header.to_vec();
    reply.resize(4 + len, 0);
    s.read_exact(&mut reply[4..]).unwrap();
    (s, reply)
}

/// A minimal SMB2 NEGOTIATE request offering SMB 2.0.2 and 2.1, framed
/// with the 4-byte direct-hosting / session-message header.
fn smb2_negotiate() -> Vec<u8> {
    let mut m = Vec::with_capacity(104);
    // --- SMB2 header, 64 bytes (sync form) ---
    m.extend_from_slice(b"\xfeSMB"); // ProtocolId
    m.extend_from_slice(&64u16.to_le_bytes()); // StructureSize
    m.extend_from_slice(&0u16.to_le_bytes()); // CreditCharge
    m.extend_from_slice(&0u32.to_le_bytes()); // Status (ChannelSequence/Reserved in requests)
    m.extend_from_slice(&0u16.to_le_bytes()); // Command: NEGOTIATE
    m.extend_from_slice(&1u16.to_le_bytes()); // CreditRequest
    m.extend_from_slice(&0u32.to_le_bytes()); // Flags: request, not signed, not async
    m.extend_from_slice(&0u32.to_le_bytes()); // NextCommand: no compound
    m.extend_from_slice(&0u64.to_le_bytes()); // MessageId
    m.extend_from_slice(&0u32.to_le_bytes()); // Reserved (sync)
    m.extend_from_slice(&0u32.to_le_bytes()); // TreeId
    m.extend_from_slice(&0u64.to_le_bytes()); // SessionId
    m.extend_from_slice(&[0u8; 16]); // Signature
    assert_eq!(m.len(), 64);
    // --- NEGOTIATE request body, 36 bytes + dialects ---
    m.extend_from_slice(&36u16.to_le_bytes()); // StructureSize (always 36)
    m.extend_from_slice(&2u16.to_le_bytes()); // DialectCount
    m.extend_from_slice(&1u16.to_le_bytes()); // SecurityMode: signing enabled
    m.extend_from_slice(&0u16.to_le_bytes()); // Reserved
    m.extend_from_slice(&0u32.to_le_bytes()); // Capabilities
    m.extend_from_slice(b"rxce-test-guid!!"); // ClientGuid (16 bytes)
    m.extend_from_slice(&0u64.to_le_bytes()); // ClientStartTime (pre-3.1.1)
    assert_eq!(m.len(), 100);
    m.extend_from_slice(&0x0202u16.to_le_bytes()); // SMB 2.0.2
    m.extend_from_slice(&0x0210u16.to_le_bytes()); // SMB 2.1
                                                   // --- 4-byte framing: zero type byte, 24-bit big-endian length ---
    let len = m.len() as u32;
    let mut framed = vec![0u8, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    framed.extend(m);
    framed
}

/// Send a NEGOTIATE on `s` and check the response header; returns the
/// dialect the server chose.
fn negotiate(s: &mut TcpStream) -> u16 {
    s.write_all(&smb2_negotiate()).unwrap();
    let mut frame = [0u8; 4];
    s.read_exact(&mut frame).unwrap();
    assert_eq!(frame[0], 0x00, "direct-hosting frame type");
    let len = (usize::from(frame[1]) << 16) | (usize::from(frame[2]) << 8) | usize::from(frame[3]);
    assert!(len >= 64 + 65, "NEGOTIATE response too short: {len}");
    let mut msg = vec![0u8; len];
    s.read_exact(&mut msg).unwrap();
    let le16 = |at: usize| u16::from_le_bytes([msg[at], msg[at + 1]]);
    let le32 = |at: usize| u32::from_le_bytes([msg[at], msg[at + 1], msg[at + 2], msg[at + 3]]);
    assert_eq!(&msg[0..4], b"\xfeSMB", "protocol id");
    assert_eq!(le16(4), 64, "header StructureSize");
    assert_eq!(le32(8), 0, "Status must be STATUS_SUCCESS");
    assert_eq!(le16(12), 0, "Command must be NEGOTIATE");
    assert_eq!(le32(16) & 1, 1, "SMB2_FLAGS_SERVER_TO_REDIR");
    assert_eq!(le16(64), 65, "NEGOTIATE response StructureSize");
    le16(64 + 4) // DialectRevision
}

/// A process as /proc shows it: (pid, pgid, state, cmdline args).
fn processes() -> Vec<(i32, i32, char, Vec<String>)> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split(' ').collect();
        let state = fields[0].chars().next().unwrap();
        let pgid: i32 = fields[2].parse().unwrap();
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        out.push((pid, pgid, state, args));
    }
    out
}

fn query(server: SocketAddr, name: &str, rd: bool, timeout: Duration) -> QueryOutcome {
    nbns::query_name(server, name, nbns::SUFFIX_FILE_SERVER, rd, timeout)
        .unwrap_or_else(|e| panic!("name query for {name} to {server}: {e}"))
}

#[test]
fn samba_with_nmbd_on_loopback() {
    require_samba();
    let t0 = Instant::now();
    let server = SambaOptions::new()
        .nmbd(true)
        .start()
        .unwrap_or_else(|e| panic!("starting Samba: {e}"));
    eprintln!("smbd+nmbd ready in {:?}", t0.elapsed());
    assert_eq!(server.ip(), Ipv4Addr::LOCALHOST);
    assert_eq!(server.netbios_name(), "RXCETEST");
    assert_ne!(server.netbt_port(), server.direct_port());
    assert!(server.share_path().is_dir());
    assert_eq!(server.share_name(), "rxce");
    let alias = server.netbios_ip().expect("nmbd runs, so there is an alias");
    let nmbd_addr = server.nmbd_addr().expect("nmbd runs");
    assert_eq!(
        nmbd_addr,
        SocketAddr::from((Ipv4Addr::LOCALHOST, server.nmbd_port().unwrap()))
    );

    // (a) Session request for our own name on the NetBIOS port: positive
    // response, type 0x82, flags 0, length 0.
    let (mut netbt, reply) = session_exchange(server.netbt_addr(), server.netbios_name());
    assert_eq!(reply, [0x82, 0x00, 0x00, 0x00]);
    // The session then carries SMB2 like the direct port does.
    assert_eq!(negotiate(&mut netbt), 0x0210);

    // (b) A called name smbd does not have: Samba 4.17 does not check the
    // called name and answers positively all the same (no 0x83 "called
    // name not present"). Same for *SMBSERVER.
    let (_s, reply) = session_exchange(server.netbt_addr(), "NOTTHISSERVER");
    assert_eq!(reply, [0x82, 0x00, 0x00, 0x00], "Samba's answer to a wrong called name");
    let (_s, reply) = session_exchange(server.netbt_addr(), "*SMBSERVER");
    assert_eq!(reply, [0x82, 0x00, 0x00, 0x00]);

    // (c) Direct-hosted SMB2 NEGOTIATE: header, FE 'S' 'M' 'B', command 0,
    // status 0; the server picks SMB 2.1, the highest offered.
    let mut direct = connect(server.direct_addr());
    assert_eq!(negotiate(&mut direct), 0x0210);

    // (d) nmbd. The crate's encoder must produce exactly the 50 bytes the
    // RFC describes (compare with the hand encoding above).
    let packet = nbns::name_query_packet(0x4242, server.netbios_name(), 0x20, false);
    assert_eq!(&packet[..12], &[0x42, 0x42, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(packet[12..46], encoded_name(server.netbios_name(), 0x20)[..]);
    assert_eq!(&packet[46..], &[0x00, 0x20, 0x00, 0x01]);
    // Raw exchange over 127.0.0.1: a positive, authoritative answer whose
    // single NB record carries the alias address, not 127.0.0.1 (nmbd
    // refuses to serve 127.0.0.1 itself).
    let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    udp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    udp.send_to(&packet, nmbd_addr).unwrap();
    let mut buf = [0u8; 576];
    let (n, from) = udp.recv_from(&mut buf).unwrap();
    let answer = &buf[..n];
    assert_eq!(from, nmbd_addr);
    assert_eq!(&answer[0..2], &[0x42, 0x42], "transaction id echoed");
    assert_eq!(answer[2] & 0x80, 0x80, "response bit");
    assert_eq!(answer[2] & 0x04, 0x04, "authoritative answer");
    assert_eq!(answer[3] & 0x0f, 0, "RCODE 0");
    assert_eq!(&answer[6..8], &[0, 1], "ANCOUNT 1");
    assert_eq!(answer[12..46], encoded_name(server.netbios_name(), 0x20)[..]);
    assert_eq!(n, 12 + 34 + 10 + 6, "one NB entry");
    assert_eq!(&answer[n - 4..], &alias.octets(), "NB_ADDRESS is the alias");
    assert!(alias.is_loopback() && alias != Ipv4Addr::LOCALHOST);
    // Same through the crate's client, with and without RD, and also when
    // asking nmbd on the alias address itself.
    for rd in [false, true] {
        let outcome = query(nmbd_addr, server.netbios_name(), rd, IO_TIMEOUT);
        assert_eq!(outcome.addresses(), &[alias], "RD={rd}: {outcome:?}");
    }
    let on_alias = SocketAddr::from((alias, server.nmbd_port().unwrap()));
    assert_eq!(
        query(on_alias, server.netbios_name(), false, IO_TIMEOUT).addresses(),
        &[alias]
    );
    // An unknown name: negative answer (RCODE 3, name error) when RD is
    // clear; no answer at all when RD is set.
    assert_eq!(
        query(nmbd_addr, "NOSUCHNAME", false, IO_TIMEOUT),
        QueryOutcome::Negative { rcode: 3 }
    );
    assert_eq!(
        query(nmbd_addr, "NOSUCHNAME", true, Duration::from_secs(1)),
        QueryOutcome::NoAnswer
    );
    // What the name resolves to is connectable: smbd listens on the alias.
    let mut via_alias = connect(SocketAddr::from((alias, server.direct_port())));
    assert_eq!(negotiate(&mut via_alias), 0x0210);

    // (e) Tear-down. Keep connections open so smbd has per-connection
    // children in its process group when it is stopped.
    let conf = server.config_path().to_string_lossy().into_owned();
    let base = server.base_dir().to_path_buf();
    let pgids = [server.smbd_pid().unwrap() as i32, server.nmbd_pid().unwrap() as i32];
    let ours = |p: &(i32, i32, char, Vec<String>)| pgids.contains(&p.1) || p.3.iter().any(|a| a.contains(&conf));
    let before: Vec<_> = processes().into_iter().filter(ours).collect();
    let smbd_children = before.iter().filter(|p| p.1 == pgids[0] && p.0 != pgids[0]).count();
    assert!(
        smbd_children >= 3,
        "expected per-connection smbd children, saw {before:?}"
    );
    let tcp_addrs = [
        server.netbt_addr(),
        server.direct_addr(),
        SocketAddr::from((alias, server.netbt_port())),
        SocketAddr::from((alias, server.direct_port())),
    ];

    let t_drop = Instant::now();
    drop(server);
    eprintln!("drop took {:?}", t_drop.elapsed());

    for addr in tcp_addrs {
        // (All of 127.0.0.0/8 stays local even without the alias, so the
        // alias ports refuse just like 127.0.0.1's.)
        let err = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).expect_err("closed after drop");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{addr}: {err}");
    }
    match nbns::query_name(nmbd_addr, "RXCETEST", 0x20, false, Duration::from_millis(500)) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
        Ok(QueryOutcome::NoAnswer) => {}
        other => panic!("nmbd port after drop: {other:?}"),
    }
    let left: Vec<_> = processes().into_iter().filter(ours).collect();
    assert!(left.is_empty(), "processes left behind (zombies included): {left:?}");
    for (pid, ..) in &before {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} still exists"
        );
    }
    // The alias is no longer configured on lo, and the directory is gone.
    let lo = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", "lo"])
        .output()
        .expect("running `ip addr show` (iproute2)");
    let lo = String::from_utf8_lossy(&lo.stdout);
    assert!(lo.contains("inet 127.0.0.1/8"), "{lo}");
    assert!(!lo.contains(&format!("inet {alias}/32")), "alias still on lo: {lo}");
    assert!(!base.exists(), "{} not removed", base.display());
}

#[test]
fn smbd_only_with_defaults() {
    require_samba();
    let server = SambaServer::start().unwrap_or_else(|e| panic!("starting smbd: {e}"));
    assert_eq!(server.nmbd_port(), None);
    assert_eq!(server.nmbd_pid(), None);
    assert_eq!(server.netbios_ip(), None);
    let (_s, reply) = session_exchange(server.direct_addr(), server.netbios_name());
    assert_eq!(
        reply,
        [0x82, 0x00, 0x00, 0x00],
        "session request on the direct port too"
    );
    let mut s = connect(server.netbt_addr());
    assert_eq!(negotiate(&mut s), 0x0210, "bare SMB2 on the NetBIOS port too");
    assert!(server.log_tail().contains("smbd version"), "{}", server.log_tail());
    let config = fs::read_to_string(server.config_path()).unwrap();
    assert!(config.contains("interfaces = 127.0.0.1\n"), "{config}");
}

//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/`
//! (or the directory given as the first argument): known-good inputs built
//! with the project's own encoders (`rxce-wire`), the captured Samba
//! NEGOTIATE responses of `crates/rxce-smb2/tests/data/`, and the URLs and
//! C structures the documentation shows. Each target's directory is
//! emptied first, so the committed seeds are exactly what this writes.
//!
//! The layouts of the structured inputs (parameter bytes before the bytes
//! under test) are those the targets document in `fuzz/fuzz_targets/`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use rxce_wire::framing::{keepalive_frame, Framing};
use rxce_wire::nbname::{encode_name, NetbiosName};
use rxce_wire::nbns::{
    encode_negative_response, encode_positive_response, encode_redirect_response, encode_wack_response, NameQuery,
    NbAddress, NAM_ERR,
};
use rxce_wire::nbss::{encode_session_request, encode_session_response, NegativeCode, SessionResponse};

type Seeds = Vec<(&'static str, Vec<u8>)>;

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus"));
    let targets: [(&str, Seeds); 15] = [
        ("nbss", nbss()),
        ("nbname", nbname()),
        ("nbns", nbns()),
        ("framing", framing()),
        ("endpoint", endpoint()),
        ("smb2_negotiate", smb2_negotiate()),
        ("ffi_address", ffi_address()),
        ("vc_receive", vc_receive()),
        ("vc_machine", vc_machine()),
        ("smb2_session_setup", smb2_session_setup()),
        ("smb2_create", smb2_create()),
        ("smb2_read", smb2_read()),
        ("smb2_query_directory", smb2_query_directory()),
        ("ntlmssp_challenge", ntlmssp_challenge()),
        ("quic_options", quic_options()),
    ];
    for (target, seeds) in targets {
        let dir = root.join(target);
        if dir.exists() {
            for entry in std::fs::read_dir(&dir).expect("read the corpus directory") {
                let path = entry.expect("a directory entry").path();
                if path.is_file() {
                    std::fs::remove_file(&path).expect("remove an old seed");
                }
            }
        }
        std::fs::create_dir_all(&dir).expect("create the corpus directory");
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(name), bytes).expect("write a seed");
        }
        println!("{target}: {} seeds", seeds.len());
    }
}

fn name(text: &str, suffix: u8) -> NetbiosName {
    NetbiosName::new(text, suffix).expect("a valid name")
}

fn fred() -> NetbiosName {
    name("FRED", 0x20)
}

fn msbrowse() -> NetbiosName {
    NetbiosName::from_bytes(*b"\x01\x02__MSBROWSE__\x02\x01")
}

fn max_scope() -> String {
    // 34 + 3 × 64 + 29 = 255 bytes encoded: the longest name.
    let l63 = "X".repeat(63);
    format!("{l63}.{l63}.{l63}.{}", "Y".repeat(28))
}

fn nbss() -> Seeds {
    let request = |called: &NetbiosName, calling: &NetbiosName, scope: Option<&str>| {
        encode_session_request(called, calling, scope).expect("a valid request")
    };
    let mut seeds = vec![
        ("positive", encode_session_response(&SessionResponse::Positive)),
        ("keepalive", encode_session_response(&SessionResponse::Keepalive)),
        (
            "negative-called-name-not-present",
            encode_session_response(&SessionResponse::Negative(NegativeCode::CalledNameNotPresent)),
        ),
        (
            "negative-unspecified",
            encode_session_response(&SessionResponse::Negative(NegativeCode::Unspecified)),
        ),
        (
            "retarget",
            encode_session_response(&SessionResponse::Retarget {
                ip: Ipv4Addr::new(192, 168, 1, 20),
                port: 139,
            }),
        ),
        (
            "request-smbserver",
            request(&NetbiosName::SMBSERVER, &name("MYPC", 0), None),
        ),
        ("request-scope", request(&fred(), &name("MYPC", 0), Some("NETBIOS.COM"))),
        ("request-msbrowse", request(&msbrowse(), &fred(), None)),
        (
            "request-max-scope",
            request(&fred(), &name("MYPC", 0), Some(&max_scope())),
        ),
    ];
    // A positive response followed by the first frame of the session.
    let mut then_frame = encode_session_response(&SessionResponse::Positive);
    then_frame.extend_from_slice(&[0, 0, 0, 4, 0xfe, b'S', b'M', b'B']);
    seeds.push(("positive-then-frame", then_frame));
    seeds
}

fn nbname() -> Seeds {
    let encoded = |n: &NetbiosName, scope: Option<&str>| {
        let mut out = Vec::new();
        encode_name(n, scope, &mut out).expect("a valid name");
        out
    };
    vec![
        ("fred", encoded(&fred(), None)),
        ("smbserver", encoded(&NetbiosName::SMBSERVER, None)),
        ("wildcard", encoded(&name("*", 0), None)),
        ("msbrowse", encoded(&msbrowse(), None)),
        ("fred-scope", encoded(&fred(), Some("NETBIOS.COM"))),
        ("fred-max-scope", encoded(&fred(), Some(&max_scope()))),
        ("text-fred", b"FRED".to_vec()),
        ("text-suffix", b"workgroup<1d>".to_vec()),
        ("text-wildcard", b"*".to_vec()),
        ("text-smbserver", b"*smbserver<20>".to_vec()),
        ("text-15", b"ABCDEFGHIJKLMNO<00>".to_vec()),
    ]
}

fn nbns() -> Seeds {
    let query = |transaction_id, n: NetbiosName, scope: Option<&str>, broadcast| NameQuery {
        transaction_id,
        name: n,
        scope: scope.map(str::to_owned),
        broadcast,
        recursion_desired: true,
    };
    let broadcast = query(0x1234, fred(), None, true);
    let scoped = query(0x0001, name("FILES", 0x20), Some("CORP.EXAMPLE"), false);
    let addresses = [
        NbAddress::new(Ipv4Addr::new(10, 0, 0, 5)),
        NbAddress {
            flags: 0x8000 | 0x6000,
            ip: Ipv4Addr::new(10, 0, 0, 6),
        },
        NbAddress {
            flags: 0x2000,
            ip: Ipv4Addr::new(192, 168, 7, 1),
        },
    ];
    // Windows answers with a compression pointer to the question.
    let mut pointer = broadcast.encode().expect("query");
    pointer[2..4].copy_from_slice(&0x8500u16.to_be_bytes());
    pointer[6..8].copy_from_slice(&1u16.to_be_bytes());
    pointer.extend_from_slice(&[0xC0, 0x0C, 0x00, 0x20, 0x00, 0x01, 0, 0, 0x0e, 0x10, 0, 6]);
    pointer.extend_from_slice(&[0x60, 0x00, 10, 0, 0, 9]);
    vec![
        ("query-broadcast", broadcast.encode().expect("query")),
        ("query-scope", scoped.encode().expect("query")),
        (
            "positive-one",
            encode_positive_response(0x1234, &fred(), None, 300_000, &addresses[..1]).expect("positive"),
        ),
        (
            "positive-three-scope",
            encode_positive_response(0x0001, &name("FILES", 0x20), Some("CORP.EXAMPLE"), 0, &addresses)
                .expect("positive"),
        ),
        ("positive-pointer", pointer),
        (
            "negative",
            encode_negative_response(0x1234, &fred(), None, NAM_ERR).expect("negative"),
        ),
        ("wack", encode_wack_response(&broadcast, 2).expect("wack")),
        (
            "redirect",
            encode_redirect_response(
                0x4321,
                &fred(),
                None,
                60,
                "ns1.corp.example",
                Ipv4Addr::new(10, 0, 0, 1),
            )
            .expect("redirect"),
        ),
    ]
}

/// A framed stream of `messages` (payload lengths), keepalives between
/// them on a NetBIOS session.
fn frames(framing: Framing, messages: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &len) in messages.iter().enumerate() {
        if framing.has_keepalive() && i % 2 == 1 {
            out.extend_from_slice(&keepalive_frame());
        }
        out.extend_from_slice(&framing.encode_message_header(len).expect("a valid length"));
        out.extend((0..len).map(|b| b as u8));
    }
    out
}

fn framing() -> Seeds {
    // framing byte, u16 limit, u32 encode length, chunk count and sizes,
    // then the stream.
    let input = |framing: u8, limit: u16, len: u32, chunks: &[u8], stream: Vec<u8>| {
        let mut out = vec![framing];
        out.extend_from_slice(&limit.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.push(chunks.len() as u8);
        out.extend_from_slice(chunks);
        out.extend_from_slice(&stream);
        out
    };
    let session = frames(Framing::NetbiosSession, &[5, 0, 300, 17]);
    let direct = frames(Framing::DirectTcp, &[68, 0, 200]);
    let mut control = frames(Framing::NetbiosSession, &[3]);
    control.extend_from_slice(&encode_session_response(&SessionResponse::Positive));
    let mut bad_direct = frames(Framing::DirectTcp, &[3]);
    bad_direct.extend_from_slice(&keepalive_frame());
    let mut truncated = frames(Framing::DirectTcp, &[100]);
    truncated.truncate(60);
    vec![
        ("session", input(0, 1000, 0x1_ffff, &[1, 7, 64], session)),
        ("direct", input(1, 1000, 0x100_0000, &[3, 200], direct)),
        (
            "over-long",
            input(1, 100, 0xff_ffff, &[], frames(Framing::DirectTcp, &[150])),
        ),
        ("control-frame", input(0, 1000, 5, &[2], control)),
        ("keepalive-on-direct", input(1, 1000, 0, &[], bad_direct)),
        ("truncated", input(1, 1000, 100, &[10, 10], truncated)),
    ]
}

fn endpoint() -> Seeds {
    [
        ("tcp-ipv4", "tcp://127.0.0.1:445"),
        ("tcp-ipv6", "tcp://[::1]:8080"),
        ("tcp-smb-default-port", "tcp+smb://files.example"),
        (
            "netbt-names",
            "netbt://fileserver.example?called=FILES<20>&calling=MYPC",
        ),
        ("netbt-ip", "NETBT://10.0.0.1:139?calling=ws<00>"),
        ("udp", "udp://[fe80::1]:137"),
        ("unix-path", "unix:/run/rxce.sock"),
        ("unix-abstract", "unix:@rxce"),
        ("memory", "memory:echo"),
        (
            "quic-pinned",
            "quic://files.example:4433?sni=files&pin=8ea773ac3d4c9ec95ff4cb6c7f816c050c907784f6358e88c798faff2d1898b4",
        ),
        ("quic-ca", "quic://[::1]?ca=/etc/rxce/ca.pem&cert=/c.pem&key=/k.pem"),
        ("host", "Files.Example."),
    ]
    .into_iter()
    .map(|(name, url)| (name, url.as_bytes().to_vec()))
    .collect()
}

fn quic_options() -> Seeds {
    [
        ("empty", ""),
        ("sni-ca", "sni=files.example&ca=/etc/rxce/ca.pem"),
        (
            "pins",
            "pin=8ea773ac3d4c9ec95ff4cb6c7f816c050c907784f6358e88c798faff2d1898b4\npin=8E:A7:73:AC:3D:4C:9E:C9:5F:F4:CB:6C:7F:81:6C:05:0C:90:77:84:F6:35:8E:88:C7:98:FA:FF:2D:18:98:B4",
        ),
        ("client-cert", "cert=/c.pem&key=/k.pem&sni=s"),
    ]
    .into_iter()
    .map(|(name, text)| (name, text.as_bytes().to_vec()))
    .collect()
}

fn smb2_negotiate() -> Seeds {
    let samba_311 = include_bytes!("../../../crates/rxce-smb2/tests/data/samba-4.17-negotiate-311.bin").to_vec();
    let samba_unsupported =
        include_bytes!("../../../crates/rxce-smb2/tests/data/samba-4.17-negotiate-unsupported.bin").to_vec();
    // The same response claiming SMB 2.1: its contexts are ignored.
    let mut as_21 = samba_311.clone();
    as_21[64 + 4..64 + 6].copy_from_slice(&0x0210u16.to_le_bytes());
    let mut smb1 = vec![0xff, b'S', b'M', b'B', 0x72];
    smb1.resize(40, 0);
    vec![
        ("samba-4.17-negotiate-311", samba_311),
        ("samba-4.17-negotiate-unsupported", samba_unsupported),
        ("samba-4.17-as-2.1", as_21),
        ("smb1-reply", smb1),
    ]
}

/// A captured Samba answer of `crates/rxce-smb2/tests/data/`.
macro_rules! capture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(
                "../../../crates/rxce-smb2/tests/data/samba-4.17-",
                $name,
                ".bin"
            ))
            .to_vec(),
        )
    };
}

fn smb2_session_setup() -> Seeds {
    vec![
        capture!("session-setup-challenge"),
        capture!("session-setup-anonymous"),
        capture!("session-setup-guest"),
        capture!("tree-connect"),
        capture!("tree-connect-bad-network-name"),
        capture!("tree-disconnect-logoff"),
    ]
}

fn smb2_create() -> Seeds {
    vec![
        capture!("create-file"),
        capture!("create-not-found"),
        capture!("create-query-directory"),
        capture!("close"),
    ]
}

/// The target's layout: the message length (u32 LE), then the message.
fn smb2_read() -> Seeds {
    [
        capture!("read-1-byte"),
        capture!("read-interim"),
        capture!("create-query-directory"),
        capture!("tree-disconnect-logoff"),
    ]
    .into_iter()
    .map(|(name, message)| {
        let mut input = (message.len() as u32).to_le_bytes().to_vec();
        input.extend(message);
        (name, input)
    })
    .collect()
}

fn smb2_query_directory() -> Seeds {
    // The QUERY_DIRECTORY answer is the second of the compound.
    let (name, chain) = capture!("create-query-directory");
    let second = u32::from_le_bytes(chain[20..24].try_into().expect("4 bytes")) as usize;
    vec![
        (name, chain[second..].to_vec()),
        capture!("query-directory-no-more-files"),
    ]
}

fn ntlmssp_challenge() -> Seeds {
    // The token of the first SESSION_SETUP answer (after 64 + 8 bytes).
    let (name, message) = capture!("session-setup-challenge");
    vec![(name, message[72..].to_vec())]
}

/// TA_ADDRESS types (rxce-ffi's types/tdi.rs).
const TYPE_UNIX: u16 = 1;
const TYPE_IP: u16 = 2;
const TYPE_IPX: u16 = 6;
const TYPE_NETBIOS: u16 = 17;
const TYPE_IP6: u16 = 23;
const TYPE_MEMORY: u16 = 0xF001;
const TYPE_HOST_NAME: u16 = 0xF002;

/// A TRANSPORT_ADDRESS (native byte order counts, as a C caller lays it
/// out) with the given entries.
fn transport_address(entries: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = (entries.len() as i32).to_ne_bytes().to_vec();
    for (kind, payload) in entries {
        out.extend_from_slice(&(payload.len() as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(payload);
    }
    out
}

fn ip(port: u16, ip: [u8; 4]) -> (u16, Vec<u8>) {
    let mut p = port.to_be_bytes().to_vec();
    p.extend_from_slice(&ip);
    p.extend_from_slice(&[0; 8]);
    (TYPE_IP, p)
}

fn ffi_address() -> Seeds {
    let ip6 = {
        let mut p = 445u16.to_be_bytes().to_vec();
        p.extend_from_slice(&7u32.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&3u32.to_ne_bytes());
        (TYPE_IP6, p)
    };
    let netbios = {
        let mut p = 0u16.to_ne_bytes().to_vec();
        p.extend_from_slice(b"FRED           \x20");
        (TYPE_NETBIOS, p)
    };
    let host = {
        let mut p = 445u16.to_be_bytes().to_vec();
        p.extend_from_slice(b"files.example");
        (TYPE_HOST_NAME, p)
    };
    let memory = (TYPE_MEMORY, b"echo".to_vec());
    let unix = (TYPE_UNIX, b"\0abstract".to_vec());
    let ipx = (TYPE_IPX, vec![0; 12]);
    // RxCeSendDatagram and RxCeCancelConnectRequest: mode 0, server name selector, UserData and
    // Options selectors, remote address selector (0: the rest of the input
    // is the declared TRANSPORT_ADDRESS), then the address.
    let info = |server: &[u8], user: &[u8], address: Vec<u8>| {
        let mut out = vec![0];
        out.extend_from_slice(server);
        out.extend_from_slice(user);
        out.push(0); // Options: length 0
        out.push(0); // remote: declared = the rest, aligned
        out.extend_from_slice(&address);
        out
    };
    let server_name: Vec<u8> = {
        // Selector 1: present, Length = 2 × the next byte, aligned.
        let units: Vec<u8> = "FILES".encode_utf16().flat_map(u16::to_ne_bytes).collect();
        let mut s = vec![1, 5];
        s.extend_from_slice(&units);
        s
    };
    // RxCeBuildAddress: mode 1, skew byte, then the address.
    let build = |skew: u8, address: Vec<u8>| {
        let mut out = vec![1, skew];
        out.extend_from_slice(&address);
        out
    };
    vec![
        (
            "info-ip",
            info(&[0], &[0], transport_address(&[ip(445, [127, 0, 0, 1])])),
        ),
        (
            "info-ip-netbios",
            info(
                &server_name,
                &[0],
                transport_address(&[ip(139, [10, 0, 0, 1]), netbios.clone()]),
            ),
        ),
        (
            "info-ip6",
            info(&[0], &[0], transport_address(std::slice::from_ref(&ip6))),
        ),
        (
            "info-user-data",
            info(
                &[0],
                &[1, 3, b'a', b'b', b'c'],
                transport_address(std::slice::from_ref(&host)),
            ),
        ),
        (
            "info-every-type",
            info(
                &[0],
                &[0],
                transport_address(&[
                    ipx.clone(),
                    ip(80, [1, 2, 3, 4]),
                    ip6,
                    netbios,
                    unix,
                    memory.clone(),
                    host,
                ]),
            ),
        ),
        (
            "build-memory",
            build(0, transport_address(std::slice::from_ref(&memory))),
        ),
        (
            "build-memory-unaligned",
            build(3, transport_address(&[ipx, ip(0, [127, 0, 0, 1]), memory])),
        ),
    ]
}

fn vc_receive() -> Seeds {
    // Transport byte (0 tcp, 1 tcp+smb, 2 netbt), script length, script
    // entries (kind, a, b), then the peer's stream.
    let input = |transport: u8, script: &[[u8; 3]], stream: Vec<u8>| {
        let mut out = vec![transport, script.len() as u8];
        out.extend(script.iter().flatten());
        out.extend_from_slice(&stream);
        out
    };
    let positive = encode_session_response(&SessionResponse::Positive);
    let keepalive = encode_session_response(&SessionResponse::Keepalive);
    let negative = encode_session_response(&SessionResponse::Negative(NegativeCode::CalledNameNotPresent));
    let session = |frames: Vec<u8>| {
        let mut out = keepalive.clone();
        out.extend_from_slice(&positive);
        out.extend_from_slice(&frames);
        out
    };
    let script = [[0, 7, 0], [2, 0, 0], [3, 5, 40], [0, 0, 0], [1, 0, 0], [0x7f, 3, 255]];
    let mut truncated = frames(Framing::DirectTcp, &[10, 500]);
    truncated.truncate(300);
    let mut over_long = frames(Framing::DirectTcp, &[10]);
    over_long.extend_from_slice(&Framing::DirectTcp.encode_message_header(5000).expect("header"));
    let mut control = frames(Framing::NetbiosSession, &[10]);
    control.extend_from_slice(&negative);
    vec![
        ("tcp", input(0, &[], b"hello, stream".to_vec())),
        ("tcp-script", input(0, &script, (0..=255u8).cycle().take(700).collect())),
        (
            "tcp-smb",
            input(1, &[], frames(Framing::DirectTcp, &[5, 0, 127, 128, 129])),
        ),
        (
            "tcp-smb-script",
            input(1, &script, frames(Framing::DirectTcp, &[300, 1, 64, 999])),
        ),
        ("tcp-smb-truncated", input(1, &[], truncated)),
        ("tcp-smb-over-long", input(1, &[], over_long)),
        (
            "netbt",
            input(2, &[], session(frames(Framing::NetbiosSession, &[5, 200, 0]))),
        ),
        (
            "netbt-script",
            input(2, &script, session(frames(Framing::NetbiosSession, &[130, 2, 40]))),
        ),
        ("netbt-control-frame", input(2, &[], session(control))),
        ("netbt-negative", input(2, &[], negative.clone())),
    ]
}

fn vc_machine() -> Seeds {
    // Mode byte (framing, dead-peer timeout), the answer script, then one
    // operation per byte (see fuzz/fuzz_targets/vc_machine.rs): 0 peer
    // bytes (length, bytes), 1 peer end, 2 write (allowance), 3 waited
    // send, 4 asynchronous send, 5 non-blocking partial send (length each),
    // 6 time (quarters of a second), 7 resume, 8 disconnect, 9 tear-down,
    // 10 reset, 11 nothing to read.
    let program = |mode: u8, answers: &[u8], ops: Vec<u8>| {
        let mut out = vec![mode, answers.len() as u8];
        out.extend_from_slice(answers);
        out.extend(ops);
        out
    };
    let peer = |bytes: &[u8]| {
        let mut out = vec![0, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    };
    let mut stream = peer(b"hello, machine");
    stream.extend([4, 20, 3, 9, 2, 255, 7, 1, 2, 255]);
    let mut messages = peer(&frames(Framing::DirectTcp, &[5, 0, 40]));
    messages.extend([4, 10, 2, 3, 8, 2, 255, 1]);
    let mut session = peer(&frames(Framing::NetbiosSession, &[3]));
    session.extend([3, 4, 2, 255, 6, 240, 6, 240, 2, 255, 6, 30]);
    let mut fill = peer(&(0..=200u8).collect::<Vec<u8>>());
    fill.extend([7, 11, 10, 4, 3]);
    let mut torn = peer(b"abc");
    torn.extend([4, 70, 4, 70, 5, 70, 9, 7, 2, 255]);
    vec![
        ("stream", program(0, &[], stream)),
        ("stream-answers", program(0, &[1 | 8, 2, 3 | 40, 0], fill)),
        ("direct-tcp", program(1, &[3 | 12], messages)),
        ("netbios-dead-peer", program(6, &[], session)),
        ("tear-down", program(4, &[2], torn)),
    ]
}

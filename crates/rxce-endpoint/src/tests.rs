use super::*;
use proptest::prelude::*;

fn ok(text: &str) -> Endpoint {
    Endpoint::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> String {
    match Endpoint::parse(text) {
        Ok(e) => panic!("{text} parsed as {e:?}"),
        Err(e) => e.to_string(),
    }
}

fn nb(text: &str) -> [u8; 16] {
    *NetbiosName::parse(text).unwrap().as_bytes()
}

fn sa(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn tcp_with_an_ipv4_literal() {
    let e = ok("tcp://127.0.0.1:8080");
    assert_eq!(e.kind(), Kind::Tcp);
    assert_eq!(e.transport_name(), "tcp");
    assert_eq!(e.remote_address(), TransportAddress::ip(sa("127.0.0.1:8080")));
    assert_eq!(e.remote().remote_address, e.remote_address());
    assert_eq!(e.local_address(), TransportAddress::ip(sa("0.0.0.0:0")));
    assert_eq!(e.called_name(), None);
    assert_eq!(e.calling_name(), None);
    assert_eq!(
        e.listen_address().unwrap(),
        ListenAddress::Inet {
            host: Host::Ip("127.0.0.1".parse().unwrap()),
            port: 8080
        }
    );
    assert_eq!(e.to_string(), "tcp://127.0.0.1:8080");
}

#[test]
fn tcp_with_an_ipv6_literal_in_brackets() {
    let e = ok("tcp://[::1]:445");
    assert_eq!(e.remote_address(), TransportAddress::ip(sa("[::1]:445")));
    assert_eq!(e.local_address(), TransportAddress::ip(sa("[::]:0")));
    assert_eq!(e.to_string(), "tcp://[::1]:445");
    let scoped = ok("tcp://[fe80::1:2]:1");
    assert_eq!(scoped.remote_address(), TransportAddress::ip(sa("[fe80::1:2]:1")));
}

#[test]
fn tcp_with_a_dns_name_gives_a_host_name_entry() {
    let e = ok("tcp://Files.Example.com:445");
    assert_eq!(
        e.remote_address(),
        TransportAddress::host_name("Files.Example.com", 445)
    );
    assert_eq!(e.local_address(), TransportAddress::any_ipv4());
    assert_eq!(e.to_string(), "tcp://Files.Example.com:445");
    assert_eq!(
        ok("tcp://localhost.:1").remote_address(),
        TransportAddress::host_name("localhost.", 1)
    );
    assert_eq!(
        ok("tcp://under_score-1:1").remote_address(),
        TransportAddress::host_name("under_score-1", 1)
    );
}

#[test]
fn schemes_are_case_insensitive_and_port_zero_is_allowed() {
    let e = ok("TCP+SMB://127.0.0.1:0");
    assert_eq!(e.kind(), Kind::TcpSmb);
    assert_eq!(e.to_string(), "tcp+smb://127.0.0.1:0");
}

#[test]
fn smb_transports_have_default_ports() {
    assert_eq!(
        ok("tcp+smb://10.0.0.1").remote_address(),
        TransportAddress::ip(sa("10.0.0.1:445"))
    );
    assert_eq!(ok("tcp+smb://[::1]").to_string(), "tcp+smb://[::1]:445");
    let netbt = ok("netbt://10.0.0.1");
    assert_eq!(netbt.remote_address().ip_entry(), Some(sa("10.0.0.1:139")));
    assert_eq!(netbt.to_string(), "netbt://10.0.0.1:139");
}

#[test]
fn rpc_and_9p_urls_have_their_ports() {
    let e = ok("tcp+rpc://127.0.0.1");
    assert_eq!((e.kind(), e.transport_name()), (Kind::TcpRpc, "tcp+rpc"));
    assert_eq!(e.to_string(), "tcp+rpc://127.0.0.1:111");
    assert!(e.kind().is_framed() && e.kind().is_inet());
    assert_eq!(e.kind().framing(), Some(rxce_wire::Framing::RpcRecord));
    let e = ok("tcp+9p://[::1]");
    assert_eq!((e.kind(), e.transport_name()), (Kind::Tcp9p, "tcp+9p"));
    assert_eq!(e.to_string(), "tcp+9p://[::1]:564");
    assert_eq!(ok("TCP+9P://host:5640").to_string(), "tcp+9p://host:5640");
    assert_eq!(e.kind().framing(), Some(rxce_wire::Framing::NineP));
    assert_eq!(Kind::Tcp.framing(), None);
}

#[test]
fn tcp_smb_is_framed_and_has_no_netbios_entries() {
    let e = ok("tcp+smb://server:1445");
    assert!(e.kind().is_framed());
    assert_eq!(e.transport_name(), "tcp+smb");
    assert_eq!(e.remote_address(), TransportAddress::host_name("server", 1445));
    assert_eq!(e.called_name(), None);
}

#[test]
fn netbt_with_called_and_calling_names() {
    let e = ok("netbt://127.0.0.1:139?called=fileserver&calling=mypc");
    assert_eq!(e.transport_name(), "netbt");
    assert_eq!(
        e.remote_address(),
        TransportAddress {
            entries: vec![
                TaAddress::Ip(sa("127.0.0.1:139")),
                TaAddress::NetBios { name: nb("FILESERVER") }
            ]
        }
    );
    let calling = nb("MYPC<00>");
    assert_eq!(e.calling_name().map(|n| *n.as_bytes()), Some(calling));
    assert_eq!(
        e.local_address(),
        TransportAddress {
            entries: vec![TaAddress::Ip(sa("0.0.0.0:0")), TaAddress::NetBios { name: calling }]
        }
    );
    assert_eq!(
        e.to_string(),
        "netbt://127.0.0.1:139?called=FILESERVER<20>&calling=MYPC<00>"
    );
}

#[test]
fn netbt_names_take_explicit_suffixes_in_either_order() {
    let e = ok("netbt://h:139?calling=ws<03>&called=srv<1F>&");
    assert_eq!(e.called_name().map(|n| *n.as_bytes()), Some(nb("SRV<1F>")));
    assert_eq!(e.calling_name().map(|n| *n.as_bytes()), Some(nb("WS<03>")));
}

#[test]
fn netbt_without_called_uses_the_first_label_or_smbserver() {
    let named = ok("netbt://files.example.com:139");
    assert_eq!(named.explicit_called_name(), None);
    assert_eq!(
        named.remote_address(),
        TransportAddress {
            entries: vec![
                TaAddress::HostName {
                    name: "files.example.com".into(),
                    port: 139
                },
                TaAddress::NetBios { name: nb("FILES") }
            ]
        }
    );
    let long = ok("netbt://averyveryverylonglabel.example:139");
    assert_eq!(long.called_name().unwrap().to_string(), "AVERYVERYVERYLO<20>");
    let literal = ok("netbt://192.0.2.7:139");
    assert_eq!(literal.called_name(), Some(NetbiosName::SMBSERVER));
    // The default called name is not written back into the URL.
    assert_eq!(named.to_string(), "netbt://files.example.com:139");
}

#[test]
fn udp_endpoints() {
    let e = ok("udp://127.0.0.1:5353");
    assert_eq!(e.transport_name(), "udp");
    assert!(!e.kind().is_framed());
    assert_eq!(e.remote_address(), TransportAddress::ip(sa("127.0.0.1:5353")));
    assert_eq!(e.local_address(), TransportAddress::any_ipv4());
}

#[test]
fn unix_paths_and_abstract_names() {
    let path = ok("unix:/tmp/rxce.sock");
    assert_eq!(path.transport_name(), "unix");
    assert_eq!(
        path.remote_address(),
        TransportAddress::new(TaAddress::Unix(b"/tmp/rxce.sock".to_vec()))
    );
    assert_eq!(path.local_address(), TransportAddress::new(TaAddress::Unix(Vec::new())));
    assert_eq!(
        path.listen_address().unwrap(),
        ListenAddress::Unix(UnixName::Path("/tmp/rxce.sock".into()))
    );
    assert_eq!(path.to_string(), "unix:/tmp/rxce.sock");
    let relative = ok("unix:sock with spaces");
    assert_eq!(
        relative.target(),
        &Target::Unix(UnixName::Path("sock with spaces".into()))
    );

    let abstract_name = ok("unix:@rxce-echo");
    assert_eq!(
        abstract_name.remote_address(),
        TransportAddress::new(TaAddress::Unix(b"\0rxce-echo".to_vec()))
    );
    assert_eq!(abstract_name.to_string(), "unix:@rxce-echo");
    assert_eq!(abstract_name.remote_address().to_string(), "@rxce-echo");
    let longest = format!("unix:{}", "p".repeat(MAX_UNIX_NAME));
    ok(&longest);
}

#[test]
fn memory_endpoints_get_fresh_local_names_and_cannot_be_listened_on() {
    let e = ok("memory:echo");
    assert_eq!(e.transport_name(), "memory");
    assert_eq!(e.remote_address(), TransportAddress::memory("echo"));
    let (a, b) = (e.local_address(), e.local_address());
    assert_ne!(a, b);
    assert!(a.memory_entry().unwrap().starts_with("rxce-cli-"));
    assert_eq!(
        e.listen_address().unwrap_err().to_string(),
        "bad endpoint \"memory:echo\": a memory endpoint exists only inside one process: nothing outside it can connect"
    );
    assert_eq!(e.to_string(), "memory:echo");
}

#[test]
fn every_malformed_url_names_its_problem() {
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("tcp://host", "missing port"),
        ("tcp://host:", "missing port"),
        ("udp://10.0.0.1", "missing port"),
        ("tcp://:80", "missing host"),
        ("tcp://", "missing host"),
        ("tcp://host:http", "bad port \"http\""),
        ("tcp://host:-1", "bad port \"-1\""),
        ("tcp://host:65536", "port 65536 is out of range (0-65535)"),
        (
            "tcp://host:99999999999999999999",
            "port 99999999999999999999 is out of range (0-65535)",
        ),
        ("tcp://host:80/path", "unexpected path \"/path\""),
        ("tcp://host:80/", "unexpected path \"/\""),
        ("tcp://host:80#top", "unexpected fragment \"#top\""),
        ("tcp://user@host:80", "user information (\"user@\") is not supported"),
        (
            "tcp://host:80?called=X",
            "unexpected parameters \"?called=X\" (only netbt:// and quic:// take parameters)",
        ),
        ("tcp:host:80", "expected \"//\" after \"tcp:\" (tcp://HOST:PORT)"),
        (
            "tcp://::1:80",
            "an IPv6 address must be in brackets, as in tcp://[::1]:445",
        ),
        ("tcp://[::1:80", "missing \"]\" after the IPv6 address"),
        ("tcp://[::g]:80", "bad IPv6 address \"::g\""),
        ("tcp://[::1]80", "unexpected \"80\" after \"]\""),
        ("tcp://[::1]:", "missing port"),
        ("tcp://[::1]", "missing port"),
        ("tcp://999.1.1.1:80", "bad IPv4 address \"999.1.1.1\""),
        ("tcp://1.2.3:80", "bad IPv4 address \"1.2.3\""),
        ("tcp://bad..name:80", "bad host name \"bad..name\": empty label"),
        (
            "tcp://sp ace:80",
            "bad host name \"sp ace\": character ' ' is not allowed",
        ),
        (
            "tcp://-lead:80",
            "bad host name \"-lead\": a label starts or ends with \"-\"",
        ),
        (
            "http://host:80",
            "unknown scheme \"http\" (known: tcp://, tcp+smb://, tcp+rpc://, tcp+9p://, quic://, netbt://, udp://, unix:, memory:)",
        ),
        (
            "127.0.0.1:80",
            "missing scheme (one of tcp://, tcp+smb://, tcp+rpc://, tcp+9p://, quic://, netbt://, udp://, unix:, memory:)",
        ),
        (
            "localhost",
            "missing scheme (one of tcp://, tcp+smb://, tcp+rpc://, tcp+9p://, quic://, netbt://, udp://, unix:, memory:)",
        ),
        ("tcp://host\n:80", "control character '\\n'"),
        (
            "netbt://h:139?called",
            "parameter \"called\" needs a value (called=NAME)",
        ),
        ("netbt://h:139?called=", "empty called name"),
        ("netbt://h:139?called=A&called=B", "parameter \"called\" is given twice"),
        (
            "netbt://h:139?scope=x",
            "unknown parameter \"scope\" (netbt takes called and calling)",
        ),
        (
            "netbt://h:139?called=ALONGNAMEOFSIXTEEN",
            "bad called name \"ALONGNAMEOFSIXTEEN\": length 18 exceeds the maximum of 15",
        ),
        (
            "netbt://h:139?calling=a*b",
            "bad calling name \"a*b\": invalid NetBIOS name: reserved character",
        ),
        (
            "netbt://h:139?called=X<2G>",
            "bad called name \"X<2G>\": invalid NetBIOS name: suffix is not two hex digits",
        ),
        ("unix:", "missing path (unix:PATH or unix:@NAME)"),
        ("unix:@", "missing abstract socket name after \"@\""),
        (
            "unix:///tmp/x",
            "unexpected \"//\": write unix:/path/to/socket or unix:@name",
        ),
        ("memory:", "missing name (memory:NAME)"),
        ("memory://x", "unexpected \"//\": write memory:NAME"),
    ];
    for (text, problem) in cases {
        let e = Endpoint::parse(text).expect_err(text);
        assert_eq!(e.problem(), *problem, "{text}");
        assert_eq!(
            e.to_string(),
            format!("bad endpoint \"{}\": {problem}", text.escape_debug())
        );
        assert!(!e.to_string().contains('\n'), "one line: {e}");
    }
    let long_path = format!("unix:{}", "p".repeat(MAX_UNIX_NAME + 1));
    assert!(err(&long_path).ends_with("path is 108 bytes, longer than the 107 a socket address holds"));
    let long_abstract = format!("unix:@{}", "p".repeat(MAX_UNIX_NAME + 1));
    assert!(
        err(&long_abstract).ends_with("abstract socket name is 108 bytes, longer than the 107 a socket address holds")
    );
    let long_label = format!("tcp://{}:1", "a".repeat(64));
    assert!(
        err(&long_label).ends_with("a label is longer than 63 characters"),
        "{}",
        err(&long_label)
    );
    let long_name = format!("tcp://{}:1", ["abcdefghi"; 26].join("."));
    assert!(
        err(&long_name).ends_with("longer than 253 characters"),
        "{}",
        err(&long_name)
    );
}

#[test]
fn servers_parse_with_or_without_brackets() {
    assert_eq!(Host::parse("10.1.2.3").unwrap(), Host::Ip("10.1.2.3".parse().unwrap()));
    assert_eq!(Host::parse("[fe80::1]").unwrap().to_string(), "[fe80::1]");
    assert_eq!(Host::parse("fe80::1").unwrap(), Host::parse("[fe80::1]").unwrap());
    assert_eq!(
        Host::parse("[::1").unwrap_err(),
        "missing \"]\" after the IPv6 address in \"[::1\""
    );
    assert_eq!(Host::parse("host:445").unwrap_err(), "bad IPv6 address \"host:445\"");
    assert_eq!(Host::parse("").unwrap_err(), "missing host");
    assert_eq!(
        Host::parse("a b").unwrap_err(),
        "bad host name \"a b\": character ' ' is not allowed"
    );
}

#[test]
fn default_called_names() {
    let name = |h: &str| Host::parse(h).unwrap().default_called_name().to_string();
    assert_eq!(name("localhost"), "LOCALHOST<20>");
    assert_eq!(name("files.example.com"), "FILES<20>");
    assert_eq!(name("127.0.0.1"), "*SMBSERVER<20>");
    assert_eq!(name("::1"), "*SMBSERVER<20>");
}

/// A URL the parser should accept, from its parts.
fn valid_url() -> impl Strategy<Value = String> {
    let label = "[a-z]([a-z0-9_-]{0,8}[a-z0-9])?";
    let host = prop_oneof![
        any::<[u8; 4]>().prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
        any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
        proptest::collection::vec(label, 1..4).prop_map(|l| l.join(".")),
    ];
    let name = "[A-Z][A-Z0-9]{0,14}";
    prop_oneof![
        (
            prop_oneof![
                Just("tcp"),
                Just("tcp+smb"),
                Just("tcp+rpc"),
                Just("tcp+9p"),
                Just("udp")
            ],
            host.clone(),
            any::<u16>()
        )
            .prop_map(|(s, h, p)| format!("{s}://{h}:{p}")),
        (
            host,
            any::<u16>(),
            proptest::option::of(name),
            proptest::option::of(name)
        )
            .prop_map(|(h, p, called, calling)| {
                let mut url = format!("netbt://{h}:{p}?");
                if let Some(c) = called {
                    url.push_str(&format!("called={c}&"));
                }
                if let Some(c) = calling {
                    url.push_str(&format!("calling={c}"));
                }
                url
            }),
        "/[a-z][a-z/]{0,40}".prop_map(|p| format!("unix:{p}")),
        "[a-z0-9-]{1,40}".prop_map(|n| format!("unix:@{n}")),
        "[a-z0-9-]{1,40}".prop_map(|n| format!("memory:{n}")),
    ]
}

proptest! {
    #[test]
    fn parsing_arbitrary_strings_never_panics(text in any::<String>()) {
        if let Ok(endpoint) = Endpoint::parse(&text) {
            // Whatever parses prints as a URL that parses back the same.
            let again = Endpoint::parse(&endpoint.to_string()).unwrap();
            prop_assert_eq!(again, endpoint);
        }
    }

    #[test]
    fn parsing_url_shaped_strings_never_panics(
        scheme in "(tcp|tcp\\+smb|netbt|udp|unix|memory|x)",
        rest in "[:/\\[\\]@?&=#a-zA-Z0-9.<>*%-]{0,40}",
    ) {
        for separator in [":", "://"] {
            let text = format!("{scheme}{separator}{rest}");
            if let Ok(endpoint) = Endpoint::parse(&text) {
                let again = Endpoint::parse(&endpoint.to_string()).unwrap();
                prop_assert_eq!(again, endpoint);
            }
        }
    }

    #[test]
    fn valid_urls_parse_and_print_back(url in valid_url()) {
        let endpoint = Endpoint::parse(&url).unwrap();
        prop_assert_eq!(Endpoint::parse(&endpoint.to_string()).unwrap(), endpoint.clone());
        prop_assert!(!endpoint.remote_address().entries.is_empty());
        prop_assert!(!endpoint.local_address().entries.is_empty());
    }
}

#[test]
fn quic_urls_carry_their_certificate_options() {
    let pin = "ab".repeat(32);
    let e: Endpoint = format!("quic://files.example?sni=srv.example&pin={pin}")
        .parse()
        .unwrap();
    assert_eq!(e.transport_name(), "quic");
    assert_eq!(e.kind().default_port(), Some(443));
    assert_eq!(e.remote_address().host_name_entry(), Some(("files.example", 443)));
    assert_eq!(e.quic_options(), format!("sni=srv.example\npin={pin}"));
    assert_eq!(&e.remote().options[..], e.quic_options().as_bytes());
    assert_eq!(e.to_string().parse::<Endpoint>().unwrap(), e);
    assert!(e.kind().is_framed());
    let plain: Endpoint = "quic://127.0.0.1:4433".parse().unwrap();
    assert!(plain.remote().options.is_empty());
    for (bad, problem) in [
        ("quic://h?color=red", "unknown parameter"),
        ("quic://h?sni=a&sni=b", "twice"),
        ("quic://h?cert=/c", "together"),
        ("quic://h?ca=/a&pin=00", "not both"),
        ("quic://h?sni=", "empty"),
    ] {
        let err = bad.parse::<Endpoint>().unwrap_err();
        assert!(err.problem().contains(problem), "{bad}: {err}");
    }
}

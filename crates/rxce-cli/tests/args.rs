//! Bad URLs and bad flags: exit code 2 and a clear message; `--help` for
//! every command.

mod common;

use common::run;

/// Runs `rxce ARGS`, expects exit code 2 and a clap error, and returns
/// the message (its first paragraph).
fn usage_error(args: &[&str]) -> String {
    let output = run(args);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    stderr.split("\n\n").next().unwrap_or_default().to_owned()
}

#[test]
fn bad_listen_urls_name_the_bad_part() {
    let cases = [
        ("tcp://host", "bad endpoint \"tcp://host\": missing port"),
        (
            "tcp://host:99999",
            "bad endpoint \"tcp://host:99999\": port 99999 is out of range (0-65535)",
        ),
        (
            "tcp://::1:80",
            "bad endpoint \"tcp://::1:80\": an IPv6 address must be in brackets",
        ),
        (
            "http://host:80",
            "bad endpoint \"http://host:80\": unknown scheme \"http\"",
        ),
        (
            "netbt://h:139?called=a*b",
            "bad endpoint \"netbt://h:139?called=a*b\": bad called name \"a*b\"",
        ),
        (
            "unix:",
            "bad endpoint \"unix:\": missing path (unix:PATH or unix:@NAME)",
        ),
        (
            "memory:echo",
            "bad endpoint \"memory:echo\": a memory endpoint exists only inside one process",
        ),
    ];
    for (url, expected) in cases {
        let line = usage_error(&["serve", "--listen", url]);
        assert_eq!(line.lines().count(), 1, "one line: {line}");
        assert!(line.contains(expected), "{url}: {line}");
        assert!(line.contains("--listen"), "names the flag: {line}");
    }
}

#[test]
fn bad_flags_are_usage_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["serve"], "--listen <URL>"),
        (
            &["serve", "--listen", "tcp://127.0.0.1:0", "--mode", "mirror"],
            "invalid value 'mirror'",
        ),
        (
            &["serve", "--listen", "tcp://127.0.0.1:0", "--duration", "soon"],
            "\"soon\" is not a number of seconds",
        ),
        (
            &["serve", "--listen", "tcp://127.0.0.1:0", "--duration", "0"],
            "longer than 0 seconds",
        ),
        (
            &["serve", "--listen", "tcp://127.0.0.1:0", "--duration", "0ms"],
            "longer than 0 seconds",
        ),
        (
            &["serve", "--listen", "tcp://127.0.0.1:0", "--keepalive", "5 parsecs"],
            "\"5 parsecs\" is not a number of seconds nor a duration",
        ),
        (
            &[
                "serve",
                "--listen",
                "tcp://127.0.0.1:0",
                "--accept-name",
                "TOO-LONG-A-NETBIOS-NAME",
            ],
            "bad NetBIOS name",
        ),
        (
            &["serve", "--listen", "udp://127.0.0.1:0", "--mode", "source"],
            "--mode source cannot serve udp://127.0.0.1:0",
        ),
        (&["serve", "--bogus"], "unexpected argument '--bogus'"),
        (&["probe"], "SERVER>"),
        (
            &["probe", "gopher", "127.0.0.1"],
            "unknown protocol \"gopher\": smb, nfs or 9p",
        ),
        (&["probe", "9p", "127.0.0.1:99999"], "bad port in \"127.0.0.1:99999\""),
        (&["probe", "smb", "server:445"], "give the host alone"),
        (&["probe", "bad name"], "bad server \"bad name\": bad host name"),
        (
            &["probe", "server:445"],
            "give the host alone and the ports with --direct-port and --netbt-port",
        ),
        (&["probe", "127.0.0.1", "--timeout", "0"], "--timeout <MS>"),
        (&["probe", "127.0.0.1", "--timeout", "soon"], "invalid value 'soon'"),
        (
            &["probe", "127.0.0.1", "--direct-port", "70000"],
            "--direct-port <PORT>",
        ),
        (
            &["probe", "127.0.0.1", "--called-name", "a:b"],
            "bad NetBIOS name \"a:b\"",
        ),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
    ];
    for (args, expected) in cases {
        let line = usage_error(args);
        assert!(line.contains(expected), "{args:?}: {line}");
    }
}

#[test]
fn every_command_has_help() {
    for (command, expected) in [
        (vec!["--help"], vec!["demo", "serve", "probe"]),
        (vec!["demo", "--help"], vec!["embedded peers"]),
        (
            vec!["serve", "--help"],
            vec![
                "--listen <URL>",
                "--mode <MODE>",
                "--duration <SECS>",
                "--accept-name <NAME>",
                "--keepalive <SECS>",
                "unix:@NAME",
                "an abstract Unix-domain socket",
                "tcp+smb://HOST[:PORT]",
                "netbt://HOST[:PORT][?called=NAME&calling=NAME]",
                "port 0",
            ],
        ),
        (
            vec!["probe", "--help"],
            vec![
                "--direct-port <PORT>",
                "--netbt-port <PORT>",
                "--called-name <NAME>",
                "--timeout <MS>",
                "--json",
                "in the order tcp, netbt",
                "*SMBSERVER",
                "[default: 445]",
                "[default: 5000]",
            ],
        ),
    ] {
        let output = run(&command);
        assert!(output.status.success(), "{command:?}");
        let help = String::from_utf8(output.stdout).unwrap();
        for text in expected {
            assert!(help.contains(text), "{command:?} help mentions {text:?}:\n{help}");
        }
    }
}

//! `rxce smb` against a private smbd on loopback (guest-ok share, started by
//! each test): byte-exact reads over both transports, a 1,000-entry
//! listing, every error the issue names, a server killed mid-read, a server
//! granting one credit at a time, and servers that require signing. These
//! tests fail (not skip) without Samba: `scripts/install-test-deps.sh`
//! installs it.
#![cfg(target_os = "linux")] // Linux only: Samba (smbd) from Debian packages

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use rxce::{Engine, EngineConfig, Status};
use rxce_cli::smb::{self, GetOptions, GetReport, Logon, ReadOptions, SessionOptions, SmbTransport, SmbUrl};
use rxce_testsupport::samba::{require_samba, SambaOptions, SambaServer};

const MIB: usize = 1 << 20;

fn start(options: SambaOptions) -> SambaServer {
    require_samba();
    options.start().expect("a private Samba server starts")
}

/// `len` bytes of a sequence that differs at every offset (a misplaced or
/// repeated chunk shows).
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn url(server: &SambaServer, transport: SmbTransport, path: &str) -> SmbUrl {
    let port = match transport {
        SmbTransport::TcpSmb => server.direct_port(),
        SmbTransport::Netbt => server.netbt_port(),
    };
    let mut url = SmbUrl::parse(&format!("smb://127.0.0.1:{port}/{}/{path}", server.share_name())).unwrap();
    url.transport = transport;
    url
}

fn session_options() -> SessionOptions {
    SessionOptions {
        logon: Logon::Anonymous,
        timeout: Duration::from_secs(20),
    }
}

/// `smb::get` of `url` into `output`, on an engine of its own.
fn get(url: &SmbUrl, output: &Path, read: ReadOptions) -> Result<GetReport, Status> {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let options = GetOptions {
        url: url.clone(),
        output: output.to_path_buf(),
        session: session_options(),
        read,
    };
    let runtime = engine.runtime().clone();
    runtime.block_on(async {
        let result = smb::get(&engine, &options, &mut |_, _| {}).await;
        engine.shutdown().await;
        result
    })
}

fn list(url: &SmbUrl) -> Result<Vec<smb::DirectoryEntry>, Status> {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let runtime = engine.runtime().clone();
    runtime.block_on(async {
        let result = smb::list(&engine, url, &session_options()).await;
        engine.shutdown().await;
        result
    })
}

/// Nothing but `keep` is left in `dir` (no temporary file, no partial
/// output).
fn assert_only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, keep, "files left in {}", dir.display());
}

#[test]
fn reads_are_byte_exact_over_tcp_smb_and_netbt() {
    let server = start(SambaOptions::new());
    let max_read = 8 * MIB; // Samba's MaxReadSize (the probe tests check it)
    let sizes = [0, 1, 64 * 1024, max_read + 1, 64 * MIB + 3];
    for (i, size) in sizes.iter().enumerate() {
        std::fs::write(server.share_path().join(format!("f{size}")), pattern(*size, i as u64)).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    for transport in [SmbTransport::TcpSmb, SmbTransport::Netbt] {
        for (i, size) in sizes.iter().enumerate() {
            let output = out.path().join(format!("{transport:?}-{size}"));
            let report = get(
                &url(&server, transport, &format!("f{size}")),
                &output,
                ReadOptions::default(),
            )
            .unwrap_or_else(|s| panic!("{transport:?} {size} B: {s}"));
            assert_eq!(report.bytes, *size as u64);
            assert_eq!(report.server.max_read_size as usize, max_read);
            let got = std::fs::read(&output).unwrap();
            assert!(got == pattern(*size, i as u64), "{transport:?}: {size} B differ");
            if *size > max_read {
                assert!(report.stats.reads >= 2, "{size} B in {} READs", report.stats.reads);
                assert!(report.stats.max_in_flight >= 2, "READs were not pipelined");
            }
        }
    }
}

#[test]
fn ls_lists_a_directory_of_1000_entries() {
    let server = start(SambaOptions::new());
    let dir = server.share_path().join("many");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..1000 {
        std::fs::write(dir.join(format!("entry-{i:04}.txt")), vec![b'x'; i % 7]).unwrap();
    }
    let entries = list(&url(&server, SmbTransport::TcpSmb, "many")).unwrap();
    assert_eq!(entries.len(), 1000);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.name, format!("entry-{i:04}.txt"));
        assert_eq!(e.size, (i % 7) as u64);
        assert!(!e.is_directory());
    }
    let root = list(&url(&server, SmbTransport::Netbt, "")).unwrap();
    assert_eq!(root.len(), 1);
    assert!(root[0].is_directory() && root[0].name == "many");
}

/// A `get` the server refuses: its status, and nothing left behind.
fn refused(url: &SmbUrl) -> Status {
    let out = tempfile::tempdir().unwrap();
    let status = get(url, &out.path().join("f"), ReadOptions::default()).unwrap_err();
    assert_only(out.path(), &[]);
    status
}

#[test]
fn unknown_share_is_bad_network_name() {
    let server = start(SambaOptions::new());
    let mut u = url(&server, SmbTransport::TcpSmb, "f");
    u.share = "nosuchshare".into();
    let status = refused(&u);
    assert_eq!(status.code(), 0xC000_00CC, "{status}");
    assert_eq!(status, Status::BAD_NETWORK_NAME);
}

#[test]
fn unknown_file_is_object_name_not_found() {
    let server = start(SambaOptions::new());
    let status = refused(&url(&server, SmbTransport::Netbt, "no-such-file"));
    assert_eq!(status.code(), 0xC000_0034, "{status}");
    assert!(smb::status_line(&status).starts_with("STATUS_OBJECT_NAME_NOT_FOUND (0xC0000034)"));
}

#[test]
fn unreadable_file_is_access_denied() {
    use std::os::unix::fs::PermissionsExt;
    let server = start(SambaOptions::new());
    let secret = server.share_path().join("secret");
    std::fs::write(&secret, b"not for guests").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    let status = refused(&url(&server, SmbTransport::TcpSmb, "secret"));
    assert_eq!(status.code(), 0xC000_0022, "{status}");
    assert!(smb::status_line(&status).starts_with("STATUS_ACCESS_DENIED"));
}

#[test]
fn smbd_killed_mid_read_ends_the_get_with_its_status_and_no_output() {
    let mut server = start(SambaOptions::new());
    std::fs::write(server.share_path().join("big"), pattern(64 * MIB, 9)).unwrap();
    let u = url(&server, SmbTransport::TcpSmb, "big");
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("big");
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let options = GetOptions {
        url: u,
        output: output.clone(),
        session: session_options(),
        // One 64 KiB READ at a time: the kill lands mid-transfer.
        read: ReadOptions {
            read_size: Some(65_536),
            window: 1,
        },
    };
    let mut killed_at = None;
    let runtime = engine.runtime().clone();
    let result = runtime.block_on(async {
        let mut progress = |done: u64, _total: u64| {
            if done >= 4 * MIB as u64 && killed_at.is_none() {
                killed_at = Some(done);
                server.stop();
            }
        };
        let result = smb::get(&engine, &options, &mut progress).await;
        engine.shutdown().await;
        result
    });
    let killed_at = killed_at.expect("the transfer got past 4 MiB");
    let status = result.expect_err("a read from a killed server fails");
    eprintln!("smbd stopped after {killed_at} B: {}", smb::status_line(&status));
    assert!(status.is_error(), "{status}");
    assert_ne!(
        status,
        Status::IO_TIMEOUT,
        "the end was noticed, not waited out: {status}"
    );
    assert!(killed_at < 64 * MIB as u64);
    assert_only(out.path(), &[]);
}

/// Writes `len` pattern bytes to `f` in the share, gets it over tcp+smb
/// and checks the copy byte for byte.
fn get_exact(server: &SambaServer, len: usize, seed: u64) -> GetReport {
    let data = pattern(len, seed);
    std::fs::write(server.share_path().join("f"), &data).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("f");
    let report = get(&url(server, SmbTransport::TcpSmb, "f"), &output, ReadOptions::default()).unwrap();
    assert!(std::fs::read(&output).unwrap() == data, "{len} B differ");
    report
}

#[test]
fn a_server_granting_one_credit_at_a_time_is_read_to_the_end() {
    let server = start(SambaOptions::new().global_line("smb2 max credits = 1"));
    let report = get_exact(&server, MIB + 5, 3);
    // One credit covers 64 KiB: 17 READs, never two at once.
    assert_eq!(report.stats.reads, 17);
    assert_eq!(report.stats.max_in_flight, 1);
    // Listing (CREATE and QUERY_DIRECTORY are then sent one by one).
    assert_eq!(list(&url(&server, SmbTransport::TcpSmb, "")).unwrap().len(), 1);
}

#[test]
fn smb_2_0_2_reads_in_64k_requests() {
    let server = start(SambaOptions::new().global_line("server max protocol = SMB2_02"));
    let report = get_exact(&server, 300_000, 4);
    assert_eq!(report.server.dialect, rxce_smb2::dialect::SMB2_0_2);
    assert_eq!(report.stats.reads, 5);
}

#[test]
fn a_server_requiring_signing_is_refused() {
    let server = start(SambaOptions::new().global_line("server signing = mandatory"));
    let status = refused(&url(&server, SmbTransport::TcpSmb, "f"));
    assert_eq!(status, Status::NOT_SUPPORTED);
    assert!(status.message().unwrap().contains("requires signing"), "{status}");
}

#[test]
fn guest_logons_need_map_to_guest() {
    let server = start(SambaOptions::new());
    std::fs::write(server.share_path().join("f"), b"guest").unwrap();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let runtime = engine.runtime().clone();
    let guest = SessionOptions {
        logon: Logon::Guest {
            user: "rxce-no-such-user".into(),
        },
        ..session_options()
    };
    let kinds = runtime.block_on(async {
        let mut kinds = Vec::new();
        for options in [guest.clone(), session_options()] {
            let session = smb::Session::open(&engine, &url(&server, SmbTransport::TcpSmb, "f"), &options)
                .await
                .unwrap();
            kinds.push(session.server_info().session_kind());
            session.close().await.unwrap();
        }
        kinds
    });
    assert_eq!(kinds, ["guest", "anonymous"]);
    drop(server);

    // Without `map to guest = Bad User` an unknown user is refused.
    let strict = start(SambaOptions::new().global_line("map to guest = never"));
    let refused = runtime.block_on(smb::Session::open(
        &engine,
        &url(&strict, SmbTransport::TcpSmb, "f"),
        &guest,
    ));
    assert_eq!(
        refused.err().map(|s| s.code()),
        Some(0xC000_006D),
        "STATUS_LOGON_FAILURE"
    );
    runtime.block_on(engine.shutdown());
}

#[test]
fn cli_get_and_ls_print_what_they_did() {
    let server = start(SambaOptions::new());
    let data = pattern(100_000, 5);
    std::fs::write(server.share_path().join("file.bin"), &data).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("copy.bin");
    let base = format!("smb://127.0.0.1:{}/{}", server.netbt_port(), server.share_name());
    let got = run(&[
        "smb",
        "get",
        &format!("{base}/file.bin"),
        "-o",
        output.to_str().unwrap(),
        "--transport",
        "netbt",
    ]);
    let stdout = String::from_utf8_lossy(&got.stdout);
    assert_eq!(got.status.code(), Some(0), "{}", String::from_utf8_lossy(&got.stderr));
    assert!(stdout.contains("100000 B in"), "{stdout}");
    assert!(stdout.contains("netbt SMB 3.1.1, anonymous session"), "{stdout}");
    assert!(std::fs::read(&output).unwrap() == data);

    let listed = run(&["smb", "ls", &format!("{base}/")]);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.status.code(), Some(0));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("- 100000 ") && l.ends_with("  file.bin")),
        "{stdout}"
    );
    assert!(stdout.ends_with("1 entries\n"), "{stdout}");

    let missing = run(&["smb", "get", &format!("{base}/nope"), "-o", output.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.starts_with("rxce smb get: STATUS_OBJECT_NAME_NOT_FOUND (0xC0000034)"),
        "{stderr}"
    );
    // The earlier copy is untouched by the failed one.
    assert!(std::fs::read(&output).unwrap() == data);
}

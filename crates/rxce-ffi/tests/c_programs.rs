//! The C programs under `tests/c`: built as a C user builds them, against
//! the library cargo-c installs (`cargo cinstall` into a temporary prefix,
//! then `cc $(pkg-config --cflags --libs rxce)`), as strict C99, and run
//! natively and under valgrind (memcheck, full leak check: no error, no
//! definitely or possibly lost byte). Each program prints `ok - ...` /
//! `not ok - ...` per check and exits non-zero on a failure.
#![cfg(target_os = "linux")] // Linux only: cargo cinstall, pkg-config, cc and valgrind

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The prefix the C library is installed into for this test run: cargo-c
/// builds it with the test's profile and target directory and installs the
/// library, `rxce.h` and `rxce.pc` there (a no-op build when up to date).
fn prefix() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable is in target/<profile>/deps");
        let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
        let profile = profile_dir.file_name().and_then(|n| n.to_str()).expect("a profile");
        let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prefix");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["cinstall", "-p", "rxce-ffi", "--prefix"])
            .arg(&prefix)
            .arg("--libdir")
            .arg(prefix.join("lib"))
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(crate_dir());
        match profile {
            "debug" => {
                cargo.arg("--debug");
            }
            "release" => {
                cargo.arg("--release");
            }
            other => {
                cargo.args(["--profile", other]);
            }
        }
        let status = cargo
            .status()
            .expect("running cargo cinstall (install cargo-c with scripts/install-test-deps.sh)");
        assert!(status.success(), "cargo cinstall -p rxce-ffi failed");
        prefix
    })
}

/// `pkg-config ARGS rxce` against the test's install.
fn pkg_config(args: &[&str]) -> Vec<String> {
    let output = Command::new("pkg-config")
        .args(args)
        .arg("rxce")
        .env("PKG_CONFIG_PATH", prefix().join("lib/pkgconfig"))
        .output()
        .expect("running pkg-config (install it with scripts/install-test-deps.sh)");
    assert!(
        output.status.success(),
        "pkg-config {args:?} rxce failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("pkg-config prints text")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Compiles `tests/c/<program>.c` with the shared helpers into the test's
/// scratch directory as `<program>-<flavour>`.
fn compile(program: &str, flavour: &str) -> PathBuf {
    let c = crate_dir().join("tests/c");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{program}-{flavour}"));
    let output = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-O1"])
        .args(pkg_config(&["--cflags"]))
        .arg("-I")
        .arg(&c)
        .arg(c.join(format!("{program}.c")))
        .arg(c.join("rxce_test.c"))
        .args(pkg_config(&["--libs"]))
        .arg(format!("-Wl,-rpath,{}", prefix().join("lib").display()))
        .args(["-lpthread", "-o"])
        .arg(&out)
        .output()
        .expect("running cc (install gcc with scripts/install-test-deps.sh)");
    assert!(
        output.status.success(),
        "cc failed on {program}.c:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// The install has what a C user needs: the versioned shared library with
/// its SONAME, the static library, the header and the pkg-config file.
#[test]
fn cargo_c_installs_the_library_the_header_and_pkg_config() {
    let lib = prefix().join("lib");
    for file in ["librxce.so", "librxce.a", "pkgconfig/rxce.pc"] {
        assert!(lib.join(file).exists(), "no {file} in {}", lib.display());
    }
    let header = std::fs::read(prefix().join("include/rxce.h")).expect("the installed header");
    assert_eq!(
        header,
        std::fs::read(crate_dir().join("include/rxce.h")).unwrap(),
        "the installed header is the committed one"
    );
    let soname = std::fs::read_link(lib.join("librxce.so")).expect("librxce.so is a version link");
    println!("librxce.so -> {}", soname.display());
    assert!(
        soname.to_string_lossy().starts_with("librxce.so."),
        "{}",
        soname.display()
    );
    let dynamic = Command::new("readelf")
        .args(["-d"])
        .arg(lib.join("librxce.so"))
        .output()
        .expect("running readelf");
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(
        dynamic.contains("Library soname: [librxce.so."),
        "no versioned SONAME:\n{dynamic}"
    );
    assert_eq!(
        pkg_config(&["--libs"]),
        [format!("-L{}", lib.display()), "-lrxce".to_owned()]
    );
}

/// Runs `command` to its end, killing it after `limit`.
fn run(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the program");
    let started = Instant::now();
    while child.try_wait().expect("waiting for the program").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collecting the output");
            panic!(
                "the program ran longer than {limit:?}:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collecting the output")
}

fn assert_passed(program: &str, output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        output.status.success(),
        "{program} failed ({}); failing checks:\n{}",
        output.status,
        stdout
            .lines()
            .filter(|l| l.starts_with("not ok"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("# ") && l.ends_with(" checks, 0 failed")),
        "{program} did not finish its checks"
    );
}

fn native(program: &str) {
    native_with(program, &[]);
}

fn native_with(program: &str, env: &[(&str, String)]) {
    let binary = compile(program, "native");
    let mut command = Command::new(&binary);
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let output = run(command, Duration::from_secs(300));
    assert_passed(program, &output);
}

fn under_valgrind(program: &str) {
    under_valgrind_with(program, &[]);
}

fn under_valgrind_with(program: &str, env: &[(&str, String)]) {
    let binary = compile(program, "valgrind");
    let mut command = Command::new("valgrind");
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
        .args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,possible",
            "--show-leak-kinds=definite,possible",
            "--track-origins=yes",
        ])
        .arg(format!(
            "--suppressions={}",
            crate_dir().join("tests/valgrind.supp").display()
        ))
        .arg(&binary);
    let output = run(command, Duration::from_secs(1200));
    assert_passed(program, &output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ERROR SUMMARY: 0 errors"),
        "valgrind found errors in {program}"
    );
}

#[test]
fn lifecycle_c() {
    native("lifecycle");
}

#[test]
fn lifecycle_c_under_valgrind() {
    under_valgrind("lifecycle");
}

#[test]
fn data_c() {
    native("data");
}

#[test]
fn data_c_under_valgrind() {
    under_valgrind("data");
}

#[test]
fn bad_input_c() {
    native("bad_input");
}

#[test]
fn bad_input_c_under_valgrind() {
    under_valgrind("bad_input");
}

#[test]
fn datagrams_c() {
    native("datagrams");
}

#[test]
fn datagrams_c_under_valgrind() {
    under_valgrind("datagrams");
}

#[test]
fn transports_c() {
    native("transports");
}

#[test]
fn transports_c_under_valgrind() {
    under_valgrind("transports");
}

#[test]
fn multi_c() {
    native("multi");
}

#[test]
fn multi_c_under_valgrind() {
    under_valgrind("multi");
}

#[test]
fn sigpipe_c() {
    native("sigpipe");
}

#[test]
fn sigpipe_c_under_valgrind() {
    under_valgrind("sigpipe");
}

#[test]
fn blocked_c() {
    native("blocked");
}

#[test]
fn blocked_c_under_valgrind() {
    under_valgrind("blocked");
}

#[test]
fn no_shutdown_c() {
    native("no_shutdown");
}

#[test]
fn no_shutdown_c_under_valgrind() {
    under_valgrind("no_shutdown");
}

/// A quinn server (ALPN `smb`, a self-signed certificate) that echoes
/// every stream, on its own runtime thread for the rest of the test: the
/// environment of `quic.c` (its port and the certificate's pin).
fn quic_echo_server() -> Vec<(&'static str, String)> {
    use rxce::provider::quic::quinn;
    use rxce::provider::quic::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use rxce::provider::quic::{options, tls};
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("a certificate");
    let pin = options::hex(&options::fingerprint(generated.cert.der()));
    let config = tls::server_config(
        vec![generated.cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der())),
        None,
    )
    .expect("a server configuration");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).expect("a UDP socket");
            tx.send(endpoint.local_addr().unwrap().port()).unwrap();
            while let Some(incoming) = endpoint.accept().await {
                tokio::spawn(async move {
                    let Ok(conn) = incoming.await else { return };
                    while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                        tokio::spawn(async move {
                            let mut buf = vec![0u8; 65536];
                            while let Ok(Some(n)) = recv.read(&mut buf).await {
                                if send.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                            let _ = send.finish();
                        });
                    }
                });
            }
        });
    });
    let port = rx.recv().expect("the server's port");
    vec![("RXCE_QUIC_PORT", port.to_string()), ("RXCE_QUIC_PIN", pin)]
}

#[test]
fn quic_c() {
    native_with("quic", &quic_echo_server());
}

#[test]
fn quic_c_under_valgrind() {
    under_valgrind_with("quic", &quic_echo_server());
}

//! The C programs under `tests/c`: compiled against the committed
//! `include/rxce.h` as strict C99, linked with the `librxce.so` cargo built
//! for this test run, and run natively and under valgrind (memcheck, full
//! leak check: no error and no definitely-lost byte). Each program prints
//! `ok - ...` / `not ok - ...` per check and exits non-zero on a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`, with a fresh `librxce.so` in it. `cargo test` does
/// not build a cdylib-only library for integration tests, so the first test
/// to get here runs `cargo build` for this crate, with the same target
/// directory and profile (a no-op when the library is up to date).
fn library_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test executable's path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("the test executable is in target/<profile>/deps");
            let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
            let profile = profile_dir.file_name().and_then(|n| n.to_str()).expect("a profile");
            let mut cargo = Command::new(env!("CARGO"));
            cargo
                .args(["build", "--quiet", "-p", "rxce-ffi", "--lib", "--target-dir"])
                .arg(target_dir)
                .current_dir(crate_dir());
            match profile {
                "debug" => {}
                "release" => {
                    cargo.arg("--release");
                }
                other => {
                    cargo.args(["--profile", other]);
                }
            }
            let status = cargo.status().expect("running cargo build");
            assert!(status.success(), "cargo build -p rxce-ffi failed");
            assert!(
                profile_dir.join("librxce.so").exists(),
                "no librxce.so in {}",
                profile_dir.display()
            );
            profile_dir.to_path_buf()
        })
        .clone()
}

/// Compiles `tests/c/<program>.c` with the shared helpers into the test's
/// scratch directory as `<program>-<flavour>`.
fn compile(program: &str, flavour: &str) -> PathBuf {
    let lib = library_dir();
    let c = crate_dir().join("tests/c");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{program}-{flavour}"));
    let output = Command::new("gcc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-O1"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg("-I")
        .arg(&c)
        .arg(c.join(format!("{program}.c")))
        .arg(c.join("rxce_test.c"))
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lrxce", "-lpthread", "-o"])
        .arg(&out)
        .output()
        .expect("running gcc (install it with scripts/install-test-deps.sh)");
    assert!(
        output.status.success(),
        "gcc failed on {program}.c:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
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
    let binary = compile(program, "native");
    let output = run(Command::new(&binary), Duration::from_secs(300));
    assert_passed(program, &output);
}

fn under_valgrind(program: &str) {
    let binary = compile(program, "valgrind");
    let mut command = Command::new("valgrind");
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

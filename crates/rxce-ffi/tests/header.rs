//! `include/rxce.h` is cbindgen's output for this crate, committed so C
//! users need no Rust tools. These tests fail when it is stale, and check
//! that it names every status the engine can return.

use std::path::Path;

use rxce::Status;

const REFRESH: &str = "RXCE_BLESS=1 cargo test -p rxce-ffi --test header";

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> String {
    let config = cbindgen::Config::from_file(crate_dir().join("cbindgen.toml")).expect("cbindgen.toml is readable");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir())
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

fn committed() -> String {
    std::fs::read_to_string(crate_dir().join("include/rxce.h")).unwrap_or_default()
}

#[test]
fn header_is_fresh() {
    let generated = generate();
    if std::env::var_os("RXCE_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(crate_dir().join("include/rxce.h"), &generated).expect("writing the header");
        return;
    }
    assert!(
        committed() == generated,
        "include/rxce.h is stale; refresh it with `{REFRESH}`"
    );
}

/// The value of `#define NAME VALUE` in the header, as cbindgen writes
/// NTSTATUS constants: `0`, `259` or `(NTSTATUS)3221225480u`.
fn defined(header: &str, name: &str) -> Option<u32> {
    let prefix = format!("#define {name} ");
    let value = header.lines().find_map(|line| line.strip_prefix(prefix.as_str()))?;
    let digits = value.trim_start_matches("(NTSTATUS)").trim_end_matches('u');
    digits.parse().ok()
}

#[test]
fn header_defines_every_engine_status() {
    let header = committed();
    for status in Status::ALL {
        assert_eq!(
            defined(&header, status.name()),
            Some(status.code()),
            "{} is missing or has another value in rxce.h",
            status.name()
        );
    }
}

/// Every type of `src/types` is declared in the header (cbindgen leaves out
/// what no routine mentions unless `cbindgen.toml` includes it).
#[test]
fn header_declares_every_type() {
    let header = committed();
    let dir = crate_dir().join("src/types");
    for file in std::fs::read_dir(&dir).expect("src/types") {
        let source = std::fs::read_to_string(file.expect("a file").path()).expect("readable");
        for line in source.lines() {
            let Some(rest) = ["pub type ", "pub struct ", "pub union "]
                .iter()
                .find_map(|p| line.strip_prefix(p))
            else {
                continue;
            };
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if name == "_RXCE_VC_CONNECTION" {
                continue; // printed as `struct _RXCE_CONNECTION` (see its docs)
            }
            let declared = header.contains(&format!(" {name};"))
                || header.contains(&format!("*{name};"))
                || header.contains(&format!("(*{name})("));
            assert!(
                declared,
                "{name} is not declared in rxce.h; add it to cbindgen.toml's include"
            );
        }
    }
}

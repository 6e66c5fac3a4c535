//! `include/rxce.h` is cbindgen's output for this crate, committed so C
//! users need no Rust tools. These tests fail when it is stale, and check
//! that it names every status the engine can return.

use std::path::Path;

use rxce::Status;

const REFRESH: &str = "RXCE_BLESS=1 cargo test -p rxce-ffi --test header";

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// cbindgen's header, with the statuses and flags in hex.
fn generate() -> String {
    let config = cbindgen::Config::from_file(crate_dir().join("cbindgen.toml")).expect("cbindgen.toml is readable");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir())
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    in_hex(&String::from_utf8(out).expect("the header is UTF-8"))
}

/// How the Windows headers spell a constant of this name, for `value`;
/// `None` for the constants they spell in decimal (enumerations, lengths,
/// address types, event types).
fn windows_spelling(name: &str, value: u64) -> Option<String> {
    if name.starts_with("STATUS_") {
        Some(format!("((NTSTATUS)0x{value:08X}L)"))
    } else if name.starts_with("TDI_SEND_") || name.starts_with("TDI_DISCONNECT_") {
        Some(format!("((USHORT)0x{value:04X})"))
    } else if ["TDI_RECEIVE_", "TDI_SERVICE_", "RXCE_SEND_"]
        .iter()
        .any(|p| name.starts_with(p))
        || name.ends_with("_SIGNATURE")
    {
        Some(format!("0x{value:08X}"))
    } else if name.starts_with("RXCE_ADDRESS_TYPE_") {
        Some(format!("0x{value:04X}"))
    } else {
        None
    }
}

/// Rewrites cbindgen's decimal `#define NAME 259` / `#define NAME
/// (NTSTATUS)3221225480u` in hex where the Windows headers use hex, so a
/// search for `0xC000009A` finds STATUS_INSUFFICIENT_RESOURCES.
fn in_hex(header: &str) -> String {
    let mut out = String::with_capacity(header.len() + 4096);
    for line in header.split_inclusive('\n') {
        let rewritten = line.strip_prefix("#define ").and_then(|rest| {
            let (name, value) = rest.trim_end().split_once(' ')?;
            let digits = value.trim_start_matches("(NTSTATUS)").trim_end_matches('u');
            let value: u64 = digits.parse().ok()?;
            Some(format!("#define {name} {}\n", windows_spelling(name, value)?))
        });
        out.push_str(rewritten.as_deref().unwrap_or(line));
    }
    out
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

/// The value of `#define NAME ((NTSTATUS)0xC000009AL)` in the header.
fn defined(header: &str, name: &str) -> Option<u32> {
    let prefix = format!("#define {name} ");
    let value = header.lines().find_map(|line| line.strip_prefix(prefix.as_str()))?;
    let hex = value.strip_prefix("((NTSTATUS)0x")?.strip_suffix("L)")?;
    u32::from_str_radix(hex, 16).ok()
}

#[test]
fn statuses_and_flags_are_spelled_as_windows_spells_them() {
    let header = committed();
    for line in [
        "#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009AL)",
        "#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)",
        "#define STATUS_BUFFER_OVERFLOW ((NTSTATUS)0x80000005L)",
        "#define TDI_RECEIVE_ENTIRE_MESSAGE 0x00000400",
        "#define TDI_SEND_EXPEDITED ((USHORT)0x0020)",
        "#define TDI_DISCONNECT_RELEASE ((USHORT)0x0004)",
        "#define RXCE_SEND_SYNCHRONOUS 0x10000000",
    ] {
        assert!(header.lines().any(|l| l == line), "rxce.h lacks `{line}`");
    }
    assert!(header.contains("#include <stddef.h>") && header.contains("#include <stdint.h>"));
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

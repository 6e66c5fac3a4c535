//! `rxce-bench` completes and prints well-formed JSON. Run once, short
//! (`--duration 1`) and small (`--connections 200` instead of 9,000 idle
//! connections for scale). Benchmarks are never timed tests: nothing here
//! looks at a figure beyond it being a finite number.

use std::collections::BTreeSet;

use serde_json::Value;

const SCENARIOS: [&str; 7] = [
    "throughput",
    "rpc",
    "connect",
    "race",
    "scale",
    "fanout",
    "smb-transport",
];

fn finite(value: &Value, what: &str) -> f64 {
    let n = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {value}"));
    assert!(n.is_finite(), "{what} is not finite: {n}");
    n
}

#[test]
fn bench_all_completes_with_well_formed_json() {
    let plot = tempfile::NamedTempFile::with_suffix(".svg").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rxce-bench"))
        .args([
            "--scenario",
            "all",
            "--duration",
            "1",
            "--connections",
            "200",
            "--json",
            "--plot",
        ])
        .arg(plot.path())
        .output()
        .expect("rxce-bench runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "rxce-bench failed ({}): {stderr}",
        output.status
    );

    // Exactly one JSON object on stdout.
    let mut stream = serde_json::Deserializer::from_str(&stdout).into_iter::<Value>();
    let report = stream.next().expect("one JSON value").expect("well-formed JSON");
    assert!(stream.next().is_none(), "more than one JSON value on stdout: {stdout}");
    assert!(report.is_object(), "{report}");

    let machine = report["machine"].as_object().expect("a machine object");
    assert!(finite(&machine["cpus"], "machine.cpus") >= 1.0);

    let scenarios = report["scenarios"].as_array().expect("a scenarios array");
    let mut seen = BTreeSet::new();
    let mut flavours = BTreeSet::new();
    for row in scenarios {
        let name = row["name"].as_str().expect("a scenario name");
        seen.insert(name.to_owned());
        flavours.insert(row["flavour"].as_str().expect("a flavour").to_owned());
        for key in ["transport", "unit", "metric"] {
            assert!(row[key].is_string(), "{name}: {key} missing in {row}");
        }
        finite(&row["rxce"], &format!("{name}.rxce"));
        finite(&row["baseline"]["value"], &format!("{name}.baseline.value"));
        assert!(row["baseline"]["name"].is_string(), "{row}");
        assert!(finite(&row["ratio"], &format!("{name}.ratio")) >= 0.0);
        finite(&row["spread"], &format!("{name}.spread"));
        assert!(row["rounds"].as_u64().expect("rounds") >= 1, "{row}");
    }
    for name in SCENARIOS {
        assert!(seen.contains(name), "scenario {name} missing: {stdout}");
    }
    assert_eq!(
        flavours.into_iter().collect::<Vec<_>>(),
        ["current-thread", "multi-thread(2)"],
        "a row per runtime flavour"
    );
    let targets = report["targets"].as_array().expect("a targets array");
    assert!(!targets.is_empty());
    assert!(targets.iter().all(|t| t["holds"].is_boolean()), "{report}");

    let svg = std::fs::read_to_string(plot.path()).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("rxce"), "{svg}");
    // The fanout curves beside it.
    let beside = rxce_bench::plot::beside(plot.path(), "fanout");
    let curves = std::fs::read_to_string(&beside).unwrap();
    let _ = std::fs::remove_file(&beside);
    assert!(curves.starts_with("<svg") && curves.contains("VCs at once"), "{curves}");
}

/// `--scenario smb-read` (a private smbd, rxce against smbclient, one
/// runtime flavour, the shortest run: a warm-up and three rounds) gives a
/// rate and a CPU row against smbclient, and checks the target against it.
/// Built without `--features smb-rs` (as here) it has no smb-rs rows.
#[test]
#[cfg(target_os = "linux")] // Samba (smbd, smbclient)
fn bench_smb_read_compares_rxce_with_smbclient() {
    rxce_testsupport::samba::require_samba();
    assert!(
        rxce_testsupport::samba::find_program("smbclient").is_some(),
        "smbclient is missing: run scripts/install-test-deps.sh"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rxce-bench"))
        .args([
            "--scenario",
            "smb-read",
            "--duration",
            "0.01",
            "--flavour",
            "current-thread",
            "--json",
        ])
        .output()
        .expect("rxce-bench runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "rxce-bench failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).expect("well-formed JSON");
    let rows = report["scenarios"].as_array().expect("a scenarios array");
    let units: Vec<&str> = rows.iter().map(|r| r["unit"].as_str().unwrap()).collect();
    assert_eq!(units, ["MB/s", "CPU s/GiB"], "{stdout}");
    for row in rows {
        assert_eq!(row["name"], "smb-read");
        assert!(row["baseline"]["name"].as_str().unwrap().starts_with("smbclient"));
        assert!(finite(&row["rxce"], "rxce") > 0.0, "{row}");
        assert!(finite(&row["ratio"], "ratio") > 0.0, "{row}");
        assert_eq!(row["rounds"].as_u64(), Some(3), "{row}");
    }
    let targets = report["targets"].as_array().expect("a targets array");
    assert_eq!(targets.len(), 1, "{report}");
    assert!(targets[0]["target"].as_str().unwrap().contains("smbclient"));
}

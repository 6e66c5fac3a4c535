//! `rxce soak` as a user runs it (a few seconds; CI runs it for minutes).

use assert_cmd::Command;

#[test]
fn a_short_soak_prints_its_seed_progress_and_a_summary_in_json_and_exits_zero() {
    let output = Command::cargo_bin("rxce")
        .unwrap()
        .args(["soak", "--duration", "4", "--seed", "7", "--lanes", "2", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.starts_with("rxce soak: seed 7, 4 s, 2 lanes"), "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["seed"], 7);
    assert_eq!(summary["held"], true, "{summary}");
    assert_eq!(summary["broken_count"], 0);
    assert!(summary["replay"]
        .as_str()
        .unwrap()
        .starts_with("rxce soak --seed 7 --duration 4 --lanes 2"));
    assert!(summary["totals"]["operations"].as_u64().unwrap() > 100, "{summary}");
    let promises = summary["promises"].as_array().unwrap();
    assert_eq!(promises.len(), 5);
    assert!(promises.iter().all(|p| p["held"] != false), "{summary}");
}

#[test]
fn a_seed_that_is_not_a_number_is_a_usage_error() {
    let output = Command::cargo_bin("rxce")
        .unwrap()
        .args(["soak", "--seed", "many"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

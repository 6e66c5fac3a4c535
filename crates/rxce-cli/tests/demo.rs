//! `rxce demo` as a user runs it.

use assert_cmd::Command;

#[test]
fn the_demo_echoes_every_size_on_both_transports_and_exits_zero() {
    let output = Command::cargo_bin("rxce").unwrap().arg("demo").output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for transport in ["tcp", "memory"] {
        let echoes: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains(transport) && l.contains(" echo "))
            .collect();
        assert_eq!(echoes.len(), rxce_cli::demo::SIZES.len(), "{stdout}");
        assert!(echoes.iter().all(|l| l.contains("STATUS_SUCCESS")), "{stdout}");
        assert!(
            echoes
                .iter()
                .any(|l| l.contains("1.0 MiB") && l.contains("more processing → data ready")),
            "the large message takes the more-processing path: {stdout}"
        );
        assert!(stdout
            .lines()
            .any(|l| l.contains(transport) && l.contains("tear down transport") && l.contains("STATUS_SUCCESS")));
    }
    assert!(stdout.contains("every step succeeded"));
}

#[test]
fn help_lists_the_demo() {
    let output = Command::cargo_bin("rxce").unwrap().arg("--help").output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("demo"));
    let bad = Command::cargo_bin("rxce")
        .unwrap()
        .arg("--no-such-flag")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

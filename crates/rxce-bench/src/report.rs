//! The bench's results: rows (rxce against one baseline), the issue's
//! targets checked against them, the table and the JSON.

use serde_json::{json, Value};

use super::harness::{Comparison, Flavour};

/// rxce against one baseline in one scenario, on one runtime flavour.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The scenario (`throughput`, `rpc`, `connect`, `race`, `scale`,
    /// `smb-transport`).
    pub scenario: String,
    /// What figure of the scenario this is (`64 B request/response, p50`).
    pub metric: String,
    /// The transport's provider name.
    pub transport: String,
    /// The runtime flavour's name.
    pub flavour: String,
    /// The unit of the figures.
    pub unit: String,
    /// rxce's figure (median of its rounds).
    pub rxce: f64,
    /// The baseline's name.
    pub baseline_name: String,
    /// The baseline's figure (median of its rounds).
    pub baseline: f64,
    /// Median of the per-round ratios; above 1.0 means rxce did better.
    pub ratio: f64,
    /// Interquartile range of the per-round ratios.
    pub spread: f64,
    /// Rounds compared.
    pub rounds: usize,
}

impl Row {
    /// A row from a comparison.
    pub fn new(
        scenario: &str,
        metric: &str,
        transport: &str,
        flavour: Flavour,
        unit: &str,
        baseline_name: &str,
        c: Comparison,
    ) -> Row {
        Row {
            scenario: scenario.to_owned(),
            metric: metric.to_owned(),
            transport: transport.to_owned(),
            flavour: flavour.name().to_owned(),
            unit: unit.to_owned(),
            rxce: c.rxce,
            baseline_name: baseline_name.to_owned(),
            baseline: c.baseline,
            ratio: c.ratio,
            spread: c.spread,
            rounds: c.rounds,
        }
    }

    fn json(&self) -> Value {
        json!({
            "name": self.scenario,
            "metric": self.metric,
            "transport": self.transport,
            "flavour": self.flavour,
            "unit": self.unit,
            "rxce": finite(self.rxce),
            "baseline": {"name": self.baseline_name, "value": finite(self.baseline)},
            "ratio": finite(self.ratio),
            "rounds": self.rounds,
            "spread": finite(self.spread),
        })
    }
}

/// A number for JSON (NaN and infinities, which JSON lacks, become null).
fn finite(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// One of the targets and whether the run meets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The scenario it is about.
    pub scenario: String,
    /// The runtime flavour's name.
    pub flavour: String,
    /// The target, in words.
    pub target: String,
    /// What the run measured.
    pub measured: String,
    /// True when the target holds.
    pub holds: bool,
}

/// Extra facts the targets need beyond the rows.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The send size of the throughput rows.
    pub size: usize,
    /// Connections of the scale rows.
    pub connections: usize,
    /// Per flavour: the slowest race winner, in ms.
    pub slowest_race_ms: Vec<(String, f64)>,
    /// The black hole's attempt timeout, in ms.
    pub attempt_timeout_ms: f64,
}

/// Checks the targets against the rows (tcp rows only).
pub fn targets(rows: &[Row], facts: &Facts) -> Vec<Target> {
    let mut out = Vec::new();
    let find = |scenario: &str, flavour: &str, metric: &str, baseline: &str| {
        rows.iter().find(|r| {
            r.scenario == scenario
                && r.flavour == flavour
                && r.metric.contains(metric)
                && r.baseline_name.contains(baseline)
                && (r.transport == "tcp" || r.transport == "tcp+smb")
        })
    };
    let mut flavours: Vec<&str> = rows.iter().map(|r| r.flavour.as_str()).collect();
    flavours.dedup();
    flavours.sort();
    flavours.dedup();
    let ratio_at_least = |out: &mut Vec<Target>, row: Option<&Row>, scenario: &str, what: &str, min: f64| {
        if let Some(row) = row {
            out.push(Target {
                scenario: scenario.to_owned(),
                flavour: row.flavour.clone(),
                target: format!("{what}: ratio ≥ {min:.2}"),
                measured: format!("{:.3}", row.ratio),
                holds: row.ratio >= min,
            });
        }
    };
    for flavour in flavours {
        if facts.size == 64 * 1024 {
            let tp = |baseline| find("throughput", flavour, "sends", baseline).filter(|r| r.transport == "tcp");
            ratio_at_least(&mut out, tp("raw tokio"), "throughput", "tcp 64 KiB vs raw tokio", 0.95);
            ratio_at_least(
                &mut out,
                tp("blocking"),
                "throughput",
                "tcp 64 KiB vs blocking loopback limit",
                0.70,
            );
        }
        let smb_read = |baseline| find("smb-read", flavour, "read rate", baseline);
        ratio_at_least(
            &mut out,
            smb_read("smbclient"),
            "smb-read",
            "256 MiB MB/s vs smbclient",
            1.0,
        );
        ratio_at_least(&mut out, smb_read("smb-rs"), "smb-read", "256 MiB MB/s vs smb-rs", 1.2);
        let rpc = find("rpc", flavour, "p50", "raw").filter(|r| r.transport == "tcp");
        ratio_at_least(&mut out, rpc, "rpc", "tcp 64 B p50 latency", 0.90);
        let connect = find("connect", flavour, "builds per second", "raw").filter(|r| r.transport == "tcp");
        ratio_at_least(&mut out, connect, "connect", "tcp connections/s", 0.85);
        if let Some(race) = find("race", flavour, "winner", "") {
            let slowest = facts
                .slowest_race_ms
                .iter()
                .find(|(f, _)| f == flavour)
                .map_or(f64::NAN, |(_, ms)| *ms);
            out.push(Target {
                scenario: "race".into(),
                flavour: flavour.to_owned(),
                target: format!(
                    "winner ≤ live connect + stagger + 20 ms ({:.2} ms); slowest < attempt timeout ({:.0} ms)",
                    race.baseline + 20.0,
                    facts.attempt_timeout_ms
                ),
                measured: format!("median {:.2} ms, slowest {:.2} ms", race.rxce, slowest),
                holds: race.rxce <= race.baseline + 20.0 && slowest < facts.attempt_timeout_ms,
            });
        }
        if let Some(scale) = find("scale", flavour, "memory", "") {
            out.push(Target {
                scenario: "scale".into(),
                flavour: flavour.to_owned(),
                target: "9,000 idle VCs, ≤ 8 KiB resident per VC".into(),
                measured: format!("{} VCs, {:.0} B per VC", facts.connections, scale.rxce),
                holds: facts.connections >= 9000 && scale.rxce <= 8192.0,
            });
        }
        for row in rows
            .iter()
            .filter(|r| r.scenario == "fanout" && r.flavour == flavour && r.metric.ends_with("rate"))
        {
            let n = row.metric.split(' ').next().unwrap_or("?");
            ratio_at_least(
                &mut out,
                Some(row),
                "fanout",
                &format!("{n} VCs' 64 B round trips/s vs raw tokio"),
                0.95,
            );
        }
        let smb = find("smb-transport", flavour, "framed", "");
        ratio_at_least(
            &mut out,
            smb,
            "smb-transport",
            "tcp+smb throughput vs smb-transport",
            1.0,
        );
    }
    out
}

/// A figure with about four significant digits.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The human table of the rows.
pub fn render(rows: &[Row]) -> String {
    let header = [
        "scenario",
        "metric",
        "transport",
        "flavour",
        "unit",
        "rxce",
        "baseline",
        "baseline value",
        "ratio",
        "spread",
        "rounds",
    ];
    let mut table = crate::table::table(&header, &["rxce", "baseline value", "ratio", "spread", "rounds"]);
    for r in rows {
        table.add_row(vec![
            r.scenario.clone(),
            r.metric.clone(),
            r.transport.clone(),
            r.flavour.clone(),
            r.unit.clone(),
            number(r.rxce),
            r.baseline_name.clone(),
            number(r.baseline),
            format!("{:.3}", r.ratio),
            format!("{:.3}", r.spread),
            r.rounds.to_string(),
        ]);
    }
    table.to_string()
}

/// The human table of the targets.
pub fn render_targets(targets: &[Target]) -> String {
    let mut table = crate::table::table(&["scenario", "flavour", "target", "measured", "holds"], &[]);
    for t in targets {
        table.add_row(vec![
            t.scenario.clone(),
            t.flavour.clone(),
            t.target.clone(),
            t.measured.clone(),
            if t.holds { "yes" } else { "NO" }.to_owned(),
        ]);
    }
    table.to_string()
}

/// The one JSON object of `--json`.
pub fn json(command: &str, machine: Value, rows: &[Row], targets: &[Target]) -> Value {
    json!({
        "command": command,
        "machine": machine,
        "scenarios": rows.iter().map(Row::json).collect::<Vec<_>>(),
        "targets": targets.iter().map(|t| json!({
            "scenario": t.scenario,
            "flavour": t.flavour,
            "target": t.target,
            "measured": t.measured,
            "holds": t.holds,
        })).collect::<Vec<_>>(),
    })
}

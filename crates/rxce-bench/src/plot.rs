//! `--plot FILE.svg`: the rpc round-trip latency distributions of rxce and
//! raw tokio side by side, one panel per runtime flavour (histograms of the
//! fraction of round trips per latency bin, p50 marked), as plain SVG; and
//! the fanout curves (round trips per second and p99 against N).

use std::fmt::Write;

use super::fanout::Point;
use super::harness::quantile;
use super::rpc::Latencies;

const WIDTH: f64 = 900.0;
const PANEL: f64 = 280.0;
const MARGIN_LEFT: f64 = 60.0;
const MARGIN_RIGHT: f64 = 20.0;
const MARGIN_TOP: f64 = 40.0;
const MARGIN_BOTTOM: f64 = 40.0;
const BINS: usize = 60;
const RXCE_COLOUR: &str = "#1f77b4";
const BASELINE_COLOUR: &str = "#ff7f0e";

/// The SVG document for the panels.
pub fn svg(panels: &[Latencies]) -> String {
    let height = PANEL * panels.len().max(1) as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, panel) in panels.iter().enumerate() {
        draw_panel(&mut out, panel, i as f64 * PANEL);
    }
    out.push_str("</svg>\n");
    out
}

fn draw_panel(out: &mut String, panel: &Latencies, top: f64) {
    let both: Vec<f64> = panel.rxce.iter().chain(&panel.baseline).copied().collect();
    let (lo, hi) = (quantile(&both, 0.002), quantile(&both, 0.995));
    let (x0, x1) = (MARGIN_LEFT, WIDTH - MARGIN_RIGHT);
    let (y0, y1) = (top + PANEL - MARGIN_BOTTOM, top + MARGIN_TOP);
    let _ = writeln!(
        out,
        r#"<text x="{x0}" y="{}" font-size="14">rpc 64 B round trips, {}: rxce ({} samples) and raw tokio ({} samples)</text>"#,
        top + 20.0,
        escape(&panel.flavour),
        panel.rxce.len(),
        panel.baseline.len()
    );
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        let _ = writeln!(out, r#"<text x="{x0}" y="{}">no samples</text>"#, top + 60.0);
        return;
    }
    let width = (hi - lo) / BINS as f64;
    let histogram = |samples: &[f64]| {
        let mut bins = vec![0f64; BINS];
        for &s in samples {
            if s >= lo && s <= hi {
                let b = (((s - lo) / width) as usize).min(BINS - 1);
                bins[b] += 1.0;
            }
        }
        let n = samples.len().max(1) as f64;
        bins.iter_mut().for_each(|b| *b /= n);
        bins
    };
    let (ours, theirs) = (histogram(&panel.rxce), histogram(&panel.baseline));
    let top_fraction = ours.iter().chain(&theirs).copied().fold(0.0, f64::max).max(1e-9);
    let x = |v: f64| x0 + (v - lo) / (hi - lo) * (x1 - x0);
    let y = |f: f64| y0 - f / top_fraction * (y0 - y1);
    // Axes and ticks.
    let _ = writeln!(
        out,
        r##"<path d="M{x0},{y1} L{x0},{y0} L{x1},{y0}" stroke="#333" fill="none"/>"##
    );
    for k in 0..=5 {
        let v = lo + (hi - lo) * k as f64 / 5.0;
        let _ = writeln!(
            out,
            r##"<line x1="{0}" y1="{y0}" x2="{0}" y2="{1}" stroke="#333"/><text x="{0}" y="{2}" text-anchor="middle">{3:.1}</text>"##,
            x(v),
            y0 + 4.0,
            y0 + 16.0,
            v
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">round-trip latency (µs)</text>"#,
        (x0 + x1) / 2.0,
        y0 + 32.0
    );
    let _ = writeln!(
        out,
        r#"<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">fraction of round trips</text>"#,
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0
    );
    // The two histograms as step outlines, and their medians.
    for (bins, samples, colour, name) in [
        (&ours, &panel.rxce, RXCE_COLOUR, "rxce"),
        (&theirs, &panel.baseline, BASELINE_COLOUR, "raw tokio"),
    ] {
        let mut path = format!("M{x0},{y0}");
        for (b, f) in bins.iter().enumerate() {
            let left = x(lo + b as f64 * width);
            let right = x(lo + (b + 1) as f64 * width);
            let _ = write!(path, " L{left:.1},{:.1} L{right:.1},{:.1}", y(*f), y(*f));
        }
        let _ = write!(path, " L{x1},{y0}");
        let _ = writeln!(
            out,
            r#"<path d="{path}" stroke="{colour}" stroke-width="1.5" fill="{colour}" fill-opacity="0.15"/>"#
        );
        let p50 = quantile(samples, 0.5);
        if p50.is_finite() {
            let _ = writeln!(
                out,
                r#"<line x1="{0:.1}" y1="{y0}" x2="{0:.1}" y2="{y1}" stroke="{colour}" stroke-dasharray="4 3"/>"#,
                x(p50.clamp(lo, hi))
            );
        }
        let legend_y = if name == "rxce" { y1 } else { y1 + 16.0 };
        let _ = writeln!(
            out,
            r#"<rect x="{}" y="{}" width="10" height="10" fill="{colour}"/><text x="{}" y="{}">{name}: p50 {:.1} µs, p99 {:.1} µs</text>"#,
            x1 - 240.0,
            legend_y - 9.0,
            x1 - 225.0,
            legend_y,
            p50,
            quantile(samples, 0.99)
        );
    }
}

/// `path` with `-tag` before its extension (`rpc.svg` → `rpc-fanout.svg`).
pub fn beside(path: &std::path::Path, tag: &str) -> std::path::PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "plot".into(), |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(|| "svg".into(), |e| e.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-{tag}.{ext}"))
}

const CHART: f64 = 430.0;

/// The fanout curves: per runtime flavour, aggregate round trips per second
/// and the p99 round trip against N (log axes), rxce and raw tokio side by
/// side.
pub fn fanout_svg(points: &[Point]) -> String {
    let mut flavours: Vec<&str> = points.iter().map(|p| p.flavour.as_str()).collect();
    flavours.dedup();
    let height = PANEL * flavours.len().max(1) as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, flavour) in flavours.iter().enumerate() {
        let mine: Vec<&Point> = points.iter().filter(|p| p.flavour == *flavour).collect();
        let top = i as f64 * PANEL;
        let rate = |p: &Point| [p.rate.0, p.rate.1];
        let p99 = |p: &Point| [p.p99.0, p.p99.1];
        chart(
            &mut out,
            &mine,
            top,
            0.0,
            &format!("{flavour}: round trips/s (all VCs)"),
            &rate,
            false,
        );
        chart(
            &mut out,
            &mine,
            top,
            CHART + 20.0,
            &format!("{flavour}: p99 round trip (µs)"),
            &p99,
            true,
        );
    }
    out.push_str("</svg>\n");
    out
}

/// One chart: x = N on a log axis, y = the figure (log axis when `log_y`).
fn chart(
    out: &mut String,
    points: &[&Point],
    top: f64,
    left: f64,
    title: &str,
    value: &dyn Fn(&Point) -> [f64; 2],
    log_y: bool,
) {
    let (x0, x1) = (left + MARGIN_LEFT, left + CHART);
    let (y0, y1) = (top + PANEL - MARGIN_BOTTOM, top + MARGIN_TOP);
    let _ = writeln!(
        out,
        r#"<text x="{x0}" y="{}" font-size="14">{}</text>"#,
        top + 20.0,
        escape(title)
    );
    let values: Vec<f64> = points
        .iter()
        .flat_map(|p| value(p))
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    if points.is_empty() || values.is_empty() {
        let _ = writeln!(out, r#"<text x="{x0}" y="{}">no levels</text>"#, top + 60.0);
        return;
    }
    let n_max = points.iter().map(|p| p.n).max().unwrap_or(1).max(10) as f64;
    let lx = |n: f64| x0 + n.max(1.0).log10() / n_max.log10() * (x1 - x0);
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let (lo, hi) = if log_y {
        (lo.log10().floor(), hi.log10().ceil().max(lo.log10().floor() + 1.0))
    } else {
        (0.0, hi * 1.1)
    };
    let ly = |v: f64| {
        let v = if log_y { v.max(1e-9).log10() } else { v };
        y0 - (v - lo) / (hi - lo) * (y0 - y1)
    };
    let _ = writeln!(
        out,
        r##"<path d="M{x0},{y1} L{x0},{y0} L{x1},{y0}" stroke="#333" fill="none"/>"##
    );
    let mut n = 1.0;
    while n <= n_max * 1.001 {
        let _ = writeln!(
            out,
            r##"<line x1="{0:.1}" y1="{y0}" x2="{0:.1}" y2="{1}" stroke="#333"/><text x="{0:.1}" y="{2}" text-anchor="middle">{3}</text>"##,
            lx(n),
            y0 + 4.0,
            y0 + 16.0,
            n
        );
        n *= 10.0;
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">VCs at once (N)</text>"#,
        (x0 + x1) / 2.0,
        y0 + 32.0
    );
    for k in 0..=4 {
        let v = lo + (hi - lo) * f64::from(k) / 4.0;
        let shown = if log_y { 10f64.powf(v) } else { v };
        let y = y0 - (v - lo) / (hi - lo) * (y0 - y1);
        let _ = writeln!(
            out,
            r##"<line x1="{}" y1="{y:.1}" x2="{x0}" y2="{y:.1}" stroke="#333"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 - 4.0,
            x0 - 6.0,
            y + 4.0,
            super::report::number(shown)
        );
    }
    for (side, colour, name) in [(0, RXCE_COLOUR, "rxce"), (1, BASELINE_COLOUR, "raw tokio")] {
        let mut path = String::new();
        for (k, p) in points.iter().enumerate() {
            let v = value(p)[side];
            if !(v.is_finite() && v > 0.0) {
                continue;
            }
            let (x, y) = (lx(p.n as f64), ly(v));
            let _ = write!(
                path,
                "{}{x:.1},{y:.1}",
                if path.is_empty() || k == 0 { "M" } else { " L" }
            );
            let _ = writeln!(out, r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{colour}"/>"#);
        }
        let _ = writeln!(
            out,
            r#"<path d="{path}" stroke="{colour}" stroke-width="1.5" fill="none"/>"#
        );
        let legend_y = y1 + 16.0 * side as f64;
        let _ = writeln!(
            out,
            r#"<rect x="{}" y="{}" width="10" height="10" fill="{colour}"/><text x="{}" y="{}">{name}</text>"#,
            x1 - 90.0,
            legend_y - 9.0,
            x1 - 75.0,
            legend_y
        );
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plot_is_one_svg_with_a_panel_per_flavour() {
        let panel = |flavour: &str| Latencies {
            flavour: flavour.into(),
            rxce: (0..100).map(|i| 20.0 + f64::from(i) * 0.1).collect(),
            baseline: (0..100).map(|i| 18.0 + f64::from(i) * 0.1).collect(),
        };
        let svg = svg(&[panel("current-thread"), panel("multi-thread(2)")]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("round-trip latency").count(), 2);
        assert!(svg.contains("multi-thread(2)"));
        let empty = super::svg(&[Latencies::default()]);
        assert!(empty.contains("no samples"));
    }

    #[test]
    fn the_fanout_plot_has_two_charts_per_flavour() {
        let point = |flavour: &str, n: usize| Point {
            flavour: flavour.into(),
            n,
            rate: (1000.0 * n as f64, 1100.0 * n as f64),
            p99: (20.0 + n as f64, 18.0 + n as f64),
        };
        let points: Vec<Point> = ["current-thread", "multi-thread(2)"]
            .iter()
            .flat_map(|f| [1, 10, 100].map(|n| point(f, n)))
            .collect();
        let svg = fanout_svg(&points);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("VCs at once (N)").count(), 4);
        assert_eq!(svg.matches("<circle").count(), 24);
        assert_eq!(
            beside(std::path::Path::new("/tmp/a.svg"), "fanout"),
            std::path::Path::new("/tmp/a-fanout.svg")
        );
    }
}

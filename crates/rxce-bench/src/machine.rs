//! What the bench knows about the machine it runs on: read from `/proc`,
//! so on Linux only (elsewhere the figures are unknown: empty, 0 or NaN).

use serde_json::{json, Value};

pub use crate::process::resident_bytes;
use crate::process::{field, read};

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> [f64; 3] {
    let text = read("/proc/loadavg");
    let mut values = text.split_whitespace().map(|v| v.parse().unwrap_or(f64::NAN));
    [(); 3].map(|()| values.next().unwrap_or(f64::NAN))
}

/// Gives the allocator's free memory back to the system (glibc), so that
/// resident-memory deltas start from the same footing.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The soft limit of open files.
fn open_file_limit() -> Option<u64> {
    let limits = read("/proc/self/limits");
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The machine section of the report.
pub fn describe(started_load: [f64; 3]) -> Value {
    let cpuinfo = read("/proc/cpuinfo");
    let meminfo = read("/proc/meminfo");
    let memory_kib = field(&meminfo, "MemTotal")
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    json!({
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu_model": field(&cpuinfo, "model name").unwrap_or("unknown"),
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "memory_gib": (memory_kib as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0,
        "open_file_limit": open_file_limit(),
        "load_average_at_start": started_load,
        "load_average_at_end": load_average(),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "rxce_version": env!("CARGO_PKG_VERSION"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(not(target_os = "linux"), ignore = "reads /proc/loadavg, Linux only")]
    fn the_load_average_parses() {
        assert!(load_average()[0].is_finite());
    }
}

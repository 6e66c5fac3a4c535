//! Aligned tables for people to read.

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

/// A table with a header row; columns whose header is in `right` are
/// right-aligned (numbers).
pub fn table(header: &[&str], right: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(Cell::new));
    for (i, h) in header.iter().enumerate() {
        if right.contains(h) {
            if let Some(column) = table.column_mut(i) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    table
}

/// A byte count with a binary unit: `512 B`, `64.0 KiB`, `1.0 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration in milliseconds with three decimals.
pub fn millis(d: std::time::Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(1 << 20), "1.0 MiB");
        assert_eq!(millis(std::time::Duration::from_micros(1500)), "1.500 ms");
    }

    #[test]
    fn numbers_are_right_aligned() {
        let mut t = table(&["name", "bytes"], &["bytes"]);
        t.add_row(vec!["a", "1 B"]);
        t.add_row(vec!["bb", "10.0 KiB"]);
        let text = t.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.iter().any(|l| l.contains("a ") && l.contains("      1 B")),
            "{text}"
        );
    }
}

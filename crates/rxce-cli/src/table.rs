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

/// Reads a table rendered by [`table`] back into its cells, a row per
/// line (the header first; a cell of several lines gives several rows), for
/// tests and scripts. Columns are told apart by the gaps of at least two
/// blanks that separate them on every line.
pub fn cells(rendered: &str) -> Vec<Vec<String>> {
    let lines: Vec<Vec<char>> = rendered
        .lines()
        .filter_map(|line| line.strip_prefix('│').and_then(|l| l.strip_suffix('│')))
        .map(|line| line.chars().collect())
        .collect();
    let width = lines.iter().map(Vec::len).max().unwrap_or(0);
    let blank = |i: usize| lines.iter().all(|l| l.get(i).is_none_or(|c| *c == ' '));
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < width {
        if blank(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < width && !(blank(i) && (i + 1 >= width || blank(i + 1))) {
            i += 1;
        }
        spans.push((start, i));
    }
    lines
        .iter()
        .map(|line| {
            spans
                .iter()
                .map(|&(a, b)| {
                    let end = b.min(line.len());
                    line.get(a..end)
                        .map(|c| c.iter().collect::<String>())
                        .unwrap_or_default()
                        .trim()
                        .to_owned()
                })
                .collect()
        })
        .collect()
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

    #[test]
    fn cells_read_a_rendered_table_back() {
        let mut t = table(&["name", "bytes", "note"], &["bytes"]);
        t.add_row(vec!["a b", "1 B", ""]);
        t.add_row(vec!["c", "10.0 KiB", "x y"]);
        assert_eq!(
            cells(&t.to_string()),
            [["name", "bytes", "note"], ["a b", "1 B", ""], ["c", "10.0 KiB", "x y"]]
        );
    }
}

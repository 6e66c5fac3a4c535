//! What this process holds now, from `/proc`: resident memory and open
//! descriptors (the bench's scale scenario and the soak's trend read them).
//! Linux only: elsewhere both read as 0 (unknown).

/// The text of a `/proc` file (empty when it cannot be read).
pub fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The value of `key:` in a `/proc` file of `key: value` lines.
pub fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.trim_start().strip_prefix(':'))
        .map(str::trim)
}

/// The process's resident memory (VmRSS) in bytes.
pub fn resident_bytes() -> usize {
    let status = read("/proc/self/status");
    field(&status, "VmRSS")
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The process's open file descriptors (the entries of `/proc/self/fd`,
/// less the one listing them).
pub fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |entries| entries.count().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_parse() {
        assert_eq!(field("VmRSS:\t  1234 kB\nx: y", "VmRSS"), Some("1234 kB"));
        assert_eq!(field("model name\t: Some CPU\n", "model name"), Some("Some CPU"));
    }

    #[test]
    #[cfg_attr(not(target_os = "linux"), ignore = "reads /proc/self/status, Linux only")]
    fn resident_memory_is_known() {
        assert!(resident_bytes() > 0);
    }

    #[test]
    #[cfg_attr(not(target_os = "linux"), ignore = "reads /proc/self/fd, Linux only")]
    fn an_opened_file_is_one_more_descriptor() {
        let before = open_descriptors();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(open_descriptors(), before + 1);
        drop(file);
        assert_eq!(open_descriptors(), before);
    }
}

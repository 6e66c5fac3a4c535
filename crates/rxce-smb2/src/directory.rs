//! QUERY_DIRECTORY: listing an open directory, with the
//! `FileDirectoryInformation` class (names, sizes, times, attributes).

use crate::error::Smb2Error;
use crate::file::{FileId, FILE_ATTRIBUTE_DIRECTORY};
use crate::header::{buffer_at, check_body, response_for, ResponseHeader};
use crate::wire::{u16_at, u32_at, u64_at};
use crate::{command, status, HEADER_LEN};

/// `FileInformationClass` `FileDirectoryInformation`.
pub const FILE_DIRECTORY_INFORMATION: u8 = 0x01;
/// `Flags` bit `SMB2_RESTART_SCANS`: start the listing from the beginning.
pub const RESTART_SCANS: u8 = 0x01;
/// Fixed part of one `FILE_DIRECTORY_INFORMATION` entry (the name follows).
const ENTRY_FIXED: usize = 64;

/// Writes the body of a QUERY_DIRECTORY request (`StructureSize` 33) for
/// the entries of `file_id` matching `pattern` (`*` for all), answered with
/// at most `output_len` bytes of entries.
pub fn query_directory_body(buf: &mut Vec<u8>, file_id: &FileId, pattern: &str, flags: u8, output_len: u32) {
    const NAME_OFFSET: u16 = (HEADER_LEN + 32) as u16;
    let name: Vec<u8> = pattern.encode_utf16().flat_map(u16::to_le_bytes).collect();
    buf.extend_from_slice(&33u16.to_le_bytes());
    buf.push(FILE_DIRECTORY_INFORMATION);
    buf.push(flags);
    buf.extend_from_slice(&0u32.to_le_bytes()); // FileIndex
    buf.extend_from_slice(file_id);
    buf.extend_from_slice(&NAME_OFFSET.to_le_bytes());
    buf.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_le_bytes());
    buf.extend_from_slice(&output_len.to_le_bytes());
    buf.extend_from_slice(&name);
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// The entry's name (UTF-16 decoded; unpaired surrogates replaced).
    pub name: String,
    /// `EndOfFile`: size in bytes.
    pub size: u64,
    /// `LastWriteTime` as a FILETIME (100 ns ticks since 1601).
    pub last_write_time: u64,
    /// `FileAttributes`.
    pub attributes: u32,
}

impl DirectoryEntry {
    /// True for a directory.
    pub fn is_directory(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_DIRECTORY != 0
    }
}

/// A parsed QUERY_DIRECTORY response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDirectoryResponse {
    /// The header: `status` is SUCCESS, or STATUS_NO_MORE_FILES at the end
    /// of the listing (then `entries` is empty).
    pub header: ResponseHeader,
    /// The entries of this response, in the server's order.
    pub entries: Vec<DirectoryEntry>,
}

/// Parses a QUERY_DIRECTORY response (`StructureSize` 9) holding
/// `FileDirectoryInformation` entries. STATUS_NO_MORE_FILES is not an error
/// here: it is the end of the listing.
///
/// # Errors
///
/// [`Smb2Error::ServerStatus`] when the server refused, or
/// [`Smb2Error::BadDirectoryEntry`] for an entry that runs past the buffer
/// or whose `NextEntryOffset` points inside it (entries never overlap).
pub fn parse_query_directory_response(bytes: &[u8]) -> Result<QueryDirectoryResponse, Smb2Error> {
    let header = response_for(bytes, command::QUERY_DIRECTORY, &[status::NO_MORE_FILES])?;
    if header.status == status::NO_MORE_FILES {
        return Ok(QueryDirectoryResponse {
            header,
            entries: Vec::new(),
        });
    }
    check_body(bytes, 9, 8)?;
    let offset = usize::from(u16_at(bytes, HEADER_LEN + 2).unwrap_or(0));
    let length = usize::try_from(u32_at(bytes, HEADER_LEN + 4).unwrap_or(0)).unwrap_or(usize::MAX);
    let buffer = buffer_at(bytes, offset, length, 8)?;
    Ok(QueryDirectoryResponse {
        header,
        entries: parse_entries(buffer)?,
    })
}

/// Walks a chain of `FILE_DIRECTORY_INFORMATION` entries.
fn parse_entries(buffer: &[u8]) -> Result<Vec<DirectoryEntry>, Smb2Error> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    while at < buffer.len() {
        let bad = |reason| Smb2Error::BadDirectoryEntry { offset: at, reason };
        let entry = &buffer[at..];
        if entry.len() < ENTRY_FIXED {
            return Err(bad("entry shorter than its fixed part"));
        }
        let next = usize::try_from(u32_at(entry, 0).unwrap_or(0)).unwrap_or(usize::MAX);
        let name_len = usize::try_from(u32_at(entry, 60).unwrap_or(0)).unwrap_or(usize::MAX);
        let name = ENTRY_FIXED
            .checked_add(name_len)
            .and_then(|end| entry.get(ENTRY_FIXED..end))
            .ok_or(bad("file name runs past the buffer"))?;
        let units: Vec<u16> = name.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        entries.push(DirectoryEntry {
            name: String::from_utf16_lossy(&units),
            size: u64_at(entry, 40).unwrap_or(0),
            last_write_time: u64_at(entry, 24).unwrap_or(0),
            attributes: u32_at(entry, 56).unwrap_or(0),
        });
        if next == 0 {
            break;
        }
        if next < ENTRY_FIXED + name.len() {
            return Err(bad("NextEntryOffset points inside the entry"));
        }
        at = at.saturating_add(next);
        if at > buffer.len() {
            return Err(Smb2Error::BadDirectoryEntry {
                offset: at,
                reason: "NextEntryOffset points past the buffer",
            });
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{encode_request, RequestHeader};

    fn entry(name: &str, size: u64, next: u32) -> Vec<u8> {
        let n: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut e = vec![0u8; ENTRY_FIXED];
        e[0..4].copy_from_slice(&next.to_le_bytes());
        e[40..48].copy_from_slice(&size.to_le_bytes());
        e[60..64].copy_from_slice(&(n.len() as u32).to_le_bytes());
        e.extend_from_slice(&n);
        e
    }

    fn response(status: u32, buffer: &[u8]) -> Vec<u8> {
        let mut body = vec![9, 0, 72, 0];
        body.extend_from_slice(&(buffer.len() as u32).to_le_bytes());
        body.extend_from_slice(buffer);
        let mut b = encode_request(
            RequestHeader {
                command: command::QUERY_DIRECTORY,
                ..RequestHeader::default()
            },
            |buf| buf.extend_from_slice(&body),
        );
        b[16] |= 1;
        b[8..12].copy_from_slice(&status.to_le_bytes());
        b
    }

    #[test]
    fn request_layout() {
        let mut b = Vec::new();
        query_directory_body(&mut b, &[2; 16], "*", RESTART_SCANS, 65536);
        assert_eq!(b.len(), 32 + 2);
        assert_eq!((b[2], b[3]), (FILE_DIRECTORY_INFORMATION, RESTART_SCANS));
        assert_eq!(u16_at(&b, 24), Some(96));
        assert_eq!(u32_at(&b, 28), Some(65536));
    }

    #[test]
    fn entries_parse_in_order() {
        let mut buf = entry("a.txt", 5, 80);
        buf.resize(80, 0);
        buf.extend(entry("dé", 0, 0));
        let r = parse_query_directory_response(&response(0, &buf)).unwrap();
        let names: Vec<_> = r.entries.iter().map(|e| (e.name.as_str(), e.size)).collect();
        assert_eq!(names, [("a.txt", 5), ("dé", 0)]);
    }

    #[test]
    fn no_more_files_ends_the_listing() {
        let mut b = response(status::NO_MORE_FILES, &[]);
        b.truncate(64 + 9);
        let r = parse_query_directory_response(&b).unwrap();
        assert!(r.entries.is_empty());
        assert_eq!(r.header.status, status::NO_MORE_FILES);
    }

    #[test]
    fn bad_entries_are_errors() {
        let mut looping = entry("x", 0, 8);
        looping.resize(80, 0);
        assert!(matches!(
            parse_query_directory_response(&response(0, &looping)),
            Err(Smb2Error::BadDirectoryEntry { .. })
        ));
        let long = entry("abc", 0, 0);
        assert!(parse_entries(&long[..long.len() - 1]).is_err());
        let past = entry("abc", 0, 4000);
        assert!(parse_entries(&past).is_err());
        // The name runs into the next entry (found by the fuzzer).
        let mut overlapping = entry("abcdef", 0, 72);
        overlapping.resize(72, 0);
        overlapping.extend(entry("x", 0, 0));
        assert!(matches!(
            parse_entries(&overlapping),
            Err(Smb2Error::BadDirectoryEntry { offset: 0, .. })
        ));
    }
}

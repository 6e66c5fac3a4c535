//! CREATE, READ and CLOSE: opening a file or directory, reading it, and
//! closing it.
//!
//! A READ response is read in two parts so that its payload can go straight
//! from the socket into the caller's buffer: [`ReadResponse::parse`] needs
//! only the header and the 16-byte fixed body (the first bytes a transport
//! hands over) and says where in the message the data lies.

use crate::error::Smb2Error;
use crate::header::{check_body, response_for, ResponseHeader};
use crate::wire::{array_at, u32_at, u64_at};
use crate::{command, HEADER_LEN};

/// A 16-byte SMB2 file id (`Persistent` then `Volatile`).
pub type FileId = [u8; 16];

/// The file id that, in a related compound request, stands for the file the
/// previous request opened.
pub const RELATED_FILE_ID: FileId = [0xFF; 16];

/// Access mask bits (`DesiredAccess`) used by this crate.
pub mod access {
    /// `FILE_READ_DATA` (files) / `FILE_LIST_DIRECTORY` (directories).
    pub const READ_DATA: u32 = 0x0000_0001;
    /// `FILE_READ_EA`.
    pub const READ_EA: u32 = 0x0000_0008;
    /// `FILE_READ_ATTRIBUTES`.
    pub const READ_ATTRIBUTES: u32 = 0x0000_0080;
    /// `READ_CONTROL`.
    pub const READ_CONTROL: u32 = 0x0002_0000;
    /// `SYNCHRONIZE`.
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    /// What a reader asks for: data, attributes, extended attributes, the
    /// security descriptor, synchronize (`FILE_GENERIC_READ`).
    pub const GENERIC_READ: u32 = READ_DATA | READ_EA | READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
}

/// `ShareAccess` bits.
pub mod share_access {
    /// `FILE_SHARE_READ`.
    pub const READ: u32 = 0x0000_0001;
    /// `FILE_SHARE_WRITE`.
    pub const WRITE: u32 = 0x0000_0002;
    /// `FILE_SHARE_DELETE`.
    pub const DELETE: u32 = 0x0000_0004;
}

/// `CreateOptions` bits.
pub mod create_options {
    /// `FILE_DIRECTORY_FILE`: the name must be a directory.
    pub const DIRECTORY_FILE: u32 = 0x0000_0001;
    /// `FILE_NON_DIRECTORY_FILE`: the name must not be a directory.
    pub const NON_DIRECTORY_FILE: u32 = 0x0000_0040;
}

/// `CreateDisposition` `FILE_OPEN`: open an existing file, fail otherwise.
pub const FILE_OPEN: u32 = 0x0000_0001;
/// `FileAttributes` bit `FILE_ATTRIBUTE_DIRECTORY`.
pub const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x0000_0010;
/// `ImpersonationLevel` `Impersonation`.
const IMPERSONATION: u32 = 2;

/// A CREATE request that opens an existing file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest<'a> {
    /// The path within the share, with backslashes, no leading one (empty
    /// for the share's root).
    pub name: &'a str,
    /// [`access`] mask.
    pub desired_access: u32,
    /// [`share_access`] bits.
    pub share_access: u32,
    /// [`create_options`] bits.
    pub create_options: u32,
}

impl CreateRequest<'_> {
    /// Writes the body (`StructureSize` 57; the UTF-16LE name follows the
    /// 56-byte fixed part, at least one byte of buffer even for an empty
    /// name).
    pub fn encode_body(&self, buf: &mut Vec<u8>) {
        const NAME_OFFSET: u16 = (HEADER_LEN + 56) as u16;
        let name: Vec<u8> = self.name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        buf.extend_from_slice(&57u16.to_le_bytes());
        buf.push(0); // SecurityFlags
        buf.push(0); // RequestedOplockLevel: none
        buf.extend_from_slice(&IMPERSONATION.to_le_bytes());
        buf.extend_from_slice(&0u64.to_le_bytes()); // SmbCreateFlags
        buf.extend_from_slice(&0u64.to_le_bytes()); // Reserved
        buf.extend_from_slice(&self.desired_access.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes()); // FileAttributes
        buf.extend_from_slice(&self.share_access.to_le_bytes());
        buf.extend_from_slice(&FILE_OPEN.to_le_bytes());
        buf.extend_from_slice(&self.create_options.to_le_bytes());
        buf.extend_from_slice(&NAME_OFFSET.to_le_bytes());
        buf.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes()); // CreateContextsOffset
        buf.extend_from_slice(&0u32.to_le_bytes()); // CreateContextsLength
        if name.is_empty() {
            buf.push(0);
        } else {
            buf.extend_from_slice(&name);
        }
    }
}

/// A parsed CREATE response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateResponse {
    /// The header.
    pub header: ResponseHeader,
    /// `CreateAction` (1: opened).
    pub create_action: u32,
    /// `LastWriteTime` as a FILETIME.
    pub last_write_time: u64,
    /// `EndofFile`: the file's size in bytes.
    pub end_of_file: u64,
    /// `FileAttributes`.
    pub file_attributes: u32,
    /// `FileId`: the open's handle for READ, QUERY_DIRECTORY and CLOSE.
    pub file_id: FileId,
}

impl CreateResponse {
    /// True when the open is a directory.
    pub fn is_directory(&self) -> bool {
        self.file_attributes & FILE_ATTRIBUTE_DIRECTORY != 0
    }
}

/// Parses a CREATE response (`StructureSize` 89; create contexts, if any,
/// are not read).
///
/// # Errors
///
/// [`Smb2Error::ServerStatus`] when the server refused (e.g.
/// STATUS_OBJECT_NAME_NOT_FOUND, STATUS_ACCESS_DENIED), or the malformation
/// found.
pub fn parse_create_response(bytes: &[u8]) -> Result<CreateResponse, Smb2Error> {
    let header = response_for(bytes, command::CREATE, &[])?;
    check_body(bytes, 89, 88)?;
    let b = HEADER_LEN;
    Ok(CreateResponse {
        header,
        create_action: u32_at(bytes, b + 4).unwrap_or(0),
        last_write_time: u64_at(bytes, b + 24).unwrap_or(0),
        end_of_file: u64_at(bytes, b + 48).unwrap_or(0),
        file_attributes: u32_at(bytes, b + 56).unwrap_or(0),
        file_id: array_at(bytes, b + 64).unwrap_or([0; 16]),
    })
}

/// Writes the body of a READ request (`StructureSize` 49) for `length`
/// bytes at `offset`, asking the server to put the data right after the
/// 16-byte fixed response body.
pub fn read_body(buf: &mut Vec<u8>, file_id: &FileId, offset: u64, length: u32) {
    buf.extend_from_slice(&49u16.to_le_bytes());
    buf.push((HEADER_LEN + 16) as u8); // Padding: where the data should start
    buf.push(0); // Flags
    buf.extend_from_slice(&length.to_le_bytes());
    buf.extend_from_slice(&offset.to_le_bytes());
    buf.extend_from_slice(file_id);
    buf.extend_from_slice(&0u32.to_le_bytes()); // MinimumCount
    buf.extend_from_slice(&0u32.to_le_bytes()); // Channel
    buf.extend_from_slice(&0u32.to_le_bytes()); // RemainingBytes
    buf.extend_from_slice(&0u16.to_le_bytes()); // ReadChannelInfoOffset
    buf.extend_from_slice(&0u16.to_le_bytes()); // ReadChannelInfoLength
    buf.push(0); // Buffer
}

/// The fixed part of a READ response: where its data lies in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadResponse {
    /// The header.
    pub header: ResponseHeader,
    /// `DataOffset`: where the data starts, from the start of the header.
    pub data_offset: usize,
    /// `DataLength`: how many bytes were read.
    pub data_length: usize,
}

impl ReadResponse {
    /// How many bytes of a READ response [`parse`](Self::parse) needs:
    /// the header and the 16-byte fixed body.
    pub const PREFIX_LEN: usize = HEADER_LEN + 16;

    /// Parses the start of a READ response whose whole length is
    /// `message_len` (the transport's message length). `prefix` needs only
    /// [`PREFIX_LEN`](Self::PREFIX_LEN) bytes; the data, at
    /// `data_offset..data_offset + data_length`, may not be in it yet.
    ///
    /// # Errors
    ///
    /// [`Smb2Error::ServerStatus`] when the read failed (STATUS_END_OF_FILE
    /// past the end), or [`Smb2Error::ReadDataOutOfBounds`] when the data
    /// does not lie after the fixed body and within the message.
    pub fn parse(prefix: &[u8], message_len: usize) -> Result<ReadResponse, Smb2Error> {
        let header = response_for(prefix, command::READ, &[])?;
        check_body(prefix, 17, 16)?;
        let data_offset = usize::from(prefix[HEADER_LEN + 2]);
        let data_length = usize::try_from(u32_at(prefix, HEADER_LEN + 4).unwrap_or(0)).unwrap_or(usize::MAX);
        let fits = data_offset
            .checked_add(data_length)
            .is_some_and(|end| end <= message_len);
        if data_length > 0 && (data_offset < Self::PREFIX_LEN || !fits) {
            return Err(Smb2Error::ReadDataOutOfBounds {
                offset: data_offset,
                length: data_length,
                message_len,
            });
        }
        Ok(ReadResponse {
            header,
            data_offset,
            data_length,
        })
    }
}

/// Writes the body of a CLOSE request (`StructureSize` 24).
pub fn close_body(buf: &mut Vec<u8>, file_id: &FileId) {
    buf.extend_from_slice(&24u16.to_le_bytes());
    buf.extend_from_slice(&0u16.to_le_bytes()); // Flags: no attributes back
    buf.extend_from_slice(&0u32.to_le_bytes()); // Reserved
    buf.extend_from_slice(file_id);
}

/// Checks a CLOSE response (`StructureSize` 60).
///
/// # Errors
///
/// [`Smb2Error::ServerStatus`] when the server refused, or the
/// malformation found.
pub fn parse_close_response(bytes: &[u8]) -> Result<ResponseHeader, Smb2Error> {
    let header = response_for(bytes, command::CLOSE, &[])?;
    check_body(bytes, 60, 60)?;
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{encode_request, RequestHeader};
    use crate::wire::u16_at;

    fn response(command: u16, body: &[u8]) -> Vec<u8> {
        let mut b = encode_request(
            RequestHeader {
                command,
                ..RequestHeader::default()
            },
            |buf| buf.extend_from_slice(body),
        );
        b[16] |= 1;
        b
    }

    #[test]
    fn create_body_layout() {
        let mut b = Vec::new();
        CreateRequest {
            name: r"d\f",
            desired_access: access::GENERIC_READ,
            share_access: share_access::READ,
            create_options: create_options::NON_DIRECTORY_FILE,
        }
        .encode_body(&mut b);
        assert_eq!(b.len(), 56 + 6);
        assert_eq!(u16_at(&b, 44), Some(120));
        assert_eq!(u16_at(&b, 46), Some(6));
        assert_eq!(u32_at(&b, 36), Some(FILE_OPEN));
        let mut root = Vec::new();
        CreateRequest {
            name: "",
            desired_access: access::READ_DATA,
            share_access: 0,
            create_options: create_options::DIRECTORY_FILE,
        }
        .encode_body(&mut root);
        assert_eq!(root.len(), 57);
        assert_eq!(u16_at(&root, 46), Some(0));
    }

    #[test]
    fn create_response_fields() {
        let mut body = vec![0u8; 88];
        body[0] = 89;
        body[4] = 1;
        body[48..56].copy_from_slice(&12345u64.to_le_bytes());
        body[56] = FILE_ATTRIBUTE_DIRECTORY as u8;
        body[64..80].copy_from_slice(&[7; 16]);
        let b = response(command::CREATE, &body);
        let r = parse_create_response(&b).unwrap();
        assert_eq!(r.end_of_file, 12345);
        assert!(r.is_directory());
        assert_eq!(r.file_id, [7; 16]);
        assert!(matches!(
            parse_create_response(&b[..150]),
            Err(Smb2Error::Truncated { .. })
        ));
    }

    #[test]
    fn read_body_asks_for_data_after_the_fixed_response() {
        let mut b = Vec::new();
        read_body(&mut b, &[3; 16], 1 << 33, 65536);
        assert_eq!(b.len(), 49);
        assert_eq!(b[2], 80);
        assert_eq!(u32_at(&b, 4), Some(65536));
        assert_eq!(u64_at(&b, 8), Some(1 << 33));
    }

    #[test]
    fn read_response_locates_data_without_it() {
        let mut body = vec![17, 0, 80, 0];
        body.extend_from_slice(&1000u32.to_le_bytes());
        body.extend_from_slice(&[0; 8]);
        let prefix = response(command::READ, &body);
        let r = ReadResponse::parse(&prefix, 1080).unwrap();
        assert_eq!((r.data_offset, r.data_length), (80, 1000));
        assert!(matches!(
            ReadResponse::parse(&prefix, 1079),
            Err(Smb2Error::ReadDataOutOfBounds { .. })
        ));
        let mut early = prefix.clone();
        early[66] = 70;
        assert!(ReadResponse::parse(&early, 5000).is_err());
    }

    #[test]
    fn close_body_and_response() {
        let mut b = Vec::new();
        close_body(&mut b, &[1; 16]);
        assert_eq!(b.len(), 24);
        let mut body = vec![0u8; 60];
        body[0] = 60;
        assert!(parse_close_response(&response(command::CLOSE, &body)).is_ok());
        assert!(parse_close_response(&response(command::CLOSE, &body[..59])).is_err());
    }
}

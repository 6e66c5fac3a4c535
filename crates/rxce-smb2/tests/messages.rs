//! Real answers captured from Samba 4.17.12 (smbd on 127.0.0.1) to `rxce smb
//! ls` and `rxce smb get`, through a recording proxy: each file is one SMB2
//! transport message without its 4-byte direct-TCP header (a compound answer
//! is one file). The share held `big` (20,000,000 B), `empty`, `f70k`
//! (70,000 B), `one` (the byte `x`), `secret` (100 B) and the directory
//! `sub`.

use rxce_smb2::directory::parse_query_directory_response;
use rxce_smb2::file::{parse_close_response, parse_create_response, ReadResponse};
use rxce_smb2::ntlmssp::{self, negotiate_flag, Logon};
use rxce_smb2::session::{
    parse_empty_response, parse_session_setup_response, parse_tree_connect_response, session_flag, share_type,
};
use rxce_smb2::{command, next_in_chain, status, ResponseHeader, Smb2Error};

const CHALLENGE: &[u8] = include_bytes!("data/samba-4.17-session-setup-challenge.bin");
const SETUP_ANONYMOUS: &[u8] = include_bytes!("data/samba-4.17-session-setup-anonymous.bin");
const SETUP_GUEST: &[u8] = include_bytes!("data/samba-4.17-session-setup-guest.bin");
const TREE_CONNECT: &[u8] = include_bytes!("data/samba-4.17-tree-connect.bin");
const BAD_SHARE: &[u8] = include_bytes!("data/samba-4.17-tree-connect-bad-network-name.bin");
const CREATE_LIST: &[u8] = include_bytes!("data/samba-4.17-create-query-directory.bin");
const NO_MORE_FILES: &[u8] = include_bytes!("data/samba-4.17-query-directory-no-more-files.bin");
const CLOSE: &[u8] = include_bytes!("data/samba-4.17-close.bin");
const GOODBYE: &[u8] = include_bytes!("data/samba-4.17-tree-disconnect-logoff.bin");
const CREATE_FILE: &[u8] = include_bytes!("data/samba-4.17-create-file.bin");
const CREATE_NOT_FOUND: &[u8] = include_bytes!("data/samba-4.17-create-not-found.bin");
const READ_INTERIM: &[u8] = include_bytes!("data/samba-4.17-read-interim.bin");
const READ_ONE: &[u8] = include_bytes!("data/samba-4.17-read-1-byte.bin");

const ALL: [&[u8]; 13] = [
    CHALLENGE,
    SETUP_ANONYMOUS,
    SETUP_GUEST,
    TREE_CONNECT,
    BAD_SHARE,
    CREATE_LIST,
    NO_MORE_FILES,
    CLOSE,
    GOODBYE,
    CREATE_FILE,
    CREATE_NOT_FOUND,
    READ_INTERIM,
    READ_ONE,
];

#[test]
fn the_first_session_setup_answer_carries_a_raw_ntlmssp_challenge() {
    let r = parse_session_setup_response(CHALLENGE).unwrap();
    assert_eq!(r.header.status, status::MORE_PROCESSING_REQUIRED);
    assert_ne!(r.header.session_id, 0);
    // Samba answers a bare NTLMSSP token in kind (no SPNEGO wrapping).
    assert!(r.security_blob.starts_with(b"NTLMSSP\0"));
    let challenge = ntlmssp::parse_challenge(&r.security_blob).unwrap();
    assert_eq!(challenge.target_name, "RXCETEST");
    assert_ne!(challenge.flags & negotiate_flag::UNICODE, 0);
    assert_ne!(challenge.flags & negotiate_flag::TARGET_INFO, 0);
    assert!(!challenge.target_info.is_empty());
    // The answer to it: an anonymous AUTHENTICATE names no user.
    let auth = ntlmssp::authenticate_message(&challenge, &Logon::Anonymous, "RXCE");
    assert_eq!(&auth[..8], b"NTLMSSP\0");
}

#[test]
fn anonymous_and_guest_sessions_are_told_apart_by_their_flags() {
    let anonymous = parse_session_setup_response(SETUP_ANONYMOUS).unwrap();
    let guest = parse_session_setup_response(SETUP_GUEST).unwrap();
    assert_eq!(
        (anonymous.header.status, guest.header.status),
        (status::SUCCESS, status::SUCCESS)
    );
    // Samba 4.17 flags guest sessions, and marks anonymous ones with nothing.
    assert_eq!(guest.session_flags, session_flag::IS_GUEST);
    assert_eq!(anonymous.session_flags, 0);
    assert!(anonymous.security_blob.is_empty());
}

#[test]
fn tree_connect_to_the_share_and_to_no_share() {
    let tree = parse_tree_connect_response(TREE_CONNECT).unwrap();
    assert_eq!(tree.share_type, share_type::DISK);
    assert_ne!(tree.header.tree_id, 0);
    assert_eq!(
        parse_tree_connect_response(BAD_SHARE),
        Err(Smb2Error::ServerStatus(status::BAD_NETWORK_NAME))
    );
}

#[test]
fn create_and_query_directory_come_back_as_one_compound() {
    let (create, rest) = next_in_chain(CREATE_LIST).unwrap();
    let (list, end) = next_in_chain(rest).unwrap();
    assert!(end.is_empty());
    let dir = parse_create_response(create).unwrap();
    assert!(dir.is_directory());
    let listed = parse_query_directory_response(list).unwrap();
    assert_eq!(listed.header.command, command::QUERY_DIRECTORY);
    let mut entries: Vec<(&str, u64, bool)> = listed
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.size, e.is_directory()))
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            (".", 0, true),
            ("..", 0, true),
            ("big", 20_000_000, false),
            ("empty", 0, false),
            ("f70k", 70_000, false),
            ("one", 1, false),
            ("secret", 100, false),
            ("sub", 0, true),
        ]
    );
    let end = parse_query_directory_response(NO_MORE_FILES).unwrap();
    assert_eq!(end.header.status, status::NO_MORE_FILES);
    assert!(end.entries.is_empty());
}

#[test]
fn a_file_is_created_read_and_closed() {
    let file = parse_create_response(CREATE_FILE).unwrap();
    assert!(!file.is_directory());
    assert_eq!(file.end_of_file, 1);
    assert_eq!(file.create_action, 1, "FILE_OPENED");

    // Samba answers a READ first with an interim STATUS_PENDING (async)...
    let interim = ResponseHeader::parse(READ_INTERIM).unwrap();
    assert!(interim.is_interim());
    assert!(ReadResponse::parse(READ_INTERIM, READ_INTERIM.len()).is_err());
    // ...then with the data, right after the fixed body.
    let read = ReadResponse::parse(&READ_ONE[..ReadResponse::PREFIX_LEN], READ_ONE.len()).unwrap();
    assert_eq!(read.header.message_id, interim.message_id);
    assert_eq!((read.data_offset, read.data_length), (80, 1));
    assert_eq!(READ_ONE[80], b'x');

    parse_close_response(CLOSE).unwrap();
    assert_eq!(
        parse_create_response(CREATE_NOT_FOUND),
        Err(Smb2Error::ServerStatus(status::OBJECT_NAME_NOT_FOUND))
    );
}

#[test]
fn tree_disconnect_and_logoff_come_back_as_one_compound() {
    let (first, second) = next_in_chain(GOODBYE).unwrap();
    parse_empty_response(first, command::TREE_DISCONNECT).unwrap();
    parse_empty_response(second, command::LOGOFF).unwrap();
}

#[test]
fn every_capture_truncated_anywhere_is_an_error_not_a_panic() {
    for message in ALL {
        for len in 0..message.len() {
            let part = &message[..len];
            let _ = parse_session_setup_response(part);
            let _ = parse_tree_connect_response(part);
            let _ = parse_create_response(part);
            let _ = parse_query_directory_response(part);
            let _ = parse_close_response(part);
            let _ = ReadResponse::parse(part, message.len());
            let _ = next_in_chain(part);
            assert!(len >= 64 || ResponseHeader::parse(part).is_err());
        }
    }
    for len in 0..CHALLENGE.len() - 72 {
        let token = &CHALLENGE[72..72 + len];
        assert!(ntlmssp::parse_challenge(token).is_err(), "{len}-byte challenge parsed");
    }
}

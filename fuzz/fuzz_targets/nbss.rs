//! NetBIOS session service packets (RFC 1002 §4.3): the session responses
//! a client reads after its session request, and the session requests a
//! server reads.
//!
//! Properties, on every input:
//! - `parse_session_response` and `parse_session_request` never panic;
//! - a packet that parses is canonical: encoding the parsed value gives back
//!   exactly the bytes it occupied, and it parses the same without the bytes
//!   after it;
//! - every strict prefix of a packet that parses is "need more bytes"
//!   (`Ok(None)`), never an error or another packet;
//! - round trip: the response and the request built from the input (any
//!   raw names, any scope the encoder accepts) parse back to themselves.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use rxce_fuzz::Cursor;
use rxce_wire::nbss::{
    encode_session_request, encode_session_response, parse_session_request, parse_session_response, NegativeCode,
    SessionRequest, SessionResponse,
};

fuzz_target!(|data: &[u8]| {
    check_response_parser(data);
    check_request_parser(data);
    round_trip_response(&mut Cursor::new(data));
    round_trip_request(&mut Cursor::new(data));
});

fn check_response_parser(data: &[u8]) {
    let Ok(Some((response, used))) = parse_session_response(data) else {
        return;
    };
    assert!((4..=data.len()).contains(&used), "used {used} of {}", data.len());
    assert_eq!(encode_session_response(&response), &data[..used], "not canonical");
    assert_eq!(parse_session_response(&data[..used]), Ok(Some((response, used))));
    for cut in 0..used {
        assert_eq!(parse_session_response(&data[..cut]), Ok(None), "prefix of {cut} bytes");
    }
}

fn check_request_parser(data: &[u8]) {
    let Ok(Some((request, used))) = parse_session_request(data) else {
        return;
    };
    assert!((4 + 68..=4 + 510).contains(&used), "used {used}");
    assert_eq!(request.encode().as_deref(), Ok(&data[..used]), "not canonical");
    assert_eq!(parse_session_request(&data[..used]), Ok(Some((request.clone(), used))));
    for cut in 0..used {
        assert_eq!(parse_session_request(&data[..cut]), Ok(None), "prefix of {cut} bytes");
    }
}

fn round_trip_response(c: &mut Cursor<'_>) {
    let response = match c.u8() % 4 {
        0 => SessionResponse::Positive,
        1 => SessionResponse::Keepalive,
        2 => SessionResponse::Negative(NegativeCode::from_u8(c.u8())),
        _ => SessionResponse::Retarget {
            ip: Ipv4Addr::from(c.array::<4>()),
            port: c.u16(),
        },
    };
    if let SessionResponse::Negative(code) = response {
        assert_eq!(NegativeCode::from_u8(code.code()), code);
    }
    let mut bytes = encode_session_response(&response);
    let len = bytes.len();
    // Whatever follows the response (the next frame) is not consumed.
    bytes.extend_from_slice(c.rest());
    assert_eq!(parse_session_response(&bytes), Ok(Some((response, len))));
}

fn round_trip_request(c: &mut Cursor<'_>) {
    let request = SessionRequest {
        called: c.raw_name(),
        calling: c.raw_name(),
        scope: c.scope(),
    };
    let Ok(mut bytes) = encode_session_request(&request.called, &request.calling, request.scope.as_deref()) else {
        return;
    };
    let len = bytes.len();
    bytes.extend_from_slice(c.rest());
    let (parsed, used) = parse_session_request(&bytes)
        .expect("an encoded request parses")
        .expect("and is complete");
    assert_eq!(used, len);
    assert_eq!(parsed.called, request.called);
    assert_eq!(parsed.calling, request.calling);
    // An empty scope is no scope.
    assert_eq!(parsed.scope, request.scope.filter(|s| !s.is_empty()));
}

//! NetBIOS name service packets (RFC 1002 §4.2): the responses a client
//! gets to its name query (`parse_name_query_response`) and the queries a
//! responder reads (`NameQuery::parse`).
//!
//! Properties, on every input:
//! - neither parser panics (compression pointers, counts of 65535 records,
//!   RDLENGTH past the end, ...);
//! - a response that parses is consistent with its header: the transaction
//!   id is bytes 0..2, a negative response has an RCODE of 1 to 15, a
//!   positive one at least one address and an RDATA that the packet holds;
//! - a query that parses encodes to a query that parses to the same value;
//! - round trip: the query and the positive, negative, WACK and redirect
//!   responses built from the input (raw names, any scope and name-server
//!   name the encoders accept) parse back to what was encoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_fuzz::Cursor;
use rxce_wire::nbns::{
    encode_negative_response, encode_positive_response, encode_redirect_response, encode_wack_response,
    parse_name_query_response, NameQuery, NameQueryResponse, NbAddress, MAX_ADDRESSES,
};

fuzz_target!(|data: &[u8]| {
    check_response_parser(data);
    check_query_parser(data);
    round_trips(&mut Cursor::new(data));
});

fn check_response_parser(data: &[u8]) {
    let Ok(response) = parse_name_query_response(data) else {
        return;
    };
    assert_eq!(response.transaction_id(), u16::from_be_bytes([data[0], data[1]]));
    match response {
        NameQueryResponse::Negative { rcode, .. } => assert!((1..=15).contains(&rcode)),
        NameQueryResponse::Positive { addresses, .. } => {
            assert!(!addresses.is_empty());
            // 12-byte header, at least a 2-byte name pointer and 10 bytes
            // of record, then 6 bytes per address.
            assert!(data.len() >= 12 + 2 + 10 + 6 * addresses.len());
            assert!(addresses.len() <= MAX_ADDRESSES);
        }
        NameQueryResponse::WaitForAck { .. } | NameQueryResponse::Redirect { .. } => {}
    }
}

fn check_query_parser(data: &[u8]) {
    let Ok(query) = NameQuery::parse(data) else {
        return;
    };
    assert_eq!(query.transaction_id, u16::from_be_bytes([data[0], data[1]]));
    // The name may come from a compression pointer and the scope from
    // anywhere before it; re-encoded, it is a plain query.
    let bytes = query.encode().expect("a parsed query encodes");
    assert_eq!(NameQuery::parse(&bytes), Ok(query));
}

fn round_trips(c: &mut Cursor<'_>) {
    let transaction_id = c.u16();
    let name = c.raw_name();
    let scope = c.scope();
    let ttl = c.u32();
    match c.u8() % 5 {
        0 => {
            let query = NameQuery {
                transaction_id,
                name,
                scope: scope.clone(),
                broadcast: c.bool(),
                recursion_desired: c.bool(),
            };
            if let Ok(bytes) = query.encode() {
                let parsed = NameQuery::parse(&bytes).expect("an encoded query parses");
                assert_eq!(parsed.scope, scope.filter(|s| !s.is_empty()));
                assert_eq!(
                    parsed,
                    NameQuery {
                        scope: parsed.scope.clone(),
                        ..query.clone()
                    }
                );
                if let Ok(wack) = encode_wack_response(&query, ttl) {
                    assert_eq!(
                        parse_name_query_response(&wack),
                        Ok(NameQueryResponse::WaitForAck { transaction_id, ttl })
                    );
                }
            }
        }
        1 => {
            let count = usize::from(c.u8()) + 1;
            let addresses: Vec<NbAddress> = (0..count)
                .map(|_| NbAddress {
                    flags: c.u16(),
                    ip: c.ipv4(),
                })
                .collect();
            if let Ok(bytes) = encode_positive_response(transaction_id, &name, scope.as_deref(), ttl, &addresses) {
                assert_eq!(
                    parse_name_query_response(&bytes),
                    Ok(NameQueryResponse::Positive {
                        transaction_id,
                        name,
                        ttl,
                        addresses,
                    })
                );
            }
        }
        2 => {
            let rcode = c.u8();
            match encode_negative_response(transaction_id, &name, scope.as_deref(), rcode) {
                Ok(bytes) => assert_eq!(
                    parse_name_query_response(&bytes),
                    Ok(NameQueryResponse::Negative { transaction_id, rcode })
                ),
                Err(_) => assert!(rcode == 0 || rcode > 15 || scope.is_some()),
            }
        }
        3 => {
            let ns_name = c.short_string();
            let ns_ip = c.ipv4();
            if let Ok(bytes) = encode_redirect_response(transaction_id, &name, scope.as_deref(), ttl, &ns_name, ns_ip) {
                assert_eq!(
                    parse_name_query_response(&bytes),
                    Ok(NameQueryResponse::Redirect { transaction_id })
                );
            }
        }
        _ => {
            // A response with a compression pointer to the question (0xC00C),
            // as Windows sends it: the question, then the answer record.
            let query = NameQuery {
                transaction_id,
                name,
                scope: scope.clone(),
                broadcast: false,
                recursion_desired: true,
            };
            let Ok(mut bytes) = query.encode() else {
                return;
            };
            bytes[2] = 0x85; // R, opcode QUERY, AA, RD
            bytes[3] = 0x00;
            bytes[6..8].copy_from_slice(&1u16.to_be_bytes()); // ANCOUNT
            bytes.extend_from_slice(&[0xC0, 0x0C, 0x00, 0x20, 0x00, 0x01]);
            bytes.extend_from_slice(&ttl.to_be_bytes());
            bytes.extend_from_slice(&6u16.to_be_bytes());
            let address = NbAddress {
                flags: c.u16(),
                ip: c.ipv4(),
            };
            bytes.extend_from_slice(&address.flags.to_be_bytes());
            bytes.extend_from_slice(&address.ip.octets());
            assert_eq!(
                parse_name_query_response(&bytes),
                Ok(NameQueryResponse::Positive {
                    transaction_id,
                    name,
                    ttl,
                    addresses: vec![address],
                })
            );
        }
    }
}

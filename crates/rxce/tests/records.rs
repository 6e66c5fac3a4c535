//! `tcp+rpc` (ONC RPC record marking) and `tcp+9p` end to end on loopback:
//! whole messages both ways, records cut into 64 KiB fragments, a client
//! buffer filled across fragments, and hostile framing peers, each with its
//! expected outcome (decisions 48 and 49).

mod common;

use std::time::{Duration, Instant};

use common::*;
use rxce::wire::record::{encode_record, FRAGMENT_SIZE};
use rxce::{DisconnectFlags, EngineConfig, ReceiveAnswer, ReceiveFlags, SendOptions, Status};
use tokio::io::AsyncWriteExt;

/// The error and abortive disconnect a protocol error gives, within 10 s;
/// the error's text.
async fn protocol_error(handler: &Recorder) -> String {
    let events = handler
        .wait_for("a disconnect", |events| {
            events.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    let error = events.iter().find_map(|e| match e {
        Event::Error { status, .. } => Some(status.clone()),
        _ => None,
    });
    let error = error.expect("an error indication");
    assert_eq!(error, Status::INVALID_NETWORK_RESPONSE);
    assert_eq!(
        handler.disconnects()[0].0,
        DisconnectFlags::ABORT,
        "a protocol error aborts the VC"
    );
    error.to_string()
}

fn received(events: &[Event]) -> Vec<(Vec<u8>, usize, ReceiveFlags)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Received {
                data, available, flags, ..
            } => Some((data.clone(), *available, *flags)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn rpc_records_go_out_in_64k_fragments_and_come_in_whole() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (connection, vc, mut peer) = tcp_vc(&engine, "tcp+rpc", handler.clone()).await;
    let big = pattern(3 * FRAGMENT_SIZE + 10, 1);
    vc.send(&b"call"[..], SendOptions::empty()).await.unwrap();
    vc.send(big.clone(), SendOptions::empty()).await.unwrap();
    let mut expected = encode_record(b"call", FRAGMENT_SIZE);
    expected.extend(encode_record(&big, FRAGMENT_SIZE));
    assert_eq!(read_n(&mut peer, expected.len()).await, expected);
    // Headers of four fragments: three of 64 KiB, the last of 10 bytes.
    assert_eq!(expected[8..12], [0, 1, 0, 0]);
    // A reply in three fragments comes as one indication.
    write_all(&mut peer, &encode_record(b"reply in pieces", 5)).await;
    let events = handler.wait_for("the reply", |e| !received(e).is_empty()).await;
    assert_eq!(
        received(&events),
        [(
            b"reply in pieces".to_vec(),
            15,
            ReceiveFlags::NORMAL | ReceiveFlags::ENTIRE_MESSAGE
        )]
    );
    connection.tear_down().await.unwrap();
}

#[tokio::test]
async fn more_processing_fills_a_client_buffer_across_rpc_fragments() {
    let engine = engine_with(EngineConfig {
        receive_buffer_size: 256,
        ..EngineConfig::default()
    });
    let handler = Recorder::answering(|_, indication| {
        if indication.flags.contains(ReceiveFlags::ENTIRE_MESSAGE) {
            return ReceiveAnswer::take_all(indication);
        }
        ReceiveAnswer::MoreProcessingRequired {
            taken: 0,
            buffer: Box::new(vec![0u8; 100_000]),
            size: 100_000,
        }
    });
    let (connection, _vc, mut peer) = tcp_vc(&engine, "tcp+rpc", handler.clone()).await;
    let record = pattern(50_000, 7);
    let mut wire = encode_record(&record, 999);
    wire.extend(encode_record(b"next", 2));
    write_all(&mut peer, &wire).await;
    let events = handler
        .wait_for("the buffer and the next record", |events| {
            received(events).iter().any(|(d, ..)| d == b"next")
        })
        .await;
    let filled: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::DataReady { data, status, .. } => Some((data.clone(), status.clone())),
            _ => None,
        })
        .collect();
    // The buffer holds the record after what the indication showed, no
    // fragment header in it, and stops at the record's end.
    assert_eq!(filled.len(), 1);
    assert_eq!(filled[0].1, Status::SUCCESS);
    // One indication of the record (the full lookahead, its end not yet
    // known), answered with taken 0: its bytes go into the buffer first.
    let shown = received(&events);
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[0].0, record[..256]);
    assert!(!shown[0].2.contains(ReceiveFlags::ENTIRE_MESSAGE));
    assert_eq!(filled[0].0, record);
    connection.tear_down().await.unwrap();
}

#[tokio::test]
async fn nine_p_messages_carry_their_size_on_the_wire_only() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (connection, vc, mut peer) = tcp_vc(&engine, "tcp+9p", handler.clone()).await;
    // Tversion tag NOTAG msize 8192 "9P2000.L" (after size[4]).
    let mut tversion = vec![100u8, 0xff, 0xff];
    tversion.extend_from_slice(&8192u32.to_le_bytes());
    tversion.extend_from_slice(&8u16.to_le_bytes());
    tversion.extend_from_slice(b"9P2000.L");
    vc.send(tversion.clone(), SendOptions::empty()).await.unwrap();
    let got = read_n(&mut peer, 4 + tversion.len()).await;
    assert_eq!(got[..4], (4 + tversion.len() as u32).to_le_bytes());
    assert_eq!(got[4..], tversion);
    let mut rversion = got.clone();
    rversion[4] = 101;
    write_all(&mut peer, &rversion).await;
    let events = handler.wait_for("Rversion", |e| !received(e).is_empty()).await;
    assert_eq!(received(&events)[0].0, rversion[4..]);
    // Shorter than type[1] tag[2]: refused before anything is sent.
    let err = vc.send(&b"xy"[..], SendOptions::empty()).await.unwrap_err();
    assert_eq!(err, Status::INVALID_PARAMETER);
    connection.tear_down().await.unwrap();
}

/// One hostile peer: what it sends, on which transport, under which
/// message limit, and what the error must say.
struct Hostile {
    name: &'static str,
    transport: &'static str,
    limit: usize,
    wire: Vec<u8>,
    /// The peer ends its direction after the bytes.
    end: bool,
    says: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_framing_peers_are_protocol_errors_without_large_allocations() {
    let million_ones = encode_record(&vec![1u8; 1_000_000], 1);
    let cases = [
        Hostile {
            name: "an RPC fragment of 0x7FFFFFFF bytes",
            transport: "tcp+rpc",
            limit: 1 << 20,
            wire: vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3],
            end: false,
            says: "2147483647 bytes",
        },
        Hostile {
            name: "a million 1-byte fragments",
            transport: "tcp+rpc",
            limit: 65_536,
            wire: million_ones,
            end: false,
            says: "at least 65537 bytes",
        },
        Hostile {
            name: "empty fragments for ever",
            transport: "tcp+rpc",
            limit: 1 << 20,
            wire: vec![0u8; 4 * 100_000],
            end: false,
            says: "empty fragments",
        },
        Hostile {
            name: "an RPC record cut by the end of the stream",
            transport: "tcp+rpc",
            limit: 1 << 20,
            wire: encode_record(&[9u8; 100], 64)[..80].to_vec(),
            end: true,
            says: "ended",
        },
        Hostile {
            name: "a 9P size of 3",
            transport: "tcp+9p",
            limit: 8188,
            wire: vec![3, 0, 0, 0, 100, 0, 0],
            end: false,
            says: "size below 7",
        },
        Hostile {
            name: "a 9P size above msize",
            transport: "tcp+9p",
            limit: 8188,
            wire: vec![0x01, 0x20, 0, 0, 100, 0, 0],
            end: false,
            says: "8189-byte message",
        },
        Hostile {
            name: "a 9P message cut by the end of the stream",
            transport: "tcp+9p",
            limit: 8188,
            wire: vec![20, 0, 0, 0, 100, 0, 0, 1],
            end: true,
            says: "ended",
        },
    ];
    for case in cases {
        let engine = engine_with(EngineConfig {
            max_message_size: case.limit,
            ..EngineConfig::default()
        });
        let handler = Recorder::taking_all();
        let (connection, _vc, mut peer) = tcp_vc(&engine, case.transport, handler.clone()).await;
        let started = Instant::now();
        let wire = case.wire.clone();
        let writer = tokio::spawn(async move {
            // The VC aborts part way through the long ones: a failed
            // write is the expected end.
            let _ = peer.write_all(&wire).await;
            if case.end {
                let _ = peer.shutdown().await;
            }
            peer
        });
        let text = tokio::time::timeout(Duration::from_secs(20), protocol_error(&handler))
            .await
            .unwrap_or_else(|_| panic!("{}: no protocol error in time", case.name));
        assert!(text.contains(case.says), "{}: {text}", case.name);
        assert!(
            handler
                .events()
                .iter()
                .all(|e| !matches!(e, Event::Received { .. } | Event::DataReady { .. })),
            "{}: nothing of a refused message is indicated",
            case.name
        );
        println!(
            "{:<45} {:>8.1} ms  {text}",
            case.name,
            started.elapsed().as_secs_f64() * 1e3
        );
        drop(writer);
        connection.tear_down().await.unwrap();
    }
}

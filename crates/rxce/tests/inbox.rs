//! The inbox adapter: a connection's indications awaited as messages.

mod common;

use std::time::Duration;

use common::*;
use rxce::{Delivery, DisconnectFlags, EngineConfig, Inbox, SendOptions, Status};
use tokio::io::AsyncWriteExt;

async fn next(inbox: &mut Inbox) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .expect("a delivery in time")
        .expect("the inbox is open")
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = rxce::wire::Framing::DirectTcp
        .encode_message_header(payload.len())
        .unwrap()
        .to_vec();
    out.extend_from_slice(payload);
    out
}

#[tokio::test]
async fn framed_messages_arrive_whole_even_when_longer_than_the_lookahead() {
    let engine = engine_with(EngineConfig {
        receive_buffer_size: 256,
        ..EngineConfig::default()
    });
    let (handler, mut inbox) = Inbox::new(1 << 20);
    let (connection, vc, mut peer) = tcp_vc(&engine, "tcp+smb", handler).await;
    let long = pattern(10_000, 3);
    let mut wire = frame(b"short");
    wire.extend(frame(&long));
    wire.extend(frame(b"after"));
    // In small writes, so the long one comes in pieces.
    for chunk in wire.chunks(700) {
        peer.write_all(chunk).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for expected in [&b"short"[..], &long, b"after"] {
        match next(&mut inbox).await {
            Delivery::Data { vc: from, bytes } => {
                assert_eq!(from, vc);
                assert_eq!(&bytes[..], expected);
            }
            other => panic!("{other:?}"),
        }
    }
    drop(peer);
    match next(&mut inbox).await {
        Delivery::Disconnected { flags, status, .. } => {
            assert_eq!(flags, DisconnectFlags::RELEASE);
            assert_eq!(status, Status::REMOTE_DISCONNECT);
        }
        other => panic!("{other:?}"),
    }
    connection.tear_down().await.unwrap();
}

#[tokio::test]
async fn a_full_inbox_holds_the_peer_back_and_loses_nothing() {
    let engine = engine();
    let (handler, mut inbox) = Inbox::new(4096);
    let (connection, vc, mut peer) = tcp_vc(&engine, "tcp", handler).await;
    let sent = pattern(1 << 20, 9);
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            peer.write_all(&sent).await.unwrap();
            peer
        })
    };
    // Nobody reads for a while: the VC stops reading at the limit.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let held = inbox.queued_bytes();
    let lookahead = EngineConfig::default().receive_buffer_size;
    assert!(held > 0 && held <= 4096 + lookahead, "{held} bytes queued");
    let mut got = Vec::new();
    while got.len() < sent.len() {
        match next(&mut inbox).await {
            Delivery::Data { bytes, .. } => got.extend_from_slice(&bytes),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, sent, "every byte, in order");
    let _peer = writer.await.unwrap();
    vc.send(&b"done"[..], SendOptions::empty()).await.unwrap();
    connection.tear_down().await.unwrap();
}

#[tokio::test]
async fn the_inbox_ends_when_its_connection_is_gone() {
    let engine = engine();
    let (handler, mut inbox) = Inbox::new(1024);
    let (connection, vc, _peer) = tcp_vc(&engine, "tcp", handler).await;
    connection.tear_down().await.unwrap();
    drop((connection, vc));
    let end = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .expect("recv returns");
    assert!(end.is_none(), "{end:?}");
}

/// An ONC RPC record longer than the lookahead, in fragments of several
/// sizes (some longer than the lookahead, some shorter), comes out of the
/// inbox as one message: not cut at the lookahead or a fragment's end.
#[tokio::test]
async fn rpc_records_arrive_whole_even_when_longer_than_the_lookahead() {
    let engine = engine_with(EngineConfig {
        receive_buffer_size: 256,
        ..EngineConfig::default()
    });
    let (handler, mut inbox) = Inbox::new(1 << 20);
    let (connection, vc, mut peer) = tcp_vc(&engine, "tcp+rpc", handler).await;
    let long = pattern(10_000, 5);
    let mut wire = rxce::wire::record::encode_record(b"short", 2);
    for fragment in [1000, 100, 7000] {
        wire.extend(rxce::wire::record::encode_record(&long, fragment));
    }
    wire.extend(rxce::wire::record::encode_record(b"after", 64));
    for chunk in wire.chunks(700) {
        peer.write_all(chunk).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for expected in [&b"short"[..], &long, &long, &long, b"after"] {
        match next(&mut inbox).await {
            Delivery::Data { vc: from, bytes } => {
                assert_eq!(from, vc);
                assert_eq!(bytes.len(), expected.len());
                assert_eq!(&bytes[..], expected);
            }
            other => panic!("{other:?}"),
        }
    }
    connection.tear_down().await.unwrap();
}

//! A real NFS server (nfs-ganesha, VFS back end, on 127.0.0.1) through
//! `tcp+rpc`: the NFSv3 NULL procedure, and an NFSv4 COMPOUND of PUTROOTFH
//! and GETATTR(type), replies decoded (issue 16).
#![cfg(target_os = "linux")] // Linux only: nfs-ganesha and rpcbind from Debian packages

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use rxce::wire::oncrpc::{self, Call, ReplyBody, Xdr};
use rxce::{ConnectionInformation, Delivery, Inbox, SendOptions, TransportAddress};
use rxce_testsupport::fileservers::Ganesha;

/// NFSv4 operations (RFC 7530 §16).
const OP_GETATTR: u32 = 9;
const OP_PUTROOTFH: u32 = 24;
/// FATTR4_TYPE is attribute 1; NF4DIR is 2.
const FATTR4_TYPE: u32 = 1;
const NF4DIR: u32 = 2;

/// Sends one RPC message and returns the reply message.
async fn exchange(vc: &rxce::Vc, inbox: &mut Inbox, message: Vec<u8>) -> Vec<u8> {
    vc.send(message, SendOptions::empty()).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await {
        Ok(Some(Delivery::Data { bytes, .. })) => bytes.to_vec(),
        other => panic!("no reply: {other:?}"),
    }
}

fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|w| w.to_be_bytes()).collect()
}

#[tokio::test]
async fn ganesha_answers_nfsv3_null_and_an_nfsv4_compound_through_tcp_rpc() {
    let ganesha = Ganesha::start().expect("nfs-ganesha runs");
    let engine = engine();
    let transport = engine.build_transport("tcp+rpc", 0).unwrap();
    let address = transport
        .build_address(TransportAddress::any_ipv4(), Arc::new(rxce::NoEvents))
        .unwrap();
    let (handler, mut inbox) = Inbox::new(1 << 20);
    let to: std::net::SocketAddr = format!("127.0.0.1:{}", ganesha.nfs_port()).parse().unwrap();
    let (_connection, vc) = address
        .build_connection(ConnectionInformation::to(to), handler)
        .await
        .unwrap();
    // NFSv3 NULL.
    let null = Call {
        xid: 0x30,
        prog: oncrpc::NFS_PROG,
        vers: 3,
        proc_: oncrpc::NULL_PROC,
    };
    let reply = oncrpc::parse_reply(&exchange(&vc, &mut inbox, null.encode(&[])).await).unwrap();
    assert_eq!(reply.xid, 0x30);
    assert!(matches!(reply.body, ReplyBody::Success { .. }), "{}", reply.body.name());

    // NFSv4.0 COMPOUND { PUTROOTFH; GETATTR(type) }: tag "", minor 0.
    let args = words(&[0, 0, 2, OP_PUTROOTFH, OP_GETATTR, 1, 1 << FATTR4_TYPE]);
    let compound = Call {
        xid: 0x40,
        prog: oncrpc::NFS_PROG,
        vers: 4,
        proc_: 1,
    };
    let message = exchange(&vc, &mut inbox, compound.encode(&args)).await;
    let reply = oncrpc::parse_reply(&message).unwrap();
    assert_eq!(reply.xid, 0x40);
    let ReplyBody::Success { results } = reply.body else {
        panic!("{}", reply.body.name())
    };
    let mut x = Xdr::new(&message, results);
    assert_eq!(x.u32().unwrap(), 0, "COMPOUND status NFS4_OK");
    assert_eq!(x.opaque(64).unwrap(), b"", "the tag comes back");
    assert_eq!(x.u32().unwrap(), 2, "two results");
    assert_eq!((x.u32().unwrap(), x.u32().unwrap()), (OP_PUTROOTFH, 0));
    assert_eq!((x.u32().unwrap(), x.u32().unwrap()), (OP_GETATTR, 0));
    let bitmap_len = x.u32().unwrap();
    let bitmap: Vec<u32> = (0..bitmap_len).map(|_| x.u32().unwrap()).collect();
    assert_eq!(
        bitmap.first().copied().unwrap_or(0) & (1 << FATTR4_TYPE),
        1 << FATTR4_TYPE,
        "{bitmap:?}"
    );
    let values = x.opaque(4096).unwrap();
    assert_eq!(values, NF4DIR.to_be_bytes(), "the root is a directory");
    transport.tear_down().await.unwrap();
}

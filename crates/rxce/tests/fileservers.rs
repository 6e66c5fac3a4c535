//! Real file-protocol servers on loopback (issue 16): rpcbind answers ONC
//! RPC through `tcp+rpc` and over `udp`, diod answers 9P2000.L through
//! `tcp+9p`; replies parsed and checked. The servers come from Debian's
//! packages (`scripts/install-test-deps.sh`); a missing one fails the test.
#![cfg(target_os = "linux")] // Linux only: rpcbind, diod and nfs-ganesha from Debian packages

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rxce::wire::ninep::{self, msg};
use rxce::wire::oncrpc::{self, Call, Mapping, ReplyBody};
use rxce::{
    Address, AddressEventHandler, ConnectionInformation, DatagramIndication, Delivery, Inbox, ReceiveAnswer,
    SendOptions, TransportAddress,
};
use rxce_testsupport::fileservers::{Diod, Rpcbind};

async fn next(inbox: &mut Inbox) -> Vec<u8> {
    match tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await {
        Ok(Some(Delivery::Data { bytes, .. })) => bytes.to_vec(),
        other => panic!("no reply: {other:?}"),
    }
}

/// One RPC call through a `tcp+rpc` VC and its parsed reply.
async fn call(vc: &rxce::Vc, inbox: &mut Inbox, call: Call, args: &[u8]) -> (oncrpc::Reply, Vec<u8>) {
    vc.send(call.encode(args), SendOptions::empty()).await.unwrap();
    let message = next(inbox).await;
    let reply = oncrpc::parse_reply(&message).unwrap();
    assert_eq!(reply.xid, call.xid, "the reply answers the call");
    (reply, message)
}

fn pmap(xid: u32, proc_: u32) -> Call {
    Call {
        xid,
        prog: oncrpc::PMAP_PROG,
        vers: oncrpc::PMAP_VERS,
        proc_,
    }
}

#[tokio::test]
async fn rpcbind_answers_null_getport_and_dump_through_tcp_rpc() {
    let _rpcbind = Rpcbind::shared().expect("rpcbind runs");
    let engine = engine();
    let transport = engine.build_transport("tcp+rpc", 0).unwrap();
    let address = transport
        .build_address(TransportAddress::any_ipv4(), Arc::new(rxce::NoEvents))
        .unwrap();
    let (handler, mut inbox) = Inbox::new(1 << 20);
    // No port: tcp+rpc goes to 111.
    let (_connection, vc) = address
        .build_connection(
            ConnectionInformation::to(TransportAddress::host_name("127.0.0.1", 0)),
            handler,
        )
        .await
        .unwrap();

    let (reply, _) = call(&vc, &mut inbox, pmap(1, oncrpc::NULL_PROC), &[]).await;
    assert!(matches!(reply.body, ReplyBody::Success { .. }), "{}", reply.body.name());

    let me = Mapping {
        prog: oncrpc::PMAP_PROG,
        vers: 2,
        prot: oncrpc::IPPROTO_TCP,
        port: 0,
    };
    let (reply, message) = call(&vc, &mut inbox, pmap(2, oncrpc::PMAPPROC_GETPORT), &me.encode()).await;
    let ReplyBody::Success { results } = reply.body else {
        panic!("{}", reply.body.name())
    };
    assert_eq!(oncrpc::parse_getport(&message[results..]), Ok(111));

    let (reply, message) = call(&vc, &mut inbox, pmap(3, oncrpc::PMAPPROC_DUMP), &[]).await;
    let ReplyBody::Success { results } = reply.body else {
        panic!("{}", reply.body.name())
    };
    let dump = oncrpc::parse_dump(&message[results..]).unwrap();
    for prot in [oncrpc::IPPROTO_TCP, oncrpc::IPPROTO_UDP] {
        assert!(
            dump.contains(&Mapping {
                prog: oncrpc::PMAP_PROG,
                vers: 2,
                prot,
                port: 111
            }),
            "{dump:?}"
        );
    }

    // Errors decoded by name: a version rpcbind does not serve, a program
    // nobody registered.
    let wrong = Call {
        vers: 9,
        ..pmap(4, oncrpc::NULL_PROC)
    };
    let (reply, _) = call(&vc, &mut inbox, wrong, &[]).await;
    assert_eq!(reply.body, ReplyBody::ProgMismatch { low: 2, high: 4 });
    assert_eq!(reply.body.name(), "PROG_MISMATCH(2-4)");
    let nobody = Mapping {
        prog: 0x2000_0101,
        vers: 1,
        prot: oncrpc::IPPROTO_TCP,
        port: 0,
    };
    let (reply, message) = call(&vc, &mut inbox, pmap(5, oncrpc::PMAPPROC_GETPORT), &nobody.encode()).await;
    let ReplyBody::Success { results } = reply.body else {
        panic!("{}", reply.body.name())
    };
    assert_eq!(
        oncrpc::parse_getport(&message[results..]),
        Ok(0),
        "not registered: port 0"
    );
    transport.tear_down().await.unwrap();
}

/// Datagrams the address received.
#[derive(Default)]
struct Datagrams(Mutex<Vec<Vec<u8>>>, tokio::sync::Notify);

impl AddressEventHandler for Datagrams {
    fn receive_datagram(&self, _address: &Address, indication: &DatagramIndication<'_>) -> ReceiveAnswer {
        self.0.lock().unwrap().push(indication.indication.data.to_vec());
        self.1.notify_one();
        ReceiveAnswer::take_all(&indication.indication)
    }
}

#[tokio::test]
async fn rpcbind_answers_null_and_dump_over_udp() {
    let _rpcbind = Rpcbind::shared().expect("rpcbind runs");
    let engine = engine();
    let transport = engine.build_transport("udp", 0).unwrap();
    let datagrams = Arc::new(Datagrams::default());
    let address = transport
        .build_address(TransportAddress::ip("127.0.0.1:0".parse().unwrap()), datagrams.clone())
        .unwrap();
    let rpcbind = ConnectionInformation::to("127.0.0.1:111".parse::<std::net::SocketAddr>().unwrap());
    for (xid, proc_) in [(11, oncrpc::NULL_PROC), (12, oncrpc::PMAPPROC_DUMP)] {
        // One call per datagram, no record marking.
        address
            .send_datagram(&rpcbind, pmap(xid, proc_).encode(&[]), SendOptions::empty())
            .await
            .unwrap();
        let message = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let notified = datagrams.1.notified();
                if let Some(m) = datagrams.0.lock().unwrap().pop() {
                    return m;
                }
                notified.await;
            }
        })
        .await
        .expect("a reply datagram");
        let reply = oncrpc::parse_reply(&message).unwrap();
        assert_eq!(reply.xid, xid);
        let ReplyBody::Success { results } = reply.body else {
            panic!("{}", reply.body.name())
        };
        if proc_ == oncrpc::PMAPPROC_DUMP {
            let dump = oncrpc::parse_dump(&message[results..]).unwrap();
            assert!(dump
                .iter()
                .any(|m| m.prog == oncrpc::PMAP_PROG && m.prot == oncrpc::IPPROTO_UDP));
        }
    }
    transport.tear_down().await.unwrap();
}

#[tokio::test]
async fn diod_answers_tversion_and_tattach_through_tcp_9p() {
    let diod = Diod::start().expect("diod runs");
    let engine = engine();
    let transport = engine.build_transport("tcp+9p", 0).unwrap();
    let address = transport
        .build_address(TransportAddress::any_ipv4(), Arc::new(rxce::NoEvents))
        .unwrap();
    let (handler, mut inbox) = Inbox::new(1 << 20);
    let (_connection, vc) = address
        .build_connection(ConnectionInformation::to(diod.addr()), handler)
        .await
        .unwrap();
    vc.send(ninep::tversion(1 << 20, "9P2000.L"), SendOptions::empty())
        .await
        .unwrap();
    let reply = next(&mut inbox).await;
    let (mut r, tag) = ninep::expect_reply(&reply, msg::RVERSION).unwrap().unwrap();
    let (msize, version) = (r.u32().unwrap(), r.str().unwrap());
    assert_eq!((tag, version.as_str()), (ninep::NOTAG, "9P2000.L"));
    assert_eq!(msize, 65536, "diod's msize");

    let aname = diod.export().to_str().unwrap();
    vc.send(ninep::tattach(1, 0, "root", aname, 0), SendOptions::empty())
        .await
        .unwrap();
    let reply = next(&mut inbox).await;
    let (mut r, tag) = ninep::expect_reply(&reply, msg::RATTACH).unwrap().unwrap();
    let qid = r.qid().unwrap();
    assert_eq!(tag, 1);
    assert_eq!(qid.kind & 0x80, 0x80, "the root is a directory: {qid:?}");

    // A walk to a name that is not there: Rlerror ENOENT, by name.
    vc.send(ninep::twalk(2, 0, 1, &["missing"]), SendOptions::empty())
        .await
        .unwrap();
    let reply = next(&mut inbox).await;
    let error = ninep::expect_reply(&reply, msg::RWALK).unwrap().expect_err("an error");
    assert_eq!(error.to_string(), "Rlerror 2 (ENOENT)");
    transport.tear_down().await.unwrap();
}

#[path = "../examples/ninep_read.rs"]
mod ninep_read;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_9p_example_reads_a_file_from_diod_into_its_buffers() {
    let diod = Diod::start().expect("diod runs");
    let dir = diod.export().join("dir");
    std::fs::create_dir(&dir).unwrap();
    let content = pattern(1_000_000 + 123, 9);
    std::fs::write(dir.join("file.bin"), &content).unwrap();
    // A lookahead far below an Rread (64 KiB): each read's data goes from
    // the socket into the caller's buffer.
    for lookahead in [4096, rxce::EngineConfig::default().receive_buffer_size] {
        let engine = engine_with(rxce::EngineConfig {
            receive_buffer_size: lookahead,
            ..rxce::EngineConfig::default()
        });
        let aname = diod.export().to_str().unwrap();
        let file = ninep_read::read_file(&engine, diod.addr(), aname, &["dir", "file.bin"])
            .await
            .unwrap();
        assert_eq!(file.len(), content.len());
        assert!(file == content, "the bytes read are the file's");
        println!(
            "lookahead {lookahead}: {} bytes, fnv1a64 {:016x} (file {:016x})",
            file.len(),
            ninep_read::fnv1a(&file),
            ninep_read::fnv1a(&content)
        );
    }
    let engine = engine();
    let missing = ninep_read::read_file(&engine, diod.addr(), diod.export().to_str().unwrap(), &["nope"])
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("ENOENT"), "{missing}");
}

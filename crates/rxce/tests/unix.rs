//! The `unix` transport: Unix-domain stream sockets by path and by
//! abstract name.
#![cfg(unix)] // Unix only: Windows does not offer the unix transport

mod common;

use std::sync::Arc;

use common::*;
use rxce::{ConnectionInformation, NoEvents, SendOptions, Status, TaAddress, TransportAddress};
use tokio::net::UnixListener;

fn unix(name: &[u8]) -> TransportAddress {
    TransportAddress::new(TaAddress::Unix(name.to_vec()))
}

async fn echo_on(listener: UnixListener) {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vc_over_a_socket_path_echoes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    echo_on(UnixListener::bind(&path).unwrap()).await;
    let engine = engine();
    let transport = engine.build_transport("unix", 0).unwrap();
    let address = transport.build_address(unix(b""), Arc::new(NoEvents)).unwrap();
    let handler = Recorder::taking_all();
    let remote = unix(path.as_os_str().as_encoded_bytes());
    let (_c, vc) = address
        .build_connection(ConnectionInformation::to(remote.clone()), handler.clone())
        .await
        .unwrap();
    let data = pattern(200_000, 6);
    vc.send(data.clone(), SendOptions::empty()).await.unwrap();
    assert_eq!(handler.wait_for_bytes(data.len()).await, data);
    match vc.query_information(rxce::InformationClass::RemoteAddress).unwrap() {
        rxce::Information::RemoteAddress(info) => assert_eq!(info.address, remote),
        other => panic!("{other:?}"),
    }
}

#[cfg(target_os = "linux")] // abstract names are Linux-only
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vc_over_an_abstract_name_echoes() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("rxce-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let std_listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    std_listener.set_nonblocking(true).unwrap();
    echo_on(UnixListener::from_std(std_listener).unwrap()).await;
    let engine = engine();
    let transport = engine.build_transport("unix", 0).unwrap();
    let address = transport.build_address(unix(b""), Arc::new(NoEvents)).unwrap();
    let handler = Recorder::taking_all();
    let mut abstract_name = vec![0u8];
    abstract_name.extend_from_slice(name.as_bytes());
    let (_c, vc) = address
        .build_connection(ConnectionInformation::to(unix(&abstract_name)), handler.clone())
        .await
        .unwrap();
    vc.send(&b"abstract"[..], SendOptions::empty()).await.unwrap();
    assert_eq!(handler.wait_for_bytes(8).await, b"abstract");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_sockets_and_wrong_addresses_are_reported() {
    let engine = engine();
    let transport = engine.build_transport("unix", 0).unwrap();
    assert_eq!(
        transport
            .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
            .unwrap_err(),
        Status::INVALID_PARAMETER
    );
    let address = transport.build_address(unix(b""), Arc::new(NoEvents)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nobody.sock");
    let err = address
        .build_connection(
            ConnectionInformation::to(unix(missing.as_os_str().as_encoded_bytes())),
            Recorder::taking_all(),
        )
        .await
        .unwrap_err();
    assert_eq!(err, Status::BAD_NETWORK_PATH, "{err}");
    let err = address
        .build_connection(ConnectionInformation::to(unix(b"")), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::INVALID_PARAMETER);
    // A socket file nobody listens on refuses.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let err = address
        .build_connection(
            ConnectionInformation::to(unix(stale.as_os_str().as_encoded_bytes())),
            Recorder::taking_all(),
        )
        .await
        .unwrap_err();
    assert_eq!(err, Status::CONNECTION_REFUSED);
}

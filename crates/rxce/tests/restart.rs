//! Server restarts under a reconnect policy: a private smbd stopped and
//! started again on the same ports in the middle of a session, over
//! `tcp+smb` and over `netbt`; and smbd left down (after hanging with sends
//! queued), where the engine gives up. These tests fail (not skip) when
//! Samba is missing — `scripts/install-test-deps.sh` installs it.
#![cfg(target_os = "linux")] // Linux only: Samba (smbd) from Debian packages

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rxce::wire::NetbiosName;
use rxce::{
    Connection, ConnectionInformation, Engine, EngineConfig, NoEvents, ReconnectPolicy, SendOptions, Status, TaAddress,
    TransportAddress, Vc,
};
use rxce_smb2::{parse_negotiate_response, NegotiateRequest};
use rxce_testsupport::samba::{require_samba, SambaServer};

fn start() -> SambaServer {
    require_samba();
    SambaServer::start().expect("a private Samba server starts")
}

/// The server's remote for `transport`: its direct-hosted port for
/// `tcp+smb`, its NetBIOS port and name for `netbt`.
fn remote(server: &SambaServer, transport: &str) -> ConnectionInformation {
    match transport {
        "tcp+smb" => to(server.direct_addr()),
        _ => ConnectionInformation::to(TransportAddress {
            entries: vec![
                TaAddress::Ip(server.netbt_addr()),
                TaAddress::NetBios {
                    name: *NetbiosName::parse(server.netbios_name()).unwrap().as_bytes(),
                },
            ],
        }),
    }
}

/// Negotiates over `vc` (its first message) and returns the dialect smbd
/// chose.
async fn negotiate(handler: &Recorder, vc: &Vc) -> u16 {
    vc.send(NegotiateRequest::default().encode().unwrap(), SendOptions::empty())
        .await
        .unwrap();
    let id = vc.id();
    let events = handler
        .wait_for("the NEGOTIATE response", |e| {
            e.iter().any(|e| matches!(e, Event::Received { vc, .. } if *vc == id))
        })
        .await;
    let data = events
        .iter()
        .find_map(|e| match e {
            Event::Received { vc, data, .. } if *vc == id => Some(data.clone()),
            _ => None,
        })
        .unwrap();
    let response = parse_negotiate_response(&data).expect("an SMB2 NEGOTIATE response");
    assert_eq!(response.status, 0);
    response.dialect
}

/// A private smbd, and a connection to it over `transport` with `policy`
/// (nothing sent yet).
async fn connected(
    engine: &Engine,
    transport: &str,
    policy: ReconnectPolicy,
) -> (Arc<Mutex<SambaServer>>, Arc<Recorder>, Connection, Vc) {
    let server = Arc::new(Mutex::new(start()));
    let address = engine
        .build_transport(transport, 0)
        .unwrap()
        .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
        .unwrap();
    let handler = Recorder::taking_all();
    let target = remote(&server.lock().unwrap(), transport);
    let (connection, vc) = address.build_connection(target, handler.clone()).await.unwrap();
    connection.set_reconnect_policy(Some(policy));
    (server, handler, connection, vc)
}

fn count(handler: &Recorder, wanted: fn(&Event) -> bool) -> usize {
    handler.events().iter().filter(|e| wanted(e)).count()
}

/// Runs a blocking server call off the test's runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

async fn a_restarted_smbd_gets_the_vc_rebuilt(transport: &'static str) {
    let engine = engine();
    let policy = ReconnectPolicy {
        attempts: 100,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
    };
    let (server, handler, connection, lost) = connected(&engine, transport, policy).await;
    let first_dialect = negotiate(&handler, &lost).await;
    let old_pid = server.lock().unwrap().smbd_pid();

    let stopped = Instant::now();
    let s = server.clone();
    blocking(move || s.lock().unwrap().stop()).await;
    handler
        .wait_for("the lost VC's disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    // While smbd is down every rebuild is refused; none succeeds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&handler, |e| matches!(e, Event::Reconnected { .. })), 0);

    let s = server.clone();
    blocking(move || s.lock().unwrap().start_again())
        .await
        .expect("smbd starts again on the same ports");
    let down_for = stopped.elapsed();
    handler
        .wait_for("the rebuilt VC", |e| {
            e.iter().any(|e| matches!(e, Event::Reconnected { .. }))
        })
        .await;
    let rebuilt_after = stopped.elapsed();
    let restored = handler.restored.lock().unwrap()[0].clone();
    assert_ne!(restored, lost);
    assert_ne!(server.lock().unwrap().smbd_pid(), old_pid, "a new smbd");
    // A send after the rebuild reaches the new server, which answers it.
    let dialect = negotiate(&handler, &restored).await;
    assert_eq!(dialect, first_dialect);
    // Once: no second rebuild, no give-up, one disconnect.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&handler, |e| matches!(e, Event::Reconnected { .. })), 1);
    assert_eq!(count(&handler, |e| matches!(e, Event::ReconnectFailed { .. })), 0);
    assert_eq!(count(&handler, |e| matches!(e, Event::Disconnect { .. })), 1);
    let (flags, status) = handler.disconnects()[0].clone();
    eprintln!(
        "{transport}: smbd stopped → lost VC {} disconnected ({flags:?}, {}); smbd down {:.0} ms; \
         VC {} rebuilt {:.0} ms after the stop; NEGOTIATE over it answered (dialect {first_dialect:#06x})",
        lost.id(),
        status.name(),
        down_for.as_secs_f64() * 1000.0,
        restored.id(),
        rebuilt_after.as_secs_f64() * 1000.0,
    );
    tokio::time::timeout(Duration::from_secs(10), connection.tear_down())
        .await
        .expect("the tear-down does not hang")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_smbd_gets_the_vc_rebuilt_over_tcp_smb() {
    a_restarted_smbd_gets_the_vc_rebuilt("tcp+smb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_smbd_gets_the_vc_rebuilt_over_netbt() {
    a_restarted_smbd_gets_the_vc_rebuilt("netbt").await;
}

/// Queues sends on `vc` without waiting until its queue is full: the
/// contexts that were accepted (PENDING).
fn fill_queue(vc: &Vc) -> Vec<usize> {
    let chunk = vec![0x5a; 256 * 1024];
    let mut pending = Vec::new();
    for context in 1.. {
        match vc.try_submit_send(chunk.clone(), SendOptions::empty(), context) {
            s if s == Status::PENDING => pending.push(context),
            s => {
                assert_eq!(s, Status::DEVICE_NOT_READY);
                break;
            }
        }
    }
    pending
}

async fn smbd_left_down_the_engine_gives_up(transport: &'static str, engine: &Engine) {
    let policy = ReconnectPolicy {
        attempts: 3,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(100),
    };
    let (server, handler, connection, lost) = connected(engine, transport, policy).await;
    negotiate(&handler, &lost).await;

    // The server hangs (reads nothing) with sends queued, then dies and
    // stays down.
    server.lock().unwrap().freeze();
    let mut pending = Vec::new();
    let filled = Instant::now() + Duration::from_secs(10);
    while pending.len() < 8 {
        pending.extend(fill_queue(&lost));
        assert!(Instant::now() < filled, "the queue never filled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = server.clone();
    blocking(move || s.lock().unwrap().stop()).await;
    let events = handler
        .wait_for("giving up", |e| {
            e.iter().any(|e| matches!(e, Event::ReconnectFailed { .. }))
        })
        .await;
    // Every queued send completed, once, with a status.
    let completions = handler.completions();
    let mut completed: Vec<usize> = completions.iter().map(|c| c.0).collect();
    completed.sort_unstable();
    assert_eq!(completed, pending, "each queued send completes exactly once");
    let failed: Vec<&Status> = completions.iter().map(|c| &c.1).filter(|s| !s.is_success()).collect();
    assert!(!failed.is_empty(), "sends were still queued when smbd died");
    let (why, status) = events
        .iter()
        .find_map(|e| match e {
            Event::ReconnectFailed { lost, status } => Some((*lost, status.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(why, lost.id());
    assert_eq!(status, Status::CONNECTION_REFUSED);
    assert!(status.to_string().contains("after 3 attempts"), "{status}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&handler, |e| matches!(e, Event::ReconnectFailed { .. })), 1);
    assert_eq!(count(&handler, |e| matches!(e, Event::Reconnected { .. })), 0);
    let (flags, end) = handler.disconnects()[0].clone();
    eprintln!(
        "{transport}: smbd hung with {} sends queued, then stopped: {} completed SUCCESS, {} failed ({}); \
         disconnect ({flags:?}, {}); reconnect_failed after {} attempts: {status}",
        pending.len(),
        completions.len() - failed.len(),
        failed.len(),
        failed.first().map_or("", |s| s.name()),
        end.name(),
        policy.attempts,
    );
    tokio::time::timeout(Duration::from_secs(10), connection.tear_down())
        .await
        .expect("the tear-down does not hang")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smbd_left_down_the_engine_gives_up_and_every_queued_send_completes() {
    let engine = engine_with(EngineConfig {
        send_queue_limit: 1 << 20,
        ..EngineConfig::default()
    });
    smbd_left_down_the_engine_gives_up("tcp+smb", &engine).await;
    smbd_left_down_the_engine_gives_up("netbt", &engine).await;
}

//! NetBIOS name resolution: a name query (RFC 1002 name service) unicast to
//! a name server or broadcast, with the RFC's timeout and retries.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use rxce_wire::nbns::{parse_name_query_response, NameQuery, NameQueryResponse};
use rxce_wire::NetbiosName;
use tokio::net::UdpSocket;

use crate::config::NetbtConfig;
use crate::status::Status;

/// The longest a name server's "wait for acknowledgement" may extend a
/// query, whatever TTL it announces.
const MAX_WACK_WAIT: Duration = Duration::from_secs(30);

fn transaction_id() -> u16 {
    // Distinct per query within the process; a peer cannot predict it any
    // better than it can see the query it answers.
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let seed = std::process::id() as u16;
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .wrapping_mul(0x9E37)
        .wrapping_add(seed)
}

/// Resolves a NetBIOS name to its IPv4 addresses with a name query.
///
/// The query goes to `config.name_server` (unicast, with the RD bit as
/// configured) or, without one, is broadcast to `config.broadcast_address`.
/// It is sent up to `name_query_attempts` times, waiting
/// `name_query_timeout` for an answer each time; a WACK from the server
/// extends the wait by its TTL (at most 30 s). A negative answer, or none at
/// all, gives STATUS_BAD_NETWORK_NAME.
///
/// ```no_run
/// # async fn f() -> Result<(), rxce::Status> {
/// let config = rxce::NetbtConfig {
///     name_server: Some("127.0.0.1:137".parse().unwrap()),
///     ..rxce::NetbtConfig::default()
/// };
/// let name = rxce::wire::NetbiosName::parse("FILESERVER")
///     .map_err(|_| rxce::Status::INVALID_PARAMETER)?;
/// let addresses = rxce::resolve_netbios_name(&name, &config).await?;
/// # Ok(()) }
/// ```
pub async fn resolve_netbios_name(name: &NetbiosName, config: &NetbtConfig) -> Result<Vec<Ipv4Addr>, Status> {
    let (destination, broadcast) = match config.name_server {
        Some(server) => (server, false),
        None => (config.broadcast_address, true),
    };
    let bind = match destination {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => {
            return Err(Status::INVALID_PARAMETER
                .with_message(format!("NetBIOS name queries go over IPv4, not to {destination}")))
        }
    };
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| Status::from_io(e, "opening a socket for a name query"))?;
    if broadcast {
        socket
            .set_broadcast(true)
            .map_err(|e| Status::from_io(e, "allowing broadcast name queries"))?;
    }
    let query = NameQuery {
        transaction_id: transaction_id(),
        name: *name,
        scope: config.scope.clone(),
        broadcast,
        recursion_desired: !broadcast && config.recursion_desired,
    };
    let packet = query
        .encode()
        .map_err(|e| Status::INVALID_PARAMETER.with_message(format!("cannot encode a query for {name}: {e}")))?;
    let mut answer = [0u8; 576];
    for attempt in 1..=config.name_query_attempts {
        socket
            .send_to(&packet, destination)
            .await
            .map_err(|e| Status::from_io(e, format!("sending a name query to {destination}")))?;
        let mut deadline = tokio::time::Instant::now() + config.name_query_timeout;
        loop {
            let received = tokio::time::timeout_at(deadline, socket.recv_from(&mut answer)).await;
            let Ok(received) = received else {
                tracing::debug!(%name, %destination, attempt, "no answer to a name query");
                break;
            };
            let (n, from) = match received {
                Ok(r) => r,
                // An ICMP port unreachable from a unicast query: nobody
                // serves names there.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                Err(e) => return Err(Status::from_io(e, "receiving a name query answer")),
            };
            let response = match parse_name_query_response(&answer[..n]) {
                Ok(r) if r.transaction_id() == query.transaction_id => r,
                // Someone else's answer, or garbage: keep waiting.
                _ => continue,
            };
            match response {
                NameQueryResponse::Positive { addresses, .. } => {
                    let ips: Vec<Ipv4Addr> = addresses.iter().map(|a| a.ip).collect();
                    tracing::debug!(%name, ?ips, %from, "name resolved");
                    return Ok(ips);
                }
                NameQueryResponse::Negative { rcode, .. } => {
                    return Err(Status::BAD_NETWORK_NAME
                        .with_message(format!("{from} answered that {name} is not registered (RCODE {rcode})")));
                }
                NameQueryResponse::WaitForAck { ttl, .. } => {
                    deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(ttl)).min(MAX_WACK_WAIT);
                }
                NameQueryResponse::Redirect { .. } => {
                    return Err(Status::BAD_NETWORK_NAME.with_message(format!(
                        "{from} redirected the query for {name}; redirects are not followed"
                    )));
                }
            }
        }
    }
    Err(Status::BAD_NETWORK_NAME.with_message(format!(
        "no answer for {name} from {destination} after {} queries",
        config.name_query_attempts
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rxce_wire::nbns::{encode_negative_response, encode_positive_response, encode_wack_response, NbAddress};

    /// A name server on loopback that answers every query with `answer`.
    async fn server(answer: fn(&NameQuery) -> Vec<Vec<u8>>) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 576];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let query = NameQuery::parse(&buf[..n]).unwrap();
                for packet in answer(&query) {
                    socket.send_to(&packet, from).await.unwrap();
                }
            }
        });
        addr
    }

    fn config(server: SocketAddr) -> NetbtConfig {
        NetbtConfig {
            name_server: Some(server),
            name_query_timeout: Duration::from_millis(100),
            ..NetbtConfig::default()
        }
    }

    fn name() -> NetbiosName {
        NetbiosName::parse("FILES").unwrap()
    }

    #[tokio::test]
    async fn a_positive_answer_gives_the_addresses() {
        let server = server(|q| {
            assert!(q.recursion_desired && !q.broadcast);
            vec![encode_positive_response(
                q.transaction_id,
                &q.name,
                None,
                300,
                &[NbAddress::new(Ipv4Addr::new(127, 0, 0, 9))],
            )
            .unwrap()]
        })
        .await;
        assert_eq!(
            resolve_netbios_name(&name(), &config(server)).await.unwrap(),
            vec![Ipv4Addr::new(127, 0, 0, 9)]
        );
    }

    #[tokio::test]
    async fn a_negative_answer_is_bad_network_name() {
        let server = server(|q| vec![encode_negative_response(q.transaction_id, &q.name, None, 3).unwrap()]).await;
        let err = resolve_netbios_name(&name(), &config(server)).await.unwrap_err();
        assert_eq!(err, Status::BAD_NETWORK_NAME);
        assert!(err.to_string().contains("RCODE 3"), "{err}");
    }

    #[tokio::test]
    async fn answers_to_other_queries_and_garbage_are_ignored_and_a_wack_extends_the_wait() {
        let server = server(|q| {
            let wrong = encode_negative_response(q.transaction_id.wrapping_add(1), &q.name, None, 3).unwrap();
            vec![
                b"garbage".to_vec(),
                wrong,
                encode_wack_response(q, 2).unwrap(),
                encode_positive_response(
                    q.transaction_id,
                    &q.name,
                    None,
                    0,
                    &[NbAddress::new(Ipv4Addr::LOCALHOST)],
                )
                .unwrap(),
            ]
        })
        .await;
        assert_eq!(
            resolve_netbios_name(&name(), &config(server)).await.unwrap(),
            vec![Ipv4Addr::LOCALHOST]
        );
    }

    #[tokio::test]
    async fn silence_after_every_attempt_is_bad_network_name() {
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let started = std::time::Instant::now();
        let err = resolve_netbios_name(&name(), &config(silent.local_addr().unwrap()))
            .await
            .unwrap_err();
        assert_eq!(err, Status::BAD_NETWORK_NAME);
        assert!(err.to_string().contains("after 3 queries"), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(300));
        let mut buf = [0u8; 100];
        let mut seen = 0;
        while silent.try_recv(&mut buf).is_ok() {
            seen += 1;
        }
        assert_eq!(seen, 3, "three attempts reached the server");
    }
}

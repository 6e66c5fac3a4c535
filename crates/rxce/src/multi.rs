//! Building one connection over several transports
//! (RxCeBuildConnectionOverMultipleTransports): connect attempts from
//! several local addresses race; a policy picks what is kept; every other
//! attempt is cancelled and cleaned up before the result is given.
//!
//! - **first successful**: attempts start staggered (a delay between
//!   transports, and between the addresses a host name resolves to); the
//!   first success wins.
//! - **best successful**: attempts run until all end, or until a bounded
//!   wait after the first success; the winner has the highest quality of
//!   service, then the lowest position in the address list.
//! - **all successful**: every success becomes a VC of the one connection.
//!
//! Every attempt is reported (address index, transport, remote tried,
//! status, time).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::address::{Address, AddressShared};
use crate::budget::cost;
use crate::connection::{Connection, ConnectionShared};
use crate::handler::ConnectionEventHandler;
use crate::provider::Connected;
use crate::status::Status;
use crate::tdi::{ConnectionInformation, TaAddress, TransportAddress};
use crate::vc::Vc;

/// Which successes a multi-transport build keeps
/// (`RXCE_CONNECTION_CREATE_OPTIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SelectPolicy {
    /// RxCeSelectFirstSuccessfulTransport.
    #[default]
    FirstSuccessful,
    /// RxCeSelectBestSuccessfulTransport: highest quality of service, then
    /// position in the address list.
    BestSuccessful,
    /// RxCeSelectAllSuccessfulTransports: every success is a VC.
    AllSuccessful,
}

/// How a multi-transport build runs.
#[derive(Debug, Clone)]
pub struct MultiConnectOptions {
    /// Which successes are kept.
    pub policy: SelectPolicy,
    /// Delay between the starts of attempts on successive addresses (first
    /// successful only; Samba uses 5 ms, RFC 8305 250 ms).
    pub transport_stagger: Duration,
    /// Delay between attempts to the successive addresses a host name
    /// resolves to (Samba uses 10 ms).
    pub address_stagger: Duration,
    /// How long one attempt may take (the engine's connect timeout when
    /// `None`).
    pub attempt_timeout: Option<Duration>,
    /// The whole build's deadline (no limit beyond the attempts' own when
    /// `None`).
    pub deadline: Option<Duration>,
    /// Best successful: after the first success, how long to wait for the
    /// others before choosing.
    pub best_wait: Duration,
    /// The server's name, kept for enumeration (`pServerName`).
    pub server_name: Option<String>,
    /// The client's data kept with the first VC ([`Vc::data`]) before its
    /// first indication can run.
    pub first_vc_data: Option<crate::vc::VcData>,
}

impl Default for MultiConnectOptions {
    fn default() -> MultiConnectOptions {
        MultiConnectOptions {
            policy: SelectPolicy::FirstSuccessful,
            transport_stagger: Duration::from_millis(5),
            address_stagger: Duration::from_millis(10),
            attempt_timeout: None,
            deadline: None,
            best_wait: Duration::from_millis(500),
            server_name: None,
            first_vc_data: None,
        }
    }
}

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    /// The position of its local address in the list.
    pub address_index: usize,
    /// The transport's provider name.
    pub transport: String,
    /// The remote address tried (a resolved IP for host names).
    pub remote: TransportAddress,
    /// How it ended: SUCCESS, its failure, or STATUS_CANCELLED when another
    /// won (or a success not kept: STATUS_CANCELLED too, its socket closed).
    pub status: Status,
    /// From the build's start to the attempt's end.
    pub elapsed: Duration,
    /// True for attempts whose VC was kept.
    pub chosen: bool,
}

/// A multi-transport build's result.
#[derive(Debug)]
pub struct MultiConnection {
    /// The connection (on the address of the first VC).
    pub connection: Connection,
    /// Its VCs: one, or every success with [`SelectPolicy::AllSuccessful`],
    /// in the order they connected.
    pub vcs: Vec<Vc>,
    /// The position of the first VC's address (AddressIndex).
    pub address_index: usize,
    /// Every attempt, in the order they started.
    pub attempts: Vec<AttemptReport>,
}

/// A multi-transport build that kept nothing.
#[derive(Debug, Clone)]
pub struct MultiConnectError {
    /// The most telling status of the attempts (or why none ran).
    pub status: Status,
    /// Every attempt.
    pub attempts: Vec<AttemptReport>,
}

impl std::fmt::Display for MultiConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} attempts)", self.status, self.attempts.len())
    }
}

impl std::error::Error for MultiConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.status)
    }
}

impl From<Status> for MultiConnectError {
    fn from(status: Status) -> MultiConnectError {
        MultiConnectError {
            status,
            attempts: Vec::new(),
        }
    }
}

/// The most telling of the attempts' statuses (see [`rank`]); of equally
/// telling ones, the first in binding order.
fn most_telling<'a>(statuses: impl DoubleEndedIterator<Item = &'a Status>) -> Option<&'a Status> {
    // `max_by_key` keeps the last of equal keys: reversed, that is the first.
    statuses.rev().max_by_key(|s| rank(s))
}

/// How telling a failure is, for the status of a build nothing came of:
/// the server's own answer beats a refusal, which beats unreachability, a
/// timeout, a name that did not resolve, and finally a cancellation.
fn rank(status: &Status) -> u8 {
    let code = status.code();
    if code == Status::CANCELLED.code() {
        0
    } else if code == Status::BAD_NETWORK_PATH.code() {
        1
    } else if code == Status::IO_TIMEOUT.code() {
        2
    } else if code == Status::HOST_UNREACHABLE.code() || code == Status::NETWORK_UNREACHABLE.code() {
        3
    } else if code == Status::CONNECTION_REFUSED.code() {
        4
    } else if code == Status::CONNECTION_RESET.code() || code == Status::CONNECTION_DISCONNECTED.code() {
        5
    } else {
        6
    }
}

/// One planned attempt.
struct Plan {
    index: usize,
    address: Arc<AddressShared>,
    named: ConnectionInformation,
    target: ConnectionInformation,
    start: Duration,
}

/// Expands host names into one attempt per resolved address (IP
/// transports), staggered, after the transport's own stagger.
async fn plan(
    addresses: &[Address],
    remotes: &[ConnectionInformation],
    options: &MultiConnectOptions,
) -> Result<(Vec<Plan>, Vec<AttemptReport>), MultiConnectError> {
    let mut plans = Vec::new();
    let mut failed = Vec::new();
    let staggered = options.policy == SelectPolicy::FirstSuccessful;
    for (index, address) in addresses.iter().enumerate() {
        let named = if remotes.len() == 1 {
            &remotes[0]
        } else {
            &remotes[index]
        };
        let start = if staggered {
            options.transport_stagger * index as u32
        } else {
            Duration::ZERO
        };
        let remote = &named.remote_address;
        let resolvable = remote.ip_entry().is_none()
            && remote.host_name_entry().is_some()
            && address.0.transport.info.service_flags & crate::tdi::service_flags::CONNECTION_MODE != 0
            && address.0.local.ip_entry().is_some();
        if !resolvable {
            plans.push(Plan {
                index,
                address: address.0.clone(),
                named: named.clone(),
                target: named.clone(),
                start,
            });
            continue;
        }
        let (name, port) = remote.host_name_entry().expect("checked");
        match crate::resolve::resolve_host(name, port).await {
            Ok(ips) => {
                for (k, ip) in ips.into_iter().enumerate() {
                    let mut target = named.clone();
                    target
                        .remote_address
                        .entries
                        .retain(|e| !matches!(e, TaAddress::HostName { .. }));
                    target.remote_address.entries.insert(0, TaAddress::Ip(ip));
                    plans.push(Plan {
                        index,
                        address: address.0.clone(),
                        named: named.clone(),
                        target,
                        start: start + options.address_stagger * k as u32,
                    });
                }
            }
            Err(status) => failed.push(AttemptReport {
                address_index: index,
                transport: address.0.transport.name.clone(),
                remote: remote.clone(),
                status,
                elapsed: Duration::ZERO,
                chosen: false,
            }),
        }
    }
    Ok((plans, failed))
}

/// Builds one connection over several local addresses
/// (RxCeBuildConnectionOverMultipleTransports); see the module docs for the
/// policies.
///
/// `remotes` holds one connection information for every address, or a
/// single one shared by all (each transport then uses the entries of its
/// kind: an IP entry for `tcp`, IP and NetBIOS for `netbt`, ...).
/// Errors: STATUS_INVALID_PARAMETER for an empty list or a count mismatch;
/// STATUS_INVALID_HANDLE when every address is torn down; otherwise, when
/// nothing succeeded, the most telling status of the attempts (IO_TIMEOUT
/// when the deadline cut them short).
pub async fn build_connection_over_multiple_transports(
    addresses: &[Address],
    remotes: &[ConnectionInformation],
    handler: Arc<dyn ConnectionEventHandler>,
    options: &MultiConnectOptions,
) -> Result<MultiConnection, MultiConnectError> {
    if addresses.is_empty() {
        return Err(Status::INVALID_PARAMETER
            .with_message("no local address to build on")
            .into());
    }
    if remotes.len() != 1 && remotes.len() != addresses.len() {
        return Err(Status::INVALID_PARAMETER
            .with_message(format!(
                "{} connection informations for {} addresses: give one, or one per address",
                remotes.len(),
                addresses.len()
            ))
            .into());
    }
    if remotes.iter().any(|r| r.remote_address.entries.is_empty()) {
        return Err(Status::INVALID_PARAMETER
            .with_message("a connection information names no remote")
            .into());
    }
    let valid: Vec<&Address> = addresses.iter().filter(|a| a.is_valid()).collect();
    let Some(first) = valid.first() else {
        return Err(Status::INVALID_HANDLE
            .with_message("every local address is torn down")
            .into());
    };
    let engine = first.0.transport.engine.clone();
    let started = Instant::now();
    let deadline = options.deadline.map(|d| started + d);
    let attempt_timeout = options.attempt_timeout.unwrap_or(engine.config.connect_timeout);
    let (plans, mut reports) = plan(addresses, remotes, options).await?;
    let race = CancellationToken::new();
    let mut running = JoinSet::new();
    let mut started_reports = Vec::new();
    for (slot, plan) in plans.into_iter().enumerate() {
        started_reports.push(AttemptReport {
            address_index: plan.index,
            transport: plan.address.transport.name.clone(),
            remote: plan.target.remote_address.clone(),
            status: Status::PENDING,
            elapsed: Duration::ZERO,
            chosen: false,
        });
        let cancel = race.child_token();
        let Plan {
            address,
            named,
            target,
            start,
            ..
        } = plan;
        running.spawn_on(
            async move {
                let outcome = if address.connections.is_closed() {
                    Err(Status::INVALID_HANDLE.with_message("the local address is torn down"))
                } else {
                    address
                        .attempt(Arc::new(target), &Arc::new(named), cancel, attempt_timeout, start)
                        .await
                };
                (slot, address, outcome)
            },
            &engine.runtime,
        );
    }
    let mut successes: Vec<(usize, Arc<AddressShared>, Connected)> = Vec::new();
    let mut best_until: Option<Instant> = None;
    let mut timed_out = false;
    loop {
        let wait_until = match (deadline, best_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let next = match wait_until {
            Some(at) => match tokio::time::timeout_at(at, running.join_next()).await {
                Ok(next) => next,
                Err(_) => {
                    timed_out = deadline.is_some_and(|d| Instant::now() >= d);
                    break;
                }
            },
            None => running.join_next().await,
        };
        let Some(joined) = next else { break };
        let Ok((slot, address, outcome)) = joined else {
            continue;
        };
        started_reports[slot].elapsed = started.elapsed();
        match outcome {
            Ok(connected) => {
                started_reports[slot].status = Status::SUCCESS;
                successes.push((slot, address, connected));
                match options.policy {
                    SelectPolicy::FirstSuccessful => break,
                    SelectPolicy::BestSuccessful if best_until.is_none() => {
                        best_until = Some(Instant::now() + options.best_wait);
                    }
                    _ => {}
                }
            }
            Err(status) => started_reports[slot].status = status,
        }
    }
    // Every attempt still running is cancelled and reaped before the result
    // is given: no loser outlives the build.
    race.cancel();
    while let Some(joined) = running.join_next().await {
        if let Ok((slot, _address, outcome)) = joined {
            started_reports[slot].elapsed = started.elapsed();
            started_reports[slot].status = match outcome {
                Ok(connected) => {
                    connected.stream.close(false);
                    Status::CANCELLED.with_message("connected after the race was decided; closed")
                }
                Err(status) if timed_out => {
                    Status::IO_TIMEOUT.with_message(format!("the build's deadline cut it short ({status})"))
                }
                Err(status) => status,
            };
        }
    }
    let keep = choose(options.policy, successes, &started_reports, addresses);
    for (slot, _, connected) in &keep.dropped {
        connected.stream.close(false);
        started_reports[*slot].status = Status::CANCELLED.with_message("a better transport won; closed");
    }
    let mut attempts = started_reports;
    attempts.append(&mut reports);
    if keep.kept.is_empty() {
        let status = most_telling(attempts.iter().map(|a| &a.status))
            .cloned()
            .unwrap_or_else(|| Status::INVALID_HANDLE.with_message("no attempt could start"));
        let status = if timed_out && rank(&status) <= rank(&Status::IO_TIMEOUT) {
            Status::IO_TIMEOUT.with_message("the build's deadline passed before any transport connected")
        } else {
            status
        };
        return Err(MultiConnectError { status, attempts });
    }
    let remote_of = |index: usize| {
        if remotes.len() == 1 {
            &remotes[0]
        } else {
            &remotes[index]
        }
    };
    // The connection lives on the address of its first VC: made with the
    // first success that becomes a VC, made again if that one fails.
    let mut connection: Option<Arc<ConnectionShared>> = None;
    let mut address_index = 0;
    let mut vcs = Vec::new();
    for (slot, address, connected) in keep.kept {
        let index = attempts[slot].address_index;
        if connection.is_none() {
            match open_connection(&address, remote_of(index), &handler, options) {
                Ok(c) => {
                    connection = Some(c);
                    address_index = index;
                }
                Err(status) => {
                    connected.stream.close(false);
                    attempts[slot].status = status;
                    continue;
                }
            }
        }
        let owner = connection.as_ref().expect("made above");
        let charge = match engine.budget.charge(cost::VC, "a VC") {
            Ok(c) => c,
            Err(status) => {
                connected.stream.close(false);
                attempts[slot].status = status;
                continue;
            }
        };
        let data = if vcs.is_empty() {
            options.first_vc_data.clone()
        } else {
            None
        };
        match owner.adopt(address, Arc::new(remote_of(index).clone()), connected, charge, data) {
            Ok(vc) => {
                attempts[slot].chosen = true;
                vcs.push(vc);
            }
            Err(status) => {
                attempts[slot].status = status;
                if vcs.is_empty() {
                    if let Some(empty) = connection.take() {
                        let _ = crate::teardown::tear_down(crate::teardown::Object::Connection(empty)).await;
                    }
                }
            }
        }
    }
    let Some(connection) = connection.filter(|_| !vcs.is_empty()) else {
        let status = most_telling(attempts.iter().map(|a| &a.status))
            .cloned()
            .unwrap_or(Status::INSUFFICIENT_RESOURCES);
        return Err(MultiConnectError { status, attempts });
    };
    tracing::debug!(
        connection = connection.id,
        vcs = vcs.len(),
        policy = ?options.policy,
        elapsed = ?started.elapsed(),
        "multi-transport build done"
    );
    Ok(MultiConnection {
        connection: Connection(connection),
        vcs,
        address_index,
        attempts,
    })
}

/// A connection on `address`, registered there.
fn open_connection(
    address: &Arc<AddressShared>,
    information: &ConnectionInformation,
    handler: &Arc<dyn ConnectionEventHandler>,
    options: &MultiConnectOptions,
) -> Result<Arc<ConnectionShared>, Status> {
    let connection = ConnectionShared::new(address.clone(), information.clone(), handler.clone())?;
    if !address.connections.insert(connection.id, connection.clone()) {
        return Err(Status::INVALID_HANDLE.with_message("the address was torn down during the build"));
    }
    if let Some(name) = &options.server_name {
        connection.set_server_name(name.clone());
    }
    Ok(connection)
}

/// The successes kept and those closed.
struct Choice {
    kept: Vec<(usize, Arc<AddressShared>, Connected)>,
    dropped: Vec<(usize, Arc<AddressShared>, Connected)>,
}

fn choose(
    policy: SelectPolicy,
    mut successes: Vec<(usize, Arc<AddressShared>, Connected)>,
    reports: &[AttemptReport],
    addresses: &[Address],
) -> Choice {
    match policy {
        SelectPolicy::AllSuccessful | SelectPolicy::FirstSuccessful => Choice {
            kept: successes,
            dropped: Vec::new(),
        },
        SelectPolicy::BestSuccessful => {
            let quality = |slot: usize| {
                let index = reports[slot].address_index;
                addresses[index].0.transport.quality_of_service
            };
            let best = successes
                .iter()
                .enumerate()
                .max_by(|(_, a), (_, b)| {
                    quality(a.0)
                        .cmp(&quality(b.0))
                        .then(reports[b.0].address_index.cmp(&reports[a.0].address_index))
                })
                .map(|(at, _)| at);
            match best {
                Some(at) => {
                    let winner = successes.swap_remove(at);
                    Choice {
                        kept: vec![winner],
                        dropped: successes,
                    }
                }
                None => Choice {
                    kept: Vec::new(),
                    dropped: Vec::new(),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_telling_status_wins_and_ties_go_to_binding_order() {
        let statuses = [
            Status::CANCELLED,
            Status::IO_TIMEOUT.with_message("first timeout"),
            Status::CONNECTION_REFUSED.with_message("first refusal"),
            Status::IO_TIMEOUT,
            Status::CONNECTION_REFUSED.with_message("second refusal"),
        ];
        let chosen = most_telling(statuses.iter()).unwrap();
        assert_eq!(*chosen, Status::CONNECTION_REFUSED);
        assert!(chosen.to_string().contains("first refusal"), "{chosen}");
        let server_said = [
            Status::CONNECTION_RESET,
            Status::REMOTE_NOT_LISTENING,
            Status::CONNECTION_REFUSED,
        ];
        assert_eq!(*most_telling(server_said.iter()).unwrap(), Status::REMOTE_NOT_LISTENING);
        assert!(most_telling([].iter()).is_none());
    }
}

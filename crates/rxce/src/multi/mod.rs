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
//!
//! The race itself — when each attempt starts, when time runs out, who
//! wins, which status a failed build gives — is the sans-I/O
//! [`rxce_proto::race::Race`]; this module plans the attempts (resolving
//! host names), drives the race with the attempts' I/O and the clock
//! ([`attempts`]), and makes the winners the connection's VCs.

mod attempts;

use std::sync::Arc;
use std::time::Duration;

use rxce_proto::race::{most_telling, Race, RaceConfig};
use tokio::time::Instant;

use crate::address::{Address, AddressShared};
use crate::budget::cost;
use crate::connection::{Connection, ConnectionShared};
use crate::engine::EngineShared;
use crate::handler::ConnectionEventHandler;
use crate::provider::Connected;
use crate::status::Status;
use crate::tdi::{ConnectionInformation, TaAddress, TransportAddress};
use crate::vc::Vc;
use attempts::Attempt;

pub use rxce_proto::race::SelectPolicy;

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

/// Expands host names into one attempt per resolved address (IP
/// transports); a name that does not resolve is a failed attempt.
async fn plan(addresses: &[Address], remotes: &[ConnectionInformation]) -> (Vec<Attempt>, Vec<AttemptReport>) {
    let mut plans = Vec::new();
    let mut failed = Vec::new();
    for (index, address) in addresses.iter().enumerate() {
        let named = Arc::new(remote_of(remotes, index).clone());
        let remote = &named.remote_address;
        let resolvable = remote.ip_entry().is_none()
            && remote.host_name_entry().is_some()
            && address.0.transport.info.service_flags & crate::tdi::service_flags::CONNECTION_MODE != 0
            && address.0.local.ip_entry().is_some();
        if !resolvable {
            plans.push(Attempt::new(index, 0, address.0.clone(), named.clone(), named));
            continue;
        }
        let (name, port) = remote.host_name_entry().expect("checked");
        match crate::resolve::resolve_host(name, port).await {
            Ok(ips) => {
                for (k, ip) in ips.into_iter().enumerate() {
                    let mut target = ConnectionInformation::clone(&named);
                    target
                        .remote_address
                        .entries
                        .retain(|e| !matches!(e, TaAddress::HostName { .. }));
                    target.remote_address.entries.insert(0, TaAddress::Ip(ip));
                    plans.push(Attempt::new(
                        index,
                        k,
                        address.0.clone(),
                        named.clone(),
                        Arc::new(target),
                    ));
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
    (plans, failed)
}

/// The connection information of the address at `index`: its own, or the
/// one shared by all.
fn remote_of(remotes: &[ConnectionInformation], index: usize) -> &ConnectionInformation {
    if remotes.len() == 1 {
        &remotes[0]
    } else {
        &remotes[index]
    }
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
///
/// ```
/// use std::sync::Arc;
/// use rxce::{
///     build_connection_over_multiple_transports, ConnectionInformation, Engine, EngineConfig, MultiConnectOptions,
///     NoEvents, SelectPolicy, Status, TransportAddress,
/// };
///
/// let engine = Engine::new(EngineConfig::default())?;
/// engine.runtime().clone().block_on(async {
///     let mut listener = engine.memory_listen("server")?;
///     let transport = engine.build_transport("memory", 0)?;
///     let first = transport.build_address(TransportAddress::memory("first"), Arc::new(NoEvents))?;
///     let second = transport.build_address(TransportAddress::memory("second"), Arc::new(NoEvents))?;
///     // One remote per address: nobody listens at the first's, the server at the second's.
///     let remotes = [
///         ConnectionInformation::to(TransportAddress::memory("nobody")),
///         ConnectionInformation::to(TransportAddress::memory("server")),
///     ];
///     let options = MultiConnectOptions {
///         policy: SelectPolicy::FirstSuccessful,
///         ..MultiConnectOptions::default()
///     };
///     let built = build_connection_over_multiple_transports(&[first, second], &remotes, Arc::new(NoEvents), &options)
///         .await
///         .map_err(|failed| failed.status)?;
///     let _peer = listener.accept().await.expect("a peer");
///     // The second address won; every attempt is reported with its status.
///     assert_eq!(built.address_index, 1);
///     assert_eq!(built.vcs.len(), 1);
///     assert_eq!(built.attempts.len(), 2);
///     let refused = built.attempts.iter().find(|a| a.address_index == 0).expect("the first's attempt");
///     assert_eq!(refused.status, Status::CONNECTION_REFUSED);
///     assert!(!refused.chosen);
///     let winner = built.attempts.iter().find(|a| a.chosen).expect("a winner");
///     assert_eq!((winner.address_index, winner.transport.as_str()), (1, "memory"));
///     assert_eq!(winner.status, Status::SUCCESS);
///     transport.tear_down().await
/// })?;
/// # Ok::<(), rxce::Status>(())
/// ```
pub async fn build_connection_over_multiple_transports(
    addresses: &[Address],
    remotes: &[ConnectionInformation],
    handler: Arc<dyn ConnectionEventHandler>,
    options: &MultiConnectOptions,
) -> Result<MultiConnection, MultiConnectError> {
    let engine = check_arguments(addresses, remotes)?;
    let started = Instant::now();
    let (mut attempts, failed) = plan(addresses, remotes).await;
    let attempt_timeout = options.attempt_timeout.unwrap_or(engine.config.connect_timeout);
    let mut race = Race::new(race_config(options, attempt_timeout), started.into_std());
    for attempt in &attempts {
        race.add_attempt(attempt.plan());
    }
    for report in &failed {
        race.add_failed(report.address_index, report.status.clone());
    }
    race.begin(Instant::now().into_std());
    let decided = attempts::run(&mut race, &mut attempts, &engine, attempt_timeout).await;
    let mut reports: Vec<AttemptReport> = (0..attempts.len()).map(|n| attempts[n].report(&race, n)).collect();
    reports.extend(failed);
    let winners = match decided {
        Ok(winners) => attempts::keep(&mut attempts, winners),
        Err(status) => {
            return Err(MultiConnectError {
                status,
                attempts: reports,
            })
        }
    };
    let Some((connection, vcs, address_index)) = make_vcs(winners, &mut reports, remotes, &handler, options).await
    else {
        let mut by_binding: Vec<&AttemptReport> = reports.iter().collect();
        by_binding.sort_by_key(|report| report.address_index);
        let status = most_telling(by_binding.into_iter().map(|report| &report.status))
            .cloned()
            .unwrap_or(Status::INSUFFICIENT_RESOURCES);
        return Err(MultiConnectError {
            status,
            attempts: reports,
        });
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
        attempts: reports,
    })
}

/// Refuses what no build can come of; the engine of the first address
/// still valid.
fn check_arguments(
    addresses: &[Address],
    remotes: &[ConnectionInformation],
) -> Result<Arc<EngineShared>, MultiConnectError> {
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
    match addresses.iter().find(|a| a.is_valid()) {
        Some(first) => Ok(first.0.engine().clone()),
        None => Err(Status::INVALID_HANDLE
            .with_message("every local address is torn down")
            .into()),
    }
}

/// Makes the kept successes VCs of one connection, which lives on the
/// address of its first VC: made with the first success that becomes a VC,
/// made again if that one fails. A success that cannot become a VC is
/// closed and its report says why. `None` when none became one.
async fn make_vcs(
    kept: Vec<(usize, Arc<AddressShared>, Connected)>,
    reports: &mut [AttemptReport],
    remotes: &[ConnectionInformation],
    handler: &Arc<dyn ConnectionEventHandler>,
    options: &MultiConnectOptions,
) -> Option<(Arc<ConnectionShared>, Vec<Vc>, usize)> {
    let mut connection: Option<Arc<ConnectionShared>> = None;
    let mut address_index = 0;
    let mut vcs = Vec::new();
    for (slot, address, connected) in kept {
        let index = reports[slot].address_index;
        if connection.is_none() {
            match open_connection(&address, remote_of(remotes, index), handler, options) {
                Ok(c) => {
                    connection = Some(c);
                    address_index = index;
                }
                Err(status) => {
                    connected.stream.close(false);
                    reports[slot].status = status;
                    continue;
                }
            }
        }
        let owner = connection.as_ref().expect("made above");
        let charge = match address.engine().budget.charge(cost::VC, "a VC") {
            Ok(c) => c,
            Err(status) => {
                connected.stream.close(false);
                reports[slot].status = status;
                continue;
            }
        };
        let data = if vcs.is_empty() {
            options.first_vc_data.clone()
        } else {
            None
        };
        match owner.adopt(
            address,
            Arc::new(remote_of(remotes, index).clone()),
            connected,
            charge,
            data,
        ) {
            Ok(vc) => {
                reports[slot].chosen = true;
                vcs.push(vc);
            }
            Err(status) => {
                reports[slot].status = status;
                if vcs.is_empty() {
                    if let Some(empty) = connection.take() {
                        let _ = crate::teardown::tear_down(crate::teardown::Object::Connection(empty)).await;
                    }
                }
            }
        }
    }
    let connection = connection.filter(|_| !vcs.is_empty())?;
    Some((connection, vcs, address_index))
}

/// The race's settings from the build's options.
fn race_config(options: &MultiConnectOptions, attempt_timeout: Duration) -> RaceConfig {
    RaceConfig {
        policy: options.policy,
        transport_stagger: options.transport_stagger,
        address_stagger: options.address_stagger,
        attempt_timeout,
        deadline: options.deadline,
        best_wait: options.best_wait,
    }
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

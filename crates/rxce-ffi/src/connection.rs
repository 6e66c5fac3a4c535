//! RxCeBuildConnection, RxCeBuildConnectionOverMultipleTransports,
//! RxCeTearDownConnection and RxCeCancelConnectRequest; and
//! [`ConnectionObjects`], which puts a connection's C objects into the
//! handle table.

use std::collections::HashMap;
use std::ptr::{addr_of_mut, NonNull};
use std::sync::{Arc, Mutex, MutexGuard};

use rxce::{
    build_connection_over_multiple_transports, Address, Connection, MultiConnectOptions, SelectPolicy, Status, Vc,
};

use crate::address::handler_vector;
use crate::convert::{connection_information, stored_connection_information, unicode_string};
use crate::dispatch::{as_callback, mark_registered, running_vc, vc_at, CConnectionHandler, VcAt};
use crate::engine;
use crate::ffi_boundary;
use crate::handles::{self, claim_unbuilt, lookup, Claim, Object};
use crate::panic::callback_boundary;
use crate::types::{
    RxCeSelectAllSuccessfulTransports, RxCeSelectBestSuccessfulTransport, RxCeSelectFirstSuccessfulTransport, LONG,
    NTSTATUS, PRDBSS_DEVICE_OBJECT, PRXCE_ADDRESS, PRXCE_CONNECTION, PRXCE_CONNECTION_COMPLETION_CONTEXT,
    PRXCE_CONNECTION_COMPLETION_ROUTINE, PRXCE_CONNECTION_EVENT_HANDLER, PRXCE_CONNECTION_INFORMATION, PRXCE_VC,
    PUNICODE_STRING, PVOID, RXCE_CONNECTION, RXCE_CONNECTION_COMPLETION_CONTEXT, RXCE_CONNECTION_CREATE_OPTIONS,
    RXCE_CONNECTION_EVENT_HANDLER, RXCE_CONNECTION_SIGNATURE, RXCE_VC, RXCE_VC_SIGNATURE, ULONG,
};

/// Most local addresses one multi-transport build may race.
const MAX_ADDRESSES: ULONG = 64;

/// An RXCE_VC that rxce allocated (for a VC the caller gave no memory for),
/// freed when dropped.
struct LibraryVc(NonNull<RXCE_VC>);

// SAFETY: the allocation belongs to this value alone. Others reach it only
// through raw pointers: the handle table entry (which keeps the owning
// ConnectionObjects alive, see there) and the VC's callbacks (which run on
// the handler that keeps it alive too).
unsafe impl Send for LibraryVc {}

impl LibraryVc {
    fn new() -> LibraryVc {
        // SAFETY: all-zero bytes are a valid RXCE_VC: an unbuilt one.
        let zeroed: RXCE_VC = unsafe { std::mem::zeroed() };
        LibraryVc(NonNull::from(Box::leak(Box::new(zeroed))))
    }

    fn as_ptr(&self) -> PRXCE_VC {
        self.0.as_ptr()
    }
}

impl Drop for LibraryVc {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is freed
        // exactly once, here; nothing uses it any more (see ConnectionObjects).
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// Where a connection's own entry stands.
enum Registration {
    /// Not registered yet: it goes to `at`, under whichever of `addresses`
    /// (engine id, table key, the caller's RXCE_ADDRESS) the engine built it
    /// on.
    Pending {
        at: usize,
        addresses: Vec<(u64, u64, usize)>,
    },
    /// Registered under `key` at `at`.
    Done { key: u64, at: usize },
    /// Could not be registered (its address was torn down meanwhile).
    Failed,
}

struct ObjectsState {
    connection: Registration,
    /// Caller memory of VCs whose engine build is under way: their data is
    /// set already, their entry not yet.
    expected: Vec<usize>,
    /// The RXCE_VC of each registered VC, by engine id.
    vcs: HashMap<u64, usize>,
    /// The RXCE_VCs rxce allocated.
    owned: Vec<LibraryVc>,
}

/// The C objects of one connection, put into the handle table by whoever
/// needs them first: the building thread once the engine returns, or an
/// indication of one of the connection's VCs that comes before (the engine
/// starts a VC's task before the build returns). Either way no indication
/// reaches C with an unbuilt RXCE_VC, and no callback waits.
///
/// It also owns the RXCE_VCs rxce allocates for VCs the caller gave no
/// memory for: the VCs of an all-successful multi-transport build beyond
/// the first, allocated (zeroed) and registered the first time the build's
/// completion or one of their callbacks needs them — under this lock, so
/// exactly once. They are freed when this value drops: when both the
/// engine has let go of the connection's handler (after its tear-down, once
/// no callback of its VCs can run) and the connection's table entry is gone
/// (every VC entry keeps its engine VC, which keeps the handler).
pub(crate) struct ConnectionObjects {
    vector: RXCE_CONNECTION_EVENT_HANDLER,
    context: usize,
    state: Mutex<ObjectsState>,
}

impl ConnectionObjects {
    /// The objects of a connection being built into `at`, with its first VC
    /// (given as its data) into `first_vc`, on one of `addresses`.
    pub(crate) fn pending(
        vector: RXCE_CONNECTION_EVENT_HANDLER,
        context: PVOID,
        at: PRXCE_CONNECTION,
        first_vc: PRXCE_VC,
        addresses: Vec<(u64, u64, usize)>,
    ) -> Arc<ConnectionObjects> {
        Arc::new(ConnectionObjects {
            vector,
            context: context as usize,
            state: Mutex::new(ObjectsState {
                connection: Registration::Pending {
                    at: at as usize,
                    addresses,
                },
                expected: vec![first_vc as usize],
                vcs: HashMap::new(),
                owned: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, ObjectsState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection's entry (key, RXCE_CONNECTION), registered now if
    /// still pending.
    fn connection_locked(
        self: &Arc<Self>,
        state: &mut ObjectsState,
        connection: &Connection,
    ) -> Result<(u64, usize), Status> {
        let (at, parent) = match &state.connection {
            Registration::Done { key, at } => return Ok((*key, *at)),
            Registration::Failed => {
                return Err(Status::INVALID_HANDLE.with_message("the connection's address was torn down"))
            }
            Registration::Pending { at, addresses } => {
                let id = connection.address().id();
                (*at, addresses.iter().find(|a| a.0 == id).map(|a| (a.1, a.2)))
            }
        };
        let registered = match parent {
            // SAFETY: `at` is the caller's unbuilt RXCE_CONNECTION, claimed
            // for this build and kept valid and in place by its promise;
            // `address_at` the caller's RXCE_ADDRESS of the entry `key`.
            Some((key, address_at)) => unsafe {
                register_connection(
                    at as PRXCE_CONNECTION,
                    connection,
                    self,
                    key,
                    address_at as PRXCE_ADDRESS,
                )
            },
            None => Err(Status::INVALID_HANDLE.with_message("the connection is on none of the build's addresses")),
        };
        state.connection = match registered {
            Ok(key) => Registration::Done { key, at },
            Err(_) => Registration::Failed,
        };
        registered.map(|key| (key, at))
    }

    /// The RXCE_VC of `vc`, registered now if it is not yet: the caller's
    /// memory its data names, or an RXCE_VC rxce allocates for a VC with no
    /// data. Fails when the VC cannot be registered (its connection or
    /// address was torn down meanwhile).
    fn vc_locked(self: &Arc<Self>, state: &mut ObjectsState, vc: &Vc) -> Result<PRXCE_VC, Status> {
        if let Some(&at) = state.vcs.get(&vc.id()) {
            return Ok(at as PRXCE_VC);
        }
        let (key, connection_at) = self.connection_locked(state, &vc.connection())?;
        let built_into = vc_at(vc);
        let p = if !built_into.is_null() {
            let Some(at) = state.expected.iter().position(|&e| e == built_into as usize) else {
                return Err(Status::INVALID_HANDLE.with_message("the VC's registration failed before"));
            };
            state.expected.swap_remove(at);
            built_into
        } else {
            if !vc.is_valid() {
                return Err(Status::INVALID_HANDLE.with_message("the VC was torn down"));
            }
            let owned = LibraryVc::new();
            let p = owned.as_ptr();
            state.owned.push(owned);
            // A VC of this build with no data is one rxce owns; nothing
            // else sets a VC's data.
            let _ = vc.set_data(VcAt::new(p));
            p
        };
        // SAFETY: `p` is the caller's unbuilt RXCE_VC claimed for this build
        // (kept valid and in place by its promise) or one rxce owns, alive
        // as long as `self`; `connection_at` is the RXCE_CONNECTION of `key`.
        unsafe { register_vc(p, vc, key, connection_at as PRXCE_CONNECTION) }?;
        state.vcs.insert(vc.id(), p as usize);
        mark_registered(vc);
        Ok(p)
    }

    /// The RXCE_VC for a callback of `vc` (registering what is pending), or
    /// what its data names when it cannot be registered.
    pub(crate) fn c_vc(self: &Arc<Self>, vc: &Vc) -> PRXCE_VC {
        let mut state = self.lock();
        self.vc_locked(&mut state, vc).unwrap_or_else(|_| vc_at(vc))
    }

    /// After the engine built `connection` with `vcs` (the first into the
    /// caller's memory): registers whatever no callback has registered yet.
    /// Fails when the connection or its first VC cannot be registered.
    fn settle(self: &Arc<Self>, connection: &Connection, vcs: &[Vc]) -> Result<(), Status> {
        let mut state = self.lock();
        self.connection_locked(&mut state, connection)?;
        let mut first = Ok(());
        for (at, vc) in vcs.iter().enumerate() {
            let registered = self.vc_locked(&mut state, vc);
            if at == 0 {
                first = registered.map(|_| ());
            }
        }
        first
    }

    /// After a failed build: forgets what was registered.
    fn discard(&self) {
        let key = match self.lock().connection {
            Registration::Done { key, .. } => Some(key),
            _ => None,
        };
        if let Some(key) = key {
            handles::remove(key);
        }
    }

    /// RxCeBuildVC is about to build a VC into `p`.
    pub(crate) fn expect_vc(&self, p: PRXCE_VC) {
        self.lock().expected.push(p as usize);
    }

    /// The build of the VC into `p` failed.
    pub(crate) fn unexpect_vc(&self, p: PRXCE_VC) {
        self.lock().expected.retain(|&e| e != p as usize);
    }

    /// RxCeBuildVC's VC is built: registers it unless a callback did.
    pub(crate) fn settle_vc(self: &Arc<Self>, vc: &Vc) -> Result<(), Status> {
        let mut state = self.lock();
        self.vc_locked(&mut state, vc).map(|_| ())
    }
}

/// Records a connection the engine built.
///
/// # Safety
///
/// `connection_p` is writable and stays in place while built; `address_p`
/// is the caller's structure of the entry `parent`.
unsafe fn register_connection(
    connection_p: PRXCE_CONNECTION,
    connection: &Connection,
    objects: &Arc<ConnectionObjects>,
    parent: u64,
    address_p: PRXCE_ADDRESS,
) -> Result<u64, Status> {
    let mut vector = Box::new(objects.vector);
    let mut information = stored_connection_information(connection.information());
    let (vector_at, information_at) = (&mut *vector as *mut _, information.as_mut_ptr().cast());
    let object = Object::Connection(connection.clone(), objects.clone());
    let context = objects.context as PVOID;
    // SAFETY: forwarded caller promise; the copies move into the table
    // entry without their heap blocks moving.
    unsafe {
        handles::register(
            connection_p,
            object,
            Some(parent),
            Box::new((vector, information)),
            |key| RXCE_CONNECTION {
                Signature: RXCE_CONNECTION_SIGNATURE,
                pAddress: address_p,
                VirtualCircuitCount: 0,
                pContext: context,
                pHandler: vector_at,
                pConnectionInformation: information_at,
                hRxCe: key,
            },
        )
    }
}

/// Records a VC the engine built under the connection `parent`.
///
/// # Safety
///
/// `p` is writable and stays in place while built; `connection` is the
/// caller's structure of the parent connection.
unsafe fn register_vc(p: PRXCE_VC, vc: &Vc, parent: u64, connection: PRXCE_CONNECTION) -> Result<u64, Status> {
    let state = vc.state() as LONG;
    // SAFETY: forwarded caller promise.
    unsafe {
        handles::register(p, Object::Vc(vc.clone()), Some(parent), Box::new(()), |key| RXCE_VC {
            Signature: RXCE_VC_SIGNATURE,
            pConnection: connection.cast(),
            State: state,
            hRxCe: key,
        })
    }
}

unsafe fn build_connection(
    address_p: PRXCE_ADDRESS,
    information: PRXCE_CONNECTION_INFORMATION,
    handler: PRXCE_CONNECTION_EVENT_HANDLER,
    context: PVOID,
    connection_p: PRXCE_CONNECTION,
    vc_p: PRXCE_VC,
) -> Result<Status, Status> {
    if std::ptr::addr_eq(connection_p, vc_p) {
        return Err(Status::INVALID_PARAMETER.with_message("the connection and the VC are one memory"));
    }
    let _claims = (claim_unbuilt(connection_p)?, claim_unbuilt(vc_p)?);
    // SAFETY (for the calls below): forwarded caller promises.
    let address = unsafe { lookup(address_p) }?;
    let information = unsafe { connection_information(information) }?;
    let vector = unsafe { handler_vector(handler) }?;
    let on = vec![(address.handle.id(), address.key, address_p as usize)];
    let objects = ConnectionObjects::pending(vector, context, connection_p, vc_p, on);
    let handler = Arc::new(CConnectionHandler::new(vector, context, objects.clone()));
    let build = address
        .handle
        .build_connection_with_data(information, handler, VcAt::new(vc_p));
    let (connection, vc) = engine::block_on(build)??;
    if let Err(status) = objects.settle(&connection, std::slice::from_ref(&vc)) {
        let _ = engine::block_on(connection.tear_down());
        objects.discard();
        return Err(status);
    }
    Ok(Status::SUCCESS)
}

/// The engine's policy for a create option.
fn select_policy(option: RXCE_CONNECTION_CREATE_OPTIONS) -> Result<SelectPolicy, Status> {
    Ok(match option {
        RxCeSelectFirstSuccessfulTransport => SelectPolicy::FirstSuccessful,
        RxCeSelectBestSuccessfulTransport => SelectPolicy::BestSuccessful,
        RxCeSelectAllSuccessfulTransports => SelectPolicy::AllSuccessful,
        other => {
            return Err(
                Status::INVALID_PARAMETER.with_message(format!("unknown RXCE_CONNECTION_CREATE_OPTIONS value {other}"))
            )
        }
    })
}

/// The caller's completion routine and context of a multi-transport build
/// that returned STATUS_PENDING: called exactly once — with the outcome,
/// or with STATUS_CANCELLED if the build is dropped unfinished (the engine
/// stopped under it).
struct Completion {
    routine: unsafe extern "C" fn(PRXCE_CONNECTION_COMPLETION_CONTEXT) -> NTSTATUS,
    context: usize,
    /// The context's connection and VC, claimed until the routine runs.
    claims: Option<(Claim, Claim)>,
    done: bool,
}

impl Completion {
    /// Fills the context and calls the routine, once.
    fn call(&mut self, status: Status, index: ULONG, information: PRXCE_CONNECTION_INFORMATION) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        self.claims = None;
        let context = self.context as PRXCE_CONNECTION_COMPLETION_CONTEXT;
        // SAFETY: the caller keeps its completion context valid and in
        // place until the routine runs (RxCeBuildConnectionOverMultipleTransports'
        // contract); only the outcome's fields are written.
        unsafe {
            addr_of_mut!((*context).Status).write(status.as_ntstatus());
            addr_of_mut!((*context).AddressIndex).write(index);
            addr_of_mut!((*context).pConnectionInformation).write(information);
        }
        let routine = self.routine;
        callback_boundary!((), {
            // SAFETY: the caller's routine of this documented type, with
            // its own context.
            as_callback(None, || unsafe { routine(context) });
        });
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        self.call(
            Status::CANCELLED.with_message("the engine stopped before the build finished"),
            0,
            std::ptr::null_mut(),
        );
    }
}

/// Runs a multi-transport build whose arguments were checked, and completes
/// it. On success the connection and its VCs are registered before the
/// routine runs.
async fn run_multi_build(
    addresses: Vec<(ULONG, Address)>,
    information: rxce::ConnectionInformation,
    handler: Arc<CConnectionHandler>,
    objects: Arc<ConnectionObjects>,
    options: MultiConnectOptions,
    mut completion: Completion,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let (indices, engine_addresses): (Vec<ULONG>, Vec<Address>) = addresses.into_iter().unzip();
    let build = build_connection_over_multiple_transports(
        &engine_addresses,
        std::slice::from_ref(&information),
        handler,
        &options,
    );
    let outcome = tokio::select! {
        outcome = build => outcome.map_err(|e| e.status),
        _ = stop => Err(Status::CANCELLED.with_message("RxCeShutdown stopped the build")),
    };
    let built = match outcome {
        Ok(built) => built,
        Err(status) => return completion.call(status, 0, std::ptr::null_mut()),
    };
    if let Err(status) = objects.settle(&built.connection, &built.vcs) {
        let _ = built.connection.tear_down().await;
        objects.discard();
        return completion.call(status, 0, std::ptr::null_mut());
    }
    let index = indices.get(built.address_index).copied().unwrap_or(0);
    let connection_p = built_connection(&objects);
    // SAFETY: the connection was just registered into the caller's
    // RXCE_CONNECTION, whose memory it keeps valid while built.
    let information = unsafe { (*connection_p).pConnectionInformation };
    completion.call(Status::SUCCESS, index, information);
}

/// The RXCE_CONNECTION of registered objects.
fn built_connection(objects: &ConnectionObjects) -> PRXCE_CONNECTION {
    match objects.lock().connection {
        Registration::Done { at, .. } => at as PRXCE_CONNECTION,
        _ => std::ptr::null_mut(),
    }
}

#[allow(clippy::too_many_arguments)]
unsafe fn build_connection_over_multiple_transports_c(
    option: RXCE_CONNECTION_CREATE_OPTIONS,
    count: ULONG,
    addresses: *mut PRXCE_ADDRESS,
    server_name: PUNICODE_STRING,
    information: PRXCE_CONNECTION_INFORMATION,
    handler: PRXCE_CONNECTION_EVENT_HANDLER,
    context: PVOID,
    routine: PRXCE_CONNECTION_COMPLETION_ROUTINE,
    completion: PRXCE_CONNECTION_COMPLETION_CONTEXT,
) -> Result<Status, Status> {
    let bad = |what: &str| Err(Status::INVALID_PARAMETER.with_message(what.to_owned()));
    let policy = select_policy(option)?;
    if count == 0 || count > MAX_ADDRESSES || addresses.is_null() || !addresses.is_aligned() {
        return bad("the local address array is NULL, misaligned, empty or too long");
    }
    let Some(routine) = routine else {
        return bad("the completion routine is NULL");
    };
    if completion.is_null() || !completion.is_aligned() {
        return bad("the completion context is NULL or misaligned");
    }
    // SAFETY: non-NULL and aligned; readable by the caller's promise.
    let targets: RXCE_CONNECTION_COMPLETION_CONTEXT = unsafe { completion.read() };
    if std::ptr::addr_eq(targets.pConnection, targets.pVc) {
        return bad("the context's connection and VC are one memory");
    }
    let claims = (claim_unbuilt(targets.pConnection)?, claim_unbuilt(targets.pVc)?);
    // SAFETY (for the calls below): forwarded caller promises.
    let server = if server_name.is_null() {
        None
    } else {
        Some(unsafe { unicode_string(server_name) }?.0)
    };
    let information = unsafe { connection_information(information) }?;
    let vector = unsafe { handler_vector(handler) }?;
    let mut local = Vec::new();
    let mut on = Vec::new();
    for index in 0..count {
        // SAFETY: the array holds `count` readable pointers (the caller's
        // promise); each is NULL or a readable RXCE_ADDRESS.
        let address_p = unsafe { addresses.add(index as usize).read() };
        // SAFETY: as above.
        if let Ok(found) = unsafe { lookup(address_p) } {
            on.push((found.handle.id(), found.key, address_p as usize));
            local.push((index, found.handle));
        }
    }
    if local.is_empty() {
        return Err(Status::INVALID_HANDLE.with_message("no local address of the array is built"));
    }
    let objects = ConnectionObjects::pending(vector, context, targets.pConnection, targets.pVc, on);
    let handler = Arc::new(CConnectionHandler::new(vector, context, objects.clone()));
    let options = MultiConnectOptions {
        policy,
        server_name: server,
        first_vc_data: Some(VcAt::new(targets.pVc)),
        ..MultiConnectOptions::default()
    };
    let completion = Completion {
        routine,
        context: completion as usize,
        claims: Some(claims),
        done: false,
    };
    engine::spawn_build(move |stop| run_multi_build(local, information, handler, objects, options, completion, stop))?;
    Ok(Status::PENDING)
}

unsafe fn tear_down_connection(p: PRXCE_CONNECTION) -> Result<Status, Status> {
    // SAFETY: forwarded caller promise.
    let found = unsafe { lookup(p) }?;
    let (connection, _objects) = found.handle;
    let id = connection.id();
    let covers_callback = running_vc().is_some_and(|vc| vc.connection().id() == id);
    let outcome = engine::tear_down(async move { connection.tear_down().await }, covers_callback);
    handles::remove(found.key);
    outcome.map(|()| Status::SUCCESS)
}

unsafe fn cancel_connect_request(
    address: PRXCE_ADDRESS,
    server_name: PUNICODE_STRING,
    information: PRXCE_CONNECTION_INFORMATION,
) -> Result<Status, Status> {
    // SAFETY (for the calls below): forwarded caller promises.
    let address = unsafe { lookup(address) }?.handle;
    if !server_name.is_null() {
        unsafe { unicode_string(server_name) }?;
    }
    let information = unsafe { connection_information(information) }?;
    address.cancel_connect_request(&information)?;
    Ok(Status::SUCCESS)
}

/// Connects the local address to the remote TRANSPORT_ADDRESS in
/// `pConnectionInformation` and initialises the unbuilt connection and its
/// first VC. `pHandler` (copied; NULL means every default) receives the
/// VC's indications with `pEventContext` as their first argument. Waits
/// for the connect (up to the engine's connect timeout, 20 s); another
/// thread can cut it short with RxCeCancelConnectRequest (then
/// STATUS_CANCELLED).
///
/// An indication can come before this returns (a server that speaks
/// first): `pConnection` and `pVc` are initialised before any indication
/// reaches a handler, so its `pVc` is the caller's, built.
///
/// Returns STATUS_SUCCESS; the connect's failure (STATUS_CONNECTION_REFUSED,
/// STATUS_IO_TIMEOUT, STATUS_HOST_UNREACHABLE, STATUS_NETWORK_UNREACHABLE,
/// STATUS_BAD_NETWORK_PATH, STATUS_CONNECTION_RESET, STATUS_CANCELLED, ...);
/// STATUS_INVALID_PARAMETER for a NULL or malformed argument, or an object
/// built already (or being built by another call); STATUS_INVALID_HANDLE
/// for an address that is not built; STATUS_INSUFFICIENT_RESOURCES.
///
/// # Safety
///
/// `pLocalAddress` is NULL or a readable RXCE_ADDRESS;
/// `pConnectionInformation` is NULL or a readable
/// RXCE_CONNECTION_INFORMATION whose pointers are valid for their lengths;
/// `pHandler` is NULL or a readable RXCE_CONNECTION_EVENT_HANDLER;
/// `pConnection` and `pVc` are NULL or writable memory for their objects,
/// kept valid and in place until torn down.
#[no_mangle]
pub unsafe extern "C" fn RxCeBuildConnection(
    pLocalAddress: PRXCE_ADDRESS,
    pConnectionInformation: PRXCE_CONNECTION_INFORMATION,
    pHandler: PRXCE_CONNECTION_EVENT_HANDLER,
    pEventContext: PVOID,
    pConnection: PRXCE_CONNECTION,
    pVc: PRXCE_VC,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({
        unsafe {
            build_connection(
                pLocalAddress,
                pConnectionInformation,
                pHandler,
                pEventContext,
                pConnection,
                pVc,
            )
        }
    })
}

/// Races connects to the remote address in `pConnectionInformation` (one
/// connection information for every address: each transport uses the
/// entries of its kind — an IP entry for `tcp`, IP and NetBIOS for
/// `netbt`, a memory entry for `memory`, ...) over the local addresses in
/// `pLocalAddressPointers`, and completes through `pCompletionRoutine`:
///
/// - RxCeSelectFirstSuccessfulTransport: attempts start a few milliseconds
///   apart in array order; the first success wins.
/// - RxCeSelectBestSuccessfulTransport: the success over the transport with
///   the highest QualityOfService wins (ties: the earlier address); it
///   waits up to half a second after the first success for the others.
/// - RxCeSelectAllSuccessfulTransports: every success becomes a VC of the
///   one connection (on the address of its first VC).
///
/// Losing connects are closed before the routine runs. `pServerName`
/// (may be NULL) is kept with the connection. A NULL, unbuilt or torn-down
/// entry of the array is skipped; `AddressIndex` is a position in the
/// caller's array. `pRxDeviceObject` is not used and may be NULL.
///
/// Every argument is checked before the call returns: a failure returns its
/// status at once and the routine is never called. Otherwise the call
/// returns STATUS_PENDING and the routine runs exactly once, on an engine
/// worker thread, with the context filled in: `Status` (STATUS_SUCCESS or
/// the most telling failure of the attempts: STATUS_CONNECTION_REFUSED,
/// STATUS_IO_TIMEOUT, STATUS_CANCELLED after RxCeCancelConnectRequest or
/// RxCeShutdown, ...); on success `AddressIndex` (the address of the first
/// VC), the context's `pConnection` and `pVc` built (the VC is the first
/// one; the connection's VirtualCircuitCount says how many there are) and
/// `pConnectionInformation` pointing to the connection's own copy; on
/// failure `AddressIndex` 0, `pConnectionInformation` NULL and nothing
/// built. The context must stay valid until the routine runs;
/// `pConnectionInformation` and the array may go when this returns.
///
/// **VCs owned by rxce (an rxce addition).** With
/// RxCeSelectAllSuccessfulTransports the VCs after the first have no caller
/// memory: rxce allocates an RXCE_VC for each (built, with its
/// `pConnection`) before any of its indications reaches a handler, which
/// then gets it as `pVc`. Such a VC is a VC like any other (RxCeSend,
/// RxCeQueryInformation, RxCeTearDownVC, ...). Its memory belongs to rxce
/// and is freed with its connection: do not use it after the connection's
/// tear-down returns (a VC torn down on its own stays readable, torn down,
/// until then). A VC over another address than the connection's is counted
/// under the connection's address and transport; tearing down its own
/// address tears it down too (its routines then return
/// STATUS_INVALID_HANDLE), and its RXCE_VC is uninitialised when it or its
/// connection is torn down.
///
/// Returns STATUS_PENDING; STATUS_INVALID_PARAMETER for an unknown create
/// option, a NULL, empty (or longer than 64), misaligned or malformed
/// argument, a NULL routine or context, or a context whose `pConnection` /
/// `pVc` are NULL, one memory, built already or being built;
/// STATUS_INVALID_HANDLE when no address of the array is built.
///
/// # Safety
///
/// `pLocalAddressPointers` is NULL or holds `NumberOfAddresses` readable
/// pointers, each NULL or a readable RXCE_ADDRESS; `pServerName` is NULL or
/// a readable UNICODE_STRING; `pConnectionInformation` and `pHandler` as
/// for RxCeBuildConnection; `pCompletionContext` is NULL or a readable and
/// writable RXCE_CONNECTION_COMPLETION_CONTEXT, kept valid until the
/// routine runs, whose `pConnection` and `pVc` are NULL or memory for their
/// objects as for RxCeBuildConnection.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn RxCeBuildConnectionOverMultipleTransports(
    pRxDeviceObject: PRDBSS_DEVICE_OBJECT,
    CreateOption: RXCE_CONNECTION_CREATE_OPTIONS,
    NumberOfAddresses: ULONG,
    pLocalAddressPointers: *mut PRXCE_ADDRESS,
    pServerName: PUNICODE_STRING,
    pConnectionInformation: PRXCE_CONNECTION_INFORMATION,
    pHandler: PRXCE_CONNECTION_EVENT_HANDLER,
    pEventContext: PVOID,
    pCompletionRoutine: PRXCE_CONNECTION_COMPLETION_ROUTINE,
    pCompletionContext: PRXCE_CONNECTION_COMPLETION_CONTEXT,
) -> NTSTATUS {
    let _ = pRxDeviceObject;
    // SAFETY: the caller's promises above.
    ffi_boundary!({
        unsafe {
            build_connection_over_multiple_transports_c(
                CreateOption,
                NumberOfAddresses,
                pLocalAddressPointers,
                pServerName,
                pConnectionInformation,
                pHandler,
                pEventContext,
                pCompletionRoutine,
                pCompletionContext,
            )
        }
    })
}

/// Tears down a connection with its VCs, and uninitialises it.
///
/// Returns STATUS_SUCCESS; STATUS_INVALID_PARAMETER for NULL;
/// STATUS_INVALID_HANDLE for a connection that is not built (never built,
/// or torn down already, also through its address or transport).
///
/// # Safety
///
/// `pConnection` is NULL or a readable RXCE_CONNECTION (writable if built).
#[no_mangle]
pub unsafe extern "C" fn RxCeTearDownConnection(pConnection: PRXCE_CONNECTION) -> NTSTATUS {
    // SAFETY: the caller's promise above.
    ffi_boundary!({ unsafe { tear_down_connection(pConnection) } })
}

/// Cancels the connect attempts in flight from the local address to the
/// remote TRANSPORT_ADDRESS of `pConnectionInformation` (the same remote
/// address as given to the build): those of
/// RxCeBuildConnectionOverMultipleTransports, which completes with
/// STATUS_CANCELLED unless another attempt succeeds, and those of an
/// RxCeBuildConnection or RxCeBuildVC under way on another thread, which
/// return STATUS_CANCELLED. Windows documents this routine as not
/// implemented; rxce implements it. `pServerName` may be NULL; it is
/// checked but not used for matching.
///
/// Returns STATUS_SUCCESS when at least one attempt was cancelled;
/// STATUS_INVALID_PARAMETER when none matched, or for NULL or malformed
/// arguments; STATUS_INVALID_HANDLE for an address that is not built.
///
/// # Safety
///
/// `pLocalAddress` is NULL or a readable RXCE_ADDRESS; `pServerName` is
/// NULL or a readable UNICODE_STRING; `pConnectionInformation` as for
/// RxCeBuildConnection.
#[no_mangle]
pub unsafe extern "C" fn RxCeCancelConnectRequest(
    pLocalAddress: PRXCE_ADDRESS,
    pServerName: PUNICODE_STRING,
    pConnectionInformation: PRXCE_CONNECTION_INFORMATION,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({ unsafe { cancel_connect_request(pLocalAddress, pServerName, pConnectionInformation) } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_options_map_to_policies() {
        assert_eq!(
            select_policy(RxCeSelectFirstSuccessfulTransport).unwrap(),
            SelectPolicy::FirstSuccessful
        );
        assert_eq!(
            select_policy(RxCeSelectBestSuccessfulTransport).unwrap(),
            SelectPolicy::BestSuccessful
        );
        assert_eq!(
            select_policy(RxCeSelectAllSuccessfulTransports).unwrap(),
            SelectPolicy::AllSuccessful
        );
        for bad in [-1, 3, 100] {
            assert_eq!(select_policy(bad).unwrap_err(), Status::INVALID_PARAMETER);
        }
    }

    #[test]
    fn library_vcs_start_unbuilt_and_free_themselves() {
        let owned = LibraryVc::new();
        // SAFETY: the allocation is alive until `owned` drops.
        let signature = unsafe { (*owned.as_ptr()).Signature };
        assert_eq!(signature, 0);
        drop(owned);
    }

    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    unsafe extern "C" fn count(context: PRXCE_CONNECTION_COMPLETION_CONTEXT) -> NTSTATUS {
        CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: the test passes its own context.
        unsafe { (*context).Status }
    }

    #[test]
    fn a_completion_dropped_unfinished_runs_once_with_cancelled() {
        // SAFETY: all-zero bytes are a valid context (NULL pointers).
        let mut context: RXCE_CONNECTION_COMPLETION_CONTEXT = unsafe { std::mem::zeroed() };
        context.AddressIndex = 9;
        let mut completion = Completion {
            routine: count,
            context: &mut context as *mut _ as usize,
            claims: None,
            done: false,
        };
        completion.call(Status::SUCCESS, 1, std::ptr::null_mut());
        drop(completion);
        assert_eq!(CALLS.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!((context.Status, context.AddressIndex), (0, 1));
        let dropped = Completion {
            routine: count,
            context: &mut context as *mut _ as usize,
            claims: None,
            done: false,
        };
        drop(dropped);
        assert_eq!(CALLS.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(context.Status, Status::CANCELLED.as_ntstatus());
    }
}

//! RxCeBuildConnection, RxCeBuildConnectionOverMultipleTransports,
//! RxCeTearDownConnection and RxCeCancelConnectRequest.

use std::sync::Arc;

use rxce_engine::{Connection, Status, Vc};

use crate::address::handler_vector;
use crate::convert::{connection_information, stored_connection_information, unicode_string};
use crate::engine;
use crate::ffi_boundary;
use crate::handlers::{self, running_vc, CConnectionHandler};
use crate::handles::{self, check_unbuilt, lookup, Object};
use crate::types::{
    RxCeSelectAllSuccessfulTransports, RxCeSelectFirstSuccessfulTransport, LONG, NTSTATUS, PRDBSS_DEVICE_OBJECT,
    PRXCE_ADDRESS, PRXCE_CONNECTION, PRXCE_CONNECTION_COMPLETION_CONTEXT, PRXCE_CONNECTION_COMPLETION_ROUTINE,
    PRXCE_CONNECTION_EVENT_HANDLER, PRXCE_CONNECTION_INFORMATION, PRXCE_VC, PUNICODE_STRING, PVOID, RXCE_CONNECTION,
    RXCE_CONNECTION_CREATE_OPTIONS, RXCE_CONNECTION_EVENT_HANDLER, RXCE_CONNECTION_SIGNATURE, RXCE_VC,
    RXCE_VC_SIGNATURE, ULONG,
};

/// Most local addresses one multi-transport build may race.
const MAX_ADDRESSES: ULONG = 64;

/// Records a VC the engine built under the connection `parent` and tags it
/// for its callbacks.
///
/// # Safety
///
/// `p` is writable and stays in place while built; `connection` is the
/// caller's structure of the parent connection.
pub(crate) unsafe fn register_vc(
    p: PRXCE_VC,
    vc: &Vc,
    parent: u64,
    connection: PRXCE_CONNECTION,
) -> Result<(), Status> {
    let state = vc.state() as LONG;
    // SAFETY: forwarded caller promise.
    unsafe {
        handles::register(p, Object::Vc(vc.clone()), Some(parent), Box::new(()), |key| RXCE_VC {
            Signature: RXCE_VC_SIGNATURE,
            pConnection: connection.cast(),
            State: state,
            hRxCe: key,
        })
    }?;
    handlers::tag(vc, p);
    Ok(())
}

/// Records a connection and its first VC.
///
/// # Safety
///
/// `connection_p` and `vc_p` are writable and stay in place while built;
/// `address_p` is the caller's structure of the parent address.
unsafe fn register_connection(
    connection_p: PRXCE_CONNECTION,
    vc_p: PRXCE_VC,
    (connection, vc): (&Connection, &Vc),
    parent: u64,
    address_p: PRXCE_ADDRESS,
    vector: RXCE_CONNECTION_EVENT_HANDLER,
    context: PVOID,
) -> Result<(), Status> {
    let mut vector = Box::new(vector);
    let mut information = stored_connection_information(connection.information());
    let (vector_at, information_at) = (&mut *vector as *mut _, information.as_mut_ptr().cast());
    let object = Object::Connection(connection.clone());
    // SAFETY: forwarded caller promise; the copies move into the table
    // entry without their heap blocks moving.
    let key = unsafe {
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
    }?;
    // SAFETY: forwarded caller promise.
    let registered = unsafe { register_vc(vc_p, vc, key, connection_p) };
    if registered.is_err() {
        handles::remove(key);
    }
    registered
}

unsafe fn build_connection(
    address_p: PRXCE_ADDRESS,
    information: PRXCE_CONNECTION_INFORMATION,
    handler: PRXCE_CONNECTION_EVENT_HANDLER,
    context: PVOID,
    connection_p: PRXCE_CONNECTION,
    vc_p: PRXCE_VC,
) -> Result<Status, Status> {
    // SAFETY (for the calls below): forwarded caller promises.
    unsafe { check_unbuilt(connection_p) }?;
    unsafe { check_unbuilt(vc_p) }?;
    if std::ptr::addr_eq(connection_p, vc_p) {
        return Err(Status::INVALID_PARAMETER.with_message("the connection and the VC are one memory"));
    }
    let address = unsafe { lookup(address_p) }?;
    let information = unsafe { connection_information(information) }?;
    let vector = unsafe { handler_vector(handler) }?;
    let adapter = Arc::new(CConnectionHandler::new(vector, context));
    let (connection, vc) = engine::block_on(address.handle.build_connection(information, adapter))??;
    // SAFETY: forwarded caller promises.
    let registered = unsafe {
        register_connection(
            connection_p,
            vc_p,
            (&connection, &vc),
            address.key,
            address_p,
            vector,
            context,
        )
    };
    if let Err(status) = registered {
        let _ = engine::block_on(connection.tear_down());
        return Err(status);
    }
    Ok(Status::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
unsafe fn build_connection_over_multiple_transports(
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
    if !(RxCeSelectFirstSuccessfulTransport..=RxCeSelectAllSuccessfulTransports).contains(&option) {
        return bad("unknown RXCE_CONNECTION_CREATE_OPTIONS value");
    }
    if count == 0 || count > MAX_ADDRESSES || addresses.is_null() || !addresses.is_aligned() {
        return bad("the local address array is NULL, misaligned, empty or too long");
    }
    if routine.is_none() || completion.is_null() || !completion.is_aligned() {
        return bad("the completion routine or context is NULL or misaligned");
    }
    // SAFETY (for the calls below): forwarded caller promises.
    let targets = unsafe { completion.read() };
    unsafe { check_unbuilt(targets.pConnection) }?;
    unsafe { check_unbuilt(targets.pVc) }?;
    let server = if server_name.is_null() {
        None
    } else {
        Some(unsafe { unicode_string(server_name) }?.0)
    };
    // SAFETY: forwarded caller promises, as above.
    let information = unsafe { connection_information(information) }?;
    // SAFETY: forwarded caller promise.
    let vector = unsafe { handler_vector(handler) }?;
    let mut local = Vec::new();
    for index in 0..count as usize {
        // SAFETY: the array holds `count` readable pointers (the caller's
        // promise); each is NULL or a readable RXCE_ADDRESS.
        if let Ok(found) = unsafe { lookup(addresses.add(index).read()) } {
            local.push((index, found.handle));
        }
    }
    if local.is_empty() {
        return Err(Status::INVALID_HANDLE.with_message("no local address of the array is built"));
    }
    // needs engine: the multi-transport build, e.g.
    // `Engine::build_connection_over_multiple_transports(option, &[(index, Address)],
    // server, ConnectionInformation, handler) -> pending build` that races the
    // attempts (decisions 4-6) and completes once with the winner's
    // (Connection, Vc, index) or the failure; then register them into
    // `targets.pConnection` / `targets.pVc`, set Status and AddressIndex and
    // call `routine` on an engine thread, returning STATUS_PENDING here.
    let _ = (local, server, information, vector, context);
    Err(Status::NOT_IMPLEMENTED
        .with_message("RxCeBuildConnectionOverMultipleTransports needs the multi-transport engine"))
}

unsafe fn tear_down_connection(p: PRXCE_CONNECTION) -> Result<Status, Status> {
    // SAFETY: forwarded caller promise.
    let found = unsafe { lookup(p) }?;
    let connection = found.handle;
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
    let server = if server_name.is_null() {
        None
    } else {
        Some(unsafe { unicode_string(server_name) }?.0)
    };
    let information = unsafe { connection_information(information) }?;
    // needs engine: cancelling multi-transport attempts in flight (decision
    // 7), e.g. `Address::cancel_connect_request(server, &ConnectionInformation)
    // -> Result<(), Status>`: the matching attempts complete with
    // STATUS_CANCELLED; nothing matching is STATUS_INVALID_PARAMETER.
    let _ = (address, server, information);
    Err(Status::NOT_IMPLEMENTED.with_message("RxCeCancelConnectRequest needs the multi-transport engine"))
}

/// Connects the local address to the remote TRANSPORT_ADDRESS in
/// `pConnectionInformation` and initialises the unbuilt connection and its
/// first VC. `pHandler` (copied; NULL means every default) receives the
/// VC's indications with `pEventContext` as their first argument. Waits
/// for the connect (up to the engine's connect timeout, 20 s).
///
/// Returns STATUS_SUCCESS; the connect's failure (STATUS_CONNECTION_REFUSED,
/// STATUS_IO_TIMEOUT, STATUS_HOST_UNREACHABLE, STATUS_NETWORK_UNREACHABLE,
/// STATUS_BAD_NETWORK_PATH, STATUS_CONNECTION_RESET, ...);
/// STATUS_INVALID_PARAMETER for a NULL or malformed argument or an object
/// built already; STATUS_INVALID_HANDLE for an address that is not built;
/// STATUS_INSUFFICIENT_RESOURCES.
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

/// Races connects to one remote address over several local addresses and
/// completes through `pCompletionRoutine` with the connection and VC the
/// create option picks.
///
/// Not implemented yet (it needs the multi-transport engine): after its
/// argument checks (STATUS_INVALID_PARAMETER for an unknown create option,
/// a NULL, empty or malformed argument, or a completion context whose
/// `pConnection` / `pVc` are NULL or built already; STATUS_INVALID_HANDLE
/// when no address of the array is built) it returns
/// STATUS_NOT_IMPLEMENTED and never calls the completion routine.
/// `pRxDeviceObject` is not used and may be NULL.
///
/// # Safety
///
/// `pLocalAddressPointers` is NULL or holds `NumberOfAddresses` readable
/// pointers, each NULL or a readable RXCE_ADDRESS; `pServerName` is NULL or
/// a readable UNICODE_STRING; `pConnectionInformation` and `pHandler` as
/// for RxCeBuildConnection; `pCompletionContext` is NULL or a readable
/// RXCE_CONNECTION_COMPLETION_CONTEXT whose `pConnection` and `pVc` are
/// NULL or objects as for RxCeBuildConnection.
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
            build_connection_over_multiple_transports(
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

/// Cancels the multi-transport connect attempts in flight from the local
/// address to the server.
///
/// Not implemented yet (it needs the multi-transport engine): after its
/// argument checks (STATUS_INVALID_PARAMETER for NULL or malformed
/// arguments, STATUS_INVALID_HANDLE for an address that is not built) it
/// returns STATUS_NOT_IMPLEMENTED.
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

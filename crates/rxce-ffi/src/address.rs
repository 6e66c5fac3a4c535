//! RxCeBuildAddress, RxCeTearDownAddress, RxCeSendDatagram and
//! RxCeResumeDatagramReceive.

use std::sync::Arc;

use rxce::{SendOptions as Options, Status};

use crate::convert::{connection_information, encode_transport_address, send_buffers, transport_address, AlignedCopy};
use crate::dispatch::{running_vc, CAddressHandler};
use crate::engine;
use crate::ffi_boundary;
use crate::handles::{self, check_unbuilt, lookup, Object};
use crate::types::{
    NTSTATUS, PMDL, PRXCE_ADDRESS, PRXCE_ADDRESS_EVENT_HANDLER, PRXCE_CONNECTION_INFORMATION, PRXCE_TRANSPORT,
    PTRANSPORT_ADDRESS, PVOID, RXCE_ADDRESS, RXCE_ADDRESS_SIGNATURE, ULONG,
};

/// A copy of the caller's dispatch vector; NULL is a vector of NULL
/// members (every default).
///
/// # Safety
///
/// `p` is NULL or points to a readable vector.
pub(crate) unsafe fn handler_vector<T: Copy + Default>(p: *const T) -> Result<T, Status> {
    if p.is_null() {
        return Ok(T::default());
    }
    if !p.is_aligned() {
        return Err(Status::INVALID_PARAMETER.with_message("the handler vector is misaligned"));
    }
    // SAFETY: non-NULL and aligned, readable by the caller's promise.
    Ok(unsafe { p.read() })
}

unsafe fn build_address(
    p: PRXCE_ADDRESS,
    transport: PRXCE_TRANSPORT,
    local: PTRANSPORT_ADDRESS,
    handler: PRXCE_ADDRESS_EVENT_HANDLER,
    context: PVOID,
) -> Result<Status, Status> {
    check_unbuilt(p)?;
    // SAFETY (for the calls below): forwarded caller promises.
    let transport_p = transport;
    let transport = unsafe { lookup(transport) }?;
    let local = unsafe { transport_address(local.cast(), None) }?;
    let vector = unsafe { handler_vector(handler) }?;
    let handler = Arc::new(CAddressHandler::new(vector, context));
    let address = engine::enter(|| transport.handle.build_address(local.clone(), handler))??;
    let mut vector = Box::new(vector);
    let mut local = AlignedCopy::of(&encode_transport_address(&address.bound_address()));
    let (vector_at, local_at) = (&mut *vector as *mut _, local.as_mut_ptr().cast());
    let object = Object::Address(address.clone());
    // SAFETY: `p` is writable and stays in place while built (the caller's
    // promise); the copies move into the table entry without their heap
    // blocks moving.
    let registered = unsafe {
        handles::register(p, object, Some(transport.key), Box::new((vector, local)), |key| {
            RXCE_ADDRESS {
                Signature: RXCE_ADDRESS_SIGNATURE,
                pTransport: transport_p,
                pTransportAddress: local_at,
                pContext: context,
                pHandler: vector_at,
                ConnectionCount: 0,
                VirtualCircuitCount: 0,
                hRxCe: key,
            }
        })
    };
    if let Err(status) = registered {
        let _ = engine::block_on(address.tear_down());
        return Err(status);
    }
    Ok(Status::SUCCESS)
}

unsafe fn tear_down_address(p: PRXCE_ADDRESS) -> Result<Status, Status> {
    // SAFETY: forwarded caller promise.
    let found = unsafe { lookup(p) }?;
    let address = found.handle;
    let id = address.id();
    let covers_callback = running_vc().is_some_and(|vc| vc.connection().address().id() == id);
    let outcome = engine::tear_down(async move { address.tear_down().await }, covers_callback);
    handles::remove(found.key);
    outcome.map(|()| Status::SUCCESS)
}

unsafe fn send_datagram(
    address: PRXCE_ADDRESS,
    information: PRXCE_CONNECTION_INFORMATION,
    options: ULONG,
    mdl: PMDL,
    length: ULONG,
    completion_context: PVOID,
) -> Result<Status, Status> {
    // SAFETY (for the calls below): forwarded caller promises.
    let address = unsafe { lookup(address) }?.handle;
    let remote = unsafe { connection_information(information) }?;
    let data = unsafe { send_buffers(mdl, length) }?;
    let options = Options::from_bits_retain(options);
    // A datagram is handed to the kernel before either call returns, so the
    // caller's bytes are never read after RxCeSendDatagram returns.
    if options.contains(Options::SYNCHRONOUS) {
        engine::block_on(address.send_datagram(&remote, data, options))??;
        return Ok(Status::SUCCESS);
    }
    let status = engine::block_on(address.submit_datagram(&remote, data, options, completion_context as usize))?;
    if status.is_error() {
        Err(status)
    } else {
        Ok(status)
    }
}

unsafe fn resume_datagram_receive(address: PRXCE_ADDRESS) -> Result<Status, Status> {
    // SAFETY: forwarded caller promise.
    let address = unsafe { lookup(address) }?.handle;
    address.resume_receive()?;
    Ok(Status::SUCCESS)
}

/// Registers a local transport address (a TRANSPORT_ADDRESS; for `tcp` an
/// IP of this host, port 0 letting each connection pick its own; for `udp`
/// the socket to bind, port 0 letting the system pick one) on a transport
/// and initialises the unbuilt `pAddress` (its `pTransportAddress` is the
/// address as bound). `pHandler` (copied;
/// NULL means every default) receives the address's indications with
/// `pEventContext` as their first argument.
///
/// Returns STATUS_SUCCESS; STATUS_INVALID_PARAMETER for a NULL or malformed
/// argument, an address the transport cannot own, or an address that is
/// built already; STATUS_INVALID_HANDLE for a transport that is not built;
/// STATUS_INSUFFICIENT_RESOURCES.
///
/// # Safety
///
/// `pAddress` is NULL or writable memory for an RXCE_ADDRESS, kept valid and
/// in place until the address is torn down; `pTransport` is NULL or a
/// readable RXCE_TRANSPORT; `pTransportAddress` is NULL or a readable
/// TRANSPORT_ADDRESS whose entries are as long as they say; `pHandler` is
/// NULL or a readable RXCE_ADDRESS_EVENT_HANDLER.
#[no_mangle]
pub unsafe extern "C" fn RxCeBuildAddress(
    pAddress: PRXCE_ADDRESS,
    pTransport: PRXCE_TRANSPORT,
    pTransportAddress: PTRANSPORT_ADDRESS,
    pHandler: PRXCE_ADDRESS_EVENT_HANDLER,
    pEventContext: PVOID,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({ unsafe { build_address(pAddress, pTransport, pTransportAddress, pHandler, pEventContext,) } })
}

/// Tears down an address with its connections and VCs, and uninitialises
/// it.
///
/// Returns STATUS_SUCCESS; STATUS_INVALID_PARAMETER for NULL;
/// STATUS_INVALID_HANDLE for an address that is not built (never built, or
/// torn down already, also through its transport).
///
/// # Safety
///
/// `pAddress` is NULL or a readable RXCE_ADDRESS (writable if built).
#[no_mangle]
pub unsafe extern "C" fn RxCeTearDownAddress(pAddress: PRXCE_ADDRESS) -> NTSTATUS {
    // SAFETY: the caller's promise above.
    ffi_boundary!({ unsafe { tear_down_address(pAddress) } })
}

/// Sends one datagram of the first `SendLength` bytes of the MDL chain from
/// a datagram (`udp`) address to the remote address in
/// `pConnectionInformation`, without copying them.
///
/// Without RXCE_SEND_SYNCHRONOUS it returns STATUS_PENDING once the datagram
/// is handed to the transport, and the address's send-complete member runs
/// once with `pCompletionContext` (with the send's status). With it, it
/// returns the send's status and calls nothing. Either way the MDL chain is
/// not used after the call returns.
///
/// Returns STATUS_SUCCESS or STATUS_PENDING; STATUS_INVALID_PARAMETER for
/// NULL pointers, a malformed connection information or MDL chain, a chain
/// shorter than SendLength, a datagram too long for the transport, or
/// unknown options; STATUS_NOT_SUPPORTED for an address of a transport
/// without datagrams; STATUS_INVALID_HANDLE for an address that is not
/// built.
///
/// # Safety
///
/// `hAddress` is NULL or a readable RXCE_ADDRESS; `pConnectionInformation`
/// is NULL or a readable RXCE_CONNECTION_INFORMATION whose pointers are
/// valid for their lengths; `pMdl` is NULL or a chain of readable MDLs.
#[no_mangle]
pub unsafe extern "C" fn RxCeSendDatagram(
    hAddress: PRXCE_ADDRESS,
    pConnectionInformation: PRXCE_CONNECTION_INFORMATION,
    SendOptions: ULONG,
    pMdl: PMDL,
    SendLength: ULONG,
    pCompletionContext: PVOID,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({
        unsafe {
            send_datagram(
                hAddress,
                pConnectionInformation,
                SendOptions,
                pMdl,
                SendLength,
                pCompletionContext,
            )
        }
    })
}

/// An rxce extension (not in the Windows documentation): indicates again
/// the datagram the address's receive-datagram handler did not accept
/// (STATUS_DATA_NOT_ACCEPTED), with TDI_RECEIVE_FORCE_INDICATION, and
/// receives datagrams again. Until then the address keeps that one
/// datagram and reads no others (the socket buffers them, or drops them
/// when it is full, as datagrams may be dropped). The datagram counterpart
/// of RxCeResumeReceive. With no datagram held it just returns.
///
/// Returns STATUS_SUCCESS; STATUS_NOT_SUPPORTED for an address of a
/// transport without datagrams; STATUS_INVALID_PARAMETER for NULL;
/// STATUS_INVALID_HANDLE for an address that is not built.
///
/// # Safety
///
/// `pAddress` is NULL or a readable RXCE_ADDRESS.
#[no_mangle]
pub unsafe extern "C" fn RxCeResumeDatagramReceive(pAddress: PRXCE_ADDRESS) -> NTSTATUS {
    // SAFETY: the caller's promise above.
    ffi_boundary!({ unsafe { resume_datagram_receive(pAddress) } })
}

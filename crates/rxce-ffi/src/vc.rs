//! RxCeBuildVC, RxCeTearDownVC, RxCeInitiateVCDisconnect,
//! RxCeQueryInformation, RxCeSend and RxCeResumeReceive.

use rxce::tdi::InformationClass;
use rxce::{SendOptions as Options, Status};

use crate::convert::{information_image, send_buffers};
use crate::dispatch::{publish_state, running_vc, VcAt};
use crate::engine;
use crate::ffi_boundary;
use crate::handles::{self, claim_unbuilt, lookup};
use crate::types::{
    RxCeConnectionEndpointInformation, RxCeConnectionInformation, RxCeRemoteAddressInformation,
    RxCeTransportProviderInformation, NTSTATUS, PMDL, PRXCE_CONNECTION, PRXCE_VC, PVOID,
    RXCE_CONNECTION_INFORMATION_CLASS, ULONG,
};

unsafe fn build_vc(p: PRXCE_VC, connection_p: PRXCE_CONNECTION) -> Result<Status, Status> {
    let _claim = claim_unbuilt(p)?;
    // SAFETY (for the calls below): forwarded caller promises.
    let (connection, objects) = unsafe { lookup(connection_p) }?.handle;
    // The VC's first indication may come before the engine returns: the
    // connection's objects register it then (see ConnectionObjects).
    objects.expect_vc(p);
    let vc = match engine::block_on(connection.build_vc_with_data(VcAt::new(p))) {
        Ok(Ok(vc)) => vc,
        Ok(Err(status)) | Err(status) => {
            objects.unexpect_vc(p);
            return Err(status);
        }
    };
    if let Err(status) = objects.settle_vc(&vc) {
        let _ = engine::block_on(vc.tear_down());
        return Err(status);
    }
    Ok(Status::SUCCESS)
}

unsafe fn tear_down_vc(p: PRXCE_VC) -> Result<Status, Status> {
    // SAFETY: forwarded caller promise.
    let found = unsafe { lookup(p) }?;
    let vc = found.handle;
    let covers_callback = running_vc().is_some_and(|running| running == vc);
    let outcome = engine::tear_down(async move { vc.tear_down().await }, covers_callback);
    handles::remove(found.key);
    outcome.map(|()| Status::SUCCESS)
}

unsafe fn initiate_disconnect(p: PRXCE_VC) -> Result<Status, Status> {
    // SAFETY: forwarded caller promise.
    let vc = unsafe { lookup(p) }?.handle;
    let outcome = vc.initiate_disconnect();
    publish_state(p, &vc);
    outcome.map(|()| Status::SUCCESS)
}

fn information_class(class: RXCE_CONNECTION_INFORMATION_CLASS) -> Result<InformationClass, Status> {
    Ok(match class {
        RxCeTransportProviderInformation => InformationClass::TransportProvider,
        RxCeConnectionInformation => InformationClass::Connection,
        RxCeConnectionEndpointInformation => InformationClass::ConnectionEndpoint,
        RxCeRemoteAddressInformation => InformationClass::RemoteAddress,
        other => {
            return Err(
                Status::INVALID_PARAMETER.with_message(format!("unknown RXCE_CONNECTION_INFORMATION_CLASS {other}"))
            )
        }
    })
}

unsafe fn query_information(
    p: PRXCE_VC,
    class: RXCE_CONNECTION_INFORMATION_CLASS,
    out: PVOID,
    length: ULONG,
) -> Result<Status, Status> {
    // SAFETY: forwarded caller promise.
    let vc = unsafe { lookup(p) }?.handle;
    let class = information_class(class)?;
    if out.is_null() {
        return Err(Status::INVALID_PARAMETER.with_message("the information buffer is NULL"));
    }
    let information = vc.query_information(class)?;
    let (base, room) = (out.cast::<u8>(), length as usize);
    let image = information_image(&information, base, room);
    // SAFETY: the caller's buffer is writable for `Length` bytes.
    if unsafe { image.copy_to(base, room) } {
        Ok(Status::SUCCESS)
    } else {
        Ok(Status::BUFFER_OVERFLOW)
    }
}

unsafe fn send(
    p: PRXCE_VC,
    options: ULONG,
    mdl: PMDL,
    length: ULONG,
    completion_context: PVOID,
) -> Result<Status, Status> {
    // SAFETY (for the calls below): forwarded caller promises.
    let vc = unsafe { lookup(p) }?.handle;
    let data = unsafe { send_buffers(mdl, length) }?;
    let options = Options::from_bits_retain(options);
    if options.contains(Options::SYNCHRONOUS) {
        engine::block_on(vc.send(data, options))??;
        return Ok(Status::SUCCESS);
    }
    let status = engine::block_on(vc.submit_send(data, options, completion_context as usize))?;
    if status.is_error() {
        Err(status)
    } else {
        Ok(status)
    }
}

unsafe fn resume_receive(p: PRXCE_VC) -> Result<Status, Status> {
    // SAFETY: forwarded caller promise.
    let vc = unsafe { lookup(p) }?.handle;
    vc.resume_receive()?;
    Ok(Status::SUCCESS)
}

/// Connects one more VC of the connection (to the same remote address,
/// under the same handler) and initialises the unbuilt `pVc`. Waits for the
/// connect. `pVc` is initialised before any indication of the VC reaches
/// the handler, even one that comes before this returns.
///
/// Returns STATUS_SUCCESS; the connect's failure, as for
/// RxCeBuildConnection; STATUS_INVALID_PARAMETER for NULL or a VC built
/// already (or being built by another call); STATUS_INVALID_HANDLE for a
/// connection that is not built; STATUS_INSUFFICIENT_RESOURCES.
///
/// # Safety
///
/// `pVc` is NULL or writable memory for an RXCE_VC, kept valid and in place
/// until torn down; `pConnection` is NULL or a readable RXCE_CONNECTION.
#[no_mangle]
pub unsafe extern "C" fn RxCeBuildVC(pVc: PRXCE_VC, pConnection: PRXCE_CONNECTION) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({ unsafe { build_vc(pVc, pConnection) } })
}

/// Tears down a VC at once: queued sends complete with STATUS_CANCELLED,
/// the transport connection closes, and no indication of the VC runs after
/// this returns. Called from inside one of the VC's own callbacks it
/// returns at once and the VC's cancelled completions run right after that
/// callback.
///
/// Returns STATUS_SUCCESS; STATUS_INVALID_PARAMETER for NULL;
/// STATUS_INVALID_HANDLE for a VC that is not built (never built, or torn
/// down already, also through its connection, address or transport).
///
/// # Safety
///
/// `pVc` is NULL or a readable RXCE_VC (writable if built).
#[no_mangle]
pub unsafe extern "C" fn RxCeTearDownVC(pVc: PRXCE_VC) -> NTSTATUS {
    // SAFETY: the caller's promise above.
    ffi_boundary!({ unsafe { tear_down_vc(pVc) } })
}

/// Starts a graceful disconnect and returns at once: queued sends are
/// written, our direction ends, and the disconnect indication
/// (TDI_DISCONNECT_RELEASE) follows the peer's end, or an abortive one
/// after the engine's disconnect timeout (20 s).
///
/// Returns STATUS_SUCCESS (also when a disconnect is under way already);
/// STATUS_CONNECTION_DISCONNECTED for a VC disconnected already;
/// STATUS_INVALID_PARAMETER for NULL; STATUS_INVALID_HANDLE for a VC that
/// is not built.
///
/// # Safety
///
/// `pVc` is NULL or a readable RXCE_VC (writable if built).
#[no_mangle]
pub unsafe extern "C" fn RxCeInitiateVCDisconnect(pVc: PRXCE_VC) -> NTSTATUS {
    // SAFETY: the caller's promise above.
    ffi_boundary!({ unsafe { initiate_disconnect(pVc) } })
}

/// Copies one class of information about the VC into `pInformation`
/// (`Length` bytes): a TDI_PROVIDER_INFO, a TDI_CONNECTION_INFORMATION (its
/// data after it, its pointers into the buffer), a TDI_CONNECTION_INFO, or
/// a TDI_ADDRESS_INFO with the remote address.
///
/// Returns STATUS_SUCCESS; STATUS_BUFFER_OVERFLOW (a warning) when
/// `Length` is too small: what fits is copied, and a pointer whose data did
/// not fit is NULL; STATUS_INVALID_PARAMETER for NULL or an unknown class;
/// STATUS_INVALID_HANDLE for a VC that is not built.
///
/// # Safety
///
/// `pVc` is NULL or a readable RXCE_VC; `pInformation` is NULL or writable
/// for `Length` bytes.
#[no_mangle]
pub unsafe extern "C" fn RxCeQueryInformation(
    pVc: PRXCE_VC,
    InformationClass: RXCE_CONNECTION_INFORMATION_CLASS,
    pInformation: PVOID,
    Length: ULONG,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({ unsafe { query_information(pVc, InformationClass, pInformation, Length) } })
}

/// Sends the first `SendLength` bytes of the MDL chain on the VC, without
/// copying them.
///
/// With RXCE_SEND_SYNCHRONOUS it returns when every byte is handed to the
/// transport, with the send's status; `pCompletionContext` is ignored.
/// Otherwise it returns STATUS_PENDING once the send is queued (waiting for
/// room in the VC's queue unless RXCE_SEND_NON_BLOCKING), and the
/// connection's send-submitted and then send-complete members run once
/// each with `pCompletionContext`. A send refused at once returns its error
/// and calls nothing. The MDL chain and its bytes must stay valid and
/// unchanged until the send completes.
///
/// Returns STATUS_SUCCESS or STATUS_PENDING; STATUS_INVALID_PARAMETER for a
/// NULL VC, a malformed MDL chain, a chain shorter than SendLength, a
/// SendLength of 0 on a stream, or unknown options; STATUS_DEVICE_NOT_READY
/// for a non-blocking send with no room; STATUS_CONNECTION_DISCONNECTED for
/// a disconnected VC; STATUS_INVALID_HANDLE for a VC that is not built; the
/// transport's failure (STATUS_CONNECTION_RESET, ...); STATUS_CANCELLED for
/// a synchronous send whose VC was torn down meanwhile.
///
/// # Safety
///
/// `pVc` is NULL or a readable RXCE_VC; `pMdl` is NULL or a chain of
/// readable MDLs whose bytes stay valid and unchanged until the send
/// completes.
#[no_mangle]
pub unsafe extern "C" fn RxCeSend(
    pVc: PRXCE_VC,
    SendOptions: ULONG,
    pMdl: PMDL,
    SendLength: ULONG,
    pCompletionContext: PVOID,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({ unsafe { send(pVc, SendOptions, pMdl, SendLength, pCompletionContext) } })
}

/// Indicates again the bytes a receive handler did not accept
/// (STATUS_DATA_NOT_ACCEPTED), and reads the VC again.
///
/// Returns STATUS_SUCCESS; STATUS_INVALID_PARAMETER for NULL;
/// STATUS_INVALID_HANDLE for a VC that is not built.
///
/// # Safety
///
/// `pVc` is NULL or a readable RXCE_VC.
#[no_mangle]
pub unsafe extern "C" fn RxCeResumeReceive(pVc: PRXCE_VC) -> NTSTATUS {
    // SAFETY: the caller's promise above.
    ffi_boundary!({ unsafe { resume_receive(pVc) } })
}

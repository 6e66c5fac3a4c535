//! RxCeBuildTransport, RxCeTearDownTransport, RxCeQueryTransportInformation
//! and RxCeQueryAdapterStatus.

use rxce::Status;

use crate::convert::{adapter_status, provider_info, unicode_string};
use crate::dispatch::running_vc;
use crate::engine;
use crate::ffi_boundary;
use crate::handles::{self, check_unbuilt, lookup, never_built, Object};
use crate::types::{
    _ADAPTER_STATUS, ADAPTER_STATUS, NTSTATUS, PRXCE_TRANSPORT, PRXCE_TRANSPORT_INFORMATION, PUNICODE_STRING,
    RXCE_TRANSPORT, RXCE_TRANSPORT_INFORMATION, RXCE_TRANSPORT_SIGNATURE, TDI_PROVIDER_INFO, ULONG, UNICODE_STRING,
};

/// The Windows transport device names RxCeBuildTransport accepts, matched
/// without regard to case, and the provider each stands for (decision 35).
/// A name that ends in `*` matches every name it begins (NetBT has one
/// device per adapter: `\Device\NetBT_Tcpip_{GUID}`).
const DEVICE_NAMES: [(&str, &str); 7] = [
    (r"\Device\NetBT_Tcpip*", "netbt"),
    (r"\Device\NetbiosSmb", "tcp+smb"),
    (r"\Device\Tcp", "tcp"),
    (r"\Device\Tcp6", "tcp"),
    (r"\Device\Tcpip6_*", "tcp"),
    (r"\Device\Udp", "udp"),
    (r"\Device\Udp6", "udp"),
];

/// The provider a transport name names: a Windows device name's provider,
/// or the name itself (`tcp`, `tcp+smb`, `tcp+rpc`, `tcp+9p`, `netbt`,
/// `udp`, `unix`, `memory`).
fn provider_name(name: &str) -> &str {
    let matches = |pattern: &str| match pattern.strip_suffix('*') {
        Some(prefix) => name
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
        None => name.eq_ignore_ascii_case(pattern),
    };
    DEVICE_NAMES
        .iter()
        .find(|(pattern, _)| matches(pattern))
        .map_or(name, |(_, provider)| provider)
}

unsafe fn build_transport(
    p: PRXCE_TRANSPORT,
    name: PUNICODE_STRING,
    quality_of_service: ULONG,
) -> Result<Status, Status> {
    check_unbuilt(p)?;
    // SAFETY (for the calls below): forwarded caller promises.
    let (name, mut units) = unsafe { unicode_string(name) }?;
    let (engine, _build) = engine::engine_for_transport()?;
    let provider = provider_name(&name);
    let transport = engine::enter(|| engine.build_transport(provider, quality_of_service))??;
    let mut info = Box::new(provider_info(&transport.provider_info()?));
    let bytes = u16::try_from(units.len() * 2).expect("the name came from a UNICODE_STRING");
    let name = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: units.as_mut_ptr(),
    };
    let info_at: *mut TDI_PROVIDER_INFO = &mut *info;
    let object = Object::Transport(transport.clone());
    // SAFETY: `p` is writable and stays in place while built (the caller's
    // promise); the name and information copies move into the table entry
    // without their heap blocks moving.
    let registered = unsafe {
        handles::register(p, object, None, Box::new((units, info)), |key| RXCE_TRANSPORT {
            Signature: RXCE_TRANSPORT_SIGNATURE,
            Name: name,
            pProviderInfo: info_at,
            ConnectionCount: 0,
            VirtualCircuitCount: 0,
            QualityOfService: quality_of_service,
            hRxCe: key,
        })
    };
    if let Err(status) = registered {
        // Another build into the same memory got there first.
        let _ = engine::block_on(transport.tear_down());
        return Err(status);
    }
    Ok(Status::SUCCESS)
}

unsafe fn tear_down_transport(p: PRXCE_TRANSPORT) -> Result<Status, Status> {
    // SAFETY (for both calls): forwarded caller promise.
    if unsafe { never_built(p) } {
        return Ok(Status::SUCCESS);
    }
    let found = unsafe { lookup(p) }?;
    let transport = found.handle;
    let id = transport.id();
    let covers_callback = running_vc().is_some_and(|vc| vc.connection().address().transport().id() == id);
    let outcome = engine::tear_down(async move { transport.tear_down().await }, covers_callback);
    handles::remove(found.key);
    engine::stop_if_idle();
    outcome.map(|()| Status::SUCCESS)
}

unsafe fn query_transport_information(p: PRXCE_TRANSPORT, out: PRXCE_TRANSPORT_INFORMATION) -> Result<Status, Status> {
    // SAFETY: forwarded caller promise.
    let transport = unsafe { lookup(p) }?.handle;
    if out.is_null() || !out.is_aligned() {
        return Err(Status::INVALID_PARAMETER.with_message("the RXCE_TRANSPORT_INFORMATION is NULL or misaligned"));
    }
    let info = transport.query_information()?;
    // SAFETY: non-NULL and aligned; a whole structure is writable by the
    // caller's promise.
    unsafe {
        out.write(RXCE_TRANSPORT_INFORMATION {
            ConnectionCount: info.connection_count,
            QualityOfService: info.quality_of_service,
        })
    };
    Ok(Status::SUCCESS)
}

unsafe fn query_adapter_status(p: PRXCE_TRANSPORT, out: *mut ADAPTER_STATUS) -> Result<Status, Status> {
    // SAFETY: forwarded caller promise.
    let transport = unsafe { lookup(p) }?.handle;
    if out.is_null() || !out.is_aligned() {
        return Err(Status::INVALID_PARAMETER.with_message("the ADAPTER_STATUS is NULL or misaligned"));
    }
    let status = adapter_status(&transport.query_adapter_status()?);
    // SAFETY: non-NULL and aligned; a whole structure is writable by the
    // caller's promise.
    unsafe { out.write(status) };
    Ok(Status::SUCCESS)
}

/// Binds an unbuilt transport to the provider named `pTransportName` with
/// an opaque quality of service (higher is better when racing transports).
///
/// The names, matched exactly: `tcp` (TCP over IPv4 and IPv6, a byte
/// stream), `tcp+smb` (TCP with SMB direct-hosted framing: each send is
/// one message behind a 4-byte header, each message indicated whole),
/// `tcp+rpc` (ONC RPC record marking: each send is one record, sent in
/// 64 KiB fragments; each record indicated whole, without its fragment
/// headers; port 111 by default), `tcp+9p` (9P: each send is one message
/// from `type[1]`, rxce adds and strips `size[4]`; port 564 by default),
/// `netbt` (the NetBIOS session service over TCP, framed likewise), `udp`
/// (datagrams, RxCeSendDatagram), `unix` (Unix-domain stream sockets, by
/// path, and by abstract name on Linux; not offered on Windows) and
/// `memory` (in-process pipes, for tests). The Windows device names a port
/// passes, matched without regard to case: `\Device\NetBT_Tcpip_{...}`
/// (any NetBT device) is `netbt`; `\Device\NetbiosSmb` (NetBT's
/// direct-hosted SMB device) is `tcp+smb`; `\Device\Tcp`,
/// `\Device\Tcp6` and `\Device\Tcpip6_{...}` are `tcp`; `\Device\Udp`
/// and `\Device\Udp6` are `udp`. The transport's `Name` is the name as
/// given.
///
/// Returns STATUS_SUCCESS; STATUS_INVALID_PARAMETER for a NULL or malformed
/// argument, an unknown transport name, or a transport that is built
/// already; STATUS_NOT_SUPPORTED for `unix` on Windows (tokio has no
/// Unix-domain stream sockets there); STATUS_INSUFFICIENT_RESOURCES.
///
/// # Safety
///
/// `pTransport` is NULL or writable memory for an RXCE_TRANSPORT, kept valid
/// and in place until the transport is torn down; `pTransportName` is NULL
/// or a readable UNICODE_STRING with `Length` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn RxCeBuildTransport(
    pTransport: PRXCE_TRANSPORT,
    pTransportName: PUNICODE_STRING,
    QualityOfService: ULONG,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({ unsafe { build_transport(pTransport, pTransportName, QualityOfService) } })
}

/// Unbinds a transport, tearing down its addresses, connections and VCs
/// first, and uninitialises it.
///
/// Returns STATUS_SUCCESS (also for a zeroed transport, never bound);
/// STATUS_INVALID_PARAMETER for NULL; STATUS_INVALID_HANDLE for a transport
/// torn down already or a wrong signature.
///
/// # Safety
///
/// `pTransport` is NULL or points to a readable RXCE_TRANSPORT (writable if
/// built).
#[no_mangle]
pub unsafe extern "C" fn RxCeTearDownTransport(pTransport: PRXCE_TRANSPORT) -> NTSTATUS {
    // SAFETY: the caller's promise above.
    ffi_boundary!({ unsafe { tear_down_transport(pTransport) } })
}

/// Fills `pTransportInformation` (a whole RXCE_TRANSPORT_INFORMATION) with
/// the transport's connection count and quality of service.
///
/// Returns STATUS_SUCCESS; STATUS_INVALID_PARAMETER for a NULL pointer;
/// STATUS_INVALID_HANDLE for a transport that is not built.
///
/// # Safety
///
/// `pTransport` is NULL or a readable RXCE_TRANSPORT;
/// `pTransportInformation` is NULL or writable for a whole
/// RXCE_TRANSPORT_INFORMATION.
#[no_mangle]
pub unsafe extern "C" fn RxCeQueryTransportInformation(
    pTransport: PRXCE_TRANSPORT,
    pTransportInformation: PRXCE_TRANSPORT_INFORMATION,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({ unsafe { query_transport_information(pTransport, pTransportInformation) } })
}

/// Fills `pAdapterStatus` (a whole ADAPTER_STATUS; no name entries follow)
/// with the status of the transport's adapter: the network interface that
/// carries the local IP of the transport's first address (in build order)
/// with a specific IP — for addresses on the unspecified IP, the interface
/// of the default route, or loopback when there is none (or, on systems
/// other than Linux, always loopback: their route tables are not read).
///
/// The fields, on Linux from the interface's `/sys/class/net/IF/`
/// (counters saturate at their field's maximum): `adapter_address` its hardware
/// address (zero for loopback); `adapter_type` 0xFE for Ethernet, 0xFF for
/// token ring, 0 otherwise (loopback); `rev_major`.`rev_minor` 3.0;
/// `xmit_success` / `recv_success` the packets sent / received;
/// `iframe_xmit_err` / `iframe_recv_err` the transmit / receive errors;
/// `xmit_aborts` the aborted transmissions; `xmit_buf_unavail` /
/// `recv_buff_unavail` the packets dropped on transmit / receive;
/// `max_dgram_size` the largest unfragmented UDP datagram (the MTU less
/// the IP and UDP headers); `pending_sess` the transport's live VCs;
/// `max_sess` / `max_cfg_sess` the VCs the engine's budget can hold;
/// `max_sess_pkt_size` the transport's largest send (65535 when
/// unlimited). Linux has no equivalent of the rest, which are 0:
/// `duration`, `frmr_recv`, `frmr_xmit`, `t1_timeouts`, `ti_timeouts`, the
/// NCB counts, and `name_count` (rxce registers no NetBIOS names). On other
/// systems, or where sysfs is missing, the hardware address, type and
/// counters are 0 too, and `max_dgram_size` is the family's minimum MTU
/// (576 for IPv4, 1280 for IPv6) less the headers.
///
/// Returns STATUS_SUCCESS; STATUS_ADDRESS_NOT_ASSOCIATED when the transport
/// has no address, or only addresses without an IP (`memory`, `unix`), or
/// no interface carries the IP any more; STATUS_INVALID_PARAMETER for a
/// NULL pointer; STATUS_INVALID_HANDLE for a transport that is not built.
///
/// # Safety
///
/// `pTransport` is NULL or a readable RXCE_TRANSPORT; `pAdapterStatus` is
/// NULL or writable for a whole ADAPTER_STATUS.
#[no_mangle]
pub unsafe extern "C" fn RxCeQueryAdapterStatus(
    pTransport: PRXCE_TRANSPORT,
    pAdapterStatus: *mut _ADAPTER_STATUS,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({ unsafe { query_adapter_status(pTransport, pAdapterStatus) } })
}

#[cfg(test)]
mod tests {
    use super::provider_name;

    #[test]
    fn windows_device_names_name_providers() {
        assert_eq!(
            provider_name(r"\Device\NetBT_Tcpip_{6AC87F1B-2A3E-4E3F-9D1B-0A1C2D3E4F50}"),
            "netbt"
        );
        assert_eq!(provider_name(r"\device\netbt_tcpip6_{X}"), "netbt");
        assert_eq!(provider_name(r"\Device\NetbiosSmb"), "tcp+smb");
        assert_eq!(provider_name(r"\Device\Tcp"), "tcp");
        assert_eq!(provider_name(r"\DEVICE\TCP6"), "tcp");
        assert_eq!(provider_name(r"\Device\Udp"), "udp");
        assert_eq!(provider_name("tcp+smb"), "tcp+smb");
        assert_eq!(
            provider_name(r"\Device\Tcpx"),
            r"\Device\Tcpx",
            "unknown names pass through (refused)"
        );
        assert_eq!(provider_name("é"), "é");
    }
}

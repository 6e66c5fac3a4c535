//! TDI_CONNECTION_INFORMATION → [`ConnectionInformation`], and the
//! engine's answers → the C structures of the query routines.

use std::mem::size_of;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rxce::tdi::{AddressInfo, ConnectionEndpointInfo, ProviderInfo};
use rxce::{AdapterStatus, ConnectionInformation, Information, Status};

use super::address::{encode_transport_address, transport_address};
use super::bad;
use super::image::{AlignedCopy, Image};
use crate::types::{
    ADAPTER_STATUS, LARGE_INTEGER, LONG, PVOID, TDI_CONNECTION_INFO, TDI_CONNECTION_INFORMATION, TDI_PROVIDER_INFO,
};

/// `len` bytes at `at` from a structure's length/pointer pair: a negative
/// length, or a NULL pointer with bytes, is STATUS_INVALID_PARAMETER.
///
/// # Safety
///
/// `at` is valid for `len` bytes when `len` is positive.
unsafe fn counted(what: &str, len: LONG, at: PVOID) -> Result<Bytes, Status> {
    let len = usize::try_from(len).map_err(|_| bad(format!("{what} has a negative length")))?;
    if len == 0 {
        return Ok(Bytes::new());
    }
    if at.is_null() {
        return Err(bad(format!("{what} is NULL with a length of {len}")));
    }
    // SAFETY: non-NULL and valid for `len` bytes by the caller's promise; we
    // copy them out at once.
    Ok(Bytes::copy_from_slice(unsafe {
        std::slice::from_raw_parts(at.cast::<u8>(), len)
    }))
}

/// The connection information at `p`. The remote address must be present
/// and lie within RemoteAddressLength.
///
/// # Safety
///
/// `p` is NULL or points to a readable TDI_CONNECTION_INFORMATION whose
/// pointers are valid for their declared lengths.
pub(crate) unsafe fn connection_information(
    p: *const TDI_CONNECTION_INFORMATION,
) -> Result<ConnectionInformation, Status> {
    if p.is_null() || !p.is_aligned() {
        return Err(bad("the connection information is NULL or misaligned"));
    }
    // SAFETY: non-NULL and aligned, readable by the caller's promise.
    let info = unsafe { p.read() };
    // SAFETY: the caller's promise covers each pointer for its length.
    let user_data = unsafe { counted("UserData", info.UserDataLength, info.UserData) }?;
    let options = unsafe { counted("Options", info.OptionsLength, info.Options) }?;
    let declared = usize::try_from(info.RemoteAddressLength)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            bad(format!(
                "RemoteAddressLength is {}: a remote address is needed",
                info.RemoteAddressLength
            ))
        })?;
    // SAFETY: RemoteAddress is valid for RemoteAddressLength bytes by the
    // caller's promise, and the parser reads no further.
    let remote_address = unsafe { transport_address(info.RemoteAddress.cast::<u8>(), Some(declared)) }?;
    Ok(ConnectionInformation {
        user_data,
        options,
        remote_address,
    })
}

fn long(n: usize) -> LONG {
    LONG::try_from(n).unwrap_or(LONG::MAX)
}

/// `when` in TDI's units: 100 ns since 1601-01-01 UTC.
fn tdi_time(when: SystemTime) -> i64 {
    const UNIX_EPOCH_IN_TDI_UNITS: i64 = 116_444_736_000_000_000;
    let since_unix = when.duration_since(UNIX_EPOCH).unwrap_or_default();
    let units = i64::try_from(since_unix.as_nanos() / 100).unwrap_or(i64::MAX);
    units.saturating_add(UNIX_EPOCH_IN_TDI_UNITS)
}

/// The C form of a provider's information.
pub(crate) fn provider_info(info: &ProviderInfo) -> TDI_PROVIDER_INFO {
    TDI_PROVIDER_INFO {
        Version: info.version,
        MaxSendSize: info.max_send_size,
        MaxConnectionUserData: info.max_connection_user_data,
        MaxDatagramSize: info.max_datagram_size,
        ServiceFlags: info.service_flags,
        MinimumLookaheadData: info.minimum_lookahead_data,
        MaximumLookaheadData: info.maximum_lookahead_data,
        NumberOfResources: info.number_of_resources,
        StartTime: LARGE_INTEGER::new(tdi_time(info.start_time)),
    }
}

/// The C form of an adapter's status (no name entries follow it).
pub(crate) fn adapter_status(status: &AdapterStatus) -> ADAPTER_STATUS {
    ADAPTER_STATUS {
        adapter_address: status.adapter_address,
        rev_major: status.rev_major,
        reserved0: 0,
        adapter_type: status.adapter_type,
        rev_minor: status.rev_minor,
        duration: status.duration,
        frmr_recv: status.frmr_recv,
        frmr_xmit: status.frmr_xmit,
        iframe_recv_err: status.iframe_recv_err,
        xmit_aborts: status.xmit_aborts,
        xmit_success: status.xmit_success,
        recv_success: status.recv_success,
        iframe_xmit_err: status.iframe_xmit_err,
        recv_buff_unavail: status.recv_buff_unavail,
        t1_timeouts: status.t1_timeouts,
        ti_timeouts: status.ti_timeouts,
        reserved1: 0,
        free_ncbs: status.free_ncbs,
        max_cfg_ncbs: status.max_cfg_ncbs,
        max_ncbs: status.max_ncbs,
        xmit_buf_unavail: status.xmit_buf_unavail,
        max_dgram_size: status.max_dgram_size,
        pending_sess: status.pending_sess,
        max_cfg_sess: status.max_cfg_sess,
        max_sess: status.max_sess,
        max_sess_pkt_size: status.max_sess_pkt_size,
        name_count: status.name_count,
    }
}

fn endpoint_info(info: &ConnectionEndpointInfo) -> TDI_CONNECTION_INFO {
    TDI_CONNECTION_INFO {
        State: info.state,
        Event: info.event,
        TransmittedTsdus: info.transmitted_tsdus,
        ReceivedTsdus: info.received_tsdus,
        TransmissionErrors: info.transmission_errors,
        ReceiveErrors: info.receive_errors,
        Throughput: LARGE_INTEGER::new(info.throughput),
        Delay: LARGE_INTEGER::new(info.delay),
        SendBufferSize: info.send_buffer_size,
        ReceiveBufferSize: info.receive_buffer_size,
        Unreliable: u8::from(info.unreliable),
    }
}

/// A TDI_CONNECTION_INFORMATION followed by the data it points to, for
/// memory at `base` of which `room` bytes will be written: pointers point
/// into that memory, and a pointer whose data would not fit is NULL (its
/// length stays, so the caller sees what it missed).
fn connection_information_image(info: &ConnectionInformation, base: *mut u8, room: usize) -> Image {
    let remote = encode_transport_address(&info.remote_address);
    let user_at = size_of::<TDI_CONNECTION_INFORMATION>();
    let options_at = user_at + info.user_data.len();
    let remote_at = (options_at + info.options.len()).next_multiple_of(4);
    let pointer = |at: usize, len: usize| -> PVOID {
        if len > 0 && at + len <= room {
            base.wrapping_add(at).cast()
        } else {
            std::ptr::null_mut()
        }
    };
    let mut image = Image::default();
    image.put(&TDI_CONNECTION_INFORMATION {
        UserDataLength: long(info.user_data.len()),
        UserData: pointer(user_at, info.user_data.len()),
        OptionsLength: long(info.options.len()),
        Options: pointer(options_at, info.options.len()),
        RemoteAddressLength: long(remote.len()),
        RemoteAddress: pointer(remote_at, remote.len()),
    });
    image.put_bytes(&info.user_data);
    image.put_bytes(&info.options);
    image.align_to(4);
    image.put_bytes(&remote);
    image
}

/// A TDI_ADDRESS_INFO: the activity count, then the whole TRANSPORT_ADDRESS.
fn address_info_image(info: &AddressInfo) -> Image {
    let mut image = Image::default();
    image.put(&info.activity_count);
    image.put_bytes(&encode_transport_address(&info.address));
    image
}

/// The C answer of RxCeQueryInformation for memory at `base` with room for
/// `room` bytes.
pub(crate) fn information_image(information: &Information, base: *mut u8, room: usize) -> Image {
    match information {
        Information::TransportProvider(info) => {
            let mut image = Image::default();
            image.put(&provider_info(info));
            image
        }
        Information::Connection(info) => connection_information_image(info, base, room),
        Information::ConnectionEndpoint(info) => {
            let mut image = Image::default();
            image.put(&endpoint_info(info));
            image
        }
        Information::RemoteAddress(info) => address_info_image(info),
    }
}

/// A copy of `info` for a built connection's `pConnectionInformation`: the
/// structure and its data in one allocation that lives as long as the
/// connection.
pub(crate) fn stored_connection_information(info: &ConnectionInformation) -> AlignedCopy {
    let len = connection_information_image(info, std::ptr::null_mut(), 0).len();
    let mut copy = AlignedCopy::zeroed(len);
    let base = copy.as_mut_ptr();
    let room = copy.len();
    let image = connection_information_image(info, base, room);
    // SAFETY: the copy has room for `room` bytes and is its own allocation.
    unsafe { image.copy_to(base, room) };
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use rxce::TransportAddress;

    #[test]
    fn a_stored_copy_points_into_itself() {
        let info = ConnectionInformation {
            user_data: Bytes::from_static(b"hi"),
            options: Bytes::new(),
            remote_address: TransportAddress::ip("127.0.0.1:139".parse().unwrap()),
        };
        let mut copy = stored_connection_information(&info);
        let p = copy.as_mut_ptr().cast::<TDI_CONNECTION_INFORMATION>();
        // SAFETY: the copy begins with a TDI_CONNECTION_INFORMATION whose
        // pointers point into the copy.
        let back = unsafe { connection_information(p) }.unwrap();
        assert_eq!(back, info);
        // SAFETY: as above.
        assert!(unsafe { (*p).Options }.is_null());
    }

    #[test]
    fn pointers_to_data_that_does_not_fit_are_null() {
        let info = ConnectionInformation::to(TransportAddress::ip("127.0.0.1:139".parse().unwrap()));
        let header = size_of::<TDI_CONNECTION_INFORMATION>();
        let mut out = vec![0u64; 16];
        let base = out.as_mut_ptr().cast::<u8>();
        let image = connection_information_image(&info, base, header);
        // SAFETY: `out` has 128 bytes of room, more than `header`.
        assert!(!unsafe { image.copy_to(base, header) });
        // SAFETY: the first `header` bytes of `out` hold the structure.
        let copied = unsafe { base.cast::<TDI_CONNECTION_INFORMATION>().read() };
        assert!(copied.RemoteAddress.is_null());
        assert_eq!(copied.RemoteAddressLength, 4 + 4 + 14);
    }

    #[test]
    fn tdi_time_counts_from_1601() {
        assert_eq!(tdi_time(UNIX_EPOCH), 116_444_736_000_000_000);
    }

    #[test]
    fn negative_lengths_and_missing_addresses_are_refused() {
        let remote = encode_transport_address(&TransportAddress::ip("127.0.0.1:1".parse().unwrap()));
        let mut info = TDI_CONNECTION_INFORMATION {
            UserDataLength: 0,
            UserData: std::ptr::null_mut(),
            OptionsLength: 0,
            Options: std::ptr::null_mut(),
            RemoteAddressLength: remote.len() as LONG,
            RemoteAddress: remote.as_ptr() as PVOID,
        };
        // SAFETY: every pointer is valid for its length, or NULL with length 0
        // (or a bad length the parser refuses before reading).
        unsafe {
            assert!(connection_information(&info).is_ok());
            info.UserDataLength = -1;
            assert!(connection_information(&info).is_err());
            info.UserDataLength = 3;
            assert!(connection_information(&info).is_err());
            info.UserDataLength = 0;
            info.RemoteAddressLength = 0;
            assert!(connection_information(&info).is_err());
            info.RemoteAddressLength = remote.len() as LONG;
            info.RemoteAddress = std::ptr::null_mut();
            assert!(connection_information(&info).is_err());
        }
    }
}

//! rxce extensions that fill the structures a port would otherwise fill by
//! hand: UNICODE_STRINGs (RtlInitUnicodeString's job on Windows) and
//! TRANSPORT_ADDRESSes with one IPv4, IPv6, NetBIOS or other entry.

use std::ffi::{c_char, c_void, CStr};

use rxce::Status;

use crate::ffi_boundary;
use crate::types::{
    _Addr, _AddrIp, _AddrIp6, _TDI_ADDRESS_IP, _TDI_ADDRESS_IP6, _TDI_ADDRESS_NETBIOS, NTSTATUS, PTA_IP6_ADDRESS,
    PTA_IP_ADDRESS, PTA_NETBIOS_ADDRESS, PTRANSPORT_ADDRESS, PULONG, PUNICODE_STRING, TA_IP6_ADDRESS, TA_IP_ADDRESS,
    TA_NETBIOS_ADDRESS, TDI_ADDRESS_LENGTH_IP, TDI_ADDRESS_LENGTH_IP6, TDI_ADDRESS_LENGTH_NETBIOS, TDI_ADDRESS_TYPE_IP,
    TDI_ADDRESS_TYPE_IP6, TDI_ADDRESS_TYPE_NETBIOS, UCHAR, ULONG, UNICODE_STRING, USHORT, WCHAR,
};

fn bad(what: &str) -> Result<Status, Status> {
    Err(Status::INVALID_PARAMETER.with_message(what.to_owned()))
}

/// Checks that `p` is non-NULL and aligned for `T`.
fn check<T>(p: *const T, what: &str) -> Result<(), Status> {
    if p.is_null() || !p.is_aligned() {
        return Err(Status::INVALID_PARAMETER.with_message(format!("{what} is NULL or misaligned")));
    }
    Ok(())
}

/// The most UTF-16 units a UNICODE_STRING's byte length can count.
const MAX_UNITS: usize = (u16::MAX / 2) as usize;

unsafe fn init_unicode_string(destination: PUNICODE_STRING, source: *const WCHAR) -> Result<Status, Status> {
    check(destination, "the UNICODE_STRING")?;
    let mut units = 0;
    if !source.is_null() {
        // SAFETY: the caller's NUL-terminated string; reading stops at the
        // terminator (or at the longest length a UNICODE_STRING holds).
        while units < MAX_UNITS - 1 && unsafe { source.add(units).read_unaligned() } != 0 {
            units += 1;
        }
    }
    let length = (units * 2) as USHORT;
    let string = UNICODE_STRING {
        Length: length,
        MaximumLength: if source.is_null() { 0 } else { length + 2 },
        Buffer: source.cast_mut(),
    };
    // SAFETY: checked non-NULL and aligned; writable by the caller's promise.
    unsafe { destination.write(string) };
    Ok(Status::SUCCESS)
}

unsafe fn init_unicode_string_from_utf8(
    destination: PUNICODE_STRING,
    buffer: *mut WCHAR,
    buffer_length: USHORT,
    source: *const c_char,
) -> Result<Status, Status> {
    check(destination, "the UNICODE_STRING")?;
    if buffer.is_null() || source.is_null() {
        return bad("the buffer or the source is NULL");
    }
    // SAFETY: the caller's NUL-terminated string.
    let Ok(text) = unsafe { CStr::from_ptr(source) }.to_str() else {
        return bad("the source is not UTF-8");
    };
    let units: Vec<u16> = text.encode_utf16().collect();
    let room = usize::from(buffer_length) / 2;
    if units.len() > room {
        return Err(Status::BUFFER_OVERFLOW.with_message(format!(
            "\"{text}\" needs {} bytes; the buffer has {buffer_length}",
            units.len() * 2
        )));
    }
    for (at, unit) in units.iter().enumerate() {
        // SAFETY: at < room: within the caller's buffer of buffer_length bytes.
        unsafe { buffer.add(at).write_unaligned(*unit) };
    }
    let string = UNICODE_STRING {
        Length: (units.len() * 2) as USHORT,
        MaximumLength: buffer_length,
        Buffer: buffer,
    };
    // SAFETY: checked non-NULL and aligned; writable by the caller's promise.
    unsafe { destination.write(string) };
    Ok(Status::SUCCESS)
}

/// The NetBIOS form of `name`: up to 15 bytes, upper-cased, space padded,
/// then the suffix byte.
fn netbios_name(name: &[u8], suffix: UCHAR) -> Result<[UCHAR; 16], Status> {
    if name.is_empty() || name.len() > 15 {
        return Err(Status::INVALID_PARAMETER.with_message(format!(
            "a NetBIOS name has 1 to 15 bytes; {:?} has {}",
            String::from_utf8_lossy(name),
            name.len()
        )));
    }
    let mut out = [b' '; 16];
    for (slot, byte) in out.iter_mut().zip(name) {
        *slot = byte.to_ascii_uppercase();
    }
    out[15] = suffix;
    Ok(out)
}

unsafe fn init_transport_address(
    address: PTRANSPORT_ADDRESS,
    buffer_length: ULONG,
    address_type: USHORT,
    entry: *const c_void,
    entry_length: USHORT,
    length: PULONG,
) -> Result<Status, Status> {
    check(address, "the TRANSPORT_ADDRESS")?;
    if entry.is_null() && entry_length > 0 {
        return bad("the entry is NULL");
    }
    let total = 8 + usize::from(entry_length);
    if total > buffer_length as usize {
        return Err(Status::BUFFER_OVERFLOW.with_message(format!(
            "the TRANSPORT_ADDRESS needs {total} bytes; the buffer has {buffer_length}"
        )));
    }
    let bytes = address.cast::<u8>();
    // SAFETY: the caller's buffer holds buffer_length >= total bytes; the
    // entry holds entry_length readable bytes.
    unsafe {
        bytes.cast::<i32>().write(1);
        bytes.add(4).cast::<u16>().write_unaligned(entry_length);
        bytes.add(6).cast::<u16>().write_unaligned(address_type);
        if entry_length > 0 {
            std::ptr::copy_nonoverlapping(entry.cast::<u8>(), bytes.add(8), usize::from(entry_length));
        }
    }
    if !length.is_null() {
        // SAFETY: the caller's ULONG, when given.
        unsafe { length.write_unaligned(total as ULONG) };
    }
    Ok(Status::SUCCESS)
}

/// An rxce extension (RtlInitUnicodeString's work): points
/// `DestinationString` at the NUL-terminated UTF-16 `SourceString` (not
/// copied: it must outlive the UNICODE_STRING's use), with `Length` its
/// bytes before the terminator and `MaximumLength` two more. A NULL source
/// gives an empty string.
///
/// Returns STATUS_SUCCESS; STATUS_INVALID_PARAMETER for a NULL or
/// misaligned destination.
///
/// # Safety
///
/// `DestinationString` is NULL or writable; `SourceString` is NULL or a
/// NUL-terminated UTF-16 string.
#[no_mangle]
pub unsafe extern "C" fn RxCeInitUnicodeString(
    DestinationString: PUNICODE_STRING,
    SourceString: *const WCHAR,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({ unsafe { init_unicode_string(DestinationString, SourceString) } })
}

/// An rxce extension: converts the NUL-terminated UTF-8 `SourceString`
/// (plain ASCII such as `"tcp"` or `"\\Device\\NetBT_Tcpip_{...}"` is
/// UTF-8) into UTF-16 in the caller's `Buffer` of `BufferLength` bytes, and
/// points `DestinationString` at it. C has no portable 16-bit string
/// literal before C11's `u""`, so this is how a port names a transport.
///
/// Returns STATUS_SUCCESS; STATUS_BUFFER_OVERFLOW when the text does not
/// fit (nothing is written to the destination); STATUS_INVALID_PARAMETER
/// for NULL pointers or text that is not UTF-8.
///
/// # Safety
///
/// `DestinationString` is NULL or writable; `Buffer` is NULL or writable for
/// `BufferLength` bytes; `SourceString` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn RxCeInitUnicodeStringFromUtf8(
    DestinationString: PUNICODE_STRING,
    Buffer: *mut WCHAR,
    BufferLength: USHORT,
    SourceString: *const c_char,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({ unsafe { init_unicode_string_from_utf8(DestinationString, Buffer, BufferLength, SourceString) } })
}

/// An rxce extension: fills a TA_IP_ADDRESS (one TDI_ADDRESS_TYPE_IP entry)
/// with the IPv4 address `InAddr` and `Port`, both given in **host** byte
/// order (`0x7F000001` for 127.0.0.1); the entry holds them in network
/// order, as TDI_ADDRESS_IP does. Pass it where a PTRANSPORT_ADDRESS goes,
/// with `sizeof(TA_IP_ADDRESS)` as its length.
///
/// Returns STATUS_SUCCESS; STATUS_INVALID_PARAMETER for NULL.
///
/// # Safety
///
/// `Address` is NULL or writable for a TA_IP_ADDRESS.
#[no_mangle]
pub unsafe extern "C" fn RxCeInitIpAddress(Address: PTA_IP_ADDRESS, InAddr: ULONG, Port: USHORT) -> NTSTATUS {
    ffi_boundary!({
        check(Address, "the TA_IP_ADDRESS")?;
        let value = TA_IP_ADDRESS {
            TAAddressCount: 1,
            Address: [_AddrIp {
                AddressLength: TDI_ADDRESS_LENGTH_IP,
                AddressType: TDI_ADDRESS_TYPE_IP,
                Address: [_TDI_ADDRESS_IP {
                    sin_port: Port.to_be(),
                    in_addr: InAddr.to_be(),
                    sin_zero: [0; 8],
                }],
            }],
        };
        // SAFETY: checked non-NULL and aligned; writable by the caller's promise.
        unsafe { Address.write(value) };
        Ok(Status::SUCCESS)
    })
}

/// An rxce extension: fills a TA_IP6_ADDRESS (one TDI_ADDRESS_TYPE_IP6
/// entry) with the 16 bytes of `In6Addr` (network order, as in
/// `struct in6_addr`), `Port` in host byte order (stored in network order)
/// and `ScopeId` (the interface index, host order; 0 for none).
///
/// Returns STATUS_SUCCESS; STATUS_INVALID_PARAMETER for NULL.
///
/// # Safety
///
/// `Address` is NULL or writable for a TA_IP6_ADDRESS; `In6Addr` is NULL
/// or 16 readable bytes.
#[no_mangle]
pub unsafe extern "C" fn RxCeInitIp6Address(
    Address: PTA_IP6_ADDRESS,
    In6Addr: *const UCHAR,
    Port: USHORT,
    ScopeId: ULONG,
) -> NTSTATUS {
    ffi_boundary!({
        check(Address, "the TA_IP6_ADDRESS")?;
        if In6Addr.is_null() {
            return bad("the IPv6 address is NULL");
        }
        let mut bytes = [0u8; 16];
        // SAFETY: 16 readable bytes by the caller's promise.
        unsafe { std::ptr::copy_nonoverlapping(In6Addr, bytes.as_mut_ptr(), 16) };
        let mut words = [0u16; 8];
        for (word, pair) in words.iter_mut().zip(bytes.chunks_exact(2)) {
            // The bytes stay in network order in memory.
            *word = u16::from_ne_bytes([pair[0], pair[1]]);
        }
        let value = TA_IP6_ADDRESS {
            TAAddressCount: 1,
            Address: [_AddrIp6 {
                AddressLength: TDI_ADDRESS_LENGTH_IP6,
                AddressType: TDI_ADDRESS_TYPE_IP6,
                Address: [_TDI_ADDRESS_IP6 {
                    sin6_port: Port.to_be(),
                    sin6_flowinfo: 0,
                    sin6_addr: words,
                    sin6_scope_id: ScopeId,
                }],
            }],
        };
        // SAFETY: checked non-NULL and aligned; writable by the caller's promise.
        unsafe { Address.write(value) };
        Ok(Status::SUCCESS)
    })
}

/// An rxce extension: fills a TA_NETBIOS_ADDRESS (one
/// TDI_ADDRESS_TYPE_NETBIOS entry) with the NetBIOS form of `Name` (1 to 15
/// bytes, upper-cased and padded with spaces) followed by the `Suffix`
/// byte (0x20 for a file server), and `NameType`
/// (TDI_ADDRESS_NETBIOS_TYPE_UNIQUE, ...).
///
/// Returns STATUS_SUCCESS; STATUS_INVALID_PARAMETER for NULL, an empty
/// name or one longer than 15 bytes.
///
/// # Safety
///
/// `Address` is NULL or writable for a TA_NETBIOS_ADDRESS; `Name` is NULL
/// or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn RxCeInitNetbiosAddress(
    Address: PTA_NETBIOS_ADDRESS,
    Name: *const c_char,
    Suffix: UCHAR,
    NameType: USHORT,
) -> NTSTATUS {
    ffi_boundary!({
        check(Address, "the TA_NETBIOS_ADDRESS")?;
        if Name.is_null() {
            return bad("the NetBIOS name is NULL");
        }
        // SAFETY: NUL-terminated by the caller's promise.
        let name = netbios_name(unsafe { CStr::from_ptr(Name) }.to_bytes(), Suffix)?;
        let value = TA_NETBIOS_ADDRESS {
            TAAddressCount: 1,
            Address: [_Addr {
                AddressLength: TDI_ADDRESS_LENGTH_NETBIOS,
                AddressType: TDI_ADDRESS_TYPE_NETBIOS,
                Address: [_TDI_ADDRESS_NETBIOS {
                    NetbiosNameType: NameType,
                    NetbiosName: name,
                }],
            }],
        };
        // SAFETY: checked non-NULL and aligned; writable by the caller's promise.
        unsafe { Address.write(value) };
        Ok(Status::SUCCESS)
    })
}

/// An rxce extension: makes the `BufferLength` bytes at `Address` a
/// TRANSPORT_ADDRESS with one entry of `AddressType` whose `EntryLength`
/// bytes are copied from `Entry` (for the types without a TA_ structure of
/// their own: TDI_ADDRESS_TYPE_UNIX with a socket path, or a leading NUL
/// and an abstract name; RXCE_ADDRESS_TYPE_MEMORY with a name; ...), and
/// stores its length in bytes in `*Length` (when not NULL) — the length
/// RXCE_CONNECTION_INFORMATION's `RemoteAddressLength` wants.
///
/// Returns STATUS_SUCCESS; STATUS_BUFFER_OVERFLOW when the buffer is
/// shorter than 8 + `EntryLength` bytes (nothing is written);
/// STATUS_INVALID_PARAMETER for NULL pointers.
///
/// # Safety
///
/// `Address` is NULL or writable for `BufferLength` bytes and aligned for
/// a TRANSPORT_ADDRESS; `Entry` is NULL or `EntryLength` readable bytes;
/// `Length` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn RxCeInitTransportAddress(
    Address: PTRANSPORT_ADDRESS,
    BufferLength: ULONG,
    AddressType: USHORT,
    Entry: *const c_void,
    EntryLength: USHORT,
    Length: PULONG,
) -> NTSTATUS {
    // SAFETY: the caller's promises above.
    ffi_boundary!({ unsafe { init_transport_address(Address, BufferLength, AddressType, Entry, EntryLength, Length) } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{STATUS_BUFFER_OVERFLOW, STATUS_INVALID_PARAMETER, STATUS_SUCCESS, TDI_ADDRESS_TYPE_UNIX};

    #[test]
    fn netbios_names_are_padded_upper_cased_and_suffixed() {
        assert_eq!(&netbios_name(b"server", 0x20).unwrap(), b"SERVER         \x20");
        assert!(netbios_name(b"", 0x20).is_err());
        assert!(netbios_name(b"sixteen-letters!", 0x20).is_err());
    }

    #[test]
    fn an_ip_address_is_stored_in_network_order() {
        // SAFETY: all-zero bytes are a valid TA_IP_ADDRESS.
        let mut ta: TA_IP_ADDRESS = unsafe { std::mem::zeroed() };
        // SAFETY: a valid local.
        assert_eq!(unsafe { RxCeInitIpAddress(&mut ta, 0x7F00_0001, 445) }, STATUS_SUCCESS);
        let entry = ta.Address[0].Address[0];
        assert_eq!((ta.TAAddressCount, ta.Address[0].AddressLength), (1, 14));
        assert_eq!(u16::from_be(entry.sin_port), 445);
        assert_eq!(u32::from_be(entry.in_addr), 0x7F00_0001);
        // SAFETY: NULL is refused before any write.
        assert_eq!(
            unsafe { RxCeInitIpAddress(std::ptr::null_mut(), 0, 0) },
            STATUS_INVALID_PARAMETER
        );
    }

    #[test]
    fn strings_convert_and_overflow_is_refused() {
        // SAFETY: all-zero bytes are a valid UNICODE_STRING.
        let mut s: UNICODE_STRING = unsafe { std::mem::zeroed() };
        let mut units = [0u16; 4];
        // SAFETY: valid locals and NUL-terminated literals.
        unsafe {
            assert_eq!(
                RxCeInitUnicodeStringFromUtf8(&mut s, units.as_mut_ptr(), 8, c"tcp".as_ptr()),
                STATUS_SUCCESS
            );
            assert_eq!((s.Length, s.MaximumLength), (6, 8));
            assert_eq!(&units[..3], &[b't' as u16, b'c' as u16, b'p' as u16]);
            assert_eq!(
                RxCeInitUnicodeStringFromUtf8(&mut s, units.as_mut_ptr(), 8, c"netbt".as_ptr()),
                STATUS_BUFFER_OVERFLOW
            );
            let terminated = [b'u' as u16, b'd' as u16, b'p' as u16, 0];
            assert_eq!(RxCeInitUnicodeString(&mut s, terminated.as_ptr()), STATUS_SUCCESS);
            assert_eq!((s.Length, s.MaximumLength), (6, 8));
        }
    }

    #[test]
    fn a_generic_entry_fits_or_overflows() {
        let mut buffer = [0u32; 8];
        let mut length = 0;
        // SAFETY: a 32-byte local buffer; the entry is 5 readable bytes.
        unsafe {
            let at = buffer.as_mut_ptr().cast();
            let entry = b"/tmp/x".as_ptr().cast();
            assert_eq!(
                RxCeInitTransportAddress(at, 32, TDI_ADDRESS_TYPE_UNIX, entry, 6, &mut length),
                STATUS_SUCCESS
            );
            assert_eq!(length, 14);
            assert_eq!(
                RxCeInitTransportAddress(at, 12, TDI_ADDRESS_TYPE_UNIX, entry, 6, &mut length),
                STATUS_BUFFER_OVERFLOW
            );
        }
    }
}

//! The C ABI's decoding of TRANSPORT_ADDRESS, TDI_CONNECTION_INFORMATION
//! and UNICODE_STRING (`crates/rxce-ffi/src/convert/`), through the exported
//! routines, as a C caller reaches it.
//!
//! The conversions are crate-private and take raw pointers, so the target
//! calls the public `extern "C"` routines of the unmodified rxce-ffi sources
//! (its Rust library, `rxce_ffi`) with structures laid out from the
//! input, keeping every promise the routines' safety sections ask of a C
//! caller — and nothing more:
//!
//! - `RxCeSendDatagram(address, connection information, 0, one-byte MDL, 1)`
//!   on a built memory address: it looks the address up, converts the
//!   connection information and the MDL, then refuses the send with
//!   STATUS_NOT_SUPPORTED (memory carries no datagrams) — so the status
//!   tells whether the conversion accepted the input, and nothing is sent.
//!   The connection information's lengths (UserData, Options,
//!   RemoteAddressLength — negative, zero, positive) and pointers (NULL or
//!   not, the structure itself misaligned) come from the input; every
//!   buffer behind a positive length is its own heap allocation of exactly
//!   that many bytes, so AddressSanitizer reports any read past what the
//!   caller declared. The TRANSPORT_ADDRESS starts at an input-chosen
//!   (mis)alignment.
//! - `RxCeCancelConnectRequest(address, server name, the same connection
//!   information)`: also converts a UNICODE_STRING server name (NULL, or
//!   with input-chosen Length, MaximumLength, alignment and UTF-16 units);
//!   with no connect in flight it must answer STATUS_INVALID_PARAMETER
//!   whatever the input.
//! - `RxCeBuildAddress(transport, TRANSPORT_ADDRESS)` on a memory transport:
//!   the local address has no declared length, so the routine may read as
//!   far as the count and entry lengths say; the input is followed by zeros
//!   up to the most the parser may ever read without a declared length
//!   (4 + 64 × (4 + 1024) bytes), and the allocation ends there.
//!
//! Properties: no crash, no read outside what the caller declared
//! (AddressSanitizer), no panic (a panic caught at the C boundary would be
//! STATUS_INTERNAL_ERROR: the fuzzer's panic hook aborts first), and the
//! status agrees with a model of the documented rules (count 1 to 64,
//! entries within the declared length, known types at least as long as
//! their structure, unknown types skipped, at least one known entry, Unix
//! paths up to 108 bytes, memory and host names of 1 to 255 UTF-8 bytes;
//! non-negative lengths, no NULL pointer with bytes): an input the model
//! refuses gets STATUS_INVALID_PARAMETER, one it accepts gets through the
//! conversions (STATUS_NOT_SUPPORTED from the datagram send, STATUS_SUCCESS
//! from the build, whose address is then torn down).
#![no_main]

use std::ffi::c_void;
use std::mem::size_of;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rxce_ffi::types::{
    MDL, NTSTATUS, PRXCE_ADDRESS, PRXCE_TRANSPORT, PVOID, RXCE_ADDRESS, RXCE_TRANSPORT, STATUS_INVALID_PARAMETER,
    STATUS_NOT_SUPPORTED, STATUS_SUCCESS, TDI_CONNECTION_INFORMATION, UNICODE_STRING,
};
use rxce_ffi::{RxCeBuildAddress, RxCeBuildTransport, RxCeCancelConnectRequest, RxCeSendDatagram, RxCeTearDownAddress};
use rxce_fuzz::Cursor;

/// The most a TRANSPORT_ADDRESS without a declared length may span: the
/// count, then 64 entries of 4 bytes and at most 1024 bytes of payload.
const MAX_UNDECLARED_SPAN: usize = 4 + 64 * (4 + 1024);

/// The built memory transport and address every input uses (kept in place
/// for the whole run, as the routines require).
struct Objects {
    transport: PRXCE_TRANSPORT,
    address: PRXCE_ADDRESS,
}

// SAFETY: the pointers are to leaked, never-freed structures that only the
// fuzzing thread passes to the routines (which synchronise internally).
unsafe impl Send for Objects {}
// SAFETY: as above.
unsafe impl Sync for Objects {}

fn objects() -> &'static Objects {
    static OBJECTS: OnceLock<Objects> = OnceLock::new();
    OBJECTS.get_or_init(|| {
        // SAFETY: all-zero RXCE_TRANSPORT and RXCE_ADDRESS are the unbuilt
        // objects of the C API (NULL pointers, zero counts).
        let transport: PRXCE_TRANSPORT = Box::leak(Box::new(unsafe { std::mem::zeroed::<RXCE_TRANSPORT>() }));
        // SAFETY: as above.
        let address: PRXCE_ADDRESS = Box::leak(Box::new(unsafe { std::mem::zeroed::<RXCE_ADDRESS>() }));
        let mut units: Vec<u16> = "memory".encode_utf16().collect();
        let mut name = unicode(&mut units);
        // SAFETY: `transport` is writable and stays in place (leaked);
        // `name` describes `units`.
        let status = unsafe { RxCeBuildTransport(transport, &mut name, 0) };
        assert_eq!(status, STATUS_SUCCESS, "building the memory transport");
        let mut local = ta(&[(0xF001, b"fuzz-ffi-local")]);
        // SAFETY: `address` is writable and stays in place; `local` is a
        // complete TRANSPORT_ADDRESS; NULL handler and context are allowed.
        let status = unsafe {
            RxCeBuildAddress(
                address,
                transport,
                local.as_mut_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(status, STATUS_SUCCESS, "building the memory address");
        Objects { transport, address }
    })
}

fn unicode(units: &mut [u16]) -> UNICODE_STRING {
    let bytes = (units.len() * 2) as u16;
    UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: units.as_mut_ptr(),
    }
}

/// A TRANSPORT_ADDRESS with the given (type, payload) entries.
fn ta(entries: &[(u16, &[u8])]) -> Vec<u8> {
    let mut out = (entries.len() as i32).to_ne_bytes().to_vec();
    for (kind, payload) in entries {
        out.extend_from_slice(&(payload.len() as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(payload);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let objects = objects();
    let mut c = Cursor::new(data);
    if c.u8() & 1 == 0 {
        connection_information(objects, &mut c);
    } else {
        build_address(objects, &mut c);
    }
});

/// Heap memory of exactly `len` bytes (plus `skew` bytes before the
/// pointer handed out), holding `fill` then zeros.
struct Exact {
    block: Box<[u8]>,
    skew: usize,
}

impl Exact {
    fn new(len: usize, skew: usize, fill: &[u8]) -> Exact {
        let mut block = vec![0u8; skew + len].into_boxed_slice();
        let n = fill.len().min(len);
        block[skew..skew + n].copy_from_slice(&fill[..n]);
        Exact { block, skew }
    }

    fn ptr(&mut self) -> PVOID {
        self.block[self.skew..].as_mut_ptr().cast::<c_void>()
    }

    fn bytes(&self) -> &[u8] {
        &self.block[self.skew..]
    }
}

/// The offset (below `align`) from `base` of the first address that is
/// one byte past a multiple of `align`: misaligned for any `align` > 1.
fn odd_offset(base: *const u8, align: usize) -> usize {
    (align + 1 - (base as usize) % align) % align
}

/// A counted buffer (UserData or Options): its length, and its memory or
/// NULL. A positive length with memory gets exactly that many bytes.
fn counted(c: &mut Cursor<'_>) -> (i32, Option<Exact>, bool) {
    let selector = c.u8();
    let len = match selector % 4 {
        0 => 0,
        1 => i32::from(c.u8()),
        2 => -i32::from(c.u16()) - 1,
        _ => i32::from(c.u16() & 0x3fff),
    };
    let null = selector & 0x10 != 0;
    let memory = if null {
        None
    } else {
        // A non-NULL pointer is valid for `len` bytes (at least one byte is
        // allocated, so the pointer is a real one even for length 0).
        let n = usize::try_from(len).unwrap_or(0);
        Some(Exact::new(n.max(1), 0, c.take(n)))
    };
    let ok = len >= 0 && (len == 0 || !null);
    (len, memory, ok)
}

fn connection_information(objects: &Objects, c: &mut Cursor<'_>) {
    // The server name: NULL, or a UNICODE_STRING whose Buffer holds Length
    // bytes (possibly misaligned).
    let name_selector = c.u8();
    let mut name_units: Vec<u16>;
    let mut name_bytes: Vec<u8>;
    let mut server: Option<UNICODE_STRING> = None;
    let mut server_ok = true;
    if name_selector & 1 == 1 {
        let length = u16::from(c.u8()) * if name_selector & 2 == 2 { 1 } else { 2 };
        let maximum = if name_selector & 4 == 4 { c.u16() } else { length };
        let misaligned = name_selector & 8 == 8;
        // Length bytes from the input, zero-padded.
        let mut raw = c.take(usize::from(length)).to_vec();
        raw.resize(usize::from(length), 0);
        let buffer: *mut u16 = if misaligned {
            name_bytes = vec![0u8; 1 + raw.len()];
            let at = odd_offset(name_bytes.as_ptr(), 2);
            name_bytes[at..at + raw.len()].copy_from_slice(&raw);
            name_bytes[at..].as_mut_ptr().cast()
        } else {
            name_units = vec![0u16; raw.len().div_ceil(2).max(1)];
            for (i, pair) in raw.chunks(2).enumerate() {
                name_units[i] = u16::from_ne_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            }
            name_units.as_mut_ptr()
        };
        let units: Vec<u16> = raw
            .chunks_exact(2)
            .map(|pair| u16::from_ne_bytes([pair[0], pair[1]]))
            .collect();
        server_ok =
            length != 0 && length % 2 == 0 && length <= maximum && !misaligned && String::from_utf16(&units).is_ok();
        server = Some(UNICODE_STRING {
            Length: length,
            MaximumLength: maximum,
            Buffer: buffer,
        });
    }

    let (user_len, mut user, user_ok) = counted(c);
    let (options_len, mut options, options_ok) = counted(c);

    // The remote address and its declared length.
    let selector = c.u8();
    let skew = usize::from(selector >> 5);
    let (declared, null_remote) = match selector % 5 {
        0 | 1 => (c.rest().len() as i32, false),
        2 => (i32::from(c.u16()), false),
        3 => (-(c.u16() as i32) - 1, false),
        _ => (i32::from(c.u16()), true),
    };
    let mut remote = if null_remote {
        None
    } else {
        Some(Exact::new(
            usize::try_from(declared).unwrap_or(0).max(1),
            skew,
            c.rest(),
        ))
    };
    let remote_ok = declared > 0
        && remote
            .as_ref()
            .is_some_and(|r| model(&r.bytes()[..declared as usize], true).is_some());

    let info = TDI_CONNECTION_INFORMATION {
        UserDataLength: user_len,
        UserData: user.as_mut().map_or(std::ptr::null_mut(), Exact::ptr),
        OptionsLength: options_len,
        Options: options.as_mut().map_or(std::ptr::null_mut(), Exact::ptr),
        RemoteAddressLength: declared,
        RemoteAddress: remote.as_mut().map_or(std::ptr::null_mut(), Exact::ptr),
    };
    // The structure itself, aligned or (selector bit 3) one byte off.
    let misaligned_info = selector & 0x08 != 0;
    let mut aligned = Box::new(info);
    let align = std::mem::align_of::<TDI_CONNECTION_INFORMATION>();
    let mut unaligned = vec![0u8; align + size_of::<TDI_CONNECTION_INFORMATION>()];
    let at = odd_offset(unaligned.as_ptr(), align);
    let info_ptr: *mut TDI_CONNECTION_INFORMATION = if misaligned_info {
        let p = unaligned[at..].as_mut_ptr().cast::<TDI_CONNECTION_INFORMATION>();
        // SAFETY: `unaligned` has room for the structure from `at`;
        // write_unaligned needs no alignment.
        unsafe { p.write_unaligned(info) };
        p
    } else {
        &mut *aligned
    };
    let server_ptr = server.as_mut().map_or(std::ptr::null_mut(), |s| s as *mut _);

    let accepted = !misaligned_info && user_ok && options_ok && remote_ok;
    let mut byte = [0x5Au8];
    let mut mdl = MDL {
        Next: std::ptr::null_mut(),
        MappedSystemVa: byte.as_mut_ptr().cast(),
        ByteCount: 1,
    };

    // SAFETY: the address is built and in place; the connection information
    // is readable (misaligned only where the routine checks alignment before
    // reading) and each of its pointers is NULL or valid for its declared
    // length; the MDL chain is one readable element of one byte.
    let status = unsafe { RxCeSendDatagram(objects.address, info_ptr, 0, &mut mdl, 1, std::ptr::null_mut()) };
    check_status(status, accepted, STATUS_NOT_SUPPORTED, "RxCeSendDatagram");

    // SAFETY: as above; the server name is NULL or a UNICODE_STRING whose
    // Buffer holds Length bytes.
    let status = unsafe { RxCeCancelConnectRequest(objects.address, server_ptr, info_ptr) };
    assert_eq!(
        status, STATUS_INVALID_PARAMETER,
        "RxCeCancelConnectRequest with nothing in flight returned {status:#010x} (server name ok: {server_ok})"
    );
}

fn build_address(objects: &Objects, c: &mut Cursor<'_>) {
    let skew = usize::from(c.u8() & 7);
    let mut local = Exact::new(MAX_UNDECLARED_SPAN, skew, c.rest());
    let expected = model(local.bytes(), false);
    // SAFETY: all-zero is an unbuilt RXCE_ADDRESS; it stays in place (boxed)
    // until torn down below.
    let mut address = Box::new(unsafe { std::mem::zeroed::<RXCE_ADDRESS>() });
    // SAFETY: `address` is writable and in place; the transport is built;
    // the TRANSPORT_ADDRESS is readable as far as its count and entry
    // lengths can say (MAX_UNDECLARED_SPAN bytes); NULL handler and context
    // are allowed.
    let status = unsafe {
        RxCeBuildAddress(
            &mut *address,
            objects.transport,
            local.ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    // The memory transport owns any address with a memory entry.
    let accepted = expected.is_some_and(|has_memory| has_memory);
    check_status(status, accepted, STATUS_SUCCESS, "RxCeBuildAddress");
    if status == STATUS_SUCCESS {
        // SAFETY: `address` was built above and is still in place.
        let status = unsafe { RxCeTearDownAddress(&mut *address) };
        assert_eq!(status, STATUS_SUCCESS, "tearing down a fuzzed address");
    }
}

fn check_status(status: NTSTATUS, accepted: bool, success: NTSTATUS, routine: &str) {
    let expected = if accepted { success } else { STATUS_INVALID_PARAMETER };
    assert_eq!(
        status,
        expected,
        "{routine}: the model {} the input, the routine returned {status:#010x}",
        if accepted { "accepts" } else { "refuses" }
    );
}

/// The documented TRANSPORT_ADDRESS rules over the readable `bytes`
/// (exactly the declared length when `declared`): `None` when refused,
/// else whether there is a memory entry.
fn model(bytes: &[u8], declared: bool) -> Option<bool> {
    let mut c = Cursor::new(bytes);
    let count = i32::from_ne_bytes(c.take(4).try_into().ok()?);
    if !(1..=64).contains(&count) {
        return None;
    }
    let mut known = false;
    let mut memory = false;
    for _ in 0..count {
        let head = c.take(4);
        if head.len() < 4 {
            return None;
        }
        let length = usize::from(u16::from_ne_bytes([head[0], head[1]]));
        let kind = u16::from_ne_bytes([head[2], head[3]]);
        if !declared && length > 1024 {
            return None;
        }
        let payload = c.take(length);
        if payload.len() < length {
            return None;
        }
        let name_ok = |b: &[u8]| (1..=255).contains(&b.len()) && std::str::from_utf8(b).is_ok();
        let ok = match kind {
            2 => length >= 14,
            23 => length >= 26,
            17 => length >= 18,
            1 => length <= 108,
            0xF001 => name_ok(payload),
            0xF002 => length >= 2 && name_ok(&payload[2..]),
            _ => continue,
        };
        if !ok {
            return None;
        }
        known = true;
        memory |= kind == 0xF001;
    }
    known.then_some(memory)
}

//! The objects the C caller holds: signature checks and the handle table.
//!
//! A built RXCE_TRANSPORT / RXCE_ADDRESS / RXCE_CONNECTION / RXCE_VC carries
//! its kind's signature and, in its private `hRxCe`, the key of an entry in
//! a process-wide table. The table is flat: an entry holds the engine
//! handle, the address of the C structure it was built into, the key of
//! its parent, and the copies the structure's pointer fields point to —
//! no list of children. The engine is the one object tree: which objects a
//! parent's tear-down took with it, and how many connections and VCs an
//! object has, are asked of the engine.
//!
//! The table is split into shards by key, each with its own lock, so the
//! routines of the data path (a send, a query, a resume) take no lock that
//! every VC shares: two VCs meet on a lock only when their keys fall into
//! the same shard, and then only for a lookup.
//!
//! The C structure's own memory is never trusted beyond its signature: a
//! torn-down, copied or forged structure finds no entry (keys are never
//! reused) and gets STATUS_INVALID_HANDLE, without any dereference of what
//! it holds. Tearing down a parent removes the entries of what the engine
//! tore down with it, so nothing leaks when a child is never torn down on
//! its own.
//!
//! A connection's entry also holds its [`ConnectionObjects`]: how its VCs
//! reach the table (see there). Caller memory that a build under way will
//! initialise is [`claim`](claim_unbuilt)ed, so a second build into it
//! meanwhile is refused.
//!
//! The table itself is [`table`]; here are the C structures around it.

mod table;

use std::ptr::addr_of;
use std::sync::{Arc, LazyLock};

use rxce::{Address, Connection, Status, Transport, Vc};

use crate::connection::ConnectionObjects;
use table::{Held, Table};

use crate::types::{
    _UNICODE_STRING, LONG, RXCE_ADDRESS, RXCE_ADDRESS_SIGNATURE, RXCE_CONNECTION, RXCE_CONNECTION_SIGNATURE,
    RXCE_TRANSPORT, RXCE_TRANSPORT_SIGNATURE, RXCE_VC, RXCE_VC_SIGNATURE, RXCE_VC_TORN_DOWN, ULONG,
};

/// The engine handle of a built object.
pub(crate) enum Object {
    Transport(Transport),
    Address(Address),
    /// A connection and the registrar of its C objects.
    Connection(Connection, Arc<ConnectionObjects>),
    Vc(Vc),
}

/// Shards of the table: a send takes only its key's shard's lock.
const SHARDS: usize = 64;

/// Every built object of the process.
static TABLE: LazyLock<Table<Object>> = LazyLock::new(|| Table::new(SHARDS));

/// Caller memory held by a build under way (RxCeBuildConnection,
/// RxCeBuildVC, a multi-transport build until its completion): another
/// build into it meanwhile is STATUS_INVALID_PARAMETER. Released on drop.
pub(crate) type Claim = table::Claim<'static, Object>;

/// One of the four caller-allocated object structures.
///
/// # Safety
///
/// `Signature` must be the structure's first field.
pub(crate) unsafe trait CObject: Sized {
    /// The signature of a built object of this kind.
    const SIGNATURE: ULONG;
    /// The kind, for messages.
    const KIND: &'static str;
    /// The engine handle behind it.
    type Handle: Clone;

    fn handle(object: &Object) -> Option<Self::Handle>;

    /// The private key.
    ///
    /// # Safety
    ///
    /// `p` points to a readable structure of this kind.
    unsafe fn key(p: *const Self) -> u64;
}

macro_rules! c_object {
    ($c:ty, $signature:expr, $kind:literal, $variant:ident) => {
        // SAFETY: every object structure begins with `Signature` (types::rxce).
        unsafe impl CObject for $c {
            const SIGNATURE: ULONG = $signature;
            const KIND: &'static str = $kind;
            type Handle = $variant;

            fn handle(object: &Object) -> Option<$variant> {
                match object {
                    Object::$variant(handle) => Some(handle.clone()),
                    _ => None,
                }
            }

            unsafe fn key(p: *const Self) -> u64 {
                // SAFETY: the caller guarantees `p` is readable.
                unsafe { addr_of!((*p).hRxCe).read() }
            }
        }
    };
}

c_object!(RXCE_TRANSPORT, RXCE_TRANSPORT_SIGNATURE, "transport", Transport);
c_object!(RXCE_ADDRESS, RXCE_ADDRESS_SIGNATURE, "address", Address);
c_object!(RXCE_VC, RXCE_VC_SIGNATURE, "VC", Vc);

// SAFETY: RXCE_CONNECTION begins with `Signature` (types::rxce).
unsafe impl CObject for RXCE_CONNECTION {
    const SIGNATURE: ULONG = RXCE_CONNECTION_SIGNATURE;
    const KIND: &'static str = "connection";
    type Handle = (Connection, Arc<ConnectionObjects>);

    fn handle(object: &Object) -> Option<Self::Handle> {
        match object {
            Object::Connection(connection, objects) => Some((connection.clone(), objects.clone())),
            _ => None,
        }
    }

    unsafe fn key(p: *const Self) -> u64 {
        // SAFETY: the caller guarantees `p` is readable.
        unsafe { addr_of!((*p).hRxCe).read() }
    }
}

fn count(n: usize) -> LONG {
    LONG::try_from(n).unwrap_or(LONG::MAX)
}

/// A built object found from its C structure.
pub(crate) struct Found<H> {
    pub(crate) handle: H,
    pub(crate) key: u64,
}

/// Checks the pointer itself: NULL or misaligned is a bad parameter.
fn check_pointer<T: CObject>(p: *const T) -> Result<(), Status> {
    if p.is_null() {
        return Err(Status::INVALID_PARAMETER.with_message(format!("the {} is NULL", T::KIND)));
    }
    if !p.is_aligned() {
        return Err(Status::INVALID_PARAMETER.with_message(format!("the {} pointer is misaligned", T::KIND)));
    }
    Ok(())
}

/// The signature of the structure at `p`.
///
/// # Safety
///
/// `p` is non-NULL, aligned and readable.
unsafe fn signature<T: CObject>(p: *const T) -> ULONG {
    // SAFETY: the caller guarantees `p` is readable; by the `CObject`
    // contract the signature is the first ULONG of the structure.
    unsafe { p.cast::<ULONG>().read() }
}

/// True when the structure at `p` carries no signature at all (never built).
///
/// # Safety
///
/// `p` is NULL or points to a readable structure of its kind.
pub(crate) unsafe fn never_built<T: CObject>(p: *const T) -> bool {
    // SAFETY: checked non-NULL and aligned first; readable by the caller's promise.
    check_pointer(p).is_ok() && unsafe { signature(p) } == 0
}

/// The built object at `p`: NULL is STATUS_INVALID_PARAMETER; a wrong
/// signature, or an object torn down, never built, copied or of another
/// engine, is STATUS_INVALID_HANDLE.
///
/// # Safety
///
/// `p` is NULL or points to memory readable as a `T` (the caller's
/// promise for every object pointer it passes).
pub(crate) unsafe fn lookup<T: CObject>(p: *const T) -> Result<Found<T::Handle>, Status> {
    check_pointer(p)?;
    // SAFETY: non-NULL and aligned (checked), readable by the caller's promise.
    if unsafe { signature(p) } != T::SIGNATURE {
        return Err(
            Status::INVALID_HANDLE.with_message(format!("the {} is not a built {0} (wrong signature)", T::KIND))
        );
    }
    // SAFETY: as above; the key is read only once the signature says the
    // memory is a structure of this kind.
    let key = unsafe { T::key(p) };
    match TABLE.find(key, p as usize, T::handle) {
        Some(handle) => Ok(Found { handle, key }),
        None => {
            Err(Status::INVALID_HANDLE.with_message(format!("the {} was torn down (or never built here)", T::KIND)))
        }
    }
}

/// Checks that `p` may be built into: not NULL, and not memory that holds
/// a built object of any kind (rebuilding it would lose that object). The
/// memory itself is not read.
pub(crate) fn check_unbuilt<T: CObject>(p: *const T) -> Result<(), Status> {
    check_pointer(p)?;
    TABLE.check_unbuilt(p as usize, T::KIND)
}

/// Claims `p` for a build: as [`check_unbuilt`], and not claimed by another
/// build under way.
pub(crate) fn claim_unbuilt<T: CObject>(p: *const T) -> Result<Claim, Status> {
    check_pointer(p)?;
    TABLE.claim(p as usize, T::KIND)
}

/// The connections and VCs the engine has below `object`: a VC counts
/// under its connection, and so under the connection's address and
/// transport, whichever address it runs over.
fn counts_below(object: &Object) -> (usize, usize) {
    let vcs = |connections: &[rxce::Connection]| connections.iter().map(|c| c.virtual_circuit_count()).sum();
    match object {
        Object::Transport(transport) => {
            let connections: Vec<_> = transport.addresses().iter().flat_map(|a| a.connections()).collect();
            (connections.len(), vcs(&connections))
        }
        Object::Address(address) => {
            let connections = address.connections();
            (connections.len(), vcs(&connections))
        }
        Object::Connection(connection, _) => (0, connection.virtual_circuit_count()),
        Object::Vc(_) => (0, 0),
    }
}

impl Held for Object {
    fn is_valid(&self) -> bool {
        match self {
            Object::Transport(transport) => transport.is_valid(),
            Object::Address(address) => address.is_valid(),
            Object::Connection(connection, _) => connection.is_valid(),
            Object::Vc(vc) => vc.is_valid(),
        }
    }

    fn is_leaf(&self) -> bool {
        matches!(self, Object::Vc(_))
    }

    /// Writes the engine's counts of connections and VCs below the object
    /// into its C structure.
    unsafe fn publish_counts(&self, at: usize) {
        let (connections, vcs) = counts_below(self);
        // SAFETY: `at` is the structure of the object's kind, valid (the
        // caller's promise).
        unsafe {
            match self {
                Object::Transport(_) => {
                    let p = at as *mut RXCE_TRANSPORT;
                    (*p).ConnectionCount = count(connections);
                    (*p).VirtualCircuitCount = count(vcs);
                }
                Object::Address(_) => {
                    let p = at as *mut RXCE_ADDRESS;
                    (*p).ConnectionCount = count(connections);
                    (*p).VirtualCircuitCount = count(vcs);
                }
                Object::Connection(..) => {
                    (*(at as *mut RXCE_CONNECTION)).VirtualCircuitCount = ULONG::try_from(vcs).unwrap_or(ULONG::MAX)
                }
                Object::Vc(_) => {}
            }
        }
    }

    /// Clears the documented fields of a torn-down object, keeping the
    /// signature and the (now stale) key so a second tear-down is told
    /// apart from an object never built.
    unsafe fn uninitialise(&self, at: usize) {
        use std::ptr::null_mut as null;
        // SAFETY: `at` is the structure of the object's kind, valid until
        // its tear-down, which this is (the caller's promise).
        unsafe {
            match self {
                Object::Transport(_) => {
                    let p = at as *mut RXCE_TRANSPORT;
                    (*p).Name = _UNICODE_STRING {
                        Length: 0,
                        MaximumLength: 0,
                        Buffer: null(),
                    };
                    (*p).pProviderInfo = null();
                    (*p).ConnectionCount = 0;
                    (*p).VirtualCircuitCount = 0;
                    (*p).QualityOfService = 0;
                }
                Object::Address(_) => {
                    let p = at as *mut RXCE_ADDRESS;
                    (*p).pTransport = null();
                    (*p).pTransportAddress = null();
                    (*p).pContext = null();
                    (*p).pHandler = null();
                    (*p).ConnectionCount = 0;
                    (*p).VirtualCircuitCount = 0;
                }
                Object::Connection(..) => {
                    let p = at as *mut RXCE_CONNECTION;
                    (*p).pAddress = null();
                    (*p).VirtualCircuitCount = 0;
                    (*p).pContext = null();
                    (*p).pHandler = null();
                    (*p).pConnectionInformation = null();
                }
                Object::Vc(_) => {
                    let p = at as *mut RXCE_VC;
                    (*p).pConnection = null();
                    (*p).State = RXCE_VC_TORN_DOWN;
                }
            }
        }
    }
}

/// Records a newly built object and initialises its C structure with what
/// `init` makes of its key. `copies` is what the structure's pointer fields
/// point to; it lives as long as the object.
///
/// A parent torn down meanwhile is STATUS_INVALID_HANDLE, memory that
/// another build got to first STATUS_INVALID_PARAMETER, and nothing is
/// recorded: the caller tears the engine object down again.
///
/// # Safety
///
/// `p` is a valid, writable structure of its kind, which the caller keeps
/// valid and in place until the object is torn down.
pub(crate) unsafe fn register<T: CObject>(
    p: *mut T,
    object: Object,
    parent: Option<u64>,
    copies: Box<dyn Send>,
    init: impl FnOnce(u64) -> T,
) -> Result<u64, Status> {
    let write = |key| {
        // SAFETY: the caller guarantees `p` is valid and writable.
        unsafe { p.write(init(key)) }
    };
    // SAFETY: `p` is kept valid and in place (the caller's promise).
    unsafe { TABLE.insert(p as usize, object, parent, copies, T::KIND, write) }
}

/// Forgets the object `key`, and every object the engine tore down with it
/// (for a parent's tear-down), uninitialising their C structures and
/// updating the counts above.
pub(crate) fn remove(key: u64) {
    TABLE.remove(key);
}

/// True when no object is built and no build holds a claim.
pub(crate) fn nothing_built() -> bool {
    TABLE.is_empty()
}

/// Forgets every object (the engine was shut down), and every claim, and
/// lets the table's memory go. Their structures are not touched: the caller
/// may have let them go already.
pub(crate) fn forget_all() {
    TABLE.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeroed<T>() -> T {
        // SAFETY: the object structures are plain data for which all-zero
        // bytes are valid (null pointers, zero counts).
        unsafe { std::mem::zeroed() }
    }

    #[test]
    fn null_is_a_bad_parameter_and_zeroed_a_bad_handle() {
        // SAFETY: NULL and a zeroed local are both allowed inputs.
        unsafe {
            let null = std::ptr::null::<RXCE_VC>();
            assert_eq!(lookup(null).err(), Some(Status::INVALID_PARAMETER));
            assert_eq!(check_unbuilt(null).err(), Some(Status::INVALID_PARAMETER));
            let vc: RXCE_VC = zeroed();
            assert_eq!(lookup(&vc).err(), Some(Status::INVALID_HANDLE));
            assert!(check_unbuilt(&vc).is_ok());
            assert!(never_built(&vc));
        }
    }

    #[test]
    fn a_claimed_object_cannot_be_claimed_again_until_released() {
        let vc: RXCE_VC = zeroed();
        let claim = claim_unbuilt(&vc).unwrap();
        assert_eq!(claim_unbuilt(&vc).err(), Some(Status::INVALID_PARAMETER));
        drop(claim);
        assert!(claim_unbuilt(&vc).is_ok());
        assert_eq!(
            claim_unbuilt(std::ptr::null::<RXCE_VC>()).err(),
            Some(Status::INVALID_PARAMETER)
        );
    }

    #[test]
    fn a_wrong_signature_or_a_forged_key_is_a_bad_handle() {
        let mut vc: RXCE_VC = zeroed();
        vc.Signature = RXCE_ADDRESS_SIGNATURE;
        // SAFETY: `vc` is a valid local.
        assert_eq!(unsafe { lookup(&vc) }.err(), Some(Status::INVALID_HANDLE));
        vc.Signature = RXCE_VC_SIGNATURE;
        vc.hRxCe = u64::MAX;
        // SAFETY: as above.
        unsafe {
            assert_eq!(lookup(&vc).err(), Some(Status::INVALID_HANDLE));
            assert!(!never_built(&vc));
        }
    }
}

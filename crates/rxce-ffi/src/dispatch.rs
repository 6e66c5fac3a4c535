//! The C dispatch vectors as the engine's handler traits: each handler
//! calls the C member with the caller's event context, or does what the
//! trait's default does when the member is NULL.
//!
//! A VC's callbacks get the caller's `PRXCE_VC` (or, for the further VCs
//! of an all-successful multi-transport build, one rxce allocated): the
//! connection's [`ConnectionObjects`] find it, registering the VC first if
//! its indication comes before its build has returned — so no callback
//! waits and none sees an unbuilt VC. The handlers also note, per thread,
//! which VC's callback is running, so a routine called from inside a
//! callback can avoid waiting for that callback.

use std::cell::{Cell, RefCell};
use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rxce::{
    Address, AddressEventHandler, ConnectionEventHandler, DatagramIndication, DisconnectFlags, Indication, NoEvents,
    ReceiveAnswer, ReceiveBuffer, Status, Vc,
};

use crate::connection::ConnectionObjects;
use crate::convert::{encode_transport_address, MdlReceiveBuffer};
use crate::panic::callback_boundary;
use crate::types::{
    LONG, NTSTATUS, PMDL, PRXCE_IND_DATA_READY, PRXCE_IND_RECEIVE, PRXCE_IND_RECEIVE_DATAGRAM, PVOID,
    RXCE_ADDRESS_EVENT_HANDLER, RXCE_CONNECTION_EVENT_HANDLER, RXCE_VC, STATUS_MORE_PROCESSING_REQUIRED,
    STATUS_SUCCESS, ULONG,
};

thread_local! {
    /// Callbacks running on this thread (nested only through odd C code).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The VC whose callback runs on this thread.
    static RUNNING_VC: RefCell<Option<Vc>> = const { RefCell::new(None) };
}

/// Runs `f` (a call into C) marked as a callback (of `vc`, if any) on this
/// thread.
pub(crate) fn as_callback<R>(vc: Option<&Vc>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Vc>);
    impl Drop for Restore {
        fn drop(&mut self) {
            RUNNING_VC.with(|r| *r.borrow_mut() = self.0.take());
            DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    DEPTH.with(|d| d.set(d.get() + 1));
    let _restore = Restore(RUNNING_VC.with(|r| r.replace(vc.cloned())));
    f()
}

/// True inside any callback on this thread.
pub(crate) fn in_callback() -> bool {
    DEPTH.with(Cell::get) > 0
}

/// The VC whose callback runs on this thread, if any.
pub(crate) fn running_vc() -> Option<Vc> {
    RUNNING_VC.with(|r| r.borrow().clone())
}

/// The address of the RXCE_VC a VC belongs to: the engine keeps it as the
/// VC's data ([`Vc::data`]) from before its first indication; and whether
/// it is in the handle table yet.
pub(crate) struct VcAt {
    at: usize,
    registered: AtomicBool,
}

impl VcAt {
    pub(crate) fn new(p: *mut RXCE_VC) -> Arc<VcAt> {
        Arc::new(VcAt {
            at: p as usize,
            registered: AtomicBool::new(false),
        })
    }
}

fn vc_data(vc: &Vc) -> Option<&VcAt> {
    vc.data().and_then(|data| data.downcast_ref::<VcAt>())
}

/// The RXCE_VC kept with `vc` (NULL when none is).
pub(crate) fn vc_at(vc: &Vc) -> *mut RXCE_VC {
    vc_data(vc).map_or(std::ptr::null_mut(), |data| data.at as *mut RXCE_VC)
}

/// The RXCE_VC of `vc` once it is in the handle table: what its callbacks
/// get, found without any lock.
pub(crate) fn registered_vc_at(vc: &Vc) -> Option<*mut RXCE_VC> {
    vc_data(vc)
        .filter(|data| data.registered.load(Ordering::Acquire))
        .map(|data| data.at as *mut RXCE_VC)
}

/// Notes that `vc` is in the handle table.
pub(crate) fn mark_registered(vc: &Vc) {
    if let Some(data) = vc_data(vc) {
        data.registered.store(true, Ordering::Release);
    }
}

/// Mirrors the VC's state into its RXCE_VC.
pub(crate) fn publish_state(p: *mut RXCE_VC, vc: &Vc) {
    if !p.is_null() {
        // SAFETY: `p` is a registered RXCE_VC: the caller's memory, kept
        // valid until its tear-down (no indication runs after that), or one
        // rxce owns, alive while its connection's handler is.
        unsafe { std::ptr::addr_of_mut!((*p).State).write_volatile(vc.state() as LONG) };
    }
}

fn ulong(n: usize) -> ULONG {
    ULONG::try_from(n).unwrap_or(ULONG::MAX)
}

/// The engine's answer for a C receive handler's status and out-values.
fn answer(status: NTSTATUS, taken: ULONG, mdl: PMDL, size: ULONG, indicated: usize) -> ReceiveAnswer {
    let taken = (taken as usize).min(indicated);
    match status {
        STATUS_SUCCESS => ReceiveAnswer::Taken(taken),
        STATUS_MORE_PROCESSING_REQUIRED => {
            // SAFETY: the handler returned the chain for rxce to fill; TDI's
            // rule (documented on PRXCE_IND_RECEIVE) keeps it valid and
            // untouched until data-ready.
            match unsafe { MdlReceiveBuffer::new(mdl, size as usize) } {
                Ok(buffer) => ReceiveAnswer::MoreProcessingRequired {
                    taken,
                    buffer: Box::new(buffer),
                    size: size as usize,
                },
                Err(_) => ReceiveAnswer::NotAccepted,
            }
        }
        _ => ReceiveAnswer::NotAccepted,
    }
}

/// Calls a C receive (or expedited receive) handler for `vc`, whose
/// RXCE_VC is `p`.
fn indicate(
    handler: PRXCE_IND_RECEIVE,
    context: PVOID,
    (vc, p): (&Vc, *mut RXCE_VC),
    indication: &Indication<'_>,
) -> Option<ReceiveAnswer> {
    let f = handler?;
    let (mut taken, mut mdl, mut size): (ULONG, PMDL, ULONG) = (0, std::ptr::null_mut(), 0);
    let indicated = indication.data.len();
    // SAFETY: `f` is the caller's handler of this documented type; the
    // Tsdu is valid for BytesIndicated bytes during the call and the
    // out-pointers are valid locals.
    let status = as_callback(Some(vc), || unsafe {
        f(
            context,
            p,
            indication.flags.bits(),
            ulong(indicated),
            ulong(indication.available),
            &mut taken,
            indication.data.as_ptr().cast_mut().cast(),
            &mut mdl,
            &mut size,
        )
    });
    Some(answer(status, taken, mdl, size, indicated))
}

/// Calls a C receive-datagram handler.
fn indicate_datagram(
    handler: PRXCE_IND_RECEIVE_DATAGRAM,
    context: PVOID,
    vc: Option<&Vc>,
    datagram: &DatagramIndication<'_>,
) -> Option<ReceiveAnswer> {
    let f = handler?;
    let source = encode_transport_address(datagram.source);
    let indication = &datagram.indication;
    let (mut taken, mut mdl, mut size): (ULONG, PMDL, ULONG) = (0, std::ptr::null_mut(), 0);
    let indicated = indication.data.len();
    // SAFETY: `f` is the caller's handler of this documented type; the
    // source address and Tsdu are valid for their lengths during the call
    // and the out-pointers are valid locals.
    let status = as_callback(vc, || unsafe {
        f(
            context,
            c_int::try_from(source.len()).unwrap_or(c_int::MAX),
            source.as_ptr().cast_mut().cast(),
            0,
            std::ptr::null_mut(),
            indication.flags.bits(),
            ulong(indicated),
            ulong(indication.available),
            &mut taken,
            indication.data.as_ptr().cast_mut().cast(),
            &mut mdl,
            &mut size,
        )
    });
    Some(answer(status, taken, mdl, size, indicated))
}

/// Calls a C data-ready handler with the chain the engine hands back.
fn data_ready(
    handler: PRXCE_IND_DATA_READY,
    context: PVOID,
    vc: Option<&Vc>,
    buffer: Box<dyn ReceiveBuffer>,
    copied: usize,
    status: Status,
) {
    if let Some(f) = handler {
        let head = MdlReceiveBuffer::head_of(buffer);
        // SAFETY: `f` is the caller's handler of this documented type; the
        // chain is the one it returned.
        as_callback(vc, || unsafe { f(context, head, ulong(copied), status.as_ntstatus()) });
    }
}

/// RXCE_CONNECTION_EVENT_HANDLER as a [`ConnectionEventHandler`], for one
/// connection.
pub(crate) struct CConnectionHandler {
    vector: RXCE_CONNECTION_EVENT_HANDLER,
    context: usize,
    objects: Arc<ConnectionObjects>,
}

impl CConnectionHandler {
    pub(crate) fn new(vector: RXCE_CONNECTION_EVENT_HANDLER, context: PVOID, objects: Arc<ConnectionObjects>) -> Self {
        CConnectionHandler {
            vector,
            context: context as usize,
            objects,
        }
    }

    fn context(&self) -> PVOID {
        self.context as PVOID
    }

    /// The RXCE_VC for a callback of `vc`.
    fn c_vc(&self, vc: &Vc) -> *mut RXCE_VC {
        registered_vc_at(vc).unwrap_or_else(|| self.objects.c_vc(vc))
    }
}

impl ConnectionEventHandler for CConnectionHandler {
    fn disconnect(&self, vc: &Vc, flags: DisconnectFlags, _status: Status) {
        callback_boundary!((), {
            let p = self.c_vc(vc);
            publish_state(p, vc);
            if let Some(f) = self.vector.RxCeDisconnectEventHandler {
                let null = std::ptr::null_mut();
                // SAFETY: the caller's handler of this documented type; the
                // data and information pointers are NULL with length 0.
                as_callback(Some(vc), || unsafe {
                    f(self.context(), p, 0, null, 0, null, flags.bits())
                });
            }
        })
    }

    fn error(&self, vc: &Vc, status: Status) {
        callback_boundary!((), {
            if let Some(f) = self.vector.RxCeErrorEventHandler {
                let p = self.c_vc(vc);
                // SAFETY: the caller's handler of this documented type.
                as_callback(Some(vc), || unsafe { f(self.context(), p, status.as_ntstatus()) });
            }
        })
    }

    fn receive(&self, vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        callback_boundary!(ReceiveAnswer::NotAccepted, {
            let handler = self.vector.RxCeReceiveEventHandler;
            let p = if handler.is_some() {
                self.c_vc(vc)
            } else {
                std::ptr::null_mut()
            };
            indicate(handler, self.context(), (vc, p), indication).unwrap_or_else(|| NoEvents.receive(vc, indication))
        })
    }

    fn receive_datagram(&self, vc: &Vc, datagram: &DatagramIndication<'_>) -> ReceiveAnswer {
        callback_boundary!(ReceiveAnswer::Taken(datagram.indication.data.len()), {
            let handler = self.vector.RxCeReceiveDatagramEventHandler;
            indicate_datagram(handler, self.context(), Some(vc), datagram)
                .unwrap_or_else(|| ConnectionEventHandler::receive_datagram(&NoEvents, vc, datagram))
        })
    }

    fn receive_expedited(&self, vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        callback_boundary!(ReceiveAnswer::NotAccepted, {
            let handler = self.vector.RxCeReceiveExpeditedEventHandler;
            let p = if handler.is_some() {
                self.c_vc(vc)
            } else {
                std::ptr::null_mut()
            };
            indicate(handler, self.context(), (vc, p), indication).unwrap_or_else(|| self.receive(vc, indication))
        })
    }

    fn send_possible(&self, vc: &Vc, bytes_available: usize) {
        callback_boundary!((), {
            if let Some(f) = self.vector.RxCeSendPossibleEventHandler {
                let p = self.c_vc(vc);
                // SAFETY: the caller's handler of this documented type.
                as_callback(Some(vc), || unsafe { f(self.context(), p, ulong(bytes_available)) });
            }
        })
    }

    fn data_ready(&self, vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        callback_boundary!((), {
            let handler = self.vector.RxCeDataReadyEventHandler;
            data_ready(handler, self.context(), Some(vc), buffer, copied, status);
        })
    }

    fn send_complete(&self, vc: &Vc, completion_context: usize, status: Status, _bytes: usize) {
        callback_boundary!((), {
            if let Some(f) = self.vector.RxCeSendCompleteEventHandler {
                let p = self.c_vc(vc);
                let completion = completion_context as PVOID;
                // SAFETY: the caller's handler of this documented type, with
                // the completion context it gave RxCeSend.
                as_callback(Some(vc), || unsafe {
                    f(self.context(), p, completion, status.as_ntstatus())
                });
            }
        })
    }

    fn send_submitted(&self, vc: &Vc, completion_context: usize, status: Status) {
        callback_boundary!((), {
            if let Some(f) = self.vector.RxCeSendSubmittedEventHandler {
                let p = self.c_vc(vc);
                let completion = completion_context as PVOID;
                // SAFETY: as for send-complete.
                as_callback(Some(vc), || unsafe {
                    f(self.context(), p, completion, status.as_ntstatus())
                });
            }
        })
    }
}

/// RXCE_ADDRESS_EVENT_HANDLER as an [`AddressEventHandler`].
pub(crate) struct CAddressHandler {
    vector: RXCE_ADDRESS_EVENT_HANDLER,
    context: usize,
}

impl CAddressHandler {
    pub(crate) fn new(vector: RXCE_ADDRESS_EVENT_HANDLER, context: PVOID) -> Self {
        CAddressHandler {
            vector,
            context: context as usize,
        }
    }

    fn context(&self) -> PVOID {
        self.context as PVOID
    }
}

impl AddressEventHandler for CAddressHandler {
    fn error(&self, _address: &Address, status: Status) {
        callback_boundary!((), {
            if let Some(f) = self.vector.RxCeErrorEventHandler {
                // SAFETY: the caller's handler of this documented type.
                as_callback(None, || unsafe { f(self.context(), status.as_ntstatus()) });
            }
        })
    }

    fn receive_datagram(&self, address: &Address, datagram: &DatagramIndication<'_>) -> ReceiveAnswer {
        callback_boundary!(ReceiveAnswer::Taken(datagram.indication.data.len()), {
            let handler = self.vector.RxCeReceiveDatagramEventHandler;
            indicate_datagram(handler, self.context(), None, datagram)
                .unwrap_or_else(|| AddressEventHandler::receive_datagram(&NoEvents, address, datagram))
        })
    }

    fn data_ready(&self, _address: &Address, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        callback_boundary!((), {
            let handler = self.vector.RxCeDataReadyEventHandler;
            data_ready(handler, self.context(), None, buffer, copied, status);
        })
    }

    fn send_possible(&self, _address: &Address, vc: Option<&Vc>, bytes_available: usize) {
        callback_boundary!((), {
            if let Some(f) = self.vector.RxCeSendPossibleEventHandler {
                // The engine names no VC here today; a VC's data is its RXCE_VC.
                let p = vc.map_or(std::ptr::null_mut(), vc_at);
                // SAFETY: the caller's handler of this documented type.
                as_callback(vc, || unsafe { f(self.context(), p, ulong(bytes_available)) });
            }
        })
    }

    fn send_complete(&self, _address: &Address, completion_context: usize, status: Status) {
        callback_boundary!((), {
            if let Some(f) = self.vector.RxCeSendCompleteEventHandler {
                let completion = completion_context as PVOID;
                // SAFETY: the caller's handler of this documented type, with
                // the completion context it gave RxCeSendDatagram.
                as_callback(None, || unsafe { f(self.context(), completion, status.as_ntstatus()) });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use rxce::{Engine, EngineConfig, ReceiveFlags, TransportAddress};

    use super::*;
    use crate::types::{_MDL, MDL, PULONG, STATUS_CANCELLED, STATUS_DATA_NOT_ACCEPTED};

    #[test]
    fn handler_statuses_become_engine_answers() {
        let none = std::ptr::null_mut();
        assert!(matches!(
            answer(STATUS_SUCCESS, 3, none, 0, 10),
            ReceiveAnswer::Taken(3)
        ));
        assert!(matches!(
            answer(STATUS_SUCCESS, 30, none, 0, 10),
            ReceiveAnswer::Taken(10)
        ));
        assert!(matches!(
            answer(STATUS_DATA_NOT_ACCEPTED, 0, none, 0, 10),
            ReceiveAnswer::NotAccepted
        ));
        assert!(matches!(
            answer(STATUS_CANCELLED, 4, none, 0, 10),
            ReceiveAnswer::NotAccepted
        ));
        assert!(matches!(
            answer(STATUS_MORE_PROCESSING_REQUIRED, 2, none, 8, 10),
            ReceiveAnswer::NotAccepted
        ));
        let mut bytes = [0u8; 8];
        let mut chain = MDL {
            Next: std::ptr::null_mut(),
            MappedSystemVa: bytes.as_mut_ptr().cast(),
            ByteCount: 8,
        };
        match answer(STATUS_MORE_PROCESSING_REQUIRED, 2, &mut chain, 8, 10) {
            ReceiveAnswer::MoreProcessingRequired { taken, buffer, size } => {
                assert_eq!((taken, size, buffer.capacity()), (2, 8, 8));
                assert_eq!(MdlReceiveBuffer::head_of(buffer), &mut chain as PMDL);
            }
            other => panic!("{other:?}"),
        }
    }

    /// What the test's C-style datagram handler saw: source, data.
    static SEEN: Mutex<Option<(Vec<u8>, Vec<u8>)>> = Mutex::new(None);

    unsafe extern "C" fn take_two(
        _context: PVOID,
        source_length: c_int,
        source: PVOID,
        _options_length: c_int,
        _options: PVOID,
        _flags: ULONG,
        indicated: ULONG,
        _available: ULONG,
        taken: *mut ULONG,
        tsdu: PVOID,
        _chain: *mut *mut _MDL,
        _size: PULONG,
    ) -> NTSTATUS {
        // SAFETY: rxce passes a source and a TSDU valid for their lengths and
        // a writable BytesTaken.
        unsafe {
            let source = std::slice::from_raw_parts(source.cast::<u8>(), source_length as usize);
            let data = std::slice::from_raw_parts(tsdu.cast::<u8>(), indicated as usize);
            *SEEN.lock().unwrap() = Some((source.to_vec(), data.to_vec()));
            *taken = 2;
        }
        STATUS_SUCCESS
    }

    #[test]
    fn a_datagram_reaches_the_c_handler_with_its_source_address() {
        let engine = Engine::new(EngineConfig::default()).unwrap();
        let transport = engine.build_transport("memory", 0).unwrap();
        let vector = RXCE_ADDRESS_EVENT_HANDLER {
            RxCeReceiveDatagramEventHandler: Some(take_two),
            ..RXCE_ADDRESS_EVENT_HANDLER::default()
        };
        let handler = Arc::new(CAddressHandler::new(vector, std::ptr::null_mut()));
        let address = transport
            .build_address(TransportAddress::memory("datagrams"), handler.clone())
            .unwrap();
        let source = TransportAddress::ip("127.0.0.1:137".parse().unwrap());
        let datagram = DatagramIndication {
            source: &source,
            indication: Indication {
                flags: ReceiveFlags::NORMAL,
                data: b"abcd",
                available: 4,
            },
        };
        assert!(matches!(
            handler.receive_datagram(&address, &datagram),
            ReceiveAnswer::Taken(2)
        ));
        let seen = SEEN.lock().unwrap().take().unwrap();
        assert_eq!(seen, (encode_transport_address(&source), b"abcd".to_vec()));

        let defaults = CAddressHandler::new(RXCE_ADDRESS_EVENT_HANDLER::default(), std::ptr::null_mut());
        assert!(matches!(
            defaults.receive_datagram(&address, &datagram),
            ReceiveAnswer::Taken(4)
        ));
    }
}

//! The VC's receive handler: turns indications into events for the session
//! driver, and puts READ payloads straight into the caller's buffers.
//!
//! Framed transports (`tcp+smb`, `netbt`) indicate one SMB2 message at a
//! time, starting at its header. For a successful READ whose message id has
//! a buffer posted, the handler answers MORE_PROCESSING_REQUIRED with the
//! header and fixed body taken and the buffer for the payload: the engine
//! moves the payload bytes it already holds into the buffer, reads the rest
//! from the socket straight into it, and hands the buffer back through
//! data-ready. Any other message is handed over whole (from the indication
//! when it is whole there, else assembled through a client buffer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rxce::{ConnectionEventHandler, DisconnectFlags, Indication, ReceiveAnswer, ReceiveBuffer, Status, Vc};
use rxce_smb2::file::ReadResponse;
use rxce_smb2::ResponseHeader;
use tokio::sync::mpsc;

/// The longest non-READ message accepted (a QUERY_DIRECTORY answer is at
/// most the output length asked for, 64 KiB).
const MAX_MESSAGE: usize = 1 << 20;

/// What the handler tells the session driver.
pub(crate) enum Event {
    /// A whole message (possibly a compound chain).
    Message(Vec<u8>),
    /// A READ's payload is in its buffer.
    ReadData(ReadData),
    /// The VC is gone.
    Disconnected(Status),
}

/// A READ answered through a posted buffer.
pub(crate) struct ReadData {
    /// The READ response's header.
    pub(crate) header: ResponseHeader,
    /// The buffer posted for it.
    pub(crate) buffer: Box<dyn ReceiveBuffer>,
    /// Payload bytes in the buffer.
    pub(crate) copied: usize,
    /// SUCCESS, or why the fill ended early (the VC failed).
    pub(crate) status: Status,
    /// Payload bytes the engine already held when the handler answered
    /// (moved from its lookahead; the rest came from the socket straight
    /// into the buffer).
    pub(crate) from_lookahead: usize,
}

/// What the handler is filling now.
enum Filling {
    Read {
        header: ResponseHeader,
        from_lookahead: usize,
        /// Bytes of the message after the payload, skipped afterwards.
        trailing: usize,
    },
    Message,
}

#[derive(Default)]
struct State {
    posted: HashMap<u64, Box<dyn ReceiveBuffer>>,
    filling: Option<Filling>,
    /// Bytes left of a message whose payload was filled (padding after the
    /// data), to be skipped before the next header.
    skip: usize,
}

/// The receive handler of one session's VC.
pub(crate) struct SessionHandler {
    state: Mutex<State>,
    events: mpsc::UnboundedSender<Event>,
}

impl SessionHandler {
    /// A handler and the receiver of its events.
    pub(crate) fn new() -> (Arc<SessionHandler>, mpsc::UnboundedReceiver<Event>) {
        let (events, rx) = mpsc::unbounded_channel();
        let handler = SessionHandler {
            state: Mutex::new(State::default()),
            events,
        };
        (Arc::new(handler), rx)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Posts the buffer the payload of READ `message_id` goes into.
    pub(crate) fn post(&self, message_id: u64, buffer: Box<dyn ReceiveBuffer>) {
        self.state().posted.insert(message_id, buffer);
    }

    /// Takes back a buffer posted for a READ that failed.
    pub(crate) fn unpost(&self, message_id: u64) -> Option<Box<dyn ReceiveBuffer>> {
        self.state().posted.remove(&message_id)
    }

    fn send(&self, event: Event) {
        // The driver may be gone (the transfer ended); nothing to tell.
        let _ = self.events.send(event);
    }

    /// The answer for a READ response with a posted buffer, if this is one.
    fn read_answer(&self, state: &mut State, indication: &Indication<'_>, message_len: usize) -> Option<ReceiveAnswer> {
        let data = indication.data;
        let read = ReadResponse::parse(data, message_len).ok()?;
        if read.header.is_interim() || read.data_length == 0 || read.data_offset > data.len() {
            return None;
        }
        let buffer = state.posted.remove(&read.header.message_id)?;
        let size = read.data_length.min(buffer.capacity());
        state.filling = Some(Filling::Read {
            header: read.header,
            from_lookahead: (data.len() - read.data_offset).min(size),
            trailing: message_len - read.data_offset - size,
        });
        Some(ReceiveAnswer::MoreProcessingRequired {
            taken: read.data_offset,
            buffer,
            size,
        })
    }
}

impl ConnectionEventHandler for SessionHandler {
    fn receive(&self, _vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        let mut state = self.state();
        if state.skip > 0 {
            let n = state.skip.min(indication.data.len());
            state.skip -= n;
            return ReceiveAnswer::Taken(n);
        }
        let message_len = indication.available.max(indication.data.len());
        if let Some(answer) = self.read_answer(&mut state, indication, message_len) {
            return answer;
        }
        if indication.data.len() == message_len {
            drop(state);
            self.send(Event::Message(indication.data.to_vec()));
            return ReceiveAnswer::take_all(indication);
        }
        if message_len > MAX_MESSAGE {
            drop(state);
            self.send(Event::Disconnected(Status::INVALID_NETWORK_RESPONSE.with_message(
                format!("the server sent a {message_len}-byte message that is not a READ answer"),
            )));
            return ReceiveAnswer::take_all(indication);
        }
        state.filling = Some(Filling::Message);
        ReceiveAnswer::MoreProcessingRequired {
            taken: 0,
            buffer: Box::new(vec![0u8; message_len]),
            size: message_len,
        }
    }

    fn data_ready(&self, _vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        let mut state = self.state();
        match state.filling.take() {
            Some(Filling::Read {
                header,
                from_lookahead,
                trailing,
            }) => {
                state.skip = trailing;
                drop(state);
                self.send(Event::ReadData(ReadData {
                    header,
                    buffer,
                    copied,
                    status,
                    from_lookahead,
                }));
            }
            Some(Filling::Message) => {
                drop(state);
                let any: Box<dyn std::any::Any + Send> = buffer;
                let event = match (status.ok(), any.downcast::<Vec<u8>>()) {
                    (Ok(()), Ok(mut bytes)) => {
                        bytes.truncate(copied);
                        Event::Message(*bytes)
                    }
                    (Err(status), _) => Event::Disconnected(status),
                    (Ok(()), Err(_)) => Event::Disconnected(Status::INVALID_PARAMETER.with_message("a foreign buffer")),
                };
                self.send(event);
            }
            None => {}
        }
    }

    fn disconnect(&self, _vc: &Vc, _flags: DisconnectFlags, status: Status) {
        let status = if status.is_success() {
            Status::CONNECTION_DISCONNECTED.with_message("the server closed the connection")
        } else {
            status
        };
        self.send(Event::Disconnected(status));
    }
}

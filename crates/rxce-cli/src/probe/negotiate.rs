//! The probe's client: sends an SMB2 NEGOTIATE on a VC and takes the
//! server's first message whole (from the indication, or through a client
//! buffer when it is longer than the lookahead).

use std::sync::{Arc, Mutex};

use rxce::{ConnectionEventHandler, DisconnectFlags, Indication, ReceiveAnswer, ReceiveBuffer, Status, Vc};
use rxce_smb2::Smb2Error;
use tokio::sync::oneshot;

/// The longest answer taken as a NEGOTIATE response.
const MAX_RESPONSE: usize = 1 << 20;

/// The server's first message, or why none came.
pub(crate) type Answer = Result<Vec<u8>, Status>;

/// A connection handler that hands the first message received to a
/// channel, and a disconnect before it as a failure.
pub(crate) struct NegotiateClient {
    answer: Mutex<Option<oneshot::Sender<Answer>>>,
}

impl NegotiateClient {
    /// A handler and the receiver of its one answer.
    pub(crate) fn new() -> (Arc<NegotiateClient>, oneshot::Receiver<Answer>) {
        let (tx, rx) = oneshot::channel();
        let client = NegotiateClient {
            answer: Mutex::new(Some(tx)),
        };
        (Arc::new(client), rx)
    }

    fn deliver(&self, answer: Answer) {
        let sender = self.answer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(sender) = sender {
            let _ = sender.send(answer);
        }
    }
}

impl ConnectionEventHandler for NegotiateClient {
    fn receive(&self, _vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        // Framed transports indicate whole messages: `available` is the
        // message's length.
        let whole = indication.available.max(indication.data.len());
        if indication.data.len() == whole {
            self.deliver(Ok(indication.data.to_vec()));
            return ReceiveAnswer::take_all(indication);
        }
        if whole > MAX_RESPONSE {
            self.deliver(Err(Status::INVALID_NETWORK_RESPONSE.with_message(format!(
                "the server's first message has {whole} bytes: no NEGOTIATE response is that long"
            ))));
            return ReceiveAnswer::take_all(indication);
        }
        ReceiveAnswer::MoreProcessingRequired {
            taken: 0,
            buffer: Box::new(vec![0u8; whole]),
            size: whole,
        }
    }

    fn data_ready(&self, _vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        let any: Box<dyn std::any::Any + Send> = buffer;
        match (status.ok(), any.downcast::<Vec<u8>>()) {
            (Ok(()), Ok(mut bytes)) => {
                bytes.truncate(copied);
                self.deliver(Ok(*bytes));
            }
            (Err(status), _) => self.deliver(Err(status)),
            (Ok(()), Err(_)) => self.deliver(Err(Status::INVALID_PARAMETER.with_message("a foreign receive buffer"))),
        }
    }

    fn disconnect(&self, _vc: &Vc, _flags: DisconnectFlags, status: Status) {
        self.deliver(Err(Status::CONNECTION_DISCONNECTED.with_message(format!(
            "the server closed the connection before answering the NEGOTIATE ({})",
            status.name()
        ))));
    }
}

/// The status an unusable NEGOTIATE answer stands for: the server's own
/// status when it refused, STATUS_INVALID_NETWORK_RESPONSE otherwise.
pub(crate) fn answer_status(error: Smb2Error) -> Status {
    match error {
        Smb2Error::ServerStatus(code) => {
            Status::from_code(code).with_message(format!("the server refused the NEGOTIATE with status {code:#010x}"))
        }
        other => Status::INVALID_NETWORK_RESPONSE.with_message(format!("not an SMB2 NEGOTIATE response: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_servers_status() {
        let status = answer_status(Smb2Error::ServerStatus(0xC000_00BB));
        assert_eq!(status, Status::NOT_SUPPORTED);
        let status = answer_status(Smb2Error::Smb1Reply);
        assert_eq!(status, Status::INVALID_NETWORK_RESPONSE);
        assert!(status.message().unwrap().contains("SMB1"), "{status}");
    }
}

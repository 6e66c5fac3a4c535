//! One VC's conversation with smbd, sans I/O: a NEGOTIATE first, then ECHO
//! requests within the credits the server granted, each answer matched to
//! its request.

use std::collections::BTreeSet;

use rxce_smb2::{command, parse_echo_response, parse_negotiate_response, EchoRequest, NegotiateRequest};

/// Credits each ECHO asks for: enough for a few requests in flight.
const CREDIT_REQUEST: u16 = 8;

/// What one VC asked smbd and what it answered.
#[derive(Debug, Clone)]
pub struct SmbConversation {
    next_id: u64,
    /// Credits left to spend (a connection starts with one).
    credits: u32,
    outstanding: BTreeSet<u64>,
    negotiated: bool,
}

impl Default for SmbConversation {
    fn default() -> SmbConversation {
        SmbConversation {
            next_id: 0,
            credits: 1,
            outstanding: BTreeSet::new(),
            negotiated: false,
        }
    }
}

impl SmbConversation {
    /// The next request to send, or `None` while no credit is left (or the
    /// NEGOTIATE is not answered yet).
    pub fn next_request(&mut self) -> Option<Vec<u8>> {
        if self.credits == 0 || (self.next_id > 0 && !self.negotiated) {
            return None;
        }
        let id = self.next_id;
        let bytes = if id == 0 {
            NegotiateRequest::default()
                .encode()
                .expect("the default request offers dialects")
        } else {
            EchoRequest {
                message_id: id,
                credit_request: CREDIT_REQUEST,
            }
            .encode()
        };
        self.credits -= 1;
        self.next_id += 1;
        self.outstanding.insert(id);
        Some(bytes)
    }

    /// The last request from [`next_request`](Self::next_request) was not
    /// sent (refused before it was queued): its id and credit are free again.
    pub fn unsend(&mut self) {
        if self.next_id > 0 && self.outstanding.remove(&(self.next_id - 1)) {
            self.next_id -= 1;
            self.credits += 1;
        }
    }

    /// One whole message from the server: an answer to an outstanding
    /// request, with status SUCCESS.
    pub fn response(&mut self, message: &[u8]) -> Result<(), String> {
        let command = message.get(12..14).map(|c| u16::from_le_bytes([c[0], c[1]]));
        let (id, granted) = if command == Some(command::NEGOTIATE) {
            let response = parse_negotiate_response(message).map_err(|e| format!("a bad NEGOTIATE answer: {e}"))?;
            if response.status != 0 {
                return Err(format!("smbd answered the NEGOTIATE with {:#010x}", response.status));
            }
            self.negotiated = true;
            (response.message_id, response.credits_granted)
        } else {
            let response = parse_echo_response(message).map_err(|e| format!("a bad ECHO answer: {e}"))?;
            (response.message_id, response.credits_granted)
        };
        if !self.outstanding.remove(&id) {
            return Err(format!("smbd answered message {id}, which is not outstanding"));
        }
        self.credits += u32::from(granted);
        Ok(())
    }

    /// Requests sent and not answered yet.
    #[cfg(test)]
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// smbd's answer to `request`, granting `credits`.
    fn answer(request: &[u8], credits: u16) -> Vec<u8> {
        let mut bytes = request[..64].to_vec();
        bytes[16] = 1;
        bytes[14..16].copy_from_slice(&credits.to_le_bytes());
        if bytes[12] == 0 {
            // A NEGOTIATE response body: StructureSize 65, dialect 2.0.2,
            // no security buffer.
            let mut body = vec![0u8; 64];
            body[0] = 65;
            body[4..6].copy_from_slice(&0x0202u16.to_le_bytes());
            bytes.extend_from_slice(&body);
        } else {
            bytes.extend_from_slice(&[4, 0, 0, 0]);
        }
        bytes
    }

    #[test]
    fn a_negotiate_then_echoes_within_the_credits_granted() {
        let mut smb = SmbConversation::default();
        let negotiate = smb.next_request().unwrap();
        assert_eq!(negotiate[12], 0, "NEGOTIATE first");
        assert_eq!(smb.next_request(), None, "no credit until it is answered");
        smb.response(&answer(&negotiate, 2)).unwrap();
        let first = smb.next_request().unwrap();
        let second = smb.next_request().unwrap();
        assert_eq!((first[12], first[24], second[24]), (0x0d, 1, 2));
        assert_eq!(smb.next_request(), None, "two credits spent");
        smb.response(&answer(&second, 1)).unwrap();
        smb.response(&answer(&first, 1)).unwrap();
        assert_eq!(smb.outstanding(), 0);
        assert!(smb
            .response(&answer(&first, 1))
            .unwrap_err()
            .contains("not outstanding"));
    }

    #[test]
    fn a_request_not_sent_gives_its_id_and_credit_back() {
        let mut smb = SmbConversation::default();
        let negotiate = smb.next_request().unwrap();
        smb.unsend();
        assert_eq!(smb.next_request().unwrap(), negotiate);
        smb.response(&answer(&negotiate, 1)).unwrap();
        let echo = smb.next_request().unwrap();
        smb.unsend();
        assert_eq!(smb.next_request().unwrap(), echo);
        assert_eq!(smb.outstanding(), 1);
    }

    #[test]
    fn a_failed_negotiate_or_garbage_is_reported() {
        let mut smb = SmbConversation::default();
        let negotiate = smb.next_request().unwrap();
        let mut refused = answer(&negotiate, 1);
        refused[8..12].copy_from_slice(&0xC000_00BBu32.to_le_bytes());
        refused[64] = 9;
        assert!(smb.response(&refused).unwrap_err().contains("NEGOTIATE"));
        assert!(smb.response(b"garbage").is_err());
    }
}

//! One VC's books, sans I/O: what the soak sent, what came back, which
//! asynchronous sends are owed a completion, and how the VC ended. Every
//! method that learns something checks it against the engine's promises
//! and returns the broken one as an error.

use std::collections::{HashMap, VecDeque};

use rxce::{DisconnectFlags, Status};

use super::pattern;
use super::smb::SmbConversation;

/// What the VC talks to.
#[derive(Debug, Clone)]
pub enum Content {
    /// Not known yet (an indication came before the build returned).
    Unknown,
    /// An echo peer: the pattern comes back, per message when `framed`.
    Echo {
        /// `tcp+smb` or `netbt`: each message comes back as one message.
        framed: bool,
    },
    /// smbd: requests and their answers.
    Smb(SmbConversation),
}

/// What one send carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// These bytes (an smbd request).
    Bytes(Vec<u8>),
    /// `len` bytes of the pattern of `key` from `position`.
    Pattern {
        /// The VC's pattern.
        key: u64,
        /// Where in the VC's stream.
        position: u64,
        /// How many bytes.
        len: usize,
    },
}

impl Payload {
    /// The bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Payload::Bytes(bytes) => bytes,
            Payload::Pattern { key, position, len } => pattern::bytes(key, position, len),
        }
    }
}

/// The ids of a VC and of every object whose tear-down tears it down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lineage {
    /// The VC.
    pub vc: u64,
    /// Its connection.
    pub connection: u64,
    /// The address it runs over (another transport's for a VC a
    /// multi-transport build added).
    pub address: u64,
    /// That address's transport.
    pub transport: u64,
    /// The connection's own address.
    pub connection_address: u64,
    /// The connection's transport.
    pub connection_transport: u64,
}

impl Lineage {
    /// True when tearing down object `id` tears this VC down.
    pub fn contains(&self, id: u64) -> bool {
        [
            self.vc,
            self.connection,
            self.address,
            self.transport,
            self.connection_address,
            self.connection_transport,
        ]
        .contains(&id)
    }
}

/// Where an asynchronous send is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Submitted,
}

/// The books of one VC.
#[derive(Debug)]
pub struct VcLedger {
    /// The VC and its ancestors.
    pub lineage: Lineage,
    key: u64,
    content: Content,
    /// Pattern bytes handed to sends (echo).
    reserved: u64,
    /// Pattern bytes that came back (echo).
    received: u64,
    /// Lengths of the non-empty messages sent and not yet back (framed echo).
    messages: VecDeque<usize>,
    /// Bytes left of the message being received (framed).
    message_left: Option<usize>,
    /// `available` of the latest indication.
    available: usize,
    /// The smbd message being received.
    smb_message: Vec<u8>,
    pending: HashMap<usize, Phase>,
    torn_down: bool,
    disconnect: Option<(DisconnectFlags, Status)>,
    disconnect_initiated: bool,
    /// A send failed after it was accepted, or the VC failed: its echo may
    /// end short.
    failed: bool,
    /// How the rebuild of this (lost) VC ended, once it did.
    rebuild: Option<&'static str>,
    /// The VC's own choices (receive answers, buffers).
    pub rng: fastrand::Rng,
}

impl VcLedger {
    /// Books for a new VC; `key` keys its pattern and its choices.
    pub fn new(lineage: Lineage, key: u64) -> VcLedger {
        VcLedger {
            lineage,
            key,
            content: Content::Unknown,
            reserved: 0,
            received: 0,
            messages: VecDeque::new(),
            message_left: None,
            available: 0,
            smb_message: Vec::new(),
            pending: HashMap::new(),
            torn_down: false,
            disconnect: None,
            disconnect_initiated: false,
            failed: false,
            rebuild: None,
            rng: fastrand::Rng::with_seed(key),
        }
    }

    /// Says what the VC talks to (the first word counts).
    pub fn set_content(&mut self, content: Content) {
        if matches!(self.content, Content::Unknown) {
            self.content = content;
        }
    }

    /// A fresh copy of what this VC talks to, for a VC rebuilt in its place.
    pub fn fresh_content(&self) -> Content {
        match &self.content {
            Content::Smb(_) => Content::Smb(SmbConversation::default()),
            other => other.clone(),
        }
    }

    /// True for a framed transport (each send is one message).
    fn framed(&self) -> bool {
        matches!(self.content, Content::Echo { framed: true } | Content::Smb(_))
    }

    /// The next send of `size` bytes (an smbd VC sends its next request
    /// whatever the size), or `None` when the VC cannot send now (no smbd
    /// credit, nothing known about the VC). The pattern is made from the
    /// [`Payload`] outside the books' lock.
    pub fn next_payload(&mut self, size: usize) -> Option<Payload> {
        match &mut self.content {
            Content::Unknown => None,
            Content::Smb(smb) => smb.next_request().map(Payload::Bytes),
            Content::Echo { framed } => {
                let payload = Payload::Pattern {
                    key: self.key,
                    position: self.reserved,
                    len: size,
                };
                self.reserved += size as u64;
                if *framed && size > 0 {
                    self.messages.push_back(size);
                }
                Some(payload)
            }
        }
    }

    /// The last payload (`size` bytes) went out only in part: `sent` bytes
    /// (0 when it was refused before it was queued).
    pub fn not_sent(&mut self, size: usize, sent: usize) {
        match &mut self.content {
            Content::Unknown => {}
            Content::Smb(smb) => {
                if sent == 0 {
                    smb.unsend();
                }
            }
            Content::Echo { framed } => {
                self.reserved -= (size - sent) as u64;
                if *framed && sent == 0 && size > 0 {
                    self.messages.pop_back();
                }
            }
        }
    }

    /// A send accepted by the VC failed (its bytes may be lost).
    pub fn send_failed(&mut self) {
        self.failed = true;
    }

    /// Fails when the VC's tear-down has returned: `what` is an indication
    /// that must not come any more.
    pub fn check_live(&self, what: &str) -> Result<(), String> {
        if self.torn_down {
            return Err(format!("{what} after the tear-down of VC {} returned", self.lineage.vc));
        }
        Ok(())
    }

    /// A receive indication of `data_len` bytes with `available` bytes of
    /// its TSDU known: on a framed echo it must announce the next message
    /// sent, whole.
    pub fn indication(&mut self, data_len: usize, available: usize) -> Result<(), String> {
        if available < data_len {
            return Err(format!("{data_len} bytes indicated with only {available} available"));
        }
        self.available = available;
        let expected = match (self.message_left, &self.content) {
            (Some(left), _) => left,
            (None, Content::Echo { framed: true }) => match self.messages.front() {
                Some(&len) => len,
                None => return Err(format!("a {available}-byte message came back, but none was sent")),
            },
            _ => return Ok(()),
        };
        if self.framed() && available != expected {
            return Err(format!(
                "an indication announces {available} bytes of the message; {expected} are due"
            ));
        }
        Ok(())
    }

    /// The client took `data` (from an indication, or filled into its
    /// buffer): it must be the next bytes sent, within a message.
    pub fn consume(&mut self, data: &[u8]) -> Result<(), String> {
        if data.is_empty() {
            return Ok(());
        }
        if self.framed() {
            let left = match self.message_left {
                Some(left) => left,
                None => {
                    if matches!(self.content, Content::Echo { .. }) {
                        self.messages.pop_front();
                    }
                    self.available
                }
            };
            if data.len() > left {
                return Err(format!(
                    "{} bytes taken where {left} were left of the message",
                    data.len()
                ));
            }
            self.message_left = Some(left - data.len()).filter(|&l| l > 0);
        }
        match &mut self.content {
            Content::Unknown => Err(format!("{} bytes came on a VC nothing was sent on", data.len())),
            Content::Echo { .. } => {
                let end = self.received + data.len() as u64;
                if end > self.reserved {
                    return Err(format!("{end} bytes came back where {} were sent", self.reserved));
                }
                if let Some(at) = pattern::first_difference(self.key, self.received, data) {
                    return Err(format!(
                        "byte {} of the echo differs from what was sent",
                        self.received + at as u64
                    ));
                }
                self.received = end;
                Ok(())
            }
            Content::Smb(smb) => {
                self.smb_message.extend_from_slice(data);
                if self.message_left.is_none() {
                    let message = std::mem::take(&mut self.smb_message);
                    smb.response(&message)?;
                }
                Ok(())
            }
        }
    }

    /// An asynchronous send with `context` is about to be submitted.
    pub fn submit(&mut self, context: usize) {
        self.pending.insert(context, Phase::Queued);
    }

    /// The submission was refused (no callback may come for it).
    pub fn refused(&mut self, context: usize) -> Result<(), String> {
        match self.pending.remove(&context) {
            Some(Phase::Queued) => Ok(()),
            Some(Phase::Submitted) => Err(format!("send {context} was refused but send-submitted came for it")),
            None => Err(format!("send {context} was refused but completed")),
        }
    }

    /// send-submitted for `context`.
    pub fn submitted(&mut self, context: usize) -> Result<(), String> {
        match self.pending.get_mut(&context) {
            Some(phase @ Phase::Queued) => {
                *phase = Phase::Submitted;
                Ok(())
            }
            Some(Phase::Submitted) => Err(format!("send-submitted came twice for send {context}")),
            None => Err(format!("send-submitted for send {context}, which is not pending")),
        }
    }

    /// send-complete for `context`.
    pub fn completed(&mut self, context: usize, status: &Status) -> Result<(), String> {
        if !status.is_success() {
            self.failed = true;
        }
        match self.pending.remove(&context) {
            Some(Phase::Submitted) => Ok(()),
            Some(Phase::Queued) => Err(format!("send {context} completed before send-submitted")),
            None => Err(format!("send {context} completed twice, or was never submitted")),
        }
    }

    /// The disconnect indication.
    pub fn disconnected(&mut self, flags: DisconnectFlags, status: Status) -> Result<(), String> {
        if let Some((first_flags, first)) = &self.disconnect {
            return Err(format!(
                "a second disconnect indication ({flags:?}, {}) after ({first_flags:?}, {})",
                status.name(),
                first.name()
            ));
        }
        if flags.contains(DisconnectFlags::ABORT) {
            self.failed = true;
        }
        self.disconnect = Some((flags, status));
        Ok(())
    }

    /// The engine rebuilt this lost VC (`reconnected`) or gave up
    /// (`reconnect-failed`): once, one or the other.
    pub fn rebuild_ended(&mut self, how: &'static str) -> Result<(), String> {
        if let Some(first) = self.rebuild {
            return Err(format!("{how} after {first} for the same lost VC"));
        }
        self.rebuild = Some(how);
        Ok(())
    }

    /// The client started a graceful disconnect.
    pub fn initiated_disconnect(&mut self) {
        self.disconnect_initiated = true;
    }

    /// The VC's tear-down (or an ancestor's) returned.
    pub fn torn_down(&mut self) {
        self.torn_down = true;
    }

    /// True once the tear-down returned.
    pub fn is_torn_down(&self) -> bool {
        self.torn_down
    }

    /// Pattern bytes sent and received (echo).
    #[cfg(test)]
    pub fn totals(&self) -> (u64, u64) {
        (self.reserved, self.received)
    }

    /// What must hold once the VC's tear-down returned: every asynchronous
    /// send completed; after a graceful end the client started and the
    /// peer finished (RELEASE, SUCCESS) with no send lost, every byte sent
    /// came back.
    pub fn final_check(&self) -> Vec<String> {
        let mut broken = Vec::new();
        if !self.pending.is_empty() {
            let mut contexts: Vec<&usize> = self.pending.keys().collect();
            contexts.sort();
            broken.push(format!(
                "{} asynchronous sends never completed (contexts {contexts:?})",
                self.pending.len()
            ));
        }
        let clean = matches!(&self.disconnect, Some((flags, status))
            if flags.contains(DisconnectFlags::RELEASE) && status.is_success());
        if clean && self.disconnect_initiated && !self.failed && matches!(self.content, Content::Echo { .. }) {
            if self.received != self.reserved {
                broken.push(format!(
                    "a clean end with {} of the {} bytes sent echoed",
                    self.received, self.reserved
                ));
            }
            if self.message_left.is_some() || !self.messages.is_empty() {
                broken.push(format!("a clean end with {} messages not echoed", self.messages.len()));
            }
        }
        broken
    }
}

#[cfg(test)]
mod tests;

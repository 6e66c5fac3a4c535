//! What a peer counts while it serves: connections, refused sessions,
//! payload bytes and messages each way, keepalives sent.

use std::sync::atomic::{AtomicU64, Ordering};

/// A peer's live counters (shared by its connection tasks).
#[derive(Debug, Default)]
pub struct Counters {
    connections: AtomicU64,
    refused: AtomicU64,
    bytes_received: AtomicU64,
    bytes_sent: AtomicU64,
    messages_received: AtomicU64,
    messages_sent: AtomicU64,
    keepalives_sent: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Connections accepted (for `udp`: distinct sources seen).
    pub connections: u64,
    /// NetBIOS session requests answered negatively.
    pub refused: u64,
    /// Payload bytes received: stream bytes, message bodies (without frame
    /// headers) or datagram payloads.
    pub bytes_received: u64,
    /// Payload bytes sent, counted the same way.
    pub bytes_sent: u64,
    /// Whole messages (framed transports) or datagrams received.
    pub messages_received: u64,
    /// Whole messages or datagrams sent.
    pub messages_sent: u64,
    /// NetBIOS session keepalives sent.
    pub keepalives_sent: u64,
}

fn bump(counter: &AtomicU64, by: usize) {
    counter.fetch_add(by as u64, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn connection(&self) {
        bump(&self.connections, 1);
    }

    pub(crate) fn refused(&self) {
        bump(&self.refused, 1);
    }

    pub(crate) fn received(&self, bytes: usize) {
        bump(&self.bytes_received, bytes);
    }

    pub(crate) fn sent(&self, bytes: usize) {
        bump(&self.bytes_sent, bytes);
    }

    pub(crate) fn message_received(&self) {
        bump(&self.messages_received, 1);
    }

    pub(crate) fn message_sent(&self) {
        bump(&self.messages_sent, 1);
    }

    pub(crate) fn keepalive_sent(&self) {
        bump(&self.keepalives_sent, 1);
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            connections: get(&self.connections),
            refused: get(&self.refused),
            bytes_received: get(&self.bytes_received),
            bytes_sent: get(&self.bytes_sent),
            messages_received: get(&self.messages_received),
            messages_sent: get(&self.messages_sent),
            keepalives_sent: get(&self.keepalives_sent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up() {
        let c = Counters::default();
        c.connection();
        c.connection();
        c.refused();
        c.received(10);
        c.received(5);
        c.sent(7);
        c.message_received();
        c.message_sent();
        c.keepalive_sent();
        assert_eq!(
            c.snapshot(),
            Snapshot {
                connections: 2,
                refused: 1,
                bytes_received: 15,
                bytes_sent: 7,
                messages_received: 1,
                messages_sent: 1,
                keepalives_sent: 1,
            }
        );
    }
}

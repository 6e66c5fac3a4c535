//! The engine-wide counts of live objects (built and not yet freed).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::sync::AtomicUsize;

/// How many objects of each kind are alive (built and not yet freed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveObjects {
    /// Transports.
    pub transports: usize,
    /// Addresses.
    pub addresses: usize,
    /// Connections.
    pub connections: usize,
    /// Virtual circuits.
    pub vcs: usize,
}

impl LiveObjects {
    /// All four counts summed.
    pub fn total(&self) -> usize {
        self.transports + self.addresses + self.connections + self.vcs
    }
}

/// The kinds of objects counted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Transport,
    Address,
    Connection,
    Vc,
}

/// Engine-wide counts of live objects.
#[derive(Debug, Default)]
pub(crate) struct LiveCounts {
    counts: [AtomicUsize; 4],
}

impl LiveCounts {
    /// Counts one more object of `kind` until the token drops (with the
    /// object's memory).
    pub(crate) fn token(self: &Arc<Self>, kind: Kind) -> LiveToken {
        self.counts[kind as usize].fetch_add(1, Ordering::Relaxed);
        LiveToken {
            counts: self.clone(),
            kind,
        }
    }

    pub(crate) fn snapshot(&self) -> LiveObjects {
        let get = |k: Kind| self.counts[k as usize].load(Ordering::Relaxed);
        LiveObjects {
            transports: get(Kind::Transport),
            addresses: get(Kind::Address),
            connections: get(Kind::Connection),
            vcs: get(Kind::Vc),
        }
    }
}

/// Keeps one object counted as live.
#[derive(Debug)]
pub(crate) struct LiveToken {
    counts: Arc<LiveCounts>,
    kind: Kind,
}

impl Drop for LiveToken {
    fn drop(&mut self) {
        self.counts.counts[self.kind as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_count_live_objects() {
        let counts = Arc::new(LiveCounts::default());
        let a = counts.token(Kind::Vc);
        let b = counts.token(Kind::Vc);
        let c = counts.token(Kind::Transport);
        assert_eq!(counts.snapshot().vcs, 2);
        assert_eq!(counts.snapshot().total(), 3);
        drop((a, b, c));
        assert_eq!(counts.snapshot(), LiveObjects::default());
    }
}

#[cfg(all(test, rxce_loom))]
mod loom_tests {
    use super::*;
    use crate::sync::loom_support::model;
    use loom::thread;

    /// Objects are built and freed on several threads at once (tokens
    /// counted and dropped with relaxed atomics): each count is exact once
    /// they are done, and every count is back to zero when all are freed.
    #[test]
    fn loom_live_counts_from_racing_builds_and_frees() {
        model("live counts: racing tokens", || {
            let counts = Arc::new(LiveCounts::default());
            let kept = counts.token(Kind::Connection);
            let workers: Vec<_> = [Kind::Vc, Kind::Vc]
                .into_iter()
                .map(|kind| {
                    let counts = counts.clone();
                    thread::spawn(move || {
                        let token = counts.token(kind);
                        let other = counts.token(Kind::Address);
                        drop(other);
                        token
                    })
                })
                .collect();
            let tokens: Vec<LiveToken> = workers.into_iter().map(|w| w.join().unwrap()).collect();
            let seen = counts.snapshot();
            assert_eq!(
                seen,
                LiveObjects {
                    transports: 0,
                    addresses: 0,
                    connections: 1,
                    vcs: 2
                }
            );
            drop(tokens);
            drop(kept);
            assert_eq!(counts.snapshot(), LiveObjects::default());
        });
    }
}

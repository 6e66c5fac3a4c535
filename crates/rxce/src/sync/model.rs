//! What loom cannot run of tokio, kept to the contract the engine relies
//! on: tokio's `Notify` as the VC's senders use it. (tokio's own `Notify`
//! would clone loom's wakers under tokio's internal lock, where loom may
//! switch threads: the model would deadlock on the one OS thread its
//! threads share.)
//!
//! The contract (tokio's documentation of `notify_waiters`): a call wakes
//! every `Notified` future created before it, polled or not, and leaves no
//! permit for futures created after it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::sync::Mutex;

#[derive(Default)]
struct State {
    /// `notify_waiters` calls so far.
    calls: u64,
    /// Pending futures' wakers, by ticket.
    wakers: Vec<(u64, Waker)>,
    next_ticket: u64,
}

/// The model of `tokio::sync::Notify` (`notified` / `notify_waiters`).
#[derive(Default)]
pub(crate) struct Notify {
    state: Mutex<State>,
}

/// The model of `tokio::sync::futures::Notified`.
pub(crate) struct Notified<'a> {
    notify: &'a Notify,
    /// `calls` when the future was created.
    created_at: u64,
    ticket: u64,
}

impl Notify {
    pub(crate) fn new() -> Notify {
        Notify::default()
    }

    pub(crate) fn notified(&self) -> Notified<'_> {
        let mut state = super::lock(&self.state);
        state.next_ticket += 1;
        Notified {
            notify: self,
            created_at: state.calls,
            ticket: state.next_ticket,
        }
    }

    pub(crate) fn notify_waiters(&self) {
        let wakers = {
            let mut state = super::lock(&self.state);
            state.calls += 1;
            std::mem::take(&mut state.wakers)
        };
        for (_, waker) in wakers {
            waker.wake();
        }
    }
}

impl Notified<'_> {
    /// Registration happens at creation in this model (as for
    /// `notify_waiters` in tokio's); returns whether it was notified.
    pub(crate) fn enable(self: Pin<&mut Self>) -> bool {
        super::lock(&self.notify.state).calls != self.created_at
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = super::lock(&self.notify.state);
        if state.calls != self.created_at {
            return Poll::Ready(());
        }
        let ticket = self.ticket;
        state.wakers.retain(|(t, _)| *t != ticket);
        state.wakers.push((ticket, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let ticket = self.ticket;
        super::lock(&self.notify.state).wakers.retain(|(t, _)| *t != ticket);
    }
}

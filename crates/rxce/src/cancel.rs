//! A connect attempt's cancel: a flag and its one waiter's waker, much
//! lighter than a cancellation-token tree node (tokio-util's is an `Arc`'d
//! node with a mutex, linked into its parent, and a `Notify` whose waiter
//! list each poll joins). An attempt has one waiter (its own future) and
//! no children: whoever must stop it (the address's or the connection's
//! tear-down, a cancel-connect-request, the race) cancels it through the
//! address's list of pending attempts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// A one-shot cancel signal with one waiter. Clones share it.
#[derive(Clone, Default)]
pub(crate) struct Cancel(Arc<Inner>);

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Cancel {
    /// Cancels for good and wakes the waiter, if any.
    pub(crate) fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Release);
        let waker = self.0.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Acquire)
    }

    /// Completes once cancelled. One waiter at a time.
    pub(crate) fn cancelled(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.is_cancelled() {
                return Poll::Ready(());
            }
            {
                let mut slot = self.0.waker.lock().unwrap_or_else(|e| e.into_inner());
                match &*slot {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
            }
            // A cancel between the first look and the waker's registration
            // found no waker: look again.
            if self.is_cancelled() {
                return Poll::Ready(());
            }
            Poll::Pending
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancel_wakes_its_waiter_and_stays() {
        let cancel = Cancel::default();
        assert!(!cancel.is_cancelled());
        let waiter = {
            let cancel = cancel.clone();
            tokio::spawn(async move { cancel.cancelled().await })
        };
        tokio::task::yield_now().await;
        cancel.cancel();
        waiter.await.unwrap();
        assert!(cancel.is_cancelled());
        // Cancelled for good: a later wait ends at once.
        cancel.cancelled().await;
    }
}

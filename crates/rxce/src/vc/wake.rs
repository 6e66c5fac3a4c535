//! The VC task's wake-up: one waiter, so lighter than a `Notify`.

use std::sync::atomic::Ordering;

use crate::sync::{lock, AtomicBool, Mutex};

/// Wakes the VC's task, its only waiter: a permit (kept until the task
/// takes it, as `Notify::notify_one` keeps one) and the task's waker. Much
/// lighter than a `Notify`, whose waiter list the task would join and leave
/// on every wait.
#[derive(Default)]
pub(crate) struct TaskWake {
    permit: AtomicBool,
    waker: Mutex<Option<std::task::Waker>>,
}

impl TaskWake {
    /// Leaves a permit and wakes the task if it waits.
    pub(crate) fn notify_one(&self) {
        self.permit.store(true, Ordering::Release);
        let waker = lock(&self.waker).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Takes the permit if there is one. (A compare-exchange writes
    /// nothing when there is none; a `swap(false)` would do the same, but
    /// loom 0.7 mis-orders a swap against a concurrent store and reports a
    /// lost wake-up that the memory model rules out.)
    fn take_permit(&self) -> bool {
        self.permit
            .compare_exchange(true, false, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Completes once a permit is there, and takes it.
    pub(crate) fn notified(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.take_permit() {
                return std::task::Poll::Ready(());
            }
            {
                let mut slot = lock(&self.waker);
                match &*slot {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
            }
            // A permit left between the first look and the waker's
            // registration found no waker: take it now.
            if self.take_permit() {
                lock(&self.waker).take();
                return std::task::Poll::Ready(());
            }
            std::task::Poll::Pending
        })
    }
}

//! The VC task's wake-up: one waiter, so lighter than a `Notify`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::lock;

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

    /// Completes once a permit is there, and takes it.
    pub(crate) fn notified(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.permit.swap(false, Ordering::AcqRel) {
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
            if self.permit.swap(false, Ordering::AcqRel) {
                lock(&self.waker).take();
                return std::task::Poll::Ready(());
            }
            std::task::Poll::Pending
        })
    }
}

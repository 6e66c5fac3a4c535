//! The engine's resource budget: every object, receive buffer and queued send
//! is charged; when the budget is spent the call fails with
//! STATUS_INSUFFICIENT_RESOURCES instead of growing without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::status::Status;

/// What one object of each kind is charged (its bookkeeping, not its socket
/// buffers, which the kernel owns).
pub mod cost {
    /// A transport.
    pub const TRANSPORT: usize = 1024;
    /// An address.
    pub const ADDRESS: usize = 512;
    /// A connection.
    pub const CONNECTION: usize = 512;
    /// A VC.
    pub const VC: usize = 2048;
}

/// A byte budget shared by one engine.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
}

impl Budget {
    /// A budget of `limit` bytes, none charged.
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes charged now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Charges `bytes`, returned when the charge drops.
    pub fn charge(self: &Arc<Self>, bytes: usize, what: &str) -> Result<Charge, Status> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let next = used.checked_add(bytes).filter(|n| *n <= self.limit).ok_or_else(|| {
                Status::INSUFFICIENT_RESOURCES.with_message(format!(
                    "the engine budget of {} bytes cannot take {what} ({bytes} bytes; {used} in use)",
                    self.limit
                ))
            })?;
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Ok(Charge {
                        budget: self.clone(),
                        bytes,
                    })
                }
                Err(now) => used = now,
            }
        }
    }
}

/// Bytes held against a [`Budget`]; dropping it returns them.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_limit_and_return_on_drop() {
        let budget = Budget::new(100);
        let a = budget.charge(60, "a").unwrap();
        let err = budget.charge(41, "b").unwrap_err();
        assert_eq!(err, Status::INSUFFICIENT_RESOURCES);
        assert!(err.to_string().contains("41 bytes"), "{err}");
        let b = budget.charge(40, "b").unwrap();
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        drop(b);
        assert_eq!(budget.used(), 0);
        assert!(budget.charge(usize::MAX, "huge").is_err());
        assert_eq!(
            Budget::new(0).charge(1, "x").unwrap_err(),
            Status::INSUFFICIENT_RESOURCES
        );
    }
}

//! The client's credit window (MS-SMB2 3.2.4.1.5): which message ids it may
//! use and how many credits it holds, as a state machine with no I/O.
//!
//! Every request consumes `max(CreditCharge, 1)` credits and as many
//! consecutive message ids; every response (interim ones too) grants
//! `CreditResponse` credits. [`Credits::take`] refuses a request the grant
//! does not cover, so a client built on it never sends beyond what the
//! server allowed.

use crate::header::credit_charge;

/// The credits a client holds and the next message id it will use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credits {
    next_id: u64,
    balance: u32,
    large_mtu: bool,
    target: u16,
}

impl Credits {
    /// A fresh connection: one credit (for the NEGOTIATE), message id 0,
    /// and `target` the number of credits the client asks to hold.
    pub fn new(target: u16) -> Credits {
        Credits {
            next_id: 0,
            balance: 1,
            large_mtu: false,
            target: target.max(1),
        }
    }

    /// Sets whether multi-credit requests are allowed (the dialect is 2.1
    /// or later and the server has LARGE_MTU).
    pub fn set_large_mtu(&mut self, large_mtu: bool) {
        self.large_mtu = large_mtu;
    }

    /// Credits held now.
    pub fn balance(&self) -> u32 {
        self.balance
    }

    /// The message id the next request will get.
    pub fn next_message_id(&self) -> u64 {
        self.next_id
    }

    /// The largest payload one request can carry with the credits held now
    /// (64 KiB per credit with LARGE_MTU, 64 KiB without), capped at `max`;
    /// 0 when no credit is held.
    pub fn payload_limit(&self, max: u32) -> u32 {
        let per_credit = if self.large_mtu {
            self.balance
        } else {
            self.balance.min(1)
        };
        per_credit.saturating_mul(65_536).min(max)
    }

    /// The `CreditCharge` of a request carrying `payload` bytes: 0 without
    /// LARGE_MTU (the request costs one credit), one per started 64 KiB
    /// with it.
    pub fn charge(&self, payload: u32) -> u16 {
        if self.large_mtu {
            credit_charge(payload)
        } else {
            0
        }
    }

    /// Takes the credits and message ids of one request with `charge`, and
    /// says how many credits it should request to bring the balance back
    /// to the target. `None` (nothing taken) when the balance does not
    /// cover it.
    pub fn take(&mut self, charge: u16) -> Option<Taken> {
        let cost = u32::from(charge.max(1));
        if cost > self.balance {
            return None;
        }
        self.balance -= cost;
        let message_id = self.next_id;
        self.next_id += u64::from(cost);
        let wanted = u32::from(self.target).saturating_sub(self.balance).max(cost);
        Some(Taken {
            message_id,
            credit_charge: charge,
            credit_request: u16::try_from(wanted).unwrap_or(u16::MAX),
        })
    }

    /// A response granted `credits`.
    pub fn grant(&mut self, credits: u16) {
        self.balance = self.balance.saturating_add(u32::from(credits));
    }
}

/// What [`Credits::take`] gave one request: the header fields it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// `MessageId`.
    pub message_id: u64,
    /// `CreditCharge`.
    pub credit_charge: u16,
    /// `CreditRequest`.
    pub credit_request: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_credit_before_the_negotiate() {
        let mut c = Credits::new(64);
        let t = c.take(0).unwrap();
        assert_eq!((t.message_id, t.credit_charge), (0, 0));
        assert_eq!(t.credit_request, 64);
        assert_eq!(c.take(0), None, "no credit left until a response grants some");
        c.grant(1);
        assert_eq!(c.take(0).unwrap().message_id, 1);
    }

    #[test]
    fn multi_credit_requests_use_consecutive_ids() {
        let mut c = Credits::new(256);
        c.set_large_mtu(true);
        c.grant(99);
        assert_eq!(c.payload_limit(8 << 20), 100 * 65_536);
        let charge = c.charge(1 << 20);
        assert_eq!(charge, 16);
        let t = c.take(charge).unwrap();
        assert_eq!(t.message_id, 0);
        assert_eq!(c.next_message_id(), 16);
        assert_eq!(c.balance(), 84);
        assert_eq!(t.credit_request, 256 - 84);
        assert_eq!(c.take(85), None);
        assert_eq!(c.balance(), 84);
    }

    #[test]
    fn without_large_mtu_a_request_carries_64k_at_most() {
        let mut c = Credits::new(8);
        c.grant(10);
        assert_eq!(c.payload_limit(1 << 20), 65_536);
        assert_eq!(c.charge(1 << 20), 0);
        let t = c.take(0).unwrap();
        assert_eq!(c.balance(), 10);
        assert_eq!(t.credit_request, 1, "asks at least for what it spends");
    }
}

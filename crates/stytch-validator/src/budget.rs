//! The remote budget: a token bucket every call to Stytch draws from, so that a flood of
//! made-up session tokens cannot spend the project's Stytch rate limit.
//!
//! Calls come in two classes. A *proven* call carries a JWT whose signature verified
//! (it is expired or too old, but Stytch really issued it): it may draw the bucket down
//! to empty. An *unproven* call (a bare session token, or a JWT that could not be
//! checked) may only draw while more than the reserve is left. Proven sessions therefore
//! always have the reserve to themselves, however many unproven calls arrive.

use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Whether the credential of a remote call is known to be Stytch's: what decides its
/// priority in the remote budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Standing {
    /// An authentic (signature-verified) JWT.
    Proven,
    /// Anything else.
    Unproven,
}

#[derive(Debug)]
pub(crate) struct Budget {
    /// Tokens added per millisecond.
    per_ms: f64,
    rate: u32,
    burst: f64,
    /// Unproven calls leave at least this many tokens.
    reserve: f64,
    state: Mutex<Bucket>,
    used: AtomicU64,
    refused: AtomicU64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at_ms: Option<i64>,
}

impl Budget {
    /// `rate` calls per second, bursts of up to `burst`; half the burst is reserved for
    /// proven calls. A rate of 0 disables the budget.
    pub(crate) fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            per_ms: f64::from(rate) / 1000.0,
            rate,
            burst,
            reserve: (burst / 2.0).floor(),
            state: Mutex::new(Bucket {
                tokens: burst,
                at_ms: None,
            }),
            used: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    pub(crate) fn unlimited(&self) -> bool {
        self.per_ms == 0.0
    }

    /// Calls per second, and the burst.
    pub(crate) fn limits(&self) -> (u32, u32) {
        (self.rate, self.burst as u32)
    }

    /// Counts a decision made elsewhere (by the fleet's shared budget).
    pub(crate) fn count(&self, used: bool, standing: Standing) {
        let counter = if used { &self.used } else { &self.refused };
        counter.fetch_add(1, Ordering::Relaxed);
        crate::metrics::budget(used, standing == Standing::Proven);
    }

    /// Takes one call's worth, or says how long until this class may call again.
    pub(crate) fn take(&self, now_ms: i64, standing: Standing) -> Result<(), Duration> {
        if self.unlimited() {
            self.used.fetch_add(1, Ordering::Relaxed);
            crate::metrics::budget(true, standing == Standing::Proven);
            return Ok(());
        }
        let mut b = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = b.at_ms {
            // A clock moved backwards adds nothing.
            let gained = now_ms.saturating_sub(at).max(0) as f64 * self.per_ms;
            b.tokens = (b.tokens + gained).min(self.burst);
        }
        b.at_ms = Some(b.at_ms.map_or(now_ms, |at| at.max(now_ms)));
        let floor = match standing {
            Standing::Proven => 0.0,
            Standing::Unproven => self.reserve,
        };
        if b.tokens - 1.0 >= floor {
            b.tokens -= 1.0;
            self.used.fetch_add(1, Ordering::Relaxed);
            crate::metrics::budget(true, standing == Standing::Proven);
            Ok(())
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            crate::metrics::budget(false, standing == Standing::Proven);
            let missing = floor + 1.0 - b.tokens;
            let ms = (missing / self.per_ms).ceil() as u64;
            Err(Duration::from_millis(ms.max(1)))
        }
    }

    /// Calls allowed so far.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Calls refused so far.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Whole calls available at `now` (`u32::MAX` when unlimited), and the burst.
    pub(crate) fn available(&self, now_ms: i64) -> (u32, u32) {
        if self.unlimited() {
            return (u32::MAX, u32::MAX);
        }
        let b = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let gained = b.at_ms.map_or(0.0, |at| {
            now_ms.saturating_sub(at).max(0) as f64 * self.per_ms
        });
        let tokens = (b.tokens + gained).min(self.burst);
        (tokens.floor() as u32, self.burst as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unproven_calls_leave_the_reserve_to_proven_ones() {
        let b = Budget::new(10, 10);
        for _ in 0..5 {
            b.take(0, Standing::Unproven).unwrap();
        }
        assert!(
            b.take(0, Standing::Unproven).is_err(),
            "the reserve is kept"
        );
        for _ in 0..5 {
            b.take(0, Standing::Proven).unwrap();
        }
        let wait = b.take(0, Standing::Proven).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100), "one token at 10/s");
        assert_eq!((b.used(), b.refused()), (10, 2));
        // Refills at the rate, up to the burst.
        b.take(100, Standing::Proven).unwrap();
        assert!(b.take(100, Standing::Proven).is_err());
        for _ in 0..10 {
            b.take(100_000, Standing::Proven).unwrap();
        }
        assert!(
            b.take(100_000, Standing::Proven).is_err(),
            "capped at the burst"
        );
    }

    #[test]
    fn a_clock_moving_backwards_adds_nothing_and_zero_rate_is_unlimited() {
        let b = Budget::new(1, 2);
        b.take(10_000, Standing::Proven).unwrap();
        b.take(10_000, Standing::Proven).unwrap();
        assert!(b.take(0, Standing::Proven).is_err());
        let free = Budget::new(0, 1);
        for _ in 0..1000 {
            free.take(0, Standing::Unproven).unwrap();
        }
    }
}

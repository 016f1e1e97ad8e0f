//! The time source. Every expiry, cooldown and TTL in this crate reads it, so tests can
//! move time without sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time, in milliseconds since the Unix epoch.
///
/// Implement it to control time in tests; [`SystemClock`] is the default and
/// [`ManualClock`] is a ready-made test clock. A clock may step backwards: every
/// elapsed-time computation in this crate saturates at zero.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;

    /// Whole seconds since the Unix epoch.
    fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

/// The real system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            // A clock before 1970 is a broken clock; treat it as the epoch, never panic.
            Err(_) => 0,
        }
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use stytch_validator::{Clock, ManualClock};
///
/// let clock = ManualClock::at_unix_secs(1_700_000_000);
/// clock.advance(Duration::from_secs(301));
/// assert_eq!(clock.now_secs(), 1_700_000_301);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
}

impl ManualClock {
    /// A manual clock starting at the current system time.
    pub fn new() -> Self {
        Self::at_unix_millis(SystemClock.now_millis())
    }

    /// A manual clock starting at `secs` seconds after the epoch.
    pub fn at_unix_secs(secs: i64) -> Self {
        Self::at_unix_millis(secs.saturating_mul(1000))
    }

    /// A manual clock starting at `millis` milliseconds after the epoch.
    pub fn at_unix_millis(millis: i64) -> Self {
        Self {
            millis: Arc::new(AtomicI64::new(millis)),
        }
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.millis.fetch_add(by, Ordering::SeqCst);
    }

    /// Moves time backward (a wall clock stepped back).
    pub fn rewind(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.millis.fetch_sub(by, Ordering::SeqCst);
    }

    /// Sets the time to `secs` seconds after the epoch.
    pub fn set_unix_secs(&self, secs: i64) {
        self.millis
            .store(secs.saturating_mul(1000), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.millis.load(Ordering::SeqCst)
    }
}

/// `later - earlier` as a duration, zero if the clock went backwards.
pub(crate) fn elapsed(earlier_ms: i64, later_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(later_ms.saturating_sub(earlier_ms)).unwrap_or(0))
}

pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_saturates_when_the_clock_steps_back() {
        assert_eq!(elapsed(10_000, 5_000), Duration::ZERO);
        assert_eq!(elapsed(5_000, 10_000), Duration::from_secs(5));
    }

    #[test]
    fn manual_clock_clones_share_time() {
        let a = ManualClock::at_unix_secs(100);
        let b = a.clone();
        a.advance(Duration::from_secs(5));
        assert_eq!(b.now_secs(), 105);
        b.rewind(Duration::from_secs(10));
        assert_eq!(a.now_secs(), 95);
    }
}

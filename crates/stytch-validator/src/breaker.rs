//! A circuit breaker for calls to Stytch: after a run of failures, fail fast for a while
//! instead of queueing requests behind an outage; then let one probe through.

use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::Duration;

use crate::clock::{elapsed, millis};

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    /// While `now < open_until_ms` calls are refused.
    open_until_ms: i64,
    /// A half-open probe is in flight; others keep failing fast until it lands.
    probing: bool,
}

/// Permission to make one call.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    Go,
    /// Refused; retry after this long.
    Refused(Duration),
}

impl Breaker {
    pub(crate) fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold,
            open_for,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn admit(&self, now_ms: i64) -> Admit {
        let mut s = self.lock();
        if s.consecutive_failures < self.threshold {
            return Admit::Go;
        }
        if now_ms < s.open_until_ms {
            return Admit::Refused(elapsed(now_ms, s.open_until_ms));
        }
        if s.probing {
            return Admit::Refused(Duration::from_secs(1));
        }
        s.probing = true;
        Admit::Go
    }

    pub(crate) fn success(&self) {
        let mut s = self.lock();
        s.consecutive_failures = 0;
        s.probing = false;
    }

    /// Records an upstream failure; `retry_after` (from a 429) extends the open period.
    pub(crate) fn failure(&self, now_ms: i64, retry_after: Option<Duration>) {
        let mut s = self.lock();
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        s.probing = false;
        if s.consecutive_failures >= self.threshold {
            let open_for = retry_after.map_or(self.open_for, |r| r.max(self.open_for));
            s.open_until_ms = now_ms.saturating_add(millis(open_for));
            tracing::warn!(
                failures = s.consecutive_failures,
                open_for_ms = millis(open_for),
                "stytch.api.circuit_open"
            );
        }
    }

    pub(crate) fn is_open(&self, now_ms: i64) -> bool {
        let s = self.lock();
        s.consecutive_failures >= self.threshold && now_ms < s.open_until_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_recovers_through_one_probe() {
        let b = Breaker::new(3, Duration::from_secs(10));
        for _ in 0..3 {
            assert_eq!(b.admit(0), Admit::Go);
            b.failure(0, None);
        }
        assert!(b.is_open(1));
        assert_eq!(b.admit(1_000), Admit::Refused(Duration::from_secs(9)));
        // After the open period exactly one probe goes through.
        assert_eq!(b.admit(10_000), Admit::Go);
        assert!(matches!(b.admit(10_001), Admit::Refused(_)));
        b.success();
        assert_eq!(b.admit(10_002), Admit::Go);
        assert!(!b.is_open(10_002));
    }

    #[test]
    fn a_failed_probe_reopens() {
        let b = Breaker::new(1, Duration::from_secs(5));
        b.failure(0, Some(Duration::from_secs(30)));
        assert_eq!(b.admit(6_000), Admit::Refused(Duration::from_secs(24)));
        assert_eq!(b.admit(30_000), Admit::Go);
        b.failure(30_000, None);
        assert!(matches!(b.admit(31_000), Admit::Refused(_)));
    }
}

//! A circuit breaker for calls to Stytch: after a run of failures, fail fast for a while
//! instead of queueing requests behind an outage; then let one probe through.
//!
//! Every admitted call holds a [`Permit`]. Whatever happens to the call (an answer, a
//! failure, a verdict the breaker does not care about, a panic), dropping the permit
//! ends a half-open probe, so the circuit can never stay stuck waiting for a probe
//! that will not report back.

use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::Duration;

use crate::clock::{elapsed, millis};
use crate::metrics::{self, CircuitState};

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
    /// The half-open probe in flight, by number; others keep failing fast until it lands.
    probe: Option<u64>,
    probes_started: u64,
}

/// Permission to make one call. Report its outcome with [`Permit::success`] or
/// [`Permit::failure`]; dropping it unreported ends a probe without a verdict.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    probe: Option<u64>,
}

/// Whether a call may go.
#[derive(Debug)]
pub(crate) enum Admit<'a> {
    Go(Permit<'a>),
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

    pub(crate) fn admit(&self, now_ms: i64) -> Admit<'_> {
        let mut s = self.lock();
        if s.consecutive_failures < self.threshold {
            return Admit::Go(Permit {
                breaker: self,
                probe: None,
            });
        }
        if now_ms < s.open_until_ms {
            return Admit::Refused(elapsed(now_ms, s.open_until_ms));
        }
        if s.probe.is_some() {
            return Admit::Refused(Duration::from_secs(1));
        }
        s.probes_started += 1;
        let probe = s.probes_started;
        s.probe = Some(probe);
        metrics::circuit(CircuitState::HalfOpen);
        Admit::Go(Permit {
            breaker: self,
            probe: Some(probe),
        })
    }

    /// Whether a call made now would be refused: open, or half-open with the probe
    /// still out.
    pub(crate) fn is_open(&self, now_ms: i64) -> bool {
        let s = self.lock();
        s.consecutive_failures >= self.threshold && (now_ms < s.open_until_ms || s.probe.is_some())
    }

    /// The state a caller sees now.
    pub(crate) fn state(&self, now_ms: i64) -> CircuitState {
        let s = self.lock();
        if s.consecutive_failures < self.threshold {
            CircuitState::Closed
        } else if now_ms < s.open_until_ms || s.probe.is_some() {
            CircuitState::Open
        } else {
            CircuitState::HalfOpen
        }
    }

    fn end_probe(&self, s: &mut State, probe: Option<u64>) {
        if probe.is_some() && s.probe == probe {
            s.probe = None;
        }
    }
}

impl Permit<'_> {
    /// Stytch answered (any answer that is not an outage): the circuit closes.
    pub(crate) fn success(self) {
        let mut s = self.breaker.lock();
        if s.consecutive_failures >= self.breaker.threshold {
            metrics::circuit(CircuitState::Closed);
        }
        s.consecutive_failures = 0;
        self.breaker.end_probe(&mut s, self.probe);
    }

    /// An upstream failure; `retry_after` (from a 429) extends the open period.
    pub(crate) fn failure(self, now_ms: i64, retry_after: Option<Duration>) {
        let breaker = self.breaker;
        let mut s = breaker.lock();
        breaker.end_probe(&mut s, self.probe);
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        if s.consecutive_failures >= breaker.threshold {
            let open_for = retry_after.map_or(breaker.open_for, |r| r.max(breaker.open_for));
            s.open_until_ms = now_ms.saturating_add(millis(open_for));
            metrics::circuit(CircuitState::Open);
            tracing::warn!(
                failures = s.consecutive_failures,
                open_for_ms = millis(open_for),
                "stytch.api.circuit_open"
            );
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe.is_some() {
            let mut s = self.breaker.lock();
            self.breaker.end_probe(&mut s, self.probe);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(b: &Breaker, now: i64) -> Permit<'_> {
        match b.admit(now) {
            Admit::Go(p) => p,
            Admit::Refused(d) => panic!("refused for {d:?}"),
        }
    }

    #[test]
    fn opens_after_threshold_and_recovers_through_one_probe() {
        let b = Breaker::new(3, Duration::from_secs(10));
        for _ in 0..3 {
            go(&b, 0).failure(0, None);
        }
        assert!(b.is_open(1));
        assert!(matches!(b.admit(1_000), Admit::Refused(d) if d == Duration::from_secs(9)));
        // After the open period exactly one probe goes through.
        let probe = go(&b, 10_000);
        assert!(matches!(b.admit(10_001), Admit::Refused(_)));
        assert!(
            b.is_open(10_001),
            "half-open with the probe out refuses callers"
        );
        probe.success();
        let _ = go(&b, 10_002);
        assert!(!b.is_open(10_002));
    }

    #[test]
    fn a_failed_probe_reopens() {
        let b = Breaker::new(1, Duration::from_secs(5));
        go(&b, 0).failure(0, Some(Duration::from_secs(30)));
        assert!(matches!(b.admit(6_000), Admit::Refused(d) if d == Duration::from_secs(24)));
        go(&b, 30_000).failure(30_000, None);
        assert!(matches!(b.admit(31_000), Admit::Refused(_)));
    }

    #[test]
    fn a_probe_dropped_without_a_verdict_ends_the_probe() {
        let b = Breaker::new(1, Duration::from_secs(5));
        go(&b, 0).failure(0, None);
        drop(go(&b, 5_000));
        assert!(!b.is_open(5_001), "no probe out, open period over");
        let _next_probe = go(&b, 5_001);
    }
}

//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`).
//! Without the feature every function here is empty and the crate does not depend on
//! `metrics`; with it and no recorder installed, each is a few loads. Names and labels
//! are a stable contract, listed in `axum-stytch`'s crate doc; label values come from
//! fixed sets (reasons, outcomes), never from ids or credentials.

#[cfg(feature = "metrics")]
pub(crate) use enabled::*;

#[cfg(not(feature = "metrics"))]
pub(crate) use disabled::*;

/// The circuit breaker's state, as the `stytch_circuit_state` gauge reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CircuitState {
    /// Calls go through (gauge 0).
    Closed,
    /// Calls are refused after repeated failures (gauge 1).
    Open,
    /// The open period is over; one probe decides (gauge 2).
    HalfOpen,
}

impl CircuitState {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn gauge(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::Open => 1.0,
            CircuitState::HalfOpen => 2.0,
        }
    }
}

#[cfg(feature = "metrics")]
mod enabled {
    use std::time::Duration;

    use metrics::{counter, gauge, histogram};

    use super::CircuitState;

    /// The cache-hit counter, registered with the recorder on the first hit rather than
    /// on every one: registering hashes the name and looks it up in the recorder's
    /// registry, which costs more than the increment. The recorder in effect at a
    /// cache's first hit is the one that counts its hits.
    pub(crate) struct CacheHits(std::sync::OnceLock<metrics::Counter>);

    impl CacheHits {
        pub(crate) const fn new() -> Self {
            Self(std::sync::OnceLock::new())
        }

        #[inline]
        pub(crate) fn record(&self) {
            self.0
                .get_or_init(|| counter!("stytch_verified_cache_hits_total"))
                .increment(1);
        }
    }

    pub(crate) fn cache_miss() {
        counter!("stytch_verified_cache_misses_total").increment(1);
    }

    pub(crate) fn cache_entries(n: u64) {
        gauge!("stytch_verified_cache_entries").set(n as f64);
    }

    pub(crate) fn remote_call(result: &'static str, elapsed: Duration) {
        counter!("stytch_remote_calls_total", "result" => result).increment(1);
        histogram!("stytch_remote_call_duration_seconds", "result" => result)
            .record(elapsed.as_secs_f64());
    }

    pub(crate) fn coalesced() {
        counter!("stytch_remote_coalesced_total").increment(1);
    }

    pub(crate) fn budget(used: bool, proven: bool) {
        let decision = if used { "used" } else { "refused" };
        let standing = if proven { "proven" } else { "unproven" };
        counter!("stytch_remote_budget_total", "decision" => decision, "standing" => standing)
            .increment(1);
    }

    pub(crate) fn circuit(state: CircuitState) {
        gauge!("stytch_circuit_state").set(state.gauge());
    }

    pub(crate) fn jwks_fetch(result: &'static str, keys: Option<usize>) {
        counter!("stytch_jwks_fetches_total", "result" => result).increment(1);
        if let Some(keys) = keys {
            gauge!("stytch_jwks_keys").set(keys as f64);
            gauge!("stytch_jwks_age_seconds").set(0.0);
        }
    }

    pub(crate) fn jwks_age(age: Duration) {
        gauge!("stytch_jwks_age_seconds").set(age.as_secs_f64());
    }

    pub(crate) fn policy_fetch(result: &'static str, organization: bool) {
        let policy = if organization {
            "organization"
        } else {
            "project"
        };
        counter!("stytch_rbac_policy_fetches_total", "result" => result, "policy" => policy)
            .increment(1);
    }

    pub(crate) fn policy_age(age: Duration) {
        gauge!("stytch_rbac_policy_age_seconds").set(age.as_secs_f64());
    }
}

#[cfg(not(feature = "metrics"))]
mod disabled {
    use std::time::Duration;

    use super::CircuitState;

    pub(crate) struct CacheHits;

    impl CacheHits {
        pub(crate) const fn new() -> Self {
            Self
        }

        #[inline(always)]
        pub(crate) fn record(&self) {}
    }
    #[inline(always)]
    pub(crate) fn cache_miss() {}
    #[inline(always)]
    pub(crate) fn cache_entries(_: u64) {}
    #[inline(always)]
    pub(crate) fn remote_call(_: &'static str, _: Duration) {}
    #[inline(always)]
    pub(crate) fn coalesced() {}
    #[inline(always)]
    pub(crate) fn budget(_: bool, _: bool) {}
    #[inline(always)]
    pub(crate) fn circuit(_: CircuitState) {}
    #[inline(always)]
    pub(crate) fn jwks_fetch(_: &'static str, _: Option<usize>) {}
    #[inline(always)]
    pub(crate) fn jwks_age(_: Duration) {}
    #[inline(always)]
    pub(crate) fn policy_fetch(_: &'static str, _: bool) {}
    #[inline(always)]
    pub(crate) fn policy_age(_: Duration) {}
}

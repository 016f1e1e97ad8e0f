//! [`Health`]: what a readiness probe needs to know about a [`Validator`](crate::Validator).

use std::time::Duration;

use serde::Serialize;
use serde::ser::SerializeStruct as _;

pub use crate::metrics::CircuitState;
use crate::reason::Reason;

/// A snapshot of the validator's upstream state, from
/// [`Validator::health`](crate::Validator::health). Cheap to take; serve it from a
/// readiness probe.
///
/// Ready ([`is_ready`](Self::is_ready)) means the validator holds signing keys that are
/// not past their maximum staleness, so it can verify JWTs without Stytch.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Health {
    /// Key ids in the key set (0 before the first successful fetch).
    pub keys: usize,
    /// How old the key set is; `None` before the first successful fetch.
    pub key_set_age: Option<Duration>,
    /// Whether the key set is older than the configured maximum staleness
    /// (`jwks_max_stale`): refreshes have failed for that long.
    pub keys_stale: bool,
    /// Why the last JWKS fetch failed, until one succeeds.
    pub last_jwks_error: Option<Reason>,
    /// The circuit breaker in front of Stytch's API.
    pub circuit: CircuitState,
    /// How old the project's RBAC policy is; `None` when none was fetched yet.
    pub policy_age: Option<Duration>,
    /// Calls to Stytch the remote budget would allow right now (`u32::MAX` when the
    /// budget is disabled).
    pub remote_budget_available: u32,
    /// The remote budget's burst.
    pub remote_budget_burst: u32,
    /// Verified JWTs held in memory.
    pub verified_cache_entries: usize,
    /// The bytes they weigh (bounded by `verified_cache_bytes`).
    pub verified_cache_bytes: u64,
    /// Revoked sessions held in the local mirror (expired ones not yet swept included).
    pub revoked_sessions: usize,
    /// The fleet's shared state, in fleet mode: whether its last call succeeded. A
    /// degraded fleet does not make the validator unready; it works on local state.
    pub fleet: Option<FleetStatus>,
}

/// How the fleet's shared state answered last (see [`Health::fleet`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FleetStatus {
    /// Its last call succeeded.
    Ok,
    /// Its last call failed or timed out; the validator uses its local state.
    Degraded,
}

impl FleetStatus {
    /// `ok` or `degraded`.
    pub fn as_str(self) -> &'static str {
        match self {
            FleetStatus::Ok => "ok",
            FleetStatus::Degraded => "degraded",
        }
    }
}

impl Health {
    /// Keys are held and not past their maximum staleness.
    pub fn is_ready(&self) -> bool {
        self.keys > 0 && !self.keys_stale
    }
}

impl Serialize for Health {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
        let mut st = s.serialize_struct("Health", 13)?;
        st.serialize_field("ready", &self.is_ready())?;
        st.serialize_field("keys", &self.keys)?;
        st.serialize_field("key_set_age_seconds", &secs(self.key_set_age))?;
        st.serialize_field("keys_stale", &self.keys_stale)?;
        st.serialize_field("last_jwks_error", &self.last_jwks_error)?;
        st.serialize_field("circuit", self.circuit.as_str())?;
        st.serialize_field("policy_age_seconds", &secs(self.policy_age))?;
        st.serialize_field("remote_budget_available", &self.remote_budget_available)?;
        st.serialize_field("remote_budget_burst", &self.remote_budget_burst)?;
        st.serialize_field("verified_cache_entries", &self.verified_cache_entries)?;
        st.serialize_field("verified_cache_bytes", &self.verified_cache_bytes)?;
        st.serialize_field("revoked_sessions", &self.revoked_sessions)?;
        st.serialize_field("fleet", &self.fleet.map(FleetStatus::as_str))?;
        st.end()
    }
}

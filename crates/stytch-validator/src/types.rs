//! The public values that go in and out of a [`Validator`](crate::Validator):
//! credentials, outcomes, refreshed tokens and statistics.

use std::fmt;

use crate::fingerprint::Fingerprint;
use crate::session::Session;

/// The credentials a request carried. At least one should be set. When both are, the
/// JWT is tried first (locally); the session token is used only when the JWT cannot be
/// judged because the signing keys could not be refreshed.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    /// The `stytch_session_jwt` value.
    pub session_jwt: Option<String>,
    /// The `stytch_session` value (opaque, checked by Stytch).
    pub session_token: Option<String>,
}

impl Credentials {
    /// Whatever the request carried: a JWT, a session token, both or neither.
    pub fn new(session_jwt: Option<String>, session_token: Option<String>) -> Self {
        Self {
            session_jwt,
            session_token,
        }
    }

    /// A session JWT.
    pub fn jwt(jwt: impl Into<String>) -> Self {
        Self {
            session_jwt: Some(jwt.into()),
            session_token: None,
        }
    }

    /// An opaque session token.
    pub fn token(token: impl Into<String>) -> Self {
        Self {
            session_jwt: None,
            session_token: Some(token.into()),
        }
    }

    /// Whether neither credential is present.
    pub fn is_empty(&self) -> bool {
        self.session_jwt.is_none() && self.session_token.is_none()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("session_jwt", &self.session_jwt.as_deref().map(Fingerprint))
            .field(
                "session_token",
                &self.session_token.as_deref().map(Fingerprint),
            )
            .finish()
    }
}

/// Fresh credentials Stytch issued while authenticating remotely; hand them back to the
/// client (the layer sets them as cookies).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshedTokens {
    /// A new 5-minute session JWT.
    pub session_jwt: String,
    /// The session token.
    pub session_token: String,
}

impl fmt::Debug for RefreshedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshedTokens")
            .field("session_jwt", &Fingerprint(&self.session_jwt))
            .field("session_token", &Fingerprint(&self.session_token))
            .finish()
    }
}

/// A successful authentication.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Authenticated {
    /// The session.
    pub session: Session,
    /// Set when Stytch was asked and issued fresh tokens.
    pub refreshed: Option<RefreshedTokens>,
}

/// Counters for observing what the validator did (tests, metrics exporters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatorStats {
    /// RSA signature checks performed (verified-cache misses).
    pub signature_verifications: u64,
    /// HTTP calls to `sessions/authenticate`, retries included.
    pub remote_calls: u64,
    /// HTTP fetches of the JWKS.
    pub jwks_fetches: u64,
    /// HTTP fetches of the RBAC policy.
    pub policy_fetches: u64,
    /// Calls to Stytch the remote budget allowed.
    pub budget_used: u64,
    /// Calls to Stytch the remote budget refused (503 `stytch_budget_exhausted`).
    pub budget_refused: u64,
    /// Requests answered from a kept remote answer (this instance's or, in fleet mode,
    /// another's) instead of a call to Stytch.
    pub remote_answers_reused: u64,
    /// Remote answers taken from the fleet (fleet mode).
    pub fleet_answers: u64,
    /// Calls to the fleet's shared state that failed or timed out; each fell back to
    /// local state.
    pub fleet_errors: u64,
}

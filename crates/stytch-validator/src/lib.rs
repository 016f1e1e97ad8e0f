//! Framework-agnostic verification of [Stytch](https://stytch.com) sessions.
//!
//! A [`Validator`] checks a session JWT locally against the project's cached JWKS and
//! only asks Stytch's API when it must: for opaque session tokens, and for JWTs that
//! are authentic but expired, too old, or cannot be checked because the keys are
//! unavailable. Forged and malformed tokens are rejected locally and never reach
//! Stytch. Web-framework integration lives in the `axum-stytch` crate, which
//! re-exports this one.
//!
//! ```no_run
//! use stytch_validator::{Credentials, StytchConfig, Validator};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // STYTCH_PROJECT_ID, STYTCH_SECRET and optionally STYTCH_API_URL.
//! let validator = Validator::new(StytchConfig::from_env()?);
//! let auth = validator.authenticate(Credentials::jwt("eyJhbGciOi...")).await?;
//! println!("user {} via {:?}", auth.session.user_id(), auth.session.source());
//! if let Some(fresh) = auth.refreshed {
//!     // Stytch issued a new JWT: give it back to the client.
//!     let _ = fresh.session_jwt;
//! }
//! # Ok(()) }
//! ```
//!
//! # What is checked locally
//!
//! RS256 only, the key chosen by `kid` from the JWKS (keys whose `alg`, `use` or
//! `key_ops` say otherwise, or under 2048 bits, are ignored); `typ` when present;
//! `iss` is `stytch.com/{project_id}` or the configured custom domain; `aud` contains
//! the project id; `exp`, `iat` (and `nbf` when present) against the injected
//! [`Clock`] with a small leeway; headers that would change processing (`crit`, `jku`,
//! `jwk`, `x5u`, `x5c`, ...) are refused; the token size is capped before parsing.
//!
//! # Caches and failure handling
//!
//! * The JWKS is read lock-free, refreshed in the background at its max-age, on an
//!   unknown `kid` at most once per cooldown, one fetch at a time; a failed fetch
//!   keeps the last good keys.
//! * A JWT that verified is remembered until it expires; every hit re-checks time and
//!   that its key is still published.
//! * Remote checks are coalesced per credential, refused credentials are remembered
//!   briefly, calls have deadlines, one retry on 5xx/429, and a circuit breaker.
//! * Stytch's successes are kept (keyed by a hash of the credential) until the fresh
//!   JWT's `exp`, so a client that sends only its session token costs one call per JWT
//!   lifetime.
//!
//! # Revocation and fleet mode
//!
//! [`Validator::revoke`] ends a session at Stytch and refuses it at once, from every
//! cache, with [`Reason::SessionRevoked`], for as long as a JWT of it could still
//! verify. [`Validator::with_fleet`] shares revocations, Stytch's answers and the remote
//! budget with the other instances of a service through a [`FleetState`] (the
//! `stytch-redis` crate implements it on Redis); see [`fleet`]. A verified-cache hit
//! reads only local memory either way.
//!
//! # Errors
//!
//! Every failure is an [`AuthError`] with a typed [`Reason`]: a stable code (its
//! [`as_str`](Reason::as_str) is the wire value) that decides the [`ErrorKind`] and so
//! the status, 401, 403, 503 or 500. [`Reason::ALL`] lists them all. Tokens and secrets
//! never appear in errors, `Debug` output or logs; logs carry a short
//! [`fingerprint`] instead.
//!
//! # Tracing
//!
//! Remote calls and key fetches run in the spans `stytch.api.authenticate` (`token.fp`)
//! and `stytch.jwks.fetch` (`url`). Events use the target `stytch_validator` and these
//! stable names and fields:
//! `stytch.jwt.rejected` / `stytch.jwt.remote_fallback` (`token.fp`, `reason`),
//! `stytch.api.authenticated` / `stytch.api.rejected` / `stytch.api.failed`
//! (`token.fp`, `reason`, `elapsed_ms`), `stytch.api.circuit_open`,
//! `stytch.jwks.refreshed` (`keys`), `stytch.jwks.fetch_failed` (`reason`,
//! `failures`, `retry_in_ms`), `stytch.rbac.policy_refreshed`,
//! `stytch.session.revoked` / `stytch.api.revoke_failed` (`session.id`, `reason`),
//! `stytch.fleet.unavailable` (`op`, `error`; once per outage), `stytch.fleet.recovered`
//! (`op`), `stytch.fleet.answer_reused` (`token.fp`).

#![cfg_attr(docsrs, feature(doc_cfg))]

mod answers;
mod breaker;
mod budget;
mod clock;
mod config;
mod error;
mod fingerprint;
pub mod fleet;
mod health;
mod hot;
mod http;
mod jwks;
mod jwt;
mod local;
mod map_key;
mod metrics;
mod rbac;
mod reason;
mod remote;
mod revoke;
mod revoked;
mod session;
mod singleflight;
mod time_fmt;
mod types;
mod validator;
mod verified;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    ConfigError, DEFAULT_VERIFIED_CACHE_BYTES, LIVE_API_URL, StytchConfig, StytchConfigBuilder,
    TEST_API_URL, Vertical,
};
pub use error::AuthError;
pub use fingerprint::fingerprint;
pub use fleet::FleetState;
pub use health::{CircuitState, FleetStatus, Health};
pub use rbac::{Authorization, Permission, Policy, Resource, Role};
pub use reason::{ErrorKind, Reason};
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use session::SessionBuilder;
pub use session::{
    AuthenticationFactor, AuthenticatorAppFactor, EmailFactor, NoClaims, OAuthFactor, Organization,
    PhoneNumberFactor, Session, SessionAttributes, SessionSource, SsoFactor, WebAuthnFactor,
};
pub use types::{Authenticated, Credentials, RefreshedTokens, ValidatorStats};
pub use validator::Validator;

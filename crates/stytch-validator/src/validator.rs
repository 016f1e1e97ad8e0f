//! The [`Validator`]: local verification first, Stytch only when it must.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::budget::Standing;
use crate::config::StytchConfig;
use crate::error::AuthError;
use crate::fleet::{FleetMirror, FleetState, Link, Revocation};
use crate::health::Health;
use crate::jwks::{Jwks, Refresh};
use crate::local::{Cached, Local, Verdict};
use crate::rbac::{Authorization, Policy, PolicyCache};
use crate::reason::Reason;
use crate::remote::{Credential, Remote};
use crate::revoked::{REVOCATION_WINDOW_MS, RevokedSet};
use crate::session::Session;
use crate::types::{Authenticated, Credentials, ValidatorStats};

/// Verifies Stytch sessions. Cheap to clone; every clone shares keys, caches and
/// connections, so build one per process and share it.
///
/// Construction never touches the network: keys are fetched on first use, or call
/// [`warm_up`](Self::warm_up) at startup.
#[derive(Clone)]
pub struct Validator(Arc<Inner>);

struct Inner {
    config: Arc<StytchConfig>,
    http: reqwest::Client,
    local: Local,
    remote: Remote,
    policy: PolicyCache,
    revoked: Arc<RevokedSet>,
    fleet: Option<Arc<Link>>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("config", &self.0.config)
            .field("jwks", &self.0.local.jwks)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// A validator for this configuration, keeping all its state in process.
    pub fn new(config: StytchConfig) -> Self {
        Self::build(config, None)
    }

    /// A validator that shares revocations, remote answers and the remote budget with
    /// the other instances of a fleet through `fleet` (see [`fleet`](crate::fleet); the
    /// `stytch-redis` crate implements it on Redis). A verified-cache hit still reads
    /// only local memory: revocations arrive by subscription into a local mirror.
    /// Whatever happens to the fleet's store, no request waits on it longer than
    /// [`FleetState::timeout`]; the validator then uses its local state.
    pub fn with_fleet(config: StytchConfig, fleet: impl FleetState) -> Self {
        Self::build(config, Some(Arc::new(fleet)))
    }

    fn build(config: StytchConfig, fleet: Option<Arc<dyn FleetState>>) -> Self {
        let config = Arc::new(config);
        let http = crate::http::client(&config);
        let jwks = Jwks::new(Arc::clone(&config), http.clone());
        let revoked = Arc::new(RevokedSet::default());
        let fleet = fleet.map(|state| Arc::new(Link::new(state)));
        if let Some(link) = &fleet {
            link.attach(FleetMirror::new(&revoked, Arc::clone(&config.clock)));
        }
        Self(Arc::new(Inner {
            local: Local::new(Arc::clone(&config), jwks, Arc::clone(&revoked)),
            remote: Remote::new(
                Arc::clone(&config),
                http.clone(),
                Arc::clone(&revoked),
                fleet.clone(),
            ),
            policy: PolicyCache::new(Arc::clone(&config), http.clone()),
            http,
            revoked,
            fleet,
            config,
        }))
    }

    /// Revokes a session (logout): refuses it at once, from every cache, here and, in
    /// fleet mode, on every instance, then ends it at Stytch (`sessions/revoke`, or the
    /// B2B route with `member_session_id`).
    ///
    /// The refusal (reason [`Reason::SessionRevoked`]) lasts as long as a JWT of the
    /// session could still verify: Stytch's JWTs live five minutes, plus the leeway.
    /// After that Stytch's own answer (`session_not_found`) takes over. A session
    /// Stytch no longer knows counts as revoked. When Stytch cannot be reached the
    /// error says so (503) and the session stays refused here; call again to end it
    /// at Stytch.
    ///
    /// ```no_run
    /// # async fn f(validator: stytch_validator::Validator, session: stytch_validator::Session) {
    /// validator.revoke(session.session_id()).await.expect("revoked");
    /// # }
    /// ```
    pub async fn revoke(&self, session_id: &str) -> Result<(), AuthError> {
        let revocation = Revocation {
            session_id: session_id.to_owned(),
            until_ms: 0,
        };
        if !revocation.is_well_formed() {
            return Err(AuthError::new(
                Reason::SessionInvalid,
                "That is not a session id.",
            ));
        }
        let now = self.0.config.clock.now_millis();
        let until_ms = now
            .saturating_add(REVOCATION_WINDOW_MS)
            .saturating_add(crate::clock::millis(self.0.config.leeway));
        self.0.revoked.insert(session_id, until_ms, now);
        tracing::info!(session.id = session_id, "stytch.session.revoked");
        if let Some(link) = &self.0.fleet {
            let revocation = Revocation {
                until_ms,
                ..revocation
            };
            link.run("publish_revocation", |state| {
                state.publish_revocation(revocation)
            })
            .await;
        }
        crate::revoke::at_stytch(&self.0.http, &self.0.config, session_id).await
    }

    /// Whether `session_id` is refused as revoked right now (a local read, no I/O).
    pub fn is_revoked(&self, session_id: &str) -> bool {
        self.0
            .revoked
            .contains(session_id, self.0.config.clock.now_millis())
    }

    /// A validator configured from the environment: `STYTCH_PROJECT_ID`,
    /// `STYTCH_SECRET` and, when set, `STYTCH_API_URL` (see [`StytchConfig::from_env`]).
    pub fn from_env() -> Result<Self, crate::ConfigError> {
        StytchConfig::from_env().map(Self::new)
    }

    /// The configuration.
    pub fn config(&self) -> &StytchConfig {
        &self.0.config
    }

    /// Fetches the JWKS now. Optional: without it the first request fetches. An error
    /// is informational; the validator keeps working and retries with backoff.
    pub async fn warm_up(&self) -> Result<(), AuthError> {
        match self.0.local.jwks.refresh(false).await {
            Refresh::Done | Refresh::CoolingDown => Ok(()),
            Refresh::Failed(f) => Err(AuthError::unavailable(
                f.reason,
                "The signing keys could not be fetched.",
                f.retry_after,
            )),
        }
    }

    /// What the validator has done so far.
    pub fn stats(&self) -> ValidatorStats {
        let (budget_used, budget_refused) = self.0.remote.budget_counts();
        let (remote_answers_reused, fleet_answers) = self.0.remote.reuse_counts();
        ValidatorStats {
            remote_answers_reused,
            fleet_answers,
            fleet_errors: self.0.fleet.as_ref().map_or(0, |f| f.errors()),
            signature_verifications: self.0.local.verifications(),
            remote_calls: self.0.remote.call_count(),
            jwks_fetches: self.0.local.jwks.fetch_count(),
            policy_fetches: self.0.policy.fetch_count(),
            budget_used,
            budget_refused,
        }
    }

    /// A snapshot of the upstream state for health and readiness probes: key set age and
    /// count, the last JWKS error, the circuit, the policy age, the remote budget. It
    /// never touches the network.
    ///
    /// ```
    /// # fn f(validator: stytch_validator::Validator) {
    /// let health = validator.health();
    /// if !health.is_ready() {
    ///     eprintln!("not ready: {:?}", health.last_jwks_error);
    /// }
    /// # }
    /// ```
    pub fn health(&self) -> Health {
        let now = self.0.config.clock.now_millis();
        let keys = self.0.local.jwks.peek();
        let (remote_budget_available, remote_budget_burst) = self.0.remote.budget_available();
        let key_set_age = keys.fetched().then(|| keys.age(now));
        if let Some(age) = key_set_age {
            crate::metrics::jwks_age(age);
        }
        let policy_age = self.0.policy.age();
        let (verified_cache_entries, verified_cache_bytes) = self.0.local.cached_entries();
        if let Some(age) = policy_age {
            crate::metrics::policy_age(age);
        }
        Health {
            keys: keys.len(),
            key_set_age,
            keys_stale: self.0.local.jwks.is_stale_at(&keys, now),
            last_jwks_error: self.0.local.jwks.last_error(),
            circuit: self.0.remote.circuit_state(),
            policy_age,
            remote_budget_available,
            remote_budget_burst,
            verified_cache_entries,
            verified_cache_bytes,
            revoked_sessions: self.0.revoked.len(),
            fleet: self.0.fleet.as_ref().map(|f| {
                if f.is_degraded() {
                    crate::health::FleetStatus::Degraded
                } else {
                    crate::health::FleetStatus::Ok
                }
            }),
        }
    }

    /// Whether the circuit breaker refuses calls to Stytch right now: open, or half-open
    /// with its one probe still out.
    pub fn circuit_open(&self) -> bool {
        self.0.remote.circuit_open()
    }

    /// The session for a JWT that verified before and is still valid, without I/O: the
    /// hot path. `None` means "call [`authenticate`](Self::authenticate)".
    /// A JWT of a revoked session is `None`.
    ///
    /// `jwt` is the token as text or as the bytes a header carries (`HeaderValue::as_bytes`):
    /// a hit compares the whole token with one that verified, so bytes need no UTF-8
    /// check first; bytes that never verified, text or not, are `None`.
    pub fn cached(&self, jwt: impl AsRef<[u8]>) -> Option<Session> {
        match self.0.local.cached(jwt.as_ref()) {
            Cached::Hit(session) => Some(session),
            Cached::Revoked | Cached::Miss => None,
        }
    }

    /// Authenticates a request's credentials: locally when the JWT allows it, otherwise
    /// with Stytch (expired or too-old JWTs, session tokens, keys unavailable).
    pub async fn authenticate(&self, credentials: Credentials) -> Result<Authenticated, AuthError> {
        let Credentials {
            session_jwt,
            session_token,
        } = credentials;
        let Some(jwt) = session_jwt else {
            return match session_token {
                Some(token) => self.remote_token(token).await,
                None => Err(AuthError::new(
                    Reason::MissingCredentials,
                    "No session credentials were provided.",
                )),
            };
        };
        match self.0.local.cached(jwt.as_bytes()) {
            Cached::Hit(session) => {
                return Ok(Authenticated {
                    session,
                    refreshed: None,
                });
            }
            Cached::Revoked => return Err(crate::remote::revoked()),
            Cached::Miss => {}
        }
        let mut verdict = self.0.local.verify(&jwt);
        // Set when the key set could not be refreshed: then an unknown kid may be a
        // rotation we cannot see yet, not a forgery.
        let mut keys_unavailable = None;
        if matches!(verdict, Verdict::UnknownKey | Verdict::NoKeys) {
            let unknown_kid = matches!(verdict, Verdict::UnknownKey);
            match self.0.local.jwks.refresh(unknown_kid).await {
                Refresh::Done => verdict = self.0.local.verify(&jwt),
                Refresh::CoolingDown => {}
                Refresh::Failed(failed) => {
                    keys_unavailable = Some(failed);
                    if self.0.local.jwks.load().is_empty() {
                        verdict = Verdict::NoKeys;
                    }
                }
            }
        }
        let fp = crate::fingerprint::Fingerprint(&jwt);
        match verdict {
            Verdict::Valid(session) => Ok(Authenticated {
                session,
                refreshed: None,
            }),
            Verdict::Revoked => {
                tracing::debug!(token.fp = %fp, reason = Reason::SessionRevoked.as_str(), "stytch.jwt.rejected");
                Err(crate::remote::revoked())
            }
            Verdict::Invalid(reason) => {
                tracing::debug!(token.fp = %fp, reason = reason.as_str(), "stytch.jwt.rejected");
                Err(AuthError::new(reason, "The session JWT is not valid."))
            }
            Verdict::UnknownKey => match (keys_unavailable, session_token) {
                (None, _) => {
                    tracing::debug!(token.fp = %fp, reason = Reason::JwtUnknownKey.as_str(), "stytch.jwt.rejected");
                    Err(AuthError::new(
                        Reason::JwtUnknownKey,
                        "The session JWT is not signed by a known Stytch key.",
                    ))
                }
                (Some(_), Some(token)) => {
                    tracing::debug!(token.fp = %fp, reason = Reason::JwksUnavailable.as_str(), "stytch.jwt.remote_fallback");
                    self.remote_token(token).await
                }
                (Some(failed), None) => Err(AuthError::unavailable(
                    Reason::JwksUnavailable,
                    "The signing keys could not be refreshed to check this session.",
                    failed.retry_after,
                )),
            },
            Verdict::Stale(reason) => {
                tracing::debug!(token.fp = %fp, reason = reason.as_str(), "stytch.jwt.remote_fallback");
                self.remote(Credential::Jwt(jwt.into()), Standing::Proven)
                    .await
            }
            Verdict::NoKeys => {
                tracing::debug!(token.fp = %fp, reason = Reason::JwksUnavailable.as_str(), "stytch.jwt.remote_fallback");
                self.remote(Credential::Jwt(jwt.into()), Standing::Unproven)
                    .await
            }
        }
    }

    async fn remote_token(&self, token: String) -> Result<Authenticated, AuthError> {
        // Do not spend a call on what cannot be a Stytch session token: Stytch's tokens
        // are base64url, and their length is Stytch's business up to a sane cap.
        let plausible = !token.is_empty()
            && token.len() <= self.0.config.max_session_token_bytes
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plausible {
            return Err(AuthError::new(
                Reason::SessionTokenMalformed,
                "The session token is not valid.",
            ));
        }
        self.remote(Credential::Token(token.into()), Standing::Unproven)
            .await
    }

    async fn remote(
        &self,
        credential: Credential,
        standing: Standing,
    ) -> Result<Authenticated, AuthError> {
        self.0.remote.authenticate(credential, standing).await
    }

    /// Checks an RBAC permission for a session against the project's policy (fetched and
    /// cached; docs/stytch-protocol.md#rbac-permission-check). For a B2B member session
    /// the session's organization's custom roles count too. Denial is
    /// [`ErrorKind::Forbidden`](crate::ErrorKind::Forbidden).
    pub async fn authorize(
        &self,
        session: &Session,
        resource: &str,
        action: &str,
    ) -> Result<Authorization, AuthError> {
        self.0
            .policy
            .check(session, session.organization_id(), resource, action)
            .await
    }

    /// B2B: checks that the session belongs to `organization_id` (tenancy) and then the
    /// permission, over the project's roles plus that organization's custom roles. A
    /// session of another organization is denied with reason
    /// [`Reason::TenancyMismatch`] before any policy is consulted.
    pub async fn authorize_in_organization(
        &self,
        session: &Session,
        organization_id: &str,
        resource: &str,
        action: &str,
    ) -> Result<Authorization, AuthError> {
        if session.organization_id() != Some(organization_id) {
            return Err(AuthError::new(
                Reason::TenancyMismatch,
                "The session belongs to a different organization.",
            ));
        }
        self.0
            .policy
            .check(session, Some(organization_id), resource, action)
            .await
    }

    /// The project's RBAC policy (cached for the policy TTL).
    pub async fn policy(&self) -> Result<Arc<Policy>, AuthError> {
        self.0.policy.get().await
    }
}

impl tower_service::Service<Credentials> for Validator {
    type Response = Authenticated;
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Authenticated, AuthError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, credentials: Credentials) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.authenticate(credentials).await })
    }
}

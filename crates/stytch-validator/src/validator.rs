//! The [`Validator`]: local verification first, Stytch only when it must.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use crate::budget::Standing;
use crate::config::StytchConfig;
use crate::error::AuthError;
use crate::jwks::{Jwks, Refresh};
use crate::jwt::{self, Times};
use crate::rbac::{Authorization, Policy, PolicyCache};
use crate::remote::{Credential, Remote};
use crate::session::Session;

/// The credentials a request carried. At least one should be set. When both are, the
/// JWT is tried first (locally); the session token is used only when the JWT cannot be
/// judged because the signing keys could not be refreshed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The `stytch_session_jwt` value.
    pub session_jwt: Option<String>,
    /// The `stytch_session` value (opaque, checked by Stytch).
    pub session_token: Option<String>,
}

impl Credentials {
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
            .field(
                "session_jwt",
                &self.session_jwt.as_deref().map(crate::Fingerprint),
            )
            .field(
                "session_token",
                &self.session_token.as_deref().map(crate::Fingerprint),
            )
            .finish()
    }
}

/// Fresh credentials Stytch issued while authenticating remotely; hand them back to the
/// client (the layer sets them as cookies).
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshedTokens {
    /// A new 5-minute session JWT.
    pub session_jwt: String,
    /// The session token.
    pub session_token: String,
}

impl fmt::Debug for RefreshedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshedTokens")
            .field("session_jwt", &crate::Fingerprint(&self.session_jwt))
            .field("session_token", &crate::Fingerprint(&self.session_token))
            .finish()
    }
}

/// A successful authentication.
#[derive(Debug, Clone)]
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
}

struct CachedToken {
    session: Session,
    times: Times,
    kid: String,
}

/// The verified-token cache: whole token → what it verified to. Lookups borrow the
/// token (`&str`), so a hit copies nothing.
type VerifiedCache =
    quick_cache::sync::Cache<String, Arc<CachedToken>, quick_cache::UnitWeighter, TokenHash>;

/// How many trailing bytes of a token the verified cache hashes.
const HASHED_TAIL: usize = 32;

/// Hashes a token by its length and its last [`HASHED_TAIL`] bytes, with a random
/// SipHash key: the end of an RS256 JWT is its signature, effectively random for
/// distinct tokens, so this spreads keys as well as hashing all ~1.4 KB does, at a
/// fraction of the cost (measured in `benches/`). Equality still compares the whole
/// token, and only tokens that verified are ever inserted, so crafted collisions can
/// cost a lookup a comparison but cannot fill a bucket.
#[derive(Clone, Default)]
struct TokenHash(std::collections::hash_map::RandomState);

impl std::hash::BuildHasher for TokenHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

struct TailHasher(std::collections::hash_map::DefaultHasher);

impl std::hash::Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write_usize(bytes.len());
        self.0
            .write(&bytes[bytes.len().saturating_sub(HASHED_TAIL)..]);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// Verifies Stytch sessions. Cheap to clone; every clone shares keys, caches and
/// connections, so build one per process and share it.
///
/// Construction never touches the network: keys are fetched on first use, or call
/// [`warm_up`](Self::warm_up) at startup.
#[derive(Clone)]
pub struct Validator(Arc<Inner>);

struct Inner {
    config: Arc<StytchConfig>,
    jwks: Jwks,
    remote: Remote,
    policy: PolicyCache,
    verified: Option<VerifiedCache>,
    verifications: AtomicU64,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("config", &self.0.config)
            .field("jwks", &self.0.jwks)
            .finish_non_exhaustive()
    }
}

/// The local verdict on a JWT.
enum Local {
    Valid(Session),
    /// Authentic but not acceptable locally right now: ask Stytch.
    Stale(&'static str),
    /// The signing key is not in the set we hold.
    UnknownKey,
    /// There are no (trustworthy) keys at all.
    NoKeys,
    /// Not a session JWT of this project: reject without asking anyone.
    Invalid(&'static str),
}

impl Validator {
    /// A validator for this configuration.
    pub fn new(config: StytchConfig) -> Self {
        let config = Arc::new(config);
        let http = crate::http::client(&config);
        let verified = (config.verified_cache_capacity > 0).then(|| {
            let capacity = config.verified_cache_capacity;
            VerifiedCache::with(
                capacity,
                capacity as u64,
                quick_cache::UnitWeighter,
                TokenHash::default(),
                Default::default(),
            )
        });
        Self(Arc::new(Inner {
            jwks: Jwks::new(Arc::clone(&config), http.clone()),
            remote: Remote::new(Arc::clone(&config), http.clone()),
            policy: PolicyCache::new(Arc::clone(&config), http),
            verified,
            verifications: AtomicU64::new(0),
            config,
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &StytchConfig {
        &self.0.config
    }

    /// Fetches the JWKS now. Optional: without it the first request fetches. An error
    /// is informational; the validator keeps working and retries with backoff.
    pub async fn warm_up(&self) -> Result<(), AuthError> {
        match self.0.jwks.refresh(false).await {
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
        ValidatorStats {
            signature_verifications: self.0.verifications.load(Ordering::Relaxed),
            remote_calls: self.0.remote.call_count(),
            jwks_fetches: self.0.jwks.fetch_count(),
            policy_fetches: self.0.policy.fetch_count(),
            budget_used,
            budget_refused,
        }
    }

    /// Whether the circuit breaker refuses calls to Stytch right now: open, or half-open
    /// with its one probe still out.
    pub fn circuit_open(&self) -> bool {
        self.0.remote.circuit_open()
    }

    /// The session for a JWT that verified before and is still valid, without any
    /// allocation or I/O: the hot path. `None` means "call [`authenticate`](Self::authenticate)".
    pub fn cached(&self, jwt: &str) -> Option<Session> {
        let cache = self.0.verified.as_ref()?;
        let hit = cache.get(jwt)?;
        let now = self.0.config.clock.now_millis();
        let keys = self.0.jwks.load_at(now);
        // Time moves and keys are withdrawn: both are re-checked on every hit.
        if hit.times.check(now, &self.0.config).is_err()
            || !keys.contains(&hit.kid)
            || self.0.jwks.is_stale_at(&keys, now)
        {
            cache.remove(jwt);
            return None;
        }
        Some(hit.session.clone())
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
                None => Err(AuthError::unauthenticated(
                    "missing_credentials",
                    "No session credentials were provided.",
                )),
            };
        };
        if let Some(session) = self.cached(&jwt) {
            return Ok(Authenticated {
                session,
                refreshed: None,
            });
        }
        let mut verdict = self.verify(&jwt);
        // Set when the key set could not be refreshed: then an unknown kid may be a
        // rotation we cannot see yet, not a forgery.
        let mut keys_unavailable = None;
        if matches!(verdict, Local::UnknownKey | Local::NoKeys) {
            let unknown_kid = matches!(verdict, Local::UnknownKey);
            match self.0.jwks.refresh(unknown_kid).await {
                Refresh::Done => verdict = self.verify(&jwt),
                Refresh::CoolingDown => {}
                Refresh::Failed(failed) => {
                    keys_unavailable = Some(failed);
                    if self.0.jwks.load().is_empty() {
                        verdict = Local::NoKeys;
                    }
                }
            }
        }
        let fp = crate::Fingerprint(&jwt);
        match verdict {
            Local::Valid(session) => Ok(Authenticated {
                session,
                refreshed: None,
            }),
            Local::Invalid(reason) => {
                tracing::debug!(token.fp = %fp, reason, "stytch.jwt.rejected");
                Err(AuthError::unauthenticated(
                    reason,
                    "The session JWT is not valid.",
                ))
            }
            Local::UnknownKey => match (keys_unavailable, session_token) {
                (None, _) => {
                    tracing::debug!(token.fp = %fp, reason = "jwt_unknown_key", "stytch.jwt.rejected");
                    Err(AuthError::unauthenticated(
                        "jwt_unknown_key",
                        "The session JWT is not signed by a known Stytch key.",
                    ))
                }
                (Some(_), Some(token)) => {
                    tracing::debug!(token.fp = %fp, reason = "jwks_unavailable", "stytch.jwt.remote_fallback");
                    self.remote_token(token).await
                }
                (Some(failed), None) => Err(AuthError::unavailable(
                    "jwks_unavailable",
                    "The signing keys could not be refreshed to check this session.",
                    failed.retry_after,
                )),
            },
            Local::Stale(reason) => {
                tracing::debug!(token.fp = %fp, reason, "stytch.jwt.remote_fallback");
                self.remote(Credential::Jwt(jwt.into()), Standing::Proven)
                    .await
            }
            Local::NoKeys => {
                tracing::debug!(token.fp = %fp, reason = "jwks_unavailable", "stytch.jwt.remote_fallback");
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
            return Err(AuthError::unauthenticated(
                "session_token_malformed",
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

    /// Verifies a JWT against the keys held now; caches it when valid.
    fn verify(&self, jwt: &str) -> Local {
        let config = &*self.0.config;
        let parsed = match jwt::parse(jwt, config.max_token_bytes) {
            Ok(p) => p,
            Err(reason) => return Local::Invalid(reason),
        };
        let keys = self.0.jwks.load();
        if keys.is_empty() || self.0.jwks.is_stale(&keys) {
            // The signature cannot be checked, but the claims can: a token that is not
            // a session JWT of this project is refused here rather than costing a call.
            return match parsed.claims().and_then(|claims| claims.validate(config)) {
                Ok(_) => Local::NoKeys,
                Err(reason) => Local::Invalid(reason),
            };
        }
        let Some(key) = keys.get(&parsed.kid) else {
            return Local::UnknownKey;
        };
        self.0.verifications.fetch_add(1, Ordering::Relaxed);
        if !parsed.verify_signature(key) {
            return Local::Invalid("jwt_invalid_signature");
        }
        let claims = match parsed.claims() {
            Ok(c) => c,
            Err(reason) => return Local::Invalid(reason),
        };
        let times = match claims.validate(config) {
            Ok(t) => t,
            Err(reason) => return Local::Invalid(reason),
        };
        if let Err(stale) = times.check(config.clock.now_millis(), config) {
            return Local::Stale(stale.reason());
        }
        let session = claims.into_session(times);
        if let Some(cache) = &self.0.verified {
            cache.insert(
                jwt.to_owned(),
                Arc::new(CachedToken {
                    session: session.clone(),
                    times,
                    kid: parsed.kid,
                }),
            );
        }
        Local::Valid(session)
    }

    /// Checks an RBAC permission for a session against the project's policy (fetched and
    /// cached; docs/stytch-protocol.md#rbac-permission-check). For a B2B member session
    /// the session's organization's custom roles count too. Denial is [`ErrorKind::Forbidden`](crate::ErrorKind::Forbidden).
    pub async fn authorize(
        &self,
        session: &Session,
        resource: &str,
        action: &str,
    ) -> Result<Authorization, AuthError> {
        match session.organization_id() {
            Some(org) => {
                self.check_permission(session, Some(org), resource, action)
                    .await
            }
            None => self.check_permission(session, None, resource, action).await,
        }
    }

    /// B2B: checks that the session belongs to `organization_id` (tenancy) and then the
    /// permission, over the project's roles plus that organization's custom roles. A
    /// session of another organization is denied with reason `tenancy_mismatch` before
    /// any policy is consulted.
    pub async fn authorize_in_organization(
        &self,
        session: &Session,
        organization_id: &str,
        resource: &str,
        action: &str,
    ) -> Result<Authorization, AuthError> {
        if session.organization_id() != Some(organization_id) {
            return Err(AuthError::forbidden(
                "tenancy_mismatch",
                "The session belongs to a different organization.",
            ));
        }
        self.check_permission(session, Some(organization_id), resource, action)
            .await
    }

    async fn check_permission(
        &self,
        session: &Session,
        organization_id: Option<&str>,
        resource: &str,
        action: &str,
    ) -> Result<Authorization, AuthError> {
        let project = self.policy().await?;
        let organization = match organization_id {
            Some(org) => Some(self.0.policy.organization(org).await?),
            None => None,
        };
        let roles = project
            .roles
            .iter()
            .chain(organization.iter().flat_map(|p| p.roles.iter()));
        let granting = crate::rbac::granting(roles, session.roles(), resource, action);
        if granting.is_empty() {
            return Err(AuthError::forbidden(
                "permission_denied",
                format!(
                    "The session may not `{}` on `{}`.",
                    escape(action),
                    escape(resource)
                ),
            ));
        }
        Ok(Authorization {
            granting_roles: granting.into_iter().map(str::to_owned).collect(),
        })
    }

    /// The project's RBAC policy (cached for the policy TTL).
    pub async fn policy(&self) -> Result<Arc<Policy>, AuthError> {
        self.0.policy.get().await
    }
}

/// Keeps caller-supplied names printable in messages.
fn escape(s: &str) -> String {
    s.chars().flat_map(char::escape_default).take(128).collect()
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

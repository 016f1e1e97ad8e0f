//! Stytch's `sessions/authenticate` API: the fallback for what cannot be checked locally.
//!
//! Every call goes through, in order: the rejected-credentials memory (a credential
//! Stytch just refused is refused again without asking), coalescing (concurrent calls
//! for one credential share one request), the circuit breaker, and a cap on calls in
//! flight. A call has a total deadline and at most one retry, on 5xx or 429. A 429 whose
//! `Retry-After` is longer than the retry delay pauses every call until then; a 401 (our
//! own credentials refused) is answered from memory for the breaker's open period.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::breaker::{Admit, Breaker};
use crate::clock::{elapsed, millis};
use crate::config::{StytchConfig, Vertical};
use crate::error::AuthError;
use crate::http::{self, Fetched};
use crate::session::{
    AuthenticationFactor, Organization, Session, SessionAttributes, SessionData, SessionSource,
};
use crate::singleflight::SingleFlight;
use crate::time_fmt;
use crate::validator::{Authenticated, RefreshedTokens};

const MAX_RESPONSE_BYTES: usize = 1 << 20;
const RETRY_DELAY: Duration = Duration::from_millis(50);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Which credential to send; Stytch takes exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Credential {
    Jwt(Arc<str>),
    Token(Arc<str>),
}

impl Credential {
    fn secret(&self) -> &str {
        match self {
            Credential::Jwt(s) | Credential::Token(s) => s,
        }
    }
}

#[derive(Serialize)]
struct AuthenticateBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    session_jwt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
}

pub(crate) type RemoteResult = Result<Authenticated, AuthError>;

#[derive(Clone)]
pub(crate) struct Remote(Arc<Inner>);

struct Inner {
    config: Arc<StytchConfig>,
    http: reqwest::Client,
    url: String,
    breaker: Breaker,
    in_flight: Arc<Semaphore>,
    flights: SingleFlight<Credential, RemoteResult>,
    /// SHA-256 of a credential Stytch refused → (until when, why).
    rejected: Option<quick_cache::sync::Cache<[u8; 32], (i64, &'static str)>>,
    calls: AtomicU64,
    /// A 429 with `Retry-After` pauses every call until then (clock millis): Stytch said
    /// when to come back, and a breaker that waits for several failures would not listen.
    paused_until_ms: AtomicI64,
    /// After Stytch rejected our own credentials (401), the same answer is given without
    /// calling until then: a wrong secret must not cost a Stytch call per request.
    misconfigured_until_ms: AtomicI64,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.0.url)
            .finish_non_exhaustive()
    }
}

impl Remote {
    pub(crate) fn new(config: Arc<StytchConfig>, http: reqwest::Client) -> Self {
        let rejected = (config.rejected_cache_capacity > 0)
            .then(|| quick_cache::sync::Cache::new(config.rejected_cache_capacity));
        Self(Arc::new(Inner {
            url: config.authenticate_url(),
            breaker: Breaker::new(config.breaker_threshold, config.breaker_open_for),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            flights: SingleFlight::default(),
            rejected,
            calls: AtomicU64::new(0),
            paused_until_ms: AtomicI64::new(0),
            misconfigured_until_ms: AtomicI64::new(0),
            http,
            config,
        }))
    }

    /// HTTP calls made to `sessions/authenticate` (retries included).
    pub(crate) fn call_count(&self) -> u64 {
        self.0.calls.load(Ordering::Relaxed)
    }

    pub(crate) fn circuit_open(&self) -> bool {
        self.0.breaker.is_open(self.0.config.clock.now_millis())
    }

    pub(crate) async fn authenticate(&self, credential: Credential) -> RemoteResult {
        let digest = fingerprint_digest(credential.secret());
        if let Some(rejected) = &self.0.rejected
            && let Some((until, reason)) = rejected.get(&digest)
            && self.0.config.clock.now_millis() < until
        {
            return Err(AuthError::unauthenticated(reason, message_for(reason)));
        }
        let inner = Arc::clone(&self.0);
        let (flight, _) = self.0.flights.run(credential.clone(), move || {
            let span = tracing::debug_span!("stytch.api.authenticate", token.fp = %crate::Fingerprint(credential.secret()));
            async move { inner.call(credential, digest).await }.instrument(span)
        });
        flight.await.unwrap_or_else(|| {
            Err(AuthError::unavailable(
                "stytch_unavailable",
                "The session could not be checked with Stytch.",
                Duration::from_secs(1),
            ))
        })
    }
}

fn rejected_credentials() -> AuthError {
    AuthError::misconfigured(
        "stytch_rejected_credentials",
        "Stytch rejected this service's project credentials.",
    )
}

fn message_for(reason: &str) -> &'static str {
    match reason {
        "session_not_found" => "The session is unknown, expired or revoked.",
        _ => "Stytch rejected the session credentials.",
    }
}

impl Inner {
    async fn call(&self, credential: Credential, digest: [u8; 32]) -> RemoteResult {
        let fp = crate::Fingerprint(credential.secret());
        let _permit = match Arc::clone(&self.in_flight).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                tracing::warn!(token.fp = %fp, "stytch.api.overloaded");
                return Err(AuthError::unavailable(
                    "stytch_overloaded",
                    "Too many session checks are waiting on Stytch.",
                    Duration::from_secs(1),
                ));
            }
        };
        let body = match &credential {
            Credential::Jwt(jwt) => AuthenticateBody {
                session_jwt: Some(jwt),
                session_token: None,
            },
            Credential::Token(token) => AuthenticateBody {
                session_jwt: None,
                session_token: Some(token),
            },
        };
        let paused_until = self.paused_until_ms.load(Ordering::Relaxed);
        let now = self.config.clock.now_millis();
        if now < self.misconfigured_until_ms.load(Ordering::Relaxed) {
            return Err(rejected_credentials());
        }
        if now < paused_until {
            return Err(AuthError::unavailable(
                "stytch_rate_limited",
                "Stytch asked for a pause; session checks resume shortly.",
                elapsed(now, paused_until),
            ));
        }
        let mut attempt = 0;
        loop {
            let now = self.config.clock.now_millis();
            if let Admit::Refused(retry_after) = self.breaker.admit(now) {
                return Err(AuthError::unavailable(
                    "stytch_circuit_open",
                    "Stytch is failing; session checks are paused.",
                    retry_after,
                ));
            }
            self.calls.fetch_add(1, Ordering::Relaxed);
            let started = std::time::Instant::now();
            let fetched = http::post_json(
                &self.http,
                &self.url,
                &self.config,
                &body,
                MAX_RESPONSE_BYTES,
            )
            .await;
            let outcome = self.interpret(fetched);
            let elapsed_ms = started.elapsed().as_millis() as u64;
            match outcome {
                Outcome::Done(result) => {
                    self.breaker.success();
                    match &result {
                        Ok(_) => {
                            tracing::debug!(token.fp = %fp, elapsed_ms, "stytch.api.authenticated")
                        }
                        Err(e) => {
                            tracing::info!(token.fp = %fp, reason = e.reason(), elapsed_ms, "stytch.api.rejected");
                            if e.is_unauthenticated() {
                                self.remember_rejection(digest, e.reason());
                            }
                        }
                    }
                    return result;
                }
                Outcome::Misconfigured(error) => {
                    let until = self
                        .config
                        .clock
                        .now_millis()
                        .saturating_add(millis(self.config.breaker_open_for));
                    self.misconfigured_until_ms.store(until, Ordering::Relaxed);
                    tracing::error!(reason = error.reason(), "stytch.api.misconfigured");
                    return Err(error);
                }
                Outcome::Retryable {
                    reason,
                    retry_after,
                } => {
                    let now = self.config.clock.now_millis();
                    self.breaker.failure(now, retry_after);
                    // A short Retry-After is honoured by the delayed retry below; a
                    // longer one pauses every call.
                    if reason == "stytch_rate_limited"
                        && let Some(pause) = retry_after
                        && pause > MAX_RETRY_DELAY
                    {
                        self.paused_until_ms
                            .fetch_max(now.saturating_add(millis(pause)), Ordering::Relaxed);
                    }
                    tracing::warn!(token.fp = %fp, reason, attempt, elapsed_ms, "stytch.api.failed");
                    let delay = retry_after.unwrap_or(RETRY_DELAY);
                    if attempt == 0 && reason != "upstream_timeout" && delay <= MAX_RETRY_DELAY {
                        attempt += 1;
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    let hint = retry_after.unwrap_or(Duration::from_secs(1));
                    return Err(AuthError::unavailable(
                        reason,
                        "Stytch could not be reached to check the session.",
                        hint,
                    ));
                }
            }
        }
    }

    fn remember_rejection(&self, digest: [u8; 32], reason: &'static str) {
        if let Some(rejected) = &self.rejected {
            let until = self
                .config
                .clock
                .now_millis()
                .saturating_add(millis(self.config.rejected_ttl));
            rejected.insert(digest, (until, reason));
        }
    }

    fn interpret(&self, fetched: Result<Fetched, &'static str>) -> Outcome {
        let fetched = match fetched {
            Ok(f) => f,
            Err(reason) => {
                return Outcome::Retryable {
                    reason,
                    retry_after: None,
                };
            }
        };
        match fetched.status {
            200..=299 => match parse_success(&fetched.body, self.config.vertical) {
                Some(auth) => Outcome::Done(Ok(auth)),
                None => Outcome::Retryable {
                    reason: "stytch_malformed_response",
                    retry_after: None,
                },
            },
            429 => Outcome::Retryable {
                reason: "stytch_rate_limited",
                retry_after: fetched.retry_after,
            },
            500..=599 => Outcome::Retryable {
                reason: "stytch_unavailable",
                retry_after: fetched.retry_after,
            },
            status => {
                let error_type = serde_json::from_slice::<ErrorBody>(&fetched.body)
                    .ok()
                    .and_then(|e| e.error_type)
                    .unwrap_or_default();
                match status {
                    401 => Outcome::Misconfigured(rejected_credentials()),
                    403 => Outcome::Done(Err(AuthError::forbidden(
                        "stytch_authorization_denied",
                        "Stytch denied the authorization check.",
                    ))),
                    404 if error_type == "session_not_found" || error_type.is_empty() => {
                        Outcome::Done(Err(AuthError::unauthenticated(
                            "session_not_found",
                            message_for("session_not_found"),
                        )))
                    }
                    400..=499 => Outcome::Done(Err(AuthError::unauthenticated(
                        "session_invalid",
                        message_for("session_invalid"),
                    ))),
                    _ => Outcome::Retryable {
                        reason: "stytch_unexpected_status",
                        retry_after: None,
                    },
                }
            }
        }
    }
}

enum Outcome {
    Done(RemoteResult),
    Misconfigured(AuthError),
    Retryable {
        reason: &'static str,
        retry_after: Option<Duration>,
    },
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(alias = "error")]
    error_type: Option<String>,
}

/// A `sessions/authenticate` success. Consumer and B2B differ only in names (`session`
/// vs `member_session`, `user_id` vs `member_id`, ...), so one shape reads both.
#[derive(Deserialize)]
struct AuthenticateResponse {
    #[serde(alias = "member_session")]
    session: ApiSession,
    #[serde(default)]
    session_jwt: Option<String>,
    #[serde(default)]
    session_token: Option<String>,
}

#[derive(Deserialize)]
struct ApiSession {
    #[serde(alias = "member_session_id")]
    session_id: String,
    #[serde(alias = "member_id")]
    user_id: String,
    #[serde(default)]
    organization_id: Option<String>,
    #[serde(default)]
    organization_slug: Option<String>,
    #[serde(default, with = "time_fmt::option")]
    started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time_fmt::option")]
    last_accessed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time_fmt::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    attributes: Option<SessionAttributes>,
    #[serde(default)]
    authentication_factors: Vec<AuthenticationFactor>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    custom_claims: Option<Map<String, Value>>,
}

/// Maps a 2xx body into a session; `None` if it lacks what a session needs, or is the
/// other vertical's shape.
fn parse_success(body: &[u8], vertical: Vertical) -> Option<Authenticated> {
    let r: AuthenticateResponse = serde_json::from_slice(body).ok()?;
    let s = r.session;
    let organization = match (vertical, s.organization_id) {
        (Vertical::Consumer, None) => None,
        (Vertical::B2b, Some(organization_id)) => Some(Organization {
            organization_id,
            slug: s.organization_slug.unwrap_or_default(),
        }),
        _ => return None,
    };
    if s.session_id.is_empty() || s.user_id.is_empty() {
        return None;
    }
    let data = SessionData {
        session_id: s.session_id,
        user_id: s.user_id,
        started_at: s.started_at,
        last_accessed_at: s.last_accessed_at,
        expires_at: s.expires_at?,
        attributes: s.attributes.unwrap_or_default(),
        authentication_factors: s.authentication_factors,
        roles: s.roles,
        custom_claims: s.custom_claims.unwrap_or_default(),
        organization,
        source: SessionSource::Remote,
    };
    let refreshed = match (
        r.session_jwt.filter(|j| !j.is_empty()),
        r.session_token.filter(|t| !t.is_empty()),
    ) {
        (Some(session_jwt), Some(session_token)) => Some(RefreshedTokens {
            session_jwt,
            session_token,
        }),
        _ => None,
    };
    Some(Authenticated {
        session: Session::from_data(data),
        refreshed,
    })
}

pub(crate) fn fingerprint_digest(secret: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

//! Stytch's `sessions/authenticate` API: the fallback for what cannot be checked locally.
//!
//! Every call goes through, in order: the rejected-credentials memory (a credential
//! Stytch just refused is refused again without asking), coalescing (concurrent calls
//! for one credential share one request), a cap on calls in flight, the circuit
//! breaker, and the remote budget. Proven sessions (authentic JWTs) go before unproven
//! credentials at the cap and in the budget. A call has a total deadline and at most one
//! retry, on 5xx or 429. A 429 whose `Retry-After` is longer than the retry delay pauses
//! every call until then; a 401 that says our own credentials are wrong is answered from
//! memory for the breaker's open period. Only Stytch's own error bodies count as a
//! verdict on a session; any other answer is an upstream fault (503).
//!
//! Successes are kept until the fresh JWT's `exp` (`answers.rs`), checked against the
//! revoked set on every reuse. With a fleet attached, a call first asks the fleet for
//! another instance's answer, shares its own, and draws on the fleet's budget; any
//! fleet trouble falls back to the local state.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument as _;

use crate::answers::{AnswerCache, FleetKeys, Kept, SharedAnswer};
use crate::breaker::{Admit, Breaker};
use crate::budget::{Budget, Standing};
use crate::clock::{elapsed, millis};
use crate::config::{StytchConfig, Vertical};
use crate::error::AuthError;
use crate::fleet::{BudgetDecision, BudgetRequest, Link};
use crate::http::{self, Fetched};
use crate::metrics;
use crate::reason::Reason;
use crate::revoked::{REVOCATION_WINDOW_MS, RevokedSet};
use crate::session::{
    AuthenticationFactor, Organization, Session, SessionAttributes, SessionData, SessionSource,
};
use crate::singleflight::SingleFlight;
use crate::time_fmt;
use crate::types::{Authenticated, RefreshedTokens};

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
    /// The share of `in_flight` that unproven credentials may use.
    unproven_in_flight: Arc<Semaphore>,
    budget: Budget,
    flights: SingleFlight<Credential, RemoteResult>,
    /// SHA-256 of a credential Stytch refused → (until when, why).
    rejected: Option<quick_cache::sync::Cache<[u8; 32], (i64, Reason)>>,
    /// SHA-256 of a credential → Stytch's success for it, until the fresh JWT expires.
    answers: Option<AnswerCache>,
    revoked: Arc<RevokedSet>,
    fleet: Option<Arc<Link>>,
    calls: AtomicU64,
    /// Requests answered from kept successes (local or the fleet's), without a call.
    answers_reused: AtomicU64,
    /// Answers taken from the fleet.
    fleet_answers: AtomicU64,
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
    pub(crate) fn new(
        config: Arc<StytchConfig>,
        http: reqwest::Client,
        revoked: Arc<RevokedSet>,
        fleet: Option<Arc<Link>>,
    ) -> Self {
        let rejected = (config.rejected_cache_capacity > 0)
            .then(|| quick_cache::sync::Cache::new(config.rejected_cache_capacity));
        let answers = (config.verified_cache_bytes > 0)
            .then(|| crate::answers::new_cache(config.verified_cache_bytes));
        Self(Arc::new(Inner {
            url: config.authenticate_url(),
            breaker: Breaker::new(config.breaker_threshold, config.breaker_open_for),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            unproven_in_flight: Arc::new(Semaphore::new((config.max_in_flight / 2).max(1))),
            budget: Budget::new(config.remote_rate, config.remote_burst),
            flights: SingleFlight::default(),
            rejected,
            answers,
            revoked,
            fleet,
            calls: AtomicU64::new(0),
            answers_reused: AtomicU64::new(0),
            fleet_answers: AtomicU64::new(0),
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

    /// Whole calls the budget holds now, and its burst.
    pub(crate) fn budget_available(&self) -> (u32, u32) {
        self.0.budget.available(self.0.config.clock.now_millis())
    }

    /// The breaker's state now.
    pub(crate) fn circuit_state(&self) -> metrics::CircuitState {
        self.0.breaker.state(self.0.config.clock.now_millis())
    }

    /// Requests answered from kept successes, and answers taken from the fleet.
    pub(crate) fn reuse_counts(&self) -> (u64, u64) {
        (
            self.0.answers_reused.load(Ordering::Relaxed),
            self.0.fleet_answers.load(Ordering::Relaxed),
        )
    }

    /// Calls the budget allowed and refused so far.
    pub(crate) fn budget_counts(&self) -> (u64, u64) {
        (self.0.budget.used(), self.0.budget.refused())
    }

    pub(crate) async fn authenticate(
        &self,
        credential: Credential,
        standing: Standing,
    ) -> RemoteResult {
        let digest = crate::fingerprint::digest(credential.secret());
        if let Some(answer) = self.0.remembered(digest) {
            return answer;
        }
        let inner = Arc::clone(&self.0);
        let (flight, started) = self.0.flights.run(credential.clone(), move || {
            let span = tracing::debug_span!("stytch.api.authenticate", token.fp = %crate::fingerprint::Fingerprint(credential.secret()));
            async move { inner.call(credential, digest, standing).await }.instrument(span)
        });
        if !started {
            metrics::coalesced();
        }
        flight.await.unwrap_or_else(|| {
            Err(AuthError::unavailable(
                Reason::StytchUnavailable,
                "The session could not be checked with Stytch.",
                Duration::from_secs(1),
            ))
        })
    }
}

pub(crate) fn revoked() -> AuthError {
    AuthError::new(Reason::SessionRevoked, message_for(Reason::SessionRevoked))
}

fn rejected_credentials() -> AuthError {
    AuthError::new(
        Reason::StytchRejectedCredentials,
        "Stytch rejected this service's project credentials.",
    )
}

fn message_for(reason: Reason) -> &'static str {
    match reason {
        Reason::SessionNotFound => "The session is unknown, expired or revoked.",
        Reason::SessionRevoked => "The session was revoked.",
        _ => "Stytch rejected the session credentials.",
    }
}

impl Inner {
    /// What is remembered for a credential: Stytch's recent refusal, or a kept success
    /// (refused if its session was revoked since).
    fn remembered(&self, digest: [u8; 32]) -> Option<RemoteResult> {
        let now = self.config.clock.now_millis();
        if let Some(rejected) = &self.rejected
            && let Some((until, reason)) = rejected.get(&digest)
            && now < until
        {
            return Some(Err(AuthError::new(reason, message_for(reason))));
        }
        let answers = self.answers.as_ref()?;
        let kept = answers.get(&digest)?;
        if now >= kept.until_ms {
            answers.remove(&digest);
            return None;
        }
        if self.revoked.contains(kept.auth.session.session_id(), now) {
            answers.remove(&digest);
            self.remember_rejection(digest, Reason::SessionRevoked);
            return Some(Err(revoked()));
        }
        self.answers_reused.fetch_add(1, Ordering::Relaxed);
        Some(Ok(kept.auth.clone()))
    }

    async fn call(
        &self,
        credential: Credential,
        digest: [u8; 32],
        standing: Standing,
    ) -> RemoteResult {
        // A flight that ended between the caller's look at the memory and its joining
        // this one: its answer is remembered now.
        if let Some(answer) = self.remembered(digest) {
            return answer;
        }
        let fp = crate::fingerprint::Fingerprint(credential.secret());
        let now = self.config.clock.now_millis();
        // Another instance may have asked Stytch already.
        let keys = self
            .fleet
            .as_ref()
            .map(|_| FleetKeys::new(&self.config.project_id, credential.secret()));
        if let (Some(link), Some(keys)) = (&self.fleet, &keys)
            && let Some(answer) = self.shared_answer(link, keys, digest, now).await
        {
            tracing::debug!(token.fp = %fp, "stytch.fleet.answer_reused");
            return answer.map_err(|reason| match reason {
                Reason::SessionRevoked => revoked(),
                reason => AuthError::new(reason, message_for(reason)),
            });
        }
        if now < self.misconfigured_until_ms.load(Ordering::Relaxed) {
            return Err(rejected_credentials());
        }
        let paused_until = self.paused_until_ms.load(Ordering::Relaxed);
        if now < paused_until {
            return Err(AuthError::unavailable(
                Reason::StytchRateLimited,
                "Stytch asked for a pause; session checks resume shortly.",
                elapsed(now, paused_until),
            ));
        }
        let _permit = self.in_flight_permit(standing).await.ok_or_else(|| {
            tracing::warn!(token.fp = %fp, "stytch.api.overloaded");
            AuthError::unavailable(
                Reason::StytchOverloaded,
                "Too many session checks are waiting on Stytch.",
                Duration::from_secs(1),
            )
        })?;
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
        let mut attempt = 0;
        loop {
            let now = self.config.clock.now_millis();
            let breaker = match self.breaker.admit(now) {
                Admit::Go(permit) => permit,
                Admit::Refused(retry_after) => {
                    return Err(AuthError::unavailable(
                        Reason::StytchCircuitOpen,
                        "Stytch is failing; session checks are paused.",
                        retry_after,
                    ));
                }
            };
            if let Err(wait) = self.take_budget(now, standing).await {
                tracing::warn!(token.fp = %fp, ?standing, "stytch.api.budget_exhausted");
                return Err(AuthError::unavailable(
                    Reason::StytchBudgetExhausted,
                    "Too many session checks need Stytch right now.",
                    wait,
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
            metrics::remote_call(outcome.label(), started.elapsed());
            let elapsed_ms = started.elapsed().as_millis() as u64;
            match outcome {
                Outcome::Done(result) => {
                    breaker.success();
                    match &result {
                        Ok(auth) => {
                            tracing::debug!(token.fp = %fp, elapsed_ms, "stytch.api.authenticated");
                            let now = self.config.clock.now_millis();
                            // Revoked here while Stytch still had it (or the revocation
                            // at Stytch failed): the fleet's word stands.
                            if self.revoked.contains(auth.session.session_id(), now) {
                                self.remember_rejection(digest, Reason::SessionRevoked);
                                return Err(revoked());
                            }
                            if let Some(until_ms) = self.keep_until(auth, now) {
                                self.keep(digest, until_ms, auth);
                                self.share(
                                    keys.as_ref(),
                                    SharedAnswer::Success {
                                        until_ms,
                                        auth: auth.clone(),
                                    },
                                    now,
                                )
                                .await;
                            }
                        }
                        Err(e) => {
                            tracing::info!(token.fp = %fp, reason = e.reason().as_str(), elapsed_ms, "stytch.api.rejected");
                            if e.is_unauthenticated() {
                                self.remember_rejection(digest, e.reason());
                            }
                            if matches!(
                                e.reason(),
                                Reason::SessionNotFound | Reason::SessionInvalid
                            ) {
                                let now = self.config.clock.now_millis();
                                let until_ms = now.saturating_add(millis(self.config.rejected_ttl));
                                self.share(
                                    keys.as_ref(),
                                    SharedAnswer::Refused {
                                        until_ms,
                                        reason: e.reason(),
                                    },
                                    now,
                                )
                                .await;
                            }
                        }
                    }
                    return result;
                }
                Outcome::Misconfigured(error) => {
                    // Stytch answered, so it is up: the circuit closes. Our credentials
                    // are answered from memory for a while instead.
                    breaker.success();
                    let until = self
                        .config
                        .clock
                        .now_millis()
                        .saturating_add(millis(self.config.breaker_open_for));
                    self.misconfigured_until_ms.store(until, Ordering::Relaxed);
                    tracing::error!(reason = error.reason().as_str(), "stytch.api.misconfigured");
                    return Err(error);
                }
                Outcome::Fault {
                    reason,
                    retry_after,
                    retry,
                } => {
                    let now = self.config.clock.now_millis();
                    breaker.failure(now, retry_after);
                    // A short Retry-After is honoured by the delayed retry below; a
                    // longer one pauses every call.
                    if reason == Reason::StytchRateLimited
                        && let Some(pause) = retry_after
                        && pause > MAX_RETRY_DELAY
                    {
                        self.paused_until_ms
                            .fetch_max(now.saturating_add(millis(pause)), Ordering::Relaxed);
                    }
                    tracing::warn!(token.fp = %fp, reason = reason.as_str(), attempt, elapsed_ms, "stytch.api.failed");
                    let delay = retry_after.unwrap_or(RETRY_DELAY);
                    if retry && attempt == 0 && delay <= MAX_RETRY_DELAY {
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

    /// A slot among the calls in flight. Proven sessions wait for one, for at most half
    /// the request timeout (so a hanging Stytch still cannot hold more than the cap, and
    /// everyone is answered within the deadline); unproven ones get one only if free at
    /// once, and only from the half of the slots that proven sessions do not have to
    /// themselves.
    async fn in_flight_permit(&self, standing: Standing) -> Option<Vec<OwnedSemaphorePermit>> {
        match standing {
            Standing::Proven => {
                let wait = Arc::clone(&self.in_flight).acquire_owned();
                let permit = tokio::time::timeout(self.config.request_timeout / 2, wait)
                    .await
                    .ok()?
                    .ok()?;
                Some(vec![permit])
            }
            Standing::Unproven => {
                let share = Arc::clone(&self.unproven_in_flight)
                    .try_acquire_owned()
                    .ok()?;
                let permit = Arc::clone(&self.in_flight).try_acquire_owned().ok()?;
                Some(vec![share, permit])
            }
        }
    }

    /// Another instance's answer for this credential, if the fleet has one that is still
    /// good: `Ok` a session, `Err` Stytch's refusal (or `SessionRevoked`).
    async fn shared_answer(
        &self,
        link: &Link,
        keys: &FleetKeys,
        digest: [u8; 32],
        now: i64,
    ) -> Option<Result<Authenticated, Reason>> {
        let sealed = link
            .run("load_answer", |state| state.load_answer(keys.key))
            .await??;
        let answer = keys.open(&sealed)?;
        if answer.until_ms() <= now {
            return None;
        }
        self.fleet_answers.fetch_add(1, Ordering::Relaxed);
        Some(match answer {
            SharedAnswer::Success { until_ms, auth } => {
                if self.revoked.contains(auth.session.session_id(), now) {
                    // Repeats are refused from memory, not from the fleet again.
                    self.remember_rejection(digest, Reason::SessionRevoked);
                    return Some(Err(Reason::SessionRevoked));
                }
                // Never kept longer than locally allowed, whatever the store said.
                let until_ms = until_ms.min(now.saturating_add(REVOCATION_WINDOW_MS));
                self.keep(digest, until_ms, &auth);
                Ok(auth)
            }
            SharedAnswer::Refused { until_ms, reason } => {
                if let Some(rejected) = &self.rejected {
                    let until_ms =
                        until_ms.min(now.saturating_add(millis(self.config.rejected_ttl)));
                    rejected.insert(digest, (until_ms, reason));
                }
                Err(reason)
            }
        })
    }

    /// Until when a success may be reused: the fresh JWT's `exp`, the session's end and
    /// the revocation window, whichever comes first. `None` without a fresh JWT.
    fn keep_until(&self, auth: &Authenticated, now: i64) -> Option<i64> {
        let jwt = &auth.refreshed.as_ref()?.session_jwt;
        let exp_ms = crate::jwt::parse(jwt, self.config.max_token_bytes)
            .ok()?
            .claims()
            .ok()?
            .exp_ms();
        let session_ends = auth
            .session
            .expires_at()
            .unix_timestamp()
            .saturating_mul(1000);
        let until = exp_ms
            .min(session_ends)
            .min(now.saturating_add(REVOCATION_WINDOW_MS));
        (until > now).then_some(until)
    }

    fn keep(&self, digest: [u8; 32], until_ms: i64, auth: &Authenticated) {
        if let Some(answers) = &self.answers {
            answers.insert(
                digest,
                Arc::new(Kept {
                    until_ms,
                    auth: auth.clone(),
                }),
            );
        }
    }

    /// Hands an answer to the fleet (bounded by its timeout; a failure only costs the
    /// other instances a call of their own).
    async fn share(&self, keys: Option<&FleetKeys>, answer: SharedAnswer, now: i64) {
        let (Some(link), Some(keys)) = (&self.fleet, keys) else {
            return;
        };
        let ttl = Duration::from_millis(u64::try_from(answer.until_ms() - now).unwrap_or(0));
        if ttl.is_zero() {
            return;
        }
        let Some(sealed) = keys.seal(&answer) else {
            return;
        };
        link.run("store_answer", |state| {
            state.store_answer(keys.key, sealed, ttl)
        })
        .await;
    }

    /// One call from the fleet's budget, or the local one when there is no fleet or it
    /// does not answer.
    async fn take_budget(&self, now: i64, standing: Standing) -> Result<(), Duration> {
        if let Some(link) = &self.fleet
            && !self.budget.unlimited()
        {
            let (rate_per_sec, burst) = self.budget.limits();
            let request = BudgetRequest {
                project_id: self.config.project_id.to_string(),
                rate_per_sec,
                burst,
                standing,
                now_ms: now,
            };
            match link
                .run("take_budget", |state| state.take_budget(request))
                .await
            {
                Some(BudgetDecision::Granted) => {
                    self.budget.count(true, standing);
                    return Ok(());
                }
                Some(BudgetDecision::Refused { retry_in }) => {
                    self.budget.count(false, standing);
                    return Err(retry_in);
                }
                None => {}
            }
        }
        self.budget.take(now, standing)
    }

    fn remember_rejection(&self, digest: [u8; 32], reason: Reason) {
        if let Some(rejected) = &self.rejected {
            let until = self
                .config
                .clock
                .now_millis()
                .saturating_add(millis(self.config.rejected_ttl));
            rejected.insert(digest, (until, reason));
        }
    }

    fn interpret(&self, fetched: Result<Fetched, Reason>) -> Outcome {
        let fetched = match fetched {
            Ok(f) => f,
            Err(reason) => {
                return Outcome::Fault {
                    reason,
                    retry_after: None,
                    retry: reason != Reason::UpstreamTimeout,
                };
            }
        };
        match fetched.status {
            200..=299 => match parse_success(&fetched.body, self.config.vertical) {
                Some(auth) => Outcome::Done(Ok(auth)),
                None => Outcome::Fault {
                    reason: Reason::StytchMalformedResponse,
                    retry_after: None,
                    retry: true,
                },
            },
            429 => Outcome::Fault {
                reason: Reason::StytchRateLimited,
                retry_after: fetched.retry_after,
                retry: true,
            },
            500..=599 => Outcome::Fault {
                reason: Reason::StytchUnavailable,
                retry_after: fetched.retry_after,
                retry: true,
            },
            status => {
                // Only Stytch's own error body counts as a verdict. A bare 404 or 401
                // from a proxy, a misrouted custom domain or a load balancer says
                // nothing about the session, and must not log anyone out.
                let error_type = serde_json::from_slice::<ErrorBody>(&fetched.body)
                    .ok()
                    .and_then(|e| e.error_type)
                    .unwrap_or_default();
                match verdict(status, &error_type) {
                    Some(outcome) => outcome,
                    None => {
                        tracing::warn!(status, "stytch.api.unexpected_response");
                        Outcome::Fault {
                            reason: Reason::StytchUnexpectedResponse,
                            retry_after: fetched.retry_after,
                            retry: false,
                        }
                    }
                }
            }
        }
    }
}

/// `error_type`s with which Stytch says our project credentials are wrong.
const CREDENTIAL_ERRORS: &[&str] = &[
    "unauthorized_credentials",
    "unauthorized_credentials_homepage",
    "invalid_secret_authentication",
    "invalid_project_id_authentication",
    "unauthorized_project_id_live",
    "unauthorized_project_id_test",
    "test_id_used_in_live_environment",
    "live_id_used_in_test_environment",
];

/// `error_type`s with which Stytch says a session credential is not valid.
const INVALID_SESSION_ERRORS: &[&str] = &[
    "invalid_session_token",
    "invalid_session_id",
    "unable_to_parse_session_jwt",
    "jwt_invalid_audience",
    "jwt_invalid_issuer",
    "jwt_invalid_claims",
    "incompatible_session_type",
    "invalid_session_missing_primary_factor",
];

/// What a Stytch 4xx error body means, if it is a verdict we know.
fn verdict(status: u16, error_type: &str) -> Option<Outcome> {
    let outcome = match (status, error_type) {
        (401, t) if CREDENTIAL_ERRORS.contains(&t) => {
            Outcome::Misconfigured(rejected_credentials())
        }
        (404, "session_not_found") => Outcome::Done(Err(AuthError::new(
            Reason::SessionNotFound,
            message_for(Reason::SessionNotFound),
        ))),
        (400 | 401 | 404, t) if INVALID_SESSION_ERRORS.contains(&t) => Outcome::Done(Err(
            AuthError::new(Reason::SessionInvalid, message_for(Reason::SessionInvalid)),
        )),
        (
            403,
            "consumer_session_authorization_error"
            | "session_authorization_error"
            | "session_authorization_tenancy_error",
        ) => Outcome::Done(Err(AuthError::new(
            Reason::StytchAuthorizationDenied,
            "Stytch denied the authorization check.",
        ))),
        _ => return None,
    };
    Some(outcome)
}

impl Outcome {
    /// The `result` label of the remote-call metrics: `ok` or a reason.
    fn label(&self) -> &'static str {
        match self {
            Outcome::Done(Ok(_)) => "ok",
            Outcome::Done(Err(e)) | Outcome::Misconfigured(e) => e.reason().as_str(),
            Outcome::Fault { reason, .. } => reason.as_str(),
        }
    }
}

enum Outcome {
    /// Stytch's verdict on the session.
    Done(RemoteResult),
    /// Stytch rejected our own credentials.
    Misconfigured(AuthError),
    /// Not an answer about the session: an outage, a limit, a stranger's response.
    Fault {
        reason: Reason,
        retry_after: Option<Duration>,
        /// Whether one immediate retry may help.
        retry: bool,
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
        claims_memo: Default::default(),
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

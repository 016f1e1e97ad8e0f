//! The project's signing keys: fetched from Stytch, parsed once, read lock-free.
//!
//! Readers load an immutable [`KeySet`] through `arc-swap`; a refresh builds a new set
//! and swaps it in, so a refresh never blocks a reader. Refreshes happen (a) when the
//! set is older than the max-age, in the background, (b) when a token names an unknown
//! `kid`, at most once per cooldown, and (c) on a cold start. One fetch runs at a time
//! and every caller who needs it shares it. A failed fetch keeps the last good set and
//! backs off exponentially (or as long as `Retry-After` asks).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::{ArcSwap, Guard};
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tracing::Instrument as _;

use crate::clock::{elapsed, millis};
use crate::config::StytchConfig;
use crate::http::{self, Fetched};
use crate::metrics;
use crate::reason::Reason;
use crate::singleflight::SingleFlight;

const MAX_JWKS_BYTES: usize = 1 << 20;
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Keys tried for one kid when a JWKS repeats it.
const MAX_KEYS_PER_KID: usize = 4;

/// An immutable snapshot of the usable keys. A kid maps to every usable key published
/// under it (RFC 7517 §4.5 only says kids SHOULD be distinct): all are tried.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: HashMap<Arc<str>, Vec<ParsedPublicKey>>,
    /// When this set was fetched (clock millis); 0 for the empty initial set.
    fetched_at_ms: i64,
}

impl KeySet {
    pub(crate) fn get(&self, kid: &str) -> Option<&[ParsedPublicKey]> {
        self.keys.get(kid).map(Vec::as_slice)
    }

    /// The set's own copy of `kid`, shared by every cache entry that names it.
    pub(crate) fn kid(&self, kid: &str) -> Option<Arc<str>> {
        self.keys.get_key_value(kid).map(|(k, _)| Arc::clone(k))
    }

    pub(crate) fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// [`contains`](Self::contains) for a kid a cache entry got from [`kid`](Self::kid):
    /// while this set is the one it came from, the answer is a pointer comparison over
    /// its few keys instead of hashing the kid on every cache hit.
    pub(crate) fn holds(&self, kid: &Arc<str>) -> bool {
        self.keys.keys().any(|k| Arc::ptr_eq(k, kid)) || self.contains(kid)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many key ids the set holds.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// How old the set is at `now` (zero for the empty initial set).
    pub(crate) fn age(&self, now: i64) -> Duration {
        if self.fetched_at_ms == 0 {
            Duration::ZERO
        } else {
            elapsed(self.fetched_at_ms, now)
        }
    }

    /// Whether a fetch ever filled the set.
    pub(crate) fn fetched(&self) -> bool {
        self.fetched_at_ms > 0
    }
}

/// Why a fetch failed; cloned to every waiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchFailed {
    pub(crate) reason: Reason,
    pub(crate) retry_after: Duration,
}

/// What asking for a refresh achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refresh {
    /// A fetch completed (by us or a concurrent caller); load the set again.
    Done,
    /// A refresh happened too recently; the set is what Stytch serves.
    CoolingDown,
    /// The fetch failed, or we are backing off from earlier failures.
    Failed(FetchFailed),
}

#[derive(Debug, Default)]
struct Schedule {
    /// The last refresh asked for by an unknown kid, for the cooldown.
    last_kid_refresh_ms: Option<i64>,
    failures: u32,
    /// Why the last fetch failed, until one succeeds.
    last_error: Option<Reason>,
    /// No new attempt before this (backoff or Retry-After).
    not_before_ms: i64,
}

/// Cheap to clone; clones share the keys and the fetch state.
#[derive(Clone)]
pub(crate) struct Jwks(Arc<Inner>);

struct Inner {
    config: Arc<StytchConfig>,
    http: reqwest::Client,
    url: String,
    keys: ArcSwap<KeySet>,
    schedule: Mutex<Schedule>,
    /// When the next background refresh is due (clock millis); read on the hot path.
    next_refresh_ms: AtomicI64,
    flights: SingleFlight<(), Result<usize, FetchFailed>>,
    fetches: AtomicU64,
}

type Flight = futures_util::future::Shared<
    futures_util::future::BoxFuture<'static, Option<Result<usize, FetchFailed>>>,
>;

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.0.url)
            .field("keys", &self.0.keys.load().keys.len())
            .finish_non_exhaustive()
    }
}

impl Jwks {
    pub(crate) fn new(config: Arc<StytchConfig>, http: reqwest::Client) -> Self {
        Self(Arc::new(Inner {
            url: config.jwks_url(),
            config,
            http,
            keys: ArcSwap::from_pointee(KeySet::default()),
            schedule: Mutex::new(Schedule::default()),
            // Nothing is due until the first fetch: construction never touches the network.
            next_refresh_ms: AtomicI64::new(i64::MAX),
            flights: SingleFlight::default(),
            fetches: AtomicU64::new(0),
        }))
    }

    /// The current set, lock-free. Starts a background refresh when one is due.
    pub(crate) fn load(&self) -> Guard<Arc<KeySet>> {
        self.load_at(self.0.config.clock.now_millis())
    }

    /// [`load`](Self::load) with the caller's reading of the clock.
    pub(crate) fn load_at(&self, now: i64) -> Guard<Arc<KeySet>> {
        if now >= self.0.next_refresh_ms.load(Ordering::Relaxed) {
            self.refresh_in_background(now);
        }
        self.0.keys.load()
    }

    /// Whether the set is too old to trust (refreshes have failed for `max_stale`).
    pub(crate) fn is_stale(&self, set: &KeySet) -> bool {
        self.is_stale_at(set, self.0.config.clock.now_millis())
    }

    /// [`is_stale`](Self::is_stale) with the caller's reading of the clock.
    pub(crate) fn is_stale_at(&self, set: &KeySet, now: i64) -> bool {
        set.fetched_at_ms > 0 && elapsed(set.fetched_at_ms, now) > self.0.config.jwks_max_stale
    }

    /// Why the last fetch failed, if the last fetch failed.
    pub(crate) fn last_error(&self) -> Option<Reason> {
        self.0
            .schedule
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error
    }

    /// The current set, without starting a refresh.
    pub(crate) fn peek(&self) -> Guard<Arc<KeySet>> {
        self.0.keys.load()
    }

    /// HTTP fetches attempted so far.
    pub(crate) fn fetch_count(&self) -> u64 {
        self.0.fetches.load(Ordering::Relaxed)
    }

    /// Refreshes because a token named a kid we do not have (`unknown_kid`: at most once
    /// per cooldown), or because there are no usable keys. Waits for the result.
    pub(crate) async fn refresh(&self, unknown_kid: bool) -> Refresh {
        let now = self.0.config.clock.now_millis();
        // The cooldown slot this call took, and what it held before: a failed fetch
        // gives it back, so only fetches that succeeded spend the cooldown; failures
        // are governed by the backoff.
        let mut took_cooldown = None;
        if !self.0.flights.in_flight(&()) {
            let mut schedule = self
                .0
                .schedule
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if now < schedule.not_before_ms {
                return Refresh::Failed(FetchFailed {
                    reason: Reason::JwksUnavailable,
                    retry_after: elapsed(now, schedule.not_before_ms),
                });
            }
            if unknown_kid {
                // Only unknown-kid refreshes count against the cooldown, so a rotation
                // right after a routine refresh is still picked up at once, while a
                // flood of made-up kids costs at most one fetch per cooldown.
                let cooling = schedule
                    .last_kid_refresh_ms
                    .is_some_and(|t| elapsed(t, now) < self.0.config.jwks_cooldown);
                if cooling {
                    return Refresh::CoolingDown;
                }
                took_cooldown = Some(schedule.last_kid_refresh_ms.replace(now));
            }
        }
        let result = match self.start_fetch().await {
            Some(Ok(_)) => Refresh::Done,
            Some(Err(failed)) => Refresh::Failed(failed),
            None => Refresh::Failed(FetchFailed {
                reason: Reason::JwksUnavailable,
                retry_after: MIN_BACKOFF,
            }),
        };
        if let (Refresh::Failed(_), Some(previous)) = (&result, took_cooldown) {
            let mut schedule = self
                .0
                .schedule
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if schedule.last_kid_refresh_ms == Some(now) {
                schedule.last_kid_refresh_ms = previous;
            }
        }
        result
    }

    fn refresh_in_background(&self, now: i64) {
        // Push the due time out first so that concurrent readers do not all try.
        self.0
            .next_refresh_ms
            .store(now.saturating_add(millis(MIN_BACKOFF)), Ordering::Relaxed);
        let not_before = self
            .0
            .schedule
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .not_before_ms;
        if now >= not_before {
            // Fire and forget: the flight runs in its own task. `cached` is synchronous
            // and may run outside a Tokio runtime; the refresh then waits for the next
            // call made inside one.
            if tokio::runtime::Handle::try_current().is_ok() {
                drop(self.start_fetch());
            } else {
                self.0.next_refresh_ms.store(now, Ordering::Relaxed);
            }
        } else {
            self.0.next_refresh_ms.store(not_before, Ordering::Relaxed);
        }
    }

    fn start_fetch(&self) -> Flight {
        let inner = Arc::clone(&self.0);
        let (flight, _) = self.0.flights.run((), move || {
            let span = tracing::debug_span!("stytch.jwks.fetch", url = %inner.url);
            async move { inner.fetch_and_swap().await }.instrument(span)
        });
        flight
    }
}

impl Inner {
    async fn fetch_and_swap(&self) -> Result<usize, FetchFailed> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = match http::get(&self.http, &self.url, &self.config, MAX_JWKS_BYTES).await {
            Ok(Fetched {
                status: 200, body, ..
            }) => parse_key_set(&body).map_err(|reason| (reason, None)),
            Ok(Fetched {
                status,
                retry_after,
                ..
            }) => {
                let reason = if status == 429 {
                    Reason::JwksRateLimited
                } else {
                    Reason::JwksBadStatus
                };
                Err((reason, retry_after))
            }
            Err(reason) => Err((reason, None)),
        };
        let now = self.config.clock.now_millis();
        let mut schedule = self.schedule.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(keys) => {
                let count = keys.len();
                self.keys.store(Arc::new(KeySet {
                    keys,
                    fetched_at_ms: now.max(1),
                }));
                schedule.failures = 0;
                schedule.not_before_ms = 0;
                schedule.last_error = None;
                metrics::jwks_fetch("ok", Some(count));
                // Refresh a little before the max-age so readers never see it lapse.
                let due = millis(self.config.jwks_max_age) / 10 * 8;
                self.next_refresh_ms
                    .store(now.saturating_add(due.max(1)), Ordering::Relaxed);
                tracing::debug!(keys = count, "stytch.jwks.refreshed");
                Ok(count)
            }
            Err((reason, retry_after)) => {
                schedule.failures = schedule.failures.saturating_add(1);
                schedule.last_error = Some(reason);
                metrics::jwks_fetch(reason.as_str(), None);
                let backoff = MIN_BACKOFF
                    .saturating_mul(1 << (schedule.failures - 1).min(6))
                    .min(MAX_BACKOFF);
                let wait = retry_after.map_or(backoff, |r| r.max(backoff));
                schedule.not_before_ms = now.saturating_add(millis(wait));
                self.next_refresh_ms
                    .store(schedule.not_before_ms, Ordering::Relaxed);
                tracing::warn!(
                    reason = reason.as_str(),
                    failures = schedule.failures,
                    retry_in_ms = millis(wait),
                    "stytch.jwks.fetch_failed"
                );
                Err(FetchFailed {
                    reason,
                    retry_after: wait,
                })
            }
        }
    }
}

#[derive(Deserialize)]
struct JwkSetDoc {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    n: Option<String>,
    e: Option<String>,
}

/// Parses a JWKS document, keeping only keys usable for RS256 signature checks. Other
/// key types, other algorithms and malformed siblings are skipped, not fatal; a set
/// with no usable key is a failed fetch (the last good set stays).
pub(crate) fn parse_key_set(
    body: &[u8],
) -> Result<HashMap<Arc<str>, Vec<ParsedPublicKey>>, Reason> {
    let doc: JwkSetDoc = serde_json::from_slice(body).map_err(|_| Reason::JwksMalformed)?;
    let mut keys: HashMap<Arc<str>, Vec<ParsedPublicKey>> = HashMap::with_capacity(doc.keys.len());
    for value in doc.keys {
        let Ok(jwk) = serde_json::from_value::<RawJwk>(value) else {
            continue;
        };
        if let Some((kid, key)) = usable_key(jwk) {
            // A duplicate kid keeps its keys (a wrong first key must not hide the right
            // one), a few at most, so a forged token never costs many RSA checks.
            let slot = keys.entry(Arc::from(kid)).or_default();
            if slot.len() < MAX_KEYS_PER_KID {
                slot.push(key);
            }
        }
    }
    if keys.is_empty() {
        return Err(Reason::JwksNoUsableKeys);
    }
    Ok(keys)
}

fn usable_key(jwk: RawJwk) -> Option<(String, ParsedPublicKey)> {
    if jwk.kty.as_deref() != Some("RSA") {
        return None;
    }
    // The JWK's own restrictions must agree with an RS256 signature check.
    if jwk.alg.as_deref().is_some_and(|a| a != "RS256")
        || jwk.use_.as_deref().is_some_and(|u| u != "sig")
        || jwk
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return None;
    }
    let kid = jwk.kid.filter(|k| !k.is_empty() && k.len() <= 256)?;
    let n = URL_SAFE_NO_PAD.decode(jwk.n?).ok()?;
    let e = URL_SAFE_NO_PAD.decode(jwk.e?).ok()?;
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    // At least 2048 bits; an odd exponent of at least 3 (e = 1 makes forgery trivial).
    // Checked: an empty or all-zero modulus has no bits at all.
    let bits = n
        .len()
        .checked_mul(8)?
        .checked_sub(n.first()?.leading_zeros() as usize)?;
    let e_value = e.iter().try_fold(0u64, |acc, &b| {
        acc.checked_mul(256).map(|a| a + u64::from(b))
    });
    if bits < 2048 || e.len() > 8 || e_value.is_none_or(|v| v < 3 || v % 2 == 0) {
        return None;
    }
    let key = RsaPublicKeyComponents { n, e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .ok()?;
    Some((kid, key))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_documents_are_fetch_failures() {
        assert_eq!(parse_key_set(b"<html>").unwrap_err(), "jwks_malformed");
        assert_eq!(
            parse_key_set(br#"{"nokeys":[]}"#).unwrap_err(),
            "jwks_malformed"
        );
        assert_eq!(
            parse_key_set(br#"{"keys":[]}"#).unwrap_err(),
            "jwks_no_usable_keys"
        );
        let odd = br#"{"keys":[{"kty":"EC","kid":"a","crv":"P-256"},{"kty":"RSA","kid":"b","n":"AQAB","e":"AQAB"},42]}"#;
        assert_eq!(parse_key_set(odd).unwrap_err(), "jwks_no_usable_keys");
    }

    #[test]
    fn an_empty_or_all_zero_modulus_is_skipped_not_a_panic() {
        for n in ["", "AA", "AAAAAAAA"] {
            let doc = format!(
                r#"{{"keys":[{{"kty":"RSA","kid":"z","alg":"RS256","n":"{n}","e":"AQAB"}}]}}"#
            );
            assert_eq!(
                parse_key_set(doc.as_bytes()).unwrap_err(),
                "jwks_no_usable_keys",
                "n = {n:?}"
            );
        }
    }
}

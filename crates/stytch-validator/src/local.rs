//! Local verification: a session JWT checked against the keys held in memory, and the
//! verified-token cache that spares a repeat the signature check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::StytchConfig;
use crate::hot::{self, Check, Found};
use crate::jwks::Jwks;
use crate::jwt;
use crate::metrics;
use crate::reason::Reason;
use crate::revoked::RevokedSet;
use crate::session::Session;
use crate::verified::{self, CachedToken, VerifiedCache};

/// The local verdict on a JWT.
pub(crate) enum Verdict {
    Valid(Session),
    /// Authentic but not acceptable locally right now: ask Stytch.
    Stale(Reason),
    /// The signing key is not in the set we hold.
    UnknownKey,
    /// There are no (trustworthy) keys at all.
    NoKeys,
    /// Not a session JWT of this project: reject without asking anyone.
    Invalid(Reason),
    /// Authentic, but its session was revoked through this service.
    Revoked,
}

/// What the verified cache says about a JWT.
pub(crate) enum Cached {
    Hit(Session),
    /// It verified before, but its session is revoked now.
    Revoked,
    Miss,
}

pub(crate) struct Local {
    /// Tells this cache's per-thread replicas from another validator's.
    id: u64,
    config: Arc<StytchConfig>,
    pub(crate) jwks: Jwks,
    verified: Option<VerifiedCache>,
    verifications: AtomicU64,
    hits: metrics::CacheHits,
    pub(crate) revoked: Arc<RevokedSet>,
}

impl Local {
    pub(crate) fn new(config: Arc<StytchConfig>, jwks: Jwks, revoked: Arc<RevokedSet>) -> Self {
        let verified = (config.verified_cache_bytes > 0)
            .then(|| verified::new_cache(config.verified_cache_bytes));
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config,
            jwks,
            verified,
            verifications: AtomicU64::new(0),
            hits: metrics::CacheHits::new(),
            revoked,
        }
    }

    /// Verified tokens held now, and the bytes they weigh.
    pub(crate) fn cached_entries(&self) -> (usize, u64) {
        self.verified
            .as_ref()
            .map_or((0, 0), |c| (c.len(), c.weight()))
    }

    /// RSA signature checks performed so far.
    pub(crate) fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// The session for a JWT that verified before and is still valid, without I/O and,
    /// but for the one small allocation that makes a replica, without allocating. A
    /// token this thread serves often is answered from its own
    /// replica (see `hot`), so that a hot token's hits on different cores write nothing
    /// they share. `jwt` is the token's bytes: what was never verified, text or not, is
    /// a miss.
    pub(crate) fn cached(&self, jwt: &[u8]) -> Cached {
        let Some(cache) = self.verified.as_ref() else {
            return Cached::Miss;
        };
        match hot::lookup(self.id, jwt, |entry| self.recheck(entry)) {
            Some(Found::Hit(session)) => {
                self.hits.record();
                return Cached::Hit(session);
            }
            Some(Found::Revoked) => return Cached::Revoked,
            None => {}
        }
        let Some(hit) = cache.get(jwt) else {
            return Cached::Miss;
        };
        match self.recheck(&hit) {
            Check::Fresh => {}
            Check::Revoked => return Cached::Revoked,
            Check::Gone => {
                cache.remove(jwt);
                metrics::cache_entries(cache.len() as u64);
                return Cached::Miss;
            }
        }
        hot::offer(self.id, &hit);
        self.hits.record();
        Cached::Hit(hit.session.clone())
    }

    /// The checks every hit repeats. Time moves and keys are withdrawn; revocations cost
    /// one atomic load unless the revoked set changed since the entry was last checked.
    /// A revoked entry stays cached, so its JWT is refused from memory until it expires,
    /// without another signature check.
    fn recheck(&self, entry: &CachedToken) -> Check {
        let now = self.config.clock.now_millis();
        let keys = self.jwks.load_at(now);
        if entry.times.check(now, &self.config).is_err()
            || !keys.holds(&entry.kid)
            || self.jwks.is_stale_at(&keys, now)
        {
            return Check::Gone;
        }
        let epoch = self.revoked.epoch();
        if entry.checked.load(Ordering::Relaxed) != epoch {
            if self.revoked.contains(entry.session.session_id(), now) {
                return Check::Revoked;
            }
            entry.checked.store(epoch, Ordering::Relaxed);
        }
        Check::Fresh
    }

    /// Verifies a JWT against the keys held now; caches it when valid.
    pub(crate) fn verify(&self, jwt: &str) -> Verdict {
        let config = &*self.config;
        let parsed = match jwt::parse(jwt, config.max_token_bytes) {
            Ok(p) => p,
            Err(reason) => return Verdict::Invalid(reason),
        };
        let keys = self.jwks.load();
        if keys.is_empty() || self.jwks.is_stale(&keys) {
            // The signature cannot be checked, but the claims can: a token that is not
            // a session JWT of this project is refused here rather than costing a call.
            return match parsed.claims().and_then(|claims| claims.validate(config)) {
                Ok(_) => Verdict::NoKeys,
                Err(reason) => Verdict::Invalid(reason),
            };
        }
        let Some(key) = keys.get(&parsed.kid) else {
            return Verdict::UnknownKey;
        };
        self.verifications.fetch_add(1, Ordering::Relaxed);
        metrics::cache_miss();
        metrics::jwks_age(keys.age(config.clock.now_millis()));
        if !parsed.verify_signature(key) {
            return Verdict::Invalid(Reason::JwtInvalidSignature);
        }
        let claims = match parsed.claims() {
            Ok(c) => c,
            Err(reason) => return Verdict::Invalid(reason),
        };
        let times = match claims.validate(config) {
            Ok(t) => t,
            Err(reason) => return Verdict::Invalid(reason),
        };
        let now = config.clock.now_millis();
        // Before the time checks: an expired JWT of a revoked session costs no call.
        let epoch = self.revoked.epoch();
        if self.revoked.contains(claims.session_id(), now) {
            return Verdict::Revoked;
        }
        if let Err(stale) = times.check(now, config) {
            return Verdict::Stale(stale.reason());
        }
        let session = claims.into_session(times);
        if let Some(cache) = &self.verified {
            let kid = keys
                .kid(&parsed.kid)
                .unwrap_or_else(|| Arc::from(parsed.kid));
            let token: Arc<[u8]> = jwt.as_bytes().into();
            cache.insert(
                Arc::clone(&token),
                Arc::new(CachedToken::new(token, session.clone(), times, kid, epoch)),
            );
            metrics::cache_entries(cache.len() as u64);
        }
        Verdict::Valid(session)
    }
}

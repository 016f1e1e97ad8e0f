//! Local verification: a session JWT checked against the keys held in memory, and the
//! verified-token cache that spares a repeat the signature check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::StytchConfig;
use crate::jwks::Jwks;
use crate::jwt;
use crate::metrics;
use crate::reason::Reason;
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
}

pub(crate) struct Local {
    config: Arc<StytchConfig>,
    pub(crate) jwks: Jwks,
    verified: Option<VerifiedCache>,
    verifications: AtomicU64,
}

impl Local {
    pub(crate) fn new(config: Arc<StytchConfig>, jwks: Jwks) -> Self {
        let verified = (config.verified_cache_bytes > 0)
            .then(|| verified::new_cache(config.verified_cache_bytes));
        Self {
            config,
            jwks,
            verified,
            verifications: AtomicU64::new(0),
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

    /// The session for a JWT that verified before and is still valid, without any
    /// allocation or I/O.
    pub(crate) fn cached(&self, jwt: &str) -> Option<Session> {
        let cache = self.verified.as_ref()?;
        let hit = cache.get(jwt)?;
        let now = self.config.clock.now_millis();
        let keys = self.jwks.load_at(now);
        // Time moves and keys are withdrawn: both are re-checked on every hit.
        if hit.times.check(now, &self.config).is_err()
            || !keys.contains(&hit.kid)
            || self.jwks.is_stale_at(&keys, now)
        {
            cache.remove(jwt);
            metrics::cache_entries(cache.len() as u64);
            return None;
        }
        metrics::cache_hit();
        Some(hit.session.clone())
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
        if let Err(stale) = times.check(config.clock.now_millis(), config) {
            return Verdict::Stale(stale.reason());
        }
        let session = claims.into_session(times);
        if let Some(cache) = &self.verified {
            let kid = keys
                .kid(&parsed.kid)
                .unwrap_or_else(|| Arc::from(parsed.kid));
            cache.insert(
                jwt.to_owned(),
                Arc::new(CachedToken::new(jwt, session.clone(), times, kid)),
            );
            metrics::cache_entries(cache.len() as u64);
        }
        Verdict::Valid(session)
    }
}

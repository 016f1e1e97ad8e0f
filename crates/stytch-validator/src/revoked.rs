//! The revoked set: sessions revoked through this service (here or, in fleet mode, on
//! another instance), each until no JWT of it can verify any more.
//!
//! Cache hits consult it without a lock in the common case: every change bumps an
//! epoch, and a cached entry remembers the epoch at which it was last found not
//! revoked. A hit whose entry is current costs one atomic load; only after a change does
//! it look its session id up (once per entry per change).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

/// How long a revocation is kept: Stytch's session JWTs live five minutes, so after
/// that (plus the leeway, added by the caller) no JWT issued before the revocation
/// verifies, and no remote answer cached before it (kept at most until its fresh JWT's
/// `exp`) is served.
pub(crate) const REVOCATION_WINDOW_MS: i64 = 5 * 60 * 1000;

/// Revoked session ids and until when they stay refused (clock millis).
#[derive(Debug, Default)]
pub(crate) struct RevokedSet {
    epoch: AtomicU64,
    inner: RwLock<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    until: HashMap<Box<str>, i64>,
    /// Inserts since the last sweep of expired entries.
    since_sweep: usize,
}

impl RevokedSet {
    /// Changes so far; a cached entry checked at the current epoch needs no lookup.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Refuses `session_id` until `until_ms`. Returns whether this changed anything (a
    /// new id, or a later end).
    pub(crate) fn insert(&self, session_id: &str, until_ms: i64, now_ms: i64) -> bool {
        if until_ms <= now_ms || session_id.is_empty() {
            return false;
        }
        let mut entries = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let changed = match entries.until.get_mut(session_id) {
            Some(until) if *until >= until_ms => false,
            Some(until) => {
                *until = until_ms;
                true
            }
            None => {
                entries.until.insert(session_id.into(), until_ms);
                true
            }
        };
        // Amortised: sweep once the inserts since the last sweep outnumber half the set.
        entries.since_sweep += 1;
        if entries.since_sweep > 64 && entries.since_sweep * 2 > entries.until.len() {
            entries.until.retain(|_, until| *until > now_ms);
            entries.since_sweep = 0;
        }
        drop(entries);
        if changed {
            self.epoch.fetch_add(1, Ordering::Release);
        }
        changed
    }

    /// Whether `session_id` is refused at `now_ms`.
    pub(crate) fn contains(&self, session_id: &str, now_ms: i64) -> bool {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .until
            .get(session_id)
            .is_some_and(|until| *until > now_ms)
    }

    /// The revocations still in force at `now_ms`: (session id, until).
    pub(crate) fn live(&self, now_ms: i64) -> Vec<(String, i64)> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .until
            .iter()
            .filter(|(_, until)| **until > now_ms)
            .map(|(id, until)| (id.to_string(), *until))
            .collect()
    }

    /// Revocations held (expired ones not yet swept included).
    pub(crate) fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .until
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_expire_extend_and_bump_the_epoch() {
        let set = RevokedSet::default();
        assert_eq!(set.epoch(), 0);
        assert!(set.insert("session-a", 1_000, 0));
        assert_eq!(set.epoch(), 1);
        assert!(set.contains("session-a", 999));
        assert!(!set.contains("session-a", 1_000), "until is exclusive");
        assert!(
            !set.insert("session-a", 500, 0),
            "an earlier end changes nothing"
        );
        assert_eq!(set.epoch(), 1);
        assert!(set.insert("session-a", 2_000, 0));
        assert!(set.contains("session-a", 1_500));
        assert!(!set.insert("session-b", 10, 10), "already over");
        assert_eq!(set.live(1_500), vec![("session-a".to_owned(), 2_000)]);
        assert!(set.live(2_000).is_empty());
    }

    #[test]
    fn expired_entries_are_swept() {
        let set = RevokedSet::default();
        for i in 0..100 {
            set.insert(&format!("old-{i}"), 1_000, 0);
        }
        for i in 0..200 {
            set.insert(&format!("new-{i}"), 10_000, 5_000);
        }
        assert!(set.len() < 300, "{}", set.len());
        assert_eq!(set.live(5_000).len(), 200);
    }
}

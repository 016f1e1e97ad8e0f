//! Per-thread replicas of hot verified-cache entries.
//!
//! One token on most requests is common: a service account, a load test, a dashboard
//! polling every second. Served from the shared cache, every hit on every core would
//! write the same cache lines: the shard's lock word and the entry's and the session's
//! reference counts, so two cores serve such a token slower than one. A replica gives
//! each thread its own handle on the session (a reference count of its own, on the
//! same data); a hit then writes only memory its own core holds, and only reads the
//! entry's shared part (token, times, key id, revocation epoch).
//!
//! A token becomes a replica on a thread when it hits the shared cache twice in a row
//! in its slot there: a thread serving many distinct users keeps using the shared cache
//! and writes no replica per request. Making one costs a small allocation and two
//! reference counts. A replica is re-checked exactly as a shared entry is, and compared
//! by its whole token. A thread holds at most [`SLOTS`] replicas; each keeps its entry
//! alive, outside the shared cache's byte budget, until the slot is taken by another
//! token or the replica is found gone.

use std::cell::RefCell;
use std::sync::Arc;

use crate::session::Session;
use crate::verified::CachedToken;

/// Replicas per thread.
pub(crate) const SLOTS: usize = 8;

/// What a re-check of a cached entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Still valid: serve it.
    Fresh,
    /// Authentic, but its session is revoked now.
    Revoked,
    /// Expired, or its key is gone or stale: it must be verified again.
    Gone,
}

/// This thread's answer for a token.
pub(crate) enum Found {
    Hit(Session),
    Revoked,
}

struct Replica {
    /// The validator's cache this came from (ids are never reused).
    owner: u64,
    /// The shared entry, only read: its token, times, key and revocation epoch.
    entry: Arc<CachedToken>,
    /// This thread's own handle on the session, so its reference count stays on this
    /// core.
    session: Session,
}

struct Slots {
    replicas: [Option<Replica>; SLOTS],
    /// The fingerprint of the last token that hit the shared cache in each slot.
    candidates: [u64; SLOTS],
}

thread_local! {
    static SLOTS_HERE: RefCell<Slots> = const {
        RefCell::new(Slots {
            replicas: [const { None }; SLOTS],
            candidates: [0; SLOTS],
        })
    };
}

/// A cheap fingerprint: the token's length and last 8 bytes (of an RS256 JWT, its
/// signature) and the owner. It only picks a slot and spots a repeat; whether a replica
/// matches is decided by comparing the whole token.
fn fingerprint(owner: u64, bytes: &[u8]) -> u64 {
    let mut tail = [0u8; 8];
    let n = bytes.len().min(8);
    tail[8 - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    let mixed = u64::from_le_bytes(tail) ^ (bytes.len() as u64).rotate_left(40) ^ owner;
    // Never 0, the "no candidate" value.
    mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

fn slot(fingerprint: u64) -> usize {
    (fingerprint >> (64 - SLOTS.trailing_zeros())) as usize
}

/// This thread's replica of `token`, re-checked by `check`. `None`: no replica here
/// (or it is gone), ask the shared cache.
pub(crate) fn lookup(
    owner: u64,
    token: &[u8],
    check: impl FnOnce(&CachedToken) -> Check,
) -> Option<Found> {
    SLOTS_HERE
        .try_with(|slots| {
            let mut slots = slots.try_borrow_mut().ok()?;
            let i = slot(fingerprint(owner, token));
            let replica = slots.replicas[i].as_ref()?;
            if replica.owner != owner || *replica.entry.token != *token {
                return None;
            }
            match check(&replica.entry) {
                Check::Fresh => Some(Found::Hit(replica.session.clone())),
                Check::Revoked => Some(Found::Revoked),
                Check::Gone => {
                    slots.replicas[i] = None;
                    None
                }
            }
        })
        .ok()
        .flatten()
}

/// Notes a fresh hit on `entry` in the shared cache; the second in a row in its slot
/// makes it a replica on this thread.
pub(crate) fn offer(owner: u64, entry: &Arc<CachedToken>) {
    let _ = SLOTS_HERE.try_with(|slots| {
        let Ok(mut slots) = slots.try_borrow_mut() else {
            return;
        };
        let fingerprint = fingerprint(owner, &entry.token);
        let i = slot(fingerprint);
        if slots.candidates[i] != fingerprint {
            slots.candidates[i] = fingerprint;
            return;
        }
        slots.candidates[i] = 0;
        slots.replicas[i] = Some(Replica {
            owner,
            entry: Arc::clone(entry),
            session: entry.session.replica(),
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::Times;
    use crate::session::SessionSource;
    use crate::session::tests::session;

    fn entry(token: &str) -> Arc<CachedToken> {
        Arc::new(CachedToken::new(
            token.as_bytes().into(),
            session(SessionSource::LocalJwt),
            Times::for_test(),
            Arc::from("kid"),
            0,
        ))
    }

    /// Makes `token` a replica on this thread: two hits in a row.
    fn promoted(owner: u64, token: &str) {
        let e = entry(token);
        offer(owner, &e);
        offer(owner, &e);
    }

    fn hit(found: Option<Found>) -> Option<Session> {
        match found {
            Some(Found::Hit(s)) => Some(s),
            _ => None,
        }
    }

    #[test]
    fn a_token_becomes_a_replica_on_its_second_hit_in_a_row() {
        let token = "header.payload.signature-one";
        let e = entry(token);
        assert!(lookup(1, token.as_bytes(), |_| Check::Fresh).is_none());
        offer(1, &e);
        assert!(lookup(1, token.as_bytes(), |_| Check::Fresh).is_none());
        offer(1, &e);
        let s = hit(lookup(1, token.as_bytes(), |_| Check::Fresh)).expect("a replica");
        // The thread's own handle: not the shared one, on the same data.
        assert!(!s.ptr_eq(&e.session));
        assert!(s.shares_data(&e.session));
    }

    #[test]
    fn a_replica_answers_only_its_owner_and_its_whole_token() {
        let token = "header.payload.signature-two";
        promoted(7, token);
        assert!(hit(lookup(7, token.as_bytes(), |_| Check::Fresh)).is_some());
        assert!(lookup(8, token.as_bytes(), |_| Check::Fresh).is_none());
        // Same length and same last 8 bytes, so the same slot: still no match.
        let forged = "HEADER.payload.signature-two";
        assert_eq!(
            slot(fingerprint(7, token.as_bytes())),
            slot(fingerprint(7, forged.as_bytes()))
        );
        assert!(lookup(7, forged.as_bytes(), |_| Check::Fresh).is_none());
    }

    #[test]
    fn distinct_tokens_in_turn_never_become_replicas() {
        // Two tokens alternating in one slot: each offer replaces the other's candidacy.
        let a = "header.payload.aaaaaaaa";
        let b = (0..)
            .map(|n| format!("header.payload.{n:08}"))
            .find(|b| slot(fingerprint(3, b.as_bytes())) == slot(fingerprint(3, a.as_bytes())))
            .expect("a token in the same slot");
        let (ea, eb) = (entry(a), entry(&b));
        for _ in 0..4 {
            offer(3, &ea);
            offer(3, &eb);
        }
        assert!(lookup(3, a.as_bytes(), |_| Check::Fresh).is_none());
        assert!(lookup(3, b.as_bytes(), |_| Check::Fresh).is_none());
    }

    #[test]
    fn a_revoked_replica_is_refused_and_a_gone_one_is_dropped() {
        let token = "header.payload.signature-three";
        promoted(5, token);
        assert!(matches!(
            lookup(5, token.as_bytes(), |_| Check::Revoked),
            Some(Found::Revoked)
        ));
        assert!(lookup(5, token.as_bytes(), |_| Check::Gone).is_none());
        // Dropped: even a fresh check finds nothing now.
        assert!(lookup(5, token.as_bytes(), |_| Check::Fresh).is_none());
    }
}

//! Fleet mode: the state that many instances of a service share, behind one small trait.
//!
//! A [`Validator`](crate::Validator) on its own keeps everything in process: revoked
//! sessions, remote answers, the remote budget. Instances behind a load balancer can
//! share them through a [`FleetState`] given to
//! [`Validator::with_fleet`](crate::Validator::with_fleet); the `stytch-redis` crate
//! implements it on Redis. What is shared:
//!
//! * **Revocations.** [`Validator::revoke`](crate::Validator::revoke) refuses a session at
//!   once locally and hands the revocation to [`FleetState::publish_revocation`]. The
//!   state delivers the others' revocations into the validator's local mirror through
//!   the [`FleetMirror`] it received in [`FleetState::attach`], so a cache hit checks
//!   them in memory, never over the network.
//! * **Remote answers.** What Stytch answered for a credential (a session, or
//!   `session_not_found`) is stored under an [`AnswerKey`], a hash of the credential,
//!   never the credential, sealed with a key derived from the credential (AES-256-GCM):
//!   the shared store holds neither a credential nor session data in clear, and only a
//!   holder of the credential can open it. It lives until the fresh JWT's `exp` (a
//!   refusal: the rejected-credential TTL).
//! * **The remote budget.** Stytch's rate limit is per project, so the budget is asked of
//!   the fleet ([`FleetState::take_budget`]), with the same priority for proven sessions.
//!
//! The fleet is never on the path of a verified-cache hit, and no request waits on it
//! longer than [`FleetState::timeout`]: an error or a timeout falls back to the local
//! behaviour (local caches, the local budget), logged once per outage
//! (`stytch.fleet.unavailable`, then `stytch.fleet.recovered`). After a failure the
//! fleet is not asked for half a second (revocations are still handed over), so one
//! request pays the timeout at most once however many calls it would make.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::clock::Clock;
use crate::revoked::RevokedSet;

pub use crate::budget::Standing;

/// How long a request waits on the fleet at most, unless the state says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

/// State shared by the validators of a fleet: revocations, remote answers and the
/// remote budget. See the [module documentation](self).
///
/// Every method but [`attach`](Self::attach) is called on the remote path only (never on
/// a verified-cache hit), wrapped in a timeout of [`timeout`](Self::timeout); an `Err`
/// or a timeout makes the validator use its local state for that call.
pub trait FleetState: Send + Sync + fmt::Debug + 'static {
    /// Called once per validator that uses this state (several validators may share
    /// one). Deliver every revocation of the fleet, including those made before this
    /// call that are still in force, to `mirror` with [`FleetMirror::insert`].
    fn attach(&self, mirror: FleetMirror);

    /// The longest a request waits on this state (default [`DEFAULT_TIMEOUT`]).
    fn timeout(&self) -> Duration {
        DEFAULT_TIMEOUT
    }

    /// Makes a revocation known to the fleet. The validator has already applied it
    /// locally. The implementation must not lose it: when the shared store is
    /// unreachable, keep it and publish it when the store returns. `Ok` may mean
    /// "accepted for publication".
    fn publish_revocation(&self, revocation: Revocation) -> BoxFuture<'_, Result<(), FleetError>>;

    /// The sealed answer stored under `key`, if any.
    fn load_answer(&self, key: AnswerKey) -> BoxFuture<'_, Result<Option<Vec<u8>>, FleetError>>;

    /// Stores a sealed answer under `key` for `ttl`.
    fn store_answer(
        &self,
        key: AnswerKey,
        sealed: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<(), FleetError>>;

    /// Takes one call from the fleet's remote budget: a token bucket of
    /// [`BudgetRequest::rate_per_sec`] refilled per second up to
    /// [`BudgetRequest::burst`], from which an [`Standing::Unproven`] call may not draw
    /// below half the burst. It must be atomic across the fleet.
    fn take_budget(
        &self,
        request: BudgetRequest,
    ) -> BoxFuture<'_, Result<BudgetDecision, FleetError>>;
}

/// A session revoked until a given time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Revocation {
    /// The session id (`session-test-...` or `member-session-test-...`); an id, not a
    /// credential.
    pub session_id: String,
    /// Until when it is refused, in milliseconds since the Unix epoch on the validators'
    /// [`Clock`].
    pub until_ms: i64,
}

impl Revocation {
    /// The longest session id a fleet should accept from its shared store.
    pub const MAX_SESSION_ID_BYTES: usize = 256;

    /// Whether the id is a plausible Stytch session id (printable ASCII, no spaces, at
    /// most [`MAX_SESSION_ID_BYTES`](Self::MAX_SESSION_ID_BYTES)): check what comes back
    /// from a shared store before trusting it.
    pub fn is_well_formed(&self) -> bool {
        (1..=Self::MAX_SESSION_ID_BYTES).contains(&self.session_id.len())
            && self.session_id.bytes().all(|b| (0x21..=0x7e).contains(&b))
    }
}

/// The key of a shared remote answer: a SHA-256 over the project id and the credential,
/// domain-separated from the key that seals the answer. Not reversible to the
/// credential.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnswerKey(pub [u8; 32]);

impl AnswerKey {
    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        out
    }
}

impl fmt::Debug for AnswerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnswerKey({})", &self.to_hex()[..16])
    }
}

/// One call's worth asked of the fleet's remote budget.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetRequest {
    /// The Stytch project: Stytch's limit is per project.
    pub project_id: String,
    /// Calls per second the fleet may make (never 0: a disabled budget is not asked).
    pub rate_per_sec: u32,
    /// The bucket's size.
    pub burst: u32,
    /// Whether the call is for an authentic JWT (may draw the bucket empty) or not (may
    /// not draw below half the burst).
    pub standing: Standing,
    /// Now, on the validator's clock (milliseconds since the Unix epoch).
    pub now_ms: i64,
}

/// The fleet's answer to a [`BudgetRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetDecision {
    /// The call may go ahead.
    Granted,
    /// Over budget: this class may call again after this long.
    Refused {
        /// When to come back.
        retry_in: Duration,
    },
}

/// Why the fleet could not answer. The validator falls back to local state; the text
/// is for logs and must never hold a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fleet state unavailable: {0}")]
pub struct FleetError(pub String);

impl FleetError {
    /// An error with this description.
    pub fn new(description: impl Into<String>) -> Self {
        Self(description.into())
    }
}

/// The handle a [`FleetState`] feeds a validator's local mirror of revocations through.
/// It does not keep the validator alive; once the validator is dropped, its methods
/// report `false` or `None` and the state may forget it.
#[derive(Clone)]
pub struct FleetMirror {
    revoked: Weak<RevokedSet>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for FleetMirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetMirror")
            .field("attached", &self.is_attached())
            .finish()
    }
}

impl FleetMirror {
    pub(crate) fn new(revoked: &Arc<RevokedSet>, clock: Arc<dyn Clock>) -> Self {
        Self {
            revoked: Arc::downgrade(revoked),
            clock,
        }
    }

    /// Applies a revocation of the fleet. Returns `false` once the validator is gone.
    /// Malformed ids and revocations already over are ignored.
    pub fn insert(&self, revocation: &Revocation) -> bool {
        let Some(revoked) = self.revoked.upgrade() else {
            return false;
        };
        if revocation.is_well_formed() {
            revoked.insert(
                &revocation.session_id,
                revocation.until_ms,
                self.clock.now_millis(),
            );
        }
        true
    }

    /// The revocations this validator holds that are still in force (to re-seed a shared
    /// store that lost them, e.g. after a restart). `None` once the validator is gone.
    pub fn live(&self) -> Option<Vec<Revocation>> {
        let revoked = self.revoked.upgrade()?;
        Some(
            revoked
                .live(self.clock.now_millis())
                .into_iter()
                .map(|(session_id, until_ms)| Revocation {
                    session_id,
                    until_ms,
                })
                .collect(),
        )
    }

    /// Now, on the validator's clock (milliseconds since the Unix epoch).
    pub fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Whether the validator still exists.
    pub fn is_attached(&self) -> bool {
        self.revoked.strong_count() > 0
    }
}

/// After a failed call, the fleet is skipped this long (but for publishing
/// revocations), so that a request pays the timeout at most once, whatever the state.
const SKIP_AFTER_FAILURE: Duration = Duration::from_millis(500);

/// A validator's connection to its fleet: every call bounded by the state's timeout,
/// skipped for a while after a failure, failures logged once per outage.
pub(crate) struct Link {
    state: Arc<dyn FleetState>,
    timeout: Duration,
    degraded: std::sync::atomic::AtomicBool,
    errors: std::sync::atomic::AtomicU64,
    /// Calls (but publications) are skipped until then: millis since `started`.
    skip_until_ms: std::sync::atomic::AtomicU64,
    started: std::time::Instant,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("state", &self.state)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Link {
    pub(crate) fn new(state: Arc<dyn FleetState>) -> Self {
        let timeout = state.timeout();
        Self {
            state,
            timeout,
            degraded: Default::default(),
            errors: Default::default(),
            skip_until_ms: Default::default(),
            started: std::time::Instant::now(),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn attach(&self, mirror: FleetMirror) {
        self.state.attach(mirror);
    }

    /// Calls that failed or timed out so far.
    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the last call failed.
    pub(crate) fn is_degraded(&self) -> bool {
        self.degraded.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs one call within the timeout; `None` on an error or a timeout, and at once
    /// for a while after one (a revocation is always handed over: the state keeps it).
    pub(crate) async fn run<T>(
        &self,
        op: &'static str,
        call: impl FnOnce(&dyn FleetState) -> BoxFuture<'_, Result<T, FleetError>>,
    ) -> Option<T> {
        use std::sync::atomic::Ordering;
        if op != "publish_revocation"
            && self.elapsed_ms() < self.skip_until_ms.load(Ordering::Relaxed)
        {
            return None;
        }
        let outcome = tokio::time::timeout(self.timeout, call(&*self.state)).await;
        match outcome {
            Ok(Ok(value)) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!(op, "stytch.fleet.recovered");
                }
                Some(value)
            }
            failed => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                let until = self.elapsed_ms() + SKIP_AFTER_FAILURE.as_millis() as u64;
                self.skip_until_ms.store(until, Ordering::Relaxed);
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    let error = match failed {
                        Ok(Err(e)) => e.0,
                        _ => format!("no answer within {} ms", self.timeout.as_millis()),
                    };
                    tracing::warn!(op, %error, "stytch.fleet.unavailable");
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::FutureExt as _;

    use super::*;

    /// A state that never answers, counting what it was asked.
    #[derive(Debug, Default)]
    struct Hung {
        calls: AtomicUsize,
        published: AtomicUsize,
    }

    impl FleetState for Hung {
        fn attach(&self, _: FleetMirror) {}

        fn publish_revocation(&self, _: Revocation) -> BoxFuture<'_, Result<(), FleetError>> {
            self.published.fetch_add(1, Ordering::SeqCst);
            std::future::pending().boxed()
        }

        fn load_answer(&self, _: AnswerKey) -> BoxFuture<'_, Result<Option<Vec<u8>>, FleetError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending().boxed()
        }

        fn store_answer(
            &self,
            _: AnswerKey,
            _: Vec<u8>,
            _: Duration,
        ) -> BoxFuture<'_, Result<(), FleetError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending().boxed()
        }

        fn take_budget(
            &self,
            _: BudgetRequest,
        ) -> BoxFuture<'_, Result<BudgetDecision, FleetError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending().boxed()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_state_costs_one_timeout_then_is_skipped_but_for_revocations() {
        let hung = Arc::new(Hung::default());
        let link = Link::new(Arc::clone(&hung) as Arc<dyn FleetState>);
        let started = tokio::time::Instant::now();
        assert!(
            link.run("load_answer", |s| s.load_answer(AnswerKey([0; 32])))
                .await
                .is_none()
        );
        assert_eq!(started.elapsed(), DEFAULT_TIMEOUT, "the timeout, once");
        let again = tokio::time::Instant::now();
        assert!(
            link.run("store_answer", |s| s.store_answer(
                AnswerKey([0; 32]),
                vec![],
                Duration::from_secs(1)
            ))
            .await
            .is_none()
        );
        assert_eq!(again.elapsed(), Duration::ZERO, "skipped at once");
        assert_eq!(hung.calls.load(Ordering::SeqCst), 1);
        let revocation = Revocation {
            session_id: "session-test-1".into(),
            until_ms: 1,
        };
        link.run("publish_revocation", |s| s.publish_revocation(revocation))
            .await;
        assert_eq!(
            hung.published.load(Ordering::SeqCst),
            1,
            "revocations are always handed over"
        );
        assert_eq!(link.errors(), 2);
        assert!(link.is_degraded());
    }
}

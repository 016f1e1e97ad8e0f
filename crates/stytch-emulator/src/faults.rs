//! Fault injection and per-route request counters.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A Stytch endpoint the emulator serves, for faults and counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// `GET /v1/sessions/jwks/{project_id}`
    Jwks,
    /// `POST /v1/sessions/authenticate`
    Authenticate,
    /// `POST /v1/sessions/revoke`
    Revoke,
    /// `GET /v1/rbac/policy`
    RbacPolicy,
    /// `GET /v1/b2b/sessions/jwks/{project_id}`
    B2bJwks,
    /// `POST /v1/b2b/sessions/authenticate`
    B2bAuthenticate,
    /// `POST /v1/b2b/sessions/revoke`
    B2bRevoke,
    /// `GET /v1/b2b/rbac/policy`
    B2bRbacPolicy,
    /// `GET` / `PUT /v1/b2b/rbac/organizations/{organization_id}`
    B2bOrganizationPolicy,
}

impl Route {
    /// Every route, in declaration order.
    pub const ALL: [Route; 9] = [
        Route::Jwks,
        Route::Authenticate,
        Route::Revoke,
        Route::RbacPolicy,
        Route::B2bJwks,
        Route::B2bAuthenticate,
        Route::B2bRevoke,
        Route::B2bRbacPolicy,
        Route::B2bOrganizationPolicy,
    ];

    /// The snake_case name used by the HTTP control routes (`"b2b_authenticate"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Route::Jwks => "jwks",
            Route::Authenticate => "authenticate",
            Route::Revoke => "revoke",
            Route::RbacPolicy => "rbac_policy",
            Route::B2bJwks => "b2b_jwks",
            Route::B2bAuthenticate => "b2b_authenticate",
            Route::B2bRevoke => "b2b_revoke",
            Route::B2bRbacPolicy => "b2b_rbac_policy",
            Route::B2bOrganizationPolicy => "b2b_organization_policy",
        }
    }

    /// The route with that [`Route::name`].
    pub fn from_name(name: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FaultKind {
    Status(u16),
    Latency(Duration),
    MalformedBody,
    CloseConnection,
}

/// Something to go wrong on a route's next calls. Faults queue per route: the first one
/// applies until its `times` are used up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) times: Option<u32>,
    pub(crate) retry_after: Option<u32>,
}

impl Fault {
    fn of(kind: FaultKind) -> Self {
        Self {
            kind,
            times: None,
            retry_after: None,
        }
    }

    /// Answer with this HTTP status and a Stytch error body whose `error_type` matches it
    /// (429 `too_many_requests`, 500 `internal_server_error`, 401 `unauthorized_credentials`, ...).
    pub fn status(code: u16) -> Self {
        Self::of(FaultKind::Status(code))
    }

    /// Wait this long, then answer normally.
    pub fn latency(d: Duration) -> Self {
        Self::of(FaultKind::Latency(d))
    }

    /// Answer 200 with a truncated, non-JSON body.
    pub fn malformed_body() -> Self {
        Self::of(FaultKind::MalformedBody)
    }

    /// Drop the connection without answering.
    pub fn close_connection() -> Self {
        Self::of(FaultKind::CloseConnection)
    }

    /// Apply only to the next `n` calls (default: until cleared).
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Send `Retry-After: secs` with a status fault.
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    queues: Mutex<HashMap<Route, VecDeque<Fault>>>,
    counts: [AtomicU64; 9],
}

impl Faults {
    pub(crate) fn inject(&self, route: Route, fault: Fault) {
        if fault.times == Some(0) {
            return;
        }
        self.lock().entry(route).or_default().push_back(fault);
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// Counts one request to `route` and returns the fault it meets, if any.
    pub(crate) fn hit(&self, route: Route) -> Option<Fault> {
        self.counts[route.index()].fetch_add(1, Ordering::SeqCst);
        let mut queues = self.lock();
        let queue = queues.get_mut(&route)?;
        let head = queue.front_mut()?;
        let fault = head.clone();
        if let Some(times) = head.times.as_mut() {
            *times -= 1;
            if *times == 0 {
                queue.pop_front();
            }
        }
        Some(fault)
    }

    pub(crate) fn count(&self, route: Route) -> u64 {
        self.counts[route.index()].load(Ordering::SeqCst)
    }

    pub(crate) fn reset_counts(&self) {
        for c in &self.counts {
            c.store(0, Ordering::SeqCst);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Route, VecDeque<Fault>>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_then_normal_and_counts() {
        let f = Faults::default();
        f.inject(Route::Jwks, Fault::status(503).times(2));
        f.inject(Route::Jwks, Fault::malformed_body().times(1));
        assert_eq!(
            f.hit(Route::Jwks).map(|x| x.kind),
            Some(FaultKind::Status(503))
        );
        assert_eq!(
            f.hit(Route::Jwks).map(|x| x.kind),
            Some(FaultKind::Status(503))
        );
        assert_eq!(
            f.hit(Route::Jwks).map(|x| x.kind),
            Some(FaultKind::MalformedBody)
        );
        assert_eq!(f.hit(Route::Jwks), None);
        assert_eq!(f.count(Route::Jwks), 4);
        assert_eq!(f.count(Route::Authenticate), 0);
        f.inject(Route::Revoke, Fault::close_connection());
        f.clear();
        assert_eq!(f.hit(Route::Revoke), None);
        f.reset_counts();
        assert_eq!(f.count(Route::Jwks), 0);
        for r in Route::ALL {
            assert_eq!(Route::from_name(r.name()), Some(r));
        }
    }
}

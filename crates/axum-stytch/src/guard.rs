//! Guards: checks on an authenticated session (MFA, recent authentication, roles, RBAC
//! permissions, your own predicates), usable as route layers and in handlers.
//!
//! A [`Guard`] looks only at the session, so it works both as a route layer and inside
//! a handler ([`StytchSession::require`](crate::StytchSession::require)). A
//! [`RouteGuard`] also needs the request (B2B: which organization the route is about),
//! so it only works as a route layer; the type system keeps it out of handlers. Every
//! `Guard` converts into a `RouteGuard` for combining.

use std::fmt;
use std::future::Future;
use std::ops::Not;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::RawPathParams;
use axum_core::extract::FromRequestParts;
use axum_core::response::IntoResponse;
use futures_util::future::BoxFuture;
use http::{Request, Response};
use serde::de::DeserializeOwned;
use stytch_validator::{AuthError, ErrorKind, Reason, Session, Validator};
use tower_layer::Layer;
use tower_service::Service;

use crate::observe;
use crate::per_thread::PerThread;
use crate::rejection::StytchRejection;
use crate::session::{StytchSession, session_of};

/// A check on a session. Build one with the `require_*` functions, combine with
/// [`and`](Self::and), [`or`](Self::or), `!guard`, [`Guard::all`] and [`Guard::any`],
/// and use it as a route layer (`.route_layer(require_role("admin"))`) or in a handler
/// ([`StytchSession::require`]). A denial is 403 with the guard's reason; a request
/// without a session is 401.
#[derive(Clone)]
pub struct Guard(Arc<Check>);

/// A check that also needs the request, such as
/// [`require_org_permission`]: usable only as a route
/// layer. Combine it like a [`Guard`]; any `Guard` converts into one.
///
/// A handler cannot check it, because a handler's session does not know the route's
/// organization; this does not compile:
///
/// ```compile_fail
/// use axum_stytch::{StytchSession, guard::org_from_path, require_org_permission};
///
/// async fn handler(s: StytchSession) {
///     let org_docs = require_org_permission(org_from_path("org_id"), "documents", "read");
///     let _ = s.require(&org_docs).await;
/// }
/// ```
#[derive(Clone)]
pub struct RouteGuard(Arc<Check>);

type Predicate = dyn Fn(&Session) -> bool + Send + Sync;

/// Where an organization-scoped guard finds the organization id of a request.
#[derive(Debug, Clone)]
pub struct OrgSource(OrgFrom);

#[derive(Debug, Clone)]
enum OrgFrom {
    Path(String),
    Header(http::HeaderName),
}

/// The organization id is the route's path parameter `name` (e.g. `/orgs/{org_id}/docs`).
pub fn org_from_path(name: impl Into<String>) -> OrgSource {
    OrgSource(OrgFrom::Path(name.into()))
}

/// The organization id is the value of this request header.
pub fn org_from_header(name: http::HeaderName) -> OrgSource {
    OrgSource(OrgFrom::Header(name))
}

/// What a route guard may look at besides the session.
struct RequestContext<'a> {
    params: Option<&'a RawPathParams>,
    headers: &'a http::HeaderMap,
}

impl OrgSource {
    fn resolve<'a>(&self, ctx: &RequestContext<'a>) -> Option<&'a str> {
        match &self.0 {
            OrgFrom::Path(name) => ctx.params?.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            OrgFrom::Header(name) => ctx.headers.get(name)?.to_str().ok(),
        }
    }
}

#[derive(Clone)]
enum Check {
    FactorCount(usize),
    Factor(String),
    RecentAuth(Duration),
    RecentFactor(String, Duration),
    Role(String),
    Permission {
        resource: String,
        action: String,
    },
    OrgPermission {
        org: OrgSource,
        resource: String,
        action: String,
    },
    Predicate(Arc<Predicate>),
    All(Vec<Arc<Check>>),
    Any(Vec<Arc<Check>>),
    Not(Arc<Check>),
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::FactorCount(n) => write!(f, "require_factor_count({n})"),
            Check::Factor(k) => write!(f, "require_factor({k:?})"),
            Check::RecentAuth(d) => write!(f, "require_recent_auth({d:?})"),
            Check::RecentFactor(k, d) => write!(f, "require_recent_factor({k:?}, {d:?})"),
            Check::Role(r) => write!(f, "require_role({r:?})"),
            Check::Permission { resource, action } => {
                write!(f, "require_permission({resource:?}, {action:?})")
            }
            Check::OrgPermission {
                org,
                resource,
                action,
            } => write!(
                f,
                "require_org_permission({org:?}, {resource:?}, {action:?})"
            ),
            Check::Predicate(_) => f.write_str("Guard::from_fn(<fn>)"),
            Check::All(gs) => f.debug_tuple("all").field(gs).finish(),
            Check::Any(gs) => f.debug_tuple("any").field(gs).finish(),
            Check::Not(g) => f.debug_tuple("not").field(g).finish(),
        }
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Debug for RouteGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

fn guard(check: Check) -> Guard {
    Guard(Arc::new(check))
}

/// At least `n` factors, counted as Stytch lists them: distinct (`type`,
/// `delivery_method`) pairs (e.g. 2 for MFA: a magic link and a TOTP code). Two factors
/// on one channel (an email magic link and an email OTP) count as two, as in Stytch's
/// own `authentication_factors.length >= 2` check; for step-up on a specific channel use
/// [`require_factor`] or [`require_recent_factor`].
pub fn require_factor_count(n: usize) -> Guard {
    guard(Check::FactorCount(n))
}

/// A factor of this type or delivery method, e.g. `"totp"`, `"webauthn"`, `"otp"`,
/// `"sms"`, `"oauth_google"`.
pub fn require_factor(kind: impl Into<String>) -> Guard {
    guard(Check::Factor(kind.into()))
}

/// Some factor authenticated within `window` (step-up for sensitive actions).
pub fn require_recent_auth(window: Duration) -> Guard {
    guard(Check::RecentAuth(window))
}

/// A factor of this type or delivery method authenticated within `window`: step-up
/// with a specific factor. Unlike `require_factor(kind).and(require_recent_auth(window))`,
/// a fresh factor of another kind does not satisfy it.
pub fn require_recent_factor(kind: impl Into<String>, window: Duration) -> Guard {
    guard(Check::RecentFactor(kind.into(), window))
}

/// The session holds this role (exact, case-sensitive).
pub fn require_role(role: impl Into<String>) -> Guard {
    guard(Check::Role(role.into()))
}

/// The session's roles grant `action` on `resource` under the project's RBAC policy.
pub fn require_permission(resource: impl Into<String>, action: impl Into<String>) -> Guard {
    guard(Check::Permission {
        resource: resource.into(),
        action: action.into(),
    })
}

/// B2B: the session belongs to the request's organization (tenancy, checked first:
/// another organization's member gets 403 `tenancy_mismatch` without any policy
/// lookup), and its roles grant `action` on `resource` under the project policy plus
/// that organization's custom roles.
///
/// The organization comes from the request, so this is a [`RouteGuard`]: a route layer
/// only. Inside a handler use
/// [`StytchSession::authorize_in_organization`](crate::StytchSession::authorize_in_organization).
///
/// ```
/// use axum::{Router, routing::get};
/// use axum_stytch::{guard::org_from_path, require_org_permission};
/// # async fn docs() {}
/// let app: Router = Router::new().route(
///     "/orgs/{org_id}/documents",
///     get(docs).route_layer(require_org_permission(org_from_path("org_id"), "documents", "read")),
/// );
/// ```
pub fn require_org_permission(
    org: OrgSource,
    resource: impl Into<String>,
    action: impl Into<String>,
) -> RouteGuard {
    RouteGuard(Arc::new(Check::OrgPermission {
        org,
        resource: resource.into(),
        action: action.into(),
    }))
}

impl Guard {
    /// Your own check; a denied request gets reason `guard_denied`.
    ///
    /// ```
    /// use axum_stytch::Guard;
    /// let beta = Guard::from_fn(|s| s.custom_claim::<bool>("beta_tester") == Some(true));
    /// ```
    pub fn from_fn(check: impl Fn(&Session) -> bool + Send + Sync + 'static) -> Guard {
        guard(Check::Predicate(Arc::new(check)))
    }

    /// Every guard must allow (none: allows).
    pub fn all(guards: impl IntoIterator<Item = Guard>) -> Guard {
        guard(Check::All(guards.into_iter().map(|g| g.0).collect()))
    }

    /// At least one guard must allow (none: denies).
    pub fn any(guards: impl IntoIterator<Item = Guard>) -> Guard {
        guard(Check::Any(guards.into_iter().map(|g| g.0).collect()))
    }

    /// Both must allow.
    pub fn and(self, other: Guard) -> Guard {
        Guard::all([self, other])
    }

    /// Either may allow.
    pub fn or(self, other: Guard) -> Guard {
        Guard::any([self, other])
    }

    /// Checks `session`: `Err` is a 403-kind denial, or a 503 when the RBAC policy
    /// cannot be loaded.
    pub async fn check(&self, session: &Session, validator: &Validator) -> Result<(), AuthError> {
        let result = self.0.evaluate(session, validator, None).await;
        report(&self.0, &result);
        result
    }
}

impl Not for Guard {
    type Output = Guard;

    /// Allows exactly when the guard denies.
    fn not(self) -> Guard {
        guard(Check::Not(self.0))
    }
}

impl From<Guard> for RouteGuard {
    fn from(g: Guard) -> Self {
        RouteGuard(g.0)
    }
}

impl RouteGuard {
    /// Every guard must allow.
    pub fn all(guards: impl IntoIterator<Item = impl Into<RouteGuard>>) -> RouteGuard {
        RouteGuard(Arc::new(Check::All(
            guards.into_iter().map(|g| g.into().0).collect(),
        )))
    }

    /// At least one guard must allow.
    pub fn any(guards: impl IntoIterator<Item = impl Into<RouteGuard>>) -> RouteGuard {
        RouteGuard(Arc::new(Check::Any(
            guards.into_iter().map(|g| g.into().0).collect(),
        )))
    }

    /// Both must allow.
    pub fn and(self, other: impl Into<RouteGuard>) -> RouteGuard {
        RouteGuard::all([self, other.into()])
    }

    /// Either may allow.
    pub fn or(self, other: impl Into<RouteGuard>) -> RouteGuard {
        RouteGuard::any([self, other.into()])
    }
}

impl Not for RouteGuard {
    type Output = RouteGuard;

    /// Allows exactly when the guard denies.
    fn not(self) -> RouteGuard {
        RouteGuard(Arc::new(Check::Not(self.0)))
    }
}

impl<C> StytchSession<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Checks a guard from inside a handler; a denial is a [`StytchRejection`] that
    /// renders exactly as the same guard on a route would.
    ///
    /// ```
    /// use axum_stytch::{StytchRejection, StytchSession, require_factor_count};
    ///
    /// async fn transfer(session: StytchSession) -> Result<&'static str, StytchRejection> {
    ///     session.require(&require_factor_count(2)).await?;
    ///     Ok("sent")
    /// }
    /// ```
    pub async fn require(&self, guard: &Guard) -> Result<(), StytchRejection> {
        guard
            .check(self.session(), self.validator())
            .await
            .map_err(StytchRejection::from)
    }
}

/// Reports a denial (403) of a guard; outages (503) are not denials.
fn report(check: &Check, result: &Result<(), AuthError>) {
    if let Err(e) = result
        && e.kind() == ErrorKind::Forbidden
    {
        observe::guard_denial(check.label(), e.reason());
    }
}

fn deny(reason: Reason, message: String) -> Result<(), AuthError> {
    Err(AuthError::new(reason, message))
}

impl Check {
    /// The `guard` label of `stytch_guard_denials_total`.
    fn label(&self) -> &'static str {
        match self {
            Check::FactorCount(_) => "factor_count",
            Check::Factor(_) => "factor",
            Check::RecentAuth(_) => "recent_auth",
            Check::RecentFactor(..) => "recent_factor",
            Check::Role(_) => "role",
            Check::Permission { .. } => "permission",
            Check::OrgPermission { .. } => "org_permission",
            Check::Predicate(_) => "predicate",
            Check::All(_) => "all",
            Check::Any(_) => "any",
            Check::Not(_) => "not",
        }
    }

    fn evaluate<'a>(
        &'a self,
        s: &'a Session,
        validator: &'a Validator,
        ctx: Option<&'a RequestContext<'a>>,
    ) -> BoxFuture<'a, Result<(), AuthError>> {
        Box::pin(async move {
            match self {
                Check::FactorCount(n) => {
                    if s.factor_count() >= *n {
                        Ok(())
                    } else {
                        deny(
                            Reason::InsufficientFactors,
                            format!("This requires {n} authentication factors."),
                        )
                    }
                }
                Check::Factor(kind) => {
                    let has = s
                        .authentication_factors()
                        .iter()
                        .any(|f| f.factor_type() == kind || f.delivery_method() == kind);
                    if has {
                        Ok(())
                    } else {
                        deny(
                            Reason::MissingFactor,
                            format!("This requires a `{kind}` factor."),
                        )
                    }
                }
                Check::RecentAuth(window) => {
                    if within(validator, s.last_authenticated_at(), *window) {
                        Ok(())
                    } else {
                        deny(
                            Reason::ReauthenticationRequired,
                            format!(
                                "This requires authenticating within the last {} s.",
                                window.as_secs()
                            ),
                        )
                    }
                }
                Check::RecentFactor(kind, window) => {
                    let latest = s
                        .authentication_factors()
                        .iter()
                        .filter(|f| f.factor_type() == kind || f.delivery_method() == kind)
                        .map(|f| f.last_authenticated_at())
                        .max();
                    match latest {
                        None => deny(
                            Reason::MissingFactor,
                            format!("This requires a `{kind}` factor."),
                        ),
                        Some(at) if within(validator, at, *window) => Ok(()),
                        Some(_) => deny(
                            Reason::ReauthenticationRequired,
                            format!(
                                "This requires a `{kind}` factor within the last {} s.",
                                window.as_secs()
                            ),
                        ),
                    }
                }
                Check::Role(role) => {
                    if s.has_role(role) {
                        Ok(())
                    } else {
                        deny(
                            Reason::MissingRole,
                            format!("This requires the `{role}` role."),
                        )
                    }
                }
                Check::Permission { resource, action } => {
                    validator.authorize(s, resource, action).await.map(drop)
                }
                Check::OrgPermission {
                    org,
                    resource,
                    action,
                } => match ctx.and_then(|ctx| org.resolve(ctx)) {
                    Some(org) => validator
                        .authorize_in_organization(s, org, resource, action)
                        .await
                        .map(drop),
                    None => deny(
                        Reason::OrganizationUnknown,
                        "The request does not name an organization.".to_owned(),
                    ),
                },
                Check::Predicate(check) => {
                    if check(s) {
                        Ok(())
                    } else {
                        deny(
                            Reason::GuardDenied,
                            "This session may not do this.".to_owned(),
                        )
                    }
                }
                Check::All(checks) => {
                    for c in checks {
                        c.evaluate(s, validator, ctx).await?;
                    }
                    Ok(())
                }
                Check::Any(checks) => {
                    let mut last =
                        AuthError::new(Reason::GuardDenied, "This session may not do this.");
                    for c in checks {
                        match c.evaluate(s, validator, ctx).await {
                            Ok(()) => return Ok(()),
                            Err(e) if e.kind() == ErrorKind::Forbidden => last = e,
                            Err(e) => return Err(e),
                        }
                    }
                    Err(last)
                }
                Check::Not(c) => match c.evaluate(s, validator, ctx).await {
                    Ok(()) => deny(
                        Reason::GuardDenied,
                        "This session may not do this.".to_owned(),
                    ),
                    Err(e) if e.kind() == ErrorKind::Forbidden => Ok(()),
                    Err(e) => Err(e),
                },
            }
        })
    }
}

/// Whether `at` lies within `window` of the validator's clock.
fn within(validator: &Validator, at: Option<time::OffsetDateTime>, window: Duration) -> bool {
    let now_ms = i128::from(validator.config().clock().now_millis());
    at.is_some_and(|t| now_ms - t.unix_timestamp_nanos() / 1_000_000 <= window.as_millis() as i128)
}

impl<S> Layer<S> for Guard {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> GuardService<S> {
        GuardService {
            inner,
            check: PerThread::from_arc(Arc::clone(&self.0)),
        }
    }
}

impl<S> Layer<S> for RouteGuard {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> GuardService<S> {
        GuardService {
            inner,
            check: PerThread::from_arc(Arc::clone(&self.0)),
        }
    }
}

/// The service a [`Guard`] or [`RouteGuard`] produces as a layer. axum clones it for
/// every request; the clone reaches the check through this thread's replica of it.
#[derive(Clone)]
pub struct GuardService<S> {
    inner: S,
    check: PerThread<Check>,
}

impl<S: fmt::Debug> fmt::Debug for GuardService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardService")
            .field("inner", &self.inner)
            .field("check", &*self.check)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GuardService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: From<axum_core::body::Body>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = GuardFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // Call the service that was driven to readiness, leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let check = self.check.share();
        GuardFuture(Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let auth = match session_of(&parts) {
                Ok(found) => found,
                Err(rejection) => return Ok(rejection.into_response().map(ResBody::from)),
            };
            let params = RawPathParams::from_request_parts(&mut parts, &())
                .await
                .ok();
            let ctx = RequestContext {
                params: params.as_ref(),
                headers: &parts.headers,
            };
            let verdict = check
                .evaluate(&auth.session, auth.validator(), Some(&ctx))
                .await;
            report(&check, &verdict);
            match verdict {
                Ok(()) => inner.call(Request::from_parts(parts, body)).await,
                Err(error) => Ok(StytchRejection::from(error)
                    .into_response()
                    .map(ResBody::from)),
            }
        }))
    }
}

/// The response future of [`GuardService`].
pub struct GuardFuture<R, E>(BoxFuture<'static, Result<R, E>>);

impl<R, E> fmt::Debug for GuardFuture<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GuardFuture")
    }
}

impl<R, E> Future for GuardFuture<R, E> {
    type Output = Result<R, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

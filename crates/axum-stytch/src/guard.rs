//! Guards: checks on an authenticated session (MFA, recent authentication, roles,
//! RBAC permissions, your own predicates), usable as route layers and in handlers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::RawPathParams;
use axum_core::body::Body;
use axum_core::extract::FromRequestParts;
use axum_core::response::IntoResponse;
use futures_util::future::BoxFuture;
use http::{Request, Response};
use stytch_validator::{AuthError, ErrorKind, Session};
use tower_layer::Layer;
use tower_service::Service;

use crate::rejection::MissingStytchLayer;
use crate::session::{LayerRan, StytchSession};

/// A check on a session. Build one with the `require_*` functions, combine with
/// [`and`](Self::and), [`or`](Self::or), [`not`], [`all`] and [`any`], and use it as a
/// route layer (`.route_layer(require_role("admin"))`) or in a handler
/// ([`StytchSession::require`]). A denial is 403 with the guard's reason code; a
/// request without a session is 401.
#[derive(Clone)]
pub struct Guard(Arc<Kind>);

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

/// What a guard may look at besides the session: the request, when run as a layer.
#[derive(Default)]
pub(crate) struct RequestContext<'a> {
    pub(crate) params: Option<&'a RawPathParams>,
    pub(crate) headers: Option<&'a http::HeaderMap>,
}

impl OrgSource {
    fn resolve<'a>(&self, ctx: &RequestContext<'a>) -> Option<&'a str> {
        match &self.0 {
            OrgFrom::Path(name) => ctx.params?.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            OrgFrom::Header(name) => ctx.headers?.get(name)?.to_str().ok(),
        }
    }
}

enum Kind {
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
    Predicate {
        check: Box<Predicate>,
        reason: &'static str,
    },
    All(Vec<Guard>),
    Any(Vec<Guard>),
    Not(Guard),
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Kind::FactorCount(n) => write!(f, "require_factor_count({n})"),
            Kind::Factor(k) => write!(f, "require_factor({k:?})"),
            Kind::RecentAuth(d) => write!(f, "require_recent_auth({d:?})"),
            Kind::RecentFactor(k, d) => write!(f, "require_recent_factor({k:?}, {d:?})"),
            Kind::Role(r) => write!(f, "require_role({r:?})"),
            Kind::Permission { resource, action } => {
                write!(f, "require_permission({resource:?}, {action:?})")
            }
            Kind::OrgPermission {
                org,
                resource,
                action,
            } => {
                write!(
                    f,
                    "require_org_permission({org:?}, {resource:?}, {action:?})"
                )
            }
            Kind::Predicate { reason, .. } => write!(f, "require(<fn>, {reason:?})"),
            Kind::All(gs) => f.debug_tuple("all").field(gs).finish(),
            Kind::Any(gs) => f.debug_tuple("any").field(gs).finish(),
            Kind::Not(g) => f.debug_tuple("not").field(g).finish(),
        }
    }
}

fn guard(kind: Kind) -> Guard {
    Guard(Arc::new(kind))
}

/// At least `n` factors, counted as Stytch lists them: distinct (`type`,
/// `delivery_method`) pairs (e.g. 2 for MFA: a magic link and a TOTP code). Two factors
/// on one channel (an email magic link and an email OTP) count as two, as in Stytch's
/// own `authentication_factors.length >= 2` check; for step-up on a specific channel use
/// [`require_factor`] or [`require_recent_factor`].
pub fn require_factor_count(n: usize) -> Guard {
    guard(Kind::FactorCount(n))
}

/// A factor of this type or delivery method, e.g. `"totp"`, `"webauthn"`, `"otp"`,
/// `"sms"`, `"oauth_google"`.
pub fn require_factor(kind: impl Into<String>) -> Guard {
    guard(Kind::Factor(kind.into()))
}

/// Some factor authenticated within `window` (step-up for sensitive actions).
pub fn require_recent_auth(window: Duration) -> Guard {
    guard(Kind::RecentAuth(window))
}

/// A factor of this type or delivery method authenticated within `window`: step-up
/// with a specific factor. Unlike `require_factor(kind).and(require_recent_auth(window))`,
/// a fresh factor of another kind does not satisfy it.
pub fn require_recent_factor(kind: impl Into<String>, window: Duration) -> Guard {
    guard(Kind::RecentFactor(kind.into(), window))
}

/// The session holds this role (exact, case-sensitive).
pub fn require_role(role: impl Into<String>) -> Guard {
    guard(Kind::Role(role.into()))
}

/// The session's roles grant `action` on `resource` under the project's RBAC policy.
pub fn require_permission(resource: impl Into<String>, action: impl Into<String>) -> Guard {
    guard(Kind::Permission {
        resource: resource.into(),
        action: action.into(),
    })
}

/// B2B: the session belongs to the request's organization (tenancy, checked first:
/// another organization's member gets 403 `tenancy_mismatch` without any policy
/// lookup), and its roles grant `action` on `resource` under the project policy plus
/// that organization's custom roles. Works as a route layer, where the request
/// supplies the organization id.
///
/// ```
/// use axum::{Router, routing::get};
/// use axum_stytch::{org_from_path, require_org_permission};
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
) -> Guard {
    guard(Kind::OrgPermission {
        org,
        resource: resource.into(),
        action: action.into(),
    })
}

/// Your own check; denied requests get reason code `forbidden`.
///
/// ```
/// use axum_stytch::require;
/// let beta = require(|s| s.custom_claim::<bool>("beta_tester") == Some(true));
/// ```
pub fn require(check: impl Fn(&Session) -> bool + Send + Sync + 'static) -> Guard {
    guard(Kind::Predicate {
        check: Box::new(check),
        reason: "forbidden",
    })
}

/// Every guard must allow.
pub fn all(guards: impl IntoIterator<Item = Guard>) -> Guard {
    guard(Kind::All(guards.into_iter().collect()))
}

/// At least one guard must allow.
pub fn any(guards: impl IntoIterator<Item = Guard>) -> Guard {
    guard(Kind::Any(guards.into_iter().collect()))
}

/// Allows exactly when `g` denies.
pub fn not(g: Guard) -> Guard {
    guard(Kind::Not(g))
}

impl Guard {
    /// Both must allow.
    pub fn and(self, other: Guard) -> Guard {
        all([self, other])
    }

    /// Either may allow.
    pub fn or(self, other: Guard) -> Guard {
        any([self, other])
    }

    /// Evaluates the guard. `Err` is a 403-kind denial, or a 503 when the RBAC policy
    /// cannot be loaded.
    pub(crate) fn evaluate<'a>(
        &'a self,
        s: &'a StytchSession,
        ctx: &'a RequestContext<'a>,
    ) -> BoxFuture<'a, Result<(), AuthError>> {
        Box::pin(async move {
            let deny =
                |reason: &'static str, message: String| Err(AuthError::forbidden(reason, message));
            match &*self.0 {
                Kind::FactorCount(n) => {
                    if s.factor_count() >= *n {
                        Ok(())
                    } else {
                        deny(
                            "insufficient_factors",
                            format!("This requires {n} authentication factors."),
                        )
                    }
                }
                Kind::Factor(kind) => {
                    let has = s
                        .authentication_factors()
                        .iter()
                        .any(|f| f.factor_type() == kind || f.delivery_method() == kind);
                    if has {
                        Ok(())
                    } else {
                        deny(
                            "missing_factor",
                            format!("This requires a `{kind}` factor."),
                        )
                    }
                }
                Kind::RecentAuth(window) => {
                    if within(s, s.last_authenticated_at(), *window) {
                        Ok(())
                    } else {
                        deny(
                            "reauthentication_required",
                            format!(
                                "This requires authenticating within the last {} s.",
                                window.as_secs()
                            ),
                        )
                    }
                }
                Kind::RecentFactor(kind, window) => {
                    let latest = s
                        .authentication_factors()
                        .iter()
                        .filter(|f| f.factor_type() == kind || f.delivery_method() == kind)
                        .map(|f| f.last_authenticated_at())
                        .max();
                    match latest {
                        None => deny(
                            "missing_factor",
                            format!("This requires a `{kind}` factor."),
                        ),
                        Some(at) if within(s, at, *window) => Ok(()),
                        Some(_) => deny(
                            "reauthentication_required",
                            format!(
                                "This requires a `{kind}` factor within the last {} s.",
                                window.as_secs()
                            ),
                        ),
                    }
                }
                Kind::Role(role) => {
                    if s.has_role(role) {
                        Ok(())
                    } else {
                        deny("missing_role", format!("This requires the `{role}` role."))
                    }
                }
                Kind::Permission { resource, action } => {
                    s.validator().authorize(s, resource, action).await.map(drop)
                }
                Kind::OrgPermission {
                    org,
                    resource,
                    action,
                } => match org.resolve(ctx) {
                    Some(org) => s
                        .validator()
                        .authorize_in_organization(s, org, resource, action)
                        .await
                        .map(drop),
                    None => deny(
                        "organization_unknown",
                        "The request does not name an organization.".to_owned(),
                    ),
                },
                Kind::Predicate { check, reason } => {
                    if check(s) {
                        Ok(())
                    } else {
                        deny(reason, "This session may not do this.".to_owned())
                    }
                }
                Kind::All(guards) => {
                    for g in guards {
                        g.evaluate(s, ctx).await?;
                    }
                    Ok(())
                }
                Kind::Any(guards) => {
                    let mut last =
                        AuthError::forbidden("forbidden", "This session may not do this.");
                    for g in guards {
                        match g.evaluate(s, ctx).await {
                            Ok(()) => return Ok(()),
                            Err(e) if e.kind() == ErrorKind::Forbidden => last = e,
                            Err(e) => return Err(e),
                        }
                    }
                    Err(last)
                }
                Kind::Not(g) => match g.evaluate(s, ctx).await {
                    Ok(()) => deny("forbidden", "This session may not do this.".to_owned()),
                    Err(e) if e.kind() == ErrorKind::Forbidden => Ok(()),
                    Err(e) => Err(e),
                },
            }
        })
    }
}

/// Whether `at` lies within `window` of the validator's clock.
fn within(s: &StytchSession, at: Option<time::OffsetDateTime>, window: Duration) -> bool {
    let now_ms = i128::from(s.validator().config().clock().now_millis());
    at.is_some_and(|t| now_ms - t.unix_timestamp_nanos() / 1_000_000 <= window.as_millis() as i128)
}

impl<S> Layer<S> for Guard {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> GuardService<S> {
        GuardService {
            inner,
            guard: self.clone(),
        }
    }
}

/// The service a [`Guard`] produces as a layer.
#[derive(Clone, Debug)]
pub struct GuardService<S> {
    inner: S,
    guard: Guard,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GuardService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: From<Body>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = GuardFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        GuardFuture(Box::pin(async move {
            let Some(session) = req.extensions().get::<StytchSession>().cloned() else {
                let response = match req.extensions().get::<LayerRan>() {
                    Some(LayerRan(shared)) => {
                        let error = AuthError::unauthenticated(
                            "missing_credentials",
                            "A Stytch session is required.",
                        );
                        shared.reject(error, false, req.headers(), false)
                    }
                    None => MissingStytchLayer.into_response(),
                };
                return Ok(response.map(ResBody::from));
            };
            let (mut parts, body) = req.into_parts();
            let params = RawPathParams::from_request_parts(&mut parts, &())
                .await
                .ok();
            let ctx = RequestContext {
                params: params.as_ref(),
                headers: Some(&parts.headers),
            };
            let verdict = guard.evaluate(&session, &ctx).await;
            let req = Request::from_parts(parts, body);
            match verdict {
                Ok(()) => inner.call(req).await,
                Err(error) => Ok(session
                    .shared()
                    .reject(error, true, req.headers(), false)
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

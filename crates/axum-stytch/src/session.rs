//! The [`StytchSession`] and [`StytchMemberSession`] extractors.

use std::any::{Any, TypeId};
use std::ops::Deref;
use std::sync::Arc;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use serde::de::DeserializeOwned;
use stytch_validator::{
    AuthError, Authorization, NoClaims, Reason, RefreshedTokens, Session, Validator,
};

use crate::per_thread::PerThread;
use crate::rejection::StytchRejection;
use crate::shared::Shared;

/// What the layer leaves in a request's extensions: the session it authenticated and
/// (this thread's replica of) the layer's settings, with the validator that did it.
#[derive(Clone)]
pub(crate) struct RequestSession {
    pub(crate) session: Session,
    pub(crate) layer: PerThread<Shared>,
    pub(crate) refreshed: Option<Arc<RefreshedTokens>>,
}

impl RequestSession {
    pub(crate) fn new(
        session: Session,
        layer: PerThread<Shared>,
        refreshed: Option<RefreshedTokens>,
    ) -> Self {
        Self {
            session,
            layer,
            refreshed: refreshed.map(Arc::new),
        }
    }

    /// A session outside a real layer (tests): no layer will clear its cookies.
    #[cfg(feature = "test-util")]
    pub(crate) fn detached(session: Session, validator: Validator) -> Self {
        Self::new(session, PerThread::new(Shared::new(validator)), None)
    }

    pub(crate) fn validator(&self) -> &Validator {
        &self.layer.validator
    }
}

/// A response part that makes [`StytchLayer`](crate::StytchLayer) delete the session
/// cookies (`Set-Cookie` with `Max-Age=0` for both, `Cache-Control: private,
/// no-store`): what [`StytchSession::revoke`] returns. Put it in the handler's response,
/// e.g. `(ended, "logged out")`, or return it alone (204). Only cookies the request
/// authenticated with are cleared: a bearer client's response gets none.
///
/// If a handler drops it, the session is still revoked, and the next request with its
/// cookies gets 401 `session_revoked` with the cookies cleared.
#[derive(Clone, Debug)]
#[must_use = "return it in the response, or the session cookies are cleared only on the next request"]
pub struct ClearSessionCookies(());

impl axum_core::response::IntoResponseParts for ClearSessionCookies {
    type Error = std::convert::Infallible;

    fn into_response_parts(
        self,
        mut res: axum_core::response::ResponseParts,
    ) -> Result<axum_core::response::ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

impl axum_core::response::IntoResponse for ClearSessionCookies {
    fn into_response(self) -> axum_core::response::Response {
        (http::StatusCode::NO_CONTENT, self).into_response()
    }
}

/// Marks a request the layer let through without a session (optional modes).
#[derive(Clone, Copy)]
pub(crate) struct LayerRan;

/// The authenticated session of a request: extract it in a handler.
///
/// It dereferences to [`Session`] (ids, factors, roles, custom claims, ...) and holds
/// the [`Validator`] that authenticated it, for guards and RBAC checks inside the
/// handler. Extract `Option<StytchSession>` under an optional layer.
///
/// `C` is your type for the session's custom claims: extract `StytchSession<Plan>` and
/// read [`claims`](Self::claims). A session whose claims do not fit `C` is refused with
/// 401 `claims_mismatch`. The claims are parsed once per session (a cached JWT is not
/// parsed again). Without `C`, nothing is parsed.
///
/// ```
/// use axum::Json;
/// use axum_stytch::StytchSession;
///
/// #[derive(serde::Deserialize)]
/// struct Plan { plan: String, seats: u32 }
///
/// async fn me(session: StytchSession) -> Json<serde_json::Value> {
///     Json(serde_json::json!({ "user_id": session.user_id(), "roles": session.roles() }))
/// }
///
/// async fn billing(session: StytchSession<Plan>) -> String {
///     format!("{} has {} seats on {}", session.user_id(), session.claims().seats, session.claims().plan)
/// }
/// ```
///
/// Extracting it on a route that no [`StytchLayer`](crate::StytchLayer) covers answers
/// 500 `missing_layer`: a wiring mistake, not a client error.
#[derive(Clone)]
pub struct StytchSession<C = NoClaims> {
    auth: RequestSession,
    /// `None` only for [`NoClaims`].
    claims: Option<Arc<C>>,
}

static NO_CLAIMS: NoClaims = NoClaims;

impl<C> StytchSession<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    pub(crate) fn from_authenticated(auth: RequestSession) -> Result<Self, StytchRejection> {
        if TypeId::of::<C>() == TypeId::of::<NoClaims>() {
            return Ok(Self { auth, claims: None });
        }
        match auth.session.claims::<C>() {
            Ok(claims) => Ok(Self {
                auth,
                claims: Some(claims),
            }),
            Err(_) => Err(StytchRejection::new(
                AuthError::new(
                    Reason::ClaimsMismatch,
                    "The session's custom claims do not have the shape this route expects.",
                ),
                true,
            )),
        }
    }

    /// A session for a handler under test: no layer, no server (feature `test-util`;
    /// see the `test` module).
    #[cfg(feature = "test-util")]
    pub fn for_test(session: Session, validator: Validator) -> Result<Self, StytchRejection> {
        Self::from_authenticated(RequestSession::detached(session, validator))
    }

    /// The session's custom claims as `C`.
    pub fn claims(&self) -> &C {
        match &self.claims {
            Some(claims) => claims,
            None => (&NO_CLAIMS as &dyn Any)
                .downcast_ref::<C>()
                .expect("claims are parsed for every type but NoClaims"),
        }
    }

    /// The session, without the request context.
    pub fn into_inner(self) -> Session {
        self.auth.session
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.auth.session
    }

    /// The validator that authenticated this session (e.g. for RBAC checks).
    pub fn validator(&self) -> &Validator {
        self.auth.validator()
    }

    /// Logs the session out: revokes it ([`Validator::revoke`]: refused at once here
    /// and, in fleet mode, on every instance, then ended at Stytch) and returns the
    /// response part that makes the layer clear the session cookies.
    ///
    /// ```
    /// use axum_stytch::{StytchSession, StytchRejection};
    /// use axum_stytch::layer::ClearSessionCookies;
    ///
    /// async fn logout(session: StytchSession) -> Result<(ClearSessionCookies, &'static str), StytchRejection> {
    ///     Ok((session.revoke().await?, "logged out"))
    /// }
    /// ```
    ///
    /// When Stytch cannot be reached the error is a 503 (`stytch_unavailable`, ...):
    /// the session is refused here all the same, but not yet ended at Stytch; the
    /// client may retry.
    pub async fn revoke(&self) -> Result<ClearSessionCookies, StytchRejection> {
        self.validator()
            .revoke(self.session_id())
            .await
            .map_err(StytchRejection::from)?;
        Ok(self.clear_cookies())
    }

    /// The response part that makes the layer clear this request's session cookies,
    /// without revoking anything (see [`revoke`](Self::revoke)).
    pub fn clear_cookies(&self) -> ClearSessionCookies {
        ClearSessionCookies(())
    }

    /// The fresh JWT and token Stytch issued for this request, when the layer had to ask
    /// Stytch (the JWT had expired, or only a session token was sent).
    ///
    /// For cookie clients the layer already wrote them as cookies. A bearer client gets
    /// no cookies; return these to it yourself (for example in a response header) so it
    /// can send the new JWT next time instead of costing a Stytch call per request.
    pub fn refreshed_tokens(&self) -> Option<&RefreshedTokens> {
        self.auth.refreshed.as_deref()
    }

    /// Checks an RBAC permission against the project's policy
    /// (docs/stytch-protocol.md#rbac-permission-check).
    pub async fn authorize(
        &self,
        resource: &str,
        action: &str,
    ) -> Result<Authorization, StytchRejection> {
        self.validator()
            .authorize(self.session(), resource, action)
            .await
            .map_err(StytchRejection::from)
    }

    /// B2B: checks tenancy (the session belongs to `organization_id`) and then the
    /// permission over the project roles plus the organization's custom roles.
    pub async fn authorize_in_organization(
        &self,
        organization_id: &str,
        resource: &str,
        action: &str,
    ) -> Result<Authorization, StytchRejection> {
        self.validator()
            .authorize_in_organization(self.session(), organization_id, resource, action)
            .await
            .map_err(StytchRejection::from)
    }
}

impl<C> Deref for StytchSession<C> {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.auth.session
    }
}

impl<C> AsRef<Session> for StytchSession<C> {
    fn as_ref(&self) -> &Session {
        &self.auth.session
    }
}

impl<C> std::fmt::Debug for StytchSession<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.auth.session, f)
    }
}

impl<C> serde::Serialize for StytchSession<C> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.auth.session.serialize(s)
    }
}

fn missing_layer() -> StytchRejection {
    StytchRejection::new(
        AuthError::new(
            Reason::MissingLayer,
            "A Stytch session was extracted on a route without StytchLayer; add \
             `.layer(StytchLayer::new(validator))` to the router.",
        ),
        false,
    )
}

/// The session the layer left, `None` if it let the request through without one.
fn from_parts<C>(parts: &Parts) -> Result<Option<StytchSession<C>>, StytchRejection>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    if let Some(auth) = parts.extensions.get::<RequestSession>() {
        return StytchSession::from_authenticated(auth.clone()).map(Some);
    }
    match parts.extensions.get::<LayerRan>() {
        Some(LayerRan) => Ok(None),
        None => Err(missing_layer()),
    }
}

/// The session a route guard checks: 401 without a session, 500 without the layer.
pub(crate) fn session_of(parts: &Parts) -> Result<RequestSession, StytchRejection> {
    match parts.extensions.get::<RequestSession>() {
        Some(auth) => Ok(auth.clone()),
        None => match parts.extensions.get::<LayerRan>() {
            Some(LayerRan) => Err(session_required()),
            None => Err(missing_layer()),
        },
    }
}

fn session_required() -> StytchRejection {
    StytchRejection::new(
        AuthError::new(Reason::MissingCredentials, "A Stytch session is required."),
        false,
    )
}

fn required<C>(parts: &Parts) -> Result<StytchSession<C>, StytchRejection>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    from_parts(parts)?.ok_or_else(session_required)
}

impl<S, C> FromRequestParts<S> for StytchSession<C>
where
    S: Send + Sync,
    C: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = StytchRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required(parts)
    }
}

impl<S, C> OptionalFromRequestParts<S> for StytchSession<C>
where
    S: Send + Sync,
    C: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = StytchRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        from_parts(parts)
    }
}

/// A B2B member session: a [`StytchSession`] that belongs to an organization.
///
/// Extract it on routes under a [`StytchLayer`](crate::StytchLayer) whose validator is
/// configured with `Vertical::B2b`; it dereferences to [`StytchSession`], so guards and
/// RBAC checks work the same, and adds the organization. `Option<StytchMemberSession>`
/// works under an optional layer; `StytchMemberSession<C>` reads typed claims.
///
/// ```
/// use axum_stytch::StytchMemberSession;
///
/// async fn whoami(member: StytchMemberSession) -> String {
///     format!("{} of {} ({})", member.member_id(), member.organization_id(), member.organization_slug())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct StytchMemberSession<C = NoClaims>(StytchSession<C>);

impl<C> StytchMemberSession<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    fn from_session(session: StytchSession<C>) -> Result<Self, StytchRejection> {
        if session.organization().is_some() {
            Ok(Self(session))
        } else {
            Err(StytchRejection::new(
                AuthError::new(
                    Reason::NotMemberSession,
                    "StytchMemberSession needs a StytchLayer whose validator is configured \
                     with Vertical::B2b.",
                ),
                true,
            ))
        }
    }

    /// The organization id (`organization-test-...`).
    pub fn organization_id(&self) -> &str {
        self.0
            .organization()
            .map_or("", |o| o.organization_id.as_str())
    }

    /// The organization's slug.
    pub fn organization_slug(&self) -> &str {
        self.0.organization().map_or("", |o| o.slug.as_str())
    }

    /// The member session id (`member-session-test-...`).
    pub fn member_session_id(&self) -> &str {
        self.0.session_id()
    }

    /// The session, as the vertical-agnostic extractor type.
    pub fn into_session(self) -> StytchSession<C> {
        self.0
    }
}

impl<C> Deref for StytchMemberSession<C> {
    type Target = StytchSession<C>;

    fn deref(&self) -> &StytchSession<C> {
        &self.0
    }
}

impl<C> serde::Serialize for StytchMemberSession<C> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<S, C> FromRequestParts<S> for StytchMemberSession<C>
where
    S: Send + Sync,
    C: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = StytchRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required(parts).and_then(Self::from_session)
    }
}

impl<S, C> OptionalFromRequestParts<S> for StytchMemberSession<C>
where
    S: Send + Sync,
    C: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = StytchRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        from_parts(parts)?.map(Self::from_session).transpose()
    }
}

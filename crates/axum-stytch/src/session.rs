//! The [`StytchSession`] extractor.

use std::ops::Deref;
use std::sync::Arc;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use stytch_validator::{AuthError, Authorization, RefreshedTokens, Session, Validator};

use crate::guard::{Guard, RequestContext};
use crate::layer::Shared;
use crate::rejection::{MissingStytchLayer, SessionRejection, StytchRejection};

/// The authenticated session of a request: extract it in a handler.
///
/// It dereferences to [`Session`] (ids, factors, roles, custom claims, ...). Extract
/// `Option<StytchSession>` under [`StytchLayer::optional`](crate::StytchLayer::optional).
/// Extracting it on a route that no [`StytchLayer`](crate::StytchLayer) covers answers
/// 500 ([`MissingStytchLayer`]): that is a wiring mistake, not a client error.
///
/// ```
/// use axum::Json;
/// use axum_stytch::StytchSession;
///
/// async fn me(session: StytchSession) -> Json<serde_json::Value> {
///     Json(serde_json::json!({ "user_id": session.user_id(), "roles": session.roles() }))
/// }
/// ```
#[derive(Clone)]
pub struct StytchSession {
    session: Session,
    shared: Arc<Shared>,
    refreshed: Option<Arc<RefreshedTokens>>,
}

/// Marks a request the layer saw and let through without a session (optional mode).
#[derive(Clone)]
pub(crate) struct LayerRan(pub(crate) Arc<Shared>);

impl StytchSession {
    pub(crate) fn new(session: Session, shared: Arc<Shared>) -> Self {
        Self {
            session,
            shared,
            refreshed: None,
        }
    }

    pub(crate) fn with_refreshed(mut self, refreshed: Option<RefreshedTokens>) -> Self {
        self.refreshed = refreshed.map(Arc::new);
        self
    }

    /// The fresh JWT and token Stytch issued for this request, when the layer had to ask
    /// Stytch (the JWT had expired, or only a session token was sent).
    ///
    /// For cookie clients the layer already wrote them as cookies. A bearer client gets
    /// no cookies; return these to it yourself (for example in a response header) so it
    /// can send the new JWT next time instead of costing a Stytch call per request.
    pub fn refreshed_tokens(&self) -> Option<&RefreshedTokens> {
        self.refreshed.as_deref()
    }

    /// The session, without the layer's context.
    pub fn into_inner(self) -> Session {
        self.session
    }

    /// The validator that authenticated this session (e.g. for RBAC checks).
    pub fn validator(&self) -> &Validator {
        &self.shared.validator
    }

    /// Checks a guard from inside a handler; a denial converts into a 403 response.
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
            .evaluate(self, &RequestContext::default())
            .await
            .map_err(|e| self.rejection(e))
    }

    /// Checks an RBAC permission against the project's policy
    /// (docs/stytch-protocol.md#rbac-permission-check).
    pub async fn authorize(
        &self,
        resource: &str,
        action: &str,
    ) -> Result<Authorization, StytchRejection> {
        self.shared
            .validator
            .authorize(&self.session, resource, action)
            .await
            .map_err(|e| self.rejection(e))
    }

    /// B2B: checks tenancy (the session belongs to `organization_id`) and then the
    /// permission over the project roles plus the organization's custom roles.
    pub async fn authorize_in_organization(
        &self,
        organization_id: &str,
        resource: &str,
        action: &str,
    ) -> Result<Authorization, StytchRejection> {
        self.shared
            .validator
            .authorize_in_organization(&self.session, organization_id, resource, action)
            .await
            .map_err(|e| self.rejection(e))
    }

    fn rejection(&self, error: AuthError) -> StytchRejection {
        StytchRejection::new(error, true).with_handler(self.shared.handler.clone())
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl Deref for StytchSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl AsRef<Session> for StytchSession {
    fn as_ref(&self) -> &Session {
        &self.session
    }
}

impl std::fmt::Debug for StytchSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.session, f)
    }
}

impl serde::Serialize for StytchSession {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.session.serialize(s)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for StytchSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required(parts)
    }
}

fn required(parts: &Parts) -> Result<StytchSession, SessionRejection> {
    {
        if let Some(session) = parts.extensions.get::<StytchSession>() {
            return Ok(session.clone());
        }
        match parts.extensions.get::<LayerRan>() {
            Some(_) => Err(SessionRejection::Unauthenticated(StytchRejection::new(
                AuthError::unauthenticated("missing_credentials", "A Stytch session is required."),
                false,
            ))),
            None => Err(SessionRejection::MissingLayer(MissingStytchLayer)),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for StytchSession {
    type Rejection = MissingStytchLayer;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Some(session) = parts.extensions.get::<StytchSession>() {
            return Ok(Some(session.clone()));
        }
        match parts.extensions.get::<LayerRan>() {
            Some(_) => Ok(None),
            None => Err(MissingStytchLayer),
        }
    }
}

/// A B2B member session: a [`StytchSession`] that belongs to an organization.
///
/// Extract it on routes under a [`StytchLayer`](crate::StytchLayer) whose validator is
/// configured with [`Vertical::B2b`](crate::Vertical::B2b); it dereferences to
/// [`StytchSession`], so guards and RBAC checks work the same, and adds the
/// organization. `Option<StytchMemberSession>` works under an optional layer.
///
/// ```
/// use axum_stytch::StytchMemberSession;
///
/// async fn whoami(member: StytchMemberSession) -> String {
///     format!("{} of {} ({})", member.member_id(), member.organization_id(), member.organization_slug())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct StytchMemberSession(StytchSession);

impl StytchMemberSession {
    fn from_session(session: StytchSession) -> Result<Self, SessionRejection> {
        if session.organization().is_some() {
            Ok(Self(session))
        } else {
            Err(SessionRejection::NotMemberSession)
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

    /// The session, as the consumer-agnostic extractor type.
    pub fn into_session(self) -> StytchSession {
        self.0
    }
}

impl Deref for StytchMemberSession {
    type Target = StytchSession;

    fn deref(&self) -> &StytchSession {
        &self.0
    }
}

impl serde::Serialize for StytchMemberSession {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for StytchMemberSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required(parts).and_then(Self::from_session)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for StytchMemberSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <StytchSession as OptionalFromRequestParts<S>>::from_request_parts(parts, state).await
        {
            Ok(Some(session)) => Self::from_session(session).map(Some),
            Ok(None) => Ok(None),
            Err(missing) => Err(SessionRejection::MissingLayer(missing)),
        }
    }
}

//! The responses the layer, the extractors and the guards answer with when they refuse.

use std::fmt;
use std::sync::Arc;

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use stytch_validator::{AuthError, ErrorKind};

/// A refusal from [`StytchLayer`](crate::StytchLayer), a guard or an extractor.
///
/// Its status follows the error kind: 401 (no usable session), 403 (a guard or RBAC
/// check denied), 503 (Stytch unreachable; with `Retry-After`) or 500 (misconfigured).
/// The body is JSON `{"error": "<reason code>", "error_description": "<message>"}`;
/// 401 and 403 carry an RFC 6750 `WWW-Authenticate` header. Neither ever contains a
/// credential.
///
/// Replace this response with your own through
/// [`StytchLayer::with_rejection_handler`](crate::StytchLayer::with_rejection_handler).
#[derive(Clone)]
pub struct StytchRejection {
    error: AuthError,
    credentials_present: bool,
    /// The layer's handler, so that refusals raised inside handlers look the same as
    /// the layer's own.
    handler: Option<RejectionHandler>,
}

impl StytchRejection {
    pub(crate) fn new(error: AuthError, credentials_present: bool) -> Self {
        Self {
            error,
            credentials_present,
            handler: None,
        }
    }

    pub(crate) fn with_handler(mut self, handler: Option<RejectionHandler>) -> Self {
        self.handler = handler;
        self
    }

    /// The typed error: kind, reason code, message, retry hint.
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Whether the request carried any credential (an absent one gets a bare challenge).
    pub fn credentials_present(&self) -> bool {
        self.credentials_present
    }

    /// The JSON body text.
    pub fn body_text(&self) -> String {
        serde_json::json!({
            "error": self.error.reason(),
            "error_description": self.error.message(),
        })
        .to_string()
    }
}

impl fmt::Debug for StytchRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StytchRejection")
            .field("error", &self.error)
            .field("credentials_present", &self.credentials_present)
            .finish()
    }
}

impl fmt::Display for StytchRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for StytchRejection {}

impl From<AuthError> for StytchRejection {
    fn from(error: AuthError) -> Self {
        Self::new(error, true)
    }
}

/// Quotes a value for an auth-param (RFC 9110 §11.2): messages are ours, but stay safe.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .collect()
}

impl IntoResponse for StytchRejection {
    fn into_response(mut self) -> Response {
        if let Some(handler) = self.handler.take() {
            return handler(self);
        }
        let status = self.status();
        tracing::debug!(target: "axum_stytch::rejection", status = status.as_u16(), reason = self.error.reason(), "axum_stytch.rejected");
        let mut response = (status, self.body_text()).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let challenge = match self.error.kind() {
            ErrorKind::Unauthenticated if !self.credentials_present => {
                Some(r#"Bearer realm="stytch""#.to_owned())
            }
            ErrorKind::Unauthenticated => Some(format!(
                r#"Bearer realm="stytch", error="invalid_token", error_description="{}""#,
                quoted(self.error.message())
            )),
            ErrorKind::Forbidden => Some(format!(
                r#"Bearer realm="stytch", error="insufficient_scope", error_description="{}""#,
                quoted(self.error.message())
            )),
            _ => None,
        };
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        if let Some(retry) = self.error.retry_after() {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry.as_secs().max(1)));
        }
        response
    }
}

/// Builds the response for a refusal; see
/// [`StytchLayer::with_rejection_handler`](crate::StytchLayer::with_rejection_handler).
pub(crate) type RejectionHandler = Arc<dyn Fn(StytchRejection) -> Response + Send + Sync>;

/// Redirects browsers to a login page on 401 instead of answering JSON.
pub(crate) fn login_redirect(url: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(url) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// The extractor was used on a route that no [`StytchLayer`](crate::StytchLayer) covers:
/// a programming error, answered with 500.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct MissingStytchLayer;

impl MissingStytchLayer {
    /// The body text.
    pub fn body_text(&self) -> &'static str {
        "StytchSession was extracted on a route without StytchLayer; add `.layer(StytchLayer::new(validator))` to the router"
    }
}

impl fmt::Display for MissingStytchLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.body_text())
    }
}

impl std::error::Error for MissingStytchLayer {}

impl IntoResponse for MissingStytchLayer {
    fn into_response(self) -> Response {
        tracing::error!(target: "axum_stytch::rejection", "{}", self.body_text());
        (StatusCode::INTERNAL_SERVER_ERROR, self.body_text()).into_response()
    }
}

const NOT_MEMBER: &str =
    "StytchMemberSession needs a StytchLayer whose validator is configured with Vertical::B2b";

/// Why a [`StytchSession`](crate::StytchSession) could not be extracted.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionRejection {
    /// No [`StytchLayer`](crate::StytchLayer) ran for this request.
    MissingLayer(MissingStytchLayer),
    /// The layer runs in optional mode and the request has no session.
    Unauthenticated(StytchRejection),
    /// `StytchMemberSession` under a layer whose validator is configured for consumer
    /// sessions: a wiring mistake, answered with 500.
    NotMemberSession,
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionRejection::MissingLayer(r) => fmt::Display::fmt(r, f),
            SessionRejection::Unauthenticated(r) => fmt::Display::fmt(r, f),
            SessionRejection::NotMemberSession => f.write_str(NOT_MEMBER),
        }
    }
}

impl std::error::Error for SessionRejection {}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            SessionRejection::MissingLayer(r) => r.into_response(),
            SessionRejection::Unauthenticated(r) => r.into_response(),
            SessionRejection::NotMemberSession => {
                tracing::error!(target: "axum_stytch::rejection", "{NOT_MEMBER}");
                (StatusCode::INTERNAL_SERVER_ERROR, NOT_MEMBER).into_response()
            }
        }
    }
}

//! [`StytchRejection`]: every refusal, as plain data, and its default response.

use std::fmt;

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use stytch_validator::{AuthError, ErrorKind, Reason};

/// A refusal from [`StytchLayer`](crate::StytchLayer), a guard, an extractor or a
/// handler: the one rejection type of this crate.
///
/// It is plain data: a typed [`Reason`] (which decides the status: 401, 403, 503 or
/// 500), a message, a retry hint, and whether the request carried credentials. The
/// default response is JSON `{"error": "<reason>", "error_description": "<message>"}`
/// with an RFC 6750 `WWW-Authenticate` challenge on 401 and 403 and `Retry-After` on
/// 503; it never contains a credential.
///
/// However it is raised (by the layer, a route guard,
/// [`StytchSession::require`](crate::StytchSession::require), or
/// `StytchRejection::from(error)` returned from a handler), [`StytchLayer`](crate::StytchLayer) renders it in one place: through
/// [`with_rejection_handler`](crate::StytchLayer::with_rejection_handler) or
/// [`with_login_redirect`](crate::StytchLayer::with_login_redirect) when configured, so
/// the same refusal always looks the same.
#[derive(Clone, PartialEq, Eq)]
pub struct StytchRejection {
    error: AuthError,
    credentials_present: bool,
}

impl StytchRejection {
    /// A refusal for `error`; `credentials_present` says whether the request carried any
    /// credential (an absent one gets a bare challenge).
    pub fn new(error: AuthError, credentials_present: bool) -> Self {
        Self {
            error,
            credentials_present,
        }
    }

    /// A refusal for `reason`, with its standard description as the message.
    pub fn from_reason(reason: Reason) -> Self {
        Self::new(AuthError::from_reason(reason), true)
    }

    /// The typed error: reason, message, retry hint.
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    /// Why.
    pub fn reason(&self) -> Reason {
        self.error.reason()
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Whether the request carried any credential.
    pub fn credentials_present(&self) -> bool {
        self.credentials_present
    }

    /// The default JSON body text.
    pub fn body_text(&self) -> String {
        serde_json::json!({
            "error": self.error.reason().as_str(),
            "error_description": self.error.message(),
        })
        .to_string()
    }

    /// The default response, without the mark that lets the layer re-render it.
    pub fn default_response(&self) -> Response {
        let status = self.status();
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

impl From<Reason> for StytchRejection {
    fn from(reason: Reason) -> Self {
        Self::from_reason(reason)
    }
}

/// Marks a response built from a rejection, so the layer can render it its own way.
#[derive(Clone)]
pub(crate) struct Rendered(pub(crate) StytchRejection);

impl IntoResponse for StytchRejection {
    fn into_response(self) -> Response {
        let level_error = self.error.kind() == ErrorKind::Misconfigured;
        if level_error {
            tracing::error!(target: "axum_stytch::rejection", reason = self.reason().as_str(), "{}", self.error.message());
        } else {
            tracing::debug!(target: "axum_stytch::rejection", status = self.status().as_u16(), reason = self.reason().as_str(), "axum_stytch.rejected");
        }
        let mut response = self.default_response();
        response.extensions_mut().insert(Rendered(self));
        response
    }
}

/// Quotes a value for an auth-param (RFC 9110 §11.2): messages are ours, but stay safe.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .collect()
}

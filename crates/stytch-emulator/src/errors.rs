//! Stytch-style error bodies: all five fields, always (the Rust SDK needs every one).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered as `{status_code, request_id, error_type, error_message, error_url}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) error_type: String,
    pub(crate) message: String,
    pub(crate) retry_after: Option<u32>,
}

impl ApiError {
    pub(crate) fn new(status: u16, error_type: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            error_type: error_type.to_owned(),
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(error_type: &str, message: impl Into<String>) -> Self {
        Self::new(400, error_type, message)
    }

    pub(crate) fn session_not_found() -> Self {
        Self::new(404, "session_not_found", "Session could not be found.")
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(401, "unauthorized_credentials", "Unauthorized credentials.")
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal_server_error", message)
    }

    /// The error a status fault answers with: the usual `error_type` for that status.
    pub(crate) fn for_status(status: u16) -> Self {
        let (error_type, message) = match status {
            400 => ("bad_request", "The request was malformed."),
            401 => ("unauthorized_credentials", "Unauthorized credentials."),
            403 => ("forbidden", "The request is not allowed."),
            404 => ("not_found", "The requested resource could not be found."),
            408 => ("request_timeout", "The request timed out."),
            409 => ("conflict", "The request conflicts with the current state."),
            429 => ("too_many_requests", "Too many requests have been made."),
            500 => (
                "internal_server_error",
                "Oops, something seems to have gone wrong, please reach out to support@stytch.com to let us know what went wrong.",
            ),
            502 => ("bad_gateway", "Bad gateway."),
            503 => (
                "service_unavailable",
                "The service is temporarily unavailable.",
            ),
            504 => ("gateway_timeout", "The upstream request timed out."),
            s if s >= 500 => ("internal_server_error", "An internal error occurred."),
            _ => ("bad_request", "The request could not be completed."),
        };
        Self::new(status, error_type, message)
    }

    pub(crate) fn with_retry_after(mut self, secs: Option<u32>) -> Self {
        self.retry_after = secs;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status.as_u16();
        let body = json!({
            "status_code": status,
            "request_id": crate::ids::request_id(),
            "error_type": self.error_type,
            "error_message": self.message,
            "error_url": format!("https://stytch.com/docs/api/errors/{status}#{}", self.error_type),
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

//! The one error type every failure maps to, and the HTTP status class it implies.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// What kind of failure an [`AuthError`] is; decides the HTTP status a layer answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No usable session: missing, malformed, forged, expired or revoked credentials (401).
    Unauthenticated,
    /// A valid session that is not allowed to do this (403).
    Forbidden,
    /// Stytch or its key set cannot be reached right now; try again later (503).
    Unavailable,
    /// Our own configuration is wrong, e.g. Stytch rejects the project secret (500).
    Misconfigured,
}

impl ErrorKind {
    /// The HTTP status code for this kind: 401, 403, 503 or 500.
    pub fn status_code(self) -> u16 {
        match self {
            ErrorKind::Unauthenticated => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::Unavailable => 503,
            ErrorKind::Misconfigured => 500,
        }
    }
}

/// An authentication or authorization failure.
///
/// Carries a [`kind`](Self::kind) (the status class), a short stable
/// [`reason`](Self::reason) code such as `"jwt_expired"` or `"session_not_found"`
/// that is safe to show to clients and to use in metrics, a human message, and for
/// [`ErrorKind::Unavailable`] a retry hint. It never contains a token, a secret or
/// upstream error text.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: ErrorKind,
    reason: &'static str,
    message: Cow<'static, str>,
    retry_after: Option<Duration>,
}

impl AuthError {
    pub(crate) fn new(
        kind: ErrorKind,
        reason: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            kind,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 401-class error.
    pub fn unauthenticated(reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unauthenticated, reason, message)
    }

    /// A 403-class error.
    pub fn forbidden(reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Forbidden, reason, message)
    }

    /// A 503-class error with a retry hint.
    pub fn unavailable(
        reason: &'static str,
        message: impl Into<Cow<'static, str>>,
        retry_after: Duration,
    ) -> Self {
        Self::new(ErrorKind::Unavailable, reason, message).with_retry_after(retry_after)
    }

    /// A 500-class error: the service is misconfigured.
    pub fn misconfigured(reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Misconfigured, reason, message)
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Duration) -> Self {
        // Retry-After is whole seconds; never advise retrying "now".
        self.retry_after = Some(retry_after.max(Duration::from_secs(1)));
        self
    }

    /// The status class.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status code the kind implies.
    pub fn status_code(&self) -> u16 {
        self.kind.status_code()
    }

    /// A short, stable, machine-readable reason code (e.g. `"jwt_invalid_signature"`).
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// A human-readable description, safe to return to clients.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For [`ErrorKind::Unavailable`], how long a client should wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether this is a 401-class error.
    pub fn is_unauthenticated(&self) -> bool {
        self.kind == ErrorKind::Unauthenticated
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("message", &self.message)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.reason)
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_statuses() {
        assert_eq!(AuthError::unauthenticated("x", "x").status_code(), 401);
        assert_eq!(AuthError::forbidden("x", "x").status_code(), 403);
        assert_eq!(
            AuthError::unavailable("x", "x", Duration::ZERO).status_code(),
            503
        );
        assert_eq!(AuthError::misconfigured("x", "x").status_code(), 500);
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        let e = AuthError::unavailable("x", "x", Duration::from_millis(10));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    }
}

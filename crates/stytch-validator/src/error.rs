//! The one error type every failure maps to, and the HTTP status class it implies.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crate::reason::{ErrorKind, Reason};

/// An authentication or authorization failure.
///
/// Carries a [`Reason`] (a stable code such as [`Reason::JwtExpired`] that is safe to
/// show to clients and to use in metrics, and that decides the [`kind`](Self::kind),
/// i.e. the HTTP status), a human message, and for [`ErrorKind::Unavailable`] a retry
/// hint. It never contains a token, a secret or upstream error text.
///
/// ```
/// use stytch_validator::{AuthError, ErrorKind, Reason};
///
/// let e = AuthError::new(Reason::MissingRole, "This requires the `admin` role.");
/// assert_eq!(e.kind(), ErrorKind::Forbidden);
/// assert_eq!((e.status_code(), e.reason().as_str()), (403, "missing_role"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AuthError {
    reason: Reason,
    message: Cow<'static, str>,
    retry_after: Option<Duration>,
}

impl AuthError {
    /// An error for `reason` with a message for humans. An [`ErrorKind::Unavailable`]
    /// reason gets a one-second retry hint; change it with
    /// [`with_retry_after`](Self::with_retry_after).
    pub fn new(reason: Reason, message: impl Into<Cow<'static, str>>) -> Self {
        let retry_after =
            (reason.kind() == ErrorKind::Unavailable).then_some(Duration::from_secs(1));
        Self {
            reason,
            message: message.into(),
            retry_after,
        }
    }

    /// [`new`](Self::new), for the message that describes the reason.
    pub fn from_reason(reason: Reason) -> Self {
        Self::new(reason, reason.description())
    }

    /// An unavailable error with a retry hint.
    pub(crate) fn unavailable(
        reason: Reason,
        message: impl Into<Cow<'static, str>>,
        retry_after: Duration,
    ) -> Self {
        Self::new(reason, message).with_retry_after(retry_after)
    }

    /// Sets the retry hint (at least one second: `Retry-After` is whole seconds, and
    /// "retry now" is never the advice). Ignored unless the kind is
    /// [`ErrorKind::Unavailable`].
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        if self.kind() == ErrorKind::Unavailable {
            self.retry_after = Some(retry_after.max(Duration::from_secs(1)));
        }
        self
    }

    /// The status class, which the reason decides.
    pub fn kind(&self) -> ErrorKind {
        self.reason.kind()
    }

    /// The HTTP status code the kind implies.
    pub fn status_code(&self) -> u16 {
        self.reason.status_code()
    }

    /// Why: a stable, machine-readable code (e.g. [`Reason::JwtInvalidSignature`]).
    pub fn reason(&self) -> Reason {
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
        self.kind() == ErrorKind::Unauthenticated
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("kind", &self.kind())
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
    fn reasons_decide_the_status() {
        assert_eq!(
            AuthError::from_reason(Reason::JwtExpired).status_code(),
            401
        );
        assert_eq!(
            AuthError::from_reason(Reason::MissingRole).status_code(),
            403
        );
        assert_eq!(
            AuthError::from_reason(Reason::JwksUnavailable).status_code(),
            503
        );
        assert_eq!(
            AuthError::from_reason(Reason::StytchRejectedCredentials).status_code(),
            500
        );
    }

    #[test]
    fn retry_after_is_at_least_one_second_and_only_for_unavailable() {
        let e = AuthError::unavailable(Reason::StytchUnavailable, "x", Duration::from_millis(10));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
        let e = AuthError::from_reason(Reason::JwtExpired).with_retry_after(Duration::from_secs(9));
        assert_eq!(e.retry_after(), None);
    }
}

//! [`Reason`]: the one list of why a request was refused, and the [`ErrorKind`] each
//! implies. Status codes, retry policy,
//! cookie clearing, log fields and client-facing codes are all read from it.

use std::fmt;

/// What kind of failure an [`AuthError`](crate::AuthError) is; decides the HTTP status a layer answers with.
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
    pub const fn status_code(self) -> u16 {
        match self {
            ErrorKind::Unauthenticated => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::Unavailable => 503,
            ErrorKind::Misconfigured => 500,
        }
    }
}

macro_rules! reasons {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $wire:literal => $kind:ident, )+) => {
        /// Why a request was refused: a stable, machine-readable code.
        ///
        /// [`as_str`](Self::as_str) is the wire value (the `error` field of the
        /// `axum-stytch` rejection body, safe for clients and metric labels) and
        /// [`kind`](Self::kind) the HTTP status class it implies. New reasons may be
        /// added in minor releases, hence `#[non_exhaustive]`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Reason {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl Reason {
            /// Every reason, in documentation order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),+];

            /// The wire value, e.g. `"jwt_expired"`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $wire,)+ }
            }

            /// The status class this reason implies.
            pub const fn kind(self) -> ErrorKind {
                match self { $(Reason::$variant => ErrorKind::$kind,)+ }
            }

            /// A one-line description (the variant's documentation).
            pub fn description(self) -> &'static str {
                match self { $(Reason::$variant => concat!($($doc),+).trim_ascii(),)+ }
            }
        }
    };
}

reasons! {
    /// No session credentials were sent.
    MissingCredentials = "missing_credentials" => Unauthenticated,
    /// One Stytch cookie name carries two different values (cookie tossing, or a
    /// cookie-scope mismatch between the frontend and the API), or two `Authorization`
    /// headers were sent.
    ConflictingCredentials = "conflicting_credentials" => Unauthenticated,
    /// The `Authorization` header is not `Bearer <credential>`.
    MalformedAuthorization = "malformed_authorization" => Unauthenticated,
    /// A session token that cannot be a Stytch token (empty, too long, not base64url).
    SessionTokenMalformed = "session_token_malformed" => Unauthenticated,
    /// The JWT is not a well-formed compact JWS.
    JwtMalformed = "jwt_malformed" => Unauthenticated,
    /// The JWT's payload is not a valid claims object.
    JwtMalformedClaims = "jwt_malformed_claims" => Unauthenticated,
    /// The JWT is larger than the configured cap.
    JwtTooLarge = "jwt_too_large" => Unauthenticated,
    /// The JWT is not signed with RS256.
    JwtUnsupportedAlgorithm = "jwt_unsupported_algorithm" => Unauthenticated,
    /// The JWT header carries a field that would change how it is processed (`crit`,
    /// `jku`, `jwk`, `x5u`, `x5c`, ...).
    JwtForbiddenHeader = "jwt_forbidden_header" => Unauthenticated,
    /// The JWT's `typ` is not `JWT`.
    JwtWrongType = "jwt_wrong_type" => Unauthenticated,
    /// The JWT has no `kid`.
    JwtMissingKid = "jwt_missing_kid" => Unauthenticated,
    /// The JWT's `kid` is not a plausible key id.
    JwtMalformedKid = "jwt_malformed_kid" => Unauthenticated,
    /// The JWT names a key the project does not publish (checked against fresh keys).
    JwtUnknownKey = "jwt_unknown_key" => Unauthenticated,
    /// The JWT's signature does not verify.
    JwtInvalidSignature = "jwt_invalid_signature" => Unauthenticated,
    /// The JWT was issued by someone else (`iss`).
    JwtWrongIssuer = "jwt_wrong_issuer" => Unauthenticated,
    /// The JWT is for another project (`aud`).
    JwtWrongAudience = "jwt_wrong_audience" => Unauthenticated,
    /// The JWT claims a lifetime longer than the configured maximum.
    JwtLifetimeTooLong = "jwt_lifetime_too_long" => Unauthenticated,
    /// A consumer JWT sent to a B2B project.
    JwtConsumerTokenForB2bProject = "jwt_consumer_token_for_b2b_project" => Unauthenticated,
    /// A B2B JWT sent to a consumer project.
    JwtB2bTokenForConsumerProject = "jwt_b2b_token_for_consumer_project" => Unauthenticated,
    /// The JWT has expired (and Stytch could not refresh it).
    JwtExpired = "jwt_expired" => Unauthenticated,
    /// The JWT is older than the configured maximum age (and Stytch could not refresh it).
    JwtTooOld = "jwt_too_old" => Unauthenticated,
    /// The JWT is not valid yet (`nbf` or `iat` in the future).
    JwtNotYetValid = "jwt_not_yet_valid" => Unauthenticated,
    /// The session the JWT belongs to has expired.
    SessionExpired = "session_expired" => Unauthenticated,
    /// Stytch says the session is unknown, expired or revoked; the layer clears the
    /// session cookies.
    SessionNotFound = "session_not_found" => Unauthenticated,
    /// The session was revoked (logged out) through this service; every instance of a
    /// fleet refuses it at once. The layer clears the session cookies.
    SessionRevoked = "session_revoked" => Unauthenticated,
    /// Stytch says the credential is not a valid session credential.
    SessionInvalid = "session_invalid" => Unauthenticated,
    /// The session's custom claims do not fit the handler's typed claims.
    ClaimsMismatch = "claims_mismatch" => Unauthenticated,
    /// Fewer authentication factors than the route requires.
    InsufficientFactors = "insufficient_factors" => Forbidden,
    /// The session lacks the factor the route requires.
    MissingFactor = "missing_factor" => Forbidden,
    /// The last authentication (of the required factor) is too long ago.
    ReauthenticationRequired = "reauthentication_required" => Forbidden,
    /// The session lacks the role the route requires.
    MissingRole = "missing_role" => Forbidden,
    /// No role of the session grants the permission.
    PermissionDenied = "permission_denied" => Forbidden,
    /// The session belongs to a different organization (B2B).
    TenancyMismatch = "tenancy_mismatch" => Forbidden,
    /// The route's organization could not be determined (B2B).
    OrganizationUnknown = "organization_unknown" => Forbidden,
    /// A guard denied the request (a custom predicate or a combination).
    GuardDenied = "guard_denied" => Forbidden,
    /// Stytch denied an authorization check.
    StytchAuthorizationDenied = "stytch_authorization_denied" => Forbidden,
    /// The signing keys could not be fetched.
    JwksUnavailable = "jwks_unavailable" => Unavailable,
    /// The JWKS endpoint answered 429.
    JwksRateLimited = "jwks_rate_limited" => Unavailable,
    /// The JWKS endpoint answered an unexpected status.
    JwksBadStatus = "jwks_bad_status" => Unavailable,
    /// The JWKS document is not valid JSON of the expected shape.
    JwksMalformed = "jwks_malformed" => Unavailable,
    /// The JWKS document holds no key usable for RS256.
    JwksNoUsableKeys = "jwks_no_usable_keys" => Unavailable,
    /// An upstream call ran past its deadline.
    UpstreamTimeout = "upstream_timeout" => Unavailable,
    /// The upstream host could not be reached.
    UpstreamUnreachable = "upstream_unreachable" => Unavailable,
    /// The connection to the upstream failed mid-way.
    UpstreamConnectionFailed = "upstream_connection_failed" => Unavailable,
    /// The HTTP client followed a redirect away from the configured URL.
    UpstreamRedirected = "upstream_redirected" => Unavailable,
    /// The upstream answer was larger than allowed.
    UpstreamBodyTooLarge = "upstream_body_too_large" => Unavailable,
    /// Stytch answered 5xx.
    StytchUnavailable = "stytch_unavailable" => Unavailable,
    /// Stytch answered 429; calls pause as long as it asked.
    StytchRateLimited = "stytch_rate_limited" => Unavailable,
    /// The circuit breaker is open after repeated upstream failures.
    StytchCircuitOpen = "stytch_circuit_open" => Unavailable,
    /// Too many calls to Stytch are in flight.
    StytchOverloaded = "stytch_overloaded" => Unavailable,
    /// The remote budget is spent for now.
    StytchBudgetExhausted = "stytch_budget_exhausted" => Unavailable,
    /// Stytch answered 2xx with a body that is not a session.
    StytchMalformedResponse = "stytch_malformed_response" => Unavailable,
    /// An answer that is not Stytch's (a proxy's 404, a 408, a bare 401).
    StytchUnexpectedResponse = "stytch_unexpected_response" => Unavailable,
    /// The RBAC policy could not be fetched.
    RbacPolicyUnavailable = "rbac_policy_unavailable" => Unavailable,
    /// The RBAC policy document is malformed.
    RbacPolicyMalformed = "rbac_policy_malformed" => Unavailable,
    /// Stytch rejected this service's project id or secret.
    StytchRejectedCredentials = "stytch_rejected_credentials" => Misconfigured,
    /// The session extractor or a guard runs on a route no `StytchLayer` covers.
    MissingLayer = "missing_layer" => Misconfigured,
    /// A member-session extractor runs under a layer whose validator is configured for
    /// consumer sessions.
    NotMemberSession = "not_member_session" => Misconfigured,
}

impl Reason {
    /// The HTTP status code the reason implies: 401, 403, 503 or 500.
    pub const fn status_code(self) -> u16 {
        self.kind().status_code()
    }

    /// Whether this reason means the session is gone for good, so a client's session
    /// cookies should be deleted.
    pub const fn ends_session(self) -> bool {
        matches!(self, Reason::SessionNotFound | Reason::SessionRevoked)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_are_unique_snake_case_and_described() {
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.as_str()), "{r:?} repeats a wire value");
            assert!(
                r.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{r:?}"
            );
            assert!(!r.description().is_empty());
            assert!(matches!(r.status_code(), 401 | 403 | 503 | 500));
        }
    }
}

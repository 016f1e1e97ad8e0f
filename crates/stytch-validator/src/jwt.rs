//! Local session-JWT verification (docs/stytch-protocol.md#session-jwts; design
//! decisions D1 and D2 in docs/threat-model.md): compact-JWS parsing with size and
//! syntax gates, RS256 only, claim checks against an injected clock, and the mapping
//! of claims into a [`Session`].

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::config::{StytchConfig, Vertical};
use crate::map_key::Key;
use crate::reason::Reason;
use crate::session::{
    AuthenticationFactor, Organization, Session, SessionAttributes, SessionData, SessionSource,
};
use crate::time_fmt;

/// A token split into its parts, with the header checked. Borrowed from the token.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub(crate) kid: String,
    signing_input: &'a [u8],
    payload_b64: &'a str,
    signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    // Members we refuse when present: they change how the token must be processed, or
    // point at keys we must never trust (RFC 7515 §4.1, RFC 8725 §3.10).
    crit: Option<IgnoredAny>,
    jku: Option<IgnoredAny>,
    jwk: Option<IgnoredAny>,
    x5u: Option<IgnoredAny>,
    x5c: Option<IgnoredAny>,
    cty: Option<IgnoredAny>,
    zip: Option<IgnoredAny>,
    enc: Option<IgnoredAny>,
    b64: Option<IgnoredAny>,
}

/// Splits a compact JWS and checks its header. No key or clock is involved yet.
pub(crate) fn parse(token: &str, max_bytes: usize) -> Result<Parsed<'_>, Reason> {
    if token.is_empty() {
        return Err(Reason::JwtMalformed);
    }
    if token.len() > max_bytes {
        return Err(Reason::JwtTooLarge);
    }
    let mut segments = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(Reason::JwtMalformed);
    };
    if header_b64.is_empty() || payload_b64.is_empty() || signature_b64.is_empty() {
        return Err(Reason::JwtMalformed);
    }
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| Reason::JwtMalformed)?;
    if header_bytes.first() != Some(&b'{') {
        return Err(Reason::JwtMalformed);
    }
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| Reason::JwtMalformed)?;
    if header.alg != "RS256" {
        return Err(Reason::JwtUnsupportedAlgorithm);
    }
    if header.crit.is_some()
        || header.jku.is_some()
        || header.jwk.is_some()
        || header.x5u.is_some()
        || header.x5c.is_some()
        || header.cty.is_some()
        || header.zip.is_some()
        || header.enc.is_some()
        || header.b64.is_some()
    {
        return Err(Reason::JwtForbiddenHeader);
    }
    match header.typ.as_deref() {
        None => {}
        Some(t) if t.eq_ignore_ascii_case("JWT") || t.eq_ignore_ascii_case("application/jwt") => {}
        Some(_) => return Err(Reason::JwtWrongType),
    }
    let kid = header.kid.ok_or(Reason::JwtMissingKid)?;
    if !valid_kid(&kid) {
        return Err(Reason::JwtMalformedKid);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| Reason::JwtMalformed)?;
    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Parsed {
        kid,
        signing_input,
        payload_b64,
        signature,
    })
}

/// Stytch kids are `jwk-test-<uuid>`; anything outside printable ASCII or very long is
/// refused before it can reach a cache lookup, a refresh or a log line.
fn valid_kid(kid: &str) -> bool {
    (1..=256).contains(&kid.len()) && kid.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

impl Parsed<'_> {
    /// Whether one of the keys published under the token's kid verifies the signature.
    pub(crate) fn verify_signature(&self, keys: &[aws_lc_rs::signature::ParsedPublicKey]) -> bool {
        keys.iter()
            .any(|key| key.verify_sig(self.signing_input, &self.signature).is_ok())
    }

    pub(crate) fn claims(&self) -> Result<Claims, Reason> {
        let bytes = URL_SAFE_NO_PAD
            .decode(self.payload_b64)
            .map_err(|_| Reason::JwtMalformed)?;
        if bytes.first() != Some(&b'{') {
            return Err(Reason::JwtMalformedClaims);
        }
        serde_json::from_slice(&bytes).map_err(|_| Reason::JwtMalformedClaims)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct SessionClaim {
    id: String,
    #[serde(default, with = "time_fmt::option")]
    started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time_fmt::option")]
    last_accessed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time_fmt::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    attributes: Option<SessionAttributes>,
    #[serde(default)]
    authentication_factors: Vec<AuthenticationFactor>,
    // Old consumer tokens have no roles; a present non-array value fails the parse.
    #[serde(default)]
    roles: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct OrganizationClaim {
    organization_id: String,
    slug: String,
}

/// The verified payload, typed. Registered claims must have the right JSON types: a
/// string `exp` or an array `iss` fails the parse instead of being coerced. A member
/// given twice fails it too (RFC 7519 §4: the parser must not pick one).
pub(crate) struct Claims {
    iss: String,
    aud: Audience,
    sub: String,
    exp: f64,
    iat: f64,
    nbf: Option<f64>,
    session: SessionClaim,
    organization: Option<OrganizationClaim>,
    /// Every other top-level claim: the custom claims (plus `jti` and unknown
    /// `https://stytch.com/` claims, dropped when the session is built).
    rest: Map<String, Value>,
}

// Hand-written rather than `#[serde(flatten)]`, which buffers every value before
// dispatching it: this runs once per verified token, on the cache-miss path.
impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Claims;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JWT claims object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Claims, A::Error> {
                use serde::de::Error;
                fn once<T, E: Error>(
                    slot: &mut Option<T>,
                    value: T,
                    name: &'static str,
                ) -> Result<(), E> {
                    match slot.replace(value) {
                        Some(_) => Err(E::duplicate_field(name)),
                        None => Ok(()),
                    }
                }
                let (mut iss, mut aud, mut sub, mut exp, mut iat) = (None, None, None, None, None);
                let (mut nbf, mut session, mut organization) = (None, None, None);
                let mut rest = Map::new();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    match &*key {
                        "iss" => once(&mut iss, map.next_value()?, "iss")?,
                        "aud" => once(&mut aud, map.next_value()?, "aud")?,
                        "sub" => once(&mut sub, map.next_value()?, "sub")?,
                        "exp" => once(&mut exp, map.next_value()?, "exp")?,
                        "iat" => once(&mut iat, map.next_value()?, "iat")?,
                        "nbf" => once(&mut nbf, map.next_value::<Option<f64>>()?, "nbf")?,
                        SESSION_CLAIM => once(&mut session, map.next_value()?, SESSION_CLAIM)?,
                        ORGANIZATION_CLAIM => once(
                            &mut organization,
                            map.next_value::<Option<OrganizationClaim>>()?,
                            ORGANIZATION_CLAIM,
                        )?,
                        _ => {
                            let value = map.next_value()?;
                            if rest.insert(key.into_owned(), value).is_some() {
                                return Err(A::Error::custom("duplicate claim"));
                            }
                        }
                    }
                }
                Ok(Claims {
                    iss: iss.ok_or_else(|| A::Error::missing_field("iss"))?,
                    aud: aud.ok_or_else(|| A::Error::missing_field("aud"))?,
                    sub: sub.ok_or_else(|| A::Error::missing_field("sub"))?,
                    exp: exp.ok_or_else(|| A::Error::missing_field("exp"))?,
                    iat: iat.ok_or_else(|| A::Error::missing_field("iat"))?,
                    nbf: nbf.flatten(),
                    session: session.ok_or_else(|| A::Error::missing_field(SESSION_CLAIM))?,
                    organization: organization.flatten(),
                    rest,
                })
            }
        }

        d.deserialize_map(Visitor)
    }
}

const SESSION_CLAIM: &str = "https://stytch.com/session";
const ORGANIZATION_CLAIM: &str = "https://stytch.com/organization";

/// The time-dependent facts of a verified token, re-checked on every cache hit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Times {
    exp: f64,
    iat: f64,
    nbf: Option<f64>,
    session_expires: i64,
}

/// A local verdict that Stytch might overturn: the token is authentic but cannot be
/// trusted locally right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stale {
    Expired,
    TooOld,
    NotYetValid,
    SessionExpired,
}

impl Stale {
    pub(crate) fn reason(self) -> Reason {
        match self {
            Stale::Expired => Reason::JwtExpired,
            Stale::TooOld => Reason::JwtTooOld,
            Stale::NotYetValid => Reason::JwtNotYetValid,
            Stale::SessionExpired => Reason::SessionExpired,
        }
    }
}

// NumericDates outside this range are not timestamps Stytch could have issued.
const MAX_NUMERIC_DATE: f64 = 1.0e11;

impl Claims {
    /// The session id (`https://stytch.com/session.id`).
    pub(crate) fn session_id(&self) -> &str {
        &self.session.id
    }

    /// `exp` in milliseconds since the epoch (saturating).
    pub(crate) fn exp_ms(&self) -> i64 {
        (self.exp * 1000.0) as i64
    }

    /// Checks everything that does not depend on time: issuer, audience, vertical, sane
    /// dates. A failure here means the token is not a session JWT for this project.
    pub(crate) fn validate(&self, config: &StytchConfig) -> Result<Times, Reason> {
        if !config.issuers.contains(&self.iss) {
            return Err(Reason::JwtWrongIssuer);
        }
        let pid = &*config.project_id;
        let aud_ok = match &self.aud {
            Audience::One(a) => a == pid,
            Audience::Many(list) => list.iter().any(|a| a == pid),
        };
        if !aud_ok {
            return Err(Reason::JwtWrongAudience);
        }
        if self.sub.is_empty() || self.session.id.is_empty() {
            return Err(Reason::JwtMalformedClaims);
        }
        match (config.vertical, &self.organization) {
            (Vertical::Consumer, Some(_)) => return Err(Reason::JwtB2bTokenForConsumerProject),
            (Vertical::B2b, None) => return Err(Reason::JwtConsumerTokenForB2bProject),
            _ => {}
        }
        let in_range = |t: f64| t.is_finite() && (0.0..MAX_NUMERIC_DATE).contains(&t);
        if !in_range(self.exp) || !in_range(self.iat) || !self.nbf.is_none_or(in_range) {
            return Err(Reason::JwtMalformedClaims);
        }
        if self.exp < self.iat || self.exp - self.iat > config.max_token_lifetime.as_secs_f64() {
            return Err(Reason::JwtLifetimeTooLong);
        }
        let session_expires = match self.session.expires_at {
            Some(t) => t.unix_timestamp(),
            // Old tokens: fall back to exp, as every Stytch SDK does.
            None => self.exp as i64,
        };
        Ok(Times {
            exp: self.exp,
            iat: self.iat,
            nbf: self.nbf,
            session_expires,
        })
    }

    /// Builds the session. Custom claims are the top-level claims minus the registered
    /// ones and every `https://stytch.com/` claim.
    pub(crate) fn into_session(self, times: Times) -> Session {
        let mut custom = self.rest;
        custom.retain(|k, _| k != "jti" && !k.starts_with("https://stytch.com/"));
        let expires_at = OffsetDateTime::from_unix_timestamp(times.session_expires)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Session::from_data(SessionData {
            claims_memo: Default::default(),
            session_id: self.session.id,
            user_id: self.sub,
            started_at: self.session.started_at,
            last_accessed_at: self.session.last_accessed_at,
            expires_at,
            attributes: self.session.attributes.unwrap_or_default(),
            authentication_factors: self.session.authentication_factors,
            roles: dedup(self.session.roles.unwrap_or_default()),
            custom_claims: custom,
            organization: self.organization.map(|o| Organization {
                organization_id: o.organization_id,
                slug: o.slug,
            }),
            source: SessionSource::LocalJwt,
        })
    }
}

fn dedup(roles: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::with_capacity(roles.len());
    roles
        .into_iter()
        .filter(|r| seen.insert(r.clone()))
        .collect()
}

impl Times {
    /// Times that no check looks at (unit tests of the caches).
    #[cfg(test)]
    pub(crate) fn for_test() -> Self {
        Times {
            exp: 0.0,
            iat: 0.0,
            nbf: None,
            session_expires: 0,
        }
    }

    /// The time checks, against `now` in milliseconds. `exp` at exactly `now - leeway`
    /// is still accepted, one second earlier is not (as jsonwebtoken pins it).
    pub(crate) fn check(&self, now_ms: i64, config: &StytchConfig) -> Result<(), Stale> {
        let now = now_ms as f64 / 1000.0;
        let leeway = config.leeway.as_secs_f64();
        if self.exp < now.floor() - leeway {
            return Err(Stale::Expired);
        }
        if self.nbf.is_some_and(|nbf| nbf > now + leeway) || self.iat > now + leeway {
            return Err(Stale::NotYetValid);
        }
        if let Some(max_age) = config.max_token_age {
            // Saturating: an iat slightly in the future (within leeway) is age zero.
            let age = (now - self.iat).max(0.0);
            if age >= max_age.as_secs_f64() {
                return Err(Stale::TooOld);
            }
        }
        if (self.session_expires as f64) < now.floor() - leeway {
            return Err(Stale::SessionExpired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.{}", b64(header), b64("{}"), b64("sig"))
    }

    #[test]
    fn header_gates() {
        let ok = r#"{"alg":"RS256","kid":"jwk-test-1","typ":"JWT"}"#;
        assert_eq!(parse(&token(ok), 8192).unwrap().kid, "jwk-test-1");
        let cases = [
            (r#"{"alg":"none","kid":"k"}"#, "jwt_unsupported_algorithm"),
            (r#"{"alg":"rs256","kid":"k"}"#, "jwt_unsupported_algorithm"),
            (r#"{"alg":"HS256","kid":"k"}"#, "jwt_unsupported_algorithm"),
            (r#"{"kid":"k"}"#, "jwt_malformed"),
            (r#"{"alg":["RS256"],"kid":"k"}"#, "jwt_malformed"),
            (r#"{"alg":"none","alg":"RS256","kid":"k"}"#, "jwt_malformed"),
            (
                r#"{"alg":"RS256","kid":"k","crit":[]}"#,
                "jwt_forbidden_header",
            ),
            (
                r#"{"alg":"RS256","kid":"k","jku":"https://x"}"#,
                "jwt_forbidden_header",
            ),
            (
                r#"{"alg":"RS256","kid":"k","typ":"at+jwt"}"#,
                "jwt_wrong_type",
            ),
            (r#"{"alg":"RS256"}"#, "jwt_missing_kid"),
            (r#"{"alg":"RS256","kid":12345}"#, "jwt_malformed"),
            (
                r#"{"alg":"RS256","kid":"legit\r\nX: y"}"#,
                "jwt_malformed_kid",
            ),
            (r#"["RS256"]"#, "jwt_malformed"),
            ("\u{feff}{\"alg\":\"RS256\",\"kid\":\"k\"}", "jwt_malformed"),
        ];
        for (header, reason) in cases {
            assert_eq!(parse(&token(header), 8192).unwrap_err(), reason, "{header}");
        }
        let long_kid = format!(r#"{{"alg":"RS256","kid":"{}"}}"#, "k".repeat(4096));
        assert_eq!(
            parse(&token(&long_kid), 1 << 20).unwrap_err(),
            "jwt_malformed_kid"
        );
    }

    #[test]
    fn segment_and_size_gates() {
        for bad in ["", "a.b", "a.b.c.d", "..", "hello-world", "a.b.c.d.e"] {
            assert!(parse(bad, 8192).is_err(), "{bad}");
        }
        let padded = format!("{}=", token(r#"{"alg":"RS256","kid":"k"}"#));
        assert!(parse(&padded, 8192).is_err());
        assert_eq!(parse(&"A".repeat(9000), 8192).unwrap_err(), "jwt_too_large");
    }

    #[test]
    fn deeply_nested_headers_do_not_overflow_the_stack() {
        let bomb = format!("{}{}", "[".repeat(1500), "]".repeat(1500));
        let header = format!(r#"{{"alg":"RS256","kid":"k","x":{bomb}}}"#);
        // Unknown members are skipped without recursion; the signature check rejects it.
        assert_eq!(parse(&token(&header), 1 << 20).unwrap().kid, "k");
    }
}

//! Session JWTs: the claim layout of docs/stytch-protocol.md#session-jwts, RS256 signing
//! and signature checks.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::clock::rfc3339_seconds;
use crate::keys::{KeyRing, SigningKey};
use crate::store::{SessionRecord, StoredFactor};

/// JWTs always live five minutes, whatever the session's duration.
pub(crate) const JWT_LIFETIME_SECS: i64 = 300;
/// Tokens longer than this are rejected before any decoding.
const MAX_TOKEN_LEN: usize = 16 * 1024;

pub(crate) const SESSION_CLAIM: &str = "https://stytch.com/session";
pub(crate) const ORGANIZATION_CLAIM: &str = "https://stytch.com/organization";

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    kid: &'a str,
    typ: &'static str,
}

/// A top-level claim value. The payload is a `BTreeMap`, so top-level keys come out sorted
/// as in real tokens, while the structs keep the nested key order real tokens show.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Claim<'a> {
    Json(Value),
    Session(SessionClaim<'a>),
    Organization {
        organization_id: &'a str,
        slug: &'a str,
    },
}

#[derive(Serialize)]
pub(crate) struct SessionClaim<'a> {
    id: &'a str,
    started_at: String,
    last_accessed_at: String,
    expires_at: String,
    attributes: Attributes,
    authentication_factors: Vec<FactorClaim<'a>>,
    roles: &'a [String],
}

#[derive(Serialize)]
struct Attributes {
    user_agent: &'static str,
    ip_address: &'static str,
}

#[derive(Serialize)]
struct FactorClaim<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_method: Option<&'a Value>,
    last_authenticated_at: String,
    #[serde(flatten)]
    rest: BTreeMap<&'a str, &'a Value>,
}

impl<'a> FactorClaim<'a> {
    fn new(f: &'a StoredFactor) -> Self {
        Self {
            type_: f.fields.get("type"),
            delivery_method: f.fields.get("delivery_method"),
            last_authenticated_at: rfc3339_seconds(f.authenticated_at),
            rest: f
                .fields
                .iter()
                .filter(|(k, _)| *k != "type" && *k != "delivery_method")
                .map(|(k, v)| (k.as_str(), v))
                .collect(),
        }
    }
}

/// The payload of a session JWT issued at `iat` (unix seconds).
pub(crate) fn session_claims<'a>(
    project_id: &str,
    rec: &'a SessionRecord,
    organization: Option<(&'a str, &'a str)>,
    iat: i64,
) -> BTreeMap<String, Claim<'a>> {
    let mut claims: BTreeMap<String, Claim<'a>> = rec
        .custom_claims
        .iter()
        .map(|(k, v)| (k.clone(), Claim::Json(v.clone())))
        .collect();
    // Registered and Stytch claims go in last so they always win over custom ones.
    claims.insert(
        "aud".into(),
        Claim::Json(Value::Array(vec![project_id.into()])),
    );
    claims.insert(
        "iss".into(),
        Claim::Json(format!("stytch.com/{project_id}").into()),
    );
    claims.insert("sub".into(), Claim::Json(rec.subject_id.clone().into()));
    claims.insert("iat".into(), Claim::Json(iat.into()));
    claims.insert("nbf".into(), Claim::Json(iat.into()));
    claims.insert("exp".into(), Claim::Json((iat + JWT_LIFETIME_SECS).into()));
    claims.remove("jti");
    claims.insert(
        SESSION_CLAIM.into(),
        Claim::Session(SessionClaim {
            id: &rec.session_id,
            started_at: rfc3339_seconds(rec.started_at),
            last_accessed_at: rfc3339_seconds(rec.last_accessed_at),
            expires_at: rfc3339_seconds(rec.expires_at),
            attributes: Attributes {
                user_agent: "",
                ip_address: "",
            },
            authentication_factors: rec.factors.iter().map(FactorClaim::new).collect(),
            roles: &rec.roles,
        }),
    );
    match organization {
        Some((organization_id, slug)) => {
            claims.insert(
                ORGANIZATION_CLAIM.into(),
                Claim::Organization {
                    organization_id,
                    slug,
                },
            );
        }
        None => {
            claims.remove(ORGANIZATION_CLAIM);
        }
    }
    claims
}

/// Signs `payload` with RS256 under `key`'s `kid`.
pub(crate) fn sign(key: &SigningKey, payload: &impl Serialize) -> Result<String, String> {
    let header = Header {
        alg: "RS256",
        kid: &key.kid,
        typ: "JWT",
    };
    let header = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    let payload = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
    sign_raw(key, &header, &payload)
}

/// Signs exactly these header and payload bytes with RS256, whatever they say: for
/// tests that need tokens Stytch would never issue (duplicate members, odd types).
pub(crate) fn sign_raw(key: &SigningKey, header: &[u8], payload: &[u8]) -> Result<String, String> {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut signature = vec![0u8; key.pair.public_modulus_len()];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    key.pair
        .sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &rng,
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// Why a presented JWT was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum VerifyError {
    /// Not three base64url JSON parts, or not RS256.
    Malformed,
    /// The `kid` is not (or no longer) served.
    UnknownKey,
    /// The signature does not match.
    BadSignature,
}

/// Checks the signature against the served keys (any `kid`) and returns the payload.
/// Expiry is deliberately not checked: authenticate refreshes expired JWTs of live sessions.
pub(crate) fn verify(token: &str, ring: &KeyRing) -> Result<Map<String, Value>, VerifyError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(VerifyError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed);
    };
    let header: Value = decode_json(h)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(VerifyError::Malformed);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(VerifyError::Malformed)?;
    let payload: Value = decode_json(p)?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| VerifyError::Malformed)?;
    let key = ring.find(kid).ok_or(VerifyError::UnknownKey)?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        &key.public_der,
    )
    .verify(signing_input.as_bytes(), &signature)
    .map_err(|_| VerifyError::BadSignature)?;
    match payload {
        Value::Object(map) => Ok(map),
        _ => Err(VerifyError::Malformed),
    }
}

fn decode_json(part: &str) -> Result<Value, VerifyError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| VerifyError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    #[test]
    fn sign_then_verify_and_tamper() {
        let ring = KeyRing::new(OffsetDateTime::now_utc()).expect("keygen");
        let token = sign(&ring.current(), &serde_json::json!({"b": 1, "a": 2})).expect("sign");
        let claims = verify(&token, &ring).expect("verifies");
        assert_eq!(claims["a"], 2);
        // Another payload under the original signature: well-formed, but forged.
        let other = sign(&ring.current(), &serde_json::json!({"a": 3})).expect("sign");
        let parts: Vec<&str> = token.split('.').collect();
        let other_payload = other.split('.').nth(1).unwrap_or_default();
        let forged = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
        assert_eq!(verify(&forged, &ring), Err(VerifyError::BadSignature));
        assert_eq!(verify("garbage", &ring), Err(VerifyError::Malformed));
        assert_eq!(verify("a.b.c", &ring), Err(VerifyError::Malformed));
        let other = KeyRing::new(OffsetDateTime::now_utc()).expect("keygen");
        assert_eq!(verify(&token, &other), Err(VerifyError::UnknownKey));
    }
}

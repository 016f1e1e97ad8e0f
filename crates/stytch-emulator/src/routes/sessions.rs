//! `POST /v1/sessions/authenticate` and `/v1/sessions/revoke`, plus the logic the B2B
//! versions share (docs/stytch-protocol.md#authenticating-a-session, #revoking-a-session).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde_json::{Map, Value};

use super::AppState;
use super::body::{self, field, opt_str};
use crate::engine::{SANDBOX_TOKEN, Shared, Vertical, organization_not_found};
use crate::errors::ApiError;
use crate::jwt::{self, SESSION_CLAIM, VerifyError};
use crate::store::SessionRecord;
use crate::{rbac, wire};

const MIN_DURATION: i64 = 5;
const MAX_DURATION: i64 = 527_040;
const MAX_CUSTOM_CLAIMS_BYTES: usize = 4096;
const RESERVED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

pub(super) async fn authenticate(
    State(shared): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    authenticate_in(&shared, Vertical::Consumer, body::object(body)?).map(Json)
}

pub(super) async fn revoke(
    State(shared): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let req = body::object(body)?;
    let id = opt_str(&req, "session_id")?;
    let token = opt_str(&req, "session_token")?;
    let jwt = opt_str(&req, "session_jwt")?;
    let given = [id.is_some(), token.is_some(), jwt.is_some()]
        .into_iter()
        .filter(|b| *b)
        .count();
    check_revoke_arguments(given, "session_id, session_token, or session_jwt")?;
    let session_id = match (id, token, jwt) {
        (Some(id), _, _) => id,
        (_, Some(token), _) => shared
            .store()
            .sessions
            .id_for_token(&token)
            .ok_or_else(ApiError::session_not_found)?,
        (_, _, Some(jwt)) => session_id_from_jwt(&shared, &jwt)?,
        _ => return Err(ApiError::session_not_found()),
    };
    revoke_live(&shared, Vertical::Consumer, &session_id)?;
    Ok(Json(wire::ok_body(Map::new())))
}

pub(super) fn check_revoke_arguments(given: usize, names: &str) -> Result<(), ApiError> {
    match given {
        0 => Err(ApiError::bad_request(
            "no_session_revoke_arguments",
            format!("Please include one of {names} in a revoke request."),
        )),
        1 => Ok(()),
        _ => Err(ApiError::bad_request(
            "too_many_session_revoke_arguments",
            format!("Please include at most one of {names} in a revoke request, not multiple."),
        )),
    }
}

/// Removes a live session of `vertical`; unknown, expired or revoked → `session_not_found`.
pub(super) fn revoke_live(
    shared: &Shared,
    vertical: Vertical,
    session_id: &str,
) -> Result<(), ApiError> {
    let now = shared.clock.now();
    let mut store = shared.store();
    let sessions = match vertical {
        Vertical::Consumer => &mut store.sessions,
        Vertical::B2b => &mut store.member_sessions,
    };
    if !sessions
        .by_id
        .get(session_id)
        .is_some_and(|r| r.is_live(now))
    {
        return Err(ApiError::session_not_found());
    }
    sessions.remove(session_id);
    Ok(())
}

/// Verifies a presented JWT (signature against any served key; expiry ignored) and
/// returns the session id it names.
pub(super) fn session_id_from_jwt(shared: &Shared, token: &str) -> Result<String, ApiError> {
    let claims = jwt::verify(token, &shared.keys()).map_err(|e| {
        let message = match e {
            VerifyError::Malformed => "The session JWT could not be parsed.",
            VerifyError::UnknownKey => "The session JWT was signed by an unknown key.",
            VerifyError::BadSignature => "The session JWT signature is invalid.",
        };
        ApiError::bad_request("unable_to_parse_session_jwt", message)
    })?;
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == shared.project_id,
        Some(Value::Array(a)) => a
            .iter()
            .any(|v| v.as_str() == Some(shared.project_id.as_str())),
        _ => false,
    };
    if !audience_ok {
        return Err(ApiError::bad_request(
            "jwt_invalid_audience",
            "The session JWT has an invalid audience.",
        ));
    }
    if claims.get("iss").and_then(Value::as_str)
        != Some(format!("stytch.com/{}", shared.project_id).as_str())
    {
        return Err(ApiError::bad_request(
            "jwt_invalid_issuer",
            "The session JWT has an invalid issuer.",
        ));
    }
    claims
        .get(SESSION_CLAIM)
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::bad_request("jwt_invalid_claims", "The session JWT has invalid claims.")
        })
}

enum Locator {
    Token(String),
    SessionId(String),
}

struct AuthzCheck {
    organization_id: Option<String>,
    resource_id: String,
    action: String,
}

/// Authenticate for either vertical: validate arguments, find the live session, run the
/// authorization check, then touch/extend/merge claims and answer with a fresh JWT.
pub(super) fn authenticate_in(
    shared: &Shared,
    vertical: Vertical,
    req: Map<String, Value>,
) -> Result<Value, ApiError> {
    let token = opt_str(&req, "session_token")?;
    let jwt_arg = opt_str(&req, "session_jwt")?;
    let locator = match (token, jwt_arg) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "too_many_session_arguments",
                "Please include at most one of session_token or session_jwt in an authenticate request, not multiple.",
            ));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "no_session_arguments",
                "Please include one of session_token or session_jwt in an authenticate request.",
            ));
        }
        (Some(t), None) => Locator::Token(t),
        (None, Some(j)) => Locator::SessionId(session_id_from_jwt(shared, &j)?),
    };
    let duration = duration_minutes(&req)?;
    let claims_update = custom_claims_update(&req)?;
    let check = authorization_check(&req, vertical)?;

    let now = shared.clock.now();
    let mut store = shared.store();
    if vertical == Vertical::Consumer && matches!(&locator, Locator::Token(t) if t == SANDBOX_TOKEN)
    {
        shared.revive_sandbox(&mut store, now);
    }
    let sessions = match vertical {
        Vertical::Consumer => &store.sessions,
        Vertical::B2b => &store.member_sessions,
    };
    let session_id = match locator {
        Locator::Token(t) => sessions
            .id_for_token(&t)
            .ok_or_else(ApiError::session_not_found)?,
        Locator::SessionId(id) => id,
    };
    let mut rec: SessionRecord = sessions
        .by_id
        .get(&session_id)
        .filter(|r| r.is_live(now))
        .cloned()
        .ok_or_else(ApiError::session_not_found)?;
    let org = match (&rec.organization_id, vertical) {
        (Some(org_id), Vertical::B2b) => Some(
            store
                .organizations
                .get(org_id)
                .cloned()
                .ok_or_else(|| organization_not_found(org_id))?,
        ),
        _ => None,
    };

    let verdict = match check {
        None => None,
        Some(check) => {
            let policy_roles = match (&org, vertical) {
                (Some(org), Vertical::B2b) => {
                    if check.organization_id.as_deref() != Some(org.organization_id.as_str()) {
                        return Err(ApiError::new(
                            403,
                            "session_authorization_tenancy_error",
                            format!(
                                "Subject organization_id {} does not match authZ request organization_id {}",
                                org.organization_id,
                                check.organization_id.unwrap_or_default()
                            ),
                        ));
                    }
                    let mut roles = rbac::policy_roles(&store.b2b_policy);
                    roles.extend(org.custom_roles.iter().cloned());
                    roles
                }
                _ => rbac::policy_roles(&store.consumer_policy),
            };
            let granting =
                rbac::granting_roles(&policy_roles, &rec.roles, &check.resource_id, &check.action);
            if granting.is_empty() {
                return Err(match vertical {
                    Vertical::Consumer => ApiError::new(
                        403,
                        "consumer_session_authorization_error",
                        "The User is not authorized to perform the requested action on that resource.",
                    ),
                    Vertical::B2b => ApiError::new(
                        403,
                        "session_authorization_error",
                        "The Member is not authorized to perform the requested action on that resource.",
                    ),
                });
            }
            Some(serde_json::json!({ "authorized": true, "granting_roles": granting }))
        }
    };

    if let Some(update) = claims_update {
        let mut merged = rec.custom_claims.clone();
        for (k, v) in update {
            if v.is_null() {
                merged.remove(&k);
            } else {
                merged.insert(k, v);
            }
        }
        if serde_json::to_vec(&merged).map_or(0, |b| b.len()) > MAX_CUSTOM_CLAIMS_BYTES {
            return Err(ApiError::bad_request(
                "custom_claims_too_large",
                "Custom claims must be at most 4KB when serialized.",
            ));
        }
        rec.custom_claims = merged;
    }
    rec.last_accessed_at = now;
    if let Some(minutes) = duration {
        rec.expires_at = now + time::Duration::minutes(minutes);
    }
    let session_jwt = shared.sign_session(&rec, org.as_ref(), now)?;

    let mut body = Map::new();
    match (vertical, &org) {
        (Vertical::B2b, Some(org)) => {
            let member = store.members.get(&rec.subject_id).ok_or_else(|| {
                ApiError::new(404, "member_not_found", "Member could not be found.")
            })?;
            body.insert("member_session".into(), wire::member_session(&rec, org));
            body.insert("member".into(), wire::member(member, &rec.roles));
            body.insert("organization".into(), wire::organization(org));
        }
        _ => {
            let user = store
                .users
                .get(&rec.subject_id)
                .ok_or_else(|| ApiError::new(404, "user_not_found", "User could not be found."))?;
            body.insert("session".into(), wire::session(&rec));
            body.insert("user".into(), wire::user(user));
        }
    }
    body.insert("session_token".into(), rec.token.clone().into());
    body.insert("session_jwt".into(), session_jwt.into());
    if let Some(verdict) = verdict {
        body.insert("verdict".into(), verdict);
    }
    let sessions = match vertical {
        Vertical::Consumer => &mut store.sessions,
        Vertical::B2b => &mut store.member_sessions,
    };
    sessions.insert(rec);
    Ok(wire::ok_body(body))
}

fn duration_minutes(req: &Map<String, Value>) -> Result<Option<i64>, ApiError> {
    match field(req, "session_duration_minutes") {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(m) if (MIN_DURATION..=MAX_DURATION).contains(&m) => Ok(Some(m)),
            _ => Err(ApiError::bad_request(
                "invalid_session_duration_minutes",
                format!(
                    "session_duration_minutes must be an integer between {MIN_DURATION} and {MAX_DURATION}."
                ),
            )),
        },
    }
}

fn custom_claims_update(req: &Map<String, Value>) -> Result<Option<Map<String, Value>>, ApiError> {
    let Some(v) = field(req, "session_custom_claims") else {
        return Ok(None);
    };
    let Value::Object(map) = v else {
        return Err(ApiError::bad_request(
            "unable_to_represent_custom_claims_json",
            "session_custom_claims must be a JSON object.",
        ));
    };
    if let Some(key) = map.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            "reserved_claims_in_custom_claims",
            format!("The custom claim {key} is reserved and cannot be set."),
        ));
    }
    if let Some(key) = map.keys().find(|k| k.starts_with("https://stytch.com/")) {
        return Err(ApiError::bad_request(
            "stytch_claims_in_custom_claims",
            format!(
                "The custom claim {key} is in the https://stytch.com/ namespace, which is reserved."
            ),
        ));
    }
    Ok(Some(map.clone()))
}

fn authorization_check(
    req: &Map<String, Value>,
    vertical: Vertical,
) -> Result<Option<AuthzCheck>, ApiError> {
    let Some(v) = field(req, "authorization_check") else {
        return Ok(None);
    };
    let Value::Object(map) = v else {
        return Err(ApiError::bad_request(
            "invalid_request_value",
            "authorization_check must be an object.",
        ));
    };
    let organization_id = match vertical {
        Vertical::B2b => Some(body::req_str(map, "organization_id")?),
        Vertical::Consumer => None,
    };
    Ok(Some(AuthzCheck {
        organization_id,
        resource_id: body::req_str(map, "resource_id")?,
        action: body::req_str(map, "action")?,
    }))
}

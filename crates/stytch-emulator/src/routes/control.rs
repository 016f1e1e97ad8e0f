//! The HTTP control surface under `/_emulator/`, mirroring the Rust API. JSON in and out;
//! no auth; not counted. Errors use the Stytch error shape.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::body::{self, field, opt_str, req_str};
use crate::engine::Vertical;
use crate::errors::ApiError;
use crate::faults::{Fault, Route};
use crate::fixtures::{Factor, NewMemberSession, NewOrganization, NewSession, NewUser};

type Body = Result<Bytes, BytesRejection>;
type Answer = Result<Json<Value>, ApiError>;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/info", get(info))
        .route("/users", post(create_user))
        .route("/sessions", post(create_session))
        .route("/sessions/{session_id}/revoke", post(revoke_session))
        .route("/sessions/{session_id}/jwt", post(mint_jwt))
        .route("/sessions/{session_id}/factors", post(attach_factor))
        .route("/keys", get(keys))
        .route("/keys/rotate", post(rotate_keys))
        .route("/keys/{kid}/retire", post(retire_key))
        .route("/rbac/policy", put(set_consumer_policy))
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance_clock))
        .route("/faults", post(inject_fault).delete(clear_faults))
        .route("/counters", get(counters))
        .route("/counters/reset", post(reset_counters))
        .route("/b2b/organizations", post(create_organization))
        .route(
            "/b2b/organizations/{organization_id}/roles",
            put(set_organization_roles),
        )
        .route("/b2b/members", post(create_member))
        .route("/b2b/sessions", post(create_member_session))
        .route("/b2b/rbac/policy", put(set_b2b_policy))
}

fn path(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(s)| s)
        .map_err(|_| ApiError::bad_request("bad_request", "Malformed path parameter."))
}

async fn info(State(shared): State<AppState>) -> Json<Value> {
    Json(json!({
        "project_id": shared.project_id,
        "secret": shared.secret,
        "current_kid": shared.current_kid(),
        "now": crate::clock::rfc3339(shared.clock.now()),
    }))
}

async fn create_user(State(shared): State<AppState>, body: Body) -> Answer {
    let req = body::object(body)?;
    let mut user = NewUser::new();
    if let Some(e) = opt_str(&req, "email")? {
        user = user.email(&e);
    }
    if let Some(p) = opt_str(&req, "phone")? {
        user = user.phone(&p);
    }
    let first = opt_str(&req, "first_name")?;
    let last = opt_str(&req, "last_name")?;
    if first.is_some() || last.is_some() {
        user = user.name(&first.unwrap_or_default(), &last.unwrap_or_default());
    }
    user = user.roles(strings(&req, "roles")?);
    Ok(Json(json!({ "user_id": shared.create_user(user) })))
}

/// Common session options: `factors`, `roles`, `custom_claims`, `duration_minutes`.
struct SessionOptions {
    factors: Vec<Factor>,
    roles: Vec<String>,
    custom_claims: Option<Value>,
    duration_minutes: Option<u32>,
}

fn session_options(req: &Map<String, Value>) -> Result<SessionOptions, ApiError> {
    let factors = match field(req, "factors") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(factor).collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_request_value",
                "factors must be an array.",
            ));
        }
    };
    let duration_minutes = match field(req, "duration_minutes") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|m| u32::try_from(m).ok())
                .filter(|m| *m > 0)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_session_duration_minutes",
                        "duration_minutes must be a positive integer.",
                    )
                })?,
        ),
    };
    Ok(SessionOptions {
        factors,
        roles: strings(req, "roles")?,
        custom_claims: field(req, "custom_claims").cloned(),
        duration_minutes,
    })
}

async fn create_session(State(shared): State<AppState>, body: Body) -> Answer {
    let req = body::object(body)?;
    let opts = session_options(&req)?;
    let mut s = NewSession::new().roles(opts.roles);
    if let Some(id) = opt_str(&req, "user_id")? {
        s = s.user_id(id);
    }
    for f in opts.factors {
        s = s.factor(f);
    }
    if let Some(c) = opts.custom_claims {
        s = s.custom_claims(c);
    }
    if let Some(m) = opts.duration_minutes {
        s = s.duration_minutes(m);
    }
    created(shared.create_session(s)?)
}

fn created(c: crate::CreatedSession) -> Answer {
    serde_json::to_value(c)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

async fn revoke_session(
    State(shared): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Json<Value> {
    let revoked = path(id)
        .map(|id| shared.revoke_session(&id))
        .unwrap_or(false);
    Json(json!({ "revoked": revoked }))
}

async fn mint_jwt(
    State(shared): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path(id)?;
    let jwt = shared
        .mint_jwt(&id)
        .ok_or_else(ApiError::session_not_found)?;
    Ok(Json(json!({ "session_jwt": jwt })))
}

/// A step-up: the body is one factor, in the syntax of `POST sessions`' `factors`.
async fn attach_factor(
    State(shared): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Answer {
    let id = path(id)?;
    let factor = factor(&body::value(body)?)?;
    let jwt = shared
        .attach_factor(&id, factor)
        .ok_or_else(ApiError::session_not_found)?;
    Ok(Json(json!({ "session_jwt": jwt })))
}

async fn keys(State(shared): State<AppState>) -> Json<Value> {
    Json(shared.jwks())
}

async fn rotate_keys(State(shared): State<AppState>) -> Answer {
    Ok(Json(json!({ "kid": shared.rotate_keys()? })))
}

async fn retire_key(
    State(shared): State<AppState>,
    kid: Result<Path<String>, PathRejection>,
) -> Answer {
    let kid = path(kid)?;
    Ok(Json(json!({ "retired": shared.retire_key(&kid) })))
}

async fn set_consumer_policy(State(shared): State<AppState>, body: Body) -> Answer {
    Ok(Json(
        json!({ "policy": shared.set_policy(Vertical::Consumer, body::value(body)?) }),
    ))
}

async fn set_b2b_policy(State(shared): State<AppState>, body: Body) -> Answer {
    Ok(Json(
        json!({ "policy": shared.set_policy(Vertical::B2b, body::value(body)?) }),
    ))
}

fn clock_json(shared: &AppState) -> Json<Value> {
    let now = shared.clock.now();
    Json(json!({ "now": crate::clock::rfc3339(now), "now_unix": now.unix_timestamp() }))
}

async fn clock(State(shared): State<AppState>) -> Json<Value> {
    clock_json(&shared)
}

async fn advance_clock(State(shared): State<AppState>, body: Body) -> Answer {
    let req = body::object(body)?;
    let seconds = field(&req, "seconds")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_request_value",
                "seconds must be a non-negative number.",
            )
        })?;
    // Clamp to 100 years so the conversion can never fail.
    shared.clock.advance(Duration::from_secs_f64(
        seconds.min(100.0 * 366.0 * 86_400.0),
    ));
    Ok(clock_json(&shared))
}

async fn inject_fault(State(shared): State<AppState>, body: Body) -> Answer {
    let req = body::object(body)?;
    let route_name = req_str(&req, "route")?;
    let route = Route::from_name(&route_name).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_request_value",
            format!("Unknown route {route_name}."),
        )
    })?;
    let number = |key: &str| -> Result<Option<u64>, ApiError> {
        match field(&req, key) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_request_value",
                    format!("{key} must be a non-negative integer."),
                )
            }),
        }
    };
    let mut fault = match req_str(&req, "kind")?.as_str() {
        "status" => {
            let status = number("status")?
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (400..=599).contains(s))
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_request_value", "status must be 400..=599.")
                })?;
            Fault::status(status)
        }
        "latency" => Fault::latency(Duration::from_millis(
            number("latency_ms")?.unwrap_or(0).min(600_000),
        )),
        "malformed_body" => Fault::malformed_body(),
        "close_connection" => Fault::close_connection(),
        other => {
            return Err(ApiError::bad_request(
                "invalid_request_value",
                format!(
                    "Unknown fault kind {other}; use status, latency, malformed_body or close_connection."
                ),
            ));
        }
    };
    if let Some(n) = number("times")? {
        fault = fault.times(u32::try_from(n).unwrap_or(u32::MAX));
    }
    if let Some(s) = number("retry_after")? {
        fault = fault.retry_after(u32::try_from(s).unwrap_or(u32::MAX));
    }
    shared.faults.inject(route, fault);
    Ok(Json(json!({ "route": route.name() })))
}

async fn clear_faults(State(shared): State<AppState>) -> Json<Value> {
    shared.faults.clear();
    Json(json!({ "cleared": true }))
}

async fn counters(State(shared): State<AppState>) -> Json<Value> {
    let map: Map<String, Value> = Route::ALL
        .iter()
        .map(|r| (r.name().to_owned(), shared.faults.count(*r).into()))
        .collect();
    Json(Value::Object(map))
}

async fn reset_counters(State(shared): State<AppState>) -> Json<Value> {
    shared.faults.reset_counts();
    Json(json!({ "reset": true }))
}

async fn create_organization(State(shared): State<AppState>, body: Body) -> Answer {
    let req = body::object(body)?;
    let name = req_str(&req, "organization_name").or_else(|_| req_str(&req, "name"))?;
    let slug = req_str(&req, "organization_slug").or_else(|_| req_str(&req, "slug"))?;
    Ok(Json(
        json!({ "organization_id": shared.create_organization(NewOrganization::new(&name, &slug)) }),
    ))
}

async fn set_organization_roles(
    State(shared): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Answer {
    let id = path(id)?;
    let roles = shared.set_organization_roles(&id, body::value(body)?)?;
    Ok(Json(json!({ "roles": roles })))
}

async fn create_member(State(shared): State<AppState>, body: Body) -> Answer {
    let req = body::object(body)?;
    let org = req_str(&req, "organization_id")?;
    let email = req_str(&req, "email_address").or_else(|_| req_str(&req, "email"))?;
    Ok(Json(
        json!({ "member_id": shared.create_member(&org, &email)? }),
    ))
}

async fn create_member_session(State(shared): State<AppState>, body: Body) -> Answer {
    let req = body::object(body)?;
    let opts = session_options(&req)?;
    let mut s = NewMemberSession::new(
        &req_str(&req, "organization_id")?,
        &req_str(&req, "member_id")?,
    )
    .roles(opts.roles);
    for f in opts.factors {
        s = s.factor(f);
    }
    if let Some(c) = opts.custom_claims {
        s = s.custom_claims(c);
    }
    if let Some(m) = opts.duration_minutes {
        s = s.duration_minutes(m);
    }
    created(shared.create_member_session(s)?)
}

fn strings(req: &Map<String, Value>, key: &str) -> Result<Vec<String>, ApiError> {
    match field(req, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_request_value",
                        format!("{key} must be strings."),
                    )
                })
            })
            .collect(),
        Some(_) => Err(ApiError::bad_request(
            "invalid_request_value",
            format!("{key} must be an array."),
        )),
    }
}

/// A factor: `{"kind": "email_magic_link", "email": ...}` shorthand (kinds mirror the
/// `Factor` constructors), or a raw factor object with `type`. Either may carry
/// `authenticated_at` (RFC 3339).
fn factor(v: &Value) -> Result<Factor, ApiError> {
    let Value::Object(map) = v else {
        return Err(ApiError::bad_request(
            "invalid_request_value",
            "Each factor must be an object.",
        ));
    };
    let f = match opt_str(map, "kind")? {
        None => {
            let mut raw = map.clone();
            raw.remove("authenticated_at");
            Factor::raw(Value::Object(raw))
        }
        Some(kind) => match kind.as_str() {
            "email_magic_link" => Factor::email_magic_link(&req_str(map, "email")?),
            "email_otp" => Factor::email_otp(&req_str(map, "email")?),
            "sms_otp" => Factor::sms_otp(&req_str(map, "phone")?),
            "totp" => Factor::totp(),
            "password" => Factor::password(),
            "webauthn" => Factor::webauthn(&req_str(map, "domain")?),
            "oauth" => Factor::oauth(&req_str(map, "provider")?, &req_str(map, "subject")?),
            "sso_oidc" => Factor::sso_oidc(),
            other => {
                return Err(ApiError::bad_request(
                    "invalid_request_value",
                    format!("Unknown factor kind {other}."),
                ));
            }
        },
    };
    match opt_str(map, "authenticated_at")? {
        None => Ok(f),
        Some(t) => crate::clock::parse_rfc3339(&t)
            .map(|t| f.authenticated_at(t))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_request_value",
                    "authenticated_at must be RFC 3339.",
                )
            }),
    }
}

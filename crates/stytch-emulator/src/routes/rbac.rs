//! RBAC policy routes (docs/stytch-protocol.md#rbac): project policies and B2B organization
//! policies.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use serde_json::{Map, Value};

use super::AppState;
use super::body;
use crate::engine::organization_not_found;
use crate::errors::ApiError;
use crate::wire;

pub(super) async fn consumer_policy(State(shared): State<AppState>) -> Json<Value> {
    policy(shared.store().consumer_policy.clone())
}

pub(super) async fn b2b_policy(State(shared): State<AppState>) -> Json<Value> {
    policy(shared.store().b2b_policy.clone())
}

fn policy(policy: Value) -> Json<Value> {
    let mut body = Map::new();
    body.insert("policy".into(), policy);
    Json(wire::ok_body(body))
}

fn org_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id).map_err(|_| {
        ApiError::bad_request(
            "invalid_organization_id",
            "The organization ID is malformed.",
        )
    })
}

/// `GET /v1/b2b/rbac/organizations/{organization_id}` → `{org_policy: {roles}}`.
pub(super) async fn organization_policy(
    State(shared): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = org_id(path)?;
    let roles = shared
        .store()
        .organizations
        .get(&id)
        .map(|o| o.custom_roles.clone())
        .ok_or_else(|| organization_not_found(&id))?;
    Ok(org_policy(roles))
}

/// `PUT /v1/b2b/rbac/organizations/{organization_id}` with `{org_policy: {roles}}`.
pub(super) async fn set_organization_policy(
    State(shared): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = org_id(path)?;
    let mut req = body::object(body)?;
    let roles = req.remove("org_policy").unwrap_or(Value::Null);
    Ok(org_policy(shared.set_organization_roles(&id, roles)?))
}

fn org_policy(roles: Vec<Value>) -> Json<Value> {
    let mut body = Map::new();
    body.insert("org_policy".into(), serde_json::json!({ "roles": roles }));
    Json(wire::ok_body(body))
}

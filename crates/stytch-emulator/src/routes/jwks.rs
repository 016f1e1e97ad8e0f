//! `GET /v1/sessions/jwks/{project_id}` and the B2B twin (docs/stytch-protocol.md#jwks). No
//! auth needed, Basic auth accepted (the Rust SDK sends it), bodies and query parameters
//! ignored.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde_json::Value;

use super::AppState;
use crate::errors::ApiError;
use crate::wire;

pub(super) async fn consumer(
    State(shared): State<AppState>,
    project_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    jwks(&shared, project_id)
}

pub(super) async fn b2b(
    State(shared): State<AppState>,
    project_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    jwks(&shared, project_id)
}

fn jwks(
    shared: &crate::engine::Shared,
    project_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Ok(Path(project_id)) = project_id else {
        return Err(ApiError::bad_request(
            "invalid_project_id",
            "The project ID is malformed.",
        ));
    };
    if project_id != shared.project_id {
        return Err(ApiError::new(
            404,
            "project_not_found",
            "Project could not be found.",
        ));
    }
    let mut body = serde_json::Map::new();
    body.insert("keys".into(), shared.jwks()["keys"].clone());
    Ok(Json(wire::ok_body(body)))
}

//! `POST /v1/b2b/sessions/authenticate` and `/v1/b2b/sessions/revoke`
//! (docs/stytch-protocol.md#authenticating-a-session, #revoking-a-session).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde_json::{Map, Value};

use super::AppState;
use super::body::{self, opt_str};
use super::sessions::{authenticate_in, check_revoke_arguments, revoke_live, session_id_from_jwt};
use crate::engine::Vertical;
use crate::errors::ApiError;
use crate::wire;

pub(super) async fn authenticate(
    State(shared): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    authenticate_in(&shared, Vertical::B2b, body::object(body)?).map(Json)
}

pub(super) async fn revoke(
    State(shared): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let req = body::object(body)?;
    let id = opt_str(&req, "member_session_id")?;
    let token = opt_str(&req, "session_token")?;
    let jwt = opt_str(&req, "session_jwt")?;
    let member_id = opt_str(&req, "member_id")?;
    let given = [
        id.is_some(),
        token.is_some(),
        jwt.is_some(),
        member_id.is_some(),
    ]
    .into_iter()
    .filter(|b| *b)
    .count();
    check_revoke_arguments(
        given,
        "member_session_id, session_token, session_jwt, or member_id",
    )?;
    let session_id = match (id, token, jwt, member_id) {
        (Some(id), ..) => id,
        (_, Some(token), ..) => shared
            .store()
            .member_sessions
            .id_for_token(&token)
            .ok_or_else(ApiError::session_not_found)?,
        (_, _, Some(jwt), _) => session_id_from_jwt(&shared, &jwt)?,
        (_, _, _, Some(member_id)) => {
            // Revokes every session of the member.
            let mut store = shared.store();
            if !store.members.contains_key(&member_id) {
                return Err(ApiError::new(
                    404,
                    "member_not_found",
                    "Member could not be found.",
                ));
            }
            let ids: Vec<String> = store
                .member_sessions
                .by_id
                .values()
                .filter(|r| r.subject_id == member_id)
                .map(|r| r.session_id.clone())
                .collect();
            for id in ids {
                store.member_sessions.remove(&id);
            }
            return Ok(Json(wire::ok_body(Map::new())));
        }
        _ => return Err(ApiError::session_not_found()),
    };
    revoke_live(&shared, Vertical::B2b, &session_id)?;
    Ok(Json(wire::ok_body(Map::new())))
}

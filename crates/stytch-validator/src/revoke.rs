//! Stytch's `sessions/revoke` (docs/stytch-protocol.md#revoking-a-session): ends a
//! session at Stytch, by id.

use std::time::Duration;

use serde::Serialize;

use crate::config::{StytchConfig, Vertical};
use crate::error::AuthError;
use crate::http;
use crate::reason::Reason;

const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Serialize)]
struct RevokeBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_session_id: Option<&'a str>,
}

/// Revokes `session_id` at Stytch. A session Stytch no longer knows
/// (`session_not_found`) counts as revoked.
pub(crate) async fn at_stytch(
    client: &reqwest::Client,
    config: &StytchConfig,
    session_id: &str,
) -> Result<(), AuthError> {
    let url = format!(
        "{}{}/sessions/revoke",
        config.api_url,
        config.vertical.path_prefix()
    );
    let body = match config.vertical {
        Vertical::Consumer => RevokeBody {
            session_id: Some(session_id),
            member_session_id: None,
        },
        Vertical::B2b => RevokeBody {
            session_id: None,
            member_session_id: Some(session_id),
        },
    };
    let unavailable = |reason: Reason, retry_after: Option<Duration>| {
        tracing::warn!(
            session.id = session_id,
            reason = reason.as_str(),
            "stytch.api.revoke_failed"
        );
        Err(AuthError::unavailable(
            reason,
            "The session could not be revoked at Stytch; it is refused here meanwhile.",
            retry_after.unwrap_or(Duration::from_secs(1)),
        ))
    };
    let fetched = match http::post_json(client, &url, config, &body, MAX_RESPONSE_BYTES).await {
        Ok(f) => f,
        Err(reason) => return unavailable(reason, None),
    };
    let error_type = || {
        serde_json::from_slice::<serde_json::Value>(&fetched.body)
            .ok()
            .and_then(|v| v.get("error_type")?.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    match fetched.status {
        200..=299 => Ok(()),
        404 if error_type() == "session_not_found" => Ok(()),
        401 if error_type().starts_with("unauthorized_") || error_type().contains("secret") => {
            Err(AuthError::new(
                Reason::StytchRejectedCredentials,
                "Stytch rejected this service's project credentials.",
            ))
        }
        429 => unavailable(Reason::StytchRateLimited, fetched.retry_after),
        500..=599 => unavailable(Reason::StytchUnavailable, fetched.retry_after),
        _ => unavailable(Reason::StytchUnexpectedResponse, fetched.retry_after),
    }
}

//! The HTTP surface: Stytch's routes at the origin root, the control routes under
//! `/_emulator/`, and the per-route guard that counts, injects faults and checks auth.

mod b2b;
mod body;
mod control;
mod jwks;
mod rbac;
mod sessions;

use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::conn::ConnKill;
use crate::engine::Shared;
use crate::errors::ApiError;
use crate::faults::{FaultKind, Route};

pub(crate) type AppState = Arc<Shared>;

pub(crate) fn router(shared: AppState) -> Router {
    let guarded = |route: Route, auth: bool, mr: MethodRouter<AppState>| {
        mr.layer(middleware::from_fn_with_state(
            (Arc::clone(&shared), route, auth),
            guard,
        ))
    };
    Router::new()
        .route(
            "/v1/sessions/jwks/{project_id}",
            guarded(Route::Jwks, false, get(jwks::consumer)),
        )
        .route(
            "/v1/sessions/authenticate",
            guarded(Route::Authenticate, true, post(sessions::authenticate)),
        )
        .route(
            "/v1/sessions/revoke",
            guarded(Route::Revoke, true, post(sessions::revoke)),
        )
        .route(
            "/v1/rbac/policy",
            guarded(Route::RbacPolicy, true, get(rbac::consumer_policy)),
        )
        .route(
            "/v1/b2b/sessions/jwks/{project_id}",
            guarded(Route::B2bJwks, false, get(jwks::b2b)),
        )
        .route(
            "/v1/b2b/sessions/authenticate",
            guarded(Route::B2bAuthenticate, true, post(b2b::authenticate)),
        )
        .route(
            "/v1/b2b/sessions/revoke",
            guarded(Route::B2bRevoke, true, post(b2b::revoke)),
        )
        .route(
            "/v1/b2b/rbac/policy",
            guarded(Route::B2bRbacPolicy, true, get(rbac::b2b_policy)),
        )
        .route(
            "/v1/b2b/rbac/organizations/{organization_id}",
            guarded(
                Route::B2bOrganizationPolicy,
                true,
                get(rbac::organization_policy).put(rbac::set_organization_policy),
            ),
        )
        .nest("/_emulator", control::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

/// Counts the request, applies the route's next fault, then checks Basic auth.
async fn guard(
    State((shared, route, auth)): State<(AppState, Route, bool)>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(fault) = shared.faults.hit(route) {
        match fault.kind {
            FaultKind::Status(code) => {
                return ApiError::for_status(code)
                    .with_retry_after(fault.retry_after)
                    .into_response();
            }
            FaultKind::Latency(d) => tokio::time::sleep(d).await,
            FaultKind::MalformedBody => {
                let mut response = (
                    StatusCode::OK,
                    "{\"status_code\":200,\"request_id\":\"request-id-te",
                )
                    .into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                return response;
            }
            FaultKind::CloseConnection => {
                if let Some(ConnectInfo(kill)) = request.extensions().get::<ConnectInfo<ConnKill>>()
                {
                    kill.kill();
                }
                // If the router runs without the killable listener, a 502 is the closest thing.
                return ApiError::for_status(502).into_response();
            }
        }
    }
    if auth && !authorized(&shared, request.headers()) {
        return ApiError::unauthorized().into_response();
    }
    next.run(request).await
}

/// `Authorization: Basic base64(project_id:secret)`.
fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("{}:{}", shared.project_id, shared.secret);
    decoded == expected.as_bytes()
}

async fn not_found() -> ApiError {
    ApiError::new(
        404,
        "route_not_found",
        "The requested route could not be found.",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        405,
        "method_not_allowed",
        "The HTTP method is not allowed on this route.",
    )
}

//! RBAC: permissions from the project's Stytch RBAC policy, as route layers and inside
//! a handler.
//!
//! ```sh
//! cargo run --example rbac
//! ```
//!
//! The policy (see `examples::example_policy`) has one resource, `documents`, with the
//! actions `read`, `write` and `delete`, and three roles: `reader` (read), `editor`
//! (read, write) and `admin` (`*`, every action). The validator fetches the policy from
//! Stytch once and caches it (5 minutes by default), so permission checks are local.
//!
//! | route | check |
//! |---|---|
//! | `GET /documents` | route layer `require_permission("documents", "read")` |
//! | `POST /documents` | route layer `require_permission("documents", "write")` |
//! | `DELETE /documents/{id}` | in the handler: `session.authorize("documents", "delete")` |
//!
//! With no Stytch credentials set, an embedded emulator serves the policy, sessions for
//! a reader, an editor and an admin are created, and `curl` commands are printed. With
//! `STYTCH_PROJECT_ID` and `STYTCH_SECRET` set, define the same resource and roles in
//! the Stytch dashboard. `LISTEN_ADDR` changes the address (default `127.0.0.1:3001`).

use axum::extract::Path;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use axum_stytch::{StytchLayer, StytchRejection, StytchSession, require_permission};
use serde_json::{Value, json};
use stytch_emulator::{EmulatorHandle, Factor, NewSession};

/// Needs `documents:read` (route layer).
async fn list_documents(session: StytchSession) -> Json<Value> {
    Json(json!({ "documents": ["roadmap.md", "budget.xlsx"], "reader": session.user_id() }))
}

/// Needs `documents:write` (route layer).
async fn create_document(session: StytchSession) -> Json<Value> {
    Json(json!({ "created": "untitled.md", "by": session.user_id() }))
}

/// Checks `documents:delete` itself: useful when the decision needs the request (here
/// only the id, but it could be the document's owner loaded from a database).
async fn delete_document(
    session: StytchSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, StytchRejection> {
    let granted = session.authorize("documents", "delete").await?;
    Ok(Json(json!({
        "deleted": id,
        "by": session.user_id(),
        "granted_by_roles": granted.granting_roles,
    })))
}

/// The application: every route needs a session and a permission.
pub(crate) fn app(stytch: StytchLayer) -> Router {
    Router::new()
        .route(
            "/documents",
            get(list_documents).route_layer(require_permission("documents", "read")),
        )
        // A second `.route` on the same path adds the POST method with its own guard.
        .route(
            "/documents",
            post(create_document).route_layer(require_permission("documents", "write")),
        )
        .route("/documents/{id}", delete(delete_document))
        .layer(stytch)
}

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    examples::init_tracing();
    let stytch = examples::stytch_validator_or_emulator(examples::example_policy()).await?;
    // `StytchLayer::new(validator)`, without `Secure` cookies on the emulator (plain http).
    let layer = stytch.layer();
    let listener = examples::bind("127.0.0.1:3001").await?;
    let base = format!("http://{}", listener.local_addr()?);
    match stytch.emulator() {
        Some(emu) => print_demo(emu, &base),
        None => println!(
            "\nStytch: your project. Define the `documents` resource and the reader/editor/admin\n\
             roles in the dashboard, log in with your frontend, then for example:\n\n\
             curl -si {base}/documents --cookie \"stytch_session_jwt=$JWT\"\n"
        ),
    }
    examples::serve(listener, app(layer)).await
}

/// Creates a reader, an editor and an admin on the emulator and prints curl commands.
fn print_demo(emu: &EmulatorHandle, base: &str) {
    let session = |email: &str, role: &str| {
        emu.create_session(
            NewSession::new()
                .factor(Factor::email_magic_link(email))
                .roles([role]),
        )
        .session_jwt
    };
    let reader = session("rita@example.com", "reader");
    let editor = session("eddie@example.com", "editor");
    let admin = session("ada@example.com", "admin");
    println!(
        r#"
Stytch: embedded emulator at {emu_url} with the example RBAC policy.
Paste into a shell (the JWTs are valid for 5 minutes):

READER='{reader}'
EDITOR='{editor}'
ADMIN='{admin}'

curl -s {base}/documents --cookie "stytch_session_jwt=$READER"                 # 200
curl -si -X POST {base}/documents --cookie "stytch_session_jwt=$READER"        # 403 permission_denied
curl -s -X POST {base}/documents --cookie "stytch_session_jwt=$EDITOR"         # 200
curl -si -X DELETE {base}/documents/roadmap.md --cookie "stytch_session_jwt=$EDITOR"  # 403 permission_denied
curl -s -X DELETE {base}/documents/roadmap.md --cookie "stytch_session_jwt=$ADMIN"    # 200, granted by admin's *
"#,
        emu_url = emu.base_url(),
    );
}

//! B2B: an organization-scoped API for Stytch member sessions.
//!
//! ```sh
//! cargo run --example b2b
//! ```
//!
//! Every route is under `/orgs/{org_id}`. The guard
//! `require_org_permission(org_from_path("org_id"), resource, action)` first checks
//! tenancy (the member belongs to the organization in the path; anyone else gets 403
//! `tenancy_mismatch` without a policy lookup), then the permission over the project's
//! roles plus the organization's own custom roles.
//!
//! | route | needs |
//! |---|---|
//! | `GET /me` | a member session (`StytchMemberSession`) |
//! | `GET /orgs/{org_id}/documents` | `documents:read` in that organization |
//! | `POST /orgs/{org_id}/documents` | `documents:write` in that organization |
//!
//! With no Stytch credentials set, an embedded emulator creates two organizations
//! (Acme, with a custom `acme_auditor` role that may read documents, and Globex), an
//! Acme editor, an Acme auditor and a Globex member, and prints `curl` commands. With
//! `STYTCH_PROJECT_ID` and `STYTCH_SECRET` of a B2B project set, it uses Stytch.
//! `LISTEN_ADDR` changes the address (default `127.0.0.1:3003`).

use axum::routing::get;
use axum::{Json, Router};
use axum_stytch::guard::org_from_path;
use axum_stytch::stytch_validator::Vertical;
use axum_stytch::{StytchLayer, StytchMemberSession, require_org_permission};
use serde_json::{Value, json};
use stytch_emulator::{EmulatorHandle, Factor, NewMemberSession, NewOrganization};

/// Who is calling, and for which organization.
async fn me(member: StytchMemberSession) -> Json<Value> {
    Json(json!({
        "member_id": member.member_id(),
        "organization_id": member.organization_id(),
        "organization_slug": member.organization_slug(),
        "roles": member.roles(),
    }))
}

/// Needs `documents:read` in the path's organization.
async fn list_documents(member: StytchMemberSession) -> Json<Value> {
    Json(json!({ "organization": member.organization_slug(), "documents": ["plan.md"] }))
}

/// Needs `documents:write` in the path's organization.
async fn create_document(member: StytchMemberSession) -> Json<Value> {
    Json(json!({ "organization": member.organization_slug(), "created": "untitled.md" }))
}

/// The application: an organization-scoped API.
pub(crate) fn app(stytch: StytchLayer) -> Router {
    let org = || org_from_path("org_id");
    Router::new()
        .route("/me", get(me))
        .route(
            "/orgs/{org_id}/documents",
            get(list_documents)
                .route_layer(require_org_permission(org(), "documents", "read"))
                .merge(
                    axum::routing::post(create_document).route_layer(require_org_permission(
                        org(),
                        "documents",
                        "write",
                    )),
                ),
        )
        .layer(stytch)
}

/// The project policy: `editor` may read and write documents. Organizations add their
/// own roles on top (see `print_demo`).
pub(crate) fn policy() -> Value {
    json!({
        "roles": [
            {"role_id": "stytch_member", "description": "Every member.", "permissions": []},
            {"role_id": "editor", "description": "Reads and writes documents.", "permissions": [
                {"resource_id": "documents", "actions": ["read", "write"]}
            ]}
        ],
        "resources": [
            {"resource_id": "documents", "description": "Organization documents.", "actions": ["read", "write"]}
        ],
        "scopes": []
    })
}

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    examples::init_tracing();
    let stytch = examples::stytch_or_emulator(Vertical::B2b, policy()).await?;
    let layer = stytch.layer();
    let listener = examples::bind("127.0.0.1:3003").await?;
    let base = format!("http://{}", listener.local_addr()?);
    match stytch.emulator() {
        Some(emu) => print_demo(emu, &base),
        None => println!(
            "\nStytch: your B2B project. Log a member in with your frontend, then for example:\n\n\
             curl -si {base}/me --cookie \"stytch_session_jwt=$JWT\"\n"
        ),
    }
    examples::serve(listener, app(layer)).await
}

/// Seeds two organizations and three members on the emulator and prints curl commands.
fn print_demo(emu: &EmulatorHandle, base: &str) {
    let acme = emu.create_organization(NewOrganization::new("Acme", "acme"));
    let globex = emu.create_organization(NewOrganization::new("Globex", "globex"));
    emu.set_organization_roles(
        &acme,
        json!([{"role_id": "acme_auditor", "description": "Acme's auditors.", "permissions": [
            {"resource_id": "documents", "actions": ["read"]}
        ]}]),
    );
    let session = |org: &str, email: &str, roles: &[&str]| {
        let member = emu.create_member(org, email);
        emu.create_member_session(
            NewMemberSession::new(org, &member)
                .factor(Factor::email_magic_link(email))
                .roles(roles.iter().copied()),
        )
        .session_jwt
    };
    let editor = session(&acme, "eddie@acme.example", &["editor"]);
    let auditor = session(&acme, "audrey@acme.example", &["acme_auditor"]);
    let outsider = session(&globex, "gus@globex.example", &["editor"]);
    println!(
        r#"
Stytch: embedded emulator at {emu_url} (B2B).
Paste into a shell (the JWTs are valid for 5 minutes):

ACME={acme}
GLOBEX={globex}
EDITOR='{editor}'     # Acme, project role editor
AUDITOR='{auditor}'   # Acme, Acme's custom role acme_auditor
OUTSIDER='{outsider}' # Globex, editor

curl -s {base}/me --cookie "stytch_session_jwt=$AUDITOR"                               # 200, Acme
curl -s {base}/orgs/$ACME/documents --cookie "stytch_session_jwt=$AUDITOR"             # 200 via the custom role
curl -si -X POST {base}/orgs/$ACME/documents --cookie "stytch_session_jwt=$AUDITOR"    # 403 permission_denied
curl -s -X POST {base}/orgs/$ACME/documents --cookie "stytch_session_jwt=$EDITOR"      # 200
curl -si {base}/orgs/$ACME/documents --cookie "stytch_session_jwt=$OUTSIDER"           # 403 tenancy_mismatch
"#,
        emu_url = emu.base_url(),
    );
}

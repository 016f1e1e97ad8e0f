//! The b2b example's app: tenancy first, then project and organization roles.

use crate::support;

#[allow(dead_code)] // its `main` and `print_demo` run only as the example
#[path = "../../examples/b2b.rs"]
mod example;

use axum_stytch::stytch_validator::Vertical;
use reqwest::Method;
use stytch_emulator::{NewMemberSession, NewOrganization};
use support::jwt;

#[tokio::test]
async fn members_reach_only_their_organization() {
    let app = support::serve_for(Vertical::B2b, example::policy(), example::app).await;
    let emu = &app.emu;
    let acme = emu.create_organization(NewOrganization::new("Acme", "acme"));
    let globex = emu.create_organization(NewOrganization::new("Globex", "globex"));
    emu.set_organization_roles(
        &acme,
        serde_json::json!([{"role_id": "acme_auditor", "description": "", "permissions": [
            {"resource_id": "documents", "actions": ["read"]}
        ]}]),
    );
    let session = |org: &str, email: &str, role: &str| {
        let member = emu.create_member(org, email);
        jwt(&emu
            .create_member_session(NewMemberSession::new(org, &member).roles([role]))
            .session_jwt)
    };
    let auditor = session(&acme, "a@acme.example", "acme_auditor");
    let editor = session(&acme, "e@acme.example", "editor");
    let outsider = session(&globex, "g@globex.example", "editor");
    let docs = format!("/orgs/{acme}/documents");

    let (status, body) = app.call(Method::GET, "/me", Some(&auditor)).await;
    assert_eq!(
        (status, body["organization_slug"].as_str()),
        (200, Some("acme"))
    );
    assert_eq!(app.call(Method::GET, &docs, Some(&auditor)).await.0, 200);
    let (status, body) = app.call(Method::POST, &docs, Some(&auditor)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("permission_denied"))
    );
    assert_eq!(app.call(Method::POST, &docs, Some(&editor)).await.0, 200);
    let (status, body) = app.call(Method::GET, &docs, Some(&outsider)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("tenancy_mismatch"))
    );
    assert_eq!(app.call(Method::GET, &docs, None).await.0, 401);
}

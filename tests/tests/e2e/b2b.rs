//! B2B member sessions end to end: organization claims, tenancy, custom roles, and the
//! wall between consumer and B2B projects.

use crate::common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_stytch::guard::org_from_path;
use axum_stytch::stytch_validator::Vertical;
use axum_stytch::{StytchLayer, StytchMemberSession, StytchSession, require_org_permission};
use common::{App, json, jwt_cookie, set_cookie};
use stytch_emulator::{CreatedSession, Factor, NewMemberSession, NewOrganization, Route};

async fn whoami(member: StytchMemberSession) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "member_id": member.member_id(),
        "member_session_id": member.member_session_id(),
        "organization_id": member.organization_id(),
        "organization_slug": member.organization_slug(),
        "roles": member.roles(),
        "source": member.source(),
    }))
}

async fn docs(session: StytchSession) -> String {
    session.organization_id().unwrap_or_default().to_owned()
}

fn routes() -> Router {
    Router::new().route("/whoami", get(whoami)).route(
        "/orgs/{org_id}/docs",
        get(docs).route_layer(require_org_permission(
            org_from_path("org_id"),
            "documents",
            "read",
        )),
    )
}

struct Tenants {
    acme: String,
    globex: String,
    auditor: CreatedSession,
    plain: CreatedSession,
}

fn tenants(app: &App) -> Tenants {
    let emu = &app.emu;
    emu.set_b2b_rbac_policy(serde_json::json!({
        "roles": [
            {"role_id": "stytch_member", "description": "", "permissions": []},
            {"role_id": "editor", "description": "", "permissions": [{"resource_id": "documents", "actions": ["read", "write"]}]}
        ],
        "resources": [{"resource_id": "documents", "description": "", "actions": ["read", "write"]}],
        "scopes": []
    }));
    let acme = emu.create_organization(NewOrganization::new("Acme", "acme"));
    let globex = emu.create_organization(NewOrganization::new("Globex", "globex"));
    // A custom role that exists only in Acme.
    emu.set_organization_roles(
        &acme,
        serde_json::json!([{"role_id": "acme_auditor", "description": "", "permissions": [{"resource_id": "documents", "actions": ["read"]}]}]),
    );
    let ada = emu.create_member(&acme, "ada@acme.example");
    let bob = emu.create_member(&acme, "bob@acme.example");
    let auditor = emu.create_member_session(
        NewMemberSession::new(&acme, &ada)
            .factor(Factor::sso_oidc())
            .roles(["acme_auditor"]),
    );
    let plain = emu.create_member_session(NewMemberSession::new(&acme, &bob));
    Tenants {
        acme,
        globex,
        auditor,
        plain,
    }
}

async fn b2b_app() -> App {
    App::start_with(routes(), |b| b.vertical(Vertical::B2b), StytchLayer::new).await
}

#[tokio::test]
async fn a_member_jwt_verifies_locally_with_its_organization() {
    let app = b2b_app().await;
    let t = tenants(&app);
    let response = app
        .get_with_cookie("/whoami", &jwt_cookie(&t.auditor.session_jwt))
        .await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["organization_id"], t.acme.as_str());
    assert_eq!(body["organization_slug"], "acme");
    assert_eq!(body["member_id"], t.auditor.user_id.as_str());
    assert_eq!(body["member_session_id"], t.auditor.session_id.as_str());
    assert_eq!(body["source"], "local_jwt");
    assert!(
        body["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "stytch_member")
    );
    assert_eq!(app.emu.request_count(Route::B2bAuthenticate), 0);
    assert_eq!(
        app.emu.request_count(Route::B2bJwks),
        1,
        "the B2B JWKS path"
    );
    assert_eq!(app.emu.request_count(Route::Jwks), 0);
}

#[tokio::test]
async fn an_expired_member_jwt_is_refreshed_remotely() {
    let app = b2b_app().await;
    let t = tenants(&app);
    app.advance(Duration::from_secs(600));
    let response = app
        .get_with_cookie("/whoami", &jwt_cookie(&t.auditor.session_jwt))
        .await;
    assert_eq!(response.status(), 200);
    assert!(set_cookie(&response, "stytch_session_jwt").is_some());
    let body = json(response).await;
    assert_eq!(body["source"], "remote");
    assert_eq!(body["organization_id"], t.acme.as_str());
    assert_eq!(body["organization_slug"], "acme");
    assert_eq!(app.emu.request_count(Route::B2bAuthenticate), 1);
}

#[tokio::test]
async fn tenancy_is_checked_first_and_custom_roles_grant() {
    let app = b2b_app().await;
    let t = tenants(&app);
    // Acme's custom role grants reading Acme's documents.
    let response = app
        .get_with_cookie(
            &format!("/orgs/{}/docs", t.acme),
            &jwt_cookie(&t.auditor.session_jwt),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), t.acme);
    // Another organization's path: 403 tenancy, without asking Stytch or loading a policy.
    let policy_fetches = app.emu.request_count(Route::B2bRbacPolicy)
        + app.emu.request_count(Route::B2bOrganizationPolicy);
    let response = app
        .get_with_cookie(
            &format!("/orgs/{}/docs", t.globex),
            &jwt_cookie(&t.auditor.session_jwt),
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(json(response).await["error"], "tenancy_mismatch");
    assert_eq!(app.emu.request_count(Route::B2bAuthenticate), 0);
    assert_eq!(
        app.emu.request_count(Route::B2bRbacPolicy)
            + app.emu.request_count(Route::B2bOrganizationPolicy),
        policy_fetches
    );
    // A member without the custom role is denied by the policy.
    let response = app
        .get_with_cookie(
            &format!("/orgs/{}/docs", t.acme),
            &jwt_cookie(&t.plain.session_jwt),
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(json(response).await["error"], "permission_denied");
}

#[tokio::test]
async fn consumer_and_b2b_tokens_do_not_cross_over() {
    // A consumer token presented to a B2B project.
    let app = b2b_app().await;
    let consumer = app.session(&[Factor::password()], &[]);
    let response = app
        .get_with_cookie("/whoami", &jwt_cookie(&consumer.session_jwt))
        .await;
    assert_eq!(response.status(), 401);
    let reason = json(response).await["error"].as_str().unwrap().to_owned();
    assert!(
        ["jwt_consumer_token_for_b2b_project", "jwt_unknown_key"].contains(&reason.as_str()),
        "{reason}"
    );

    // A member token presented to a consumer project.
    let app = App::start(routes(), StytchLayer::new).await;
    let t = tenants(&app);
    let response = app
        .get_with_cookie("/whoami", &jwt_cookie(&t.auditor.session_jwt))
        .await;
    assert_eq!(response.status(), 401);
    let reason = json(response).await["error"].as_str().unwrap().to_owned();
    assert!(
        ["jwt_b2b_token_for_consumer_project", "jwt_unknown_key"].contains(&reason.as_str()),
        "{reason}"
    );
    assert_eq!(
        app.calls() + app.emu.request_count(Route::B2bAuthenticate),
        0
    );
}

#[tokio::test]
async fn the_member_extractor_under_a_consumer_layer_names_the_fix() {
    let app = App::start(routes(), StytchLayer::new).await;
    let consumer = app.session(&[Factor::password()], &[]);
    let response = app
        .get_with_cookie("/whoami", &jwt_cookie(&consumer.session_jwt))
        .await;
    assert_eq!(response.status(), 500);
    assert!(response.text().await.unwrap().contains("Vertical::B2b"));
}

//! The official `stytch` crate (strict serde structs) against the emulator.

use serde_json::json;
use stytch::client::{Client as HttpClient, Vertical};
use stytch::consumer::sessions::{
    AuthenticateRequest, AuthorizationCheck, GetJWKSRequest, RevokeRequest,
};
use stytch_emulator::{
    EmulatorHandle, Factor, Fault, NewMemberSession, NewOrganization, NewSession, NewUser, Route,
};

use crate::support::start;

fn consumer(emu: &EmulatorHandle, secret: &str) -> stytch::consumer::client::Client {
    let url = reqwest::Url::parse(&emu.base_url()).expect("url");
    let http = HttpClient::new_with_base_url(emu.project_id(), secret, url, Vertical::Consumer)
        .expect("client");
    stytch::consumer::client::Client::new_with_http_client(http.clone(), http)
}

fn b2b(emu: &EmulatorHandle) -> stytch::b2b::client::Client {
    let url = reqwest::Url::parse(&emu.base_url()).expect("url");
    let http = HttpClient::new_with_base_url(emu.project_id(), emu.secret(), url, Vertical::B2B)
        .expect("client");
    stytch::b2b::client::Client::new_with_http_client(http.clone(), http)
}

/// The `error_type` and status of an `Error::Response`.
fn response_error<T: std::fmt::Debug>(r: stytch::Result<T>) -> (String, u16) {
    match r {
        Err(stytch::Error::Response(e)) => (e.error_type, e.status_code.as_u16()),
        other => panic!("expected Error::Response, got {other:?}"),
    }
}

fn by_token(token: &str) -> AuthenticateRequest {
    AuthenticateRequest {
        session_token: Some(token.to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn consumer_authenticate_jwks_policy_and_revoke() {
    let emu = start().await;
    let user_id = emu.create_user(
        NewUser::new()
            .email("ada@example.com")
            .phone("+15555550100")
            .name("Ada", "Lovelace"),
    );
    let s = emu.create_session(
        NewSession::new()
            .user_id(&user_id)
            .factor(Factor::email_magic_link("ada@example.com"))
            .factor(Factor::sms_otp("+15555550100"))
            .factor(Factor::totp())
            .factor(Factor::oauth("google", "1234"))
            .factor(Factor::webauthn("example.com"))
            .factor(Factor::password()),
    );
    let client = consumer(&emu, emu.secret());

    let by_tok = client
        .sessions
        .authenticate(by_token(&s.session_token))
        .await
        .expect("by token");
    assert_eq!(by_tok.session.session_id, s.session_id);
    assert_eq!(by_tok.session.user_id, user_id);
    assert_eq!(by_tok.user.user_id, user_id);
    assert_eq!(by_tok.session_token, s.session_token);
    assert_eq!(by_tok.session.roles, vec!["stytch_user".to_owned()]);
    assert_eq!(by_tok.session.authentication_factors.len(), 6);
    assert_eq!(by_tok.user.emails[0].email, "ada@example.com");
    assert!(by_tok.session_jwt.starts_with("eyJ"));
    assert_eq!(by_tok.status_code.as_u16(), 200);

    let by_jwt = client
        .sessions
        .authenticate(AuthenticateRequest {
            session_jwt: Some(s.session_jwt.clone()),
            ..Default::default()
        })
        .await
        .expect("by jwt");
    assert_eq!(by_jwt.session.session_id, s.session_id);
    assert_eq!(by_jwt.session_token, s.session_token);

    let jwks = client
        .sessions
        .get_jwks(GetJWKSRequest {
            project_id: emu.project_id().to_owned(),
        })
        .await
        .expect("jwks");
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(jwks.keys[0].kid, emu.current_kid());
    assert_eq!(jwks.keys[0].use_, "sig");
    assert_eq!(jwks.keys[0].key_ops, vec!["verify".to_owned()]);
    assert_eq!(jwks.keys[0].x5c.len(), 1);

    let policy = client
        .rbac
        .policy(stytch::consumer::rbac::PolicyRequest {})
        .await
        .expect("policy");
    let policy = policy.policy.expect("policy object");
    assert!(policy.roles.iter().any(|r| r.role_id == "stytch_user"));
    assert!(policy.scopes.is_empty());

    client
        .sessions
        .revoke(RevokeRequest {
            session_id: Some(s.session_id.clone()),
            ..Default::default()
        })
        .await
        .expect("revoke");
    let gone = client
        .sessions
        .authenticate(by_token(&s.session_token))
        .await;
    assert_eq!(response_error(gone), ("session_not_found".to_owned(), 404));
}

#[tokio::test]
async fn consumer_documented_errors() {
    let emu = start().await;
    let s = emu.create_session(NewSession::new());
    let client = consumer(&emu, emu.secret());

    let both = client
        .sessions
        .authenticate(AuthenticateRequest {
            session_token: Some(s.session_token.clone()),
            session_jwt: Some(s.session_jwt.clone()),
            ..Default::default()
        })
        .await;
    assert_eq!(
        response_error(both),
        ("too_many_session_arguments".to_owned(), 400)
    );

    let unknown = client
        .sessions
        .authenticate(by_token("59cnLELtq5cFVS6uYK9f-pAWzBkhqZl8AvLhbhOvKNWw"))
        .await;
    assert_eq!(
        response_error(unknown),
        ("session_not_found".to_owned(), 404)
    );

    let wrong_secret = consumer(&emu, "secret-test-wrong")
        .sessions
        .authenticate(by_token(&s.session_token))
        .await;
    assert_eq!(
        response_error(wrong_secret),
        ("unauthorized_credentials".to_owned(), 401)
    );

    emu.inject_fault(Route::Authenticate, Fault::status(429).times(1));
    let limited = client
        .sessions
        .authenticate(by_token(&s.session_token))
        .await;
    assert_eq!(
        response_error(limited),
        ("too_many_requests".to_owned(), 429)
    );
    client
        .sessions
        .authenticate(by_token(&s.session_token))
        .await
        .expect("fault used up");
    assert_eq!(emu.request_count(Route::Authenticate), 5);

    // The sandbox session authenticates with its documented ids.
    let sandbox = client
        .sessions
        .authenticate(by_token("WJtR5BCy38Szd5AfoDpf0iqFKEt4EE5JhjlWUY7l3FtY"))
        .await
        .expect("sandbox");
    assert_eq!(
        sandbox.session.user_id,
        "user-test-e3795c81-f849-4167-bfda-e4a6e9c280fd"
    );
    assert_eq!(
        sandbox.session.session_id,
        "session-test-eb94233f-8800-4ebd-8645-51dc15f9d028"
    );
    assert_eq!(
        sandbox
            .session
            .started_at
            .map(|t| t.to_rfc3339())
            .as_deref(),
        Some("2021-08-28T00:41:58.935673+00:00")
    );
}

#[tokio::test]
async fn consumer_authorization_check_claims_and_duration() {
    let emu = start().await;
    emu.set_rbac_policy(json!({
        "roles": [
            {"role_id": "stytch_user", "permissions": []},
            {"role_id": "editor", "description": "Edits", "permissions": [{"resource_id": "documents", "actions": ["read", "write"]}]},
        ],
        "resources": [{"resource_id": "documents", "actions": ["read", "write", "delete"]}],
    }));
    let s = emu.create_session(
        NewSession::new()
            .roles(["editor"])
            .custom_claims(json!({"tenant": "acme", "drop": 1})),
    );
    let client = consumer(&emu, emu.secret());
    let check = |action: &str| AuthorizationCheck {
        resource_id: "documents".into(),
        action: action.into(),
    };

    let allowed = client
        .sessions
        .authenticate(AuthenticateRequest {
            session_token: Some(s.session_token.clone()),
            authorization_check: Some(check("write")),
            session_custom_claims: Some(json!({"drop": null, "plan": "pro"})),
            session_duration_minutes: Some(120),
            ..Default::default()
        })
        .await
        .expect("allowed");
    let verdict = allowed.verdict.expect("verdict");
    assert!(verdict.authorized);
    assert_eq!(verdict.granting_roles, vec!["editor".to_owned()]);
    assert_eq!(
        allowed.session.custom_claims,
        Some(json!({"tenant": "acme", "plan": "pro"}))
    );
    let expires = allowed.session.expires_at.expect("expires_at").timestamp();
    assert!(
        (expires - (emu.now_unix() + 7200)).abs() <= 2,
        "extended to now + 120 min"
    );

    let denied = client
        .sessions
        .authenticate(AuthenticateRequest {
            session_token: Some(s.session_token.clone()),
            authorization_check: Some(check("delete")),
            ..Default::default()
        })
        .await;
    assert_eq!(
        response_error(denied),
        ("consumer_session_authorization_error".to_owned(), 403)
    );

    let reserved = client
        .sessions
        .authenticate(AuthenticateRequest {
            session_token: Some(s.session_token.clone()),
            session_custom_claims: Some(json!({"sub": "x"})),
            ..Default::default()
        })
        .await;
    assert_eq!(
        response_error(reserved),
        ("reserved_claims_in_custom_claims".to_owned(), 400)
    );

    let bad_duration = client
        .sessions
        .authenticate(AuthenticateRequest {
            session_token: Some(s.session_token.clone()),
            session_duration_minutes: Some(4),
            ..Default::default()
        })
        .await;
    assert_eq!(
        response_error(bad_duration),
        ("invalid_session_duration_minutes".to_owned(), 400)
    );
}

#[tokio::test]
async fn b2b_authenticate_revoke_and_policies() {
    use stytch::b2b::sessions::{
        AuthenticateRequest as B2bAuthenticate, AuthorizationCheck as B2bCheck,
        RevokeRequest as B2bRevoke,
    };

    let emu = start().await;
    let org = emu.create_organization(NewOrganization::new("Acme", "acme"));
    let other_org = emu.create_organization(NewOrganization::new("Other", "other"));
    emu.set_organization_roles(
        &org,
        json!([{"role_id": "auditor", "permissions": [{"resource_id": "reports", "actions": ["*"]}]}]),
    );
    let member = emu.create_member(&org, "grace@acme.test");
    let s = emu.create_member_session(
        NewMemberSession::new(&org, &member)
            .roles(["auditor"])
            .factor(Factor::sso_oidc()),
    );
    assert_eq!(s.organization_id.as_deref(), Some(org.as_str()));
    let client = b2b(&emu);

    let check = |org_id: &str| B2bCheck {
        organization_id: org_id.into(),
        resource_id: "reports".into(),
        action: "export".into(),
    };
    let ok = client
        .sessions
        .authenticate(B2bAuthenticate {
            session_token: Some(s.session_token.clone()),
            authorization_check: Some(check(&org)),
            ..Default::default()
        })
        .await
        .expect("b2b authenticate");
    assert_eq!(ok.member_session.member_session_id, s.session_id);
    assert_eq!(ok.member_session.organization_slug, "acme");
    assert_eq!(
        ok.member_session.roles,
        vec!["stytch_member".to_owned(), "auditor".to_owned()]
    );
    assert_eq!(ok.member.member_id, member);
    assert_eq!(ok.member.email_address, "grace@acme.test");
    assert_eq!(ok.organization.organization_id, org);
    assert_eq!(ok.organization.custom_roles[0].role_id, "auditor");
    assert_eq!(
        ok.verdict.expect("verdict").granting_roles,
        vec!["auditor".to_owned()]
    );

    let by_jwt = client
        .sessions
        .authenticate(B2bAuthenticate {
            session_jwt: Some(s.session_jwt.clone()),
            ..Default::default()
        })
        .await
        .expect("b2b by jwt");
    assert_eq!(by_jwt.member_session.member_id, member);

    let tenancy = client
        .sessions
        .authenticate(B2bAuthenticate {
            session_token: Some(s.session_token.clone()),
            authorization_check: Some(check(&other_org)),
            ..Default::default()
        })
        .await;
    assert_eq!(
        response_error(tenancy),
        ("session_authorization_tenancy_error".to_owned(), 403)
    );

    let policy = client
        .rbac
        .policy(stytch::b2b::rbac::PolicyRequest {})
        .await
        .expect("b2b policy");
    assert!(
        policy
            .policy
            .expect("policy")
            .roles
            .iter()
            .any(|r| r.role_id == "stytch_member")
    );
    let org_policy = client
        .rbac
        .organizations
        .get_org_policy(stytch::b2b::rbac_organizations::GetOrgPolicyRequest {
            organization_id: org.clone(),
        })
        .await
        .expect("org policy");
    assert_eq!(org_policy.org_policy.roles[0].role_id, "auditor");

    client
        .sessions
        .revoke(B2bRevoke {
            member_session_id: Some(s.session_id.clone()),
            ..Default::default()
        })
        .await
        .expect("b2b revoke");
    let gone = client
        .sessions
        .authenticate(B2bAuthenticate {
            session_token: Some(s.session_token.clone()),
            ..Default::default()
        })
        .await;
    assert_eq!(response_error(gone), ("session_not_found".to_owned(), 404));

    // A consumer session is not a B2B session.
    let consumer_session = emu.create_session(NewSession::new());
    let cross = client
        .sessions
        .authenticate(B2bAuthenticate {
            session_token: Some(consumer_session.session_token),
            ..Default::default()
        })
        .await;
    assert_eq!(response_error(cross), ("session_not_found".to_owned(), 404));
}

//! The HTTP control surface under `/_emulator/`.

use serde_json::{Value, json};
use stytch_emulator::Route;

use crate::support::{assert_error, get, http, post, start};

async fn control(
    emu: &stytch_emulator::EmulatorHandle,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let url = format!("{}/_emulator{path}", emu.base_url());
    let req = match method {
        "GET" => http().get(url),
        "PUT" => http().put(url).json(&body),
        "DELETE" => http().delete(url),
        _ => http().post(url).json(&body),
    };
    let res = req.send().await.expect("sent");
    let status = res.status().as_u16();
    (status, res.json().await.expect("json"))
}

#[tokio::test]
async fn consumer_sessions_counters_faults_clock_and_keys_over_http() {
    let emu = start().await;
    let (status, user) = control(
        &emu,
        "POST",
        "/users",
        json!({"email": "http@example.com", "roles": ["editor"]}),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    let user_id = user["user_id"].as_str().expect("user_id").to_owned();

    let (status, created) = control(
        &emu,
        "POST",
        "/sessions",
        json!({"user_id": user_id, "factors": [{"kind": "email_otp", "email": "http@example.com"}, {"kind": "totp"}],
               "custom_claims": {"k": "v"}, "duration_minutes": 30}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["user_id"], user_id.as_str());
    assert!(created["organization_id"].is_null());
    let token = created["session_token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 44);

    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_token": token}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["session"]["roles"], json!(["stytch_user", "editor"]));
    assert_eq!(
        body["session"]["authentication_factors"][0]["type"],
        "email_otp"
    );
    assert_eq!(body["session"]["custom_claims"], json!({"k": "v"}));

    let (_, counters) = control(&emu, "GET", "/counters", Value::Null).await;
    assert_eq!(counters["authenticate"], 1);
    assert_eq!(counters["jwks"], 0);
    control(&emu, "POST", "/counters/reset", Value::Null).await;
    assert_eq!(emu.request_count(Route::Authenticate), 0);

    let (status, _) = control(&emu, "POST", "/faults", json!({"route": "authenticate", "kind": "status", "status": 429, "times": 1, "retry_after": 3})).await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_token": token}),
    )
    .await;
    assert_error(status, &body, 429, "too_many_requests");
    let (status, body) = control(
        &emu,
        "POST",
        "/faults",
        json!({"route": "nope", "kind": "status", "status": 500}),
    )
    .await;
    assert_error(status, &body, 400, "invalid_request_value");
    control(
        &emu,
        "POST",
        "/faults",
        json!({"route": "authenticate", "kind": "status", "status": 500}),
    )
    .await;
    control(&emu, "DELETE", "/faults", Value::Null).await;
    assert_eq!(
        post(
            &emu,
            "/v1/sessions/authenticate",
            json!({"session_token": token})
        )
        .await
        .0,
        200
    );

    let session_id = created["session_id"].as_str().expect("id");
    let (status, minted) = control(
        &emu,
        "POST",
        &format!("/sessions/{session_id}/jwt"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        minted["session_jwt"]
            .as_str()
            .is_some_and(|j| j.starts_with("eyJ"))
    );

    let before = emu.now_unix();
    let (_, clock) = control(&emu, "POST", "/clock/advance", json!({"seconds": 3600})).await;
    assert!(clock["now_unix"].as_i64().expect("now_unix") >= before + 3600);
    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_token": token}),
    )
    .await;
    assert_error(status, &body, 404, "session_not_found");
    let (status, body) = control(
        &emu,
        "POST",
        &format!("/sessions/{session_id}/jwt"),
        Value::Null,
    )
    .await;
    assert_error(status, &body, 404, "session_not_found");

    let (_, rotated) = control(&emu, "POST", "/keys/rotate", Value::Null).await;
    assert_eq!(rotated["kid"].as_str(), Some(emu.current_kid().as_str()));
    let (_, keys) = control(&emu, "GET", "/keys", Value::Null).await;
    assert_eq!(keys["keys"].as_array().map(Vec::len), Some(2));

    let (_, policy) = control(
        &emu,
        "PUT",
        "/rbac/policy",
        json!({"roles": [{"role_id": "r"}], "resources": []}),
    )
    .await;
    assert_eq!(policy["policy"]["scopes"], json!([]));
    let (status, served) = get(&emu, "/v1/rbac/policy").await;
    assert_eq!(status, 200);
    assert_eq!(
        served["policy"]["roles"][0],
        json!({"role_id": "r", "description": "", "permissions": []})
    );

    let (status, body) = control(
        &emu,
        "POST",
        "/sessions",
        json!({"user_id": "user-test-missing"}),
    )
    .await;
    assert_error(status, &body, 404, "user_not_found");
    let res = http()
        .post(format!("{}/_emulator/users", emu.base_url()))
        .body("{oops")
        .send()
        .await
        .expect("sent");
    let status = res.status().as_u16();
    assert_error(status, &res.json().await.expect("json"), 400, "bad_request");
}

#[tokio::test]
async fn b2b_seeding_over_http() {
    let emu = start().await;
    let (_, org) = control(
        &emu,
        "POST",
        "/b2b/organizations",
        json!({"organization_name": "Acme", "organization_slug": "acme"}),
    )
    .await;
    let org_id = org["organization_id"].as_str().expect("org").to_owned();
    let (status, _) = control(
        &emu,
        "PUT",
        &format!("/b2b/organizations/{org_id}/roles"),
        json!([{"role_id": "viewer", "permissions": [{"resource_id": "docs", "actions": ["read"]}]}]),
    )
    .await;
    assert_eq!(status, 200);
    let (_, member) = control(
        &emu,
        "POST",
        "/b2b/members",
        json!({"organization_id": org_id, "email_address": "a@acme.test"}),
    )
    .await;
    let member_id = member["member_id"].as_str().expect("member").to_owned();
    let (status, created) = control(
        &emu,
        "POST",
        "/b2b/sessions",
        json!({"organization_id": org_id, "member_id": member_id, "roles": ["viewer"]}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["organization_id"], org_id.as_str());

    let (status, body) = post(
        &emu,
        "/v1/b2b/sessions/authenticate",
        json!({"session_jwt": created["session_jwt"],
               "authorization_check": {"organization_id": org_id, "resource_id": "docs", "action": "read"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["verdict"],
        json!({"authorized": true, "granting_roles": ["viewer"]})
    );
    assert_eq!(body["member"]["roles"][0]["role_id"], "stytch_member");

    let (status, body) = get(&emu, &format!("/v1/b2b/rbac/organizations/{org_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["org_policy"]["roles"][0]["role_id"], "viewer");
    let (status, body) = get(&emu, "/v1/b2b/rbac/organizations/organization-test-missing").await;
    assert_error(status, &body, 404, "organization_not_found");

    let (status, _) = post(
        &emu,
        "/v1/b2b/sessions/revoke",
        json!({"member_id": member_id}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &emu,
        "/v1/b2b/sessions/authenticate",
        json!({"session_token": created["session_token"]}),
    )
    .await;
    assert_error(status, &body, 404, "session_not_found");
    assert_eq!(emu.request_count(Route::B2bRevoke), 1);
    assert_eq!(emu.request_count(Route::B2bOrganizationPolicy), 2);
}

//! The quickstart example's app, served over loopback against the emulator.

use crate::support;

#[allow(dead_code)] // its `main` and `print_*` run only as the example
#[path = "../../examples/quickstart.rs"]
mod example;

use reqwest::Method;
use reqwest::header::SET_COOKIE;
use serde_json::json;
use stytch_emulator::{Factor, NewSession};
use support::jwt;

#[tokio::test]
async fn public_session_role_and_mfa_routes_answer_as_documented() {
    let app = support::serve(example::app).await;
    let one = app.emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("ada@example.com"))
            .custom_claims(json!({ "plan": "free" })),
    );
    let two = app.emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("grace@example.com"))
            .factor(Factor::totp()),
    );
    let admin = app.emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("root@example.com"))
            .roles(["admin"]),
    );

    let home = app
        .request(Method::GET, "/", None)
        .send()
        .await
        .expect("GET /");
    assert_eq!(home.status(), 200);

    assert_eq!(app.call(Method::GET, "/me", None).await.0, 401);

    let (status, me) = app
        .call(Method::GET, "/me", Some(&jwt(&one.session_jwt)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["user_id"], one.user_id.as_str());
    assert_eq!(me["session_id"], one.session_id.as_str());
    assert_eq!(me["custom_claims"]["plan"], "free");
    assert_eq!(me["authentication_factors"][0]["type"], "magic_link");

    let (status, body) = app
        .call(Method::GET, "/admin", Some(&jwt(&one.session_jwt)))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("missing_role"))
    );
    let admin_jwt = jwt(&admin.session_jwt);
    assert_eq!(
        app.call(Method::GET, "/admin", Some(&admin_jwt)).await.0,
        200
    );

    let (status, body) = app
        .call(Method::POST, "/transfer", Some(&jwt(&one.session_jwt)))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_factors"))
    );
    let (status, body) = app
        .call(Method::POST, "/transfer", Some(&jwt(&two.session_jwt)))
        .await;
    assert_eq!((status, body["transferred"].as_bool()), (200, Some(true)));
}

#[tokio::test]
async fn a_session_token_alone_is_answered_with_a_fresh_jwt_cookie() {
    let app = support::serve(example::app).await;
    let one = app
        .emu
        .create_session(NewSession::new().factor(Factor::email_magic_link("ada@example.com")));
    let response = app
        .request(
            Method::GET,
            "/me",
            Some(&format!("stytch_session={}", one.session_token)),
        )
        .send()
        .await
        .expect("GET /me");
    assert_eq!(response.status(), 200);
    let cookies: Vec<String> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("stytch_session_jwt=eyJ")),
        "{cookies:?}"
    );
    // The demo serves plain http, so the example turns `Secure` off on the emulator.
    assert!(cookies.iter().all(|c| !c.contains("Secure")), "{cookies:?}");
    let me: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(me["user_id"], one.user_id.as_str());
}

//! The step_up example's app: TOTP plus recent authentication, friendly denials, and
//! the login redirect.

use crate::support;

#[allow(dead_code)] // its `main` and `print_demo` run only as the example
#[path = "../../examples/step_up.rs"]
mod example;

use reqwest::Method;
use reqwest::header::{ACCEPT, LOCATION};
use serde_json::json;
use stytch_emulator::{Factor, NewSession};
use support::jwt;

#[tokio::test]
async fn sensitive_actions_need_a_recent_totp_login() {
    let app = support::serve(example::app).await;
    let an_hour_ago = app.emu.now() - time::Duration::hours(1);
    let stale = jwt(&app
        .emu
        .create_session(
            NewSession::new()
                .factor(Factor::email_magic_link("sam@example.com").authenticated_at(an_hour_ago))
                .factor(Factor::totp().authenticated_at(an_hour_ago)),
        )
        .session_jwt);
    let fresh = jwt(&app
        .emu
        .create_session(
            NewSession::new()
                .factor(Factor::email_magic_link("fay@example.com"))
                .factor(Factor::totp()),
        )
        .session_jwt);
    let email_only = jwt(&app
        .emu
        .create_session(NewSession::new().factor(Factor::email_magic_link("eve@example.com")))
        .session_jwt);

    assert_eq!(app.call(Method::GET, "/account", Some(&stale)).await.0, 200);

    let (status, body) = app.call(Method::POST, "/payout", Some(&stale)).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "reauthentication_required");
    assert_eq!(
        body["step_up"]["factor"], "totp",
        "the custom handler answered"
    );
    let (status, body) = app.call(Method::POST, "/payout", Some(&email_only)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("missing_factor"))
    );
    assert_eq!(app.call(Method::POST, "/payout", Some(&fresh)).await.0, 200);

    let transfer = |amount: u64, cookie: &str| {
        app.request(Method::POST, "/transfer", Some(cookie))
            .json(&json!({ "amount": amount }))
            .send()
    };
    let small = transfer(50, &stale).await.expect("small transfer");
    assert_eq!(small.status(), 200);
    let large = transfer(500, &stale).await.expect("large transfer");
    assert_eq!(large.status(), 403);
    let body: serde_json::Value = large.json().await.expect("JSON");
    assert_eq!(
        body["step_up"]["within_seconds"], 300,
        "mapped like the layer's"
    );
    assert_eq!(transfer(500, &fresh).await.expect("large").status(), 200);
}

#[tokio::test]
async fn browsers_without_a_session_go_to_the_login_page() {
    let app = support::serve(example::app).await;
    let browser = app
        .request(Method::GET, "/account", None)
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("GET /account");
    assert_eq!(browser.status(), 303);
    assert_eq!(browser.headers()[LOCATION], "/login");
    assert_eq!(app.call(Method::GET, "/account", None).await.0, 401);
    let login = app
        .request(Method::GET, "/login", None)
        .send()
        .await
        .expect("GET /login");
    assert_eq!(login.status(), 200);
}

//! The rbac example's app: permissions from the policy, in layers and in a handler.

use crate::support;

#[allow(dead_code)] // its `main` and `print_demo` run only as the example
#[path = "../../examples/rbac.rs"]
mod example;

use reqwest::Method;
use stytch_emulator::{Factor, NewSession};
use support::jwt;

#[tokio::test]
async fn roles_grant_what_the_policy_says() {
    let app = support::serve(example::app).await;
    let session = |role: &str| {
        jwt(&app
            .emu
            .create_session(NewSession::new().factor(Factor::password()).roles([role]))
            .session_jwt)
    };
    let (reader, editor, admin) = (session("reader"), session("editor"), session("admin"));

    assert_eq!(app.call(Method::GET, "/documents", None).await.0, 401);
    assert_eq!(
        app.call(Method::GET, "/documents", Some(&reader)).await.0,
        200
    );
    let (status, body) = app.call(Method::POST, "/documents", Some(&reader)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("permission_denied"))
    );
    assert_eq!(
        app.call(Method::POST, "/documents", Some(&editor)).await.0,
        200
    );

    let (status, body) = app
        .call(Method::DELETE, "/documents/roadmap.md", Some(&editor))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("permission_denied"))
    );
    let (status, body) = app
        .call(Method::DELETE, "/documents/roadmap.md", Some(&admin))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["deleted"], "roadmap.md");
    assert_eq!(body["granted_by_roles"], serde_json::json!(["admin"]));
}

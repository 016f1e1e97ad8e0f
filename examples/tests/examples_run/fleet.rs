//! The fleet example's app on one instance, without Redis: a logout clears the cookies
//! and the session is refused from then on (the fleet-wide part is tested against a real
//! Redis in `tests/tests/e2e/fleet.rs`).

use crate::support;

#[allow(dead_code)] // its `main` runs only as the example
#[path = "../../examples/fleet.rs"]
mod example;

use reqwest::Method;
use stytch_emulator::{NewSession, Route};
use support::jwt;

#[tokio::test]
async fn a_logout_clears_the_cookies_and_the_session_is_refused_after() {
    let app = support::serve(example::app).await;
    let session = app.emu.create_session(NewSession::new());
    let cookie = jwt(&session.session_jwt);
    assert_eq!(app.call(Method::GET, "/me", Some(&cookie)).await.0, 200);
    let response = app
        .request(Method::POST, "/logout", Some(&cookie))
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), 200);
    let cleared = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter(|v| v.to_str().is_ok_and(|v| v.contains("Max-Age=0")))
        .count();
    assert_eq!(cleared, 2);
    assert_eq!(app.emu.request_count(Route::Revoke), 1);
    let (status, body) = app.call(Method::GET, "/me", Some(&cookie)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("session_revoked"))
    );
}

//! `StytchLayer` end to end: credentials in, sessions to handlers, cookies out.

use crate::common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_stytch::layer::{CredentialSource, Mode};
use axum_stytch::{StytchLayer, StytchSession};
use common::{App, json, jwt_cookie, set_cookie};
use stytch_emulator::{Factor, Fault, Route};

async fn me(session: StytchSession) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "session_id": session.session_id(),
        "user_id": session.user_id(),
        "roles": session.roles(),
        "source": session.source(),
        "plan": session.custom_claim::<String>("plan"),
    }))
}

async fn maybe(session: Option<StytchSession>) -> String {
    session.map_or_else(|| "anonymous".to_owned(), |s| s.user_id().to_owned())
}

fn routes() -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
}

#[tokio::test]
async fn a_jwt_cookie_reaches_the_handler_as_a_session() {
    let app = App::start(routes(), StytchLayer::new).await;
    let s = app.emu.create_session(
        stytch_emulator::NewSession::new()
            .roles(["editor"])
            .custom_claims(serde_json::json!({"plan": "pro"})),
    );
    let response = app
        .get_with_cookie(
            "/me",
            &format!("theme=dark; {}", jwt_cookie(&s.session_jwt)),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        set_cookie(&response, "stytch_session_jwt").is_none(),
        "nothing to refresh"
    );
    let body = json(response).await;
    assert_eq!(body["session_id"], s.session_id.as_str());
    assert_eq!(body["user_id"], s.user_id.as_str());
    assert_eq!(body["source"], "local_jwt");
    assert_eq!(body["plan"], "pro");
    assert!(
        body["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "editor")
    );
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn bearer_tokens_work_and_missing_credentials_are_401() {
    let app = App::start(routes(), StytchLayer::new).await;
    let s = app.session(&[Factor::password()], &[]);
    let response = app
        .http
        .get(app.url("/me"))
        .bearer_auth(&s.session_jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["user_id"], s.user_id.as_str());

    let response = app.http.get(app.url("/me")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="stytch""#
    );
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = json(response).await;
    assert_eq!(body["error"], "missing_credentials");
    assert!(body["error_description"].is_string());

    let response = app
        .get_with_cookie("/me", "stytch_session_jwt=garbage.garbage.garbage")
        .await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn optional_mode_runs_the_handler_without_a_session() {
    let app = App::start(routes(), |v| StytchLayer::new(v).with_mode(Mode::Optional)).await;
    let response = app.http.get(app.url("/maybe")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "anonymous");
    let s = app.session(&[Factor::password()], &[]);
    let response = app
        .get_with_cookie("/maybe", &jwt_cookie(&s.session_jwt))
        .await;
    assert_eq!(response.text().await.unwrap(), s.user_id);
    // Bad credentials are still refused in optional mode...
    let response = app
        .get_with_cookie("/maybe", "stytch_session_jwt=a.b.c")
        .await;
    assert_eq!(response.status(), 401);
    // ...and a required extractor under the optional layer answers 401, not 500.
    let response = app.http.get(app.url("/me")).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn optional_mode_can_ignore_invalid_credentials() {
    let app = App::start(routes(), |v| {
        StytchLayer::new(v).with_mode(Mode::OptionalIgnoringInvalid)
    })
    .await;
    let response = app
        .get_with_cookie("/maybe", "stytch_session_jwt=a.b.c")
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "anonymous");
}

#[tokio::test]
async fn an_expired_jwt_is_refreshed_into_new_cookies() {
    let app = App::start(routes(), StytchLayer::new).await;
    let s = app.session(&[Factor::email_magic_link("ada@example.com")], &[]);
    app.advance(Duration::from_secs(600));
    let response = app
        .get_with_cookie("/me", &jwt_cookie(&s.session_jwt))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.calls(), 1);
    let jwt_cookie_header =
        set_cookie(&response, "stytch_session_jwt").expect("a refreshed JWT cookie");
    let token_cookie = set_cookie(&response, "stytch_session").expect("the token cookie");
    for attr in ["Path=/", "SameSite=Lax", "Secure", "Expires="] {
        assert!(
            jwt_cookie_header.contains(attr),
            "{jwt_cookie_header} lacks {attr}"
        );
    }
    assert!(token_cookie.contains(&s.session_token));
    assert_eq!(json(response).await["source"], "remote");
    let fresh = jwt_cookie_header
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("stytch_session_jwt=")
        .to_owned();
    assert_ne!(fresh, s.session_jwt);
    // The next request with the new cookie is local: no Stytch call.
    let response = app.get_with_cookie("/me", &jwt_cookie(&fresh)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["source"], "local_jwt");
    assert_eq!(app.calls(), 1);
}

#[tokio::test]
async fn a_session_token_alone_authenticates_and_sets_a_jwt_cookie() {
    let app = App::start(routes(), StytchLayer::new).await;
    let s = app.session(&[Factor::password()], &[]);
    let response = app
        .get_with_cookie("/me", &format!("stytch_session={}", s.session_token))
        .await;
    assert_eq!(response.status(), 200);
    assert!(set_cookie(&response, "stytch_session_jwt").is_some());
    assert_eq!(app.calls(), 1);
}

#[tokio::test]
async fn a_revoked_session_is_401_and_its_cookies_are_cleared() {
    let app = App::start(routes(), StytchLayer::new).await;
    let s = app.session(&[Factor::password()], &[]);
    app.emu.revoke_session(&s.session_id);
    app.advance(Duration::from_secs(600));
    let cookie = format!(
        "{}; stytch_session={}",
        jwt_cookie(&s.session_jwt),
        s.session_token
    );
    let response = app.get_with_cookie("/me", &cookie).await;
    assert_eq!(response.status(), 401);
    for name in ["stytch_session_jwt", "stytch_session"] {
        let cleared = set_cookie(&response, name).unwrap_or_else(|| panic!("{name} cleared"));
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
    }
    assert_eq!(json(response).await["error"], "session_not_found");
}

#[tokio::test]
async fn stytch_down_is_503_with_retry_after_and_cached_keys_keep_working() {
    let app = App::start(routes(), StytchLayer::new).await;
    let s = app.session(&[Factor::password()], &[]);
    // Warm the keys with one local request.
    assert_eq!(
        app.get_with_cookie("/me", &jwt_cookie(&s.session_jwt))
            .await
            .status(),
        200
    );
    app.emu
        .inject_fault(Route::Authenticate, Fault::status(503));
    app.emu.inject_fault(Route::Jwks, Fault::status(500));
    app.advance(Duration::from_secs(900));
    // A fresh JWT still verifies with the cached keys: 200.
    let fresh = app.session(&[Factor::password()], &[]);
    assert_eq!(
        app.get_with_cookie("/me", &jwt_cookie(&fresh.session_jwt))
            .await
            .status(),
        200
    );
    // An expired one needs Stytch, which is down: 503 with Retry-After.
    let response = app
        .get_with_cookie("/me", &jwt_cookie(&s.session_jwt))
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert!(!response.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn the_rejection_hook_and_login_redirect_own_the_response() {
    let app = App::start(routes(), |v| {
        StytchLayer::new(v)
            .with_login_redirect("/login")
            .with_rejection_handler(|r| {
                use axum::response::IntoResponse;
                (r.status(), format!("custom: {}", r.error().reason())).into_response()
            })
    })
    .await;
    let response = app.http.get(app.url("/me")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.text().await.unwrap(),
        "custom: missing_credentials"
    );
    let response = app
        .http
        .get(app.url("/me"))
        .header("accept", "text/html,*/*")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login");
}

#[tokio::test]
async fn cookie_names_and_sources_are_configurable() {
    let app = App::start(routes(), |v| {
        StytchLayer::new(v)
            .with_cookie_names("my_jwt", "my_token")
            .with_sources([CredentialSource::JwtCookie, CredentialSource::TokenCookie])
    })
    .await;
    let s = app.session(&[Factor::password()], &[]);
    assert_eq!(
        app.get_with_cookie("/me", &format!("my_jwt={}", s.session_jwt))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get_with_cookie("/me", &jwt_cookie(&s.session_jwt))
            .await
            .status(),
        401
    );
    let bearer = app
        .http
        .get(app.url("/me"))
        .bearer_auth(&s.session_jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 401, "bearer is not a configured source");
}

#[tokio::test]
async fn conflicting_cookies_are_refused_and_other_sources_ignored() {
    let app = App::start(routes(), StytchLayer::new).await;
    let a = app.session(&[Factor::password()], &[]);
    let b = app.session(&[Factor::password()], &[]);
    let response = app
        .http
        .get(app.url("/me"))
        .header(
            "cookie",
            format!(
                "{}; {}",
                jwt_cookie(&a.session_jwt),
                jwt_cookie(&b.session_jwt)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(json(response).await["error"], "conflicting_credentials");
    // A cookie and a bearer header are two sources: the first that carries
    // credentials (cookies, by default) is used alone.
    let response = app
        .http
        .get(app.url("/me"))
        .header("cookie", jwt_cookie(&a.session_jwt))
        .bearer_auth(&b.session_jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["user_id"], a.user_id.as_str());
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_500_naming_the_fix() {
    let app = Router::new().route("/me", get(me));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let response = reqwest::get(format!("http://{addr}/me")).await.unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.text().await.unwrap().contains("StytchLayer"));
}

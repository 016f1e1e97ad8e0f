//! The quickstart example's app, served over loopback against the emulator. (Its page in
//! a real browser: `browser/`.)

use crate::support;

#[allow(dead_code)] // its `main` and `print_*` run only as the example
#[path = "../../examples/quickstart.rs"]
pub(crate) mod example;

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, SET_COOKIE};
use serde_json::json;
use stytch_emulator::{Factor, NewSession};
use support::jwt;

/// The quickstart as `main` serves it on the emulator: with the demo.
async fn serve_demo() -> support::Served {
    let stytch = examples::embedded_emulator(examples::example_policy())
        .await
        .expect("the emulator starts");
    support::serve_stytch(stytch, |stytch| {
        let emu = stytch.emulator().expect("the emulator").clone();
        example::app(
            example::layer(stytch.validator.clone(), true),
            Some(example::Demo::new(emu, stytch.validator.clone())),
        )
    })
    .await
}

/// The quickstart as `main` serves it with real Stytch credentials: no demo. (The
/// validator points at an emulator, which these requests never reach.)
async fn serve_real() -> support::Served {
    let stytch = examples::embedded_emulator(examples::example_policy())
        .await
        .expect("the emulator starts");
    support::serve_stytch(stytch, |stytch| {
        example::app(example::layer(stytch.validator.clone(), false), None)
    })
    .await
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

async fn post_form(app: &support::Served, path: &str, form: &str) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.base))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .expect("POST")
}

#[tokio::test]
async fn public_session_role_and_mfa_routes_answer_as_documented() {
    let app = serve_demo().await;
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
    let app = serve_demo().await;
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
    let cookies = set_cookies(&response);
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

#[tokio::test]
async fn the_demo_sign_in_sets_the_cookies_as_the_frontend_sdk_does() {
    let app = serve_demo().await;
    let page = app
        .request(Method::GET, "/", None)
        .send()
        .await
        .expect("GET /");
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.expect("HTML");
    for user in ["ada", "grace", "root"] {
        assert!(html.contains(&format!("value=\"{user}\"")), "{html}");
    }

    let response = post_form(&app, "/demo/login", "user=grace&next=%2Fme").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/me");
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for (cookie, name) in cookies
        .iter()
        .zip(["stytch_session_jwt=", "stytch_session="])
    {
        assert!(cookie.starts_with(name), "{cookie}");
        for attribute in ["Path=/", "SameSite=Lax", "Expires="] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
        for attribute in ["Secure", "HttpOnly", "Domain"] {
            assert!(!cookie.contains(attribute), "{cookie} has {attribute}");
        }
    }
    let jar: Vec<&str> = cookies.iter().filter_map(|c| c.split(';').next()).collect();
    let jar = jar.join("; ");
    let page = app
        .request(Method::GET, "/", Some(&jar))
        .send()
        .await
        .expect("GET /")
        .text()
        .await
        .expect("HTML");
    assert!(page.contains("grace@example.com"), "{page}");
    assert!(page.contains("magic_link + totp"), "{page}");
    let (status, body) = app.call(Method::POST, "/transfer", Some(&jar)).await;
    assert_eq!((status, body["transferred"].as_bool()), (200, Some(true)));

    // Only local paths to go back to.
    let response = post_form(&app, "/demo/login", "user=ada&next=https%3A%2F%2Fevil.test").await;
    assert_eq!(response.headers()[LOCATION], "/");
    let response = post_form(&app, "/demo/login", "user=ada&next=%2F%2Fevil.test").await;
    assert_eq!(response.headers()[LOCATION], "/");
    assert_eq!(
        post_form(&app, "/demo/login", "user=eve").await.status(),
        400
    );
}

#[tokio::test]
async fn a_browser_without_a_session_is_sent_to_login_with_the_way_back() {
    let app = serve_demo().await;
    let response = app
        .request(Method::GET, "/me?x=1&y=2", None)
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("GET /me");
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()[LOCATION],
        "/login?next=/me%3Fx%3D1%26y%3D2"
    );
    // A path that is no route is not the layer's business (a browser asks for
    // /favicon.ico on every page).
    let response = app
        .request(Method::GET, "/favicon.ico", None)
        .header(ACCEPT, "text/html")
        .send()
        .await
        .expect("GET /favicon.ico");
    assert_eq!(response.status(), 404);
    // An API client still gets 401 JSON.
    let (status, body) = app.call(Method::GET, "/me", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("missing_credentials"))
    );
    let login = app
        .request(Method::GET, "/login?next=/me", None)
        .send()
        .await
        .expect("GET /login")
        .text()
        .await
        .expect("HTML");
    assert!(
        login.contains("continue to <a href=\"/me\">/me</a>"),
        "{login}"
    );
    assert!(login.contains("name=\"next\" value=\"/me\""), "{login}");
}

#[tokio::test]
async fn with_real_credentials_the_page_explains_the_sdk_and_mounts_no_demo_route() {
    let app = serve_real().await;
    for path in ["/", "/login"] {
        let page = app
            .request(Method::GET, path, None)
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("HTML");
        assert!(page.contains("id=\"sdk\""), "{page}");
        assert!(page.contains("Stytch's frontend SDK"), "{page}");
        assert!(!page.contains("/demo/"), "{page}");
        assert!(!page.contains("emulator"), "{page}");
    }
    for path in [
        "/demo/login",
        "/demo/step-up",
        "/demo/skip",
        "/demo/logout",
        "/demo/refresh",
    ] {
        let response = post_form(&app, path, "user=ada").await;
        assert_eq!(response.status(), 404, "{path} is mounted");
    }
    // With a real project, refreshed cookies keep the default `Secure`.
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
    let cookies = set_cookies(&response);
    assert!(
        !cookies.is_empty() && cookies.iter().all(|c| c.contains("Secure")),
        "{cookies:?}"
    );
}

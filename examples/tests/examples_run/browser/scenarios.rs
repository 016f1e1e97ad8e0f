//! The quickstart page in a real browser: each scenario checks what the page shows and
//! what the browser's cookie jar holds, and saves a screenshot.

use std::time::Duration;

use axum_stytch::layer::SameSite;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use stytch_emulator::Route;

use super::{Options, Page, Quickstart, run};

const JWT: &str = "stytch_session_jwt";
const TOKEN: &str = "stytch_session";

/// Signs in as the demo user `key` from the page at `url` and waits for the session.
async fn sign_in(page: &Page, url: &str, key: &str) {
    page.goto(url).await;
    page.click(&format!("#login-{key}")).await;
    page.text("#who").await;
}

/// The value of the one cookie `name` in `jar`; fails unless there is exactly one.
fn one(jar: &[(String, String, String)], name: &str) -> String {
    let values: Vec<&(String, String, String)> = jar.iter().filter(|c| c.0 == name).collect();
    assert_eq!(values.len(), 1, "one {name} cookie expected: {jar:?}");
    values[0].1.clone()
}

/// The JSON the page shows as `GET /me`.
async fn shown_me(page: &Page) -> Value {
    serde_json::from_str(&page.text("#me").await).expect("the page shows /me as JSON")
}

/// The factor types inside a session JWT's payload.
fn jwt_factor_types(jwt: &str) -> Vec<String> {
    let payload = jwt.split('.').nth(1).expect("a JWT payload");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
            .expect("JSON claims");
    claims["https://stytch.com/session"]["authentication_factors"]
        .as_array()
        .expect("factors")
        .iter()
        .map(|f| f["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Scenario 1: Sign in (with JavaScript off: forms and links only) and `/me` shows the
/// user; the cookies are those Stytch's frontend SDK sets.
#[tokio::test]
async fn s1_sign_in_shows_me_without_javascript() {
    let app = Quickstart::start().await;
    run(
        "1-sign-in",
        Options { javascript: false },
        |page| async move {
            page.goto(&app.url("/")).await;
            assert!(page.has("#signin").await, "the page offers to sign in");
            page.click("#login-ada").await;
            let who = page.text("#who").await;
            assert!(who.contains("ada@example.com"), "{who}");
            let me = shown_me(&page).await;
            let user_id = me["user_id"].as_str().expect("user_id").to_owned();
            assert!(user_id.starts_with("user-test-"), "{me}");
            assert_eq!(me["authentication_factors"][0]["type"], "magic_link");
            assert_eq!(
                me["authentication_factors"][0]["email_factor"]["email_address"],
                "ada@example.com"
            );
            assert_eq!(me["custom_claims"]["plan"], "free");
            let request = page.text("#request").await;
            assert!(request.contains("verified locally"), "{request}");
            page.screenshot("signed-in").await;

            let cookies = page.cookies().await;
            for name in [JWT, TOKEN] {
                let found: Vec<_> = cookies.iter().filter(|c| c.name() == name).collect();
                assert_eq!(found.len(), 1, "one {name}: {cookies:?}");
                let c = found[0];
                assert_eq!(c.path(), Some("/"), "{c:?}");
                assert_eq!(c.same_site(), Some(SameSite::Lax), "{c:?}");
                assert_eq!(c.secure(), Some(false), "plain http: {c:?}");
                assert_eq!(c.http_only(), Some(false), "the SDK reads it: {c:?}");
                assert!(c.expires().is_some(), "expires with the session: {c:?}");
                assert_eq!(c.domain(), Some("127.0.0.1"), "host-only: {c:?}");
            }

            // The raw `/me`, by following the page's link, and by its button: without
            // JavaScript the button's form is submitted, and the browser shows the JSON.
            for link in ["a[href='/me']", "#call-me"] {
                page.goto(&app.url("/")).await;
                page.click(link).await;
                page.wait_path("/me").await;
                let raw: Value =
                    serde_json::from_str(&page.text("body").await).expect("/me answers JSON");
                assert_eq!(raw["user_id"], user_id.as_str());
            }
        },
    )
    .await;
}

/// Scenario 2: `GET /admin` as a non-admin: 403 `missing_role` on the page.
#[tokio::test]
async fn s2_admin_as_a_non_admin_is_refused_with_missing_role() {
    let app = Quickstart::start().await;
    run("2-admin", Options::default(), |page| async move {
        sign_in(&page, &app.url("/"), "ada").await;
        let answer = page.call("#call-admin").await;
        assert_eq!(answer, "GET /admin → 403 missing_role");
        let body = page.text("#answer-body").await;
        assert!(body.contains("\"error\": \"missing_role\""), "{body}");
        page.screenshot("missing-role").await;
        let jar = page.stytch_cookies().await;
        one(&jar, JWT);
        one(&jar, TOKEN);

        // The admin gets in.
        page.click("#logout").await;
        page.click("#login-root").await;
        page.text("#who").await;
        assert_eq!(page.call("#call-admin").await, "GET /admin → 200 OK");
    })
    .await;
}

/// Scenario 3: Step up with TOTP, and `POST /transfer` answers 200.
#[tokio::test]
async fn s3_step_up_with_totp_then_transfer_succeeds() {
    let app = Quickstart::start().await;
    run("3-step-up", Options::default(), |page| async move {
        sign_in(&page, &app.url("/"), "ada").await;
        assert_eq!(
            page.call("#call-transfer").await,
            "POST /transfer → 403 insufficient_factors"
        );
        let before = one(&page.stytch_cookies().await, JWT);
        assert_eq!(jwt_factor_types(&before), ["magic_link"]);

        page.click("#step-up").await;
        let who = page
            .wait_text("#who", |t| t.contains("magic_link + totp"))
            .await;
        assert!(who.contains("2 factor(s)"), "{who}");
        let jar = page.stytch_cookies().await;
        let after = one(&jar, JWT);
        one(&jar, TOKEN);
        assert_ne!(after, before, "a fresh JWT");
        assert_eq!(jwt_factor_types(&after), ["magic_link", "totp"]);

        assert_eq!(page.call("#call-transfer").await, "POST /transfer → 200 OK");
        let body = page.text("#answer-body").await;
        assert!(body.contains("\"transferred\": true"), "{body}");
        page.screenshot("transfer-200").await;
    })
    .await;
}

/// Scenario 4: Skip 6 minutes: the next request has the layer ask Stytch, which issues
/// a fresh JWT; the jar then holds the new one, one cookie per name.
#[tokio::test]
async fn s4_skip_six_minutes_refreshes_the_jwt() {
    let app = Quickstart::start().await;
    let emu = app.emu.clone();
    run("4-skip", Options::default(), |page| async move {
        sign_in(&page, &app.url("/"), "ada").await;
        let before = one(&page.stytch_cookies().await, JWT);
        let token = one(&page.stytch_cookies().await, TOKEN);
        emu.reset_counts();

        page.click("#skip").await;
        let request = page
            .wait_text("#request", |t| t.contains("had expired"))
            .await;
        assert!(request.contains("asked Stytch"), "{request}");
        let clock = page.text("#clock").await;
        assert!(clock.contains("6 min ahead"), "{clock}");
        assert_eq!(
            emu.request_count(Route::Authenticate),
            1,
            "one remote refresh"
        );

        let jar = page.stytch_cookies().await;
        let after = one(&jar, JWT);
        assert_ne!(after, before, "a fresh JWT");
        assert_eq!(one(&jar, TOKEN), token, "the session token stays");
        page.screenshot("refreshed").await;

        // The fresh JWT is good locally: no further call to Stytch.
        assert_eq!(page.call("#call-me").await, "GET /me → 200 OK");
        assert_eq!(emu.request_count(Route::Authenticate), 1);
    })
    .await;
}

/// Scenario 5: Log out: the session is revoked, the jar holds no Stytch cookie, `/me`
/// is 401.
#[tokio::test]
async fn s5_log_out_revokes_and_clears_the_cookies() {
    let app = Quickstart::start().await;
    let emu = app.emu.clone();
    run("5-logout", Options::default(), |page| async move {
        sign_in(&page, &app.url("/"), "ada").await;
        let session_id = shown_me(&page).await["session_id"]
            .as_str()
            .expect("session_id")
            .to_owned();
        page.click("#logout").await;
        page.text("#signin").await;
        assert_eq!(page.stytch_cookies().await, []);
        assert_eq!(emu.mint_jwt(&session_id), None, "the session is revoked");
        assert_eq!(
            page.call("#call-me").await,
            "GET /me → 401 missing_credentials"
        );
        page.screenshot("logged-out").await;
    })
    .await;
}

/// Scenario 6: The frontend on `app.example.test` sets `Domain=example.test` cookies,
/// and the API on `api.example.test` refreshes the JWT. Returns how many JWT cookies
/// the jar held right after the refresh, and the page's log of API answers after it.
async fn cookie_domain_case(page: &Page, app: &Quickstart) -> (usize, Vec<String>) {
    sign_in(page, &app.url_on("app.example.test", "/"), "ada").await;
    let jar = page.stytch_cookies().await;
    assert!(
        jar.iter().all(|c| c.2 == "example.test"),
        "the frontend's cookies are domain-wide: {jar:?}"
    );
    let before = one(&jar, JWT);

    // The API's page sees the frontend's cookies; skip, and its next request refreshes.
    page.goto(&app.url_on("api.example.test", "/")).await;
    page.text("#who").await;
    page.click("#skip").await;
    page.wait_text("#request", |t| t.contains("had expired"))
        .await;
    let jwts = page
        .stytch_cookies()
        .await
        .iter()
        .filter(|c| c.0 == JWT)
        .count();
    assert_eq!(page.call("#call-me").await, "GET /me → 200 OK");
    assert_eq!(page.call("#call-me").await, "GET /me → 200 OK");
    let jar = page.stytch_cookies().await;
    let after = one(&jar, JWT);
    one(&jar, TOKEN);
    assert_ne!(after, before, "a fresh JWT");
    assert!(jar.iter().all(|c| c.2 == "example.test"), "{jar:?}");
    (jwts, page.texts("#log li").await)
}

/// Scenario 6 with `with_cookie_domain("example.test")`: the API's refresh replaces the
/// frontend's cookie; no second one appears.
#[tokio::test]
async fn s6a_cookie_domain_set_no_second_cookie_appears() {
    let app = Quickstart::start_with(
        |layer| layer.with_cookie_domain("example.test"),
        Some("example.test"),
    )
    .await;
    run("6a-cookie-domain", Options::default(), |page| async move {
        let (jwts, log) = cookie_domain_case(&page, &app).await;
        assert_eq!(jwts, 1, "the refresh replaced the frontend's cookie");
        assert_eq!(log, ["GET /me → 200 OK", "GET /me → 200 OK"]);
        page.screenshot("api").await;
        // The frontend is signed in with the refreshed cookie too.
        page.goto(&app.url_on("app.example.test", "/")).await;
        page.text("#who").await;
        one(&page.stytch_cookies().await, JWT);
    })
    .await;
}

/// Scenario 6 without it: the API's host-only refresh sits beside the frontend's
/// cookie, the next call is refused once, and the browser recovers for good.
#[tokio::test]
async fn s6b_cookie_domain_unset_the_browser_recovers_after_one_401() {
    let app = Quickstart::start_with(|layer| layer, Some("example.test")).await;
    run(
        "6b-no-cookie-domain",
        Options::default(),
        |page| async move {
            let (jwts, log) = cookie_domain_case(&page, &app).await;
            assert_eq!(jwts, 2, "the refresh added a host-only cookie");
            // The refresh planted a host-only JWT beside the frontend's: the first call was
            // refused (and the API's own cookies cleared), the page refreshed the frontend's
            // session as the SDK does and retried; after that, no more conflicts.
            assert_eq!(
                log,
                [
                    "GET /me → 401 conflicting_credentials",
                    "GET /me → 200 OK",
                    "GET /me → 200 OK"
                ]
            );
            page.screenshot("api").await;
            for _ in 0..3 {
                assert_eq!(page.call("#call-me").await, "GET /me → 200 OK");
            }
            page.goto(&app.url_on("api.example.test", "/")).await;
            page.text("#who").await;
            let jar = page.stytch_cookies().await;
            one(&jar, JWT);
            one(&jar, TOKEN);
        },
    )
    .await;
}

/// Scenario 7: `with_login_redirect`: an expired session on an HTML navigation lands on
/// the login page, and sign-in goes back where the browser was going.
#[tokio::test]
async fn s7_an_expired_session_goes_to_login_and_comes_back() {
    let app = Quickstart::start().await;
    let emu = app.emu.clone();
    run("7-login-redirect", Options::default(), |page| async move {
        sign_in(&page, &app.url("/"), "ada").await;
        let first: Value = shown_me(&page).await;
        page.goto(&app.url("/me")).await;
        let raw: Value = serde_json::from_str(&page.text("body").await).expect("JSON");
        assert_eq!(raw["session_id"], first["session_id"]);

        // The session (60 minutes) ends.
        emu.advance_clock(Duration::from_secs(61 * 60));
        page.goto(&app.url("/me")).await;
        assert_eq!(page.path().await, "/login?next=/me");
        let notice = page.text("#notice").await;
        assert!(notice.contains("continue to /me"), "{notice}");
        assert_eq!(page.stytch_cookies().await, [], "the layer cleared them");
        page.screenshot("login").await;

        page.click("#login-ada").await;
        page.wait_path("/me").await;
        page.wait_text("body", |t| t.contains("\"session_id\""))
            .await;
        let back: Value = serde_json::from_str(&page.text("body").await).expect("JSON");
        assert_eq!(back["user_id"], first["user_id"]);
        assert_ne!(back["session_id"], first["session_id"], "a new session");
    })
    .await;
}

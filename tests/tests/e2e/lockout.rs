//! Never lock users out: sequences of upstream faults and real-world cookie setups that
//! once ended in a stuck 503, a lost session or a stall. Each test drives the whole
//! sequence end to end: router + `StytchLayer` + the emulator or the scripted mock.

use crate::support;

use std::time::Duration;

use axum::Router;
use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use axum::routing::get;
use axum_stytch::layer::Mode;
use axum_stytch::{
    StytchLayer, StytchSession, Validator, require_factor_count, require_permission,
};
use futures_util::StreamExt as _;
use serde_json::json;
use stytch_emulator::{Factor, Fault, NewSession, Route};
use support::app::{self, Live, Req, Rig, Sent};
use support::keys;
use support::mock::{MockBody, Reply};
use support::own::{self, MockLive};

/// `/me` (`whoami`) behind a default layer.
fn me(validator: Validator) -> Router {
    Router::new()
        .route("/me", get(whoami))
        .layer(StytchLayer::new(validator))
}

async fn whoami(session: StytchSession) -> axum::Json<serde_json::Value> {
    axum::Json(json!({
        "user_id": session.user_id(),
        "session_id": session.session_id(),
        "refreshed_jwt": session.refreshed_tokens().map(|t| t.session_jwt.clone()),
    }))
}

async fn maybe(session: Option<StytchSession>) -> String {
    session.map_or_else(|| "anonymous".to_owned(), |s| s.user_id().to_owned())
}

fn reason(sent: &Sent) -> String {
    sent.json()["error"].as_str().unwrap_or_default().to_owned()
}

fn set_cookies(sent: &Sent) -> Vec<String> {
    sent.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The `sub` of a JWT, read without checking it.
fn sub_of(jwt: &str) -> String {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).expect("three segments");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice::<serde_json::Value>(&bytes).expect("json")["sub"]
        .as_str()
        .expect("sub")
        .to_owned()
}

const SIX_MINUTES: Duration = Duration::from_secs(360);

// ------------------------------------------------------------ the circuit breaker

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_closes_after_a_401_on_its_half_open_probe() {
    let live = Live::warm(|b| b.circuit_breaker(5, Duration::from_secs(10))).await;
    let sessions: Vec<_> = (0..4).map(|_| live.session(&[])).collect();
    live.advance(SIX_MINUTES);
    // Five consecutive 5xx (each request tries twice) open the circuit.
    live.emu
        .inject_fault(Route::Authenticate, Fault::status(500).times(5));
    for s in &sessions[..3] {
        let sent = live.call("/protected", &Req::cookie(&s.session_jwt)).await;
        assert_eq!(sent.status, 503, "{}", sent.body);
    }
    assert!(live.validator.circuit_open(), "open after five failures");
    // The half-open probe meets a 401 (a secret rotated during the outage).
    live.advance(Duration::from_secs(11));
    assert!(!live.validator.circuit_open(), "half-open: a probe may go");
    live.emu
        .inject_fault(Route::Authenticate, Fault::status(401).times(1));
    let sent = live
        .call("/protected", &Req::cookie(&sessions[3].session_jwt))
        .await;
    assert_eq!(sent.status, 500, "Stytch refused our credentials");
    assert!(
        !live.validator.circuit_open(),
        "the probe ended, and circuit_open() says so"
    );
    // Once the misconfigured window has passed, sessions authenticate again.
    live.advance(Duration::from_secs(11));
    let calls = live.calls();
    let sent = live
        .call("/protected", &Req::cookie(&sessions[3].session_jwt))
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(live.calls(), calls + 1);
    assert!(!live.validator.circuit_open());
}

// ------------------------------------------------------- one source per request

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_different_sources_are_never_combined() {
    let rig = Rig::start(|b| b, me).await;
    let a = rig.emu.create_session(NewSession::new());
    let b = rig.emu.create_session(NewSession::new());
    assert_ne!(a.user_id, b.user_id);

    // Cookie JWT of A + bearer token of B: A, and B's token is never looked at.
    let req =
        Req::cookie(&a.session_jwt).and("authorization", format!("Bearer {}", b.session_token));
    let sent = rig.call("/me", &req).await;
    assert_eq!(sent.status, 200);
    assert_eq!(sent.json()["user_id"], a.user_id.as_str());

    // Cookie token of A + bearer with B's expired JWT: A, refreshed with A's tokens.
    rig.advance(SIX_MINUTES);
    let req = Req::session_token(&a.session_token)
        .and("authorization", format!("Bearer {}", b.session_jwt));
    let sent = rig.call("/me", &req).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.json()["user_id"], a.user_id.as_str());
    let cookies = set_cookies(&sent);
    let jwt_cookie = cookies
        .iter()
        .find(|c| c.starts_with("stytch_session_jwt="))
        .expect("the refresh is written as cookies");
    let fresh = jwt_cookie["stytch_session_jwt=".len()..]
        .split(';')
        .next()
        .unwrap();
    assert_eq!(sub_of(fresh), a.user_id, "A's cookies carry A's session");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with(&format!("stytch_session={};", a.session_token))),
        "{cookies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_refresh_is_handed_to_the_handler_not_written_as_cookies() {
    let rig = Rig::start(|b| b, me).await;
    let s = rig.emu.create_session(NewSession::new());
    rig.advance(SIX_MINUTES);
    let sent = rig.call("/me", &Req::bearer(&s.session_jwt)).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(
        set_cookies(&sent).is_empty(),
        "no cookies for a bearer client"
    );
    let fresh = sent.json()["refreshed_jwt"]
        .as_str()
        .expect("the handler sees the fresh JWT")
        .to_owned();
    assert_ne!(fresh, s.session_jwt);
    // The fresh JWT verifies locally: no further call.
    let calls = rig.calls();
    let sent = rig.call("/me", &Req::bearer(&fresh)).await;
    assert_eq!(sent.status, 200);
    assert_eq!(rig.calls(), calls);
}

// --------------------------------------------------------- cookie-scope lockout

/// A browser's cookie jar, reduced to what matters here: one cookie per (name,
/// domain), where `None` is host-only.
#[derive(Default)]
struct Jar(Vec<(String, String, Option<String>)>);

impl Jar {
    fn set(&mut self, name: &str, value: &str, domain: Option<&str>) {
        self.0
            .retain(|(n, _, d)| !(n == name && d.as_deref() == domain));
        self.0
            .push((name.to_owned(), value.to_owned(), domain.map(str::to_owned)));
    }

    /// Applies a response's `Set-Cookie` headers as a browser would.
    fn apply(&mut self, sent: &Sent) {
        for header in set_cookies(sent) {
            let mut parts = header.split(';').map(str::trim);
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let mut domain = None;
            let mut removal = false;
            for attr in parts {
                let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
                match k.to_ascii_lowercase().as_str() {
                    "domain" => domain = Some(v.trim_start_matches('.').to_owned()),
                    "max-age" if v == "0" => removal = true,
                    _ => {}
                }
            }
            if removal {
                self.0.retain(|(n, _, d)| !(n == name && *d == domain));
            } else {
                self.set(name, value, domain.as_deref());
            }
        }
    }

    fn request(&self) -> Req {
        let header = self
            .0
            .iter()
            .map(|(n, v, _)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        Req::raw("cookie", header)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_cookie_beside_a_host_only_cookie_recovers_after_one_401() {
    let rig = Rig::start(|b| b, me).await;
    let s = rig.emu.create_session(NewSession::new());
    rig.advance(Duration::from_secs(1));
    // The frontend SDK set its cookies for the parent domain; an earlier refresh by
    // the API left a host-only JWT cookie with another (valid) value beside it.
    let mut jar = Jar::default();
    jar.set("stytch_session_jwt", &s.session_jwt, Some("example.com"));
    jar.set("stytch_session", &s.session_token, Some("example.com"));
    let host_only = rig.emu.mint_jwt(&s.session_id).expect("a second JWT");
    jar.set("stytch_session_jwt", &host_only, None);

    let mut refusals = 0;
    let mut last = None;
    for _ in 0..3 {
        let sent = rig.call("/me", &jar.request()).await;
        jar.apply(&sent);
        if sent.status == 401 {
            refusals += 1;
            assert_eq!(reason(&sent), "conflicting_credentials");
            let description = sent.json()["error_description"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                description.contains("cookie scope") && description.contains("with_cookie_domain"),
                "the refusal names the cause and the fix: {description}"
            );
            assert_eq!(
                sent.header("cache-control"),
                Some("private, no-store"),
                "a response that clears session cookies is not cacheable"
            );
        }
        last = Some(sent.status);
    }
    assert_eq!(refusals, 1, "at most one 401");
    assert_eq!(last, Some(200));
    assert_eq!(
        jar.0
            .iter()
            .filter(|(n, _, _)| n == "stytch_session_jwt")
            .count(),
        1,
        "only the frontend's domain cookie is left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_conflict_under_a_login_redirect_clears_too() {
    let rig = Rig::start(
        |b| b,
        |v| {
            Router::new()
                .route("/me", get(whoami))
                .layer(StytchLayer::new(v).with_login_redirect("/login"))
        },
    )
    .await;
    let req = Req::raw(
        "cookie",
        "stytch_session_jwt=a.b.c; stytch_session_jwt=x.y.z",
    )
    .and("accept", "text/html");
    let sent = rig.call("/me", &req).await;
    assert_eq!(sent.status, 303);
    assert!(
        set_cookies(&sent)
            .iter()
            .any(|c| c.starts_with("stytch_session_jwt=;") && c.contains("Max-Age=0")),
        "the redirect clears the layer's cookies, so the loop ends"
    );
}

// ------------------------------------------------------------------ Cache-Control

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_that_set_session_cookies_are_private_and_not_stored() {
    async fn public() -> impl IntoResponse {
        ([(CACHE_CONTROL, "public, max-age=600")], "cached?")
    }
    async fn strict() -> impl IntoResponse {
        ([(CACHE_CONTROL, "no-store, max-age=0")], "never stored")
    }
    let rig = Rig::start(
        |b| b,
        |v| {
            Router::new()
                .route("/public", get(public))
                .route("/strict", get(strict))
                .layer(StytchLayer::new(v))
        },
    )
    .await;
    let s1 = rig.emu.create_session(NewSession::new());
    let s2 = rig.emu.create_session(NewSession::new());
    let s3 = rig.emu.create_session(NewSession::new());
    // Nothing refreshed: the handler's header stands.
    let sent = rig.call("/public", &Req::cookie(&s3.session_jwt)).await;
    assert_eq!(sent.header("cache-control"), Some("public, max-age=600"));
    rig.advance(SIX_MINUTES);
    let sent = rig.call("/public", &Req::cookie(&s1.session_jwt)).await;
    assert_eq!(sent.status, 200);
    assert!(!set_cookies(&sent).is_empty(), "refreshed");
    assert_eq!(sent.header("cache-control"), Some("private, no-store"));
    let sent = rig.call("/strict", &Req::cookie(&s2.session_jwt)).await;
    assert!(!set_cookies(&sent).is_empty(), "refreshed");
    assert_eq!(
        sent.header("cache-control"),
        Some("no-store, max-age=0"),
        "a stricter value the handler set is kept"
    );
    // A revoked session's cookies are cleared, also privately.
    rig.emu.revoke_session(&s3.session_id);
    let sent = rig.call("/public", &Req::cookie(&s3.session_jwt)).await;
    assert_eq!(sent.status, 401);
    assert!(!set_cookies(&sent).is_empty(), "cleared");
    assert_eq!(sent.header("cache-control"), Some("private, no-store"));
}

// ------------------------------------------------------ answers that are not Stytch's

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_or_401_that_is_not_stytchs_is_an_outage_not_a_logout() {
    let live = MockLive::start(|b| b).await;
    let strangers = [
        Reply::body(404, MockBody::Text("<html>Not Found</html>")),
        Reply::body(404, MockBody::Text("")),
        Reply::json(404, json!({"message": "no route"})),
        Reply::body(408, MockBody::Text("Request Timeout")),
        Reply::body(401, MockBody::Text("Unauthorized")),
        Reply::error(401, "proxy_authentication_required"),
        Reply::json(403, json!({"error": "forbidden by WAF"})),
    ];
    let token = "Zm9vYmFyLWJhei1xdXV4LXNlc3Npb24tdG9rZW4tMDE";
    for reply in strangers {
        let label = format!("{} {:?}", reply.status, reply.body);
        live.mock.set_auth(reply);
        for req in [Req::cookie(&live.expired()), Req::session_token(token)] {
            let before = live.mock.auth_hits();
            let sent = live.get(&req).await;
            assert_eq!(sent.status, 503, "{label}: {}", sent.body);
            assert!(sent.header("retry-after").is_some(), "{label}");
            assert!(
                set_cookies(&sent).is_empty(),
                "{label}: nobody is logged out"
            );
            assert_eq!(live.mock.auth_hits(), before + 1, "{label}: no retry");
            // Not remembered as a verdict: the next request asks again.
            let sent = live.get(&req).await;
            assert_eq!(sent.status, 503, "{label}");
            assert_eq!(live.mock.auth_hits(), before + 2, "{label}: not cached");
        }
        // Reset the breaker between strangers.
        live.mock
            .set_auth(Reply::json(200, own::authenticated_body(live.now())));
        live.clock.advance(Duration::from_secs(11));
        assert_eq!(live.get(&Req::cookie(&live.expired())).await.status, 200);
    }
    // Stytch's own verdicts still are verdicts.
    live.mock.set_auth(Reply::session_not_found());
    let sent = live.get(&Req::session_token(token)).await;
    assert_eq!(
        (sent.status, reason(&sent).as_str()),
        (401, "session_not_found")
    );
    assert!(
        !set_cookies(&sent).is_empty(),
        "Stytch said it is gone: cleared"
    );
    live.mock
        .set_auth(Reply::error(401, "unauthorized_credentials"));
    let sent = live.get(&Req::cookie(&live.expired())).await;
    assert_eq!(sent.status, 500, "our own secret is wrong");
}

// ------------------------------------------------------------ RBAC policy refresh

fn rbac_app(v: Validator) -> Router {
    Router::new()
        .route(
            "/docs",
            get(whoami).route_layer(require_permission("documents", "read")),
        )
        .layer(StytchLayer::new(v))
}

fn reader_policy() -> serde_json::Value {
    json!({
        "roles": [{"role_id": "reader", "description": "", "permissions": [
            {"resource_id": "documents", "actions": ["read"]}]}],
        "resources": [{"resource_id": "documents", "description": "", "actions": ["read"]}],
        "scopes": []
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_policy_answers_at_once_while_a_refresh_fails_in_the_background() {
    let rig = Rig::start(|b| b.policy_ttl(Duration::from_secs(60)), rbac_app).await;
    rig.emu.set_rbac_policy(reader_policy());
    let s = rig.emu.create_session(NewSession::new().roles(["reader"]));
    let req = Req::cookie(&s.session_jwt);
    assert_eq!(rig.call("/docs", &req).await.status, 200);
    let policy_fetches = || rig.emu.request_count(Route::RbacPolicy);
    assert_eq!(policy_fetches(), 1);

    // Past the TTL, Stytch browns out: a fetch would hang for 30 s.
    rig.emu
        .inject_fault(Route::RbacPolicy, Fault::latency(Duration::from_secs(30)));
    rig.clock.advance(Duration::from_secs(61));
    let sent = tokio::time::timeout(Duration::from_secs(10), rig.call("/docs", &req))
        .await
        .expect("a held policy never waits for a fetch");
    assert_eq!(sent.status, 200);
    assert!(
        app::settle(|| policy_fetches() == 2).await,
        "one background refresh"
    );
    for _ in 0..20 {
        assert_eq!(rig.call("/docs", &req).await.status, 200);
    }
    assert_eq!(
        policy_fetches(),
        2,
        "single-flight: the refresh is in flight"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_fetch_failures_back_off_and_honour_retry_after() {
    let rig = Rig::start(|b| b.policy_ttl(Duration::from_secs(60)), rbac_app).await;
    rig.emu.set_rbac_policy(reader_policy());
    let s = rig.emu.create_session(NewSession::new().roles(["reader"]));
    let req = Req::cookie(&s.session_jwt);
    let policy_fetches = || rig.emu.request_count(Route::RbacPolicy);
    // A cold start that fails answers 503 and remembers it: Retry-After 30 s.
    rig.emu
        .inject_fault(Route::RbacPolicy, Fault::status(429).retry_after(30));
    let sent = rig.call("/docs", &req).await;
    assert_eq!(sent.status, 503, "{}", sent.body);
    assert_eq!(policy_fetches(), 1);
    for _ in 0..10 {
        let sent = rig.call("/docs", &req).await;
        assert_eq!(sent.status, 503);
        assert!(
            sent.header("retry-after")
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|s| (1..=30).contains(&s))
        );
    }
    assert_eq!(policy_fetches(), 1, "no fetch during the backoff");
    rig.clock.advance(Duration::from_secs(31));
    rig.emu.clear_faults();
    assert_eq!(rig.call("/docs", &req).await.status, 200);
    assert_eq!(policy_fetches(), 2);

    // Warm: past the TTL a failed background refresh backs off too.
    rig.emu.inject_fault(Route::RbacPolicy, Fault::status(503));
    rig.clock.advance(Duration::from_secs(61));
    for _ in 0..10 {
        assert_eq!(rig.call("/docs", &req).await.status, 200, "stale-if-error");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(app::settle(|| policy_fetches() == 3).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(policy_fetches(), 3, "one attempt per backoff step");
    rig.clock.advance(Duration::from_secs(2));
    assert_eq!(rig.call("/docs", &req).await.status, 200);
    assert!(
        app::settle(|| policy_fetches() == 4).await,
        "the next step tries again"
    );
}

// ----------------------------------------------- an unknown kid while keys are down

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_while_the_keys_cannot_be_refreshed() {
    let live = Live::warm(|b| b).await;
    // Stytch rotates its keys; the JWKS endpoint fails just then.
    live.emu.rotate_keys();
    let s = live.session(&[]);
    live.emu.inject_fault(Route::Jwks, Fault::status(500));

    // With a session token beside it, the request goes remote with the token.
    let both = Req::raw(
        "cookie",
        format!(
            "stytch_session_jwt={}; stytch_session={}",
            s.session_jwt, s.session_token
        ),
    );
    let sent = live.call("/protected", &both).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(live.calls(), 1);

    // The JWT alone: 503, not a final 401.
    let alone = Req::cookie(&s.session_jwt);
    let sent = live.call("/protected", &alone).await;
    assert_eq!(sent.status, 503, "{}", sent.body);
    assert!(sent.header("retry-after").is_some());
    assert_eq!(reason(&sent), "jwks_unavailable");

    // The failed fetch did not spend the unknown-kid cooldown: after the backoff (1 s,
    // well inside the 30 s cooldown) the keys are fetched again and the JWT verifies.
    live.emu.clear_faults();
    live.advance(Duration::from_millis(1100));
    let fetches = live.fetches();
    let sent = live.call("/protected", &alone).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(live.fetches(), fetches + 1);

    // With fresh keys, a kid that is still unknown is a forgery: 401 and no call.
    let calls = live.calls();
    let forged = keys::attacker().sign(
        &json!({"alg": "RS256", "kid": "jwk-test-not-ours", "typ": "JWT"}),
        &own::claims_at(live.emu.now_unix()),
    );
    let sent = live.call("/protected", &Req::cookie(&forged)).await;
    assert_eq!(
        (sent.status, reason(&sent).as_str()),
        (401, "jwt_unknown_key")
    );
    assert_eq!(live.calls(), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_random_kid_flood_during_a_jwks_outage_costs_one_fetch_per_backoff_step() {
    let live = Live::warm(|b| b).await;
    live.emu.inject_fault(Route::Jwks, Fault::status(500));
    let before = live.fetches();
    for i in 0..200 {
        let forged = keys::attacker().sign(
            &json!({"alg": "RS256", "kid": format!("jwk-test-random-{i}"), "typ": "JWT"}),
            &own::claims_at(live.emu.now_unix()),
        );
        let sent = live.call("/protected", &Req::cookie(&forged)).await;
        assert_eq!(sent.status, 503, "keys cannot be refreshed: not a verdict");
    }
    assert_eq!(live.fetches(), before + 1, "the backoff holds");
    assert_eq!(
        live.calls(),
        0,
        "a JWT alone never goes remote for an unknown kid"
    );
}

// ------------------------------------------------------------------ remote budget

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_session_tokens_cannot_lock_out_real_users() {
    let rig = Rig::start(|b| b, me).await;
    let users: Vec<_> = (0..50)
        .map(|_| rig.emu.create_session(NewSession::new()))
        .collect();
    // Every real user's JWT has expired; their sessions live on.
    rig.advance(SIX_MINUTES);

    let flood = futures_util::stream::iter(0..5000u32)
        .map(|i| {
            let router = rig.router.clone();
            async move {
                let token = format!(
                    "{:0>44}",
                    format!("flood{i}x{}", i.wrapping_mul(2_654_435_761))
                );
                app::call(&router, "/me", &Req::session_token(&token)).await
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>();
    let real = futures_util::stream::iter(users.iter())
        .map(|u| {
            let router = rig.router.clone();
            let jwt = u.session_jwt.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                app::call(&router, "/me", &Req::cookie(&jwt)).await
            }
        })
        .buffer_unordered(50)
        .collect::<Vec<_>>();
    let (flood, real) = tokio::join!(flood, real);

    for (sent, user) in real.iter().zip(&users) {
        assert_eq!(
            sent.status, 200,
            "real user {}: {}",
            user.user_id, sent.body
        );
    }
    let mut statuses = std::collections::BTreeMap::<(u16, String), usize>::new();
    for sent in &flood {
        assert!(matches!(sent.status, 401 | 503), "{}", sent.body);
        *statuses.entry((sent.status, reason(sent))).or_default() += 1;
    }
    let flood_calls = rig.calls() - 50;
    let stats = rig.validator.stats();
    println!(
        "flood: {} requests -> {flood_calls} Stytch calls; answers {statuses:?}; \
         real users: 50/50 ok; budget used {} refused {}",
        flood.len(),
        stats.budget_used,
        stats.budget_refused
    );
    // The default budget: bursts of 200, half kept for proven sessions; the manual
    // clock does not move, so nothing refills.
    assert!(flood_calls <= 100, "{flood_calls} flood calls");
    assert_eq!(stats.budget_used, rig.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implausible_session_tokens_never_leave_the_process() {
    let live = Live::warm(|b| b).await;
    let long = "A".repeat(257);
    for token in [
        "a.b",
        "tok en",
        "tok%20en",
        "ü-token",
        "tok+en/==",
        long.as_str(),
    ] {
        let sent = live
            .call(
                "/protected",
                &Req::raw("authorization", format!("Bearer {token}")),
            )
            .await;
        assert_eq!(sent.status, 401, "{token:?}: {}", sent.body);
    }
    // A short base64url token is Stytch's to judge, whatever its length today.
    let sent = live.call("/protected", &Req::session_token("abc")).await;
    assert_eq!(
        (sent.status, reason(&sent).as_str()),
        (401, "session_not_found")
    );
    assert_eq!(live.calls(), 1, "only the plausible one was asked about");
}

// ------------------------------------------------------------------ factor count

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factors_count_as_stytch_lists_them_type_and_channel() {
    let rig = Rig::start(
        |b| b,
        |v| {
            Router::new()
                .route("/pay", get(whoami).route_layer(require_factor_count(2)))
                .layer(StytchLayer::new(v))
        },
    )
    .await;
    let two_channels = rig.emu.create_session(
        NewSession::new()
            .factor(Factor::sms_otp("+15555550100"))
            .factor(Factor::email_otp("a@example.com")),
    );
    let one_channel_twice = rig.emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("b@example.com"))
            .factor(Factor::email_otp("b@example.com")),
    );
    // Stytch lists an OTP by SMS and an OTP by WhatsApp as two factors of one type.
    let otp_twice = rig.emu.create_session(
        NewSession::new()
            .factor(Factor::sms_otp("+15555550101"))
            .factor(Factor::raw(json!({
                "type": "otp",
                "delivery_method": "whatsapp",
                "phone_number_factor": {"phone_id": "phone-number-test-0", "phone_number": "+15555550101"}
            }))),
    );
    let one = rig
        .emu
        .create_session(NewSession::new().factor(Factor::email_otp("c@example.com")));
    for (s, want) in [
        (&two_channels, 200),
        (&one_channel_twice, 200),
        (&otp_twice, 200),
        (&one, 403),
    ] {
        let sent = rig.call("/pay", &Req::cookie(&s.session_jwt)).await;
        assert_eq!(sent.status, want, "{}", sent.body);
    }
}

// ------------------------------------------------------------ a JWK without bits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwk_with_an_empty_or_zero_modulus_is_skipped_without_a_panic() {
    let live = MockLive::start(|b| b).await;
    live.mock.set_jwks(Reply::jwks(vec![
        json!({"kty": "RSA", "kid": "empty", "alg": "RS256", "use": "sig", "n": "", "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "zero", "alg": "RS256", "use": "sig", "n": "AAAA", "e": "AQAB"}),
        own::real().jwk(),
    ]));
    let sent = live.get(&Req::cookie(&live.fresh())).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(live.mock.jwks_hits(), 1);
}

// ------------------------------------------------------------- optional, lenient

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_mode_ignoring_invalid_credentials_treats_unusable_ones_as_absent() {
    let rig = Rig::start(
        |b| b,
        |v| {
            Router::new()
                .route("/maybe", get(maybe))
                .layer(StytchLayer::new(v).with_mode(Mode::OptionalIgnoringInvalid))
        },
    )
    .await;
    let s = rig.emu.create_session(NewSession::new());
    let conflicting = Req::raw(
        "cookie",
        format!(
            "stytch_session_jwt={}; stytch_session_jwt=x.y.z",
            s.session_jwt
        ),
    );
    let sent = rig.call("/maybe", &conflicting).await;
    assert_eq!((sent.status, sent.body.as_str()), (200, "anonymous"));
    assert!(
        set_cookies(&sent).iter().any(|c| c.contains("Max-Age=0")),
        "the layer's own cookies are cleared so the browser recovers"
    );
    let sent = rig
        .call("/maybe", &Req::raw("authorization", "Basic dXNlcjpwYXNz"))
        .await;
    assert_eq!((sent.status, sent.body.as_str()), (200, "anonymous"));
    let sent = rig.call("/maybe", &Req::cookie("not.a.jwt")).await;
    assert_eq!((sent.status, sent.body.as_str()), (200, "anonymous"));
    let sent = rig.call("/maybe", &Req::cookie(&s.session_jwt)).await;
    assert_eq!(sent.body, s.user_id);
}

// ------------------------------------------- the remote path's state, model-based

/// What Stytch (the scripted mock) does on one step.
#[derive(Clone, Copy, Debug)]
enum Upstream {
    Ok,
    NotFound,
    Unauthorized,
    RateLimited(Option<u32>),
    ServerError,
    Timeout,
    Garbage,
}

fn upstream() -> impl proptest::strategy::Strategy<Value = Upstream> {
    use proptest::prelude::*;
    prop_oneof![
        3 => Just(Upstream::Ok),
        2 => Just(Upstream::NotFound),
        1 => Just(Upstream::Unauthorized),
        2 => prop_oneof![Just(None), Just(Some(0)), Just(Some(3)), Just(Some(30))]
            .prop_map(Upstream::RateLimited),
        3 => Just(Upstream::ServerError),
        1 => Just(Upstream::Timeout),
        1 => Just(Upstream::Garbage),
    ]
}

/// The longest pause any step can cause: the breaker's open period and the
/// misconfigured window (10 s), the rejected-credential memory (10 s), a 429's
/// `Retry-After` (30 s).
const LONGEST_PAUSE: Duration = Duration::from_secs(30);

fn reply(up: Upstream, now: i64) -> Reply {
    match up {
        Upstream::Ok => Reply::json(200, own::authenticated_body(now)),
        Upstream::NotFound => Reply::session_not_found(),
        Upstream::Unauthorized => Reply::error(401, "unauthorized_credentials"),
        Upstream::RateLimited(after) => {
            let r = Reply::error(429, "too_many_requests");
            match after {
                Some(s) => r.header("retry-after", s.to_string()),
                None => r,
            }
        }
        Upstream::ServerError => Reply::error(500, "internal_server_error"),
        Upstream::Timeout => {
            Reply::json(200, own::authenticated_body(now)).delay(Duration::from_secs(2))
        }
        Upstream::Garbage => Reply::body(200, MockBody::Text("{\"session\": tru")),
    }
}

/// An authentic, expired JWT of the mock's live session; `salt` makes it distinct.
fn expired_jwt(now: i64, salt: i64) -> String {
    let header = json!({"alg": "RS256", "kid": own::real().kid, "typ": "JWT"});
    own::real().sign(&header, &own::claims_at(now - 3900 - salt))
}

#[test]
fn remote_state_model_recovers_whatever_the_sequence() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let steps = proptest::collection::vec((upstream(), 0u64..15), 1..14);
    runner
        .run(&steps, |steps| {
            rt.block_on(async {
                let live = MockLive::start(|b| b.request_timeout(Duration::from_millis(250))).await;
                let mut salt = 0;
                for (i, (up, advance)) in steps.iter().enumerate() {
                    live.mock.set_auth(reply(*up, live.now()));
                    let open_before = live.validator.circuit_open();
                    let hits_before = live.mock.auth_hits();
                    salt += 1;
                    let sent = live.get(&Req::cookie(&expired_jwt(live.now(), salt))).await;
                    let hits = live.mock.auth_hits() - hits_before;
                    prop_assert!(
                        matches!(sent.status, 200 | 401 | 500 | 503),
                        "step {i} {up:?}: {} {}",
                        sent.status,
                        sent.body
                    );
                    if open_before {
                        // What circuit_open() says is what callers get: no call.
                        prop_assert_eq!(hits, 0, "step {} {:?}: open, yet called", i, up);
                        prop_assert!(sent.status >= 500, "step {i} {up:?}: {}", sent.status);
                    } else if reason(&sent) == "stytch_circuit_open" {
                        prop_assert!(hits > 0, "step {i} {up:?}: refused as open, not reported");
                    }
                    live.clock.advance(Duration::from_secs(*advance));
                }
                // Stytch answers normally for longer than the longest pause.
                live.mock.set_auth(reply(Upstream::Ok, live.now()));
                live.clock.advance(LONGEST_PAUSE + Duration::from_secs(1));
                salt += 1;
                let sent = live.get(&Req::cookie(&expired_jwt(live.now(), salt))).await;
                prop_assert_eq!(sent.status, 200, "after recovery: {}", sent.body);
                prop_assert!(!live.validator.circuit_open());
                salt += 1;
                let sent = live.get(&Req::cookie(&expired_jwt(live.now(), salt))).await;
                prop_assert_eq!(sent.status, 200, "and it stays so: {}", sent.body);
                Ok(())
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

//! Upstream faults (docs/threat-model.md, C-JWKS-* and C-API-*): the JWKS endpoint and
//! `sessions/authenticate` slow, failing, malformed, huge, redirected or cut, through
//! the emulator's fault injection or the scripted mock. Each test names its case id;
//! time moves through the emulator's clock and the validator's `ManualClock` (real
//! sleeps only where a deadline is the point, and then well under a second or two).

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;
use stytch_emulator::{Fault, Route};
use support::app::{Live, Req, Sent, settle};
use support::keys;
use support::mock::{Mock, MockBody, Reply};
use support::own::{self, MockLive};

fn retry_after(sent: &Sent) -> Option<u64> {
    sent.header("retry-after").and_then(|v| v.parse().ok())
}

fn assert_503(sent: &Sent, id: &str) {
    assert_eq!(sent.status, 503, "{id}: {}", sent.body);
    assert!(
        retry_after(sent).is_some_and(|s| s >= 1),
        "{id}: Retry-After"
    );
    assert!(
        sent.header("www-authenticate").is_none(),
        "{id}: an outage is not a credential problem"
    );
}

/// A forged token with a random-looking kid: asks for an unknown-kid refresh.
fn unknown_kid_token(i: u32) -> String {
    let header = json!({"alg": "RS256", "kid": format!("jwk-test-unknown-{i:06}"), "typ": "JWT"});
    keys::attacker().sign(&header, &own::claims_at(1_900_000_000))
}

// ---------------------------------------------------------------- JWKS (C-JWKS-*)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_01_cold_jwks_down_and_api_down_is_503_with_backoff() {
    let live = Live::cold(|b| b).await;
    live.emu.inject_fault(Route::Jwks, Fault::status(500));
    live.emu
        .inject_fault(Route::Authenticate, Fault::status(503));
    let s = live.session(&[]);
    let req = Req::cookie(&s.session_jwt);
    assert_503(&live.get("/protected", &req).await, "C-JWKS-01");
    assert_eq!(live.fetches(), 1, "C-JWKS-01: one fetch");
    // Within the first backoff step (1 s) nothing is fetched again.
    assert_503(&live.get("/protected", &req).await, "C-JWKS-01");
    assert_eq!(live.fetches(), 1, "C-JWKS-01: backoff holds");
    live.advance(Duration::from_millis(1100));
    assert_503(&live.get("/protected", &req).await, "C-JWKS-01");
    assert_eq!(live.fetches(), 2, "C-JWKS-01: one fetch per backoff step");
    // The second step is 2 s.
    live.advance(Duration::from_millis(1100));
    assert_503(&live.get("/protected", &req).await, "C-JWKS-01");
    assert_eq!(live.fetches(), 2, "C-JWKS-01: the step doubled");
    live.advance(Duration::from_millis(1000));
    assert_503(&live.get("/protected", &req).await, "C-JWKS-01");
    assert_eq!(live.fetches(), 3, "C-JWKS-01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_02_a_hanging_jwks_is_503_within_the_deadline_and_shared() {
    let live = Live::cold(|b| b.request_timeout(Duration::from_millis(500))).await;
    live.emu
        .inject_fault(Route::Jwks, Fault::latency(Duration::from_secs(5)));
    live.emu
        .inject_fault(Route::Authenticate, Fault::status(503));
    let s = live.session(&[]);
    let started = Instant::now();
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (barrier, router, jwt) = (
                Arc::clone(&barrier),
                live.router.clone(),
                s.session_jwt.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                support::app::call(&router, "/protected", &Req::cookie(&jwt)).await
            })
        })
        .collect();
    for task in tasks {
        assert_503(&task.await.expect("no panic"), "C-JWKS-02");
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "C-JWKS-02: within the 0.5 s deadline + 1 s ({:?})",
        started.elapsed()
    );
    assert_eq!(live.fetches(), 1, "C-JWKS-02: one shared in-flight fetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_03_a_slow_loris_jwks_hits_the_total_deadline() {
    let live = MockLive::start(|b| b.request_timeout(Duration::from_secs(1))).await;
    live.mock.set_jwks(Reply::body(
        200,
        MockBody::Drip {
            every: Duration::from_millis(100),
            len: 200,
        },
    ));
    live.mock.set_auth(Reply::error(503, "service_unavailable"));
    let started = Instant::now();
    let sent = live.get(&Req::cookie(&live.fresh())).await;
    assert_503(&sent, "C-JWKS-03");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "C-JWKS-03: a total deadline, not an idle timeout ({:?})",
        started.elapsed()
    );
    assert!(
        live.mock.streamed_bytes() < 30,
        "C-JWKS-03: the read stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_04_warm_keys_survive_a_jwks_outage_with_exponential_backoff() {
    let live = Live::warm(|b| b).await;
    live.emu.inject_fault(Route::Jwks, Fault::status(500));
    live.advance(Duration::from_secs(601));
    let s = live.session(&[]);
    let req = Req::cookie(&s.session_jwt);
    let before = live.fetches();
    for second in 0..120 {
        let sent = live.get("/protected", &req).await;
        assert_eq!(
            sent.status, 200,
            "C-JWKS-04 at +{second}s: last-known-good keys"
        );
        // Let a background refresh land before time moves on.
        tokio::time::sleep(Duration::from_millis(3)).await;
        live.advance(Duration::from_secs(1));
    }
    // Attempts at +0, 1, 3, 7, 15, 31, 63 s (1 s doubling, capped at 60 s): about log2.
    let attempts = live.fetches() - before;
    assert!(
        (4..=8).contains(&attempts),
        "C-JWKS-04: {attempts} refresh attempts in 120 s"
    );
    assert_eq!(live.calls(), 0, "C-JWKS-04: no remote call");
}

async fn refresh_fails_but_keys_stay(id: &str, bad: Reply) {
    let live = MockLive::start(|b| b).await;
    live.validator.warm_up().await.expect("warm-up");
    live.mock.set_jwks(bad);
    // Past 80 % of the 600 s max-age: the next request refreshes in the background.
    live.clock.advance(Duration::from_secs(481));
    let before = live.mock.jwks_hits();
    assert_eq!(
        live.get(&Req::cookie(&live.fresh())).await.status,
        200,
        "{id}"
    );
    assert!(
        settle(|| live.mock.jwks_hits() > before).await,
        "{id}: a refresh was attempted"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..3 {
        let sent = live.get(&Req::cookie(&live.fresh())).await;
        assert_eq!(sent.status, 200, "{id}: old keys kept: {}", sent.body);
    }
    assert_eq!(live.mock.auth_hits(), 0, "{id}: no remote call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_05_unparseable_refreshes_keep_the_old_keys() {
    refresh_fails_but_keys_stay(
        "C-JWKS-05 invalid_json",
        Reply::body(200, MockBody::Text("{\"keys\":[{\"kty\":\"RSA\",")),
    )
    .await;
    refresh_fails_but_keys_stay(
        "C-JWKS-05 html_200",
        Reply::body(200, MockBody::Text("<html><body>Welcome</body></html>"))
            .header("content-type", "text/html"),
    )
    .await;
    refresh_fails_but_keys_stay(
        "C-JWKS-05 no_keys_member",
        Reply::json(
            200,
            json!({"status_code": 200, "request_id": "request-id-test"}),
        ),
    )
    .await;
    // And the emulator's own malformed body.
    let live = Live::warm(|b| b).await;
    live.emu.inject_fault(Route::Jwks, Fault::malformed_body());
    live.advance(Duration::from_secs(481));
    let s = live.session(&[]);
    let req = Req::cookie(&s.session_jwt);
    assert_eq!(live.get("/protected", &req).await.status, 200, "C-JWKS-05");
    assert!(
        settle(|| live.fetches() >= 2).await,
        "C-JWKS-05: refresh attempted"
    );
    assert_eq!(live.get("/protected", &req).await.status, 200, "C-JWKS-05");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_06_an_empty_key_set_does_not_revoke_everything() {
    refresh_fails_but_keys_stay("C-JWKS-06", Reply::jwks(vec![])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_07_a_huge_jwks_is_cut_at_the_body_cap() {
    refresh_fails_but_keys_stay(
        "C-JWKS-07 with content-length",
        Reply::body(
            200,
            MockBody::Huge {
                len: 50 << 20,
                content_length: true,
            },
        ),
    )
    .await;
    let live = MockLive::start(|b| b).await;
    live.validator.warm_up().await.expect("warm-up");
    live.mock.set_jwks(Reply::body(
        200,
        MockBody::Huge {
            len: 50 << 20,
            content_length: false,
        },
    ));
    live.clock.advance(Duration::from_secs(481));
    assert_eq!(live.get(&Req::cookie(&live.fresh())).await.status, 200);
    assert!(settle(|| live.mock.jwks_hits() == 2).await);
    // Wait until the mock stops streaming: the client has hung up.
    let mut last = u64::MAX;
    for _ in 0..100 {
        let now = live.mock.streamed_bytes();
        if now == last {
            break;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        live.get(&Req::cookie(&live.fresh())).await.status,
        200,
        "C-JWKS-07: old keys kept"
    );
    let streamed = live.mock.streamed_bytes();
    assert!(
        streamed < 20 << 20,
        "C-JWKS-07: the read stops near the 1 MiB cap, not at 50 MiB ({streamed} bytes sent)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_08_a_redirect_is_not_followed() {
    let attacker = Mock::start().await;
    let target = attacker.url("/jwks");
    refresh_fails_but_keys_stay(
        "C-JWKS-08",
        Reply::json(302, json!({})).header("location", target),
    )
    .await;
    assert_eq!(
        attacker.total_hits(),
        0,
        "C-JWKS-08: the attacker saw nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_09_a_connection_reset_mid_body_is_a_failure() {
    refresh_fails_but_keys_stay(
        "C-JWKS-09",
        Reply::body(
            200,
            MockBody::ResetAfter("{\"keys\":[{\"kty\":\"RSA\",\"kid\":"),
        ),
    )
    .await;
    // The emulator's variant: the connection is dropped before any answer.
    let live = Live::warm(|b| b).await;
    live.emu
        .inject_fault(Route::Jwks, Fault::close_connection());
    live.advance(Duration::from_secs(481));
    let s = live.session(&[]);
    let req = Req::cookie(&s.session_jwt);
    assert_eq!(live.get("/protected", &req).await.status, 200, "C-JWKS-09");
    assert!(settle(|| live.fetches() >= 2).await);
    assert_eq!(live.get("/protected", &req).await.status, 200, "C-JWKS-09");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_13_a_429_retry_after_is_honoured() {
    let live = Live::warm(|b| b).await;
    live.emu
        .inject_fault(Route::Jwks, Fault::status(429).retry_after(30).times(1));
    live.advance(Duration::from_secs(481));
    let s = live.session(&[]);
    let req = Req::cookie(&s.session_jwt);
    assert_eq!(live.get("/protected", &req).await.status, 200);
    assert!(settle(|| live.fetches() == 2).await, "C-JWKS-13: the 429");
    tokio::time::sleep(Duration::from_millis(20)).await;
    for second in 1..30 {
        live.advance(Duration::from_secs(1));
        let fresh = live.get("/protected", &req).await;
        assert_eq!(
            fresh.status, 200,
            "C-JWKS-13 at +{second}s: cached keys used"
        );
        // The keys cannot be refreshed, so an unknown kid is not a verdict yet.
        let unknown = live
            .get("/protected", &Req::cookie(&unknown_kid_token(second)))
            .await;
        assert_503(&unknown, "C-JWKS-13");
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(live.fetches(), 2, "C-JWKS-13 at +{second}s: no new attempt");
    }
    live.advance(Duration::from_secs(2));
    live.get("/protected", &Req::cookie(&unknown_kid_token(99)))
        .await;
    assert!(
        settle(|| live.fetches() == 3).await,
        "C-JWKS-13: allowed again after 30 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_14_a_set_older_than_max_stale_is_not_trusted() {
    let live = Live::warm(|b| b).await;
    live.emu.inject_fault(Route::Jwks, Fault::status(500));
    live.advance(Duration::from_secs(25 * 3600));
    let s = live.session(&[]);
    let sent = live.get("/protected", &Req::cookie(&s.session_jwt)).await;
    assert_eq!(sent.status, 200, "C-JWKS-14: Stytch decides: {}", sent.body);
    assert_eq!(sent.json()["source"], "remote", "C-JWKS-14: not local");
    assert_eq!(live.calls(), 1, "C-JWKS-14");
    live.emu
        .inject_fault(Route::Authenticate, Fault::status(503));
    let other = live.session(&[]);
    assert_503(
        &live
            .get("/protected", &Req::cookie(&other.session_jwt))
            .await,
        "C-JWKS-14 with the API down",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_16_the_project_is_never_taken_from_the_token() {
    let live = MockLive::start(|b| b).await;
    live.validator.warm_up().await.expect("warm-up");
    for (i, evil) in [
        "project-test-../../x",
        "project-test-..%2F..%2Fx",
        "project-live-00000000-0000-4000-8000-000000000000",
    ]
    .iter()
    .enumerate()
    {
        live.clock.advance(Duration::from_secs(31));
        let mut claims = own::claims_at(live.now());
        claims["aud"] = json!([evil]);
        claims["iss"] = json!(format!("stytch.com/{evil}"));
        let header = json!({"alg": "RS256", "kid": format!("jwk-test-{evil}-{i}"), "typ": "JWT"});
        let token = own::real().sign(&header, &claims);
        assert_eq!(
            live.get(&Req::cookie(&token)).await.status,
            401,
            "C-JWKS-16 {evil}"
        );
    }
    let expected = format!("/v1/sessions/jwks/{}", own::PID);
    let seen = live.mock.seen();
    assert!(seen.len() >= 2, "C-JWKS-16: refreshes happened");
    for request in seen {
        assert_eq!(
            request.path, expected,
            "C-JWKS-16: only the configured project"
        );
    }
    assert_eq!(live.mock.auth_hits(), 0, "C-JWKS-16: no remote call");
}

/// C-JWKS-18: the request that leads a fetch goes away (its future is dropped, as when
/// the client disconnects; driven in-process so the drop is certain); the fetch
/// completes for the others and nothing stays "in flight".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_18_a_leader_that_goes_away_does_not_strand_the_fetch() {
    let live = Live::cold(|b| b).await;
    live.emu.inject_fault(
        Route::Jwks,
        Fault::latency(Duration::from_millis(300)).times(1),
    );
    let s = live.session(&[]);
    let leader = {
        let (router, jwt) = (live.router.clone(), s.session_jwt.clone());
        tokio::spawn(
            async move { support::app::call(&router, "/protected", &Req::cookie(&jwt)).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    leader.abort();
    assert!(leader.await.is_err(), "C-JWKS-18: the leader was dropped");
    let follower = live.get("/protected", &Req::cookie(&s.session_jwt)).await;
    assert_eq!(follower.status, 200, "C-JWKS-18: {}", follower.body);
    assert_eq!(
        live.fetches(),
        1,
        "C-JWKS-18: the leader's fetch served the follower"
    );
    // Nothing is stuck: a rotation is picked up by a new fetch.
    live.emu.rotate_keys();
    let rotated = live.session(&[]);
    let sent = live
        .get("/protected", &Req::cookie(&rotated.session_jwt))
        .await;
    assert_eq!(sent.status, 200, "C-JWKS-18: next fetch works");
    assert_eq!(live.fetches(), 2, "C-JWKS-18");
}

/// C-JWKS-20: a routine refresh (the set past 80 % of its max-age) whose JWKS request
/// is accepted and never answered holds up no request the current keys can check: the
/// token already verified and a token seen for the first time both get 200 while that
/// one fetch is in flight, and nobody starts another or calls Stytch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_20_a_hanging_routine_refresh_blocks_no_reader() {
    // The refresh may wait an hour: if a reader waited for it, it would not come back.
    let live = Live::warm(|b| {
        b.jwks_max_age(Duration::from_secs(60))
            .request_timeout(Duration::from_secs(3600))
    })
    .await;
    let known = live.session(&[]);
    let known = Req::cookie(&known.session_jwt);
    assert_eq!(
        live.get("/protected", &known).await.status,
        200,
        "C-JWKS-20"
    );
    live.emu
        .inject_fault(Route::Jwks, Fault::latency(Duration::from_secs(3600)));
    // Past 80 % of the max-age; the JWT (5 minutes) is still valid.
    live.advance(Duration::from_secs(49));
    let before = live.fetches();
    // The first reader past the due time starts the refresh in the background.
    assert_eq!(
        live.get("/protected", &known).await.status,
        200,
        "C-JWKS-20"
    );
    assert!(
        settle(|| live.fetches() > before).await,
        "C-JWKS-20: the refresh reached the JWKS"
    );
    // Now the fetch hangs. A liveness bound only: any wait on the fetch is an hour.
    let readers = async {
        let hit = live.get("/protected", &known).await;
        let first_seen = live
            .get("/protected", &Req::cookie(&live.session(&[]).session_jwt))
            .await;
        (hit, first_seen)
    };
    let (hit, first_seen) = tokio::time::timeout(Duration::from_secs(60), readers)
        .await
        .expect("C-JWKS-20: a reader waited for the hanging refresh");
    assert_eq!(hit.status, 200, "C-JWKS-20: cache hit: {}", hit.body);
    assert_eq!(
        first_seen.status, 200,
        "C-JWKS-20: verified with the current keys: {}",
        first_seen.body
    );
    assert_eq!(
        live.fetches(),
        before + 1,
        "C-JWKS-20: one fetch in flight, no other started"
    );
    assert_eq!(live.calls(), 0, "C-JWKS-20: no remote call");
}

// ---------------------------------------------------------------- Stytch API (C-API-*)

/// An expired JWT of a live session: the remote path.
async fn expired(live: &Live) -> String {
    let s = live.session(&[]);
    live.advance(Duration::from_secs(400));
    s.session_jwt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_01_a_good_answer_authenticates_and_reissues_cookies() {
    let live = Live::warm(|b| b).await;
    let jwt = expired(&live).await;
    let sent = live.get("/protected", &Req::cookie(&jwt)).await;
    assert_eq!(sent.status, 200, "C-API-01");
    assert_eq!(
        sent.json()["source"],
        "remote",
        "C-API-01: principal from the body"
    );
    assert_eq!(live.calls(), 1, "C-API-01");
    let cookies: Vec<String> = sent
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let jwt_cookie = cookies
        .iter()
        .find(|c| c.starts_with("stytch_session_jwt="))
        .expect("C-API-01: a fresh JWT cookie");
    for attribute in ["Secure", "SameSite=Lax", "Path=/"] {
        assert!(jwt_cookie.contains(attribute), "C-API-01: {attribute}");
    }
    // Policy: HttpOnly is off by default (Stytch's frontend SDK reads the cookie); on request:
    let strict = Live::on(live.emu.clone(), |b| b).await;
    let strict_router = support::app::routes()
        .layer(axum_stytch::StytchLayer::new(strict.validator.clone()).with_http_only(true));
    strict.clock.advance(Duration::from_secs(400));
    let sent = support::app::call(&strict_router, "/protected", &Req::cookie(&jwt)).await;
    assert_eq!(sent.status, 200, "C-API-01 (HttpOnly)");
    let set = sent
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("stytch_session_jwt="))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(set.contains("HttpOnly"), "C-API-01: {set}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_02_session_not_found_is_401_and_clears_cookies() {
    let live = Live::warm(|b| b).await;
    let s = live.session(&[]);
    live.emu.revoke_session(&s.session_id);
    live.advance(Duration::from_secs(400));
    let sent = live.get("/protected", &Req::cookie(&s.session_jwt)).await;
    assert_eq!(sent.status, 401, "C-API-02");
    assert_eq!(sent.json()["error"], "session_not_found", "C-API-02");
    let cleared = sent
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|c| c.contains("Max-Age=0"))
        .count();
    assert_eq!(cleared, 2, "C-API-02: both cookies cleared");
    assert_eq!(live.calls(), 1, "C-API-02");
}

/// Policy: a 401 from Stytch means our secret is wrong: 500 `misconfigured`
/// (`ErrorKind::Misconfigured`), not 503 (tests/README.md explains why). The secret
/// never shows, and the refusal is remembered for the breaker's open period instead of
/// costing a call per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_03_our_credentials_rejected_is_a_misconfiguration() {
    let emu = stytch_emulator::Emulator::builder()
        .start()
        .await
        .expect("emulator");
    let clock = axum_stytch::stytch_validator::ManualClock::at_unix_secs(emu.now_unix());
    let wrong_secret = "secret-test-WRONG-0123456789abcdef0123456789";
    let validator = support::app::validator(
        emu.project_id(),
        wrong_secret,
        &emu.base_url(),
        &clock,
        |b| b,
    );
    let addr = support::app::serve(&validator).await;
    let http = support::app::client();
    let s = emu.create_session(stytch_emulator::NewSession::new());
    for req in [
        Req::session_token(&s.session_token),
        Req::session_token(&s.session_token),
    ] {
        let sent = support::app::send(&http, addr, "/protected", &req).await;
        assert_eq!(sent.status, 500, "C-API-03: {}", sent.body);
        assert_eq!(
            sent.json()["error"],
            "stytch_rejected_credentials",
            "C-API-03"
        );
        assert!(!sent.body.contains(wrong_secret) && !sent.body.contains("WRONG"));
        assert!(!sent.body.contains(emu.secret()));
    }
    assert_eq!(
        emu.request_count(Route::Authenticate),
        1,
        "C-API-03: no retry, and the refusal is remembered"
    );
    // After the breaker's open period (10 s) the next request asks again.
    clock.advance(Duration::from_secs(11));
    let sent = support::app::send(
        &http,
        addr,
        "/protected",
        &Req::session_token(&s.session_token),
    )
    .await;
    assert_eq!(sent.status, 500, "C-API-03");
    assert_eq!(emu.request_count(Route::Authenticate), 2, "C-API-03");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_04_a_429_with_retry_after_pauses_calls() {
    let live = Live::warm(|b| b).await;
    live.emu
        .inject_fault(Route::Authenticate, Fault::status(429).retry_after(10));
    let sessions: Vec<_> = (0..12).map(|_| live.session(&[])).collect();
    live.advance(Duration::from_secs(400));
    let first = live
        .get("/protected", &Req::cookie(&sessions[0].session_jwt))
        .await;
    assert_503(&first, "C-API-04");
    assert_eq!(
        retry_after(&first),
        Some(10),
        "C-API-04: Retry-After passed on"
    );
    assert_eq!(live.calls(), 1, "C-API-04");
    for (i, s) in sessions[1..10].iter().enumerate() {
        live.advance(Duration::from_millis(900));
        let sent = live.get("/protected", &Req::cookie(&s.session_jwt)).await;
        assert_503(&sent, &format!("C-API-04 +{}ms", 900 * (i + 1)));
    }
    assert!(
        live.calls() <= 2,
        "C-API-04: at most one probe within the 10 s ({} calls)",
        live.calls()
    );
    live.emu.clear_faults();
    live.advance(Duration::from_secs(2));
    let sent = live
        .get("/protected", &Req::cookie(&sessions[10].session_jwt))
        .await;
    assert_eq!(sent.status, 200, "C-API-04: calls resume after the pause");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_05_5xx_is_503_with_at_most_one_retry() {
    for status in [500u16, 502, 503] {
        let live = Live::warm(|b| b).await;
        live.emu
            .inject_fault(Route::Authenticate, Fault::status(status));
        let jwt = expired(&live).await;
        assert_503(
            &live.get("/protected", &Req::cookie(&jwt)).await,
            &format!("C-API-05 {status}"),
        );
        assert!(
            (1..=2).contains(&live.calls()),
            "C-API-05 {status}: {} calls (one retry at most)",
            live.calls()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_06_a_hanging_api_is_bounded_in_time_and_concurrency() {
    let live = Live::warm(|b| {
        b.request_timeout(Duration::from_millis(500))
            .max_in_flight(4)
    })
    .await;
    live.emu
        .inject_fault(Route::Authenticate, Fault::latency(Duration::from_secs(3)));
    let sessions: Vec<_> = (0..10).map(|_| live.session(&[])).collect();
    live.advance(Duration::from_secs(400));
    let started = Instant::now();
    let tasks: Vec<_> = sessions
        .iter()
        .map(|s| {
            let (router, jwt) = (live.router.clone(), s.session_jwt.clone());
            tokio::spawn(async move {
                let t = Instant::now();
                let sent = support::app::call(&router, "/protected", &Req::cookie(&jwt)).await;
                (sent, t.elapsed())
            })
        })
        .collect();
    // Proven sessions (authentic expired JWTs) queue for a slot for at most half the
    // request timeout, so the excess gives up before any slot frees: never more than
    // the cap in flight.
    let mut overloaded = 0;
    for task in tasks {
        let (sent, took) = task.await.expect("no panic");
        assert_503(&sent, "C-API-06");
        if sent.json()["error"] == "stytch_overloaded" {
            overloaded += 1;
            assert!(took < Duration::from_millis(500), "C-API-06: {took:?}");
        }
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "C-API-06: within the deadline ({:?})",
        started.elapsed()
    );
    assert_eq!(
        overloaded, 6,
        "C-API-06: the excess gives up within half the deadline"
    );
    assert_eq!(
        live.calls(),
        4,
        "C-API-06: in flight ≤ the cap, no retry on timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_07_connection_refused_fails_fast_once_the_circuit_opens() {
    // A loopback port with nothing listening.
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr")
    };
    let emu = stytch_emulator::Emulator::builder()
        .start()
        .await
        .expect("emulator");
    let s = emu.create_session(stytch_emulator::NewSession::new());
    let clock = axum_stytch::stytch_validator::ManualClock::at_unix_secs(emu.now_unix());
    let validator = support::app::validator(
        emu.project_id(),
        emu.secret(),
        &format!("http://{dead}"),
        &clock,
        |b| b,
    );
    let addr = support::app::serve(&validator).await;
    let http = support::app::client();
    let req = Req::session_token(&s.session_token);
    for _ in 0..3 {
        assert_503(
            &support::app::send(&http, addr, "/protected", &req).await,
            "C-API-07",
        );
    }
    assert!(validator.circuit_open(), "C-API-07: the circuit opened");
    assert_503(
        &support::app::send(&http, addr, "/protected", &req).await,
        "C-API-07",
    );
    // Timed at the validator, so that HTTP client overhead on a loaded CI box does not count.
    let started = Instant::now();
    let err = validator
        .authenticate(axum_stytch::stytch_validator::Credentials::token(
            s.session_token.clone(),
        ))
        .await
        .expect_err("C-API-07");
    assert_eq!(err.status_code(), 503, "C-API-07");
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "C-API-07: fast failure ({:?})",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_08_invalid_json_is_503() {
    let live = Live::warm(|b| b).await;
    live.emu
        .inject_fault(Route::Authenticate, Fault::malformed_body());
    let jwt = expired(&live).await;
    assert_503(
        &live.get("/protected", &Req::cookie(&jwt)).await,
        "C-API-08",
    );
    assert!(live.calls() <= 2, "C-API-08");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_09_a_partial_body_is_503() {
    for (what, body) in [
        (
            "no session",
            json!({"status_code": 200, "request_id": "r", "user": {}}),
        ),
        (
            "no user_id",
            json!({"status_code": 200, "session": {"session_id": "session-test-x",
                   "expires_at": "2030-01-01T00:00:00Z"}}),
        ),
        (
            "empty ids",
            json!({"status_code": 200, "session": {"session_id": "", "user_id": "",
                   "expires_at": "2030-01-01T00:00:00Z"}}),
        ),
    ] {
        let live = MockLive::start(|b| b).await;
        live.mock.set_auth(Reply::json(200, body));
        assert_503(
            &live.get(&Req::cookie(&live.expired())).await,
            &format!("C-API-09 {what}"),
        );
    }
    // The control: a complete body authenticates.
    let live = MockLive::start(|b| b).await;
    live.mock
        .set_auth(Reply::json(200, own::authenticated_body(live.now())));
    assert_eq!(
        live.get(&Req::cookie(&live.expired())).await.status,
        200,
        "C-API-09 control"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_10_a_huge_body_is_503_and_read_capped() {
    for content_length in [true, false] {
        let live = MockLive::start(|b| b).await;
        live.mock.set_auth(Reply::body(
            200,
            MockBody::Huge {
                len: 100 << 20,
                content_length,
            },
        ));
        assert_503(&live.get(&Req::cookie(&live.expired())).await, "C-API-10");
        let streamed = live.mock.streamed_bytes();
        assert!(
            streamed < 40 << 20,
            "C-API-10: the read is capped ({streamed} bytes of 100 MiB sent)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_11_a_slow_loris_body_is_503_at_the_deadline() {
    let live = MockLive::start(|b| b.request_timeout(Duration::from_secs(1))).await;
    live.mock.set_auth(Reply::body(
        200,
        MockBody::Drip {
            every: Duration::from_millis(100),
            len: 200,
        },
    ));
    let started = Instant::now();
    assert_503(&live.get(&Req::cookie(&live.expired())).await, "C-API-11");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "C-API-11: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_12_a_redirect_is_not_followed_and_the_secret_stays_home() {
    let attacker = Mock::start().await;
    let live = MockLive::start(|b| b).await;
    live.mock.set_auth(
        Reply::json(307, json!({})).header("location", attacker.url("/v1/sessions/authenticate")),
    );
    assert_503(&live.get(&Req::cookie(&live.expired())).await, "C-API-12");
    assert_eq!(attacker.total_hits(), 0, "C-API-12: not followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_13_client_errors_from_stytch_are_401() {
    for (status, error_type) in [
        (400, "invalid_session_token"),
        (400, "unable_to_parse_session_jwt"),
        (400, "jwt_invalid_audience"),
        (400, "jwt_invalid_issuer"),
        (404, "jwt_invalid_issuer"),
        (404, "session_not_found"),
    ] {
        let live = MockLive::start(|b| b).await;
        live.mock.set_auth(Reply::error(status, error_type));
        let sent = live.get(&Req::cookie(&live.expired())).await;
        assert_eq!(
            sent.status, 401,
            "C-API-13 {status} {error_type}: {}",
            sent.body
        );
        assert!(
            !sent.body.contains("scripted"),
            "C-API-13: no Stytch error text"
        );
        assert_eq!(live.mock.auth_hits(), 1, "C-API-13: not retried");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_14_the_request_shape_matches_the_contract() {
    let live = MockLive::start(|b| b).await;
    let jwt = live.expired();
    live.get(&Req::cookie(&jwt)).await;
    let token = "WJtR5BCy38Szd5AfoDpf0iqFKEt4EE5JhjlWUY7l3FtY";
    live.get(&Req::session_token(token)).await;
    let calls: Vec<_> = live
        .mock
        .seen()
        .into_iter()
        .filter(|s| s.path.ends_with("/authenticate"))
        .collect();
    assert_eq!(calls.len(), 2, "C-API-14");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", own::PID, own::SECRET))
    );
    for (call, expected) in calls
        .iter()
        .zip([json!({"session_jwt": jwt}), json!({"session_token": token})])
    {
        assert_eq!(call.method, "POST", "C-API-14");
        assert_eq!(call.path, "/v1/sessions/authenticate", "C-API-14");
        assert_eq!(
            call.authorization.as_deref(),
            Some(basic.as_str()),
            "C-API-14"
        );
        assert_eq!(
            call.content_type.as_deref(),
            Some("application/json"),
            "C-API-14"
        );
        let body: serde_json::Value = serde_json::from_slice(&call.body).expect("JSON body");
        assert_eq!(body, expected, "C-API-14: exactly one credential");
    }
    // The host follows the project id (https): test vs live.
    let test = axum_stytch::StytchConfig::builder(own::PID, "s")
        .build()
        .expect("config");
    assert_eq!(test.api_url(), "https://test.stytch.com", "C-API-14");
    let live_pid = own::PID.replace("test", "live");
    let live_cfg = axum_stytch::StytchConfig::builder(live_pid, "s")
        .build()
        .expect("config");
    assert_eq!(live_cfg.api_url(), "https://api.stytch.com", "C-API-14");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_16_what_is_remembered_and_what_is_not() {
    // 200: kept until the fresh JWT's `exp` (5 min), then asked again.
    let live = Live::warm(|b| b).await;
    let jwt = expired(&live).await;
    for _ in 0..2 {
        assert_eq!(live.get("/protected", &Req::cookie(&jwt)).await.status, 200);
    }
    assert_eq!(live.calls(), 1, "C-API-16: a 200 is kept");
    // Past the fresh JWT's exp (300 s after the emulator issued it). The emulator's
    // clock ticks with real time and the validator's is manual, so leave room for the
    // seconds the emulator ran ahead while the test set up.
    live.advance(Duration::from_secs(320));
    assert_eq!(live.get("/protected", &Req::cookie(&jwt)).await.status, 200);
    assert_eq!(live.calls(), 2, "C-API-16: until the fresh JWT's exp");
    // 404: remembered for the rejected-TTL (10 s), then asked again.
    let s = live.session(&[]);
    live.emu.revoke_session(&s.session_id);
    live.advance(Duration::from_secs(400));
    let before = live.calls();
    for _ in 0..5 {
        let sent = live.get("/protected", &Req::cookie(&s.session_jwt)).await;
        assert_eq!(sent.status, 401, "C-API-16");
    }
    assert_eq!(live.calls() - before, 1, "C-API-16: 404 remembered");
    live.advance(Duration::from_secs(11));
    live.get("/protected", &Req::cookie(&s.session_jwt)).await;
    assert_eq!(live.calls() - before, 2, "C-API-16: for at most 10 s");
    // 5xx: never remembered.
    let t = live.session(&[]);
    live.advance(Duration::from_secs(400));
    live.emu
        .inject_fault(Route::Authenticate, Fault::status(503).times(2));
    assert_503(
        &live.get("/protected", &Req::cookie(&t.session_jwt)).await,
        "C-API-16",
    );
    let sent = live.get("/protected", &Req::cookie(&t.session_jwt)).await;
    assert_eq!(sent.status, 200, "C-API-16: a 5xx is not cached");
}

/// A Stytch outage that recovers: the circuit opens, fails fast, lets one
/// probe through after the open period, and closes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_opens_the_circuit_and_recovery_closes_it() {
    let live = Live::warm(|b| b.circuit_breaker(3, Duration::from_secs(10))).await;
    live.emu
        .inject_fault(Route::Authenticate, Fault::status(503));
    let sessions: Vec<_> = (0..6).map(|_| live.session(&[])).collect();
    live.advance(Duration::from_secs(400));
    for s in &sessions[..2] {
        assert_503(
            &live.get("/protected", &Req::cookie(&s.session_jwt)).await,
            "outage",
        );
    }
    assert!(live.validator.circuit_open(), "the circuit opened");
    let calls = live.calls();
    let sent = live
        .get("/protected", &Req::cookie(&sessions[2].session_jwt))
        .await;
    assert_503(&sent, "open circuit");
    assert_eq!(sent.json()["error"], "stytch_circuit_open");
    assert_eq!(live.calls(), calls, "an open circuit makes no call");
    live.emu.clear_faults();
    live.advance(Duration::from_secs(11));
    let sent = live
        .get("/protected", &Req::cookie(&sessions[3].session_jwt))
        .await;
    assert_eq!(sent.status, 200, "the probe succeeds: {}", sent.body);
    assert!(!live.validator.circuit_open(), "the circuit closed");
    for s in &sessions[4..] {
        let sent = live.get("/protected", &Req::cookie(&s.session_jwt)).await;
        assert_eq!(sent.status, 200, "recovered");
    }
}

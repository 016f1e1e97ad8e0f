//! Fleet mode against a real `redis-server` (started per test on a free loopback port,
//! killed by PID; `common/redis.rs`): instances with their own caches share
//! revocations, Stytch's answers and the remote budget through `stytch-redis`, and
//! fall back to their local state, within the timeout, when Redis goes away.
//!
//! Every test asserts counters: the emulator's per-route request counts and the
//! validators' `stats()`. Time is the shared `ManualClock`; real sleeps only wait for
//! Redis propagation.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::{get, post};
use axum_stytch::layer::ClearSessionCookies;
use axum_stytch::stytch_validator::{Credentials, ManualClock, Reason, StytchConfigBuilder};
use axum_stytch::{StytchConfig, StytchLayer, StytchRejection, StytchSession, Validator};
use futures_util::future::join_all;
use stytch_emulator::{Emulator, EmulatorHandle, NewSession, Route};
use stytch_redis::RedisFleet;
use tower::ServiceExt as _;

use crate::common::redis::RedisServer;

async fn me(session: StytchSession) -> String {
    session.session_id().to_owned()
}

async fn logout(
    session: StytchSession,
) -> Result<(ClearSessionCookies, &'static str), StytchRejection> {
    Ok((session.revoke().await?, "bye"))
}

struct Fleet {
    redis: RedisServer,
    emu: EmulatorHandle,
    clock: ManualClock,
}

struct Instance {
    validator: Validator,
    fleet: RedisFleet,
    app: Router,
}

impl Fleet {
    async fn start(test: &str) -> Option<Fleet> {
        let redis = RedisServer::start(test)?;
        let emu = Emulator::builder().start().await.expect("emulator");
        let clock = ManualClock::at_unix_secs(emu.now_unix());
        Some(Fleet { redis, emu, clock })
    }

    /// An instance with its own validator (own caches) and its own connection to Redis.
    async fn instance(
        &self,
        timeout: Duration,
        configure: impl FnOnce(StytchConfigBuilder) -> StytchConfigBuilder,
    ) -> Instance {
        let fleet = RedisFleet::builder(self.redis.url())
            .timeout(timeout)
            .build()
            .expect("fleet");
        let config = StytchConfig::builder(self.emu.project_id(), self.emu.secret())
            .api_url(self.emu.base_url())
            .request_timeout(Duration::from_secs(2))
            .clock(self.clock.clone());
        let validator =
            Validator::with_fleet(configure(config).build().expect("config"), fleet.clone());
        let app = Router::new()
            .route("/me", get(me))
            .route("/logout", post(logout))
            .layer(StytchLayer::new(validator.clone()));
        let instance = Instance {
            validator,
            fleet,
            app,
        };
        instance.connected().await;
        instance
    }

    /// Three instances; a generous timeout, so that a loaded CI box does not fall back.
    async fn three(&self) -> [Instance; 3] {
        let slow_ci = Duration::from_millis(500);
        [
            self.instance(slow_ci, |b| b).await,
            self.instance(slow_ci, |b| b).await,
            self.instance(slow_ci, |b| b).await,
        ]
    }

    fn calls(&self) -> u64 {
        self.emu.request_count(Route::Authenticate)
    }
}

impl Instance {
    async fn connected(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.fleet.is_connected() {
            assert!(Instant::now() < deadline, "the fleet never connected");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// `(status, reason of a refusal or "")`.
    async fn send(&self, method: &str, path: &str, cookie: &str) -> (u16, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("cookie", cookie)
            .body(Body::empty())
            .expect("request");
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        let reason = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default();
        (status, reason)
    }

    async fn get(&self, cookie: &str) -> (u16, String) {
        self.send("GET", "/me", cookie).await
    }
}

fn jwt_cookie(jwt: &str) -> String {
    format!("stytch_session_jwt={jwt}")
}

fn token_cookie(token: &str) -> String {
    format!("stytch_session={token}")
}

/// Polls until `done`, at most `limit`; returns how long it took.
async fn within(limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "not done within {} ms",
            limit.as_millis()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_instance_is_refused_by_the_others_within_200ms() {
    let Some(fleet) = Fleet::start("a_logout_on_one_instance_is_refused_by_the_others").await
    else {
        return;
    };
    let [a, b, c] = fleet.three().await;
    let s = fleet.emu.create_session(NewSession::new());
    let cookie = jwt_cookie(&s.session_jwt);
    for i in [&a, &b, &c] {
        assert_eq!(i.get(&cookie).await.0, 200);
        assert_eq!(i.get(&cookie).await.0, 200, "from the verified cache");
        assert_eq!(i.validator.stats().signature_verifications, 1);
    }
    // The logout: revoked at Stytch once, cookies cleared on the response.
    let request = Request::post("/logout")
        .header("cookie", &cookie)
        .body(Body::empty())
        .expect("request");
    let response = a.app.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200);
    let cleared: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.contains("Max-Age=0"))
        .collect();
    assert_eq!(
        cleared.len(),
        2,
        "both session cookies cleared: {cleared:?}"
    );
    assert_eq!(fleet.emu.request_count(Route::Revoke), 1);

    let took = within(Duration::from_millis(200), || {
        b.validator.cached(&s.session_jwt).is_none() && c.validator.cached(&s.session_jwt).is_none()
    })
    .await;
    println!("revocation reached B and C in {} µs", took.as_micros());
    for i in [&a, &b, &c] {
        assert_eq!(i.get(&cookie).await, (401, "session_revoked".to_owned()));
        let stats = i.validator.stats();
        assert_eq!(
            (stats.signature_verifications, stats.remote_calls),
            (1, 0),
            "refused from the verified cache: no signature check, no Stytch call"
        );
    }
    assert_eq!(fleet.calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_after_the_revocation_refuses_it_too() {
    let Some(fleet) = Fleet::start("an_instance_started_after_the_revocation").await else {
        return;
    };
    let a = fleet.instance(Duration::from_millis(500), |b| b).await;
    let s = fleet.emu.create_session(NewSession::new());
    a.validator.revoke(&s.session_id).await.expect("revoked");
    // Published asynchronously: wait until it is in Redis (A has nothing pending).
    within(Duration::from_secs(2), || {
        a.fleet.pending_revocations() == 0
    })
    .await;
    let late = fleet.instance(Duration::from_millis(500), |b| b).await;
    within(Duration::from_secs(2), || {
        late.validator.is_revoked(&s.session_id)
    })
    .await;
    let refused = late
        .validator
        .authenticate(Credentials::jwt(&s.session_jwt))
        .await
        .expect_err("refused");
    assert_eq!(refused.reason(), Reason::SessionRevoked);
    let stats = late.validator.stats();
    assert_eq!((stats.signature_verifications, stats.remote_calls), (1, 0));
    assert_eq!(fleet.emu.request_count(Route::Revoke), 1);
    assert_eq!(fleet.calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bare_session_token_on_three_instances_costs_one_stytch_call() {
    let Some(fleet) = Fleet::start("one_bare_session_token_on_three_instances").await else {
        return;
    };
    let [a, b, c] = fleet.three().await;
    let s = fleet.emu.create_session(NewSession::new());
    let cookie = token_cookie(&s.session_token);
    // Each instance's 100 requests at once; the instances one after the other, so the
    // answer is in Redis when B and C first ask (two instances asking Stytch at the
    // same instant would each call once: coalescing is per instance).
    let mut statuses = Vec::new();
    for i in [&a, &b, &c] {
        statuses.extend(join_all((0..100).map(|_| i.get(&cookie))).await);
    }
    assert!(statuses.iter().all(|(s, _)| *s == 200), "{statuses:?}");
    assert_eq!(fleet.calls(), 1, "one Stytch call for 300 requests");
    let (sa, sb, sc) = (
        a.validator.stats(),
        b.validator.stats(),
        c.validator.stats(),
    );
    assert_eq!(
        (sa.remote_calls, sb.remote_calls, sc.remote_calls),
        (1, 0, 0)
    );
    assert_eq!(
        (sa.fleet_answers, sb.fleet_answers, sc.fleet_answers),
        (0, 1, 1)
    );

    // A logs the session out: its kept answer is refused everywhere, with no call.
    a.validator.revoke(&s.session_id).await.expect("revoked");
    within(Duration::from_millis(200), || {
        b.validator.is_revoked(&s.session_id) && c.validator.is_revoked(&s.session_id)
    })
    .await;
    let mut statuses = Vec::new();
    for i in [&a, &b, &c] {
        statuses.extend(join_all((0..100).map(|_| i.get(&cookie))).await);
    }
    assert!(
        statuses
            .iter()
            .all(|r| *r == (401, "session_revoked".to_owned())),
        "{statuses:?}"
    );
    assert_eq!(fleet.calls(), 1, "no call for the revoked session");
    assert_eq!(
        (
            b.validator.stats().fleet_answers,
            c.validator.stats().fleet_answers
        ),
        (1, 1),
        "the kept answers were refused from memory"
    );

    // A token Stytch itself refuses (revoked elsewhere): one call, 300 refusals.
    let gone = fleet.emu.create_session(NewSession::new());
    assert!(fleet.emu.revoke_session(&gone.session_id));
    let cookie = token_cookie(&gone.session_token);
    let mut statuses = Vec::new();
    for i in [&a, &b, &c] {
        statuses.extend(join_all((0..100).map(|_| i.get(&cookie))).await);
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|r| **r == (401, "session_not_found".to_owned()))
            .count(),
        300,
        "{statuses:?}"
    );
    assert_eq!(fleet.calls(), 2, "exactly one more call");
    assert_eq!(
        (
            b.validator.stats().fleet_answers,
            c.validator.stats().fleet_answers
        ),
        (2, 2)
    );
}

/// Plausible but unknown session tokens (base64url, 44 characters).
fn random_token(i: usize) -> String {
    format!("{:0>44}", format!("flood{i}x{}", uuid_like(i)))
}

fn uuid_like(i: usize) -> u64 {
    (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 8
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_budget_holds_fleet_wide_under_a_flood_of_random_tokens() {
    let Some(fleet) = Fleet::start("the_remote_budget_holds_fleet_wide").await else {
        return;
    };
    // 10 calls/s in bursts of 20: unproven calls may take 10, the other 10 stay for
    // proven sessions. `max_token_age(0)` sends every JWT to Stytch as a proven call.
    let configure = |b: StytchConfigBuilder| {
        b.remote_budget(10, 20)
            .max_token_age(Duration::ZERO)
            .max_in_flight(64)
    };
    let slow_ci = Duration::from_millis(500);
    let [a, b, c] = [
        fleet.instance(slow_ci, configure).await,
        fleet.instance(slow_ci, configure).await,
        fleet.instance(slow_ci, configure).await,
    ];
    let flood = |round: usize| {
        let instances = [&a, &b, &c];
        join_all((0..90).map(move |i| {
            let instance = instances[i % 3];
            async move {
                instance
                    .validator
                    .authenticate(Credentials::token(random_token(round * 1000 + i)))
                    .await
                    .expect_err("unknown tokens are refused")
                    .reason()
            }
        }))
    };
    let reasons = flood(0).await;
    let not_found = reasons
        .iter()
        .filter(|r| **r == Reason::SessionNotFound)
        .count();
    let exhausted = reasons
        .iter()
        .filter(|r| **r == Reason::StytchBudgetExhausted)
        .count();
    assert_eq!((not_found, exhausted), (10, 80), "{reasons:?}");
    assert_eq!(
        fleet.calls(),
        10,
        "the unproven half of the burst, fleet-wide (30 per instance alone)"
    );

    // The reserve is still there for a real user whose JWT needs Stytch.
    let s = fleet.emu.create_session(NewSession::new());
    c.validator
        .authenticate(Credentials::jwt(&s.session_jwt))
        .await
        .expect("a proven call draws on the reserve");
    assert_eq!(fleet.calls(), 11);

    // One second later: 10 tokens more; 9 are above the unproven floor.
    fleet.clock.advance(Duration::from_secs(1));
    let reasons = flood(1).await;
    let not_found = reasons
        .iter()
        .filter(|r| **r == Reason::SessionNotFound)
        .count();
    assert_eq!(not_found, 9, "{reasons:?}");
    assert_eq!(fleet.calls(), 20);
    let used: u64 = [&a, &b, &c]
        .iter()
        .map(|i| i.validator.stats().budget_used)
        .sum();
    let refused: u64 = [&a, &b, &c]
        .iter()
        .map(|i| i.validator.stats().budget_refused)
        .sum();
    assert_eq!((used, refused), (20, 80 + 81));
    let errors: u64 = [&a, &b, &c]
        .iter()
        .map(|i| i.validator.stats().fleet_errors)
        .sum();
    assert_eq!(errors, 0, "every decision was the fleet's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_test_falls_back_locally_and_resyncs_when_it_returns() {
    let Some(mut fleet) = Fleet::start("redis_killed_mid_test").await else {
        return;
    };
    // The default timeout: 50 ms.
    let timeout = Duration::from_millis(50);
    let [a, b, c] = [
        fleet.instance(timeout, |b| b).await,
        fleet.instance(timeout, |b| b).await,
        fleet.instance(timeout, |b| b).await,
    ];
    let warm = fleet.emu.create_session(NewSession::new());
    let doomed = fleet.emu.create_session(NewSession::new());
    for i in [&a, &b, &c] {
        assert_eq!(i.get(&jwt_cookie(&warm.session_jwt)).await.0, 200);
        assert_eq!(i.get(&jwt_cookie(&doomed.session_jwt)).await.0, 200);
    }

    fleet.redis.kill();
    // Every request is answered with the local behaviour, none waits past the timeout.
    let mut slowest = Duration::ZERO;
    let mut statuses = Vec::new();
    for round in 0..5 {
        for (n, i) in [&a, &b, &c].into_iter().enumerate() {
            let fresh = fleet.emu.create_session(NewSession::new());
            for cookie in [
                jwt_cookie(&warm.session_jwt),
                token_cookie(&fresh.session_token),
                token_cookie(&random_token(round * 10 + n)),
            ] {
                let started = Instant::now();
                let answer = i.get(&cookie).await;
                slowest = slowest.max(started.elapsed());
                statuses.push(answer);
            }
        }
    }
    println!(
        "slowest request while Redis was down: {} µs",
        slowest.as_micros()
    );
    assert!(
        statuses
            .iter()
            .all(|(s, _)| *s == 200 || *s == 401 || *s == 503),
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|(s, _)| *s == 200).count(), 30);
    assert_eq!(
        statuses
            .iter()
            .filter(|r| r.1 == "session_not_found")
            .count(),
        15
    );
    // Three fleet calls at most per request, each bounded by the timeout; Stytch (the
    // emulator) answers in a few ms. Generous for a loaded CI box.
    assert!(
        slowest < timeout * 3 + Duration::from_millis(250),
        "{slowest:?}"
    );
    assert_eq!(fleet.calls(), 30, "each instance asked Stytch itself");

    // A logout while Redis is down: refused here at once, kept for publication.
    a.validator
        .revoke(&doomed.session_id)
        .await
        .expect("revoked at Stytch");
    assert_eq!(
        a.get(&jwt_cookie(&doomed.session_jwt)).await.1,
        "session_revoked"
    );
    assert_eq!(
        b.get(&jwt_cookie(&doomed.session_jwt)).await.0,
        200,
        "B cannot know yet"
    );
    assert_eq!(a.fleet.pending_revocations(), 1);
    assert!(a.validator.stats().fleet_errors > 0);

    // Redis returns (empty): the revocation reaches the others.
    fleet.redis = RedisServer::start_on(fleet.redis.port);
    let took = within(Duration::from_secs(5), || {
        b.validator.is_revoked(&doomed.session_id) && c.validator.is_revoked(&doomed.session_id)
    })
    .await;
    println!(
        "after the restart the revocation arrived in {} ms",
        took.as_millis()
    );
    for i in [&b, &c] {
        assert_eq!(
            i.get(&jwt_cookie(&doomed.session_jwt)).await,
            (401, "session_revoked".to_owned())
        );
    }
    assert_eq!(a.fleet.pending_revocations(), 0);
    // And a new instance learns it from the re-seeded set.
    let late = fleet.instance(timeout, |b| b).await;
    within(Duration::from_secs(2), || {
        late.validator.is_revoked(&doomed.session_id)
    })
    .await;
    assert_eq!(fleet.emu.request_count(Route::Revoke), 1);
    // Shared again: one bare token, one call for the fleet. (After a failed call a
    // validator leaves the fleet alone for half a second; let that pass.)
    tokio::time::sleep(Duration::from_millis(600)).await;
    let s = fleet.emu.create_session(NewSession::new());
    let before = fleet.calls();
    for i in [&a, &b, &c] {
        assert_eq!(i.get(&token_cookie(&s.session_token)).await.0, 200);
    }
    assert_eq!(fleet.calls() - before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_costs_a_request_at_most_the_timeout() {
    let Some(fleet) = Fleet::start("a_hung_redis_costs_at_most_the_timeout").await else {
        return;
    };
    let timeout = Duration::from_millis(50);
    let a = fleet.instance(timeout, |b| b).await;
    fleet.redis.pause();
    let mut times = Vec::new();
    for _ in 0..5 {
        let s = fleet.emu.create_session(NewSession::new());
        let started = Instant::now();
        assert_eq!(a.get(&token_cookie(&s.session_token)).await.0, 200);
        times.push(started.elapsed());
    }
    fleet.redis.resume();
    println!("requests while Redis hung: {times:?}");
    // The first pays the timeout once; the next fail fast while Redis is suspect.
    assert!(
        times[0] < timeout * 3 + Duration::from_millis(250),
        "{times:?}"
    );
    assert!(
        times[1..]
            .iter()
            .all(|t| *t < timeout + Duration::from_millis(250)),
        "{times:?}"
    );
    assert_eq!(fleet.calls(), 5);
    assert!(a.validator.stats().fleet_errors >= 1);
}

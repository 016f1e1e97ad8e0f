//! Clock skew (docs/threat-model.md, C-CLK-*), the verified-token cache (C-CACHE-02) and
//! configuration checked at construction (C-CFG-*, C-JWKS-15). C-CLK-04, C-CFG-03,
//! C-CACHE-01 and C-CACHE-03 are rows in `adversarial.rs`. The validator's clock is a
//! `ManualClock` set apart from the emulator's to play a skewed host.

use crate::support;

use std::time::Duration;

use axum_stytch::StytchConfig;
use axum_stytch::stytch_validator::Clock as _;
use serde_json::json;
use support::app::{Live, Req};
use support::cases::payload_of;

/// The validator's clock `skew_secs` away from the emulator's (negative: behind).
async fn skewed(
    skew_secs: i64,
    configure: impl FnOnce(
        axum_stytch::stytch_validator::StytchConfigBuilder,
    ) -> axum_stytch::stytch_validator::StytchConfigBuilder,
) -> Live {
    let live = Live::warm(configure).await;
    if skew_secs < 0 {
        live.clock
            .rewind(Duration::from_secs(skew_secs.unsigned_abs()));
    } else {
        live.clock.advance(Duration::from_secs(skew_secs as u64));
    }
    live
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_clk_01_45_s_behind() {
    // With the default 5 s leeway a token "from the future" is checked by Stytch...
    let live = skewed(-45, |b| b).await;
    let s = live.session(&[]);
    let sent = live.get("/protected", &Req::cookie(&s.session_jwt)).await;
    assert_eq!(sent.status, 200, "C-CLK-01");
    assert_eq!(sent.json()["source"], "remote", "C-CLK-01: leeway 5 s");
    assert_eq!(live.calls(), 1, "C-CLK-01");
    // ...and with the maximum 60 s leeway it verifies locally.
    let live = skewed(-45, |b| b.leeway(Duration::from_secs(60))).await;
    let s = live.session(&[]);
    let sent = live.get("/protected", &Req::cookie(&s.session_jwt)).await;
    assert_eq!(sent.status, 200, "C-CLK-01 (60 s leeway)");
    assert_eq!(sent.json()["source"], "local_jwt", "C-CLK-01 (60 s leeway)");
    assert_eq!(live.calls(), 0, "C-CLK-01 (60 s leeway)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_clk_02_120_s_behind() {
    let live = skewed(-120, |b| b.leeway(Duration::from_secs(60))).await;
    let s = live.session(&[]);
    let sent = live.get("/protected", &Req::cookie(&s.session_jwt)).await;
    assert_eq!(sent.status, 200, "C-CLK-02: Stytch says yes");
    assert_eq!(
        sent.json()["source"],
        "remote",
        "C-CLK-02: not trusted locally"
    );
    let gone = live.session(&[]);
    live.emu.revoke_session(&gone.session_id);
    let sent = live
        .get("/protected", &Req::cookie(&gone.session_jwt))
        .await;
    assert_eq!(sent.status, 401, "C-CLK-02: Stytch says no");
    assert_eq!(live.calls(), 2, "C-CLK-02");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_clk_03_120_s_ahead_degrades_to_remote_without_a_stampede() {
    let live = skewed(120, |b| b).await;
    let s = live.session(&[]);
    let sent = live.get("/protected", &Req::cookie(&s.session_jwt)).await;
    assert_eq!(sent.json()["source"], "local_jwt", "C-CLK-03: still fresh");
    // 190 s later for the issuer (a live token), 310 s for us: it looks expired.
    live.advance(Duration::from_secs(190));
    // 100 concurrent requests while Stytch takes 300 ms: they share one call.
    live.emu.inject_fault(
        stytch_emulator::Route::Authenticate,
        stytch_emulator::Fault::latency(Duration::from_millis(300)).times(1),
    );
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (router, jwt) = (live.router.clone(), s.session_jwt.clone());
            let barrier = std::sync::Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                support::app::call(&router, "/protected", &Req::cookie(&jwt)).await
            })
        })
        .collect();
    for task in tasks {
        let sent = task.await.expect("no panic");
        assert_eq!(sent.status, 200, "C-CLK-03: {}", sent.body);
        assert_eq!(sent.json()["source"], "remote", "C-CLK-03");
    }
    assert!(
        live.calls() == 1,
        "C-CLK-03: no stampede ({} calls)",
        live.calls()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_clk_05_a_wall_clock_stepped_back_causes_no_refresh() {
    let live = Live::warm(|b| b).await;
    let template = payload_of(&live.session(&[]).session_jwt);
    let fetches = live.fetches();
    live.clock.rewind(Duration::from_secs(3600));
    for step in 0..20 {
        let now = live.clock.now_secs();
        let mut claims = template.clone();
        claims["iat"] = json!(now);
        claims["nbf"] = json!(now);
        claims["exp"] = json!(now + 300);
        let token = live.emu.sign_jwt(&claims);
        let sent = live.get("/protected", &Req::cookie(&token)).await;
        assert_eq!(sent.status, 200, "C-CLK-05 step {step}: {}", sent.body);
        live.clock.advance(Duration::from_secs(30));
    }
    assert_eq!(live.fetches(), fetches, "C-CLK-05: no spurious refresh");
    assert_eq!(live.calls(), 0, "C-CLK-05");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_clk_06_the_cache_does_not_outlive_exp_plus_leeway() {
    let live = Live::warm(|b| b).await;
    let s = live.session(&[]);
    let req = Req::cookie(&s.session_jwt);
    assert_eq!(
        live.get("/protected", &req).await.json()["source"],
        "local_jwt"
    );
    assert!(
        live.validator.cached(&s.session_jwt).is_some(),
        "C-CLK-06 cached"
    );
    // One second past exp + leeway on the validator's clock. The emulator's clock ticks
    // with real time and the validator's is manual, so under load the token's `exp` can
    // be a few seconds more than 300 s after the validator's now: read it.
    let exp = payload_of(&s.session_jwt)["exp"]
        .as_i64()
        .expect("a numeric exp");
    let past = u64::try_from(exp + 5 + 1 - live.clock.now_secs()).expect("exp is ahead");
    live.advance(Duration::from_secs(past));
    assert!(
        live.validator.cached(&s.session_jwt).is_none(),
        "C-CLK-06: not served from the cache"
    );
    let sent = live.get("/protected", &req).await;
    assert_eq!(sent.status, 200, "C-CLK-06");
    assert_eq!(sent.json()["source"], "remote", "C-CLK-06: the stale path");
    assert_eq!(live.calls(), 1, "C-CLK-06");
}

/// C-CACHE-02, scaled for CI: the verified-token cache is bounded by its byte budget
/// (about 16 entries here), observed through `Validator::cached`, `health()` and the
/// verification count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_cache_02_the_verified_cache_is_bounded_by_its_capacity() {
    const BUDGET: u64 = 16 * 4096;
    const CAPACITY: usize = 16 * 4096 / 2048;
    let live = Live::warm(|b| b.verified_cache_bytes(BUDGET)).await;
    let template = payload_of(&live.session(&[]).session_jwt);
    let tokens: Vec<String> = (0..300)
        .map(|i| {
            let mut claims = template.clone();
            claims["n"] = json!(i);
            live.emu.sign_jwt(&claims)
        })
        .collect();
    let tasks: Vec<_> = tokens
        .chunks(50)
        .map(|chunk| {
            let (router, chunk) = (live.router.clone(), chunk.to_vec());
            tokio::spawn(async move {
                for token in chunk {
                    let sent =
                        support::app::call(&router, "/protected", &Req::cookie(&token)).await;
                    assert_eq!(sent.status, 200, "C-CACHE-02");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    assert_eq!(
        live.validator.stats().signature_verifications,
        300,
        "C-CACHE-02: every distinct token verified once"
    );
    let held = tokens
        .iter()
        .filter(|t| live.validator.cached(t).is_some())
        .count();
    assert!(
        held <= CAPACITY,
        "C-CACHE-02: {held} tokens cached in {BUDGET} bytes"
    );
    assert!(live.validator.health().verified_cache_bytes <= BUDGET);
    // An evicted token is simply verified again.
    let evicted = tokens
        .iter()
        .find(|t| live.validator.cached(t).is_none())
        .expect("most tokens were evicted");
    assert_eq!(
        live.call("/protected", &Req::cookie(evicted)).await.status,
        200
    );
    assert_eq!(live.validator.stats().signature_verifications, 301);
    assert_eq!(live.calls(), 0, "C-CACHE-02");
}

const PID: &str = "project-test-11111111-2222-4333-8444-555555555555";

#[test]
fn c_cfg_01_a_malformed_project_id_or_the_wrong_host_fails_at_startup() {
    for bad in [
        "",
        "project-test-123",
        "proj-11111111-2222-4333-8444-555555555555",
        "project-staging-11111111-2222-4333-8444-555555555555",
        "project-test-11111111-2222-4333-8444-55555555555G",
        "project-test-11111111-2222-4333-8444-5555555555556",
        "PROJECT-TEST-11111111-2222-4333-8444-555555555555",
    ] {
        let e = StytchConfig::builder(bad, "secret-test-x")
            .build()
            .expect_err("C-CFG-01");
        assert!(
            e.to_string().starts_with("project_id"),
            "C-CFG-01 {bad:?}: {e}"
        );
        assert!(!e.to_string().contains("secret-test-x"), "C-CFG-01");
    }
    let e = StytchConfig::builder(PID, "s")
        .api_url(axum_stytch::stytch_validator::LIVE_API_URL)
        .build()
        .expect_err("C-CFG-01: a test project with the live host");
    assert!(e.to_string().contains("live"), "C-CFG-01: {e}");
    let e = StytchConfig::builder(PID.replace("test", "live"), "s")
        .api_url(axum_stytch::stytch_validator::TEST_API_URL)
        .build()
        .expect_err("C-CFG-01: a live project with the test host");
    assert!(e.to_string().contains("test"), "C-CFG-01: {e}");
}

#[test]
fn c_cfg_02_a_missing_secret_fails_at_startup() {
    for bad in ["", " ", "\t\n"] {
        let e = StytchConfig::builder(PID, bad)
            .build()
            .expect_err("C-CFG-02");
        assert!(e.to_string().starts_with("secret"), "C-CFG-02: {e}");
    }
}

/// C-JWKS-15. Policy: `http://` only on loopback (the emulator); any `https://` origin
/// is accepted, because the API URL is also how a custom domain or a proxy is set.
#[test]
fn c_jwks_15_plain_http_off_loopback_fails_at_startup() {
    for bad in [
        "http://api.stytch.com",
        "http://example.com",
        "http://169.254.169.254",
        "http://127.0.0.1.example.com",
        "ftp://api.stytch.com",
        "api.stytch.com",
        "https://api.stytch.com/v1",
        "https://user@api.stytch.com",
        "https://api.stytch.com?x=1",
    ] {
        assert!(
            StytchConfig::builder(PID, "s")
                .api_url(bad)
                .build()
                .is_err(),
            "C-JWKS-15: {bad}"
        );
    }
    for good in [
        "http://127.0.0.1:8787",
        "http://localhost:1",
        "http://[::1]:8080",
        "https://test.stytch.com",
        "https://login.example.com",
    ] {
        assert!(
            StytchConfig::builder(PID, "s")
                .api_url(good)
                .build()
                .is_ok(),
            "C-JWKS-15: {good}"
        );
    }
    let e = StytchConfig::builder(PID, "s")
        .custom_domain("http://login.example.com")
        .build()
        .expect_err("C-JWKS-15: custom domain over http");
    assert!(e.to_string().contains("https"), "C-JWKS-15: {e}");
}

/// Other limits that must fail at construction rather than per request.
#[test]
fn impossible_limits_fail_at_startup() {
    assert!(
        StytchConfig::builder(PID, "s")
            .leeway(Duration::from_secs(61))
            .build()
            .is_err()
    );
    assert!(
        StytchConfig::builder(PID, "s")
            .max_token_bytes(100)
            .build()
            .is_err()
    );
    assert!(
        StytchConfig::builder(PID, "s")
            .request_timeout(Duration::ZERO)
            .build()
            .is_err()
    );
    assert!(
        StytchConfig::builder(PID, "s")
            .max_in_flight(0)
            .build()
            .is_err()
    );
}

/// The verified cache is bounded in bytes, not entries: filled with small tokens and
/// with tokens four times larger, it holds correspondingly fewer large ones, and its
/// weight never passes the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verified_cache_is_bounded_by_its_byte_budget_whatever_the_token_size() {
    const BUDGET: u64 = 256 * 1024;
    let mut held_per_size = Vec::new();
    for padding in [0usize, 4_000] {
        // A validator of its own per size, so the cache holds one size only.
        let live = Live::warm(|b| b.verified_cache_bytes(BUDGET)).await;
        let template = payload_of(&live.session(&[]).session_jwt);
        let tokens: Vec<String> = (0..400)
            .map(|i| {
                let mut claims = template.clone();
                claims["n"] = json!(i);
                claims["pad"] = json!("p".repeat(padding));
                live.emu.sign_jwt(&claims)
            })
            .collect();
        for token in &tokens {
            let sent = support::app::call(&live.router, "/protected", &Req::cookie(token)).await;
            assert_eq!(sent.status, 200);
            let health = live.validator.health();
            assert!(
                health.verified_cache_bytes <= BUDGET,
                "{} bytes held",
                health.verified_cache_bytes
            );
        }
        let held = tokens
            .iter()
            .filter(|t| live.validator.cached(t).is_some())
            .count();
        let health = live.validator.health();
        let per_entry = health.verified_cache_bytes / health.verified_cache_entries.max(1) as u64;
        eprintln!(
            "tokens of {} bytes: {held} of 400 held, {} bytes, about {per_entry} bytes per entry",
            tokens[0].len(),
            health.verified_cache_bytes
        );
        assert!(held > 0);
        held_per_size.push((tokens[0].len(), held, per_entry));
    }
    let [
        (small_len, small_held, small_entry),
        (large_len, large_held, large_entry),
    ] = held_per_size[..]
    else {
        unreachable!()
    };
    assert!(large_len > 4 * small_len);
    assert!(
        large_entry > small_entry + (large_len - small_len) as u64,
        "an entry weighs at least its token"
    );
    assert!(
        large_held * 2 < small_held,
        "{large_held} large vs {small_held} small entries in the same budget"
    );
}

/// A token served many times on one thread is answered from that thread's own replica
/// of its cache entry; the replica is re-checked like the shared entry: a revoked
/// session is refused at once, and an expired JWT goes to Stytch for a fresh one.
#[tokio::test(flavor = "current_thread")]
async fn a_hot_token_is_rechecked_on_every_hit() {
    let live = Live::warm(|b| b).await;
    let hot = live.session(&[]);
    let other = live.session(&[]);
    for s in [&hot, &other] {
        for _ in 0..5 {
            let sent = live.call("/protected", &Req::cookie(&s.session_jwt)).await;
            assert_eq!(sent.status, 200);
            assert_eq!(sent.json()["source"], "local_jwt");
        }
    }
    assert_eq!(live.validator.stats().signature_verifications, 2);
    assert_eq!(live.calls(), 0);

    live.validator
        .revoke(&other.session_id)
        .await
        .expect("revoked");
    let sent = live
        .call("/protected", &Req::cookie(&other.session_jwt))
        .await;
    assert_eq!(sent.status, 401, "{}", sent.body);
    assert!(sent.body.contains("session_revoked"), "{}", sent.body);

    // Past the JWT's five minutes and the leeway (the session lives on): Stytch refreshes it.
    live.advance(Duration::from_secs(320));
    let sent = live
        .call("/protected", &Req::cookie(&hot.session_jwt))
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.json()["source"], "remote");
    assert_eq!(live.calls(), 1);
}

/// The layer looks a JWT up in the verified cache by the bytes the request carries;
/// everything else still reads credentials as text, where a value that is not text is
/// no credential (and so no conflict).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_hits_by_bytes_and_values_that_are_not_text_are_no_credentials() {
    let live = Live::warm(|b| b).await;
    let s = live.session(&[]);
    let verifications = || live.validator.stats().signature_verifications;
    assert_eq!(
        live.get("/protected", &Req::cookie(&s.session_jwt))
            .await
            .status,
        200
    );
    let verified = verifications();
    // Hits, from the cookie and from the bearer header: no verification, no call.
    for req in [Req::cookie(&s.session_jwt), Req::bearer(&s.session_jwt)] {
        let sent = live.get("/protected", &req).await;
        assert_eq!(sent.status, 200, "{}", sent.body);
        assert_eq!(sent.json()["user_id"], s.user_id.as_str());
    }
    assert_eq!(verifications(), verified, "served from the cache");
    // The cached token's bytes with one byte changed to one that is not text: a miss,
    // then no credential at all.
    let mut changed = format!("stytch_session_jwt={}", s.session_jwt).into_bytes();
    *changed.last_mut().expect("a token") = 0xff;
    let sent = live
        .get("/protected", &Req::raw("cookie", changed.clone()))
        .await;
    assert_eq!(sent.status, 401, "{}", sent.body);
    assert_eq!(sent.json()["error"], "missing_credentials");
    // ...so the next source is read: the bearer header authenticates.
    let req = Req::raw("cookie", changed).and("authorization", format!("Bearer {}", s.session_jwt));
    assert_eq!(live.get("/protected", &req).await.status, 200);
    // A second value for the cookie that is not text is skipped, not a conflict.
    let mut both = b"stytch_session_jwt=a.b.\xfe; ".to_vec();
    both.extend(format!("stytch_session_jwt={}", s.session_jwt).into_bytes());
    let sent = live.get("/protected", &Req::raw("cookie", both)).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(verifications(), verified, "all from the cache");
    assert_eq!(live.calls(), 0);
}

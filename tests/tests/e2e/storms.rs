//! Concurrency storms (docs/threat-model.md: C-JWKS-10/11/12, C-API-15, C-DOS-01 scaled,
//! plus a forged-token flood and key rotation under load), sized for CI on 2 cores.
//!
//! Where the point is the validator's single-flight and cooldown logic, requests go
//! through the real router in-process (`tower::ServiceExt::oneshot`): 1000 truly
//! concurrent tasks without 1000 sockets. Rotation under load goes over loopback HTTP
//! with a pooled client. The storms run one at a time (a shared lock), so that their
//! timing windows do not compete with each other for the two cores. Tests of other
//! modules share the binary and may run beside a storm: the time bounds leave room for
//! that, and the forged-token storm's RSS bound (64 MiB, for a whole process) is far
//! above what a neighbouring test adds (a few MiB).

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use stytch_emulator::{Fault, Route};
use support::app::{self, Live, Req, Sent};
use support::cases::{self, Fx, payload_of};
use support::keys::{self, b64};
use support::runner::{Count, Fixture as _, case_validator};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `n` concurrent in-process requests released together; returns each response with
/// how long it took.
async fn burst(
    router: &axum::Router,
    n: usize,
    req: impl Fn(usize) -> Req,
) -> Vec<(Sent, Duration)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (router, barrier, req) = (router.clone(), Arc::clone(&barrier), req(i));
            tokio::spawn(async move {
                barrier.wait().await;
                let started = Instant::now();
                let sent = app::call(&router, "/protected", &req).await;
                (sent, started.elapsed())
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.expect("no panic"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_11_rotation_stampede_1000_requests_one_fetch() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let live = Live::warm(|b| b).await;
    live.emu.rotate_keys();
    let s = live.session(&[]);
    live.emu.inject_fault(
        Route::Jwks,
        Fault::latency(Duration::from_millis(200)).times(1),
    );
    let before = live.fetches();
    let results = burst(&live.router, 1000, |_| Req::cookie(&s.session_jwt)).await;
    for (sent, _) in &results {
        assert_eq!(sent.status, 200, "C-JWKS-11: {}", sent.body);
    }
    assert_eq!(live.fetches() - before, 1, "C-JWKS-11: exactly one fetch");
    let slowest = results.iter().map(|(_, d)| *d).max().unwrap_or_default();
    assert!(
        slowest < Duration::from_millis(200) + Duration::from_secs(2),
        "C-JWKS-11: nobody waits much past the fetch ({slowest:?})"
    );
    assert_eq!(live.calls(), 0, "C-JWKS-11: no remote call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_12_cold_stampede_1000_requests_one_fetch() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let live = Live::cold(|b| b).await;
    let s = live.session(&[]);
    live.emu.inject_fault(
        Route::Jwks,
        Fault::latency(Duration::from_millis(200)).times(1),
    );
    let results = burst(&live.router, 1000, |_| Req::cookie(&s.session_jwt)).await;
    for (sent, _) in &results {
        assert_eq!(sent.status, 200, "C-JWKS-12: {}", sent.body);
    }
    assert_eq!(live.fetches(), 1, "C-JWKS-12: exactly one fetch");
    assert_eq!(live.calls(), 0, "C-JWKS-12: no remote call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_api_15_1000_identical_expired_jwts_make_one_call() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let live = Live::warm(|b| b).await;
    let s = live.session(&[]);
    live.advance(Duration::from_secs(400));
    live.emu.inject_fault(
        Route::Authenticate,
        Fault::latency(Duration::from_millis(500)).times(1),
    );
    let results = burst(&live.router, 1000, |_| Req::cookie(&s.session_jwt)).await;
    for (sent, _) in &results {
        assert_eq!(sent.status, 200, "C-API-15: {}", sent.body);
    }
    assert_eq!(live.calls(), 1, "C-API-15: one Stytch call for the herd");
}

/// C-JWKS-10: 10 000 requests over 10 s (simulated), each with a distinct random kid;
/// valid requests interleaved. At most one fetch per 30 s cooldown, no remote call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_jwks_10_random_kid_flood_at_most_one_fetch_per_cooldown() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let live = Live::warm(|b| b).await;
    let valid = live.session(&[]).session_jwt;
    let claims = payload_of(&valid);
    // A hundred genuinely attacker-signed tokens; the rest reuse one attacker signature
    // under a new header (the kid is looked up before any signature is checked).
    let forged_payload = b64(claims.to_string());
    let forged_sig = keys::attacker()
        .sign(&json!({"alg": "RS256", "kid": "x", "typ": "JWT"}), &claims)
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    let token = move |i: usize| {
        let header =
            json!({"alg": "RS256", "kid": format!("jwk-test-{i:08x}-flood"), "typ": "JWT"});
        if i < 100 {
            keys::attacker().sign(&header, &claims)
        } else {
            format!("{}.{forged_payload}.{forged_sig}", b64(header.to_string()))
        }
    };
    let token = Arc::new(token);
    let fetches = live.fetches();
    let flood = |offset: usize, total: usize| {
        let (router, clock, token, valid) = (
            live.router.clone(),
            live.clock.clone(),
            Arc::clone(&token),
            valid.clone(),
        );
        async move {
            let next = Arc::new(AtomicUsize::new(offset));
            let workers: Vec<_> = (0..50)
                .map(|_| {
                    let (router, clock, token, valid, next) = (
                        router.clone(),
                        clock.clone(),
                        Arc::clone(&token),
                        valid.clone(),
                        Arc::clone(&next),
                    );
                    tokio::spawn(async move {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= offset + total {
                                break;
                            }
                            // 10 000 requests spread over 10 s of clock.
                            clock.advance(Duration::from_millis(1));
                            if i % 100 == 0 {
                                let sent =
                                    app::call(&router, "/protected", &Req::cookie(&valid)).await;
                                assert_eq!(sent.status, 200, "C-JWKS-10: valid traffic");
                            }
                            let sent =
                                app::call(&router, "/protected", &Req::cookie(&token(i))).await;
                            assert_eq!(sent.status, 401, "C-JWKS-10 request {i}");
                        }
                    })
                })
                .collect();
            for w in workers {
                w.await.expect("no panic");
            }
        }
    };
    flood(0, 10_000).await;
    assert_eq!(
        live.fetches() - fetches,
        1,
        "C-JWKS-10: 1 + ceil(10 s / 30 s) - 1 = one fetch"
    );
    live.clock.advance(Duration::from_secs(31));
    flood(10_000, 1_000).await;
    assert_eq!(
        live.fetches() - fetches,
        2,
        "C-JWKS-10: one more per cooldown"
    );
    assert_eq!(live.calls(), 0, "C-JWKS-10: no remote call");
}

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// 10k distinct forged tokens cost 0 Stytch calls and bounded memory:
/// bad signatures under the real kid, tampered payloads, `alg:none`, junk. Memory is
/// checked through behaviour (nothing forged enters a cache; the validator's caches
/// are bounded by configuration, see C-CACHE-02) and, loosely, through RSS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_10k_distinct_tokens_cost_no_calls_and_no_memory() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let fx = Fx::start().await;
    let validator = case_validator(&fx, |b| b.verified_cache_bytes(64 * 4096)).await;
    let router = app::routes().layer(axum_stytch::StytchLayer::new(validator.clone()));
    let (h, p, _) = {
        let mut it = fx.baseline.split('.');
        (
            it.next().unwrap_or_default().to_owned(),
            it.next().unwrap_or_default().to_owned(),
            it.next().unwrap_or_default().to_owned(),
        )
    };
    let sig = fx
        .baseline
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    let forged = Arc::new(move |i: usize| -> String {
        match i % 4 {
            0 => {
                let mut s = vec![0u8; 256];
                s[..8].copy_from_slice(&(i as u64).to_be_bytes());
                format!("{h}.{p}.{}", b64(s))
            }
            1 => {
                let tampered = format!("{{\"sub\":\"user-test-{i}\",\"pad\":\"{p}\"}}");
                format!("{h}.{}.{sig}", b64(tampered))
            }
            2 => format!("{}.{p}.", b64(format!("{{\"alg\":\"none\",\"n\":{i}}}"))),
            _ => format!("junk-{i}.{}.x", "A".repeat(i % 200)),
        }
    });
    let (calls, fetches) = (fx.calls(), fx.fetches());
    let rss_before = rss_bytes();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let (router, forged, next) = (router.clone(), Arc::clone(&forged), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= 10_000 {
                        break;
                    }
                    let sent = app::call(&router, "/protected", &Req::cookie(&forged(i))).await;
                    assert_eq!(sent.status, 401, "forged token {i}");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("no panic");
    }
    assert_eq!(fx.calls() - calls, 0, "10k forged tokens: no Stytch call");
    assert_eq!(
        fx.fetches() - fetches,
        0,
        "10k forged tokens: no JWKS fetch"
    );
    for i in (0..10_000).step_by(97) {
        assert!(
            validator.cached(forged(i)).is_none(),
            "forged token {i} cached"
        );
    }
    assert_eq!(
        validator.stats().signature_verifications,
        5_000,
        "only tokens under the real kid reach RSA"
    );
    // The real token is unaffected.
    let sent = app::call(&router, "/protected", &Req::cookie(&fx.baseline)).await;
    assert_eq!(sent.status, 200);
    if let (Some(before), Some(after)) = (rss_before, rss_bytes()) {
        let grown = after.saturating_sub(before);
        assert!(
            grown < 64 << 20,
            "RSS grew by {} MiB over 10k forged tokens",
            grown >> 20
        );
    }
}

/// Key rotation during load: two rotations while 8 clients keep sending
/// freshly minted JWTs over loopback HTTP; every request succeeds, each new kid costs
/// one fetch, nothing goes to Stytch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_during_load() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let live = Arc::new(Live::warm(|b| b).await);
    let session = live.session(&[]);
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fetches = live.fetches();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (live, done, stop, id) = (
                Arc::clone(&live),
                Arc::clone(&done),
                Arc::clone(&stop),
                session.session_id.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let jwt = live.emu.mint_jwt(&id).expect("live session");
                    let sent = live.get("/protected", &Req::cookie(&jwt)).await;
                    assert_eq!(sent.status, 200, "rotation under load: {}", sent.body);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let progress = |at_least: usize| {
        let done = Arc::clone(&done);
        async move {
            while done.load(Ordering::Relaxed) < at_least {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    };
    progress(100).await;
    for rotation in 1..=2u64 {
        // The validator's clock moves first, so no token is ever from its future; 31 s
        // lets the unknown-kid cooldown of the previous rotation lapse.
        live.clock.advance(Duration::from_secs(31));
        live.emu.advance_clock(Duration::from_secs(31));
        live.emu.rotate_keys();
        let picked_up = app::settle(|| live.fetches() - fetches == rotation).await;
        assert!(picked_up, "rotation {rotation}: the new kid was fetched");
        progress(done.load(Ordering::Relaxed) + 100).await;
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.expect("no panic");
    }
    assert!(done.load(Ordering::Relaxed) >= 300, "load kept going");
    assert_eq!(live.fetches() - fetches, 2, "one fetch per new kid");
    assert_eq!(live.calls(), 0, "no remote call");
}

/// C-DOS-01, scaled: every refused row of the catalogue, 12 times over, concurrently,
/// with valid requests interleaved. Junk costs nothing upstream: at most one Stytch call
/// per distinct authentic-but-stale token (then its 404 is remembered) and at most one
/// JWKS fetch per cooldown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_dos_01_scaled_catalogue_flood() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let fx = Fx::start().await;
    let rows: Vec<_> = cases::all()
        .into_iter()
        // AT-102 is refused only under its own `max_token_age` setting.
        .filter(|c| !c.status.contains(&200) && c.direct.is_none() && c.id != "AT-102")
        .collect();
    let stale_rows = rows
        .iter()
        .filter(|c| matches!(c.remote, Count::Exactly(1) | Count::AtMost(1)))
        .count() as u64;
    let reqs: Vec<(&'static str, Req)> = rows.iter().map(|c| (c.path, (c.build)(&fx))).collect();
    let validator = case_validator(&fx, app::defaults).await;
    let router = app::routes().layer(axum_stytch::StytchLayer::new(validator.clone()));
    let (calls, fetches) = (fx.calls(), fx.fetches());
    let reqs = Arc::new(reqs);
    let baseline = fx.baseline.clone();
    let workers: Vec<_> = (0..12)
        .map(|w| {
            let (router, reqs, baseline) = (router.clone(), Arc::clone(&reqs), baseline.clone());
            tokio::spawn(async move {
                for (k, (path, req)) in reqs.iter().enumerate() {
                    let sent = app::call(&router, path, req).await;
                    assert!(
                        sent.status == 401 || sent.status == 403 || sent.status == 431,
                        "C-DOS-01 worker {w} row {k}: {}",
                        sent.status
                    );
                    if k % 10 == 0 {
                        let ok = app::call(&router, "/protected", &Req::cookie(&baseline)).await;
                        assert_eq!(ok.status, 200, "C-DOS-01: valid traffic");
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("no panic");
    }
    let calls = fx.calls() - calls;
    assert!(
        calls <= stale_rows,
        "C-DOS-01: {calls} Stytch calls for {stale_rows} distinct stale tokens × 12"
    );
    assert!(
        fx.fetches() - fetches <= 1,
        "C-DOS-01: at most one fetch per cooldown"
    );
}

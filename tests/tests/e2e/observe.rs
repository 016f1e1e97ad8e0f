//! What an operator sees: the metrics (through a debugging recorder, with exact deltas
//! per path), the request span's session fields under `tower_http::trace::TraceLayer`,
//! and `Validator::health()`. No label or span field ever holds a credential.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_stytch::stytch_validator::CircuitState;
use axum_stytch::{StytchLayer, StytchSession, require_role};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::json;
use stytch_emulator::{Fault, NewSession, Route};
use tower_http::trace::TraceLayer;
use tracing::field::Empty;

use crate::support::app::{self, Req, Rig};
use crate::support::keys;
use crate::support::own;

type Labels = Vec<(String, String)>;

/// Every metric of a snapshot: (name, sorted labels) → value.
#[derive(Default, Debug)]
struct Metrics(HashMap<(String, Labels), f64>);

impl Metrics {
    fn take(s: &Snapshotter) -> Metrics {
        let mut out = HashMap::new();
        for (key, _, _, value) in s.snapshot().into_vec() {
            let mut labels: Labels = key
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            let v = match value {
                DebugValue::Counter(c) => c as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(h) => h.len() as f64,
            };
            out.insert((key.key().name().to_owned(), labels), v);
        }
        Metrics(out)
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels: Labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        self.0
            .get(&(name.to_owned(), labels))
            .copied()
            .unwrap_or(0.0)
    }

    /// The counters that moved. The debugging recorder hands out counter increments
    /// since the previous snapshot, so a snapshot's counters are already the deltas.
    fn moved(&self) -> HashMap<(String, Labels), f64> {
        self.0
            .iter()
            .filter(|((name, _), v)| name.ends_with("_total") && **v != 0.0)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}

fn series(name: &str, labels: &[(&str, &str)]) -> (String, Labels) {
    let mut l: Labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    l.sort();
    (name.to_owned(), l)
}

fn auth(outcome: &str, reason: &str) -> (String, Labels) {
    series(
        "stytch_authentications_total",
        &[
            ("outcome", outcome),
            ("reason", reason),
            ("source", "cookie"),
        ],
    )
}

async fn me(session: StytchSession) -> String {
    session.user_id().to_owned()
}

/// The emulator, a validator whose circuit opens after two failures, and `/me` and
/// `/admin` behind a layer; not warmed up (the warm-up's fetch is counted).
async fn world() -> Rig {
    Rig::cold(
        |b| b.circuit_breaker(2, Duration::from_secs(3600)),
        |validator| {
            Router::new()
                .route("/me", get(me))
                .route("/admin", get(me).route_layer(require_role("admin")))
                .layer(StytchLayer::new(validator))
        },
    )
    .await
}

#[test]
fn every_path_moves_exactly_its_metrics() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut secrets = Vec::new();
    metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            let w = world().await;
            secrets.push(w.emu.secret().to_owned());
            let call = |path: &'static str, req: Req| {
                let router = w.router.clone();
                async move { app::call(&router, path, &req).await }
            };
            let seen = std::cell::RefCell::new(Vec::new());
            let step = |label: &str, _before: &Metrics| {
                let after = Metrics::take(&snapshotter);
                seen.borrow_mut().extend(after.0.keys().cloned());
                let delta = after.moved();
                eprintln!("{label}: {delta:?}");
                (after, delta)
            };

            // JWKS fetch at warm-up.
            let m0 = Metrics::take(&snapshotter);
            w.validator.warm_up().await.expect("warm-up");
            let (m1, d) = step("warm-up", &m0);
            assert_eq!(
                d,
                HashMap::from([(
                    series("stytch_jwks_fetches_total", &[("result", "ok")]),
                    1.0
                )])
            );
            assert!(m1.get("stytch_jwks_keys", &[]) >= 1.0);

            // Local verification: a cache miss, then a cache hit.
            let s = w.emu.create_session(NewSession::new());
            secrets.extend([s.session_jwt.clone(), s.session_token.clone()]);
            assert_eq!(call("/me", Req::cookie(&s.session_jwt)).await.status, 200);
            let (m2, d) = step("local verify", &m1);
            assert_eq!(
                d,
                HashMap::from([
                    (auth("authenticated", "none"), 1.0),
                    (series("stytch_verified_cache_misses_total", &[]), 1.0),
                ])
            );
            assert_eq!(m2.get("stytch_verified_cache_entries", &[]), 1.0);
            assert_eq!(call("/me", Req::cookie(&s.session_jwt)).await.status, 200);
            let (m3, d) = step("cache hit", &m2);
            assert_eq!(
                d,
                HashMap::from([
                    (auth("authenticated", "none"), 1.0),
                    (series("stytch_verified_cache_hits_total", &[]), 1.0),
                ])
            );

            // Guard denial.
            assert_eq!(
                call("/admin", Req::cookie(&s.session_jwt)).await.status,
                403
            );
            let (m4, d) = step("guard denial", &m3);
            assert_eq!(
                d,
                HashMap::from([
                    (auth("authenticated", "none"), 1.0),
                    (series("stytch_verified_cache_hits_total", &[]), 1.0),
                    (
                        series(
                            "stytch_guard_denials_total",
                            &[("guard", "role"), ("reason", "missing_role")]
                        ),
                        1.0
                    ),
                ])
            );

            // Forged: refused locally, no call.
            let forged = keys::attacker().sign(
                &json!({"alg": "RS256", "kid": w.emu.current_kid(), "typ": "JWT"}),
                &own::claims_at(w.emu.now_unix()),
            );
            assert_eq!(call("/me", Req::cookie(&forged)).await.status, 401);
            let (m5, d) = step("forged", &m4);
            assert_eq!(
                d,
                HashMap::from([
                    (auth("unauthenticated", "jwt_invalid_signature"), 1.0),
                    (series("stytch_verified_cache_misses_total", &[]), 1.0),
                ])
            );

            // Remote refresh of an expired JWT, and a revoked session.
            let live = w.emu.create_session(NewSession::new());
            let gone = w.emu.create_session(NewSession::new());
            secrets.extend([live.session_jwt.clone(), gone.session_jwt.clone()]);
            w.emu.advance_clock(Duration::from_secs(360));
            w.clock.advance(Duration::from_secs(360));
            w.emu.revoke_session(&gone.session_id);
            assert_eq!(
                call("/me", Req::cookie(&live.session_jwt)).await.status,
                200
            );
            let (m6, d) = step("remote refresh", &m5);
            assert_eq!(d.get(&auth("authenticated", "none")), Some(&1.0));
            assert_eq!(
                d.get(&series("stytch_remote_calls_total", &[("result", "ok")])),
                Some(&1.0)
            );
            assert_eq!(
                d.get(&series(
                    "stytch_remote_budget_total",
                    &[("decision", "used"), ("standing", "proven")]
                )),
                Some(&1.0)
            );
            assert_eq!(d.len(), 4, "{d:?}");
            assert_eq!(
                call("/me", Req::cookie(&gone.session_jwt)).await.status,
                401
            );
            let (m7, d) = step("revoked", &m6);
            assert_eq!(
                d.get(&auth("unauthenticated", "session_not_found")),
                Some(&1.0)
            );
            assert_eq!(
                d.get(&series(
                    "stytch_remote_calls_total",
                    &[("result", "session_not_found")]
                )),
                Some(&1.0)
            );
            assert_eq!(
                m6.get("stytch_remote_call_duration_seconds", &[("result", "ok")]),
                1.0,
                "one latency sample per call"
            );

            // Two identical remote checks at once share one call.
            let herd = w.emu.create_session(NewSession::new());
            let herd_jwt = w.emu.mint_jwt(&herd.session_id).expect("jwt");
            w.emu.advance_clock(Duration::from_secs(360));
            w.clock.advance(Duration::from_secs(360));
            let (a, b) = tokio::join!(
                call("/me", Req::cookie(&herd_jwt)),
                call("/me", Req::cookie(&herd_jwt))
            );
            assert_eq!((a.status, b.status), (200, 200));
            let (m7, d) = step("coalesced", &m7);
            assert_eq!(
                d.get(&series("stytch_remote_calls_total", &[("result", "ok")])),
                Some(&1.0)
            );
            assert_eq!(
                d.get(&series("stytch_remote_coalesced_total", &[])),
                Some(&1.0)
            );

            // JWKS fault: an unknown kid while the JWKS answers 500.
            w.emu.inject_fault(Route::Jwks, Fault::status(500));
            let unknown = keys::attacker().sign(
                &json!({"alg": "RS256", "kid": "jwk-test-unknown", "typ": "JWT"}),
                &own::claims_at(w.emu.now_unix()),
            );
            assert_eq!(call("/me", Req::cookie(&unknown)).await.status, 503);
            let (m8, d) = step("jwks fault", &m7);
            assert_eq!(
                d,
                HashMap::from([
                    (auth("unavailable", "jwks_unavailable"), 1.0),
                    (
                        series(
                            "stytch_jwks_fetches_total",
                            &[("result", "jwks_bad_status")]
                        ),
                        1.0
                    ),
                ])
            );
            w.emu.clear_faults();

            // Circuit: two failed calls (one request, one retry) open it.
            w.emu.inject_fault(Route::Authenticate, Fault::status(500));
            let next = w.emu.create_session(NewSession::new());
            let expired = w.emu.mint_jwt(&next.session_id).expect("jwt");
            w.emu.advance_clock(Duration::from_secs(360));
            w.clock.advance(Duration::from_secs(360));
            assert_eq!(call("/me", Req::cookie(&expired)).await.status, 503);
            let (m9, d) = step("outage", &m8);
            assert_eq!(
                d.get(&series(
                    "stytch_remote_calls_total",
                    &[("result", "stytch_unavailable")]
                )),
                Some(&2.0)
            );
            assert_eq!(m9.get("stytch_circuit_state", &[]), 1.0);
            assert_eq!(w.validator.health().circuit, CircuitState::Open);
            let other = w.emu.mint_jwt(&live.session_id).expect("jwt");
            w.emu.advance_clock(Duration::from_secs(360));
            w.clock.advance(Duration::from_secs(360));
            assert_eq!(call("/me", Req::cookie(&other)).await.status, 503);
            let (m10, d) = step("circuit open", &m9);
            assert_eq!(
                d.get(&auth("unavailable", "stytch_circuit_open")),
                Some(&1.0)
            );
            assert_eq!(
                d.get(&series("stytch_remote_calls_total", &[("result", "ok")])),
                None
            );

            // Nothing anywhere holds a credential or the secret.
            let _ = m10;
            for (name, labels) in seen.borrow().iter() {
                for (k, v) in labels {
                    for secret in &secrets {
                        for part in secret.split('.') {
                            assert!(!v.contains(part), "{name}{{{k}}} holds a credential");
                        }
                    }
                }
            }
        });
    });
}

/// Captures the fields recorded on spans named `request`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<HashMap<String, String>>>);

struct Visit<'a>(&'a mut HashMap<String, String>);

impl tracing::field::Visit for Visit<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S> tracing_subscriber::Layer<S> for Capture
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if ctx.span(id).is_some_and(|s| s.name() == "request") {
            values.record(&mut Visit(&mut self.0.lock().expect("capture")));
        }
    }
}

#[test]
fn the_request_span_carries_the_session_under_trace_layer() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let w = world().await;
            w.validator.warm_up().await.expect("warm-up");
            let router = w
                .router
                .clone()
                .layer(TraceLayer::new_for_http().make_span_with(
                    |req: &axum::http::Request<_>| {
                        tracing::info_span!(
                            "request",
                            method = %req.method(),
                            enduser.id = Empty,
                            session.id = Empty,
                            stytch.organization_id = Empty,
                            stytch.credential_source = Empty,
                        )
                    },
                ));
            let s = w.emu.create_session(NewSession::new());
            for _ in 0..2 {
                // A verification, then a cache hit: both record.
                capture.0.lock().expect("capture").clear();
                assert_eq!(
                    app::call(&router, "/me", &Req::cookie(&s.session_jwt))
                        .await
                        .status,
                    200
                );
                let fields = capture.0.lock().expect("capture").clone();
                assert_eq!(fields.get("enduser.id"), Some(&s.user_id));
                assert_eq!(fields.get("session.id"), Some(&s.session_id));
                assert_eq!(
                    fields.get("stytch.credential_source").map(String::as_str),
                    Some("cookie")
                );
                for value in fields.values() {
                    for part in s.session_jwt.split('.').chain([s.session_token.as_str()]) {
                        assert!(!value.contains(part), "a span field holds a credential");
                    }
                }
            }
            // A remote refresh records too; a bearer source is named.
            w.emu.advance_clock(Duration::from_secs(360));
            w.clock.advance(Duration::from_secs(360));
            capture.0.lock().expect("capture").clear();
            assert_eq!(
                app::call(&router, "/me", &Req::bearer(&s.session_jwt))
                    .await
                    .status,
                200
            );
            let fields = capture.0.lock().expect("capture").clone();
            assert_eq!(fields.get("enduser.id"), Some(&s.user_id));
            assert_eq!(
                fields.get("stytch.credential_source").map(String::as_str),
                Some("bearer")
            );
        });
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_keys_circuit_policy_and_budget() {
    let w = world().await;
    let cold = w.validator.health();
    assert!(!cold.is_ready(), "no keys yet");
    assert_eq!((cold.keys, cold.key_set_age), (0, None));
    w.validator.warm_up().await.expect("warm-up");
    w.clock.advance(Duration::from_secs(7));
    let warm = w.validator.health();
    assert!(warm.is_ready());
    assert_eq!(warm.key_set_age, Some(Duration::from_secs(7)));
    assert_eq!(warm.circuit, CircuitState::Closed);
    assert_eq!(warm.policy_age, None);
    assert_eq!(
        (warm.remote_budget_available, warm.remote_budget_burst),
        (200, 200)
    );
    let body = serde_json::to_value(&warm).expect("serializes");
    assert_eq!(body["ready"], true);
    assert_eq!(body["circuit"], "closed");
    // The JWKS fails from now on: after the maximum staleness the keys are no longer
    // trusted, and readiness says so.
    w.emu.inject_fault(Route::Jwks, Fault::status(503));
    w.clock.advance(Duration::from_secs(25 * 3600));
    let _ = w.validator.warm_up().await;
    let stale = w.validator.health();
    assert!(stale.keys_stale && !stale.is_ready());
    assert_eq!(
        stale.last_jwks_error.map(|r| r.as_str()),
        Some("jwks_bad_status")
    );
}

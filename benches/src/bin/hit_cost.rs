//! Instructions per verified-cache hit, for callgrind, which counts instructions rather
//! than time and so compares two variants on a busy machine:
//!
//! ```sh
//! cargo build --release -p benches --features fleet,metrics --bin hit_cost
//! for mode in off fleet fleet-revoked bare layer layer-prometheus; do
//!   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='hit_cost::hits*' \
//!     --callgrind-out-file=/dev/null target/release/hit_cost $mode 100000 2>&1 | grep refs
//! done
//! ```
//!
//! Ir / 100 000 is the cost of one hit (only the loop is counted). `off`:
//! `Validator::cached` on a plain validator; `fleet`: in fleet mode on a `redis-server`
//! the program starts; `fleet-revoked`: the same with 1000 other sessions revoked;
//! `layer`: a request through `Router` + `StytchLayer` (`oneshot`), the JWT served from
//! the cache; `bare`: the same request through the router alone; `layer-prometheus`: the same with a `metrics-exporter-prometheus` recorder
//! installed before the first request. `fleet*` need the `fleet` feature,
//! `layer-prometheus` the `metrics` feature.

use std::hint::black_box;

use benches::Fixture;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "off".to_owned());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fx = rt.block_on(Fixture::start());
    if mode.starts_with("layer") || mode == "bare" {
        layer(&rt, &fx, &mode, n);
        return;
    }
    // Keeps the fleet's redis-server running until the end.
    let mut _keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    let validator = match mode.as_str() {
        "off" => rt.block_on(fx.validator(10_000)),
        #[cfg(feature = "fleet")]
        "fleet" | "fleet-revoked" => {
            let (redis, validator) =
                benches::fleet::validator(&rt, &fx).expect("redis-server on the PATH");
            if mode == "fleet-revoked" {
                for i in 0..1000 {
                    rt.block_on(validator.revoke(&format!("session-test-bench-{i:04}")))
                        .expect("revoked");
                }
            }
            _keep.push(Box::new(redis));
            validator
        }
        other => {
            panic!(
                "unknown mode {other} (off, fleet, fleet-revoked, bare, layer, layer-prometheus; fleet needs --features fleet)"
            )
        }
    };
    let token = fx.token.clone();
    rt.block_on(
        validator.authenticate(axum_stytch::stytch_validator::Credentials::jwt(
            token.clone(),
        )),
    )
    .expect("the token verifies");
    assert!(validator.cached(&token).is_some());
    hits(&validator, &token, n);
    println!("{mode}: {n} hits");
}

/// The measured loop: callgrind collects only inside it with
/// `--collect-atstart=no --toggle-collect='hit_cost::hits*'`.
#[inline(never)]
fn hits(validator: &axum_stytch::Validator, token: &str, n: u64) {
    for _ in 0..n {
        black_box(validator.cached(black_box(token)));
    }
}

/// The `layer` modes: requests through a router.
fn layer(rt: &tokio::runtime::Runtime, fx: &Fixture, mode: &str, n: u64) {
    use axum::Router;
    use axum::routing::get;
    use axum_stytch::StytchLayer;

    #[cfg(feature = "metrics")]
    type Recorder = metrics_exporter_prometheus::PrometheusHandle;
    #[cfg(not(feature = "metrics"))]
    type Recorder = ();
    let _recorder: Option<Recorder> = match mode {
        "layer" | "bare" => None,
        #[cfg(feature = "metrics")]
        "layer-prometheus" => Some(
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .expect("the recorder installs"),
        ),
        other => panic!("unknown mode {other} (layer-prometheus needs --features metrics)"),
    };
    let app = Router::new().route("/", get(benches::hello));
    let app = if mode == "bare" {
        app
    } else {
        app.layer(StytchLayer::new(rt.block_on(fx.validator(10_000))))
    };
    let cookie =
        axum::http::HeaderValue::from_str(&format!("{}={}", benches::JWT_COOKIE, fx.token))
            .expect("cookie");
    let _enter = rt.enter();
    // The first request verifies; the next ones are hits.
    for _ in 0..2 {
        assert_eq!(request(&app, &cookie), 200);
    }
    requests(&app, &cookie, n);
    #[cfg(feature = "metrics")]
    if let Some(handle) = &_recorder {
        assert!(
            handle.render().contains("stytch_verified_cache_hits_total"),
            "the recorder saw the hits"
        );
    }
    println!("{mode}: {n} requests");
}

fn request(app: &axum::Router, cookie: &axum::http::HeaderValue) -> u16 {
    use tower::ServiceExt;
    let mut req = axum::http::Request::get("/")
        .body(axum::body::Body::empty())
        .expect("a request");
    req.headers_mut()
        .insert(axum::http::header::COOKIE, cookie.clone());
    benches::now(app.clone().oneshot(req))
        .expect("infallible")
        .status()
        .as_u16()
}

/// The measured loop of the `layer` modes (callgrind: `--toggle-collect='hit_cost::hits*'`
/// matches both loops).
#[inline(never)]
fn hits_through_the_layer(app: &axum::Router, cookie: &axum::http::HeaderValue, n: u64) {
    for _ in 0..n {
        black_box(request(app, black_box(cookie)));
    }
}

fn requests(app: &axum::Router, cookie: &axum::http::HeaderValue, n: u64) {
    hits_through_the_layer(app, cookie, n);
}

//! Instructions per verified-cache hit, for callgrind, which counts instructions rather
//! than time and so compares two variants on a busy machine:
//!
//! ```sh
//! cargo build --release -p benches --features fleet,metrics --bin hit_cost
//! for mode in off fleet fleet-revoked bare layer layer-many layer-prometheus; do
//!   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='hit_cost::hits*' \
//!     --callgrind-out-file=/dev/null target/release/hit_cost $mode 100000 2>&1 | grep refs
//! done
//! ```
//!
//! Ir / 100 000 is the cost of one hit (only the loop is counted). `off`:
//! `Validator::cached` on a plain validator; `fleet`: in fleet mode on a `redis-server`
//! the program starts; `fleet-revoked`: the same with 1000 other sessions revoked;
//! `layer`: a request through `Router` + `StytchLayer` (`oneshot`), the JWT served from
//! the cache; `layer-many`: the same with 64 sessions sending 8 requests in a row each,
//! in turn (a thread serving many users); `bare`: the same request through the router alone; `layer-prometheus`: the same with a `metrics-exporter-prometheus` recorder
//! installed before the first request. `fleet*` need the `fleet` feature,
//! `layer-prometheus` the `metrics` feature.
//!
//! `hit_cost entry-bytes 5000` (no callgrind) verifies 5000 distinct tokens into the
//! verified cache and prints the heap bytes held per entry, counted by a global
//! allocator that wraps the system's, beside what the cache weighs each entry at.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};

use benches::Fixture;

/// Counts the heap bytes held, for the `entry-bytes` mode.
struct Counting;

static HELD: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is
// added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "off".to_owned());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let rt = benches::runtime();
    let fx = rt.block_on(Fixture::start());
    if mode == "entry-bytes" {
        entry_bytes(&rt, &fx, n);
        return;
    }
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
        "layer" | "layer-many" | "bare" => None,
        #[cfg(feature = "metrics")]
        "layer-prometheus" => Some(
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .expect("the recorder installs"),
        ),
        other => panic!("unknown mode {other} (layer-prometheus needs --features metrics)"),
    };
    let app = Router::new().route("/", get(benches::hello));
    let app = benches::served(if mode == "bare" {
        app
    } else {
        app.layer(StytchLayer::new(rt.block_on(fx.validator(10_000))))
    });
    let cookie_for = |token: &str| {
        axum::http::HeaderValue::from_str(&format!("{}={token}", benches::JWT_COOKIE))
            .expect("cookie")
    };
    // `layer-many`: 64 sessions, each sending 8 requests in a row in turn, as the load
    // harness's tasks do on one thread: what a thread serving many users sees.
    let cookies: Vec<axum::http::HeaderValue> = if mode == "layer-many" {
        (0..64).map(|_| cookie_for(&fx.mint())).collect()
    } else {
        vec![cookie_for(&fx.token)]
    };
    let _enter = rt.enter();
    // The first request of each verifies; the next ones are hits.
    for cookie in &cookies {
        for _ in 0..2 {
            assert_eq!(request(&app, cookie), 200);
        }
    }
    requests(&app, &cookies, n);
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
/// matches both loops): 8 requests in a row per cookie, the cookies in turn.
#[inline(never)]
fn hits_through_the_layer(app: &axum::Router, cookies: &[axum::http::HeaderValue], n: u64) {
    for k in 0..n {
        let cookie = &cookies[(k / 8) as usize % cookies.len()];
        black_box(request(app, black_box(cookie)));
    }
}

fn requests(app: &axum::Router, cookies: &[axum::http::HeaderValue], n: u64) {
    hits_through_the_layer(app, cookies, n);
}

/// The `entry-bytes` mode: the heap bytes the verified cache holds per entry, counted
/// by the allocator, beside the cache's own weight of them.
fn entry_bytes(rt: &tokio::runtime::Runtime, fx: &Fixture, n: u64) {
    use axum_stytch::stytch_validator::Credentials;

    let tokens: Vec<String> = (0..n).map(|_| fx.mint()).collect();
    // A budget far above what the entries weigh: nothing is evicted.
    let validator = rt.block_on(fx.validator(100_000));
    rt.block_on(validator.authenticate(Credentials::jwt(fx.token.clone())))
        .expect("verifies");
    let before = HELD.load(Ordering::Relaxed);
    for t in &tokens {
        benches::now(validator.authenticate(Credentials::jwt(t.clone()))).expect("verifies");
    }
    let held = HELD.load(Ordering::Relaxed) - before;
    let health = validator.health();
    println!(
        "{n} entries of {}-byte tokens: {:.0} heap bytes held per entry (allocator), {:.0} weighed per entry by the cache",
        tokens[0].len(),
        held as f64 / n as f64,
        health.verified_cache_bytes as f64 / health.verified_cache_entries.max(1) as f64,
    );
}

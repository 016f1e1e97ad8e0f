//! The layer and what runs behind it, in memory (no sockets), in one criterion run:
//!
//! * `layer/*`: one `tower::ServiceExt::oneshot` call of an axum `Router` serving
//!   `"hello"` with the 1438-byte session cookie: `bare`, `noop_from_fn` (the cost of
//!   axum's `from_fn` plumbing alone), `stytch_cache_hit`, `stytch_verify_every_request`
//!   (verified cache disabled) and `hand_written_jsonwebtoken` (`from_fn` +
//!   `jsonwebtoken::decode`). The difference with `bare` is the layer's cost.
//! * `layer/stytch_cache_hit_fleet*` (feature `fleet`): the same cache hit with the
//!   validator in fleet mode (a `RedisFleet` connected to a `redis-server` the bench
//!   starts), with no revocation, then with 1000 revocations in the local mirror. The
//!   difference with `stytch_cache_hit` is what fleet mode costs a cache hit.
//! * `credentials/*`: credential extraction through the public path: a request with a
//!   realistic 1.4 KB `Cookie` header that holds no Stytch cookie, through
//!   an optional `StytchLayer` (extract, find nothing, pass through) against `bare` with
//!   the same header; and `header_to_str_jwt_cookie`, `HeaderValue::to_str` on the
//!   1.5 KB `Cookie` header carrying the JWT (the extractor validates it this way in its
//!   single scan for both cookie names).
//! * `guard/*`: `StytchSession::require` for single guards, a combinator, and an RBAC
//!   permission (policy cached).
//! * `rbac/*`: `Policy::granting_roles` on a 6-role, 5-resource policy, and
//!   `Validator::authorize` (cached policy, includes the `Authorization` allocation).
//!
//! Run: `cargo bench -p benches --bench layer`.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, header::COOKIE};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::routing::get;
use axum_stytch::layer::Mode;
use axum_stytch::{
    Guard, StytchLayer, StytchSession, require_factor, require_factor_count, require_permission,
    require_role,
};
use benches::{Fixture, HandWritten, JWT_COOKIE, hand_written_mw, hello, now, served};
use criterion::Criterion;
use tower::ServiceExt;

fn request(cookie: &HeaderValue) -> Request<Body> {
    let mut req = Request::get("/").body(Body::empty()).expect("request");
    req.headers_mut().insert(COOKIE, cookie.clone());
    req
}

fn call(router: &Router, cookie: &HeaderValue) -> u16 {
    now(router.clone().oneshot(request(cookie)))
        .expect("infallible")
        .status()
        .as_u16()
}

async fn noop(request: axum::extract::Request, next: Next) -> axum::response::Response {
    next.run(request).await
}

fn policy() -> serde_json::Value {
    let resources = ["documents", "images", "billing", "settings", "reports"];
    let role = |id: &str, grants: &[(&str, &[&str])]| {
        serde_json::json!({
            "role_id": id,
            "permissions": grants
                .iter()
                .map(|(r, a)| serde_json::json!({"resource_id": r, "actions": a}))
                .collect::<Vec<_>>(),
        })
    };
    serde_json::json!({
        "roles": [
            role("stytch_user", &[("settings", &["read"])]),
            role("viewer", &[("documents", &["read"]), ("images", &["read"]), ("reports", &["read"])]),
            role("editor", &[("documents", &["read", "write", "delete"]), ("images", &["read", "write"])]),
            role("billing_admin", &[("billing", &["*"])]),
            role("auditor", &[("reports", &["read", "export"]), ("billing", &["read"])]),
            role("admin", &[("documents", &["*"]), ("images", &["*"]), ("settings", &["*"])]),
        ],
        "resources": resources
            .iter()
            .map(|r| serde_json::json!({"resource_id": r, "actions": ["read", "write", "delete"]}))
            .collect::<Vec<_>>(),
    })
}

/// A three-field custom-claims type, as handlers put in their signature.
#[derive(serde::Deserialize)]
struct Typed {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    seats: Option<u32>,
    #[serde(default)]
    beta: Option<bool>,
}

/// `hello`, reading typed claims.
async fn hello_typed(s: StytchSession<Typed>) -> &'static str {
    let c = s.claims();
    if c.plan.is_empty() && c.seats.is_none() && c.beta.is_none() {
        "no plan"
    } else {
        "hello"
    }
}

fn benches(c: &mut Criterion) {
    let rt = benches::runtime();
    let _enter = rt.enter();
    let fx = rt.block_on(Fixture::start());
    fx.emu.set_rbac_policy(policy());
    let hit = rt.block_on(fx.validator(10_000));
    let cold = rt.block_on(fx.validator(0));
    let hand = HandWritten::new(fx.emu.project_id(), &fx.jwk());
    let cookie = HeaderValue::from_str(&format!("{JWT_COOKIE}={}", fx.token)).expect("cookie");
    let others = HeaderValue::from_str(&format!(
        "theme=dark; _ga=GA1.2.{0}; _gid=GA1.2.{0}; csrftoken={1}; prefs={2}",
        "1234567890.1700000000",
        "a".repeat(64),
        "b".repeat(1250)
    ))
    .expect("cookie");

    let bare = served(Router::new().route("/", get(hello)));
    let noop_mw = served(Router::new().route("/", get(hello)).layer(from_fn(noop)));
    let stytch_hit = served(
        Router::new()
            .route("/", get(hello))
            .layer(StytchLayer::new(hit.clone())),
    );
    let stytch_typed = served(
        Router::new()
            .route("/", get(hello_typed))
            .layer(StytchLayer::new(hit.clone())),
    );
    let stytch_cold = served(
        Router::new()
            .route("/", get(hello))
            .layer(StytchLayer::new(cold.clone())),
    );
    let hand_written = served(
        Router::new()
            .route("/", get(hello))
            .layer(from_fn_with_state(hand, hand_written_mw)),
    );
    let optional = served(
        Router::new()
            .route("/", get(hello))
            .layer(StytchLayer::new(hit.clone()).with_mode(Mode::Optional)),
    );

    // Capture a session the way a handler sees it, for the guard benches.
    let slot: Arc<Mutex<Option<StytchSession>>> = Arc::default();
    let capture = {
        let slot = Arc::clone(&slot);
        let capture = Router::new()
            .route(
                "/",
                get(move |s: StytchSession| async move {
                    *slot.lock().expect("slot") = Some(s);
                    "ok"
                }),
            )
            .layer(StytchLayer::new(hit.clone()));
        served(capture)
    };

    for router in [
        &bare,
        &noop_mw,
        &stytch_hit,
        &stytch_typed,
        &stytch_cold,
        &hand_written,
    ] {
        assert_eq!(call(router, &cookie), 200);
    }
    assert_eq!(call(&optional, &others), 200);
    assert_eq!(call(&capture, &cookie), 200);
    let session = slot.lock().expect("slot").take().expect("a session");
    let validator = session.validator().clone();
    let policy = rt.block_on(validator.policy()).expect("the policy loads");
    eprintln!(
        "token {} bytes; roles {:?}; factors {}",
        fx.token.len(),
        session.roles(),
        session.factor_count()
    );

    let mut g = c.benchmark_group("layer");
    g.bench_function("bare", |b| b.iter(|| call(&bare, black_box(&cookie))));
    g.bench_function("noop_from_fn", |b| {
        b.iter(|| call(&noop_mw, black_box(&cookie)))
    });
    g.bench_function("stytch_cache_hit", |b| {
        b.iter(|| call(&stytch_hit, black_box(&cookie)))
    });
    #[cfg(feature = "metrics")]
    {
        let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        // A layer whose first request meets the recorder, as in an application that
        // installs its recorder at startup.
        let observed = served(
            Router::new()
                .route("/", get(hello))
                .layer(StytchLayer::new(rt.block_on(fx.validator(10_000)))),
        );
        metrics::with_local_recorder(&prometheus, || {
            assert_eq!(call(&observed, &cookie), 200);
            assert_eq!(call(&observed, &cookie), 200);
        });
        g.bench_function("stytch_cache_hit_prometheus", |b| {
            metrics::with_local_recorder(&prometheus, || {
                b.iter(|| call(&observed, black_box(&cookie)))
            })
        });
        assert!(
            prometheus
                .handle()
                .render()
                .contains("stytch_verified_cache_hits_total"),
            "the recorder saw the hits"
        );
    }
    #[cfg(feature = "fleet")]
    match benches::fleet::validator(&rt, &fx) {
        Some((_redis, validator)) => {
            let stytch_fleet = served(
                Router::new()
                    .route("/", get(hello))
                    .layer(StytchLayer::new(validator.clone())),
            );
            assert_eq!(call(&stytch_fleet, &cookie), 200);
            g.bench_function("stytch_cache_hit_fleet", |b| {
                b.iter(|| call(&stytch_fleet, black_box(&cookie)))
            });
            // Other sessions revoked: the mirror holds them; each cached entry looks its
            // session up once after the last change, then skips the lookup again.
            for i in 0..1000 {
                rt.block_on(validator.revoke(&format!("session-test-bench-{i:04}")))
                    .expect("revoked (unknown to Stytch counts as revoked)");
            }
            assert_eq!(validator.health().revoked_sessions, 1000);
            assert_eq!(call(&stytch_fleet, &cookie), 200);
            g.bench_function("stytch_cache_hit_fleet_1000_revoked", |b| {
                b.iter(|| call(&stytch_fleet, black_box(&cookie)))
            });
        }
        None => eprintln!("layer/stytch_cache_hit_fleet: skipped: redis-server not found"),
    }
    g.bench_function("stytch_cache_hit_typed_claims", |b| {
        b.iter(|| call(&stytch_typed, black_box(&cookie)))
    });
    g.bench_function("stytch_verify_every_request", |b| {
        b.iter(|| call(&stytch_cold, black_box(&cookie)))
    });
    g.bench_function("hand_written_jsonwebtoken", |b| {
        b.iter(|| call(&hand_written, black_box(&cookie)))
    });
    g.finish();

    let mut g = c.benchmark_group("credentials");
    g.bench_function("bare_with_other_cookies", |b| {
        b.iter(|| call(&bare, black_box(&others)))
    });
    g.bench_function("optional_layer_with_other_cookies", |b| {
        b.iter(|| call(&optional, black_box(&others)))
    });
    g.bench_function("header_to_str_jwt_cookie", |b| {
        b.iter(|| black_box(&cookie).to_str().map(str::len))
    });
    g.finish();

    let mut g = c.benchmark_group("guard");
    let guards = [
        ("factor_count_1", require_factor_count(1)),
        ("factor_magic_link", require_factor("magic_link")),
        ("role_editor", require_role("editor")),
        (
            "all_of_three",
            Guard::all([
                require_factor_count(1),
                require_role("editor"),
                require_factor("magic_link"),
            ]),
        ),
        (
            "permission_documents_read",
            require_permission("documents", "read"),
        ),
    ];
    for (name, guard) in &guards {
        assert!(now(session.require(guard)).is_ok(), "{name} allows");
        g.bench_function(*name, |b| b.iter(|| now(session.require(black_box(guard)))));
    }
    g.finish();

    let mut g = c.benchmark_group("rbac");
    let roles = session.roles().to_vec();
    assert!(
        !policy
            .granting_roles(&roles, "documents", "read")
            .is_empty()
    );
    g.bench_function("granting_roles", |b| {
        b.iter(|| {
            policy
                .granting_roles(black_box(&roles), "documents", "read")
                .len()
        })
    });
    g.bench_function("validator_authorize", |b| {
        b.iter(|| now(validator.authorize(&session, "documents", "read")).is_ok())
    });
    g.finish();
    rt.block_on(fx.emu.shutdown());
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    benches(&mut c);
    c.final_summary();
}

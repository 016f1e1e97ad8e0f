//! Protect [axum](https://docs.rs/axum) and Tower services with
//! [Stytch](https://stytch.com) sessions: one layer, a typed session extractor, and
//! guards for MFA, step-up and RBAC.
//!
//! Your frontend logs users in with Stytch; their browsers send the
//! `stytch_session_jwt` cookie (a 5-minute RS256 JWT) and the `stytch_session` cookie
//! (an opaque token). [`StytchLayer`] checks the JWT locally against Stytch's cached
//! signing keys, so the common request costs no network call. Only what cannot be
//! checked locally (an expired JWT, a bare session token) goes to Stytch's API, which
//! returns a fresh JWT that the layer hands back as a cookie.
//!
//! # Setup
//!
//! ```no_run
//! use axum::{Router, routing::{get, post}};
//! use axum_stytch::{StytchLayer, StytchSession, Validator, require_factor_count};
//!
//! async fn me(session: StytchSession) -> String { format!("hello {}", session.user_id()) }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let app = Router::new()
//!         .route("/me", get(me))
//!         .route("/pay", post(me).route_layer(require_factor_count(2)))
//!         .layer(StytchLayer::new(Validator::from_env()?));
//!     axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! `Router::layer` also wraps the router's fallback, so unknown paths (a browser's
//! `/favicon.ico`) get 401 too. Keep public routes and the fallback outside: build the
//! protected routes as their own router with the layer and `merge` it into the public
//! one, or put the layer on routes with `route_layer`.
//!
//! [`Validator::from_env`] reads `STYTCH_PROJECT_ID`, `STYTCH_SECRET` and, optionally,
//! `STYTCH_API_URL`; [`StytchConfig::builder`] sets everything else (timeouts, caches,
//! the remote budget, B2B). Build one [`Validator`] per process: it is cheap to clone
//! and every clone shares the key cache, the verified-token cache and the HTTP
//! connections.
//!
//! # Extracting the session
//!
//! [`StytchSession`] dereferences to [`Session`]: ids, timestamps, authentication
//! factors, roles and custom claims. Put your custom-claims type in the signature and
//! read it with [`StytchSession::claims`]; a session whose claims do not fit is refused
//! with 401 `claims_mismatch`, and the claims of a cached JWT are parsed only once.
//!
//! ```
//! use axum_stytch::StytchSession;
//!
//! #[derive(serde::Deserialize)]
//! struct Plan { plan: String, seats: u32 }
//!
//! async fn billing(s: StytchSession<Plan>) -> String {
//!     format!("{} is on {} with {} seats", s.user_id(), s.claims().plan, s.claims().seats)
//! }
//! ```
//!
//! B2B projects extract [`StytchMemberSession`], which adds the organization.
//!
//! # Optional authentication
//!
//! [`Mode`](layer::Mode) decides what happens to a request without a usable session:
//! `Required` (401, the default), `Optional` (requests without credentials reach the
//! handler; extract `Option<StytchSession>`), or `OptionalIgnoringInvalid` (also bad
//! credentials are treated as absent).
//!
//! ```
//! use axum::{Router, routing::get};
//! use axum_stytch::{StytchLayer, StytchSession, Validator, layer::Mode};
//!
//! async fn home(session: Option<StytchSession>) -> String {
//!     match session {
//!         Some(s) => format!("welcome back {}", s.user_id()),
//!         None => "welcome, stranger".to_owned(),
//!     }
//! }
//!
//! # fn app(validator: Validator) -> Router {
//! Router::new()
//!     .route("/", get(home))
//!     .layer(StytchLayer::new(validator).with_mode(Mode::Optional))
//! # }
//! ```
//!
//! # Guards
//!
//! A [`Guard`] checks the session: [`require_factor_count`], [`require_factor`],
//! [`require_recent_auth`], [`require_recent_factor`], [`require_role`],
//! [`require_permission`] (RBAC against the project's policy, fetched and cached), and
//! [`Guard::from_fn`] with your own predicate. Combine them with [`Guard::and`],
//! [`Guard::or`], `!guard`, [`Guard::all`] and [`Guard::any`]. Use one as a route
//! layer, or inside a handler with [`StytchSession::require`]. A denial answers 403
//! with the guard's reason.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::{get, post}};
//! use axum_stytch::{StytchLayer, Validator, require_permission, require_recent_factor, require_role};
//!
//! # async fn ok() -> &'static str { "ok" }
//! # fn app(validator: Validator) -> Router {
//! let step_up = require_recent_factor("totp", Duration::from_secs(300));
//! Router::new()
//!     .route("/docs", get(ok).route_layer(require_permission("documents", "read")))
//!     .route("/admin", get(ok).route_layer(require_role("admin").or(require_role("owner"))))
//!     .route("/payout", post(ok).route_layer(step_up))
//!     .layer(StytchLayer::new(validator))
//! # }
//! ```
//!
//! Guards run after the layer, so put `.route_layer(guard)` on routes and
//! `.layer(StytchLayer)` on the router around them. [`require_org_permission`] (B2B)
//! needs the request to know the organization, so it is a
//! [`RouteGuard`](guard::RouteGuard): a route layer only, which the compiler keeps out
//! of handlers (use [`StytchSession::authorize_in_organization`] there).
//!
//! # Cookies
//!
//! When Stytch issues a fresh JWT (the old one had expired), the response carries
//! `Set-Cookie` for both cookies, with the attributes Stytch's frontend SDK uses:
//! `Path=/`, `SameSite=Lax`, `Secure`, expiring with the session, and
//! `Cache-Control: private, no-store` so no shared cache stores a response that carries
//! a session (a handler's own `no-store` is kept). Change the attributes with
//! [`StytchLayer::with_cookie_names`](layer::StytchLayer::with_cookie_names), [`with_cookie_domain`](StytchLayer::with_cookie_domain),
//! [`with_same_site`](StytchLayer::with_same_site), [`with_http_only`](StytchLayer::with_http_only)
//! and friends. When Stytch says the session is gone, both cookies are cleared.
//!
//! **Set [`with_cookie_domain`](StytchLayer::with_cookie_domain) to the domain your
//! frontend SDK uses** (its `cookieOptions.domain`). If the frontend on
//! `app.example.com` sets `stytch_session_jwt` for `Domain=example.com` and the API on
//! `api.example.com` refreshes it host-only, the browser keeps both cookies and sends
//! two different values. The layer refuses such a request (a sibling subdomain could
//! have planted one of them) with 401 `conflicting_credentials`, clears the cookies it
//! writes itself so the next request recovers, and logs a warning at most once a minute
//! that names the setting. Until the domain matches, the conflict comes back after
//! every refresh.
//!
//! A request's credentials come from one source only: the first in
//! [`with_sources`](StytchLayer::with_sources) order that carries any (the two cookies
//! count as one source). A cookie and an `Authorization` header are never combined.
//! Refreshed tokens become cookies only when the request authenticated with cookies. A
//! bearer client (a mobile app, a service) gets no cookies: its Stytch SDK keeps its
//! JWT fresh, or your handler returns
//! [`StytchSession::refreshed_tokens`] to it when the layer had to ask Stytch.
//!
//! Stytch's cookies are `SameSite=Lax` and readable by JavaScript; protect
//! state-changing routes against CSRF (for example with a CSRF token or by requiring
//! a custom header) as you would for any cookie session.
//!
//! # Logout and fleet mode
//!
//! [`StytchSession::revoke`] logs a session out: the session is refused at once with
//! 401 `session_revoked`, from every cache (a verified JWT, a kept answer of Stytch's),
//! and ended at Stytch (`sessions/revoke`). It returns [`ClearSessionCookies`](layer::ClearSessionCookies), a
//! response part with which the layer clears the session cookies:
//!
//! ```
//! use axum_stytch::{StytchRejection, StytchSession, layer::ClearSessionCookies};
//!
//! async fn logout(session: StytchSession) -> Result<(ClearSessionCookies, &'static str), StytchRejection> {
//!     Ok((session.revoke().await?, "logged out"))
//! }
//! ```
//!
//! On one instance that is all. Behind a load balancer each instance has its own
//! caches, and without shared state three things go wrong: another instance accepts
//! the logged-out session's JWT from its verified cache until the JWT expires (up to
//! five minutes); each instance asks Stytch itself for a client that sends only its
//! session token (N instances, N calls); and each spends its own remote budget, although
//! Stytch's rate limit is per project. **Fleet mode** shares revocations, Stytch's
//! answers and the remote budget through Redis, with the `stytch-redis` crate:
//!
//! ```text
//! let fleet = stytch_redis::RedisFleet::new(std::env::var("REDIS_URL")?)?;
//! let validator = Validator::with_fleet(StytchConfig::from_env()?, fleet);
//! let app = router.layer(StytchLayer::new(validator));
//! ```
//!
//! *When it is worth it:* more than one instance, and a logout that must hold
//! everywhere at once (not up to five minutes later), or clients that send bare session
//! tokens or expired JWTs (a Stytch call each per instance otherwise), or traffic near
//! Stytch's rate limit. A single instance gains nothing from it.
//!
//! *What it costs:* a verified-cache hit never touches Redis. Revocations arrive by
//! subscription into a local mirror, which a hit checks with one atomic load (one hash
//! lookup per cached JWT after each new revocation). Measured: fleet mode adds nothing
//! to a cache hit (`Validator::cached` runs about 1430 instructions with fleet mode on
//! or off, with or without 1000 revoked sessions, counted by callgrind; the revocation
//! check itself added 7 to the 1420 before it), and the in-process layer benchmark
//! shows no difference beyond its noise (about ±0.05 µs on a 1.2 µs hit); see
//! `BENCHMARKS.md`. A request that
//! needs Stytch anyway adds one Redis `GET` before the call and a `SET` and a budget
//! script after it (loopback: well under a millisecond), and saves the call when
//! another instance answered. When Redis is down, slow or restarted, no request waits
//! on it longer than the timeout (50 ms by default); every instance works on its own
//! state meanwhile, logs the outage once, and resynchronises when Redis returns. A
//! logout made meanwhile holds at once on its instance and reaches the others then.
//!
//! # Errors
//!
//! Every refusal is a [`StytchRejection`]: a typed [`Reason`](stytch_validator::Reason)
//! that decides the status, a message and a retry hint. The default response is JSON
//! `{"error": "<reason>", "error_description": "..."}`, with
//! `WWW-Authenticate: Bearer ...` on 401 (`error="invalid_token"` when credentials were
//! sent) and 403 (`error="insufficient_scope"`), and `Retry-After` on 503. Own the
//! response with [`StytchLayer::with_rejection_handler`], or send browsers to a login
//! page with [`StytchLayer::with_login_redirect`]. The layer renders every refusal
//! behind it the same way, however it was raised: by the layer, a route guard, an
//! extractor, [`StytchSession::require`], or a handler returning
//! `StytchRejection::from(error)`.
//!
//! The reasons are a stable contract for clients and metrics:
//!
//! | reason | status | meaning |
//! |---|---|---|
//! | `missing_credentials` | 401 | No session credentials were sent. |
//! | `conflicting_credentials` | 401 | One Stytch cookie name carries two different values (cookie tossing, or a cookie-scope mismatch between the frontend and the API), or two `Authorization` headers were sent. |
//! | `malformed_authorization` | 401 | The `Authorization` header is not `Bearer <credential>`. |
//! | `session_token_malformed` | 401 | A session token that cannot be a Stytch token (empty, too long, not base64url). |
//! | `jwt_malformed` | 401 | The JWT is not a well-formed compact JWS. |
//! | `jwt_malformed_claims` | 401 | The JWT's payload is not a valid claims object. |
//! | `jwt_too_large` | 401 | The JWT is larger than the configured cap. |
//! | `jwt_unsupported_algorithm` | 401 | The JWT is not signed with RS256. |
//! | `jwt_forbidden_header` | 401 | The JWT header carries a field that would change how it is processed (`crit`, `jku`, `jwk`, `x5u`, `x5c`, ...). |
//! | `jwt_wrong_type` | 401 | The JWT's `typ` is not `JWT`. |
//! | `jwt_missing_kid` | 401 | The JWT has no `kid`. |
//! | `jwt_malformed_kid` | 401 | The JWT's `kid` is not a plausible key id. |
//! | `jwt_unknown_key` | 401 | The JWT names a key the project does not publish (checked against fresh keys). |
//! | `jwt_invalid_signature` | 401 | The JWT's signature does not verify. |
//! | `jwt_wrong_issuer` | 401 | The JWT was issued by someone else (`iss`). |
//! | `jwt_wrong_audience` | 401 | The JWT is for another project (`aud`). |
//! | `jwt_lifetime_too_long` | 401 | The JWT claims a lifetime longer than the configured maximum. |
//! | `jwt_consumer_token_for_b2b_project` | 401 | A consumer JWT sent to a B2B project. |
//! | `jwt_b2b_token_for_consumer_project` | 401 | A B2B JWT sent to a consumer project. |
//! | `jwt_expired` | 401 | The JWT has expired (and Stytch could not refresh it). |
//! | `jwt_too_old` | 401 | The JWT is older than the configured maximum age (and Stytch could not refresh it). |
//! | `jwt_not_yet_valid` | 401 | The JWT is not valid yet (`nbf` or `iat` in the future). |
//! | `session_expired` | 401 | The session the JWT belongs to has expired. |
//! | `session_not_found` | 401 | Stytch says the session is unknown, expired or revoked; the layer clears the session cookies. |
//! | `session_revoked` | 401 | The session was revoked (logged out) through this service; every instance of a fleet refuses it at once. The layer clears the session cookies. |
//! | `session_invalid` | 401 | Stytch says the credential is not a valid session credential. |
//! | `claims_mismatch` | 401 | The session's custom claims do not fit the handler's typed claims. |
//! | `insufficient_factors` | 403 | Fewer authentication factors than the route requires. |
//! | `missing_factor` | 403 | The session lacks the factor the route requires. |
//! | `reauthentication_required` | 403 | The last authentication (of the required factor) is too long ago. |
//! | `missing_role` | 403 | The session lacks the role the route requires. |
//! | `permission_denied` | 403 | No role of the session grants the permission. |
//! | `tenancy_mismatch` | 403 | The session belongs to a different organization (B2B). |
//! | `organization_unknown` | 403 | The route's organization could not be determined (B2B). |
//! | `guard_denied` | 403 | A guard denied the request (a custom predicate or a combination). |
//! | `stytch_authorization_denied` | 403 | Stytch denied an authorization check. |
//! | `jwks_unavailable` | 503 | The signing keys could not be fetched. |
//! | `jwks_rate_limited` | 503 | The JWKS endpoint answered 429. |
//! | `jwks_bad_status` | 503 | The JWKS endpoint answered an unexpected status. |
//! | `jwks_malformed` | 503 | The JWKS document is not valid JSON of the expected shape. |
//! | `jwks_no_usable_keys` | 503 | The JWKS document holds no key usable for RS256. |
//! | `upstream_timeout` | 503 | An upstream call ran past its deadline. |
//! | `upstream_unreachable` | 503 | The upstream host could not be reached. |
//! | `upstream_connection_failed` | 503 | The connection to the upstream failed mid-way. |
//! | `upstream_redirected` | 503 | The HTTP client followed a redirect away from the configured URL. |
//! | `upstream_body_too_large` | 503 | The upstream answer was larger than allowed. |
//! | `stytch_unavailable` | 503 | Stytch answered 5xx. |
//! | `stytch_rate_limited` | 503 | Stytch answered 429; calls pause as long as it asked. |
//! | `stytch_circuit_open` | 503 | The circuit breaker is open after repeated upstream failures. |
//! | `stytch_overloaded` | 503 | Too many calls to Stytch are in flight. |
//! | `stytch_budget_exhausted` | 503 | The remote budget is spent for now. |
//! | `stytch_malformed_response` | 503 | Stytch answered 2xx with a body that is not a session. |
//! | `stytch_unexpected_response` | 503 | An answer that is not Stytch's (a proxy's 404, a 408, a bare 401). |
//! | `rbac_policy_unavailable` | 503 | The RBAC policy could not be fetched. |
//! | `rbac_policy_malformed` | 503 | The RBAC policy document is malformed. |
//! | `stytch_rejected_credentials` | 500 | Stytch rejected this service's project id or secret. |
//! | `missing_layer` | 500 | The session extractor or a guard runs on a route no `StytchLayer` covers. |
//! | `not_member_session` | 500 | A member-session extractor runs under a layer whose validator is configured for consumer sessions. |
//!
//! # Observability
//!
//! **Metrics** go through the [`metrics`](https://docs.rs/metrics) facade with the
//! `metrics` feature: install any recorder (`metrics-exporter-prometheus`, an
//! OpenTelemetry bridge) and they appear; without a recorder they cost a few loads,
//! without the feature nothing. Names and labels are stable; label values come from the
//! fixed sets below, never from ids or credentials. Install the recorder before the
//! first request: the two counters a cache hit moves are registered once, at their first
//! use, and stay with the recorder in effect then (a hit then costs two atomic
//! increments, not two registry lookups).
//!
//! | metric | type | labels | counts |
//! |---|---|---|---|
//! | `stytch_authentications_total` | counter | `outcome` (`authenticated`, `anonymous`, `unauthenticated`, `forbidden`, `unavailable`, `misconfigured`), `reason` (a reason above, or `none`), `source` (`cookie`, `bearer`, `none`) | every request the layer decides |
//! | `stytch_verified_cache_hits_total` | counter | | JWTs served from the verified cache |
//! | `stytch_verified_cache_misses_total` | counter | | JWTs whose signature had to be checked |
//! | `stytch_verified_cache_entries` | gauge | | verified JWTs held |
//! | `stytch_remote_calls_total` | counter | `result` (`ok` or a reason) | HTTP calls to Stytch's `sessions/authenticate`, retries included |
//! | `stytch_remote_call_duration_seconds` | histogram | `result` | their latency |
//! | `stytch_remote_coalesced_total` | counter | | requests that joined a call already in flight |
//! | `stytch_remote_budget_total` | counter | `decision` (`used`, `refused`), `standing` (`proven`, `unproven`) | the remote budget's decisions |
//! | `stytch_circuit_state` | gauge | | 0 closed, 1 open, 2 half-open |
//! | `stytch_jwks_fetches_total` | counter | `result` (`ok` or a reason) | JWKS fetches |
//! | `stytch_jwks_keys` | gauge | | key ids in the key set |
//! | `stytch_jwks_age_seconds` | gauge | | age of the key set, set at each fetch, signature check and `health()` |
//! | `stytch_rbac_policy_fetches_total` | counter | `result` (`ok` or a reason), `policy` (`project`, `organization`) | RBAC policy fetches |
//! | `stytch_rbac_policy_age_seconds` | gauge | | age of the project policy, set at each check and `health()` |
//! | `stytch_guard_denials_total` | counter | `guard` (`factor_count`, `factor`, `recent_auth`, `recent_factor`, `role`, `permission`, `org_permission`, `predicate`, `all`, `any`, `not`), `reason` | 403s from guards |
//!
//! **Spans.** For every authenticated request the layer records on the current span
//! `enduser.id` (the user or member id, as OpenTelemetry names it), `session.id`,
//! `stytch.organization_id` (B2B) and `stytch.credential_source` (`cookie` or
//! `bearer`). A `tracing` span only keeps fields it declares, so declare them on your
//! request span, e.g. with `tower_http::trace::TraceLayer`:
//!
//! ```
//! use axum::{Router, http::Request, routing::get};
//! use axum_stytch::{StytchLayer, Validator};
//! use tower_http::trace::TraceLayer;
//! use tracing::field::Empty;
//!
//! # async fn me() {}
//! # fn app(validator: Validator) -> Router {
//! Router::new()
//!     .route("/me", get(me))
//!     .layer(StytchLayer::new(validator))
//!     .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
//!         tracing::info_span!(
//!             "request",
//!             method = %req.method(),
//!             uri = %req.uri(),
//!             enduser.id = Empty,
//!             session.id = Empty,
//!             stytch.organization_id = Empty,
//!             stytch.credential_source = Empty,
//!         )
//!     }))
//! # }
//! ```
//!
//! **Health.** [`Validator::health`] is a snapshot for probes: key set age and count,
//! the last JWKS error, the circuit, the policy age, the remote budget. Ready means
//! keys are held and not past their maximum staleness.
//!
//! ```
//! use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
//! use axum_stytch::{Validator, stytch_validator::Health};
//!
//! async fn healthz() -> &'static str { "ok" }
//!
//! async fn readyz(State(validator): State<Validator>) -> (StatusCode, Json<Health>) {
//!     let health = validator.health();
//!     let status = if health.is_ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
//!     (status, Json(health))
//! }
//!
//! # fn app(validator: Validator) -> Router {
//! Router::new()
//!     .route("/healthz", get(healthz))
//!     .route("/readyz", get(readyz))
//!     .with_state(validator)
//! # }
//! ```
//!
//! # Performance
//!
//! A request whose JWT verified before is answered from memory: no network call and no
//! signature check, but the whole token is compared with the one that verified, and its
//! expiry, signing key and revocation are checked again. In process that costs about
//! 0.1 µs more than an axum middleware that does nothing. A JWT seen for the first
//! time costs one RS256 signature check. Only what cannot be checked locally reaches
//! Stytch, and concurrent requests with the same credential share one call.
//! `BENCHMARKS.md` in the repository has the figures and how to reproduce them.
//!
//! * **Memory.** The verified cache is bounded in bytes
//!   ([`StytchConfig::verified_cache_bytes`], 32 MiB by default), whatever the tokens'
//!   size: the default holds about 12 500 sessions with 1.5 KB JWTs.
//!   [`Validator::health`] reports what it holds.
//! * **Many cores.** A token one thread serves again and again (a service account, a
//!   dashboard polling) is answered from that thread's own handle on its entry, so one
//!   hot token does not make cores contend. What every request still writes to memory
//!   that all cores share is axum's: with its default `matched-path` feature, its router
//!   clones one reference-counted route path into every request. An application that
//!   does not use `axum::extract::MatchedPath` and runs on many cores can build axum
//!   without that feature (`default-features = false`, then the features it uses).
//!
//! # Testing your app
//!
//! With the `test-util` feature, `Session::builder` makes sessions and
//! `test::with_session` hands one to a router without a server, Stytch or the
//! emulator. A unit test of a handler:
//!
//! ```
//! # #[cfg(feature = "test-util")] {
//! use axum::{Router, body::Body, http::Request, routing::get};
//! use axum_stytch::{Session, StytchSession, test};
//! use tower::ServiceExt as _;
//!
//! async fn me(session: StytchSession) -> String { format!("hello {}", session.user_id()) }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let session = Session::builder("user-test-1").role("admin").build();
//! let app = Router::new().route("/me", get(me)).layer(test::with_session(session));
//! let response = app.oneshot(Request::get("/me").body(Body::empty()).unwrap()).await.unwrap();
//! let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
//! assert_eq!(body, "hello user-test-1");
//! # });
//! # }
//! ```
//!
//! For an integration test, the `stytch-emulator` crate is an offline Stytch on
//! loopback: point the validator at it, create sessions with chosen factors and roles,
//! move its clock, inject faults, and send the real cookies.
//!
//! ```
//! use axum::{Router, body::Body, http::Request, routing::get};
//! use axum_stytch::{StytchConfig, StytchLayer, StytchSession, Validator};
//! use stytch_emulator::{Emulator, NewSession};
//! use tower::ServiceExt as _;
//!
//! async fn me(session: StytchSession) -> String { format!("hello {}", session.user_id()) }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let emu = Emulator::builder().start().await.unwrap();
//! let config = StytchConfig::builder(emu.project_id(), emu.secret())
//!     .api_url(emu.base_url())
//!     .build()
//!     .unwrap();
//! let app = Router::new().route("/me", get(me)).layer(StytchLayer::new(Validator::new(config)));
//! let s = emu.create_session(NewSession::new());
//! let request = Request::get("/me")
//!     .header("cookie", format!("stytch_session_jwt={}", s.session_jwt))
//!     .body(Body::empty())
//!     .unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # });
//! ```
//!
//! # Feature flags
//!
//! * `test-util`: `Session::builder` and the `test` module, for your own tests.
//! * `metrics`: the metrics listed under "Observability", through the `metrics` facade.
//!
//! # Crate layout
//!
//! The root holds what an application types: the layer, the extractors, the
//! rejection, [`Guard`] and the `require_*` constructors, and the core's [`Validator`],
//! [`StytchConfig`] and [`Session`]. The service and its future, [`Mode`](layer::Mode)
//! and the cookie settings are in [`layer`]; [`RouteGuard`](guard::RouteGuard), the
//! guard service and the organization sources in [`guard`]. Everything else of the
//! core is reachable as [`stytch_validator`].

#![cfg_attr(docsrs, feature(doc_cfg))]

mod cookies;
mod credentials;
pub mod guard;
pub mod layer;
mod observe;
mod per_thread;
mod rejection;
mod session;
mod shared;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod test;

pub use guard::{
    Guard, require_factor, require_factor_count, require_org_permission, require_permission,
    require_recent_auth, require_recent_factor, require_role,
};
pub use layer::StytchLayer;
pub use rejection::StytchRejection;
pub use session::{StytchMemberSession, StytchSession};
pub use stytch_validator;
pub use stytch_validator::{Session, StytchConfig, Validator};

#[cfg(test)]
mod tests {
    use stytch_validator::Reason;

    /// The crate doc's reason table lists every reason with its status.
    #[test]
    fn the_reason_table_is_complete() {
        let doc = include_str!("lib.rs");
        for reason in Reason::ALL {
            let row = format!("//! | `{}` | {} |", reason.as_str(), reason.status_code());
            assert!(doc.contains(&row), "the crate doc lacks {row}");
        }
    }
}

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
//! use axum_stytch::{StytchConfig, StytchLayer, StytchSession, Validator, require_factor_count};
//!
//! async fn me(session: StytchSession) -> String {
//!     format!("hello {}", session.user_id())
//! }
//!
//! async fn transfer(session: StytchSession) -> &'static str {
//!     "sent"
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // STYTCH_PROJECT_ID, STYTCH_SECRET and, optionally, STYTCH_API_URL.
//! let validator = Validator::new(StytchConfig::from_env()?);
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .route("/transfer", post(transfer).route_layer(require_factor_count(2)))
//!     .layer(StytchLayer::new(validator));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! One [`Validator`] per process: it is cheap to clone and every clone shares the
//! key cache, the verified-token cache and the HTTP connections.
//!
//! # Extracting the session
//!
//! [`StytchSession`] dereferences to [`Session`]: ids, timestamps, authentication
//! factors, roles, and custom claims (typed through [`Session::custom_claims`]).
//!
//! ```
//! use axum::Json;
//! use axum_stytch::StytchSession;
//!
//! #[derive(serde::Deserialize)]
//! struct Claims { plan: String }
//!
//! async fn plan(session: StytchSession) -> Json<serde_json::Value> {
//!     let plan = session.custom_claims::<Claims>().map(|c| c.plan).unwrap_or_default();
//!     Json(serde_json::json!({ "user": session.user_id(), "plan": plan }))
//! }
//! ```
//!
//! # Optional authentication
//!
//! [`StytchLayer::optional`] lets requests without credentials through; extract
//! `Option<StytchSession>`. Bad credentials (conflicting cookies, a malformed
//! `Authorization` header, an invalid, expired or revoked session) are still answered
//! with 401 unless [`StytchLayer::continue_on_invalid`] is set, which treats them as
//! absent.
//!
//! ```
//! use axum::{Router, routing::get};
//! use axum_stytch::{StytchLayer, StytchSession, Validator};
//!
//! async fn home(session: Option<StytchSession>) -> String {
//!     match session {
//!         Some(s) => format!("welcome back {}", s.user_id()),
//!         None => "welcome, stranger".to_owned(),
//!     }
//! }
//!
//! # fn app(validator: Validator) -> Router {
//! Router::new().route("/", get(home)).layer(StytchLayer::optional(validator))
//! # }
//! ```
//!
//! # Guards
//!
//! A [`Guard`] checks the session: [`require_factor_count`], [`require_factor`],
//! [`require_recent_auth`], [`require_recent_factor`], [`require_role`], [`require_permission`] (RBAC against the
//! project's policy, fetched and cached), [`require`] with your own predicate, and the
//! combinators [`Guard::and`], [`Guard::or`], [`all`], [`any`], [`not`]. Use one as a
//! route layer, or inside a handler with [`StytchSession::require`]. A denial answers
//! 403 with the guard's reason code.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::{get, post}};
//! use axum_stytch::*;
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
//! `.layer(StytchLayer)` on the router around them.
//!
//! # Cookies
//!
//! When Stytch issues a fresh JWT (the old one had expired), the response carries
//! `Set-Cookie` for both cookies, with the attributes Stytch's frontend SDK uses:
//! `Path=/`, `SameSite=Lax`, `Secure`, expiring with the session, and
//! `Cache-Control: private, no-store` so no shared cache stores a response that carries
//! a session (a handler's own `no-store` is kept). Change the attributes with
//! [`StytchLayer::with_cookie_names`], [`with_cookie_domain`](StytchLayer::with_cookie_domain),
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
//! # Errors
//!
//! Every refusal is a [`StytchRejection`] with a stable status and JSON body
//! `{"error": "<reason code>", "error_description": "..."}`:
//!
//! | status | when | extra header |
//! |---|---|---|
//! | 401 | no credentials, malformed, forged, expired or revoked session | `WWW-Authenticate: Bearer ...` |
//! | 403 | a guard or RBAC check denied | `WWW-Authenticate: Bearer error="insufficient_scope"` |
//! | 503 | Stytch or its keys unreachable, rate limited, circuit open | `Retry-After` |
//! | 500 | misconfiguration (Stytch rejects the project secret; extractor without layer) | |
//!
//! Own the response with [`StytchLayer::with_rejection_handler`], or send browsers to a
//! login page with [`StytchLayer::with_login_redirect`].
//!
//! # Testing your app
//!
//! The `stytch-emulator` crate is an offline Stytch: point
//! [`StytchConfigBuilder::api_url`] at it, create sessions with chosen factors and
//! roles, move its clock, inject faults.
//!
//! # Feature flags
//!
//! This crate has no optional features yet: the TLS backend is rustls, always on.

mod cookies;
mod credentials;
mod guard;
mod layer;
mod rejection;
mod session;

pub use credentials::CredentialSource;
pub use guard::{
    Guard, GuardFuture, GuardService, OrgSource, all, any, not, org_from_header, org_from_path,
    require, require_factor, require_factor_count, require_org_permission, require_permission,
    require_recent_auth, require_recent_factor, require_role,
};
pub use layer::{ResponseFuture, StytchLayer, StytchService};
pub use rejection::{MissingStytchLayer, SessionRejection, StytchRejection};
pub use session::{StytchMemberSession, StytchSession};

pub use cookie::SameSite;
pub use stytch_validator;
pub use stytch_validator::{
    AuthError, Authenticated, AuthenticationFactor, Authorization, Clock, ConfigError, Credentials,
    ErrorKind, ManualClock, Organization, Policy, RefreshedTokens, Session, SessionSource,
    StytchConfig, StytchConfigBuilder, SystemClock, Validator, Vertical,
};

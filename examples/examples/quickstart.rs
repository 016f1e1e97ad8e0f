//! Quickstart: an axum service protected by Stytch sessions.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With no Stytch credentials set, this starts an embedded, offline Stytch emulator,
//! creates three demo sessions and prints ready-made `curl` commands; paste them into a
//! shell. To use your own Stytch project instead, set `STYTCH_PROJECT_ID` and
//! `STYTCH_SECRET` (and `STYTCH_API_URL` for a custom domain), log in with your
//! frontend, and send its `stytch_session_jwt` cookie. `LISTEN_ADDR` changes the
//! address (default `127.0.0.1:3000`), `RUST_LOG` the log level; Ctrl-C stops it.
//! With `--features metrics` it also serves `GET /metrics` in Prometheus text format.
//!
//! Routes:
//!
//! | route | needs |
//! |---|---|
//! | `GET /` | nothing: public |
//! | `GET /me` | a session: answers it as JSON |
//! | `GET /admin` | the `admin` role |
//! | `POST /transfer` | two authentication factors (MFA) |
//!
//! What to try: `/me` without a cookie (401), `/admin` as a non-admin (403), `/transfer`
//! with one factor (403) and with two (200), and a request with only the opaque
//! `stytch_session` token: the layer asks Stytch, which issues a fresh JWT, and the
//! response carries it in `Set-Cookie`.

use axum::routing::{get, post};
use axum::{Json, Router};
use axum_stytch::{StytchLayer, StytchSession, Validator, require_factor_count, require_role};
use serde_json::{Value, json};
use stytch_emulator::{EmulatorHandle, Factor, NewSession};

/// Public: no session needed.
async fn home() -> &'static str {
    "Hello! Try GET /me, GET /admin and POST /transfer with a Stytch session cookie.\n"
}

/// The session of the request, as JSON.
async fn me(session: StytchSession) -> Json<Value> {
    Json(json!({
        "session_id": session.session_id(),
        "user_id": session.user_id(),
        "roles": session.roles(),
        "authentication_factors": session.authentication_factors(),
        "custom_claims": session.custom_claims_map(),
    }))
}

/// Only for the `admin` role (checked by the route layer).
async fn admin(session: StytchSession) -> Json<Value> {
    Json(json!({ "admin": true, "user_id": session.user_id() }))
}

/// Only with two factors (checked by the route layer).
async fn transfer(session: StytchSession) -> Json<Value> {
    Json(json!({ "transferred": true, "by": session.user_id() }))
}

/// The application: `GET /` is public; everything else needs a Stytch session.
pub(crate) fn app(stytch: StytchLayer) -> Router {
    let protected = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin).route_layer(require_role("admin")))
        .route(
            "/transfer",
            post(transfer).route_layer(require_factor_count(2)),
        )
        // Guards (route layers) run inside the StytchLayer, which authenticates first.
        .layer(stytch);
    Router::new().route("/", get(home)).merge(protected)
}

/// The `StytchLayer` of this example.
pub(crate) fn layer(validator: Validator, emulator: bool) -> StytchLayer {
    let layer = StytchLayer::new(validator);
    if emulator {
        // This demo serves plain http://127.0.0.1, where a client such as curl's cookie
        // jar does not send `Secure` cookies back; keep the default (`Secure`) in
        // production, where the service is behind HTTPS. (`examples::Stytch::layer`
        // does the same for the other examples.)
        layer.with_secure(false)
    } else {
        layer
    }
}

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    examples::init_tracing();
    let stytch = examples::stytch_validator_or_emulator(examples::example_policy()).await?;
    let app = app(layer(stytch.validator.clone(), stytch.is_emulator()));
    // `cargo run --example quickstart --features metrics`: Prometheus text at /metrics.
    #[cfg(feature = "metrics")]
    let app = {
        let prometheus =
            metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
        app.route(
            "/metrics",
            get(move || std::future::ready(prometheus.render())),
        )
    };
    let listener = examples::bind("127.0.0.1:3000").await?;
    let base = format!("http://{}", listener.local_addr()?);
    match stytch.emulator() {
        Some(emu) => print_demo(emu, &base),
        None => print_real_stytch(&base),
    }
    examples::serve(listener, app).await
}

/// Creates three sessions on the emulator and prints curl commands that use them.
fn print_demo(emu: &EmulatorHandle, base: &str) {
    let one = emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("ada@example.com"))
            .custom_claims(json!({ "plan": "free" })),
    );
    let two = emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("grace@example.com"))
            .factor(Factor::totp())
            .custom_claims(json!({ "plan": "pro" })),
    );
    let admin = emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("root@example.com"))
            .roles(["admin"]),
    );
    println!(
        r#"
Stytch: embedded emulator at {emu_url} (project {project}).
Three demo sessions; paste these lines into a shell (the JWTs are valid for 5 minutes):

ONE_FACTOR='{one_jwt}'  # {one_user}: email magic link
TWO_FACTOR='{two_jwt}'  # {two_user}: email magic link + TOTP
ADMIN='{admin_jwt}'  # {admin_user}: role admin
ONE_FACTOR_TOKEN='{one_token}'  # the opaque session token of ONE_FACTOR (60 minutes)

Then try:

curl -s {base}/                                                     # public: 200
curl -si {base}/me                                                  # no session: 401
curl -s {base}/me --cookie "stytch_session_jwt=$ONE_FACTOR"         # 200: the session as JSON
curl -si {base}/admin --cookie "stytch_session_jwt=$ONE_FACTOR"     # 403 missing_role
curl -s {base}/admin --cookie "stytch_session_jwt=$ADMIN"           # 200
curl -si -X POST {base}/transfer --cookie "stytch_session_jwt=$ONE_FACTOR"  # 403 insufficient_factors
curl -s -X POST {base}/transfer --cookie "stytch_session_jwt=$TWO_FACTOR"   # 200
curl -si {base}/me --cookie "stytch_session=$ONE_FACTOR_TOKEN"      # 200 + Set-Cookie: stytch_session_jwt=<fresh JWT>

After 5 minutes a JWT has expired: the layer then asks Stytch, which still knows the
session, and the response carries a fresh JWT in Set-Cookie (see it with curl -i).
The session token keeps working for the session's 60 minutes.
"#,
        emu_url = emu.base_url(),
        project = emu.project_id(),
        one_jwt = one.session_jwt,
        one_user = one.user_id,
        two_jwt = two.session_jwt,
        two_user = two.user_id,
        admin_jwt = admin.session_jwt,
        admin_user = admin.user_id,
        one_token = one.session_token,
    );
}

/// Explains how to call the service with a real Stytch session.
fn print_real_stytch(base: &str) {
    println!(
        r#"
Stytch: your project (from STYTCH_PROJECT_ID / STYTCH_SECRET).
Log in with your frontend, copy its stytch_session_jwt cookie, then:

JWT='<your stytch_session_jwt>'
curl -s {base}/
curl -s {base}/me --cookie "stytch_session_jwt=$JWT"
curl -si {base}/admin --cookie "stytch_session_jwt=$JWT"             # 200 with the admin role, else 403
curl -si -X POST {base}/transfer --cookie "stytch_session_jwt=$JWT"  # 200 after MFA, else 403
"#
    );
}

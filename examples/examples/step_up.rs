//! Step-up authentication: sensitive actions need a TOTP factor and a recent login.
//!
//! ```sh
//! cargo run --example step_up
//! ```
//!
//! | route | needs |
//! |---|---|
//! | `GET /login` | nothing: stands in for your Stytch login page |
//! | `GET /account` | a session; browsers without one are redirected to `/login` |
//! | `POST /payout` | step-up, as a route layer |
//! | `POST /transfer` `{"amount": n}` | step-up checked in the handler, only above 100 |
//!
//! Step-up here is `require_recent_factor("totp", 5 min)`: the session authenticated
//! with a TOTP code in the last five minutes (a fresh email link does not count).
//! Denials, from the route layer and from inside handlers alike, go through a custom
//! rejection handler that answers 403 with a JSON body telling the client how to step
//! up.
//!
//! With no Stytch credentials set, an embedded emulator creates three sessions: one
//! whose factors (email and TOTP) are an hour old, one fresh with both, and one with
//! email only, and `curl` commands are printed. `LISTEN_ADDR` changes the address
//! (default `127.0.0.1:3002`).

use std::sync::LazyLock;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_stytch::stytch_validator::Reason;
use axum_stytch::{Guard, StytchLayer, StytchRejection, StytchSession, require_recent_factor};
use serde::Deserialize;
use serde_json::{Value, json};
use stytch_emulator::{EmulatorHandle, Factor, NewSession};

/// How recent the last authentication must be for a sensitive action.
const STEP_UP_WINDOW: Duration = Duration::from_secs(300);

/// A TOTP factor authenticated within [`STEP_UP_WINDOW`].
static STEP_UP: LazyLock<Guard> = LazyLock::new(|| require_recent_factor("totp", STEP_UP_WINDOW));

/// Answers step-up denials with instructions; everything else as the library does.
/// Used as the layer's rejection handler and for the in-handler check.
fn rejection(rejection: StytchRejection) -> Response {
    let reason = rejection.reason();
    let message = match reason {
        Reason::ReauthenticationRequired => {
            "Please confirm it's you: sign in again with your authenticator app."
        }
        Reason::MissingFactor => {
            "This needs an authenticator app: set one up, then sign in with it."
        }
        _ => return rejection.into_response(),
    };
    let body = json!({
        "error": reason,
        "message": message,
        "step_up": {
            "factor": "totp",
            "within_seconds": STEP_UP_WINDOW.as_secs(),
            "url": "/login?step_up=totp",
        },
    });
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}

/// Public: where browsers without a session are sent.
async fn login() -> Html<&'static str> {
    Html("<h1>Log in</h1><p>Your Stytch login UI (e.g. the Stytch frontend SDK) goes here.</p>")
}

/// Any session.
async fn account(session: StytchSession) -> Json<Value> {
    let factors: Vec<Value> = session
        .authentication_factors()
        .iter()
        .map(|f| json!({ "type": f.factor_type(), "last_authenticated_at": f.last_authenticated_at().map(|t| t.unix_timestamp()) }))
        .collect();
    Json(json!({ "user_id": session.user_id(), "factors": factors }))
}

/// Step-up checked by the route layer.
async fn payout(session: StytchSession) -> Json<Value> {
    Json(json!({ "payout": "scheduled", "by": session.user_id() }))
}

#[derive(Deserialize)]
struct Transfer {
    amount: u64,
}

/// Step-up checked here, because it depends on the body: only large amounts need it.
async fn transfer(
    session: StytchSession,
    Json(transfer): Json<Transfer>,
) -> Result<Json<Value>, Response> {
    if transfer.amount > 100 {
        // A denial here goes through the layer's rejection handler too.
        session
            .require(&STEP_UP)
            .await
            .map_err(IntoResponse::into_response)?;
    }
    Ok(Json(
        json!({ "transferred": transfer.amount, "by": session.user_id() }),
    ))
}

/// The application: `/login` is public, the rest needs a session.
pub(crate) fn app(stytch: StytchLayer) -> Router {
    let stytch = stytch
        .with_rejection_handler(rejection)
        // Browsers (requests accepting text/html) without a session get a 303 to the
        // login page instead of a 401.
        .with_login_redirect("/login");
    let protected = Router::new()
        .route("/account", get(account))
        .route("/payout", post(payout).route_layer(STEP_UP.clone()))
        .route("/transfer", post(transfer))
        .layer(stytch);
    Router::new().route("/login", get(login)).merge(protected)
}

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    examples::init_tracing();
    let stytch = examples::stytch_validator_or_emulator(examples::example_policy()).await?;
    // `StytchLayer::new(validator)`, without `Secure` cookies on the emulator (plain http).
    let layer = stytch.layer();
    let listener = examples::bind("127.0.0.1:3002").await?;
    let base = format!("http://{}", listener.local_addr()?);
    match stytch.emulator() {
        Some(emu) => print_demo(emu, &base),
        None => println!(
            "\nStytch: your project. Log in with your frontend (with TOTP), then for example:\n\n\
             curl -si -X POST {base}/payout --cookie \"stytch_session_jwt=$JWT\"\n"
        ),
    }
    examples::serve(listener, app(layer)).await
}

/// Creates a stale, a fresh and an email-only session and prints curl commands.
fn print_demo(emu: &EmulatorHandle, base: &str) {
    let an_hour_ago = emu.now() - time::Duration::hours(1);
    let stale = emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("sam@example.com").authenticated_at(an_hour_ago))
            .factor(Factor::totp().authenticated_at(an_hour_ago)),
    );
    let fresh = emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("fay@example.com"))
            .factor(Factor::totp()),
    );
    let email_only =
        emu.create_session(NewSession::new().factor(Factor::email_magic_link("eve@example.com")));
    println!(
        r#"
Stytch: embedded emulator at {emu_url}.
Paste into a shell (the JWTs are valid for 5 minutes):

STALE='{stale}'  # email + TOTP, both an hour ago
FRESH='{fresh}'  # email + TOTP, just now
EMAIL_ONLY='{email_only}'  # no TOTP

curl -si -H 'Accept: text/html' {base}/account                      # 303 to /login (a browser)
curl -si {base}/account                                             # 401 (an API client)
curl -s {base}/account --cookie "stytch_session_jwt=$STALE"         # 200
curl -si -X POST {base}/payout --cookie "stytch_session_jwt=$STALE"       # 403 reauthentication_required
curl -si -X POST {base}/payout --cookie "stytch_session_jwt=$EMAIL_ONLY"  # 403 missing_factor
curl -s -X POST {base}/payout --cookie "stytch_session_jwt=$FRESH"        # 200
curl -s -X POST {base}/transfer -H 'Content-Type: application/json' -d '{{"amount": 50}}' --cookie "stytch_session_jwt=$STALE"   # 200: small
curl -si -X POST {base}/transfer -H 'Content-Type: application/json' -d '{{"amount": 500}}' --cookie "stytch_session_jwt=$STALE"  # 403: large
curl -s -X POST {base}/transfer -H 'Content-Type: application/json' -d '{{"amount": 500}}' --cookie "stytch_session_jwt=$FRESH"   # 200
"#,
        emu_url = emu.base_url(),
        stale = stale.session_jwt,
        fresh = fresh.session_jwt,
        email_only = email_only.session_jwt,
    );
}

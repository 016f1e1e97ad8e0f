//! Plumbing shared by the runnable examples in `examples/`:
//!
//! * [`stytch_validator_or_emulator`]: a [`Validator`] for your Stytch project when
//!   `STYTCH_PROJECT_ID` and `STYTCH_SECRET` are set, else for an embedded, offline
//!   Stytch emulator (so every example runs with no account and no network);
//! * [`bind`]: binds `LISTEN_ADDR` and prints `listening on http://ADDR`;
//! * [`serve`]: serves a router until Ctrl-C;
//! * [`init_tracing`] and [`example_policy`].
//!
//! The examples themselves (`quickstart`, `rbac`, `step_up`) hold everything that is
//! about axum-stytch; nothing here is needed in your own application.

use std::fmt;
use std::io::Write as _;
use std::net::SocketAddr;

use axum::Router;
use axum_stytch::stytch_validator::{Clock, Vertical};
use axum_stytch::{StytchConfig, StytchLayer, Validator};
use serde_json::{Value, json};
use stytch_emulator::{Emulator, EmulatorHandle};
use tokio::net::TcpListener;

/// An error that ends an example, printed as its plain message.
///
/// Any standard error converts into it with `?`, so `main` can return
/// `Result<(), examples::Error>`.
pub struct Error(String);

impl Error {
    /// An error with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self(message.to_string())
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

// `main` returning `Err` prints the error with `Debug`: show the message, not a struct.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Stytch project an example talks to.
#[derive(Debug)]
pub struct Stytch {
    /// The validator to give to `StytchLayer`; one per process.
    pub validator: Validator,
    /// The embedded emulator, when no credentials were set. Keep it alive as long as the
    /// server runs: dropping it stops the emulator.
    pub emulator: Option<EmulatorHandle>,
}

impl Stytch {
    /// Whether this is the embedded emulator rather than a real Stytch project.
    pub fn is_emulator(&self) -> bool {
        self.emulator.is_some()
    }

    /// A [`StytchLayer`] over the validator. On the emulator its refreshed cookies are
    /// not `Secure`: the demo serves plain `http://127.0.0.1`, where a client such as
    /// curl's cookie jar does not send `Secure` cookies back. With a real project the
    /// default (`Secure`) stays, as it must in production behind HTTPS.
    pub fn layer(&self) -> StytchLayer {
        let layer = StytchLayer::new(self.validator.clone());
        if self.is_emulator() {
            layer.with_secure(false)
        } else {
            layer
        }
    }

    /// The embedded emulator, for examples that seed demo sessions.
    pub fn emulator(&self) -> Option<&EmulatorHandle> {
        self.emulator.as_ref()
    }
}

/// Connects to Stytch, or starts an embedded emulator.
///
/// When `STYTCH_PROJECT_ID` or `STYTCH_SECRET` is set, the configuration comes from
/// [`StytchConfig::from_env`] (the real Stytch API for the project, or `STYTCH_API_URL`);
/// a missing or malformed variable is reported as an error rather than silently
/// falling back to the emulator. Otherwise an emulator is started on an ephemeral
/// loopback port with `rbac_policy` as its RBAC policy; with a real project, the policy
/// is whatever you configured in the Stytch dashboard.
pub async fn stytch_validator_or_emulator(rbac_policy: Value) -> Result<Stytch, Error> {
    stytch_or_emulator(Vertical::Consumer, rbac_policy).await
}

/// [`stytch_validator_or_emulator`] for a project of the given vertical (consumer or
/// B2B); for B2B the emulator's B2B RBAC policy is set.
pub async fn stytch_or_emulator(vertical: Vertical, rbac_policy: Value) -> Result<Stytch, Error> {
    let from_env = ["STYTCH_PROJECT_ID", "STYTCH_SECRET"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if from_env {
        let config = StytchConfig::builder_from_env().and_then(|b| b.vertical(vertical).build()).map_err(|e| {
            Error::msg(format!(
                "{e} (set both STYTCH_PROJECT_ID and STYTCH_SECRET, or neither to use the embedded emulator)"
            ))
        })?;
        tracing::info!(
            project_id = config.project_id(),
            api_url = config.api_url(),
            "using Stytch"
        );
        return Ok(Stytch {
            validator: Validator::new(config),
            emulator: None,
        });
    }
    let stytch = embedded_emulator_for(vertical, rbac_policy).await?;
    if let Some(emu) = stytch.emulator() {
        tracing::info!(
            project_id = emu.project_id(),
            api_url = %emu.base_url(),
            "no STYTCH_PROJECT_ID/STYTCH_SECRET set: using the embedded Stytch emulator"
        );
    }
    Ok(stytch)
}

/// Starts an embedded Stytch emulator on an ephemeral loopback port with `rbac_policy`,
/// and a validator pointed at it (whatever the environment says; the tests use this).
/// The validator's clock follows the emulator's, so
/// [`EmulatorHandle::advance_clock`] moves both.
pub async fn embedded_emulator(rbac_policy: Value) -> Result<Stytch, Error> {
    embedded_emulator_for(Vertical::Consumer, rbac_policy).await
}

/// [`embedded_emulator`] for a project of the given vertical.
pub async fn embedded_emulator_for(
    vertical: Vertical,
    rbac_policy: Value,
) -> Result<Stytch, Error> {
    let emulator = Emulator::builder()
        .start()
        .await
        .map_err(|e| Error::msg(format!("could not start the embedded Stytch emulator: {e}")))?;
    if vertical == Vertical::B2b {
        emulator.set_b2b_rbac_policy(rbac_policy);
    } else {
        emulator.set_rbac_policy(rbac_policy);
    }
    let config = StytchConfig::builder(emulator.project_id(), emulator.secret())
        .api_url(emulator.base_url())
        .vertical(vertical)
        .clock(EmulatorTime(emulator.clock()))
        .build()?;
    Ok(Stytch {
        validator: Validator::new(config),
        emulator: Some(emulator),
    })
}

/// The validator's clock on the embedded emulator: the emulator's time, which is the
/// system time plus whatever [`EmulatorHandle::advance_clock`] added. A demo that moves
/// the emulator's clock (to let a JWT expire) thereby moves the validator's too, so the
/// validator sees the JWT expired, and trusts the fresh JWTs the emulator issues at
/// its later time. With a real project the validator keeps the system clock.
#[derive(Debug, Clone)]
struct EmulatorTime(stytch_emulator::EmulatorClock);

impl Clock for EmulatorTime {
    fn now_millis(&self) -> i64 {
        self.0.now_unix_millis()
    }
}

/// An RBAC policy over one resource, `documents` (actions `read`, `write`, `delete`),
/// with the roles `reader` (read), `editor` (read, write) and `admin` (`*`), plus
/// `stytch_user`, the role Stytch gives every user.
pub fn example_policy() -> Value {
    json!({
        "roles": [
            {"role_id": "stytch_user", "description": "Every user.", "permissions": []},
            {"role_id": "reader", "description": "Reads documents.", "permissions": [
                {"resource_id": "documents", "actions": ["read"]}
            ]},
            {"role_id": "editor", "description": "Reads and writes documents.", "permissions": [
                {"resource_id": "documents", "actions": ["read", "write"]}
            ]},
            {"role_id": "admin", "description": "Does anything to documents.", "permissions": [
                {"resource_id": "documents", "actions": ["*"]}
            ]}
        ],
        "resources": [
            {"resource_id": "documents", "description": "Shared documents.", "actions": ["read", "write", "delete"]}
        ],
        "scopes": []
    })
}

/// Logs to stderr (so stdout stays readable), filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Binds `LISTEN_ADDR` (or `default_addr`) and prints `listening on http://ADDR` at once.
pub async fn bind(default_addr: &str) -> Result<TcpListener, Error> {
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| default_addr.to_owned());
    let parsed: SocketAddr = addr.parse().map_err(|e| {
        Error::msg(format!(
            "LISTEN_ADDR={addr:?} is not a socket address such as 127.0.0.1:3000: {e}"
        ))
    })?;
    let listener = TcpListener::bind(parsed).await.map_err(|e| {
        Error::msg(format!(
            "could not listen on {parsed}: {e} (set LISTEN_ADDR to another address)"
        ))
    })?;
    let local = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{local}")?;
    out.flush()?;
    Ok(listener)
}

/// Serves `app` on `listener` until Ctrl-C, then lets in-flight requests finish.
pub async fn serve(listener: TcpListener, app: Router) -> Result<(), Error> {
    axum::serve(listener, app)
        .with_graceful_shutdown(ctrl_c())
        .await?;
    tracing::info!("shut down");
    Ok(())
}

async fn ctrl_c() {
    match tokio::signal::ctrl_c().await {
        Ok(()) => tracing::info!("Ctrl-C received, shutting down"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C; stop the process another way");
            std::future::pending::<()>().await;
        }
    }
}

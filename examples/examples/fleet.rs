//! Fleet mode: three instances of one service, in one process, sharing revocations,
//! Stytch's answers and the remote budget through one Redis.
//!
//! ```sh
//! redis-server --port 6379 --save '' --appendonly no &
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example fleet
//! ```
//!
//! It starts an embedded, offline Stytch emulator, three instances (each with its own
//! `Validator`, so its own caches, and its own connection to Redis) on `LISTEN_ADDR`
//! and the next two ports (default `127.0.0.1:3001`, `:3002`, `:3003`), creates a demo
//! session, and prints `curl` commands: the session works on every instance; a logout
//! on the first revokes it (at Stytch, and in Redis) and clears its cookies; the other
//! two refuse the same, still unexpired, JWT at once with 401 `session_revoked`.
//! Without fleet mode they would accept it from their caches for up to five minutes.
//!
//! `REDIS_URL` defaults to `redis://127.0.0.1:6379`. With Redis down the instances
//! still serve, each on its own state, and catch up when Redis returns.
//!
//! Routes: `GET /me` (the session), `POST /logout` (revokes it).

use std::net::SocketAddr;

use axum::routing::{get, post};
use axum::{Json, Router};
use axum_stytch::layer::ClearSessionCookies;
use axum_stytch::{StytchConfig, StytchLayer, StytchRejection, StytchSession, Validator};
use examples::Error;
use serde_json::{Value, json};
use stytch_emulator::{Emulator, Factor, NewSession};
use stytch_redis::RedisFleet;

/// The session of the request, and which instance answered.
async fn me(session: StytchSession) -> Json<Value> {
    Json(json!({
        "session_id": session.session_id(),
        "user_id": session.user_id(),
        "source": session.source(),
    }))
}

/// Logs out: revoked here, on every instance, and at Stytch; the cookies are cleared.
async fn logout(
    session: StytchSession,
) -> Result<(ClearSessionCookies, Json<Value>), StytchRejection> {
    let cleared = session.revoke().await?;
    Ok((cleared, Json(json!({ "revoked": session.session_id() }))))
}

/// One instance's application.
pub(crate) fn app(stytch: StytchLayer) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/logout", post(logout))
        .layer(stytch)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    examples::init_tracing();
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let first: SocketAddr = std::env::var("LISTEN_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3001".to_owned())
        .parse()
        .map_err(|e| Error::msg(format!("LISTEN_ADDR is not a socket address: {e}")))?;
    let emu = Emulator::builder()
        .start()
        .await
        .map_err(|e| Error::msg(format!("could not start the embedded Stytch emulator: {e}")))?;

    let mut bases = Vec::new();
    let mut servers = Vec::new();
    for n in 0..3u16 {
        // Each instance: its own fleet connection and validator, as separate processes
        // behind a load balancer would have.
        let fleet = RedisFleet::new(redis_url.clone())?;
        let config = StytchConfig::builder(emu.project_id(), emu.secret())
            .api_url(emu.base_url())
            .build()?;
        let validator = Validator::with_fleet(config, fleet);
        // Plain http on loopback: curl's cookie jar would not send `Secure` cookies.
        let layer = StytchLayer::new(validator).with_secure(false);
        let port = if first.port() == 0 {
            0
        } else {
            first.port() + n
        };
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(first.ip(), port))
            .await
            .map_err(|e| Error::msg(format!("could not listen on port {port}: {e}")))?;
        let base = format!("http://{}", listener.local_addr()?);
        println!("instance {} listening on {base}", n + 1);
        bases.push(base);
        servers.push(tokio::spawn(async move {
            axum::serve(listener, app(layer)).await
        }));
    }

    let session =
        emu.create_session(NewSession::new().factor(Factor::email_magic_link("ada@example.com")));
    let cookie = format!("stytch_session_jwt={}", session.session_jwt);
    println!();
    println!("Redis: {}", redacted(&redis_url));
    println!("# 1. The session works on every instance:");
    for base in &bases {
        println!("curl -s -b '{cookie}' {base}/me; echo");
    }
    println!("# 2. Log out on instance 1 (revoked at Stytch and in Redis; cookies cleared):");
    println!("curl -s -i -X POST -b '{cookie}' {}/logout", bases[0]);
    println!("# 3. Instances 2 and 3 refuse the same JWT at once: 401 session_revoked");
    for base in &bases[1..] {
        println!("curl -s -b '{cookie}' {base}/me; echo");
    }
    println!();
    println!("Ctrl-C stops all three.");

    tokio::signal::ctrl_c().await?;
    for server in servers {
        server.abort();
    }
    drop(emu);
    Ok(())
}

/// The URL without a password, for the console.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://[redacted]@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

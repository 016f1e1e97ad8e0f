//! Benchmarks for axum-stytch; see `benches/` and the `load` binary.
//!
//! This library holds what the criterion benches and the load harness share: a
//! Stytch-shaped session JWT minted by the emulator, validators configured for it, the
//! hand-written `jsonwebtoken` middleware that stands for "what teams write today",
//! and a raw aws-lc-rs verifier with a pre-parsed key (the floor).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_stytch::stytch_validator::StytchConfigBuilder;
use axum_stytch::{StytchConfig, Validator};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use stytch_emulator::{Emulator, EmulatorHandle, Factor, NewSession};

/// The target size of the Stytch-shaped benchmark token: a full session JWT with one
/// email magic-link factor (docs/benchmark-method.md).
pub const TOKEN_BYTES: usize = 1438;

/// The cookie every harness sends.
pub const JWT_COOKIE: &str = "stytch_session_jwt";

/// A running emulator and a session JWT it signed.
#[derive(Debug)]
pub struct Fixture {
    /// The emulator (serves the JWKS and the remote API).
    pub emu: EmulatorHandle,
    /// A Stytch-shaped session JWT of [`TOKEN_BYTES`] bytes (or the nearest length the
    /// emulator's claims allow), valid for about an hour.
    pub token: String,
    /// The token's session id.
    pub session_id: String,
}

impl Fixture {
    /// Starts an emulator and mints the token. Needs a tokio runtime.
    pub async fn start() -> Fixture {
        let emu = Emulator::builder()
            .start()
            .await
            .expect("the emulator starts");
        let created = new_session(&emu);
        let token = stytch_shaped(&emu, &created.session_jwt, TOKEN_BYTES);
        Fixture {
            emu,
            token,
            session_id: created.session_id,
        }
    }

    /// A new session like the fixture's (one email magic-link factor, the `editor`
    /// role), as the emulator issues it.
    pub fn session(&self) -> stytch_emulator::CreatedSession {
        new_session(&self.emu)
    }

    /// The Stytch-shaped JWT of a new session like the fixture's: for benches that need
    /// many distinct tokens of the fixture's size.
    pub fn mint(&self) -> String {
        stytch_shaped(&self.emu, &self.session().session_jwt, TOKEN_BYTES)
    }

    /// A config builder for this emulator's project, pointed at it.
    pub fn config(&self) -> StytchConfigBuilder {
        config_for(
            self.emu.base_url(),
            self.emu.project_id(),
            self.emu.secret(),
        )
    }

    /// A validator with its JWKS fetched; `verified_cache` 0 disables the verified-token
    /// cache, so every request pays a full verification.
    pub async fn validator(&self, verified_cache: usize) -> Validator {
        warmed(
            self.config()
                .verified_cache_bytes(verified_cache as u64 * 4096)
                .build()
                .expect("valid config"),
        )
        .await
    }

    /// The RSA components of the signing key, as the JWKS publishes them.
    pub fn jwk(&self) -> Jwk {
        Jwk::from_jwks(&self.emu.jwks_json(), &self.emu.current_kid())
    }
}

fn new_session(emu: &EmulatorHandle) -> stytch_emulator::CreatedSession {
    emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("ada.lovelace@example.com"))
            .roles(["editor"]),
    )
}

/// A config builder for a project served at `api_url`.
pub fn config_for(
    api_url: impl Into<String>,
    project_id: &str,
    secret: &str,
) -> StytchConfigBuilder {
    StytchConfig::builder(project_id, secret)
        .api_url(api_url)
        .request_timeout(Duration::from_secs(5))
}

/// A tokio runtime with one worker thread: what the benches and the harness's servers
/// run on, so that a figure is one core's.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A validator for `config` with its JWKS fetched.
pub async fn warmed(config: StytchConfig) -> Validator {
    let validator = Validator::new(config);
    validator.warm_up().await.expect("the JWKS loads");
    validator
}

/// Re-signs the emulator's session JWT with an hour of life (so long benchmark runs do
/// not cross `exp`) and, when it is shorter than `target`, pads it with a custom claim
/// to `target` bytes. The header, the registered claims and the Stytch session claim
/// are the emulator's.
pub fn stytch_shaped(emu: &EmulatorHandle, jwt: &str, target: usize) -> String {
    let mut parts = jwt.split('.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        panic!("the emulator's JWT has three parts");
    };
    let header = String::from_utf8(URL_SAFE_NO_PAD.decode(header).expect("b64")).expect("utf8");
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
    let iat = claims["iat"].as_i64().expect("iat");
    claims["exp"] = (iat + 3500).into();
    let mut token = emu.sign_raw_jwt(&header, &claims.to_string());
    // Base64 grows in steps of 4 per 3 bytes: try paddings until the length matches.
    let mut pad = 0usize;
    while token.len() < target && pad < 4096 {
        pad = if pad == 0 {
            (target - token.len()) * 3 / 4
        } else {
            pad + 1
        };
        claims["plan"] = Value::String("p".repeat(pad.saturating_sub(10)));
        token = emu.sign_raw_jwt(&header, &claims.to_string());
        if token.len() >= target {
            break;
        }
    }
    token
}

/// An RSA public key from a JWKS: what teams keep after fetching it.
#[derive(Debug, Clone)]
pub struct Jwk {
    /// The key id.
    pub kid: String,
    /// The modulus, base64url.
    pub n: String,
    /// The exponent, base64url.
    pub e: String,
}

impl Jwk {
    /// The key named `kid` in a `{"keys": [...]}` document.
    pub fn from_jwks(jwks: &Value, kid: &str) -> Jwk {
        let key = jwks["keys"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
            .expect("the signing key is published");
        let field = |name: &str| key[name].as_str().expect("n and e").to_owned();
        Jwk {
            kid: kid.to_owned(),
            n: field("n"),
            e: field("e"),
        }
    }

    /// The key parsed once into aws-lc-rs's verifying key: the floor for a miss.
    pub fn parsed(&self) -> ParsedPublicKey {
        let n = URL_SAFE_NO_PAD.decode(&self.n).expect("n");
        let e = URL_SAFE_NO_PAD.decode(&self.e).expect("e");
        RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .expect("a valid RSA key")
    }
}

/// The floor: one RSA-2048 PKCS#1 v1.5 SHA-256 check of a compact JWS with a pre-parsed
/// key (base64url-decoding the signature included, nothing else).
pub fn raw_rsa_verify(key: &ParsedPublicKey, token: &str) -> bool {
    let Some(dot) = token.rfind('.') else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(&token[dot + 1..]) else {
        return false;
    };
    key.verify_sig(&token.as_bytes()[..dot], &signature).is_ok()
}

/// Polls a future that is expected to complete without waiting (a validator call whose
/// keys are loaded). Panics if it would wait.
pub fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future waited; was the JWKS warmed?"),
    }
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// The claims a hand-written middleware decodes: the Stytch session JWT, typed.
#[derive(Debug, Clone, Deserialize)]
pub struct StytchClaims {
    /// The user id.
    pub sub: String,
    /// Expiry (checked by `jsonwebtoken`).
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// The Stytch session.
    #[serde(rename = "https://stytch.com/session")]
    pub session: StytchSessionClaim,
}

/// The `https://stytch.com/session` claim.
#[derive(Debug, Clone, Deserialize)]
pub struct StytchSessionClaim {
    /// The session id.
    pub id: String,
    /// When the session started.
    pub started_at: String,
    /// When the session expires.
    pub expires_at: String,
    /// The factors, left untyped.
    pub authentication_factors: Vec<Value>,
    /// RBAC roles.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// What "teams write today": an axum `from_fn` middleware that takes the cookie and
/// calls `jsonwebtoken::decode` (aws-lc-rs backend) with the key kept as a
/// `DecodingKey` built from the JWK's `n`/`e`. jsonwebtoken hands aws-lc the raw
/// components, which parses the RSA key again on every verify.
#[derive(Clone)]
pub struct HandWritten {
    kid: Arc<str>,
    key: Arc<jsonwebtoken::DecodingKey>,
    validation: Arc<jsonwebtoken::Validation>,
}

impl std::fmt::Debug for HandWritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandWritten")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl HandWritten {
    /// The middleware's state for this project and key.
    pub fn new(project_id: &str, jwk: &Jwk) -> HandWritten {
        let key = jsonwebtoken::DecodingKey::from_rsa_components(&jwk.n, &jwk.e)
            .expect("a valid RSA key");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[project_id]);
        validation.set_issuer(&[format!("stytch.com/{project_id}")]);
        validation.validate_nbf = true;
        HandWritten {
            kid: jwk.kid.as_str().into(),
            key: Arc::new(key),
            validation: Arc::new(validation),
        }
    }

    /// Decodes and validates a token.
    pub fn decode(&self, token: &str) -> Option<StytchClaims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.kid.as_deref() != Some(&*self.kid) {
            return None;
        }
        jsonwebtoken::decode::<StytchClaims>(token, &self.key, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// The hand-written middleware: use with `axum::middleware::from_fn_with_state`.
pub async fn hand_written_mw(
    State(state): State<HandWritten>,
    mut request: Request,
    next: Next,
) -> Response {
    let claims = cookie(request.headers(), JWT_COOKIE).and_then(|t| state.decode(t));
    match claims {
        Some(claims) => {
            request.extensions_mut().insert(Arc::new(claims));
            next.run(request).await
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// `router` as `axum::serve` prepares it for each connection: `with_state(())` turns
/// every handler into a route once, where a router used without it does so (and
/// applies each layer again) on every request. The benches then clone it per request,
/// as the server does.
pub fn served(router: axum::Router) -> axum::Router {
    router.with_state(())
}

/// The handler every server and bench routes `/` to.
pub async fn hello() -> &'static str {
    "hello"
}

/// Fleet mode for the benches (feature `fleet`): a `redis-server` the bench starts on a
/// free loopback port, and a validator connected to it.
#[cfg(feature = "fleet")]
pub mod fleet {
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use axum_stytch::Validator;
    use stytch_redis::RedisFleet;

    use crate::Fixture;

    /// A `redis-server` on a free loopback port, killed on drop.
    #[derive(Debug)]
    pub struct Redis(Child);

    impl Drop for Redis {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// A warmed validator in fleet mode, connected (the same cache as `validator(10_000)`);
    /// `None` without `redis-server`.
    pub fn validator(rt: &tokio::runtime::Runtime, fx: &Fixture) -> Option<(Redis, Validator)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        let redis = Redis(child);
        let _enter = rt.enter();
        let fleet = RedisFleet::new(format!("redis://127.0.0.1:{port}")).expect("a fleet");
        let config = fx
            .config()
            .verified_cache_bytes(10_000 * 4096)
            .build()
            .expect("valid config");
        let validator = Validator::with_fleet(config, fleet.clone());
        rt.block_on(validator.warm_up()).expect("the JWKS loads");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !fleet.is_connected() {
            assert!(Instant::now() < deadline, "the fleet never connected");
            std::thread::sleep(Duration::from_millis(10));
        }
        Some((redis, validator))
    }
}

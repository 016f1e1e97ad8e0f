//! The app under test: a router with `/protected` and `/admin` (role `admin`) behind
//! `StytchLayer`, served on loopback, and the raw requests the cases send to it.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_stytch::stytch_validator::{ManualClock, StytchConfigBuilder};
use axum_stytch::{StytchConfig, StytchLayer, StytchSession, Validator, require_role};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// A config hook for one case.
pub type Configure = fn(StytchConfigBuilder) -> StytchConfigBuilder;

/// No change.
pub fn defaults(b: StytchConfigBuilder) -> StytchConfigBuilder {
    b
}

async fn whoami(session: StytchSession) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "user_id": session.user_id(),
        "session_id": session.session_id(),
        "source": session.source(),
        "roles": session.roles(),
    }))
}

/// `/protected` needs a session, `/admin` also the `admin` role.
pub fn routes() -> Router {
    Router::new()
        .route("/protected", get(whoami))
        .route("/admin", get(whoami).route_layer(require_role("admin")))
}

/// A validator for `project_id`/`secret` at `base_url`, on `clock`.
pub fn validator(
    project_id: &str,
    secret: &str,
    base_url: &str,
    clock: &ManualClock,
    configure: impl FnOnce(StytchConfigBuilder) -> StytchConfigBuilder,
) -> Validator {
    let builder = StytchConfig::builder(project_id, secret)
        .api_url(base_url)
        .request_timeout(Duration::from_secs(2))
        .clock(clock.clone());
    Validator::new(configure(builder).build().expect("valid config"))
}

/// Serves `routes()` behind `StytchLayer::new(validator)` on an ephemeral loopback port.
pub async fn serve(validator: &Validator) -> SocketAddr {
    serve_router(routes().layer(StytchLayer::new(validator.clone()))).await
}

pub async fn serve_router(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A pooled client that follows no redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .build()
        .expect("client")
}

/// The raw headers of a request; repeated names become repeated header fields.
#[derive(Clone, Debug, Default)]
pub struct Req {
    pub headers: Vec<(&'static str, Vec<u8>)>,
}

impl Req {
    pub fn none() -> Req {
        Req::default()
    }

    pub fn raw(name: &'static str, value: impl Into<Vec<u8>>) -> Req {
        Req::none().and(name, value)
    }

    pub fn and(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Req {
        self.headers.push((name, value.into()));
        self
    }

    /// `Cookie: stytch_session_jwt=<jwt>`, the catalogue's default transport.
    pub fn cookie(jwt: &str) -> Req {
        Req::raw("cookie", format!("stytch_session_jwt={jwt}"))
    }

    pub fn bearer(token: &str) -> Req {
        Req::raw("authorization", format!("Bearer {token}"))
    }

    pub fn session_token(token: &str) -> Req {
        Req::raw("cookie", format!("stytch_session={token}"))
    }

    /// Every credential-looking value the request carries (for log checks).
    pub fn values(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            let name = HeaderName::from_static(name);
            let value = HeaderValue::from_bytes(value).expect("a sendable header value");
            map.append(name, value);
        }
        map
    }
}

/// What came back.
#[derive(Debug)]
pub struct Sent {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Sent {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends `req` to `path`. A connection hyper closes on an oversized header block comes
/// back as status 431, which is what hyper answers before the middleware runs.
pub async fn send(http: &reqwest::Client, addr: SocketAddr, path: &str, req: &Req) -> Sent {
    let mut builder = http.get(format!("http://{addr}{path}"));
    for (name, value) in &req.headers {
        let value = HeaderValue::from_bytes(value).expect("a sendable header value");
        builder = builder.header(*name, value);
    }
    match builder.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.text().await.unwrap_or_default();
            Sent {
                status,
                headers,
                body,
            }
        }
        Err(e) => {
            let size: usize = req.headers.iter().map(|(_, v)| v.len()).sum();
            assert!(
                size > 64 * 1024,
                "request failed without an oversized header block: {e}"
            );
            Sent {
                status: 431,
                headers: HeaderMap::new(),
                body: String::new(),
            }
        }
    }
}

/// The emulator, a validator whose clock follows it, and the app served on loopback.
/// A validator of `emu`'s project on a manual clock that starts at the emulator's time.
fn validator_for(
    emu: &stytch_emulator::EmulatorHandle,
    configure: impl FnOnce(StytchConfigBuilder) -> StytchConfigBuilder,
) -> (ManualClock, Validator) {
    let clock = ManualClock::at_unix_millis(emu.now_unix() * 1000);
    let validator = validator(
        emu.project_id(),
        emu.secret(),
        &emu.base_url(),
        &clock,
        configure,
    );
    (clock, validator)
}

pub struct Live {
    pub emu: stytch_emulator::EmulatorHandle,
    pub clock: ManualClock,
    pub validator: Validator,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub router: Router,
}

impl Live {
    /// Started but not warmed up: the first request fetches the keys.
    pub async fn cold(configure: impl FnOnce(StytchConfigBuilder) -> StytchConfigBuilder) -> Live {
        let emu = stytch_emulator::Emulator::builder()
            .start()
            .await
            .expect("emulator starts");
        Self::on(emu, configure).await
    }

    /// Started and warmed up.
    pub async fn warm(configure: impl FnOnce(StytchConfigBuilder) -> StytchConfigBuilder) -> Live {
        let live = Self::cold(configure).await;
        live.validator.warm_up().await.expect("warm-up");
        live
    }

    /// Against an emulator that is already running.
    pub async fn on(
        emu: stytch_emulator::EmulatorHandle,
        configure: impl FnOnce(StytchConfigBuilder) -> StytchConfigBuilder,
    ) -> Live {
        let (clock, validator) = validator_for(&emu, configure);
        let router = routes().layer(StytchLayer::new(validator.clone()));
        let addr = serve_router(router.clone()).await;
        Live {
            emu,
            clock,
            validator,
            addr,
            http: client(),
            router,
        }
    }

    pub async fn get(&self, path: &str, req: &Req) -> Sent {
        send(&self.http, self.addr, path, req).await
    }

    /// In-process, through the same router (no socket).
    pub async fn call(&self, path: &str, req: &Req) -> Sent {
        call(&self.router, path, req).await
    }

    /// Moves the emulator's and the validator's clocks together.
    pub fn advance(&self, by: Duration) {
        self.emu.advance_clock(by);
        self.clock.advance(by);
    }

    pub fn session(&self, roles: &[&str]) -> stytch_emulator::CreatedSession {
        self.emu.create_session(
            stytch_emulator::NewSession::new().roles(roles.iter().map(|r| (*r).to_owned())),
        )
    }

    pub fn calls(&self) -> u64 {
        self.emu.request_count(stytch_emulator::Route::Authenticate)
    }

    pub fn fetches(&self) -> u64 {
        self.emu.request_count(stytch_emulator::Route::Jwks)
    }
}

/// Calls `router` in-process with `tower::ServiceExt::oneshot`.
pub async fn call(router: &Router, path: &str, req: &Req) -> Sent {
    use tower::ServiceExt as _;
    let mut request = axum::http::Request::get(path);
    for (name, value) in &req.headers {
        request = request.header(*name, value.as_slice());
    }
    let request = request
        .body(axum::body::Body::empty())
        .expect("a valid request");
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible router");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    Sent {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Waits (real time, bounded) until `done()` holds; for background fetches to land.
pub async fn settle(done: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done()
}

/// The emulator, a validator on a clock that follows it, and a router of our own.
pub struct Rig {
    pub emu: stytch_emulator::EmulatorHandle,
    pub clock: ManualClock,
    pub validator: Validator,
    pub router: Router,
}

impl Rig {
    /// Warmed up (the keys fetched).
    pub async fn start(
        configure: impl FnOnce(StytchConfigBuilder) -> StytchConfigBuilder,
        app: impl FnOnce(Validator) -> Router,
    ) -> Rig {
        let rig = Self::cold(configure, app).await;
        rig.validator.warm_up().await.expect("warm-up");
        rig
    }

    /// Not warmed up: the first request (or `warm_up`) fetches the keys.
    pub async fn cold(
        configure: impl FnOnce(StytchConfigBuilder) -> StytchConfigBuilder,
        app: impl FnOnce(Validator) -> Router,
    ) -> Rig {
        let emu = stytch_emulator::Emulator::builder()
            .start()
            .await
            .expect("emulator starts");
        let (clock, validator) = validator_for(&emu, configure);
        let router = app(validator.clone());
        Rig {
            emu,
            clock,
            validator,
            router,
        }
    }

    pub async fn call(&self, path: &str, req: &Req) -> Sent {
        call(&self.router, path, req).await
    }

    pub fn advance(&self, by: Duration) {
        self.emu.advance_clock(by);
        self.clock.advance(by);
    }

    pub fn calls(&self) -> u64 {
        self.emu.request_count(stytch_emulator::Route::Authenticate)
    }
}

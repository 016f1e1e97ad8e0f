//! A running app: the emulator, a validator whose clock follows the emulator's, and a
//! router with `StytchLayer` served on loopback.
#![allow(dead_code, unreachable_pub, missing_debug_implementations)]

pub mod redis;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum_stytch::stytch_validator::{ManualClock, StytchConfigBuilder};
use axum_stytch::{StytchConfig, StytchLayer, Validator};
use stytch_emulator::{CreatedSession, Emulator, EmulatorHandle, Factor, NewSession, Route};

pub struct App {
    pub emu: EmulatorHandle,
    pub clock: ManualClock,
    pub validator: Validator,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
}

pub async fn emulator() -> (EmulatorHandle, ManualClock) {
    let emu = Emulator::builder().start().await.expect("emulator starts");
    let clock = ManualClock::at_unix_secs(emu.now_unix());
    (emu, clock)
}

pub fn validator(
    emu: &EmulatorHandle,
    clock: &ManualClock,
    configure: impl FnOnce(StytchConfigBuilder) -> StytchConfigBuilder,
) -> Validator {
    let builder = StytchConfig::builder(emu.project_id(), emu.secret())
        .api_url(emu.base_url())
        .request_timeout(Duration::from_secs(2))
        .clock(clock.clone());
    Validator::new(configure(builder).build().expect("valid config"))
}

impl App {
    /// `routes` gets the layer built by `layer` on top.
    pub async fn start(routes: Router, layer: impl FnOnce(Validator) -> StytchLayer) -> App {
        Self::start_with(routes, |b| b, layer).await
    }

    pub async fn start_with(
        routes: Router,
        configure: impl FnOnce(StytchConfigBuilder) -> StytchConfigBuilder,
        layer: impl FnOnce(Validator) -> StytchLayer,
    ) -> App {
        let (emu, clock) = emulator().await;
        let validator = validator(&emu, &clock, configure);
        let app = routes.layer(layer(validator.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        App {
            emu,
            clock,
            validator,
            addr,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn advance(&self, by: Duration) {
        self.emu.advance_clock(by);
        self.clock.advance(by);
    }

    pub fn session(&self, factors: &[Factor], roles: &[&str]) -> CreatedSession {
        let mut s = NewSession::new().roles(roles.iter().copied());
        for f in factors {
            s = s.factor(f.clone());
        }
        self.emu.create_session(s)
    }

    pub fn calls(&self) -> u64 {
        self.emu.request_count(Route::Authenticate)
    }

    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .expect("request")
    }
}

pub fn jwt_cookie(jwt: &str) -> String {
    format!("stytch_session_jwt={jwt}")
}

/// The `Set-Cookie` value for `name`, if the response sets it.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("json body")
}

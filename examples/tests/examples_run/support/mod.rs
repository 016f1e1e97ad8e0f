//! Serves an example's app over loopback against an embedded emulator.

use axum::Router;
use axum_stytch::StytchLayer;
use axum_stytch::stytch_validator::Vertical;
use reqwest::header::{COOKIE, HeaderMap};
use stytch_emulator::EmulatorHandle;

/// An example app being served, and what a test needs to call it.
pub(crate) struct Served {
    pub(crate) emu: EmulatorHandle,
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
}

/// Starts an emulator with the example policy and serves `app` on `127.0.0.1:0`.
pub(crate) async fn serve(app: impl FnOnce(StytchLayer) -> Router) -> Served {
    serve_for(Vertical::Consumer, examples::example_policy(), app).await
}

/// [`serve`] for a project of `vertical` with `policy`.
pub(crate) async fn serve_for(
    vertical: Vertical,
    policy: serde_json::Value,
    app: impl FnOnce(StytchLayer) -> Router,
) -> Served {
    let stytch = examples::embedded_emulator_for(vertical, policy)
        .await
        .expect("the emulator starts");
    serve_stytch(stytch, |stytch| app(stytch.layer())).await
}

/// Serves the app `app` builds from `stytch` on `127.0.0.1:0`.
pub(crate) async fn serve_stytch(
    stytch: examples::Stytch,
    app: impl FnOnce(&examples::Stytch) -> Router,
) -> Served {
    let app = app(&stytch);
    let emu = stytch.emulator.expect("an embedded emulator");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client");
    Served { emu, base, client }
}

impl Served {
    /// A request to `path` carrying `cookie` (e.g. `stytch_session_jwt=...`) when given.
    pub(crate) fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut headers = HeaderMap::new();
        if let Some(cookie) = cookie {
            headers.insert(COOKIE, cookie.parse().expect("a valid cookie header"));
        }
        self.client
            .request(method, format!("{}{path}", self.base))
            .headers(headers)
    }

    /// Sends a request and returns its status and JSON body (`Null` when not JSON).
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let response = self
            .request(method, path, cookie)
            .send()
            .await
            .expect("the request completes");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, body)
    }
}

/// The cookie header for a session JWT.
pub(crate) fn jwt(jwt: &str) -> String {
    format!("stytch_session_jwt={jwt}")
}

//! Quickstart: an axum service protected by Stytch sessions, with a page to try it.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! Then open <http://127.0.0.1:3000> in your browser. With no Stytch credentials set,
//! this starts an embedded, offline Stytch emulator: the page signs you in as a demo
//! user, shows your session, calls the protected routes, steps up with TOTP, lets the
//! JWT expire and logs out. It also prints ready-made `curl` commands. To use your own
//! Stytch project instead, set `STYTCH_PROJECT_ID` and `STYTCH_SECRET` (and
//! `STYTCH_API_URL` for a custom domain) and sign in with Stytch's frontend SDK, which
//! sets the `stytch_session_jwt` cookie this service reads. `LISTEN_ADDR` changes the
//! address (default `127.0.0.1:3000`), `RUST_LOG` the log level; Ctrl-C stops it.
//! With `--features metrics` it also serves `GET /metrics` in Prometheus text format.
//!
//! Routes:
//!
//! | route | needs |
//! |---|---|
//! | `GET /` | nothing: the page (it shows the session when there is one) |
//! | `GET /login` | nothing: the page, as the sign-in page browsers are sent to |
//! | `GET /me` | a session: answers it as JSON |
//! | `GET /admin` | the `admin` role |
//! | `POST /transfer` | two authentication factors (MFA) |
//! | `POST /demo/...` | emulator only: sign in, step up, skip time, log out |
//!
//! What to try: `/me` without a cookie (401; a browser is sent to `/login` and comes
//! back after signing in), `/admin` as a non-admin (403), `/transfer` with one factor
//! (403) and with two (200), and an expired JWT or a request with only the opaque
//! `stytch_session` token: the layer asks Stytch, which issues a fresh JWT, and the
//! response carries it in `Set-Cookie`.
//!
//! The `/demo/...` routes stand in for what Stytch's frontend SDK and Stytch itself do
//! (sign a user in, attach a second factor, refresh or revoke the session); they exist
//! only on the emulator. Your service needs only [`app`]'s API part and its layer.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Form, Query, Request, State};
use axum::http::header::{CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_stytch::layer::{Mode, SameSite};
use axum_stytch::stytch_validator::{Credentials, SessionSource};
use axum_stytch::{
    Session, StytchLayer, StytchSession, Validator, require_factor_count, require_role,
};
use serde::Deserialize;
use serde_json::{Value, json};
use stytch_emulator::{CreatedSession, EmulatorHandle, Factor, NewSession, NewUser};
use time::OffsetDateTime;

// ---- the API: what your own service has ----

/// The session as JSON: what `GET /me` answers and the page shows.
fn session_json(session: &Session) -> Value {
    json!({
        "session_id": session.session_id(),
        "user_id": session.user_id(),
        "roles": session.roles(),
        "authentication_factors": session.authentication_factors(),
        "custom_claims": session.custom_claims_map(),
    })
}

/// The session of the request, as JSON.
async fn me(session: StytchSession) -> Json<Value> {
    Json(session_json(&session))
}

/// Only for the `admin` role (checked by the route layer).
async fn admin(session: StytchSession) -> Json<Value> {
    Json(json!({ "admin": true, "user_id": session.user_id() }))
}

/// Only with two factors (checked by the route layer).
async fn transfer(session: StytchSession) -> Json<Value> {
    Json(json!({ "transferred": true, "by": session.user_id() }))
}

/// Where the layer sends a browser (a request that accepts `text/html`) that has no
/// valid session; API clients get 401 JSON.
pub(crate) const LOGIN_PATH: &str = "/login";

/// The `StytchLayer` of this example.
pub(crate) fn layer(validator: Validator, emulator: bool) -> StytchLayer {
    let layer = StytchLayer::new(validator).with_login_redirect(LOGIN_PATH);
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

/// The application: the API behind `layer`, the page, and (with `demo`) the demo routes.
pub(crate) fn app(layer: StytchLayer, demo: Option<Demo>) -> Router {
    let api = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin).route_layer(require_role("admin")))
        .route(
            "/transfer",
            post(transfer).route_layer(require_factor_count(2)),
        )
        // Guards (route layers) run inside the StytchLayer, which authenticates first.
        // `route_layer`, not `layer`: a path that is no route answers 404, not 401.
        .route_layer(layer.clone())
        .route_layer(middleware::from_fn(return_to));
    // The page shows the session when there is one and the sign-in forms when not:
    // any credential problem just means "not signed in" there.
    let pages = Router::new()
        .route("/", get(home))
        .route(LOGIN_PATH, get(login_page))
        .route_layer(layer.with_mode(Mode::OptionalIgnoringInvalid))
        .with_state(demo.clone());
    let app = Router::new().merge(pages).merge(api);
    match demo {
        Some(demo) => app.merge(demo.routes()),
        None => app,
    }
}

/// Adds where the browser was going (`?next=/me`) to the layer's login redirect, so the
/// login page can send it back after sign-in.
async fn return_to(request: Request, next: Next) -> Response {
    let back = (request.method() == Method::GET)
        .then(|| {
            request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
        })
        .flatten();
    let mut response = next.run(request).await;
    if let Some(back) = back
        && response.status() == StatusCode::SEE_OTHER
        && response
            .headers()
            .get(LOCATION)
            .is_some_and(|l| l == LOGIN_PATH)
        && let Ok(location) =
            HeaderValue::from_str(&format!("{LOGIN_PATH}?next={}", query_escape(&back)))
    {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

// ---- the page ----

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn home(State(demo): State<Option<Demo>>, session: Option<StytchSession>) -> Response {
    page(demo.as_ref(), session.as_ref(), None)
}

async fn login_page(
    State(demo): State<Option<Demo>>,
    session: Option<StytchSession>,
    Query(query): Query<NextQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref());
    page(demo.as_ref(), session.as_ref(), Some(next))
}

/// The page: plain HTML with a few lines of script for the API buttons. Signing in,
/// the session and the demo buttons are forms, so they work without JavaScript.
fn page(demo: Option<&Demo>, session: Option<&StytchSession>, next: Option<&str>) -> Response {
    let mut body = String::new();
    match demo {
        Some(demo) => {
            let _ = writeln!(
                body,
                "<p>Stytch: the embedded emulator at <code>{}</code> (project <code>{}</code>).</p>",
                escape(&demo.0.emulator.base_url()),
                escape(demo.0.emulator.project_id()),
            );
            body.push_str(&demo.clock_line());
        }
        None => body.push_str(
            "<p>Stytch: your project (from <code>STYTCH_PROJECT_ID</code> and \
             <code>STYTCH_SECRET</code>).</p>\n",
        ),
    }
    if let Some(next) = next {
        let _ = writeln!(
            body,
            "<p id=\"notice\" class=\"note\">Sign in to continue to <a href=\"{0}\">{0}</a>.</p>",
            escape(next),
        );
    }
    match session {
        Some(session) => {
            signed_in(&mut body, session);
            body.push_str(API_BUTTONS);
            match demo {
                Some(_) => body.push_str(DEMO_BUTTONS),
                None => body.push_str(
                    "<p>Log out with Stytch's frontend SDK                      (<code>stytch.session.revoke()</code>).</p>\n",
                ),
            }
            let me = serde_json::to_string_pretty(&session_json(session)).unwrap_or_default();
            let _ = writeln!(
                body,
                "<h2><a href=\"/me\">GET /me</a></h2>\n<pre id=\"me\">{}</pre>",
                escape(&me)
            );
        }
        None => {
            sign_in(&mut body, demo, next);
            body.push_str(API_BUTTONS);
        }
    }
    let script = SCRIPT.replace("RETRY", if demo.is_some() { DEMO_RETRY } else { "" });
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>axum-stytch quickstart</title><style>{STYLE}</style></head>\n<body>\n\
         <h1>axum-stytch quickstart</h1>\n{body}<script>{script}</script>\n</body></html>\n"
    );
    // A page that shows a session must not be stored anywhere.
    ([(CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn signed_in(body: &mut String, session: &StytchSession) {
    let email = session
        .authentication_factors()
        .iter()
        .find_map(|f| f.email_factor())
        .map(|e| e.email_address);
    let factors: Vec<&str> = session
        .authentication_factors()
        .iter()
        .map(|f| f.factor_type())
        .collect();
    let _ = writeln!(
        body,
        "<h2>Signed in</h2>\n<p id=\"who\">Signed in as <b>{}</b> (<code>{}</code>) with \
         {} factor(s): {}; roles: {}. The session ends at {}.</p>",
        escape(email.as_deref().unwrap_or("a user")),
        escape(session.user_id()),
        factors.len(),
        escape(&factors.join(" + ")),
        escape(&session.roles().join(", ")),
        clock_time(session.expires_at()),
    );
    let request = if session.refreshed_tokens().is_some() {
        "This request's JWT had expired, so the layer asked Stytch: Stytch issued a fresh \
         <code>stytch_session_jwt</code>, which this response sets as a cookie."
    } else if session.source() == SessionSource::LocalJwt {
        "This request's JWT was verified locally, against Stytch's cached signing keys: \
         no call to Stytch."
    } else {
        "This request was authenticated by Stytch."
    };
    let _ = writeln!(body, "<p id=\"request\">{request}</p>");
}

fn sign_in(body: &mut String, demo: Option<&Demo>, next: Option<&str>) {
    body.push_str("<h2 id=\"signin\">Sign in</h2>\n");
    let Some(demo) = demo else {
        body.push_str(
            "<p id=\"sdk\">Sign in with Stytch's frontend SDK, for example \
             <code>@stytch/vanilla-js</code> with your project's public token, on a page of \
             this site (or of a sibling subdomain that sets the SDK's \
             <code>cookieOptions.domain</code>, together with this service's \
             <code>StytchLayer::with_cookie_domain</code>). The SDK sets the \
             <code>stytch_session_jwt</code> and <code>stytch_session</code> cookies, which \
             this service reads. Then reload this page.</p>\n",
        );
        return;
    };
    body.push_str(
        "<p>Pick a demo user: the emulator creates a session and this page sets the two \
         cookies as Stytch's frontend SDK does (in a real app, the SDK signs users in).</p>\n",
    );
    let next = escape(next.unwrap_or("/"));
    for user in &demo.0.users {
        let _ = writeln!(
            body,
            "<form method=\"post\" action=\"/demo/login\"><input type=\"hidden\" name=\"user\" \
             value=\"{key}\"><input type=\"hidden\" name=\"next\" value=\"{next}\">\
             <button id=\"login-{key}\">{name}: {how}</button></form>",
            key = user.spec.key,
            name = user.spec.name,
            how = user.spec.how,
        );
    }
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:48rem;margin:1.5rem auto;\
padding:0 1rem;color:#222}pre{background:#f4f4f4;padding:.5rem .7rem;overflow:auto;font-size:12px}\
form{display:inline}button{font:inherit;margin:.15rem .3rem .15rem 0;padding:.25rem .7rem}\
.note{background:#fff4cc;padding:.4rem .7rem}#answer{font-family:monospace;font-weight:bold}\
code{font-size:13px}";

const API_BUTTONS: &str = "<h2>Call the API</h2>\n\
<form method=\"get\" action=\"/me\" data-call><button id=\"call-me\">GET /me</button></form>\
<form method=\"get\" action=\"/admin\" data-call><button id=\"call-admin\">GET /admin</button></form>\
<form method=\"post\" action=\"/transfer\" data-call><button id=\"call-transfer\">POST /transfer</button></form>\n\
<p id=\"answer\">The answer (status and reason) shows here.</p>\n<pre id=\"answer-body\" hidden></pre>\n\
<ol id=\"log\"></ol>\n";

const DEMO_BUTTONS: &str = "<h2>Demo</h2>\n\
<form method=\"post\" action=\"/demo/step-up\"><button id=\"step-up\">Step up with TOTP</button></form>\
<form method=\"post\" action=\"/demo/skip\"><button id=\"skip\">Skip 6 minutes</button></form>\
<form method=\"post\" action=\"/demo/logout\"><button id=\"logout\">Log out</button></form>\n\
<p>Step up: the emulator attaches a TOTP factor to the session and this page sets a fresh \
JWT that carries it. Skip: the emulator's clock (which the validator follows) moves past \
the JWT's five minutes, so the next request makes the layer ask Stytch.</p>\n";

/// Calls the API with the page's cookies and shows the answer. `RETRY` is replaced with
/// [`DEMO_RETRY`] on the emulator.
const SCRIPT: &str = r#"
async function call(method, path, retried) {
  const response = await fetch(path, { method, credentials: "same-origin" });
  let body = null;
  try { body = await response.json(); } catch (e) {}
  const reason = response.ok ? "OK" : (body && body.error) || response.statusText;
  const line = `${method} ${path} → ${response.status} ${reason}`;
  document.getElementById("answer").textContent = line;
  const pre = document.getElementById("answer-body");
  pre.textContent = body ? JSON.stringify(body, null, 2) : "";
  pre.hidden = !body;
  const item = document.createElement("li");
  item.textContent = line;
  document.getElementById("log").appendChild(item);
RETRY}
for (const form of document.querySelectorAll("form[data-call]")) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    call(form.method.toUpperCase(), form.getAttribute("action"), false);
  });
}
"#;

/// A `conflicting_credentials` answer is handled as a frontend would: refresh the
/// session (what Stytch's frontend SDK does on its own every few minutes, rewriting its
/// cookies for its own domain) and retry once.
const DEMO_RETRY: &str = r#"  if (!retried && response.status === 401 && body && body.error === "conflicting_credentials") {
    const refreshed = await fetch("/demo/refresh", { method: "POST" });
    if (refreshed.ok) return call(method, path, true);
  }
"#;

// ---- the demo: what Stytch's frontend SDK and Stytch do, on the emulator ----

/// The names Stytch's frontend SDK gives its cookies (and the layer reads by default).
const JWT_COOKIE: &str = "stytch_session_jwt";
const TOKEN_COOKIE: &str = "stytch_session";

/// How far "Skip" moves the emulator's clock: past the JWT's five minutes.
const SKIP: Duration = Duration::from_secs(6 * 60);

/// A demo user the page can sign in as.
struct DemoUserSpec {
    key: &'static str,
    name: &'static str,
    email: &'static str,
    how: &'static str,
    totp: bool,
    admin: bool,
    plan: Option<&'static str>,
}

const DEMO_USERS: [DemoUserSpec; 3] = [
    DemoUserSpec {
        key: "ada",
        name: "Ada",
        email: "ada@example.com",
        how: "email link",
        totp: false,
        admin: false,
        plan: Some("free"),
    },
    DemoUserSpec {
        key: "grace",
        name: "Grace",
        email: "grace@example.com",
        how: "email link + TOTP",
        totp: true,
        admin: false,
        plan: Some("pro"),
    },
    DemoUserSpec {
        key: "root",
        name: "Root",
        email: "root@example.com",
        how: "admin",
        totp: false,
        admin: true,
        plan: None,
    },
];

struct DemoUser {
    spec: &'static DemoUserSpec,
    user_id: String,
}

/// The demo on the embedded emulator: its users, and the cookies it sets as Stytch's
/// frontend SDK would. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Demo(Arc<DemoInner>);

struct DemoInner {
    emulator: EmulatorHandle,
    validator: Validator,
    /// The frontend SDK's `cookieOptions.domain`: `None` for host-only cookies (its
    /// default).
    cookie_domain: Option<String>,
    users: Vec<DemoUser>,
}

impl Demo {
    /// Creates the demo users on `emulator`; `validator` checks the cookies the demo
    /// routes read.
    pub(crate) fn new(emulator: EmulatorHandle, validator: Validator) -> Self {
        let users = DEMO_USERS
            .iter()
            .map(|spec| {
                let mut user = NewUser::new().email(spec.email).name(spec.name, "");
                if spec.admin {
                    user = user.roles(["admin"]);
                }
                DemoUser {
                    spec,
                    user_id: emulator.create_user(user),
                }
            })
            .collect();
        Self(Arc::new(DemoInner {
            emulator,
            validator,
            cookie_domain: None,
            users,
        }))
    }

    /// Sets the cookies for `domain` and its subdomains, as the frontend SDK does with
    /// `cookieOptions.domain` (the page then stands for a frontend on a sibling host).
    #[allow(dead_code)] // `main` keeps the SDK's default; the browser tests use it
    pub(crate) fn with_cookie_domain(self, domain: impl Into<String>) -> Self {
        let inner = &self.0;
        Self(Arc::new(DemoInner {
            emulator: inner.emulator.clone(),
            validator: inner.validator.clone(),
            cookie_domain: Some(domain.into()),
            users: inner
                .users
                .iter()
                .map(|u| DemoUser {
                    spec: u.spec,
                    user_id: u.user_id.clone(),
                })
                .collect(),
        }))
    }

    fn routes(self) -> Router {
        Router::new()
            .route("/demo/login", post(demo_login))
            .route("/demo/step-up", post(demo_step_up))
            .route("/demo/skip", post(demo_skip))
            .route("/demo/logout", post(demo_logout))
            .route("/demo/refresh", post(demo_refresh))
            .with_state(self)
    }

    /// A new session for the demo user `key`, as a sign-in with their factors makes.
    pub(crate) fn sign_in(&self, key: &str) -> Option<CreatedSession> {
        let user = self.0.users.iter().find(|u| u.spec.key == key)?;
        let mut session = NewSession::new()
            .user_id(&user.user_id)
            .factor(Factor::email_magic_link(user.spec.email));
        if user.spec.totp {
            session = session.factor(Factor::totp());
        }
        if let Some(plan) = user.spec.plan {
            session = session.custom_claims(json!({ "plan": plan }));
        }
        Some(self.0.emulator.create_session(session))
    }

    /// The session the request's cookies carry, checked by the validator, and its token.
    async fn session(&self, headers: &HeaderMap) -> Option<(Session, String)> {
        let token = cookie_value(headers, TOKEN_COOKIE)?;
        let credentials = Credentials::new(cookie_value(headers, JWT_COOKIE), Some(token.clone()));
        let authenticated = self.0.validator.authenticate(credentials).await.ok()?;
        Some((authenticated.session, token))
    }

    /// `Set-Cookie` for both cookies as Stytch's frontend SDK writes them: `Path=/`,
    /// `SameSite=Lax`, readable by JavaScript (not `HttpOnly`), expiring with the
    /// session; not `Secure`, as the demo serves plain http.
    fn set_cookies(&self, headers: &mut HeaderMap, jwt: &str, token: &str, until: OffsetDateTime) {
        for (name, value) in [(JWT_COOKIE, jwt), (TOKEN_COOKIE, token)] {
            let mut c = self.cookie(name, value);
            c.set_expires(until);
            append_cookie(headers, &c);
        }
    }

    /// `Set-Cookie` that deletes both cookies: host-only, and for the SDK's domain.
    fn clear_cookies(&self, headers: &mut HeaderMap) {
        for name in [JWT_COOKIE, TOKEN_COOKIE] {
            let mut c = self.cookie(name, "");
            c.make_removal();
            append_cookie(headers, &c);
            if self.0.cookie_domain.is_some() {
                c.unset_domain();
                append_cookie(headers, &c);
            }
        }
    }

    fn cookie(&self, name: &'static str, value: &str) -> cookie::Cookie<'static> {
        let mut c = cookie::Cookie::build((name, value.to_owned()))
            .path("/")
            .same_site(SameSite::Lax)
            .secure(false)
            .http_only(false)
            .build();
        if let Some(domain) = &self.0.cookie_domain {
            c.set_domain(domain.clone());
        }
        c
    }

    /// The emulator's clock, and how far "Skip" has moved it.
    fn clock_line(&self) -> String {
        let now = self.0.emulator.now();
        let ahead = ((now - OffsetDateTime::now_utc()).whole_seconds() + 30).div_euclid(60);
        format!(
            "<p id=\"clock\">Stytch's clock: {} ({ahead} min ahead of this machine's).</p>\n",
            clock_time(now)
        )
    }
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    next: Option<String>,
}

/// Signs in as a demo user, then goes to `next` (or the page).
async fn demo_login(State(demo): State<Demo>, Form(form): Form<LoginForm>) -> Response {
    let Some(session) = demo.sign_in(&form.user) else {
        return (StatusCode::BAD_REQUEST, "unknown demo user").into_response();
    };
    let mut response = see_other(safe_next(form.next.as_deref()));
    demo.set_cookies(
        response.headers_mut(),
        &session.session_jwt,
        &session.session_token,
        session.expires_at,
    );
    response
}

/// A step-up: the user authenticated with their authenticator app, so the emulator
/// attaches a TOTP factor to the session, and the fresh JWT that carries it is set.
async fn demo_step_up(State(demo): State<Demo>, headers: HeaderMap) -> Response {
    let Some((session, token)) = demo.session(&headers).await else {
        return see_other(LOGIN_PATH);
    };
    let Some(jwt) = demo
        .0
        .emulator
        .attach_factor(session.session_id(), Factor::totp())
    else {
        return see_other(LOGIN_PATH);
    };
    let mut response = see_other("/");
    demo.set_cookies(response.headers_mut(), &jwt, &token, session.expires_at());
    response
}

/// Moves the emulator's clock (and so the validator's) past the JWT's expiry.
async fn demo_skip(State(demo): State<Demo>) -> Response {
    demo.0.emulator.advance_clock(SKIP);
    see_other("/")
}

/// Revokes the session (on the emulator) and deletes the cookies.
async fn demo_logout(State(demo): State<Demo>, headers: HeaderMap) -> Response {
    if let Some((session, _)) = demo.session(&headers).await {
        demo.0.emulator.revoke_session(session.session_id());
    }
    let mut response = see_other("/");
    demo.clear_cookies(response.headers_mut());
    response
}

/// What Stytch's frontend SDK does when it refreshes its session: authenticate the
/// session token with Stytch and write both cookies again, for its own cookie domain.
async fn demo_refresh(State(demo): State<Demo>, headers: HeaderMap) -> Response {
    let refreshed = match cookie_value(&headers, TOKEN_COOKIE) {
        Some(token) => demo
            .0
            .validator
            .authenticate(Credentials::token(token))
            .await
            .ok(),
        None => None,
    };
    match refreshed {
        Some(auth) => {
            let mut response =
                Json(json!({ "refreshed": auth.refreshed.is_some() })).into_response();
            if let Some(tokens) = &auth.refreshed {
                demo.set_cookies(
                    response.headers_mut(),
                    &tokens.session_jwt,
                    &tokens.session_token,
                    auth.session.expires_at(),
                );
            }
            response
        }
        None => {
            let mut response = (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": "session_not_found" })),
            )
                .into_response();
            demo.clear_cookies(response.headers_mut());
            response
        }
    }
}

// ---- small helpers ----

fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_owned())]).into_response()
}

fn append_cookie(headers: &mut HeaderMap, cookie: &cookie::Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        headers.append(SET_COOKIE, value);
    }
}

/// The first value of cookie `name` in the request.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// A local path to go back to after sign-in; anything else (another origin) is `/`.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n
        }
        _ => "/",
    }
}

/// Percent-encodes a path for a query value.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `2026-11-29 12:06:01 UTC`.
fn clock_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

// ---- main ----

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    examples::init_tracing();
    // `cargo run --example quickstart --features metrics`: Prometheus text at /metrics.
    // The recorder goes in first, so that it sees everything from the warm-up on.
    #[cfg(feature = "metrics")]
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    let stytch = examples::stytch_validator_or_emulator(examples::example_policy()).await?;
    let demo = stytch
        .emulator()
        .map(|emu| Demo::new(emu.clone(), stytch.validator.clone()));
    let app = app(
        layer(stytch.validator.clone(), stytch.is_emulator()),
        demo.clone(),
    );
    #[cfg(feature = "metrics")]
    let app = app.route(
        "/metrics",
        get(move || std::future::ready(prometheus.render())),
    );
    let listener = examples::bind("127.0.0.1:3000").await?;
    let base = format!("http://{}", listener.local_addr()?);
    match (stytch.emulator(), &demo) {
        (Some(emu), Some(demo)) => print_demo(emu, demo, &base),
        _ => print_real_stytch(&base),
    }
    examples::serve(listener, app).await
}

/// Prints where the page is, then creates three sessions and prints curl commands.
fn print_demo(emu: &EmulatorHandle, demo: &Demo, base: &str) {
    let (Some(one), Some(two), Some(admin)) = (
        demo.sign_in("ada"),
        demo.sign_in("grace"),
        demo.sign_in("root"),
    ) else {
        return;
    };
    println!(
        r#"
Open {base} in your browser: sign in as a demo user, see your session, call the
protected routes, step up with TOTP, let the JWT expire, log out.

Stytch: embedded emulator at {emu_url} (project {project}).
Or use curl. Three demo sessions; paste these lines into a shell (the JWTs are valid for
5 minutes):

ONE_FACTOR='{one_jwt}'  # {one_user}: email magic link
TWO_FACTOR='{two_jwt}'  # {two_user}: email magic link + TOTP
ADMIN='{admin_jwt}'  # {admin_user}: role admin
ONE_FACTOR_TOKEN='{one_token}'  # the opaque session token of ONE_FACTOR (60 minutes)

Then try:

curl -s {base}/me --cookie "stytch_session_jwt=$ONE_FACTOR"         # 200: the session as JSON
curl -si {base}/me                                                  # no session: 401
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

/// Explains how to sign in and call the service with a real Stytch session.
fn print_real_stytch(base: &str) {
    println!(
        r#"
Stytch: your project (from STYTCH_PROJECT_ID / STYTCH_SECRET).
Open {base} in your browser: it explains how to sign in with Stytch's frontend SDK.
Or copy your frontend's stytch_session_jwt cookie, then:

JWT='<your stytch_session_jwt>'
curl -s {base}/me --cookie "stytch_session_jwt=$JWT"
curl -si {base}/admin --cookie "stytch_session_jwt=$JWT"             # 200 with the admin role, else 403
curl -si -X POST {base}/transfer --cookie "stytch_session_jwt=$JWT"  # 200 after MFA, else 403
"#
    );
}

//! The layer's settings, shared by every request it serves (through per-thread
//! replicas, see `per_thread`), and the one place a refusal becomes a response.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum_core::response::{IntoResponse, Response};
use http::header::{ACCEPT, CACHE_CONTROL, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use stytch_validator::{AuthError, ErrorKind, Validator};

use crate::cookies::CookieSettings;
use crate::credentials::{CredentialSource, DEFAULT_SOURCES};
use crate::layer::Mode;
use crate::observe;
use crate::rejection::StytchRejection;

/// Builds the response for a refusal.
pub(crate) type RejectionHandler = Arc<dyn Fn(StytchRejection) -> Response + Send + Sync>;

/// The layer's settings, shared by every request (and held by each request's session).
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) validator: Validator,
    pub(crate) mode: Mode,
    pub(crate) sources: Vec<CredentialSource>,
    pub(crate) cookies: Arc<CookieSettings>,
    pub(crate) handler: Option<RejectionHandler>,
    pub(crate) login_url: Option<Cow<'static, str>>,
    /// The counters of authenticated requests (feature `metrics`).
    pub(crate) authenticated: observe::Authenticated,
    /// When a cookie conflict was last logged (clock millis), to log it once a minute;
    /// one clock for all replicas.
    conflict_logged_at: Arc<AtomicI64>,
}

/// How often a cookie conflict is logged at most.
const CONFLICT_LOG_INTERVAL_MS: i64 = 60_000;

impl Shared {
    /// The default settings around `validator`.
    pub(crate) fn new(validator: Validator) -> Self {
        Self {
            validator,
            mode: Mode::Required,
            sources: DEFAULT_SOURCES.to_vec(),
            cookies: Arc::new(CookieSettings::default()),
            handler: None,
            login_url: None,
            authenticated: observe::Authenticated::default(),
            conflict_logged_at: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    /// Whether refusals raised behind the layer must be rendered again.
    pub(crate) fn renders(&self) -> bool {
        self.handler.is_some() || self.login_url.is_some()
    }

    pub(crate) fn wants_html(&self, headers: &HeaderMap) -> bool {
        self.login_url.is_some()
            && headers
                .get(ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"))
    }

    /// The one place a refusal becomes a response: a login redirect for browsers when
    /// configured, else the user's handler, else the default JSON response.
    pub(crate) fn render(&self, rejection: StytchRejection, wants_html: bool) -> Response {
        match &self.login_url {
            Some(url) if wants_html && rejection.error().kind() == ErrorKind::Unauthenticated => {
                let mut response = StatusCode::SEE_OTHER.into_response();
                if let Ok(location) = HeaderValue::from_str(url) {
                    response.headers_mut().insert(LOCATION, location);
                }
                response
            }
            _ => match &self.handler {
                Some(handler) => handler(rejection),
                None => rejection.into_response(),
            },
        }
    }

    /// A refusal by the layer itself; `clear_cookies` also deletes the cookies the
    /// layer writes.
    pub(crate) fn reject(
        &self,
        error: AuthError,
        credentials_present: bool,
        headers: &HeaderMap,
        clear_cookies: bool,
    ) -> Response {
        let rejection = StytchRejection::new(error, credentials_present);
        let mut response = self.render(rejection, self.wants_html(headers));
        if clear_cookies && self.cookies.write {
            append_cookies(response.headers_mut(), self.cookies.cleared());
        }
        response
    }

    /// Two different values under one Stytch cookie name. Logged at warn, once a minute
    /// at most: it is a deployment problem (cookie scope) an operator must fix, and the
    /// same browser repeats it on every request until then.
    pub(crate) fn log_conflict(&self) {
        let now = self.validator.config().clock().now_millis();
        let last = self.conflict_logged_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= CONFLICT_LOG_INTERVAL_MS
            && self
                .conflict_logged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                cookie = %self.cookies.jwt_name,
                domain = self.cookies.domain.as_deref().unwrap_or("(host-only)"),
                "stytch.cookies.conflict: a request carried two different values for one \
                 Stytch session cookie, most likely the frontend's cookie and a refreshed \
                 one with a different Domain; set StytchLayer::with_cookie_domain to the \
                 domain the frontend SDK uses"
            );
        }
    }
}

/// Appends `Set-Cookie` values, and keeps the response out of shared caches: a response
/// that carries a session must never be served to someone else. A handler's own
/// `no-store` is kept; anything weaker becomes `private, no-store`.
pub(crate) fn append_cookies(headers: &mut HeaderMap, values: [Option<HeaderValue>; 2]) {
    let mut added = false;
    for value in values.into_iter().flatten() {
        headers.append(SET_COOKIE, value);
        added = true;
    }
    if !added {
        return;
    }
    let no_store = headers.get_all(CACHE_CONTROL).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
        })
    });
    if !no_store {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
}

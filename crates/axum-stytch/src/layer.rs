//! [`StytchLayer`], the [`StytchService`] it wraps a service in, and their [`ResponseFuture`].

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll, ready};

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use cookie::SameSite;
use http::header::{ACCEPT, CACHE_CONTROL, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request};
use stytch_validator::{AuthError, Authenticated, Credentials, Validator};
use tower_layer::Layer;
use tower_service::Service;

use crate::cookies::CookieSettings;
use crate::credentials::{self, CredentialSource, DEFAULT_SOURCES, Origin, Unusable};
use crate::rejection::{RejectionHandler, StytchRejection, login_redirect};
use crate::session::{LayerRan, StytchSession};

/// What the layer does with a request that has no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reject with 401.
    Required,
    /// Run the handler without a session when there are no credentials; reject bad ones
    /// unless `continue_on_invalid`.
    Optional { continue_on_invalid: bool },
}

impl Mode {
    /// Optional, treating unusable, invalid, expired or revoked credentials as absent.
    const OPTIONAL_LENIENT: Mode = Mode::Optional {
        continue_on_invalid: true,
    };
}

/// The layer's settings, shared by every request (and by the sessions it creates).
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) validator: Validator,
    mode: Mode,
    sources: Vec<CredentialSource>,
    cookies: CookieSettings,
    pub(crate) handler: Option<RejectionHandler>,
    login_url: Option<Cow<'static, str>>,
    /// When a cookie conflict was last logged (clock millis), to log it once a minute.
    conflict_logged_at: Arc<AtomicI64>,
}

/// How often a cookie conflict is logged at most.
const CONFLICT_LOG_INTERVAL_MS: i64 = 60_000;

impl Shared {
    /// The response for a refusal: a login redirect for browsers when configured, else
    /// the user's handler, else the default JSON rejection. With `clear_cookies` (a
    /// session Stytch says is gone, or cookies in conflict) the response also deletes
    /// the cookies this layer writes.
    pub(crate) fn reject(
        &self,
        error: AuthError,
        credentials_present: bool,
        headers: &HeaderMap,
        clear_cookies: bool,
    ) -> Response {
        let wants_html = headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        let mut response = match &self.login_url {
            Some(url) if error.is_unauthenticated() && wants_html => login_redirect(url),
            _ => {
                let rejection = StytchRejection::new(error, credentials_present);
                match &self.handler {
                    Some(handler) => handler(rejection),
                    None => rejection.into_response(),
                }
            }
        };
        if clear_cookies && self.cookies.write {
            append_cookies(response.headers_mut(), self.cookies.cleared());
        }
        response
    }

    /// Whether a refusal for `error` deletes the session cookies: only when Stytch said
    /// the session is gone.
    fn clears_cookies_for(error: &AuthError) -> bool {
        error.reason() == "session_not_found"
    }

    /// Two different values under one Stytch cookie name. Logged at warn, once a minute
    /// at most: it is a deployment problem (cookie scope) an operator must fix, and the
    /// same browser repeats it on every request until then.
    fn log_conflict(&self) {
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
fn append_cookies(headers: &mut HeaderMap, values: [Option<HeaderValue>; 2]) {
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

/// Authenticates every request with Stytch and puts the [`StytchSession`] into its
/// extensions; see the [crate docs](crate) for a guide.
///
/// Credentials are read from the `stytch_session_jwt` cookie, then the
/// `stytch_session` cookie, then `Authorization: Bearer` (see
/// [`with_sources`](Self::with_sources)). A JWT that verified before is served from
/// memory without I/O; anything else goes through the [`Validator`]. When Stytch issues
/// a fresh JWT the response carries both cookies again; when Stytch says the session
/// is gone both are cleared.
#[derive(Clone)]
#[must_use]
pub struct StytchLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for StytchLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StytchLayer")
            .field("mode", &self.shared.mode)
            .field("sources", &self.shared.sources)
            .field("cookies", &self.shared.cookies)
            .finish_non_exhaustive()
    }
}

impl StytchLayer {
    /// A layer that rejects requests without a valid session (401).
    pub fn new(validator: Validator) -> Self {
        Self {
            shared: Arc::new(Shared {
                validator,
                mode: Mode::Required,
                sources: DEFAULT_SOURCES.to_vec(),
                cookies: CookieSettings::default(),
                handler: None,
                login_url: None,
                conflict_logged_at: Arc::new(AtomicI64::new(i64::MIN)),
            }),
        }
    }

    /// A layer that lets requests without credentials through with no session; extract
    /// `Option<StytchSession>`. Requests with bad credentials are still rejected unless
    /// [`continue_on_invalid`](Self::continue_on_invalid) is set.
    pub fn optional(validator: Validator) -> Self {
        let mut layer = Self::new(validator);
        layer.shared_mut().mode = Mode::Optional {
            continue_on_invalid: false,
        };
        layer
    }

    fn shared_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.shared)
    }

    /// In optional mode, treat credentials that cannot be used (conflicting cookies, a
    /// malformed `Authorization` header) and invalid, expired or revoked ones like absent
    /// ones instead of answering 401: the handler runs without a session. Errors that
    /// are not the client's fault (503, 500) are still answered. Has no effect on a
    /// required layer ([`StytchLayer::new`]).
    pub fn continue_on_invalid(mut self, yes: bool) -> Self {
        if let Mode::Optional {
            continue_on_invalid,
        } = &mut self.shared_mut().mode
        {
            *continue_on_invalid = yes;
        }
        self
    }

    /// Where to look for credentials, in order (default: JWT cookie, token cookie,
    /// bearer). Two sources that disagree make the request unauthenticated.
    pub fn with_sources(mut self, sources: impl IntoIterator<Item = CredentialSource>) -> Self {
        self.shared_mut().sources = sources.into_iter().collect();
        self
    }

    /// Cookie names (default `stytch_session_jwt` and `stytch_session`, as Stytch's
    /// frontend SDK names them unless configured otherwise).
    pub fn with_cookie_names(
        mut self,
        jwt: impl Into<Cow<'static, str>>,
        token: impl Into<Cow<'static, str>>,
    ) -> Self {
        let cookies = &mut self.shared_mut().cookies;
        cookies.jwt_name = jwt.into();
        cookies.token_name = token.into();
        self
    }

    /// `Path` of refreshed cookies (default `/`).
    pub fn with_cookie_path(mut self, path: impl Into<Cow<'static, str>>) -> Self {
        self.shared_mut().cookies.path = path.into();
        self
    }

    /// `Domain` of refreshed cookies (default none: host-only), e.g. to share them with
    /// subdomains as the Stytch SDK's `cookieOptions.domain` does.
    pub fn with_cookie_domain(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        self.shared_mut().cookies.domain = Some(domain.into());
        self
    }

    /// `SameSite` of refreshed cookies (default `Lax`, as Stytch's SDK).
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.shared_mut().cookies.same_site = same_site;
        self
    }

    /// Whether refreshed cookies are `Secure` (default `true`).
    ///
    /// # ⚠️ Warning
    /// Without `Secure` a session cookie can travel over plain HTTP. Turn it off only for
    /// local development on `http://localhost`.
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.shared_mut().cookies.secure = secure;
        self
    }

    /// Whether refreshed cookies are `HttpOnly` (default `false`, because Stytch's
    /// frontend SDK reads them; set it when your frontend does not).
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        self.shared_mut().cookies.http_only = http_only;
        self
    }

    /// Whether to write `Set-Cookie` at all (default `true`). Turn it off for APIs that
    /// take bearer tokens only.
    pub fn with_cookie_refresh(mut self, write: bool) -> Self {
        self.shared_mut().cookies.write = write;
        self
    }

    /// Build refusal responses yourself from the typed rejection (status, reason code,
    /// message, retry hint). Applies to the layer and to guards.
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// use axum_stytch::{StytchLayer, StytchRejection};
    /// # fn f(validator: axum_stytch::Validator) {
    /// let layer = StytchLayer::new(validator).with_rejection_handler(|r: StytchRejection| {
    ///     (r.status(), format!("denied: {}", r.error().reason())).into_response()
    /// });
    /// # }
    /// ```
    pub fn with_rejection_handler(
        mut self,
        handler: impl Fn(StytchRejection) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.shared_mut().handler = Some(Arc::new(handler));
        self
    }

    /// Answer unauthenticated requests that accept `text/html` with `303 See Other` to
    /// this login page instead of 401 JSON.
    pub fn with_login_redirect(mut self, url: impl Into<Cow<'static, str>>) -> Self {
        self.shared_mut().login_url = Some(url.into());
        self
    }
}

impl<S> Layer<S> for StytchLayer {
    type Service = StytchService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StytchService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`StytchLayer`] produces.
#[derive(Clone)]
pub struct StytchService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for StytchService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StytchService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S> StytchService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

type AuthFuture = Pin<Box<dyn Future<Output = Result<Authenticated, AuthError>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for StytchService<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>> + Clone,
    ResBody: From<Body>,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        let cookies = &shared.cookies;
        let found = match credentials::extract(
            req.headers(),
            &shared.sources,
            &cookies.jwt_name,
            &cookies.token_name,
        ) {
            Ok(found) => found,
            Err(unusable) => {
                let conflict = unusable == Unusable::ConflictingCookies;
                if conflict {
                    shared.log_conflict();
                }
                if shared.mode == Mode::OPTIONAL_LENIENT {
                    // Treated like absent credentials, as documented; a cookie conflict
                    // still gets the layer's own cookies cleared so the next request
                    // recovers.
                    req.extensions_mut().insert(LayerRan(Arc::clone(shared)));
                    let clear = (conflict && cookies.write).then(|| cookies.cleared());
                    return ResponseFuture::inner(self.inner.call(req), clear);
                }
                let error = AuthError::unauthenticated(unusable.reason(), unusable.message());
                return ResponseFuture::rejected(shared.reject(
                    error,
                    true,
                    req.headers(),
                    conflict,
                ));
            }
        };
        // The hot path: a JWT verified before, re-checked in memory.
        if let Some(session) = found.jwt.and_then(|jwt| shared.validator.cached(jwt)) {
            req.extensions_mut()
                .insert(StytchSession::new(session, Arc::clone(shared)));
            return ResponseFuture::inner(self.inner.call(req), None);
        }
        if found.is_empty() {
            return match shared.mode {
                Mode::Required => {
                    let error = AuthError::unauthenticated(
                        "missing_credentials",
                        "A Stytch session is required.",
                    );
                    ResponseFuture::rejected(shared.reject(error, false, req.headers(), false))
                }
                Mode::Optional { .. } => {
                    req.extensions_mut().insert(LayerRan(Arc::clone(shared)));
                    ResponseFuture::inner(self.inner.call(req), None)
                }
            };
        }
        let origin = found.origin;
        let credentials = Credentials {
            session_jwt: found.jwt.map(str::to_owned),
            session_token: found.token.map(str::to_owned),
        };
        let validator = shared.validator.clone();
        let auth: AuthFuture = Box::pin(async move { validator.authenticate(credentials).await });
        // Call the service that was driven to readiness, leave a fresh clone behind.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture {
            state: State::Authenticating {
                auth,
                service: Some(inner),
                request: Some(req),
                shared: Arc::clone(shared),
                origin,
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`StytchService`].
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Authenticating {
            auth: AuthFuture,
            service: Option<S>,
            request: Option<Request<ReqBody>>,
            shared: Arc<Shared>,
            origin: Origin,
        },
        Inner {
            #[pin]
            future: S::Future,
            set_cookies: Option<[Option<HeaderValue>; 2]>,
        },
        Rejected {
            response: Option<Response>,
        },
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn inner(future: S::Future, set_cookies: Option<[Option<HeaderValue>; 2]>) -> Self {
        Self {
            state: State::Inner {
                future,
                set_cookies,
            },
        }
    }

    fn rejected(response: Response) -> Self {
        Self {
            state: State::Rejected {
                response: Some(response),
            },
        }
    }
}

impl<S, ReqBody> std::fmt::Debug for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>>,
    ResBody: From<Body>,
{
    type Output = Result<http::Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Authenticating {
                    auth,
                    service,
                    request,
                    shared,
                    origin,
                } => {
                    let result = ready!(auth.as_mut().poll(cx));
                    let (Some(mut service), Some(mut request)) = (service.take(), request.take())
                    else {
                        // Polled again after completion: a caller bug; answer rather than panic.
                        let error = AuthError::misconfigured(
                            "future_polled_after_completion",
                            "internal error",
                        );
                        return Poll::Ready(Ok(shared
                            .reject(error, true, &HeaderMap::new(), false)
                            .map(ResBody::from)));
                    };
                    let next = match result {
                        Ok(Authenticated { session, refreshed }) => {
                            // Cookies are written only for credentials that came from
                            // cookies: a bearer client's tokens never land in a cookie jar.
                            let set_cookies = refreshed
                                .as_ref()
                                .filter(|_| shared.cookies.write && *origin == Origin::Cookies)
                                .map(|r| {
                                    shared.cookies.refreshed(
                                        &r.session_jwt,
                                        &r.session_token,
                                        session.expires_at(),
                                    )
                                });
                            request.extensions_mut().insert(
                                StytchSession::new(session, Arc::clone(shared))
                                    .with_refreshed(refreshed),
                            );
                            State::Inner {
                                future: service.call(request),
                                set_cookies,
                            }
                        }
                        Err(error)
                            if error.is_unauthenticated()
                                && shared.mode == Mode::OPTIONAL_LENIENT =>
                        {
                            request
                                .extensions_mut()
                                .insert(LayerRan(Arc::clone(shared)));
                            State::Inner {
                                future: service.call(request),
                                set_cookies: None,
                            }
                        }
                        Err(error) => {
                            // Only cookies the request sent are cleared.
                            let clear =
                                *origin == Origin::Cookies && Shared::clears_cookies_for(&error);
                            State::Rejected {
                                response: Some(shared.reject(
                                    error,
                                    true,
                                    request.headers(),
                                    clear,
                                )),
                            }
                        }
                    };
                    this.state.set(next);
                }
                StateProj::Inner {
                    future,
                    set_cookies,
                } => {
                    let mut response = ready!(future.poll(cx))?;
                    if let Some(values) = set_cookies.take() {
                        append_cookies(response.headers_mut(), values);
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .unwrap_or_else(|| http::StatusCode::INTERNAL_SERVER_ERROR.into_response());
                    return Poll::Ready(Ok(response.map(ResBody::from)));
                }
            }
        }
    }
}

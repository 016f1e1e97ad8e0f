//! [`StytchLayer`], the [`StytchService`] it wraps a service in, and their
//! [`ResponseFuture`]; the [`Mode`] and [`CredentialSource`] settings.

use std::borrow::Cow;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use http::header::{ACCEPT, CACHE_CONTROL, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use stytch_validator::{AuthError, Authenticated, Credentials, ErrorKind, Validator};
use tower_layer::Layer;
use tower_service::Service;

pub use crate::credentials::CredentialSource;
pub use crate::session::ClearSessionCookies;
pub use cookie::SameSite;

use crate::cookies::CookieSettings;
use crate::credentials::{self, DEFAULT_SOURCES, Origin, Unusable};
use crate::observe::{self, Outcome};
use crate::rejection::{Rendered, StytchRejection};
use crate::session::{LayerRan, RequestSession};

/// What the layer does with a request that has no usable session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Refuse it: 401 (the default).
    #[default]
    Required,
    /// Let a request without credentials through without a session (extract
    /// `Option<StytchSession>`); refuse bad credentials with 401.
    Optional,
    /// Let a request through without a session when its credentials are absent,
    /// unusable (conflicting cookies, a malformed `Authorization` header), invalid,
    /// expired or revoked. Errors that are not the client's fault (503, 500) are still
    /// answered.
    OptionalIgnoringInvalid,
}

/// Builds the response for a refusal.
type RejectionHandler = Arc<dyn Fn(StytchRejection) -> Response + Send + Sync>;

/// The layer's settings, shared by every request (and held by each request's session).
struct Shared {
    validator: Validator,
    mode: Mode,
    sources: Vec<CredentialSource>,
    pub(crate) cookies: Arc<CookieSettings>,
    handler: Option<RejectionHandler>,
    login_url: Option<Cow<'static, str>>,
    /// When a cookie conflict was last logged (clock millis), to log it once a minute.
    conflict_logged_at: AtomicI64,
}

/// How often a cookie conflict is logged at most.
const CONFLICT_LOG_INTERVAL_MS: i64 = 60_000;

impl Clone for Shared {
    fn clone(&self) -> Self {
        Self {
            validator: self.validator.clone(),
            mode: self.mode,
            sources: self.sources.clone(),
            cookies: self.cookies.clone(),
            handler: self.handler.clone(),
            login_url: self.login_url.clone(),
            conflict_logged_at: AtomicI64::new(self.conflict_logged_at.load(Ordering::Relaxed)),
        }
    }
}

impl Shared {
    /// Whether refusals raised behind the layer must be rendered again.
    fn renders(&self) -> bool {
        self.handler.is_some() || self.login_url.is_some()
    }

    fn wants_html(&self, headers: &HeaderMap) -> bool {
        self.login_url.is_some()
            && headers
                .get(ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"))
    }

    /// The one place a refusal becomes a response: a login redirect for browsers when
    /// configured, else the user's handler, else the default JSON response.
    fn render(&self, rejection: StytchRejection, wants_html: bool) -> Response {
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
    fn reject(
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

    /// What the request's extensions carry: one reference count, as the validator's
    /// alone was before.
    fn session(
        self: &Arc<Self>,
        session: stytch_validator::Session,
        refreshed: Option<stytch_validator::RefreshedTokens>,
        origin: Origin,
    ) -> RequestSession {
        RequestSession {
            session,
            validator: self.validator.clone(),
            refreshed: refreshed.map(Arc::new),
            // Only a request that authenticated with cookies may have them cleared.
            cookies: (origin == Origin::Cookies && self.cookies.write)
                .then(|| Arc::clone(&self.cookies)),
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

/// Authenticates every request with Stytch and hands the session to extractors and
/// guards; see the [crate docs](crate) for a guide.
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
    /// A layer that refuses requests without a valid session (401); change that with
    /// [`with_mode`](Self::with_mode).
    pub fn new(validator: Validator) -> Self {
        Self {
            shared: Arc::new(Shared {
                validator,
                mode: Mode::Required,
                sources: DEFAULT_SOURCES.to_vec(),
                cookies: Arc::new(CookieSettings::default()),
                handler: None,
                login_url: None,
                conflict_logged_at: AtomicI64::new(i64::MIN),
            }),
        }
    }

    fn shared_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.shared)
    }

    /// What to do with requests that have no usable session (default
    /// [`Mode::Required`]).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.shared_mut().mode = mode;
        self
    }

    /// Where to look for credentials, in order (default: JWT cookie, token cookie,
    /// bearer). A request's credentials come from the first source that carries any;
    /// the JWT and token cookies together count as one source, and sources are never
    /// combined.
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
        let cookies = Arc::make_mut(&mut self.shared_mut().cookies);
        cookies.jwt_name = jwt.into();
        cookies.token_name = token.into();
        self
    }

    /// `Path` of refreshed cookies (default `/`).
    pub fn with_cookie_path(mut self, path: impl Into<Cow<'static, str>>) -> Self {
        Arc::make_mut(&mut self.shared_mut().cookies).path = path.into();
        self
    }

    /// `Domain` of refreshed cookies (default none: host-only), e.g. to share them with
    /// subdomains as the Stytch SDK's `cookieOptions.domain` does.
    pub fn with_cookie_domain(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        Arc::make_mut(&mut self.shared_mut().cookies).domain = Some(domain.into());
        self
    }

    /// `SameSite` of refreshed cookies (default `Lax`, as Stytch's SDK).
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        Arc::make_mut(&mut self.shared_mut().cookies).same_site = same_site;
        self
    }

    /// Whether refreshed cookies are `Secure` (default `true`).
    ///
    /// # ⚠️ Warning
    /// Without `Secure` a session cookie can travel over plain HTTP. Turn it off only for
    /// local development on `http://localhost`.
    pub fn with_secure(mut self, secure: bool) -> Self {
        Arc::make_mut(&mut self.shared_mut().cookies).secure = secure;
        self
    }

    /// Whether refreshed cookies are `HttpOnly` (default `false`, because Stytch's
    /// frontend SDK reads them; set it when your frontend does not).
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        Arc::make_mut(&mut self.shared_mut().cookies).http_only = http_only;
        self
    }

    /// Whether to write `Set-Cookie` at all (default `true`). Turn it off for APIs that
    /// take bearer tokens only.
    pub fn with_cookie_refresh(mut self, write: bool) -> Self {
        Arc::make_mut(&mut self.shared_mut().cookies).write = write;
        self
    }

    /// Build refusal responses yourself from the typed rejection (status, reason,
    /// message, retry hint). Applies to every refusal behind the layer: its own, route
    /// guards', extractors', and those handlers return.
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// use axum_stytch::{StytchLayer, StytchRejection};
    /// # fn f(validator: axum_stytch::Validator) {
    /// let layer = StytchLayer::new(validator).with_rejection_handler(|r: StytchRejection| {
    ///     (r.status(), format!("denied: {}", r.reason())).into_response()
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

/// The remote part of authentication: it owns the request and hands it back.
type AuthFuture<ReqBody> =
    Pin<Box<dyn Future<Output = (Request<ReqBody>, Result<Authenticated, AuthError>)> + Send>>;

/// What the response path still has to do to the inner service's response.
struct Finish {
    /// `Set-Cookie` values to add (a refresh, or cleared cookies).
    cookies: Option<[Option<HeaderValue>; 2]>,
    /// The layer's settings, kept only when refusals raised behind the layer must be
    /// rendered its way.
    render: Option<(Arc<Shared>, bool)>,
}

impl Finish {
    fn new(shared: &Arc<Shared>, headers: &HeaderMap) -> Self {
        Self {
            cookies: None,
            render: shared
                .renders()
                .then(|| (Arc::clone(shared), shared.wants_html(headers))),
        }
    }

    fn apply<B: From<Body>>(self, mut response: http::Response<B>) -> http::Response<B> {
        // A handler revoked the session (`StytchSession::revoke`): one lookup in the
        // response's extensions, which are empty unless something put a value there.
        let ended = response.extensions_mut().remove::<ClearSessionCookies>();
        if let Some((shared, wants_html)) = self.render
            && let Some(Rendered(rejection)) = response.extensions_mut().remove::<Rendered>()
        {
            response = shared.render(rejection, wants_html).map(B::from);
        }
        if let Some(values) = self.cookies {
            append_cookies(response.headers_mut(), values);
        }
        if let Some(ClearSessionCookies(values)) = ended {
            append_cookies(response.headers_mut(), values);
        }
        response
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for StytchService<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>> + Clone,
    ReqBody: Send + 'static,
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
                let origin = Some(if conflict {
                    Origin::Cookies
                } else {
                    Origin::Bearer
                });
                if shared.mode == Mode::OptionalIgnoringInvalid {
                    observe::authentication(Outcome::Anonymous(Some(unusable.reason())), origin);
                    // Treated like absent credentials; a cookie conflict still gets the
                    // layer's own cookies cleared so the next request recovers.
                    let mut finish = Finish::new(shared, req.headers());
                    finish.cookies = (conflict && cookies.write).then(|| cookies.cleared());
                    req.extensions_mut().insert(LayerRan);
                    return ResponseFuture::inner(self.inner.call(req), finish);
                }
                observe::authentication(Outcome::Refused(unusable.reason()), origin);
                let error = AuthError::new(unusable.reason(), unusable.message());
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
            observe::authentication(Outcome::Authenticated, Some(found.origin));
            observe::record_session(&session, Some(found.origin));
            let finish = Finish::new(shared, req.headers());
            let request_session = shared.session(session, None, found.origin);
            req.extensions_mut().insert(request_session);
            return ResponseFuture::inner(self.inner.call(req), finish);
        }
        if found.is_empty() {
            if shared.mode == Mode::Required {
                observe::authentication(
                    Outcome::Refused(stytch_validator::Reason::MissingCredentials),
                    None,
                );
                let error = AuthError::new(
                    stytch_validator::Reason::MissingCredentials,
                    "A Stytch session is required.",
                );
                return ResponseFuture::rejected(shared.reject(error, false, req.headers(), false));
            }
            observe::authentication(Outcome::Anonymous(None), None);
            let finish = Finish::new(shared, req.headers());
            req.extensions_mut().insert(LayerRan);
            return ResponseFuture::inner(self.inner.call(req), finish);
        }
        let origin = found.origin;
        let credentials =
            Credentials::new(found.jwt.map(str::to_owned), found.token.map(str::to_owned));
        let validator = shared.validator.clone();
        let auth: AuthFuture<ReqBody> = Box::pin(async move {
            let result = validator.authenticate(credentials).await;
            (req, result)
        });
        // Call the service that was driven to readiness, leave a fresh clone behind.
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        ResponseFuture {
            state: State::Authenticating {
                auth,
                service,
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
            #[pin]
            auth: AuthFuture<ReqBody>,
            service: S,
            shared: Arc<Shared>,
            origin: Origin,
        },
        Inner {
            #[pin]
            future: S::Future,
            finish: Option<Finish>,
        },
        Rejected {
            #[pin]
            response: Ready<Response>,
        },
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn inner(future: S::Future, finish: Finish) -> Self {
        Self {
            state: State::Inner {
                future,
                finish: Some(finish),
            },
        }
    }

    fn rejected(response: Response) -> Self {
        Self {
            state: State::Rejected {
                response: ready(response),
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
            let next = match this.state.as_mut().project() {
                StateProj::Authenticating {
                    auth,
                    service,
                    shared,
                    origin,
                } => {
                    let (mut request, result) = std::task::ready!(auth.poll(cx));
                    let mut finish = Finish::new(shared, request.headers());
                    match result {
                        Ok(Authenticated {
                            session, refreshed, ..
                        }) => {
                            observe::authentication(Outcome::Authenticated, Some(*origin));
                            observe::record_session(&session, Some(*origin));
                            // Cookies are written only for credentials that came from
                            // cookies: a bearer client's tokens never land in a cookie jar.
                            finish.cookies = refreshed
                                .as_ref()
                                .filter(|_| shared.cookies.write && *origin == Origin::Cookies)
                                .map(|r| {
                                    shared.cookies.refreshed(
                                        &r.session_jwt,
                                        &r.session_token,
                                        session.expires_at(),
                                    )
                                });
                            request
                                .extensions_mut()
                                .insert(shared.session(session, refreshed, *origin));
                        }
                        Err(error)
                            if error.is_unauthenticated()
                                && shared.mode == Mode::OptionalIgnoringInvalid =>
                        {
                            observe::authentication(
                                Outcome::Anonymous(Some(error.reason())),
                                Some(*origin),
                            );
                            request.extensions_mut().insert(LayerRan);
                        }
                        Err(error) => {
                            observe::authentication(
                                Outcome::Refused(error.reason()),
                                Some(*origin),
                            );
                            // Only cookies the request sent are cleared.
                            let clear = *origin == Origin::Cookies && error.reason().ends_session();
                            let response = shared.reject(error, true, request.headers(), clear);
                            return Poll::Ready(Ok(response.map(ResBody::from)));
                        }
                    }
                    State::Inner {
                        future: service.call(request),
                        finish: Some(finish),
                    }
                }
                StateProj::Inner { future, finish } => {
                    let response = std::task::ready!(future.poll(cx))?;
                    let response = match finish.take() {
                        Some(finish) => finish.apply(response),
                        None => response,
                    };
                    return Poll::Ready(Ok(response));
                }
                StateProj::Rejected { response } => {
                    let response = std::task::ready!(response.poll(cx));
                    return Poll::Ready(Ok(response.map(ResBody::from)));
                }
            };
            this.state.set(next);
        }
    }
}

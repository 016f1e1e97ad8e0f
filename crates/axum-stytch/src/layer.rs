//! [`StytchLayer`], the [`StytchService`] it wraps a service in, and their
//! [`ResponseFuture`]; the [`Mode`] and [`CredentialSource`] settings.

use std::borrow::Cow;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_core::body::Body;
use axum_core::response::Response;
use http::{HeaderMap, HeaderValue, Request};
use stytch_validator::{AuthError, Authenticated, Credentials, Validator};
use tower_layer::Layer;
use tower_service::Service;

pub use crate::credentials::CredentialSource;
pub use crate::session::ClearSessionCookies;
pub use cookie::SameSite;

use crate::credentials::{self, Origin, Unusable};
use crate::observe::{self, Outcome};
use crate::per_thread::PerThread;
use crate::rejection::{Rendered, StytchRejection};
use crate::session::{LayerRan, RequestSession};
use crate::shared::{Shared, append_cookies};

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
    shared: PerThread<Shared>,
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
            shared: PerThread::new(Shared::new(validator)),
        }
    }

    fn shared_mut(&mut self) -> &mut Shared {
        self.shared.make_mut()
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
            shared: self.shared.share(),
        }
    }
}

/// The service [`StytchLayer`] produces. axum clones it for every request; the clone
/// reaches the layer's settings through this thread's replica of them.
#[derive(Clone)]
pub struct StytchService<S> {
    inner: S,
    shared: PerThread<Shared>,
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
    /// `Set-Cookie` values to add (a refresh, or cleared cookies): boxed, because they
    /// are rare and the future that carries this is moved on every request.
    cookies: Option<Box<[Option<HeaderValue>; 2]>>,
    shared: PerThread<Shared>,
    /// Whether a refusal raised behind the layer becomes a login redirect.
    wants_html: bool,
    /// Whether the request authenticated with cookies the layer may clear on logout.
    clears_cookies: bool,
}

impl Finish {
    fn new(shared: &PerThread<Shared>, headers: &HeaderMap, origin: Option<Origin>) -> Self {
        Self {
            cookies: None,
            shared: shared.share(),
            wants_html: shared.wants_html(headers),
            clears_cookies: origin == Some(Origin::Cookies) && shared.cookies.write,
        }
    }

    fn apply<B: From<Body>>(self, mut response: http::Response<B>) -> http::Response<B> {
        // Both markers are one lookup in the response's extensions, which are empty
        // unless something put a value there.
        let ended = response
            .extensions_mut()
            .remove::<ClearSessionCookies>()
            .is_some();
        if self.shared.renders()
            && let Some(Rendered(rejection)) = response.extensions_mut().remove::<Rendered>()
        {
            response = self.shared.render(rejection, self.wants_html).map(B::from);
        }
        if let Some(values) = self.cookies {
            append_cookies(response.headers_mut(), *values);
        }
        // A handler ended the session (`StytchSession::revoke`).
        if ended && self.clears_cookies {
            append_cookies(response.headers_mut(), self.shared.cookies.cleared());
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
        let (sources, jwt_name, token_name) =
            (&shared.sources, &cookies.jwt_name, &cookies.token_name);
        // The credentials as the headers carry them, unchecked.
        let raw = credentials::extract::<&[u8]>(req.headers(), sources, jwt_name, token_name);
        // The hot path: a JWT verified before, re-checked in memory. Found by its bytes:
        // a hit proves them the text a verification accepted, with no UTF-8 check.
        if let Ok(raw) = &raw
            && let Some(session) = raw.jwt.and_then(|jwt| shared.validator.cached(jwt))
        {
            shared.authenticated.record(raw.origin);
            observe::record_session(&session, Some(raw.origin));
            let finish = Finish::new(shared, req.headers(), Some(raw.origin));
            let request_session = RequestSession::new(session, shared.share(), None);
            req.extensions_mut().insert(request_session);
            return ResponseFuture::inner(self.inner.call(req), finish);
        }
        // Anything else takes them as text, where a value that is not is no credential:
        // the same credentials when all are text, else extracted again.
        let text = match raw {
            Ok(raw) => raw.text().map(Ok),
            Err(_) => None,
        };
        let found = match text
            .unwrap_or_else(|| credentials::extract(req.headers(), sources, jwt_name, token_name))
        {
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
                    let mut finish = Finish::new(shared, req.headers(), None);
                    finish.cookies =
                        (conflict && cookies.write).then(|| Box::new(cookies.cleared()));
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
            let finish = Finish::new(shared, req.headers(), None);
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
                shared: shared.share(),
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
            shared: PerThread<Shared>,
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
                    let mut finish = Finish::new(shared, request.headers(), Some(*origin));
                    match result {
                        Ok(Authenticated {
                            session, refreshed, ..
                        }) => {
                            shared.authenticated.record(*origin);
                            observe::record_session(&session, Some(*origin));
                            // Cookies are written only for credentials that came from
                            // cookies: a bearer client's tokens never land in a cookie jar.
                            finish.cookies = refreshed
                                .as_ref()
                                .filter(|_| shared.cookies.write && *origin == Origin::Cookies)
                                .map(|r| {
                                    Box::new(shared.cookies.refreshed(
                                        &r.session_jwt,
                                        &r.session_token,
                                        session.expires_at(),
                                    ))
                                });
                            request.extensions_mut().insert(RequestSession::new(
                                session,
                                shared.share(),
                                refreshed,
                            ));
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

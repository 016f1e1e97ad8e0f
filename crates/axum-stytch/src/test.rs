//! Helpers for testing your own handlers (feature `test-util`): hand a session to a
//! router without a server, without Stytch and without the emulator.
//!
//! Build the session with [`Session::builder`](stytch_validator::Session::builder);
//! [`with_session`] puts it in front of a router,
//! [`StytchSession::for_test`](crate::StytchSession::for_test) hands it to a handler
//! called directly. See the
//! crate doc's "Testing your app" for complete examples.

use std::task::{Context, Poll};

use http::Request;
use stytch_validator::{Session, StytchConfig, Validator};
use tower_layer::Layer;
use tower_service::Service;

use crate::session::RequestSession;

pub use stytch_validator::SessionBuilder;

/// A validator that never reaches the network: its API is a closed loopback port, so
/// anything that would ask Stytch (an RBAC policy fetch) answers 503 at once. Session
/// checks that need no network (roles, factors, claims) work as in production.
pub fn offline_validator() -> Validator {
    let config = StytchConfig::builder(
        "project-test-00000000-0000-4000-8000-000000000000",
        "secret-test-offline",
    )
    .api_url("http://127.0.0.1:9")
    .build();
    match config {
        Ok(config) => Validator::new(config),
        Err(e) => unreachable!("the offline configuration is valid: {e}"),
    }
}

/// A layer that authenticates every request as `session` (with
/// [`offline_validator`]); use it in place of `StytchLayer` in tests.
pub fn with_session(session: Session) -> SessionLayer {
    with_session_and_validator(session, offline_validator())
}

/// [`with_session`] with your own validator, e.g. one pointed at the emulator so that
/// RBAC guards fetch a real policy.
pub fn with_session_and_validator(session: Session, validator: Validator) -> SessionLayer {
    SessionLayer(RequestSession::detached(session, validator))
}

/// The layer [`with_session`] returns.
#[derive(Clone)]
pub struct SessionLayer(RequestSession);

impl std::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SessionLayer")
            .field(&self.0.session)
            .finish()
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> SessionService<S> {
        SessionService {
            inner,
            session: self.0.clone(),
        }
    }
}

/// The service [`SessionLayer`] produces.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    session: RequestSession,
}

impl<S: std::fmt::Debug> std::fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("session", &self.session.session)
            .finish()
    }
}

impl<S, B> Service<Request<B>> for SessionService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.session.clone());
        self.inner.call(req)
    }
}

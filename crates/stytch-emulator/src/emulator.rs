//! The public entry points: [`Emulator::builder`], [`EmulatorBuilder`] and the
//! [`EmulatorHandle`] that controls a running emulator.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::conn::{ConnKill, KillableListener};
use crate::engine::{Shared, Vertical};
use crate::faults::{Fault, Route};
use crate::fixtures::{
    CreatedSession, Factor, NewMemberSession, NewOrganization, NewSession, NewUser,
};
use crate::{ids, routes};

/// Namespace for [`Emulator::builder`].
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// A builder with defaults: `127.0.0.1:0`, a random `project-test-<uuid>` project and
    /// a random `secret-test-…` secret.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// Configures an emulator before [`EmulatorBuilder::start`].
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    project_id: Option<String>,
    secret: Option<String>,
    listen: SocketAddr,
    default_consumer_role: Option<String>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            project_id: None,
            secret: None,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            default_consumer_role: Some("stytch_user".to_owned()),
        }
    }
}

impl EmulatorBuilder {
    /// The project id (default: `project-test-<uuid>`).
    pub fn project_id(mut self, id: impl Into<String>) -> Self {
        self.project_id = Some(id.into());
        self
    }

    /// The project secret checked by Basic auth (default: random).
    pub fn secret(mut self, s: impl Into<String>) -> Self {
        self.secret = Some(s.into());
        self
    }

    /// The address to bind (default `127.0.0.1:0`, an ephemeral port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The role every consumer user and session carries and the default policy lists
    /// (default `Some("stytch_user")`; `None` for none).
    pub fn default_consumer_role(mut self, role: Option<String>) -> Self {
        self.default_consumer_role = role;
        self
    }

    /// Generates the signing key, binds, and spawns the server on the current Tokio
    /// runtime. Returns once the socket accepts connections.
    pub async fn start(self) -> std::io::Result<EmulatorHandle> {
        let project_id = self.project_id.unwrap_or_else(|| ids::test_id("project"));
        let secret = self.secret.unwrap_or_else(ids::secret);
        let shared = Shared::new(project_id, secret, self.default_consumer_role)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let shared = Arc::new(shared);
        let listener = tokio::net::TcpListener::bind(self.listen).await?;
        let addr = listener.local_addr()?;
        let app =
            routes::router(Arc::clone(&shared)).into_make_service_with_connect_info::<ConnKill>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve =
                axum::serve(KillableListener(listener), app).with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "stytch emulator server stopped with an error");
            }
        });
        tracing::debug!(%addr, project_id = %shared.project_id, "stytch emulator listening");
        Ok(EmulatorHandle {
            inner: Arc::new(Inner {
                shared,
                addr,
                stop: Mutex::new(Some(stop_tx)),
                task: Mutex::new(Some(task)),
            }),
        })
    }
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Inner {
    fn signal_stop(&self) {
        if let Some(tx) = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// A running emulator. Cheap to clone; dropping the last clone (or
/// [`shutdown`](EmulatorHandle::shutdown)) stops the server.
#[derive(Clone)]
pub struct EmulatorHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of Debug output.
        f.debug_struct("EmulatorHandle")
            .field("addr", &self.inner.addr)
            .field("project_id", &self.inner.shared.project_id)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The project id.
    pub fn project_id(&self) -> &str {
        &self.shared().project_id
    }

    /// The project secret.
    pub fn secret(&self) -> &str {
        &self.shared().secret
    }

    /// Stops accepting, lets open connections finish (at most 5 s), and waits for the
    /// server task. Other clones then point at a stopped server.
    pub async fn shutdown(self) {
        self.inner.signal_stop();
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut task) = task
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }

    /// Creates a consumer user and returns its `user_id`.
    pub fn create_user(&self, user: NewUser) -> String {
        self.shared().create_user(user)
    }

    /// Creates a consumer session (and a user, unless `s` names one).
    ///
    /// # Panics
    /// If `s` names a user that does not exist.
    pub fn create_session(&self, s: NewSession) -> CreatedSession {
        match self.shared().create_session(s) {
            Ok(created) => created,
            Err(e) => panic!("create_session: {}", e.message),
        }
    }

    /// A fresh JWT for a live session (consumer or B2B), issued at the emulator's now
    /// with the current key; `None` if the session is unknown, revoked or expired.
    pub fn mint_jwt(&self, session_id: &str) -> Option<String> {
        self.shared().mint_jwt(session_id)
    }

    /// Adds an authentication factor to a live session (consumer or B2B), as Stytch does
    /// when a user authenticates another factor with an existing session (a step-up,
    /// e.g. `totps/authenticate` with the `session_token`). A factor of the same type and
    /// delivery method is authenticated again (its `last_authenticated_at` moves to the
    /// emulator's now); any other is appended. Returns a fresh JWT that carries it, issued
    /// at the emulator's now; the session token stays the same, and `sessions/authenticate`
    /// lists the factor from now on. `None` if the session is unknown, revoked or expired.
    ///
    /// ```
    /// use stytch_emulator::{Emulator, Factor, NewSession};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let emu = Emulator::builder().start().await?;
    /// let s = emu.create_session(NewSession::new().factor(Factor::email_magic_link("ada@example.com")));
    /// let stepped_up: Option<String> = emu.attach_factor(&s.session_id, Factor::totp());
    /// assert!(stepped_up.is_some_and(|jwt| jwt.starts_with("eyJ")));
    /// assert_eq!(emu.attach_factor("session-test-unknown", Factor::totp()), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn attach_factor(&self, session_id: &str, factor: Factor) -> Option<String> {
        self.shared().attach_factor(session_id, factor)
    }

    /// Revokes a live session (consumer or B2B); `false` if there was none.
    pub fn revoke_session(&self, session_id: &str) -> bool {
        self.shared().revoke_session(session_id)
    }

    /// Signs arbitrary claims with the current key, under the standard header
    /// `{"alg":"RS256","kid":<current>,"typ":"JWT"}`: tokens Stytch would never issue
    /// (another issuer, a missing claim) for testing how your app rejects them.
    ///
    /// # Panics
    /// If signing fails (it does not in practice).
    pub fn sign_jwt(&self, claims: &Value) -> String {
        let header = serde_json::json!({"alg": "RS256", "kid": self.current_kid(), "typ": "JWT"});
        self.sign_raw_jwt(&header.to_string(), &claims.to_string())
    }

    /// Signs exactly these header and payload texts with the current key (RS256),
    /// whatever they contain: duplicate members, wrong types, other algorithms named.
    ///
    /// # Panics
    /// If signing fails (it does not in practice).
    pub fn sign_raw_jwt(&self, header: &str, payload: &str) -> String {
        match self
            .shared()
            .sign_raw(header.as_bytes(), payload.as_bytes())
        {
            Ok(jwt) => jwt,
            Err(e) => panic!("sign_raw_jwt: {}", e.message),
        }
    }

    /// The `kid` of the key that signs new JWTs.
    pub fn current_kid(&self) -> String {
        self.shared().current_kid()
    }

    /// Makes a new signing key and returns its `kid`; older keys are still served.
    ///
    /// # Panics
    /// If RSA key generation fails (it does not in practice).
    pub fn rotate_keys(&self) -> String {
        match self.shared().rotate_keys() {
            Ok(kid) => kid,
            Err(e) => panic!("rotate_keys: {}", e.message),
        }
    }

    /// Stops serving an old key; `false` for an unknown kid or the current signing key.
    pub fn retire_key(&self, kid: &str) -> bool {
        self.shared().retire_key(kid)
    }

    /// The served key set, `{"keys": [...]}`.
    pub fn jwks_json(&self) -> Value {
        self.shared().jwks()
    }

    /// Replaces the consumer RBAC `policy` object (`{roles, resources, scopes?}`).
    /// Missing `scopes`, descriptions and permission lists are filled in.
    pub fn set_rbac_policy(&self, policy: Value) {
        self.shared().set_policy(Vertical::Consumer, policy);
    }

    /// Moves the emulator's clock forward (JWT `iat`/`exp`, session expiry, factor times).
    pub fn advance_clock(&self, by: Duration) {
        self.shared().clock.advance(by);
    }

    /// A handle on the emulator's clock, for an app under test that must see the same
    /// time as the emulator (give it to the app's time source, e.g. a validator's clock).
    /// It follows [`advance_clock`](Self::advance_clock) and does not keep the server
    /// running.
    pub fn clock(&self) -> EmulatorClock {
        EmulatorClock(self.shared().clock.clone())
    }

    /// The emulator's current time.
    pub fn now(&self) -> OffsetDateTime {
        self.shared().clock.now()
    }

    /// The emulator's current time in unix seconds.
    pub fn now_unix(&self) -> i64 {
        self.now().unix_timestamp()
    }

    /// Queues a fault for `route`.
    pub fn inject_fault(&self, route: Route, fault: Fault) {
        self.shared().faults.inject(route, fault);
    }

    /// Removes every queued fault.
    pub fn clear_faults(&self) {
        self.shared().faults.clear();
    }

    /// Requests that reached `route` (faulted ones included) since start or the last reset.
    pub fn request_count(&self, route: Route) -> u64 {
        self.shared().faults.count(route)
    }

    /// Zeroes every request counter.
    pub fn reset_counts(&self) {
        self.shared().faults.reset_counts();
    }

    /// Creates a B2B organization and returns its `organization_id`.
    pub fn create_organization(&self, org: NewOrganization) -> String {
        self.shared().create_organization(org)
    }

    /// Sets an organization's custom roles (`[{role_id, description?, permissions}]`).
    ///
    /// # Panics
    /// If the organization does not exist.
    pub fn set_organization_roles(&self, organization_id: &str, roles: Value) {
        if let Err(e) = self.shared().set_organization_roles(organization_id, roles) {
            panic!("set_organization_roles: {}", e.message);
        }
    }

    /// Creates a member of an organization and returns its `member_id`.
    ///
    /// # Panics
    /// If the organization does not exist.
    pub fn create_member(&self, organization_id: &str, email: &str) -> String {
        match self.shared().create_member(organization_id, email) {
            Ok(id) => id,
            Err(e) => panic!("create_member: {}", e.message),
        }
    }

    /// Creates a B2B member session; `stytch_member` is always among its roles.
    ///
    /// # Panics
    /// If the organization or member does not exist.
    pub fn create_member_session(&self, s: NewMemberSession) -> CreatedSession {
        match self.shared().create_member_session(s) {
            Ok(created) => created,
            Err(e) => panic!("create_member_session: {}", e.message),
        }
    }

    /// Replaces the B2B project RBAC `policy` object.
    pub fn set_b2b_rbac_policy(&self, policy: Value) {
        self.shared().set_policy(Vertical::B2b, policy);
    }
}

/// The emulator's clock, as seen from outside: system time plus the offset that
/// [`EmulatorHandle::advance_clock`] moves. Cheap to clone; see [`EmulatorHandle::clock`].
///
/// ```
/// use std::time::Duration;
/// use stytch_emulator::Emulator;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let emu = Emulator::builder().start().await?;
/// let clock = emu.clock();
/// let before = clock.now_unix_millis();
/// emu.advance_clock(Duration::from_secs(360));
/// assert!(clock.now_unix_millis() - before >= 360_000);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct EmulatorClock(crate::clock::Clock);

impl EmulatorClock {
    /// The emulator's current time.
    pub fn now(&self) -> OffsetDateTime {
        self.0.now()
    }

    /// The emulator's current time in milliseconds since the Unix epoch.
    pub fn now_unix_millis(&self) -> i64 {
        let nanos = self.0.now().unix_timestamp_nanos() / 1_000_000;
        i64::try_from(nanos).unwrap_or(i64::MAX)
    }
}

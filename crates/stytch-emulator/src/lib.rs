//! An offline, Stytch-compatible HTTP server for tests.
//!
//! It speaks Stytch's session wire format (JWKS, sessions authenticate/revoke, RBAC
//! policies, consumer and B2B) on loopback, so apps, SDKs and middleware can be tested
//! without network access or credentials. A control surface seeds users and sessions,
//! attaches factors to sessions (a step-up), rotates keys, moves the clock, injects
//! faults and counts requests.
//!
//! ```
//! use std::time::Duration;
//! use stytch_emulator::{Emulator, Factor, Fault, NewSession, Route};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let emu = Emulator::builder().start().await?;
//! // Point the app (or an SDK) at emu.base_url() with emu.project_id() / emu.secret().
//! let session = emu.create_session(
//!     NewSession::new()
//!         .factor(Factor::email_magic_link("ada@example.com"))
//!         .factor(Factor::totp())
//!         .roles(["editor"])
//!         .custom_claims(serde_json::json!({ "tenant": "acme" })),
//! );
//! assert_eq!(session.session_token.len(), 44);
//! assert!(session.session_jwt.starts_with("eyJ"));
//!
//! emu.rotate_keys();                                       // old key stays served
//! emu.advance_clock(Duration::from_secs(600));             // the first JWT is now expired
//! emu.inject_fault(Route::Authenticate, Fault::status(503).retry_after(1).times(1));
//! assert_eq!(emu.request_count(Route::Authenticate), 0);
//! emu.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Stytch routes
//!
//! Served at the origin root (SDKs drop path prefixes): `GET /v1/sessions/jwks/{project_id}`,
//! `POST /v1/sessions/authenticate`, `POST /v1/sessions/revoke`, `GET /v1/rbac/policy`, and
//! the B2B `GET /v1/b2b/sessions/jwks/{project_id}`, `POST /v1/b2b/sessions/authenticate`,
//! `POST /v1/b2b/sessions/revoke`, `GET /v1/b2b/rbac/policy`,
//! `GET|PUT /v1/b2b/rbac/organizations/{organization_id}`. All but the JWKS need Basic auth
//! with the project id and secret. The sandbox session token
//! `WJtR5BCy38Szd5AfoDpf0iqFKEt4EE5JhjlWUY7l3FtY` always authenticates.
//!
//! # HTTP control routes
//!
//! Under `/_emulator/`, JSON in and out, no auth, not counted:
//!
//! | Route | Body | Answer |
//! |---|---|---|
//! | `GET info` | | `{project_id, secret, current_kid, now}` |
//! | `POST users` | `{email?, phone?, first_name?, last_name?, roles?}` | `{user_id}` |
//! | `POST sessions` | `{user_id?, factors?, roles?, custom_claims?, duration_minutes?}` | a [`CreatedSession`] |
//! | `POST sessions/{id}/revoke` | | `{revoked}` |
//! | `POST sessions/{id}/jwt` | | `{session_jwt}` or 404 |
//! | `POST sessions/{id}/factors` | a factor (below) | `{session_jwt}` (carrying the factor) or 404: a step-up, see [`EmulatorHandle::attach_factor`] |
//! | `GET keys` | | `{keys}` |
//! | `POST keys/rotate` | | `{kid}` |
//! | `POST keys/{kid}/retire` | | `{retired}` |
//! | `PUT rbac/policy`, `PUT b2b/rbac/policy` | the policy object | `{policy}` |
//! | `GET clock`, `POST clock/advance` | `{seconds}` | `{now, now_unix}` |
//! | `POST faults` | `{route, kind, status?, latency_ms?, times?, retry_after?}` | `{route}` |
//! | `DELETE faults` | | `{cleared}` |
//! | `GET counters`, `POST counters/reset` | | `{jwks: n, authenticate: n, ...}` |
//! | `POST b2b/organizations` | `{organization_name, organization_slug}` | `{organization_id}` |
//! | `PUT b2b/organizations/{id}/roles` | `[role, ...]` | `{roles}` |
//! | `POST b2b/members` | `{organization_id, email_address}` | `{member_id}` |
//! | `POST b2b/sessions` | `{organization_id, member_id, factors?, roles?, custom_claims?, duration_minutes?}` | a [`CreatedSession`] |
//!
//! Fault `kind` is `status`, `latency`, `malformed_body` or `close_connection`; `route` is a
//! [`Route::name`] such as `authenticate` or `b2b_jwks`. A factor is either a raw factor
//! object (with `type`) or `{"kind": "email_magic_link", "email": ...}`, with kinds
//! `email_magic_link`, `email_otp` (`email`), `sms_otp` (`phone`), `totp`, `password`,
//! `webauthn` (`domain`), `oauth` (`provider`, `subject`) and `sso_oidc`, plus an optional
//! RFC 3339 `authenticated_at`.
//!
//! # Binary
//!
//! `cargo run -p stytch-emulator -- --listen 127.0.0.1:8787 [--project-id ID] [--secret S]`
//! prints `STYTCH_API_URL=…`, `STYTCH_PROJECT_ID=…` and `STYTCH_SECRET=…`, then serves
//! until Ctrl-C.

mod clock;
mod conn;
mod emulator;
mod engine;
mod errors;
mod faults;
mod fixtures;
mod ids;
mod jwt;
mod keys;
mod rbac;
mod routes;
mod store;
mod wire;

pub use emulator::{Emulator, EmulatorBuilder, EmulatorClock, EmulatorHandle};
pub use faults::{Fault, Route};
pub use fixtures::{
    CreatedSession, Factor, NewMemberSession, NewOrganization, NewSession, NewUser,
};

//! Revocation and kept remote answers, in process (no fleet): `Validator::revoke` calls
//! the right Stytch route for each vertical, refuses the session from every cache at
//! once and for the revocation window only, and Stytch's successes are reused until
//! the fresh JWT expires.

use std::time::Duration;

use stytch_emulator::{Emulator, Fault, NewMemberSession, NewOrganization, Route};
use stytch_validator::{Credentials, ManualClock, Reason, StytchConfig, Validator, Vertical};

use crate::common::Env;

#[tokio::test]
async fn a_revoked_session_is_refused_from_every_cache_for_the_window_only() {
    let env = Env::new().await;
    let s = env.session();
    env.auth_jwt(&s.session_jwt).await.expect("valid");
    // A bare token, so that Stytch's answer is kept.
    let fresh = env
        .validator
        .authenticate(Credentials::token(&s.session_token))
        .await
        .expect("valid");
    assert!(fresh.refreshed.is_some());
    env.validator
        .authenticate(Credentials::token(&s.session_token))
        .await
        .expect("reused");
    assert_eq!(env.calls(), 1, "the second request reused the answer");
    assert_eq!(env.validator.stats().remote_answers_reused, 1);

    env.validator.revoke(&s.session_id).await.expect("revoked");
    assert_eq!(env.emu.request_count(Route::Revoke), 1);
    assert!(env.validator.is_revoked(&s.session_id));
    assert!(env.validator.cached(&s.session_jwt).is_none());
    for credentials in [
        Credentials::jwt(&s.session_jwt),
        Credentials::token(&s.session_token),
    ] {
        let e = env
            .validator
            .authenticate(credentials)
            .await
            .expect_err("refused");
        assert_eq!(e.reason(), Reason::SessionRevoked);
        assert_eq!(e.status_code(), 401);
    }
    let stats = env.validator.stats();
    assert_eq!(
        (stats.signature_verifications, env.calls()),
        (1, 1),
        "from the caches"
    );
    // An expired JWT of the revoked session is refused before any call.
    env.advance(Duration::from_secs(301));
    let e = env.auth_jwt(&s.session_jwt).await.expect_err("refused");
    assert_eq!(e.reason(), Reason::SessionRevoked);
    assert_eq!(env.calls(), 1);
    // After the window (5 min + 5 s leeway) Stytch's own answer takes over.
    env.advance(Duration::from_secs(5));
    assert!(!env.validator.is_revoked(&s.session_id));
    let e = env.auth_jwt(&s.session_jwt).await.expect_err("refused");
    assert_eq!(e.reason(), Reason::SessionNotFound);
    assert_eq!(env.calls(), 2);
}

#[tokio::test]
async fn a_kept_answer_lives_until_the_fresh_jwts_exp() {
    let env = Env::new().await;
    let s = env.session();
    for _ in 0..3 {
        env.validator
            .authenticate(Credentials::token(&s.session_token))
            .await
            .expect("valid");
    }
    assert_eq!(env.calls(), 1);
    env.advance(Duration::from_secs(299));
    env.validator
        .authenticate(Credentials::token(&s.session_token))
        .await
        .expect("valid");
    assert_eq!(env.calls(), 1, "still before the fresh JWT's exp");
    env.advance(Duration::from_secs(2));
    env.validator
        .authenticate(Credentials::token(&s.session_token))
        .await
        .expect("valid");
    assert_eq!(env.calls(), 2, "asked again after it");
}

#[tokio::test]
async fn revoke_uses_the_b2b_route_with_member_session_id() {
    let emu = Emulator::builder().start().await.expect("emulator");
    let clock = ManualClock::at_unix_secs(emu.now_unix());
    let org = emu.create_organization(NewOrganization::new("Acme", "acme"));
    let member = emu.create_member(&org, "ada@acme.example");
    let s = emu.create_member_session(NewMemberSession::new(&org, &member));
    let config = StytchConfig::builder(emu.project_id(), emu.secret())
        .api_url(emu.base_url())
        .vertical(Vertical::B2b)
        .clock(clock.clone())
        .build()
        .expect("config");
    let validator = Validator::new(config);
    validator
        .authenticate(Credentials::jwt(&s.session_jwt))
        .await
        .expect("valid");
    validator.revoke(&s.session_id).await.expect("revoked");
    assert_eq!(
        (
            emu.request_count(Route::B2bRevoke),
            emu.request_count(Route::Revoke)
        ),
        (1, 0)
    );
    let e = validator
        .authenticate(Credentials::jwt(&s.session_jwt))
        .await
        .expect_err("refused");
    assert_eq!(e.reason(), Reason::SessionRevoked);
    // Gone at Stytch: a second revoke (404 session_not_found) still succeeds.
    validator.revoke(&s.session_id).await.expect("idempotent");
    assert_eq!(emu.request_count(Route::B2bRevoke), 2);
}

#[tokio::test]
async fn a_revoke_stytch_cannot_take_is_an_outage_but_holds_locally() {
    let env = Env::new().await;
    let s = env.session();
    env.auth_jwt(&s.session_jwt).await.expect("valid");
    env.emu
        .inject_fault(Route::Revoke, Fault::status(503).times(1));
    let e = env.validator.revoke(&s.session_id).await.expect_err("503");
    assert_eq!(e.reason(), Reason::StytchUnavailable);
    assert_eq!(e.status_code(), 503);
    let e = env.auth_jwt(&s.session_jwt).await.expect_err("refused");
    assert_eq!(e.reason(), Reason::SessionRevoked, "refused here meanwhile");
    env.validator
        .revoke(&s.session_id)
        .await
        .expect("the retry ends it");
    let e = env
        .validator
        .revoke("not a session id")
        .await
        .expect_err("malformed");
    assert_eq!(e.reason(), Reason::SessionInvalid);
}

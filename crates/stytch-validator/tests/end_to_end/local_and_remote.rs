//! The validator against the emulator over loopback HTTP: what is checked locally, what
//! goes to Stytch, and how many calls reach it.

use crate::common;

use std::time::Duration;

use common::Env;
use stytch_emulator::{Factor, NewSession, Route};
use stytch_validator::{Credentials, ErrorKind, SessionSource};

#[tokio::test]
async fn a_fresh_jwt_verifies_locally_and_then_from_the_cache() {
    let env = Env::new().await;
    let created = env.emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("ada@example.com"))
            .factor(Factor::totp())
            .roles(["editor"])
            .custom_claims(serde_json::json!({"plan": "pro", "seats": 3})),
    );
    let auth = env.auth_jwt(&created.session_jwt).await.unwrap();
    let s = &auth.session;
    assert_eq!(s.source(), SessionSource::LocalJwt);
    assert!(auth.refreshed.is_none());
    assert_eq!(s.session_id(), created.session_id);
    assert_eq!(s.user_id(), created.user_id);
    assert!(s.has_role("editor"));
    assert_eq!(s.factor_count(), 2);
    assert_eq!(
        s.authentication_factors()[0]
            .email_factor()
            .unwrap()
            .email_address,
        "ada@example.com"
    );
    assert_eq!(
        s.expires_at(),
        created.expires_at.replace_nanosecond(0).unwrap()
    );
    #[derive(serde::Deserialize)]
    struct Custom {
        plan: String,
        seats: u32,
    }
    let custom: Custom = s.custom_claims().unwrap();
    assert_eq!((custom.plan.as_str(), custom.seats), ("pro", 3));
    assert_eq!(
        s.custom_claims_map().len(),
        2,
        "registered and Stytch claims are not custom"
    );

    let stats = env.validator.stats();
    assert_eq!(
        (
            stats.signature_verifications,
            stats.remote_calls,
            stats.jwks_fetches
        ),
        (1, 0, 1)
    );
    let again = env.auth_jwt(&created.session_jwt).await.unwrap();
    assert_eq!(again.session.session_id(), created.session_id);
    assert_eq!(
        env.validator.stats().signature_verifications,
        1,
        "second use is a cache hit"
    );
    assert!(env.validator.cached(&created.session_jwt).is_some());
    assert_eq!(env.calls(), 0);
}

#[tokio::test]
async fn an_expired_jwt_of_a_live_session_is_refreshed_by_one_remote_call() {
    let env = Env::new().await;
    let created = env.session();
    env.advance(Duration::from_secs(600));
    let auth = env.auth_jwt(&created.session_jwt).await.unwrap();
    assert_eq!(auth.session.source(), SessionSource::Remote);
    assert_eq!(auth.session.session_id(), created.session_id);
    assert_eq!(auth.session.user_id(), created.user_id);
    let fresh = auth.refreshed.expect("Stytch issued a fresh JWT");
    assert_eq!(env.calls(), 1);
    assert_eq!(fresh.session_token, created.session_token);
    // The fresh JWT then verifies locally.
    let local = env.auth_jwt(&fresh.session_jwt).await.unwrap();
    assert_eq!(local.session.source(), SessionSource::LocalJwt);
    assert_eq!(env.calls(), 1);
}

#[tokio::test]
async fn the_cache_does_not_outlive_the_token() {
    let env = Env::new().await;
    let created = env.session();
    env.auth_jwt(&created.session_jwt).await.unwrap();
    env.advance(Duration::from_secs(301 + 5));
    assert!(env.validator.cached(&created.session_jwt).is_none());
    let auth = env.auth_jwt(&created.session_jwt).await.unwrap();
    assert_eq!(auth.session.source(), SessionSource::Remote);
}

#[tokio::test]
async fn a_revoked_session_is_rejected_and_remembered() {
    let env = Env::new().await;
    let created = env.session();
    assert!(env.emu.revoke_session(&created.session_id));
    env.advance(Duration::from_secs(600));
    let err = env.auth_jwt(&created.session_jwt).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.reason().as_str()),
        (ErrorKind::Unauthenticated, "session_not_found")
    );
    assert_eq!(env.calls(), 1);
    // Repeats within the rejection TTL do not reach Stytch.
    let err = env.auth_jwt(&created.session_jwt).await.unwrap_err();
    assert_eq!(err.reason(), "session_not_found");
    assert_eq!(env.calls(), 1);
}

#[tokio::test]
async fn session_tokens_go_to_stytch() {
    let env = Env::new().await;
    let created = env.session();
    let auth = env
        .validator
        .authenticate(Credentials::token(&created.session_token))
        .await
        .unwrap();
    assert_eq!(auth.session.source(), SessionSource::Remote);
    assert_eq!(auth.session.session_id(), created.session_id);
    assert!(auth.refreshed.is_some());
    assert_eq!(env.calls(), 1);
    let err = env
        .validator
        .authenticate(Credentials::token(
            "59cnLELtq5cFVS6uYK9f-pAWzBkhqZl8AvLhbhOvKNWw",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "session_not_found");
    // Impossible tokens never reach Stytch.
    let err = env
        .validator
        .authenticate(Credentials::token("\0\r\n%%%"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "session_token_malformed");
    assert_eq!(env.calls(), 2);
}

#[tokio::test]
async fn max_token_age_zero_sends_every_jwt_to_stytch() {
    let env = Env::with(|b| b.max_token_age(Duration::ZERO)).await;
    let created = env.session();
    let auth = env.auth_jwt(&created.session_jwt).await.unwrap();
    assert_eq!(auth.session.source(), SessionSource::Remote);
    assert_eq!(env.calls(), 1);
}

#[tokio::test]
async fn max_token_age_sends_old_jwts_to_stytch_and_survives_future_iat() {
    let env = Env::with(|b| b.max_token_age(Duration::from_secs(60))).await;
    let created = env.session();
    // Our clock 3 s behind Stytch's: iat is in our future, inside the leeway.
    env.clock.rewind(Duration::from_secs(3));
    let auth = env.auth_jwt(&created.session_jwt).await.unwrap();
    assert_eq!(auth.session.source(), SessionSource::LocalJwt);
    // Older than the limit but not expired: remote.
    let created = env.session();
    env.advance(Duration::from_secs(120));
    let auth = env.auth_jwt(&created.session_jwt).await.unwrap();
    assert_eq!(auth.session.source(), SessionSource::Remote);
    assert_eq!(env.calls(), 1);
}

#[tokio::test]
async fn two_hundred_concurrent_requests_with_one_expired_jwt_make_one_call() {
    let env = Env::new().await;
    let created = env.session();
    env.validator.warm_up().await.unwrap();
    env.advance(Duration::from_secs(600));
    env.emu.inject_fault(
        Route::Authenticate,
        stytch_emulator::Fault::latency(Duration::from_millis(200)),
    );
    for result in common::concurrently(&env.validator, 200, &created.session_jwt).await {
        let auth = result.unwrap();
        assert_eq!(auth.session.session_id(), created.session_id);
    }
    assert_eq!(env.calls(), 1);
}

#[test]
fn the_synchronous_cache_check_works_outside_a_runtime_when_a_refresh_is_due() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (env, jwt) = runtime.block_on(async {
        let env = Env::new().await;
        let created = env.session();
        env.auth_jwt(&created.session_jwt).await.unwrap();
        (env, created.session_jwt)
    });
    // The key set is now old enough for a background refresh, and we are not in a runtime.
    env.clock.advance(Duration::from_secs(590));
    env.emu.advance_clock(Duration::from_secs(590));
    assert!(
        env.validator.cached(&jwt).is_none(),
        "expired by now, but no panic"
    );
    let fresh = runtime.block_on(async { env.session() });
    let fresh_auth = runtime.block_on(env.auth_jwt(&fresh.session_jwt)).unwrap();
    assert_eq!(fresh_auth.session.source(), SessionSource::LocalJwt);
    assert!(env.validator.cached(&fresh.session_jwt).is_some());
    drop(env);
    drop(runtime);
}

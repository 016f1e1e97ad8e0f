//! Key rotation, JWKS outages, forged tokens and Stytch faults, counted at the emulator.

use crate::common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::Env;
use stytch_emulator::{Fault, Route};
use stytch_validator::{Credentials, ErrorKind, SessionSource};

fn b64(s: &str) -> String {
    B64.encode(s)
}

/// Swaps a JWT's header for `header`, keeping payload and signature.
fn with_header(jwt: &str, header: &str) -> String {
    let (_, rest) = jwt.split_once('.').unwrap();
    format!("{}.{rest}", b64(header))
}

#[tokio::test]
async fn a_new_kid_triggers_exactly_one_fetch_under_500_concurrent_requests() {
    let env = Env::new().await;
    env.validator.warm_up().await.unwrap();
    let old = env.session();
    let new_kid = env.emu.rotate_keys();
    let created = env.session();
    assert!(created.session_jwt.len() > 100);
    env.emu
        .inject_fault(Route::Jwks, Fault::latency(Duration::from_millis(250)));
    let before = env.jwks_fetches();
    for result in common::concurrently(&env.validator, 500, &created.session_jwt).await {
        assert_eq!(result.unwrap().session.source(), SessionSource::LocalJwt);
    }
    assert_eq!(env.jwks_fetches() - before, 1);
    assert!(
        env.emu.jwks_json()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == new_kid.as_str())
    );
    // Old-key tokens still verify: both keys are served.
    env.auth_jwt(&old.session_jwt).await.unwrap();
    assert_eq!(env.calls(), 0);
}

#[tokio::test]
async fn a_random_kid_flood_fetches_at_most_once_per_cooldown() {
    let env = Env::new().await;
    let created = env.session();
    env.validator.warm_up().await.unwrap();
    let before = env.jwks_fetches();
    for i in 0..300 {
        let forged = with_header(
            &created.session_jwt,
            &format!(r#"{{"alg":"RS256","kid":"jwk-test-{i:08}","typ":"JWT"}}"#),
        );
        let err = env.auth_jwt(&forged).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err:?}");
    }
    assert_eq!(
        env.jwks_fetches() - before,
        1,
        "one refresh, then the cooldown"
    );
    env.advance(Duration::from_secs(29));
    for i in 0..100 {
        let forged = with_header(
            &created.session_jwt,
            &format!(r#"{{"alg":"RS256","kid":"jwk-test-y{i}","typ":"JWT"}}"#),
        );
        assert!(env.auth_jwt(&forged).await.is_err());
    }
    assert_eq!(env.jwks_fetches() - before, 1, "still cooling down");
    env.advance(Duration::from_secs(2));
    for i in 0..300 {
        let forged = with_header(
            &created.session_jwt,
            &format!(r#"{{"alg":"RS256","kid":"jwk-test-x{i}","typ":"JWT"}}"#),
        );
        assert!(env.auth_jwt(&forged).await.is_err());
    }
    assert_eq!(env.jwks_fetches() - before, 2);
    assert_eq!(env.calls(), 0);
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_jwks_endpoint_is_down() {
    let env = Env::new().await;
    env.validator.warm_up().await.unwrap();
    env.emu.inject_fault(Route::Jwks, Fault::status(500));
    env.advance(Duration::from_secs(3600));
    let created = env.session();
    let auth = env.auth_jwt(&created.session_jwt).await.unwrap();
    assert_eq!(auth.session.source(), SessionSource::LocalJwt);
    assert_eq!(env.calls(), 0);
}

#[tokio::test]
async fn with_the_jwks_down_at_start_jwts_go_to_stytch() {
    let env = Env::new().await;
    env.emu.inject_fault(Route::Jwks, Fault::close_connection());
    let created = env.session();
    env.advance(Duration::from_secs(600));
    let auth = env.auth_jwt(&created.session_jwt).await.unwrap();
    assert_eq!(auth.session.source(), SessionSource::Remote);
    assert!(env.validator.warm_up().await.is_err());
    // A fresh JWT also goes remote while no keys are held, without hammering the JWKS.
    let fresh = env.session();
    let auth = env.auth_jwt(&fresh.session_jwt).await.unwrap();
    assert_eq!(auth.session.source(), SessionSource::Remote);
    assert!(
        env.jwks_fetches() <= 2,
        "backoff limits fetches: {}",
        env.jwks_fetches()
    );
}

#[tokio::test]
async fn forged_tokens_are_rejected_locally_without_calls() {
    let env = Env::new().await;
    let created = env.session();
    env.validator.warm_up().await.unwrap();
    let jwt = &created.session_jwt;
    let kid = env.emu.current_kid();
    let (header_b64, rest) = jwt.split_once('.').unwrap();
    let (payload_b64, sig_b64) = rest.split_once('.').unwrap();
    let payload = String::from_utf8(B64.decode(payload_b64).unwrap()).unwrap();
    let admin_payload = payload.replace("\"roles\":[", "\"roles\":[\"admin\",");
    let hs256 = {
        // RS→HS confusion: HMAC keyed with the published public key.
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.clone());
        let claims: serde_json::Value = serde_json::from_str(&payload).unwrap();
        let secret = env.emu.jwks_json()["keys"][0]["n"]
            .as_str()
            .unwrap()
            .to_owned();
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let cases = [
        (
            "alg none",
            format!("{}.{payload_b64}.", b64(r#"{"alg":"none","typ":"JWT"}"#)),
        ),
        (
            "alg none with signature",
            with_header(jwt, &format!(r#"{{"alg":"none","kid":"{kid}"}}"#)),
        ),
        ("hs256 with the public key", hs256),
        (
            "payload edited",
            format!("{header_b64}.{}.{sig_b64}", b64(&admin_payload)),
        ),
        ("signature bit flipped", {
            let mut sig = B64.decode(sig_b64).unwrap();
            sig[10] ^= 1;
            format!("{header_b64}.{payload_b64}.{}", B64.encode(sig))
        }),
        (
            "signature truncated",
            format!(
                "{header_b64}.{payload_b64}.{}",
                &sig_b64[..sig_b64.len() - 8]
            ),
        ),
        (
            "oversized",
            format!("{header_b64}.{}.{sig_b64}", "A".repeat(9000)),
        ),
        ("two segments", format!("{header_b64}.{payload_b64}")),
        (
            "jku header",
            with_header(
                jwt,
                &format!(r#"{{"alg":"RS256","kid":"{kid}","jku":"http://169.254.169.254/"}}"#),
            ),
        ),
        (
            "crit header",
            with_header(
                jwt,
                &format!(r#"{{"alg":"RS256","kid":"{kid}","crit":["exp"]}}"#),
            ),
        ),
        ("garbage", "hello-world".to_owned()),
    ];
    let fetches = env.jwks_fetches();
    for (name, token) in cases {
        let err = env.auth_jwt(&token).await.expect_err(name);
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{name}: {err:?}");
        assert!(
            !err.message().contains(&token[..20.min(token.len())]),
            "{name}: message leaks the token"
        );
    }
    assert_eq!(env.calls(), 0, "forged tokens never reach Stytch");
    assert_eq!(
        env.jwks_fetches(),
        fetches,
        "forged tokens never trigger a JWKS fetch"
    );
}

#[tokio::test]
async fn stytch_faults_answer_503_with_retry_hints() {
    let env = Env::with(|b| {
        b.request_timeout(Duration::from_millis(300))
            .circuit_breaker(100, Duration::from_secs(10))
    })
    .await;
    let faults = [
        (
            "latency past the timeout",
            Fault::latency(Duration::from_secs(2)),
            1,
        ),
        ("500", Fault::status(500), 2),
        ("429", Fault::status(429).retry_after(1), 2),
        ("malformed body", Fault::malformed_body(), 2),
        ("closed connection", Fault::close_connection(), 2),
    ];
    for (name, fault, expected_calls) in faults {
        env.emu.clear_faults();
        env.emu.reset_counts();
        let created = env.session();
        env.emu.inject_fault(Route::Authenticate, fault);
        let err = env
            .validator
            .authenticate(Credentials::token(&created.session_token))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{name}: {err:?}");
        assert!(err.retry_after().is_some(), "{name}");
        assert_eq!(
            env.calls(),
            expected_calls,
            "{name}: one bounded retry, none after a timeout"
        );
    }
}

#[tokio::test]
async fn the_circuit_opens_on_an_outage_and_recovers() {
    let env = Env::with(|b| b.circuit_breaker(3, Duration::from_secs(10))).await;
    env.emu
        .inject_fault(Route::Authenticate, Fault::status(503));
    let created = env.session();
    let token = || Credentials::token(&created.session_token);
    for _ in 0..2 {
        let err = env.validator.authenticate(token()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
    }
    assert!(env.validator.circuit_open());
    let calls = env.calls();
    let err = env.validator.authenticate(token()).await.unwrap_err();
    assert_eq!(err.reason(), "stytch_circuit_open");
    assert!(err.retry_after().unwrap() <= Duration::from_secs(10));
    assert_eq!(env.calls(), calls, "an open circuit fails fast");
    // Stytch recovers; after the open period one probe closes the circuit.
    env.emu.clear_faults();
    env.advance(Duration::from_secs(11));
    let auth = env.validator.authenticate(token()).await.unwrap();
    assert_eq!(auth.session.session_id(), created.session_id);
    assert!(!env.validator.circuit_open());
}

#[tokio::test]
async fn a_rejected_secret_is_a_misconfiguration() {
    let env = Env::new().await;
    let created = env.session();
    let validator = stytch_validator::Validator::new(
        stytch_validator::StytchConfig::builder(env.emu.project_id(), "secret-test-wrong")
            .api_url(env.emu.base_url())
            .build()
            .unwrap(),
    );
    let err = validator
        .authenticate(Credentials::token(&created.session_token))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status_code()),
        (ErrorKind::Misconfigured, 500)
    );
}

/// Claims of a real emulator JWT, to re-sign with changes.
fn claims_of(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn authentic_tokens_with_the_wrong_claims_are_rejected_locally() {
    let env = Env::new().await;
    let created = env.session();
    env.validator.warm_up().await.unwrap();
    let base = claims_of(&created.session_jwt);
    let pid = env.emu.project_id().to_owned();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = base.clone();
        f(&mut c);
        env.emu.sign_jwt(&c)
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong iss",
            edit(&|c| {
                c["iss"] = "stytch.com/project-test-00000000-0000-0000-0000-000000000000".into()
            }),
            "jwt_wrong_issuer",
        ),
        (
            "iss as array",
            edit(&|c| c["iss"] = serde_json::json!([format!("stytch.com/{pid}")])),
            "jwt_malformed_claims",
        ),
        (
            "iss trailing slash",
            edit(&|c| c["iss"] = format!("stytch.com/{pid}/").into()),
            "jwt_wrong_issuer",
        ),
        (
            "wrong aud",
            edit(&|c| c["aud"] = serde_json::json!(["project-test-other"])),
            "jwt_wrong_audience",
        ),
        (
            "empty aud",
            edit(&|c| c["aud"] = serde_json::json!([])),
            "jwt_wrong_audience",
        ),
        (
            "nested aud",
            edit(&|c| c["aud"] = serde_json::json!([[pid.clone()]])),
            "jwt_malformed_claims",
        ),
        (
            "exp as string",
            edit(&|c| c["exp"] = c["exp"].to_string().into()),
            "jwt_malformed_claims",
        ),
        (
            "exp missing",
            edit(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "jwt_malformed_claims",
        ),
        (
            "exp negative",
            edit(&|c| c["exp"] = (-1).into()),
            "jwt_malformed_claims",
        ),
        (
            "exp in year 9999",
            edit(&|c| c["exp"] = 253_402_300_799_i64.into()),
            "jwt_malformed_claims",
        ),
        (
            "a two-day lifetime",
            edit(&|c| c["exp"] = (c["iat"].as_i64().unwrap() + 172_800).into()),
            "jwt_lifetime_too_long",
        ),
        (
            "iat missing",
            edit(&|c| {
                c.as_object_mut().unwrap().remove("iat");
            }),
            "jwt_malformed_claims",
        ),
        (
            "session claim missing",
            edit(&|c| {
                c.as_object_mut()
                    .unwrap()
                    .remove("https://stytch.com/session");
            }),
            "jwt_malformed_claims",
        ),
        (
            "roles as a string",
            edit(&|c| c["https://stytch.com/session"]["roles"] = "admin".into()),
            "jwt_malformed_claims",
        ),
        (
            "sub as number",
            edit(&|c| c["sub"] = 1234.into()),
            "jwt_malformed_claims",
        ),
        (
            "b2b claim on a consumer project",
            edit(&|c| {
                c["https://stytch.com/organization"] =
                    serde_json::json!({"organization_id": "organization-test-x", "slug": "x"})
            }),
            "jwt_b2b_token_for_consumer_project",
        ),
    ];
    let fetches = env.jwks_fetches();
    for (name, token, reason) in cases {
        let err = env.auth_jwt(&token).await.expect_err(name);
        assert_eq!(
            (err.kind(), err.reason().as_str()),
            (ErrorKind::Unauthenticated, reason),
            "{name}"
        );
    }
    // The signer works: the unedited claims re-signed are accepted.
    assert!(env.auth_jwt(&env.emu.sign_jwt(&base)).await.is_ok());
    assert_eq!(env.calls(), 0);
    assert_eq!(env.jwks_fetches(), fetches);
    // An aud given as a plain string is fine, as is an audience list containing us.
    assert!(
        env.auth_jwt(&edit(&|c| c["aud"] = pid.clone().into()))
            .await
            .is_ok()
    );
    assert!(
        env.auth_jwt(&edit(
            &|c| c["aud"] = serde_json::json!(["other", pid.clone()])
        ))
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn duplicate_members_signed_by_the_real_key_are_rejected() {
    let env = Env::new().await;
    let created = env.session();
    let claims = claims_of(&created.session_jwt).to_string();
    let kid = env.emu.current_kid();
    let dup_header = format!(r#"{{"alg":"none","alg":"RS256","kid":"{kid}","typ":"JWT"}}"#);
    assert!(
        env.auth_jwt(&env.emu.sign_raw_jwt(&dup_header, &claims))
            .await
            .is_err()
    );
    let exp = claims_of(&created.session_jwt)["exp"].as_i64().unwrap();
    let dup_exp = claims.replacen('{', &format!(r#"{{"exp":{},"#, exp - 3600), 1);
    let header = format!(r#"{{"alg":"RS256","kid":"{kid}","typ":"JWT"}}"#);
    let err = env
        .auth_jwt(&env.emu.sign_raw_jwt(&header, &dup_exp))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "jwt_malformed_claims");
    let array_payload = format!("[{exp},{exp}]");
    assert!(
        env.auth_jwt(&env.emu.sign_raw_jwt(&header, &array_payload))
            .await
            .is_err()
    );
    assert_eq!(env.calls(), 0);
}

#[tokio::test]
async fn without_keys_only_well_formed_session_claims_go_to_stytch() {
    let env = Env::new().await;
    env.emu.inject_fault(Route::Jwks, Fault::status(500));
    let created = env.session();
    let mut claims = claims_of(&created.session_jwt);
    claims["aud"] = serde_json::json!(["project-test-someone-else"]);
    let other_project = env.emu.sign_jwt(&claims);
    let err = env.auth_jwt(&other_project).await.unwrap_err();
    assert_eq!(err.reason(), "jwt_wrong_audience");
    let garbage = with_header(
        "x.eyJub3QiOiJhIHNlc3Npb24ifQ.c2ln",
        &format!(r#"{{"alg":"RS256","kid":"{}"}}"#, env.emu.current_kid()),
    );
    assert!(env.auth_jwt(&garbage).await.is_err());
    assert_eq!(env.calls(), 0, "refused before any call to Stytch");
    // A well-formed one still goes to Stytch, which vouches for it.
    let auth = env.auth_jwt(&created.session_jwt).await.unwrap();
    assert_eq!(auth.session.source(), SessionSource::Remote);
    assert_eq!(env.calls(), 1);
}

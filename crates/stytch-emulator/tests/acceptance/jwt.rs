//! Emulator JWTs checked with plain `jsonwebtoken` and against
//! docs/stytch-protocol.md#session-jwts.

use std::time::Duration;

use serde_json::{Value, json};
use stytch_emulator::{Factor, NewMemberSession, NewOrganization, NewSession};

use crate::support::{assert_error, post, raw_part, start, verify, verify_at_emulator_now};

#[tokio::test]
async fn consumer_jwt_matches_the_reference_field_by_field() {
    let emu = start().await;
    let s = emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("ada@example.com"))
            .roles(["editor"])
            .custom_claims(json!({"tenant": "acme", "https://example.com/claim": {"n": 1}})),
    );
    let header: Value = serde_json::from_str(&raw_part(&s.session_jwt, 0)).expect("header");
    assert_eq!(
        raw_part(&s.session_jwt, 0),
        format!(
            r#"{{"alg":"RS256","kid":"{}","typ":"JWT"}}"#,
            emu.current_kid()
        )
    );
    assert!(
        header["kid"]
            .as_str()
            .is_some_and(|k| k.starts_with("jwk-test-"))
    );

    let claims = verify(&emu, &s.session_jwt).expect("verifies with jsonwebtoken");
    assert_eq!(claims["aud"], json!([emu.project_id()]));
    assert_eq!(claims["iss"], format!("stytch.com/{}", emu.project_id()));
    assert_eq!(claims["sub"], s.user_id);
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(claims["nbf"].as_i64(), Some(iat));
    assert_eq!(claims["exp"].as_i64(), Some(iat + 300));
    assert!((iat - emu.now_unix()).abs() <= 2);
    assert!(claims.get("jti").is_none());
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["https://example.com/claim"], json!({"n": 1}));
    assert!(claims.get("https://stytch.com/organization").is_none());

    let session = &claims["https://stytch.com/session"];
    assert_eq!(session["id"], s.session_id);
    assert_eq!(
        session["attributes"],
        json!({"user_agent": "", "ip_address": ""})
    );
    assert_eq!(session["roles"], json!(["stytch_user", "editor"]));
    let expires_at = session["expires_at"].as_str().expect("expires_at");
    assert!(
        expires_at.ends_with('Z') && !expires_at.contains('.'),
        "whole seconds: {expires_at}"
    );
    let expires =
        time::OffsetDateTime::parse(expires_at, &time::format_description::well_known::Rfc3339)
            .expect("rfc3339");
    assert_eq!(expires.unix_timestamp(), s.expires_at.unix_timestamp());
    let factor = &session["authentication_factors"][0];
    assert_eq!(factor["type"], "magic_link");
    assert_eq!(factor["delivery_method"], "email");
    assert_eq!(factor["email_factor"]["email_address"], "ada@example.com");
    assert!(
        factor["email_factor"]["email_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("email-test-"))
    );
    assert!(factor.get("created_at").is_none());

    // Byte layout: sorted top-level keys, the session claim in the order real tokens use.
    let payload = raw_part(&s.session_jwt, 1);
    let order = [
        "\"aud\"",
        "\"exp\"",
        "\"https://example.com/claim\"",
        "\"https://stytch.com/session\"",
        "\"iat\"",
        "\"iss\"",
        "\"nbf\"",
        "\"sub\"",
        "\"tenant\"",
    ];
    let positions: Vec<usize> = order.iter().map(|k| payload.find(k).expect(k)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "sorted keys: {payload}"
    );
    let session_order = [
        "\"id\"",
        "\"started_at\"",
        "\"last_accessed_at\"",
        "\"expires_at\"",
        "\"attributes\"",
        "\"authentication_factors\"",
        "\"roles\"",
    ];
    let positions: Vec<usize> = session_order
        .iter()
        .map(|k| payload.find(k).expect(k))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "session claim order: {payload}"
    );
    assert!(
        payload
            .contains(r#"{"type":"magic_link","delivery_method":"email","last_authenticated_at":"#)
    );
}

#[tokio::test]
async fn b2b_jwt_carries_the_organization_claim() {
    let emu = start().await;
    let org = emu.create_organization(NewOrganization::new("Together", "together"));
    let member = emu.create_member(&org, "m@together.test");
    let s =
        emu.create_member_session(NewMemberSession::new(&org, &member).factor(Factor::sso_oidc()));
    let claims = verify(&emu, &s.session_jwt).expect("verifies");
    assert_eq!(claims["sub"], member);
    assert_eq!(
        claims["https://stytch.com/organization"],
        json!({"organization_id": org, "slug": "together"})
    );
    let session = &claims["https://stytch.com/session"];
    assert!(
        session["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("member-session-test-"))
    );
    assert_eq!(session["roles"], json!(["stytch_member"]));
    assert_eq!(
        session["attributes"],
        json!({"user_agent": "", "ip_address": ""})
    );
    let factor = &session["authentication_factors"][0];
    assert_eq!(
        (factor["type"].as_str(), factor["delivery_method"].as_str()),
        (Some("sso"), Some("sso_oidc"))
    );
    assert!(factor["oidc_sso_factor"]["provider_id"].as_str().is_some());
    assert!(
        emu.mint_jwt(&s.session_id)
            .is_some_and(|jwt| verify(&emu, &jwt).is_ok())
    );
}

#[tokio::test]
async fn rotation_serves_both_keys_and_old_tokens_still_verify() {
    let emu = start().await;
    let s = emu.create_session(NewSession::new());
    let old_kid = emu.current_kid();
    let new_kid = emu.rotate_keys();
    assert_ne!(old_kid, new_kid);
    assert_eq!(emu.current_kid(), new_kid);
    let kids: Vec<String> = emu.jwks_json()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid));

    let fresh = emu.mint_jwt(&s.session_id).expect("live session");
    assert_eq!(
        jsonwebtoken::decode_header(&fresh)
            .expect("header")
            .kid
            .as_deref(),
        Some(new_kid.as_str())
    );
    verify(&emu, &fresh).expect("new token verifies");
    verify(&emu, &s.session_jwt).expect("old token still verifies");
    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_jwt": s.session_jwt}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jsonwebtoken::decode_header(body["session_jwt"].as_str().expect("jwt"))
            .expect("h")
            .kid,
        Some(new_kid)
    );

    assert!(emu.retire_key(&old_kid));
    assert!(verify(&emu, &s.session_jwt).is_err());
    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_jwt": s.session_jwt}),
    )
    .await;
    assert_error(status, &body, 400, "unable_to_parse_session_jwt");
}

#[tokio::test]
async fn advancing_the_clock_expires_jwts_then_sessions() {
    let emu = start().await;
    let s = emu.create_session(NewSession::new().duration_minutes(60));
    let before = verify_at_emulator_now(&emu, &s.session_jwt).expect("valid when minted");
    emu.advance_clock(Duration::from_secs(600));
    let exp = before["exp"].as_i64().expect("exp");
    assert!(exp < emu.now_unix(), "expired at emulator now");

    // Strict validation (exp, leeway 0) at the emulator's now fails...
    let err = verify_at_emulator_now(&emu, &s.session_jwt).expect_err("expired at emulator now");
    assert_eq!(
        err.kind(),
        &jsonwebtoken::errors::ErrorKind::ExpiredSignature
    );

    // ...but authenticate refreshes it while the session lives.
    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_jwt": s.session_jwt}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let refreshed = verify_at_emulator_now(&emu, body["session_jwt"].as_str().expect("jwt"))
        .expect("fresh at emulator now");
    let iat = refreshed["iat"].as_i64().expect("iat");
    assert!((iat - emu.now_unix()).abs() <= 2);
    assert_eq!(refreshed["exp"].as_i64(), Some(iat + 300));
    assert!(iat >= before["iat"].as_i64().expect("iat") + 600);
    assert_eq!(
        refreshed["https://stytch.com/session"]["last_accessed_at"]
            .as_str()
            .map(str::len),
        Some(20)
    );

    emu.advance_clock(Duration::from_secs(3600));
    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_jwt": s.session_jwt}),
    )
    .await;
    assert_error(status, &body, 404, "session_not_found");
    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_token": s.session_token}),
    )
    .await;
    assert_error(status, &body, 404, "session_not_found");
    assert!(emu.mint_jwt(&s.session_id).is_none());
}

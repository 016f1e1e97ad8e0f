//! A step-up: a factor attached to a live session, through the Rust API and
//! `POST /_emulator/sessions/{id}/factors`, as Stytch then serves the session.

use std::time::Duration;

use serde_json::{Value, json};
use stytch_emulator::{EmulatorHandle, Factor, NewMemberSession, NewOrganization, NewSession};

use crate::support::{assert_error, http, post, start, verify_at_emulator_now};

/// `POST /_emulator/sessions/{id}/factors` with `body`.
async fn attach(emu: &EmulatorHandle, session_id: &str, body: Value) -> (u16, Value) {
    let res = http()
        .post(format!(
            "{}/_emulator/sessions/{session_id}/factors",
            emu.base_url()
        ))
        .json(&body)
        .send()
        .await
        .expect("sent");
    let status = res.status().as_u16();
    (status, res.json().await.expect("json"))
}

/// The factors a session JWT carries, as `(type, last_authenticated_at)`.
fn jwt_factors(emu: &EmulatorHandle, jwt: &str) -> Vec<(String, String)> {
    let claims = verify_at_emulator_now(emu, jwt).expect("a valid, unexpired JWT");
    factors(&claims["https://stytch.com/session"]["authentication_factors"])
}

fn factors(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .expect("a factor list")
        .iter()
        .map(|f| {
            (
                f["type"].as_str().expect("type").to_owned(),
                f["last_authenticated_at"]
                    .as_str()
                    .expect("last_authenticated_at")
                    .to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_totp_step_up_is_in_the_fresh_jwt_and_in_what_stytch_answers() {
    let emu = start().await;
    let s =
        emu.create_session(NewSession::new().factor(Factor::email_magic_link("ada@example.com")));
    assert_eq!(jwt_factors(&emu, &s.session_jwt).len(), 1);

    emu.advance_clock(Duration::from_secs(120));
    let jwt = emu
        .attach_factor(&s.session_id, Factor::totp())
        .expect("a live session");
    let after = jwt_factors(&emu, &jwt);
    let types: Vec<&str> = after.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["magic_link", "totp"]);
    // The new factor is authenticated at the emulator's now, the old one is untouched.
    let claims = verify_at_emulator_now(&emu, &jwt).expect("valid");
    let iat = claims["iat"].as_i64().expect("iat");
    assert!(
        (emu.now_unix() - iat).abs() <= 1,
        "issued at the emulator's now"
    );
    assert_ne!(after[0].1, after[1].1);

    // Stytch serves the session with the factor from now on, for the old token too.
    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_token": s.session_token}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(factors(&body["session"]["authentication_factors"]).len(), 2);
    assert_eq!(body["session_token"], s.session_token.as_str());
    assert_eq!(
        jwt_factors(&emu, body["session_jwt"].as_str().expect("jwt")).len(),
        2
    );

    // The same factor again is authenticated again, not listed twice.
    emu.advance_clock(Duration::from_secs(60));
    let again = jwt_factors(
        &emu,
        &emu.attach_factor(&s.session_id, Factor::totp())
            .expect("live"),
    );
    assert_eq!(again.len(), 2);
    assert_eq!(again[0], after[0]);
    assert!(again[1].1 > after[1].1, "{again:?} vs {after:?}");
}

#[tokio::test]
async fn the_control_route_attaches_a_factor_or_answers_404() {
    let emu = start().await;
    let s =
        emu.create_session(NewSession::new().factor(Factor::email_magic_link("ada@example.com")));
    let (status, body) = attach(&emu, &s.session_id, json!({"kind": "totp"})).await;
    assert_eq!(status, 200, "{body}");
    let jwt = body["session_jwt"].as_str().expect("session_jwt");
    let types: Vec<String> = jwt_factors(&emu, jwt).into_iter().map(|(t, _)| t).collect();
    assert_eq!(types, ["magic_link", "totp"]);

    // A raw factor object is accepted as in `POST sessions`.
    let (status, body) = attach(
        &emu,
        &s.session_id,
        json!({"type": "otp", "delivery_method": "sms", "phone_number_factor": {"phone_id": "phone-number-test-1", "phone_number": "+15555550100"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_factors(&emu, body["session_jwt"].as_str().expect("jwt")).len(),
        3
    );

    let (status, body) = attach(&emu, &s.session_id, json!({"kind": "retina"})).await;
    assert_error(status, &body, 400, "invalid_request_value");
    let (status, body) = attach(&emu, &s.session_id, json!("totp")).await;
    assert_error(status, &body, 400, "invalid_request_value");
    let (status, body) = attach(&emu, "session-test-missing", json!({"kind": "totp"})).await;
    assert_error(status, &body, 404, "session_not_found");

    // Revoked and expired sessions take no factor.
    assert!(emu.revoke_session(&s.session_id));
    let (status, body) = attach(&emu, &s.session_id, json!({"kind": "totp"})).await;
    assert_error(status, &body, 404, "session_not_found");
    let short = emu.create_session(NewSession::new().duration_minutes(5));
    emu.advance_clock(Duration::from_secs(301));
    assert_eq!(emu.attach_factor(&short.session_id, Factor::totp()), None);
}

#[tokio::test]
async fn a_b2b_member_session_takes_a_factor_too() {
    let emu = start().await;
    let org = emu.create_organization(NewOrganization::new("Acme", "acme"));
    let member = emu.create_member(&org, "a@acme.test");
    let s = emu.create_member_session(NewMemberSession::new(&org, &member));
    let jwt = emu
        .attach_factor(&s.session_id, Factor::totp())
        .expect("a live member session");
    let claims = verify_at_emulator_now(&emu, &jwt).expect("valid");
    assert_eq!(
        claims["https://stytch.com/organization"]["organization_id"],
        org.as_str()
    );
    let types: Vec<String> = jwt_factors(&emu, &jwt)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(types, ["magic_link", "totp"]);
}

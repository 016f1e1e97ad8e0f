//! Helpers shared by the acceptance tests.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use stytch_emulator::{Emulator, EmulatorHandle};

pub(crate) async fn start() -> EmulatorHandle {
    Emulator::builder().start().await.expect("emulator starts")
}

/// A plain HTTP client (no SDK).
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// POSTs JSON with the emulator's Basic auth; returns status and parsed body.
pub(crate) async fn post(emu: &EmulatorHandle, path: &str, body: Value) -> (u16, Value) {
    let res = http()
        .post(format!("{}{path}", emu.base_url()))
        .basic_auth(emu.project_id(), Some(emu.secret()))
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON body"))
}

/// GETs with the emulator's Basic auth; returns status and parsed body.
pub(crate) async fn get(emu: &EmulatorHandle, path: &str) -> (u16, Value) {
    let res = http()
        .get(format!("{}{path}", emu.base_url()))
        .basic_auth(emu.project_id(), Some(emu.secret()))
        .send()
        .await
        .expect("request sent");
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON body"))
}

/// Asserts a Stytch error body: all five fields, the status and the type.
pub(crate) fn assert_error(status: u16, body: &Value, want_status: u16, want_type: &str) {
    assert_eq!(status, want_status, "body: {body}");
    assert_eq!(body["status_code"], want_status);
    assert_eq!(body["error_type"], want_type);
    assert!(
        body["request_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("request-id-test-"))
    );
    assert!(
        body["error_message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(
        body["error_url"].as_str(),
        Some(format!("https://stytch.com/docs/api/errors/{want_status}#{want_type}").as_str())
    );
}

/// Verifies `token` with plain `jsonwebtoken` against the JWK the emulator serves for its
/// `kid`: RS256, audience and issuer checked, expiry left to the caller (the emulator's
/// clock may be ahead of the system clock).
pub(crate) fn verify(emu: &EmulatorHandle, token: &str) -> jsonwebtoken::errors::Result<Value> {
    verify_with(emu, token, None)
}

/// Like [`verify`], but also checks `exp` (leeway 0) at the emulator's now: jsonwebtoken
/// reads the system clock, so the emulator's offset is passed as
/// `reject_tokens_expiring_in_less_than`.
pub(crate) fn verify_at_emulator_now(
    emu: &EmulatorHandle,
    token: &str,
) -> jsonwebtoken::errors::Result<Value> {
    let system_now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ahead = u64::try_from(emu.now_unix() - system_now).unwrap_or(0);
    verify_with(emu, token, Some(ahead))
}

fn verify_with(
    emu: &EmulatorHandle,
    token: &str,
    check_exp_ahead: Option<u64>,
) -> jsonwebtoken::errors::Result<Value> {
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.expect("kid");
    let jwks = emu.jwks_json();
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .cloned()
        .ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
    let key = DecodingKey::from_rsa_components(
        jwk["n"].as_str().expect("n"),
        jwk["e"].as_str().expect("e"),
    )?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[emu.project_id()]);
    validation.set_issuer(&[format!("stytch.com/{}", emu.project_id())]);
    validation.validate_exp = check_exp_ahead.is_some();
    validation.reject_tokens_expiring_in_less_than = check_exp_ahead.unwrap_or(0);
    validation.validate_nbf = false;
    validation.leeway = 0;
    Ok(jsonwebtoken::decode::<Value>(token, &key, &validation)?.claims)
}

/// The raw JSON text of a JWT part (0 = header, 1 = payload), for key-order checks.
pub(crate) fn raw_part(token: &str, index: usize) -> String {
    let part = token.split('.').nth(index).expect("part");
    String::from_utf8(URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("utf8")
}

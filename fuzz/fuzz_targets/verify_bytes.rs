//! Local verification of arbitrary bytes against a warmed validator.
//!
//! The first byte picks a mode:
//! * 0: the rest is the token (lossy UTF-8). It must not authenticate, must not be
//!   cached, and must not reach Stytch (a forged token costs no remote call).
//! * 1: the rest is `header 0xFF payload`, signed by the emulator's real key, so the
//!   claim checks see arbitrary authentic JSON. No panic; if it authenticates, the
//!   payload really is a session of this project (issuer and audience).
//! * 2: the baseline valid JWT with one byte replaced (position, byte from the rest).
//!   Any change must fail, and must not reach Stytch.

#![no_main]

mod env;

use axum_stytch::Credentials;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let env = env::env();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let token = String::from_utf8_lossy(rest).into_owned();
            let calls = env.validator.stats().remote_calls;
            let result = env
                .rt
                .block_on(env.validator.authenticate(Credentials::jwt(token.clone())));
            assert!(result.is_err(), "arbitrary bytes authenticated: {token:?}");
            assert!(env.validator.cached(&token).is_none());
            // The bytes as a request carries them, text or not.
            assert!(env.validator.cached(rest).is_none());
            assert_eq!(
                env.validator.stats().remote_calls,
                calls,
                "a forged token reached Stytch: {token:?}"
            );
        }
        1 => {
            let split = rest.iter().position(|b| *b == 0xff).unwrap_or(rest.len());
            let header = String::from_utf8_lossy(&rest[..split]).into_owned();
            let payload =
                String::from_utf8_lossy(rest.get(split + 1..).unwrap_or_default()).into_owned();
            let token = env.emu.sign_raw_jwt(&header, &payload);
            let result = env
                .rt
                .block_on(env.validator.authenticate(Credentials::jwt(token)));
            if let Ok(auth) = result {
                let claims: serde_json::Value =
                    serde_json::from_str(&payload).expect("an accepted payload is JSON");
                let issuer = format!("stytch.com/{}", env.project_id);
                assert_eq!(claims["iss"].as_str(), Some(issuer.as_str()), "{payload}");
                let aud_ok = match &claims["aud"] {
                    serde_json::Value::String(a) => *a == env.project_id,
                    serde_json::Value::Array(list) => list
                        .iter()
                        .any(|a| a.as_str() == Some(env.project_id.as_str())),
                    _ => false,
                };
                assert!(aud_ok, "{payload}");
                assert!(!auth.session.user_id().is_empty());
            }
        }
        _ => {
            let (Some(&at), Some(&byte)) = (rest.first(), rest.get(1)) else {
                return;
            };
            let mut token = env.baseline.clone().into_bytes();
            let at = at as usize * 7 % token.len();
            if token[at] == byte {
                return;
            }
            token[at] = byte;
            let token = String::from_utf8_lossy(&token).into_owned();
            if token == env.baseline {
                return;
            }
            let calls = env.validator.stats().remote_calls;
            let result = env
                .rt
                .block_on(env.validator.authenticate(Credentials::jwt(token.clone())));
            assert!(result.is_err(), "a mutated token authenticated: {token:?}");
            assert_eq!(env.validator.stats().remote_calls, calls, "{token:?}");
        }
    }
});

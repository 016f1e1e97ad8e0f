//! Property tests in CI (proptest, 256 cases each): arbitrary cookie, Authorization and
//! token bytes never panic, never answer a 5xx other than 503, and never authenticate;
//! any single-byte change to a valid JWT is refused without a Stytch call. Requests go
//! through the real router in-process (`tower::ServiceExt::oneshot`) against a validator
//! warmed on the emulator. The `fuzz/` crate explores the same surfaces without bounds.

use crate::support;

use std::sync::OnceLock;

use axum_stytch::stytch_validator::Credentials;
use proptest::prelude::*;
use support::app::{self, Live, Req};

const SANDBOX_TOKEN: &str = "WJtR5BCy38Szd5AfoDpf0iqFKEt4EE5JhjlWUY7l3FtY";

struct World {
    rt: tokio::runtime::Runtime,
    live: Live,
    /// A validator of its own for the properties that count Stytch calls (the router's
    /// is shared with properties that legitimately call Stytch, in parallel).
    local: axum_stytch::Validator,
    valid: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (live, local, valid) = rt.block_on(async {
            let live = Live::warm(|b| b).await;
            let local = app::validator(
                live.emu.project_id(),
                live.emu.secret(),
                &live.emu.base_url(),
                &live.clock,
                |b| b,
            );
            local.warm_up().await.expect("warm-up");
            let valid = live.session(&[]).session_jwt;
            (live, local, valid)
        });
        World {
            rt,
            live,
            local,
            valid,
        }
    })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Bytes a header field value may hold (no CR, LF or other controls but tab).
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => 0x21u8..0x7f,
            1 => Just(b' '),
            1 => Just(b'\t'),
            1 => 0x80u8..=0xff,
            2 => prop::sample::select(b"=;.\"-_,".to_vec()),
        ],
        0..max,
    )
}

/// Text shaped like a JWT: base64url runs and dots.
fn token_like() -> impl Strategy<Value = String> {
    prop::collection::vec("[A-Za-z0-9_=+/-]{0,60}", 1..6).prop_map(|parts| parts.join("."))
}

fn refused(req: &Req, path: &'static str) -> Result<u16, TestCaseError> {
    let w = world();
    let sent = w.rt.block_on(app::call(&w.live.router, path, req));
    prop_assert!(
        sent.status < 500 || sent.status == 503,
        "a {} for {req:?}",
        sent.status
    );
    let sandbox = req.values().iter().any(|v| v.contains(SANDBOX_TOKEN));
    prop_assert!(sent.status != 200 || sandbox, "authenticated: {req:?}");
    Ok(sent.status)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_cookie_headers_never_authenticate(raw in header_bytes(400)) {
        refused(&Req::raw("cookie", raw), "/protected")?;
    }

    #[test]
    fn arbitrary_jwt_cookie_values_never_authenticate(
        value in prop_oneof![token_like().prop_map(String::into_bytes), header_bytes(300)],
    ) {
        let mut raw = b"stytch_session_jwt=".to_vec();
        raw.extend(value);
        refused(&Req::raw("cookie", raw), "/admin")?;
    }

    #[test]
    fn arbitrary_session_token_cookies_never_authenticate(value in "[A-Za-z0-9_-]{0,80}") {
        refused(&Req::session_token(&value), "/protected")?;
    }

    #[test]
    fn arbitrary_authorization_headers_never_authenticate(
        scheme in prop::sample::select(vec!["Bearer ", "bearer ", "BEARER ", "Basic ", "", "Bearer  "]),
        rest in prop_oneof![token_like().prop_map(String::into_bytes), header_bytes(300)],
    ) {
        let mut raw = scheme.as_bytes().to_vec();
        raw.extend(rest);
        refused(&Req::raw("authorization", raw), "/protected")?;
    }

    #[test]
    fn arbitrary_header_maps_never_authenticate(
        fields in prop::collection::vec(
            (prop::sample::select(vec!["cookie", "authorization", "accept"]), header_bytes(120)),
            0..5,
        ),
    ) {
        let mut req = Req::none();
        for (name, value) in fields {
            req = req.and(name, value);
        }
        refused(&req, "/admin")?;
    }

    #[test]
    fn arbitrary_token_strings_are_refused_by_the_validator(token in prop_oneof![
        token_like(),
        any::<String>(),
    ]) {
        let w = world();
        let calls = w.local.stats().remote_calls;
        let result = w.rt.block_on(w.local.authenticate(Credentials::jwt(token.clone())));
        prop_assert!(result.is_err(), "authenticated: {token:?}");
        prop_assert!(w.local.cached(&token).is_none());
        prop_assert_eq!(w.local.stats().remote_calls, calls, "went remote: {:?}", token);
    }

    #[test]
    fn any_single_byte_change_to_a_valid_jwt_is_refused_locally(
        at in any::<prop::sample::Index>(),
        byte in prop_oneof![
            prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ".to_vec()),
            0x21u8..0x7f,
        ],
    ) {
        let w = world();
        let mut token = w.valid.clone().into_bytes();
        let i = at.index(token.len());
        prop_assume!(token[i] != byte);
        token[i] = byte;
        let token = String::from_utf8(token).expect("ASCII");
        let calls = w.local.stats().remote_calls;
        let result = w.rt.block_on(w.local.authenticate(Credentials::jwt(token.clone())));
        prop_assert!(result.is_err(), "a changed token authenticated: {token}");
        prop_assert_eq!(w.local.stats().remote_calls, calls, "went remote");
        let sent = w.rt.block_on(app::call(&w.live.router, "/protected", &Req::cookie(&token)));
        prop_assert_eq!(sent.status, 401);
    }
}

#[test]
fn the_unchanged_token_is_accepted() {
    // The control for the mutation property.
    let w = world();
    let sent = w.rt.block_on(app::call(
        &w.live.router,
        "/protected",
        &Req::cookie(&w.valid),
    ));
    assert_eq!(sent.status, 200);
}

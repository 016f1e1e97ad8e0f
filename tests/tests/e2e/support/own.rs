//! Cases that need key material the emulator does not expose: the "real" key is one
//! the test holds (so it can sign RS384, PS256 or non-UTF-8 payloads), served by the
//! scripted mock together with poisoned or odd siblings (AT-031..033, AT-090..096,
//! AT-160, C-JWKS-17).

use std::sync::{Mutex, OnceLock};

use aws_lc_rs::signature;
use serde_json::{Value, json};

use super::app::Req;
use super::keys::{self, RsaKey, WeakKey, b64};
use super::mock::{Mock, Reply};
use super::runner::{AT_MOST_ONE, Case, Fixture, ONE, S200, S401, case};

pub const PID: &str = "project-test-11111111-2222-4333-8444-555555555555";
pub const SECRET: &str = "secret-test-mock-0123456789abcdef0123456789ab";

/// The test's own "Stytch" key and a second one (the wrong key of AT-094).
pub fn real() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| RsaKey::generate("jwk-test-0000aaaa-1111-4222-8333-444455556666"))
}

pub fn other() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| RsaKey::generate("jwk-test-0000bbbb-1111-4222-8333-444455556666"))
}

pub struct Own {
    pub mock: Mock,
    pub t0: i64,
    issued: Mutex<Vec<String>>,
}

impl Fixture for Own {
    fn project_id(&self) -> String {
        PID.to_owned()
    }
    fn secret(&self) -> String {
        SECRET.to_owned()
    }
    fn base_url(&self) -> String {
        self.mock.base_url()
    }
    fn t0(&self) -> i64 {
        self.t0
    }
    fn calls(&self) -> u64 {
        self.mock.auth_hits()
    }
    fn fetches(&self) -> u64 {
        self.mock.jwks_hits()
    }
    fn issued(&self) -> &Mutex<Vec<String>> {
        &self.issued
    }
    fn reset(&self) {
        self.serve(vec![real().jwk()]);
    }
}

impl Own {
    pub async fn start() -> Own {
        let mock = Mock::start().await;
        mock.set_jwks(Reply::jwks(vec![real().jwk()]));
        Own {
            mock,
            t0: 1_900_000_000,
            issued: Mutex::new(Vec::new()),
        }
    }

    fn remember(&self, token: String) -> String {
        self.issued.lock().unwrap().push(token.clone());
        token
    }

    /// Stytch-shaped claims issued at `t0`.
    pub fn claims(&self) -> Value {
        claims_at(self.t0)
    }

    pub fn header(&self, kid: &str, alg: &str) -> Value {
        json!({"alg": alg, "kid": kid, "typ": "JWT"})
    }

    /// Signed RS256 by `key` under its kid.
    pub fn sign(&self, key: &RsaKey) -> String {
        self.remember(key.sign(&self.header(&key.kid, "RS256"), &self.claims()))
    }

    fn serve(&self, keys: Vec<Value>) {
        self.mock.set_jwks(Reply::jwks(keys));
    }
}

/// Stytch-shaped claims for project [`PID`] issued at `t`.
pub fn claims_at(t: i64) -> Value {
    let fmt = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .expect("time")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format")
    };
    json!({
        "aud": [PID],
        "iss": format!("stytch.com/{PID}"),
        "sub": "user-test-12345678-aaaa-4bbb-8ccc-1234567890ab",
        "iat": t, "nbf": t, "exp": t + 300,
        "https://stytch.com/session": {
            "id": "session-test-12345678-aaaa-4bbb-8ccc-1234567890ab",
            "started_at": fmt(t - 60),
            "last_accessed_at": fmt(t),
            "expires_at": fmt(t + 3600),
            "attributes": {"user_agent": "", "ip_address": ""},
            "authentication_factors": [],
            "roles": ["stytch_user"],
        },
    })
}

fn other_alg(fx: &Own, alg: &str, padding: &'static dyn signature::RsaEncoding) -> Req {
    let header = fx.header(&real().kid, alg);
    Req::cookie(&fx.remember(real().sign_raw_with(
        padding,
        header.to_string().as_bytes(),
        fx.claims().to_string().as_bytes(),
    )))
}

fn jwk_with(key: &RsaKey, f: impl FnOnce(&mut Value)) -> Value {
    let mut jwk = key.jwk();
    f(&mut jwk);
    jwk
}

/// The rows.
pub fn all() -> Vec<Case<Own>> {
    vec![
        case("AT-001-own", S200, |fx: &Own| Req::cookie(&fx.sign(real()))),
        case("AT-031", S401, |fx: &Own| {
            other_alg(fx, "RS384", &signature::RSA_PKCS1_SHA384)
        }),
        case("AT-032", S401, |fx: &Own| {
            other_alg(fx, "RS512", &signature::RSA_PKCS1_SHA512)
        }),
        case("AT-033", S401, |fx: &Own| {
            other_alg(fx, "PS256", &signature::RSA_PSS_SHA256)
        }),
        // e = 1 under the legitimate kid, next to the real key: the "signature" is the
        // PKCS#1 v1.5 encoded digest itself, which e = 1 would accept.
        case("AT-090", S401, |fx: &Own| {
            let header = fx.header("jwk-test-poisoned", "RS256");
            let input = format!("{}.{}", b64(header.to_string()), b64(fx.claims().to_string()));
            let em = keys::pkcs1_v15_sha256(input.as_bytes(), 256);
            Req::cookie(&fx.remember(format!("{input}.{}", b64(em))))
        })
        .setup(|fx: &Own| {
            fx.serve(vec![
                real().jwk(),
                jwk_with(real(), |j| {
                    j["kid"] = json!("jwk-test-poisoned");
                    j["e"] = json!("AQ");
                }),
            ])
        })
        .fetches(AT_MOST_ONE),
        // The poisoned key is the only one under the real kid: no usable key at all, so
        // the JWT is not trusted locally and Stytch (404 here) decides.
        case("AT-090-alone", S401, |fx: &Own| {
            let header = fx.header(&real().kid, "RS256");
            let input = format!("{}.{}", b64(header.to_string()), b64(fx.claims().to_string()));
            let em = keys::pkcs1_v15_sha256(input.as_bytes(), 256);
            Req::cookie(&fx.remember(format!("{input}.{}", b64(em))))
        })
        .setup(|fx: &Own| fx.serve(vec![jwk_with(real(), |j| j["e"] = json!("AQ"))]))
        .remote(AT_MOST_ONE)
        .fetches(AT_MOST_ONE),
        case("AT-091", S401, |fx: &Own| {
            let token = WeakKey::sign(&fx.header("jwk-test-weak-1024", "RS256"), &fx.claims());
            assert!(WeakKey::verifies(&token), "the token is signed by the weak key");
            Req::cookie(&fx.remember(token))
        })
        .setup(|fx: &Own| fx.serve(vec![real().jwk(), WeakKey::jwk("jwk-test-weak-1024")]))
        .fetches(AT_MOST_ONE),
        case("AT-092", S200, |fx: &Own| Req::cookie(&fx.sign(real()))).setup(|fx: &Own| {
            fx.serve(vec![
                json!({"kty": "EC", "kid": "jwk-test-ec", "crv": "P-256", "use": "sig",
                       "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                       "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}),
                real().jwk(),
            ])
        }),
        case("AT-093", S200, |fx: &Own| Req::cookie(&fx.sign(real()))).setup(|fx: &Own| {
            fx.serve(vec![
                json!({"kty": "RSA", "kid": "jwk-test-bad", "n": "!!not base64!!", "e": 3}),
                json!(42),
                json!("a string"),
                real().jwk(),
            ])
        }),
        case("AT-094", S200, |fx: &Own| Req::cookie(&fx.sign(real()))).setup(|fx: &Own| {
            fx.serve(vec![
                jwk_with(other(), |j| j["kid"] = json!(real().kid)),
                real().jwk(),
            ])
        }),
        case("AT-094-reversed", S200, |fx: &Own| Req::cookie(&fx.sign(real()))).setup(
            |fx: &Own| {
                fx.serve(vec![
                    real().jwk(),
                    jwk_with(other(), |j| j["kid"] = json!(real().kid)),
                ])
            },
        ),
        case("AT-095", S401, |fx: &Own| Req::cookie(&fx.sign(real())))
            .setup(|fx: &Own| {
                fx.serve(vec![
                    jwk_with(real(), |j| j["use"] = json!("enc")),
                    other().jwk(),
                ])
            })
            .fetches(AT_MOST_ONE),
        case("AT-095-key_ops", S401, |fx: &Own| Req::cookie(&fx.sign(real())))
            .setup(|fx: &Own| {
                fx.serve(vec![
                    jwk_with(real(), |j| j["key_ops"] = json!(["encrypt"])),
                    other().jwk(),
                ])
            })
            .fetches(AT_MOST_ONE),
        case("AT-096", S401, |fx: &Own| Req::cookie(&fx.sign(real())))
            .setup(|fx: &Own| {
                fx.serve(vec![
                    jwk_with(real(), |j| j["alg"] = json!("RS512")),
                    other().jwk(),
                ])
            })
            .fetches(AT_MOST_ONE),
        case("AT-160", S401, |fx: &Own| {
            let header = fx.header(&real().kid, "RS256");
            let mut payload = fx.claims().to_string().into_bytes();
            // An invalid UTF-8 sequence inside the `sub` string.
            let at = payload
                .windows(9)
                .position(|w| w == b"user-test")
                .expect("sub in payload");
            payload.splice(at..at + 2, [0xff, 0xfe]);
            Req::cookie(&fx.remember(real().sign_raw(header.to_string().as_bytes(), &payload)))
        }),
        // C-JWKS-17 is AT-092/093 at the layer: both served alongside the real key.
        case("C-JWKS-17", S200, |fx: &Own| Req::cookie(&fx.sign(real()))).setup(|fx: &Own| {
            fx.serve(vec![
                json!({"kty": "OKP", "kid": "jwk-test-okp", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
                json!({"kty": "RSA", "kid": "jwk-test-truncated", "n": "AQAB"}),
                real().jwk(),
            ])
        }),
        case("AT-188-own", S401, |_: &Own| {
            Req::session_token("Zm9vYmFyLWJhei1xdXV4LXNlc3Npb24tdG9rZW4tMDE")
        })
        .remote(ONE),
    ]
}

/// The scripted mock serving [`real`], a validator on a manual clock, the app on loopback.
pub struct MockLive {
    pub mock: Mock,
    pub clock: axum_stytch::stytch_validator::ManualClock,
    pub validator: axum_stytch::Validator,
    pub addr: std::net::SocketAddr,
    pub http: reqwest::Client,
}

impl MockLive {
    pub async fn start(
        configure: impl FnOnce(
            axum_stytch::stytch_validator::StytchConfigBuilder,
        ) -> axum_stytch::stytch_validator::StytchConfigBuilder,
    ) -> MockLive {
        let mock = Mock::start().await;
        mock.set_jwks(Reply::jwks(vec![real().jwk()]));
        let clock = axum_stytch::stytch_validator::ManualClock::at_unix_secs(1_900_000_000);
        let validator = super::app::validator(PID, SECRET, &mock.base_url(), &clock, configure);
        let addr = super::app::serve(&validator).await;
        MockLive {
            mock,
            clock,
            validator,
            addr,
            http: super::app::client(),
        }
    }

    pub fn now(&self) -> i64 {
        use axum_stytch::stytch_validator::Clock as _;
        self.clock.now_secs()
    }

    /// A fresh token signed by the real key.
    pub fn fresh(&self) -> String {
        let header = json!({"alg": "RS256", "kid": real().kid, "typ": "JWT"});
        real().sign(&header, &claims_at(self.now()))
    }

    /// An authentic token that expired an hour ago (goes to Stytch).
    pub fn expired(&self) -> String {
        let header = json!({"alg": "RS256", "kid": real().kid, "typ": "JWT"});
        real().sign(&header, &claims_at(self.now() - 3900))
    }

    pub async fn get(&self, req: &Req) -> super::app::Sent {
        super::app::send(&self.http, self.addr, "/protected", req).await
    }
}

/// A Stytch `sessions/authenticate` 200 body for the default claims' session.
pub fn authenticated_body(t: i64) -> Value {
    let fmt = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .expect("time")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format")
    };
    let claims = claims_at(t);
    json!({
        "status_code": 200,
        "request_id": "request-id-test-mock",
        "session": {
            "session_id": claims["https://stytch.com/session"]["id"],
            "user_id": claims["sub"],
            "started_at": fmt(t - 60),
            "last_accessed_at": fmt(t),
            "expires_at": fmt(t + 3600),
            "attributes": {"user_agent": "", "ip_address": ""},
            "authentication_factors": [],
            "roles": ["stytch_user"],
        },
        "session_jwt": "",
        "session_token": "",
        "user": {"user_id": claims["sub"]},
    })
}

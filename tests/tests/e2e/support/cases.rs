//! The adversarial catalogue (docs/threat-model.md) against the emulator: the token,
//! header and transport cases, one row per case id. Shared by `adversarial.rs` (which
//! runs it) and `log_hygiene.rs` (which runs it again with every log line captured).

use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use stytch_emulator::{CreatedSession, Emulator, EmulatorHandle, NewSession, Route};

use super::app::{Req, Sent};
use super::keys::{self, b64};
use super::mock::Mock;
use super::runner::{AT_MOST_ONE, Case, Fixture, ONE, S200, S200_401, S401, S401_431, S403, case};

/// The emulator, a revoked session whose claims are the baseline (so every remote
/// call answers 404 `session_not_found`, the catalogue's default), a live session,
/// and the attacker's server.
pub struct Fx {
    pub emu: EmulatorHandle,
    pub attacker: Mock,
    pub t0: i64,
    pub kid: String,
    /// The baseline claims (AT-001).
    pub claims: Value,
    /// AT-001, signed by the real key.
    pub baseline: String,
    /// The real public key.
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    /// A live session: its token authenticates remotely.
    pub live: CreatedSession,
    issued: Mutex<Vec<String>>,
}

impl Fixture for Fx {
    fn project_id(&self) -> String {
        self.emu.project_id().to_owned()
    }
    fn secret(&self) -> String {
        self.emu.secret().to_owned()
    }
    fn base_url(&self) -> String {
        self.emu.base_url()
    }
    fn t0(&self) -> i64 {
        self.t0
    }
    fn calls(&self) -> u64 {
        self.emu.request_count(Route::Authenticate)
    }
    fn fetches(&self) -> u64 {
        self.emu.request_count(Route::Jwks)
    }
    fn attacker_hits(&self) -> u64 {
        self.attacker.total_hits()
    }
    fn issued(&self) -> &Mutex<Vec<String>> {
        &self.issued
    }
}

/// The payload of a JWT.
pub fn payload_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("three segments");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
        .expect("JSON payload")
}

fn segments(jwt: &str) -> (String, String, String) {
    let mut it = jwt.split('.');
    let h = it.next().unwrap_or_default().to_owned();
    let p = it.next().unwrap_or_default().to_owned();
    let s = it.next().unwrap_or_default().to_owned();
    (h, p, s)
}

fn decode(seg: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(seg).expect("base64url segment")
}

impl Fx {
    pub async fn start() -> Fx {
        let emu = Emulator::builder().start().await.expect("emulator starts");
        let attacker = Mock::start().await;
        let revoked = emu.create_session(NewSession::new());
        let live = emu.create_session(NewSession::new());
        let claims = payload_of(&revoked.session_jwt);
        assert!(emu.revoke_session(&revoked.session_id));
        let t0 = claims["iat"].as_i64().expect("integer iat");
        let kid = emu.current_kid();
        let jwk = emu.jwks_json()["keys"]
            .as_array()
            .and_then(|k| k.iter().find(|k| k["kid"] == kid.as_str()).cloned())
            .expect("the current key is served");
        let n = decode(jwk["n"].as_str().unwrap_or_default());
        let e = decode(jwk["e"].as_str().unwrap_or_default());
        let baseline = emu.sign_jwt(&claims);
        Fx {
            emu,
            attacker,
            t0,
            kid,
            claims,
            baseline,
            n,
            e,
            live,
            issued: Mutex::new(Vec::new()),
        }
    }

    fn remember(&self, token: String) -> String {
        self.issued.lock().unwrap().push(token.clone());
        token
    }

    /// The baseline claims changed by `f`.
    pub fn claims_with(&self, f: impl FnOnce(&mut Value)) -> Value {
        let mut c = self.claims.clone();
        f(&mut c);
        c
    }

    /// Baseline claims whose session roles are `roles`.
    pub fn with_roles(&self, roles: Value) -> Value {
        self.claims_with(|c| c["https://stytch.com/session"]["roles"] = roles)
    }

    /// Times shifted so that `iat = nbf = iat_at` and `exp = iat_at + 300`.
    pub fn issued_at(&self, iat: i64) -> Value {
        self.claims_with(|c| {
            c["iat"] = json!(iat);
            c["nbf"] = json!(iat);
            c["exp"] = json!(iat + 300);
        })
    }

    /// `{"alg":"RS256","kid":<real>,"typ":"JWT"}` changed by `f`.
    pub fn header_with(&self, f: impl FnOnce(&mut Value)) -> Value {
        let mut h = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        f(&mut h);
        h
    }

    /// Signed by the real key with the standard header.
    pub fn sign(&self, claims: &Value) -> String {
        self.remember(self.emu.sign_jwt(claims))
    }

    /// Signed by the real key under this header.
    pub fn sign_with(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(&header.to_string(), &claims.to_string())
    }

    /// Signed by the real key over these exact texts.
    pub fn sign_raw(&self, header: &str, payload: &str) -> String {
        self.remember(self.emu.sign_raw_jwt(header, payload))
    }

    /// Signed by the attacker's key under this header.
    pub fn forge(&self, header: &Value, claims: &Value) -> String {
        self.remember(keys::attacker().sign(header, claims))
    }

    /// `header.payload.signature` from raw parts.
    pub fn assemble(&self, header: &[u8], payload: &[u8], signature: &[u8]) -> String {
        self.remember(format!(
            "{}.{}.{}",
            b64(header),
            b64(payload),
            b64(signature)
        ))
    }

    /// The baseline with its signature bytes replaced.
    pub fn baseline_sig(&self, f: impl FnOnce(Vec<u8>) -> Vec<u8>) -> String {
        let (h, p, s) = segments(&self.baseline);
        self.remember(format!("{h}.{p}.{}", b64(f(decode(&s)))))
    }

    pub fn admin_claims(&self) -> Value {
        self.with_roles(json!(["stytch_user", "admin"]))
    }

    pub fn attacker_url(&self, path: &str) -> String {
        self.attacker.url(path)
    }
}

fn replace_segment(jwt: &str, index: usize, with: &str) -> String {
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    parts[index] = with.to_owned();
    parts.join(".")
}

fn pad(seg: &str) -> String {
    let mut s = seg.to_owned();
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

fn none_token(fx: &Fx, alg: &str) -> Req {
    let header = fx.header_with(|h| h["alg"] = json!(alg));
    let payload = fx.admin_claims();
    let token = format!("{}.{}.", b64(header.to_string()), b64(payload.to_string()));
    Req::cookie(&fx.remember(token))
}

fn hs(fx: &Fx, alg: &str, key: &[u8]) -> Req {
    let header = fx.header_with(|h| h["alg"] = json!(alg));
    Req::cookie(&fx.remember(keys::hmac_token(&header, &fx.admin_claims(), key)))
}

fn forged_kid(fx: &Fx, kid: Value) -> Req {
    let header = fx.header_with(|h| h["kid"] = kid);
    Req::cookie(&fx.forge(&header, &fx.admin_claims()))
}

fn real_header(fx: &Fx, f: fn(&mut Value)) -> Req {
    Req::cookie(&fx.sign_with(&fx.header_with(f), &fx.claims))
}

fn claims(fx: &Fx, f: fn(&Fx, &mut Value)) -> Req {
    let mut c = fx.claims.clone();
    f(fx, &mut c);
    Req::cookie(&fx.sign(&c))
}

fn remove(c: &mut Value, key: &str) {
    if let Some(map) = c.as_object_mut() {
        map.remove(key);
    }
}

/// The baseline claims text without its closing brace, and with `key` removed.
fn claims_text_without(fx: &Fx, key: &str) -> String {
    let mut c = fx.claims.clone();
    remove(&mut c, key);
    let text = c.to_string();
    text[..text.len() - 1].to_owned()
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn no_injected_header(_: &Fx, sent: &Sent) -> Result<(), String> {
    if sent.headers.contains_key("x-injected") {
        return Err("a header was injected into the response".into());
    }
    Ok(())
}

fn session_from_body(fx: &Fx, sent: &Sent) -> Result<(), String> {
    let body = sent.json();
    if body["user_id"] != fx.claims["sub"] {
        return Err(format!("handler saw {body}"));
    }
    Ok(())
}

/// Token forgery and key injection (the emulator-signed part).
pub fn forgery() -> Vec<Case<Fx>> {
    vec![
        case("AT-001", S200, |fx: &Fx| Req::cookie(&fx.baseline)).check(session_from_body),
        case("AT-002", S200, |fx: &Fx| Req::bearer(&fx.baseline)),
        case("AT-003", S200, |fx: &Fx| {
            Req::raw("authorization", format!("bearer {}", fx.baseline))
        }),
        case("AT-020", S401, |fx: &Fx| none_token(fx, "none")).admin(),
        case("AT-021", S401, |fx: &Fx| none_token(fx, "None")).admin(),
        case("AT-022", S401, |fx: &Fx| none_token(fx, "NONE")).admin(),
        case("AT-023", S401, |fx: &Fx| none_token(fx, "nOnE")).admin(),
        case("AT-024", S401, |fx: &Fx| {
            let (_, _, s) = segments(&fx.baseline);
            let header = fx.header_with(|h| h["alg"] = json!("none"));
            let token = format!(
                "{}.{}.{s}",
                b64(header.to_string()),
                b64(fx.admin_claims().to_string())
            );
            Req::cookie(&fx.remember(token))
        })
        .admin(),
        case("AT-025", S401, |fx: &Fx| {
            let pem = keys::pem("PUBLIC KEY", &keys::spki_der(&fx.n, &fx.e));
            hs(fx, "HS256", pem.as_bytes())
        })
        .admin(),
        case("AT-026", S401, |fx: &Fx| {
            let pem = keys::pem("RSA PUBLIC KEY", &keys::pkcs1_der(&fx.n, &fx.e));
            hs(fx, "HS512", pem.as_bytes())
        })
        .admin(),
        case("AT-027", S401, |fx: &Fx| {
            hs(fx, "HS256", &keys::spki_der(&fx.n, &fx.e))
        })
        .admin(),
        case("AT-028", S401, |fx: &Fx| {
            let jwk = fx.emu.jwks_json()["keys"][0].to_string();
            hs(fx, "HS256", jwk.as_bytes())
        })
        .admin(),
        case("AT-029", S401, |fx: &Fx| {
            let pem = keys::pem("PUBLIC KEY", &keys::spki_der(&fx.n, &fx.e));
            hs(fx, "HS256", pem.trim_end().as_bytes())
        })
        .admin(),
        case("AT-030", S401, |fx: &Fx| hs(fx, "HS256", b"")).admin(),
        case("AT-034", S401, |fx: &Fx| {
            let header = fx.header_with(|h| h["alg"] = json!("ES256"));
            Req::cookie(&fx.assemble(
                header.to_string().as_bytes(),
                fx.admin_claims().to_string().as_bytes(),
                &[0u8; 64],
            ))
        })
        .admin(),
        case("AT-035", S401, |fx: &Fx| {
            let (h, p, _) = segments(&fx.baseline);
            Req::cookie(&fx.remember(format!("{h}.{p}.")))
        }),
        case("AT-036", S401, |fx: &Fx| {
            let (h, p, _) = segments(&fx.baseline);
            Req::cookie(&fx.remember(format!("{h}.{p}")))
        }),
        case("AT-037", S401, |fx: &Fx| {
            Req::cookie(&fx.baseline_sig(|mut s| {
                s[17] ^= 0x01;
                s
            }))
        }),
        case("AT-038", S401, |fx: &Fx| {
            Req::cookie(&fx.baseline_sig(|mut s| {
                s.truncate(s.len() - 4);
                s
            }))
        }),
        case("AT-039", S401, |fx: &Fx| {
            Req::cookie(&fx.baseline_sig(|s| vec![0; s.len()]))
        }),
        case("AT-040", S401, |fx: &Fx| {
            let n = fx.n.clone();
            Req::cookie(&fx.baseline_sig(|_| n))
        }),
        case("AT-041", S401, |fx: &Fx| {
            Req::cookie(&fx.baseline_sig(|_| pseudo_random(1024, 41)))
        }),
        case("AT-042", S401, |fx: &Fx| {
            let (h, _, s) = segments(&fx.baseline);
            let p = b64(fx.admin_claims().to_string());
            Req::cookie(&fx.remember(format!("{h}.{p}.{s}")))
        })
        .admin(),
        case("AT-043", S401, |fx: &Fx| {
            Req::cookie(&fx.forge(&fx.header_with(|_| {}), &fx.admin_claims()))
        })
        .admin(),
        case("AT-050", S401, |fx: &Fx| {
            let jwk = keys::attacker().jwk();
            let header = fx.header_with(|h| {
                h["kid"] = json!("attacker-kid");
                h["jwk"] = jwk;
            });
            Req::cookie(&fx.forge(&header, &fx.admin_claims()))
        })
        .admin()
        .fetches(AT_MOST_ONE),
        case("AT-051", S401, |fx: &Fx| {
            let jwk = keys::attacker().jwk();
            let header = fx.header_with(|h| h["jwk"] = jwk);
            Req::cookie(&fx.forge(&header, &fx.admin_claims()))
        })
        .admin(),
        case("AT-052", S401, |fx: &Fx| {
            let url = fx.attacker_url("/.well-known/jwks.json");
            let header = fx.header_with(|h| {
                h["kid"] = json!("attacker-kid");
                h["jku"] = json!(url);
            });
            Req::cookie(&fx.forge(&header, &fx.admin_claims()))
        })
        .admin()
        .fetches(AT_MOST_ONE),
        case("AT-053", S401, |fx: &Fx| {
            let url = fx.attacker_url("/.well-known/jwks.json");
            let header = fx.header_with(|h| h["jku"] = json!(url));
            Req::cookie(&fx.forge(&header, &fx.admin_claims()))
        })
        .admin(),
        case("AT-054", S401, |fx: &Fx| {
            let url = fx.attacker_url("/cert.pem");
            let header = fx.header_with(|h| h["x5u"] = json!(url));
            Req::cookie(&fx.forge(&header, &fx.admin_claims()))
        })
        .admin(),
        case("AT-055", S401, |fx: &Fx| {
            let cert = STANDARD.encode(keys::attacker_certificate());
            let header = fx.header_with(|h| h["x5c"] = json!([cert]));
            Req::cookie(&fx.forge(&header, &fx.admin_claims()))
        })
        .admin(),
        // The cloud metadata address of the row is replaced by the attacker's loopback
        // server, so that a fetch would be counted instead of leaving the machine.
        case("AT-056", S401, |fx: &Fx| {
            let url = fx.attacker_url("/latest/meta-data/");
            let header = fx.header_with(|h| h["jku"] = json!(url));
            Req::cookie(&fx.forge(&header, &fx.admin_claims()))
        })
        .admin(),
    ]
}

/// `kid` abuse (AT-044, AT-070 and AT-010 change the emulator's keys: `lifecycle` tests).
pub fn kid_abuse() -> Vec<Case<Fx>> {
    vec![
        case("AT-060", S401, |fx: &Fx| {
            let header = fx.header_with(|h| {
                h["alg"] = json!("HS256");
                h["kid"] = json!("../../../../../../../dev/null");
            });
            Req::cookie(&fx.remember(keys::hmac_token(&header, &fx.admin_claims(), b"")))
        })
        .admin(),
        case("AT-061", S401, |fx: &Fx| {
            forged_kid(fx, json!("x' OR '1'='1"))
        })
        .admin()
        .fetches(AT_MOST_ONE),
        case("AT-062", S401, |fx: &Fx| {
            let kid = format!("{}\r\nX-Injected: yes", fx.kid);
            forged_kid(fx, json!(kid))
        })
        .admin()
        .fetches(AT_MOST_ONE),
        case("AT-063", S401, |fx: &Fx| {
            let kid = format!("{}\0", fx.kid);
            forged_kid(fx, json!(kid))
        })
        .admin()
        .fetches(AT_MOST_ONE),
        case("AT-064", S401, |fx: &Fx| {
            // Cyrillic е (U+0435) for the first Latin e.
            let kid = fx.kid.replacen('e', "\u{0435}", 1);
            forged_kid(fx, json!(kid))
        })
        .admin()
        .fetches(AT_MOST_ONE),
        case("AT-065", S401, |fx: &Fx| {
            forged_kid(fx, json!(format!("{} ", fx.kid)))
        })
        .admin()
        .fetches(AT_MOST_ONE),
        case("AT-066", S401, |fx: &Fx| {
            forged_kid(fx, json!("jwk-test-6f1f0d2e-9c1b-4b43-8b8e-3b2f6c1d9a77"))
        })
        .admin()
        .fetches(AT_MOST_ONE),
        case("AT-067", S401, |fx: &Fx| {
            forged_kid(fx, json!("k".repeat(4096)))
        })
        .admin(),
        case("AT-068", S401, |fx: &Fx| {
            real_header(fx, |h| h["kid"] = json!(12345))
        }),
        case("AT-069", S401, |fx: &Fx| {
            real_header(fx, |h| remove(h, "kid"))
        }),
    ]
}

/// JOSE header semantics.
pub fn header_semantics() -> Vec<Case<Fx>> {
    vec![
        case("AT-074", S401, |fx: &Fx| {
            real_header(fx, |h| {
                h["crit"] = json!(["https://example.com/ext"]);
                h["https://example.com/ext"] = json!("on");
            })
        }),
        case("AT-075", S401, |fx: &Fx| {
            real_header(fx, |h| {
                h["crit"] = json!(["https://example.com/ext"]);
                h["https://example.com/ext"] = json!(true);
            })
        }),
        case("AT-076", S401, |fx: &Fx| {
            real_header(fx, |h| {
                h["b64"] = json!(false);
                h["crit"] = json!(["b64"]);
            })
        }),
        case("AT-077", S401, |fx: &Fx| {
            real_header(fx, |h| h["crit"] = json!([]))
        }),
        case("AT-078", S401, |fx: &Fx| {
            real_header(fx, |h| h["typ"] = json!("at+jwt"))
        }),
        // Policy (tests/README.md): `typ` is checked when present, not required.
        case("AT-079", S200, |fx: &Fx| {
            real_header(fx, |h| remove(h, "typ"))
        }),
        case("AT-012", S200, |fx: &Fx| {
            real_header(fx, |h| h["typ"] = json!("application/jwt"))
        }),
        case("AT-080", S401, |fx: &Fx| {
            real_header(fx, |h| h["cty"] = json!("JWT"))
        }),
        case("AT-081", S401, |fx: &Fx| {
            real_header(fx, |h| h["zip"] = json!("DEF"))
        }),
        case("AT-087", S401, |fx: &Fx| {
            real_header(fx, |h| h["enc"] = json!("A256GCM"))
        }),
        case("AT-082", S401, |fx: &Fx| {
            real_header(fx, |h| h["alg"] = json!("rs256"))
        }),
        case("AT-083", S401, |fx: &Fx| {
            real_header(fx, |h| remove(h, "alg"))
        }),
        case("AT-084", S401, |fx: &Fx| {
            real_header(fx, |h| h["alg"] = json!(["RS256"]))
        }),
        case("AT-085", S401, |fx: &Fx| {
            let header = format!(
                r#"{{"alg":"none","alg":"RS256","kid":"{}","typ":"JWT"}}"#,
                fx.kid
            );
            Req::cookie(&fx.sign_raw(&header, &fx.claims.to_string()))
        }),
        case("AT-086", S401, |fx: &Fx| {
            let header = format!(
                r#"{{"alg":"RS256","kid":"attacker-kid","kid":"{}","typ":"JWT"}}"#,
                fx.kid
            );
            Req::cookie(&fx.sign_raw(&header, &fx.claims.to_string()))
        }),
        case("AT-009", S200, |fx: &Fx| {
            let header = fx.header_with(|h| h["x-unknown"] = json!("ignored"));
            let claims = fx.claims_with(|c| c["extra_claim"] = json!({"nested": [1, 2]}));
            Req::cookie(&fx.sign_with(&header, &claims))
        }),
    ]
}

/// Claim violations, all signed by the real key.
pub fn claim_violations() -> Vec<Case<Fx>> {
    vec![
        case("AT-100", S401, |fx: &Fx| {
            Req::cookie(&fx.sign(&fx.issued_at(fx.t0 - 3600 - 300)))
        })
        .remote(ONE),
        case("AT-101", S401, |fx: &Fx| {
            // exp = now - leeway (5 s) - 5 s
            Req::cookie(&fx.sign(&fx.issued_at(fx.t0 - 10 - 300)))
        })
        .remote(ONE),
        case("AT-006", S200, |fx: &Fx| {
            // exp = now - leeway / 2
            Req::cookie(&fx.sign(&fx.issued_at(fx.t0 - 2 - 300)))
        }),
        case("AT-007", S200, |fx: &Fx| {
            Req::cookie(&fx.sign(&fx.issued_at(fx.t0 + 2)))
        }),
        case("AT-102", S401, |fx: &Fx| {
            let c = fx.claims_with(|c| {
                c["iat"] = json!(fx.t0 - 360);
                c["nbf"] = json!(fx.t0 - 360);
                c["exp"] = json!(fx.t0 + 240);
            });
            Req::cookie(&fx.sign(&c))
        })
        .remote(ONE)
        .config(|b| b.max_token_age(std::time::Duration::from_secs(300))),
        case("AT-103", S401, |fx: &Fx| {
            claims(fx, |_, c| remove(c, "exp"))
        }),
        case("AT-104", S401, |fx: &Fx| {
            claims(fx, |_, c| c["exp"] = json!("1800000000"))
        }),
        case("AT-105", S401, |fx: &Fx| {
            claims(fx, |_, c| c["exp"] = Value::Null)
        }),
        case("AT-106", S401, |fx: &Fx| {
            claims(fx, |_, c| c["exp"] = json!(true))
        }),
        case("AT-107", S401, |fx: &Fx| {
            claims(fx, |_, c| c["exp"] = json!(-1))
        }),
        case("AT-108", S401, |fx: &Fx| {
            claims(fx, |_, c| c["exp"] = json!(1e20))
        }),
        case("AT-109", S401, |fx: &Fx| {
            let text = format!(
                "{},\"exp\":18446744073709551617}}",
                claims_text_without(fx, "exp")
            );
            Req::cookie(&fx.sign_raw(&fx.header_with(|_| {}).to_string(), &text))
        }),
        case("AT-110", S401, |fx: &Fx| {
            claims(fx, |_, c| c["exp"] = json!(253_402_300_799_i64))
        }),
        case("AT-111", S401, |fx: &Fx| {
            claims(fx, |fx, c| c["nbf"] = json!(fx.t0 + 3600))
        })
        .remote(ONE),
        case("AT-112", S401, |fx: &Fx| {
            claims(fx, |_, c| c["nbf"] = json!("99999999999"))
        }),
        case("AT-113", S401, |fx: &Fx| {
            claims(fx, |fx, c| {
                c["iat"] = json!(fx.t0 + 3600);
                c["exp"] = json!(fx.t0 + 3900);
            })
        })
        .remote(ONE),
        case("AT-114", S401, |fx: &Fx| {
            claims(fx, |_, c| remove(c, "iat"))
        }),
        case("AT-115", S401, |fx: &Fx| {
            claims(fx, |fx, c| c["iat"] = json!(fx.t0.to_string()))
        }),
        case("AT-116", S401, |fx: &Fx| {
            claims(fx, |fx, c| {
                let past = time::OffsetDateTime::from_unix_timestamp(fx.t0 - 60)
                    .expect("time")
                    .format(&time::format_description::well_known::Rfc3339)
                    .expect("format");
                c["https://stytch.com/session"]["expires_at"] = json!(past);
            })
        })
        .remote(ONE),
        case("AT-117", S401, |fx: &Fx| {
            // The first `exp` is expired, the last one live.
            let text = format!(
                "{{\"exp\":{},{},\"exp\":{}}}",
                fx.t0 - 3600,
                &claims_text_without(fx, "exp")[1..],
                fx.t0 + 300
            );
            Req::cookie(&fx.sign_raw(&fx.header_with(|_| {}).to_string(), &text))
        }),
        case("AT-120", S401, |fx: &Fx| {
            claims(fx, |_, c| {
                c["iss"] = json!("stytch.com/project-test-00000000-0000-4000-8000-000000000000")
            })
        }),
        case("AT-121", S401, |fx: &Fx| {
            claims(fx, |_, c| remove(c, "iss"))
        }),
        case("AT-122", S401, |fx: &Fx| {
            claims(fx, |_, c| c["iss"] = json!([c["iss"].clone()]))
        }),
        case("AT-123", S401, |fx: &Fx| {
            claims(fx, |_, c| {
                c["iss"] = json!(format!("{}/", c["iss"].as_str().unwrap_or_default()))
            })
        }),
        case("AT-124", S401, |fx: &Fx| {
            claims(fx, |_, c| {
                c["iss"] = json!(c["iss"].as_str().unwrap_or_default().replacen('s', "S", 1))
            })
        }),
        case("AT-125", S401, |fx: &Fx| {
            claims(fx, |_, c| c["iss"] = json!("https://login.example.com"))
        }),
        case("AT-126", S401, |fx: &Fx| {
            claims(fx, |_, c| {
                c["aud"] = json!(["project-test-00000000-0000-4000-8000-000000000000"])
            })
        }),
        case("AT-127", S401, |fx: &Fx| {
            claims(fx, |_, c| remove(c, "aud"))
        }),
        case("AT-128", S401, |fx: &Fx| {
            claims(fx, |_, c| c["aud"] = json!([]))
        }),
        case("AT-129", S401, |fx: &Fx| {
            claims(fx, |_, c| c["aud"] = json!(42))
        }),
        case("AT-130", S401, |fx: &Fx| {
            claims(fx, |_, c| c["aud"] = json!([c["aud"].clone()]))
        }),
        case("AT-004", S200, |fx: &Fx| {
            claims(fx, |_, c| c["aud"] = c["aud"][0].clone())
        }),
        case("AT-005", S200, |fx: &Fx| {
            claims(fx, |_, c| {
                c["aud"] = json!([
                    "project-test-00000000-0000-4000-8000-000000000000",
                    c["aud"][0].clone()
                ])
            })
        }),
        case("AT-131", S401, |fx: &Fx| {
            claims(fx, |_, c| remove(c, "sub"))
        }),
        case("AT-132", S401, |fx: &Fx| {
            claims(fx, |_, c| c["sub"] = json!(1234))
        }),
        case("AT-133", S401, |fx: &Fx| {
            claims(fx, |_, c| remove(c, "https://stytch.com/session"))
        }),
        case("AT-134", S401, |fx: &Fx| {
            claims(fx, |_, c| {
                remove(&mut c["https://stytch.com/session"], "id")
            })
        }),
        case("AT-135", S401, |fx: &Fx| {
            claims(fx, |_, c| {
                c["https://stytch.com/session"] = json!("session-test-x")
            })
        }),
        case("AT-136", S401, |fx: &Fx| {
            claims(fx, |_, c| {
                c["https://stytch.com/session"]["roles"] = json!("admin")
            })
        })
        .admin(),
        case("AT-137", S401, |fx: &Fx| {
            let text = format!(
                "{},\"sub\":\"user-test-aaaaaaaa-0000-4000-8000-000000000000\",\"sub\":\"user-test-bbbbbbbb-0000-4000-8000-000000000000\"}}",
                claims_text_without(fx, "sub")
            );
            Req::cookie(&fx.sign_raw(&fx.header_with(|_| {}).to_string(), &text))
        }),
        case("AT-138", S200_401, |fx: &Fx| {
            claims(fx, |_, c| c["sub"] = json!("user-test-x\r\nX-Injected: 1"))
        })
        .check(no_injected_header),
        // C-CLK-04: `exp = now - leeway` is still accepted, one second earlier is stale.
        case("C-CLK-04-edge", S200, |fx: &Fx| {
            Req::cookie(&fx.sign(&fx.issued_at(fx.t0 - 5 - 300)))
        }),
        case("C-CLK-04-past", S401, |fx: &Fx| {
            Req::cookie(&fx.sign(&fx.issued_at(fx.t0 - 6 - 300)))
        })
        .remote(ONE),
        // C-CFG-03: the custom-domain issuer only when configured, and only exactly.
        case("C-CFG-03-configured", S200, |fx: &Fx| {
            claims(fx, |_, c| c["iss"] = json!("https://login.example.com"))
        })
        .config(|b| b.custom_domain("https://login.example.com")),
        case("C-CFG-03-inexact", S401, |fx: &Fx| {
            claims(fx, |_, c| c["iss"] = json!("https://login.example.com/"))
        })
        .config(|b| b.custom_domain("https://login.example.com")),
        case("C-CFG-03-case", S401, |fx: &Fx| {
            claims(fx, |_, c| c["iss"] = json!("https://LOGIN.example.com"))
        })
        .config(|b| b.custom_domain("https://login.example.com")),
        case("AT-008", S200, |fx: &Fx| {
            claims(fx, |fx, c| {
                c["iat"] = json!(fx.t0 as f64 - 0.25);
                c["nbf"] = json!(fx.t0 as f64 - 0.25);
                c["exp"] = json!(fx.t0 as f64 + 299.5);
            })
        }),
    ]
}

/// RBAC on `/admin` (C-RBAC-01 compares the local and remote paths in `adversarial.rs`).
pub fn rbac() -> Vec<Case<Fx>> {
    vec![
        case("AT-011", S200, |fx: &Fx| {
            Req::cookie(&fx.sign(&fx.admin_claims()))
        })
        .admin(),
        case("AT-140", S403, |fx: &Fx| {
            Req::cookie(&fx.sign(&fx.with_roles(json!(["stytch_user"]))))
        })
        .admin(),
        case("AT-141", S403, |fx: &Fx| {
            Req::cookie(&fx.sign(&fx.with_roles(json!(["stytch_user", "Admin"]))))
        })
        .admin(),
        case("AT-142", S403, |fx: &Fx| {
            Req::cookie(&fx.sign(&fx.with_roles(json!(["stytch_user", "\u{0430}dmin"]))))
        })
        .admin(),
        case("AT-143", S403, |fx: &Fx| {
            Req::cookie(&fx.sign(&fx.with_roles(json!(["stytch_user", "admin_readonly"]))))
        })
        .admin(),
        case("AT-144", S403, |fx: &Fx| {
            Req::cookie(&fx.sign(&fx.with_roles(json!([]))))
        })
        .admin(),
        case("AT-145", S403, |fx: &Fx| {
            let c = fx.claims_with(|c| c["roles"] = json!(["admin"]));
            Req::cookie(&fx.sign(&c))
        })
        .admin(),
        // Policy (tests/README.md): an organization claim makes it a B2B token, which a
        // consumer project refuses outright (401) instead of answering 403.
        case("AT-145-org", S401, |fx: &Fx| {
            let c = fx.claims_with(|c| {
                c["roles"] = json!(["admin"]);
                c["https://stytch.com/organization"] = json!({"roles": ["admin"]});
            });
            Req::cookie(&fx.sign(&c))
        })
        .admin(),
        case("C-RBAC-02", S401, |fx: &Fx| {
            Req::cookie(&fx.baseline_sig(|mut s| {
                s[0] ^= 0x80;
                s
            }))
        })
        .admin(),
    ]
}

/// Encoding and parsing garbage.
pub fn encoding() -> Vec<Case<Fx>> {
    vec![
        case("AT-150", S401, |fx: &Fx| {
            let (h, p, s) = segments(&fx.baseline);
            Req::cookie(&fx.remember(format!("{}.{}.{}", pad(&h), pad(&p), pad(&s))))
        }),
        case("AT-151", S401, |fx: &Fx| {
            let (h, p, s) = segments(&fx.baseline);
            let s2 = s.replace('-', "+").replace('_', "/");
            assert_ne!(s, s2, "the signature has a `-` or `_` to replace");
            Req::cookie(&fx.remember(format!("{h}.{p}.{s2}")))
        }),
        case("AT-152", S401, |fx: &Fx| {
            let (h, p, mut s) = segments(&fx.baseline);
            // 256 bytes use 342 characters: the last one carries 4 padding bits.
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let last = s.pop().unwrap_or('A');
            let index = ALPHABET
                .iter()
                .position(|c| *c as char == last)
                .unwrap_or(0);
            s.push(ALPHABET[index | 0x0f] as char);
            Req::cookie(&fx.remember(format!("{h}.{p}.{s}")))
        }),
        // A raw LF cannot travel in an HTTP header field; the validator gets it directly.
        case("AT-153", S401, |_: &Fx| Req::none()).direct(|fx: &Fx| {
            let (h, p, s) = segments(&fx.baseline);
            let (a, b) = p.split_at(p.len() / 2);
            format!("{h}.{a}\n{b}.{s}")
        }),
        case("AT-154", S401, |fx: &Fx| {
            let (h, p, s) = segments(&fx.baseline);
            let (a, b) = h.split_at(h.len() / 2);
            Req::cookie(&fx.remember(format!("{a}\u{200b}{b}.{p}.{s}")))
        }),
        case("AT-155", S401, |fx: &Fx| {
            let (h, p, s) = segments(&fx.baseline);
            let h2 = h.replacen('e', "\u{ff45}", 1);
            Req::cookie(&fx.remember(format!("{h2}.{p}.{s}")))
        }),
        case("AT-156", S401, |fx: &Fx| {
            Req::cookie(&fx.sign_raw(r#"["RS256"]"#, &fx.claims.to_string()))
        }),
        case("AT-157", S401, |fx: &Fx| {
            Req::cookie(&fx.sign_raw("null", &fx.claims.to_string()))
        }),
        case("AT-158", S401, |fx: &Fx| {
            Req::cookie(&fx.sign_raw(r#""RS256""#, &fx.claims.to_string()))
        }),
        case("AT-159", S401, |fx: &Fx| {
            let header = format!("\u{feff}{}", fx.header_with(|_| {}));
            Req::cookie(&fx.sign_raw(&header, &fx.claims.to_string()))
        }),
        case("AT-161", S401, |fx: &Fx| {
            Req::cookie(&fx.sign_raw(&fx.header_with(|_| {}).to_string(), "[1,2,3]"))
        }),
        case("AT-167", S401, |fx: &Fx| {
            let c = &fx.claims;
            let array = json!([c["exp"], c["nbf"], c["sub"], c["iss"], c["aud"]]);
            Req::cookie(&fx.sign_raw(&fx.header_with(|_| {}).to_string(), &array.to_string()))
        }),
        case("AT-162", S401, |fx: &Fx| {
            Req::cookie(&fx.remember(format!("{}.{}", fx.baseline, b64("x"))))
        }),
        case("AT-163", S401, |fx: &Fx| {
            let (h, p, s) = segments(&fx.baseline);
            Req::cookie(&fx.remember(format!("{h}.{p}.{}.{s}.{}", b64("iv"), b64("tag"))))
        }),
        case("AT-164", S401, |_: &Fx| Req::cookie("..")),
        case("AT-165", S401, |_: &Fx| Req::cookie("hello-world")),
        case("AT-166", S401, |fx: &Fx| {
            let (h, p, s) = segments(&fx.baseline);
            let json = json!({"payload": p, "protected": h, "signature": s}).to_string();
            Req::cookie(&fx.remember(json))
        }),
        case("AT-175", S401, |fx: &Fx| {
            let text = format!("{},\"exp\":1e999999}}", claims_text_without(fx, "exp"));
            Req::cookie(&fx.sign_raw(&fx.header_with(|_| {}).to_string(), &text))
        }),
    ]
}

/// Size and complexity.
pub fn sizes() -> Vec<Case<Fx>> {
    vec![
        case("AT-170", S401, |fx: &Fx| {
            Req::cookie(&fx.assemble(
                nested(1500).as_bytes(),
                fx.claims.to_string().as_bytes(),
                &pseudo_random(256, 170),
            ))
        }),
        case("AT-170-member", S401, |fx: &Fx| {
            let header = format!(
                r#"{{"alg":"RS256","kid":"{}","typ":"JWT","x":{}}}"#,
                fx.kid,
                nested(1500)
            );
            Req::cookie(&fx.assemble(
                header.as_bytes(),
                fx.claims.to_string().as_bytes(),
                &pseudo_random(256, 171),
            ))
        }),
        case("AT-171", S401, |fx: &Fx| {
            let text = format!("{},\"x\":{}}}", claims_text_without(fx, "x"), nested(1500));
            Req::cookie(&fx.sign_raw(&fx.header_with(|_| {}).to_string(), &text))
        }),
        case("AT-172", S401_431, |fx: &Fx| {
            let c = fx.claims_with(|c| c["pad"] = json!("p".repeat(1 << 20)));
            Req::bearer(&fx.sign(&c))
        }),
        case("AT-173", S401_431, |fx: &Fx| {
            let c = fx.claims_with(|c| c["pad"] = json!("p".repeat(5800)));
            let token = fx.sign(&c);
            assert!(
                (8193..9300).contains(&token.len()),
                "just over the 8 KiB cap: {}",
                token.len()
            );
            Req::cookie(&token)
        }),
        case("AT-174", S401_431, |fx: &Fx| {
            let members: Vec<String> = (0..2000).map(|i| format!("\"m{i}\":0")).collect();
            let header = format!(
                r#"{{"alg":"RS256","kid":"{}","typ":"JWT",{}}}"#,
                fx.kid,
                members.join(",")
            );
            Req::bearer(&fx.sign_raw(&header, &fx.claims.to_string()))
        }),
        case("AT-199", S401_431, |_: &Fx| {
            Req::raw(
                "cookie",
                format!("stytch_session_jwt={}", "A".repeat(16 * 1024)),
            )
        }),
    ]
}

/// Cookie and header transport.
pub fn transport() -> Vec<Case<Fx>> {
    vec![
        case("AT-180", S401, |_: &Fx| Req::none()),
        case("AT-181", S401, |_: &Fx| {
            Req::raw("cookie", "stytch_session_jwt=")
        }),
        case("AT-182", S200_401, |fx: &Fx| {
            Req::raw("cookie", format!("stytch_session_jwt=\"{}\"", fx.baseline))
        }),
        case("AT-183", S401, |fx: &Fx| {
            Req::raw(
                "cookie",
                format!(
                    "stytch_session_jwt=garbage.garbage.garbage; stytch_session_jwt={}",
                    fx.baseline
                ),
            )
        }),
        case("AT-184", S200, |fx: &Fx| {
            Req::raw("cookie", "theme=dark")
                .and("cookie", format!("stytch_session_jwt={}", fx.baseline))
        }),
        case("AT-185", S401, |fx: &Fx| {
            Req::raw("cookie", format!("STYTCH_SESSION_JWT={}", fx.baseline))
        }),
        case("AT-186", S401, |fx: &Fx| {
            Req::raw("cookie", format!("xstytch_session_jwt={}", fx.baseline))
        }),
        case("C-HDR-01", S401, |fx: &Fx| {
            Req::raw("cookie", format!("stytch%5Fsession%5Fjwt={}", fx.baseline))
        }),
        case("AT-187", S401, |_: &Fx| {
            Req::raw("cookie", b"stytch_session_jwt=\xff\xfe\xfd".to_vec())
        }),
        case("AT-188", S401, |_: &Fx| {
            Req::session_token("Zm9vYmFyLWJhei1xdXV4LXNlc3Npb24tdG9rZW4tMDE")
        })
        .remote(ONE),
        case("AT-188-live", S200, |fx: &Fx| {
            Req::session_token(&fx.live.session_token)
        })
        .remote(ONE),
        case("AT-189", S401, |_: &Fx| {
            Req::raw(
                "cookie",
                format!(
                    "stytch_session={}{}",
                    "%00%0d%0a".repeat(10),
                    "A".repeat(3000)
                ),
            )
        }),
        // AT-190, AT-192: credentials come from one source, the first in order that
        // carries any (cookies by default); the bearer header is ignored, never mixed
        // in. `lockout.rs` checks whose session it is.
        case("AT-190", S200, |fx: &Fx| {
            let other = fx.claims_with(|c| {
                c["sub"] = json!("user-test-bbbbbbbb-0000-4000-8000-000000000000");
                c["https://stytch.com/session"]["id"] =
                    json!("session-test-bbbbbbbb-0000-4000-8000-000000000000");
            });
            let b = fx.sign(&other);
            Req::cookie(&fx.baseline).and("authorization", format!("Bearer {b}"))
        }),
        case("AT-191", S200, |fx: &Fx| {
            Req::cookie(&fx.baseline).and("authorization", format!("Bearer {}", fx.baseline))
        }),
        case("AT-192", S200, |fx: &Fx| {
            let expired = fx.sign(&fx.issued_at(fx.t0 - 3600));
            Req::cookie(&fx.baseline).and("authorization", format!("Bearer {expired}"))
        }),
        case("AT-193", S401, |_: &Fx| Req::raw("authorization", "Bearer")),
        case("AT-194", S401, |_: &Fx| {
            Req::raw("authorization", "Bearer ")
        }),
        case("AT-195", S401, |_: &Fx| {
            Req::raw("authorization", "Basic dXNlcjpwYXNz")
        }),
        case("AT-196", S401, |fx: &Fx| {
            Req::raw("authorization", format!("Bearer {} extra", fx.baseline))
        }),
        case("AT-197", S401, |fx: &Fx| {
            Req::raw("authorization", format!("Bearer{}", fx.baseline))
        }),
        case("AT-198", S401, |fx: &Fx| {
            let other = fx.sign(&fx.issued_at(fx.t0 - 1));
            Req::bearer(&fx.baseline).and("authorization", format!("Bearer {other}"))
        }),
    ]
}

/// Every emulator-backed row.
pub fn all() -> Vec<Case<Fx>> {
    let mut cases = forgery();
    cases.extend(kid_abuse());
    cases.extend(header_semantics());
    cases.extend(claim_violations());
    cases.extend(rbac());
    cases.extend(encoding());
    cases.extend(sizes());
    cases.extend(transport());
    cases
}

//! Key material the tests own: an attacker's RSA key, keys served by the scripted mock,
//! a 1024-bit key, HMAC signing, and the DER/PEM forms of a public key (for the
//! RS→HS confusion cases).

use std::sync::OnceLock;

use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, RsaEncoding};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use num_bigint::BigUint;
use serde_json::{Value, json};

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA key the test holds the private half of.
pub struct RsaKey {
    pub kid: String,
    pair: KeyPair,
}

impl RsaKey {
    pub fn generate(kid: impl Into<String>) -> RsaKey {
        RsaKey {
            kid: kid.into(),
            pair: KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"),
        }
    }

    /// The big-endian modulus without leading zeros.
    pub fn n(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec()
    }

    pub fn e(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .exponent()
            .big_endian_without_leading_zero()
            .to_vec()
    }

    /// The public JWK as Stytch publishes it.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA", "use": "sig", "key_ops": ["verify"], "alg": "RS256",
            "kid": self.kid, "n": b64(self.n()), "e": b64(self.e()),
        })
    }

    /// Signs `signing_input` with the given padding (RS256/384/512, PS256).
    pub fn sign_with(&self, padding: &'static dyn RsaEncoding, signing_input: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(padding, &rng, signing_input, &mut sig)
            .expect("RSA signing");
        sig
    }

    /// A compact JWS over these exact header and payload bytes, RS256.
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        self.sign_raw_with(&signature::RSA_PKCS1_SHA256, header, payload)
    }

    pub fn sign_raw_with(
        &self,
        padding: &'static dyn RsaEncoding,
        header: &[u8],
        payload: &[u8],
    ) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let sig = self.sign_with(padding, input.as_bytes());
        format!("{input}.{}", b64(sig))
    }

    /// Signs JSON header and claims.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(header.to_string().as_bytes(), claims.to_string().as_bytes())
    }
}

/// The attacker's key, generated once per test binary.
pub fn attacker() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| RsaKey::generate("attacker-kid"))
}

/// HMAC-SHA256/512 over a JWS signing input.
pub fn hmac(alg: &str, key: &[u8], signing_input: &[u8]) -> Vec<u8> {
    let algorithm = match alg {
        "HS512" => aws_lc_rs::hmac::HMAC_SHA512,
        _ => aws_lc_rs::hmac::HMAC_SHA256,
    };
    let key = aws_lc_rs::hmac::Key::new(algorithm, key);
    aws_lc_rs::hmac::sign(&key, signing_input).as_ref().to_vec()
}

/// A compact JWS with an HMAC signature.
pub fn hmac_token(header: &Value, claims: &Value, key: &[u8]) -> String {
    let alg = header["alg"].as_str().unwrap_or("HS256").to_owned();
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let sig = hmac(&alg, key, input.as_bytes());
    format!("{input}.{}", b64(sig))
}

fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        vec![len as u8]
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(bytes);
    der(0x02, &content)
}

/// PKCS#1 `RSAPublicKey` DER.
pub fn pkcs1_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut seq = der_uint(n);
    seq.extend(der_uint(e));
    der(0x30, &seq)
}

/// X.509 `SubjectPublicKeyInfo` DER.
pub fn spki_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    // SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
    let algorithm = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0u8];
    bits.extend(pkcs1_der(n, e));
    let mut seq = algorithm.to_vec();
    seq.extend(der(0x03, &bits));
    der(0x30, &seq)
}

/// PEM with 64-column lines and a trailing newline.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A 1024-bit RSA key (fixture `weak_1024`), generated with `openssl genrsa 1024`;
/// signing is textbook PKCS#1 v1.5 because no maintained backend signs with so small a key.
pub struct WeakKey;

const WEAK_N: &str = "b24f2d70c83c6eaa55ac991dd2c40346f4d5be0369340a2831c10baa02322e01a7c76c8032724adfd042ff3f9d02d3be8f413a3c8728060a0798d44247d76ed742dd62b57750f69eb65d5c229ed90d6cef3c81b6e63e5ac9d0d4b6a32fe79607b387b3f52faaf331b93e2a0635903b79926778f2cc2f350aada8121c310d6dc7";
const WEAK_D: &str = "4700d27673b5e4d77d504294a6a6192bfb38d5f663c12e3e3d39c31c4acd9296642a3c617c3518edb0efccd696fe56352eb469ad4aa0bc6ee8018a9c6e213268696a4bb8df7d3f0928a65d8760d5feae10e5b8e2aaeb863b00f2f8054b9ee861a6500539ac80cde2ec77f151a07d41fabb09c641419129612531b17373da5a99";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
        .collect()
}

/// EMSA-PKCS1-v1_5 encoding of SHA-256(`msg`) for a modulus of `len` bytes.
pub fn pkcs1_v15_sha256(msg: &[u8], len: usize) -> Vec<u8> {
    let digest_info_prefix = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, msg);
    let t_len = digest_info_prefix.len() + digest.as_ref().len();
    let mut em = vec![0x00, 0x01];
    em.extend(std::iter::repeat_n(0xff, len - t_len - 3));
    em.push(0x00);
    em.extend_from_slice(&digest_info_prefix);
    em.extend_from_slice(digest.as_ref());
    em
}

impl WeakKey {
    pub fn n() -> Vec<u8> {
        unhex(WEAK_N)
    }

    pub fn jwk(kid: &str) -> Value {
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": b64(Self::n()), "e": "AQAB"})
    }

    pub fn sign(header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let n = BigUint::from_bytes_be(&Self::n());
        let d = BigUint::from_bytes_be(&unhex(WEAK_D));
        let em = BigUint::from_bytes_be(&pkcs1_v15_sha256(input.as_bytes(), 128));
        let mut sig = em.modpow(&d, &n).to_bytes_be();
        while sig.len() < 128 {
            sig.insert(0, 0);
        }
        format!("{input}.{}", b64(sig))
    }

    /// Checks our own textbook signature (so AT-091 really is "signed by that key").
    pub fn verifies(token: &str) -> bool {
        let Some((input, sig)) = token.rsplit_once('.') else {
            return false;
        };
        let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        let n = BigUint::from_bytes_be(&Self::n());
        let m = BigUint::from_bytes_be(&sig).modpow(&BigUint::from(65537u32), &n);
        let mut m = m.to_bytes_be();
        while m.len() < 128 {
            m.insert(0, 0);
        }
        m == pkcs1_v15_sha256(input.as_bytes(), 128)
    }
}

/// A self-signed certificate for the attacker (the `x5c` case), DER.
pub fn attacker_certificate() -> Vec<u8> {
    let signer = rcgen::KeyPair::generate().expect("certificate key");
    let params = rcgen::CertificateParams::new(vec!["attacker.example".to_owned()])
        .expect("certificate params");
    params
        .self_signed(&signer)
        .expect("self-signed certificate")
        .der()
        .to_vec()
}

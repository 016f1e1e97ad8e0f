//! RSA signing keys and the JWKS document that publishes them.
//!
//! Keys are 2048-bit (jose rejects smaller RS256 keys) with `kid = jwk-test-<uuid>`.
//! Rotation keeps serving the old key, as Stytch does for a month after a rotation.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::ids;

/// One signing key with its public JWK.
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pub(crate) pair: KeyPair,
    /// PKCS#1 `RSAPublicKey` DER, the form signature verification takes.
    pub(crate) public_der: Vec<u8>,
    pub(crate) jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Why a key could not be made.
#[derive(Debug)]
pub(crate) struct KeyError(pub(crate) String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key generation failed: {}", self.0)
    }
}

impl SigningKey {
    pub(crate) fn generate(now: OffsetDateTime) -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| KeyError(e.to_string()))?;
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let public_der = public.as_ref().to_vec();
        let cert = self_signed_cert(&pair, now)?;
        let x5t_s256 =
            STANDARD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &cert));
        let kid = ids::test_id("jwk");
        let jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "key_ops": ["verify"],
            "alg": "RS256",
            "kid": kid,
            "x5c": [STANDARD.encode(&cert)],
            "x5tS256": x5t_s256,
            "n": n,
            "e": e,
        });
        Ok(Self {
            kid,
            pair,
            public_der,
            jwk,
        })
    }
}

/// The `x5c` certificate: self-signed, `O=Stytch`, serial 1, digitalSignature, not a CA,
/// valid for 10 years, like the one in a real Stytch JWKS.
fn self_signed_cert(pair: &KeyPair, now: OffsetDateTime) -> Result<Vec<u8>, KeyError> {
    let err = |e: rcgen::Error| KeyError(e.to_string());
    let pkcs8 = pair.as_der().map_err(|e| KeyError(e.to_string()))?;
    let signer = rcgen::KeyPair::try_from(pkcs8.as_ref()).map_err(err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "Stytch");
    params.distinguished_name = dn;
    params.serial_number = Some(rcgen::SerialNumber::from(1u64));
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.not_before = now;
    params.not_after = now + time::Duration::days(3650);
    let cert = params.self_signed(&signer).map_err(err)?;
    Ok(cert.der().to_vec())
}

/// The served keys, oldest first; the last one signs.
#[derive(Debug)]
pub(crate) struct KeyRing {
    keys: Vec<Arc<SigningKey>>,
}

impl KeyRing {
    pub(crate) fn new(now: OffsetDateTime) -> Result<Self, KeyError> {
        Ok(Self {
            keys: vec![Arc::new(SigningKey::generate(now)?)],
        })
    }

    pub(crate) fn current(&self) -> Arc<SigningKey> {
        // `keys` is never empty: `retire` refuses the signing key.
        Arc::clone(&self.keys[self.keys.len() - 1])
    }

    pub(crate) fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.keys.iter().find(|k| k.kid == kid).cloned()
    }

    /// Adds `key` as the new signing key; older keys stay served.
    pub(crate) fn push(&mut self, key: SigningKey) -> String {
        let kid = key.kid.clone();
        self.keys.push(Arc::new(key));
        kid
    }

    /// Stops serving an old key. The signing key cannot be retired.
    pub(crate) fn retire(&mut self, kid: &str) -> bool {
        let signing = self.current().kid.clone();
        if kid == signing {
            return false;
        }
        let before = self.keys.len();
        self.keys.retain(|k| k.kid != kid);
        self.keys.len() != before
    }

    /// `{"keys": [...]}` without the envelope fields.
    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_and_retirement() {
        let now = OffsetDateTime::now_utc();
        let mut ring = KeyRing::new(now).expect("keygen");
        let first = ring.current().kid.clone();
        assert!(first.starts_with("jwk-test-"));
        let jwk = &ring.jwks()["keys"][0];
        for field in [
            "kty", "use", "key_ops", "alg", "kid", "x5c", "x5tS256", "n", "e",
        ] {
            assert!(jwk.get(field).is_some(), "missing {field}");
        }
        assert_eq!(jwk["e"], "AQAB");
        // 2048-bit modulus: 256 bytes -> 342 base64url chars.
        assert_eq!(jwk["n"].as_str().map(str::len), Some(342));
        assert!(!ring.retire(&first), "the signing key must not be retired");
        let second = ring.push(SigningKey::generate(now).expect("keygen"));
        assert_eq!(ring.current().kid, second);
        assert_eq!(ring.jwks()["keys"].as_array().map(Vec::len), Some(2));
        assert!(ring.retire(&first));
        assert!(ring.find(&first).is_none());
        assert!(!ring.retire(&first));
    }
}

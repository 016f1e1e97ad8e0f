//! Remote answers kept for reuse: the local cache of Stytch's successful answers, and the
//! sealed form in which answers travel through a fleet's shared store.
//!
//! A success is kept until the fresh JWT's `exp` (never longer than the revocation
//! window), so a client that sends only its session token, or an expired JWT, costs one
//! Stytch call per JWT lifetime instead of one per request. Every hit checks the revoked
//! set. In a fleet the answer is stored under [`AnswerKey`] (a hash of the credential)
//! and sealed with AES-256-GCM under another hash of it: only a holder of the
//! credential can find and open it.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::fleet::AnswerKey;
use crate::reason::Reason;
use crate::session::{
    AuthenticationFactor, Organization, Session, SessionAttributes, SessionData, SessionSource,
};
use crate::time_fmt;
use crate::types::{Authenticated, RefreshedTokens};

/// A success kept until `until_ms`.
pub(crate) struct Kept {
    pub(crate) until_ms: i64,
    pub(crate) auth: Authenticated,
}

/// SHA-256 of the credential → the success Stytch gave for it, bounded in bytes like
/// the verified cache.
pub(crate) type AnswerCache = quick_cache::sync::Cache<
    [u8; 32],
    Arc<Kept>,
    KeptWeight,
    std::collections::hash_map::RandomState,
>;

/// Weighs a kept answer by what it holds: the session's heap, the fresh tokens, and a
/// fixed overhead.
#[derive(Clone, Copy, Default)]
pub(crate) struct KeptWeight;

impl quick_cache::Weighter<[u8; 32], Arc<Kept>> for KeptWeight {
    fn weight(&self, _: &[u8; 32], kept: &Arc<Kept>) -> u64 {
        let tokens = kept
            .auth
            .refreshed
            .as_ref()
            .map_or(0, |r| r.session_jwt.len() + r.session_token.len());
        (256 + tokens + kept.auth.session.heap_bytes()) as u64
    }
}

/// A cache of kept answers up to `bytes` in all.
pub(crate) fn new_cache(bytes: u64) -> AnswerCache {
    AnswerCache::with(
        (bytes / 4096).clamp(16, 1 << 20) as usize,
        bytes,
        KeptWeight,
        Default::default(),
        Default::default(),
    )
}

/// What one instance tells the others about a credential.
#[derive(Debug, Clone)]
pub(crate) enum SharedAnswer {
    Success { until_ms: i64, auth: Authenticated },
    Refused { until_ms: i64, reason: Reason },
}

impl SharedAnswer {
    pub(crate) fn until_ms(&self) -> i64 {
        match self {
            SharedAnswer::Success { until_ms, .. } | SharedAnswer::Refused { until_ms, .. } => {
                *until_ms
            }
        }
    }
}

/// The shared-store key and the sealing key of a credential, domain-separated.
pub(crate) struct FleetKeys {
    pub(crate) key: AnswerKey,
    seal: [u8; 32],
}

fn hash(domain: &[u8], project_id: &str, credential: &str) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(domain);
    ctx.update(project_id.as_bytes());
    ctx.update(b"\0");
    ctx.update(credential.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl FleetKeys {
    pub(crate) fn new(project_id: &str, credential: &str) -> Self {
        Self {
            key: AnswerKey(hash(
                b"stytch-validator answer key v1\0",
                project_id,
                credential,
            )),
            seal: hash(b"stytch-validator answer seal v1\0", project_id, credential),
        }
    }

    fn aead(&self) -> Option<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, &self.seal)
            .ok()
            .map(LessSafeKey::new)
    }

    /// `nonce || ciphertext || tag`.
    pub(crate) fn seal(&self, answer: &SharedAnswer) -> Option<Vec<u8>> {
        let mut body = serde_json::to_vec(&Wire::from(answer)).ok()?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&self.key.0),
                &mut body,
            )
            .ok()?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + body.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&body);
        Some(sealed)
    }

    /// `None` for anything that does not open under this credential's key.
    pub(crate) fn open(&self, sealed: &[u8]) -> Option<SharedAnswer> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = self
            .aead()?
            .open_in_place(nonce, Aad::from(&self.key.0), &mut body)
            .ok()?;
        serde_json::from_slice::<Wire>(plain).ok()?.into_answer()
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u8,
    until_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session: Option<WireSession>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_jwt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_token: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct WireSession {
    session_id: String,
    user_id: String,
    #[serde(default, with = "time_fmt::option")]
    started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time_fmt::option")]
    last_accessed_at: Option<OffsetDateTime>,
    #[serde(with = "time_fmt::option")]
    expires_at: Option<OffsetDateTime>,
    attributes: SessionAttributes,
    authentication_factors: Vec<AuthenticationFactor>,
    roles: Vec<String>,
    custom_claims: Map<String, Value>,
    #[serde(default)]
    organization: Option<(String, String)>,
}

impl From<&SharedAnswer> for Wire {
    fn from(answer: &SharedAnswer) -> Self {
        match answer {
            SharedAnswer::Refused { until_ms, reason } => Wire {
                v: 1,
                until_ms: *until_ms,
                refused: Some(reason.as_str().to_owned()),
                session: None,
                session_jwt: None,
                session_token: None,
            },
            SharedAnswer::Success { until_ms, auth } => {
                let s = &auth.session;
                Wire {
                    v: 1,
                    until_ms: *until_ms,
                    refused: None,
                    session: Some(WireSession {
                        session_id: s.session_id().to_owned(),
                        user_id: s.user_id().to_owned(),
                        started_at: s.started_at(),
                        last_accessed_at: s.last_accessed_at(),
                        expires_at: Some(s.expires_at()),
                        attributes: s.attributes().clone(),
                        authentication_factors: s.authentication_factors().to_vec(),
                        roles: s.roles().to_vec(),
                        custom_claims: s.custom_claims_map().clone(),
                        organization: s
                            .organization()
                            .map(|o| (o.organization_id.clone(), o.slug.clone())),
                    }),
                    session_jwt: auth.refreshed.as_ref().map(|r| r.session_jwt.clone()),
                    session_token: auth.refreshed.as_ref().map(|r| r.session_token.clone()),
                }
            }
        }
    }
}

impl Wire {
    fn into_answer(self) -> Option<SharedAnswer> {
        if self.v != 1 {
            return None;
        }
        if let Some(refused) = self.refused {
            let reason = *Reason::ALL.iter().find(|r| r.as_str() == refused)?;
            // Only Stytch's verdicts on a session travel; nothing else may refuse here.
            if !matches!(reason, Reason::SessionNotFound | Reason::SessionInvalid) {
                return None;
            }
            return Some(SharedAnswer::Refused {
                until_ms: self.until_ms,
                reason,
            });
        }
        let s = self.session?;
        let session = Session::from_data(SessionData {
            claims_memo: Default::default(),
            session_id: s.session_id,
            user_id: s.user_id,
            started_at: s.started_at,
            last_accessed_at: s.last_accessed_at,
            expires_at: s.expires_at?,
            attributes: s.attributes,
            authentication_factors: s.authentication_factors,
            roles: s.roles,
            custom_claims: s.custom_claims,
            organization: s.organization.map(|(organization_id, slug)| Organization {
                organization_id,
                slug,
            }),
            source: SessionSource::Remote,
        });
        let refreshed = match (self.session_jwt, self.session_token) {
            (Some(session_jwt), Some(session_token)) => Some(RefreshedTokens {
                session_jwt,
                session_token,
            }),
            _ => None,
        };
        Some(SharedAnswer::Success {
            until_ms: self.until_ms,
            auth: Authenticated { session, refreshed },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        crate::session::tests::session(SessionSource::Remote)
    }

    #[test]
    fn answers_open_only_under_the_credential_that_sealed_them() {
        let keys = FleetKeys::new("project-test-1", "token-a");
        let answer = SharedAnswer::Success {
            until_ms: 42,
            auth: Authenticated {
                session: session(),
                refreshed: Some(RefreshedTokens {
                    session_jwt: "a.b.c".into(),
                    session_token: "token-a".into(),
                }),
            },
        };
        let sealed = keys.seal(&answer).unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("user-test-1") && !text.contains("a.b.c"));
        let SharedAnswer::Success { until_ms, auth } = keys.open(&sealed).unwrap() else {
            panic!("a success");
        };
        assert_eq!(until_ms, 42);
        assert_eq!(auth.session, session());
        assert_eq!(auth.refreshed.unwrap().session_jwt, "a.b.c");
        assert!(
            FleetKeys::new("project-test-1", "token-b")
                .open(&sealed)
                .is_none()
        );
        assert!(
            FleetKeys::new("project-test-2", "token-a")
                .open(&sealed)
                .is_none()
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(keys.open(&tampered).is_none());
        assert_ne!(keys.key.0, keys.seal, "the key and the seal differ");
    }

    #[test]
    fn only_session_verdicts_travel_as_refusals() {
        let keys = FleetKeys::new("p", "t");
        for (reason, travels) in [
            (Reason::SessionNotFound, true),
            (Reason::SessionInvalid, true),
            (Reason::StytchUnavailable, false),
        ] {
            let sealed = keys
                .seal(&SharedAnswer::Refused {
                    until_ms: 1,
                    reason,
                })
                .unwrap();
            assert_eq!(keys.open(&sealed).is_some(), travels, "{reason}");
        }
    }
}

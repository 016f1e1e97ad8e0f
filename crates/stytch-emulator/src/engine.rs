//! The emulator's shared state and the operations behind both the Rust control API and
//! the HTTP routes.
//!
//! Lock order: `store`, then `keys`. Neither lock is held across an `.await`.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::clock::Clock;
use crate::errors::ApiError;
use crate::faults::Faults;
use crate::fixtures::{
    CreatedSession, Factor, NewMemberSession, NewOrganization, NewSession, NewUser,
};
use crate::keys::{KeyError, KeyRing, SigningKey};
use crate::store::{
    Contact, MemberRecord, OrganizationRecord, SessionRecord, Sessions, Store, StoredFactor,
    UserRecord,
};
use crate::{ids, jwt, rbac};

/// Sandbox session token that always authenticates (docs/stytch-protocol.md#sandbox-values).
pub(crate) const SANDBOX_TOKEN: &str = "WJtR5BCy38Szd5AfoDpf0iqFKEt4EE5JhjlWUY7l3FtY";
const SANDBOX_USER_ID: &str = "user-test-e3795c81-f849-4167-bfda-e4a6e9c280fd";
const SANDBOX_SESSION_ID: &str = "session-test-eb94233f-8800-4ebd-8645-51dc15f9d028";
const SANDBOX_EMAIL_ID: &str = "email-test-23873e89-d4ed-4e92-b3b9-e5c7198fa286";
const SANDBOX_EMAIL: &str = "sandbox@stytch.com";
const SANDBOX_STARTED_AT: OffsetDateTime = datetime!(2021-08-28 00:41:58.935673 UTC);

/// Consumer or B2B: which session table, policy and response shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vertical {
    Consumer,
    B2b,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) project_id: String,
    pub(crate) secret: String,
    pub(crate) default_consumer_role: Option<String>,
    pub(crate) clock: Clock,
    pub(crate) faults: Faults,
    keys: RwLock<KeyRing>,
    store: Mutex<Store>,
}

impl Shared {
    pub(crate) fn new(
        project_id: String,
        secret: String,
        default_consumer_role: Option<String>,
    ) -> Result<Self, KeyError> {
        let clock = Clock::default();
        let now = clock.now();
        let keys = KeyRing::new(now)?;
        let store = Store {
            users: Default::default(),
            sessions: Sessions::default(),
            organizations: Default::default(),
            members: Default::default(),
            member_sessions: Sessions::default(),
            consumer_policy: rbac::default_consumer_policy(default_consumer_role.as_deref()),
            b2b_policy: rbac::default_b2b_policy(),
        };
        let shared = Self {
            project_id,
            secret,
            default_consumer_role,
            clock,
            faults: Faults::default(),
            keys: RwLock::new(keys),
            store: Mutex::new(store),
        };
        shared.revive_sandbox(&mut shared.store(), now);
        Ok(shared)
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn keys(&self) -> RwLockReadGuard<'_, KeyRing> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    fn keys_mut(&self) -> RwLockWriteGuard<'_, KeyRing> {
        self.keys.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes sure the sandbox user and session exist and are live.
    pub(crate) fn revive_sandbox(&self, store: &mut Store, now: OffsetDateTime) {
        if !store.users.contains_key(SANDBOX_USER_ID) {
            let user = UserRecord {
                user_id: SANDBOX_USER_ID.into(),
                email: Some(Contact {
                    id: SANDBOX_EMAIL_ID.into(),
                    value: SANDBOX_EMAIL.into(),
                }),
                phone: None,
                name: None,
                roles: self.default_consumer_role.iter().cloned().collect(),
                created_at: SANDBOX_STARTED_AT,
            };
            store.users.insert(user.user_id.clone(), user);
        }
        let fresh_expiry = now + time::Duration::minutes(60);
        match store.sessions.by_id.get_mut(SANDBOX_SESSION_ID) {
            Some(rec) => rec.expires_at = rec.expires_at.max(fresh_expiry),
            None => {
                let mut fields = Map::new();
                fields.insert("type".into(), "magic_link".into());
                fields.insert("delivery_method".into(), "email".into());
                fields.insert(
                    "email_factor".into(),
                    serde_json::json!({ "email_id": SANDBOX_EMAIL_ID, "email_address": SANDBOX_EMAIL }),
                );
                store.sessions.insert(SessionRecord {
                    session_id: SANDBOX_SESSION_ID.into(),
                    subject_id: SANDBOX_USER_ID.into(),
                    organization_id: None,
                    token: SANDBOX_TOKEN.into(),
                    started_at: SANDBOX_STARTED_AT,
                    last_accessed_at: now,
                    expires_at: fresh_expiry,
                    factors: vec![StoredFactor {
                        fields,
                        authenticated_at: now,
                    }],
                    roles: self.default_consumer_role.iter().cloned().collect(),
                    custom_claims: Map::new(),
                });
            }
        }
    }

    // ---- users and consumer sessions ----

    pub(crate) fn create_user(&self, u: NewUser) -> String {
        let now = self.clock.now();
        let user = self.user_record(u, None, None, now);
        let id = user.user_id.clone();
        self.store().users.insert(id.clone(), user);
        id
    }

    fn user_record(
        &self,
        u: NewUser,
        email_id: Option<String>,
        phone_id: Option<String>,
        now: OffsetDateTime,
    ) -> UserRecord {
        let mut roles: Vec<String> = self.default_consumer_role.iter().cloned().collect();
        push_unique(&mut roles, u.roles);
        UserRecord {
            user_id: ids::test_id("user"),
            email: u.email.map(|value| Contact {
                id: email_id.unwrap_or_else(|| ids::test_id("email")),
                value,
            }),
            phone: u.phone.map(|value| Contact {
                id: phone_id.unwrap_or_else(|| ids::test_id("phone-number")),
                value,
            }),
            name: u.name,
            roles,
            created_at: now,
        }
    }

    pub(crate) fn create_session(&self, s: NewSession) -> Result<CreatedSession, ApiError> {
        let now = self.clock.now();
        let mut store = self.store();
        let user = match &s.user_id {
            Some(id) => store.users.get(id).cloned().ok_or_else(|| {
                ApiError::new(
                    404,
                    "user_not_found",
                    format!("User {id} could not be found."),
                )
            })?,
            None => {
                // A new user whose email/phone come from the factors, sharing their ids.
                let email = s
                    .factors
                    .iter()
                    .find_map(|f| sub_field(f, "email_factor", "email_address", "email_id"));
                let phone = s
                    .factors
                    .iter()
                    .find_map(|f| sub_field(f, "phone_number_factor", "phone_number", "phone_id"));
                let (email, email_id) = match email {
                    Some((value, id)) => (value, Some(id)),
                    None => (
                        format!(
                            "{}@example.com",
                            &ids::test_id("user")["user-test-".len()..]
                        ),
                        None,
                    ),
                };
                let mut new_user = NewUser::new().email(&email);
                if let Some((value, _)) = &phone {
                    new_user = new_user.phone(value);
                }
                let user = self.user_record(new_user, email_id, phone.map(|(_, id)| id), now);
                store.users.insert(user.user_id.clone(), user.clone());
                user
            }
        };
        let mut factors = s.factors;
        if factors.is_empty() {
            let email = user.email.as_ref().map_or_else(
                || format!("{}@example.com", user.user_id),
                |e| e.value.clone(),
            );
            factors.push(Factor::email_magic_link(&email));
        }
        let factors = factors
            .into_iter()
            .map(|f| stored_factor(f, user.email.as_ref(), user.phone.as_ref(), now))
            .collect();
        let mut roles = user.roles.clone();
        push_unique(&mut roles, s.roles);
        let rec = SessionRecord {
            session_id: ids::test_id("session"),
            subject_id: user.user_id.clone(),
            organization_id: None,
            token: ids::session_token(),
            started_at: now,
            last_accessed_at: now,
            expires_at: session_expiry(now, s.duration_minutes),
            factors,
            roles,
            custom_claims: s.custom_claims,
        };
        let jwt = self.sign_session(&rec, None, now)?;
        let created = created(&rec, jwt);
        store.sessions.insert(rec);
        Ok(created)
    }

    // ---- B2B ----

    pub(crate) fn create_organization(&self, o: NewOrganization) -> String {
        let rec = OrganizationRecord {
            organization_id: ids::test_id("organization"),
            name: o.name,
            slug: o.slug,
            custom_roles: Vec::new(),
            created_at: self.clock.now(),
        };
        let id = rec.organization_id.clone();
        self.store().organizations.insert(id.clone(), rec);
        id
    }

    pub(crate) fn set_organization_roles(
        &self,
        organization_id: &str,
        roles: Value,
    ) -> Result<Vec<Value>, ApiError> {
        let mut store = self.store();
        let org = store
            .organizations
            .get_mut(organization_id)
            .ok_or_else(|| organization_not_found(organization_id))?;
        org.custom_roles = rbac::normalize_roles(roles);
        Ok(org.custom_roles.clone())
    }

    pub(crate) fn create_member(
        &self,
        organization_id: &str,
        email: &str,
    ) -> Result<String, ApiError> {
        let mut store = self.store();
        if !store.organizations.contains_key(organization_id) {
            return Err(organization_not_found(organization_id));
        }
        let rec = MemberRecord {
            member_id: ids::test_id("member"),
            organization_id: organization_id.to_owned(),
            email: Contact {
                id: ids::test_id("email"),
                value: email.to_owned(),
            },
            created_at: self.clock.now(),
        };
        let id = rec.member_id.clone();
        store.members.insert(id.clone(), rec);
        Ok(id)
    }

    pub(crate) fn create_member_session(
        &self,
        s: NewMemberSession,
    ) -> Result<CreatedSession, ApiError> {
        let now = self.clock.now();
        let mut store = self.store();
        let org = store
            .organizations
            .get(&s.organization_id)
            .cloned()
            .ok_or_else(|| organization_not_found(&s.organization_id))?;
        let member = store
            .members
            .get(&s.member_id)
            .filter(|m| m.organization_id == s.organization_id)
            .cloned()
            .ok_or_else(|| ApiError::new(404, "member_not_found", "Member could not be found."))?;
        let mut factors = s.factors;
        if factors.is_empty() {
            factors.push(Factor::email_magic_link(&member.email.value));
        }
        let factors = factors
            .into_iter()
            .map(|f| stored_factor(f, Some(&member.email), None, now))
            .collect();
        let mut roles = vec!["stytch_member".to_owned()];
        push_unique(&mut roles, s.roles);
        let rec = SessionRecord {
            session_id: ids::test_id("member-session"),
            subject_id: member.member_id.clone(),
            organization_id: Some(org.organization_id.clone()),
            token: ids::session_token(),
            started_at: now,
            last_accessed_at: now,
            expires_at: session_expiry(now, s.duration_minutes),
            factors,
            roles,
            custom_claims: s.custom_claims,
        };
        let jwt = self.sign_session(&rec, Some(&org), now)?;
        let created = created(&rec, jwt);
        store.member_sessions.insert(rec);
        Ok(created)
    }

    // ---- either vertical ----

    /// A fresh JWT for a live session of either vertical.
    pub(crate) fn mint_jwt(&self, session_id: &str) -> Option<String> {
        let now = self.clock.now();
        let store = self.store();
        if let Some(rec) = store
            .sessions
            .by_id
            .get(session_id)
            .filter(|r| r.is_live(now))
        {
            return self.sign_session(rec, None, now).ok();
        }
        let rec = store
            .member_sessions
            .by_id
            .get(session_id)
            .filter(|r| r.is_live(now))?;
        let org = store.organizations.get(rec.organization_id.as_deref()?)?;
        self.sign_session(rec, Some(org), now).ok()
    }

    /// Adds `factor` to a live session of either vertical, as Stytch does when a user
    /// authenticates another factor with an existing session: a factor of the same
    /// `type` and `delivery_method` is authenticated again (its time moves to now and its
    /// ids stay), any other is appended. Returns a fresh JWT carrying it.
    pub(crate) fn attach_factor(&self, session_id: &str, factor: Factor) -> Option<String> {
        let now = self.clock.now();
        let mut guard = self.store();
        let store = &mut *guard;
        let (rec, org) = if let Some(rec) = store
            .sessions
            .by_id
            .get_mut(session_id)
            .filter(|r| r.is_live(now))
        {
            (rec, None)
        } else {
            let rec = store
                .member_sessions
                .by_id
                .get_mut(session_id)
                .filter(|r| r.is_live(now))?;
            let org = store.organizations.get(rec.organization_id.as_deref()?)?;
            (rec, Some(org))
        };
        // Reuse the subject's email and phone ids, as when the session was created.
        let (email, phone) = match org {
            Some(_) => (store.members.get(&rec.subject_id).map(|m| &m.email), None),
            None => store
                .users
                .get(&rec.subject_id)
                .map_or((None, None), |u| (u.email.as_ref(), u.phone.as_ref())),
        };
        let new = stored_factor(factor, email, phone, now);
        let same_kind = |f: &StoredFactor| {
            f.fields.get("type") == new.fields.get("type")
                && f.fields.get("delivery_method") == new.fields.get("delivery_method")
        };
        match rec.factors.iter_mut().find(|f| same_kind(f)) {
            Some(existing) => existing.authenticated_at = new.authenticated_at,
            None => rec.factors.push(new),
        }
        rec.last_accessed_at = now;
        self.sign_session(rec, org, now).ok()
    }

    /// Revokes a live session of either vertical.
    pub(crate) fn revoke_session(&self, session_id: &str) -> bool {
        let now = self.clock.now();
        let mut store = self.store();
        let live = |s: &Sessions| s.by_id.get(session_id).is_some_and(|r| r.is_live(now));
        if live(&store.sessions) {
            store.sessions.remove(session_id);
            true
        } else if live(&store.member_sessions) {
            store.member_sessions.remove(session_id);
            true
        } else {
            false
        }
    }

    /// Signs a session JWT issued at `now` with the current key.
    pub(crate) fn sign_session(
        &self,
        rec: &SessionRecord,
        org: Option<&OrganizationRecord>,
        now: OffsetDateTime,
    ) -> Result<String, ApiError> {
        let claims = jwt::session_claims(
            &self.project_id,
            rec,
            org.map(|o| (o.organization_id.as_str(), o.slug.as_str())),
            now.unix_timestamp(),
        );
        let key = self.keys().current();
        jwt::sign(&key, &claims).map_err(ApiError::internal)
    }

    // ---- keys and policies ----

    pub(crate) fn current_kid(&self) -> String {
        self.keys().current().kid.clone()
    }

    pub(crate) fn sign_raw(&self, header: &[u8], payload: &[u8]) -> Result<String, ApiError> {
        let key = self.keys().current();
        crate::jwt::sign_raw(&key, header, payload).map_err(ApiError::internal)
    }

    pub(crate) fn rotate_keys(&self) -> Result<String, ApiError> {
        // Generate outside the lock: key generation takes a while.
        let key = SigningKey::generate(self.clock.now())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(self.keys_mut().push(key))
    }

    pub(crate) fn retire_key(&self, kid: &str) -> bool {
        self.keys_mut().retire(kid)
    }

    pub(crate) fn jwks(&self) -> Value {
        self.keys().jwks()
    }

    pub(crate) fn set_policy(&self, vertical: Vertical, policy: Value) -> Value {
        let policy = rbac::normalize_policy(policy);
        let mut store = self.store();
        match vertical {
            Vertical::Consumer => store.consumer_policy = policy.clone(),
            Vertical::B2b => store.b2b_policy = policy.clone(),
        }
        policy
    }
}

/// `now + minutes`, capped at 100 years so no duration can overflow the date range.
fn session_expiry(now: OffsetDateTime, minutes: u32) -> OffsetDateTime {
    const MAX_MINUTES: i64 = 100 * 366 * 24 * 60;
    now + time::Duration::minutes(i64::from(minutes).min(MAX_MINUTES))
}

pub(crate) fn organization_not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        "organization_not_found",
        format!("Organization {id} could not be found."),
    )
}

fn created(rec: &SessionRecord, session_jwt: String) -> CreatedSession {
    CreatedSession {
        session_id: rec.session_id.clone(),
        user_id: rec.subject_id.clone(),
        organization_id: rec.organization_id.clone(),
        session_token: rec.token.clone(),
        session_jwt,
        expires_at: rec.expires_at,
    }
}

fn push_unique(roles: &mut Vec<String>, more: Vec<String>) {
    for r in more {
        if !roles.contains(&r) {
            roles.push(r);
        }
    }
}

/// `(value, id)` of a factor sub-object's contact, e.g. `email_factor.email_address`.
fn sub_field(f: &Factor, sub: &str, value_key: &str, id_key: &str) -> Option<(String, String)> {
    let obj = f.fields.get(sub)?;
    let value = obj.get(value_key)?.as_str()?.to_owned();
    let id = obj.get(id_key)?.as_str()?.to_owned();
    Some((value, id))
}

/// Pins the factor's time and reuses the subject's email/phone ids when they match.
fn stored_factor(
    f: Factor,
    email: Option<&Contact>,
    phone: Option<&Contact>,
    now: OffsetDateTime,
) -> StoredFactor {
    let mut fields = f.fields;
    for (sub, value_key, id_key, contact) in [
        ("email_factor", "email_address", "email_id", email),
        ("phone_number_factor", "phone_number", "phone_id", phone),
    ] {
        if let (Some(Value::Object(obj)), Some(contact)) = (fields.get_mut(sub), contact)
            && obj.get(value_key).and_then(Value::as_str) == Some(contact.value.as_str())
        {
            obj.insert(id_key.into(), contact.id.clone().into());
        }
    }
    StoredFactor {
        fields,
        authenticated_at: f.authenticated_at.unwrap_or(now),
    }
}

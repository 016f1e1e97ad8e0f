//! In-memory records: users, sessions, organizations, members and the RBAC policies.

use std::collections::HashMap;

use serde_json::{Map, Value};
use time::OffsetDateTime;

/// A contact point (email or phone) and its id.
#[derive(Debug, Clone)]
pub(crate) struct Contact {
    pub(crate) id: String,
    pub(crate) value: String,
}

#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub(crate) user_id: String,
    pub(crate) email: Option<Contact>,
    pub(crate) phone: Option<Contact>,
    pub(crate) name: Option<(String, String)>,
    /// Effective roles, the default consumer role included.
    pub(crate) roles: Vec<String>,
    pub(crate) created_at: OffsetDateTime,
}

/// A factor with its timestamps kept apart from the wire fields.
#[derive(Debug, Clone)]
pub(crate) struct StoredFactor {
    pub(crate) fields: Map<String, Value>,
    pub(crate) authenticated_at: OffsetDateTime,
}

/// A consumer session or a B2B member session.
#[derive(Debug, Clone)]
pub(crate) struct SessionRecord {
    pub(crate) session_id: String,
    /// `user_id` or `member_id`.
    pub(crate) subject_id: String,
    pub(crate) organization_id: Option<String>,
    pub(crate) token: String,
    pub(crate) started_at: OffsetDateTime,
    pub(crate) last_accessed_at: OffsetDateTime,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) factors: Vec<StoredFactor>,
    /// Effective roles as in the JWT (`stytch_user` / `stytch_member` included).
    pub(crate) roles: Vec<String>,
    pub(crate) custom_claims: Map<String, Value>,
}

impl SessionRecord {
    pub(crate) fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

#[derive(Debug, Clone)]
pub(crate) struct OrganizationRecord {
    pub(crate) organization_id: String,
    pub(crate) name: String,
    pub(crate) slug: String,
    /// Normalised custom roles (`{role_id, description, permissions}`).
    pub(crate) custom_roles: Vec<Value>,
    pub(crate) created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub(crate) struct MemberRecord {
    pub(crate) member_id: String,
    pub(crate) organization_id: String,
    pub(crate) email: Contact,
    pub(crate) created_at: OffsetDateTime,
}

/// One vertical's sessions, by id and by token.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    pub(crate) by_id: HashMap<String, SessionRecord>,
    pub(crate) id_by_token: HashMap<String, String>,
}

impl Sessions {
    pub(crate) fn insert(&mut self, rec: SessionRecord) {
        self.id_by_token
            .insert(rec.token.clone(), rec.session_id.clone());
        self.by_id.insert(rec.session_id.clone(), rec);
    }

    pub(crate) fn id_for_token(&self, token: &str) -> Option<String> {
        self.id_by_token.get(token).cloned()
    }

    /// Removes a session; revoked sessions are simply gone, so they read as not found.
    pub(crate) fn remove(&mut self, session_id: &str) -> Option<SessionRecord> {
        let rec = self.by_id.remove(session_id)?;
        self.id_by_token.remove(&rec.token);
        Some(rec)
    }
}

#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) users: HashMap<String, UserRecord>,
    pub(crate) sessions: Sessions,
    pub(crate) organizations: HashMap<String, OrganizationRecord>,
    pub(crate) members: HashMap<String, MemberRecord>,
    pub(crate) member_sessions: Sessions,
    /// Normalised `policy` objects served by the RBAC routes.
    pub(crate) consumer_policy: Value,
    pub(crate) b2b_policy: Value,
}

//! JSON shapes of API objects (docs/stytch-protocol.md#authenticating-a-session), with every
//! field strict clients require.

use serde_json::{Map, Value, json};

use crate::clock::rfc3339;
use crate::store::{MemberRecord, OrganizationRecord, SessionRecord, StoredFactor, UserRecord};

/// A factor as the API returns it: wire fields plus timestamps.
pub(crate) fn factor(f: &StoredFactor) -> Value {
    let mut map = f.fields.clone();
    let at = rfc3339(f.authenticated_at);
    map.insert("last_authenticated_at".into(), at.clone().into());
    map.insert("created_at".into(), at.clone().into());
    map.insert("updated_at".into(), at.into());
    Value::Object(map)
}

fn factors(rec: &SessionRecord) -> Vec<Value> {
    rec.factors.iter().map(factor).collect()
}

/// The consumer `session` object.
pub(crate) fn session(rec: &SessionRecord) -> Value {
    json!({
        "session_id": rec.session_id,
        "user_id": rec.subject_id,
        "authentication_factors": factors(rec),
        "roles": rec.roles,
        "started_at": rfc3339(rec.started_at),
        "last_accessed_at": rfc3339(rec.last_accessed_at),
        "expires_at": rfc3339(rec.expires_at),
        "attributes": { "ip_address": "", "user_agent": "" },
        "custom_claims": Value::Object(rec.custom_claims.clone()),
    })
}

/// The consumer `user` object.
pub(crate) fn user(u: &UserRecord) -> Value {
    let emails: Vec<Value> = u
        .email
        .iter()
        .map(|e| json!({ "email_id": e.id, "email": e.value, "verified": true }))
        .collect();
    let phones: Vec<Value> = u
        .phone
        .iter()
        .map(|p| json!({ "phone_id": p.id, "phone_number": p.value, "verified": true }))
        .collect();
    let (first, last) = u.name.clone().unwrap_or_default();
    json!({
        "user_id": u.user_id,
        "emails": emails,
        "status": "active",
        "phone_numbers": phones,
        "webauthn_registrations": [],
        "providers": [],
        "totps": [],
        "crypto_wallets": [],
        "biometric_registrations": [],
        "is_locked": false,
        "roles": u.roles,
        "name": { "first_name": first, "middle_name": "", "last_name": last },
        "created_at": rfc3339(u.created_at),
        "password": null,
        "trusted_metadata": {},
        "untrusted_metadata": {},
        "external_id": null,
        "lock_created_at": null,
        "lock_expires_at": null,
    })
}

/// The B2B `member_session` object (it has no `attributes`).
pub(crate) fn member_session(rec: &SessionRecord, org: &OrganizationRecord) -> Value {
    json!({
        "member_session_id": rec.session_id,
        "member_id": rec.subject_id,
        "started_at": rfc3339(rec.started_at),
        "last_accessed_at": rfc3339(rec.last_accessed_at),
        "expires_at": rfc3339(rec.expires_at),
        "authentication_factors": factors(rec),
        "organization_id": org.organization_id,
        "roles": rec.roles,
        "organization_slug": org.slug,
        "custom_claims": Value::Object(rec.custom_claims.clone()),
    })
}

/// The B2B `member` object; `roles` are role objects with their sources.
pub(crate) fn member(m: &MemberRecord, roles: &[String]) -> Value {
    let role_objects: Vec<Value> = roles
        .iter()
        .map(|r| {
            let source = if r == "stytch_member" {
                "implicit"
            } else {
                "direct_assignment"
            };
            json!({ "role_id": r, "sources": [{ "type": source, "details": {} }] })
        })
        .collect();
    json!({
        "organization_id": m.organization_id,
        "member_id": m.member_id,
        "email_address": m.email.value,
        "status": "active",
        "name": "",
        "sso_registrations": [],
        "is_breakglass": false,
        "member_password_id": "",
        "oauth_registrations": [],
        "email_address_verified": true,
        "mfa_phone_number_verified": false,
        "is_admin": false,
        "totp_registration_id": "",
        "retired_email_addresses": [],
        "is_locked": false,
        "mfa_enrolled": false,
        "mfa_phone_number": "",
        "default_mfa_method": "",
        "roles": role_objects,
        "trusted_metadata": {},
        "untrusted_metadata": {},
        "created_at": rfc3339(m.created_at),
        "updated_at": rfc3339(m.created_at),
        "scim_registration": null,
        "external_id": "",
        "lock_created_at": null,
        "lock_expires_at": null,
    })
}

/// The B2B `organization` object.
pub(crate) fn organization(o: &OrganizationRecord) -> Value {
    json!({
        "organization_id": o.organization_id,
        "organization_name": o.name,
        "organization_logo_url": "",
        "organization_slug": o.slug,
        "sso_jit_provisioning": "ALL_ALLOWED",
        "sso_jit_provisioning_allowed_connections": [],
        "sso_active_connections": [],
        "email_allowed_domains": [],
        "email_jit_provisioning": "NOT_ALLOWED",
        "email_invites": "ALL_ALLOWED",
        "auth_methods": "ALL_ALLOWED",
        "allowed_auth_methods": [],
        "mfa_policy": "OPTIONAL",
        "rbac_email_implicit_role_assignments": [],
        "mfa_methods": "ALL_ALLOWED",
        "allowed_mfa_methods": [],
        "oauth_tenant_jit_provisioning": "NOT_ALLOWED",
        "claimed_email_domains": [],
        "first_party_connected_apps_allowed_type": "ALL_ALLOWED",
        "allowed_first_party_connected_apps": [],
        "third_party_connected_apps_allowed_type": "ALL_ALLOWED",
        "allowed_third_party_connected_apps": [],
        "custom_roles": o.custom_roles,
        "trusted_metadata": {},
        "created_at": rfc3339(o.created_at),
        "updated_at": rfc3339(o.created_at),
        "organization_external_id": "",
        "sso_default_connection_id": null,
        "scim_active_connection": null,
        "allowed_oauth_tenants": {},
    })
}

/// Adds `status_code: 200` and a fresh `request_id` to a success body.
pub(crate) fn ok_body(mut body: Map<String, Value>) -> Value {
    body.insert("status_code".into(), 200.into());
    body.insert("request_id".into(), crate::ids::request_id().into());
    Value::Object(body)
}

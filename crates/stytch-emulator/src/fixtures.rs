//! Builders for the users, sessions, organizations and members a test seeds.

use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::ids;

/// A consumer user to create with [`EmulatorHandle::create_user`](crate::EmulatorHandle::create_user).
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) name: Option<(String, String)>,
    pub(crate) roles: Vec<String>,
}

impl NewUser {
    /// A user with no email, phone or name.
    pub fn new() -> Self {
        Self::default()
    }

    /// The user's (verified) email address.
    pub fn email(mut self, e: &str) -> Self {
        self.email = Some(e.to_owned());
        self
    }

    /// The user's (verified) phone number.
    pub fn phone(mut self, p: &str) -> Self {
        self.phone = Some(p.to_owned());
        self
    }

    /// The user's first and last name.
    pub fn name(mut self, first: &str, last: &str) -> Self {
        self.name = Some((first.to_owned(), last.to_owned()));
        self
    }

    /// RBAC roles assigned to the user; they appear on the user and on its sessions.
    pub fn roles(mut self, roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
}

/// A consumer session to create with [`EmulatorHandle::create_session`](crate::EmulatorHandle::create_session).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub(crate) user_id: Option<String>,
    pub(crate) factors: Vec<Factor>,
    pub(crate) roles: Vec<String>,
    pub(crate) custom_claims: Map<String, Value>,
    pub(crate) duration_minutes: u32,
}

impl Default for NewSession {
    fn default() -> Self {
        Self {
            user_id: None,
            factors: Vec::new(),
            roles: Vec::new(),
            custom_claims: Map::new(),
            duration_minutes: 60,
        }
    }
}

impl NewSession {
    /// A 60-minute session for a new user, with one email magic-link factor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Attach the session to an existing user instead of creating one.
    pub fn user_id(mut self, id: impl Into<String>) -> Self {
        self.user_id = Some(id.into());
        self
    }

    /// Adds an authentication factor; call several times for multi-factor sessions.
    pub fn factor(mut self, f: Factor) -> Self {
        self.factors.push(f);
        self
    }

    /// Session roles, in addition to the default consumer role and the user's roles.
    pub fn roles(mut self, roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Custom claims (a JSON object); they become top-level JWT claims. Non-objects are ignored.
    pub fn custom_claims(mut self, claims: Value) -> Self {
        self.custom_claims = match claims {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self
    }

    /// Session lifetime in minutes (default 60).
    pub fn duration_minutes(mut self, m: u32) -> Self {
        self.duration_minutes = m;
        self
    }
}

/// An authentication factor as it appears in `authentication_factors`
/// (docs/stytch-protocol.md#authenticating-a-session).
///
/// `last_authenticated_at` is the emulator's time at session creation unless
/// [`Factor::authenticated_at`] sets it.
#[derive(Debug, Clone)]
pub struct Factor {
    pub(crate) fields: Map<String, Value>,
    pub(crate) authenticated_at: Option<OffsetDateTime>,
}

impl Factor {
    fn with(type_: &str, delivery_method: &str, sub: Option<(&str, Value)>) -> Self {
        let mut fields = Map::new();
        fields.insert("type".into(), type_.into());
        fields.insert("delivery_method".into(), delivery_method.into());
        if let Some((key, value)) = sub {
            fields.insert(key.into(), value);
        }
        Self {
            fields,
            authenticated_at: None,
        }
    }

    /// `magic_link` delivered by `email`.
    pub fn email_magic_link(email: &str) -> Self {
        Self::with(
            "magic_link",
            "email",
            Some(("email_factor", email_factor(email))),
        )
    }

    /// `email_otp` delivered by `email`.
    pub fn email_otp(email: &str) -> Self {
        Self::with(
            "email_otp",
            "email",
            Some(("email_factor", email_factor(email))),
        )
    }

    /// `otp` delivered by `sms`.
    pub fn sms_otp(phone: &str) -> Self {
        let sub = json!({ "phone_id": ids::test_id("phone-number"), "phone_number": phone });
        Self::with("otp", "sms", Some(("phone_number_factor", sub)))
    }

    /// `totp` from an `authenticator_app`.
    pub fn totp() -> Self {
        let sub = json!({ "totp_id": ids::test_id("totp") });
        Self::with(
            "totp",
            "authenticator_app",
            Some(("authenticator_app_factor", sub)),
        )
    }

    /// `password` (`knowledge`); it has no factor sub-object.
    pub fn password() -> Self {
        Self::with("password", "knowledge", None)
    }

    /// `webauthn` with a registration on `domain`.
    pub fn webauthn(domain: &str) -> Self {
        let sub = json!({
            "webauthn_registration_id": ids::test_id("webauthn-registration"),
            "domain": domain,
            "user_agent": "",
        });
        Self::with(
            "webauthn",
            "webauthn_registration",
            Some(("webauthn_factor", sub)),
        )
    }

    /// `oauth` through `provider` (e.g. `"google"`) for the provider's `subject`.
    pub fn oauth(provider: &str, subject: &str) -> Self {
        let provider = provider.to_ascii_lowercase();
        // The sub-object names split some providers into words (docs/stytch-protocol.md,
        // "Authenticating a session").
        let key = match provider.as_str() {
            "gitlab" => "git_lab".to_owned(),
            "linkedin" => "linked_in".to_owned(),
            "tiktok" => "tik_tok".to_owned(),
            other => other.to_owned(),
        };
        let sub =
            json!({ "id": ids::test_id("oauth-user-registration"), "provider_subject": subject });
        let delivery = format!("oauth_{provider}");
        let sub_key = format!("{key}_oauth_factor");
        Self::with("oauth", &delivery, Some((&sub_key, sub)))
    }

    /// `sso` through an OIDC connection.
    pub fn sso_oidc() -> Self {
        let sub = json!({
            "id": ids::test_id("oidc-member-registration"),
            "provider_id": ids::test_id("oidc-connection"),
            "external_id": ids::session_token()[..20].to_owned(),
        });
        Self::with("sso", "sso_oidc", Some(("oidc_sso_factor", sub)))
    }

    /// Any factor object, sent as given. A string `last_authenticated_at` in it is kept;
    /// a non-object value becomes an empty factor.
    pub fn raw(v: Value) -> Self {
        let mut fields = match v {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let authenticated_at = fields
            .get("last_authenticated_at")
            .and_then(Value::as_str)
            .and_then(crate::clock::parse_rfc3339);
        for key in ["last_authenticated_at", "created_at", "updated_at"] {
            fields.remove(key);
        }
        Self {
            fields,
            authenticated_at,
        }
    }

    /// Sets `last_authenticated_at` (for step-up and recent-auth tests).
    pub fn authenticated_at(mut self, t: OffsetDateTime) -> Self {
        self.authenticated_at = Some(t);
        self
    }
}

fn email_factor(email: &str) -> Value {
    json!({ "email_id": ids::test_id("email"), "email_address": email })
}

/// A B2B organization to create with [`EmulatorHandle::create_organization`](crate::EmulatorHandle::create_organization).
#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub(crate) name: String,
    pub(crate) slug: String,
}

impl NewOrganization {
    /// An organization with a display name and a slug.
    pub fn new(name: &str, slug: &str) -> Self {
        Self {
            name: name.to_owned(),
            slug: slug.to_owned(),
        }
    }
}

/// A B2B member session to create with
/// [`EmulatorHandle::create_member_session`](crate::EmulatorHandle::create_member_session).
#[derive(Debug, Clone)]
pub struct NewMemberSession {
    pub(crate) organization_id: String,
    pub(crate) member_id: String,
    pub(crate) factors: Vec<Factor>,
    pub(crate) roles: Vec<String>,
    pub(crate) custom_claims: Map<String, Value>,
    pub(crate) duration_minutes: u32,
}

impl NewMemberSession {
    /// A 60-minute session for an existing member, with one email magic-link factor
    /// for the member's email unless factors are added.
    pub fn new(organization_id: &str, member_id: &str) -> Self {
        Self {
            organization_id: organization_id.to_owned(),
            member_id: member_id.to_owned(),
            factors: Vec::new(),
            roles: Vec::new(),
            custom_claims: Map::new(),
            duration_minutes: 60,
        }
    }

    /// Adds an authentication factor.
    pub fn factor(mut self, f: Factor) -> Self {
        self.factors.push(f);
        self
    }

    /// Session roles, in addition to `stytch_member`.
    pub fn roles(mut self, roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Custom claims (a JSON object); non-objects are ignored.
    pub fn custom_claims(mut self, claims: Value) -> Self {
        self.custom_claims = match claims {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self
    }

    /// Session lifetime in minutes (default 60).
    pub fn duration_minutes(mut self, m: u32) -> Self {
        self.duration_minutes = m;
        self
    }
}

/// What creating a session returns: ids and both credentials.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CreatedSession {
    /// `session-test-…` (B2B: `member-session-test-…`).
    pub session_id: String,
    /// The user id (B2B: the member id).
    pub user_id: String,
    /// The organization, for B2B sessions.
    pub organization_id: Option<String>,
    /// The opaque 44-character session token.
    pub session_token: String,
    /// A fresh five-minute session JWT.
    pub session_jwt: String,
    /// When the session (not the JWT) expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

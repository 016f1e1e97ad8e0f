//! The authenticated session as handlers see it, mapped from a session JWT or from a
//! Stytch API response (docs/stytch-protocol.md#how-the-validator-reads-these-claims).

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Where a session was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionSource {
    /// A session JWT verified locally against the cached JWKS (no call to Stytch).
    LocalJwt,
    /// Stytch's `sessions/authenticate` API.
    Remote,
}

/// The organization of a B2B member session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Organization {
    /// `organization-test-...`
    pub organization_id: String,
    /// The organization's slug.
    pub slug: String,
}

/// An authenticated Stytch session. Cheap to clone (one reference count).
///
/// In axum, extract it with `axum_stytch::StytchSession`, which dereferences to this.
///
/// For consumer projects [`user_id`](Self::user_id) is the user; for B2B projects it is
/// the member id and [`organization`](Self::organization) is set.
#[derive(Clone, PartialEq)]
#[expect(
    clippy::redundant_allocation,
    reason = "the outer allocation is a handle: per-thread replicas get their own, so a clone writes a count no other core writes, on data they share (see `replica`)"
)]
pub struct Session(Arc<Arc<SessionData>>);

#[derive(Clone, PartialEq)]
pub(crate) struct SessionData {
    /// Typed custom claims parsed once for this session, for the first type asked for.
    pub(crate) claims_memo: ClaimsMemo,
    pub(crate) session_id: String,
    pub(crate) user_id: String,
    pub(crate) started_at: Option<OffsetDateTime>,
    pub(crate) last_accessed_at: Option<OffsetDateTime>,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) attributes: SessionAttributes,
    pub(crate) authentication_factors: Vec<AuthenticationFactor>,
    pub(crate) roles: Vec<String>,
    pub(crate) custom_claims: Map<String, Value>,
    pub(crate) organization: Option<Organization>,
    pub(crate) source: SessionSource,
}

impl SessionData {
    /// Gives back what parsing left over: spare capacity of the vectors, and the node a
    /// map keeps after its last entry was filtered out. A cached session lives for
    /// minutes, and its bytes count against the verified cache's budget.
    fn compact(&mut self) {
        self.authentication_factors.shrink_to_fit();
        self.roles.shrink_to_fit();
        if self.custom_claims.is_empty() {
            self.custom_claims = Map::new();
        }
    }
}

/// The typed custom claims of a session, parsed on first use and kept with it: a
/// session from the verified cache parses its claims once, not once per request.
#[derive(Clone, Default)]
pub(crate) struct ClaimsMemo(OnceLock<(TypeId, Arc<dyn Any + Send + Sync>)>);

impl PartialEq for ClaimsMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The claims type of a session whose handler wants no typed custom claims: it accepts
/// any claims and parses nothing. The default type parameter of `axum-stytch`'s
/// `StytchSession<C>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NoClaims;

impl<'de> Deserialize<'de> for NoClaims {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(NoClaims)
    }
}

impl Session {
    pub(crate) fn from_data(mut data: SessionData) -> Self {
        data.compact();
        Self(Arc::new(Arc::new(data)))
    }

    /// A handle of its own on the same data, for a thread that serves this session
    /// often: cloning it then writes a reference count that thread alone writes, while
    /// the data stays shared and is only read. Costs one small allocation.
    pub(crate) fn replica(&self) -> Self {
        Self(Arc::new(Arc::clone(&*self.0)))
    }

    /// Whether both are the same handle.
    #[cfg(test)]
    pub(crate) fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Whether both read the same data.
    #[cfg(test)]
    pub(crate) fn shares_data(&self, other: &Self) -> bool {
        Arc::ptr_eq(&*self.0, &*other.0)
    }

    /// The session id (`session-test-...`, or `member-session-test-...` for B2B).
    pub fn session_id(&self) -> &str {
        &self.0.session_id
    }

    /// The user id (consumer) or member id (B2B): the JWT's `sub`.
    pub fn user_id(&self) -> &str {
        &self.0.user_id
    }

    /// The member id of a B2B session (same as [`user_id`](Self::user_id)).
    pub fn member_id(&self) -> &str {
        &self.0.user_id
    }

    /// When the session started.
    pub fn started_at(&self) -> Option<OffsetDateTime> {
        self.0.started_at
    }

    /// When the session was last used.
    pub fn last_accessed_at(&self) -> Option<OffsetDateTime> {
        self.0.last_accessed_at
    }

    /// When the session (not the JWT) expires.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.0.expires_at
    }

    /// IP address and user agent recorded at login (often empty).
    pub fn attributes(&self) -> &SessionAttributes {
        &self.0.attributes
    }

    /// The factors this session authenticated with, e.g. a magic link then TOTP.
    pub fn authentication_factors(&self) -> &[AuthenticationFactor] {
        &self.0.authentication_factors
    }

    /// The session's RBAC roles (from the session claim, never from custom claims).
    pub fn roles(&self) -> &[String] {
        &self.0.roles
    }

    /// Whether the session holds `role` (exact, case-sensitive).
    pub fn has_role(&self, role: &str) -> bool {
        self.0.roles.iter().any(|r| r == role)
    }

    /// The B2B organization, if this is a member session.
    pub fn organization(&self) -> Option<&Organization> {
        self.0.organization.as_ref()
    }

    /// The organization id of a B2B member session.
    pub fn organization_id(&self) -> Option<&str> {
        self.0
            .organization
            .as_ref()
            .map(|o| o.organization_id.as_str())
    }

    /// Custom claims: top-level JWT claims other than the registered and Stytch ones.
    pub fn custom_claims_map(&self) -> &Map<String, Value> {
        &self.0.custom_claims
    }

    /// Custom claims deserialized into your own type.
    ///
    /// ```
    /// # fn f(session: stytch_validator::Session) -> Result<(), serde_json::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Claims { plan: String }
    /// let claims: Claims = session.custom_claims()?;
    /// # Ok(()) }
    /// ```
    pub fn custom_claims<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(MapRef(&self.0.custom_claims))
    }

    /// Custom claims as your own type, parsed once per session and shared: repeated
    /// calls for the same type (the same cached session on later requests, too) return
    /// the same `Arc` without parsing again. One type per session is kept; asking for a
    /// second type parses it each time.
    pub fn claims<T>(&self) -> Result<Arc<T>, serde_json::Error>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let id = TypeId::of::<T>();
        if let Some((kept, any)) = self.0.claims_memo.0.get()
            && *kept == id
            && let Ok(claims) = Arc::clone(any).downcast::<T>()
        {
            return Ok(claims);
        }
        let claims = Arc::new(self.custom_claims::<T>()?);
        let any: Arc<dyn Any + Send + Sync> = Arc::clone(&claims) as _;
        // Lost races and second types simply are not kept.
        let _ = self.0.claims_memo.0.set((id, any));
        Ok(claims)
    }

    /// One custom claim deserialized into your own type; `None` if absent or of another shape.
    pub fn custom_claim<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        self.0
            .custom_claims
            .get(name)
            .and_then(|v| T::deserialize(v).ok())
    }

    /// Whether this session was verified locally or by Stytch.
    pub fn source(&self) -> SessionSource {
        self.0.source
    }

    /// The heap bytes this session holds, as the allocator counts them plus a malloc
    /// header per allocation: what the verified cache weighs it at.
    pub(crate) fn heap_bytes(&self) -> usize {
        use crate::verified::heap::{alloc, map, string, vec};
        let d = &**self.0;
        // The handle (two counts and a pointer), then the data (two counts and itself).
        alloc(3 * std::mem::size_of::<usize>())
            + alloc(std::mem::size_of::<SessionData>() + 2 * std::mem::size_of::<usize>())
            + string(&d.session_id)
            + string(&d.user_id)
            + string(&d.attributes.ip_address)
            + string(&d.attributes.user_agent)
            + vec(&d.roles)
            + d.roles.iter().map(string).sum::<usize>()
            + d.organization
                .as_ref()
                .map_or(0, |o| string(&o.organization_id) + string(&o.slug))
            + map(&d.custom_claims)
            + vec(&d.authentication_factors)
            + d.authentication_factors
                .iter()
                .map(|f| {
                    string(&f.factor_type)
                        + string(&f.delivery_method)
                        + vec(&f.details)
                        + f.details
                            .iter()
                            .map(|(k, v)| alloc(k.len()) + alloc(v.len()))
                            .sum::<usize>()
                })
                .sum::<usize>()
    }

    /// How many factors the session authenticated with (its MFA level), counted as
    /// Stytch lists them: distinct (`type`, `delivery_method`) pairs. SMS OTP plus email
    /// OTP is two; so are an email magic link plus an email OTP, although both reach
    /// the same inbox, exactly as Stytch's own `authentication_factors.length >= 2`
    /// check counts them. For step-up on a specific channel, check the factor itself
    /// (the `require_factor` and `require_recent_factor` guards of `axum-stytch`).
    pub fn factor_count(&self) -> usize {
        let mut kinds: Vec<(&str, &str)> = self
            .0
            .authentication_factors
            .iter()
            .map(|f| (f.factor_type(), f.delivery_method()))
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds.len()
    }

    /// The most recent authentication of any factor.
    pub fn last_authenticated_at(&self) -> Option<OffsetDateTime> {
        self.0
            .authentication_factors
            .iter()
            .filter_map(|f| f.last_authenticated_at())
            .max()
    }
}

/// Deserializes a borrowed map without cloning it into a `Value` first.
struct MapRef<'a>(&'a Map<String, Value>);

impl<'de> serde::Deserializer<'de> for MapRef<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        use serde::de::value::MapDeserializer;
        let iter = self.0.iter().map(|(k, v)| (k.as_str(), v));
        let mut map = MapDeserializer::new(iter);
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl fmt::Debug for Session {
    // Ids are not secrets; claims may be personal data, so they are only counted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.0.session_id)
            .field("user_id", &self.0.user_id)
            .field(
                "organization",
                &self.0.organization.as_ref().map(|o| &o.organization_id),
            )
            .field("expires_at", &self.0.expires_at)
            .field(
                "factors",
                &self
                    .0
                    .authentication_factors
                    .iter()
                    .map(|f| f.factor_type())
                    .collect::<Vec<_>>(),
            )
            .field("roles", &self.0.roles)
            .field("custom_claims", &self.0.custom_claims.len())
            .field("source", &self.0.source)
            .finish()
    }
}

impl Serialize for Session {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let d = &self.0;
        let mut st = s.serialize_struct("Session", 11)?;
        st.serialize_field("session_id", &d.session_id)?;
        st.serialize_field("user_id", &d.user_id)?;
        st.serialize_field("started_at", &d.started_at.map(crate::time_fmt::Rfc3339))?;
        st.serialize_field(
            "last_accessed_at",
            &d.last_accessed_at.map(crate::time_fmt::Rfc3339),
        )?;
        st.serialize_field("expires_at", &crate::time_fmt::Rfc3339(d.expires_at))?;
        st.serialize_field("attributes", &d.attributes)?;
        st.serialize_field("authentication_factors", &d.authentication_factors)?;
        st.serialize_field("roles", &d.roles)?;
        st.serialize_field("custom_claims", &d.custom_claims)?;
        st.serialize_field("organization", &d.organization)?;
        st.serialize_field("source", &d.source)?;
        st.end()
    }
}

/// The `attributes` of a session: where it was created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SessionAttributes {
    /// The client's IP address, if Stytch recorded one.
    pub ip_address: String,
    /// The client's user agent, if Stytch recorded one.
    pub user_agent: String,
}

/// One authentication factor of a session. `type` and `delivery_method` are kept as open
/// strings: Stytch adds new ones, and an unknown value must not break authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticationFactor {
    factor_type: String,
    delivery_method: String,
    last_authenticated_at: Option<OffsetDateTime>,
    created_at: Option<OffsetDateTime>,
    updated_at: Option<OffsetDateTime>,
    /// The `<kind>_factor` sub-objects, each as its compact JSON text: two short strings
    /// instead of a tree of map nodes (about 1.3 KB for an email factor), in a session
    /// the verified cache keeps for minutes. Read them with the typed accessors.
    details: Vec<(Box<str>, Box<str>)>,
}

impl Serialize for AuthenticationFactor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", &self.factor_type)?;
        map.serialize_entry("delivery_method", &self.delivery_method)?;
        for (key, time) in [
            ("last_authenticated_at", self.last_authenticated_at),
            ("created_at", self.created_at),
            ("updated_at", self.updated_at),
        ] {
            if let Some(time) = time {
                map.serialize_entry(key, &crate::time_fmt::Rfc3339(time))?;
            }
        }
        for (key, text) in &self.details {
            let value: Value = serde_json::from_str(text).map_err(S::Error::custom)?;
            map.serialize_entry(&**key, &value)?;
        }
        map.end()
    }
}

// Hand-written rather than `#[serde(flatten)]` (which buffers every value first): the
// known fields are typed, everything else is kept as the factor's details.
impl<'de> Deserialize<'de> for AuthenticationFactor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;

        /// An optional RFC 3339 time; unparsable reads as absent.
        struct Time(Option<OffsetDateTime>);

        impl<'de> Deserialize<'de> for Time {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::time_fmt::option::deserialize(d).map(Time)
            }
        }

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AuthenticationFactor;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an authentication factor object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AuthenticationFactor, A::Error> {
                let mut factor_type = None;
                let mut factor = AuthenticationFactor {
                    factor_type: String::new(),
                    delivery_method: String::new(),
                    last_authenticated_at: None,
                    created_at: None,
                    updated_at: None,
                    details: Vec::new(),
                };
                while let Some(crate::map_key::Key(key)) = map.next_key()? {
                    match &*key {
                        "type" => factor_type = Some(map.next_value::<String>()?),
                        "delivery_method" => {
                            factor.delivery_method =
                                map.next_value::<Option<String>>()?.unwrap_or_default()
                        }
                        "last_authenticated_at" => {
                            factor.last_authenticated_at = map.next_value::<Time>()?.0
                        }
                        "created_at" => factor.created_at = map.next_value::<Time>()?.0,
                        "updated_at" => factor.updated_at = map.next_value::<Time>()?.0,
                        _ => {
                            let value: Value = map.next_value()?;
                            factor
                                .details
                                .push((key.into(), value.to_string().into_boxed_str()));
                        }
                    }
                }
                factor.factor_type =
                    factor_type.ok_or_else(|| serde::de::Error::missing_field("type"))?;
                factor.details.shrink_to_fit();
                Ok(factor)
            }
        }

        d.deserialize_map(Visitor)
    }
}

/// `email_factor`: the email a magic link or OTP went to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct EmailFactor {
    /// `email-test-...`
    pub email_id: String,
    /// The address.
    pub email_address: String,
}

/// `phone_number_factor`: the phone an SMS or WhatsApp OTP went to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PhoneNumberFactor {
    /// `phone-number-test-...`
    pub phone_id: String,
    /// E.164 number.
    pub phone_number: String,
}

/// Any `<provider>_oauth_factor`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct OAuthFactor {
    /// The OAuth registration id.
    pub id: String,
    /// The user's id at the provider.
    pub provider_subject: String,
    /// The linked email, if any.
    #[serde(default)]
    pub email_id: Option<String>,
}

/// `webauthn_factor`: a passkey or security key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct WebAuthnFactor {
    /// The registration id.
    pub webauthn_registration_id: String,
    /// The relying-party domain.
    pub domain: String,
    /// The authenticator's user agent, if known.
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// `authenticator_app_factor`: a TOTP app.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AuthenticatorAppFactor {
    /// The TOTP registration id.
    pub totp_id: String,
}

/// `saml_sso_factor` or `oidc_sso_factor`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SsoFactor {
    /// The registration id.
    pub id: String,
    /// The SSO connection id.
    pub provider_id: String,
    /// The user's id at the identity provider.
    pub external_id: String,
}

impl AuthenticationFactor {
    /// The factor type, e.g. `magic_link`, `otp`, `totp`, `webauthn`, `oauth`, `sso`.
    pub fn factor_type(&self) -> &str {
        &self.factor_type
    }

    /// How it was delivered, e.g. `email`, `sms`, `authenticator_app`, `oauth_google`.
    pub fn delivery_method(&self) -> &str {
        &self.delivery_method
    }

    /// When this factor was last used.
    pub fn last_authenticated_at(&self) -> Option<OffsetDateTime> {
        self.last_authenticated_at
    }

    /// When this factor was first used in the session, when Stytch sends it.
    pub fn created_at(&self) -> Option<OffsetDateTime> {
        self.created_at
    }

    /// When this factor was last updated, when Stytch sends it.
    pub fn updated_at(&self) -> Option<OffsetDateTime> {
        self.updated_at
    }

    /// A sub-object by its key (e.g. `"crypto_wallet_factor"`), as sent, parsed anew
    /// on each call.
    pub fn detail(&self, key: &str) -> Option<Value> {
        self.typed(key)
    }

    fn typed<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.details
            .iter()
            .find(|(k, _)| **k == *key)
            .and_then(|(_, text)| serde_json::from_str(text).ok())
    }

    /// The `email_factor`, for magic links and email OTPs.
    pub fn email_factor(&self) -> Option<EmailFactor> {
        self.typed("email_factor")
    }

    /// The `phone_number_factor`, for SMS and WhatsApp OTPs.
    pub fn phone_number_factor(&self) -> Option<PhoneNumberFactor> {
        self.typed("phone_number_factor")
    }

    /// The `<provider>_oauth_factor`, whatever the provider.
    pub fn oauth_factor(&self) -> Option<OAuthFactor> {
        self.details
            .iter()
            .find(|(k, _)| k.ends_with("_oauth_factor"))
            .and_then(|(_, text)| serde_json::from_str(text).ok())
    }

    /// The `webauthn_factor`.
    pub fn webauthn_factor(&self) -> Option<WebAuthnFactor> {
        self.typed("webauthn_factor")
    }

    /// The `authenticator_app_factor` (TOTP).
    pub fn authenticator_app_factor(&self) -> Option<AuthenticatorAppFactor> {
        self.typed("authenticator_app_factor")
    }

    /// The `saml_sso_factor` or `oidc_sso_factor`.
    pub fn sso_factor(&self) -> Option<SsoFactor> {
        self.typed("saml_sso_factor")
            .or_else(|| self.typed("oidc_sso_factor"))
    }
}

#[cfg(feature = "test-util")]
mod builder {
    use serde_json::{Map, Value};
    use time::OffsetDateTime;

    use super::{AuthenticationFactor, Organization, Session, SessionData, SessionSource};

    /// Builds a [`Session`] for your own tests (feature `test-util`): hand it to a
    /// handler without a server, a Stytch project or the emulator.
    ///
    /// ```
    /// use stytch_validator::Session;
    ///
    /// let s = Session::builder("user-test-1")
    ///     .role("admin")
    ///     .factor("magic_link", "email")
    ///     .factor("totp", "authenticator_app")
    ///     .custom_claims(serde_json::json!({"plan": "pro"}))
    ///     .build();
    /// assert_eq!(s.user_id(), "user-test-1");
    /// assert_eq!(s.factor_count(), 2);
    /// assert!(s.has_role("admin"));
    /// ```
    #[must_use]
    pub struct SessionBuilder {
        data: SessionData,
    }

    impl std::fmt::Debug for SessionBuilder {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("SessionBuilder")
                .field("user_id", &self.data.user_id)
                .finish_non_exhaustive()
        }
    }

    impl Session {
        /// A builder for a session of `user_id` (feature `test-util`). Defaults: session
        /// id `session-test-<user id>`, started now, expiring in an hour, no factors, no
        /// roles, no custom claims, consumer, [`SessionSource::LocalJwt`].
        pub fn builder(user_id: impl Into<String>) -> SessionBuilder {
            let user_id = user_id.into();
            let now = OffsetDateTime::now_utc();
            SessionBuilder {
                data: SessionData {
                    claims_memo: Default::default(),
                    session_id: format!("session-test-{user_id}"),
                    user_id,
                    started_at: Some(now),
                    last_accessed_at: Some(now),
                    expires_at: now + time::Duration::hours(1),
                    attributes: Default::default(),
                    authentication_factors: Vec::new(),
                    roles: Vec::new(),
                    custom_claims: Map::new(),
                    organization: None,
                    source: SessionSource::LocalJwt,
                },
            }
        }
    }

    impl SessionBuilder {
        /// The session id.
        pub fn session_id(mut self, id: impl Into<String>) -> Self {
            self.data.session_id = id.into();
            self
        }

        /// Adds an RBAC role.
        pub fn role(mut self, role: impl Into<String>) -> Self {
            self.data.roles.push(role.into());
            self
        }

        /// Adds a factor of this `type` and `delivery_method`, authenticated now.
        pub fn factor(self, factor_type: &str, delivery_method: &str) -> Self {
            self.factor_at(factor_type, delivery_method, OffsetDateTime::now_utc())
        }

        /// Adds a factor authenticated at `at` (for recent-authentication guards).
        pub fn factor_at(
            mut self,
            factor_type: &str,
            delivery_method: &str,
            at: OffsetDateTime,
        ) -> Self {
            self.data.authentication_factors.push(AuthenticationFactor {
                factor_type: factor_type.to_owned(),
                delivery_method: delivery_method.to_owned(),
                last_authenticated_at: Some(at),
                created_at: Some(at),
                updated_at: Some(at),
                details: Vec::new(),
            });
            self
        }

        /// Custom claims (a JSON object; anything else is ignored).
        pub fn custom_claims(mut self, claims: Value) -> Self {
            if let Value::Object(map) = claims {
                self.data.custom_claims = map;
            }
            self
        }

        /// Makes it a B2B member session of this organization.
        pub fn organization(
            mut self,
            organization_id: impl Into<String>,
            slug: impl Into<String>,
        ) -> Self {
            self.data.organization = Some(Organization {
                organization_id: organization_id.into(),
                slug: slug.into(),
            });
            self
        }

        /// When the session expires.
        pub fn expires_at(mut self, at: OffsetDateTime) -> Self {
            self.data.expires_at = at;
            self
        }

        /// Where the session was established.
        pub fn source(mut self, source: SessionSource) -> Self {
            self.data.source = source;
            self
        }

        /// The session.
        pub fn build(self) -> Session {
            Session::from_data(self.data)
        }
    }
}

#[cfg(feature = "test-util")]
pub use builder::SessionBuilder;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn factor_details_are_kept_as_text_and_read_back_whole() {
        let sent = serde_json::json!({
            "type": "magic_link",
            "delivery_method": "email",
            "last_authenticated_at": "2026-11-29T04:00:00Z",
            "email_factor": {"email_id": "email-test-1", "email_address": "ada@example.com"},
            "crypto_wallet_factor": {"crypto_wallet_address": "0xabc", "crypto_wallet_type": "ethereum"},
        });
        let factor: AuthenticationFactor = serde_json::from_value(sent.clone()).expect("parses");
        assert_eq!(
            factor.email_factor().expect("typed").email_address,
            "ada@example.com"
        );
        assert_eq!(
            factor.detail("crypto_wallet_factor"),
            Some(sent["crypto_wallet_factor"].clone())
        );
        assert_eq!(factor.detail("phone_number_factor"), None);
        // Serialized as received: the details are objects again, not strings.
        assert_eq!(serde_json::to_value(&factor).expect("serializes"), sent);
    }

    /// A plain consumer session with the `admin` role.
    pub(crate) fn session(source: SessionSource) -> Session {
        Session::from_data(SessionData {
            claims_memo: Default::default(),
            session_id: "session-test-1".into(),
            user_id: "user-test-1".into(),
            started_at: None,
            last_accessed_at: None,
            expires_at: OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("a time"),
            attributes: Default::default(),
            authentication_factors: Vec::new(),
            roles: vec!["admin".into()],
            custom_claims: Map::new(),
            organization: None,
            source,
        })
    }
}

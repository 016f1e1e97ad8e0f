//! Stytch RBAC: the project policy, cached, and the local permission check of
//! docs/stytch-protocol.md#rbac-permission-check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use serde::{Deserialize, Serialize};

use crate::clock::{elapsed, millis};
use crate::config::StytchConfig;
use crate::error::AuthError;
use crate::http::{self, Fetched};
use crate::metrics;
use crate::reason::Reason;
use crate::session::Session;
use crate::singleflight::SingleFlight;

const MAX_POLICY_BYTES: usize = 4 << 20;

/// A project's RBAC policy, as `GET /v1/rbac/policy` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Policy {
    /// The roles and what each grants.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// The resources and their actions.
    #[serde(default)]
    pub resources: Vec<Resource>,
}

/// A role: a named set of permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Role {
    /// e.g. `editor`.
    pub role_id: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// What the role grants.
    #[serde(default)]
    pub permissions: Vec<Permission>,
}

/// Actions a role may take on one resource; `"*"` means every action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Permission {
    /// e.g. `documents`.
    pub resource_id: String,
    /// e.g. `["read", "write"]` or `["*"]`.
    #[serde(default)]
    pub actions: Vec<String>,
}

/// A resource and the actions defined on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resource {
    /// e.g. `documents`.
    pub resource_id: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The actions defined on it.
    #[serde(default)]
    pub actions: Vec<String>,
}

impl Policy {
    /// A policy of these roles and resources, e.g. for tests or a policy kept in code.
    pub fn new(roles: Vec<Role>, resources: Vec<Resource>) -> Self {
        Self { roles, resources }
    }

    /// The roles among `roles` that grant `action` on `resource`: a role grants it when
    /// one of its permissions names exactly this resource and lists the action or `"*"`.
    /// Roles unknown to the policy grant nothing. Empty means denied.
    pub fn granting_roles<'a>(
        &'a self,
        roles: &[String],
        resource: &str,
        action: &str,
    ) -> Vec<&'a str> {
        granting(&self.roles, roles, resource, action)
    }
}

/// The permission check (docs/stytch-protocol.md#rbac-permission-check) over any list
/// of policy roles (B2B: project roles then organization roles).
pub(crate) fn granting<'a>(
    policy_roles: impl IntoIterator<Item = &'a Role>,
    roles: &[String],
    resource: &str,
    action: &str,
) -> Vec<&'a str> {
    let mut granted: Vec<&str> = policy_roles
        .into_iter()
        .filter(|role| roles.contains(&role.role_id))
        .filter(|role| {
            role.permissions.iter().any(|p| {
                p.resource_id == resource && p.actions.iter().any(|a| a == "*" || a == action)
            })
        })
        .map(|role| role.role_id.as_str())
        .collect();
    granted.dedup();
    granted
}

impl Role {
    /// A role granting `permissions`.
    pub fn new(role_id: impl Into<String>, permissions: Vec<Permission>) -> Self {
        Self {
            role_id: role_id.into(),
            description: String::new(),
            permissions,
        }
    }
}

impl Permission {
    /// `actions` (or `"*"`) on `resource_id`.
    pub fn new(
        resource_id: impl Into<String>,
        actions: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            resource_id: resource_id.into(),
            actions: actions.into_iter().map(Into::into).collect(),
        }
    }
}

impl Resource {
    /// A resource with these actions.
    pub fn new(
        resource_id: impl Into<String>,
        actions: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            resource_id: resource_id.into(),
            description: String::new(),
            actions: actions.into_iter().map(Into::into).collect(),
        }
    }
}

/// A permission check that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authorization {
    /// The session's roles that grant the permission.
    pub granting_roles: Vec<String>,
}

#[derive(Deserialize)]
struct PolicyResponse {
    policy: Policy,
}

/// `GET /v1/b2b/rbac/organizations/{id}`: an organization's custom roles.
#[derive(Deserialize)]
struct OrgPolicyResponse {
    org_policy: OrgPolicy,
}

#[derive(Deserialize)]
struct OrgPolicy {
    #[serde(default)]
    roles: Vec<Role>,
}

struct Cached {
    policy: Arc<Policy>,
    fetched_at_ms: i64,
}

/// Which policy: the project's, or one organization's custom roles (B2B).
type PolicyKey = Option<Arc<str>>;

/// A fetch under way, shared by everyone who waits for it.
type PolicyFlight = futures_util::future::Shared<
    futures_util::future::BoxFuture<'static, Option<Result<Arc<Policy>, AuthError>>>,
>;

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Failure records kept at most (one per organization whose policy failed to load).
const MAX_FAILURE_RECORDS: usize = 4096;

/// Failed fetches of one policy, for the backoff.
#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    /// No new fetch before this (clock millis).
    not_before_ms: i64,
}

/// Policies fetched on first use and again when older than the TTL: the project
/// policy and, for B2B, each organization's custom roles.
///
/// Only a cold start waits for a fetch (bounded by the request timeout). Once a policy
/// is held, a check never waits: past the TTL the held copy answers at once while one
/// background fetch replaces it (stale-if-error). Failed fetches back off exponentially
/// or as long as `Retry-After` asks, and a cold start during the backoff answers 503 at
/// once instead of asking again.
#[derive(Clone)]
pub(crate) struct PolicyCache(Arc<Inner>);

struct Inner {
    config: Arc<StytchConfig>,
    http: reqwest::Client,
    project: ArcSwapOption<Cached>,
    organizations: quick_cache::sync::Cache<Arc<str>, Arc<Cached>>,
    flights: SingleFlight<PolicyKey, Result<Arc<Policy>, AuthError>>,
    failures: Mutex<HashMap<PolicyKey, Failures>>,
    fetches: std::sync::atomic::AtomicU64,
}

impl PolicyCache {
    pub(crate) fn new(config: Arc<StytchConfig>, http: reqwest::Client) -> Self {
        Self(Arc::new(Inner {
            config,
            http,
            project: ArcSwapOption::empty(),
            organizations: quick_cache::sync::Cache::new(1024),
            flights: SingleFlight::default(),
            failures: Mutex::default(),
            fetches: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    /// How old the project policy is, if one is held.
    pub(crate) fn age(&self) -> Option<std::time::Duration> {
        let now = self.0.config.clock.now_millis();
        self.0
            .project
            .load()
            .as_ref()
            .map(|c| elapsed(c.fetched_at_ms, now))
    }

    pub(crate) fn fetch_count(&self) -> u64 {
        self.0.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks that one of the session's roles grants `action` on `resource`, over the
    /// project's roles plus, for an organization, its custom roles.
    pub(crate) async fn check(
        &self,
        session: &Session,
        organization_id: Option<&str>,
        resource: &str,
        action: &str,
    ) -> Result<Authorization, AuthError> {
        let project = self.get().await?;
        let organization = match organization_id {
            Some(org) => Some(self.organization(org).await?),
            None => None,
        };
        let roles = project
            .roles
            .iter()
            .chain(organization.iter().flat_map(|p| p.roles.iter()));
        let granting = granting(roles, session.roles(), resource, action);
        if granting.is_empty() {
            return Err(AuthError::new(
                Reason::PermissionDenied,
                format!(
                    "The session may not `{}` on `{}`.",
                    escape(action),
                    escape(resource)
                ),
            ));
        }
        Ok(Authorization {
            granting_roles: granting.into_iter().map(str::to_owned).collect(),
        })
    }

    /// The project policy.
    pub(crate) async fn get(&self) -> Result<Arc<Policy>, AuthError> {
        self.get_keyed(None).await
    }

    /// An organization's custom roles, as a policy with roles only.
    pub(crate) async fn organization(
        &self,
        organization_id: &str,
    ) -> Result<Arc<Policy>, AuthError> {
        self.get_keyed(Some(Arc::from(organization_id))).await
    }

    async fn get_keyed(&self, key: PolicyKey) -> Result<Arc<Policy>, AuthError> {
        let now = self.0.config.clock.now_millis();
        let current = match &key {
            None => self.0.project.load_full(),
            Some(org) => self.0.organizations.get(org),
        };
        let backoff = self.0.backoff(&key, now);
        if let Some(cached) = current {
            if key.is_none() {
                metrics::policy_age(elapsed(cached.fetched_at_ms, now));
            }
            if elapsed(cached.fetched_at_ms, now) >= self.0.config.policy_ttl && backoff.is_none() {
                // Fire and forget: the flight runs in its own task.
                drop(self.start_fetch(key));
            }
            return Ok(Arc::clone(&cached.policy));
        }
        if let Some(wait) = backoff {
            return Err(unavailable(Reason::RbacPolicyUnavailable, Some(wait)));
        }
        match self.start_fetch(key).await {
            Some(result) => result,
            None => Err(unavailable(Reason::RbacPolicyUnavailable, None)),
        }
    }

    fn start_fetch(&self, key: PolicyKey) -> PolicyFlight {
        let inner = Arc::clone(&self.0);
        let flight_key = key.clone();
        let (flight, _) = self
            .0
            .flights
            .run(flight_key, move || async move { inner.fetch(key).await });
        flight
    }
}

/// Keeps caller-supplied names printable in messages.
fn escape(s: &str) -> String {
    s.chars().flat_map(char::escape_default).take(128).collect()
}

fn unavailable(reason: Reason, retry_after: Option<Duration>) -> AuthError {
    AuthError::unavailable(
        reason,
        "The RBAC policy could not be loaded.",
        retry_after.unwrap_or(MIN_BACKOFF),
    )
}

impl Inner {
    /// How long until this policy may be fetched again, if it is backing off.
    fn backoff(&self, key: &PolicyKey, now: i64) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let f = failures.get(key)?;
        (now < f.not_before_ms).then(|| elapsed(now, f.not_before_ms))
    }

    fn record(&self, key: &PolicyKey, result: &Result<Arc<Policy>, AuthError>) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(_) => {
                failures.remove(key);
            }
            Err(error) => {
                if failures.len() >= MAX_FAILURE_RECORDS && !failures.contains_key(key) {
                    failures.clear();
                }
                let now = self.config.clock.now_millis();
                let count = failures.get(key).map_or(0, |f| f.count).saturating_add(1);
                let backoff = MIN_BACKOFF
                    .saturating_mul(1 << (count - 1).min(6))
                    .min(MAX_BACKOFF);
                let wait = error.retry_after().map_or(backoff, |r| r.max(backoff));
                failures.insert(
                    key.clone(),
                    Failures {
                        count,
                        not_before_ms: now.saturating_add(millis(wait)),
                    },
                );
                tracing::warn!(
                    reason = error.reason().as_str(),
                    failures = count,
                    retry_in_ms = millis(wait),
                    "stytch.rbac.fetch_failed"
                );
            }
        }
    }

    async fn fetch(&self, key: PolicyKey) -> Result<Arc<Policy>, AuthError> {
        let result = self.fetch_once(&key).await;
        let label = match &result {
            Ok(_) => "ok",
            Err(e) => e.reason().as_str(),
        };
        metrics::policy_fetch(label, key.is_some());
        self.record(&key, &result);
        result
    }

    async fn fetch_once(&self, key: &PolicyKey) -> Result<Arc<Policy>, AuthError> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let url = match key {
            None => self.config.policy_url(),
            Some(org) => self.config.organization_policy_url(org),
        };
        match http::get_authed(&self.http, &url, &self.config, MAX_POLICY_BYTES).await {
            Ok(Fetched {
                status: 200, body, ..
            }) => {
                let policy = match key {
                    None => serde_json::from_slice::<PolicyResponse>(&body).map(|r| r.policy),
                    Some(_) => serde_json::from_slice::<OrgPolicyResponse>(&body).map(|r| Policy {
                        roles: r.org_policy.roles,
                        resources: Vec::new(),
                    }),
                }
                .map_err(|_| unavailable(Reason::RbacPolicyMalformed, None))?;
                Ok(self.store(key, policy))
            }
            Ok(Fetched { status: 401, .. }) => Err(AuthError::new(
                Reason::StytchRejectedCredentials,
                "Stytch rejected this service's project credentials.",
            )),
            Ok(Fetched { status: 404, .. }) if key.is_some() => {
                // An organization Stytch does not know has no custom roles.
                Ok(self.store(key, Policy::default()))
            }
            Ok(Fetched { retry_after, .. }) => {
                Err(unavailable(Reason::RbacPolicyUnavailable, retry_after))
            }
            Err(reason) => Err(unavailable(reason, None)),
        }
    }

    fn store(&self, key: &PolicyKey, policy: Policy) -> Arc<Policy> {
        let policy = Arc::new(policy);
        let cached = Arc::new(Cached {
            policy: Arc::clone(&policy),
            fetched_at_ms: self.config.clock.now_millis(),
        });
        match key {
            None => self.project.store(Some(cached)),
            Some(org) => self.organizations.insert(Arc::clone(org), cached),
        }
        tracing::debug!(roles = policy.roles.len(), "stytch.rbac.policy_refreshed");
        policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mock policy of stytch-node's `test/b2c/rbac_policy.ts`, in spirit.
    fn policy() -> Policy {
        serde_json::from_value(serde_json::json!({
            "roles": [
                {"role_id": "default", "permissions": []},
                {"role_id": "reader", "permissions": [
                    {"resource_id": "documents", "actions": ["read"]},
                    {"resource_id": "images", "actions": ["read"]}]},
                {"role_id": "editor", "permissions": [
                    {"resource_id": "documents", "actions": ["read", "write"]},
                    {"resource_id": "images", "actions": ["create", "read", "delete"]}]},
                {"role_id": "wildcard_role", "permissions": [
                    {"resource_id": "documents", "actions": ["*"]}]}
            ],
            "resources": [
                {"resource_id": "documents", "actions": ["read", "write", "delete"]},
                {"resource_id": "images", "actions": ["create", "read", "delete"]}
            ],
            "scopes": []
        }))
        .unwrap()
    }

    #[test]
    fn stytch_node_rbac_table() {
        let p = policy();
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: &[(&[&str], &str, &str, bool)] = &[
            (&["reader"], "documents", "read", true),   // exact match
            (&["reader"], "documents", "write", false), // action not granted
            (&["wildcard_role"], "documents", "delete", true), // "*"
            (&["wildcard_role"], "images", "read", false), // "*" is per resource
            (&["reader", "editor"], "images", "delete", true), // multiple roles
            (&["editor"], "documents", "share", false), // unknown action
            (&["editor"], "videos", "read", false),     // unknown resource
            (&["unknown"], "documents", "read", false), // unknown role
            (&["Reader"], "documents", "read", false),  // case-sensitive
            (&[], "documents", "read", false),
        ];
        for (r, resource, action, allowed) in cases {
            let granted = p.granting_roles(&roles(r), resource, action);
            assert_eq!(!granted.is_empty(), *allowed, "{r:?} {resource} {action}");
        }
        assert_eq!(
            p.granting_roles(&roles(&["reader", "editor"]), "documents", "read"),
            ["reader", "editor"]
        );
    }
}

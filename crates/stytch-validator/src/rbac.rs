//! Stytch RBAC: the project policy, cached, and the local check of reference §7.2.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use serde::{Deserialize, Serialize};

use crate::clock::elapsed;
use crate::config::StytchConfig;
use crate::error::AuthError;
use crate::http::{self, Fetched};
use crate::singleflight::SingleFlight;

const MAX_POLICY_BYTES: usize = 4 << 20;

/// A project's RBAC policy, as `GET /v1/rbac/policy` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct Permission {
    /// e.g. `documents`.
    pub resource_id: String,
    /// e.g. `["read", "write"]` or `["*"]`.
    #[serde(default)]
    pub actions: Vec<String>,
}

/// A resource and the actions defined on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// §7.2 over any list of policy roles (B2B: project roles then organization roles).
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

/// A permission check that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Policies fetched on first use and again when older than the TTL: the project
/// policy and, for B2B, each organization's custom roles. One fetch per policy at a
/// time; when a refresh fails the previous copy keeps being used (stale-if-error).
#[derive(Clone)]
pub(crate) struct PolicyCache(Arc<Inner>);

struct Inner {
    config: Arc<StytchConfig>,
    http: reqwest::Client,
    project: ArcSwapOption<Cached>,
    organizations: quick_cache::sync::Cache<Arc<str>, Arc<Cached>>,
    flights: SingleFlight<PolicyKey, Result<Arc<Policy>, AuthError>>,
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
            fetches: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    pub(crate) fn fetch_count(&self) -> u64 {
        self.0.fetches.load(std::sync::atomic::Ordering::Relaxed)
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
        if let Some(cached) = &current
            && elapsed(cached.fetched_at_ms, now) < self.0.config.policy_ttl
        {
            return Ok(Arc::clone(&cached.policy));
        }
        let inner = Arc::clone(&self.0);
        let flight_key = key.clone();
        let (flight, _) = self
            .0
            .flights
            .run(flight_key, move || async move { inner.fetch(key).await });
        match flight.await {
            Some(Ok(policy)) => Ok(policy),
            failed => match current {
                // Stale-if-error: a policy that was right a moment ago beats a 503.
                Some(cached) => {
                    tracing::warn!("stytch.rbac.serving_stale_policy");
                    Ok(Arc::clone(&cached.policy))
                }
                None => Err(failed.and_then(Result::err).unwrap_or_else(|| {
                    AuthError::unavailable(
                        "rbac_policy_unavailable",
                        "The RBAC policy could not be loaded.",
                        Duration::from_secs(1),
                    )
                })),
            },
        }
    }
}

impl Inner {
    async fn fetch(&self, key: PolicyKey) -> Result<Arc<Policy>, AuthError> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let unavailable = |reason: &'static str, retry_after: Option<Duration>| {
            AuthError::unavailable(
                reason,
                "The RBAC policy could not be loaded.",
                retry_after.unwrap_or(Duration::from_secs(1)),
            )
        };
        let url = match &key {
            None => self.config.policy_url(),
            Some(org) => self.config.organization_policy_url(org),
        };
        match http::get_authed(&self.http, &url, &self.config, MAX_POLICY_BYTES).await {
            Ok(Fetched {
                status: 200, body, ..
            }) => {
                let policy = match &key {
                    None => serde_json::from_slice::<PolicyResponse>(&body).map(|r| r.policy),
                    Some(_) => serde_json::from_slice::<OrgPolicyResponse>(&body).map(|r| Policy {
                        roles: r.org_policy.roles,
                        resources: Vec::new(),
                    }),
                }
                .map_err(|_| unavailable("rbac_policy_malformed", None))?;
                let policy = Arc::new(policy);
                let cached = Arc::new(Cached {
                    policy: Arc::clone(&policy),
                    fetched_at_ms: self.config.clock.now_millis(),
                });
                match key {
                    None => self.project.store(Some(cached)),
                    Some(org) => self.organizations.insert(org, cached),
                }
                tracing::debug!(roles = policy.roles.len(), "stytch.rbac.policy_refreshed");
                Ok(policy)
            }
            Ok(Fetched { status: 401, .. }) => Err(AuthError::misconfigured(
                "stytch_rejected_credentials",
                "Stytch rejected this service's project credentials.",
            )),
            Ok(Fetched { status: 404, .. }) if key.is_some() => {
                // An organization Stytch does not know has no custom roles.
                Ok(Arc::new(Policy::default()))
            }
            Ok(Fetched { retry_after, .. }) => {
                Err(unavailable("rbac_policy_unavailable", retry_after))
            }
            Err(reason) => Err(unavailable(reason, None)),
        }
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

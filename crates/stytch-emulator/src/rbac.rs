//! RBAC policies: defaults, normalisation for strict clients, and the permission check of
//! docs/stytch-protocol.md#rbac-permission-check.

use serde_json::{Map, Value, json};

/// The consumer default policy: the default role (if any), no resources, no scopes.
pub(crate) fn default_consumer_policy(default_role: Option<&str>) -> Value {
    let roles: Vec<Value> = default_role
        .map(|r| json!({ "role_id": r, "description": "Default role given to every user.", "permissions": [] }))
        .into_iter()
        .collect();
    json!({ "roles": roles, "resources": [], "scopes": [] })
}

/// The B2B default policy: `stytch_member` and `stytch_admin` over Stytch's default resources.
pub(crate) fn default_b2b_policy() -> Value {
    let resources = [
        (
            "stytch.organization",
            vec!["update.info.name", "update.info.slug", "delete", "get"],
        ),
        (
            "stytch.member",
            vec!["create", "update.info.name", "delete", "search"],
        ),
        ("stytch.sso", vec!["create", "update", "delete", "get"]),
        (
            "stytch.self",
            vec!["update.info.name", "delete", "revoke-sessions"],
        ),
        ("stytch.scim", vec!["create", "update", "delete", "get"]),
    ];
    let resource_values: Vec<Value> = resources
        .iter()
        .map(|(id, actions)| json!({ "resource_id": id, "description": "", "actions": actions }))
        .collect();
    let admin_permissions: Vec<Value> = resources
        .iter()
        .map(|(id, _)| json!({ "resource_id": id, "actions": ["*"] }))
        .collect();
    json!({
        "roles": [
            {
                "role_id": "stytch_member",
                "description": "Granted to all Members upon creation.",
                "permissions": [{ "resource_id": "stytch.self", "actions": ["*"] }],
            },
            {
                "role_id": "stytch_admin",
                "description": "Granted to Members who create an organization.",
                "permissions": admin_permissions,
            },
        ],
        "resources": resource_values,
        "scopes": [],
    })
}

/// Fills in what strict clients require: `roles`, `resources` and `scopes` arrays, and a
/// `description` plus `permissions`/`actions` on every entry. Accepts `{policy: {...}}` too.
pub(crate) fn normalize_policy(v: Value) -> Value {
    let mut obj = match v {
        Value::Object(mut map) if map.contains_key("policy") && !map.contains_key("roles") => {
            match map.remove("policy") {
                Some(Value::Object(inner)) => inner,
                _ => Map::new(),
            }
        }
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let roles = normalize_roles(obj.remove("roles").unwrap_or(Value::Null));
    let resources = normalize_list(
        obj.remove("resources"),
        &[("description", json!("")), ("actions", json!([]))],
    );
    let scopes = normalize_list(
        obj.remove("scopes"),
        &[("description", json!("")), ("permissions", json!([]))],
    );
    obj.insert("roles".into(), Value::Array(roles));
    obj.insert("resources".into(), Value::Array(resources));
    obj.insert("scopes".into(), Value::Array(scopes));
    Value::Object(obj)
}

/// Normalises a list of roles (`{role_id, description?, permissions?}`); accepts `{roles: [...]}`.
pub(crate) fn normalize_roles(v: Value) -> Vec<Value> {
    let v = match v {
        Value::Object(mut map) if map.contains_key("roles") => {
            map.remove("roles").unwrap_or(Value::Null)
        }
        other => other,
    };
    normalize_list(
        Some(v),
        &[("description", json!("")), ("permissions", json!([]))],
    )
}

fn normalize_list(v: Option<Value>, defaults: &[(&str, Value)]) -> Vec<Value> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| match item {
            Value::Object(mut map) => {
                for (key, default) in defaults {
                    if map.get(*key).is_none_or(Value::is_null) {
                        map.insert((*key).to_owned(), default.clone());
                    }
                }
                Some(Value::Object(map))
            }
            _ => None,
        })
        .collect()
}

/// The subject roles that grant `action` on `resource`
/// (docs/stytch-protocol.md#rbac-permission-check): a policy role
/// with that `role_id` has a permission on the exact resource whose actions hold the
/// action or `"*"`. Empty means denied.
pub(crate) fn granting_roles(
    policy_roles: &[Value],
    subject_roles: &[String],
    resource: &str,
    action: &str,
) -> Vec<String> {
    let mut granting = Vec::new();
    for role in subject_roles {
        let grants = policy_roles.iter().any(|policy_role| {
            policy_role.get("role_id").and_then(Value::as_str) == Some(role)
                && policy_role
                    .get("permissions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|p| {
                        p.get("resource_id").and_then(Value::as_str) == Some(resource)
                            && p.get("actions")
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                                .any(|a| a.as_str() == Some("*") || a.as_str() == Some(action))
                    })
        });
        if grants && !granting.contains(role) {
            granting.push(role.clone());
        }
    }
    granting
}

/// The `roles` array of a normalised policy.
pub(crate) fn policy_roles(policy: &Value) -> Vec<Value> {
    policy
        .get("roles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_follows_exact_match_and_wildcard() {
        let policy = normalize_policy(json!({
            "roles": [
                {"role_id": "reader", "permissions": [{"resource_id": "documents", "actions": ["read"]}]},
                {"role_id": "admin", "permissions": [{"resource_id": "documents", "actions": ["*"]}]},
            ],
            "resources": [{"resource_id": "documents", "actions": ["read", "write"]}],
        }));
        assert_eq!(policy["scopes"], json!([]));
        assert_eq!(policy["roles"][0]["description"], "");
        let roles = policy_roles(&policy);
        let subject = vec![
            "stytch_user".to_owned(),
            "reader".to_owned(),
            "admin".to_owned(),
        ];
        assert_eq!(
            granting_roles(&roles, &subject, "documents", "read"),
            vec!["reader", "admin"]
        );
        assert_eq!(
            granting_roles(&roles, &subject, "documents", "write"),
            vec!["admin"]
        );
        assert!(granting_roles(&roles, &subject[..2], "documents", "write").is_empty());
        assert!(granting_roles(&roles, &subject, "images", "read").is_empty());
    }

    #[test]
    fn normalisation_tolerates_junk() {
        assert_eq!(
            normalize_policy(json!(null)),
            json!({"roles": [], "resources": [], "scopes": []})
        );
        let wrapped = normalize_policy(json!({"policy": {"roles": [1, {"role_id": "x"}]}}));
        assert_eq!(
            wrapped["roles"],
            json!([{"role_id": "x", "description": "", "permissions": []}])
        );
        assert_eq!(
            normalize_roles(json!({"roles": [{"role_id": "y"}]})).len(),
            1
        );
    }
}

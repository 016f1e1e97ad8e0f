//! RBAC against the emulator's policy endpoint.

use crate::common;

use std::time::Duration;

use common::Env;
use stytch_emulator::{Factor, NewSession, Route};
use stytch_validator::ErrorKind;

fn policy() -> serde_json::Value {
    serde_json::json!({
        "roles": [
            {"role_id": "stytch_user", "description": "", "permissions": []},
            {"role_id": "reader", "description": "", "permissions": [{"resource_id": "documents", "actions": ["read"]}]},
            {"role_id": "editor", "description": "", "permissions": [{"resource_id": "documents", "actions": ["read", "write"]}]},
            {"role_id": "admin", "description": "", "permissions": [{"resource_id": "documents", "actions": ["*"]}]}
        ],
        "resources": [{"resource_id": "documents", "description": "", "actions": ["read", "write", "delete"]}],
        "scopes": []
    })
}

#[tokio::test]
async fn permissions_follow_the_policy_and_it_is_fetched_once_per_ttl() {
    let env = Env::new().await;
    env.emu.set_rbac_policy(policy());
    let session_with = |roles: &[&str]| {
        env.emu.create_session(
            NewSession::new()
                .factor(Factor::password())
                .roles(roles.iter().copied()),
        )
    };
    let reader = session_with(&["reader"]);
    let reader = env.auth_jwt(&reader.session_jwt).await.unwrap().session;
    let admin = session_with(&["admin", "reader"]);
    let admin = env.auth_jwt(&admin.session_jwt).await.unwrap().session;

    // 50 concurrent checks share one policy fetch.
    let checks: Vec<_> = (0..50)
        .map(|_| {
            let v = env.validator.clone();
            let s = reader.clone();
            tokio::spawn(async move { v.authorize(&s, "documents", "read").await })
        })
        .collect();
    for c in checks {
        assert_eq!(c.await.unwrap().unwrap().granting_roles, ["reader"]);
    }
    assert_eq!(env.emu.request_count(Route::RbacPolicy), 1);

    let denied = env
        .validator
        .authorize(&reader, "documents", "write")
        .await
        .unwrap_err();
    assert_eq!(
        (denied.kind(), denied.reason().as_str()),
        (ErrorKind::Forbidden, "permission_denied")
    );
    assert!(
        env.validator
            .authorize(&reader, "images", "read")
            .await
            .is_err(),
        "unknown resource"
    );
    let granted = env
        .validator
        .authorize(&admin, "documents", "delete")
        .await
        .unwrap();
    assert_eq!(granted.granting_roles, ["admin"], "the * action");

    // Within the TTL no refetch; after it, one in the background (the held policy answers
    // at once); when the refresh fails the stale policy serves.
    env.advance(Duration::from_secs(120));
    env.validator
        .authorize(&reader, "documents", "read")
        .await
        .unwrap();
    assert_eq!(env.emu.request_count(Route::RbacPolicy), 1);
    env.advance(Duration::from_secs(300));
    env.validator
        .authorize(&reader, "documents", "read")
        .await
        .unwrap();
    for _ in 0..200 {
        if env.emu.request_count(Route::RbacPolicy) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(env.emu.request_count(Route::RbacPolicy), 2);
    env.emu
        .inject_fault(Route::RbacPolicy, stytch_emulator::Fault::status(500));
    env.advance(Duration::from_secs(301));
    env.validator
        .authorize(&reader, "documents", "read")
        .await
        .unwrap();
}

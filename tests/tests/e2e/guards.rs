//! Every guard and combinator as a route layer and in a handler: allowed → 200,
//! denied → 403 with its reason (and the handler never runs), no session → 401.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_stytch::*;
use common::{App, json, jwt_cookie};
use stytch_emulator::{Factor, NewSession};

fn policy() -> serde_json::Value {
    serde_json::json!({
        "roles": [
            {"role_id": "stytch_user", "description": "", "permissions": []},
            {"role_id": "reader", "description": "", "permissions": [{"resource_id": "documents", "actions": ["read"]}]},
            {"role_id": "admin", "description": "", "permissions": [{"resource_id": "documents", "actions": ["*"]}]}
        ],
        "resources": [{"resource_id": "documents", "description": "", "actions": ["read", "write"]}],
        "scopes": []
    })
}

#[tokio::test]
async fn guards_allow_deny_and_never_run_the_handler_on_denial() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = {
        let runs = Arc::clone(&runs);
        move || {
            let runs = Arc::clone(&runs);
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }
    };
    let guards: Vec<(&str, Guard)> = vec![
        ("mfa", require_factor_count(2)),
        ("totp", require_factor("totp")),
        ("recent", require_recent_auth(Duration::from_secs(300))),
        (
            "recent_totp",
            require_recent_factor("totp", Duration::from_secs(300)),
        ),
        ("admin", require_role("admin")),
        ("read", require_permission("documents", "read")),
        ("write", require_permission("documents", "write")),
        (
            "beta",
            Guard::from_fn(|s| s.custom_claim::<bool>("beta") == Some(true)),
        ),
        (
            "admin_or_reader",
            require_role("admin").or(require_role("reader")),
        ),
        (
            "admin_and_mfa",
            require_role("admin").and(require_factor_count(2)),
        ),
        ("not_admin", !require_role("admin")),
        (
            "all",
            Guard::all([require_factor("totp"), require_role("reader")]),
        ),
        (
            "any",
            Guard::any([require_role("admin"), require_factor("webauthn")]),
        ),
    ];
    let mut routes = Router::new();
    for (name, guard) in &guards {
        routes = routes.route(
            &format!("/{name}"),
            get(counted.clone()).route_layer(guard.clone()),
        );
    }
    let app = App::start(routes, StytchLayer::new).await;
    app.emu.set_rbac_policy(policy());
    let old = app.emu.now() - time::Duration::hours(1);
    let one_factor = app.session(
        &[Factor::email_magic_link("a@example.com").authenticated_at(old)],
        &["reader"],
    );
    let mfa_admin = app.emu.create_session(
        NewSession::new()
            .factor(Factor::email_magic_link("b@example.com"))
            .factor(Factor::totp())
            .roles(["admin"])
            .custom_claims(serde_json::json!({"beta": true})),
    );
    // (route, one-factor reader expected, MFA admin expected, reader's reason)
    let table: &[(&str, u16, u16, &str)] = &[
        ("mfa", 403, 200, "insufficient_factors"),
        ("totp", 403, 200, "missing_factor"),
        ("recent", 403, 200, "reauthentication_required"),
        ("recent_totp", 403, 200, "missing_factor"),
        ("admin", 403, 200, "missing_role"),
        ("read", 200, 200, ""),
        ("write", 403, 200, "permission_denied"),
        ("beta", 403, 200, "guard_denied"),
        ("admin_or_reader", 200, 200, ""),
        ("admin_and_mfa", 403, 200, "missing_role"),
        ("not_admin", 200, 403, ""),
        ("all", 403, 403, "missing_factor"),
        ("any", 403, 200, "missing_factor"),
    ];
    for (route, reader_status, admin_status, reason) in table {
        let before = runs.load(Ordering::SeqCst);
        let response = app
            .get_with_cookie(&format!("/{route}"), &jwt_cookie(&one_factor.session_jwt))
            .await;
        assert_eq!(response.status(), *reader_status, "reader on /{route}");
        if *reader_status == 403 {
            assert_eq!(
                runs.load(Ordering::SeqCst),
                before,
                "/{route}: handler ran on denial"
            );
            let challenge = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(challenge.contains("insufficient_scope"), "{challenge}");
            assert_eq!(json(response).await["error"], *reason, "/{route}");
        }
        let response = app
            .get_with_cookie(&format!("/{route}"), &jwt_cookie(&mfa_admin.session_jwt))
            .await;
        assert_eq!(response.status(), *admin_status, "admin on /{route}");
        let response = app
            .http
            .get(app.url(&format!("/{route}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "no session on /{route}");
    }
    // The permission routes fetched the policy once.
    assert_eq!(app.emu.request_count(stytch_emulator::Route::RbacPolicy), 1);
}

#[tokio::test]
async fn guards_work_inside_handlers() {
    async fn transfer(session: StytchSession) -> Result<&'static str, StytchRejection> {
        session.require(&require_factor_count(2)).await?;
        Ok("sent")
    }
    async fn delete(session: StytchSession) -> Result<String, StytchRejection> {
        let granted = session.authorize("documents", "write").await?;
        Ok(granted.granting_roles.join(","))
    }
    let routes = Router::new()
        .route("/transfer", get(transfer))
        .route("/delete", get(delete));
    let app = App::start(routes, StytchLayer::new).await;
    app.emu.set_rbac_policy(policy());
    let single = app.session(&[Factor::password()], &["reader"]);
    let double = app.session(
        &[Factor::password(), Factor::sms_otp("+15555550123")],
        &["admin"],
    );
    let response = app
        .get_with_cookie("/transfer", &jwt_cookie(&single.session_jwt))
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(json(response).await["error"], "insufficient_factors");
    assert_eq!(
        app.get_with_cookie("/transfer", &jwt_cookie(&double.session_jwt))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get_with_cookie("/delete", &jwt_cookie(&single.session_jwt))
            .await
            .status(),
        403
    );
    let response = app
        .get_with_cookie("/delete", &jwt_cookie(&double.session_jwt))
        .await;
    assert_eq!(response.text().await.unwrap(), "admin");
}

#[tokio::test]
async fn a_fresh_factor_of_another_kind_does_not_satisfy_a_recent_factor_guard() {
    let routes = Router::new().route(
        "/payout",
        get(|| async { "paid" })
            .route_layer(require_recent_factor("totp", Duration::from_secs(300))),
    );
    let app = App::start(routes, StytchLayer::new).await;
    let old = app.emu.now() - time::Duration::hours(1);
    let stale_totp = app.session(
        &[
            Factor::totp().authenticated_at(old),
            Factor::email_magic_link("a@example.com"),
        ],
        &[],
    );
    let fresh_totp = app.session(&[Factor::totp()], &[]);
    assert_eq!(
        app.get_with_cookie("/payout", &jwt_cookie(&stale_totp.session_jwt))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.get_with_cookie("/payout", &jwt_cookie(&fresh_totp.session_jwt))
            .await
            .status(),
        200
    );
    // Time passes: the TOTP is no longer recent.
    app.advance(Duration::from_secs(200));
    let fresh_jwt = app.emu.mint_jwt(&fresh_totp.session_id).unwrap();
    assert_eq!(
        app.get_with_cookie("/payout", &jwt_cookie(&fresh_jwt))
            .await
            .status(),
        200
    );
    app.advance(Duration::from_secs(200));
    let fresh_jwt = app.emu.mint_jwt(&fresh_totp.session_id).unwrap();
    assert_eq!(
        app.get_with_cookie("/payout", &jwt_cookie(&fresh_jwt))
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn the_rejection_handler_also_shapes_denials_raised_in_handlers() {
    async fn transfer(session: StytchSession) -> Result<&'static str, StytchRejection> {
        session.require(&require_factor_count(2)).await?;
        Ok("sent")
    }
    let routes = Router::new().route("/transfer", get(transfer));
    let app = App::start(routes, |v| {
        StytchLayer::new(v).with_rejection_handler(|r| {
            use axum::response::IntoResponse;
            (r.status(), format!("custom: {}", r.error().reason())).into_response()
        })
    })
    .await;
    let single = app.session(&[Factor::password()], &[]);
    let response = app
        .get_with_cookie("/transfer", &jwt_cookie(&single.session_jwt))
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.text().await.unwrap(),
        "custom: insufficient_factors"
    );
}

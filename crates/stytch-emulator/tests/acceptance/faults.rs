//! Faults, counters and lenient/strict request handling over raw HTTP.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stytch_emulator::{Fault, NewSession, Route};

use crate::support::{assert_error, get, http, post, start};

#[tokio::test]
async fn status_fault_with_retry_after_then_normal() {
    let emu = start().await;
    emu.inject_fault(Route::Jwks, Fault::status(503).retry_after(7).times(2));
    let url = format!("{}/v1/sessions/jwks/{}", emu.base_url(), emu.project_id());
    for _ in 0..2 {
        let res = http().get(&url).send().await.expect("sent");
        assert_eq!(
            res.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("7")
        );
        let status = res.status().as_u16();
        let body: Value = res.json().await.expect("json");
        assert_error(status, &body, 503, "service_unavailable");
    }
    let res = http().get(&url).send().await.expect("sent");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(emu.request_count(Route::Jwks), 3);

    emu.inject_fault(Route::RbacPolicy, Fault::status(500));
    for _ in 0..3 {
        let (status, body) = get(&emu, "/v1/rbac/policy").await;
        assert_error(status, &body, 500, "internal_server_error");
    }
    emu.clear_faults();
    assert_eq!(get(&emu, "/v1/rbac/policy").await.0, 200);
    assert_eq!(emu.request_count(Route::RbacPolicy), 4);
    emu.reset_counts();
    assert_eq!(emu.request_count(Route::RbacPolicy), 0);
    assert_eq!(emu.request_count(Route::Jwks), 0);
}

#[tokio::test]
async fn latency_malformed_body_and_closed_connection() {
    let emu = start().await;
    let s = emu.create_session(NewSession::new());
    let body = json!({"session_token": s.session_token});

    emu.inject_fault(
        Route::Authenticate,
        Fault::latency(Duration::from_millis(300)).times(1),
    );
    let started = Instant::now();
    let (status, _) = post(&emu, "/v1/sessions/authenticate", body.clone()).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    emu.inject_fault(Route::Authenticate, Fault::malformed_body().times(1));
    let res = http()
        .post(format!("{}/v1/sessions/authenticate", emu.base_url()))
        .basic_auth(emu.project_id(), Some(emu.secret()))
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 200);
    let text = res.text().await.expect("text");
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "not JSON: {text}"
    );

    emu.inject_fault(Route::Authenticate, Fault::close_connection().times(1));
    let cut = http()
        .post(format!("{}/v1/sessions/authenticate", emu.base_url()))
        .basic_auth(emu.project_id(), Some(emu.secret()))
        .json(&body)
        .send()
        .await;
    assert!(
        cut.is_err(),
        "connection should drop without a response: {cut:?}"
    );

    let (status, _) = post(&emu, "/v1/sessions/authenticate", body).await;
    assert_eq!(status, 200, "faults used up");
    assert_eq!(emu.request_count(Route::Authenticate), 4);
}

#[tokio::test]
async fn requests_are_read_leniently_and_rejected_in_stytch_shape() {
    let emu = start().await;
    let s = emu.create_session(NewSession::new());
    let auth = format!("{}/v1/sessions/authenticate", emu.base_url());

    // Explicit nulls mean absent (the Rust SDK sends them).
    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_token": s.session_token, "session_jwt": null, "session_duration_minutes": null,
               "session_custom_claims": null, "authorization_check": null}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status_code"], 200);
    assert!(
        body["request_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("request-id-test-"))
    );
    for field in [
        "biometric_registrations",
        "is_locked",
        "roles",
        "crypto_wallets",
        "totps",
    ] {
        assert!(body["user"].get(field).is_some(), "user.{field}");
    }

    let (status, body) = post(&emu, "/v1/sessions/authenticate", json!({})).await;
    assert_error(status, &body, 400, "no_session_arguments");

    let res = http()
        .post(&auth)
        .basic_auth(emu.project_id(), Some(emu.secret()))
        .header("content-type", "application/json")
        .body("{\"session_token\": ")
        .send()
        .await
        .expect("sent");
    let status = res.status().as_u16();
    assert_error(status, &res.json().await.expect("json"), 400, "bad_request");

    let res = http()
        .post(&auth)
        .json(&json!({"session_token": s.session_token}))
        .send()
        .await
        .expect("sent");
    let status = res.status().as_u16();
    assert_error(
        status,
        &res.json().await.expect("json"),
        401,
        "unauthorized_credentials",
    );

    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_jwt": "not.a.jwt"}),
    )
    .await;
    assert_error(status, &body, 400, "unable_to_parse_session_jwt");

    let (status, body) = post(
        &emu,
        "/v1/sessions/authenticate",
        json!({"session_token": s.session_token, "session_custom_claims": {"https://stytch.com/x": 1}}),
    )
    .await;
    assert_error(status, &body, 400, "stytch_claims_in_custom_claims");

    let (status, body) = post(
        &emu,
        "/v1/sessions/revoke",
        json!({"session_id": s.session_id, "session_token": s.session_token}),
    )
    .await;
    assert_error(status, &body, 400, "too_many_session_revoke_arguments");
    let (status, body) = post(&emu, "/v1/sessions/revoke", json!({})).await;
    assert_error(status, &body, 400, "no_session_revoke_arguments");
    let (status, body) = post(
        &emu,
        "/v1/sessions/revoke",
        json!({"session_jwt": s.session_jwt}),
    )
    .await;
    assert_eq!((status, &body["status_code"]), (200, &json!(200)));
    let (status, body) = post(
        &emu,
        "/v1/sessions/revoke",
        json!({"session_jwt": s.session_jwt}),
    )
    .await;
    assert_error(status, &body, 404, "session_not_found");

    // JWKS: no auth needed, GET bodies and unknown query parameters accepted.
    let res = http()
        .get(format!(
            "{}/v1/b2b/sessions/jwks/{}?project_id={}&x=1",
            emu.base_url(),
            emu.project_id(),
            emu.project_id()
        ))
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 200);
    let jwks: Value = res.json().await.expect("json");
    assert_eq!(jwks["keys"][0]["kid"], emu.current_kid());
    assert_eq!(jwks["status_code"], 200);

    let (status, body) = get(&emu, "/v1/sessions/jwks/project-test-someone-else").await;
    assert_error(status, &body, 404, "project_not_found");
    let (status, body) = get(&emu, "/v1/no/such/route").await;
    assert_error(status, &body, 404, "route_not_found");
    let (status, body) = get(&emu, "/v1/sessions/authenticate").await;
    assert_error(status, &body, 405, "method_not_allowed");
}

#[tokio::test]
async fn shutdown_and_last_drop_stop_the_server() {
    let emu = start().await;
    let url = format!("{}/v1/sessions/jwks/{}", emu.base_url(), emu.project_id());
    assert_eq!(
        http().get(&url).send().await.expect("up").status().as_u16(),
        200
    );
    emu.clone().shutdown().await;
    assert!(
        reqwest::Client::new().get(&url).send().await.is_err(),
        "stopped after shutdown"
    );

    let emu = start().await;
    let url = format!("{}/v1/sessions/jwks/{}", emu.base_url(), emu.project_id());
    let clone = emu.clone();
    drop(emu);
    assert_eq!(
        http()
            .get(&url)
            .send()
            .await
            .expect("a clone keeps it up")
            .status()
            .as_u16(),
        200
    );
    drop(clone);
    let mut stopped = false;
    for _ in 0..50 {
        if reqwest::Client::new().get(&url).send().await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped, "dropping the last handle stops the server");
}

#[tokio::test]
async fn huge_control_values_do_not_break_the_emulator() {
    let emu = start().await;
    let s = emu.create_session(NewSession::new().duration_minutes(u32::MAX));
    assert!(emu.mint_jwt(&s.session_id).is_some());
    emu.advance_clock(Duration::MAX);
    // The clock offset is capped (1000 years) above the session cap (100 years).
    assert!(emu.now_unix() > s.expires_at.unix_timestamp());
    assert!(emu.mint_jwt(&s.session_id).is_none());
    let (status, _) = post(&emu, "/_emulator/clock/advance", json!({"seconds": 1e300})).await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &emu,
        "/_emulator/sessions",
        json!({"duration_minutes": 4_294_967_295u64}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&emu, "/_emulator/sessions", json!({"factors": [1]})).await;
    assert_error(status, &body, 400, "invalid_request_value");
}

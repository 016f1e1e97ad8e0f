//! The 0.2 API end to end: one rendering for every refusal however it is raised, typed
//! custom claims in the signature, the optional modes, and the test kit.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_stytch::layer::Mode;
use axum_stytch::stytch_validator::{AuthError, Reason};
use axum_stytch::{
    Session, StytchLayer, StytchRejection, StytchSession, Validator, require_role, test,
};
use serde_json::json;
use stytch_emulator::NewSession;
use tower::ServiceExt as _;

use crate::support::app::{self, Req, Sent};

async fn start() -> (stytch_emulator::EmulatorHandle, Validator) {
    let emu = stytch_emulator::Emulator::builder()
        .start()
        .await
        .expect("emulator starts");
    let validator = Validator::new(
        axum_stytch::StytchConfig::builder(emu.project_id(), emu.secret())
            .api_url(emu.base_url())
            .build()
            .expect("config"),
    );
    validator.warm_up().await.expect("warm-up");
    (emu, validator)
}

/// What a client sees of a response.
fn seen(sent: &Sent) -> (u16, Option<String>, Option<String>, Option<String>, String) {
    let h = |n: &str| sent.header(n).map(str::to_owned);
    (
        sent.status,
        h("content-type"),
        h("www-authenticate"),
        h("retry-after"),
        sent.body.clone(),
    )
}

fn custom(r: StytchRejection) -> Response {
    (
        r.status(),
        [("x-custom", "yes")],
        format!("custom {} {}", r.reason(), r.credentials_present()),
    )
        .into_response()
}

async fn ok(session: StytchSession) -> String {
    session.user_id().to_owned()
}

async fn in_handler(session: StytchSession) -> Result<String, StytchRejection> {
    session.require(&require_role("admin")).await?;
    Ok(session.user_id().to_owned())
}

async fn returned(session: StytchSession) -> Result<String, StytchRejection> {
    if !session.has_role("admin") {
        return Err(StytchRejection::from(AuthError::new(
            Reason::MissingRole,
            "This requires the `admin` role.",
        )));
    }
    Ok(session.user_id().to_owned())
}

/// Optional routes that refuse the missing session in each possible place.
async fn extractor(session: StytchSession) -> String {
    session.user_id().to_owned()
}

async fn returned_401(session: Option<StytchSession>) -> Result<String, StytchRejection> {
    match session {
        Some(s) => Ok(s.user_id().to_owned()),
        None => Err(StytchRejection::new(
            AuthError::new(Reason::MissingCredentials, "A Stytch session is required."),
            false,
        )),
    }
}

fn forbidden_routes() -> Router {
    Router::new()
        .route("/guard", get(ok).route_layer(require_role("admin")))
        .route("/require", get(in_handler))
        .route("/returned", get(returned))
}

fn unauthenticated_routes() -> Router {
    Router::new()
        .route("/extractor", get(extractor))
        .route("/guard", get(ok).route_layer(require_role("admin")))
        .route("/returned", get(returned_401))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_renders_identically_however_it_was_raised() {
    let (emu, validator) = start().await;
    let user = emu.create_session(NewSession::new());
    for handler in [false, true] {
        let layer = |mode: Mode| {
            let l = StytchLayer::new(validator.clone()).with_mode(mode);
            if handler {
                l.with_rejection_handler(custom)
            } else {
                l
            }
        };
        // 403 missing_role: a route guard, `session.require`, a returned rejection.
        let router = forbidden_routes().layer(layer(Mode::Required));
        let req = Req::cookie(&user.session_jwt);
        let mut views = Vec::new();
        for path in ["/guard", "/require", "/returned"] {
            views.push((path, seen(&app::call(&router, path, &req).await)));
        }
        assert_eq!(views[0].1.0, 403, "{views:?}");
        for (path, view) in &views {
            assert_eq!(
                view, &views[0].1,
                "handler {handler}: {path} differs from /guard"
            );
        }
        assert_eq!(
            views[0].1.4.starts_with("custom missing_role"),
            handler,
            "{views:?}"
        );

        // 401 missing_credentials: the layer itself (required), and under an optional
        // layer the extractor, a route guard and a returned rejection.
        let required = Router::new()
            .route("/me", get(ok))
            .layer(layer(Mode::Required));
        let by_layer = seen(&app::call(&required, "/me", &Req::none()).await);
        assert_eq!(by_layer.0, 401);
        let optional = unauthenticated_routes().layer(layer(Mode::Optional));
        for path in ["/extractor", "/guard", "/returned"] {
            let view = seen(&app::call(&optional, path, &Req::none()).await);
            assert_eq!(
                view, by_layer,
                "handler {handler}: {path} differs from the layer's"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_claims_are_in_the_signature_and_parsed_once_per_session() {
    #[derive(serde::Deserialize)]
    struct Plan {
        plan: String,
        seats: u32,
    }
    async fn billing(s: StytchSession<Plan>) -> String {
        format!("{} {} {:p}", s.claims().plan, s.claims().seats, s.claims())
    }
    let (emu, validator) = start().await;
    let router = Router::new()
        .route("/billing", get(billing))
        .layer(StytchLayer::new(validator));
    let pro =
        emu.create_session(NewSession::new().custom_claims(json!({"plan": "pro", "seats": 5})));
    let first = app::call(&router, "/billing", &Req::cookie(&pro.session_jwt)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.starts_with("pro 5 "), "{}", first.body);
    let second = app::call(&router, "/billing", &Req::cookie(&pro.session_jwt)).await;
    assert_eq!(
        first.body, second.body,
        "the cached session's claims are the same parsed value"
    );
    let wrong = emu.create_session(NewSession::new().custom_claims(json!({"plan": 7})));
    let sent = app::call(&router, "/billing", &Req::cookie(&wrong.session_jwt)).await;
    assert_eq!(sent.status, 401);
    assert_eq!(sent.json()["error"], "claims_mismatch");
    let none = emu.create_session(NewSession::new());
    let sent = app::call(&router, "/billing", &Req::cookie(&none.session_jwt)).await;
    assert_eq!(sent.json()["error"], "claims_mismatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_modes_decide_what_a_request_without_a_usable_session_gets() {
    async fn maybe(s: Option<StytchSession>) -> String {
        s.map_or_else(|| "anonymous".to_owned(), |s| s.user_id().to_owned())
    }
    let (_emu, validator) = start().await;
    let cases = [
        (Mode::Required, Req::none(), 401),
        (Mode::Required, Req::cookie("not.a.jwt"), 401),
        (Mode::Optional, Req::none(), 200),
        (Mode::Optional, Req::cookie("not.a.jwt"), 401),
        (
            Mode::Optional,
            Req::raw("authorization", "Basic dXNlcjpwYXNz"),
            401,
        ),
        (Mode::OptionalIgnoringInvalid, Req::none(), 200),
        (Mode::OptionalIgnoringInvalid, Req::cookie("not.a.jwt"), 200),
        (
            Mode::OptionalIgnoringInvalid,
            Req::raw("authorization", "Basic dXNlcjpwYXNz"),
            200,
        ),
    ];
    for (mode, req, want) in cases {
        let router = Router::new()
            .route("/", get(maybe))
            .layer(StytchLayer::new(validator.clone()).with_mode(mode));
        let sent = app::call(&router, "/", &req).await;
        assert_eq!(sent.status, want, "{mode:?} {req:?}: {}", sent.body);
        if want == 200 {
            assert_eq!(sent.body, "anonymous");
        }
    }
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_500_naming_the_fix() {
    let router = Router::new().route("/me", get(ok));
    let sent = app::call(&router, "/me", &Req::none()).await;
    assert_eq!(sent.status, 500);
    assert_eq!(sent.json()["error"], "missing_layer");
    assert!(sent.body.contains("StytchLayer"), "{}", sent.body);
}

// ------------------------------------------------------------------- the test kit

#[tokio::test]
async fn the_test_kit_hands_a_session_to_a_router_without_a_server() {
    let admin = Session::builder("user-test-admin").role("admin").build();
    let router = forbidden_routes().layer(test::with_session(admin));
    for path in ["/guard", "/require", "/returned"] {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        assert_eq!(response.status(), 200, "{path}");
    }
    let reader = Session::builder("user-test-reader").build();
    let router = forbidden_routes().layer(test::with_session(reader));
    let sent = app::call(&router, "/require", &Req::none()).await;
    assert_eq!(
        (sent.status, sent.json()["error"].clone()),
        (403, json!("missing_role"))
    );
}

#[tokio::test]
async fn the_test_kit_hands_a_session_to_a_handler_called_directly() {
    #[derive(serde::Deserialize)]
    struct Plan {
        plan: String,
    }
    async fn plan(s: StytchSession<Plan>) -> String {
        format!("{} on {}", s.user_id(), s.claims().plan)
    }
    let session = Session::builder("user-test-1")
        .factor("magic_link", "email")
        .custom_claims(json!({"plan": "team"}))
        .build();
    let s =
        StytchSession::for_test(session.clone(), test::offline_validator()).expect("claims fit");
    assert_eq!(plan(s).await, "user-test-1 on team");
    // The offline validator never reaches the network: RBAC answers 503 at once.
    let s: StytchSession =
        StytchSession::for_test(session, test::offline_validator()).expect("no claims");
    let refusal = s
        .authorize("documents", "read")
        .await
        .expect_err("no policy offline");
    assert_eq!(refusal.status(), 503);
    let _ = Arc::new(());
}

// ------------------------------------------------------------ the user's HTTP client

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_supplied_http_client_carries_every_call_and_redirects_are_refused() {
    use crate::support::mock::{Mock, Reply};
    use crate::support::own;
    let client = reqwest::Client::builder()
        .user_agent("acme-service/1.0 (own client)")
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mock = Mock::start().await;
    mock.set_jwks(Reply::jwks(vec![own::real().jwk()]));
    let clock = axum_stytch::stytch_validator::ManualClock::at_unix_secs(1_900_000_000);
    let validator = app::validator(own::PID, own::SECRET, &mock.base_url(), &clock, |b| {
        b.http_client(client)
    });
    let router = Router::new()
        .route("/me", get(ok))
        .layer(StytchLayer::new(validator.clone()));
    // A remote authentication (an expired JWT) and the JWKS fetch both go through it.
    mock.set_auth(Reply::json(200, own::authenticated_body(1_900_000_000)));
    let header = json!({"alg": "RS256", "kid": own::real().kid, "typ": "JWT"});
    let expired = own::real().sign(&header, &own::claims_at(1_900_000_000 - 3900));
    let sent = app::call(&router, "/me", &Req::cookie(&expired)).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let seen = mock.seen();
    assert!(
        seen.iter()
            .any(|s| s.path.contains("/sessions/authenticate"))
    );
    for s in &seen {
        assert_eq!(
            s.user_agent.as_deref(),
            Some("acme-service/1.0 (own client)"),
            "{}",
            s.path
        );
    }
    // A client that follows redirects cannot be led away: the answer is refused.
    let follows = reqwest::Client::builder().build().expect("client");
    let target = Mock::start().await;
    target.set_auth(Reply::json(200, own::authenticated_body(1_900_000_000)));
    mock.set_auth(
        Reply::json(307, json!({})).header("location", target.url("/v1/sessions/authenticate")),
    );
    let misled = app::validator(own::PID, own::SECRET, &mock.base_url(), &clock, |b| {
        b.http_client(follows)
    });
    let router = Router::new()
        .route("/me", get(ok))
        .layer(StytchLayer::new(misled));
    let sent = app::call(&router, "/me", &Req::cookie(&expired)).await;
    assert_eq!(sent.status, 503, "{}", sent.body);
    assert_eq!(sent.json()["error"], "upstream_redirected");
}

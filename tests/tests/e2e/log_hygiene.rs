//! Log hygiene (docs/threat-model.md, C-LOG-01/02, D7): every `tracing` event of every target is
//! captured at TRACE while the whole adversarial catalogue runs again, plus the remote
//! paths (refreshes, session tokens, revoked sessions, Stytch and JWKS faults, a wrong
//! secret). Then no token, JWT segment, session token or secret may appear in any event,
//! no event may carry a raw CR or LF, and no `Debug` output may show a credential.
//! (C-LOG-03, generic refusal bodies, is checked on every row by the table runner.)

use crate::support;

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum_stytch::StytchLayer;
use axum_stytch::stytch_validator::Credentials;
use stytch_emulator::{Fault, Route};
use support::app::{self, Live, Req};
use support::cases::{self, Fx};
use support::own::{self, Own};
use support::runner::{Fixture as _, fragments, run_table};
use tracing::dispatcher::DefaultGuard;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::NoSubscriber;
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

/// One captured event or span record: where it came from and every field, rendered as
/// the formatter would (`%` values raw, `?` values through `Debug`).
#[derive(Debug, Clone)]
struct Captured {
    target: String,
    fields: Vec<(String, String)>,
}

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

struct Capture(Arc<Mutex<Vec<Captured>>>);

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.lock().unwrap().push(Captured {
            target: event.metadata().target().to_owned(),
            fields: fields.0,
        });
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        self.0.lock().unwrap().push(Captured {
            target: attrs.metadata().target().to_owned(),
            fields: fields.0,
        });
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        self.0.lock().unwrap().push(Captured {
            target: format!("span {span:?}"),
            fields: fields.0,
        });
    }
}

/// The formatted output too, as an app's `fmt` subscriber would write it.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The events and formatted output `dispatch` captures. The dispatcher is not installed
/// globally: this test shares its process with every other end-to-end test, whose
/// events must not reach these assertions. It is the default only on the threads of
/// the test's own runtime ([`runtime_with`]) and on the thread driving it.
fn capture() -> (Arc<Mutex<Vec<Captured>>>, Buffer, Dispatch) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::registry()
        .with(Capture(Arc::clone(&events)))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .with_filter(tracing_subscriber::filter::LevelFilter::TRACE),
        );
    (events, buffer, Dispatch::new(subscriber))
}

thread_local! {
    /// Keeps `dispatch` the default on a runtime thread until the thread stops.
    static SCOPED: RefCell<Option<DefaultGuard>> = const { RefCell::new(None) };
}

/// A runtime like `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]`'s whose
/// worker and blocking threads all log to `dispatch`, so that spawned tasks (the
/// validator's background refreshes, the emulator, the served app) are captured too.
fn runtime_with(dispatch: &Dispatch) -> tokio::runtime::Runtime {
    let on_start = dispatch.clone();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            let guard = tracing::dispatcher::set_default(&on_start);
            SCOPED.with(|scoped| *scoped.borrow_mut() = Some(guard));
        })
        .on_thread_stop(|| SCOPED.with(|scoped| drop(scoped.borrow_mut().take())))
        .build()
        .expect("runtime")
}

/// Pieces of `credential` that would identify it in a log line; plain words (cookie
/// names, schemes) are not secrets.
fn secret_fragments(credential: &str) -> Vec<String> {
    fragments(credential)
        .into_iter()
        .filter(|f| {
            !f.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-')
        })
        .collect()
}

fn set_cookie_values(sent: &app::Sent) -> Vec<String> {
    sent.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .filter_map(|c| c.split_once('=').map(|(_, v)| v.to_owned()))
        .filter(|v| !v.is_empty())
        .collect()
}

/// The remote paths and faults, which the token table barely touches. Returns every
/// credential and secret they handled.
async fn remote_paths(events: &Mutex<Vec<Captured>>) -> Vec<String> {
    let mut secrets = Vec::new();
    let live = Live::warm(|b| b).await;
    secrets.push(live.emu.secret().to_owned());
    // A refresh: the expired JWT goes to Stytch, fresh credentials come back.
    let s = live.session(&["admin"]);
    secrets.extend([s.session_jwt.clone(), s.session_token.clone()]);
    live.advance(Duration::from_secs(400));
    let sent = live.get("/admin", &Req::cookie(&s.session_jwt)).await;
    assert_eq!(sent.status, 200);
    secrets.extend(set_cookie_values(&sent));
    let sent = live
        .get("/protected", &Req::session_token(&s.session_token))
        .await;
    assert_eq!(sent.status, 200);
    secrets.extend(set_cookie_values(&sent));
    // A revoked session, then Stytch rate limiting and failing, then the JWKS failing.
    let gone = live.session(&[]);
    secrets.extend([gone.session_jwt.clone(), gone.session_token.clone()]);
    live.emu.revoke_session(&gone.session_id);
    let sent = live
        .get("/protected", &Req::session_token(&gone.session_token))
        .await;
    assert_eq!(sent.status, 401);
    for fault in [
        Fault::status(429).retry_after(1).times(2),
        Fault::status(503).times(2),
        Fault::malformed_body().times(2),
    ] {
        live.emu.inject_fault(Route::Authenticate, fault);
        let t = live.session(&[]);
        secrets.extend([t.session_jwt.clone(), t.session_token.clone()]);
        live.get("/protected", &Req::session_token(&t.session_token))
            .await;
        live.advance(Duration::from_secs(2));
    }
    // C-JWKS-04: while the JWKS is down, one warning per failed refresh attempt (the
    // backoff interval), not one per request.
    live.emu.inject_fault(Route::Jwks, Fault::status(500));
    live.advance(Duration::from_secs(601));
    let t = live.session(&[]);
    secrets.push(t.session_jwt.clone());
    let mark = events.lock().unwrap().len();
    let fetches = live.fetches();
    for _ in 0..40 {
        let sent = live.get("/protected", &Req::cookie(&t.session_jwt)).await;
        assert_eq!(sent.status, 200, "C-JWKS-04: last-known-good keys");
        tokio::time::sleep(Duration::from_millis(3)).await;
        live.advance(Duration::from_millis(500));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let attempts = live.fetches() - fetches;
    let warnings = events.lock().unwrap()[mark..]
        .iter()
        .filter(|e| {
            e.fields
                .iter()
                .any(|(_, v)| v == "stytch.jwks.fetch_failed")
        })
        .count() as u64;
    assert!(
        (3..=6).contains(&attempts),
        "C-JWKS-04: {attempts} attempts in 20 s"
    );
    assert_eq!(warnings, attempts, "C-JWKS-04: one warning per attempt");
    // C-API-03: our secret rejected, which is logged as an error.
    let wrong = "secret-test-Wr0ngSecretValue0123456789abcdefABCD";
    secrets.push(wrong.to_owned());
    let clock = axum_stytch::stytch_validator::ManualClock::at_unix_secs(live.emu.now_unix());
    let validator = app::validator(
        live.emu.project_id(),
        wrong,
        &live.emu.base_url(),
        &clock,
        |b| b,
    );
    let u = live.session(&[]);
    secrets.push(u.session_token.clone());
    let err = validator
        .authenticate(Credentials::token(u.session_token.clone()))
        .await
        .expect_err("wrong secret");
    assert_eq!(err.status_code(), 500);
    // Debug output of everything that holds a credential.
    let config = axum_stytch::StytchConfig::builder(live.emu.project_id(), wrong)
        .build()
        .expect("config");
    let shown = format!("{config:?}");
    assert!(
        shown.contains(r#"secret: "[redacted]""#),
        "C-LOG-01: {shown}"
    );
    let auth = live
        .validator
        .authenticate(Credentials::token(s.session_token.clone()))
        .await
        .expect("live session");
    let refreshed = auth.refreshed.clone().expect("fresh tokens");
    secrets.extend([
        refreshed.session_jwt.clone(),
        refreshed.session_token.clone(),
    ]);
    let debug_outputs = [
        shown,
        format!("{:?}", live.validator),
        format!("{:?}", Credentials::jwt(s.session_jwt.clone())),
        format!("{:?}", Credentials::token(s.session_token.clone())),
        format!("{auth:?}"),
        format!("{refreshed:?}"),
        format!("{err:?} {err}"),
        format!("{:?}", StytchLayer::new(validator.clone())),
        format!("{:?}", live.emu),
    ];
    for (i, out) in debug_outputs.iter().enumerate() {
        for secret in &secrets {
            for fragment in secret_fragments(secret) {
                assert!(
                    !out.contains(&fragment),
                    "C-LOG-01: Debug output #{i} shows a credential: {out}"
                );
            }
        }
    }
    secrets
}

#[test]
fn no_credential_or_raw_newline_reaches_the_logs() {
    // While exactly one dispatcher exists, tracing-core works out a callsite's interest
    // from the current thread's default alone: with ours the only one, a callsite first
    // reached on another test's thread would be cached as "never" and stay silent here
    // too. A second, silent dispatcher makes it ask every dispatcher.
    let _second = Dispatch::new(NoSubscriber::default());
    let (events, buffer, dispatch) = capture();
    let runtime = runtime_with(&dispatch);
    tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(check_the_logs(&events, &buffer));
    });
}

async fn check_the_logs(events: &Mutex<Vec<Captured>>, buffer: &Buffer) {
    let fx = Fx::start().await;
    run_table(&fx, &cases::all()).await;
    let own = Own::start().await;
    run_table(&own, &own::all()).await;
    let mut secrets = remote_paths(events).await;
    secrets.extend(fx.issued().lock().unwrap().iter().cloned());
    secrets.extend(own.issued().lock().unwrap().iter().cloned());
    secrets.extend([
        fx.baseline.clone(),
        fx.live.session_jwt.clone(),
        fx.live.session_token.clone(),
        fx.emu.secret().to_owned(),
        own::SECRET.to_owned(),
    ]);
    let mut fragments: Vec<String> = secrets.iter().flat_map(|s| secret_fragments(s)).collect();
    fragments.sort();
    fragments.dedup();
    assert!(fragments.len() > 300, "the suite handled many credentials");

    let events = events.lock().unwrap().clone();
    let ours = events
        .iter()
        .filter(|e| e.target.starts_with("stytch_validator") || e.target.starts_with("axum_stytch"))
        .count();
    assert!(ours > 100, "the library's events were captured ({ours})");
    for wanted in [
        "stytch.jwt.rejected",
        "stytch.jwt.remote_fallback",
        "stytch.api.rejected",
        "stytch.api.failed",
        "stytch.api.misconfigured",
        "stytch.jwks.fetch_failed",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e.fields.iter().any(|(_, v)| v == wanted)),
            "no {wanted} event was captured"
        );
    }
    let mut leaks = Vec::new();
    for event in &events {
        for (name, value) in &event.fields {
            if value.contains('\r') || value.contains('\n') {
                leaks.push(format!(
                    "C-LOG-02: raw CR/LF in {}: {name}={value:?}",
                    event.target
                ));
            }
            for fragment in &fragments {
                if value.contains(fragment.as_str()) {
                    leaks.push(format!(
                        "C-LOG-01: {} field {name} carries a credential fragment ({} chars)",
                        event.target,
                        fragment.len()
                    ));
                }
            }
        }
    }
    let formatted = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    assert!(!formatted.is_empty(), "the fmt layer wrote");
    if formatted.contains('\r') {
        leaks.push("C-LOG-02: a raw CR in the formatted log".to_owned());
    }
    for fragment in &fragments {
        if formatted.contains(fragment.as_str()) {
            leaks.push(format!(
                "C-LOG-01: formatted output carries a credential fragment ({} chars)",
                fragment.len()
            ));
        }
    }
    leaks.dedup();
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

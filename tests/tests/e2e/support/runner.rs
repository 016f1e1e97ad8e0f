//! The table runner: one row = one case id. Each row gets a fresh validator (its own
//! caches, cooldowns and breaker) on a clock set to the fixture's `t0`, warmed up, behind
//! `StytchLayer` on loopback; then the row's request is sent and the status, the
//! upstream counters (Stytch calls, JWKS fetches, attacker hits) and the body are checked.

use std::sync::Mutex;

use axum_stytch::Validator;
use axum_stytch::stytch_validator::{Credentials, ManualClock};

use super::app::{self, Configure, Req, Sent};

/// An expected counter delta.
#[derive(Clone, Copy, Debug)]
pub enum Count {
    Exactly(u64),
    AtMost(u64),
}

impl Count {
    fn admits(self, n: u64) -> bool {
        match self {
            Count::Exactly(e) => n == e,
            Count::AtMost(m) => n <= m,
        }
    }
}

/// No upstream traffic of that kind.
pub const NONE: Count = Count::Exactly(0);
/// Exactly one.
pub const ONE: Count = Count::Exactly(1);
/// At most one (an unknown-kid refresh within the cooldown).
pub const AT_MOST_ONE: Count = Count::AtMost(1);

/// What a fixture offers the runner.
pub trait Fixture: Sync {
    fn project_id(&self) -> String;
    fn secret(&self) -> String;
    fn base_url(&self) -> String;
    /// The unix time every case's validator clock is set to.
    fn t0(&self) -> i64;
    /// `sessions/authenticate` calls seen upstream so far.
    fn calls(&self) -> u64;
    /// JWKS fetches seen upstream so far.
    fn fetches(&self) -> u64;
    /// Requests that reached the attacker's server.
    fn attacker_hits(&self) -> u64 {
        0
    }
    /// Every credential the fixture built, for the log checks.
    fn issued(&self) -> &Mutex<Vec<String>>;
    /// Puts upstream back into its default state before a case.
    fn reset(&self) {}
}

/// An extra check on the response.
pub type Check<F> = fn(&F, &Sent) -> Result<(), String>;

/// One adversarial case.
pub struct Case<F> {
    pub id: &'static str,
    pub path: &'static str,
    pub build: fn(&F) -> Req,
    /// The statuses the row accepts (usually one).
    pub status: &'static [u16],
    pub remote: Count,
    pub fetches: Count,
    pub config: Configure,
    /// Runs before the validator is built (e.g. scripts the JWKS the mock serves).
    pub setup: fn(&F),
    pub check: Option<Check<F>>,
    /// The credential cannot travel in an HTTP header (a raw LF): hand it to
    /// `Validator::authenticate` directly.
    pub direct: Option<fn(&F) -> String>,
}

/// A row with the defaults: `/protected`, no remote call, no fetch.
pub fn case<F>(id: &'static str, status: &'static [u16], build: fn(&F) -> Req) -> Case<F> {
    Case {
        id,
        path: "/protected",
        build,
        status,
        remote: NONE,
        fetches: NONE,
        config: app::defaults,
        setup: |_| {},
        check: None,
        direct: None,
    }
}

impl<F> Case<F> {
    pub fn admin(mut self) -> Self {
        self.path = "/admin";
        self
    }
    pub fn remote(mut self, c: Count) -> Self {
        self.remote = c;
        self
    }
    pub fn fetches(mut self, c: Count) -> Self {
        self.fetches = c;
        self
    }
    pub fn config(mut self, c: Configure) -> Self {
        self.config = c;
        self
    }
    pub fn setup(mut self, s: fn(&F)) -> Self {
        self.setup = s;
        self
    }
    pub fn check(mut self, c: Check<F>) -> Self {
        self.check = Some(c);
        self
    }
    pub fn direct(mut self, d: fn(&F) -> String) -> Self {
        self.direct = Some(d);
        self
    }
}

pub const S200: &[u16] = &[200];
pub const S401: &[u16] = &[401];
pub const S403: &[u16] = &[403];
pub const S401_431: &[u16] = &[401, 431];
pub const S200_401: &[u16] = &[200, 401];

/// A validator for one case, warmed up (a failed warm-up is fine: some rows serve no
/// usable key on purpose).
pub async fn case_validator<F: Fixture>(fx: &F, configure: Configure) -> Validator {
    let clock = ManualClock::at_unix_secs(fx.t0());
    let v = app::validator(
        &fx.project_id(),
        &fx.secret(),
        &fx.base_url(),
        &clock,
        configure,
    );
    let _ = v.warm_up().await;
    v
}

/// Pieces of a credential long enough to be recognisable in a body or a log.
pub fn fragments(credential: &str) -> Vec<String> {
    let mut out = Vec::new();
    let credential = credential.trim();
    if credential.len() >= 12 {
        out.push(credential.to_owned());
    }
    for part in credential.split(['.', ';', '=', ' ', '"']) {
        if part.len() >= 12 {
            out.push(part.to_owned());
        }
    }
    out
}

/// The response is a refusal that gives nothing away (C-LOG-03).
fn generic_refusal(sent: &Sent, req: &Req) -> Result<(), String> {
    let body = sent.json();
    let Some(map) = body.as_object() else {
        return Err(format!("refusal body is not JSON: {:?}", sent.body));
    };
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    if keys != ["error", "error_description"] {
        return Err(format!("refusal body has keys {keys:?}"));
    }
    let code = map["error"].as_str().unwrap_or_default();
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return Err(format!("error code {code:?} is not a fixed code"));
    }
    for value in req.values() {
        for fragment in fragments(&value) {
            if sent.body.contains(&fragment) {
                return Err(format!(
                    "refusal body echoes the credential ({} chars)",
                    fragment.len()
                ));
            }
        }
    }
    for leak in ["serde", "invalid type", "expected", "line ", "column"] {
        if sent.body.contains(leak) {
            return Err(format!("refusal body carries parser text {leak:?}"));
        }
    }
    if sent.status == 401 {
        let challenge = sent.header("www-authenticate").unwrap_or_default();
        if !challenge.starts_with(r#"Bearer realm="stytch""#) {
            return Err(format!("401 without a Bearer challenge: {challenge:?}"));
        }
        if code != "missing_credentials" && !challenge.contains(r#"error="invalid_token""#) {
            return Err(format!(
                "401 challenge without invalid_token: {challenge:?}"
            ));
        }
    }
    Ok(())
}

/// Runs one case; `Err` names what went wrong.
pub async fn run_case<F: Fixture>(
    fx: &F,
    http: &reqwest::Client,
    case: &Case<F>,
) -> Result<Sent, String> {
    fx.reset();
    (case.setup)(fx);
    let validator = case_validator(fx, case.config).await;
    let addr = app::serve(&validator).await;
    let (calls, fetches, attacker) = (fx.calls(), fx.fetches(), fx.attacker_hits());
    let req = (case.build)(fx);
    let sent = match case.direct {
        None => app::send(http, addr, case.path, &req).await,
        Some(direct) => {
            let jwt = direct(fx);
            fx.issued().lock().unwrap().push(jwt.clone());
            let status = match validator.authenticate(Credentials::jwt(jwt)).await {
                Ok(_) => 200,
                Err(e) => e.status_code(),
            };
            Sent {
                status,
                headers: Default::default(),
                body: String::new(),
            }
        }
    };
    fx.issued().lock().unwrap().extend(req.values());
    let (calls, fetches, attacker) = (
        fx.calls() - calls,
        fx.fetches() - fetches,
        fx.attacker_hits() - attacker,
    );
    let mut problems = Vec::new();
    if !case.status.contains(&sent.status) {
        problems.push(format!(
            "status {} (expected one of {:?}); body {}",
            sent.status, case.status, sent.body
        ));
    }
    if sent.status >= 500 && sent.status != 503 {
        problems.push(format!("a {} is never acceptable", sent.status));
    }
    if !case.remote.admits(calls) {
        problems.push(format!("{calls} Stytch calls (expected {:?})", case.remote));
    }
    if !case.fetches.admits(fetches) {
        problems.push(format!(
            "{fetches} JWKS fetches (expected {:?})",
            case.fetches
        ));
    }
    if attacker != 0 {
        problems.push(format!("{attacker} requests reached the attacker's server"));
    }
    if case.direct.is_none()
        && sent.status != 200
        && sent.status != 431
        && let Err(e) = generic_refusal(&sent, &req)
    {
        problems.push(e);
    }
    if let Some(check) = case.check
        && let Err(e) = check(fx, &sent)
    {
        problems.push(e);
    }
    if problems.is_empty() {
        Ok(sent)
    } else {
        Err(problems.join("; "))
    }
}

/// Runs every case and fails once, listing every failing case id.
pub async fn run_table<F: Fixture>(fx: &F, cases: &[Case<F>]) {
    let http = app::client();
    let mut failures = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for case in cases {
        assert!(ids.insert(case.id), "duplicate case id {}", case.id);
        if let Err(e) = run_case(fx, &http, case).await {
            failures.push(format!("{} {}: {e}", case.id, case.path));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

//! Project settings: credentials, where Stytch lives, and every tunable with a safe default.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};

/// Stytch's live API.
pub const LIVE_API_URL: &str = "https://api.stytch.com";
/// Stytch's test API.
pub const TEST_API_URL: &str = "https://test.stytch.com";
/// The default byte budget of the verified-JWT cache (32 MiB).
pub const DEFAULT_VERIFIED_CACHE_BYTES: u64 = 32 << 20;

/// Which Stytch product the project uses; decides the API paths and the session shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Vertical {
    /// Consumer authentication: users and `/v1/sessions/...`.
    #[default]
    Consumer,
    /// B2B authentication: members, organizations and `/v1/b2b/sessions/...`.
    B2b,
}

impl Vertical {
    pub(crate) fn path_prefix(self) -> &'static str {
        match self {
            Vertical::Consumer => "/v1",
            Vertical::B2b => "/v1/b2b",
        }
    }
}

/// A configuration that cannot work, found at construction time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required environment variable is not set.
    #[error("environment variable {0} is not set")]
    MissingVar(&'static str),
    /// A setting has a value that cannot be right.
    #[error("{setting} is invalid: {reason}")]
    Invalid {
        /// The setting or environment variable at fault.
        setting: &'static str,
        /// Why it was refused.
        reason: String,
    },
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        reason: reason.into(),
    }
}

/// The project secret. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub(crate) struct Secret(Arc<str>);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

/// Everything a [`Validator`](crate::Validator) needs to know. Build it with
/// [`StytchConfig::builder`] or [`StytchConfig::from_env`].
///
/// ```
/// use std::time::Duration;
/// use stytch_validator::StytchConfig;
///
/// let config = StytchConfig::builder(
///     "project-test-11111111-2222-4333-8444-555555555555",
///     "secret-test-abc",
/// )
/// .max_token_age(Duration::from_secs(60))
/// .build()
/// .unwrap();
/// assert_eq!(config.api_url(), "https://test.stytch.com");
/// assert!(!format!("{config:?}").contains("secret-test-abc"));
/// ```
#[derive(Clone)]
pub struct StytchConfig {
    pub(crate) project_id: Arc<str>,
    pub(crate) secret: Secret,
    pub(crate) api_url: Arc<str>,
    pub(crate) vertical: Vertical,
    pub(crate) issuers: Vec<String>,
    pub(crate) leeway: Duration,
    pub(crate) max_token_age: Option<Duration>,
    pub(crate) max_token_lifetime: Duration,
    pub(crate) max_token_bytes: usize,
    pub(crate) jwks_max_age: Duration,
    pub(crate) jwks_cooldown: Duration,
    pub(crate) jwks_max_stale: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) verified_cache_bytes: u64,
    pub(crate) rejected_cache_capacity: usize,
    pub(crate) rejected_ttl: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) remote_rate: u32,
    pub(crate) remote_burst: u32,
    pub(crate) max_session_token_bytes: usize,
    pub(crate) breaker_threshold: u32,
    pub(crate) breaker_open_for: Duration,
    pub(crate) policy_ttl: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) http_client: Option<reqwest::Client>,
}

impl fmt::Debug for StytchConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StytchConfig")
            .field("project_id", &self.project_id)
            .field("secret", &self.secret)
            .field("api_url", &self.api_url)
            .field("vertical", &self.vertical)
            .field("issuers", &self.issuers)
            .field("leeway", &self.leeway)
            .field("max_token_age", &self.max_token_age)
            .field("jwks_max_age", &self.jwks_max_age)
            .field("jwks_cooldown", &self.jwks_cooldown)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl StytchConfig {
    /// Starts a configuration from a project id and secret; every other setting has a
    /// secure default.
    pub fn builder(
        project_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> StytchConfigBuilder {
        StytchConfigBuilder {
            project_id: project_id.into(),
            secret: secret.into(),
            api_url: None,
            vertical: Vertical::Consumer,
            custom_domain: None,
            leeway: Duration::from_secs(5),
            max_token_age: None,
            max_token_lifetime: Duration::from_secs(3600),
            max_token_bytes: 8192,
            jwks_max_age: Duration::from_secs(600),
            jwks_cooldown: Duration::from_secs(30),
            jwks_max_stale: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            verified_cache_bytes: DEFAULT_VERIFIED_CACHE_BYTES,
            rejected_cache_capacity: 10_000,
            rejected_ttl: Duration::from_secs(10),
            max_in_flight: 32,
            remote_rate: 100,
            remote_burst: 200,
            max_session_token_bytes: 256,
            breaker_threshold: 5,
            breaker_open_for: Duration::from_secs(10),
            policy_ttl: Duration::from_secs(300),
            clock: Arc::new(SystemClock),
            http_client: None,
            env_names: false,
        }
    }

    /// Reads `STYTCH_PROJECT_ID`, `STYTCH_SECRET` and, when set, `STYTCH_API_URL`.
    ///
    /// A project id starting with `project-live-` talks to the live API, any other to
    /// the test API, unless `STYTCH_API_URL` says otherwise. For a B2B project, chain
    /// [`StytchConfigBuilder::vertical`] on [`StytchConfig::builder_from_env`] instead.
    pub fn from_env() -> Result<StytchConfig, ConfigError> {
        Self::builder_from_env()?.build()
    }

    /// Like [`from_env`](Self::from_env) but returns the builder, to change more settings.
    pub fn builder_from_env() -> Result<StytchConfigBuilder, ConfigError> {
        let var = |name: &'static str| -> Result<Option<String>, ConfigError> {
            match std::env::var(name) {
                Ok(v) if v.trim().is_empty() => Ok(None),
                Ok(v) => Ok(Some(v)),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => {
                    Err(invalid(name, "the value is not valid UTF-8"))
                }
            }
        };
        let project_id =
            var("STYTCH_PROJECT_ID")?.ok_or(ConfigError::MissingVar("STYTCH_PROJECT_ID"))?;
        let secret = var("STYTCH_SECRET")?.ok_or(ConfigError::MissingVar("STYTCH_SECRET"))?;
        let mut builder = Self::builder(project_id, secret);
        builder.env_names = true;
        if let Some(url) = var("STYTCH_API_URL")? {
            builder = builder.api_url(url);
        }
        Ok(builder)
    }

    /// The project id.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The API base URL, without a trailing slash.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// Consumer or B2B.
    pub fn vertical(&self) -> Vertical {
        self.vertical
    }

    /// The `iss` values a session JWT may carry.
    pub fn issuers(&self) -> &[String] {
        &self.issuers
    }

    /// The time source every check uses.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// The clock leeway applied to `exp`, `nbf` and `iat`.
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// The URL of the project's JWKS.
    pub fn jwks_url(&self) -> String {
        format!(
            "{}{}/sessions/jwks/{}",
            self.api_url,
            self.vertical.path_prefix(),
            self.project_id
        )
    }

    pub(crate) fn authenticate_url(&self) -> String {
        format!(
            "{}{}/sessions/authenticate",
            self.api_url,
            self.vertical.path_prefix()
        )
    }

    pub(crate) fn organization_policy_url(&self, organization_id: &str) -> String {
        // The id comes from a request (a path segment); keep it one path segment.
        let encoded: String = organization_id
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        format!("{}/v1/b2b/rbac/organizations/{encoded}", self.api_url)
    }

    pub(crate) fn policy_url(&self) -> String {
        format!(
            "{}{}/rbac/policy",
            self.api_url,
            self.vertical.path_prefix()
        )
    }
}

/// Builds a [`StytchConfig`]; see [`StytchConfig::builder`].
#[derive(Debug)]
#[must_use]
pub struct StytchConfigBuilder {
    project_id: String,
    secret: String,
    api_url: Option<String>,
    vertical: Vertical,
    custom_domain: Option<String>,
    leeway: Duration,
    max_token_age: Option<Duration>,
    max_token_lifetime: Duration,
    max_token_bytes: usize,
    jwks_max_age: Duration,
    jwks_cooldown: Duration,
    jwks_max_stale: Duration,
    request_timeout: Duration,
    connect_timeout: Duration,
    verified_cache_bytes: u64,
    rejected_cache_capacity: usize,
    rejected_ttl: Duration,
    max_in_flight: usize,
    remote_rate: u32,
    remote_burst: u32,
    max_session_token_bytes: usize,
    breaker_threshold: u32,
    breaker_open_for: Duration,
    policy_ttl: Duration,
    clock: Arc<dyn Clock>,
    http_client: Option<reqwest::Client>,
    env_names: bool,
}

impl StytchConfigBuilder {
    /// The API base URL, e.g. a custom domain or the Stytch emulator. Defaults to the test
    /// or live API chosen from the project id. Must be `https://`, except on a loopback
    /// host (`localhost`, `127.0.0.1`, `[::1]`) for local testing.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// Consumer (default) or B2B.
    pub fn vertical(mut self, vertical: Vertical) -> Self {
        self.vertical = vertical;
        self
    }

    /// Also accept JWTs whose `iss` is this custom-domain URL (e.g.
    /// `https://login.example.com`), as Stytch issues when called through a CNAME.
    pub fn custom_domain(mut self, url: impl Into<String>) -> Self {
        self.custom_domain = Some(url.into());
        self
    }

    /// Clock leeway for `exp`, `nbf` and `iat` (default 5 s, at most 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Send JWTs older than this (by `iat`) to Stytch instead of trusting them locally.
    /// `Duration::ZERO` sends every JWT to Stytch. Unset (the default) checks only `exp`.
    pub fn max_token_age(mut self, age: Duration) -> Self {
        self.max_token_age = Some(age);
        self
    }

    /// Reject tokens whose `exp - iat` exceeds this (default 1 h; Stytch issues 5 min).
    pub fn max_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_token_lifetime = lifetime;
        self
    }

    /// Refuse credentials longer than this many bytes before parsing them (default 8192).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// Refresh the JWKS in the background once it is this old (default 10 min).
    pub fn jwks_max_age(mut self, age: Duration) -> Self {
        self.jwks_max_age = age;
        self
    }

    /// At most one JWKS refresh for an unknown `kid` per this period (default 30 s).
    pub fn jwks_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks_cooldown = cooldown;
        self
    }

    /// Stop trusting the last good JWKS when refreshes have failed for this long
    /// (default 24 h); JWTs then go to Stytch.
    pub fn jwks_max_stale(mut self, max_stale: Duration) -> Self {
        self.jwks_max_stale = max_stale;
        self
    }

    /// Total deadline for one HTTP call to Stytch (default 5 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Connect timeout for calls to Stytch (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How much memory the verified-JWT cache may hold, in bytes (default 32 MiB);
    /// 0 disables the cache. Entries are weighed by what they hold (the token, the
    /// session's ids, factors, roles and custom claims, and fixed overhead), so the bound
    /// holds whatever the size of the tokens: a typical Stytch JWT of 1.5 KB costs about
    /// 2.7 KB with its session, so the default keeps about 12 500 sessions. Stytch's
    /// successes (kept until the fresh JWT's `exp`) are held in a second cache bounded
    /// the same way. Each thread also keeps its own handles on up to 8 entries it serves
    /// again and again (so that one hot token does not make cores contend); an entry
    /// held so stays alive past its eviction until the thread lets it go, outside this
    /// budget.
    pub fn verified_cache_bytes(mut self, bytes: u64) -> Self {
        self.verified_cache_bytes = bytes;
        self
    }

    /// How many credentials Stytch rejected to remember, and for how long (defaults
    /// 10 000 and 10 s), so that repeats do not reach Stytch.
    pub fn rejected_cache(mut self, capacity: usize, ttl: Duration) -> Self {
        self.rejected_cache_capacity = capacity;
        self.rejected_ttl = ttl;
        self
    }

    /// At most this many concurrent calls to Stytch (default 32). Proven sessions (an
    /// authentic but expired JWT) wait for a slot, up to half the request timeout; unproven
    /// credentials (bare session tokens) may use half the slots, and fail fast with 503
    /// when none is free.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max;
        self
    }

    /// The remote budget: at most `rate_per_sec` calls to Stytch per second, in bursts
    /// of up to `burst` (defaults 100 and 200, per process). Half the burst is kept for
    /// proven sessions (an authentic but expired JWT), so a flood of made-up session
    /// tokens cannot lock out real users whose JWT needs refreshing. A call over budget
    /// answers 503 `stytch_budget_exhausted` with `Retry-After`. A rate of 0 disables
    /// the budget.
    pub fn remote_budget(mut self, rate_per_sec: u32, burst: u32) -> Self {
        self.remote_rate = rate_per_sec;
        self.remote_burst = burst;
        self
    }

    /// The longest session token worth asking Stytch about (default 256 bytes). Tokens
    /// that are empty, longer, or not base64url are refused locally with
    /// `session_token_malformed` and never cost a call.
    pub fn max_session_token_bytes(mut self, bytes: usize) -> Self {
        self.max_session_token_bytes = bytes;
        self
    }

    /// Open the circuit after this many consecutive upstream failures, for this long
    /// (defaults 5 and 10 s). While open, remote checks fail fast with 503.
    pub fn circuit_breaker(mut self, threshold: u32, open_for: Duration) -> Self {
        self.breaker_threshold = threshold;
        self.breaker_open_for = open_for;
        self
    }

    /// How long a fetched RBAC policy is trusted (default 5 min, as Stytch documents).
    pub fn policy_ttl(mut self, ttl: Duration) -> Self {
        self.policy_ttl = ttl;
        self
    }

    /// Sends every call to Stytch through your own `reqwest` client: for a proxy, a
    /// custom CA, the platform's TLS, or a client that propagates trace context.
    ///
    /// What the validator still owns, whatever the client says: the per-request
    /// deadline ([`request_timeout`](Self::request_timeout) is set on every request) and
    /// the body-size caps. What your client must do: **not follow redirects**. Build it
    /// with `.redirect(reqwest::redirect::Policy::none())`: a redirect would carry the
    /// project secret to another host, and keys must come from the configured origin.
    /// A response that did come from a redirect is refused as an upstream fault (503,
    /// reason `upstream_redirected`), never trusted. The connect timeout and pool
    /// settings are your client's.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stytch_validator::StytchConfig;
    ///
    /// let client = reqwest::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .connect_timeout(Duration::from_secs(2))
    ///     .build()
    ///     .unwrap();
    /// let config = StytchConfig::builder(
    ///     "project-test-11111111-2222-4333-8444-555555555555",
    ///     "secret-test-abc",
    /// )
    /// .http_client(client)
    /// .build()
    /// .unwrap();
    /// # let _ = config;
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// The time source (default [`SystemClock`]). Tests pass a [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Checks every setting and builds the configuration.
    pub fn build(self) -> Result<StytchConfig, ConfigError> {
        let (pid_name, secret_name, url_name) = if self.env_names {
            ("STYTCH_PROJECT_ID", "STYTCH_SECRET", "STYTCH_API_URL")
        } else {
            ("project_id", "secret", "api_url")
        };
        let project_id = self.project_id.trim().to_owned();
        validate_project_id(&project_id).map_err(|r| invalid(pid_name, r))?;
        if self.secret.trim().is_empty() {
            return Err(invalid(secret_name, "the secret is empty"));
        }
        let live = project_id.starts_with("project-live-");
        let api_url = match self.api_url {
            Some(url) => {
                let url = validate_url(&url).map_err(|r| invalid(url_name, r))?;
                if live && url == TEST_API_URL {
                    return Err(invalid(url_name, "a live project cannot use the test API"));
                }
                if !live && url == LIVE_API_URL {
                    return Err(invalid(url_name, "a test project cannot use the live API"));
                }
                url
            }
            None if live => LIVE_API_URL.to_owned(),
            None => TEST_API_URL.to_owned(),
        };
        let mut issuers = vec![format!("stytch.com/{project_id}")];
        if let Some(domain) = self.custom_domain {
            let domain = validate_url(&domain).map_err(|r| invalid("custom_domain", r))?;
            issuers.push(domain);
        }
        if self.leeway > Duration::from_secs(60) {
            return Err(invalid(
                "leeway",
                "more than 60 s of leeway accepts stale tokens",
            ));
        }
        if self.max_token_bytes < 256 {
            return Err(invalid(
                "max_token_bytes",
                "below 256 bytes no Stytch JWT fits",
            ));
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(invalid("request_timeout", "timeouts must be positive"));
        }
        if self.max_in_flight == 0 {
            return Err(invalid("max_in_flight", "must be at least 1"));
        }
        Ok(StytchConfig {
            project_id: project_id.into(),
            secret: Secret(self.secret.into()),
            api_url: api_url.into(),
            vertical: self.vertical,
            issuers,
            leeway: self.leeway,
            max_token_age: self.max_token_age,
            max_token_lifetime: self.max_token_lifetime,
            max_token_bytes: self.max_token_bytes,
            jwks_max_age: self.jwks_max_age,
            jwks_cooldown: self.jwks_cooldown,
            jwks_max_stale: self.jwks_max_stale,
            request_timeout: self.request_timeout,
            connect_timeout: self.connect_timeout,
            verified_cache_bytes: self.verified_cache_bytes,
            rejected_cache_capacity: self.rejected_cache_capacity,
            rejected_ttl: self.rejected_ttl,
            max_in_flight: self.max_in_flight,
            remote_rate: self.remote_rate,
            remote_burst: self.remote_burst,
            max_session_token_bytes: self.max_session_token_bytes,
            breaker_threshold: self.breaker_threshold.max(1),
            breaker_open_for: self.breaker_open_for,
            policy_ttl: self.policy_ttl,
            clock: self.clock,
            http_client: self.http_client,
        })
    }
}

fn validate_project_id(id: &str) -> Result<(), String> {
    let rest = id
        .strip_prefix("project-test-")
        .or_else(|| id.strip_prefix("project-live-"))
        .ok_or_else(|| format!("expected `project-test-...` or `project-live-...`, got {id:?}"))?;
    let well_formed = rest.len() == 36
        && rest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-');
    if !well_formed {
        return Err(format!("expected `project-(test|live)-<uuid>`, got {id:?}"));
    }
    Ok(())
}

/// Normalises a base URL (no trailing slash, no path) and enforces https off loopback.
fn validate_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an absolute URL"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "{url:?} must be a bare origin such as https://api.example.com (Stytch's SDKs drop any path)"
        ));
    }
    let host = if rest.starts_with('[') {
        rest.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        rest.split(':').next().unwrap_or_default().to_owned()
    };
    let loopback = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    match scheme {
        "https" => Ok(url.to_owned()),
        "http" if loopback => Ok(url.to_owned()),
        "http" => Err(format!(
            "{url:?} must use https (plain http is allowed on loopback only)"
        )),
        _ => Err(format!("{url:?} must be an https URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PID: &str = "project-test-11111111-2222-4333-8444-555555555555";

    #[test]
    fn environment_comes_from_the_project_id() {
        let c = StytchConfig::builder(PID, "s").build().unwrap();
        assert_eq!(c.api_url(), TEST_API_URL);
        let live = PID.replace("test", "live");
        let c = StytchConfig::builder(live, "s").build().unwrap();
        assert_eq!(c.api_url(), LIVE_API_URL);
    }

    #[test]
    fn bad_settings_fail_at_construction_naming_the_setting() {
        let e = StytchConfig::builder("proj-1", "s").build().unwrap_err();
        assert!(e.to_string().starts_with("project_id is invalid"), "{e}");
        let e = StytchConfig::builder(PID, " ").build().unwrap_err();
        assert!(e.to_string().starts_with("secret is invalid"), "{e}");
        let e = StytchConfig::builder(PID, "s")
            .api_url("http://example.com")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("https"), "{e}");
        let e = StytchConfig::builder(PID, "s")
            .api_url(LIVE_API_URL)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("live"), "{e}");
        let e = StytchConfig::builder(PID, "s")
            .leeway(Duration::from_secs(600))
            .build()
            .unwrap_err();
        assert!(e.to_string().starts_with("leeway"), "{e}");
    }

    #[test]
    fn loopback_http_and_custom_domains_are_accepted() {
        let c = StytchConfig::builder(PID, "s")
            .api_url("http://127.0.0.1:8080/")
            .custom_domain("https://login.example.com/")
            .vertical(Vertical::B2b)
            .build()
            .unwrap();
        assert_eq!(c.api_url(), "http://127.0.0.1:8080");
        assert_eq!(
            c.issuers(),
            [
                format!("stytch.com/{PID}"),
                "https://login.example.com".into()
            ]
        );
        assert_eq!(
            c.jwks_url(),
            format!("http://127.0.0.1:8080/v1/b2b/sessions/jwks/{PID}")
        );
    }

    #[test]
    fn the_secret_never_appears_in_debug() {
        let c = StytchConfig::builder(PID, "secret-test-very-private")
            .build()
            .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-private"));
        assert!(shown.contains("[redacted]"));
    }
}

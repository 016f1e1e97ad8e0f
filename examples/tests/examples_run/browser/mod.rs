//! The harness of the browser tests: headless Chromium driven over WebDriver
//! (`fantoccini` and Debian's `chromium` + `chromium-driver`), against the quickstart
//! app served in-process on loopback.
//!
//! One `chromedriver` serves every browser test that runs at the same time: it starts
//! on a free loopback port when the first one needs it and is killed (by its process
//! group, which it leads) when the last one is done. Each test gets its own browser
//! session with a fresh profile, so cookies never leak from one test to another.
//!
//! Without `chromium` and `chromedriver` on `PATH` a test prints
//! `skipped: chromium not found` and passes, unless `AXUM_STYTCH_REQUIRE_BROWSER=1`
//! (set by `.ci/run`), which turns that into a failure.

mod scenarios;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum_stytch::StytchLayer;
use fantoccini::cookies::Cookie;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt as _;
use serde_json::{Value, json};
use stytch_emulator::EmulatorHandle;

use crate::quickstart::example;

/// Set to `1` to make a missing browser a failure instead of a skip.
const REQUIRE_ENV: &str = "AXUM_STYTCH_REQUIRE_BROWSER";

/// How long to wait for something the page does.
const PATIENCE: Duration = Duration::from_secs(10);

/// The flags Chromium needs here: headless as root, and quiet on a closed network.
const CHROMIUM_FLAGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1000,1150",
];

/// `app.example.test` and `api.example.test` reach the loopback server, so that
/// `Domain=example.test` cookies behave as in production.
const HOST_RULES: &str = "--host-resolver-rules=MAP *.example.test 127.0.0.1";

/// Where screenshots go: `target/browser-screenshots/` of the workspace.
pub(crate) fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the examples package is inside the workspace")
        .join("target")
        .join("browser-screenshots")
}

/// `name` found on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The Chromium and ChromeDriver binaries, or `None` (after printing the one skip line)
/// when either is missing.
fn binaries() -> Option<(PathBuf, PathBuf)> {
    let chromium = on_path("chromium").or_else(|| on_path("chromium-browser"));
    let driver = on_path("chromedriver");
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => Some((chromium, driver)),
        (chromium, driver) => {
            if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
                panic!(
                    "{REQUIRE_ENV}=1 but the browser is missing (chromium: {chromium:?}, \
                     chromedriver: {driver:?}); install Debian's chromium and chromium-driver"
                );
            }
            println!("skipped: chromium not found");
            None
        }
    }
}

/// A running `chromedriver`, killed with its process group when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The driver leads its own process group, so this also reaches any browser a
        // failed test left behind; then the driver itself, by its PID.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The driver the running tests share; it lives while one of them holds it.
static DRIVER: Mutex<Weak<Driver>> = Mutex::new(Weak::new());

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts `chromedriver` on a free loopback port and waits until it accepts.
fn start_driver(binary: &Path) -> Driver {
    use std::os::unix::process::CommandExt as _;
    let mut last = String::new();
    // The port is free when picked; another process could take it before the driver
    // binds it, so try a few.
    for _ in 0..3 {
        let port = free_port();
        let mut child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + PATIENCE;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Driver {
                    child,
                    url: format!("http://{addr}"),
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                last = format!("chromedriver exited with {status}");
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                last = "chromedriver did not listen within 10 s".to_owned();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("{last}");
}

fn shared_driver(binary: &Path) -> Arc<Driver> {
    let mut slot = DRIVER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(driver) = slot.upgrade() {
        return driver;
    }
    let driver = Arc::new(start_driver(binary));
    *slot = Arc::downgrade(&driver);
    driver
}

/// How a test's browser is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Whether pages may run JavaScript.
    pub(crate) javascript: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { javascript: true }
    }
}

/// Runs `scenario` in a fresh browser session (a new profile), then ends the session
/// whatever happened; a missing browser skips it. `name` names its screenshots.
pub(crate) async fn run<F, Fut>(name: &'static str, options: Options, scenario: F)
where
    F: FnOnce(Page) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((chromium, driver_binary)) = binaries() else {
        return;
    };
    let driver = tokio::task::spawn_blocking(move || shared_driver(&driver_binary))
        .await
        .expect("the driver starts");
    static PROFILES: AtomicU32 = AtomicU32::new(0);
    let profile = std::env::temp_dir().join(format!(
        "axum-stytch-browser-{}-{}",
        std::process::id(),
        PROFILES.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).expect("a profile directory");
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
    args.push(HOST_RULES.to_owned());
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut chrome = json!({ "binary": chromium, "args": args });
    if !options.javascript {
        chrome["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
    }
    let capabilities = json!({ "browserName": "chrome", "goog:chromeOptions": chrome });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("an object literal");
    };
    let client = ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session");
    let page = Page {
        client: client.clone(),
        name,
    };
    let outcome = AssertUnwindSafe(scenario(page)).catch_unwind().await;
    let _ = client.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    drop(driver);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The browser, as a scenario drives it.
#[derive(Clone)]
pub(crate) struct Page {
    client: Client,
    name: &'static str,
}

impl Page {
    pub(crate) async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub(crate) async fn click(&self, css: &str) {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// The text of the element `css`, once there is one.
    pub(crate) async fn text(&self, css: &str) -> String {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// Whether an element `css` is on the page now.
    pub(crate) async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Waits until the text of `css` satisfies `ok`, and returns it.
    pub(crate) async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if ok(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never became what was expected; it says {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The texts of every element `css`.
    pub(crate) async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for element in self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
        {
            out.push(element.text().await.unwrap_or_default());
        }
        out
    }

    /// Clicks an API button and waits until the page shows its answer (the log grows).
    pub(crate) async fn call(&self, button: &str) -> String {
        let before = self.texts("#log li").await.len();
        self.click(button).await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.texts("#log li").await;
            // A retried call logs twice; wait until the last entry is not a refusal that
            // the page retries.
            if log.len() > before
                && !log
                    .last()
                    .is_some_and(|l| l.ends_with("401 conflicting_credentials"))
            {
                return self.text("#answer").await;
            }
            assert!(Instant::now() < deadline, "no answer to {button}: {log:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the browser is at `path` (a click's navigation may still be under
    /// way when the click returns).
    pub(crate) async fn wait_path(&self, path: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let now = self.path().await;
            if now == path {
                return;
            }
            assert!(Instant::now() < deadline, "at {now}, not {path}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The path and query the browser is at.
    pub(crate) async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("the current URL");
        match url.query() {
            Some(q) if !q.is_empty() => format!("{}?{q}", url.path()),
            _ => url.path().to_owned(),
        }
    }

    /// The browser's cookies for the current page (all that it would send there).
    pub(crate) async fn cookies(&self) -> Vec<Cookie<'static>> {
        self.client.get_all_cookies().await.expect("the cookies")
    }

    /// The Stytch cookies for the current page, as `(name, value, domain)`, sorted.
    pub(crate) async fn stytch_cookies(&self) -> Vec<(String, String, String)> {
        let mut out: Vec<_> = self
            .cookies()
            .await
            .into_iter()
            .filter(|c| c.name().starts_with("stytch_session"))
            .map(|c| {
                (
                    c.name().to_owned(),
                    c.value().to_owned(),
                    c.domain().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Saves a screenshot as `target/browser-screenshots/<scenario>-<step>.png` and
    /// checks that it is a PNG.
    pub(crate) async fn screenshot(&self, step: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("the screenshot directory");
        let path = dir.join(format!("{}-{step}.png", self.name));
        std::fs::write(&path, &png).expect("the screenshot is written");
        let written = std::fs::read(&path).expect("the screenshot is read back");
        assert!(
            written.len() > 8 && written.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is not a PNG",
            path.display()
        );
        path
    }
}

/// The quickstart app served on `127.0.0.1:<port>` against its own embedded emulator.
pub(crate) struct Quickstart {
    pub(crate) emu: EmulatorHandle,
    pub(crate) port: u16,
}

impl Quickstart {
    /// As `main` serves it.
    pub(crate) async fn start() -> Self {
        Self::start_with(|layer| layer, None).await
    }

    /// With the layer changed by `configure`, and the demo's cookies set for
    /// `cookie_domain` (as a frontend SDK configured with `cookieOptions.domain`).
    pub(crate) async fn start_with(
        configure: impl FnOnce(StytchLayer) -> StytchLayer,
        cookie_domain: Option<&str>,
    ) -> Self {
        let stytch = examples::embedded_emulator(examples::example_policy())
            .await
            .expect("the emulator starts");
        let emu = stytch.emulator.clone().expect("an embedded emulator");
        let mut demo = example::Demo::new(emu.clone(), stytch.validator.clone());
        if let Some(domain) = cookie_domain {
            demo = demo.with_cookie_domain(domain);
        }
        let layer = configure(example::layer(stytch.validator.clone(), true));
        let app = example::app(layer, Some(demo));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("a loopback port");
        let port = listener.local_addr().expect("local addr").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { emu, port }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        self.url_on("127.0.0.1", path)
    }

    /// `http://<host>:<port><path>`.
    pub(crate) fn url_on(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port)
    }
}

//! The side-by-side load harness behind `BENCHMARKS.md`.
//!
//! ```text
//! cargo run --release -p benches --features peers --bin load -- --duration 5
//! ```
//!
//! In one run, on 127.0.0.1 only, it measures a server process per configuration, each
//! pinned to CPU 0 (`taskset -c 0`) with a 1-worker tokio runtime, a fresh process for
//! every run:
//!
//! * `bare`: axum 0.8 answering `"hello"`;
//! * `noop_from_fn`: the same behind an axum `from_fn` middleware that does nothing
//!   (the plumbing a `from_fn` middleware costs before it does any work);
//! * `stytch_hit`: behind `StytchLayer`, the token served from the verified cache;
//! * `stytch_verify`: behind `StytchLayer` with the verified cache disabled, so every
//!   request is a full local verification;
//! * `jsonwebtoken`: a hand-written `from_fn` middleware with `jsonwebtoken` 11
//!   (aws_lc_rs): what teams write today;
//! * with `--features peers`: `axum_jwt_auth` (the published axum-jwt-auth 0.7 extractor
//!   as it ships, i.e. jsonwebtoken 10 with `rust_crypto`) and `axum_jwt_auth_aws` (the
//!   same with jsonwebtoken 10's aws-lc-rs provider installed).
//!
//! It drives them in turn, round-robin, with `wrk -t2 -c64` pinned to CPU 1 (when `wrk`
//! is not installed, a built-in keep-alive client with the same connection count; the
//! harness never installs anything), every request carrying the same
//! Stytch-shaped session cookie. Each run is bounded (`--duration`, default 5 s, after
//! a `--warmup`, default 1 s) and starts only when the machine is quiet (under 8 % busy
//! for a second, waiting at most 60 s). It records req/s, p50, p99, the server's CPU
//! per request (from `/proc`, independent of the load generator) and the CPU the rest
//! of the machine used during the run. Then bare axum, the do-nothing `from_fn` and the
//! cache hit again in paired windows: sets of fresh processes measured in back-to-back
//! 2 s windows, each ratio taken within a set, so that the machine's drift between runs
//! minutes apart cancels.
//!
//! Then, in-process: 1, 2 (and, where the machine has them, more) tokio workers for
//! the cache-hit and verify paths, with bare axum beside them for reference (with one
//! app cloned for every task, as a server does, and with an app per task), the
//! remote fallback under a burst of 64 identical unknown session tokens, and resident
//! memory per verified-cache entry and after 100k distinct forged tokens.
//!
//! The report goes to stdout and, between the `load-harness` markers, into
//! `BENCHMARKS.md` at the workspace root (`--out PATH` elsewhere, `--no-write` not at
//! all). `--rounds N` (default 3), `--connections N` (default 64), `--only a,b`,
//! `--skip-extras` (HTTP table only), `--scaling-only` (the in-process scaling table
//! alone, printed, not written; `--scaling-filter TEXT` keeps the rows naming TEXT), `--no-quiet-wait` (smoke tests only).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read as _, Write as IoWrite};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::routing::get;
use axum_stytch::StytchLayer;
use axum_stytch::stytch_validator::Credentials;
use benches::{Fixture, HandWritten, JWT_COOKIE, Jwk, config_for, hand_written_mw, hello, warmed};
use stytch_emulator::{Fault, NewSession, Route};

const CONFIGS: &[(&str, &str)] = &[
    ("bare", "bare axum 0.8 (`\"hello\"`)"),
    (
        "noop_from_fn",
        "axum `from_fn` middleware doing nothing (plumbing reference)",
    ),
    ("stytch_hit", "**axum + StytchLayer, verified-cache hit**"),
    (
        "stytch_verify",
        "**axum + StytchLayer, verified cache disabled (verify every request)**",
    ),
    (
        "jsonwebtoken",
        "hand-written `from_fn` + jsonwebtoken 11 (aws_lc_rs): what teams write today",
    ),
    #[cfg(feature = "peers")]
    (
        "axum_jwt_auth",
        "axum-jwt-auth 0.7 `Claims` extractor, as published (jsonwebtoken 10, rust_crypto)",
    ),
    #[cfg(feature = "peers")]
    (
        "axum_jwt_auth_aws",
        "axum-jwt-auth 0.7 with jsonwebtoken 10's aws_lc_rs provider installed",
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("client") => client_main(&args[1..]),
        Some("--help" | "-h") => {
            println!(
                "usage: load [--duration S] [--warmup S] [--rounds N] [--connections N] [--only a,b] [--skip-extras] [--scaling-only [--scaling-filter TEXT]] [--no-quiet-wait] [--out PATH | --no-write]"
            );
            println!(
                "configs: {}",
                CONFIGS.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
            );
        }
        _ => harness(Options::parse(&args)),
    }
}

// ---------------------------------------------------------------- server processes

/// `load serve CONFIG PROJECT_ID API_URL KID N E`: one server, 1 tokio worker.
fn serve(args: &[String]) {
    let [config, project, api_url, kid, n, e] = args else {
        panic!("serve CONFIG PROJECT_ID API_URL KID N E");
    };
    // Exit when the harness goes away (its end of our stdin closes).
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    let jwk = Jwk {
        kid: kid.clone(),
        n: n.clone(),
        e: e.clone(),
    };
    let rt = benches::runtime();
    rt.block_on(async {
        let app = router(config, project, api_url, &jwk).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        println!("READY {port}");
        IoWrite::flush(&mut std::io::stdout()).expect("stdout");
        axum::serve(listener, app).await.expect("serve");
    });
}

async fn noop(request: axum::extract::Request, next: Next) -> axum::response::Response {
    next.run(request).await
}

async fn router(config: &str, project: &str, api_url: &str, jwk: &Jwk) -> Router {
    let base = Router::new().route("/", get(hello));
    let validator = |capacity: usize| {
        warmed(
            config_for(
                api_url,
                project,
                "unused: the layer never calls Stytch here",
            )
            .verified_cache_bytes(capacity as u64 * 4096)
            .build()
            .expect("config"),
        )
    };
    match config {
        "bare" => base,
        "noop_from_fn" => base.layer(from_fn(noop)),
        "stytch_hit" => base.layer(StytchLayer::new(validator(10_000).await)),
        "stytch_verify" => base.layer(StytchLayer::new(validator(0).await)),
        "jsonwebtoken" => base.layer(from_fn_with_state(
            HandWritten::new(project, jwk),
            hand_written_mw,
        )),
        #[cfg(feature = "peers")]
        "axum_jwt_auth" => peer::router(project, jwk, false),
        #[cfg(feature = "peers")]
        "axum_jwt_auth_aws" => peer::router(project, jwk, true),
        other => panic!("unknown config {other}"),
    }
}

#[cfg(feature = "peers")]
mod peer {
    //! axum-jwt-auth 0.7, configured for the Stytch session JWT in its cookie.
    use std::sync::Arc;

    use axum::Router;
    use axum::routing::get;
    use axum_jwt_auth::{Claims, CookieTokenExtractor, Decoder, LocalDecoder};
    use benches::{Jwk, StytchClaims};
    use jsonwebtoken10 as jwt;

    axum_jwt_auth::define_cookie_extractor!(StytchCookie, "stytch_session_jwt");

    async fn handler(
        _claims: Claims<StytchClaims, CookieTokenExtractor<StytchCookie>>,
    ) -> &'static str {
        "hello"
    }

    pub(super) fn router(project: &str, jwk: &Jwk, aws_lc: bool) -> Router {
        // axum-jwt-auth enables jsonwebtoken 10's `rust_crypto`; this crate adds
        // `aws_lc_rs`, so the provider is picked explicitly, once per process.
        let provider = if aws_lc {
            &jwt::crypto::aws_lc::DEFAULT_PROVIDER
        } else {
            &jwt::crypto::rust_crypto::DEFAULT_PROVIDER
        };
        provider.install_default().expect("first provider");
        let key = jwt::DecodingKey::from_rsa_components(&jwk.n, &jwk.e).expect("key");
        let mut validation = jwt::Validation::new(jwt::Algorithm::RS256);
        validation.set_audience(&[project]);
        validation.set_issuer(&[format!("stytch.com/{project}")]);
        let decoder: Decoder<StytchClaims> = Arc::new(
            LocalDecoder::builder()
                .keys(vec![key])
                .validation(validation)
                .build()
                .expect("decoder"),
        );
        Router::new().route("/", get(handler)).with_state(decoder)
    }
}

struct Server {
    name: &'static str,
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server(name: &'static str, pin: bool, fx: &Fixture, jwk: &Jwk) -> Server {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.arg("-c").arg("0").arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let mut child = cmd
        .args(["serve", name, fx.emu.project_id(), &fx.emu.base_url()])
        .args([&jwk.kid, &jwk.n, &jwk.e])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn a server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("READY line");
    let port = line
        .trim()
        .strip_prefix("READY ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{name} did not start: {line:?}"));
    Server { name, child, port }
}

// ---------------------------------------------------------------- options

struct Options {
    duration: u64,
    warmup: u64,
    rounds: usize,
    connections: usize,
    only: Option<Vec<String>>,
    extras: bool,
    scaling_only: bool,
    scaling_filter: Option<String>,
    quiet_wait: bool,
    out: Option<PathBuf>,
    command: String,
}

impl Options {
    fn parse(args: &[String]) -> Options {
        let mut o = Options {
            duration: 5,
            warmup: 1,
            rounds: 3,
            connections: 64,
            only: None,
            extras: true,
            scaling_only: false,
            scaling_filter: None,
            quiet_wait: true,
            out: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md")),
            command: format!(
                "cargo run --release -p benches{} --bin load --{}",
                if cfg!(feature = "peers") {
                    " --features peers"
                } else {
                    ""
                },
                args.iter().map(|a| format!(" {a}")).collect::<String>()
            ),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().expect("a value after the flag").clone();
            match arg.as_str() {
                "--duration" => o.duration = value().parse().expect("seconds"),
                "--warmup" => o.warmup = value().parse().expect("seconds"),
                "--rounds" => o.rounds = value().parse().expect("count"),
                "--connections" => o.connections = value().parse().expect("count"),
                "--only" => o.only = Some(value().split(',').map(str::to_owned).collect()),
                "--skip-extras" => o.extras = false,
                "--scaling-only" => o.scaling_only = true,
                "--scaling-filter" => o.scaling_filter = Some(value()),
                "--no-quiet-wait" => o.quiet_wait = false,
                "--out" => o.out = Some(PathBuf::from(value())),
                "--no-write" => o.out = None,
                other => panic!("unknown argument {other}; see --help"),
            }
        }
        assert!(
            o.duration <= 10,
            "runs are bounded: --duration is at most 10 s"
        );
        o
    }
}

// ---------------------------------------------------------------- /proc helpers

fn sh(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// (busy, total) jiffies of the whole machine.
fn machine_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// Fields of a `/proc/PID/stat` line after the command name: index 11 is utime, 12
/// stime, 13 cutime, 14 cstime (clock ticks).
fn stat_fields(stat: &str) -> Vec<u64> {
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect()
}

fn proc_cpu_ticks(pid: u32) -> u64 {
    let f = stat_fields(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default());
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Waits (at most 60 s) until the machine is under 8 % busy for one second. Returns
/// the seconds waited and the last busy fraction seen.
fn wait_quiet() -> (u64, f64) {
    let start = Instant::now();
    loop {
        let (b0, t0) = machine_jiffies();
        std::thread::sleep(Duration::from_secs(1));
        let (b1, t1) = machine_jiffies();
        let busy = (b1 - b0) as f64 / (t1 - t0).max(1) as f64;
        if busy < 0.08 || start.elapsed() > Duration::from_secs(60) {
            return (start.elapsed().as_secs().saturating_sub(1), busy);
        }
    }
}

// ---------------------------------------------------------------- load generation

#[derive(Debug, Clone, Default)]
struct Run {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    requests: u64,
    bad: u64,
    server_cpu_s: f64,
    gen_cpu_s: f64,
    other_cpu_s: f64,
    waited_s: u64,
}

enum Generator {
    Wrk(String),
    BuiltIn,
}

impl Generator {
    fn find() -> Generator {
        let version = || {
            sh("wrk", &["-v"]).or_else(|| {
                // `wrk -v` exits 1 after printing its version.
                Command::new("wrk").arg("-v").output().ok().map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_owned()
                })
            })
        };
        if let Some(v) = version().filter(|v| v.starts_with("wrk")) {
            return Generator::Wrk(v);
        }
        eprintln!(
            "wrk is missing (install it with `apt-get install wrk`); using the built-in keep-alive client"
        );
        Generator::BuiltIn
    }

    fn describe(&self, o: &Options) -> String {
        match self {
            Generator::Wrk(v) => format!(
                "`{}`, `wrk -t2 -c{} -d{}s --latency` pinned to CPU 1",
                v.split(" Copyright").next().unwrap_or(v),
                o.connections,
                o.duration
            ),
            Generator::BuiltIn => format!(
                "built-in keep-alive HTTP/1.1 client, {} connections, 2 tokio workers, pinned to CPU 1",
                o.connections
            ),
        }
    }

    /// One bounded run against `port`; returns the parsed figures and the generator's
    /// own CPU time.
    fn run(&self, port: u16, secs: u64, conns: usize, token: &str, pin: bool) -> Run {
        let url = format!("http://127.0.0.1:{port}/");
        let cookie = format!("Cookie: {JWT_COOKIE}={token}");
        let mut cmd = Command::new("sh");
        // The shell waits for the generator, then reports its children's CPU time.
        cmd.arg("-c")
            .arg(r#""$@"; s=$?; cat /proc/$$/stat >&2; exit $s"#)
            .arg("sh");
        if pin {
            cmd.args(["taskset", "-c", "1"]);
        }
        match self {
            Generator::Wrk(_) => {
                // wrk wants at least one connection per thread.
                let threads = conns.clamp(1, 2);
                cmd.arg("wrk")
                    .args([&format!("-t{threads}"), &format!("-c{conns}")])
                    .arg(format!("-d{secs}s"))
                    .args(["--latency", "-H", &cookie, &url]);
            }
            Generator::BuiltIn => {
                let exe = std::env::current_exe().expect("own path");
                cmd.arg(exe)
                    .args(["client", &port.to_string(), &secs.to_string()]);
                cmd.args([&conns.to_string(), token]);
            }
        }
        let out = cmd.output().expect("run the load generator");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shell = stderr.lines().last().map(stat_fields).unwrap_or_default();
        let ticks = shell.get(13).copied().unwrap_or(0) + shell.get(14).copied().unwrap_or(0);
        let mut run = match self {
            Generator::Wrk(_) => parse_wrk(&stdout),
            Generator::BuiltIn => parse_builtin(&stdout),
        };
        run.gen_cpu_s = ticks as f64 / clk_tck();
        assert!(
            run.requests > 0,
            "no requests completed:\n{stdout}\n{stderr}"
        );
        run
    }
}

fn clk_tck() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        sh("getconf", &["CLK_TCK"])
            .and_then(|v| v.parse().ok())
            .unwrap_or(100.0)
    })
}

fn duration_us(s: &str) -> f64 {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let v: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => v,
        "ms" => v * 1e3,
        "s" => v * 1e6,
        "m" => v * 60e6,
        _ => f64::NAN,
    }
}

fn parse_wrk(out: &str) -> Run {
    let mut run = Run::default();
    for line in out.lines() {
        let t = line.trim();
        let words: Vec<&str> = t.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => run.p50_us = duration_us(v),
            ["99%", v] => run.p99_us = duration_us(v),
            ["Requests/sec:", v] => run.rps = v.parse().unwrap_or(0.0),
            [n, "requests", "in", ..] => run.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => run.bad += n.parse::<u64>().unwrap_or(0),
            ["Socket", "errors:", ..] => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                run.bad += words
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    run
}

fn parse_builtin(out: &str) -> Run {
    let mut run = Run::default();
    for line in out.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v: f64 = v.trim().parse().unwrap_or(0.0);
            match k.trim() {
                "rps" => run.rps = v,
                "p50_us" => run.p50_us = v,
                "p99_us" => run.p99_us = v,
                "requests" => run.requests = v as u64,
                "bad" => run.bad = v as u64,
                _ => {}
            }
        }
    }
    run
}

/// `load client PORT SECS CONNS TOKEN`: a closed-loop keep-alive HTTP/1.1 client, for
/// machines without wrk. Prints `key=value` lines.
fn client_main(args: &[String]) {
    let [port, secs, conns, token] = args else {
        panic!("client PORT SECS CONNS TOKEN");
    };
    let port: u16 = port.parse().expect("port");
    let secs: u64 = secs.parse().expect("secs");
    let conns: usize = conns.parse().expect("conns");
    let request = Arc::new(
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {JWT_COOKIE}={token}\r\n\r\n")
            .into_bytes(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (latencies, bad, elapsed) = rt.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let start = Instant::now();
        let tasks: Vec<_> = (0..conns)
            .map(|_| {
                let request = Arc::clone(&request);
                tokio::spawn(async move { connection(port, &request, deadline).await })
            })
            .collect();
        let mut all = Vec::new();
        let mut bad = 0u64;
        for t in tasks {
            let (lat, b) = t.await.expect("client task");
            all.extend(lat);
            bad += b;
        }
        (all, bad, start.elapsed())
    });
    let mut latencies = latencies;
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!("requests={}", latencies.len());
    println!("rps={}", latencies.len() as f64 / elapsed.as_secs_f64());
    println!("p50_us={}", pct(0.50));
    println!("p99_us={}", pct(0.99));
    println!("bad={bad}");
}

async fn connection(port: u16, request: &[u8], deadline: Instant) -> (Vec<u32>, u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut latencies = Vec::new();
    let mut bad = 0;
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return (latencies, 1);
    };
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    while Instant::now() < deadline {
        let t0 = Instant::now();
        if stream.write_all(request).await.is_err() {
            return (latencies, bad + 1);
        }
        buf.clear();
        // Read one response: headers, then Content-Length bytes of body.
        let done = loop {
            let mut chunk = [0u8; 4096];
            let n = match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return (latencies, bad + 1),
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break head.starts_with("http/1.1 200");
                }
            }
        };
        if !done {
            bad += 1;
        }
        latencies.push(t0.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32);
    }
    (latencies, bad)
}

// ---------------------------------------------------------------- the harness

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

fn harness(o: Options) {
    let mut report = String::new();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = cores >= 2 && sh("taskset", &["-V"]).is_some();
    let generator = Generator::find();
    let load_at_start = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let rt = benches::runtime();
    let fx = rt.block_on(Fixture::start());
    if o.scaling_only {
        // Iterating on the hit path: the in-process scaling table alone, not written.
        let mut table = String::new();
        scaling(&rt, &fx, o.scaling_filter.as_deref(), &mut table);
        println!("{table}");
        rt.block_on(fx.emu.shutdown());
        return;
    }
    let jwk = fx.jwk();
    let configs: Vec<(&'static str, &'static str)> = CONFIGS
        .iter()
        .copied()
        .filter(|(n, _)| {
            o.only
                .as_ref()
                .is_none_or(|only| only.iter().any(|x| x == n))
        })
        .collect();
    eprintln!("token {} bytes", fx.token.len());
    // A fresh server process for every run (and every paired set below): where a
    // process's code and heap land changes its speed by a few per cent, as much as what
    // is measured, so that chance is spread over the rounds instead of fixed for the
    // whole run.
    let spawn = |name: &'static str| spawn_server(name, pin, &fx, &jwk);

    let mut runs: BTreeMap<&str, Vec<Run>> = BTreeMap::new();
    let started = Instant::now();
    for round in 0..o.rounds {
        for &(name, _) in &configs {
            let server = spawn(name);
            let (waited_s, busy) = if o.quiet_wait { wait_quiet() } else { (0, 0.0) };
            if busy >= 0.08 {
                eprintln!(
                    "  machine still {:.0} % busy after 60 s; measuring anyway",
                    busy * 100.0
                );
            }
            generator.run(server.port, o.warmup, o.connections, &fx.token, pin);
            let pid = server.child.id();
            let (b0, _) = machine_jiffies();
            let s0 = proc_cpu_ticks(pid);
            let mut run = generator.run(server.port, o.duration, o.connections, &fx.token, pin);
            let s1 = proc_cpu_ticks(pid);
            let (b1, _) = machine_jiffies();
            run.server_cpu_s = (s1 - s0) as f64 / clk_tck();
            let busy_s = (b1 - b0) as f64 / clk_tck();
            run.other_cpu_s = (busy_s - run.server_cpu_s - run.gen_cpu_s).max(0.0);
            run.waited_s = waited_s;
            eprintln!(
                "round {} {:>18}: {:>9.0} req/s  p50 {:>7.0} µs  p99 {:>7.0} µs  server {:>5.1} µs/req  other CPU {:.2} s{}",
                round + 1,
                server.name,
                run.rps,
                run.p50_us,
                run.p99_us,
                run.server_cpu_s * 1e6 / run.requests as f64,
                run.other_cpu_s,
                if run.bad > 0 {
                    format!("  {} BAD", run.bad)
                } else {
                    String::new()
                }
            );
            runs.entry(server.name).or_default().push(run);
        }
    }
    let wall = started.elapsed();
    let windows = Windows {
        generator: &generator,
        configs: &configs,
        spawn: &spawn,
        o: &o,
        token: &fx.token,
        pin,
    };
    let paired = paired_windows(&windows);
    let unloaded = unloaded_latency(&windows);

    // ---- the table
    let bare = runs.get("bare").cloned();
    let w = &mut report;
    let _ = writeln!(
        w,
        "| configuration | req/s median (min–max) | ratio to bare, median of rounds (min–max) | p50 µs | p99 µs | server CPU µs/req | Δ CPU vs bare µs/req | non-2xx/errors |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|---|");
    let cpu_per_req = |r: &Run| r.server_cpu_s * 1e6 / r.requests.max(1) as f64;
    let bare_cpu = bare
        .as_ref()
        .map(|b| median(&mut b.iter().map(cpu_per_req).collect::<Vec<_>>()));
    let mut summary: BTreeMap<&str, (f64, f64, f64)> = BTreeMap::new();
    for (name, label) in &configs {
        let rs = &runs[name];
        let mut rps: Vec<f64> = rs.iter().map(|r| r.rps).collect();
        let (lo, hi) = min_max(&rps);
        let rps_med = median(&mut rps);
        let mut ratios: Vec<f64> = match &bare {
            Some(b) => rs.iter().zip(b).map(|(r, b)| r.rps / b.rps).collect(),
            None => Vec::new(),
        };
        let (rlo, rhi) = min_max(&ratios);
        let ratio = median(&mut ratios);
        let p50 = median(&mut rs.iter().map(|r| r.p50_us).collect::<Vec<_>>());
        let p99 = median(&mut rs.iter().map(|r| r.p99_us).collect::<Vec<_>>());
        let cpu = median(&mut rs.iter().map(cpu_per_req).collect::<Vec<_>>());
        let bad: u64 = rs.iter().map(|r| r.bad).sum();
        summary.insert(name, (rps_med, ratio, cpu));
        let _ = writeln!(
            w,
            "| {label} | {rps_med:.0} ({lo:.0}–{hi:.0}) | {ratio:.3} ({rlo:.3}–{rhi:.3}) | {p50:.0} | {p99:.0} | {cpu:.1} | {} | {bad} |",
            bare_cpu.map_or("–".to_owned(), |b| format!("{:+.1}", cpu - b)),
        );
    }
    let _ = writeln!(w);
    if let (Some(hit), Some(verify), Some(jwt)) = (
        summary.get("stytch_hit"),
        summary.get("stytch_verify"),
        summary.get("jsonwebtoken"),
    ) {
        let paired_hit = paired.as_ref().and_then(|p| p.1);
        let _ = writeln!(
            w,
            "Derived: cache hit **{}** bare in the paired windows below (target ≥ 0.93×; {:.3}× as the median of the rounds above), **{:+.2} µs** server CPU per request vs bare (target ≤ +1 µs); verify every request **{:.2}×** the hand-written jsonwebtoken middleware (target ≥ 1.35×), {:.3}× bare.\n",
            paired_hit.map_or("–".to_owned(), |r| format!("{r:.3}×")),
            hit.1,
            bare_cpu.map_or(f64::NAN, |b| hit.2 - b),
            verify.0 / jwt.0,
            verify.1,
        );
    }
    if let Some((paired, _)) = &paired {
        w.push_str(paired);
    }
    if let Some(unloaded) = &unloaded {
        w.push_str(unloaded);
    }
    let all: Vec<&Run> = runs.values().flatten().collect();
    let other_max = all.iter().map(|r| r.other_cpu_s).fold(0.0, f64::max);
    let other_med = median(&mut all.iter().map(|r| r.other_cpu_s).collect::<Vec<_>>());
    let waited: u64 = all.iter().map(|r| r.waited_s).sum();
    let _ = writeln!(
        w,
        "Quietness: load average at start `{}`; CPU used by the rest of the machine during a {} s run: median {:.2} CPU-s, max {:.2} CPU-s (of {} available); waited {} s in total for quiet before runs. HTTP phase took {:.0} s.\n",
        load_at_start
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        o.duration,
        other_med,
        other_max,
        o.duration as usize * cores,
        waited,
        wall.as_secs_f64(),
    );

    if o.extras {
        scaling(&rt, &fx, None, w);
        remote(&rt, &fx, w);
        memory(&rt, &fx, w);
    }

    // ---- header and output
    let mut head = String::new();
    let _ = writeln!(
        head,
        "Generated by the load harness on {}.",
        sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default()
    );
    let _ = writeln!(head, "\nCommand: `{}`\n", o.command);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default();
    let _ = writeln!(
        head,
        "Machine: {cores} vCPU ({cpu}), Linux {}, {}. Servers: a fresh process for every run, {} a 1-worker tokio runtime, bound to 127.0.0.1. Load: {}. Token: {}-byte Stytch-shaped session JWT in the `{JWT_COOKIE}` cookie, minted by stytch-emulator. {} rounds, configurations interleaved round-robin, {} s warm-up + {} s measured per run.\n",
        sh("uname", &["-r"]).unwrap_or_default(),
        sh("rustc", &["--version"]).unwrap_or_default(),
        if pin {
            "pinned to CPU 0 (`taskset -c 0`) with"
        } else {
            "NOT pinned (no taskset or one core), with"
        },
        generator.describe(&o),
        fx.token.len(),
        o.rounds,
        o.warmup,
        o.duration,
    );
    let text = format!("{head}{report}");
    println!("{text}");
    if let Some(path) = &o.out {
        write_section(path, &text);
        eprintln!("wrote {}", path.display());
    }
    rt.block_on(fx.emu.shutdown());
}

const BEGIN: &str = "<!-- BEGIN load-harness (generated by `load`; edits here are overwritten) -->";
const END: &str = "<!-- END load-harness -->";

fn write_section(path: &PathBuf, text: &str) {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let section = format!("{BEGIN}\n{text}{END}");
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if e > b => format!("{}{section}{}", &old[..b], &old[e + END.len()..]),
        _ if old.is_empty() => format!("# Benchmarks\n\n{section}\n"),
        _ => format!("{old}\n{section}\n"),
    };
    std::fs::write(path, new).expect("write BENCHMARKS.md");
}

/// Sets of back-to-back windows in the paired comparison, and seconds per window.
const PAIRED_SETS: usize = 16;
const PAIRED_WINDOW_S: u64 = 2;
const PAIRED_WARMUP_S: u64 = 1;

/// The cache hit and the do-nothing `from_fn` against bare axum in back-to-back
/// windows: one fresh process per server in each set, one window each (order rotating),
/// each figure the median over the sets of a set's ratio to its own bare window. The
/// round-robin runs above are minutes apart, and this machine's speed drifts by more
/// than the layer costs between them; windows seconds apart drift together. `None`
/// without those servers.
fn paired_windows(h: &Windows) -> Option<(String, Option<f64>)> {
    let picked = h.pick(&["bare", "noop_from_fn", "stytch_hit"])?;
    // Per server: each set's (req/s, server CPU µs per request).
    let figures = h.rotating_sets(PAIRED_SETS, &picked, |set, server| {
        h.run(server, PAIRED_WARMUP_S, h.o.connections);
        let pid = server.child.id();
        let s0 = proc_cpu_ticks(pid);
        let run = h.run(server, PAIRED_WINDOW_S, h.o.connections);
        let cpu_s = (proc_cpu_ticks(pid) - s0) as f64 / clk_tck();
        let cpu_us = cpu_s * 1e6 / run.requests.max(1) as f64;
        eprintln!(
            "paired set {} {:>18}: {:>9.0} req/s  server {cpu_us:>5.1} µs/req",
            set + 1,
            server.name,
            run.rps
        );
        (run.rps, cpu_us)
    });
    let mut w = String::new();
    let _ = writeln!(
        w,
        "Paired windows: {PAIRED_SETS} sets of back-to-back {PAIRED_WINDOW_S} s windows, one per server (order rotating), each server a fresh process warmed up for {PAIRED_WARMUP_S} s, after the runs above; a ratio is the median over the sets of a window's req/s over its set's bare window (min–max), a Δ CPU the median of the same differences.\n"
    );
    let _ = writeln!(
        w,
        "| configuration | ratio to bare, paired (min–max) | Δ server CPU vs bare µs/req, paired |"
    );
    let _ = writeln!(w, "|---|---|---|");
    let mut hit = None;
    for (i, name) in picked.iter().enumerate().skip(1) {
        let mut ratios: Vec<f64> = (0..PAIRED_SETS)
            .map(|set| figures[i][set].0 / figures[0][set].0)
            .collect();
        let mut deltas: Vec<f64> = (0..PAIRED_SETS)
            .map(|set| figures[i][set].1 - figures[0][set].1)
            .collect();
        let (lo, hi) = min_max(&ratios);
        let label = CONFIGS.iter().find(|c| c.0 == *name).map_or(*name, |c| c.1);
        let ratio = median(&mut ratios);
        if *name == "stytch_hit" {
            hit = Some(ratio);
        }
        let _ = writeln!(
            w,
            "| {label} | **{ratio:.3}** ({lo:.3}–{hi:.3}) | {:+.2} |",
            median(&mut deltas),
        );
    }
    let _ = writeln!(w);
    Some((w, hit))
}

/// What the windowed HTTP phases after the round-robin runs work with.
struct Windows<'a> {
    generator: &'a Generator,
    configs: &'a [(&'static str, &'static str)],
    spawn: &'a dyn Fn(&'static str) -> Server,
    o: &'a Options,
    token: &'a str,
    pin: bool,
}

impl Windows<'_> {
    /// The servers of `wanted` that this run serves, after waiting for quiet; `None`
    /// unless bare axum and at least one other are among them.
    fn pick(&self, wanted: &[&'static str]) -> Option<Vec<&'static str>> {
        let picked: Vec<&'static str> = wanted
            .iter()
            .copied()
            .filter(|n| self.configs.iter().any(|c| c.0 == *n))
            .collect();
        if picked.len() < 2 || picked[0] != "bare" {
            return None;
        }
        if self.o.quiet_wait {
            wait_quiet();
        }
        Some(picked)
    }

    /// One window of load on `server`.
    fn run(&self, server: &Server, secs: u64, conns: usize) -> Run {
        self.generator
            .run(server.port, secs, conns, self.token, self.pin)
    }

    /// `sets` sets of back-to-back windows, one per server in `names`: every set starts
    /// fresh processes and the order rotates from set to set. `measure` gets the set's
    /// index and a server; the result holds, per server, each set's figure.
    fn rotating_sets<T>(
        &self,
        sets: usize,
        names: &[&'static str],
        mut measure: impl FnMut(usize, &Server) -> T,
    ) -> Vec<Vec<T>> {
        let mut figures: Vec<Vec<T>> = names.iter().map(|_| Vec::with_capacity(sets)).collect();
        for set in 0..sets {
            let servers: Vec<Server> = names.iter().map(|name| (self.spawn)(name)).collect();
            for k in 0..names.len() {
                let i = (k + set) % names.len();
                figures[i].push(measure(set, &servers[i]));
            }
        }
        figures
    }
}

/// Sets in the unloaded-latency phase, and seconds per window.
const UNLOADED_SETS: usize = 6;
const UNLOADED_WINDOW_S: u64 = 2;

/// Latency with one connection and one request at a time: the time a request takes
/// when nothing waits ahead of it, which the saturated runs' p50 (mostly queueing)
/// hides. Bare axum, the cache hit, the verify path and the hand-written jsonwebtoken
/// middleware (what verifying costs without this crate), each set with fresh processes
/// and back-to-back windows, so that a Δ is taken within a set. `None` without bare
/// axum and one of the others.
fn unloaded_latency(h: &Windows) -> Option<String> {
    let picked = h.pick(&["bare", "stytch_hit", "stytch_verify", "jsonwebtoken"])?;
    // The bar for a server's p50 over bare axum's, µs.
    let target = |name: &str| match name {
        "stytch_hit" => Some(2.0),
        "stytch_verify" => Some(30.0),
        _ => None,
    };
    // Per server: each set's (p50, p99) in µs.
    let figures = h.rotating_sets(UNLOADED_SETS, &picked, |set, server| {
        h.run(server, PAIRED_WARMUP_S, 1);
        let run = h.run(server, UNLOADED_WINDOW_S, 1);
        eprintln!(
            "unloaded set {} {:>18}: p50 {:>6.1} µs  p99 {:>6.1} µs",
            set + 1,
            server.name,
            run.p50_us,
            run.p99_us
        );
        (run.p50_us, run.p99_us)
    });
    let mut w = String::new();
    let _ = writeln!(
        w,
        "Unloaded latency: 1 connection, one request at a time, {UNLOADED_SETS} sets of back-to-back {UNLOADED_WINDOW_S} s windows (fresh processes, {PAIRED_WARMUP_S} s warm-up, order rotating); each figure the median over the sets, a Δ the median of the differences within a set (min–max). The latency is the client's, from writing the request to reading the whole response.\n"
    );
    let _ = writeln!(
        w,
        "| configuration | p50 µs | p99 µs | Δ p50 vs bare, paired (min–max) | target |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|");
    for (i, name) in picked.iter().enumerate() {
        let label = CONFIGS.iter().find(|c| c.0 == *name).map_or(*name, |c| c.1);
        let p50 = median(&mut figures[i].iter().map(|f| f.0).collect::<Vec<_>>());
        let p99 = median(&mut figures[i].iter().map(|f| f.1).collect::<Vec<_>>());
        let delta = if i == 0 {
            "–".to_owned()
        } else {
            let mut deltas: Vec<f64> = (0..UNLOADED_SETS)
                .map(|set| figures[i][set].0 - figures[0][set].0)
                .collect();
            let (lo, hi) = min_max(&deltas);
            format!("**{:+.1}** ({lo:+.1}–{hi:+.1})", median(&mut deltas))
        };
        let _ = writeln!(
            w,
            "| {label} | {p50:.1} | {p99:.1} | {delta} | {} |",
            target(name).map_or("–".to_owned(), |t| format!("≤ +{t:.0} µs")),
        );
    }
    let _ = writeln!(w);
    Some(w)
}

// ---------------------------------------------------------------- in-process extras

/// An operation the scaling phase repeats.
type Op = Arc<dyn Fn(usize) + Send + Sync>;

/// ops/s with `workers` tokio workers: 64 tasks each run `batch` operations, then
/// yield, until `secs` have passed. Returns (ops/s, CPU seconds used per second).
fn throughput(workers: usize, secs: f64, batch: u64, op: Op) -> (f64, f64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime");
    let pid = std::process::id();
    rt.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let cpu0 = proc_cpu_ticks(pid);
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let (stop, count, op) = (Arc::clone(&stop), Arc::clone(&count), Arc::clone(&op));
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..batch {
                            op(task);
                        }
                        n += batch;
                        tokio::task::yield_now().await;
                    }
                    count.fetch_add(n, Ordering::Relaxed);
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.expect("task");
        }
        let elapsed = t0.elapsed().as_secs_f64();
        let cpu = (proc_cpu_ticks(pid) - cpu0) as f64 / clk_tck();
        (
            count.load(Ordering::Relaxed) as f64 / elapsed,
            cpu / elapsed,
        )
    })
}

/// Tasks of the scaling phase: each loops over the operation (and holds its own
/// router, as a connection does).
const TASKS: usize = 64;

/// Windows per row of the scaling table, each measured at every worker count back to
/// back (in alternating order), so that a ratio compares windows taken moments apart:
/// on a shared VM the machine's speed drifts by more than the effects measured.
const SCALING_PAIRS: usize = 12;
/// Seconds per window.
const SCALING_WINDOW_S: f64 = 1.5;

/// The worker counts the scaling phase measures: 1, 2, then doubling up to the cores.
fn worker_counts(cores: usize) -> Vec<usize> {
    let mut counts = vec![1, 2];
    let mut n = 4;
    while n <= cores {
        counts.push(n);
        n *= 2;
    }
    if cores > 2 && !counts.contains(&cores) {
        counts.push(cores);
    }
    counts
}

fn scaling(rt: &tokio::runtime::Runtime, fx: &Fixture, filter: Option<&str>, w: &mut String) {
    let hit = rt.block_on(fx.validator(10_000));
    let cold = rt.block_on(fx.validator(0));
    // One token shared by every task (one hot cache entry), and one token per task
    // (64 sessions: what a server with many users sees).
    let hot: Arc<str> = fx.token.as_str().into();
    let per_task: Arc<Vec<Arc<str>>> = Arc::new((0..TASKS).map(|_| fx.mint().into()).collect());
    for t in std::iter::once(&hot).chain(per_task.iter()) {
        rt.block_on(hit.authenticate(Credentials::jwt(&**t)))
            .expect("verifies");
        assert!(hit.cached(&**t).is_some());
    }
    let bare_app = || Router::new().route("/", get(hello));
    let layer_app = {
        let layer = StytchLayer::new(hit.clone());
        move || Router::new().route("/", get(hello)).layer(layer.clone())
    };
    // Static header values: cloning one per request then writes no shared reference
    // count (a `from_str` value's bytes are reference-counted), so the harness itself
    // adds no contention to what it measures. Leaked once per run.
    let cookie = |t: &str| {
        let value: &'static str = Box::leak(format!("{JWT_COOKIE}={t}").into_boxed_str());
        axum::http::HeaderValue::from_static(value)
    };
    let cookies: Arc<Vec<axum::http::HeaderValue>> =
        Arc::new(per_task.iter().map(|t| cookie(t)).collect());
    let hot_cookie = cookie(&hot);
    // A request through a router, as `axum::serve` makes it: each task is a connection
    // with its own router, prepared once (`benches::served`) and cloned per request,
    // then `oneshot`. `Shared`: every task's router is a clone of one app, as a server's
    // connections are; axum then clones one route path's `Arc<str>` (the request's
    // `MatchedPath`) on every request on every core. `Own`: every task builds its own
    // app, so nothing of axum's is shared and what remains shared is the layer's.
    #[derive(Clone, Copy)]
    enum Apps {
        Shared,
        Own,
    }
    let oneshot = |app: &dyn Fn() -> Router,
                   apps: Apps,
                   cookie: Box<dyn Fn(usize) -> axum::http::HeaderValue + Send + Sync>|
     -> Op {
        let shared = matches!(apps, Apps::Shared).then(app);
        let connections: Vec<Router> = (0..TASKS)
            .map(|_| benches::served(shared.clone().unwrap_or_else(app)))
            .collect();
        Arc::new(move |i| {
            use tower::ServiceExt;
            let mut req = axum::http::Request::get("/")
                .body(axum::body::Body::empty())
                .expect("req");
            req.headers_mut()
                .insert(axum::http::header::COOKIE, cookie(i));
            let res = benches::now(connections[i].clone().oneshot(req)).expect("infallible");
            assert!(res.status().is_success());
        })
    };
    let ops: Vec<(&str, u64, Op)> = vec![
        ("`Validator::cached`, one token for all tasks", 32, {
            let (v, t) = (hit.clone(), Arc::clone(&hot));
            Arc::new(move |_| assert!(v.cached(&*t).is_some()))
        }),
        ("`Validator::cached`, a token per task", 32, {
            let (v, t) = (hit.clone(), Arc::clone(&per_task));
            Arc::new(move |i| assert!(v.cached(&*t[i]).is_some()))
        }),
        ("bare axum Router `oneshot` (reference: axum alone)", 8, {
            let cookies = Arc::clone(&cookies);
            oneshot(
                &bare_app,
                Apps::Shared,
                Box::new(move |i| cookies[i].clone()),
            )
        }),
        (
            "Router + StytchLayer `oneshot`, cache hit, a token per task",
            8,
            {
                let cookies = Arc::clone(&cookies);
                oneshot(
                    &layer_app,
                    Apps::Shared,
                    Box::new(move |i| cookies[i].clone()),
                )
            },
        ),
        (
            "Router + StytchLayer `oneshot`, cache hit, one token for all tasks",
            8,
            oneshot(
                &layer_app,
                Apps::Shared,
                Box::new(move |_| hot_cookie.clone()),
            ),
        ),
        (
            "bare axum Router `oneshot`, an app per task (axum shares nothing)",
            8,
            {
                let cookies = Arc::clone(&cookies);
                oneshot(&bare_app, Apps::Own, Box::new(move |i| cookies[i].clone()))
            },
        ),
        (
            "Router + StytchLayer `oneshot`, cache hit, a token and an app per task (one layer)",
            8,
            {
                let cookies = Arc::clone(&cookies);
                oneshot(&layer_app, Apps::Own, Box::new(move |i| cookies[i].clone()))
            },
        ),
        ("`Validator::authenticate`, cache disabled (verify)", 1, {
            let (v, t) = (cold.clone(), Arc::clone(&per_task));
            Arc::new(move |i| {
                assert!(benches::now(v.authenticate(Credentials::jwt(&*t[i]))).is_ok())
            })
        }),
    ];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let counts = worker_counts(cores);
    let _ = writeln!(
        w,
        "### In-process scaling, {} tokio workers\n",
        counts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" vs ")
    );
    let _ = writeln!(
        w,
        "64 tasks loop over the operation (yielding every *batch* operations), process not pinned. Per row, after waiting for quiet: {SCALING_PAIRS} sets of back-to-back {SCALING_WINDOW_S} s windows, one per worker count (order alternating); a scaling figure is the median over the sets of the ratio of ops/s in one set's windows (min–max in brackets), an ops/s figure the median of its windows. The `Router` rows clone one app for every task, as a server does for its connections, so axum clones one shared `Arc<str>` (the route's `MatchedPath`) per request on every core; the rows with an app per task share nothing of axum's. Targets: `Validator::cached` with one token for all tasks ≥ 1.8× at 2 workers; Router + StytchLayer cache hit ≥ 1.85× at 2 workers.\n"
    );
    let _ = write!(w, "| operation | batch |");
    for n in &counts {
        let _ = write!(w, " {n}w ops/s |");
    }
    let _ = writeln!(w, " scaling 2w/1w (min–max) | CPU used at 2w |");
    let _ = writeln!(w, "|---|---|{}---|---|", "---|".repeat(counts.len()));
    for (name, batch, op) in ops {
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        wait_quiet();
        // ops/s per worker count and pair, and each count's ratio to the 1-worker
        // window of the same pair.
        let mut by_count: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
        let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
        let mut cpu2 = Vec::new();
        for pair in 0..SCALING_PAIRS {
            let mut order: Vec<usize> = (0..counts.len()).collect();
            if pair % 2 == 1 {
                order.reverse();
            }
            let mut window = vec![0.0; counts.len()];
            for k in order {
                let (ops, cpu) = throughput(counts[k], SCALING_WINDOW_S, batch, Arc::clone(&op));
                window[k] = ops;
                if counts[k] == 2 {
                    cpu2.push(cpu);
                }
            }
            for k in 0..counts.len() {
                by_count[k].push(window[k]);
                ratios[k].push(window[k] / window[0]);
            }
        }
        let _ = write!(w, "| {name} | {batch} |");
        for k in 0..counts.len() {
            let ops = median(&mut by_count[k].clone());
            if k == 0 {
                let _ = write!(w, " {ops:.0} |");
            } else {
                let _ = write!(w, " {ops:.0} ({:.2}×) |", median(&mut ratios[k].clone()));
            }
        }
        let (lo, hi) = min_max(&ratios[1]);
        let _ = writeln!(
            w,
            " **{:.2}** ({lo:.2}–{hi:.2}) | {:.2} |",
            median(&mut ratios[1].clone()),
            median(&mut cpu2),
        );
        eprintln!("scaling {name}: done");
    }
    let _ = writeln!(w);
}

fn remote(rt: &tokio::runtime::Runtime, fx: &Fixture, w: &mut String) {
    let upstream = Duration::from_millis(20);
    let validator = rt.block_on(fx.validator(10_000));
    // The baseline: one request alone, a fresh token each time, same upstream delay.
    fx.emu.clear_faults();
    fx.emu
        .inject_fault(Route::Authenticate, Fault::latency(upstream));
    let mut single: Vec<f64> = (0..10)
        .map(|_| {
            let token = fx.emu.create_session(NewSession::new()).session_token;
            let t0 = Instant::now();
            rt.block_on(validator.authenticate(Credentials::token(token)))
                .expect("the session token authenticates");
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    fx.emu.clear_faults();
    let single_med = median(&mut single);
    let mut lines = Vec::new();
    let mut all_calls = Vec::new();
    let mut p99s = Vec::new();
    for _ in 0..5 {
        let session = fx.emu.create_session(NewSession::new());
        fx.emu.clear_faults();
        fx.emu
            .inject_fault(Route::Authenticate, Fault::latency(upstream));
        let before = fx.emu.request_count(Route::Authenticate);
        let mut lat: Vec<f64> = rt.block_on(async {
            let tasks: Vec<_> = (0..64)
                .map(|_| {
                    let v = validator.clone();
                    let token = session.session_token.clone();
                    tokio::spawn(async move {
                        let t0 = Instant::now();
                        let ok = v.authenticate(Credentials::token(token)).await.is_ok();
                        (ok, t0.elapsed().as_secs_f64() * 1e3)
                    })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                let (ok, ms) = t.await.expect("task");
                assert!(ok, "the session token authenticates");
                out.push(ms);
            }
            out
        });
        fx.emu.clear_faults();
        let calls = fx.emu.request_count(Route::Authenticate) - before;
        lat.sort_by(f64::total_cmp);
        let p50 = lat[lat.len() / 2];
        let p99 = lat[(lat.len() * 99 / 100).min(lat.len() - 1)];
        all_calls.push(calls);
        p99s.push(p99);
        lines.push(format!("{calls} call(s), p50 {p50:.2} ms, p99 {p99:.2} ms"));
    }
    let _ = writeln!(
        w,
        "### Remote fallback: a burst of 64 concurrent requests with one unknown session token\n"
    );
    let _ = writeln!(
        w,
        "Emulator upstream with an injected {} ms latency on `sessions/authenticate`, a fresh token per burst, 5 bursts. One request alone (the upstream latency as the validator sees it: delay + loopback HTTP + parsing) takes **{:.2} ms** (median of 10). Bursts: upstream calls per burst **{:?}**; waiters' p99, median of bursts, **{:.2} ms**, i.e. **{:+.2} ms** over one request alone (target ≤ +0.1 ms). Per burst: {}.\n",
        upstream.as_millis(),
        single_med,
        all_calls,
        median(&mut p99s.clone()),
        median(&mut p99s) - single_med,
        lines.join("; "),
    );
}

fn memory(rt: &tokio::runtime::Runtime, fx: &Fixture, w: &mut String) {
    // Valid tokens: as many distinct sessions, each token verified once and cached.
    const VALID: usize = 5000;
    let t0 = Instant::now();
    let tokens: Vec<String> = (0..VALID).map(|_| fx.session().session_jwt).collect();
    let minted = t0.elapsed();
    let validator = rt.block_on(fx.validator(10_000));
    // Verify everything once without caching first, so the allocator already holds
    // the temporaries a verification frees: the growth measured next is what the
    // cache keeps.
    let uncached = rt.block_on(fx.validator(0));
    for t in &tokens {
        benches::now(uncached.authenticate(Credentials::jwt(t.clone()))).expect("verifies");
    }
    rt.block_on(validator.authenticate(Credentials::jwt(fx.token.clone())))
        .expect("verifies");
    let before = rss_bytes();
    for t in &tokens {
        benches::now(validator.authenticate(Credentials::jwt(t.clone()))).expect("verifies");
    }
    let after = rss_bytes();
    let hits = tokens
        .iter()
        .filter(|t| validator.cached(t).is_some())
        .count();
    let per_entry = (after.saturating_sub(before)) as f64 / VALID as f64;

    // Forged tokens: a published kid, a broken signature, each one distinct.
    const FORGED: usize = 100_000;
    let fresh = rt.block_on(fx.validator(10_000));
    rt.block_on(fresh.authenticate(Credentials::jwt(fx.token.clone())))
        .expect("verifies");
    let base = fx.token.clone();
    let sig_start = base.rfind('.').expect("three parts") + 1;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let rss0 = rss_bytes();
    let t1 = Instant::now();
    let mut rejected = 0usize;
    let mut forged = base.clone().into_bytes();
    for i in 0..FORGED {
        // Rewrite 4 signature characters (not the last, whose low bits must stay zero).
        let mut x = i;
        for k in 0..4 {
            forged[sig_start + 10 + k] = alphabet[x % 64];
            x /= 64;
        }
        forged[sig_start + 20] = alphabet[(i / (64 * 64 * 64 * 64)) % 64 + 1];
        let token = std::str::from_utf8(&forged).expect("ascii").to_owned();
        if benches::now(fresh.authenticate(Credentials::jwt(token))).is_err() {
            rejected += 1;
        }
    }
    let forged_s = t1.elapsed();
    let rss1 = rss_bytes();
    let stats = fresh.stats();
    let _ = writeln!(w, "### Memory\n");
    let health = validator.health();
    let weighed = health.verified_cache_bytes as f64 / health.verified_cache_entries.max(1) as f64;
    let _ = writeln!(
        w,
        "* Verified-cache entry: {VALID} distinct valid {}-byte tokens verified into a cache with room for all ({hits} hits afterwards): resident memory grew {:.1} MiB, **{:.0} bytes per entry** (the key alone is the token, {} B). The cache weighs each entry at **{weighed:.0} bytes** (`Validator::health().verified_cache_bytes`), so the default 32 MiB budget holds about {:.0} sessions like these. (Minting the tokens took {:.1} s.)",
        fx.token.len(),
        (after.saturating_sub(before)) as f64 / (1 << 20) as f64,
        per_entry,
        fx.token.len(),
        32.0 * (1 << 20) as f64 / weighed,
        minted.as_secs_f64(),
    );
    let _ = writeln!(
        w,
        "* {FORGED} distinct forged tokens (published kid, broken signature) in {:.1} s: {rejected} rejected locally, {} remote calls; resident memory {:.1} → {:.1} MiB (**{:+.1} MiB**). Forged tokens are never cached.\n",
        forged_s.as_secs_f64(),
        stats.remote_calls,
        rss0 as f64 / (1 << 20) as f64,
        rss1 as f64 / (1 << 20) as f64,
        (rss1 as f64 - rss0 as f64) / (1 << 20) as f64,
    );
}

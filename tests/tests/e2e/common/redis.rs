//! A real `redis-server` for one test: started on a free loopback port with no
//! persistence, killed by its PID when dropped.
//!
//! Without `redis-server` on the `PATH`, [`RedisServer::start`] prints one
//! `skipped: redis-server not found` line and returns `None`, unless
//! `AXUM_STYTCH_REQUIRE_REDIS=1` (as `.ci/run` sets), which turns it into a failure.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    /// A server on a free port; `None` when `redis-server` is missing and not required.
    pub fn start(test: &str) -> Option<RedisServer> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            if std::env::var("AXUM_STYTCH_REQUIRE_REDIS").is_ok_and(|v| v == "1") {
                panic!("{test}: redis-server not found, and AXUM_STYTCH_REQUIRE_REDIS=1");
            }
            // Past the test harness's capture, so that the skip is seen in any run.
            let _ = writeln!(
                std::io::stderr(),
                "{test}: skipped: redis-server not found (install it, or set AXUM_STYTCH_REQUIRE_REDIS=1 to fail instead)"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Some(Self::start_on(port))
    }

    /// A server on `port` (a restart reuses the port of the one killed).
    pub fn start_on(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = RedisServer {
            child: Some(child),
            port,
        };
        server.wait_ready();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn wait_ready(&self) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut buf).is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, by PID, and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: the server hangs with its connections open.
    pub fn pause(&self) {
        signal("-STOP", self.pid());
    }

    /// SIGCONT.
    pub fn resume(&self) {
        signal("-CONT", self.pid());
    }
}

fn signal(sig: &str, pid: u32) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {sig} {pid}");
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused server does not die of SIGKILL until continued on some systems.
            signal_quiet(child.id());
        }
        self.kill();
    }
}

fn signal_quiet(pid: u32) {
    let _ = Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

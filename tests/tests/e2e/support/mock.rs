//! A scripted stand-in for Stytch for what the emulator cannot do: JWKS
//! documents with chosen keys (weak, `e=1`, siblings, duplicates), empty or huge bodies,
//! redirects, slow-loris and mid-body resets. Also plays `attacker.example`. Every
//! request is recorded; the counters are the assertions.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

/// How a reply's body is produced.
#[derive(Clone, Debug)]
pub enum MockBody {
    Json(Value),
    Text(&'static str),
    /// `len` bytes of `{"keys":[` padding, streamed in 64 KiB chunks; with or without a
    /// `Content-Length`.
    Huge {
        len: usize,
        content_length: bool,
    },
    /// One byte every `every`, `len` bytes in all (slow-loris).
    Drip {
        every: Duration,
        len: usize,
    },
    /// `prefix`, then the connection is reset mid-body.
    ResetAfter(&'static str),
}

#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: MockBody,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: MockBody::Json(body),
            delay: Duration::ZERO,
        }
    }

    pub fn body(status: u16, body: MockBody) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body,
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    /// A JWKS document holding these JWKs, wrapped as Stytch wraps it.
    pub fn jwks(keys: Vec<Value>) -> Reply {
        Reply::json(
            200,
            json!({"keys": keys, "request_id": "request-id-test-mock", "status_code": 200}),
        )
    }

    /// Stytch's 404 for a session that is gone.
    pub fn session_not_found() -> Reply {
        Reply::json(
            404,
            json!({"status_code": 404, "request_id": "request-id-test-mock",
                   "error_type": "session_not_found",
                   "error_message": "Session could not be found.",
                   "error_url": "https://stytch.com/docs/api/errors/404"}),
        )
    }

    pub fn error(status: u16, error_type: &str) -> Reply {
        Reply::json(
            status,
            json!({"status_code": status, "request_id": "request-id-test-mock",
                   "error_type": error_type, "error_message": "scripted",
                   "error_url": "https://stytch.com/docs/api/errors"}),
        )
    }
}

/// One request the mock saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub user_agent: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Script {
    queue: VecDeque<Reply>,
    default: Option<Reply>,
}

#[derive(Default)]
struct MockState {
    jwks: Mutex<Script>,
    auth: Mutex<Script>,
    other: Mutex<Script>,
    seen: Mutex<Vec<Seen>>,
    jwks_hits: AtomicU64,
    auth_hits: AtomicU64,
    other_hits: AtomicU64,
    /// Body bytes handed to hyper by streamed replies.
    streamed: Arc<AtomicU64>,
}

/// A running mock server.
#[derive(Clone)]
pub struct Mock {
    pub addr: SocketAddr,
    state: Arc<MockState>,
}

impl Mock {
    pub async fn start() -> Mock {
        let state = Arc::new(MockState::default());
        state.auth.lock().unwrap().default = Some(Reply::session_not_found());
        state.other.lock().unwrap().default = Some(Reply::json(
            200,
            json!({"keys": [{"kty": "RSA", "kid": "attacker-kid", "n": "AQAB", "e": "AQAB"}]}),
        ));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind mock");
        let addr = listener.local_addr().expect("mock addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Mock { addr, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The reply for every JWKS request from now on (after queued ones).
    pub fn set_jwks(&self, reply: Reply) {
        self.state.jwks.lock().unwrap().default = Some(reply);
    }

    /// A reply for the next JWKS request only.
    pub fn push_jwks(&self, reply: Reply) {
        self.state.jwks.lock().unwrap().queue.push_back(reply);
    }

    pub fn set_auth(&self, reply: Reply) {
        self.state.auth.lock().unwrap().default = Some(reply);
    }

    pub fn push_auth(&self, reply: Reply) {
        self.state.auth.lock().unwrap().queue.push_back(reply);
    }

    pub fn jwks_hits(&self) -> u64 {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn auth_hits(&self) -> u64 {
        self.state.auth_hits.load(Ordering::SeqCst)
    }

    /// Requests to any path other than the JWKS and authenticate routes.
    pub fn other_hits(&self) -> u64 {
        self.state.other_hits.load(Ordering::SeqCst)
    }

    /// Every request, all routes.
    pub fn total_hits(&self) -> u64 {
        self.jwks_hits() + self.auth_hits() + self.other_hits()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn streamed_bytes(&self) -> u64 {
        self.state.streamed.load(Ordering::SeqCst)
    }
}

fn next(script: &Mutex<Script>) -> Reply {
    let mut script = script.lock().unwrap();
    script
        .queue
        .pop_front()
        .or_else(|| script.default.clone())
        .unwrap_or_else(|| Reply::json(404, json!({"error_type": "not_scripted"})))
}

async fn handle(State(state): State<Arc<MockState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default()
        .to_vec();
    let path = parts.uri.path().to_owned();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    state.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: path.clone(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        user_agent: header("user-agent"),
        body,
    });
    let reply = if path.contains("/sessions/jwks/") {
        state.jwks_hits.fetch_add(1, Ordering::SeqCst);
        next(&state.jwks)
    } else if path.ends_with("/sessions/authenticate") {
        state.auth_hits.fetch_add(1, Ordering::SeqCst);
        next(&state.auth)
    } else {
        state.other_hits.fetch_add(1, Ordering::SeqCst);
        next(&state.other)
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    render(reply, Arc::clone(&state.streamed))
}

fn render(reply: Reply, streamed: Arc<AtomicU64>) -> Response {
    let mut content_length = None;
    let body = match reply.body {
        MockBody::Json(v) => Body::from(v.to_string()),
        MockBody::Text(t) => Body::from(t),
        MockBody::Huge {
            len,
            content_length: with_length,
        } => {
            if with_length {
                content_length = Some(len);
            }
            const CHUNK: usize = 64 * 1024;
            let stream = futures_util::stream::unfold(0usize, move |sent| {
                let streamed = Arc::clone(&streamed);
                async move {
                    if sent >= len {
                        return None;
                    }
                    let n = CHUNK.min(len - sent);
                    let mut chunk = vec![b' '; n];
                    if sent == 0 {
                        chunk[..9].copy_from_slice(b"{\"keys\":[");
                    }
                    streamed.fetch_add(n as u64, Ordering::SeqCst);
                    Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), sent + n))
                }
            });
            Body::from_stream(stream)
        }
        MockBody::Drip { every, len } => {
            let stream = futures_util::stream::unfold(0usize, move |sent| {
                let streamed = Arc::clone(&streamed);
                async move {
                    if sent >= len {
                        return None;
                    }
                    tokio::time::sleep(every).await;
                    streamed.fetch_add(1, Ordering::SeqCst);
                    Some((Ok::<_, std::io::Error>(Bytes::from_static(b"{")), sent + 1))
                }
            });
            Body::from_stream(stream)
        }
        MockBody::ResetAfter(prefix) => {
            let stream = futures_util::stream::iter([
                Ok(Bytes::from_static(prefix.as_bytes())),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "scripted reset",
                )),
            ]);
            Body::from_stream(stream)
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(len) = content_length {
        headers.insert("content-length", HeaderValue::from(len));
    }
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
    response
}

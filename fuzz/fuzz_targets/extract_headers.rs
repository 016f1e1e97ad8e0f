//! Credential extraction from arbitrary header maps, through the public layer.
//!
//! Input: lines (split on `\n`); the first byte of a line picks the header name, the
//! rest is its value (lines that are not a valid header value are dropped). The request
//! goes through `StytchLayer` in-process (`tower::ServiceExt::oneshot`). Oracle: no
//! panic, never a 5xx other than 503, and never 200 unless the input carries the
//! emulator's sandbox token (the one credential that legitimately authenticates).

#![no_main]

mod env;

use axum::body::Body;
use axum::http::{HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

const NAMES: [&str; 6] = [
    "cookie",
    "authorization",
    "cookie",
    "accept",
    "x-forwarded-for",
    "authorization",
];

fuzz_target!(|data: &[u8]| {
    let env = env::env();
    let path = if data.first().is_some_and(|b| b & 1 == 1) {
        "/admin"
    } else {
        "/"
    };
    let mut request = Request::get(path);
    for line in data.split(|b| *b == b'\n') {
        let Some((&selector, value)) = line.split_first() else {
            continue;
        };
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        request = request.header(NAMES[selector as usize % NAMES.len()], value);
    }
    let Ok(request) = request.body(Body::empty()) else {
        return;
    };
    let response = env
        .rt
        .block_on(env.router.clone().oneshot(request))
        .expect("the router is infallible");
    let status = response.status().as_u16();
    assert!(
        status < 500 || status == 503,
        "a {status} for input {data:?}"
    );
    let sandbox = data
        .windows(env::SANDBOX_TOKEN.len())
        .any(|w| w == env::SANDBOX_TOKEN.as_bytes());
    assert!(
        status != 200 || sandbox,
        "arbitrary headers authenticated: {data:?}"
    );
});

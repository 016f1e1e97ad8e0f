//! End-to-end tests of axum-stytch against the Stytch emulator and scripted mocks, in
//! one test binary: each module is one former test file, so test paths keep their
//! names (`faults::c_jwks_01_...`, `lockout::...`). Filter with
//! `cargo test -p integration-tests -- faults::`.

mod common;
mod support;

mod adversarial;
mod api;
mod b2b;
mod clock_cache_config;
mod faults;
mod fleet;
mod guards;
mod layer;
mod lockout;
mod log_hygiene;
mod observe;
mod properties;
mod repo_hygiene;
mod storms;

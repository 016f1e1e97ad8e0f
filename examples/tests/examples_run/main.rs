//! Each example's app served over loopback against an embedded emulator, in one test
//! binary: one module per example, and `browser`, the quickstart's page in headless
//! Chromium (skipped when Chromium is not installed; see `browser/mod.rs`).

mod support;

mod b2b;
mod browser;
mod fleet;
mod quickstart;
mod rbac;
mod step_up;

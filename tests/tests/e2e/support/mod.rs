//! The adversarial harness: key material, a scripted Stytch mock, the app under test,
//! the table runner, and the catalogue's rows.
#![allow(
    dead_code,
    unreachable_pub,
    missing_debug_implementations,
    clippy::type_complexity
)]

pub mod app;
pub mod cases;
pub mod keys;
pub mod mock;
pub mod own;
pub mod runner;

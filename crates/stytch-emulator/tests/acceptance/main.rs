//! Acceptance tests: the emulator against the official `stytch` crate, plain
//! `jsonwebtoken`, raw HTTP and its own binary.

mod binary;
mod control;
mod faults;
mod jwt;
mod sdk;
mod step_up;
mod support;

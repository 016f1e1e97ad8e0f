//! Each example's app served over loopback against an embedded emulator, in one test
//! binary: one module per example.

mod support;

mod b2b;
mod fleet;
mod quickstart;
mod rbac;
mod step_up;

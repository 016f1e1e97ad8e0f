//! The validator end to end against the Stytch emulator, in one test binary: local JWT
//! checks, the remote fallback, key rotation and faults, and RBAC.

mod common;

mod keys_and_faults;
mod local_and_remote;
mod rbac;
mod revocation;

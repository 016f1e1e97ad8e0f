//! Runnable examples for axum-stytch live in this package's `examples/` directory.

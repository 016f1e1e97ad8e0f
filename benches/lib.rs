//! Benchmarks for axum-stytch; see `benches/` and the `load` binary.

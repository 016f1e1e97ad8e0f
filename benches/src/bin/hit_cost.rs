//! Instructions per verified-cache hit (`Validator::cached`), for callgrind, which
//! counts instructions rather than time and so compares two variants on a busy machine:
//!
//! ```sh
//! cargo build --release -p benches --features fleet --bin hit_cost
//! for mode in off fleet fleet-revoked; do
//!   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='hit_cost::hits' \
//!     --callgrind-out-file=/dev/null target/release/hit_cost $mode 100000 2>&1 | grep refs
//! done
//! ```
//!
//! Ir / 100 000 is the cost of one hit (only the loop is counted). `off`: a plain
//! validator; `fleet`: in fleet mode on a `redis-server` the program starts; `fleet-revoked`:
//! the same with 1000 other sessions revoked. Without the `fleet` feature only `off` runs.

use std::hint::black_box;

use benches::Fixture;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "off".to_owned());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fx = rt.block_on(Fixture::start());
    // Keeps the fleet's redis-server running until the end.
    let mut _keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    let validator = match mode.as_str() {
        "off" => rt.block_on(fx.validator(10_000)),
        #[cfg(feature = "fleet")]
        "fleet" | "fleet-revoked" => {
            let (redis, validator) =
                benches::fleet::validator(&rt, &fx).expect("redis-server on the PATH");
            if mode == "fleet-revoked" {
                for i in 0..1000 {
                    rt.block_on(validator.revoke(&format!("session-test-bench-{i:04}")))
                        .expect("revoked");
                }
            }
            _keep.push(Box::new(redis));
            validator
        }
        other => {
            panic!("unknown mode {other} (off, fleet, fleet-revoked; fleet needs --features fleet)")
        }
    };
    let token = fx.token.clone();
    rt.block_on(
        validator.authenticate(axum_stytch::stytch_validator::Credentials::jwt(
            token.clone(),
        )),
    )
    .expect("the token verifies");
    assert!(validator.cached(&token).is_some());
    hits(&validator, &token, n);
    println!("{mode}: {n} hits");
}

/// The measured loop: callgrind collects only inside it with
/// `--collect-atstart=no --toggle-collect=hit_cost::hits`.
#[inline(never)]
fn hits(validator: &axum_stytch::Validator, token: &str, n: u64) {
    for _ in 0..n {
        black_box(validator.cached(black_box(token)));
    }
}

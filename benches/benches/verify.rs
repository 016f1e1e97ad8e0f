//! Per-token costs of the validator, against the floor, in one criterion run:
//!
//! * `miss/raw_rsa_preparsed_floor`: one RSA-2048 PKCS#1 v1.5 SHA-256 check with an
//!   aws-lc-rs key parsed once (signature base64 decode included). The floor.
//! * `miss/validator_cold`: `Validator::authenticate` with the verified cache disabled:
//!   parse, header gates, verify, claims, validation, session mapping (the
//!   verify-every-request path; target ≤ 1.2× the floor).
//! * `miss/validator_cold_wrong_audience`: the same token re-signed for another
//!   audience: everything above except the session mapping and time checks, so the
//!   difference with `validator_cold` is the cost of mapping claims into a `Session`.
//! * `miss/fingerprint`: `stytch_validator::fingerprint` of the token (SHA-256 + hex),
//!   which `Validator::authenticate` computes for its log lines on every path that is
//!   not a cache hit, whether or not tracing is enabled.
//! * `miss/jsonwebtoken11_decode`: `decode_header` + `jsonwebtoken::decode` (aws_lc_rs)
//!   into typed claims: what a hand-written middleware pays.
//! * `hit/validator_cached`: `Validator::cached`, the verified-cache hit (lookup,
//!   time and key re-checks, session clone).
//! * `hit/validator_authenticate_hit`: `Validator::authenticate` served from the cache
//!   (adds the owned `Credentials`).
//! * `lookup/*`: a hit in a 10k-entry cache keyed by the whole token: quick_cache with
//!   its default ahash over the whole token, quick_cache with the validator's hasher
//!   (SipHash over the length and the last 32 bytes), moka (SipHash, whole token).
//! * `insert/{quick_cache_siphash_tail32,moka}`: inserting a new token-sized `String`
//!   key (allocation included) into a 100k-entry cache of sessions, evicting once full.
//!
//! Run: `cargo bench -p benches --bench verify`.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum_stytch::Session;
use axum_stytch::stytch_validator::Credentials;
use benches::{Fixture, HandWritten, now, raw_rsa_verify};
use criterion::{BatchSize, Criterion};

/// A copy of the validator's verified-cache hasher (`TokenHash` in
/// `stytch-validator/src/validator.rs`), to compare it with hashing the whole token.
#[derive(Clone, Default)]
struct TokenHash(std::collections::hash_map::RandomState);

impl BuildHasher for TokenHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

struct TailHasher(std::collections::hash_map::DefaultHasher);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write_usize(bytes.len());
        self.0.write(&bytes[bytes.len().saturating_sub(32)..]);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

type TailCache =
    quick_cache::sync::Cache<String, Arc<Session>, quick_cache::UnitWeighter, TokenHash>;

fn benches(c: &mut Criterion) {
    let rt = benches::runtime();
    let _enter = rt.enter();
    let fx = rt.block_on(Fixture::start());
    let token = fx.token.clone();
    eprintln!("token: {} bytes", token.len());
    let cold = rt.block_on(fx.validator(0));
    let cached = rt.block_on(fx.validator(10_000));
    let jwk = fx.jwk();
    let key = jwk.parsed();
    let hand = HandWritten::new(fx.emu.project_id(), &jwk);
    let wrong_aud = {
        let payload = token.split('.').nth(1).expect("payload");
        let mut claims: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .expect("b64"),
        )
        .expect("json");
        claims["aud"] = serde_json::json!(["project-test-00000000-0000-4000-8000-000000000000"]);
        fx.emu.sign_jwt(&claims)
    };

    // Sanity: each path accepts (or refuses) what it should before it is timed.
    assert!(raw_rsa_verify(&key, &token));
    let session = now(cold.authenticate(Credentials::jwt(token.clone())))
        .expect("the token verifies")
        .session;
    assert!(now(cold.authenticate(Credentials::jwt(wrong_aud.clone()))).is_err());
    assert!(hand.decode(&token).is_some());
    assert!(now(cached.authenticate(Credentials::jwt(token.clone()))).is_ok());
    assert!(cached.cached(&token).is_some());
    assert!(cold.cached(&token).is_none());

    let mut g = c.benchmark_group("miss");
    g.bench_function("raw_rsa_preparsed_floor", |b| {
        b.iter(|| raw_rsa_verify(&key, black_box(&token)))
    });
    g.bench_function("validator_cold", |b| {
        b.iter(|| now(cold.authenticate(Credentials::jwt(black_box(&token).clone()))).is_ok())
    });
    g.bench_function("validator_cold_wrong_audience", |b| {
        b.iter(|| now(cold.authenticate(Credentials::jwt(black_box(&wrong_aud).clone()))).is_err())
    });
    g.bench_function("fingerprint", |b| {
        b.iter(|| axum_stytch::stytch_validator::fingerprint(black_box(&token)))
    });
    g.bench_function("jsonwebtoken11_decode", |b| {
        b.iter(|| hand.decode(black_box(&token)).is_some())
    });
    g.finish();

    let mut g = c.benchmark_group("hit");
    g.bench_function("validator_cached", |b| {
        b.iter(|| cached.cached(black_box(&token)))
    });
    g.bench_function("validator_authenticate_hit", |b| {
        b.iter(|| now(cached.authenticate(Credentials::jwt(black_box(&token).clone()))).is_ok())
    });
    g.finish();

    let prefix = &token[..token.len() - 16];
    let key_of = |i: u64| {
        let mut k = String::with_capacity(token.len());
        k.push_str(prefix);
        write!(k, "{i:016x}").expect("write to a String");
        k
    };
    let value = Arc::new(session);
    let mut g = c.benchmark_group("lookup");
    let qc_full: quick_cache::sync::Cache<String, Arc<Session>> =
        quick_cache::sync::Cache::new(10_000);
    let qc_tail: TailCache = TailCache::with(
        10_000,
        10_000,
        quick_cache::UnitWeighter,
        TokenHash::default(),
        Default::default(),
    );
    let moka_get: moka::sync::Cache<String, Arc<Session>> = moka::sync::Cache::new(10_000);
    for i in 0..10_000u64 {
        let k = key_of(u64::MAX - i);
        qc_full.insert(k.clone(), Arc::clone(&value));
        qc_tail.insert(k.clone(), Arc::clone(&value));
        moka_get.insert(k, Arc::clone(&value));
    }
    let probe = key_of(u64::MAX - 4242);
    g.bench_function("quick_cache_ahash_whole_token", |b| {
        b.iter(|| qc_full.get(black_box(probe.as_str())))
    });
    g.bench_function("quick_cache_siphash_tail32", |b| {
        b.iter(|| qc_tail.get(black_box(probe.as_str())))
    });
    g.bench_function("moka_siphash_whole_token", |b| {
        b.iter(|| moka_get.get(black_box(probe.as_str())))
    });
    g.finish();

    let mut g = c.benchmark_group("insert");
    let qc: TailCache = TailCache::with(
        100_000,
        100_000,
        quick_cache::UnitWeighter,
        TokenHash::default(),
        Default::default(),
    );
    let mut i = 0u64;
    g.bench_function("quick_cache_siphash_tail32", |b| {
        b.iter_batched(
            || {
                i += 1;
                i
            },
            |i| qc.insert(key_of(i), Arc::clone(&value)),
            BatchSize::SmallInput,
        )
    });
    let moka: moka::sync::Cache<String, Arc<Session>> = moka::sync::Cache::new(100_000);
    let mut i = 0u64;
    g.bench_function("moka", |b| {
        b.iter_batched(
            || {
                i += 1;
                i
            },
            |i| moka.insert(key_of(i), Arc::clone(&value)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    rt.block_on(fx.emu.shutdown());
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    benches(&mut c);
    c.final_summary();
}

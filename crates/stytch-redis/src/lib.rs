//! Fleet mode for [`stytch-validator`](stytch_validator) and `axum-stytch` on Redis:
//! the instances of a service behind a load balancer share revocations, Stytch's
//! answers and the remote budget.
//!
//! ```no_run
//! use stytch_redis::RedisFleet;
//! use stytch_validator::{StytchConfig, Validator};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let fleet = RedisFleet::new("redis://127.0.0.1:6379")?;   // connects in the background
//! let validator = Validator::with_fleet(StytchConfig::from_env()?, fleet);
//! // ... StytchLayer::new(validator); a logout:
//! validator.revoke("session-test-...").await?;            // refused fleet-wide at once
//! # Ok(()) }
//! ```
//!
//! # What is shared, and how
//!
//! | state | in Redis | on the request path |
//! |---|---|---|
//! | revoked sessions | a sorted set `<prefix>:revoked` (session id, scored by until when) and the channel `<prefix>:revocations` | never: a subscription feeds each validator's local mirror, which a cache hit reads in memory |
//! | Stytch's answers | `<prefix>:answer:<sha-256>` (`SET ... PX`), sealed with AES-256-GCM under a key derived from the credential | one `GET` before a call to Stytch, one `SET` after it |
//! | the remote budget | a hash `<prefix>:budget:<project id>` driven by one Lua script (token bucket, proven calls first) | one script call per call to Stytch |
//!
//! Redis never holds a credential: keys are hashes of the credential, values open only
//! with the credential. Revocations are keyed by session id, which is not a credential.
//!
//! Whoever can write to this Redis cannot forge a session (a sealed answer that does
//! not open under the presenting credential's key is ignored), but can deny service:
//! revoke sessions, or spend the fleet's remote budget. Give the prefix's keys to these
//! services only (Redis ACLs), as you would a session store.
//!
//! # When Redis is away
//!
//! No request waits on Redis longer than the timeout (default 50 ms,
//! [`RedisFleetBuilder::timeout`]). While Redis is down, unreachable or slow, every
//! call falls back at once to the validator's local state (its own caches, its own
//! budget); the outage is logged once (`stytch.redis.disconnected`, and the
//! validator's `stytch.fleet.unavailable`). A revocation made meanwhile takes effect
//! locally at once and is kept; when Redis returns (`stytch.redis.reconnected`) each
//! instance re-subscribes, publishes what it revoked meanwhile, re-seeds the sorted set
//! with the revocations it holds (a Redis restarted empty forgets nothing a live
//! instance remembers) and downloads the set. An instance that starts while Redis is
//! down starts, and serves from local state.
//!
//! # Cost
//!
//! A verified-cache hit does not touch Redis; it checks the local mirror of revocations
//! with one atomic load while no revocation arrived since the entry was last checked,
//! one hash lookup after: the same instructions per hit with fleet mode on or off
//! (about 1430, counted by callgrind; `BENCHMARKS.md` has the figures). A request that
//! needs Stytch adds a `GET` before the call, and a budget script and a `SET` after it:
//! round trips to Redis, each bounded by the timeout.
//!
//! # Tracing
//!
//! Events under the target `stytch_redis`: `stytch.redis.connected` (`key_prefix`),
//! `stytch.redis.disconnected` (`error`, once per outage), `stytch.redis.reconnected`,
//! `stytch.redis.synchronised` (`revocations`), `stytch.redis.published`
//! (`revocations`), `stytch.redis.malformed_message`, `stytch.redis.pending_full`. The
//! Redis URL (which may hold a password) is never logged.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod fleet;
mod scripts;
mod shared;
mod worker;

pub use fleet::{RedisFleet, RedisFleetBuilder};
pub use stytch_validator::fleet::{FleetError, FleetState};

//! The verified-token cache: a JWT that verified once is not verified again until it
//! expires. Keyed by the whole token's bytes; lookups borrow them, so a hit copies
//! nothing.

use std::sync::Arc;

use crate::jwt::Times;
use crate::session::Session;

pub(crate) struct CachedToken {
    /// The whole token: the same allocation as the cache's key, so that a per-thread
    /// replica can compare a request's token with it without a copy of its own.
    pub(crate) token: Arc<[u8]>,
    pub(crate) session: Session,
    pub(crate) times: Times,
    /// Shared with the key set's own copy of the kid, not one string per entry.
    pub(crate) kid: Arc<str>,
    /// What this entry costs in memory, token included (see [`ByteWeight`]).
    weight: u64,
    /// The revoked set's epoch at which the session was last found not revoked: while
    /// the epoch stays there, a hit needs no lookup.
    pub(crate) checked: std::sync::atomic::AtomicU64,
}

impl CachedToken {
    /// `epoch`: the revoked set's epoch read before the session was found not revoked.
    pub(crate) fn new(
        token: Arc<[u8]>,
        session: Session,
        times: Times,
        kid: Arc<str>,
        epoch: u64,
    ) -> Self {
        // The token's allocation holds two counts before its bytes.
        let weight = (heap::alloc(token.len() + 2 * std::mem::size_of::<usize>())
            + heap::alloc(std::mem::size_of::<CachedToken>() + 2 * std::mem::size_of::<usize>())
            + CACHE_SLOT
            + session.heap_bytes()) as u64;
        Self {
            token,
            session,
            times,
            kid,
            weight,
            checked: std::sync::atomic::AtomicU64::new(epoch),
        }
    }
}

/// What an entry costs in the cache's own table: the key's and value's headers and the
/// cache's bookkeeping for the slot.
const CACHE_SLOT: usize =
    std::mem::size_of::<Arc<[u8]>>() + std::mem::size_of::<Arc<CachedToken>>() + 32;

/// How the weigher counts heap bytes: what each allocation asks for, plus the header
/// the allocator keeps with it (the resident cost is what bounds memory).
pub(crate) mod heap {
    use serde_json::{Map, Value};

    const MALLOC_HEADER: usize = 16;

    /// One allocation of `bytes` (none for 0).
    pub(crate) fn alloc(bytes: usize) -> usize {
        if bytes == 0 { 0 } else { bytes + MALLOC_HEADER }
    }

    pub(crate) fn string(s: &String) -> usize {
        alloc(s.capacity())
    }

    /// The vector's buffer, not what its elements hold.
    pub(crate) fn vec<T>(v: &Vec<T>) -> usize {
        alloc(v.capacity() * std::mem::size_of::<T>())
    }

    /// A JSON object: serde_json's map is a B-tree whose nodes hold up to 11 entries
    /// each, allocated whole.
    pub(crate) fn map(m: &Map<String, Value>) -> usize {
        const NODE: usize =
            11 * (std::mem::size_of::<String>() + std::mem::size_of::<Value>()) + 16;
        if m.is_empty() {
            return 0;
        }
        alloc(NODE) * m.len().div_ceil(11)
            + m.iter().map(|(k, v)| string(k) + value(v)).sum::<usize>()
    }

    fn value(v: &Value) -> usize {
        match v {
            Value::String(s) => string(s),
            Value::Array(a) => vec(a) + a.iter().map(value).sum::<usize>(),
            Value::Object(m) => map(m),
            _ => 0,
        }
    }
}

/// Weighs an entry by the bytes it holds, so the cache is bounded by memory, whatever
/// the size of the tokens (which the application does not control).
#[derive(Clone, Copy, Default)]
pub(crate) struct ByteWeight;

impl quick_cache::Weighter<Arc<[u8]>, Arc<CachedToken>> for ByteWeight {
    fn weight(&self, _token: &Arc<[u8]>, cached: &Arc<CachedToken>) -> u64 {
        cached.weight
    }
}

/// The verified-token cache: whole token → what it verified to, bounded in bytes.
/// Keyed by the token's bytes (shared with the entry's own `token`): a lookup borrows
/// them as the request carries them, so a hit copies nothing and needs no UTF-8 check
/// (only tokens that verified, which are text, are ever inserted).
pub(crate) type VerifiedCache =
    quick_cache::sync::Cache<Arc<[u8]>, Arc<CachedToken>, ByteWeight, TokenHash>;

/// How many trailing bytes of a token the verified cache hashes.
const HASHED_TAIL: usize = 32;

/// Hashes a token by its length and its last [`HASHED_TAIL`] bytes, with a random
/// SipHash key: the end of an RS256 JWT is its signature, effectively random for
/// distinct tokens, so this spreads keys as well as hashing all ~1.4 KB does, at a
/// fraction of the cost (measured in `benches/`). Equality still compares the whole
/// token, and only tokens that verified are ever inserted, so crafted collisions can
/// cost a lookup a comparison but cannot fill a bucket.
#[derive(Clone, Default)]
pub(crate) struct TokenHash(std::collections::hash_map::RandomState);

impl std::hash::BuildHasher for TokenHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

pub(crate) struct TailHasher(std::collections::hash_map::DefaultHasher);

impl std::hash::Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write_usize(bytes.len());
        self.0
            .write(&bytes[bytes.len().saturating_sub(HASHED_TAIL)..]);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// Shards of the verified cache, at least: a hit read-locks its shard, which writes the
/// shard's lock word, so cores serving different users meet on a lock only when their
/// tokens share a shard. quick_cache's own default (4 per core, 8 on two cores) puts
/// a few thousand sessions in each; this makes a lock word one of a few dozen
/// sessions'. quick_cache halves the count until each shard has room for 32 entries, so
/// a small budget keeps few shards.
const MIN_SHARDS: usize = 256;

/// A cache holding verified tokens up to `bytes` in all.
pub(crate) fn new_cache(bytes: u64) -> VerifiedCache {
    // The estimate only sizes the tables (and caps the shard count); the weight bounds
    // the content.
    let estimated_items = (bytes / 2048).clamp(16, 1 << 20) as usize;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let options = quick_cache::OptionsBuilder::new()
        .estimated_items_capacity(estimated_items)
        .weight_capacity(bytes)
        .shards(MIN_SHARDS.max(4 * cores))
        .build()
        .expect("the capacities are set");
    VerifiedCache::with_options(
        options,
        ByteWeight,
        TokenHash::default(),
        Default::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_is_split_into_many_shards_and_a_small_one_into_few() {
        let default = new_cache(32 << 20);
        assert!(
            default.num_shards() >= MIN_SHARDS,
            "{}",
            default.num_shards()
        );
        // Each still has room for dozens of typical entries (~2.7 KB each).
        assert!(
            default.shard_capacity() >= 32 * 2700,
            "{}",
            default.shard_capacity()
        );
        // A budget of a few entries is not split below one entry's room.
        let small = new_cache(64 << 10);
        assert!(small.num_shards() <= 2, "{}", small.num_shards());
        assert!(
            small.shard_capacity() >= 16 << 10,
            "{}",
            small.shard_capacity()
        );
    }
}

//! The verified-token cache: a JWT that verified once is not verified again until it
//! expires. Keyed by the whole token; lookups borrow it, so a hit copies nothing.

use std::sync::Arc;

use crate::jwt::Times;
use crate::session::Session;

pub(crate) struct CachedToken {
    pub(crate) session: Session,
    pub(crate) times: Times,
    pub(crate) kid: String,
    /// The revoked set's epoch at which the session was last found not revoked: while
    /// the epoch stays there, a hit needs no lookup.
    pub(crate) checked: std::sync::atomic::AtomicU64,
}

/// The verified-token cache: whole token → what it verified to. Lookups borrow the
/// token (`&str`), so a hit copies nothing.
pub(crate) type VerifiedCache =
    quick_cache::sync::Cache<String, Arc<CachedToken>, quick_cache::UnitWeighter, TokenHash>;

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

/// A cache holding up to `capacity` verified tokens.
pub(crate) fn new_cache(capacity: usize) -> VerifiedCache {
    VerifiedCache::with(
        capacity,
        capacity as u64,
        quick_cache::UnitWeighter,
        TokenHash::default(),
        Default::default(),
    )
}

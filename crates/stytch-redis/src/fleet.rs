//! [`RedisFleet`]: the [`FleetState`] on Redis, and its builder.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use stytch_validator::fleet::{
    AnswerKey, BudgetDecision, BudgetRequest, DEFAULT_TIMEOUT, FleetError, FleetMirror, FleetState,
    Revocation, Standing,
};
use tokio::sync::Notify;

use crate::scripts;
use crate::shared::{Keys, Shared};

/// Revocations kept for publication while Redis is away, at most.
const MAX_PENDING: usize = 100_000;

/// Fleet mode on Redis: revocations, remote answers and the remote budget shared by
/// every instance that connects to the same Redis with the same key prefix. Cheap to
/// clone. See the [crate documentation](crate).
#[derive(Clone)]
pub struct RedisFleet(pub(crate) Arc<Shared>);

impl fmt::Debug for RedisFleet {
    // The URL may hold a password: it is never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisFleet")
            .field("key_prefix", &self.0.keys.prefix)
            .field("timeout", &self.0.timeout)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisFleet`]; see [`RedisFleet::builder`].
#[derive(Debug)]
#[must_use]
pub struct RedisFleetBuilder {
    url: String,
    key_prefix: String,
    timeout: Duration,
    reconnect_min: Duration,
    reconnect_max: Duration,
}

impl RedisFleetBuilder {
    /// The prefix of every key and channel (default `axum-stytch`). Instances share
    /// state only with instances of the same prefix.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The longest a request waits on Redis (default 50 ms). Past it, the validator
    /// answers from its local state.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The delays between reconnection attempts: doubling from `min` up to `max`
    /// (defaults 50 ms and 1 s).
    pub fn reconnect_delay(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min = min;
        self.reconnect_max = max.max(min);
        self
    }

    /// Checks the URL and starts connecting in the background. Never waits for Redis:
    /// an instance starts, and serves from its local state, while Redis is down. Must
    /// be called within a Tokio runtime.
    pub fn build(self) -> Result<RedisFleet, FleetError> {
        let client = redis::Client::open(self.url.as_str())
            .map_err(|e| FleetError::new(format!("invalid Redis URL: {:?}", e.kind())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(self.timeout.max(Duration::from_millis(10)) * 4))
            .set_min_delay(self.reconnect_min)
            .set_max_delay(self.reconnect_max)
            .set_number_of_retries(1);
        let commands = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| FleetError::new(format!("Redis connection manager: {:?}", e.kind())))?;
        let prefix = self.key_prefix;
        let shared = Arc::new(Shared {
            keys: Keys {
                revoked: format!("{prefix}:revoked"),
                channel: format!("{prefix}:revocations"),
                answer: format!("{prefix}:answer:"),
                budget: format!("{prefix}:budget:"),
                prefix,
            },
            client,
            commands,
            timeout: self.timeout,
            up: AtomicBool::new(false),
            suspect_until: AtomicU64::new(0),
            epoch: Instant::now(),
            mirrors: Mutex::new(Vec::new()),
            pending: Mutex::new(HashMap::new()),
            wake: Arc::new(Notify::new()),
            new_mirrors: AtomicBool::new(false),
            stop: Arc::new(Notify::new()),
            reconnect: (self.reconnect_min, self.reconnect_max),
        });
        crate::worker::spawn(&shared);
        Ok(RedisFleet(shared))
    }
}

impl RedisFleet {
    /// A fleet on the Redis at `url` (`redis://[:password@]host[:port][/db]`, or
    /// `rediss://` with a TLS feature of the `redis` crate) with the defaults; see
    /// [`builder`](Self::builder).
    pub fn new(url: impl Into<String>) -> Result<Self, FleetError> {
        Self::builder(url).build()
    }

    /// A builder: key prefix, timeout, reconnection delays.
    pub fn builder(url: impl Into<String>) -> RedisFleetBuilder {
        RedisFleetBuilder {
            url: url.into(),
            key_prefix: "axum-stytch".to_owned(),
            timeout: DEFAULT_TIMEOUT,
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(1),
        }
    }

    /// Whether the fleet is subscribed to Redis and synchronised right now.
    pub fn is_connected(&self) -> bool {
        self.0.up.load(Ordering::Acquire)
    }

    /// Revocations waiting to be published (made while Redis was away).
    pub fn pending_revocations(&self) -> usize {
        self.0
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl FleetState for RedisFleet {
    fn attach(&self, mirror: FleetMirror) {
        self.0
            .mirrors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(mirror);
        // A validator attached after the worker synchronised still needs the set.
        self.0.new_mirrors.store(true, Ordering::Release);
        self.0.wake.notify_one();
    }

    fn timeout(&self) -> Duration {
        self.0.timeout
    }

    fn publish_revocation(&self, revocation: Revocation) -> BoxFuture<'_, Result<(), FleetError>> {
        {
            let mut pending = self
                .0
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if pending.len() < MAX_PENDING || pending.contains_key(&revocation.session_id) {
                let until = pending.entry(revocation.session_id).or_insert(0);
                *until = (*until).max(revocation.until_ms);
            } else {
                tracing::warn!("stytch.redis.pending_full");
            }
        }
        // The worker publishes it now, or when Redis is back.
        self.0.wake.notify_one();
        async { Ok(()) }.boxed()
    }

    fn load_answer(&self, key: AnswerKey) -> BoxFuture<'_, Result<Option<Vec<u8>>, FleetError>> {
        let name = format!("{}{}", self.0.keys.answer, key.to_hex());
        async move {
            self.0
                .command(move |mut conn| {
                    async move { redis::cmd("GET").arg(name).query_async(&mut conn).await }.boxed()
                })
                .await
        }
        .boxed()
    }

    fn store_answer(
        &self,
        key: AnswerKey,
        sealed: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<(), FleetError>> {
        let name = format!("{}{}", self.0.keys.answer, key.to_hex());
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        async move {
            self.0
                .command(move |mut conn| {
                    async move {
                        redis::cmd("SET")
                            .arg(name)
                            .arg(sealed)
                            .arg("PX")
                            .arg(ttl_ms)
                            .query_async::<()>(&mut conn)
                            .await
                    }
                    .boxed()
                })
                .await
        }
        .boxed()
    }

    fn take_budget(
        &self,
        request: BudgetRequest,
    ) -> BoxFuture<'_, Result<BudgetDecision, FleetError>> {
        let name = format!("{}{}", self.0.keys.budget, request.project_id);
        async move {
            let (granted, wait_ms): (i64, i64) = self
                .0
                .command(move |mut conn| {
                    async move {
                        scripts::BUDGET
                            .key(name)
                            .arg(request.now_ms)
                            .arg(request.rate_per_sec)
                            .arg(request.burst)
                            .arg(if request.standing == Standing::Proven {
                                "1"
                            } else {
                                "0"
                            })
                            .invoke_async(&mut conn)
                            .await
                    }
                    .boxed()
                })
                .await?;
            Ok(if granted == 1 {
                BudgetDecision::Granted
            } else {
                BudgetDecision::Refused {
                    retry_in: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(1).max(1)),
                }
            })
        }
        .boxed()
    }
}

//! What every handle of one [`RedisFleet`](crate::RedisFleet) shares: the Redis
//! connections, the key names, the attached validators' mirrors and the revocations
//! waiting to be published. The fleet's handles and its background worker both use it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;
use stytch_validator::fleet::{FleetError, FleetMirror, Revocation};
use tokio::sync::Notify;

use crate::scripts;

pub(crate) struct Keys {
    pub(crate) prefix: String,
    pub(crate) revoked: String,
    pub(crate) channel: String,
    pub(crate) answer: String,
    pub(crate) budget: String,
}

pub(crate) struct Shared {
    pub(crate) keys: Keys,
    pub(crate) client: redis::Client,
    pub(crate) commands: ConnectionManager,
    pub(crate) timeout: Duration,
    /// Subscribed and synchronised; commands are tried only then.
    pub(crate) up: AtomicBool,
    /// After a command failed or timed out, commands fail fast until then (millis since
    /// `epoch`), so that a hung Redis costs one timeout, not one per request.
    pub(crate) suspect_until: AtomicU64,
    pub(crate) epoch: Instant,
    pub(crate) mirrors: Mutex<Vec<FleetMirror>>,
    /// Revocations not yet confirmed published: id → until.
    pub(crate) pending: Mutex<HashMap<String, i64>>,
    pub(crate) wake: Arc<Notify>,
    /// A validator attached since the last download of the shared set.
    pub(crate) new_mirrors: AtomicBool,
    pub(crate) stop: Arc<Notify>,
    pub(crate) reconnect: (Duration, Duration),
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}

/// How long commands fail fast after one failed.
const SUSPECT_FOR: Duration = Duration::from_millis(500);

impl Shared {
    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs a command within the timeout, failing fast while Redis is away.
    pub(crate) async fn command<T: redis::FromRedisValue>(
        &self,
        build: impl FnOnce(ConnectionManager) -> BoxFuture<'static, redis::RedisResult<T>>,
    ) -> Result<T, FleetError> {
        if !self.up.load(Ordering::Acquire) {
            return Err(FleetError::new("not connected to Redis"));
        }
        if self.elapsed_ms() < self.suspect_until.load(Ordering::Relaxed) {
            return Err(FleetError::new("Redis did not answer lately"));
        }
        // A little under the validator's own limit, so that this side notices.
        let limit = self.timeout.mul_f32(0.9);
        match tokio::time::timeout(limit, build(self.commands.clone())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    self.suspect();
                }
                Err(FleetError::new(format!("Redis: {:?}", e.kind())))
            }
            Err(_) => {
                self.suspect();
                Err(FleetError::new(format!(
                    "Redis did not answer within {} ms",
                    limit.as_millis()
                )))
            }
        }
    }

    fn suspect(&self) {
        let until = self
            .elapsed_ms()
            .saturating_add(SUSPECT_FOR.as_millis() as u64);
        self.suspect_until.store(until, Ordering::Relaxed);
    }

    pub(crate) fn clear_suspicion(&self) {
        self.suspect_until.store(0, Ordering::Relaxed);
    }

    /// Now on the validators' clock (the first attached one), else the system's.
    pub(crate) fn now_ms(&self) -> i64 {
        let mirrors = self.mirrors.lock().unwrap_or_else(PoisonError::into_inner);
        match mirrors.iter().find(|m| m.is_attached()) {
            Some(m) => m.now_millis(),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        }
    }

    /// Hands revocations to every attached validator; forgets the dropped ones.
    pub(crate) fn deliver(&self, revocations: &[Revocation]) {
        let mut mirrors = self.mirrors.lock().unwrap_or_else(PoisonError::into_inner);
        mirrors.retain(|mirror| revocations.iter().all(|r| mirror.insert(r)));
    }

    /// Adds revocations to the shared set, publishing those flagged, in one script call
    /// per batch.
    pub(crate) async fn upload(&self, entries: &[(Revocation, bool)]) -> redis::RedisResult<()> {
        let now = self.now_ms();
        for chunk in entries.chunks(500) {
            let mut invocation = scripts::REVOKE.key(&self.keys.revoked);
            invocation.arg(&self.keys.channel).arg(now);
            for (r, publish) in chunk {
                invocation
                    .arg(&r.session_id)
                    .arg(r.until_ms)
                    .arg(if *publish { "1" } else { "0" });
            }
            let mut conn = self.commands.clone();
            let _: i64 = invocation.invoke_async(&mut conn).await?;
        }
        Ok(())
    }

    /// The revocations in force in the shared set.
    pub(crate) async fn download(&self) -> redis::RedisResult<Vec<Revocation>> {
        let now = self.now_ms();
        let mut conn = self.commands.clone();
        let entries: Vec<(String, f64)> = redis::cmd("ZRANGEBYSCORE")
            .arg(&self.keys.revoked)
            .arg(format!("({now}"))
            .arg("+inf")
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await?;
        Ok(entries
            .into_iter()
            .map(|(session_id, until)| Revocation {
                session_id,
                until_ms: until as i64,
            })
            .collect())
    }

    /// Publishes the pending revocations; keeps them when Redis does not take them.
    pub(crate) async fn flush_pending(&self) -> redis::RedisResult<()> {
        let batch: Vec<(Revocation, bool)> = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, until)| {
                (
                    Revocation {
                        session_id: id.clone(),
                        until_ms: *until,
                    },
                    true,
                )
            })
            .collect();
        if batch.is_empty() {
            return Ok(());
        }
        self.upload(&batch).await?;
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        for (r, _) in &batch {
            if pending.get(&r.session_id).is_some_and(|u| *u <= r.until_ms) {
                pending.remove(&r.session_id);
            }
        }
        tracing::debug!(revocations = batch.len(), "stytch.redis.published");
        Ok(())
    }
}

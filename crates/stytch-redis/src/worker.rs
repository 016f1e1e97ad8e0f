//! The background task of a [`RedisFleet`](crate::RedisFleet): subscribes to the
//! revocation channel, synchronises the local mirrors with the shared set, publishes
//! pending revocations, and reconnects with backoff when Redis goes away.
//!
//! One connected session: subscribe first (so nothing published meanwhile is missed),
//! then upload what this instance knows (its mirrors' live revocations, which re-seeds
//! a Redis that restarted empty, and the pending ones, published), then download the
//! shared set into the mirrors; only then are commands tried again. Messages then feed
//! the mirrors until the subscription ends.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, Weak};
use std::time::Duration;

use futures_util::StreamExt as _;
use stytch_validator::fleet::Revocation;

use crate::shared::Shared;

/// How often pending revocations are retried while connected.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

pub(crate) fn spawn(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    let stop = Arc::clone(&shared.stop);
    let (min, max) = shared.reconnect;
    tokio::spawn(async move {
        let mut delay = min;
        let mut ever_connected = false;
        let mut reported_down = false;
        loop {
            let ended = tokio::select! {
                ended = session(&weak, &mut ever_connected, &mut reported_down) => ended,
                () = stop.notified() => return,
            };
            match ended {
                Ended::Stopped => return,
                Ended::Lost { was_up, error } => {
                    if let Some(shared) = weak.upgrade() {
                        shared.up.store(false, Ordering::Release);
                    } else {
                        return;
                    }
                    if was_up {
                        delay = min;
                    }
                    if !reported_down {
                        reported_down = true;
                        tracing::warn!(%error, "stytch.redis.disconnected");
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stop.notified() => return,
            }
            delay = (delay * 2).min(max);
        }
    });
}

enum Ended {
    Stopped,
    Lost { was_up: bool, error: String },
}

fn lost(was_up: bool, error: impl std::fmt::Display) -> Ended {
    Ended::Lost {
        was_up,
        error: error.to_string(),
    }
}

/// Runs one connected session until Redis goes away or the fleet is dropped.
async fn session(
    weak: &Weak<Shared>,
    ever_connected: &mut bool,
    reported_down: &mut bool,
) -> Ended {
    let Some(shared) = weak.upgrade() else {
        return Ended::Stopped;
    };
    let connect = tokio::time::timeout(Duration::from_secs(1), shared.client.get_async_pubsub());
    let mut pubsub = match connect.await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return lost(false, format!("{:?}", e.kind())),
        Err(_) => return lost(false, "connect timed out"),
    };
    if let Err(e) = pubsub.subscribe(&shared.keys.channel).await {
        return lost(false, format!("{:?}", e.kind()));
    }
    shared.clear_suspicion();
    // Commands go through the connection manager, which reconnects on its own.
    if let Err(e) = synchronise(&shared).await {
        return lost(false, format!("{:?}", e.kind()));
    }
    shared.up.store(true, Ordering::Release);
    let wake_up = Arc::clone(&shared.wake);
    if *ever_connected {
        tracing::info!("stytch.redis.reconnected");
    } else {
        tracing::info!(key_prefix = %shared.keys.prefix, "stytch.redis.connected");
    }
    *ever_connected = true;
    *reported_down = false;
    drop(shared);

    let mut messages = pubsub.into_on_message();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if weak.strong_count() == 0 {
            return Ended::Stopped;
        }
        let wake = wake_up.notified();
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else {
                    return lost(true, "subscription closed");
                };
                let Some(shared) = weak.upgrade() else {
                    return Ended::Stopped;
                };
                let payload: Option<String> = message.get_payload().ok();
                match payload.as_deref().and_then(parse) {
                    Some(revocation) => shared.deliver(&[revocation]),
                    None => tracing::warn!("stytch.redis.malformed_message"),
                }
            }
            () = wake => {
                let Some(shared) = weak.upgrade() else {
                    return Ended::Stopped;
                };
                // Publish what was revoked here; hand the set to new validators.
                if let Err(e) = shared.flush_pending().await {
                    return lost(true, format!("{:?}", e.kind()));
                }
                if shared.new_mirrors.swap(false, Ordering::AcqRel)
                    && let Err(e) = deliver_to_all(&shared).await
                {
                    return lost(true, format!("{:?}", e.kind()));
                }
            }
            _ = tick.tick() => {
                let Some(shared) = weak.upgrade() else {
                    return Ended::Stopped;
                };
                if let Err(e) = shared.flush_pending().await {
                    return lost(true, format!("{:?}", e.kind()));
                }
            }
        }
    }
}

/// Uploads what this instance knows, then downloads the shared set.
async fn synchronise(shared: &Shared) -> redis::RedisResult<()> {
    let known: Vec<(Revocation, bool)> = {
        let mirrors = shared
            .mirrors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let pending = shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut known: Vec<(Revocation, bool)> = mirrors
            .iter()
            .filter_map(|m| m.live())
            .flatten()
            .filter(|r| !pending.contains_key(&r.session_id))
            .map(|r| (r, false))
            .collect();
        known.sort_by(|a, b| a.0.session_id.cmp(&b.0.session_id));
        known.dedup_by(|a, b| a.0.session_id == b.0.session_id);
        known
    };
    shared.upload(&known).await?;
    shared.flush_pending().await?;
    deliver_to_all(shared).await
}

async fn deliver_to_all(shared: &Shared) -> redis::RedisResult<()> {
    let set = shared.download().await?;
    tracing::debug!(revocations = set.len(), "stytch.redis.synchronised");
    shared.deliver(&set);
    Ok(())
}

/// `"<until_ms> <session_id>"`.
fn parse(payload: &str) -> Option<Revocation> {
    let (until, id) = payload.split_once(' ')?;
    let revocation = Revocation {
        session_id: id.to_owned(),
        until_ms: until.parse().ok()?,
    };
    revocation.is_well_formed().then_some(revocation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_parse_and_bad_ones_are_refused() {
        let r = parse("1700000000000 session-test-1").unwrap();
        assert_eq!(
            (r.until_ms, r.session_id.as_str()),
            (1_700_000_000_000, "session-test-1")
        );
        for bad in ["", "x session", "12", "12 ", "12 a b", "12 \u{7f}"] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}

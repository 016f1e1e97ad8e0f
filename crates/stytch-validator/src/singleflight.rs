//! One upstream call per key at a time, shared by every concurrent caller.
//!
//! The work runs in its own task, so a caller that gives up (a client disconnecting)
//! never cancels it for the others, and a panic in it reaches the waiters as `None`
//! instead of leaving a stuck "in flight" entry. The map lock is a plain mutex held
//! only to look up or insert, never across an `.await`.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

type Flight<V> = Shared<BoxFuture<'static, Option<V>>>;

pub(crate) struct SingleFlight<K, V> {
    flights: Arc<Mutex<HashMap<K, Flight<V>>>>,
}

impl<K, V> std::fmt::Debug for SingleFlight<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight").finish_non_exhaustive()
    }
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            flights: Arc::default(),
        }
    }
}

/// Removes the entry when the task ends, however it ends.
struct Landing<K: Hash + Eq, V> {
    flights: Arc<Mutex<HashMap<K, Flight<V>>>>,
    key: Option<K>,
}

impl<K: Hash + Eq, V> Drop for Landing<K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.flights
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
        }
    }
}

impl<K, V> SingleFlight<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Joins the flight for `key`, or starts one with `work()`. Returns `None` if the
    /// work panicked. `started` reports whether this call started it.
    pub(crate) fn run<F>(&self, key: K, work: impl FnOnce() -> F) -> (Flight<V>, bool)
    where
        F: Future<Output = V> + Send + 'static,
    {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(flight) = flights.get(&key) {
            return (flight.clone(), false);
        }
        let landing = Landing {
            flights: Arc::clone(&self.flights),
            key: Some(key.clone()),
        };
        let work = work();
        let task = tokio::spawn(async move {
            let _landing = landing;
            work.await
        });
        let flight = async move { task.await.ok() }.boxed().shared();
        flights.insert(key, flight.clone());
        (flight, true)
    }

    /// Whether a flight for `key` is under way.
    pub(crate) fn in_flight(&self, key: &K) -> bool {
        self.flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_call() {
        let sf = SingleFlight::<&'static str, usize>::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let mut waiters = Vec::new();
        for _ in 0..50 {
            let calls = Arc::clone(&calls);
            let (flight, _) = sf.run("k", move || async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                calls.fetch_add(1, Ordering::SeqCst) + 1
            });
            waiters.push(flight);
        }
        for w in waiters {
            assert_eq!(w.await, Some(1));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(!sf.in_flight(&"k"));
    }

    #[tokio::test]
    async fn a_panicking_flight_reports_none_and_clears_itself() {
        let sf = SingleFlight::<u8, u8>::default();
        let (flight, started) = sf.run(1, || async { panic!("boom") });
        assert!(started);
        assert_eq!(flight.await, None);
        let (flight, started) = sf.run(1, || async { 7 });
        assert!(started);
        assert_eq!(flight.await, Some(7));
    }

    #[tokio::test]
    async fn an_abandoned_leader_does_not_cancel_the_work() {
        let sf = SingleFlight::<u8, u8>::default();
        let (leader, _) = sf.run(1, || async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            9
        });
        let (follower, started) = sf.run(1, || async { 0 });
        assert!(!started);
        drop(leader);
        assert_eq!(follower.await, Some(9));
    }
}

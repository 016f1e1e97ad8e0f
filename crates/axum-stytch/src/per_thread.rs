//! Per-thread replicas of what every request reads (the layer's settings, a route
//! guard's check). axum clones a route's service for every request; if the clone
//! bumped one shared reference count, every core would write the same cache line on
//! every request. A [`PerThread`] clone instead takes the calling thread's own copy,
//! made once on that thread, whose count only that thread writes.

use std::any::Any;
use std::cell::RefCell;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// A value shared by every request, cloned as this thread's replica of it.
pub(crate) struct PerThread<T> {
    /// Tells these contents from any other: a replica keeps it, a change gets a new one.
    id: u64,
    value: Arc<T>,
}

/// How many values a thread keeps replicas of. An application has a layer or two and a
/// few guards; past this, clones share the original's count as plain `Arc`s do.
const CAPACITY: usize = 16;

struct Replica {
    id: u64,
    here: Arc<dyn Any + Send + Sync>,
    /// What the replica was made from: when it is gone, so is the layer or guard.
    from: Weak<dyn Any + Send + Sync>,
}

thread_local! {
    static REPLICAS: RefCell<Vec<Replica>> = const { RefCell::new(Vec::new()) };
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl<T: Clone + Send + Sync + 'static> PerThread<T> {
    pub(crate) fn new(value: T) -> Self {
        Self::from_arc(Arc::new(value))
    }

    pub(crate) fn from_arc(value: Arc<T>) -> Self {
        Self {
            id: next_id(),
            value,
        }
    }

    /// For a builder about to change the value: a copy if it is shared, and in any case
    /// a new id, so that no thread's replica of the old value is taken for the new one.
    pub(crate) fn make_mut(&mut self) -> &mut T {
        self.id = next_id();
        Arc::make_mut(&mut self.value)
    }

    /// Another handle to the same allocation, without looking for this thread's
    /// replica: for a handle that already is one (a service axum just cloned for this
    /// request shares its replica with the request's session and response).
    pub(crate) fn share(&self) -> Self {
        Self {
            id: self.id,
            value: Arc::clone(&self.value),
        }
    }

    /// This thread's replica, made now if this thread has none and has room.
    fn here(&self) -> Self {
        let found = REPLICAS.try_with(|table| {
            let mut table = table.try_borrow_mut().ok()?;
            if let Some(replica) = table.iter().find(|r| r.id == self.id) {
                return Arc::clone(&replica.here).downcast::<T>().ok();
            }
            // Replicas of dropped values go first: they would keep the value (a layer's
            // validator and its caches) alive on this thread for nothing.
            table.retain(|r| r.from.strong_count() > 0);
            if table.len() >= CAPACITY {
                return None;
            }
            let here = Arc::new(T::clone(&self.value));
            let from: Weak<dyn Any + Send + Sync> = Arc::downgrade(&self.value) as Weak<T>;
            table.push(Replica {
                id: self.id,
                here: Arc::clone(&here) as Arc<dyn Any + Send + Sync>,
                from,
            });
            Some(here)
        });
        Self {
            id: self.id,
            value: found
                .ok()
                .flatten()
                .unwrap_or_else(|| Arc::clone(&self.value)),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Clone for PerThread<T> {
    fn clone(&self) -> Self {
        self.here()
    }
}

impl<T> Deref for PerThread<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, Debug)]
    struct Settings(u32);

    #[test]
    fn a_clone_is_this_threads_replica_made_once() {
        let origin = PerThread::new(Settings(1));
        let a = origin.clone();
        let b = origin.clone();
        // One replica on this thread, not the original allocation.
        assert!(Arc::ptr_eq(&a.value, &b.value));
        assert!(!Arc::ptr_eq(&a.value, &origin.value));
        assert_eq!(*a, Settings(1));
        // Cloning the replica finds it again.
        assert!(Arc::ptr_eq(&a.clone().value, &a.value));
        // Another thread gets its own.
        let other = std::thread::scope(|s| s.spawn(|| origin.clone()).join().expect("joins"));
        assert!(!Arc::ptr_eq(&other.value, &a.value));
        assert_eq!(*other, Settings(1));
    }

    #[test]
    fn a_changed_value_is_never_served_from_an_old_replica() {
        let mut origin = PerThread::new(Settings(1));
        let old = origin.clone();
        drop(old);
        origin.make_mut().0 = 2;
        assert_eq!(*origin.clone(), Settings(2));
    }

    #[test]
    fn a_dropped_values_replica_goes_when_the_thread_makes_another() {
        let first = PerThread::new(Settings(1));
        let replica = Arc::downgrade(&first.clone().value);
        drop(first);
        assert!(replica.upgrade().is_some(), "held by the table until then");
        let second = PerThread::new(Settings(2));
        assert_eq!(*second.clone(), Settings(2));
        assert!(replica.upgrade().is_none(), "let go with the next replica");
    }

    #[test]
    fn past_capacity_clones_share_the_original() {
        let values: Vec<_> = (0..CAPACITY as u32 + 4)
            .map(|n| PerThread::new(Settings(n)))
            .collect();
        let clones: Vec<_> = values.iter().map(Clone::clone).collect();
        let last = values.last().expect("values");
        assert!(Arc::ptr_eq(
            &clones.last().expect("clones").value,
            &last.value
        ));
        assert!(!Arc::ptr_eq(&clones[0].value, &values[0].value));
        // Once values are dropped, their slots are reused.
        drop(clones);
        drop(values);
        let fresh = PerThread::new(Settings(99));
        assert!(!Arc::ptr_eq(&fresh.clone().value, &fresh.value));
    }
}

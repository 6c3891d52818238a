//! Lock-free hand-over of immutable snapshots from the control core to one data core, for small
//! tables that change rarely (neighbours). The data core picks up the newest snapshot at its
//! quiescent point and sends the one it replaces back, so memory is only ever freed by the
//! control core and a data core never locks, allocates or frees.

use std::sync::Arc;

use crossbeam::queue::ArrayQueue;

const DEPTH: usize = 8;

/// The control core's end.
#[derive(Debug)]
pub struct Publisher<T> {
    fresh: Arc<ArrayQueue<Arc<T>>>,
    retired: Arc<ArrayQueue<Arc<T>>>,
}

/// The data core's end.
#[derive(Debug)]
pub struct Subscriber<T> {
    fresh: Arc<ArrayQueue<Arc<T>>>,
    retired: Arc<ArrayQueue<Arc<T>>>,
}

/// A connected pair.
pub fn mailbox<T>() -> (Publisher<T>, Subscriber<T>) {
    let fresh = Arc::new(ArrayQueue::new(DEPTH));
    let retired = Arc::new(ArrayQueue::new(DEPTH * 2));
    (
        Publisher {
            fresh: fresh.clone(),
            retired: retired.clone(),
        },
        Subscriber { fresh, retired },
    )
}

impl<T> Publisher<T> {
    /// Offers a new snapshot (the oldest unread one is dropped here if the box is full).
    pub fn publish(&self, snapshot: Arc<T>) {
        self.collect();
        if let Err(snapshot) = self.fresh.push(snapshot) {
            drop(self.fresh.pop());
            let _ = self.fresh.push(snapshot);
        }
    }

    /// Frees the snapshots the data core has replaced.
    pub fn collect(&self) {
        while self.retired.pop().is_some() {}
    }
}

impl<T> Subscriber<T> {
    /// Replaces `current` with the newest published snapshot, if any; true when it changed.
    #[inline]
    pub fn refresh(&self, current: &mut Arc<T>) -> bool {
        let Some(mut newest) = self.fresh.pop() else {
            return false;
        };
        while let Some(newer) = self.fresh.pop() {
            if let Err(old) = self.retired.push(std::mem::replace(&mut newest, newer)) {
                drop(old);
            }
        }
        let old = std::mem::replace(current, newest);
        if let Err(old) = self.retired.push(old) {
            drop(old);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_snapshot_wins_and_old_ones_go_back() {
        let (publisher, subscriber) = mailbox();
        let mut current = Arc::new(0);
        assert!(!subscriber.refresh(&mut current));
        publisher.publish(Arc::new(1));
        publisher.publish(Arc::new(2));
        assert!(subscriber.refresh(&mut current));
        assert_eq!(*current, 2);
        assert_eq!(
            subscriber.retired.len(),
            2,
            "0 and 1 went back to the control core"
        );
        publisher.collect();
        assert!(subscriber.retired.is_empty());
        for i in 3..30 {
            publisher.publish(Arc::new(i));
        }
        subscriber.refresh(&mut current);
        assert_eq!(*current, 29, "a full box keeps the newest");
    }
}

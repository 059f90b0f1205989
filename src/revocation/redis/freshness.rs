//! When the local view was last known to be current, judged by the reader.
//!
//! The background task records the moment it last heard from Redis (a
//! published change, or the answer to a `PING` on the subscription's own
//! connection, which arrives after every change published before it); the
//! access path compares that moment with the staleness bound itself. A
//! background task starved of CPU, or stuck on a frozen Redis, therefore
//! cannot leave a silent view vouched for: the bound passes on the reader's
//! clock whether or not anyone flips a flag.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// No load has completed yet.
const NEVER: u64 = u64::MAX;

pub(super) struct Freshness {
    epoch: Instant,
    /// Microseconds from `epoch` to the last time the view was known
    /// current, or [`NEVER`].
    last_heard: AtomicU64,
    bound_micros: u64,
}

impl Freshness {
    /// A view not loaded yet, which may go `bound` without hearing from Redis.
    pub(super) fn new(bound: Duration) -> Self {
        Self {
            epoch: Instant::now(),
            last_heard: AtomicU64::new(NEVER),
            bound_micros: u64::try_from(bound.as_micros()).unwrap_or(u64::MAX),
        }
    }

    /// The view was known current at `at`. Never moves backwards.
    pub(super) fn heard_at(&self, at: Instant) {
        let micros = u64::try_from(at.saturating_duration_since(self.epoch).as_micros())
            .unwrap_or(NEVER - 1);
        let current = self.last_heard.load(Ordering::Acquire);
        if current == NEVER || micros > current {
            // One writer (the background task): a plain store cannot race.
            self.last_heard.store(micros, Ordering::Release);
            crate::metrics::redis_view_heard(at);
        }
    }

    /// When the view was last known current, if ever.
    pub(super) fn last_heard(&self) -> Option<Instant> {
        match self.last_heard.load(Ordering::Acquire) {
            NEVER => None,
            micros => Some(self.epoch + Duration::from_micros(micros)),
        }
    }

    /// Whether the view may still be vouched for now: loaded, and heard from
    /// within the bound. One clock read and one atomic load (the access
    /// path's cost of judging by itself: a few tens of nanoseconds).
    pub(super) fn is_current(&self) -> bool {
        match self.last_heard.load(Ordering::Acquire) {
            NEVER => false,
            micros => {
                let now = self.epoch.elapsed();
                let now = now.as_secs() * 1_000_000 + u64::from(now.subsec_micros());
                now.saturating_sub(micros) <= self.bound_micros
            }
        }
    }

    /// Whether the bound has passed since the view was last known current.
    pub(super) fn expired(&self) -> bool {
        !self.is_current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No bound a preempted test could overrun between two statements.
    const NEVER_OVERRUN: Duration = Duration::from_secs(3600);

    #[test]
    fn the_view_is_current_only_after_it_was_heard() {
        let freshness = Freshness::new(NEVER_OVERRUN);
        assert!(!freshness.is_current(), "never loaded");
        assert!(freshness.expired());
        assert_eq!(freshness.last_heard(), None);

        let heard = Instant::now();
        freshness.heard_at(heard);
        assert!(freshness.is_current());
        let first = freshness.last_heard().expect("heard");
        assert!(first <= heard && heard - first < Duration::from_millis(1));

        freshness.heard_at(heard - Duration::from_millis(5));
        assert_eq!(freshness.last_heard(), Some(first), "never moves back");
        let later = heard + Duration::from_millis(5);
        freshness.heard_at(later);
        assert!(freshness.last_heard().expect("heard") > first, "moves on");
    }

    #[test]
    fn nobody_marks_the_view_stale_the_readers_clock_does() {
        let bound = Duration::from_millis(20);
        let freshness = Freshness::new(bound);
        let heard = Instant::now();
        freshness.heard_at(heard);
        // Current until the bound passes (maybe already, on a preempted
        // machine: the loop then ends at once), then stale for good.
        while freshness.is_current() {
            assert!(heard.elapsed() < Duration::from_secs(10), "never expired");
            std::thread::yield_now();
        }
        assert!(heard.elapsed() >= bound, "stale before the bound passed");
        assert!(freshness.expired());

        freshness.heard_at(heard);
        assert!(
            !freshness.is_current(),
            "an older moment never moves it back"
        );
    }
}

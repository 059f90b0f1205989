//! Time, behind a trait so tests can control it.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time, in microseconds since the Unix epoch.
///
/// Token lifetimes are checked in whole seconds (JWT `NumericDate`); the
/// microseconds order token issuance against a subject's revocation cutoff.
pub trait Clock: Debug + Send + Sync + 'static {
    /// Microseconds since the Unix epoch.
    fn now_micros(&self) -> u64;

    /// Whole seconds since the Unix epoch.
    fn now_secs(&self) -> u64 {
        self.now_micros() / 1_000_000
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use tower_jwt_auth::{Clock, ManualClock};
/// let clock = ManualClock::at_secs(1_700_000_000);
/// clock.advance_secs(60);
/// assert_eq!(clock.now_secs(), 1_700_000_060);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    micros: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock set to `secs` seconds after the epoch.
    pub fn at_secs(secs: u64) -> Self {
        Self {
            micros: Arc::new(AtomicU64::new(secs * 1_000_000)),
        }
    }

    /// Sets the time to `secs` seconds after the epoch.
    pub fn set_secs(&self, secs: u64) {
        self.micros.store(secs * 1_000_000, Ordering::SeqCst);
    }

    /// Moves the time forward by `secs` seconds.
    pub fn advance_secs(&self, secs: u64) {
        self.micros.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> u64 {
        self.micros.load(Ordering::SeqCst)
    }
}

/// Hands out strictly increasing microsecond stamps, never behind the clock.
///
/// Two tokens minted in the same microsecond (or a token and a
/// "logout everywhere" cutoff) still get distinct, ordered stamps, so a
/// cutoff taken at stamp `c` revokes exactly the tokens stamped before `c`.
#[derive(Debug, Default)]
pub(crate) struct StampSource {
    last: AtomicU64,
}

impl StampSource {
    /// A source that continues after every stamp this one handed out.
    pub(crate) fn fork(&self) -> Self {
        Self {
            last: AtomicU64::new(self.last.load(Ordering::Acquire)),
        }
    }

    pub(crate) fn next(&self, clock: &dyn Clock) -> u64 {
        let now = clock.now_micros();
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let stamp = now.max(last + 1);
            match self
                .last
                .compare_exchange_weak(last, stamp, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return stamp,
                Err(seen) => last = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_strictly_increase_on_a_frozen_clock() {
        let clock = ManualClock::at_secs(10);
        let stamps = StampSource::default();
        let a = stamps.next(&clock);
        let b = stamps.next(&clock);
        assert_eq!(a, 10_000_000);
        assert!(b > a);
    }

    #[test]
    fn stamps_follow_the_clock_forward() {
        let clock = ManualClock::at_secs(10);
        let stamps = StampSource::default();
        stamps.next(&clock);
        clock.advance_secs(5);
        assert_eq!(stamps.next(&clock), 15_000_000);
    }
}

//! The budget of failed client authentications at `IntrospectionService`:
//! token buckets per caller (its address, when the application says how to
//! read it) or one shared bucket, so guessing client secrets is slow and
//! cheap to refuse.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::Extensions;

/// Default failed authentications allowed at once per caller.
pub const DEFAULT_FAILURE_BURST: u32 = 10;

/// Default time in which one more failed authentication is allowed.
pub const DEFAULT_FAILURE_INTERVAL: Duration = Duration::from_secs(1);

/// Callers remembered at most; when full, refilled budgets are forgotten
/// first, then all callers share the overflow bucket.
const MAX_CALLERS: usize = 4096;

/// Reads the caller's address from a request's extensions (for axum:
/// `ConnectInfo<SocketAddr>`).
pub(crate) type CallerAddress = fn(&Extensions) -> Option<IpAddr>;

/// Whom a budget belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Caller {
    /// IPv4 address, or the /64 network of an IPv6 one (one host holds a
    /// whole /64).
    Address(IpAddr),
    /// No address known, or the table is full.
    Everyone,
}

impl Caller {
    fn of(address: Option<IpAddr>) -> Self {
        match address {
            Some(IpAddr::V6(v6)) => {
                let network = u128::from(v6) & !((1_u128 << 64) - 1);
                Self::Address(IpAddr::V6(network.into()))
            }
            Some(v4) => Self::Address(v4),
            None => Self::Everyone,
        }
    }
}

/// One bucket: `tokens` failures left as of `at`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Failed authentications per caller: `burst` at once, then one more every
/// `interval`.
#[derive(Debug)]
pub(crate) struct FailureLimit {
    burst: u32,
    interval: Duration,
    buckets: Mutex<HashMap<Caller, Bucket>>,
}

impl Clone for FailureLimit {
    fn clone(&self) -> Self {
        Self::new(self.burst, self.interval)
    }
}

impl FailureLimit {
    pub(crate) fn new(burst: u32, interval: Duration) -> Self {
        Self {
            burst: burst.max(1),
            interval: interval.max(Duration::from_millis(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed / self.interval.as_secs_f64()).min(f64::from(self.burst))
    }

    /// `Some(wait)` when `address` has no failure left: every request from
    /// it is refused for `wait` (the right secret too, or the limit would
    /// only hide which guess was right).
    pub(crate) fn exhausted(&self, address: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let caller = Caller::of(address);
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.get(&caller).or_else(|| {
            buckets
                .get(&Caller::Everyone)
                .filter(|_| buckets.len() >= MAX_CALLERS)
        })?;
        let tokens = self.refilled(*bucket, now);
        (tokens < 1.0).then(|| self.interval.mul_f64(1.0 - tokens))
    }

    /// Spends one failure of `address`'s budget.
    pub(crate) fn failed(&self, address: Option<IpAddr>, now: Instant) {
        let mut caller = Caller::of(address);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(&caller) && buckets.len() >= MAX_CALLERS {
            let full = f64::from(self.burst);
            buckets.retain(|_, bucket| self.refilled(*bucket, now) < full);
            if buckets.len() >= MAX_CALLERS {
                caller = Caller::Everyone;
            }
        }
        let fresh = Bucket {
            tokens: f64::from(self.burst),
            at: now,
        };
        let bucket = buckets.entry(caller).or_insert(fresh);
        bucket.tokens = (self.refilled(*bucket, now) - 1.0).max(0.0);
        bucket.at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    #[test]
    fn a_caller_gets_its_burst_then_one_per_interval() {
        let limit = FailureLimit::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limit.exhausted(A, t0), None);
            limit.failed(A, t0);
        }
        assert_eq!(limit.exhausted(A, t0), Some(Duration::from_secs(10)));
        // Another caller has its own budget; no address shares one.
        assert_eq!(limit.exhausted(B, t0), None);
        assert_eq!(limit.exhausted(None, t0), None);
        // Half an interval later, half a failure is back: 5 s to wait.
        let wait = limit.exhausted(A, t0 + Duration::from_secs(5)).unwrap();
        assert!(wait > Duration::from_secs(4) && wait <= Duration::from_secs(5));
        // A whole interval later, one more failure.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(limit.exhausted(A, t1), None);
        limit.failed(A, t1);
        assert!(limit.exhausted(A, t1).is_some());
    }

    #[test]
    fn ipv6_callers_count_per_64_network() {
        let limit = FailureLimit::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_net: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_net: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        limit.failed(Some(one), t0);
        assert!(limit.exhausted(Some(same_net), t0).is_some());
        assert!(limit.exhausted(Some(other_net), t0).is_none());
    }
}

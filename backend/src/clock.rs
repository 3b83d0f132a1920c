//! Where the backend's "now" comes from. Every rule that depends on time (token and session expiry,
//! the grace window, throttle windows, key activation and retirement) reads it from the [`Clock`] in
//! the state, so tests can move time forward instead of waiting for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Milliseconds since the Unix epoch: the one time unit stored and compared server-side.
pub type Millis = i64;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now(&self) -> Millis;
}

/// The handle the state carries.
pub type SharedClock = Arc<dyn Clock>;

/// A duration in [`Millis`], saturating rather than wrapping for absurd configured values.
pub(crate) fn millis(duration: std::time::Duration) -> Millis {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        millis(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default())
    }
}

/// A clock that stands still until told to move; clones share one time. For tests: expiry, grace
/// windows, throttle windows and key rotation without sleeping.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
}

impl ManualClock {
    /// Starts at the wall clock's present, so tokens it stamps look ordinary to outside verifiers.
    pub fn starting_now() -> Self {
        Self { now: Arc::new(AtomicI64::new(SystemClock.now())) }
    }

    /// Starts at `at` (Unix milliseconds): a database written at that time is opened as if just after.
    pub fn starting_at(at: Millis) -> Self {
        Self { now: Arc::new(AtomicI64::new(at)) }
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(millis(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_clones_share_it() {
        let clock = ManualClock::starting_now();
        let other = clock.clone();
        let start = clock.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), start);
        other.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), start + 90_000);
    }

    #[test]
    fn the_system_clock_is_the_wall_clock() {
        let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let now = u128::try_from(SystemClock.now()).unwrap();
        assert!(now >= before && now < before + 1000);
    }
}

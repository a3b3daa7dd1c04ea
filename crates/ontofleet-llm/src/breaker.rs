//! The circuit breaker of one endpoint: after `threshold` consecutive failed calls it opens
//! for `cooldown`, during which calls fail at once without touching the network, so a fleet
//! stops hammering a dead or misconfigured endpoint. After the cool-down one call is let
//! through (half-open): its success closes the breaker, its failure opens it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why the breaker opened: decides what a refused call reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trip {
    /// The endpoint failed transiently (timeouts, 5xx, 429): refused calls are recoverable.
    Unavailable,
    /// The endpoint refused the key, quota or model: refused calls are data (rules fallback).
    Misconfigured,
}

#[derive(Debug)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    trip: Trip,
    probing: bool,
}

/// One endpoint's breaker.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

/// A refused call: why, and how long until a call is let through again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    /// What opened the breaker.
    pub trip: Trip,
    /// Time until the half-open probe.
    pub remaining: Duration,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State {
                failures: 0,
                open_until: None,
                trip: Trip::Unavailable,
                probing: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves only counters behind: keep using them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a call go out now? `Err` while open (or while the half-open probe is in flight).
    pub fn admit(&self) -> Result<(), Open> {
        let mut s = self.lock();
        let Some(until) = s.open_until else {
            return Ok(());
        };
        let now = Instant::now();
        if now < until || s.probing {
            return Err(Open {
                trip: s.trip,
                remaining: until
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1)),
            });
        }
        s.probing = true;
        Ok(())
    }

    /// A call succeeded (the endpoint answered, even if the answer was unusable).
    pub fn success(&self) {
        let mut s = self.lock();
        s.failures = 0;
        s.open_until = None;
        s.probing = false;
    }

    /// A call failed in a way that says the endpoint is down or refuses us.
    pub fn failure(&self, trip: Trip) {
        let mut s = self.lock();
        s.failures = s.failures.saturating_add(1);
        if s.probing || s.failures >= self.threshold {
            if s.open_until.is_none() || s.probing {
                tracing::error!(
                    failures = s.failures,
                    cooldown_secs = self.cooldown.as_secs(),
                    ?trip,
                    "classifier endpoint failing: circuit breaker open"
                );
            }
            s.open_until = Some(Instant::now() + self.cooldown);
            s.trip = trip;
            s.probing = false;
        }
    }

    /// Whether calls are being refused now (the `ontofleet_classifier_breaker_open` gauge).
    pub fn is_open(&self) -> bool {
        let s = self.lock();
        s.open_until.is_some_and(|u| Instant::now() < u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_probes_after_cooldown() {
        let b = Breaker::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            assert!(b.admit().is_ok());
            b.failure(Trip::Misconfigured);
        }
        assert!(!b.is_open());
        assert!(b.admit().is_ok());
        b.failure(Trip::Misconfigured);
        assert!(b.is_open());
        let open = b.admit().unwrap_err();
        assert_eq!(open.trip, Trip::Misconfigured);
        assert!(open.remaining >= Duration::from_secs(1), "rounded up");
        std::thread::sleep(Duration::from_millis(60));
        // Half-open: one probe, the others still refused.
        assert!(b.admit().is_ok());
        assert!(b.admit().is_err());
        b.failure(Trip::Unavailable);
        assert_eq!(b.admit().unwrap_err().trip, Trip::Unavailable);
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.admit().is_ok());
        b.success();
        assert!(!b.is_open());
        assert!(b.admit().is_ok() && b.admit().is_ok());
    }

    #[test]
    fn success_resets_the_count() {
        let b = Breaker::new(2, Duration::from_secs(60));
        b.failure(Trip::Unavailable);
        b.success();
        b.failure(Trip::Unavailable);
        assert!(!b.is_open());
        b.failure(Trip::Unavailable);
        assert!(b.is_open());
    }
}

//! The circuit breaker of one endpoint: after `threshold` consecutive failed calls it opens
//! for `cooldown`, during which calls fail at once without touching the network, so a fleet
//! stops hammering a dead or misconfigured endpoint. After the cool-down one call is let
//! through (half-open): its success closes the breaker, its failure opens it again. Every
//! admitted call holds an [`Admission`]; a probe dropped before it reports (the job's timeout,
//! a cancelled job, a call that never got its permit) gives the half-open slot back, so the
//! breaker can never stay open for the life of the process.

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

/// An admitted call. Report how it ended with [`Admission::success`] or
/// [`Admission::failure`]; dropped unreported (cancelled, timed out), it frees the half-open
/// probe it may hold and counts as nothing.
#[derive(Debug)]
#[must_use = "report the call's end, or drop it to abandon the call"]
pub struct Admission<'a> {
    breaker: &'a Breaker,
    probe: bool,
}

impl Admission<'_> {
    /// The call succeeded (the endpoint answered, even if the answer was unusable).
    pub fn success(mut self) {
        self.probe = false;
        self.breaker.succeeded();
    }

    /// The call failed in a way that says the endpoint is down or refuses us.
    pub fn failure(mut self, trip: Trip) {
        self.probe = false;
        self.breaker.failed(trip);
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if self.probe {
            self.breaker.abandoned();
        }
    }
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
    /// The call reports its end through the returned [`Admission`].
    pub fn admit(&self) -> Result<Admission<'_>, Open> {
        let mut s = self.lock();
        let Some(until) = s.open_until else {
            return Ok(Admission {
                breaker: self,
                probe: false,
            });
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
        Ok(Admission {
            breaker: self,
            probe: true,
        })
    }

    fn succeeded(&self) {
        let mut s = self.lock();
        s.failures = 0;
        s.open_until = None;
        s.probing = false;
    }

    fn failed(&self, trip: Trip) {
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

    /// A probe that ended without an answer either way: the next call may probe.
    fn abandoned(&self) {
        self.lock().probing = false;
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
            b.admit().unwrap().failure(Trip::Misconfigured);
        }
        assert!(!b.is_open());
        b.admit().unwrap().failure(Trip::Misconfigured);
        assert!(b.is_open());
        let open = b.admit().unwrap_err();
        assert_eq!(open.trip, Trip::Misconfigured);
        assert!(open.remaining >= Duration::from_secs(1), "rounded up");
        std::thread::sleep(Duration::from_millis(60));
        // Half-open: one probe, the others still refused.
        let probe = b.admit().unwrap();
        assert!(b.admit().is_err());
        probe.failure(Trip::Unavailable);
        assert_eq!(b.admit().unwrap_err().trip, Trip::Unavailable);
        std::thread::sleep(Duration::from_millis(60));
        b.admit().unwrap().success();
        assert!(!b.is_open());
        let (one, two) = (b.admit(), b.admit());
        assert!(one.is_ok() && two.is_ok());
    }

    #[test]
    fn success_resets_the_count() {
        let b = Breaker::new(2, Duration::from_secs(60));
        b.admit().unwrap().failure(Trip::Unavailable);
        b.admit().unwrap().success();
        b.admit().unwrap().failure(Trip::Unavailable);
        assert!(!b.is_open());
        b.admit().unwrap().failure(Trip::Unavailable);
        assert!(b.is_open());
    }

    #[test]
    fn a_dropped_probe_lets_the_next_call_probe() {
        let b = Breaker::new(1, Duration::from_millis(20));
        b.admit().unwrap().failure(Trip::Unavailable);
        std::thread::sleep(Duration::from_millis(30));
        let probe = b.admit().unwrap();
        assert!(b.admit().is_err(), "one probe at a time");
        drop(probe);
        assert!(b.admit().is_ok(), "an abandoned probe frees the slot");
        // An ordinary (closed-state) admission dropped unreported changes nothing.
        let b = Breaker::new(1, Duration::from_secs(60));
        drop(b.admit().unwrap());
        assert!(!b.is_open());
    }
}

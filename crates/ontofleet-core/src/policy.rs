//! Retry policy per error category and the pure [`decide`] function that turns a failure into
//! what happens next. The worker persists the decision (the job's `run_at`, the item state);
//! nothing here sleeps or touches a clock.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ErrorCategory;

/// Backoff parameters of one category. Delays are `base × factor^(attempt-1)`, capped at `cap`,
/// then spread by ±`jitter` (a fraction) so a fleet does not retry in lock-step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CategoryPolicy {
    /// Total executions allowed, including the first one.
    pub max_attempts: u32,
    /// Delay before the second attempt, in seconds.
    pub base_secs: f64,
    /// Multiplier per further attempt.
    pub factor: f64,
    /// Upper bound of the delay before jitter, in seconds.
    pub cap_secs: f64,
    /// Relative jitter, `0.2` = ±20 %.
    pub jitter: f64,
}

impl CategoryPolicy {
    /// The delay before attempt `attempt + 1`, given a jitter sample in `[-1, 1]`.
    pub fn delay(&self, attempt: u32, jitter_sample: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(64) as i32;
        let raw = (self.base_secs * self.factor.powi(exp))
            .min(self.cap_secs)
            .max(0.0);
        let spread = raw * self.jitter.clamp(0.0, 1.0) * jitter_sample.clamp(-1.0, 1.0);
        Duration::from_secs_f64((raw + spread).max(0.0))
    }
}

/// The whole policy, one entry per category. Loaded from configuration; [`RetryPolicies::SPEC`]
/// holds the defaults of SPEC §6.1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicies {
    /// Transient failures.
    pub recoverable: CategoryPolicy,
    /// Data failures: `max_attempts` counts the normal attempt plus fallback attempts.
    pub data: CategoryPolicy,
    /// Fatal failures: never retried; present so configuration stays uniform.
    pub fatal: CategoryPolicy,
}

impl RetryPolicies {
    /// SPEC §6.1: recoverable base 2 s, ×2, cap 300 s, ±20 %, 8 attempts; data one fallback
    /// attempt; fatal none.
    pub const SPEC: RetryPolicies = RetryPolicies {
        recoverable: CategoryPolicy {
            max_attempts: 8,
            base_secs: 2.0,
            factor: 2.0,
            cap_secs: 300.0,
            jitter: 0.2,
        },
        data: CategoryPolicy {
            max_attempts: 2,
            base_secs: 0.0,
            factor: 1.0,
            cap_secs: 0.0,
            jitter: 0.0,
        },
        fatal: CategoryPolicy {
            max_attempts: 1,
            base_secs: 0.0,
            factor: 1.0,
            cap_secs: 0.0,
            jitter: 0.0,
        },
    };

    /// The policy of one category.
    pub fn for_category(&self, category: ErrorCategory) -> &CategoryPolicy {
        match category {
            ErrorCategory::Recoverable => &self.recoverable,
            ErrorCategory::Data => &self.data,
            ErrorCategory::Fatal => &self.fatal,
        }
    }

    /// The largest number of executions any category allows; the queue row's `max_attempts`
    /// must be at least this so the queue never gives up before the policy does.
    pub fn max_attempts(&self) -> u32 {
        self.recoverable
            .max_attempts
            .max(self.data.max_attempts)
            .max(self.fatal.max_attempts)
            .max(1)
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Run again after `delay`; `fallback` asks for fallback mode (rules classifier, scope
    /// fallback templates, lenient parsing).
    Retry {
        /// How long the job must wait (persisted as the queue row's `run_at`).
        delay: Duration,
        /// Whether the next attempt runs in fallback mode.
        fallback: bool,
    },
    /// Give up; the item is `failed` and waits for an operator.
    Fail,
    /// Never retry; the item is `skipped`.
    Skip,
}

/// Decide what follows attempt number `attempt` (1-based) that failed with `category`.
/// `fallback_used` says whether that attempt already ran in fallback mode; `jitter_sample` is a
/// value in `[-1, 1]` supplied by the caller so that this function stays pure.
pub fn decide(
    policies: &RetryPolicies,
    category: ErrorCategory,
    attempt: u32,
    fallback_used: bool,
    jitter_sample: f64,
) -> Decision {
    let policy = policies.for_category(category);
    match category {
        ErrorCategory::Fatal => Decision::Skip,
        ErrorCategory::Recoverable => {
            if attempt < policy.max_attempts {
                Decision::Retry {
                    delay: policy.delay(attempt, jitter_sample),
                    fallback: fallback_used,
                }
            } else {
                Decision::Fail
            }
        }
        ErrorCategory::Data => {
            if attempt < policy.max_attempts {
                Decision::Retry {
                    delay: policy.delay(attempt, jitter_sample),
                    fallback: true,
                }
            } else {
                Decision::Fail
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RetryPolicies = RetryPolicies::SPEC;

    #[test]
    fn recoverable_backs_off_exponentially_until_max_attempts() {
        let delays: Vec<u64> = (1..8)
            .map(
                |a| match decide(&P, ErrorCategory::Recoverable, a, false, 0.0) {
                    Decision::Retry {
                        delay,
                        fallback: false,
                    } => delay.as_secs(),
                    other => panic!("attempt {a}: {other:?}"),
                },
            )
            .collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 32, 64, 128]);
        assert_eq!(
            decide(&P, ErrorCategory::Recoverable, 8, false, 0.0),
            Decision::Fail
        );
        assert_eq!(
            decide(&P, ErrorCategory::Recoverable, 9, false, 0.0),
            Decision::Fail
        );
    }

    #[test]
    fn delay_is_capped_and_jittered_within_bounds() {
        let p = P.recoverable;
        assert_eq!(p.delay(20, 0.0), Duration::from_secs(300));
        assert_eq!(p.delay(20, 1.0), Duration::from_secs(360));
        assert_eq!(p.delay(20, -1.0), Duration::from_secs(240));
        assert_eq!(
            p.delay(20, 7.0),
            Duration::from_secs(360),
            "sample is clamped"
        );
        assert_eq!(p.delay(1, 0.5), Duration::from_secs_f64(2.2));
    }

    #[test]
    fn recoverable_keeps_fallback_mode_once_entered() {
        assert!(matches!(
            decide(&P, ErrorCategory::Recoverable, 2, true, 0.0),
            Decision::Retry { fallback: true, .. }
        ));
    }

    #[test]
    fn data_gets_exactly_one_fallback_attempt() {
        assert!(matches!(
            decide(&P, ErrorCategory::Data, 1, false, 0.0),
            Decision::Retry { fallback: true, delay } if delay.is_zero()
        ));
        assert_eq!(
            decide(&P, ErrorCategory::Data, 2, true, 0.0),
            Decision::Fail
        );
    }

    #[test]
    fn fatal_is_skipped_at_any_attempt() {
        for attempt in [1, 2, 100] {
            for fb in [false, true] {
                assert_eq!(
                    decide(&P, ErrorCategory::Fatal, attempt, fb, 0.3),
                    Decision::Skip
                );
            }
        }
    }

    #[test]
    fn queue_max_attempts_covers_every_category() {
        assert_eq!(P.max_attempts(), 8);
    }
}

//! Run and item states as stored in `migration_runs.status` and `migration_run_items.status`.

use std::fmt;
use std::str::FromStr;

/// The string did not name a known state.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownState {
    /// Which enum was being parsed.
    pub kind: &'static str,
    /// The rejected value.
    pub value: String,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            /// The database spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = UnknownState;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(UnknownState { kind: $kind, value: other.to_owned() }),
                }
            }
        }
    };
}

string_enum!(
    /// Lifecycle of a run (`migration_runs.status`).
    RunStatus, "run status" {
        /// Created, not yet enqueued.
        Pending => "pending",
        /// Jobs enqueued; items are being processed.
        Running => "running",
        /// Held by an operator or its error budget: no job of it starts until it is resumed.
        Paused => "paused",
        /// Cancel requested: queued jobs killed, running ones finishing.
        Cancelling => "cancelling",
        /// Every item succeeded.
        Completed => "completed",
        /// Every item is terminal and at least one is partial, failed or skipped.
        CompletedWithErrors => "completed_with_errors",
        /// Cancelled by an operator or by a newer platform run.
        Cancelled => "cancelled",
    }
);

impl RunStatus {
    /// A run still being worked on: its items may change, it may hold the platform lock, the
    /// autoscaler counts its unfinished items. Everything else is terminal.
    pub const ACTIVE: &'static [RunStatus] =
        &[Self::Pending, Self::Running, Self::Paused, Self::Cancelling];

    /// No further item transitions are expected.
    pub fn is_terminal(self) -> bool {
        !self.is_active()
    }

    /// One of [`RunStatus::ACTIVE`].
    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }

    /// Whether a stored status names an active run (an unknown one does not).
    pub fn is_active_str(stored: &str) -> bool {
        stored.parse::<Self>().is_ok_and(Self::is_active)
    }
}

string_enum!(
    /// Lifecycle of one project inside a run (`migration_run_items.status`).
    ItemStatus, "item status" {
        /// Job enqueued, not started.
        Queued => "queued",
        /// An attempt is executing.
        Running => "running",
        /// The last attempt failed and another one is scheduled.
        Retrying => "retrying",
        /// Migrated without entity errors.
        Succeeded => "succeeded",
        /// Migrated, but some entities failed or were skipped (see `migration_log`).
        Partial => "partial",
        /// Gave up; waits for an operator.
        Failed => "failed",
        /// Never retried automatically (fatal).
        Skipped => "skipped",
        /// Killed by cancel.
        Cancelled => "cancelled",
    }
);

impl ItemStatus {
    /// The item needs no more work unless an operator intervenes.
    pub const TERMINAL: &'static [ItemStatus] = &[
        Self::Succeeded,
        Self::Partial,
        Self::Failed,
        Self::Skipped,
        Self::Cancelled,
    ];

    /// Work in hand on a worker: an attempt executing, or one scheduled after a failure.
    pub const IN_HAND: &'static [ItemStatus] = &[Self::Running, Self::Retrying];

    /// The item needs no more work unless an operator intervenes.
    pub fn is_terminal(self) -> bool {
        Self::TERMINAL.contains(&self)
    }

    /// Whether an execution that finds this stored status (`None`: the item row is missing)
    /// must stop without writing: the item is gone or already terminal (a duplicate delivery).
    pub fn stops_execution(stored: Option<&str>) -> bool {
        stored.is_none_or(|s| s.parse::<Self>().is_ok_and(Self::is_terminal))
    }
}

/// A list of statuses as SQL string literals for an `IN (…)` list, e.g.
/// `'pending', 'running', 'paused', 'cancelling'`: SQL names the vocabulary through this, not by hand.
pub fn sql_list<T: Copy + fmt::Display>(statuses: &[T]) -> String {
    statuses
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

string_enum!(
    /// What a run covers (`migration_runs.scope`).
    RunScope, "run scope" {
        /// Every user's projects; takes the platform lock.
        Platform => "platform",
        /// One user's projects.
        User => "user",
        /// An explicit list of projects.
        Projects => "projects",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_and_terminal_split_the_run_statuses() {
        for s in RunStatus::ALL {
            assert_ne!(s.is_active(), s.is_terminal(), "{s}");
            assert_eq!(RunStatus::is_active_str(s.as_str()), s.is_active());
        }
        assert!(!RunStatus::is_active_str("nonsense"));
        assert_eq!(
            sql_list(RunStatus::ACTIVE),
            "'pending', 'running', 'paused', 'cancelling'"
        );
        assert_eq!(
            sql_list(ItemStatus::TERMINAL),
            "'succeeded', 'partial', 'failed', 'skipped', 'cancelled'"
        );
    }

    #[test]
    fn spellings_round_trip() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>().unwrap(), *s);
        }
        for s in ItemStatus::ALL {
            assert_eq!(s.as_str().parse::<ItemStatus>().unwrap(), *s);
        }
        for s in RunScope::ALL {
            assert_eq!(s.as_str().parse::<RunScope>().unwrap(), *s);
        }
        assert!("done".parse::<ItemStatus>().is_err());
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = ItemStatus::ALL.iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal.len(), 5);
        assert!(!ItemStatus::Retrying.is_terminal());
        assert!(RunStatus::CompletedWithErrors.is_terminal());
        assert!(!RunStatus::Cancelling.is_terminal());
    }

    #[test]
    fn stored_statuses_that_stop_an_execution() {
        assert!(ItemStatus::stops_execution(None));
        assert!(ItemStatus::stops_execution(Some("succeeded")));
        assert!(ItemStatus::stops_execution(Some("cancelled")));
        assert!(!ItemStatus::stops_execution(Some("running")));
        assert!(!ItemStatus::stops_execution(Some("retrying")));
        // An unknown spelling is not terminal: the execution goes on, as before.
        assert!(!ItemStatus::stops_execution(Some("done")));
    }
}

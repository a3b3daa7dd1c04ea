//! The eight task work modes of the ontology (`task.{work_mode}[.{specialization}]`).

use std::fmt;
use std::str::FromStr;

/// What kind of work a task is. `Execute` is the default when nothing else fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkMode {
    /// Doing the work.
    Execute,
    /// Making a new artifact.
    Create,
    /// Improving an existing artifact.
    Refine,
    /// Investigating, learning.
    Research,
    /// Evaluating, giving feedback.
    Review,
    /// Working with others: meetings, calls, interviews, standups.
    Coordinate,
    /// Housekeeping: invoices, renewals, scheduling, reporting.
    Admin,
    /// Strategy, roadmaps, sprint planning.
    Plan,
}

impl WorkMode {
    /// All modes, in the order of the spec.
    pub const ALL: [WorkMode; 8] = [
        Self::Execute,
        Self::Create,
        Self::Refine,
        Self::Research,
        Self::Review,
        Self::Coordinate,
        Self::Admin,
        Self::Plan,
    ];

    /// Lower-case name, as in type keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Execute => "execute",
            Self::Create => "create",
            Self::Refine => "refine",
            Self::Research => "research",
            Self::Review => "review",
            Self::Coordinate => "coordinate",
            Self::Admin => "admin",
            Self::Plan => "plan",
        }
    }
}

impl fmt::Display for WorkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string did not name a work mode.
#[derive(Debug, thiserror::Error)]
#[error("unknown work mode `{0}`")]
pub struct UnknownWorkMode(pub String);

impl FromStr for WorkMode {
    type Err = UnknownWorkMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownWorkMode(s.to_owned()))
    }
}

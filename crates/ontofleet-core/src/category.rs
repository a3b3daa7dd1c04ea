//! The closed set of failure categories and how they are spelled in the database.

use std::fmt;
use std::str::FromStr;

/// How a failure must be handled. Assigned at the failure site from typed errors, never by
/// matching message strings. Adding a variant is an API change: [`crate::decide`] must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCategory {
    /// Transient infrastructure trouble (connection loss, serialization failure, timeouts):
    /// retry with persisted exponential backoff.
    Recoverable,
    /// The source data cannot be migrated as it is: one retry in fallback mode, then park.
    Data,
    /// Retrying can never help (corrupted rows, cycles, project gone, panics): skip.
    Fatal,
}

impl ErrorCategory {
    /// Every category, in a stable order (for reports).
    pub const ALL: [ErrorCategory; 3] = [Self::Recoverable, Self::Data, Self::Fatal];

    /// The spelling used in `migration_log.error_category` and friends.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recoverable => "recoverable",
            Self::Data => "data",
            Self::Fatal => "fatal",
        }
    }
}

impl fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string did not name a category.
#[derive(Debug, thiserror::Error)]
#[error("unknown error category `{0}` (expected recoverable, data or fatal)")]
pub struct UnknownCategory(pub String);

impl FromStr for ErrorCategory {
    type Err = UnknownCategory;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "recoverable" => Ok(Self::Recoverable),
            "data" => Ok(Self::Data),
            "fatal" => Ok(Self::Fatal),
            other => Err(UnknownCategory(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_category() {
        for c in ErrorCategory::ALL {
            assert_eq!(c.as_str().parse::<ErrorCategory>().unwrap(), c);
        }
        assert!("Recoverable".parse::<ErrorCategory>().is_err());
    }
}

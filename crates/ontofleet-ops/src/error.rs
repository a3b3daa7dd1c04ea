//! Errors of the operations, each with the CLI exit code and the HTTP status it maps to (SPEC §7,
//! §12), in one table.

/// Why an operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A named run, job or project does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or out of range.
    #[error("{0}")]
    Invalid(String),
    /// Not possible in the target's current state (a run already finished, say).
    #[error("{0}")]
    Conflict(String),
    /// Refused while another holds the platform (the lock is held, an equivalent run is active).
    #[error("{0}")]
    Refused(String),
    /// The database could not be used (unreachable, schema missing, a statement failed).
    #[error("{0}")]
    Unavailable(String),
}

/// The kinds of [`OpsError`], for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// [`OpsError::NotFound`].
    NotFound,
    /// [`OpsError::Invalid`].
    Invalid,
    /// [`OpsError::Conflict`].
    Conflict,
    /// [`OpsError::Refused`].
    Refused,
    /// [`OpsError::Unavailable`].
    Unavailable,
}

/// Kind → (CLI exit code, HTTP status). The CLI's exit codes are SPEC §7's: 2 for a usage error
/// (an unknown id or a state that does not allow it included), 4 for a refusal while the platform
/// lock is held, 1 for a runtime failure.
pub const TABLE: [(Kind, u8, u16); 5] = [
    (Kind::NotFound, 2, 404),
    (Kind::Invalid, 2, 400),
    (Kind::Conflict, 2, 409),
    (Kind::Refused, 4, 409),
    (Kind::Unavailable, 1, 503),
];

impl OpsError {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Self::NotFound(_) => Kind::NotFound,
            Self::Invalid(_) => Kind::Invalid,
            Self::Conflict(_) => Kind::Conflict,
            Self::Refused(_) => Kind::Refused,
            Self::Unavailable(_) => Kind::Unavailable,
        }
    }

    fn row(&self) -> (Kind, u8, u16) {
        let kind = self.kind();
        TABLE
            .into_iter()
            .find(|(k, _, _)| *k == kind)
            .unwrap_or((kind, 1, 500))
    }

    /// The CLI's exit code.
    pub fn exit_code(&self) -> u8 {
        self.row().1
    }

    /// The HTTP status of the admin API.
    pub fn http_status(&self) -> u16 {
        self.row().2
    }
}

impl From<sqlx::Error> for OpsError {
    fn from(e: sqlx::Error) -> Self {
        Self::Unavailable(format!("database error: {e}"))
    }
}

impl From<ontofleet_db::DbError> for OpsError {
    fn from(e: ontofleet_db::DbError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<ontofleet_control::ControlError> for OpsError {
    fn from(e: ontofleet_control::ControlError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<ontofleet_queue::QueueError> for OpsError {
    fn from(e: ontofleet_queue::QueueError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<ontofleet_producer::ProducerError> for OpsError {
    fn from(e: ontofleet_producer::ProducerError) -> Self {
        use ontofleet_control::OperatorError;
        use ontofleet_producer::ProducerError as P;
        match e {
            P::LockHeld(_) | P::AlreadyActive(_) | P::Operator(OperatorError::LockHeld(_)) => {
                Self::Refused(e.to_string())
            }
            P::NotFound(_) | P::UnknownJob(_) | P::Operator(OperatorError::UnknownRun(_)) => {
                Self::NotFound(e.to_string())
            }
            P::NotRetryable { .. }
            | P::NotKillable { .. }
            | P::AlreadyQueued { .. }
            | P::SelectionChanged
            | P::NoPass
            | P::Operator(_) => Self::Conflict(e.to_string()),
            other => Self::Unavailable(format!("{other}; nothing was changed, try again")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_exit_code_and_status() {
        let cases = [
            (OpsError::NotFound("x".into()), 2, 404),
            (OpsError::Invalid("x".into()), 2, 400),
            (OpsError::Conflict("x".into()), 2, 409),
            (OpsError::Refused("x".into()), 4, 409),
            (OpsError::Unavailable("x".into()), 1, 503),
        ];
        for (e, code, status) in cases {
            assert_eq!((e.exit_code(), e.http_status()), (code, status), "{e:?}");
        }
        let kinds: Vec<Kind> = TABLE.iter().map(|r| r.0).collect();
        assert_eq!(kinds.len(), 5, "one row per kind");
    }
}

//! Database errors and their categories, decided from SQLSTATE classes and IO error kinds.

use ontofleet_core::ErrorCategory;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL does not parse.
    #[error("invalid database URL {0}")]
    BadUrl(String),
    /// The server does not answer.
    #[error("cannot connect to the database at {url}: {source}")]
    Unreachable {
        /// Redacted URL.
        url: String,
        /// Driver error.
        source: sqlx::Error,
    },
    /// `db migrate` on a database without the legacy tables.
    #[error(
        "the legacy tables (users, projects, tasks, …) are missing: run `ontofleet seed --schema-only` \
         for development, or point --database-url at the production database"
    )]
    LegacySchemaMissing,
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other driver error.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

impl DbError {
    /// How the worker must treat this failure.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Unreachable { .. } => ErrorCategory::Recoverable,
            Self::BadUrl(_) | Self::LegacySchemaMissing | Self::Migrate(_) => ErrorCategory::Fatal,
            Self::Sqlx(e) => category_of(e),
        }
    }
}

/// The category of a driver error. Transient conditions (lost connections, pool exhaustion,
/// serialization failures, deadlocks, too many connections, admin shutdown) are recoverable;
/// constraint and data exceptions caused by source rows are `data`; the rest is fatal.
pub fn category_of(error: &sqlx::Error) -> ErrorCategory {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => ErrorCategory::Recoverable,
        sqlx::Error::Database(db) => db
            .code()
            .map_or(ErrorCategory::Fatal, |c| sqlstate_category(&c)),
        sqlx::Error::RowNotFound => ErrorCategory::Fatal,
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::Encode(_) => {
            ErrorCategory::Data
        }
        _ => ErrorCategory::Fatal,
    }
}

/// The category of a SQLSTATE code.
pub fn sqlstate_category(code: &str) -> ErrorCategory {
    match code {
        // serialization_failure, deadlock_detected, too_many_connections, admin/crash shutdown,
        // cannot_connect_now, lock_not_available, query_canceled (statement timeout).
        "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03" | "55P03" | "57014" => {
            ErrorCategory::Recoverable
        }
        c if c.starts_with("08") => ErrorCategory::Recoverable, // connection exception
        c if c.starts_with("53") => ErrorCategory::Recoverable, // insufficient resources
        c if c.starts_with("22") => ErrorCategory::Data,        // data exception
        c if c.starts_with("23") => ErrorCategory::Data,        // integrity constraint violation
        _ => ErrorCategory::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_categories() {
        let cases = [
            ("40001", ErrorCategory::Recoverable),
            ("40P01", ErrorCategory::Recoverable),
            ("53300", ErrorCategory::Recoverable),
            ("57P01", ErrorCategory::Recoverable),
            ("08006", ErrorCategory::Recoverable),
            ("08001", ErrorCategory::Recoverable),
            ("23505", ErrorCategory::Data),
            ("23514", ErrorCategory::Data),
            ("22007", ErrorCategory::Data),
            ("42P01", ErrorCategory::Fatal),
            ("XX000", ErrorCategory::Fatal),
        ];
        for (code, want) in cases {
            assert_eq!(sqlstate_category(code), want, "{code}");
        }
    }

    #[test]
    fn driver_errors_map_to_categories() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(category_of(&io), ErrorCategory::Recoverable);
        assert_eq!(
            category_of(&sqlx::Error::PoolTimedOut),
            ErrorCategory::Recoverable
        );
        assert_eq!(category_of(&sqlx::Error::RowNotFound), ErrorCategory::Fatal);
    }
}

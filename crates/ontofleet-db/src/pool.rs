//! Building the connection pool from typed settings.

use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::DbError;

/// Database settings (`[database]` in `ontofleet.toml`, `ONTOFLEET__DATABASE__*`).
#[derive(Clone, Deserialize)]
pub struct DbSettings {
    /// Connection URL. Never logged: see the `Debug` impl.
    pub url: String,
    /// Upper bound of pooled connections per process.
    pub max_connections: u32,
    /// How long a caller waits for a pooled connection before it gets a (recoverable) error.
    pub acquire_timeout_secs: u64,
    /// Application name shown in `pg_stat_activity`, so operators can tell pods apart.
    pub application_name: String,
}

impl std::fmt::Debug for DbSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbSettings")
            .field("url", &redact(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_secs", &self.acquire_timeout_secs)
            .field("application_name", &self.application_name)
            .finish()
    }
}

/// The URL with any password replaced, for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Open a pool and check that the database answers.
pub async fn connect(settings: &DbSettings) -> Result<PgPool, DbError> {
    connect_with(settings, false).await
}

/// A pool for worker processes, whose sessions
///
/// - commit asynchronously (`synchronous_commit = off`). Losing the last commits in a server
///   crash is safe there: a job's queue row is completed inside its project transaction (or, for
///   an outcome the handler could not record there, acknowledged after it, later in the same
///   WAL), so a lost project commit always comes with a lost completion and the job runs again;
///   the ledger then finds whatever did commit. Not waiting for WAL flushes matters because item
///   commits of one run serialise on the run row;
/// - plan no sequential scan where an index path exists (`enable_seqscan = off`). Every
///   statement a worker issues per project reaches its rows by index (the `plans` e2e test
///   checks it), but a prepared statement's generic plan is chosen once per connection, often
///   at the start of a run when the target tables are empty — and a scan that was cheapest then
///   would be kept while they grow to millions of rows. The rare whole-table statements of a
///   worker (the run-end stats refresh) turn scans back on for their own transaction;
///
/// and whose connections are not pinged before each use (`test_before_acquire`): a worker takes
/// a connection several times per job, and each ping was a round trip. A connection the server
/// closed fails its next statement instead, which is a `recoverable` error, retried with backoff.
pub async fn connect_worker(settings: &DbSettings) -> Result<PgPool, DbError> {
    connect_with(settings, true).await
}

/// A pool for the admin API: `max` connections whose sessions have a `statement_timeout` and,
/// with `read_only`, `default_transaction_read_only` (every statement of a GET runs in a
/// read-only transaction).
pub async fn connect_api(
    settings: &DbSettings,
    read_only: bool,
    statement_timeout: Duration,
    max: u32,
) -> Result<PgPool, DbError> {
    let timeout = statement_timeout.as_millis().to_string();
    let mut params = vec![("statement_timeout", timeout.as_str())];
    if read_only {
        params.push(("default_transaction_read_only", "on"));
    }
    let name = format!(
        "{}-api{}",
        settings.application_name,
        if read_only { "-ro" } else { "" }
    );
    let options = parse(settings)?.application_name(&name).options(params);
    open(
        settings,
        PgPoolOptions::new().max_connections(max.max(1)),
        options,
    )
    .await
}

async fn connect_with(settings: &DbSettings, worker: bool) -> Result<PgPool, DbError> {
    let mut options = parse(settings)?.application_name(&settings.application_name);
    if worker {
        options = options.options([("synchronous_commit", "off"), ("enable_seqscan", "off")]);
    }
    let pool = PgPoolOptions::new()
        .test_before_acquire(!worker)
        .max_connections(settings.max_connections.max(1));
    open(settings, pool, options).await
}

fn parse(settings: &DbSettings) -> Result<PgConnectOptions, DbError> {
    settings
        .url
        .parse()
        .map_err(|e: sqlx::Error| DbError::BadUrl(format!("{}: {e}", redact(&settings.url))))
}

async fn open(
    settings: &DbSettings,
    pool: PgPoolOptions,
    options: PgConnectOptions,
) -> Result<PgPool, DbError> {
    pool.acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs.max(1)))
        .connect_with(options)
        .await
        .map_err(|e| DbError::Unreachable {
            url: redact(&settings.url),
            source: e,
        })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres:///db"), "postgres:///db");
    }
}

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

/// The URL with any password replaced, for logs and error messages: the userinfo's, and every
/// query parameter whose (percent-decoded, case-folded) name ends in `password` (`password`,
/// `sslpassword`). The rest of the URL is kept as written.
pub fn redact(url: &str) -> String {
    let Some(scheme) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme + 3..];
    // The authority ends at the path, the query or the fragment; an `@` after it is not the
    // userinfo's.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => match authority[..at].find(':') {
            Some(colon) => format!("{}:***{}", &authority[..colon], &authority[at..]),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let (before_fragment, fragment) = tail.split_at(tail.find('#').unwrap_or(tail.len()));
    let tail = match before_fragment.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if is_password_key(key) => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}{fragment}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{}{authority}{tail}", &url[..scheme + 3])
}

/// A query parameter carrying a password, as libpq and sqlx read its name.
fn is_password_key(key: &str) -> bool {
    let mut decoded = Vec::with_capacity(key.len());
    let mut i = 0;
    while i < key.len() {
        let escaped = (key.as_bytes()[i] == b'%')
            .then(|| key.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(b) => {
                decoded.push(b);
                i += 3;
            }
            None => {
                decoded.push(key.as_bytes()[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded)
        .trim()
        .to_ascii_lowercase()
        .ends_with("password")
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
/// - never JIT-compile (`jit = off`). A per-project statement touches a few hundred rows, but
///   its estimated cost grows with the target tables (its sub-selects are costed per row of a
///   look-up the planner guesses at), and past `jit_optimize_above_cost` PostgreSQL spent about
///   2 s compiling each load of an already-migrated project at 1M tasks — for a statement that
///   runs in milliseconds;
///
/// and whose connections are not pinged before each use (`test_before_acquire`): a worker takes
/// a connection several times per job, and each ping was a round trip. A connection the server
/// closed fails its next statement instead, which is a `recoverable` error, retried with backoff.
pub async fn connect_worker(settings: &DbSettings) -> Result<PgPool, DbError> {
    connect_with(settings, true).await
}

/// A worker process's two pools ([`connect_worker_pools`]).
#[derive(Debug, Clone)]
pub struct WorkerPools {
    /// The job transactions' pool: `database.max_connections` connections, one per running
    /// job at most.
    pub jobs: PgPool,
    /// The queue machinery's own small pool (fetcher, listener, heartbeat, acknowledgements,
    /// ops probes): none of them ever waits behind a job transaction.
    pub queue: PgPool,
}

/// The two pools of a worker process, with [`connect_worker`]'s session settings: one of
/// `settings.max_connections` for the job transactions, and one of `queue_connections` for
/// the queue machinery. A process opens at most the sum of both.
pub async fn connect_worker_pools(
    settings: &DbSettings,
    queue_connections: u32,
) -> Result<WorkerPools, DbError> {
    let jobs = connect_with(settings, true).await?;
    let queue = connect_with(
        &DbSettings {
            max_connections: queue_connections,
            ..settings.clone()
        },
        true,
    )
    .await?;
    Ok(WorkerPools { jobs, queue })
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
        options = options.options([
            ("synchronous_commit", "off"),
            ("enable_seqscan", "off"),
            ("jit", "off"),
        ]);
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

    /// Every way libpq and sqlx accept a password in a URL: in the userinfo, and as a query
    /// parameter (first, later, repeated, any case, percent-encoded, with the SSL key's
    /// passphrase beside it); nothing else in the URL changes.
    #[test]
    fn passwords_in_query_parameters_are_redacted() {
        for (url, want) in [
            (
                "postgres://h/db?password=s3cret",
                "postgres://h/db?password=***",
            ),
            (
                "postgresql://h:5432/db?sslmode=require&password=s3cret",
                "postgresql://h:5432/db?sslmode=require&password=***",
            ),
            (
                "postgres://u@h/db?password=s3cret&application_name=x",
                "postgres://u@h/db?password=***&application_name=x",
            ),
            (
                "postgres://u:s3cret@h/db?PASSWORD=s3cret",
                "postgres://u:***@h/db?PASSWORD=***",
            ),
            (
                "postgres://h/db?pass%77ord=s3cret",
                "postgres://h/db?pass%77ord=***",
            ),
            (
                "postgres://h/db?sslpassword=s3cret&password=s3cret&password=again",
                "postgres://h/db?sslpassword=***&password=***&password=***",
            ),
            (
                "postgres://h/db?password=s3cret#frag",
                "postgres://h/db?password=***#frag",
            ),
            (
                "postgres://u:p%40ss@h/db?host=/run/pg",
                "postgres://u:***@h/db?host=/run/pg",
            ),
            (
                "postgres://h/db?user=u&passwordx=kept",
                "postgres://h/db?user=u&passwordx=kept",
            ),
        ] {
            let got = redact(url);
            assert_eq!(got, want, "{url}");
            assert!(!got.contains("s3cret") && !got.contains("again"), "{got}");
        }
    }
}

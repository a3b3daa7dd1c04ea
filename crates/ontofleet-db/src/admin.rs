//! Rows of the admin API's access tables (`admin_tokens`, `admin_sessions`) and of the
//! append-only `admin_audit`. Secrets arrive here already hashed.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use crate::DbError;

/// One audit row to write, in the transaction of the mutation it records.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Token name, or the OS user for the CLI.
    pub actor: String,
    /// `viewer`, `operator`, `admin`, or `cli`.
    pub role: String,
    /// What was done (`run.cancel`, `jobs.retry`, …).
    pub action: String,
    /// What it was done to: ids, filters, options.
    pub filter: Value,
    /// The HTTP request's id.
    pub request_id: Option<String>,
}

/// Append `entry` with the number of rows it affected.
pub async fn record_audit(
    conn: &mut PgConnection,
    entry: &AuditEntry,
    affected: Option<i64>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO admin_audit (actor, role, action, filter, affected, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&entry.actor)
    .bind(&entry.role)
    .bind(&entry.action)
    .bind(&entry.filter)
    .bind(affected)
    .bind(entry.request_id.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// A row of `admin_audit`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    /// Increasing id (the pagination key).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// With which role.
    pub role: String,
    /// What.
    pub action: String,
    /// To what.
    pub filter: Value,
    /// Rows affected.
    pub affected: Option<i64>,
    /// The request.
    pub request_id: Option<String>,
}

/// Audit rows, newest first, older than `before` (an id) when given.
pub async fn list_audit(
    conn: &mut PgConnection,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, at, actor, role, action, filter, affected, request_id FROM admin_audit \
          WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// A row of `admin_tokens`, without its hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    /// Unique name.
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revocation, if revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last authenticated request (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

const TOKEN_COLUMNS: &str = "name, role, created_at, expires_at, revoked_at, last_used_at";

/// Insert a token; a revoked or expired token of the same name is replaced. `None` when a live
/// token has that name.
pub async fn insert_token(
    conn: &mut PgConnection,
    name: &str,
    role: &str,
    sha256: &[u8],
    expires_at: Option<DateTime<Utc>>,
) -> Result<Option<TokenRow>, DbError> {
    let sql = format!(
        "INSERT INTO admin_tokens (name, role, token_sha256, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, token_sha256 = EXCLUDED.token_sha256, \
                expires_at = EXCLUDED.expires_at, created_at = now(), revoked_at = NULL, last_used_at = NULL \
          WHERE admin_tokens.revoked_at IS NOT NULL OR admin_tokens.expires_at <= now() \
         RETURNING {TOKEN_COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(role)
        .bind(sha256)
        .bind(expires_at)
        .fetch_optional(conn)
        .await?)
}

/// Every token, by name.
pub async fn list_tokens(conn: &mut PgConnection) -> Result<Vec<TokenRow>, DbError> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM admin_tokens ORDER BY name");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?)
}

/// Revoke a token and end its sessions; `None` when no unrevoked token has that name.
pub async fn revoke_token(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<TokenRow>, DbError> {
    let sql = format!(
        "UPDATE admin_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL \
         RETURNING {TOKEN_COLUMNS}"
    );
    let row: Option<TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    if row.is_some() {
        sqlx::query("DELETE FROM admin_sessions WHERE token_name = $1")
            .bind(name)
            .execute(conn)
            .await?;
    }
    Ok(row)
}

/// The live (unrevoked, unexpired) token with this hash, with its stored hash; the use is
/// recorded at most once a minute so that reads stay cheap.
pub async fn live_token_by_hash(
    conn: &mut PgConnection,
    sha256: &[u8],
) -> Result<Option<(TokenRow, Vec<u8>)>, DbError> {
    let sql = format!(
        "SELECT {TOKEN_COLUMNS}, token_sha256 FROM admin_tokens \
          WHERE token_sha256 = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"
    );
    let row: Option<(TokenRow, Vec<u8>)> =
        sqlx::query_as::<_, TokenWithHash>(sqlx::AssertSqlSafe(sql))
            .bind(sha256)
            .fetch_optional(&mut *conn)
            .await?
            .map(|t| (t.token, t.token_sha256));
    if let Some((t, _)) = &row
        && t.last_used_at
            .is_none_or(|at| at < Utc::now() - chrono::Duration::minutes(1))
    {
        sqlx::query("UPDATE admin_tokens SET last_used_at = now() WHERE name = $1")
            .bind(&t.name)
            .execute(conn)
            .await?;
    }
    Ok(row)
}

#[derive(sqlx::FromRow)]
struct TokenWithHash {
    #[sqlx(flatten)]
    token: TokenRow,
    token_sha256: Vec<u8>,
}

/// Open a session for a token.
pub async fn insert_session(
    conn: &mut PgConnection,
    sha256: &[u8],
    token_name: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO admin_sessions (id_sha256, token_name, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(sha256)
    .bind(token_name)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The token behind a live session: the session has not expired nor been idle longer than
/// `idle`, and its token is still live. The session's last use is refreshed at most once a
/// minute.
pub async fn live_session(
    conn: &mut PgConnection,
    sha256: &[u8],
    idle: std::time::Duration,
) -> Result<Option<TokenRow>, DbError> {
    let idle_secs = idle.as_secs_f64();
    let row: Option<(TokenRow, DateTime<Utc>)> = sqlx::query_as::<_, SessionToken>(
        "SELECT t.name, t.role, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, s.last_seen_at \
           FROM admin_sessions s JOIN admin_tokens t ON t.name = s.token_name \
          WHERE s.id_sha256 = $1 AND s.expires_at > now() \
            AND s.last_seen_at > now() - make_interval(secs => $2) \
            AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())",
    )
    .bind(sha256)
    .bind(idle_secs)
    .fetch_optional(&mut *conn)
    .await?
    .map(|s| (s.token, s.last_seen_at));
    if let Some((_, seen)) = &row
        && *seen < Utc::now() - chrono::Duration::minutes(1)
    {
        sqlx::query("UPDATE admin_sessions SET last_seen_at = now() WHERE id_sha256 = $1")
            .bind(sha256)
            .execute(conn)
            .await?;
    }
    Ok(row.map(|(t, _)| t))
}

#[derive(sqlx::FromRow)]
struct SessionToken {
    #[sqlx(flatten)]
    token: TokenRow,
    last_seen_at: DateTime<Utc>,
}

/// End a session (logout); also drops sessions that have expired.
pub async fn delete_session(conn: &mut PgConnection, sha256: &[u8]) -> Result<bool, DbError> {
    let r = sqlx::query("DELETE FROM admin_sessions WHERE id_sha256 = $1 OR expires_at <= now()")
        .bind(sha256)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

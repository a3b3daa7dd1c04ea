//! Who may operate: API tokens with a role (`token create|list|revoke`), browser sessions
//! exchanged for a token, and the [`Actor`] every mutation is audited as.
//!
//! Secrets are 256 random bits, shown once, stored as SHA-256 (a fast hash is right for random
//! secrets: nothing to brute-force), and compared in constant time after the lookup by hash.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ontofleet_db::admin::{self, AuditEntry, TokenRow};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::OpsError;

/// What a token may do (SPEC §12): each role includes the one before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything (e-mails masked).
    Viewer,
    /// + retry, kill, enqueue, cancel, start, preview, validate, refresh.
    Operator,
    /// + rollback, purge, lock release.
    Admin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// Its spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = OpsError;
    fn from_str(s: &str) -> Result<Self, OpsError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                OpsError::Invalid(format!(
                    "unknown role `{s}` (expected viewer, operator or admin)"
                ))
            })
    }
}

/// Who performs a mutation, as the audit records it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Token name, or `user@host (cli)`.
    pub name: String,
    /// `viewer`, `operator`, `admin`, or `cli` for the command line.
    pub role: String,
    /// The HTTP request's id.
    pub request_id: Option<String>,
}

impl Actor {
    /// The command line, run by `who`.
    pub fn cli(who: impl Into<String>) -> Self {
        Self {
            name: who.into(),
            role: "cli".to_owned(),
            request_id: None,
        }
    }

    /// An authenticated API request.
    pub fn api(principal: &Principal, request_id: Option<String>) -> Self {
        Self {
            name: principal.name.clone(),
            role: principal.role.as_str().to_owned(),
            request_id,
        }
    }

    /// The audit row of `action` on `filter`.
    pub fn entry(&self, action: &str, filter: Value) -> AuditEntry {
        AuditEntry {
            actor: self.name.clone(),
            role: self.role.clone(),
            action: action.to_owned(),
            filter,
            request_id: self.request_id.clone(),
        }
    }

    /// Who started a run, as `migration_runs.initiated_by` shows it.
    pub fn initiated_by(&self) -> String {
        if self.role == "cli" {
            self.name.clone()
        } else {
            format!("{} (api)", self.name)
        }
    }
}

/// An authenticated caller of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Token name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

const TOKEN_PREFIX: &str = "oft_";

fn random_secret(prefix: &str) -> Result<String, OpsError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| OpsError::Unavailable(format!("no randomness from the OS: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A token as `token list` shows it (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revocation.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last use (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// `live`, `expired` or `revoked`.
    pub state: String,
}

impl From<TokenRow> for TokenView {
    fn from(t: TokenRow) -> Self {
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at.is_some_and(|e| e <= Utc::now()) {
            "expired"
        } else {
            "live"
        };
        Self {
            state: state.to_owned(),
            name: t.name,
            role: t.role,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// The response of `token create`: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token.
    #[serde(flatten)]
    pub view: TokenView,
    /// The secret to present as `Authorization: Bearer …`.
    pub token: String,
}

/// The response of `token list`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenList {
    /// By name.
    pub tokens: Vec<TokenView>,
}

/// `token create --name NAME --role ROLE [--expires-in D]`.
pub async fn create_token(
    pool: &PgPool,
    name: &str,
    role: Role,
    expires_in: Option<Duration>,
    actor: &Actor,
) -> Result<CreatedToken, OpsError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(OpsError::Invalid(format!(
            "token name `{name}` is not valid: 1-64 letters, digits, `.`, `_` or `-`, starting with a letter or digit"
        )));
    }
    let expires_at = match expires_in {
        Some(d) if d.is_zero() => {
            return Err(OpsError::Invalid(
                "--expires-in must be positive".to_owned(),
            ));
        }
        Some(d) => Some(
            Utc::now()
                + chrono::Duration::from_std(d)
                    .map_err(|_| OpsError::Invalid("--expires-in is too long".to_owned()))?,
        ),
        None => None,
    };
    let secret = random_secret(TOKEN_PREFIX)?;
    let mut tx = pool.begin().await?;
    let Some(row) =
        admin::insert_token(&mut tx, name, role.as_str(), &sha256(&secret), expires_at).await?
    else {
        return Err(OpsError::Conflict(format!(
            "a live token is named `{name}`; revoke it first with `ontofleet token revoke {name}`"
        )));
    };
    let filter = serde_json::json!({"name": name, "role": role.as_str(), "expires_at": expires_at});
    admin::record_audit(&mut tx, &actor.entry("token.create", filter), Some(1)).await?;
    tx.commit().await?;
    Ok(CreatedToken {
        view: row.into(),
        token: secret,
    })
}

/// `token list`.
pub async fn list_tokens(pool: &PgPool) -> Result<TokenList, OpsError> {
    let mut conn = pool.acquire().await?;
    Ok(TokenList {
        tokens: admin::list_tokens(&mut conn)
            .await?
            .into_iter()
            .map(TokenView::from)
            .collect(),
    })
}

/// `token revoke NAME`: the token and its sessions stop working at once.
pub async fn revoke_token(pool: &PgPool, name: &str, actor: &Actor) -> Result<TokenView, OpsError> {
    let mut tx = pool.begin().await?;
    let Some(row) = admin::revoke_token(&mut tx, name).await? else {
        return Err(OpsError::NotFound(format!(
            "no unrevoked token is named `{name}`; list them with `ontofleet token list`"
        )));
    };
    let filter = serde_json::json!({"name": name});
    admin::record_audit(&mut tx, &actor.entry("token.revoke", filter), Some(1)).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// Whether any live token exists (`serve` refuses a non-loopback address without one).
pub async fn any_live_token(pool: &PgPool) -> Result<bool, OpsError> {
    Ok(list_tokens(pool)
        .await?
        .tokens
        .iter()
        .any(|t| t.state == "live"))
}

/// The caller presenting `secret` as a bearer token, if it is a live token.
pub async fn authenticate(pool: &PgPool, secret: &str) -> Result<Option<Principal>, OpsError> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let hash = sha256(secret);
    let mut conn = pool.acquire().await?;
    let Some((row, stored)) = admin::live_token_by_hash(&mut conn, &hash).await? else {
        return Ok(None);
    };
    // The lookup went by hash; the comparison is still constant-time, so the check does not
    // depend on how the database compared.
    if !bool::from(stored.as_slice().ct_eq(&hash)) {
        return Ok(None);
    }
    principal(row)
}

fn principal(row: TokenRow) -> Result<Option<Principal>, OpsError> {
    Ok(Some(Principal {
        role: row.role.parse()?,
        name: row.name,
    }))
}

/// How long a browser session lives.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// From login, whatever the activity.
    pub absolute: Duration,
    /// Without a request.
    pub idle: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            absolute: Duration::from_secs(12 * 3600),
            idle: Duration::from_secs(30 * 60),
        }
    }
}

/// A new browser session: the cookie's secret and who it is.
#[derive(Debug, Clone)]
pub struct Session {
    /// The cookie value.
    pub secret: String,
    /// Who logged in.
    pub principal: Principal,
    /// The absolute end.
    pub expires_at: DateTime<Utc>,
}

/// Exchange a live token for a new session (browser login); `None` for a bad token.
pub async fn login(
    pool: &PgPool,
    token: &str,
    policy: SessionPolicy,
    request_id: Option<String>,
) -> Result<Option<Session>, OpsError> {
    let Some(principal) = authenticate(pool, token).await? else {
        return Ok(None);
    };
    let secret = random_secret("ofs_")?;
    let expires_at = Utc::now()
        + chrono::Duration::from_std(policy.absolute).unwrap_or(chrono::Duration::hours(12));
    let mut tx = pool.begin().await?;
    admin::insert_session(&mut tx, &sha256(&secret), &principal.name, expires_at).await?;
    let actor = Actor::api(&principal, request_id);
    admin::record_audit(
        &mut tx,
        &actor.entry("session.login", serde_json::json!({})),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Session {
        secret,
        principal,
        expires_at,
    }))
}

/// The caller behind a session cookie, if the session and its token are live.
pub async fn session(
    pool: &PgPool,
    secret: &str,
    policy: SessionPolicy,
) -> Result<Option<Principal>, OpsError> {
    if !secret.starts_with("ofs_") {
        return Ok(None);
    }
    let mut conn = pool.acquire().await?;
    match admin::live_session(&mut conn, &sha256(secret), policy.idle).await? {
        Some(row) => principal(row),
        None => Ok(None),
    }
}

/// End a session (logout).
pub async fn logout(pool: &PgPool, secret: &str) -> Result<(), OpsError> {
    let mut conn = pool.acquire().await?;
    admin::delete_session(&mut conn, &sha256(secret)).await?;
    Ok(())
}

/// `user@example.com` → `u***@example.com`: what viewers see of an e-mail address.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_masked_to_first_letter_and_domain() {
        assert_eq!(mask_email("alice@example.com"), "a***@example.com");
        assert_eq!(mask_email("@x"), "***@x");
        assert_eq!(mask_email("no-at"), "***");
    }

    #[test]
    fn secrets_are_256_bit_and_distinct() {
        let a = random_secret(TOKEN_PREFIX).unwrap();
        let b = random_secret(TOKEN_PREFIX).unwrap();
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_ne!(a, b);
    }

    #[test]
    fn roles_order_and_parse() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        assert_eq!("operator".parse::<Role>().unwrap(), Role::Operator);
        assert!("root".parse::<Role>().is_err());
    }
}

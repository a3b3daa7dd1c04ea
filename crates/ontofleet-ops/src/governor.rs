//! `governor status` (and the API's `GET governor`, the overview's panel), and the governor
//! candidate every worker and `serve` runs (SPEC §14).

use std::future::Future;

use chrono::{DateTime, Utc};
pub use ontofleet_control::governor::Observation;
pub use ontofleet_core::governor::{GovernorSettings, Level, Signal};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::OpsError;

/// One reason of the verdict.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonView {
    /// The signal (`replay_lag_secs`, …, `unreadable`, `schedule`).
    pub signal: String,
    /// Its value.
    pub value: Option<f64>,
    /// The threshold it reached.
    pub threshold: Option<f64>,
    /// What it is about (a standby, a slot, the window's hours).
    pub subject: Option<String>,
    /// The level it calls for.
    pub level: String,
    /// One line for people.
    pub text: String,
}

/// The response of `governor status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GovernorStatus {
    /// `ok`, `throttled` or `paused`: what claims obey now (`ok` when no verdict is in force).
    pub level: String,
    /// Why.
    pub reasons: Vec<ReasonView>,
    /// Since when the level holds.
    pub since: DateTime<Utc>,
    /// The process holding the governor role, while its lease runs.
    pub leader: Option<String>,
    /// The last sample's readings: `{signal: [{subject, value, error}]}`.
    pub signals: Value,
    /// When it was taken.
    pub sampled_at: Option<DateTime<Utc>>,
    /// Each run's jobs in flight while throttled.
    pub cap: Option<i32>,
    /// Whether a verdict is in force (a leader renews it; one nobody renews lapses to `ok`).
    pub in_force: bool,
}

/// `governor status`.
pub async fn status(pool: &PgPool) -> Result<GovernorStatus, OpsError> {
    let mut conn = pool.acquire().await?;
    let p = ontofleet_control::governor::published(&mut conn).await?;
    let leading = p.leader_until.is_some_and(|u| u > Utc::now());
    let reasons = if p.in_force {
        serde_json::from_value::<Vec<ontofleet_core::governor::Reason>>(p.reasons.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|r| ReasonView {
                signal: r.signal,
                value: r.value,
                threshold: r.threshold,
                subject: r.subject,
                level: r.level.as_str().to_owned(),
                text: r.text,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(GovernorStatus {
        level: if p.in_force { p.level } else { "ok".to_owned() },
        reasons,
        since: p.since,
        leader: leading.then_some(p.leader).flatten(),
        signals: p.signals,
        sampled_at: p.sampled_at,
        cap: p.cap.filter(|_| p.in_force),
        in_force: p.in_force,
    })
}

/// `[governor]` is usable (one line, exit 2).
pub fn check(settings: &GovernorSettings) -> Result<(), OpsError> {
    settings.check().map_err(OpsError::Invalid)
}

/// Run this process's governor candidate until `stop` resolves: it takes the role when free,
/// and as leader samples, decides and publishes every `interval_ms`. `name` names the process
/// (`governor status` shows the leader), `app_prefix` is the `application_name` of ontofleet's
/// own sessions (left out of the session signals), `observe` gets each observation of the
/// leader (for metrics). Nothing happens when `[governor] enabled = false`.
pub async fn run(
    pool: PgPool,
    settings: GovernorSettings,
    name: String,
    app_prefix: String,
    observe: impl FnMut(&Observation) + Send,
    stop: impl Future<Output = ()> + Send,
) {
    if !settings.enabled {
        return;
    }
    ontofleet_control::governor::Governor::new(settings, name, app_prefix)
        .run(pool, observe, stop)
        .await;
}

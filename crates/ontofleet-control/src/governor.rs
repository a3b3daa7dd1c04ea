//! The database-health governor's work against PostgreSQL (SPEC §14): leadership (one sampler per
//! fleet, a lease in `migration_governor`; any worker or `serve` may hold it, another takes over
//! within seconds when it dies), the signals (`pg_stat_replication`, `pg_replication_slots`,
//! `pg_stat_activity`, the operator's `throttle_query`), the business-hours windows' local time,
//! and the published verdict that every claim reads. The decisions themselves are
//! `ontofleet_core::governor`'s.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use ontofleet_core::governor::{
    GovernorSettings, Level, Reading, Reason, Signal, Verdict, schedule,
};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use crate::ControlError;

/// What one tick of the leader saw and decided, for the caller's metrics.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The verdict now.
    pub level: Level,
    /// Its reasons.
    pub reasons: Vec<Reason>,
    /// Every reading (the highest value per signal is the gauge's).
    pub readings: Vec<Reading>,
    /// Paused runs by pause kind (`operator`, `error_budget`).
    pub paused_runs: Vec<(String, i64)>,
    /// Seconds since the previous observation.
    pub elapsed: Duration,
}

/// The published verdict and who publishes it (`governor status`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Published {
    /// The leader.
    pub leader: Option<String>,
    /// Its lease.
    pub leader_until: Option<DateTime<Utc>>,
    /// The level.
    pub level: String,
    /// The throttle's in-flight cap per run.
    pub cap: Option<i32>,
    /// The reasons (`[{signal, value, threshold, subject, level, text, metric_reason}]`).
    pub reasons: Value,
    /// The last readings (`{signal: [{subject, value}]}`).
    pub signals: Value,
    /// Since when the level holds.
    pub since: DateTime<Utc>,
    /// The last sample.
    pub sampled_at: Option<DateTime<Utc>>,
    /// Claims obey it until then (a verdict nobody renews lapses).
    pub valid_until: Option<DateTime<Utc>>,
    /// Whether it is in force now.
    pub in_force: bool,
}

/// The published verdict.
pub async fn published(conn: &mut PgConnection) -> Result<Published, ControlError> {
    Ok(sqlx::query_as(
        "SELECT leader, leader_until, level, cap, reasons, signals, since, sampled_at, valid_until, \
                coalesce(valid_until > clock_timestamp(), false) AS in_force \
           FROM migration_governor WHERE id = 1",
    )
    .fetch_one(conn)
    .await?)
}

/// The sampler of one process: when it leads, it samples and publishes; otherwise it only
/// asks for the lead at every interval (one cheap statement).
pub struct Governor {
    settings: GovernorSettings,
    name: String,
    /// `application_name` prefix of ontofleet's own sessions (`database.application_name`).
    app_prefix: String,
    verdict: Option<Verdict>,
    /// `(time, pg_current_wal_lsn())` of the recent samples, oldest first: a standby's lag in
    /// seconds is the age of the oldest WAL it has not replayed.
    wal: VecDeque<(DateTime<Utc>, f64)>,
    last: Option<std::time::Instant>,
    /// The level this leader last published (to log changes only).
    published: Option<Level>,
}

impl Governor {
    /// A governor candidate named `name` (the process's worker name, or `serve-…`).
    pub fn new(settings: GovernorSettings, name: String, app_prefix: String) -> Self {
        Self {
            settings,
            name,
            app_prefix,
            verdict: None,
            wal: VecDeque::new(),
            last: None,
            published: None,
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(self.settings.interval_ms.max(100))
    }

    /// The leader's lease: three intervals, at least 2 s (a dead leader is replaced within it).
    fn lease(&self) -> Duration {
        (self.interval() * 3).max(Duration::from_secs(2))
    }

    /// One tick: ask for the lead; as leader, sample, decide, publish. Returns what the leader
    /// observed (`None` when another process leads).
    pub async fn tick(&mut self, pool: &PgPool) -> Result<Option<Observation>, ControlError> {
        let mut conn = pool.acquire().await?;
        let led: Option<(String, DateTime<Utc>, String, DateTime<Utc>)> = sqlx::query_as(
            "UPDATE migration_governor SET leader = $1, leader_until = clock_timestamp() + make_interval(secs => $2) \
              WHERE id = 1 AND (leader = $1 OR leader IS NULL OR leader_until < clock_timestamp()) \
             RETURNING leader, clock_timestamp(), level, since",
        )
        .bind(&self.name)
        .bind(self.lease().as_secs_f64())
        .fetch_optional(&mut *conn)
        .await?;
        let Some((_, now, level, since)) = led else {
            // Another leads: start afresh if this one takes over later.
            self.verdict = None;
            self.last = None;
            self.published = None;
            return Ok(None);
        };
        let verdict = self.verdict.get_or_insert_with(|| Verdict {
            level: level.parse().unwrap_or(Level::Ok),
            since,
            reasons: Vec::new(),
            calm_since: None,
        });
        let readings = sample(
            &mut conn,
            &self.settings,
            &self.app_prefix,
            &mut self.wal,
            now,
        )
        .await;
        verdict.step(
            &self.settings,
            &readings,
            now,
            Duration::from_secs(self.settings.recover_secs),
        );
        let mut level = verdict.level;
        let mut reasons = verdict.reasons.clone();
        let mut cap = (level == Level::Throttled).then_some(self.settings.throttle_inflight);
        match local_times(&mut conn, &self.settings).await {
            Ok(local) => {
                if let Some((window_cap, reason)) = schedule(&self.settings.window, &local) {
                    if level == Level::Ok {
                        level = Level::Throttled;
                    }
                    if level == Level::Throttled {
                        cap = Some(cap.map_or(window_cap, |c| c.min(window_cap)));
                    }
                    reasons.push(reason);
                }
            }
            Err(e) => {
                // A window that cannot be evaluated (an unknown time zone) fails closed too.
                level = level.max(Level::Throttled);
                cap = cap.or(Some(self.settings.throttle_inflight));
                reasons.push(Reason {
                    signal: "unreadable".to_owned(),
                    value: None,
                    threshold: None,
                    subject: Some("schedule".to_owned()),
                    level: Level::Throttled,
                    text: format!("the business-hours windows cannot be evaluated: {e}"),
                    metric_reason: "unreadable".to_owned(),
                });
            }
        }
        let valid = (self.interval() * 3).max(Duration::from_secs(3));
        let signals = signals_json(&readings);
        let reasons_json = serde_json::to_value(&reasons).unwrap_or_else(|_| json!([]));
        sqlx::query(
            "WITH cur AS (SELECT level AS old FROM migration_governor WHERE id = 1), \
                  upd AS (UPDATE migration_governor SET level = $1, cap = $2, reasons = $3, signals = $4, \
                                 since = CASE WHEN level = $1 THEN since ELSE clock_timestamp() END, \
                                 sampled_at = clock_timestamp(), valid_until = clock_timestamp() + make_interval(secs => $5) \
                           WHERE id = 1 AND leader = $6 RETURNING level), \
                  closed AS (UPDATE migration_governor_log SET ended_at = clock_timestamp() \
                              WHERE ended_at IS NULL AND (SELECT old FROM cur) IS DISTINCT FROM $1 RETURNING 1) \
             INSERT INTO migration_governor_log (started_at, level, reasons) \
             SELECT clock_timestamp(), $1, $3 WHERE $1 <> 'ok' AND (SELECT old FROM cur) IS DISTINCT FROM $1 \
                AND EXISTS (SELECT 1 FROM upd)",
        )
        .bind(level.as_str())
        .bind(cap.map(|c| i32::try_from(c).unwrap_or(i32::MAX)))
        .bind(&reasons_json)
        .bind(&signals)
        .bind(valid.as_secs_f64())
        .bind(&self.name)
        .execute(&mut *conn)
        .await?;
        if self.published != Some(level) {
            self.published = Some(level);
            tracing::warn!(level = %level, reasons = %reasons.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join("; "), "governor verdict");
        }
        let paused_runs: Vec<(String, i64)> = sqlx::query_as(
            "SELECT coalesce(pause_kind, 'operator'), count(*) FROM migration_runs WHERE status = 'paused' GROUP BY 1",
        )
        .fetch_all(&mut *conn)
        .await?;
        let elapsed = self.last.map_or(Duration::ZERO, |t| t.elapsed());
        self.last = Some(std::time::Instant::now());
        Ok(Some(Observation {
            level,
            reasons,
            readings,
            paused_runs,
            elapsed,
        }))
    }

    /// Tick every interval until `stop` resolves, handing each observation to `observe`. A
    /// failed tick is logged and retried at the next interval.
    pub async fn run(
        mut self,
        pool: PgPool,
        mut observe: impl FnMut(&Observation) + Send,
        stop: impl Future<Output = ()> + Send,
    ) {
        let mut tick = tokio::time::interval(self.interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = &mut stop => break,
            }
            match self.tick(&pool).await {
                Ok(Some(o)) => observe(&o),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "governor tick failed"),
            }
        }
        // Hand the role over at once rather than after the lease.
        let _ = sqlx::query(
            "UPDATE migration_governor SET leader = NULL, leader_until = NULL WHERE id = 1 AND leader = $1",
        )
        .bind(&self.name)
        .execute(&pool)
        .await;
    }
}

/// `{signal: [{subject, value, error}]}` of one sample, for `governor status`.
fn signals_json(readings: &[Reading]) -> Value {
    let mut out = serde_json::Map::new();
    for r in readings {
        let entry = out
            .entry(r.signal.as_str().to_owned())
            .or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            list.push(json!({"subject": r.subject, "value": r.value, "error": r.error}));
        }
    }
    Value::Object(out)
}

/// Each configured window's local ISO weekday and time of day now, by PostgreSQL's time zones.
async fn local_times(
    conn: &mut PgConnection,
    settings: &GovernorSettings,
) -> Result<Vec<(u32, NaiveTime)>, sqlx::Error> {
    if settings.window.is_empty() {
        return Ok(Vec::new());
    }
    let zones: Vec<&str> = settings
        .window
        .iter()
        .map(|w| w.timezone.as_str())
        .collect();
    let rows: Vec<(i32, NaiveTime)> = sqlx::query_as(
        "SELECT extract(isodow FROM clock_timestamp() AT TIME ZONE z)::int, (clock_timestamp() AT TIME ZONE z)::time \
           FROM unnest($1::text[]) WITH ORDINALITY AS t(z, n) ORDER BY n",
    )
    .bind(&zones)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(d, t)| (u32::try_from(d).unwrap_or(1), t))
        .collect())
}

/// Read every configured signal (and only those). A signal that cannot be read is a reading
/// without a value (the verdict then throttles: fail closed).
async fn sample(
    conn: &mut PgConnection,
    settings: &GovernorSettings,
    app_prefix: &str,
    wal: &mut VecDeque<(DateTime<Utc>, f64)>,
    now: DateTime<Utc>,
) -> Vec<Reading> {
    let on = |s: Signal| settings.thresholds(s).configured();
    let mut out = Vec::new();
    let unreadable = |signal: Signal, e: &dyn std::fmt::Display| Reading {
        signal,
        subject: None,
        value: None,
        error: Some(e.to_string()),
    };
    if on(Signal::ReplayLagSecs) || on(Signal::ReplayLagBytes) {
        match replay(conn, wal, now).await {
            Ok(standbys) => {
                for (name, secs, bytes) in standbys {
                    for (signal, value) in [
                        (Signal::ReplayLagSecs, secs),
                        (Signal::ReplayLagBytes, bytes),
                    ] {
                        if on(signal) {
                            out.push(Reading {
                                signal,
                                subject: Some(name.clone()),
                                value,
                                error: value.is_none().then(|| {
                                    "pg_stat_replication hides it (grant pg_monitor)".to_owned()
                                }),
                            });
                        }
                    }
                }
            }
            Err(e) => {
                for s in [Signal::ReplayLagSecs, Signal::ReplayLagBytes] {
                    if on(s) {
                        out.push(unreadable(s, &e));
                    }
                }
            }
        }
    }
    if on(Signal::SlotWalBytes) {
        match sqlx::query_as::<_, (String, Option<f64>)>(
            "SELECT slot_name::text, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 \
               FROM pg_replication_slots WHERE restart_lsn IS NOT NULL",
        )
        .fetch_all(&mut *conn)
        .await
        {
            Ok(slots) => out.extend(slots.into_iter().map(|(name, v)| Reading {
                signal: Signal::SlotWalBytes,
                subject: Some(name),
                value: v,
                error: None,
            })),
            Err(e) => out.push(unreadable(Signal::SlotWalBytes, &e)),
        }
    }
    let like = format!("{}%", app_prefix.replace('%', "\\%").replace('_', "\\_"));
    let scalars: [(Signal, &str); 3] = [
        (
            Signal::OtherSessions,
            "SELECT count(*)::float8 FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' \
               AND pid <> pg_backend_pid() AND coalesce(application_name, '') NOT LIKE $1",
        ),
        (
            Signal::LockWaiters,
            "SELECT count(*)::float8 FROM pg_stat_activity w WHERE w.wait_event_type = 'Lock' \
               AND coalesce(w.application_name, '') NOT LIKE $1 \
               AND EXISTS (SELECT 1 FROM pg_stat_activity h WHERE h.pid = ANY(pg_blocking_pids(w.pid)) \
                              AND h.application_name LIKE $1)",
        ),
        (
            Signal::XactAgeSecs,
            "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)::float8 FROM pg_stat_activity \
              WHERE xact_start IS NOT NULL AND backend_type = 'client backend' AND pid <> pg_backend_pid() \
                AND $1 IS NOT NULL",
        ),
    ];
    for (signal, sql) in scalars {
        if !on(signal) {
            continue;
        }
        match sqlx::query_scalar::<_, f64>(sql)
            .bind(&like)
            .fetch_one(&mut *conn)
            .await
        {
            Ok(v) => out.push(Reading {
                signal,
                subject: None,
                value: Some(v),
                error: None,
            }),
            Err(e) => out.push(unreadable(signal, &e)),
        }
    }
    if on(Signal::ThrottleQuery) {
        out.push(throttle_query(conn, &settings.throttle_query).await);
    }
    out
}

/// Each standby's replay lag: seconds (the larger of PostgreSQL's `replay_lag` and the age of
/// the oldest WAL it has not replayed, from this sampler's history of the WAL position: a
/// paused replay keeps `replay_lag` frozen, not the age) and bytes behind. `None` where
/// `pg_stat_replication` hides the columns (no `pg_monitor`).
async fn replay(
    conn: &mut PgConnection,
    wal: &mut VecDeque<(DateTime<Utc>, f64)>,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Option<f64>, Option<f64>)>, sqlx::Error> {
    let current: f64 =
        sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8")
            .fetch_one(&mut *conn)
            .await?;
    if wal.back().is_none_or(|(_, lsn)| *lsn < current) {
        wal.push_back((now, current));
    }
    while wal.len() > 2
        && wal
            .front()
            .is_some_and(|(t, _)| now - *t > chrono::Duration::hours(1))
    {
        wal.pop_front();
    }
    let rows: Vec<(String, Option<f64>, Option<f64>)> = sqlx::query_as(
        "SELECT coalesce(nullif(application_name, ''), client_addr::text, pid::text), \
                extract(epoch FROM replay_lag)::float8, pg_wal_lsn_diff(replay_lsn, '0/0')::float8 \
           FROM pg_stat_replication ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, reported, replayed)| {
            let Some(replayed) = replayed else {
                return (name, None, None);
            };
            let behind = (current - replayed).max(0.0);
            // The first sample beyond what the standby replayed: WAL it lacks since then.
            let waiting = wal
                .iter()
                .find(|(_, lsn)| *lsn > replayed)
                .map_or(0.0, |(t, _)| {
                    (now - *t).num_milliseconds().max(0) as f64 / 1000.0
                });
            let secs = if behind > 0.0 {
                waiting.max(reported.unwrap_or(0.0))
            } else {
                0.0
            };
            (name, Some(secs), Some(behind))
        })
        .collect())
}

/// The operator's query, bounded by a statement timeout of 2 s in its own transaction.
async fn throttle_query(conn: &mut PgConnection, sql: &str) -> Reading {
    let run = async {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::query("SET LOCAL statement_timeout = 2000")
            .execute(&mut *tx)
            .await?;
        let v: Option<f64> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT (({sql}))::float8")))
                .fetch_one(&mut *tx)
                .await?;
        tx.rollback().await?;
        Ok::<_, sqlx::Error>(v)
    };
    match run.await {
        Ok(v) => Reading {
            signal: Signal::ThrottleQuery,
            subject: None,
            value: Some(v.unwrap_or(0.0)),
            error: None,
        },
        Err(e) => Reading {
            signal: Signal::ThrottleQuery,
            subject: None,
            value: None,
            error: Some(e.to_string()),
        },
    }
}

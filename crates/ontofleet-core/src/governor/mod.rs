//! The database-health governor's decisions (SPEC §14), pure: its settings, the verdict from a
//! sample of signals (throttle and critical thresholds, fail-closed on a signal that cannot be
//! read), hysteresis (back to a lower level only after every signal stayed below 80 % of its
//! thresholds for `recover_secs`), and the business-hours windows that lower the in-flight limit.
//! The sampling itself (SQL on `pg_stat_*`) and the leadership live in `ontofleet-control`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// What claims obey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Nothing restricts the fleet.
    Ok,
    /// Each run's jobs in flight are capped (`throttle_inflight`, or a window's `max_inflight`).
    Throttled,
    /// No new job starts.
    Paused,
}

impl Level {
    /// `ok`, `throttled`, `paused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Throttled => "throttled",
            Self::Paused => "paused",
        }
    }

    /// The gauge value: 0, 1, 2.
    pub fn gauge(self) -> u64 {
        self as u64
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ok" => Ok(Self::Ok),
            "throttled" => Ok(Self::Throttled),
            "paused" => Ok(Self::Paused),
            other => Err(format!("unknown governor level `{other}`")),
        }
    }
}

/// The signals the governor reads, with the names metrics and reasons carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Seconds a standby's replay is behind (per standby).
    ReplayLagSecs,
    /// Bytes a standby's replay is behind (per standby).
    ReplayLagBytes,
    /// WAL a replication slot retains, in bytes (per slot).
    SlotWalBytes,
    /// Active sessions of other applications.
    OtherSessions,
    /// Sessions waiting on locks that ontofleet's sessions hold.
    LockWaiters,
    /// Age of the oldest open transaction, in seconds.
    XactAgeSecs,
    /// The operator's `throttle_query` (> 0 throttles).
    ThrottleQuery,
}

impl Signal {
    /// Every signal.
    pub const ALL: [Signal; 7] = [
        Self::ReplayLagSecs,
        Self::ReplayLagBytes,
        Self::SlotWalBytes,
        Self::OtherSessions,
        Self::LockWaiters,
        Self::XactAgeSecs,
        Self::ThrottleQuery,
    ];

    /// Its name in reasons and the `ontofleet_governor_signal{signal}` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReplayLagSecs => "replay_lag_secs",
            Self::ReplayLagBytes => "replay_lag_bytes",
            Self::SlotWalBytes => "slot_wal_bytes",
            Self::OtherSessions => "other_sessions",
            Self::LockWaiters => "lock_waiters",
            Self::XactAgeSecs => "xact_age_secs",
            Self::ThrottleQuery => "throttle_query",
        }
    }

    /// The bounded reason of `ontofleet_run_control_seconds_total{reason}`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::ReplayLagSecs | Self::ReplayLagBytes => "replay_lag",
            Self::SlotWalBytes => "slot_wal",
            Self::OtherSessions => "sessions",
            Self::LockWaiters => "lock_waiters",
            Self::XactAgeSecs => "xact_age",
            Self::ThrottleQuery => "throttle_query",
        }
    }

    /// How a value reads in a reason: `7.2 s`, `12 MB`, `3`.
    pub fn format(self, v: f64) -> String {
        match self {
            Self::ReplayLagSecs | Self::XactAgeSecs => format!("{v:.1} s"),
            Self::ReplayLagBytes | Self::SlotWalBytes => bytes(v),
            _ => format!("{v:.0}"),
        }
    }
}

fn bytes(v: f64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if v >= MB {
        format!("{:.1} MB", v / MB)
    } else if v >= 1024.0 {
        format!("{:.1} kB", v / 1024.0)
    } else {
        format!("{v:.0} B")
    }
}

/// A signal's two thresholds; unset = not checked.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Thresholds {
    /// At or above: throttled.
    pub throttle: Option<f64>,
    /// At or above: paused.
    pub critical: Option<f64>,
}

impl Thresholds {
    /// Whether the signal is configured at all.
    pub fn configured(&self) -> bool {
        self.throttle.is_some() || self.critical.is_some()
    }
}

/// One business-hours window (`[[governor.window]]`): on these days, from `from` to `to` local
/// time in `timezone`, each run's jobs in flight are capped at `max_inflight`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Window {
    /// `mon`…`sun` (or `mon-fri`, `sat-sun` ranges).
    pub days: Vec<String>,
    /// `HH:MM`.
    pub from: String,
    /// `HH:MM`, exclusive (`24:00`: the end of the day; before `from`: the window runs past
    /// midnight).
    pub to: String,
    /// An IANA time zone (`Europe/Berlin`); PostgreSQL turns the clock into local time.
    #[serde(default = "utc")]
    pub timezone: String,
    /// The cap during the window.
    pub max_inflight: u32,
}

fn utc() -> String {
    "UTC".to_owned()
}

impl Window {
    /// The ISO weekdays (1 = Monday) the window covers, or what is wrong with `days`.
    pub fn weekdays(&self) -> Result<Vec<u32>, String> {
        let day = |d: &str| -> Result<u32, String> {
            ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .position(|n| d.eq_ignore_ascii_case(n) || d.to_ascii_lowercase().starts_with(n))
                .map(|i| i as u32 + 1)
                .ok_or_else(|| format!("unknown day `{d}` (mon … sun)"))
        };
        let mut out = Vec::new();
        for spec in &self.days {
            match spec.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a.trim())?, day(b.trim())?);
                    let mut d = a;
                    loop {
                        out.push(d);
                        if d == b {
                            break;
                        }
                        d = d % 7 + 1;
                    }
                }
                None => out.push(day(spec.trim())?),
            }
        }
        Ok(out)
    }

    /// `from` and `to`, or what is wrong with them (`to = "24:00"`: the end of the day).
    pub fn times(&self) -> Result<(NaiveTime, NaiveTime), String> {
        let t = |s: &str| {
            if s.trim() == "24:00" {
                return NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999)
                    .ok_or_else(|| "24:00".to_owned());
            }
            NaiveTime::parse_from_str(s, "%H:%M")
                .map_err(|_| format!("`{s}` is not a time of day (HH:MM)"))
        };
        Ok((t(&self.from)?, t(&self.to)?))
    }

    /// Whether local time `time` on ISO weekday `weekday` falls in the window. A window whose
    /// `to` is before its `from` runs past midnight: its evening belongs to its days, its morning
    /// to the following days.
    pub fn covers(&self, weekday: u32, time: NaiveTime) -> bool {
        let (Ok(days), Ok((from, to))) = (self.weekdays(), self.times()) else {
            return false;
        };
        if from <= to {
            days.contains(&weekday) && time >= from && time < to
        } else {
            let yesterday = (weekday + 5) % 7 + 1;
            (days.contains(&weekday) && time >= from) || (days.contains(&yesterday) && time < to)
        }
    }
}

/// The settings of `[governor]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct GovernorSettings {
    /// Whether this process may hold the governor role.
    pub enabled: bool,
    /// Milliseconds between two samples.
    pub interval_ms: u64,
    /// Seconds every signal must stay below 80 % of its thresholds before the level drops.
    pub recover_secs: u64,
    /// Each run's jobs in flight while throttled.
    pub throttle_inflight: u32,
    /// Replay lag of every standby, seconds.
    pub replay_lag_secs: Option<f64>,
    /// … critical.
    pub replay_lag_critical_secs: Option<f64>,
    /// Replay lag of every standby, bytes.
    pub replay_lag_bytes: Option<f64>,
    /// … critical.
    pub replay_lag_critical_bytes: Option<f64>,
    /// WAL retained by a replication slot, bytes.
    pub slot_wal_bytes: Option<f64>,
    /// … critical.
    pub slot_wal_critical_bytes: Option<f64>,
    /// Active sessions of other applications.
    pub other_sessions: Option<f64>,
    /// … critical.
    pub other_sessions_critical: Option<f64>,
    /// Sessions waiting on ontofleet's locks.
    pub lock_waiters: Option<f64>,
    /// … critical.
    pub lock_waiters_critical: Option<f64>,
    /// Age of the oldest transaction, seconds.
    pub xact_age_secs: Option<f64>,
    /// … critical.
    pub xact_age_critical_secs: Option<f64>,
    /// SQL returning one number; > 0 throttles (gh-ost's `--throttle-query`). Empty = none.
    pub throttle_query: String,
    /// Business-hours windows.
    pub window: Vec<Window>,
}

impl Default for GovernorSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_ms: 1000,
            recover_secs: 10,
            throttle_inflight: 1,
            replay_lag_secs: None,
            replay_lag_critical_secs: None,
            replay_lag_bytes: None,
            replay_lag_critical_bytes: None,
            slot_wal_bytes: None,
            slot_wal_critical_bytes: None,
            other_sessions: None,
            other_sessions_critical: None,
            lock_waiters: None,
            lock_waiters_critical: None,
            xact_age_secs: None,
            xact_age_critical_secs: None,
            throttle_query: String::new(),
            window: Vec::new(),
        }
    }
}

impl GovernorSettings {
    /// A signal's thresholds (`throttle_query`: throttles above 0 when set).
    pub fn thresholds(&self, signal: Signal) -> Thresholds {
        let (throttle, critical) = match signal {
            Signal::ReplayLagSecs => (self.replay_lag_secs, self.replay_lag_critical_secs),
            Signal::ReplayLagBytes => (self.replay_lag_bytes, self.replay_lag_critical_bytes),
            Signal::SlotWalBytes => (self.slot_wal_bytes, self.slot_wal_critical_bytes),
            Signal::OtherSessions => (self.other_sessions, self.other_sessions_critical),
            Signal::LockWaiters => (self.lock_waiters, self.lock_waiters_critical),
            Signal::XactAgeSecs => (self.xact_age_secs, self.xact_age_critical_secs),
            Signal::ThrottleQuery => (
                (!self.throttle_query.trim().is_empty()).then_some(0.0),
                None,
            ),
        };
        Thresholds { throttle, critical }
    }

    /// The settings are usable: one line naming the first bad key.
    pub fn check(&self) -> Result<(), String> {
        if self.interval_ms < 100 {
            return Err("governor.interval_ms must be at least 100".to_owned());
        }
        if self.throttle_inflight == 0 {
            return Err("governor.throttle_inflight must be at least 1".to_owned());
        }
        for s in Signal::ALL {
            let t = self.thresholds(s);
            if let (Some(a), Some(b)) = (t.throttle, t.critical)
                && b < a
            {
                return Err(format!(
                    "governor: the critical threshold of {} is below its throttle threshold",
                    s.as_str()
                ));
            }
        }
        for (i, w) in self.window.iter().enumerate() {
            w.weekdays()
                .and_then(|_| w.times())
                .map_err(|e| format!("governor.window[{i}]: {e}"))?;
            if w.max_inflight == 0 {
                return Err(format!(
                    "governor.window[{i}].max_inflight must be at least 1"
                ));
            }
        }
        Ok(())
    }
}

/// One reading of a signal: its value, or `None` when it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The signal.
    pub signal: Signal,
    /// What it is about: a standby's name, a slot's name; `None` for fleet-wide signals.
    pub subject: Option<String>,
    /// The value; `None` = unreadable (which throttles: the governor fails closed).
    pub value: Option<f64>,
    /// Why it could not be read.
    pub error: Option<String>,
}

/// Why the verdict is what it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// The signal (`unreadable` when a configured signal could not be read, `schedule` for a
    /// business-hours window), as in `governor status --json`.
    pub signal: String,
    /// Its value (the window's cap for `schedule`).
    pub value: Option<f64>,
    /// The threshold it reached.
    pub threshold: Option<f64>,
    /// What it is about (a standby, a slot, the window's hours).
    pub subject: Option<String>,
    /// The level it calls for.
    pub level: Level,
    /// One line for people: `replay lag 7.2 s ≥ 5 s on standby replica1`.
    pub text: String,
    /// The bounded reason of the metrics.
    pub metric_reason: String,
}

/// The level a set of readings calls for with thresholds scaled by `scale` (1.0 to decide, 0.8
/// to check that everything has calmed down), and the reasons.
pub fn assess(
    settings: &GovernorSettings,
    readings: &[Reading],
    scale: f64,
) -> (Level, Vec<Reason>) {
    let mut level = Level::Ok;
    let mut reasons = Vec::new();
    for r in readings {
        let t = settings.thresholds(r.signal);
        if !t.configured() {
            continue;
        }
        let Some(value) = r.value else {
            level = level.max(Level::Throttled);
            reasons.push(Reason {
                signal: "unreadable".to_owned(),
                value: None,
                threshold: None,
                subject: Some(r.signal.as_str().to_owned()),
                level: Level::Throttled,
                text: format!(
                    "{} cannot be read{}",
                    r.signal.as_str(),
                    r.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
                metric_reason: "unreadable".to_owned(),
            });
            continue;
        };
        let hit = |limit: Option<f64>| {
            limit.filter(|l| {
                if r.signal == Signal::ThrottleQuery {
                    value > *l * scale
                } else {
                    value >= *l * scale
                }
            })
        };
        let (this, threshold) = match (hit(t.critical), hit(t.throttle)) {
            (Some(c), _) => (Level::Paused, c),
            (None, Some(th)) => (Level::Throttled, th),
            (None, None) => continue,
        };
        level = level.max(this);
        let on = r
            .subject
            .as_deref()
            .map(|s| match r.signal {
                Signal::ReplayLagSecs | Signal::ReplayLagBytes => format!(" on standby {s}"),
                Signal::SlotWalBytes => format!(" in slot {s}"),
                _ => format!(" ({s})"),
            })
            .unwrap_or_default();
        let name = r.signal.as_str().replace('_', " ");
        let name = name
            .trim_end_matches(" secs")
            .trim_end_matches(" bytes")
            .to_owned();
        reasons.push(Reason {
            signal: r.signal.as_str().to_owned(),
            value: Some(value),
            threshold: Some(threshold),
            subject: r.subject.clone(),
            level: this,
            text: if r.signal == Signal::ThrottleQuery {
                format!(
                    "throttle_query returned {}",
                    Signal::ThrottleQuery.format(value)
                )
            } else {
                format!(
                    "{name} {} ≥ {}{on}",
                    r.signal.format(value),
                    r.signal.format(threshold)
                )
            },
            metric_reason: r.signal.reason().to_owned(),
        });
    }
    (level, reasons)
}

/// The governor's current verdict with its hysteresis.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What claims obey.
    pub level: Level,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Why (the reasons of the sample that set or held the level).
    pub reasons: Vec<Reason>,
    /// Since when every signal has stayed below 80 % of its thresholds (a lower level is due
    /// once this lasts `recover_secs`).
    pub calm_since: Option<DateTime<Utc>>,
}

impl Verdict {
    /// `ok`, from `now`.
    pub fn ok(now: DateTime<Utc>) -> Self {
        Self {
            level: Level::Ok,
            since: now,
            reasons: Vec::new(),
            calm_since: None,
        }
    }

    /// Take one sample into account: a higher level applies at once; a lower one only after
    /// the readings have stayed below 80 % of the thresholds for `recover`. Returns whether the
    /// level changed.
    pub fn step(
        &mut self,
        settings: &GovernorSettings,
        readings: &[Reading],
        now: DateTime<Utc>,
        recover: Duration,
    ) -> bool {
        let (raw, reasons) = assess(settings, readings, 1.0);
        let (calm, _) = assess(settings, readings, 0.8);
        if raw > self.level {
            self.level = raw;
            self.since = now;
            self.reasons = reasons;
            self.calm_since = None;
            return true;
        }
        if raw == self.level && !reasons.is_empty() {
            self.reasons = reasons.clone();
        }
        if calm < self.level {
            let since = *self.calm_since.get_or_insert(now);
            let calm_for = (now - since).to_std().unwrap_or_default();
            if calm_for >= recover {
                self.level = calm.max(raw);
                self.since = now;
                self.reasons = reasons;
                self.calm_since = None;
                return true;
            }
        } else {
            self.calm_since = None;
        }
        false
    }
}

/// The schedule's part of the verdict: the lowest cap among the windows that cover their local
/// time now (`local`: each window's ISO weekday and time of day, in its time zone), and the
/// reason naming it.
pub fn schedule(windows: &[Window], local: &[(u32, NaiveTime)]) -> Option<(u32, Reason)> {
    windows
        .iter()
        .zip(local)
        .filter(|(w, (day, time))| w.covers(*day, *time))
        .min_by_key(|(w, _)| w.max_inflight)
        .map(|(w, _)| {
            let hours = format!("{} {}–{} {}", w.days.join(","), w.from, w.to, w.timezone);
            (
                w.max_inflight,
                Reason {
                    signal: "schedule".to_owned(),
                    value: Some(f64::from(w.max_inflight)),
                    threshold: None,
                    text: format!(
                        "business hours {hours}: at most {} in flight",
                        w.max_inflight
                    ),
                    subject: Some(hours),
                    level: Level::Throttled,
                    metric_reason: "schedule".to_owned(),
                },
            )
        })
}

#[cfg(test)]
mod tests;

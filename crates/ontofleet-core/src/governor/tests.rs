use chrono::{Duration as Chrono, NaiveTime, TimeZone, Utc};

use super::*;

fn settings() -> GovernorSettings {
    GovernorSettings {
        replay_lag_secs: Some(5.0),
        replay_lag_critical_secs: Some(30.0),
        replay_lag_bytes: Some(1_048_576.0),
        ..GovernorSettings::default()
    }
}

fn lag(subject: &str, secs: f64) -> Reading {
    Reading {
        signal: Signal::ReplayLagSecs,
        subject: Some(subject.to_owned()),
        value: Some(secs),
        error: None,
    }
}

#[test]
fn thresholds_decide_the_level_and_name_the_subject() {
    let s = settings();
    assert_eq!(assess(&s, &[lag("replica1", 1.0)], 1.0).0, Level::Ok);
    let (level, reasons) = assess(&s, &[lag("replica1", 7.2)], 1.0);
    assert_eq!(level, Level::Throttled);
    assert_eq!(
        reasons[0].text,
        "replay lag 7.2 s ≥ 5.0 s on standby replica1"
    );
    assert_eq!(reasons[0].metric_reason, "replay_lag");
    assert_eq!(assess(&s, &[lag("replica1", 31.0)], 1.0).0, Level::Paused);
    // A signal without thresholds is not checked, whatever its value.
    let other = Reading {
        signal: Signal::OtherSessions,
        subject: None,
        value: Some(1e9),
        error: None,
    };
    assert_eq!(assess(&s, &[other], 1.0).0, Level::Ok);
}

#[test]
fn a_configured_signal_that_cannot_be_read_throttles() {
    let s = settings();
    let unreadable = Reading {
        signal: Signal::ReplayLagBytes,
        subject: None,
        value: None,
        error: Some("permission denied".to_owned()),
    };
    let (level, reasons) = assess(&s, &[unreadable], 1.0);
    assert_eq!(level, Level::Throttled);
    assert_eq!(reasons[0].signal, "unreadable");
    assert!(reasons[0].text.contains("permission denied"));
    // The throttle query: > 0 throttles, 0 does not.
    let q = GovernorSettings {
        throttle_query: "SELECT 1".to_owned(),
        ..GovernorSettings::default()
    };
    let reading = |v| Reading {
        signal: Signal::ThrottleQuery,
        subject: None,
        value: Some(v),
        error: None,
    };
    assert_eq!(assess(&q, &[reading(0.0)], 1.0).0, Level::Ok);
    assert_eq!(assess(&q, &[reading(2.0)], 1.0).0, Level::Throttled);
}

#[test]
fn the_level_drops_only_after_every_signal_stayed_calm() {
    let s = settings();
    let t0 = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
    let recover = std::time::Duration::from_secs(10);
    let mut v = Verdict::ok(t0);
    assert!(v.step(&s, &[lag("r", 6.0)], t0, recover));
    assert_eq!(v.level, Level::Throttled);
    // Below the threshold but above 80 % of it: held.
    assert!(!v.step(&s, &[lag("r", 4.5)], t0 + Chrono::seconds(20), recover));
    assert_eq!(v.level, Level::Throttled);
    // Calm (below 4 s) for less than recover_secs: held; then released.
    assert!(!v.step(&s, &[lag("r", 1.0)], t0 + Chrono::seconds(21), recover));
    assert!(!v.step(&s, &[lag("r", 1.0)], t0 + Chrono::seconds(30), recover));
    assert!(v.step(&s, &[lag("r", 1.0)], t0 + Chrono::seconds(31), recover));
    assert_eq!(v.level, Level::Ok);
    assert_eq!(v.since, t0 + Chrono::seconds(31));
    // A spike in the calm period restarts it.
    v.step(&s, &[lag("r", 6.0)], t0 + Chrono::seconds(40), recover);
    v.step(&s, &[lag("r", 1.0)], t0 + Chrono::seconds(41), recover);
    v.step(&s, &[lag("r", 4.5)], t0 + Chrono::seconds(45), recover);
    assert!(!v.step(&s, &[lag("r", 1.0)], t0 + Chrono::seconds(52), recover));
    assert_eq!(v.level, Level::Throttled);
    // Critical applies at once.
    assert!(v.step(&s, &[lag("r", 40.0)], t0 + Chrono::seconds(53), recover));
    assert_eq!(v.level, Level::Paused);
}

fn window(days: &[&str], from: &str, to: &str, cap: u32) -> Window {
    Window {
        days: days.iter().map(|d| (*d).to_owned()).collect(),
        from: from.to_owned(),
        to: to.to_owned(),
        timezone: "Europe/Berlin".to_owned(),
        max_inflight: cap,
    }
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

/// Business hours on an injected clock: weekday ranges, the window's edges, a window past
/// midnight, the lowest cap of overlapping windows.
#[test]
fn business_hours_windows_on_an_injected_clock() {
    let office = window(&["mon-fri"], "08:00", "18:00", 2);
    assert_eq!(office.weekdays().unwrap(), vec![1, 2, 3, 4, 5]);
    assert!(office.covers(1, hm(8, 0)));
    assert!(office.covers(5, hm(17, 59)));
    assert!(!office.covers(5, hm(18, 0)), "`to` is exclusive");
    assert!(!office.covers(6, hm(12, 0)), "Saturday");
    let night = window(&["fri"], "22:00", "06:00", 4);
    assert!(night.covers(5, hm(23, 0)));
    assert!(
        night.covers(6, hm(5, 0)),
        "Friday's night runs into Saturday"
    );
    assert!(
        !night.covers(5, hm(5, 0)),
        "Friday morning belongs to Thursday's night"
    );
    let weekend = window(&["sat-sun", "mon"], "00:00", "23:59", 3);
    assert_eq!(weekend.weekdays().unwrap(), vec![6, 7, 1]);
    let windows = [office.clone(), night, weekend];
    // Monday 09:00 local: the office window (2) and the Monday one (3) overlap: 2 wins.
    let (cap, reason) = schedule(&windows, &[(1, hm(9, 0)), (1, hm(9, 0)), (1, hm(9, 0))]).unwrap();
    assert_eq!(cap, 2);
    assert_eq!(reason.signal, "schedule");
    assert!(
        reason.text.contains("mon-fri 08:00–18:00 Europe/Berlin"),
        "{}",
        reason.text
    );
    // Tuesday 20:00: nothing.
    assert!(schedule(&windows, &[(2, hm(20, 0)); 3]).is_none());
    assert!(
        window(&["someday"], "08:00", "09:00", 1)
            .weekdays()
            .is_err()
    );
    let bad = GovernorSettings {
        window: vec![window(&["mon"], "8am", "09:00", 1)],
        ..GovernorSettings::default()
    };
    assert!(bad.check().unwrap_err().contains("governor.window[0]"));
    assert!(settings().check().is_ok());
}

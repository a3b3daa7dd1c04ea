//! A run's pace — items per second and the time left — computed once for every view of it
//! (`run watch`, `run show`'s JSON, the dashboard and its live stream).

/// Items per second over a span, and the seconds left at that rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Items finished per second over the span (0 when nothing finished yet).
    pub rate_per_sec: f64,
    /// Seconds left at that rate; `None` when unknown (nothing finished yet) or nothing is
    /// left to do (a finished run, or every item done).
    pub eta_secs: Option<f64>,
}

impl Pace {
    /// `done` items finished in `elapsed_secs`, `left` still to do; `active` = more may come.
    pub fn of(done: i64, left: i64, elapsed_secs: f64, active: bool) -> Self {
        let rate_per_sec = if done > 0 && elapsed_secs > 0.0 {
            done as f64 / elapsed_secs
        } else {
            0.0
        };
        let eta_secs =
            (active && left > 0 && rate_per_sec > 0.0).then(|| left.max(0) as f64 / rate_per_sec);
        Self {
            rate_per_sec,
            eta_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pace;

    #[test]
    fn rate_and_time_left() {
        let p = Pace::of(30, 60, 10.0, true);
        assert_eq!(p.rate_per_sec, 3.0);
        assert_eq!(p.eta_secs, Some(20.0));
        assert_eq!(
            Pace::of(0, 60, 10.0, true).eta_secs,
            None,
            "nothing done yet"
        );
        assert_eq!(Pace::of(0, 60, 10.0, true).rate_per_sec, 0.0);
        assert_eq!(Pace::of(30, 0, 10.0, true).eta_secs, None, "nothing left");
        assert_eq!(Pace::of(30, 5, 10.0, false).eta_secs, None, "finished");
        assert_eq!(
            Pace::of(30, 5, 0.0, true).rate_per_sec,
            0.0,
            "no time elapsed"
        );
    }
}

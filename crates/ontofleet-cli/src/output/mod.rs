//! Printing: aligned tables for people, one JSON document for scripts, and the printers more
//! than one command shares (`preview` for `run preview`, `watch` for `run watch`, `run start
//! --watch` and `enqueue --watch`).

pub mod preview;
pub mod run;
pub mod watch;

use std::io::Write as _;

use chrono::{DateTime, Utc};
use ontofleet_ops::runs::{ItemCounts, StatusCount};
use serde_json::Value;

/// `println!` for command output: a reader that went away (`ontofleet jobs list | head`) ends
/// the process quietly instead of panicking on the broken pipe.
macro_rules! out {
    () => {
        $crate::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use out;

/// `print!` counterpart of [`out!`].
macro_rules! out_part {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))
    };
}
pub(crate) use out_part;

/// Write to stdout; exit 0 when the reader closed the pipe, 1 on any other write failure.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {e}");
        std::process::exit(1);
    }
}

/// Print one JSON document on stdout.
pub fn json(value: &Value) {
    out!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// Print a typed response as JSON. Through a `Value`, whose maps sort their keys: the documents
/// keep the byte layout they had when they were built by hand (`tests/golden/`).
pub fn json_of<T: serde::Serialize>(response: &T) {
    match serde_json::to_value(response) {
        Ok(v) => json(&v),
        Err(e) => eprintln!("error: cannot encode the response: {e}"),
    }
}

/// Print a typed response as one line of JSON (a command that reports as it goes, `follow`,
/// prints one document per line).
pub fn json_line<T: serde::Serialize>(response: &T) {
    match serde_json::to_value(response) {
        Ok(v) => println!("{v}"),
        Err(e) => eprintln!("error: cannot encode the response: {e}"),
    }
}

/// Print an aligned table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out!("{}", parts.join("  ").trim_end());
    };
    line(headers.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// A duration in seconds, readable.
pub fn secs(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// A value, or `-`.
pub fn or_dash<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// A time to the second, or `-`.
pub fn time(t: Option<DateTime<Utc>>) -> String {
    or_dash(t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()))
}

/// Text on one line, cut at `n` characters (`…`), or `-`.
pub fn short(s: Option<&str>, n: usize) -> String {
    match s {
        None => "-".to_owned(),
        Some(s) => {
            let one_line = s.replace('\n', " ");
            if one_line.chars().count() > n {
                format!("{}…", one_line.chars().take(n).collect::<String>())
            } else {
                one_line
            }
        }
    }
}

/// Terminal items by status, as every human-readable run view prints them.
pub fn breakdown(items: &ItemCounts) -> String {
    format!(
        "{} succeeded, {} partial, {} failed, {} skipped, {} cancelled",
        items.succeeded, items.partial, items.failed, items.skipped, items.cancelled
    )
}

/// Items by the category of their last failure (failed, skipped and retrying ones alike):
/// `recoverable 3, data 1`, or empty.
pub fn category_counts(by_status: &[StatusCount]) -> String {
    ontofleet_core::ErrorCategory::ALL
        .iter()
        .filter_map(|c| {
            let n: i64 = by_status
                .iter()
                .filter(|r| r.category.as_deref() == Some(c.as_str()))
                .map(|r| r.count)
                .sum();
            (n > 0).then(|| format!("{} {n}", c.as_str()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

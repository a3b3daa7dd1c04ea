//! Legacy BuildOS schema and deterministic synthetic legacy data.
//!
//! This crate owns the *source* side of the migration for development, tests and demos:
//!
//! * [`LEGACY_DDL`] / [`create_schema`]: the legacy planning tables (`users`, `projects`, `phases`,
//!   `phase_tasks`, `tasks`, `project_calendars`, `task_calendar_events`) and their Postgres enum
//!   types, faithful to the BuildOS schema. The DDL is idempotent and safe to run concurrently.
//! * [`seed`]: deterministic synthetic data (same [`SeedOptions`] → byte-identical rows, UUIDs
//!   and timestamps included), with a long tail of project sizes and, on request, a set of
//!   deliberately broken rows ([`SeedOptions::bad_rows`], see [`edge`]) that exercise the
//!   pipeline's entity-level error handling.
//! * [`reset`]: empty the legacy tables.
//!
//! All generated dates are relative to the fixed [`anchor`] (`2026-11-01T00:00:00Z`), never the
//! wall clock.

mod data;
pub mod edge;
mod error;
mod insert;
mod options;
mod rng;
mod schema;
mod vocab;

pub use error::SeedError;
pub use options::{SeedOptions, SeedReport};
pub use schema::{
    LEGACY_DDL, LEGACY_DDL_LOCK_KEY, LEGACY_TABLES, create_schema, legacy_schema_exists, reset,
};

use chrono::{DateTime, NaiveDate, Utc};
use std::time::Instant;

/// The fixed point in time every generated date is relative to, as RFC 3339.
pub const ANCHOR_RFC3339: &str = "2026-11-01T00:00:00Z";

/// The fixed point in time every generated date is relative to (`2026-11-01T00:00:00Z`).
///
/// Use it as the run's `reference_time` in tests to get reproducible phase states.
pub fn anchor() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(2026, 11, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("the anchor is a valid date")
        .and_utc()
}

/// Create the legacy schema if missing, then insert deterministic synthetic data.
///
/// Every row (users, projects, phases, tasks, phase links, calendars, events, and the edge cases
/// when [`SeedOptions::bad_rows`] is set) is inserted in **one transaction** with batched
/// `INSERT … SELECT FROM unnest(…)` statements; on any error nothing is written.
///
/// Row ids derive from [`SeedOptions::seed`]: seeding the same seed twice into the same database
/// fails with [`SeedError::AlreadySeeded`] (reset first), a different seed adds distinct rows.
pub async fn seed(pool: &sqlx::PgPool, opts: &SeedOptions) -> Result<SeedReport, SeedError> {
    opts.validate()?;
    create_schema(pool).await?;

    let started = Instant::now();
    let mut rng = rng::SeedRng::new(opts.seed);
    let mut buf = insert::Buffers::default();
    let mut report = SeedReport::default();
    let mut tx = pool.begin().await?;

    let mut normal = data::NormalGenerator::new(&mut rng, opts);
    while normal.next_project(&mut rng, &mut buf) {
        if buf.is_full() {
            buf.flush(&mut tx, &mut report, opts.seed).await?;
        }
    }
    if opts.giant_project_tasks > 0 {
        data::gen_giant(&mut rng, &mut buf, opts.giant_project_tasks);
        buf.flush(&mut tx, &mut report, opts.seed).await?;
    }
    if opts.bad_rows {
        edge::generate(&mut rng, opts.seed, &mut buf);
    }
    buf.flush(&mut tx, &mut report, opts.seed).await?;
    tx.commit().await?;

    tracing::info!(
        seed = opts.seed,
        users = report.users,
        projects = report.projects,
        phases = report.phases,
        phase_tasks = report.phase_tasks,
        tasks = report.tasks,
        project_calendars = report.project_calendars,
        events = report.events,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "seeded legacy tables"
    );
    Ok(report)
}

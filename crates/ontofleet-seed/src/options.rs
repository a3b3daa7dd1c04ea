//! Options of [`crate::seed`] and the report it returns.

use crate::SeedError;

/// Upper bound on `users × projects_per_user`.
pub(crate) const MAX_PROJECTS: u64 = 5_000_000;
/// Upper bound on `users × projects_per_user × tasks_per_project`.
pub(crate) const MAX_TASKS: u64 = 50_000_000;

/// What [`crate::seed`] generates.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Number of (normal) users.
    pub users: u32,
    /// Projects per user: every normal user gets exactly this many.
    pub projects_per_user: u32,
    /// Mean number of tasks per project. The total number of normal tasks is exactly
    /// `users × projects_per_user × tasks_per_project`, spread with a heavy tail (some empty
    /// projects, some with 200+ tasks).
    pub tasks_per_project: u32,
    /// Seed of the generator: same seed and options → byte-identical rows.
    pub seed: u64,
    /// Also add the edge cases of [`crate::edge`] (in their own users and projects).
    pub bad_rows: bool,
    /// Also add one user with one active project of this many tasks (0 = none).
    pub giant_project_tasks: u32,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            users: 10,
            projects_per_user: 5,
            tasks_per_project: 20,
            seed: 42,
            bad_rows: false,
            giant_project_tasks: 0,
        }
    }
}

impl SeedOptions {
    /// Number of normal projects these options generate.
    pub fn total_projects(&self) -> u64 {
        u64::from(self.users) * u64::from(self.projects_per_user)
    }

    /// Number of normal tasks these options generate (edge-case rows not included).
    pub fn total_tasks(&self) -> u64 {
        self.total_projects() * u64::from(self.tasks_per_project)
    }

    pub(crate) fn validate(&self) -> Result<(), SeedError> {
        if self.total_projects() > MAX_PROJECTS {
            return Err(SeedError::InvalidOptions(format!(
                "{} users × {} projects per user is more than the supported {MAX_PROJECTS} projects",
                self.users, self.projects_per_user
            )));
        }
        if self.total_tasks() + u64::from(self.giant_project_tasks) > MAX_TASKS {
            return Err(SeedError::InvalidOptions(format!(
                "{} projects × {} tasks per project is more than the supported {MAX_TASKS} tasks",
                self.total_projects(),
                self.tasks_per_project
            )));
        }
        Ok(())
    }
}

/// Rows inserted by one [`crate::seed`] call, per legacy table (edge cases included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Rows inserted into `users`.
    pub users: u64,
    /// Rows inserted into `projects`.
    pub projects: u64,
    /// Rows inserted into `phases`.
    pub phases: u64,
    /// Rows inserted into `phase_tasks`.
    pub phase_tasks: u64,
    /// Rows inserted into `tasks`.
    pub tasks: u64,
    /// Rows inserted into `project_calendars`.
    pub project_calendars: u64,
    /// Rows inserted into `task_calendar_events`.
    pub events: u64,
}

impl SeedReport {
    /// Sum over all tables.
    pub fn total_rows(&self) -> u64 {
        self.users
            + self.projects
            + self.phases
            + self.phase_tasks
            + self.tasks
            + self.project_calendars
            + self.events
    }
}

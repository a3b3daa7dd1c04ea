//! The job payload. It is a compatibility boundary between producer and workers of different
//! versions during a rolling deploy: change it additively only, and ignore unknown fields.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Current payload version written by this build.
pub const PAYLOAD_VERSION: u32 = 1;

/// One job = one legacy project of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectJob {
    /// Payload version; readers accept any version whose fields they understand.
    #[serde(default = "default_version")]
    pub v: u32,
    /// The run this job belongs to (`migration_runs.id`).
    pub run_id: Uuid,
    /// The legacy project to migrate (`projects.id`).
    pub project_id: Uuid,
}

fn default_version() -> u32 {
    PAYLOAD_VERSION
}

impl ProjectJob {
    /// A payload of the current version.
    pub fn new(run_id: Uuid, project_id: Uuid) -> Self {
        Self {
            v: PAYLOAD_VERSION,
            run_id,
            project_id,
        }
    }
}

/// The key of the transaction-scoped advisory lock (`pg_advisory_xact_lock`) that serialises
/// everything that writes one legacy project's ontology rows: job executions and rollbacks.
pub fn project_lock_key(project_id: Uuid) -> i64 {
    let bytes = project_id.as_bytes();
    i64::from_be_bytes(bytes[..8].try_into().unwrap_or([0; 8])) ^ 0x6f6e_746f_666c_6565
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_ignored_and_version_defaults() {
        let json = r#"{"run_id":"6f1c1f6e-0000-4000-8000-000000000001",
                       "project_id":"6f1c1f6e-0000-4000-8000-000000000002","future":true}"#;
        let job: ProjectJob = serde_json::from_str(json).unwrap();
        assert_eq!(job.v, PAYLOAD_VERSION);
        assert_eq!(
            job.project_id.to_string(),
            "6f1c1f6e-0000-4000-8000-000000000002"
        );
    }

    #[test]
    fn wire_shape_is_stable() {
        let job = ProjectJob::new(Uuid::nil(), Uuid::nil());
        assert_eq!(
            serde_json::to_string(&job).unwrap(),
            r#"{"v":1,"run_id":"00000000-0000-0000-0000-000000000000","project_id":"00000000-0000-0000-0000-000000000000"}"#
        );
    }
}

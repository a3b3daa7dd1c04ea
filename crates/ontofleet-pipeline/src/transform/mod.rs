//! From a loaded legacy project to what gets written: for every entity the ledger action
//! (insert / unchanged / resync / recreate), the ontology row, the edges, and the entity-level
//! problems. Pure: no IO, so every rule is testable without a database.
//!
//! A project is transformed in two steps, so that memory does not grow with its size: the
//! [`ProjectPlan`] (project, context document, plans, the whole desired edge set, onto ids of
//! every task and event) is built from the [`Outline`](crate::load::Outline) alone; then each
//! [`Chunk`](crate::load::Chunk) of full task rows becomes a [`TaskBatch`] of task and event rows.

mod project;
mod props;
pub mod tasks;

use serde_json::{Value, json};
use uuid::Uuid;

use chrono::{DateTime, Utc};
use ontofleet_core::ErrorCategory;

use crate::load::Mappings;

pub use project::{ProjectPlan, parent_cycles, plan_project};
pub use tasks::{TaskBatch, build_tasks};

/// Per-run settings the transform depends on.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The run.
    pub run_id: Uuid,
    /// "Now" of the run (plan states).
    pub reference_time: DateTime<Utc>,
    /// Migrate `done` tasks too.
    pub include_completed_tasks: bool,
    /// Fallback mode: scope fallback templates, rules classifier, lenient parsing.
    pub fallback: bool,
    /// Preview only.
    pub dry_run: bool,
    /// Stop before writing when the run's item for the project is missing or already terminal:
    /// a duplicate execution that waited for the project lock finds the first one's outcome.
    /// Workers set it; `run preview`, which has no item, does not.
    pub item_gate: bool,
    /// How much of a project a pass may delete.
    pub deletes: crate::delete::DeletePolicy,
}

/// What the ledger decided for one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// No mapping: insert.
    Insert,
    /// Mapping with the same checksum: nothing written.
    Unchanged,
    /// Mapping with another checksum: update in place.
    Resync,
    /// Mapping whose onto row is gone: insert with a new id and repoint the mapping.
    Recreate,
}

impl Action {
    /// `migration_log.operation` of a written entity.
    pub fn operation(self) -> &'static str {
        match self {
            Self::Insert => "migrate",
            Self::Resync => "resync",
            Self::Recreate => "recreate",
            Self::Unchanged => "skip",
        }
    }

    /// Name used in counts.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "inserted",
            Self::Unchanged => "unchanged",
            Self::Resync => "resynced",
            Self::Recreate => "recreated",
        }
    }

    /// Whether the entity's row is written.
    pub fn writes(self) -> bool {
        self != Self::Unchanged
    }
}

/// One entity to be written (or left unchanged).
#[derive(Debug, Clone)]
pub struct Entity<T> {
    /// Legacy table (`projects`, `projects.context`, `phases`, `tasks`, `task_calendar_events`).
    pub legacy_table: &'static str,
    /// Legacy id.
    pub legacy_id: Uuid,
    /// Onto id (existing for unchanged/resync).
    pub onto_id: Uuid,
    /// Ledger action.
    pub action: Action,
    /// Checksum of the legacy row.
    pub checksum: String,
    /// The ontology row.
    pub row: T,
}

/// `onto_projects` row.
#[derive(Debug, Clone)]
pub struct ProjectRow {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) type_key: String,
    pub(crate) state_key: &'static str,
    pub(crate) props: Value,
    pub(crate) facet_context: &'static str,
    pub(crate) facet_scale: &'static str,
    pub(crate) facet_stage: &'static str,
    pub(crate) start_at: Option<DateTime<Utc>>,
    pub(crate) end_at: Option<DateTime<Utc>>,
}

/// `onto_documents` row.
#[derive(Debug, Clone)]
pub struct DocumentRow {
    pub(crate) title: String,
    pub(crate) props: Value,
}

/// `onto_plans` row.
#[derive(Debug, Clone)]
pub struct PlanRow {
    pub(crate) name: String,
    pub(crate) type_key: String,
    pub(crate) state_key: &'static str,
    pub(crate) props: Value,
}

/// `onto_tasks` row.
#[derive(Debug, Clone)]
pub struct TaskRow {
    pub(crate) title: String,
    pub(crate) type_key: String,
    pub(crate) state_key: &'static str,
    pub(crate) priority: i32,
    pub(crate) due_at: Option<DateTime<Utc>>,
    pub(crate) props: Value,
}

/// `onto_events` row with its optional sync row.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub(crate) owner_task: Uuid,
    pub(crate) state_key: &'static str,
    pub(crate) title: String,
    pub(crate) start_at: DateTime<Utc>,
    pub(crate) end_at: Option<DateTime<Utc>>,
    pub(crate) recurrence: Value,
    pub(crate) external_link: Option<String>,
    pub(crate) props: Value,
    pub(crate) sync: Option<SyncRow>,
}

/// `onto_event_sync` row.
#[derive(Debug, Clone)]
pub struct SyncRow {
    pub(crate) calendar_id: Uuid,
    pub(crate) provider: String,
    pub(crate) external_event_id: String,
    pub(crate) sync_status: String,
    pub(crate) sync_error: Option<String>,
    pub(crate) last_synced_at: Option<DateTime<Utc>>,
}

/// An edge `src —rel→ dst`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Edge {
    /// Source kind.
    pub src_kind: &'static str,
    /// Source onto id.
    pub src_id: Uuid,
    /// Relation.
    pub rel: &'static str,
    /// Destination kind.
    pub dst_kind: &'static str,
    /// Destination onto id.
    pub dst_id: Uuid,
}

/// Relations this pipeline derives (and therefore owns when replacing edges).
pub const DERIVED_RELS: [&str; 7] = [
    "has_plan",
    "has_context_document",
    "has_task",
    "belongs_to_plan",
    "has_subtask",
    "depends_on",
    "has_event",
];

/// An entity-level problem, logged in `migration_log` with its category.
#[derive(Debug, Clone)]
pub struct Problem {
    /// `migration_log.entity_type`.
    pub entity_type: &'static str,
    /// Legacy table.
    pub legacy_table: &'static str,
    /// Legacy id.
    pub legacy_id: Uuid,
    /// Onto id when the entity itself was migrated (e.g. an unresolved reference).
    pub onto: Option<(&'static str, Uuid)>,
    /// `failed` or `skipped`.
    pub status: &'static str,
    /// Category.
    pub category: ErrorCategory,
    /// What went wrong.
    pub message: String,
}

/// The onto id a legacy row is written under: its mapping's when that onto row still exists,
/// else a new time-ordered one (insert, or recreate of a deleted row).
pub fn onto_id(mappings: &Mappings, table: &'static str, legacy_id: Uuid) -> Uuid {
    match mappings.get(&(table, legacy_id)) {
        Some(m) if m.present => m.onto_id,
        _ => Uuid::now_v7(),
    }
}

/// Whether a legacy row already has an onto row (so its onto id is not new).
pub fn is_mapped(mappings: &Mappings, table: &'static str, legacy_id: Uuid) -> bool {
    mappings.get(&(table, legacy_id)).is_some_and(|m| m.present)
}

/// The ledger decision for a legacy row with checksum `sum`. A row whose onto row sits under
/// another project (its legacy row moved here) is rewritten in place, which moves it here.
pub fn action(mappings: &Mappings, table: &'static str, legacy_id: Uuid, sum: &str) -> Action {
    match mappings.get(&(table, legacy_id)) {
        None => Action::Insert,
        Some(m) if !m.present => Action::Recreate,
        Some(m) if m.checksum == sum && m.home => Action::Unchanged,
        Some(_) => Action::Resync,
    }
}

/// The ledger decision and the onto id for a legacy row.
pub fn ledger_action(
    mappings: &Mappings,
    table: &'static str,
    legacy_id: Uuid,
    sum: &str,
) -> (Action, Uuid) {
    (
        action(mappings, table, legacy_id, sum),
        onto_id(mappings, table, legacy_id),
    )
}

/// Entity counts by action, summed over a project's batches.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    by_entity: [[usize; 4]; 5],
    deleted: [usize; 5],
    problems: [usize; 3],
    classified: std::collections::BTreeMap<&'static str, usize>,
    /// Entities (of [`ENTITIES`]) that were not written, by entity and status (`failed`,
    /// `skipped`).
    pub not_written: std::collections::BTreeMap<(&'static str, &'static str), usize>,
}

const ENTITIES: [&str; 5] = ["project", "document", "plan", "task", "event"];
const ACTIONS: [Action; 4] = [
    Action::Insert,
    Action::Unchanged,
    Action::Resync,
    Action::Recreate,
];

impl Tally {
    /// Count entities of kind `entity` (one of `project, document, plan, task, event`).
    pub fn entities<T>(&mut self, entity: &str, rows: &[Entity<T>]) {
        let Some(e) = ENTITIES.iter().position(|x| *x == entity) else {
            return;
        };
        for row in rows {
            let a = ACTIONS.iter().position(|x| *x == row.action).unwrap_or(0);
            self.by_entity[e][a] += 1;
        }
    }

    /// Count rows deleted, by their entity kind.
    pub fn deleted(&mut self, doomed: &[crate::delete::Doomed]) {
        for d in doomed {
            if let Some(e) = ENTITIES.iter().position(|x| *x == d.kind()) {
                self.deleted[e] += 1;
            }
        }
    }

    /// Rows deleted of kind `entity`.
    pub fn deleted_count(&self, entity: &str) -> usize {
        ENTITIES
            .iter()
            .position(|x| *x == entity)
            .map_or(0, |e| self.deleted[e])
    }

    /// Count problems by category.
    pub fn problems(&mut self, problems: &[Problem]) {
        for p in problems {
            if ENTITIES.contains(&p.entity_type) {
                *self
                    .not_written
                    .entry((p.entity_type, p.status))
                    .or_default() += 1;
            }
            let c = ErrorCategory::ALL
                .iter()
                .position(|x| *x == p.category)
                .unwrap_or(0);
            self.problems[c] += 1;
        }
    }

    /// Count the tasks each classifier answered for.
    pub fn classified(&mut self, by: &std::collections::BTreeMap<&'static str, usize>) {
        for (name, n) in by {
            *self.classified.entry(name).or_default() += n;
        }
    }

    /// Whether any entity problem was counted (the item ends `partial`).
    pub fn has_problems(&self) -> bool {
        self.problems.iter().any(|n| *n > 0)
    }

    /// Entities of kind `entity` counted with `action`.
    pub fn count(&self, entity: &str, action: Action) -> usize {
        let e = ENTITIES.iter().position(|x| *x == entity);
        let a = ACTIONS.iter().position(|x| *x == action);
        match (e, a) {
            (Some(e), Some(a)) => self.by_entity[e][a],
            _ => 0,
        }
    }

    /// Counts by entity and action, plus problems by category: the item's `counts`.
    pub fn to_json(&self, edges: &EdgeCounts, skipped_completed: usize) -> Value {
        let mut out = serde_json::Map::new();
        for (e, entity) in ENTITIES.iter().enumerate() {
            let mut m = serde_json::Map::new();
            for (a, action) in ACTIONS.iter().enumerate() {
                m.insert(action.as_str().to_owned(), json!(self.by_entity[e][a]));
            }
            m.insert("deleted".to_owned(), json!(self.deleted[e]));
            out.insert((*entity).to_owned(), Value::Object(m));
        }
        let mut by_category = serde_json::Map::new();
        for (i, c) in ErrorCategory::ALL.iter().enumerate() {
            by_category.insert(c.as_str().to_owned(), json!(self.problems[i]));
        }
        out.insert(
            "edges".to_owned(),
            json!({"desired": edges.desired, "inserted": edges.inserted, "deleted": edges.deleted}),
        );
        out.insert("skipped_completed".to_owned(), json!(skipped_completed));
        out.insert("classified".to_owned(), json!(self.classified));
        out.insert("problems".to_owned(), Value::Object(by_category));
        Value::Object(out)
    }
}

/// Edges of a project: the desired set's size, and what the writer changed.
#[derive(Debug, Clone, Copy, Default)]
pub struct EdgeCounts {
    /// Edges the legacy data implies.
    pub desired: usize,
    /// Edges inserted.
    pub inserted: usize,
    /// Edges deleted (no longer implied).
    pub deleted: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Mapping;

    #[test]
    fn ledger_action_by_mapping_and_checksum() {
        let legacy = Uuid::from_u128(1);
        let onto = Uuid::from_u128(2);
        let mut mappings = crate::load::Mappings::new();
        let (action, id) = ledger_action(&mappings, "tasks", legacy, "abc");
        assert_eq!(action, Action::Insert);
        assert_ne!(id, onto);
        let mapping = |present: bool| Mapping {
            onto_id: onto,
            checksum: "abc".to_owned(),
            present,
            home: present,
        };
        mappings.insert(("tasks", legacy), mapping(true));
        assert_eq!(
            ledger_action(&mappings, "tasks", legacy, "abc"),
            (Action::Unchanged, onto)
        );
        assert_eq!(
            ledger_action(&mappings, "tasks", legacy, "def"),
            (Action::Resync, onto)
        );
        assert_eq!(
            ledger_action(&mappings, "phases", legacy, "abc").0,
            Action::Insert,
            "table is part of the key"
        );
        mappings.insert(
            ("tasks", legacy),
            Mapping {
                home: false,
                ..mapping(true)
            },
        );
        assert_eq!(
            ledger_action(&mappings, "tasks", legacy, "abc"),
            (Action::Resync, onto),
            "a row that moved here from another project is rewritten (and moved) in place"
        );
        mappings.insert(("tasks", legacy), mapping(false));
        let (action, id) = ledger_action(&mappings, "tasks", legacy, "abc");
        assert_eq!(action, Action::Recreate);
        assert_ne!(id, onto, "a recreated row gets a new id");
        assert_eq!(
            [
                Action::Insert,
                Action::Resync,
                Action::Recreate,
                Action::Unchanged
            ]
            .map(Action::operation),
            ["migrate", "resync", "recreate", "skip"]
        );
    }
}

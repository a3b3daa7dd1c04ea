//! The entity kinds of the ontology tables, as edges (`src_kind`, `dst_kind`) and run counts
//! name them.

/// The kind of a row of `onto_table` (`onto_projects` → `project`, …, `onto_events` → `event`).
pub fn onto_kind(onto_table: &str) -> &'static str {
    match onto_table {
        "onto_projects" => "project",
        "onto_documents" => "document",
        "onto_plans" => "plan",
        "onto_tasks" => "task",
        _ => "event",
    }
}

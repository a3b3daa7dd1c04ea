//! The task-level part of the transform: one chunk of full task rows (and their calendar
//! events) becomes task and event rows, with the onto ids, references and sync-key decisions
//! the [`ProjectPlan`] made for the whole project.

use std::collections::HashMap;

use ontofleet_core::ErrorCategory;
use serde_json::{Value, json};
use uuid::Uuid;

use super::project::Unresolved;
use super::props::{complete_props, invalid_prop};
use super::{Entity, EventRow, Problem, ProjectPlan, RunContext, SyncRow, TaskRow, action};
use crate::classify::Classification;
use crate::infer::DateOrder;
use crate::load::{Chunk, Event, TaskRef};
use crate::rules;
use crate::templates::TemplateCatalog;

/// What one chunk of a project writes.
#[derive(Debug, Clone, Default)]
pub struct TaskBatch {
    /// Tasks.
    pub tasks: Vec<Entity<TaskRow>>,
    /// Events.
    pub events: Vec<Entity<EventRow>>,
    /// Problems of these tasks and events.
    pub problems: Vec<Problem>,
    /// Tasks classified, by the classifier that answered (`rules`, `openai`,
    /// `rules(fallback)`).
    pub classified: std::collections::BTreeMap<&'static str, usize>,
}

/// The chunk's tasks that migrate and whose rows are written (new or changed since their
/// mapping): the ones to classify. The others keep their props.
pub fn tasks_to_write<'a>(
    plan: &ProjectPlan,
    outline_mappings: &crate::load::Mappings,
    chunk: &'a Chunk,
) -> Vec<&'a crate::load::Row<crate::load::Task>> {
    chunk
        .tasks
        .iter()
        .filter(|t| plan.task_onto.contains_key(&t.data.id))
        .filter(|t| action(outline_mappings, "tasks", t.data.id, &t.checksum).writes())
        .collect()
}

/// Build the rows of one chunk. `classified` holds the classification of every task of
/// [`tasks_to_write`].
#[allow(clippy::too_many_arguments)]
pub fn build_tasks(
    plan: &ProjectPlan,
    mappings: &crate::load::Mappings,
    chunk: &Chunk,
    ctx: &RunContext,
    catalog: &TemplateCatalog,
    classified: &HashMap<Uuid, Classification>,
    date_order: DateOrder,
) -> TaskBatch {
    let mut problems = Vec::new();
    let mut tasks = Vec::new();
    for t in &chunk.tasks {
        let d = &t.data;
        let Some(&onto_id) = plan.task_onto.get(&d.id) else {
            // Not selected, or on a parent cycle (the plan logged that).
            continue;
        };
        let sum = t.checksum.clone();
        let action = action(mappings, "tasks", d.id, &sum);
        let (_, refs) = plan.task_refs(&TaskRef::from(d), onto_id);
        let mut unresolved = Vec::new();
        let mut excluded = Vec::new();
        for r in refs {
            match r {
                Unresolved::Problem(v) => unresolved.push(v),
                Unresolved::Excluded(v) => excluded.push(v),
            }
        }
        for r in &unresolved {
            problems.push(Problem {
                entity_type: "task_ref",
                legacy_table: "tasks",
                legacy_id: d.id,
                onto: Some(("onto_tasks", onto_id)),
                status: "skipped",
                category: ErrorCategory::Data,
                message: format!(
                    "task {}: unresolved {} reference {} ({})",
                    d.id,
                    r["kind"].as_str().unwrap_or("?"),
                    r.get("id")
                        .or_else(|| r.get("value"))
                        .unwrap_or(&Value::Null),
                    r["reason"].as_str().unwrap_or("?")
                ),
            });
        }
        // Unchanged tasks are not classified: their rows are not written.
        let classification = classified.get(&d.id).cloned().unwrap_or(Classification {
            work_mode: ontofleet_core::WorkMode::Execute,
            specialization: None,
            confidence: Some(0.0),
            classifier: "none",
            origin: None,
            reason: None,
        });
        let task_text = format!("{} {}", d.title, d.description.as_deref().unwrap_or(""));
        let (type_key, _) =
            catalog.resolve("task", &classification.type_key(), &task_text, ctx.fallback);
        let recurrence = (d.recurrence_pattern.is_some() || d.recurrence_ends.is_some() || d.recurrence_end_source.is_some())
            .then(|| json!({"pattern": d.recurrence_pattern, "ends": d.recurrence_ends, "end_source": d.recurrence_end_source}));
        let mut props = catalog.default_props(&type_key);
        rules::deep_merge(
            &mut props,
            json!({
                "description": d.description,
                "details": d.details,
                "task_steps": d.task_steps,
                "duration_minutes": d.duration_minutes,
                "task_type": d.task_type,
                "recurrence": recurrence,
                "completed_at": d.completed_at,
                "source": d.source,
                "source_calendar_event_id": d.source_calendar_event_id,
                "outdated": d.outdated,
                "classification": classification_props(&classification),
                "legacy": {
                    "id": d.id, "status": d.status, "priority": d.priority,
                    "parent_task_id": d.parent_task_id, "dependencies": d.dependencies,
                },
                "unresolved_refs": (!unresolved.is_empty()).then_some(unresolved),
                "excluded_refs": (!excluded.is_empty()).then_some(excluded),
            }),
        );
        let text = format!(
            "{}\n{}",
            d.description.as_deref().unwrap_or(""),
            d.details.as_deref().unwrap_or("")
        );
        for bad in complete_props(catalog.schema(&type_key), &mut props, &text, date_order) {
            problems.push(invalid_prop(
                "task_prop",
                "tasks",
                d.id,
                ("onto_tasks", onto_id),
                bad,
            ));
        }
        tasks.push(Entity {
            legacy_table: "tasks",
            legacy_id: d.id,
            onto_id,
            action,
            checksum: sum,
            row: TaskRow {
                title: d.title.clone(),
                type_key,
                state_key: rules::task_state(&d.status),
                priority: rules::task_priority(&d.priority),
                due_at: d.start_date,
                props,
            },
        });
    }

    // Events of the chunk's selected tasks.
    let mut events = Vec::new();
    for e in chunk
        .events
        .iter()
        .filter(|e| plan.selected.contains(&e.data.task_id))
    {
        let d = &e.data;
        let Some(owner) = plan.task_onto.get(&d.task_id).copied() else {
            problems.push(event_problem(
                d,
                "skipped",
                ErrorCategory::Data,
                format!("owner task {} was not migrated", d.task_id),
            ));
            continue;
        };
        let Some(start_at) = d.event_start else {
            problems.push(event_problem(
                d,
                "skipped",
                ErrorCategory::Data,
                format!("calendar event {} has no event_start", d.id),
            ));
            continue;
        };
        let Some(&onto_id) = plan.event_onto.get(&d.id) else {
            // The outline and the rows come from one snapshot, so the plan knows every event
            // that migrates; one it does not know is not written rather than written unlinked.
            continue;
        };
        let sum = e.checksum.clone();
        let action = action(mappings, "task_calendar_events", d.id, &sum);
        let provider = d.sync_source.clone().unwrap_or_else(|| "google".to_owned());
        let sync = match d.project_calendar_id {
            Some(calendar_id) if !plan.sync_duplicates.contains(&d.id) => Some(SyncRow {
                calendar_id,
                provider,
                external_event_id: d.calendar_event_id.clone(),
                sync_status: d.sync_status.clone(),
                sync_error: d.sync_error.clone(),
                last_synced_at: d.last_synced_at,
            }),
            Some(calendar_id) => {
                problems.push(event_problem(
                    d,
                    "skipped",
                    ErrorCategory::Data,
                    format!("sync row of event {} duplicates external event {} on calendar {calendar_id}; event kept without it", d.id, d.calendar_event_id),
                ));
                None
            }
            None => None,
        };
        events.push(Entity {
            legacy_table: "task_calendar_events",
            legacy_id: d.id,
            onto_id,
            action,
            checksum: sum,
            row: EventRow {
                owner_task: owner,
                state_key: rules::event_state(&d.sync_status),
                title: d.event_title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| "Task work session".to_owned()),
                start_at,
                end_at: d.event_end,
                recurrence: rules::strip_nulls(json!({
                    "rule": d.recurrence_rule,
                    "master_id": d.recurrence_master_id,
                    "instance_date": d.recurrence_instance_date,
                    "is_master": d.is_master_event,
                    "is_exception": d.is_exception,
                    "exception_type": d.exception_type,
                    "original_start_time": d.original_start_time,
                    "series_update_scope": d.series_update_scope,
                })),
                external_link: d.event_link.clone(),
                props: json!({
                    "attendees": d.attendees,
                    "organizer": rules::strip_nulls(json!({
                        "email": d.organizer_email, "display_name": d.organizer_display_name, "self": d.organizer_self,
                    })),
                    "calendar_id": d.calendar_id,
                    "sync": {
                        "source": d.sync_source, "status": d.sync_status, "error": d.sync_error,
                        "version": d.sync_version, "last_synced_at": d.last_synced_at,
                    },
                    "legacy": {"id": d.id, "task_id": d.task_id},
                }),
                sync,
            },
        });
    }

    TaskBatch {
        tasks,
        events,
        problems,
        classified: Default::default(),
    }
}

fn event_problem(
    e: &Event,
    status: &'static str,
    category: ErrorCategory,
    message: String,
) -> Problem {
    Problem {
        entity_type: "calendar",
        legacy_table: "task_calendar_events",
        legacy_id: e.id,
        onto: None,
        status,
        category,
        message,
    }
}

/// `props.classification`: what chose the work mode; model, prompt version and the reason of a
/// fallback only where there is one.
fn classification_props(c: &Classification) -> Value {
    let mut props = json!({
        "work_mode": c.work_mode.as_str(),
        "specialization": c.specialization,
        "confidence": c.confidence,
        "classifier": c.classifier,
    });
    if let Some(origin) = &c.origin {
        props["model"] = json!(origin.model);
        props["prompt_version"] = json!(origin.prompt_version);
    }
    if let Some(reason) = &c.reason {
        props["reason"] = json!(reason);
    }
    props
}

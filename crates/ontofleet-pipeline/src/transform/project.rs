//! The project-level part of the transform, built from the outline before any full task row
//! is read: the project, its context document, its plans, the onto id of every task and event
//! that will be written, and the complete desired edge set.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use ontofleet_core::ErrorCategory;
use serde_json::{Value, json};
use uuid::Uuid;

use super::props::{complete_props, invalid_prop};
use super::{
    DocumentRow, Edge, Entity, PlanRow, Problem, ProjectRow, RunContext, is_mapped, ledger_action,
    onto_id,
};
use crate::checksum::checksum;
use crate::infer::DateOrder;
use crate::load::{CORE_VALUE_COLUMNS, Outline, TaskRef};
use crate::rules;
use crate::templates::TemplateCatalog;

/// What the outline decides for the whole project.
#[derive(Debug, Clone)]
pub struct ProjectPlan {
    /// The project.
    pub project: Entity<ProjectRow>,
    /// The context document, if the project has context.
    pub document: Option<Entity<DocumentRow>>,
    /// Plans.
    pub plans: Vec<Entity<PlanRow>>,
    /// The complete desired edge set of the project.
    pub edges: BTreeSet<Edge>,
    /// Problems of the project, its phases, phase links and parent cycles.
    pub problems: Vec<Problem>,
    /// `done` tasks left out (no `--include-completed-tasks`).
    pub skipped_completed: usize,
    /// Tasks selected by the run (done ones only with `--include-completed-tasks`).
    pub(crate) selected: HashSet<Uuid>,
    /// Onto id of every task that migrates (selected, not on a parent cycle).
    pub(crate) task_onto: HashMap<Uuid, Uuid>,
    /// Onto id of every event that migrates (owner migrates, has a start).
    pub(crate) event_onto: HashMap<Uuid, Uuid>,
    /// Events whose sync row would duplicate an earlier event's (calendar, provider, id).
    pub(crate) sync_duplicates: HashSet<Uuid>,
    /// Selected tasks on a parent cycle, with the message naming it.
    pub(crate) cycles: HashMap<Uuid, String>,
    /// Every non-deleted task of the project, selected or not.
    pub(crate) all_tasks: HashSet<Uuid>,
    /// Soft-deleted tasks of the project.
    pub(crate) deleted_tasks: HashSet<Uuid>,
    /// Onto ids of plans whose edges are the project's (migrated plans, and plans migrated
    /// before their phase went bad).
    plan_onto: HashMap<Uuid, Uuid>,
    /// Whether every edge source (project, document, plans, tasks) gets a new onto id.
    all_fresh: bool,
}

impl ProjectPlan {
    /// Whether every edge source gets a new onto id (a first migration): then no edge can exist
    /// yet and the edge diff needs no lookup.
    pub fn all_fresh(&self) -> bool {
        self.all_fresh
    }

    /// Onto ids of every edge source of the project (for the edge diff).
    pub fn onto_ids(&self) -> Vec<Uuid> {
        let mut ids = vec![self.project.onto_id];
        ids.extend(self.document.iter().map(|d| d.onto_id));
        ids.extend(self.plan_onto.values().copied());
        ids.extend(self.task_onto.values().copied());
        ids.sort();
        ids.dedup();
        ids
    }
}

/// A reference of a task to another task (parent or dependency) that does not become an edge.
pub(crate) enum Unresolved {
    /// A data problem: the target is not a migrating task of this project.
    Problem(Value),
    /// The run's selection left the target out (a done task, a deleted one): not an error.
    Excluded(Value),
}

pub(crate) const EXCLUDED_COMPLETED: &str = "target is a completed task left out of this run";

impl ProjectPlan {
    /// The edges a task's own references imply (`has_subtask` from its parent, `depends_on` to
    /// its dependencies), and the references that resolve to nothing.
    pub(crate) fn task_refs(&self, t: &TaskRef, onto: Uuid) -> (Vec<Edge>, Vec<Unresolved>) {
        let mut edges = Vec::new();
        let mut unresolved = Vec::new();
        let mut not_uuid = Vec::new();
        let mut unresolvable = |kind: &str, target: Uuid| {
            let reason = self.ref_reason(target, t.id);
            // Targets left out by the run's selection (done tasks without
            // --include-completed-tasks, soft-deleted tasks) are not data errors.
            if reason == EXCLUDED_COMPLETED || self.deleted_tasks.contains(&target) {
                let reason = if reason == EXCLUDED_COMPLETED {
                    reason
                } else {
                    "target task is deleted"
                };
                unresolved.push(Unresolved::Excluded(
                    json!({"kind": kind, "id": target, "reason": reason}),
                ));
            } else {
                unresolved.push(Unresolved::Problem(
                    json!({"kind": kind, "id": target, "reason": reason}),
                ));
            }
        };
        if let Some(parent) = t.parent_task_id {
            match self.task_onto.get(&parent) {
                Some(parent_onto) if parent != t.id => edges.push(Edge {
                    src_kind: "task",
                    src_id: *parent_onto,
                    rel: "has_subtask",
                    dst_kind: "task",
                    dst_id: onto,
                }),
                _ => unresolvable("parent", parent),
            }
        }
        for dep in t.dependencies.iter().flatten() {
            match dep.parse::<Uuid>() {
                Ok(dep_id) => match self.task_onto.get(&dep_id) {
                    Some(dep_onto) if dep_id != t.id => edges.push(Edge {
                        src_kind: "task",
                        src_id: onto,
                        rel: "depends_on",
                        dst_kind: "task",
                        dst_id: *dep_onto,
                    }),
                    _ => unresolvable("dependency", dep_id),
                },
                Err(_) => not_uuid.push(Unresolved::Problem(
                    json!({"kind": "dependency", "value": dep, "reason": "not a uuid"}),
                )),
            }
        }
        unresolved.extend(not_uuid);
        (edges, unresolved)
    }

    fn ref_reason(&self, target: Uuid, me: Uuid) -> &'static str {
        if target == me {
            "self reference"
        } else if self.cycles.contains_key(&target) {
            "target skipped (parent cycle)"
        } else if self.all_tasks.contains(&target) {
            EXCLUDED_COMPLETED
        } else {
            "not a task of this project"
        }
    }
}

/// Tasks on a `parent_task_id` cycle, each with a message naming its cycle.
pub fn parent_cycles(tasks: &[&TaskRef]) -> HashMap<Uuid, String> {
    let parent: HashMap<Uuid, Uuid> = tasks
        .iter()
        .filter_map(|t| t.parent_task_id.map(|p| (t.id, p)))
        .collect();
    let mut on_cycle = HashMap::new();
    let mut done: HashSet<Uuid> = HashSet::new();
    for start in tasks.iter().map(|t| t.id) {
        let mut path: Vec<Uuid> = Vec::new();
        let mut seen: HashMap<Uuid, usize> = HashMap::new();
        let mut cur = Some(start);
        while let Some(node) = cur {
            if done.contains(&node) {
                break;
            }
            if let Some(&pos) = seen.get(&node) {
                let cycle = &path[pos..];
                let mut names: Vec<String> = cycle.iter().map(Uuid::to_string).collect();
                names.push(node.to_string());
                let message = format!("parent_task_id cycle: {}", names.join(" → "));
                for id in cycle {
                    on_cycle.insert(*id, message.clone());
                }
                break;
            }
            seen.insert(node, path.len());
            path.push(node);
            cur = parent.get(&node).copied();
        }
        done.extend(path);
    }
    on_cycle
}

fn date_to_ts(d: Option<chrono::NaiveDate>) -> Option<DateTime<Utc>> {
    d.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
}

/// Plan the project from its outline.
pub fn plan_project(
    outline: &Outline,
    ctx: &RunContext,
    catalog: &TemplateCatalog,
    date_order: DateOrder,
) -> ProjectPlan {
    let p = &outline.project.data;
    let selected_refs: Vec<&TaskRef> = outline
        .tasks
        .iter()
        .filter(|t| ctx.include_completed_tasks || t.status != "done")
        .collect();
    let skipped_completed = outline.tasks.len() - selected_refs.len();
    let selected = selected_refs.len();
    let mut problems = Vec::new();
    let mut edges = BTreeSet::new();

    // Project.
    let project_sum = outline.project.checksum.clone();
    let (action, project_onto) = ledger_action(&outline.mappings, "projects", p.id, &project_sum);
    let tags = p.tags.clone().unwrap_or_default();
    let keyword_text = format!(
        "{} {} {}",
        p.name,
        p.description.as_deref().unwrap_or(""),
        tags.join(" ")
    );
    let facet_context = rules::project_context(&keyword_text);
    let facet_scale = rules::project_scale(selected);
    let facet_stage = rules::project_stage(&p.status);
    let (type_key, _) = catalog.resolve(
        "project",
        rules::propose_project_key(&keyword_text),
        &keyword_text,
        ctx.fallback,
    );
    let core_values: serde_json::Map<String, Value> = CORE_VALUE_COLUMNS
        .iter()
        .filter_map(|c| {
            let v = outline.project.raw.get(*c)?;
            (!v.is_null()).then(|| (c.trim_start_matches("core_").to_owned(), v.clone()))
        })
        .collect();
    let mut props = catalog.default_props(&type_key);
    rules::deep_merge(
        &mut props,
        json!({
            "description": p.description,
            "executive_summary": p.executive_summary,
            "tags": p.tags,
            "core_values": core_values,
            "source": p.source,
            "source_metadata": p.source_metadata,
            "calendar": rules::strip_nulls(json!({
                "color_id": p.calendar_color_id,
                "settings": p.calendar_settings,
                "sync_enabled": p.calendar_sync_enabled,
            })),
            "legacy": {"id": p.id, "slug": p.slug, "status": p.status, "user_id": p.user_id},
            "facets": {"context": facet_context, "scale": facet_scale, "stage": facet_stage},
        }),
    );
    let project_text = format!(
        "{}\n{}",
        p.description.as_deref().unwrap_or(""),
        p.executive_summary.as_deref().unwrap_or("")
    );
    for bad in complete_props(
        catalog.schema(&type_key),
        &mut props,
        &project_text,
        date_order,
    ) {
        problems.push(invalid_prop(
            "project_prop",
            "projects",
            p.id,
            ("onto_projects", project_onto),
            bad,
        ));
    }
    let project = Entity {
        legacy_table: "projects",
        legacy_id: p.id,
        onto_id: project_onto,
        action,
        checksum: project_sum,
        row: ProjectRow {
            name: p.name.clone(),
            description: p.description.clone(),
            type_key,
            state_key: rules::project_state(&p.status),
            props,
            facet_context,
            facet_scale,
            facet_stage,
            start_at: date_to_ts(p.start_date),
            end_at: date_to_ts(p.end_date),
        },
    };

    // Context document.
    let document = p
        .context
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(|context| {
            let sum = checksum(&json!({"project_id": p.id, "name": p.name, "context": context}));
            let (action, onto_id) =
                ledger_action(&outline.mappings, "projects.context", p.id, &sum);
            edges.insert(Edge {
                src_kind: "project",
                src_id: project_onto,
                rel: "has_context_document",
                dst_kind: "document",
                dst_id: onto_id,
            });
            Entity {
                legacy_table: "projects.context",
                legacy_id: p.id,
                onto_id,
                action,
                checksum: sum,
                row: DocumentRow {
                    title: format!("{} — Context", p.name),
                    props: json!({"body_markdown": context, "legacy": {"project_id": p.id}}),
                },
            }
        });

    // Tasks: cycles first, so that plans count only tasks that migrate.
    let cycles = parent_cycles(&selected_refs);
    for t in &selected_refs {
        if let Some(message) = cycles.get(&t.id) {
            problems.push(Problem {
                entity_type: "task",
                legacy_table: "tasks",
                legacy_id: t.id,
                onto: None,
                status: "skipped",
                category: ErrorCategory::Fatal,
                message: message.clone(),
            });
        }
    }
    let mut all_fresh = !is_mapped(&outline.mappings, "projects", p.id)
        && document
            .as_ref()
            .is_none_or(|d| !is_mapped(&outline.mappings, "projects.context", d.legacy_id));
    let mut task_onto: HashMap<Uuid, Uuid> = HashMap::with_capacity(selected_refs.len());
    for t in selected_refs.iter().filter(|t| !cycles.contains_key(&t.id)) {
        all_fresh &= !is_mapped(&outline.mappings, "tasks", t.id);
        task_onto.insert(t.id, onto_id(&outline.mappings, "tasks", t.id));
    }

    // Phase links of migrating tasks: same-project ones become memberships.
    let phase_ids: HashSet<Uuid> = outline.phases.iter().map(|ph| ph.data.id).collect();
    let mut memberships: BTreeSet<(Uuid, Uuid)> = BTreeSet::new();
    for link in &outline.links {
        if !task_onto.contains_key(&link.task_id) {
            continue;
        }
        if link.phase_project_id != p.id || !phase_ids.contains(&link.phase_id) {
            problems.push(Problem {
                entity_type: "phase_task",
                legacy_table: "phase_tasks",
                legacy_id: link.id,
                onto: None,
                status: "skipped",
                category: ErrorCategory::Data,
                message: format!(
                    "phase_tasks {} links task {} to phase {} of another project ({}); link ignored",
                    link.id, link.task_id, link.phase_id, link.phase_project_id
                ),
            });
            continue;
        }
        memberships.insert((link.phase_id, link.task_id));
    }
    let mut members_of: HashMap<Uuid, usize> = HashMap::new();
    for (phase, _) in &memberships {
        *members_of.entry(*phase).or_default() += 1;
    }

    // Plans.
    let mut plans = Vec::new();
    let mut plan_onto: HashMap<Uuid, Uuid> = HashMap::new();
    for ph in &outline.phases {
        let d = &ph.data;
        let sum = ph.checksum.clone();
        let (action, onto_id) = ledger_action(&outline.mappings, "phases", d.id, &sum);
        match rules::plan_state(d.start_date, d.end_date, ctx.reference_time) {
            Err(message) => {
                problems.push(Problem {
                    entity_type: "phase",
                    legacy_table: "phases",
                    legacy_id: d.id,
                    onto: None,
                    status: "failed",
                    category: ErrorCategory::Data,
                    message,
                });
                // A plan migrated before the data went bad keeps its edges.
                if matches!(action, super::Action::Unchanged | super::Action::Resync) {
                    plan_onto.insert(d.id, onto_id);
                    all_fresh = false;
                }
            }
            Ok(state_key) => {
                all_fresh &= !is_mapped(&outline.mappings, "phases", d.id);
                plan_onto.insert(d.id, onto_id);
                let task_count = members_of.get(&d.id).copied().unwrap_or(0);
                let (type_key, _) =
                    catalog.resolve("plan", "plan.phase.project", &d.name, ctx.fallback);
                let mut props = catalog.default_props(&type_key);
                rules::deep_merge(
                    &mut props,
                    json!({
                        "description": d.description,
                        "order": d.order,
                        "schedule": {"start_date": d.start_date, "end_date": d.end_date},
                        "scheduling_method": d.scheduling_method,
                        "task_count": task_count,
                        "legacy": {"id": d.id},
                    }),
                );
                plans.push(Entity {
                    legacy_table: "phases",
                    legacy_id: d.id,
                    onto_id,
                    action,
                    checksum: sum,
                    row: PlanRow {
                        name: d.name.clone(),
                        type_key,
                        state_key,
                        props,
                    },
                });
            }
        }
    }
    for plan in plan_onto.values() {
        edges.insert(Edge {
            src_kind: "project",
            src_id: project_onto,
            rel: "has_plan",
            dst_kind: "plan",
            dst_id: *plan,
        });
    }
    for (phase, task) in &memberships {
        if let (Some(plan), Some(task)) = (plan_onto.get(phase), task_onto.get(task)) {
            edges.insert(Edge {
                src_kind: "plan",
                src_id: *plan,
                rel: "has_task",
                dst_kind: "task",
                dst_id: *task,
            });
            edges.insert(Edge {
                src_kind: "task",
                src_id: *task,
                rel: "belongs_to_plan",
                dst_kind: "plan",
                dst_id: *plan,
            });
        }
    }

    // Events of migrating tasks that have a start; the first event (by start, then id) to claim
    // a sync key keeps its sync row.
    let selected_ids: HashSet<Uuid> = selected_refs.iter().map(|t| t.id).collect();
    let mut event_onto: HashMap<Uuid, Uuid> = HashMap::new();
    let mut sync_keys: HashSet<(Uuid, &str, &str)> = HashSet::new();
    let mut sync_duplicates = HashSet::new();
    for e in &outline.events {
        if !selected_ids.contains(&e.task_id) || e.event_start.is_none() {
            continue;
        }
        let Some(owner) = task_onto.get(&e.task_id) else {
            continue;
        };
        let onto = onto_id(&outline.mappings, "task_calendar_events", e.id);
        event_onto.insert(e.id, onto);
        edges.insert(Edge {
            src_kind: "task",
            src_id: *owner,
            rel: "has_event",
            dst_kind: "event",
            dst_id: onto,
        });
        if let Some(calendar) = e.project_calendar_id {
            let provider = e.sync_source.as_deref().unwrap_or("google");
            if !sync_keys.insert((calendar, provider, e.calendar_event_id.as_str())) {
                sync_duplicates.insert(e.id);
            }
        }
    }

    let mut plan = ProjectPlan {
        project,
        document,
        plans,
        edges,
        problems,
        skipped_completed,
        selected: selected_ids,
        task_onto,
        event_onto,
        sync_duplicates,
        cycles,
        all_tasks: outline.tasks.iter().map(|t| t.id).collect(),
        deleted_tasks: outline.deleted_task_ids.clone(),
        plan_onto,
        all_fresh,
    };
    // Task references: parent and dependency edges.
    let mut ref_edges = Vec::new();
    for t in &selected_refs {
        if let Some(onto) = plan.task_onto.get(&t.id) {
            ref_edges.extend(plan.task_refs(t, *onto).0);
        }
    }
    plan.edges.extend(ref_edges);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: u128, parent: Option<u128>) -> TaskRef {
        TaskRef {
            id: Uuid::from_u128(id),
            parent_task_id: parent.map(Uuid::from_u128),
            dependencies: None,
            status: "backlog".to_owned(),
        }
    }

    #[test]
    fn parent_cycles_find_only_tasks_on_the_loop() {
        // 1 ↔ 2 is a cycle, 3 is a child of 1 (not on it), 4 → 5 → 6 → 4 is a 3-cycle, 7 → 8 is a chain.
        let tasks = [
            task(1, Some(2)),
            task(2, Some(1)),
            task(3, Some(1)),
            task(4, Some(5)),
            task(5, Some(6)),
            task(6, Some(4)),
            task(7, Some(8)),
            task(8, None),
            task(9, Some(9)),
        ];
        let refs: Vec<&TaskRef> = tasks.iter().collect();
        let cycles = parent_cycles(&refs);
        let mut on: Vec<u128> = cycles.keys().map(|u| u.as_u128()).collect();
        on.sort_unstable();
        assert_eq!(on, vec![1, 2, 4, 5, 6, 9]);
        assert!(cycles[&Uuid::from_u128(4)].starts_with("parent_task_id cycle: "));
        assert_eq!(
            cycles[&Uuid::from_u128(4)].matches('→').count(),
            3,
            "the message names the whole loop"
        );
    }
}

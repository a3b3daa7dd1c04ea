//! From a loaded legacy project to a [`ChangeSet`]: for every entity the ledger action
//! (insert / unchanged / resync / recreate), the ontology row, the edges, and the entity-level
//! problems. Pure: no IO, so every rule is testable without a database.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use ontofleet_core::ErrorCategory;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::checksum::checksum;
use crate::classify::Classification;
use crate::infer::{self, DateOrder};
use crate::load::{CORE_VALUE_COLUMNS, Event, LegacyProject, Mapping, Task};
use crate::rules;
use crate::templates::TemplateCatalog;

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

/// The ledger decision for a legacy row: action and the onto id to use.
pub fn ledger_action(
    mappings: &HashMap<(String, Uuid), Mapping>,
    table: &str,
    legacy_id: Uuid,
    sum: &str,
) -> (Action, Uuid) {
    match mappings.get(&(table.to_owned(), legacy_id)) {
        None => (Action::Insert, Uuid::now_v7()),
        Some(m) if !m.present => (Action::Recreate, Uuid::now_v7()),
        Some(m) if m.checksum == sum => (Action::Unchanged, m.onto_id),
        Some(m) => (Action::Resync, m.onto_id),
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

/// Everything one execution writes for a project.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    /// The project.
    pub project: Entity<ProjectRow>,
    /// The context document, if the project has context.
    pub document: Option<Entity<DocumentRow>>,
    /// Plans.
    pub plans: Vec<Entity<PlanRow>>,
    /// Tasks.
    pub tasks: Vec<Entity<TaskRow>>,
    /// Events.
    pub events: Vec<Entity<EventRow>>,
    /// The complete desired edge set of the project.
    pub edges: BTreeSet<Edge>,
    /// Entity-level problems.
    pub problems: Vec<Problem>,
    /// `done` tasks left out (no `--include-completed-tasks`).
    pub skipped_completed: usize,
}

/// Tasks selected for migration, and how many `done` ones were left out.
pub fn select_tasks<'a>(
    legacy: &'a LegacyProject,
    ctx: &RunContext,
) -> (Vec<&'a crate::load::Row<Task>>, usize) {
    let mut skipped = 0;
    let selected = legacy
        .tasks
        .iter()
        .filter(|t| {
            let keep = ctx.include_completed_tasks || t.data.status != "done";
            skipped += usize::from(!keep);
            keep
        })
        .collect();
    (selected, skipped)
}

/// Tasks on a `parent_task_id` cycle, each with a message naming its cycle.
pub fn parent_cycles(tasks: &[&Task]) -> HashMap<Uuid, String> {
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

/// Build the change set. `classifications` holds one entry per task in `tasks_to_classify`
/// order (the selected tasks whose rows are written).
pub fn build(
    legacy: &LegacyProject,
    ctx: &RunContext,
    catalog: &TemplateCatalog,
    classified: &HashMap<Uuid, Classification>,
    date_order: DateOrder,
) -> ChangeSet {
    let p = &legacy.project.data;
    let (selected, skipped_completed) = select_tasks(legacy, ctx);
    let mut problems = Vec::new();
    let mut edges = BTreeSet::new();

    // Project.
    let project_sum = legacy.project.checksum.clone();
    let (action, project_onto) = ledger_action(&legacy.mappings, "projects", p.id, &project_sum);
    let tags = p.tags.clone().unwrap_or_default();
    let keyword_text = format!(
        "{} {} {}",
        p.name,
        p.description.as_deref().unwrap_or(""),
        tags.join(" ")
    );
    let facet_context = rules::project_context(&keyword_text);
    let facet_scale = rules::project_scale(selected.len());
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
            let v = legacy.project.raw.get(*c)?;
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
            let (action, onto_id) = ledger_action(&legacy.mappings, "projects.context", p.id, &sum);
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
    let task_refs: Vec<&Task> = selected.iter().map(|t| &t.data).collect();
    let cycles = parent_cycles(&task_refs);
    let migrating: Vec<&crate::load::Row<Task>> = selected
        .iter()
        .copied()
        .filter(|t| !cycles.contains_key(&t.data.id))
        .collect();
    for t in &selected {
        if let Some(message) = cycles.get(&t.data.id) {
            problems.push(Problem {
                entity_type: "task",
                legacy_table: "tasks",
                legacy_id: t.data.id,
                onto: None,
                status: "skipped",
                category: ErrorCategory::Fatal,
                message: message.clone(),
            });
        }
    }
    let mut task_onto: HashMap<Uuid, Uuid> = HashMap::new();
    let mut task_actions: Vec<(Action, String)> = Vec::new();
    for t in &migrating {
        let sum = t.checksum.clone();
        let (action, onto_id) = ledger_action(&legacy.mappings, "tasks", t.data.id, &sum);
        task_onto.insert(t.data.id, onto_id);
        task_actions.push((action, sum));
    }

    // Phase links of migrating tasks: same-project ones become memberships.
    let phase_ids: HashSet<Uuid> = legacy.phases.iter().map(|ph| ph.data.id).collect();
    let mut memberships: BTreeSet<(Uuid, Uuid)> = BTreeSet::new();
    for link in &legacy.links {
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

    // Plans.
    let mut plans = Vec::new();
    let mut plan_onto: HashMap<Uuid, Uuid> = HashMap::new();
    for ph in &legacy.phases {
        let d = &ph.data;
        let sum = ph.checksum.clone();
        let (action, onto_id) = ledger_action(&legacy.mappings, "phases", d.id, &sum);
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
                if matches!(action, Action::Unchanged | Action::Resync) {
                    plan_onto.insert(d.id, onto_id);
                }
            }
            Ok(state_key) => {
                plan_onto.insert(d.id, onto_id);
                let task_count = memberships
                    .iter()
                    .filter(|(phase, _)| *phase == d.id)
                    .count();
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

    // Task rows, references and edges.
    let all_task_ids: HashSet<Uuid> = legacy.tasks.iter().map(|t| t.data.id).collect();
    let mut tasks = Vec::new();
    for (t, (action, sum)) in migrating.iter().zip(task_actions) {
        let d = &t.data;
        let onto_id = task_onto[&d.id];
        let mut unresolved = Vec::new();
        let mut excluded = Vec::new();
        let mut not_uuid = Vec::new();
        let mut unresolvable = |kind: &str, target: Uuid| {
            let reason = ref_reason(target, d.id, &all_task_ids, &cycles);
            let entry = json!({"kind": kind, "id": target, "reason": reason});
            // Targets left out by the run's selection (done tasks without
            // --include-completed-tasks, soft-deleted tasks) are not data errors.
            if reason == EXCLUDED_COMPLETED || legacy.deleted_task_ids.contains(&target) {
                let reason = if reason == EXCLUDED_COMPLETED {
                    reason
                } else {
                    "target task is deleted"
                };
                excluded.push(json!({"kind": kind, "id": target, "reason": reason}));
            } else {
                unresolved.push(entry);
            }
        };
        if let Some(parent) = d.parent_task_id {
            match task_onto.get(&parent) {
                Some(parent_onto) if parent != d.id => {
                    edges.insert(Edge {
                        src_kind: "task",
                        src_id: *parent_onto,
                        rel: "has_subtask",
                        dst_kind: "task",
                        dst_id: onto_id,
                    });
                }
                _ => unresolvable("parent", parent),
            }
        }
        for dep in d.dependencies.iter().flatten() {
            match dep.parse::<Uuid>() {
                Ok(dep_id) => match task_onto.get(&dep_id) {
                    Some(dep_onto) if dep_id != d.id => {
                        edges.insert(Edge {
                            src_kind: "task",
                            src_id: onto_id,
                            rel: "depends_on",
                            dst_kind: "task",
                            dst_id: *dep_onto,
                        });
                    }
                    _ => unresolvable("dependency", dep_id),
                },
                Err(_) => not_uuid
                    .push(json!({"kind": "dependency", "value": dep, "reason": "not a uuid"})),
            }
        }
        unresolved.extend(not_uuid);
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
            confidence: 0.0,
            classifier: "none",
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
                "classification": {
                    "work_mode": classification.work_mode.as_str(),
                    "specialization": classification.specialization,
                    "confidence": classification.confidence,
                    "classifier": classification.classifier,
                },
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

    // Events of the selected tasks.
    let selected_ids: HashSet<Uuid> = selected.iter().map(|t| t.data.id).collect();
    let mut sync_keys: HashSet<(Uuid, String, String)> = HashSet::new();
    let mut events = Vec::new();
    for e in legacy
        .events
        .iter()
        .filter(|e| selected_ids.contains(&e.data.task_id))
    {
        let d = &e.data;
        let Some(owner) = task_onto.get(&d.task_id).copied() else {
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
        let sum = e.checksum.clone();
        let (action, onto_id) = ledger_action(&legacy.mappings, "task_calendar_events", d.id, &sum);
        edges.insert(Edge {
            src_kind: "task",
            src_id: owner,
            rel: "has_event",
            dst_kind: "event",
            dst_id: onto_id,
        });
        let provider = d.sync_source.clone().unwrap_or_else(|| "google".to_owned());
        let sync = match d.project_calendar_id {
            Some(calendar_id)
                if sync_keys.insert((
                    calendar_id,
                    provider.clone(),
                    d.calendar_event_id.clone(),
                )) =>
            {
                Some(SyncRow {
                    calendar_id,
                    provider,
                    external_event_id: d.calendar_event_id.clone(),
                    sync_status: d.sync_status.clone(),
                    sync_error: d.sync_error.clone(),
                    last_synced_at: d.last_synced_at,
                })
            }
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

    ChangeSet {
        project,
        document,
        plans,
        tasks,
        events,
        edges,
        problems,
        skipped_completed,
    }
}

const EXCLUDED_COMPLETED: &str = "target is a completed task left out of this run";

/// SPEC §5.3 on an entity's props: fill schema props the legacy fields left empty from the
/// entity's text, then validate against the template schema. Missing required props are
/// repaired (listed in `props.repairs`); a value that breaks the schema is moved to
/// `props.invalid_props` — kept, not lost — and returned as a data problem.
fn complete_props(
    schema: &Value,
    props: &mut Value,
    text: &str,
    date_order: DateOrder,
) -> Vec<String> {
    let Some(map) = props.as_object_mut() else {
        return Vec::new();
    };
    if schema.get("properties").is_none() {
        return Vec::new();
    }
    let inferred = infer::infer_props(schema, text, map, date_order);
    if !inferred.is_empty() {
        map.insert(
            "inferred".to_owned(),
            Value::Array(inferred.keys().map(|k| json!(k)).collect()),
        );
        map.extend(inferred);
    }
    let checked = infer::validate(schema, map);
    if !checked.repairs.is_empty() {
        map.insert("repairs".to_owned(), json!(checked.repairs));
    }
    let mut problems = Vec::new();
    let mut moved = serde_json::Map::new();
    for bad in checked.invalid {
        // Nested paths (`schedule.start_date`) stay where they are; top-level values move.
        if let Some(value) = map.remove(&bad.prop) {
            moved.insert(bad.prop.clone(), value);
        }
        problems.push(format!("prop {} is invalid: {}", bad.prop, bad.message));
    }
    if !moved.is_empty() {
        map.insert("invalid_props".to_owned(), Value::Object(moved));
    }
    problems
}

/// The `data` problem of a prop value the template schema rejected: the entity is migrated,
/// the value kept in `props.invalid_props`.
fn invalid_prop(
    entity_type: &'static str,
    legacy_table: &'static str,
    legacy_id: Uuid,
    onto: (&'static str, Uuid),
    what: String,
) -> Problem {
    Problem {
        entity_type,
        legacy_table,
        legacy_id,
        onto: Some(onto),
        status: "skipped",
        category: ErrorCategory::Data,
        message: format!(
            "{} {legacy_id}: {what} (kept in props.invalid_props)",
            entity_type.trim_end_matches("_prop")
        ),
    }
}

fn ref_reason(
    target: Uuid,
    me: Uuid,
    in_project: &HashSet<Uuid>,
    cycles: &HashMap<Uuid, String>,
) -> &'static str {
    if target == me {
        "self reference"
    } else if cycles.contains_key(&target) {
        "target skipped (parent cycle)"
    } else if in_project.contains(&target) {
        EXCLUDED_COMPLETED
    } else {
        "not a task of this project"
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

impl ChangeSet {
    /// Whether the project ends `partial` (entity problems) rather than `succeeded`.
    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    /// Counts by entity and action, plus problems by category.
    pub fn counts(&self, edges_inserted: usize, edges_deleted: usize) -> Value {
        fn tally<T>(entities: &[&Entity<T>]) -> Value {
            let mut m = serde_json::Map::new();
            for a in [
                Action::Insert,
                Action::Unchanged,
                Action::Resync,
                Action::Recreate,
            ] {
                m.insert(
                    a.as_str().to_owned(),
                    json!(entities.iter().filter(|e| e.action == a).count()),
                );
            }
            Value::Object(m)
        }
        let mut by_category = serde_json::Map::new();
        for c in ErrorCategory::ALL {
            by_category.insert(
                c.as_str().to_owned(),
                json!(self.problems.iter().filter(|p| p.category == c).count()),
            );
        }
        json!({
            "project": tally(&[&self.project]),
            "document": tally(&self.document.iter().collect::<Vec<_>>()),
            "plan": tally(&self.plans.iter().collect::<Vec<_>>()),
            "task": tally(&self.tasks.iter().collect::<Vec<_>>()),
            "event": tally(&self.events.iter().collect::<Vec<_>>()),
            "edges": {"desired": self.edges.len(), "inserted": edges_inserted, "deleted": edges_deleted},
            "skipped_completed": self.skipped_completed,
            "problems": by_category,
        })
    }

    /// Onto ids of every entity of the project (for the edge diff).
    pub fn onto_ids(&self) -> Vec<Uuid> {
        let mut ids = vec![self.project.onto_id];
        ids.extend(self.document.iter().map(|d| d.onto_id));
        ids.extend(self.plans.iter().map(|e| e.onto_id));
        ids.extend(self.tasks.iter().map(|e| e.onto_id));
        ids.extend(
            self.edges
                .iter()
                .filter(|e| e.src_kind == "plan")
                .map(|e| e.src_id),
        );
        ids.sort();
        ids.dedup();
        ids
    }

    /// Whether every entity gets a freshly generated onto id (a first migration): then no edge
    /// can exist yet and the edge diff needs no lookup.
    pub fn all_fresh(&self) -> bool {
        fn fresh<T>(e: &Entity<T>) -> bool {
            matches!(e.action, Action::Insert | Action::Recreate)
        }
        let fresh_ids: HashSet<Uuid> = std::iter::once(&self.project)
            .filter(|e| fresh(e))
            .map(|e| e.onto_id)
            .chain(self.document.iter().filter(|e| fresh(e)).map(|e| e.onto_id))
            .chain(self.plans.iter().filter(|e| fresh(e)).map(|e| e.onto_id))
            .chain(self.tasks.iter().filter(|e| fresh(e)).map(|e| e.onto_id))
            .collect();
        self.onto_ids().iter().all(|id| fresh_ids.contains(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: u128, parent: Option<u128>) -> Task {
        serde_json::from_value(json!({
            "id": Uuid::from_u128(id), "parent_task_id": parent.map(Uuid::from_u128), "title": "t",
            "status": "backlog", "priority": "medium", "task_type": "one_off",
        }))
        .unwrap()
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
        let refs: Vec<&Task> = tasks.iter().collect();
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

    #[test]
    fn ledger_action_by_mapping_and_checksum() {
        let legacy = Uuid::from_u128(1);
        let onto = Uuid::from_u128(2);
        let mut mappings = HashMap::new();
        let (action, id) = ledger_action(&mappings, "tasks", legacy, "abc");
        assert_eq!(action, Action::Insert);
        assert_ne!(id, onto);
        let mapping = |present: bool| Mapping {
            legacy_table: "tasks".to_owned(),
            legacy_id: legacy,
            onto_id: onto,
            checksum: "abc".to_owned(),
            present,
        };
        mappings.insert(("tasks".to_owned(), legacy), mapping(true));
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
        mappings.insert(("tasks".to_owned(), legacy), mapping(false));
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

    /// SPEC §5.3 on one entity: inferred props, repairs and invalid values, table-driven.
    #[test]
    fn props_are_inferred_repaired_and_validated() {
        let schema = json!({"type": "object", "properties": {
            "budget": {"type": "number"},
            "guest_count": {"type": "integer"},
            "event_date": {"type": "string", "format": "date"},
            "duration_minutes": {"type": "integer"},
            "target_streak": {"type": "integer", "default": 21},
            "venue": {"type": "string"},
        }, "required": ["target_streak", "venue"]});
        // (legacy props, description text, date order, expected props, problems)
        let cases = [
            (
                json!({"duration_minutes": null}),
                "Budget is $80k for 200 guests on 20/06/2026, about 2h 30m of calls",
                DateOrder::DayFirst,
                json!({"budget": 80000, "guest_count": 200, "event_date": "2026-06-20",
                       "duration_minutes": 150, "target_streak": 21, "venue": ""}),
                0,
            ),
            (
                // a legacy value is never overwritten by an inferred one
                json!({"duration_minutes": 45, "venue": "Barn"}),
                "2h 30m",
                DateOrder::MonthFirst,
                json!({"duration_minutes": 45, "target_streak": 21, "venue": "Barn"}),
                0,
            ),
            (
                // a value that breaks the schema moves to invalid_props and is a problem
                json!({"guest_count": "lots", "venue": "Barn", "target_streak": 30}),
                "",
                DateOrder::MonthFirst,
                json!({"target_streak": 30, "venue": "Barn", "invalid_props": {"guest_count": "lots"}}),
                1,
            ),
        ];
        for (legacy, text, order, want, n_problems) in cases {
            let mut props = legacy.clone();
            let problems = complete_props(&schema, &mut props, text, order);
            assert_eq!(problems.len(), n_problems, "{text:?}: {problems:?}");
            for (k, v) in want.as_object().unwrap() {
                assert_eq!(&props[k], v, "{k} for {text:?}: {props}");
            }
            // Every repair names its prop; inferred props are listed.
            let repaired: Vec<&str> = props["repairs"]
                .as_array()
                .map(|r| r.iter().filter_map(|x| x["prop"].as_str()).collect())
                .unwrap_or_default();
            for required in ["target_streak", "venue"] {
                assert_eq!(
                    repaired.contains(&required),
                    legacy.get(required).is_none(),
                    "repair of {required} for {text:?}: {props}"
                );
            }
            if n_problems == 0 && !text.is_empty() && legacy["duration_minutes"].is_null() {
                assert!(
                    props["inferred"].as_array().is_some_and(|a| a.len() == 4),
                    "{props}"
                );
            }
        }
        // No schema: props untouched.
        let mut props = json!({"a": 1});
        assert!(complete_props(&json!({}), &mut props, "$5", DateOrder::MonthFirst).is_empty());
        assert_eq!(props, json!({"a": 1}));
    }
}

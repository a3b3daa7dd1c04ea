//! SPEC §4 checked rule by rule against the database.
//!
//! A dataset with every edge case (`ontofleet seed --bad-rows`) is migrated through the real CLI
//! and a worker process, then a table of rules is evaluated. Each rule is two SQL queries
//! written from the SPEC alone (legacy rows joined to ontology rows through
//! `legacy_entity_mappings`, never through the pipeline's code): `subjects` selects the legacy
//! rows that exercise the rule, `violations` the ids of rows breaking it. Every rule must be
//! exercised (`subjects > 0`) and hold (`violations = 0`); a failure names the rule and a few
//! offending ids. The same table then runs on held-out data — another seed, other sizes, and a
//! run with `--include-completed-tasks --include-archived` — so the rules also hold on data the
//! pipeline was not developed against.

use std::time::{Duration, Instant};

use ontofleet_testkit::TestDb;

use crate::{RUN_TIMEOUT, prepared};

/// When a rule can be exercised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applies {
    /// Every run.
    Always,
    /// Only runs with `--include-completed-tasks` (the legacy data sets `completed_at` on
    /// `done` tasks only).
    WithCompletedTasks,
}

/// One SPEC rule.
struct Rule {
    /// SPEC section and what must hold.
    name: &'static str,
    /// The legacy rows that exercise the rule (a SELECT; counted).
    subjects: &'static str,
    /// Ids of rows breaking it (a SELECT whose first column is the id; counted and sampled).
    violations: &'static str,
    /// Which runs can exercise it.
    applies: Applies,
}

const fn rule(name: &'static str, subjects: &'static str, violations: &'static str) -> Rule {
    Rule {
        name,
        subjects,
        violations,
        applies: Applies::Always,
    }
}

/// Common selections, derived from the legacy tables and the run's options (SPEC §4.2), and
/// the legacy ↔ onto pairs through the ledger. Prepended to every rule query; unreferenced
/// CTEs are not evaluated.
const PRELUDE: &str = r"
WITH RECURSIVE
run AS (
    SELECT id, reference_time, (reference_time AT TIME ZONE 'UTC')::date AS day,
           coalesce((options ->> 'include_completed_tasks')::boolean, false) AS with_done,
           coalesce((options ->> 'include_archived')::boolean, false) AS with_archived
      FROM migration_runs WHERE NOT dry_run ORDER BY created_at LIMIT 1),
sel_project AS (SELECT p.* FROM projects p CROSS JOIN run WHERE p.status <> 'archived' OR run.with_archived),
sel_task AS (
    SELECT t.* FROM tasks t JOIN sel_project p ON p.id = t.project_id CROSS JOIN run
     WHERE t.deleted_at IS NULL AND (t.status <> 'done' OR run.with_done)),
-- Parent walks inside a project's selected tasks; a walk that returns to its start is a cycle.
walk (start, project_id, cur, depth) AS (
    SELECT id, project_id, parent_task_id, 1 FROM sel_task WHERE parent_task_id IS NOT NULL
    UNION ALL
    SELECT w.start, w.project_id, s.parent_task_id, w.depth + 1
      FROM walk w JOIN sel_task s ON s.id = w.cur AND s.project_id = w.project_id
     WHERE w.cur <> w.start AND s.parent_task_id IS NOT NULL AND w.depth < 1000),
cycle_task AS (SELECT DISTINCT start AS id FROM walk WHERE cur = start),
mig_task AS (SELECT * FROM sel_task WHERE id NOT IN (SELECT id FROM cycle_task)),
sel_event AS (SELECT e.* FROM task_calendar_events e JOIN sel_task t ON t.id = e.task_id),
actor AS (SELECT user_id, id FROM onto_actors),
proj AS (
    SELECT p.*, m.onto_id AS oid, a.id AS actor_id
      FROM sel_project p
      JOIN legacy_entity_mappings m ON m.legacy_table = 'projects' AND m.legacy_id = p.id
      LEFT JOIN actor a ON a.user_id = p.user_id),
plan_of AS (
    SELECT ph.*, m.onto_id AS oid, pp.oid AS project_oid, pp.actor_id
      FROM phases ph
      JOIN legacy_entity_mappings m ON m.legacy_table = 'phases' AND m.legacy_id = ph.id
      JOIN proj pp ON pp.id = ph.project_id),
task_of AS (
    SELECT t.*, m.onto_id AS oid, pp.oid AS project_oid, pp.actor_id
      FROM mig_task t
      JOIN legacy_entity_mappings m ON m.legacy_table = 'tasks' AND m.legacy_id = t.id
      JOIN proj pp ON pp.id = t.project_id),
event_of AS (
    SELECT e.*, m.onto_id AS oid, tk.oid AS task_oid, tk.project_oid, tk.actor_id
      FROM task_calendar_events e
      JOIN legacy_entity_mappings m ON m.legacy_table = 'task_calendar_events' AND m.legacy_id = e.id
      JOIN task_of tk ON tk.id = e.task_id),
-- Every parent and dependency reference of a migrated task, classified.
task_ref AS (
    SELECT t.id AS task_id, t.project_id, 'parent' AS kind, t.parent_task_id::text AS raw
      FROM mig_task t WHERE t.parent_task_id IS NOT NULL
    UNION ALL
    SELECT t.id, t.project_id, 'dependency', d FROM mig_task t, unnest(t.dependencies) AS d),
ref AS (
    SELECT r.*, CASE WHEN r.raw ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                     THEN r.raw::uuid END AS target
      FROM task_ref r),
ref_class AS (
    SELECT r.*, CASE
        WHEN r.target IS NOT NULL AND r.target <> r.task_id
             AND EXISTS (SELECT 1 FROM mig_task m WHERE m.id = r.target AND m.project_id = r.project_id)
            THEN 'resolved'
        -- a task of the same project that the run's selection leaves out (done, deleted)
        WHEN r.target IS NOT NULL AND r.target <> r.task_id
             AND EXISTS (SELECT 1 FROM tasks x WHERE x.id = r.target AND x.project_id = r.project_id
                           AND x.id NOT IN (SELECT id FROM sel_task))
            THEN 'excluded'
        ELSE 'unresolved' END AS class
      FROM ref r),
-- migration_log rows with the legacy project their entity belongs to.
log_project AS (
    SELECT l.*, coalesce(t.project_id, ph.project_id, et.project_id, ptt.project_id, pr.id) AS project_id
      FROM migration_log l
      LEFT JOIN tasks t ON l.legacy_table = 'tasks' AND t.id = l.legacy_id
      LEFT JOIN phases ph ON l.legacy_table = 'phases' AND ph.id = l.legacy_id
      LEFT JOIN task_calendar_events e ON l.legacy_table = 'task_calendar_events' AND e.id = l.legacy_id
      LEFT JOIN tasks et ON et.id = e.task_id
      LEFT JOIN phase_tasks pt ON l.legacy_table = 'phase_tasks' AND pt.id = l.legacy_id
      LEFT JOIN tasks ptt ON ptt.id = pt.task_id
      LEFT JOIN projects pr ON l.legacy_table IN ('projects', 'projects.context') AND pr.id = l.legacy_id),
problem AS (SELECT * FROM log_project WHERE status IN ('failed', 'skipped'))
";

/// SQL condition: the prop named `f.k` of `o.props` keeps the legacy value `f.v` — as it is; or,
/// when the legacy value is NULL, a value inferred or repaired by §5.3 (listed in `props.inferred`
/// / `props.repairs`); or, when the template schema rejects it, under `props.invalid_props`.
macro_rules! kept {
    () => {
        "nullif(o.props -> f.k, 'null') IS NOT DISTINCT FROM f.v
         OR (f.v IS NULL AND (coalesce((o.props -> 'inferred') ? f.k, false)
                              OR coalesce(o.props -> 'repairs' @> jsonb_build_array(jsonb_build_object('prop', f.k)), false)))
         OR (f.v IS NOT NULL AND coalesce(o.props #> ARRAY['invalid_props', f.k] = f.v, false))"
    };
}

/// The rules of SPEC §4.1–4.7.
const RULES: &[Rule] = &[
    // ---------------------------------------------------------------- §4.2 selection
    rule(
        "§4.2 archived projects are migrated iff --include-archived",
        "SELECT id FROM projects WHERE status = 'archived'",
        "SELECT p.id FROM projects p CROSS JOIN run
          WHERE p.status = 'archived'
            AND EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.legacy_table = 'projects' AND m.legacy_id = p.id)
                <> run.with_archived",
    ),
    rule(
        "§4.2 deleted tasks are not migrated",
        "SELECT t.id FROM tasks t JOIN sel_project p ON p.id = t.project_id WHERE t.deleted_at IS NOT NULL",
        "SELECT t.id FROM tasks t JOIN legacy_entity_mappings m ON m.legacy_table = 'tasks' AND m.legacy_id = t.id
          WHERE t.deleted_at IS NOT NULL",
    ),
    rule(
        "§4.2 done tasks are migrated iff --include-completed-tasks",
        "SELECT t.id FROM tasks t JOIN sel_project p ON p.id = t.project_id
          WHERE t.deleted_at IS NULL AND t.status = 'done'",
        "SELECT t.id FROM tasks t JOIN sel_project p ON p.id = t.project_id CROSS JOIN run
          WHERE t.deleted_at IS NULL AND t.status = 'done'
            AND EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.legacy_table = 'tasks' AND m.legacy_id = t.id)
                <> (run.with_done AND t.id NOT IN (SELECT id FROM cycle_task))",
    ),
    rule(
        "§4.2 done tasks left out are counted as skipped_completed",
        "SELECT DISTINCT p.id FROM sel_project p JOIN tasks t ON t.project_id = p.id
          WHERE t.deleted_at IS NULL AND t.status = 'done'",
        "SELECT p.id FROM sel_project p CROSS JOIN run
           JOIN migration_run_items i ON i.run_id = run.id AND i.project_id = p.id
          WHERE (i.counts ->> 'skipped_completed')::int IS DISTINCT FROM
                CASE WHEN run.with_done THEN 0 ELSE
                  (SELECT count(*) FROM tasks t WHERE t.project_id = p.id AND t.deleted_at IS NULL AND t.status = 'done')::int
                END",
    ),
    rule(
        "§4.2 tasks without a project are not migrated",
        "SELECT id FROM tasks WHERE project_id IS NULL",
        "SELECT t.id FROM tasks t JOIN legacy_entity_mappings m ON m.legacy_table = 'tasks' AND m.legacy_id = t.id
          WHERE t.project_id IS NULL",
    ),
    rule(
        "§4.2 events of tasks outside the selection are not migrated",
        "SELECT e.id FROM task_calendar_events e WHERE e.task_id NOT IN (SELECT id FROM sel_task)",
        "SELECT e.id FROM task_calendar_events e
           JOIN legacy_entity_mappings m ON m.legacy_table = 'task_calendar_events' AND m.legacy_id = e.id
          WHERE e.task_id NOT IN (SELECT id FROM sel_task)",
    ),
    // ---------------------------------------------------------------- §4.3 projects
    rule(
        "§4.3 every selected project maps to exactly one onto_projects row",
        "SELECT id FROM sel_project",
        "SELECT p.id FROM sel_project p
          WHERE (SELECT count(*) FROM legacy_entity_mappings m JOIN onto_projects o ON o.id = m.onto_id
                  WHERE m.legacy_table = 'projects' AND m.onto_table = 'onto_projects' AND m.legacy_id = p.id) <> 1",
    ),
    rule(
        "§4.3 name, description from projects",
        "SELECT id FROM proj",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
          WHERE o.name IS DISTINCT FROM p.name OR o.description IS DISTINCT FROM p.description",
    ),
    rule(
        "§4.3 state_key: active→active, paused→paused, completed→complete, archived→archived",
        "SELECT id FROM proj",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
          WHERE o.state_key IS DISTINCT FROM CASE p.status::text WHEN 'active' THEN 'active' WHEN 'paused' THEN 'paused'
                WHEN 'completed' THEN 'complete' WHEN 'archived' THEN 'archived' END",
    ),
    rule(
        "§4.3 start_at, end_at = start_date, end_date",
        "SELECT id FROM proj WHERE start_date IS NOT NULL OR end_date IS NOT NULL",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
          WHERE (o.start_at AT TIME ZONE 'UTC')::date IS DISTINCT FROM p.start_date
             OR (o.end_at AT TIME ZONE 'UTC')::date IS DISTINCT FROM p.end_date",
    ),
    rule(
        "§4.3 facet_stage: active→execution, paused→planning, completed/archived→complete",
        "SELECT id FROM proj",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
          WHERE o.facet_stage IS DISTINCT FROM CASE p.status::text WHEN 'active' THEN 'execution'
                WHEN 'paused' THEN 'planning' WHEN 'completed' THEN 'complete' WHEN 'archived' THEN 'complete' END",
    ),
    rule(
        "§4.3 facet_scale by selected tasks: 0–3 micro, 4–10 small, 11–25 medium, 26–60 large, >60 epic",
        "SELECT id FROM proj",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
           CROSS JOIN LATERAL (SELECT count(*) AS n FROM sel_task t WHERE t.project_id = p.id) s
          WHERE o.facet_scale IS DISTINCT FROM CASE WHEN s.n <= 3 THEN 'micro' WHEN s.n <= 10 THEN 'small'
                WHEN s.n <= 25 THEN 'medium' WHEN s.n <= 60 THEN 'large' ELSE 'epic' END",
    ),
    rule(
        "§4.3 facet_context: keyword rules over name + description + tags, first class wins",
        "SELECT id FROM proj",
        r"SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
           CROSS JOIN LATERAL (SELECT lower(p.name || ' ' || coalesce(p.description, '') || ' '
                                            || coalesce(array_to_string(p.tags, ' '), '')) AS txt) k
          WHERE o.facet_context IS DISTINCT FROM CASE
                WHEN k.txt ~ '\m(client|agency|customer)\M' THEN 'client'
                WHEN k.txt ~ '\m(startup|revenue|business|sales)\M' THEN 'commercial'
                WHEN k.txt ~ '\m(research|thesis|study|academic|course)\M' THEN 'academic'
                WHEN k.txt ~ '\mopen[^[:alnum:]]+source\M|\m(oss|github)\M' THEN 'open_source'
                ELSE 'personal' END",
    ),
    rule(
        "§4.3 props.facets = {context, scale, stage} of the facet columns",
        "SELECT id FROM proj",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
          WHERE o.props -> 'facets' IS DISTINCT FROM
                jsonb_build_object('context', o.facet_context, 'scale', o.facet_scale, 'stage', o.facet_stage)",
    ),
    rule(
        "§4.3 type_key is an active project template (fallback project.migration.generic)",
        "SELECT id FROM proj",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
          WHERE o.type_key <> 'project.migration.generic'
            AND NOT EXISTS (SELECT 1 FROM onto_templates tp WHERE tp.scope = 'project' AND tp.type_key = o.type_key
                              AND tp.status = 'active' AND NOT tp.is_abstract)",
    ),
    rule(
        "§4.3 props keep the template's default_props keys (deep merge)",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
           JOIN onto_templates tp ON tp.scope = 'project' AND tp.type_key = o.type_key AND tp.default_props <> '{}'",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
           JOIN onto_templates tp ON tp.scope = 'project' AND tp.type_key = o.type_key
          WHERE EXISTS (SELECT 1 FROM jsonb_object_keys(tp.default_props) k
                         WHERE NOT o.props ? k AND NOT coalesce(o.props -> 'invalid_props' ? k, false))",
    ),
    rule(
        "§4.3 props description, executive_summary, tags, source, source_metadata",
        "SELECT id FROM proj WHERE executive_summary IS NOT NULL OR source_metadata IS NOT NULL",
        concat!(
            "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
           CROSS JOIN LATERAL (VALUES ('description', to_jsonb(p.description)),
                ('executive_summary', to_jsonb(p.executive_summary)), ('tags', to_jsonb(p.tags)),
                ('source', to_jsonb(p.source)), ('source_metadata', p.source_metadata)) AS f(k, v)
          WHERE NOT (",
            kept!(),
            ")"
        ),
    ),
    rule(
        "§4.3 props.core_values = object of the non-null core_* columns without the prefix",
        "SELECT id FROM proj WHERE num_nonnulls(core_goals_momentum, core_harmony_integration, core_integrity_ideals,
             core_meaning_identity, core_opportunity_freedom, core_people_bonds, core_power_resources,
             core_reality_understanding, core_trust_safeguards) > 0",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
          WHERE o.props -> 'core_values' IS DISTINCT FROM jsonb_strip_nulls(jsonb_build_object(
                'goals_momentum', p.core_goals_momentum, 'harmony_integration', p.core_harmony_integration,
                'integrity_ideals', p.core_integrity_ideals, 'meaning_identity', p.core_meaning_identity,
                'opportunity_freedom', p.core_opportunity_freedom, 'people_bonds', p.core_people_bonds,
                'power_resources', p.core_power_resources, 'reality_understanding', p.core_reality_understanding,
                'trust_safeguards', p.core_trust_safeguards))",
    ),
    rule(
        "§4.3 props.calendar {color_id, settings, sync_enabled}",
        "SELECT id FROM proj WHERE num_nonnulls(calendar_color_id, calendar_settings, calendar_sync_enabled) > 0",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
          WHERE jsonb_typeof(o.props -> 'calendar') IS DISTINCT FROM 'object'
             OR nullif(o.props #> '{calendar,color_id}', 'null') IS DISTINCT FROM to_jsonb(p.calendar_color_id)
             OR nullif(o.props #> '{calendar,settings}', 'null') IS DISTINCT FROM p.calendar_settings
             OR nullif(o.props #> '{calendar,sync_enabled}', 'null') IS DISTINCT FROM to_jsonb(p.calendar_sync_enabled)",
    ),
    rule(
        "§4.3 props.legacy {id, slug, status, user_id}",
        "SELECT id FROM proj",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
          WHERE o.props #>> '{legacy,id}' IS DISTINCT FROM p.id::text
             OR o.props #>> '{legacy,slug}' IS DISTINCT FROM p.slug
             OR o.props #>> '{legacy,status}' IS DISTINCT FROM p.status::text
             OR o.props #>> '{legacy,user_id}' IS DISTINCT FROM p.user_id::text",
    ),
    rule(
        "§4.3 created_by = the actor of projects.user_id",
        "SELECT id FROM proj",
        "SELECT p.id FROM proj p JOIN onto_projects o ON o.id = p.oid
          WHERE p.actor_id IS NULL OR o.created_by IS DISTINCT FROM p.actor_id",
    ),
    rule(
        "§4.3 context → one document.context.project, published, \"<name> — Context\", body_markdown, mapped as projects.context",
        r"SELECT id FROM proj WHERE btrim(coalesce(context, ''), E' \t\r\n') <> ''",
        r"SELECT p.id FROM proj p
          WHERE btrim(coalesce(p.context, ''), E' \t\r\n') <> ''
            AND NOT EXISTS (
                SELECT 1 FROM legacy_entity_mappings m JOIN onto_documents d ON d.id = m.onto_id
                 WHERE m.legacy_table = 'projects.context' AND m.legacy_id = p.id AND m.onto_table = 'onto_documents'
                   AND d.project_id = p.oid AND d.type_key = 'document.context.project' AND d.state_key = 'published'
                   AND d.title = p.name || ' — Context' AND d.props ->> 'body_markdown' = p.context
                   AND d.created_by = p.actor_id)",
    ),
    rule(
        "§4.3 project —has_context_document→ its document, exactly once",
        r"SELECT id FROM proj WHERE btrim(coalesce(context, ''), E' \t\r\n') <> ''",
        r"SELECT p.id FROM proj p
          WHERE btrim(coalesce(p.context, ''), E' \t\r\n') <> ''
            AND (SELECT count(*) FROM onto_edges e
                   JOIN legacy_entity_mappings m ON m.legacy_table = 'projects.context' AND m.legacy_id = p.id
                  WHERE e.src_kind = 'project' AND e.src_id = p.oid AND e.rel = 'has_context_document'
                    AND e.dst_kind = 'document' AND e.dst_id = m.onto_id) <> 1",
    ),
    rule(
        "§4.3 no document and no has_context_document edge without context (NULL or empty)",
        r"SELECT id FROM proj WHERE btrim(coalesce(context, ''), E' \t\r\n') = ''",
        r"SELECT p.id FROM proj p
          WHERE btrim(coalesce(p.context, ''), E' \t\r\n') = ''
            AND (EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.legacy_table = 'projects.context' AND m.legacy_id = p.id)
                 OR EXISTS (SELECT 1 FROM onto_edges e WHERE e.src_kind = 'project' AND e.src_id = p.oid
                              AND e.rel = 'has_context_document'))",
    ),
    // ---------------------------------------------------------------- §4.4 plans
    rule(
        "§4.4 every phase of a selected project (valid range) maps to exactly one onto_plans row",
        "SELECT ph.id FROM phases ph JOIN sel_project p ON p.id = ph.project_id WHERE ph.end_date >= ph.start_date",
        "SELECT ph.id FROM phases ph JOIN sel_project p ON p.id = ph.project_id
          WHERE ph.end_date >= ph.start_date
            AND (SELECT count(*) FROM legacy_entity_mappings m JOIN onto_plans o ON o.id = m.onto_id
                  WHERE m.legacy_table = 'phases' AND m.onto_table = 'onto_plans' AND m.legacy_id = ph.id) <> 1",
    ),
    rule(
        "§4.4 a phase without migrated tasks is still a plan",
        "SELECT ph.id FROM phases ph JOIN sel_project p ON p.id = ph.project_id
          WHERE ph.end_date >= ph.start_date
            AND NOT EXISTS (SELECT 1 FROM phase_tasks pt JOIN mig_task t ON t.id = pt.task_id WHERE pt.phase_id = ph.id)",
        "SELECT ph.id FROM phases ph JOIN sel_project p ON p.id = ph.project_id
          WHERE ph.end_date >= ph.start_date
            AND NOT EXISTS (SELECT 1 FROM phase_tasks pt JOIN mig_task t ON t.id = pt.task_id WHERE pt.phase_id = ph.id)
            AND NOT EXISTS (SELECT 1 FROM plan_of pl JOIN onto_plans o ON o.id = pl.oid WHERE pl.id = ph.id)",
    ),
    rule(
        "§4.4 an inverted range (end < start) is not migrated and is logged as a data error",
        "SELECT ph.id FROM phases ph JOIN sel_project p ON p.id = ph.project_id WHERE ph.end_date < ph.start_date",
        "SELECT ph.id FROM phases ph JOIN sel_project p ON p.id = ph.project_id
          WHERE ph.end_date < ph.start_date
            AND (EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.legacy_table = 'phases' AND m.legacy_id = ph.id)
                 OR NOT EXISTS (SELECT 1 FROM migration_log l WHERE l.legacy_id = ph.id AND l.legacy_table = 'phases'
                                  AND l.status IN ('failed', 'skipped') AND l.error_category = 'data'
                                  AND l.user_id = p.user_id AND l.error_message <> ''))",
    ),
    rule(
        "§4.4 name = phases.name, in the onto project of the phase's project",
        "SELECT id FROM plan_of",
        "SELECT pl.id FROM plan_of pl JOIN onto_plans o ON o.id = pl.oid
          WHERE o.name IS DISTINCT FROM pl.name OR o.project_id IS DISTINCT FROM pl.project_oid",
    ),
    rule(
        "§4.4 type_key = plan.phase.project",
        "SELECT id FROM plan_of",
        "SELECT pl.id FROM plan_of pl JOIN onto_plans o ON o.id = pl.oid WHERE o.type_key <> 'plan.phase.project'",
    ),
    rule(
        "§4.4 state_key against reference_time: end < ref complete, start ≤ ref ≤ end active, start > ref draft",
        "SELECT id FROM plan_of",
        "SELECT pl.id FROM plan_of pl JOIN onto_plans o ON o.id = pl.oid CROSS JOIN run
          WHERE o.state_key IS DISTINCT FROM CASE WHEN pl.end_date < run.day THEN 'complete'
                WHEN pl.start_date <= run.day THEN 'active' ELSE 'draft' END",
    ),
    rule(
        "§4.4 props.schedule {start_date, end_date} as ISO dates",
        "SELECT id FROM plan_of",
        "SELECT pl.id FROM plan_of pl JOIN onto_plans o ON o.id = pl.oid
          WHERE o.props #>> '{schedule,start_date}' IS DISTINCT FROM to_char(pl.start_date, 'YYYY-MM-DD')
             OR o.props #>> '{schedule,end_date}' IS DISTINCT FROM to_char(pl.end_date, 'YYYY-MM-DD')",
    ),
    rule(
        "§4.4 props.order, description, scheduling_method",
        "SELECT id FROM plan_of WHERE description IS NOT NULL OR scheduling_method IS NOT NULL",
        r#"SELECT pl.id FROM plan_of pl JOIN onto_plans o ON o.id = pl.oid
          WHERE o.props -> 'order' IS DISTINCT FROM to_jsonb(pl."order")
             OR nullif(o.props -> 'description', 'null') IS DISTINCT FROM to_jsonb(pl.description)
             OR nullif(o.props -> 'scheduling_method', 'null') IS DISTINCT FROM to_jsonb(pl.scheduling_method)"#,
    ),
    rule(
        "§4.4 props.task_count = migrated tasks of the phase's project linked to it",
        "SELECT pl.id FROM plan_of pl WHERE EXISTS (SELECT 1 FROM phase_tasks pt WHERE pt.phase_id = pl.id)",
        "SELECT pl.id FROM plan_of pl JOIN onto_plans o ON o.id = pl.oid
          WHERE o.props -> 'task_count' IS DISTINCT FROM to_jsonb((
                SELECT count(DISTINCT pt.task_id) FROM phase_tasks pt
                  JOIN mig_task t ON t.id = pt.task_id AND t.project_id = pl.project_id
                 WHERE pt.phase_id = pl.id))",
    ),
    rule(
        "§4.4 props.legacy.id",
        "SELECT id FROM plan_of",
        "SELECT pl.id FROM plan_of pl JOIN onto_plans o ON o.id = pl.oid
          WHERE o.props #>> '{legacy,id}' IS DISTINCT FROM pl.id::text",
    ),
    rule(
        "§4.4 project —has_plan→ plan: exactly one, from its project",
        "SELECT id FROM plan_of",
        "SELECT pl.id FROM plan_of pl
          WHERE (SELECT count(*) FROM onto_edges e WHERE e.rel = 'has_plan' AND e.dst_kind = 'plan' AND e.dst_id = pl.oid) <> 1
             OR NOT EXISTS (SELECT 1 FROM onto_edges e WHERE e.src_kind = 'project' AND e.src_id = pl.project_oid
                              AND e.rel = 'has_plan' AND e.dst_kind = 'plan' AND e.dst_id = pl.oid)",
    ),
    // ---------------------------------------------------------------- §4.5 tasks
    rule(
        "§4.5 every selected task off a parent cycle maps to exactly one onto_tasks row in its project",
        "SELECT id FROM mig_task",
        "SELECT t.id FROM mig_task t
          WHERE (SELECT count(*) FROM legacy_entity_mappings m JOIN onto_tasks o ON o.id = m.onto_id
                   JOIN proj p ON p.id = t.project_id AND p.oid = o.project_id
                  WHERE m.legacy_table = 'tasks' AND m.onto_table = 'onto_tasks' AND m.legacy_id = t.id) <> 1",
    ),
    rule(
        "§4.5 title = tasks.title",
        "SELECT id FROM task_of",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid WHERE o.title IS DISTINCT FROM t.title",
    ),
    rule(
        "§4.5 state_key: backlog→todo, in_progress→in_progress, blocked→blocked, done→done",
        "SELECT id FROM task_of",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid
          WHERE o.state_key IS DISTINCT FROM CASE t.status::text WHEN 'backlog' THEN 'todo'
                WHEN 'in_progress' THEN 'in_progress' WHEN 'blocked' THEN 'blocked' WHEN 'done' THEN 'done' END",
    ),
    rule(
        "§4.5 priority: low→2, medium→3, high→4, urgent→5, never NULL",
        "SELECT id FROM task_of",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid
          WHERE o.priority IS NULL OR o.priority IS DISTINCT FROM CASE t.priority::text WHEN 'low' THEN 2
                WHEN 'medium' THEN 3 WHEN 'high' THEN 4 WHEN 'urgent' THEN 5 END",
    ),
    rule(
        "§4.5 due_at = start_date",
        "SELECT id FROM task_of WHERE start_date IS NOT NULL",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid WHERE o.due_at IS DISTINCT FROM t.start_date",
    ),
    rule(
        "§4.5 props description, details, task_steps, duration_minutes, task_type, source, source_calendar_event_id, outdated",
        "SELECT id FROM task_of WHERE num_nonnulls(description, details, task_steps, source_calendar_event_id) > 0",
        concat!(
            "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid
           CROSS JOIN LATERAL (VALUES ('description', to_jsonb(t.description)), ('details', to_jsonb(t.details)),
                ('task_steps', to_jsonb(t.task_steps)), ('duration_minutes', to_jsonb(t.duration_minutes)),
                ('task_type', to_jsonb(t.task_type)), ('source', to_jsonb(t.source)),
                ('source_calendar_event_id', to_jsonb(t.source_calendar_event_id)),
                ('outdated', to_jsonb(t.outdated))) AS f(k, v)
          WHERE NOT (",
            kept!(),
            ")"
        ),
    ),
    Rule {
        name: "§4.5 props.completed_at",
        subjects: "SELECT id FROM task_of WHERE completed_at IS NOT NULL",
        violations: "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid
          WHERE (o.props ->> 'completed_at')::timestamptz IS DISTINCT FROM t.completed_at",
        applies: Applies::WithCompletedTasks,
    },
    rule(
        "§4.5 props.recurrence {pattern, ends, end_source}",
        "SELECT id FROM task_of WHERE num_nonnulls(recurrence_pattern, recurrence_ends, recurrence_end_source) > 0",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid
          WHERE num_nonnulls(t.recurrence_pattern, t.recurrence_ends, t.recurrence_end_source) > 0
            AND (jsonb_typeof(o.props -> 'recurrence') IS DISTINCT FROM 'object'
                 OR o.props #>> '{recurrence,pattern}' IS DISTINCT FROM t.recurrence_pattern::text
                 OR (o.props #>> '{recurrence,ends}')::date IS DISTINCT FROM t.recurrence_ends
                 OR o.props #>> '{recurrence,end_source}' IS DISTINCT FROM t.recurrence_end_source::text)",
    ),
    rule(
        "§4.5 props.recurrence absent when the task has none",
        "SELECT id FROM task_of WHERE num_nonnulls(recurrence_pattern, recurrence_ends, recurrence_end_source) = 0",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid
          WHERE num_nonnulls(t.recurrence_pattern, t.recurrence_ends, t.recurrence_end_source) = 0
            AND nullif(o.props -> 'recurrence', 'null') IS NOT NULL",
    ),
    rule(
        "§4.5 props.classification {work_mode, specialization, confidence, classifier}",
        "SELECT id FROM task_of",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid
          WHERE o.props #>> '{classification,work_mode}' IS NULL
             OR o.props #>> '{classification,work_mode}'
                NOT IN ('execute', 'create', 'refine', 'research', 'review', 'coordinate', 'admin', 'plan')
             OR jsonb_typeof(o.props #> '{classification,confidence}') IS DISTINCT FROM 'number'
             OR (o.props #>> '{classification,confidence}')::float8 NOT BETWEEN 0 AND 1
             OR coalesce(o.props #>> '{classification,classifier}', '') = ''
             OR coalesce(jsonb_typeof(o.props #> '{classification,specialization}'), 'null') NOT IN ('string', 'null')",
    ),
    rule(
        "§4.5 props.legacy {id, status, priority, parent_task_id, dependencies}",
        "SELECT id FROM task_of",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid
          WHERE o.props #>> '{legacy,id}' IS DISTINCT FROM t.id::text
             OR o.props #>> '{legacy,status}' IS DISTINCT FROM t.status::text
             OR o.props #>> '{legacy,priority}' IS DISTINCT FROM t.priority::text
             OR o.props #>> '{legacy,parent_task_id}' IS DISTINCT FROM t.parent_task_id::text
             OR nullif(o.props #> '{legacy,dependencies}', 'null') IS DISTINCT FROM to_jsonb(t.dependencies)",
    ),
    rule(
        "§4.5 type_key is an active task template (task.*)",
        "SELECT id FROM task_of",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid
          WHERE o.type_key NOT LIKE 'task.%'
             OR NOT EXISTS (SELECT 1 FROM onto_templates tp WHERE tp.scope = 'task' AND tp.type_key = o.type_key
                              AND tp.status = 'active' AND NOT tp.is_abstract)",
    ),
    rule(
        "§4.5 type_key = task.{work_mode}[.{specialization}] of props.classification when that template exists",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid
           JOIN onto_templates tp ON tp.scope = 'task' AND tp.status = 'active' AND NOT tp.is_abstract
            AND tp.type_key = 'task.' || (o.props #>> '{classification,work_mode}')
                              || coalesce('.' || (o.props #>> '{classification,specialization}'), '')",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid
           JOIN onto_templates tp ON tp.scope = 'task' AND tp.status = 'active' AND NOT tp.is_abstract
            AND tp.type_key = 'task.' || (o.props #>> '{classification,work_mode}')
                              || coalesce('.' || (o.props #>> '{classification,specialization}'), '')
          WHERE o.type_key <> tp.type_key",
    ),
    rule(
        "§4.5 plan —has_task→ task and task —belongs_to_plan→ plan for every same-project phase link",
        "SELECT DISTINCT t.id FROM phase_tasks pt JOIN task_of t ON t.id = pt.task_id
           JOIN plan_of pl ON pl.id = pt.phase_id AND pl.project_id = t.project_id",
        "SELECT t.id FROM phase_tasks pt JOIN task_of t ON t.id = pt.task_id
           JOIN plan_of pl ON pl.id = pt.phase_id AND pl.project_id = t.project_id
          WHERE NOT EXISTS (SELECT 1 FROM onto_edges e WHERE e.src_kind = 'plan' AND e.src_id = pl.oid
                              AND e.rel = 'has_task' AND e.dst_kind = 'task' AND e.dst_id = t.oid)
             OR NOT EXISTS (SELECT 1 FROM onto_edges e WHERE e.src_kind = 'task' AND e.src_id = t.oid
                              AND e.rel = 'belongs_to_plan' AND e.dst_kind = 'plan' AND e.dst_id = pl.oid)",
    ),
    rule(
        "§4.5 no has_task / belongs_to_plan edge without a same-project phase link",
        "SELECT id FROM onto_edges WHERE rel IN ('has_task', 'belongs_to_plan')",
        "SELECT e.id FROM onto_edges e
           LEFT JOIN plan_of pl ON pl.oid = CASE e.rel WHEN 'has_task' THEN e.src_id ELSE e.dst_id END
           LEFT JOIN task_of t ON t.oid = CASE e.rel WHEN 'has_task' THEN e.dst_id ELSE e.src_id END
          WHERE e.rel IN ('has_task', 'belongs_to_plan')
            AND NOT EXISTS (SELECT 1 FROM phase_tasks pt WHERE pt.phase_id = pl.id AND pt.task_id = t.id
                              AND pl.project_id = t.project_id)",
    ),
    rule(
        "§4.5 a phase link to another project's phase is ignored and logged (data)",
        "SELECT pt.id FROM phase_tasks pt JOIN mig_task t ON t.id = pt.task_id
           JOIN phases ph ON ph.id = pt.phase_id WHERE ph.project_id IS DISTINCT FROM t.project_id",
        "SELECT pt.id FROM phase_tasks pt JOIN mig_task t ON t.id = pt.task_id
           JOIN phases ph ON ph.id = pt.phase_id JOIN projects p ON p.id = t.project_id
          WHERE ph.project_id IS DISTINCT FROM t.project_id
            AND (EXISTS (SELECT 1 FROM onto_edges e JOIN plan_of pl ON pl.id = ph.id JOIN task_of tk ON tk.id = t.id
                          WHERE (e.src_id = pl.oid AND e.dst_id = tk.oid) OR (e.src_id = tk.oid AND e.dst_id = pl.oid))
                 OR NOT EXISTS (SELECT 1 FROM migration_log l WHERE l.legacy_id = pt.id AND l.error_category = 'data'
                                  AND l.status IN ('failed', 'skipped') AND l.user_id = p.user_id))",
    ),
    rule(
        "§4.5 parent —has_subtask→ child when the parent is a migrated task of the same project",
        "SELECT task_id FROM ref_class WHERE kind = 'parent' AND class = 'resolved'",
        "SELECT r.task_id FROM ref_class r JOIN task_of c ON c.id = r.task_id JOIN task_of p ON p.id = r.target
          WHERE r.kind = 'parent' AND r.class = 'resolved'
            AND NOT EXISTS (SELECT 1 FROM onto_edges e WHERE e.src_kind = 'task' AND e.src_id = p.oid
                              AND e.rel = 'has_subtask' AND e.dst_kind = 'task' AND e.dst_id = c.oid)",
    ),
    rule(
        "§4.5 no has_subtask edge without that parent link",
        "SELECT id FROM onto_edges WHERE rel = 'has_subtask'",
        "SELECT e.id FROM onto_edges e
           LEFT JOIN task_of p ON p.oid = e.src_id LEFT JOIN task_of c ON c.oid = e.dst_id
          WHERE e.rel = 'has_subtask'
            AND (c.id IS NULL OR p.id IS NULL OR c.parent_task_id IS DISTINCT FROM p.id
                 OR c.project_id IS DISTINCT FROM p.project_id)",
    ),
    rule(
        "§4.5 task —depends_on→ other for each dependency that is a migrated task of the same project",
        "SELECT task_id FROM ref_class WHERE kind = 'dependency' AND class = 'resolved'",
        "SELECT r.task_id FROM ref_class r JOIN task_of a ON a.id = r.task_id JOIN task_of b ON b.id = r.target
          WHERE r.kind = 'dependency' AND r.class = 'resolved'
            AND NOT EXISTS (SELECT 1 FROM onto_edges e WHERE e.src_kind = 'task' AND e.src_id = a.oid
                              AND e.rel = 'depends_on' AND e.dst_kind = 'task' AND e.dst_id = b.oid)",
    ),
    rule(
        "§4.5 no depends_on edge without that dependency",
        "SELECT id FROM onto_edges WHERE rel = 'depends_on'",
        "SELECT e.id FROM onto_edges e
           LEFT JOIN task_of a ON a.oid = e.src_id LEFT JOIN task_of b ON b.oid = e.dst_id
          WHERE e.rel = 'depends_on'
            AND (a.id IS NULL OR b.id IS NULL OR a.project_id IS DISTINCT FROM b.project_id
                 OR NOT b.id::text IN (SELECT lower(d) FROM unnest(a.dependencies) AS d))",
    ),
    rule(
        "§4.5 an unresolvable reference is in props.unresolved_refs and logged (data); the task migrates",
        "SELECT task_id FROM ref_class WHERE class = 'unresolved'",
        "SELECT r.task_id FROM ref_class r JOIN projects p ON p.id = r.project_id
           LEFT JOIN task_of t ON t.id = r.task_id LEFT JOIN onto_tasks o ON o.id = t.oid
          WHERE r.class = 'unresolved'
            AND (o.id IS NULL
                 OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(o.props -> 'unresolved_refs', '[]')) u
                                 WHERE coalesce(u ->> 'id', u ->> 'value', u #>> '{}')
                                       = coalesce(r.target::text, r.raw))
                 OR NOT EXISTS (SELECT 1 FROM migration_log l WHERE l.legacy_id = r.task_id AND l.error_category = 'data'
                                  AND l.status IN ('failed', 'skipped') AND l.user_id = p.user_id
                                  AND strpos(l.error_message, coalesce(r.target::text, r.raw)) > 0))",
    ),
    rule(
        "§4.5 a task on a parent cycle is not migrated; logged skipped, fatal, naming the cycle",
        "SELECT id FROM cycle_task",
        "SELECT c.id FROM cycle_task c JOIN tasks t ON t.id = c.id JOIN projects p ON p.id = t.project_id
          WHERE EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.legacy_table = 'tasks' AND m.legacy_id = c.id)
             OR NOT EXISTS (SELECT 1 FROM migration_log l
                             WHERE l.legacy_id = c.id AND l.status = 'skipped' AND l.error_category = 'fatal'
                               AND l.user_id = p.user_id
                               AND strpos(l.error_message, c.id::text) > 0
                               AND NOT EXISTS (SELECT 1 FROM walk w WHERE w.start = c.id
                                                 AND strpos(l.error_message, w.cur::text) = 0))",
    ),
    rule(
        "§4.5 plans, tasks and their documents/events are created by the project's actor",
        "SELECT id FROM task_of",
        "SELECT t.id FROM task_of t JOIN onto_tasks o ON o.id = t.oid WHERE o.created_by IS DISTINCT FROM t.actor_id
         UNION ALL
         SELECT pl.id FROM plan_of pl JOIN onto_plans o ON o.id = pl.oid WHERE o.created_by IS DISTINCT FROM pl.actor_id
         UNION ALL
         SELECT e.id FROM event_of e JOIN onto_events o ON o.id = e.oid WHERE o.created_by IS DISTINCT FROM e.actor_id",
    ),
    // ---------------------------------------------------------------- §4.6 events
    rule(
        "§4.6 every event of a migrated task with an event_start maps to exactly one onto_events row",
        "SELECT e.id FROM task_calendar_events e JOIN mig_task t ON t.id = e.task_id WHERE e.event_start IS NOT NULL",
        "SELECT e.id FROM task_calendar_events e JOIN mig_task t ON t.id = e.task_id
          WHERE e.event_start IS NOT NULL
            AND (SELECT count(*) FROM legacy_entity_mappings m JOIN onto_events o ON o.id = m.onto_id
                  WHERE m.legacy_table = 'task_calendar_events' AND m.onto_table = 'onto_events' AND m.legacy_id = e.id) <> 1",
    ),
    rule(
        "§4.6 events of projects with ≥ 5 selected tasks are migrated",
        "SELECT e.id FROM task_calendar_events e JOIN mig_task t ON t.id = e.task_id
          WHERE e.event_start IS NOT NULL AND (SELECT count(*) FROM sel_task s WHERE s.project_id = t.project_id) >= 5",
        "SELECT e.id FROM task_calendar_events e JOIN mig_task t ON t.id = e.task_id
          WHERE e.event_start IS NOT NULL AND (SELECT count(*) FROM sel_task s WHERE s.project_id = t.project_id) >= 5
            AND NOT EXISTS (SELECT 1 FROM event_of eo WHERE eo.id = e.id)",
    ),
    rule(
        "§4.6 an event without event_start is skipped and logged (data)",
        "SELECT id FROM sel_event WHERE event_start IS NULL",
        "SELECT e.id FROM sel_event e JOIN tasks t ON t.id = e.task_id JOIN projects p ON p.id = t.project_id
          WHERE e.event_start IS NULL
            AND (EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.legacy_table = 'task_calendar_events' AND m.legacy_id = e.id)
                 OR NOT EXISTS (SELECT 1 FROM migration_log l WHERE l.legacy_id = e.id AND l.error_category = 'data'
                                  AND l.status IN ('failed', 'skipped') AND l.user_id = p.user_id AND l.error_message <> ''))",
    ),
    rule(
        "§4.6 owner_entity_type 'task', owner_entity_id = the onto task, in its onto project",
        "SELECT id FROM event_of",
        "SELECT e.id FROM event_of e JOIN onto_events o ON o.id = e.oid
          WHERE o.owner_entity_type IS DISTINCT FROM 'task' OR o.owner_entity_id IS DISTINCT FROM e.task_oid
             OR o.project_id IS DISTINCT FROM e.project_oid",
    ),
    rule(
        "§4.6 type_key event.task_work; state_key cancelled iff sync_status = cancelled, else scheduled",
        "SELECT id FROM event_of",
        "SELECT e.id FROM event_of e JOIN onto_events o ON o.id = e.oid
          WHERE o.type_key <> 'event.task_work'
             OR o.state_key IS DISTINCT FROM CASE WHEN e.sync_status = 'cancelled' THEN 'cancelled' ELSE 'scheduled' END",
    ),
    rule(
        "§4.6 title = event_title, or \"Task work session\"",
        "SELECT id FROM event_of",
        r"SELECT e.id FROM event_of e JOIN onto_events o ON o.id = e.oid
          WHERE o.title IS DISTINCT FROM coalesce(e.event_title, 'Task work session')
            -- a blank title may count as none
            AND NOT (btrim(coalesce(e.event_title, ''), E' \t\r\n') = '' AND o.title = 'Task work session')",
    ),
    rule(
        "§4.6 start_at, end_at = event_start, event_end",
        "SELECT id FROM event_of",
        "SELECT e.id FROM event_of e JOIN onto_events o ON o.id = e.oid
          WHERE o.start_at IS DISTINCT FROM e.event_start OR o.end_at IS DISTINCT FROM e.event_end",
    ),
    rule(
        "§4.6 external_link = event_link, and the link is not in description",
        "SELECT id FROM event_of WHERE event_link IS NOT NULL",
        "SELECT e.id FROM event_of e JOIN onto_events o ON o.id = e.oid
          WHERE o.external_link IS DISTINCT FROM e.event_link
             OR (e.event_link IS NOT NULL AND strpos(coalesce(o.description, ''), e.event_link) > 0)",
    ),
    rule(
        "§4.6 recurrence = the non-null ones of {rule, master_id, instance_date, is_master, is_exception, exception_type, original_start_time, series_update_scope}",
        "SELECT id FROM event_of WHERE num_nonnulls(recurrence_rule, recurrence_master_id, recurrence_instance_date,
             is_master_event, is_exception, exception_type, original_start_time, series_update_scope) > 0",
        "SELECT e.id FROM event_of e JOIN onto_events o ON o.id = e.oid
          WHERE o.recurrence IS DISTINCT FROM jsonb_strip_nulls(jsonb_build_object(
                'rule', e.recurrence_rule, 'master_id', e.recurrence_master_id,
                'instance_date', e.recurrence_instance_date, 'is_master', e.is_master_event,
                'is_exception', e.is_exception, 'exception_type', e.exception_type,
                'original_start_time', e.original_start_time, 'series_update_scope', e.series_update_scope))",
    ),
    rule(
        "§4.6 props.attendees, props.organizer {email, display_name, self}, props.calendar_id",
        "SELECT id FROM event_of WHERE organizer_email IS NOT NULL OR attendees IS NOT NULL",
        "SELECT e.id FROM event_of e JOIN onto_events o ON o.id = e.oid
          WHERE nullif(o.props -> 'attendees', 'null') IS DISTINCT FROM e.attendees
             OR o.props #>> '{organizer,email}' IS DISTINCT FROM e.organizer_email
             OR o.props #>> '{organizer,display_name}' IS DISTINCT FROM e.organizer_display_name
             OR (o.props #>> '{organizer,self}')::boolean IS DISTINCT FROM e.organizer_self
             OR o.props ->> 'calendar_id' IS DISTINCT FROM e.calendar_id",
    ),
    rule(
        "§4.6 props.sync {source, status, error, version, last_synced_at}",
        "SELECT id FROM event_of",
        "SELECT e.id FROM event_of e JOIN onto_events o ON o.id = e.oid
          WHERE o.props #>> '{sync,source}' IS DISTINCT FROM e.sync_source
             OR o.props #>> '{sync,status}' IS DISTINCT FROM e.sync_status::text
             OR o.props #>> '{sync,error}' IS DISTINCT FROM e.sync_error
             OR (o.props #>> '{sync,version}')::int IS DISTINCT FROM e.sync_version
             OR (o.props #>> '{sync,last_synced_at}')::timestamptz IS DISTINCT FROM e.last_synced_at",
    ),
    rule(
        "§4.6 props.legacy {id, task_id}",
        "SELECT id FROM event_of",
        "SELECT e.id FROM event_of e JOIN onto_events o ON o.id = e.oid
          WHERE o.props #>> '{legacy,id}' IS DISTINCT FROM e.id::text
             OR o.props #>> '{legacy,task_id}' IS DISTINCT FROM e.task_id::text",
    ),
    rule(
        "§4.6 project_calendar_id set → onto_event_sync(calendar_id, provider = sync_source or google, external_event_id)",
        "SELECT id FROM event_of WHERE project_calendar_id IS NOT NULL",
        "SELECT e.id FROM event_of e
          WHERE e.project_calendar_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM onto_event_sync s WHERE s.event_id = e.oid
                              AND s.calendar_id = e.project_calendar_id
                              AND s.provider = coalesce(e.sync_source, 'google')
                              AND s.external_event_id = e.calendar_event_id)",
    ),
    rule(
        "§4.6 no onto_event_sync row without a project_calendar_id",
        "SELECT id FROM event_of WHERE project_calendar_id IS NULL",
        "SELECT e.id FROM event_of e
          WHERE e.project_calendar_id IS NULL AND EXISTS (SELECT 1 FROM onto_event_sync s WHERE s.event_id = e.oid)",
    ),
    rule(
        "§4.6 task —has_event→ event: exactly one, from its task",
        "SELECT id FROM event_of",
        "SELECT e.id FROM event_of e
          WHERE (SELECT count(*) FROM onto_edges g WHERE g.rel = 'has_event' AND g.dst_kind = 'event' AND g.dst_id = e.oid) <> 1
             OR NOT EXISTS (SELECT 1 FROM onto_edges g WHERE g.src_kind = 'task' AND g.src_id = e.task_oid
                              AND g.rel = 'has_event' AND g.dst_kind = 'event' AND g.dst_id = e.oid)",
    ),
    // ---------------------------------------------------------------- §4.1, §4.7 ledger
    rule(
        "§4.1 every onto row has exactly one mapping",
        "SELECT id FROM onto_projects UNION ALL SELECT id FROM onto_documents UNION ALL SELECT id FROM onto_plans
         UNION ALL SELECT id FROM onto_tasks UNION ALL SELECT id FROM onto_events",
        "SELECT o.id FROM (SELECT 'onto_projects' AS tbl, id FROM onto_projects
                           UNION ALL SELECT 'onto_documents', id FROM onto_documents
                           UNION ALL SELECT 'onto_plans', id FROM onto_plans
                           UNION ALL SELECT 'onto_tasks', id FROM onto_tasks
                           UNION ALL SELECT 'onto_events', id FROM onto_events) o
          WHERE (SELECT count(*) FROM legacy_entity_mappings m WHERE m.onto_table = o.tbl AND m.onto_id = o.id) <> 1",
    ),
    rule(
        "§4.1 every mapping points at a row of its onto table, names the run and a SHA-256 checksum",
        "SELECT id FROM legacy_entity_mappings",
        "SELECT m.legacy_id FROM legacy_entity_mappings m CROSS JOIN run
          WHERE m.run_id IS DISTINCT FROM run.id OR m.checksum !~ '^[0-9a-f]{64}$'
             OR NOT CASE m.onto_table
                  WHEN 'onto_projects' THEN m.legacy_table = 'projects' AND EXISTS (SELECT 1 FROM onto_projects o WHERE o.id = m.onto_id)
                  WHEN 'onto_documents' THEN m.legacy_table = 'projects.context' AND EXISTS (SELECT 1 FROM onto_documents o WHERE o.id = m.onto_id)
                  WHEN 'onto_plans' THEN m.legacy_table = 'phases' AND EXISTS (SELECT 1 FROM onto_plans o WHERE o.id = m.onto_id)
                  WHEN 'onto_tasks' THEN m.legacy_table = 'tasks' AND EXISTS (SELECT 1 FROM onto_tasks o WHERE o.id = m.onto_id)
                  WHEN 'onto_events' THEN m.legacy_table = 'task_calendar_events' AND EXISTS (SELECT 1 FROM onto_events o WHERE o.id = m.onto_id)
                  ELSE false END",
    ),
    rule(
        "§4.1 every mapped entity has exactly one completed migration_log row (migrate)",
        "SELECT id FROM legacy_entity_mappings",
        "SELECT m.legacy_id FROM legacy_entity_mappings m
          WHERE (SELECT count(*) FROM migration_log l WHERE l.legacy_id = m.legacy_id AND l.legacy_table = m.legacy_table
                   AND l.status = 'completed') <> 1
             OR NOT EXISTS (SELECT 1 FROM migration_log l WHERE l.legacy_id = m.legacy_id AND l.legacy_table = m.legacy_table
                              AND l.status = 'completed' AND l.operation = 'migrate' AND l.onto_id = m.onto_id
                              AND l.run_id = m.run_id)",
    ),
    rule(
        "§4.7 failed/skipped log rows carry a category, a message and the owner's user_id",
        "SELECT id FROM problem",
        "SELECT l.id FROM problem l LEFT JOIN projects p ON p.id = l.project_id
          WHERE l.error_category IS NULL OR coalesce(l.error_message, '') = '' OR l.user_id IS NULL
             OR l.user_id IS DISTINCT FROM p.user_id",
    ),
    rule(
        "§4.7 an item is partial iff its project logged a failed/skipped entity, else succeeded",
        "SELECT DISTINCT project_id FROM problem",
        "SELECT i.project_id FROM migration_run_items i JOIN run ON run.id = i.run_id
          WHERE i.status IS DISTINCT FROM CASE WHEN EXISTS (SELECT 1 FROM problem l WHERE l.project_id = i.project_id)
                THEN 'partial' ELSE 'succeeded' END",
    ),
    rule(
        "§4.1 every edge joins two existing onto rows of the kinds it names",
        "SELECT id FROM onto_edges",
        "SELECT e.id FROM onto_edges e
          WHERE NOT EXISTS (SELECT 1 FROM (SELECT 'project' AS kind, id FROM onto_projects
                                           UNION ALL SELECT 'document', id FROM onto_documents
                                           UNION ALL SELECT 'plan', id FROM onto_plans
                                           UNION ALL SELECT 'task', id FROM onto_tasks
                                           UNION ALL SELECT 'event', id FROM onto_events) r
                             WHERE r.kind = e.src_kind AND r.id = e.src_id)
             OR NOT EXISTS (SELECT 1 FROM (SELECT 'project' AS kind, id FROM onto_projects
                                           UNION ALL SELECT 'document', id FROM onto_documents
                                           UNION ALL SELECT 'plan', id FROM onto_plans
                                           UNION ALL SELECT 'task', id FROM onto_tasks
                                           UNION ALL SELECT 'event', id FROM onto_events) r
                             WHERE r.kind = e.dst_kind AND r.id = e.dst_id)",
    ),
];

/// One migrated dataset.
struct Dataset {
    label: &'static str,
    seed_args: &'static [&'static str],
    run_args: &'static [&'static str],
}

const DATASETS: [Dataset; 2] = [
    Dataset {
        label: "fixture",
        seed_args: &[
            "--users",
            "6",
            "--projects-per-user",
            "3",
            "--tasks-per-project",
            "12",
            "--seed",
            "7",
            "--bad-rows",
        ],
        run_args: &[],
    },
    // Held out: another seed, other sizes, and archived projects and done tasks included, which
    // puts a project on every facet_scale step.
    Dataset {
        label: "held-out",
        seed_args: &[
            "--users",
            "4",
            "--projects-per-user",
            "4",
            "--tasks-per-project",
            "20",
            "--seed",
            "5150",
            "--bad-rows",
        ],
        run_args: &["--include-completed-tasks", "--include-archived"],
    },
];

/// Seed, migrate through one worker process, and return the database.
async fn migrate(dataset: &Dataset) -> TestDb {
    let db = prepared("rules", dataset.seed_args).await;
    let mut worker = db.spawn_worker("rules", 4, &[]);
    db.wait_workers(&["rules"], Duration::from_secs(30)).await;
    let mut run = vec!["run", "start", "--all", "--watch"];
    run.extend_from_slice(dataset.run_args);
    let out = tokio::time::timeout(RUN_TIMEOUT, db.cli(&run))
        .await
        .expect("run finished in time");
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "run start {:?}: {}",
        dataset.run_args,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        db.count("SELECT count(*) FROM migration_runs WHERE status IN ('completed', 'completed_with_errors')")
            .await,
        1,
        "one finished run"
    );
    worker.kill().await.expect("stop worker");
    db
}

async fn scalar_pair(db: &TestDb, sql: String) -> (i64, Vec<String>) {
    sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"))
}

/// Evaluate every rule; returns the failures (one line each).
async fn check_rules(db: &TestDb, label: &str) -> Vec<String> {
    let with_done: bool = sqlx::query_scalar(
        "SELECT coalesce((options ->> 'include_completed_tasks')::boolean, false) FROM migration_runs",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let mut failures = Vec::new();
    println!("{label}: {:>8} {:>10}  rule", "subjects", "violations");
    for rule in RULES {
        if rule.applies == Applies::WithCompletedTasks && !with_done {
            println!("{label}: {:>8} {:>10}  {}", "n/a", "n/a", rule.name);
            continue;
        }
        let (subjects, _) = scalar_pair(
            db,
            format!(
                "{PRELUDE} SELECT count(DISTINCT s.id), '{{}}'::text[] FROM ({}) s(id)",
                rule.subjects
            ),
        )
        .await;
        let (violations, sample) = scalar_pair(
            db,
            format!(
                "{PRELUDE} SELECT count(DISTINCT v.id), \
                        coalesce((array_agg(DISTINCT v.id::text ORDER BY v.id::text))[1:5], '{{}}') \
                   FROM ({}) v(id)",
                rule.violations
            ),
        )
        .await;
        println!("{label}: {subjects:>8} {violations:>10}  {}", rule.name);
        if subjects == 0 {
            failures.push(format!("{label}: not exercised by the data: {}", rule.name));
        }
        if violations > 0 {
            failures.push(format!(
                "{label}: {violations} violation(s) of {}: e.g. {}",
                rule.name,
                sample.join(", ")
            ));
        }
    }
    let spread: Vec<String> = sqlx::query_scalar(
        "SELECT what || ': ' || string_agg(v || ' ' || n, ', ' ORDER BY v) FROM (
             SELECT 'project facet_scale' AS what, facet_scale AS v, count(*) AS n FROM onto_projects GROUP BY 2
             UNION ALL SELECT 'project facet_context', facet_context, count(*) FROM onto_projects GROUP BY 2
             UNION ALL SELECT 'project state_key', state_key, count(*) FROM onto_projects GROUP BY 2
             UNION ALL SELECT 'plan state_key', state_key, count(*) FROM onto_plans GROUP BY 2
             UNION ALL SELECT 'task state_key', state_key, count(*) FROM onto_tasks GROUP BY 2) s
          GROUP BY what ORDER BY what",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for line in spread {
        println!("{label}: {line}");
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_section_4_rules_hold_on_the_fixture_and_on_held_out_data() {
    let mut failures = Vec::new();
    let mut keep = Vec::new();
    for dataset in &DATASETS {
        let started = Instant::now();
        let db = migrate(dataset).await;
        let migrated = started.elapsed();
        let found = check_rules(&db, dataset.label).await;
        println!(
            "{}: migrated in {:.1}s, {} rules checked in {:.1}s",
            dataset.label,
            migrated.as_secs_f64(),
            RULES.len(),
            (started.elapsed() - migrated).as_secs_f64()
        );
        if found.is_empty() {
            db.drop_db().await;
        } else {
            keep.push(db.name.clone());
            failures.extend(found);
        }
    }
    assert!(
        failures.is_empty(),
        "SPEC §4 rules broken (databases kept for inspection: {keep:?}):\n{}",
        failures.join("\n")
    );
}

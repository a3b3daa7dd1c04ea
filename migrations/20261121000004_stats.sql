-- Progress views over legacy users/projects/tasks and the ledger (notes/buildos-schema.md §3.4),
-- reading public.users instead of auth.users.

CREATE MATERIALIZED VIEW user_migration_stats AS
WITH project_stats AS (
    SELECT p.user_id,
           count(*) AS total_projects,
           count(m.id) AS migrated_projects,
           count(*) FILTER (WHERE m.id IS NULL AND EXISTS (
               SELECT 1 FROM migration_log l
                WHERE l.legacy_table = 'projects' AND l.legacy_id = p.id AND l.status = 'failed'))
               AS failed_projects,
           max(m.migrated_at) AS last_migration_at
      FROM projects p
      LEFT JOIN legacy_entity_mappings m ON m.legacy_table = 'projects' AND m.legacy_id = p.id
     GROUP BY p.user_id
), task_stats AS (
    SELECT p.user_id,
           count(t.id) AS total_tasks,
           count(m.id) AS migrated_tasks
      FROM projects p
      JOIN tasks t ON t.project_id = p.id AND t.deleted_at IS NULL
      LEFT JOIN legacy_entity_mappings m ON m.legacy_table = 'tasks' AND m.legacy_id = t.id
     GROUP BY p.user_id
)
SELECT u.id AS user_id,
       u.email,
       u.name,
       NULL::text AS avatar_url,
       coalesce(ps.total_projects, 0)::int AS total_projects,
       coalesce(ps.migrated_projects, 0)::int AS migrated_projects,
       (coalesce(ps.total_projects, 0) - coalesce(ps.migrated_projects, 0))::int AS pending_projects,
       coalesce(ps.failed_projects, 0)::int AS failed_projects,
       coalesce(ts.total_tasks, 0)::int AS total_tasks,
       coalesce(ts.migrated_tasks, 0)::int AS migrated_tasks,
       ps.last_migration_at,
       CASE
           WHEN coalesce(ps.total_projects, 0) = 0 THEN 'no_projects'
           WHEN coalesce(ps.migrated_projects, 0) = 0 AND coalesce(ps.failed_projects, 0) = 0 THEN 'not_started'
           WHEN coalesce(ps.failed_projects, 0) > 0 THEN 'has_errors'
           WHEN ps.migrated_projects = ps.total_projects THEN 'complete'
           ELSE 'partial'
       END AS migration_status,
       CASE WHEN coalesce(ps.total_projects, 0) = 0 THEN 0::numeric
            ELSE round(ps.migrated_projects::numeric * 100 / ps.total_projects, 1)
       END AS percent_complete
  FROM users u
  LEFT JOIN project_stats ps ON ps.user_id = u.id
  LEFT JOIN task_stats ts ON ts.user_id = u.id;

CREATE UNIQUE INDEX user_migration_stats_user_id_idx ON user_migration_stats (user_id);
CREATE INDEX user_migration_stats_status_idx ON user_migration_stats (migration_status);
CREATE INDEX user_migration_stats_percent_idx ON user_migration_stats (percent_complete);

CREATE VIEW global_migration_progress AS
SELECT (SELECT count(*) FROM projects) AS total_projects,
       (SELECT count(DISTINCT legacy_id) FROM legacy_entity_mappings WHERE legacy_table = 'projects')
           AS migrated_projects,
       (SELECT count(DISTINCT l.legacy_id) FROM migration_log l
         WHERE l.legacy_table = 'projects' AND l.status = 'failed'
           AND NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m
                            WHERE m.legacy_table = 'projects' AND m.legacy_id = l.legacy_id))
           AS failed_projects,
       (SELECT count(*) FROM tasks WHERE deleted_at IS NULL) AS total_tasks,
       (SELECT count(*) FROM legacy_entity_mappings WHERE legacy_table = 'tasks') AS migrated_tasks,
       (SELECT count(DISTINCT legacy_id) FROM migration_log WHERE legacy_table = 'tasks' AND status = 'failed')
           AS failed_tasks,
       (SELECT count(*) FROM users) AS total_users,
       (SELECT count(DISTINCT user_id) FROM projects) AS users_with_projects,
       (SELECT count(*) FROM migration_log WHERE status IN ('failed', 'skipped')) AS total_errors,
       (SELECT count(*) FROM migration_log WHERE status IN ('failed', 'skipped')
           AND error_category = 'recoverable') AS recoverable_errors,
       (SELECT count(*) FROM migration_log WHERE status IN ('failed', 'skipped')
           AND error_category = 'data') AS data_errors,
       (SELECT count(*) FROM migration_log WHERE status IN ('failed', 'skipped')
           AND error_category = 'fatal') AS fatal_errors;

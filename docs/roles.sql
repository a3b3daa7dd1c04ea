-- Least-privilege database roles for ontofleet (SPEC §13). Run as a superuser or the database
-- owner, in the migrated database, BEFORE and again AFTER every `ontofleet db migrate` (it is
-- idempotent; the second run grants on the tables the migration created). Then give the login
-- roles passwords (ALTER ROLE ontofleet_worker PASSWORD '…') or another authentication method,
-- and put one DSN per role in the Secrets (deploy/): the migrate Job uses ontofleet_migrator, the
-- workers ontofleet_worker, `serve` ontofleet_api, KEDA ontofleet_autoscaler.
--
--   ontofleet_migrator    DDL: owns the app tables (public) and the queue schema (apalis)
--   ontofleet_worker      reads the legacy tables; reads/writes ontology, ledger and queue rows; no DDL
--   ontofleet_api         the worker's rights minus writes to the ontology tables, plus the
--                         admin tables (tokens, sessions; the audit insert-only); workers get none
--   ontofleet_autoscaler  reads the counters of migration_runs, nothing else
--
-- The legacy tables (users, projects, …) belong to the application and are only read.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['ontofleet_migrator', 'ontofleet_worker', 'ontofleet_api', 'ontofleet_autoscaler'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', r);
        END IF;
    END LOOP;
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO ontofleet_migrator', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ontofleet_worker, ontofleet_api, ontofleet_autoscaler',
                   current_database());
END $$;

GRANT USAGE, CREATE ON SCHEMA public TO ontofleet_migrator;
GRANT USAGE ON SCHEMA public TO ontofleet_worker, ontofleet_api, ontofleet_autoscaler;
-- The governor (any worker or serve) reads the replication lag columns of pg_stat_replication.
GRANT pg_monitor TO ontofleet_worker, ontofleet_api;

-- What the migrator creates from now on.
ALTER DEFAULT PRIVILEGES FOR ROLE ontofleet_migrator GRANT USAGE ON SCHEMAS TO ontofleet_worker, ontofleet_api;
ALTER DEFAULT PRIVILEGES FOR ROLE ontofleet_migrator
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ontofleet_worker;
ALTER DEFAULT PRIVILEGES FOR ROLE ontofleet_migrator GRANT SELECT ON TABLES TO ontofleet_api;
ALTER DEFAULT PRIVILEGES FOR ROLE ontofleet_migrator
    GRANT USAGE, SELECT ON SEQUENCES TO ontofleet_worker, ontofleet_api;

DO $$
DECLARE
    t record;
BEGIN
    -- The legacy tables: read only.
    FOR t IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind = 'r'
                AND c.relname IN ('users', 'projects', 'phases', 'tasks', 'phase_tasks',
                                  'project_calendars', 'task_calendar_events') LOOP
        EXECUTE format('GRANT SELECT ON %s TO ontofleet_worker, ontofleet_api', t.rel);
        -- The stats views read them with their owner's rights, and onto_event_sync's foreign key
        -- references project_calendars.
        EXECUTE format('GRANT SELECT, REFERENCES ON %s TO ontofleet_migrator', t.rel);
    END LOOP;

    -- The migrator's tables (also those created before this file first ran).
    FOR t IN SELECT c.oid::regclass AS rel, c.relname, n.nspname, c.relkind
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname IN ('public', 'apalis') AND c.relkind IN ('r', 'v', 'm', 'S')
                AND pg_get_userbyid(c.relowner) = 'ontofleet_migrator' LOOP
        IF t.relkind = 'S' THEN
            EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO ontofleet_worker, ontofleet_api', t.rel);
        ELSIF t.relname = '_sqlx_migrations' OR t.relkind IN ('v', 'm') THEN
            -- Migration history and views: read only (readiness checks the schema is current).
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON %s FROM ontofleet_worker, ontofleet_api', t.rel);
            EXECUTE format('GRANT SELECT ON %s TO ontofleet_worker, ontofleet_api', t.rel);
        ELSIF t.nspname = 'public' AND t.relname LIKE 'admin\_%' THEN
            -- The admin API's tokens, sessions and audit: the API only; the audit is append-only.
            EXECUTE format('REVOKE ALL ON %s FROM ontofleet_worker', t.rel);
            IF t.relname = 'admin_audit' THEN
                EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM ontofleet_api', t.rel);
                EXECUTE format('GRANT SELECT, INSERT ON %s TO ontofleet_api', t.rel);
            ELSE
                EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO ontofleet_api', t.rel);
            END IF;
        ELSIF t.nspname = 'public' AND t.relname LIKE 'onto\_%' THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO ontofleet_worker', t.rel);
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON %s FROM ontofleet_api', t.rel);
            EXECUTE format('GRANT SELECT ON %s TO ontofleet_api', t.rel);
        ELSE
            -- Ledger, runs, cache and queue rows: both move them (the API retries and cancels).
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO ontofleet_worker, ontofleet_api', t.rel);
        END IF;
    END LOOP;

    IF to_regclass('public.migration_runs') IS NOT NULL THEN
        GRANT SELECT (status, total_items, succeeded_items, partial_items, failed_items, skipped_items,
                      cancelled_items) ON migration_runs TO ontofleet_autoscaler;
    END IF;
    -- The trigger counts nothing for a paused run and at most the in-flight limit of a limited or
    -- throttled one (SPEC §14).
    IF to_regclass('public.migration_governor') IS NOT NULL THEN
        GRANT SELECT (max_inflight, limit_until) ON migration_runs TO ontofleet_autoscaler;
        GRANT SELECT (id, level, cap, valid_until) ON migration_governor TO ontofleet_autoscaler;
    END IF;
END $$;

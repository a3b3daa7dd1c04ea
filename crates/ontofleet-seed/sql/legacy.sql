-- ontofleet: legacy BuildOS planning schema (source side of the migration).
--
-- Reproduces the legacy tables described in shared/notes/buildos-schema.md §1 for development, tests and
-- demos. In production these tables already exist and this file is never run against them.
--
-- Properties:
--   * idempotent: every object is created only when missing (enum types through DO blocks that swallow
--     duplicate_object, CREATE TABLE / INDEX IF NOT EXISTS), so running the file twice is a no-op;
--   * concurrency safe: everything runs in one transaction that first takes a transaction-scoped advisory
--     lock, so two processes running it at once serialise and the second one finds everything in place;
--   * PostgreSQL >= 13 (gen_random_uuid() is core).
--
-- Column types the notes leave open (generated TypeScript types only say "string"):
--   projects.start_date / end_date        date
--   phases.start_date / end_date          date NOT NULL
--   phase_tasks.suggested_start_date      date
--   tasks.start_date                      timestamptz
--   tasks.recurrence_ends                 date
--   task_calendar_events.recurrence_instance_date  text (Google's instance date as sent, e.g. '2026-11-05')
--   task_calendar_events.original_start_time       text (RFC 3339 string as sent by Google)
--   tasks.outdated                        boolean NULL, default false
--   project_calendars.is_primary          boolean NOT NULL default false
--   project_calendars.sync_enabled        boolean NOT NULL default true
--
-- Foreign keys are deliberately loose where the legacy data is loose: tasks.parent_task_id and
-- tasks.dependencies reference nothing (dangling values exist in real data), and
-- project_calendars.onto_project_id has no foreign key (the ontology tables may not exist yet).

BEGIN;

-- Keep "already exists, skipping" notices out of client logs on re-runs.
SET LOCAL client_min_messages = warning;

-- Serialise concurrent runs of this file (key = LEGACY_DDL_LOCK_KEY in ontofleet-seed).
SELECT pg_advisory_xact_lock(7237960729312097281);

-- ---------------------------------------------------------------------------------------------------------
-- Enum types
-- ---------------------------------------------------------------------------------------------------------

DO $$ BEGIN
    CREATE TYPE public.project_status AS ENUM ('active', 'paused', 'completed', 'archived');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
    CREATE TYPE public.task_status AS ENUM ('backlog', 'in_progress', 'done', 'blocked');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
    CREATE TYPE public.priority_level AS ENUM ('low', 'medium', 'high', 'urgent');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
    CREATE TYPE public.task_type AS ENUM ('one_off', 'recurring');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
    CREATE TYPE public.recurrence_pattern AS ENUM
        ('daily', 'weekdays', 'weekly', 'biweekly', 'monthly', 'quarterly', 'yearly');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
    CREATE TYPE public.recurrence_end_reason AS ENUM
        ('indefinite', 'project_inherited', 'user_specified', 'user_action', 'project_end',
         'max_occurrences', 'end_date', 'task_deleted');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
    CREATE TYPE public.sync_status AS ENUM ('pending', 'synced', 'failed', 'cancelled');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
    CREATE TYPE public.calendar_sync_status AS ENUM ('active', 'paused', 'error');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
    CREATE TYPE public.calendar_visibility AS ENUM ('public', 'private', 'shared');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS public.users (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email       text        NOT NULL,
    name        text        NULL,
    is_admin    boolean     NOT NULL DEFAULT false,
    timezone    text        NOT NULL DEFAULT 'UTC',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.projects (
    id                          uuid           PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                     uuid           NOT NULL REFERENCES public.users (id),
    name                        text           NOT NULL,
    slug                        text           NOT NULL,
    description                 text           NULL,
    status                      public.project_status NOT NULL DEFAULT 'active',
    context                     text           NULL,
    executive_summary           text           NULL,
    tags                        text[]         NULL,
    start_date                  date           NULL,
    end_date                    date           NULL,
    core_goals_momentum         text           NULL,
    core_harmony_integration    text           NULL,
    core_integrity_ideals       text           NULL,
    core_meaning_identity       text           NULL,
    core_opportunity_freedom    text           NULL,
    core_people_bonds           text           NULL,
    core_power_resources        text           NULL,
    core_reality_understanding  text           NULL,
    core_trust_safeguards       text           NULL,
    core_context_descriptions   jsonb          NULL,
    calendar_color_id           text           NULL,
    calendar_settings           jsonb          NULL,
    calendar_sync_enabled       boolean        NULL,
    source                      text           NULL,
    source_metadata             jsonb          NULL,
    created_at                  timestamptz    NOT NULL DEFAULT now(),
    updated_at                  timestamptz    NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.phases (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id         uuid        NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
    user_id            uuid        NOT NULL,
    name               text        NOT NULL,
    description        text        NULL,
    "order"            integer     NOT NULL,
    start_date         date        NOT NULL,
    end_date           date        NOT NULL,
    scheduling_method  text        NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.tasks (
    id                        uuid                  PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                   uuid                  NOT NULL REFERENCES public.users (id),
    project_id                uuid                  NULL REFERENCES public.projects (id) ON DELETE SET NULL,
    parent_task_id            uuid                  NULL,
    title                     text                  NOT NULL,
    description               text                  NULL,
    details                   text                  NULL,
    task_steps                text                  NULL,
    status                    public.task_status           NOT NULL DEFAULT 'backlog',
    priority                  public.priority_level        NOT NULL DEFAULT 'medium',
    task_type                 public.task_type             NOT NULL DEFAULT 'one_off',
    start_date                timestamptz           NULL,
    duration_minutes          integer               NULL,
    recurrence_pattern        public.recurrence_pattern    NULL,
    recurrence_ends           date                  NULL,
    recurrence_end_source     public.recurrence_end_reason NULL,
    dependencies              text[]                NULL,
    outdated                  boolean               NULL DEFAULT false,
    source                    text                  NULL,
    source_calendar_event_id  text                  NULL,
    completed_at              timestamptz           NULL,
    deleted_at                timestamptz           NULL,
    created_at                timestamptz           NOT NULL DEFAULT now(),
    updated_at                timestamptz           NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.phase_tasks (
    id                    uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    phase_id              uuid        NOT NULL REFERENCES public.phases (id) ON DELETE CASCADE,
    task_id               uuid        NOT NULL REFERENCES public.tasks (id) ON DELETE CASCADE,
    "order"               integer     NOT NULL DEFAULT 0,
    assignment_reason     text        NULL,
    suggested_start_date  date        NULL,
    created_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.project_calendars (
    id               uuid                 PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id       uuid                 NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
    user_id          uuid                 NOT NULL,
    calendar_id      text                 NOT NULL,
    calendar_name    text                 NOT NULL,
    color_id         text                 NULL,
    hex_color        text                 NULL,
    is_primary       boolean              NOT NULL DEFAULT false,
    sync_enabled     boolean              NOT NULL DEFAULT true,
    sync_status      public.calendar_sync_status NULL DEFAULT 'active',
    sync_error       text                 NULL,
    last_synced_at   timestamptz          NULL,
    visibility       public.calendar_visibility  NULL DEFAULT 'private',
    created_at       timestamptz          NOT NULL DEFAULT now(),
    updated_at       timestamptz          NOT NULL DEFAULT now(),
    onto_project_id  uuid                 NULL
);

CREATE TABLE IF NOT EXISTS public.task_calendar_events (
    id                        uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id                   uuid        NOT NULL REFERENCES public.tasks (id) ON DELETE CASCADE,
    user_id                   uuid        NOT NULL,
    calendar_id               text        NOT NULL,
    calendar_event_id         text        NOT NULL,
    project_calendar_id       uuid        NULL REFERENCES public.project_calendars (id) ON DELETE SET NULL,
    event_title               text        NULL,
    event_start               timestamptz NULL,
    event_end                 timestamptz NULL,
    event_link                text        NULL,
    attendees                 jsonb       NULL,
    organizer_email           text        NULL,
    organizer_display_name    text        NULL,
    organizer_self            boolean     NULL,
    recurrence_rule           text        NULL,
    recurrence_master_id      text        NULL,
    recurrence_instance_date  text        NULL,
    is_master_event           boolean     NULL,
    is_exception              boolean     NULL,
    exception_type            text        NULL,
    original_start_time       text        NULL,
    series_update_scope       text        NULL,
    sync_status               public.sync_status NOT NULL DEFAULT 'pending',
    sync_source               text        NULL,
    sync_error                text        NULL,
    sync_version              integer     NULL,
    last_synced_at            timestamptz NULL,
    created_at                timestamptz NULL DEFAULT now(),
    updated_at                timestamptz NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------------------
-- Indexes (the access paths of the migration pipeline)
-- ---------------------------------------------------------------------------------------------------------

CREATE INDEX IF NOT EXISTS projects_user_id_idx ON public.projects (user_id);
CREATE INDEX IF NOT EXISTS phases_project_id_idx ON public.phases (project_id);
CREATE INDEX IF NOT EXISTS tasks_project_id_idx ON public.tasks (project_id);
CREATE INDEX IF NOT EXISTS tasks_user_id_idx ON public.tasks (user_id);
CREATE INDEX IF NOT EXISTS phase_tasks_task_id_idx ON public.phase_tasks (task_id);
CREATE INDEX IF NOT EXISTS phase_tasks_phase_id_idx ON public.phase_tasks (phase_id);
CREATE INDEX IF NOT EXISTS project_calendars_project_id_idx ON public.project_calendars (project_id);
CREATE INDEX IF NOT EXISTS project_calendars_onto_project_id_idx ON public.project_calendars (onto_project_id);
CREATE INDEX IF NOT EXISTS task_calendar_events_task_id_idx ON public.task_calendar_events (task_id);
CREATE INDEX IF NOT EXISTS task_calendar_events_project_calendar_id_idx
    ON public.task_calendar_events (project_calendar_id);

COMMIT;

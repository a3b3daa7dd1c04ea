-- Ontology (target) tables, modelled on the BuildOS "template era" with the improvements of
-- SPEC §3.2: unique edges, NOT NULL actor names, events with an external_link column.
-- Requires the legacy tables (onto_event_sync references project_calendars).

CREATE TABLE onto_actors (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind       text NOT NULL DEFAULT 'human' CHECK (kind IN ('human', 'agent')),
    name       text NOT NULL,
    email      text,
    user_id    uuid UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chk_human_has_user CHECK ((kind = 'human') = (user_id IS NOT NULL))
);

CREATE TABLE onto_templates (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scope           text NOT NULL,
    type_key        text NOT NULL,
    name            text NOT NULL,
    parent_type_key text,
    is_abstract     boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('draft', 'active', 'deprecated')),
    schema          jsonb NOT NULL DEFAULT '{}',
    fsm             jsonb NOT NULL DEFAULT '{}',
    default_props   jsonb NOT NULL DEFAULT '{}',
    facet_defaults  jsonb NOT NULL DEFAULT '{}',
    metadata        jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT onto_templates_scope_type_key_key UNIQUE (scope, type_key),
    CONSTRAINT chk_scope_valid CHECK (scope IN ('project', 'plan', 'task', 'output', 'document', 'goal',
        'requirement', 'risk', 'milestone', 'metric', 'event')),
    CONSTRAINT chk_type_key_format CHECK (type_key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,3}$'),
    CONSTRAINT chk_type_key_scope CHECK (split_part(type_key, '.', 1) = scope)
);

CREATE TABLE onto_projects (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL,
    description   text,
    type_key      text NOT NULL,
    state_key     text NOT NULL DEFAULT 'draft',
    props         jsonb NOT NULL DEFAULT '{}',
    facet_context text,
    facet_scale   text,
    facet_stage   text,
    start_at      timestamptz,
    end_at        timestamptz,
    created_by    uuid NOT NULL REFERENCES onto_actors (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX onto_projects_created_by_idx ON onto_projects (created_by);

CREATE TABLE onto_plans (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES onto_projects (id) ON DELETE CASCADE,
    name       text NOT NULL,
    type_key   text NOT NULL,
    state_key  text NOT NULL DEFAULT 'draft',
    props      jsonb NOT NULL DEFAULT '{}',
    created_by uuid NOT NULL REFERENCES onto_actors (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX onto_plans_project_id_idx ON onto_plans (project_id);

CREATE TABLE onto_tasks (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES onto_projects (id) ON DELETE CASCADE,
    title      text NOT NULL,
    type_key   text NOT NULL DEFAULT 'task.execute',
    state_key  text NOT NULL DEFAULT 'todo',
    priority   integer NOT NULL CHECK (priority BETWEEN 1 AND 5),
    due_at     timestamptz,
    props      jsonb NOT NULL DEFAULT '{}',
    created_by uuid NOT NULL REFERENCES onto_actors (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX onto_tasks_project_id_idx ON onto_tasks (project_id);

CREATE TABLE onto_documents (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES onto_projects (id) ON DELETE CASCADE,
    title      text NOT NULL,
    type_key   text NOT NULL,
    state_key  text NOT NULL DEFAULT 'draft',
    props      jsonb NOT NULL DEFAULT '{}',
    created_by uuid NOT NULL REFERENCES onto_actors (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX onto_documents_project_id_idx ON onto_documents (project_id);

CREATE TABLE onto_events (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id        uuid REFERENCES onto_projects (id) ON DELETE CASCADE,
    owner_entity_type text NOT NULL CHECK (owner_entity_type IN ('project', 'plan', 'task', 'goal', 'output',
        'actor', 'standalone')),
    owner_entity_id   uuid,
    type_key          text NOT NULL,
    state_key         text NOT NULL DEFAULT 'scheduled',
    title             text NOT NULL,
    description       text,
    start_at          timestamptz NOT NULL,
    end_at            timestamptz,
    all_day           boolean NOT NULL DEFAULT false,
    timezone          text,
    recurrence        jsonb NOT NULL DEFAULT '{}',
    external_link     text,
    props             jsonb NOT NULL DEFAULT '{}',
    created_by        uuid NOT NULL REFERENCES onto_actors (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chk_owner CHECK ((owner_entity_type = 'standalone') = (owner_entity_id IS NULL))
);
CREATE INDEX onto_events_project_id_idx ON onto_events (project_id);
CREATE INDEX onto_events_owner_idx ON onto_events (owner_entity_type, owner_entity_id);

CREATE TABLE onto_event_sync (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id          uuid NOT NULL REFERENCES onto_events (id) ON DELETE CASCADE,
    calendar_id       uuid NOT NULL REFERENCES project_calendars (id) ON DELETE CASCADE,
    provider          text NOT NULL DEFAULT 'google',
    external_event_id text NOT NULL,
    sync_status       text NOT NULL DEFAULT 'pending',
    sync_error        text,
    last_synced_at    timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT onto_event_sync_external_key UNIQUE (calendar_id, provider, external_event_id)
);
CREATE INDEX onto_event_sync_event_id_idx ON onto_event_sync (event_id);

CREATE TABLE onto_edges (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    src_kind   text NOT NULL,
    src_id     uuid NOT NULL,
    rel        text NOT NULL,
    dst_kind   text NOT NULL,
    dst_id     uuid NOT NULL,
    props      jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The original had no uniqueness and duplicated edges on every retry.
    CONSTRAINT onto_edges_unique UNIQUE (src_kind, src_id, rel, dst_kind, dst_id)
);
CREATE INDEX onto_edges_dst_idx ON onto_edges (dst_kind, dst_id);

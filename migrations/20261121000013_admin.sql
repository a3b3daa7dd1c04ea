-- Access to the admin API (SPEC §12): named tokens with a role, browser sessions exchanged for a
-- token, and the append-only audit of every operator mutation. Secrets are stored as SHA-256 only.
CREATE TABLE admin_tokens (
    name         text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    role         text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_sha256 bytea       NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE TABLE admin_sessions (
    id_sha256    bytea       PRIMARY KEY CHECK (octet_length(id_sha256) = 32),
    token_name   text        NOT NULL REFERENCES admin_tokens (name) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX admin_sessions_token ON admin_sessions (token_name);

CREATE TABLE admin_audit (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,
    role       text        NOT NULL,
    action     text        NOT NULL,
    filter     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    affected   bigint,
    request_id text
);

-- Append-only for everyone but the owner's explicit DDL: a trigger refuses UPDATE, DELETE and
-- TRUNCATE, so neither the API's role nor a bug can rewrite history.
CREATE FUNCTION admin_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'admin_audit is append-only';
END $$;
CREATE TRIGGER admin_audit_no_update BEFORE UPDATE OR DELETE ON admin_audit
    FOR EACH ROW EXECUTE FUNCTION admin_audit_append_only();
CREATE TRIGGER admin_audit_no_truncate BEFORE TRUNCATE ON admin_audit
    FOR EACH STATEMENT EXECUTE FUNCTION admin_audit_append_only();

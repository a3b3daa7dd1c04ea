-- When user_migration_stats was last refreshed (the dashboard shows the view's freshness): the
-- refresh function records it in the same call.
CREATE TABLE user_migration_stats_refreshes (
    id           int         PRIMARY KEY CHECK (id = 1),
    refreshed_at timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION refresh_user_migration_stats() RETURNS void
    LANGUAGE sql
    SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    REFRESH MATERIALIZED VIEW CONCURRENTLY user_migration_stats;
    INSERT INTO user_migration_stats_refreshes (id, refreshed_at) VALUES (1, clock_timestamp())
        ON CONFLICT (id) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at;
$$;

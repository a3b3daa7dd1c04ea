-- Only the owner of a materialized view may refresh it (PostgreSQL < 17 has no MAINTAIN
-- privilege). Run completion refreshes user_migration_stats from a worker, which under the
-- least-privilege roles (docs/roles.sql) owns nothing: it calls this function, which runs as the
-- migrator that owns the view, and does that one thing only.
CREATE FUNCTION refresh_user_migration_stats() RETURNS void
    LANGUAGE sql
    SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$ REFRESH MATERIALIZED VIEW CONCURRENTLY user_migration_stats $$;

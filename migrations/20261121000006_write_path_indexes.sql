-- Fewer indexes on the tables every project writes (issue #3, make bench): each index is a b-tree
-- insert per row, and these were redundant or unread.
--
-- onto_edges: the unique key leads with src_id, so it also serves the per-project edge lookup by
-- source id and the separate src_id index goes. ON CONFLICT infers the key by its column set, so
-- writers keep naming the same columns.
ALTER TABLE onto_edges DROP CONSTRAINT onto_edges_unique;
ALTER TABLE onto_edges ADD CONSTRAINT onto_edges_unique UNIQUE (src_id, rel, dst_id, src_kind, dst_kind);
DROP INDEX onto_edges_src_id_idx;

-- legacy_entity_mappings: the load statement looks mappings up by (legacy_table, legacy_id), the
-- unique key.
DROP INDEX legacy_entity_mappings_legacy_id_idx;

-- migration_log: nothing reads it by onto row or by user (per-user figures come from the legacy
-- tables and mappings); by run, by legacy entity and the error index stay.
DROP INDEX migration_log_onto_idx;
DROP INDEX migration_log_user_idx;

-- migration_log by legacy entity is read for problems only (per-user failed projects, error
-- reports): a partial index over failed and skipped rows serves those reads, and the completed
-- rows — nearly all of them — maintain no legacy index.
DROP INDEX migration_log_legacy_idx;
CREATE INDEX migration_log_problem_legacy_idx ON migration_log (legacy_table, legacy_id)
    WHERE status IN ('failed', 'skipped');

-- legacy_entity_mappings by run: rollback and validation of a run find its entities through the
-- run's migration_log rows (indexed by run), so the mapping rows need no run index.
DROP INDEX legacy_entity_mappings_run_idx;

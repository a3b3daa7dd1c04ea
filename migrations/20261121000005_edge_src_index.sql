-- The per-project edge diff looks edges up by source id; the unique constraint leads with
-- src_kind, which made that lookup a scan as onto_edges grew (10 ms per project at 100k edges).
CREATE INDEX onto_edges_src_id_idx ON onto_edges (src_id);

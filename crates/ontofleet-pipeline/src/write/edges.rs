//! The edge diff: a project's existing edges against the desired set, once per project.

use std::collections::HashSet;

use sqlx::PgConnection;
use uuid::Uuid;

use super::kind;
use crate::transform::{DERIVED_RELS, Edge, ProjectPlan};

/// Diff the project's derived edges against the desired set: delete the ones the legacy data no
/// longer implies and return the missing ones (inserted with the batches) with the number
/// deleted. Unchanged data writes nothing. Existing edges are streamed and kept as compact
/// [`Edge`]s, so a big project's diff costs one edge set of memory, not a copy per string.
pub async fn diff_edges<'a>(
    conn: &mut PgConnection,
    plan: &'a ProjectPlan,
) -> Result<(Vec<&'a Edge>, usize), sqlx::Error> {
    use futures::TryStreamExt;

    let mut present: HashSet<Edge> = HashSet::new();
    let mut stale: Vec<Uuid> = Vec::new();
    if !plan.all_fresh() {
        let mut rows = sqlx::query_as::<_, (Uuid, String, Uuid, String, String, Uuid)>(
            "SELECT id, src_kind, src_id, rel, dst_kind, dst_id FROM onto_edges WHERE src_id = ANY($1) AND rel = ANY($2)",
        )
        .bind(plan.onto_ids())
        .bind(&DERIVED_RELS[..])
        .fetch(&mut *conn);
        while let Some((id, src_kind, src_id, rel, dst_kind, dst_id)) = rows.try_next().await? {
            let edge = match (
                kind(&src_kind),
                DERIVED_RELS.iter().find(|r| **r == rel),
                kind(&dst_kind),
            ) {
                (Some(src_kind), Some(rel), Some(dst_kind)) => Edge {
                    src_kind,
                    src_id,
                    rel,
                    dst_kind,
                    dst_id,
                },
                _ => {
                    stale.push(id);
                    continue;
                }
            };
            if plan.edges.contains(&edge) {
                present.insert(edge);
            } else {
                stale.push(id);
            }
        }
    }
    let missing: Vec<&Edge> = plan.edges.iter().filter(|e| !present.contains(e)).collect();
    if !stale.is_empty() {
        sqlx::query("DELETE FROM onto_edges WHERE id = ANY($1)")
            .bind(&stale)
            .execute(&mut *conn)
            .await?;
    }
    Ok((missing, stale.len()))
}

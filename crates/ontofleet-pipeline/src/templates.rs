//! The template catalog: loaded once per worker and cached, never written by a run.
//! Resolution (SPEC §5.2): exact active match, else the parent key, else the scope fallback.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::PgPool;

/// One usable template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Full type key.
    pub type_key: String,
    /// Defaults deep-merged under the entity's props.
    pub default_props: Value,
    /// JSON schema of props.
    pub schema: Value,
}

/// Active, concrete templates by type key.
#[derive(Debug, Clone, Default)]
pub struct TemplateCatalog {
    by_key: HashMap<String, Template>,
}

/// The fallback type key of a scope.
pub fn scope_fallback(scope: &str) -> &'static str {
    match scope {
        "project" => "project.migration.generic",
        "plan" => "plan.phase.project",
        "document" => "document.context.project",
        "event" => "event.task_work",
        _ => "task.execute",
    }
}

/// How a type key was chosen, recorded in the preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The proposed key exists.
    Exact,
    /// A parent of the proposed key exists.
    Parent,
    /// Nothing matched: the scope fallback.
    Fallback,
}

impl TemplateCatalog {
    /// Load every active, non-abstract template.
    pub async fn load(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let rows: Vec<(String, Value, Value)> = sqlx::query_as(
            "SELECT type_key, default_props, schema FROM onto_templates WHERE status = 'active' AND NOT is_abstract",
        )
        .fetch_all(pool)
        .await?;
        Ok(Self::from_templates(rows.into_iter().map(
            |(type_key, default_props, schema)| Template {
                type_key,
                default_props,
                schema,
            },
        )))
    }

    /// A catalog from templates (tests, previews).
    pub fn from_templates(templates: impl IntoIterator<Item = Template>) -> Self {
        Self {
            by_key: templates
                .into_iter()
                .map(|t| (t.type_key.clone(), t))
                .collect(),
        }
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Resolve a proposed key in `scope`. In fallback mode only the scope fallback is used.
    pub fn resolve(
        &self,
        scope: &str,
        proposed: &str,
        fallback_mode: bool,
    ) -> (String, Resolution) {
        if !fallback_mode {
            if self.by_key.contains_key(proposed) {
                return (proposed.to_owned(), Resolution::Exact);
            }
            let mut key = proposed;
            while let Some((parent, _)) = key.rsplit_once('.') {
                if !parent.contains('.') {
                    break;
                }
                if self.by_key.contains_key(parent) {
                    return (parent.to_owned(), Resolution::Parent);
                }
                key = parent;
            }
        }
        (scope_fallback(scope).to_owned(), Resolution::Fallback)
    }

    /// Default props of a key (`{}` when unknown).
    pub fn default_props(&self, type_key: &str) -> Value {
        self.by_key.get(type_key).map_or_else(
            || Value::Object(Default::default()),
            |t| t.default_props.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> TemplateCatalog {
        TemplateCatalog::from_templates(
            ["task.execute", "task.coordinate", "task.coordinate.meeting"].map(|k| Template {
                type_key: k.to_owned(),
                default_props: json!({"k": k}),
                schema: json!({}),
            }),
        )
    }

    #[test]
    fn exact_parent_and_fallback() {
        let c = catalog();
        assert_eq!(
            c.resolve("task", "task.coordinate.meeting", false),
            ("task.coordinate.meeting".into(), Resolution::Exact)
        );
        assert_eq!(
            c.resolve("task", "task.coordinate.call", false),
            ("task.coordinate".into(), Resolution::Parent)
        );
        assert_eq!(
            c.resolve("task", "task.review.code", false),
            ("task.execute".into(), Resolution::Fallback)
        );
        assert_eq!(
            c.resolve("task", "task.coordinate.meeting", true),
            ("task.execute".into(), Resolution::Fallback)
        );
        assert_eq!(
            c.default_props("task.coordinate"),
            json!({"k": "task.coordinate"})
        );
        assert_eq!(c.default_props("nope"), json!({}));
    }
}

//! The template catalog: loaded once per worker and cached, never written by a run.
//! Resolution (SPEC §5.2): exact active match; else the best-scoring template of the scope if its
//! score reaches [`SCORE_THRESHOLD`]; else the nearest existing parent key; else the scope
//! fallback.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::PgPool;

/// The score a candidate needs to replace a proposed key that has no template (SPEC §5.2).
pub const SCORE_THRESHOLD: f64 = 0.70;

/// One usable template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Full type key.
    pub type_key: String,
    /// Defaults deep-merged under the entity's props.
    pub default_props: Value,
    /// JSON schema of props.
    pub schema: Value,
    /// Display name.
    pub name: String,
    /// `metadata.keywords`: phrases matched against the entity's text by the scorer.
    pub keywords: Vec<String>,
}

impl Template {
    /// A template with no name or keywords (tests).
    pub fn bare(type_key: &str, default_props: Value, schema: Value) -> Self {
        Self {
            type_key: type_key.to_owned(),
            default_props,
            schema,
            name: String::new(),
            keywords: Vec::new(),
        }
    }
}

/// Active, concrete templates by type key, with the scorer's word lists prepared once.
#[derive(Debug, Clone, Default)]
pub struct TemplateCatalog {
    by_key: HashMap<String, Template>,
    /// Per template (sorted by key, for deterministic ties): its scorer input.
    scored: Vec<Candidate>,
}

/// A template as the scorer sees it: words, not strings.
#[derive(Debug, Clone)]
struct Candidate {
    type_key: String,
    scope: String,
    /// The last key segment as words (`code_review` → `code review`).
    specialization: Vec<String>,
    keywords: Vec<Vec<String>>,
    name: Vec<String>,
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
    /// Another template of the scope scored at least [`SCORE_THRESHOLD`] against the entity.
    Scored,
    /// A parent of the proposed key exists.
    Parent,
    /// Nothing matched: the scope fallback.
    Fallback,
}

impl TemplateCatalog {
    /// Load every active, non-abstract template.
    pub async fn load(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let rows: Vec<(String, Value, Value, String, Value)> = sqlx::query_as(
            "SELECT type_key, default_props, schema, name, metadata->'keywords' FROM onto_templates \
              WHERE status = 'active' AND NOT is_abstract",
        )
        .fetch_all(pool)
        .await?;
        Ok(Self::from_templates(rows.into_iter().map(
            |(type_key, default_props, schema, name, keywords)| {
                Template {
                    type_key,
                    default_props,
                    schema,
                    name,
                    keywords: keywords
                        .as_array()
                        .map(|k| {
                            k.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            },
        )))
    }

    /// A catalog from templates (tests, previews).
    pub fn from_templates(templates: impl IntoIterator<Item = Template>) -> Self {
        let by_key: HashMap<String, Template> = templates
            .into_iter()
            .map(|t| (t.type_key.clone(), t))
            .collect();
        let mut scored: Vec<Candidate> = by_key
            .values()
            .map(|t| Candidate {
                type_key: t.type_key.clone(),
                scope: t.type_key.split('.').next().unwrap_or("").to_owned(),
                specialization: t
                    .type_key
                    .rsplit('.')
                    .next()
                    .map(|s| s.split('_').map(stem).collect())
                    .unwrap_or_default(),
                keywords: t.keywords.iter().map(|k| text_words(k)).collect(),
                name: text_words(&t.name)
                    .into_iter()
                    .filter(|w| !GENERIC_NAME_WORDS.contains(&w.as_str()))
                    .collect(),
            })
            .collect();
        scored.sort_by(|a, b| a.type_key.cmp(&b.type_key));
        Self { by_key, scored }
    }

    /// The task type keys a classifier may answer with: the eight `task.{mode}` bases, then
    /// every active `task.{mode}.{specialization}` template whose mode is one of them, sorted.
    pub fn task_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = ontofleet_core::WorkMode::ALL
            .iter()
            .map(|m| format!("task.{}", m.as_str()))
            .collect();
        let mut specialised: Vec<String> = self
            .by_key
            .keys()
            .filter(|k| {
                crate::classify::Classification::parse_type_key(k)
                    .is_some_and(|(_, spec)| spec.is_some())
            })
            .cloned()
            .collect();
        specialised.sort();
        keys.extend(specialised);
        keys
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Resolve a proposed key in `scope` for an entity whose text (title, description) is
    /// `text`. In fallback mode only the scope fallback is used.
    pub fn resolve(
        &self,
        scope: &str,
        proposed: &str,
        text: &str,
        fallback_mode: bool,
    ) -> (String, Resolution) {
        if fallback_mode {
            return (scope_fallback(scope).to_owned(), Resolution::Fallback);
        }
        if self.by_key.contains_key(proposed) {
            return (proposed.to_owned(), Resolution::Exact);
        }
        if let Some((key, _)) = self.best_candidate(scope, proposed, text) {
            return (key.to_owned(), Resolution::Scored);
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
        (scope_fallback(scope).to_owned(), Resolution::Fallback)
    }

    /// The best-scoring template of `scope` for a proposed key that has none, if it reaches
    /// [`SCORE_THRESHOLD`]. Ancestors of the proposed key are not candidates: reaching them is
    /// the parent fallback's job, and a parent would otherwise win on key similarity alone.
    pub fn best_candidate(&self, scope: &str, proposed: &str, text: &str) -> Option<(&str, f64)> {
        let words = text_words(text);
        let mut best: Option<(&str, f64)> = None;
        for c in self.scored.iter().filter(|c| c.scope == scope) {
            let is_ancestor = proposed
                .strip_prefix(c.type_key.as_str())
                .is_some_and(|rest| rest.starts_with('.'));
            if is_ancestor {
                continue;
            }
            let s = score(proposed, &words, c);
            // Strictly greater: ties go to the first key in sorted order (deterministic).
            if s >= SCORE_THRESHOLD && best.is_none_or(|(_, b)| s > b) {
                best = Some((c.type_key.as_str(), s));
            }
        }
        best
    }

    /// JSON schema of a key (`{}` when unknown).
    pub fn schema(&self, type_key: &str) -> &Value {
        static EMPTY: std::sync::LazyLock<Value> =
            std::sync::LazyLock::new(|| Value::Object(Default::default()));
        self.by_key.get(type_key).map_or(&EMPTY, |t| &t.schema)
    }

    /// Default props of a key (`{}` when unknown).
    pub fn default_props(&self, type_key: &str) -> Value {
        self.by_key.get(type_key).map_or_else(
            || Value::Object(Default::default()),
            |t| t.default_props.clone(),
        )
    }
}

/// Name words that say nothing about the kind of work ("Base Task", "Project Phase").
const GENERIC_NAME_WORDS: [&str; 6] = ["task", "project", "plan", "the", "and", "of"];

/// Lower-case words, singularised, for phrase matching.
fn text_words(text: &str) -> Vec<String> {
    crate::rules::words(text).iter().map(|w| stem(w)).collect()
}

/// A crude singular: enough for `meetings`/`meeting`, `competitors`/`competitor`.
fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    match w.strip_suffix('s') {
        Some(base) if base.len() > 3 && !base.ends_with('s') => base.to_owned(),
        _ => w,
    }
}

fn contains_phrase(words: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty()
        && words
            .windows(phrase.len())
            .any(|w| w.iter().zip(phrase).all(|(a, b)| a == b))
}

/// Score in [0, 1] of `candidate` for an entity whose proposed key is `proposed` and whose text
/// is `words`: half key similarity (shared leading segments over the longer key's segments), half
/// text evidence (the candidate's specialization named in the text 1.0, one of its keywords 0.9,
/// else the share of its name's words present × 0.8). A sibling in the proposed key's family
/// (two of three segments) needs a keyword in the text to pass 0.70; a template of another
/// family cannot pass on text alone, so the classifier's work mode is never overridden.
fn score(proposed: &str, words: &[String], c: &Candidate) -> f64 {
    let p: Vec<&str> = proposed.split('.').collect();
    let k: Vec<&str> = c.type_key.split('.').collect();
    let shared = p.iter().zip(&k).take_while(|(a, b)| a == b).count();
    let key = shared as f64 / p.len().max(k.len()) as f64;
    let text = if contains_phrase(words, &c.specialization) {
        1.0
    } else if c.keywords.iter().any(|kw| contains_phrase(words, kw)) {
        0.9
    } else if c.name.is_empty() {
        0.0
    } else {
        let hits = c.name.iter().filter(|n| words.contains(n)).count();
        0.8 * hits as f64 / c.name.len() as f64
    };
    0.5 * key + 0.5 * text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(key: &str, name: &str, keywords: &[&str]) -> Template {
        Template {
            name: name.to_owned(),
            keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
            ..Template::bare(key, json!({"k": key}), json!({}))
        }
    }

    fn catalog() -> TemplateCatalog {
        TemplateCatalog::from_templates([
            template("task.execute", "Execution Task", &["implement", "fix"]),
            template(
                "task.execute.deploy",
                "Deploy",
                &["deploy", "release", "go live"],
            ),
            template(
                "task.coordinate",
                "Coordination Task",
                &["coordinate", "email"],
            ),
            template(
                "task.coordinate.meeting",
                "Meeting",
                &["meeting", "call", "zoom"],
            ),
            template(
                "task.review.code",
                "Code Review",
                &["code review", "pull request"],
            ),
            template("project.writer.book", "Book", &["novel", "manuscript"]),
            template("project.migration.generic", "Migrated Project", &["legacy"]),
        ])
    }

    /// One row per branch of SPEC §5.2: (proposed key, entity text, fallback mode, expected).
    #[test]
    fn resolution_branches() {
        let c = catalog();
        let cases = [
            // exact active match wins whatever the text says
            (
                "task",
                "task.coordinate.meeting",
                "Deploy the API",
                false,
                ("task.coordinate.meeting", Resolution::Exact),
            ),
            // no template for the proposed key: a sibling whose keyword is in the text scores
            // 0.5 × 2/3 + 0.5 × 0.9 = 0.78
            (
                "task",
                "task.coordinate.call",
                "Call with the landlord",
                false,
                ("task.coordinate.meeting", Resolution::Scored),
            ),
            // the sibling's own specialization named in the text: 0.5 × 2/3 + 0.5 × 1.0 = 0.83
            (
                "task",
                "task.coordinate.sync",
                "Weekly meetings with Ana",
                false,
                ("task.coordinate.meeting", Resolution::Scored),
            ),
            // no evidence for any sibling: below 0.70, parent fallback
            (
                "task",
                "task.coordinate.call",
                "Landlord",
                false,
                ("task.coordinate", Resolution::Parent),
            ),
            // a sibling's keyword beats another family's specialization word: the deploy
            // template scores 0.5 × 1/3 + 0.5 × 1.0 = 0.67, the meeting template 0.78
            (
                "task",
                "task.coordinate.call",
                "Call about the deploy",
                false,
                ("task.coordinate.meeting", Resolution::Scored),
            ),
            // another family cannot win on text alone (0.67 < 0.70): parent fallback
            (
                "task",
                "task.coordinate.handoff",
                "Deploy handoff",
                false,
                ("task.coordinate", Resolution::Parent),
            ),
            // nothing of the family exists: scope fallback
            (
                "task",
                "task.plan.roadmap",
                "Roadmap for Q3",
                false,
                ("task.execute", Resolution::Fallback),
            ),
            (
                "project",
                "project.event.wedding",
                "Our wedding",
                false,
                ("project.migration.generic", Resolution::Fallback),
            ),
            // fallback mode (the retry after a data error) uses the scope fallback only
            (
                "task",
                "task.coordinate.meeting",
                "Meeting",
                true,
                ("task.execute", Resolution::Fallback),
            ),
        ];
        for (scope, proposed, text, fallback, (want, how)) in cases {
            assert_eq!(
                c.resolve(scope, proposed, text, fallback),
                (want.to_owned(), how),
                "{proposed} / {text:?}"
            );
        }
    }

    #[test]
    fn scores_are_the_documented_figures() {
        let c = catalog();
        let (key, s) = c
            .best_candidate("task", "task.coordinate.call", "Call with the landlord")
            .unwrap();
        assert_eq!(key, "task.coordinate.meeting");
        assert!((s - (0.5 * 2.0 / 3.0 + 0.5 * 0.9)).abs() < 1e-9, "{s}");
        // Plurals match singular keywords; the best of several candidates wins.
        let (key, _) = c
            .best_candidate("task", "task.review.pr", "Look at two pull requests")
            .unwrap();
        assert_eq!(key, "task.review.code");
        assert!(
            c.best_candidate("task", "task.review.pr", "Landlord")
                .is_none()
        );
    }

    #[test]
    fn defaults_and_schema_of_unknown_keys() {
        let c = catalog();
        assert_eq!(
            c.default_props("task.coordinate"),
            json!({"k": "task.coordinate"})
        );
        assert_eq!(c.default_props("nope"), json!({}));
        assert_eq!(c.schema("nope"), &json!({}));
    }
}

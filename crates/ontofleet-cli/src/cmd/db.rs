//! `db migrate` and `db status`.

use crate::CliError;
use crate::cli::DbCommand;
use crate::context::Ctx;
use crate::output::{self, out};

pub async fn run(ctx: Ctx<'_>, command: &DbCommand) -> Result<(), CliError> {
    let pool = ctx.db_any().await?;
    match command {
        DbCommand::Migrate => {
            let migrated = ontofleet_ops::db::migrate(&pool).await?;
            if ctx.json() {
                output::json_of(&migrated);
            } else {
                out!(
                    "schema up to date: {} migrations applied (app + queue)",
                    migrated.applied
                );
                if !migrated.change_indexes_created.is_empty() {
                    out!(
                        "change indexes built on the legacy tables: {}",
                        migrated.change_indexes_created.join(", ")
                    );
                }
                if !migrated.change_indexes_not_permitted.is_empty() {
                    // Not fatal: catch-up passes work without them, reading whole tables.
                    eprintln!(
                        "warning: this role does not own the legacy tables, so the change indexes ({}) were not built; have their owner run docs/change-indexes.sql, or catch-up passes (`run start --changed-since`) read whole tables",
                        migrated.change_indexes_not_permitted.join(", ")
                    );
                }
            }
        }
        DbCommand::Status => {
            let status = ontofleet_ops::db::status(&pool).await?;
            if ctx.json() {
                output::json_of(&status);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = status
                .migrations
                .iter()
                .map(|s| {
                    vec![
                        s.set.to_owned(),
                        s.version.to_string(),
                        s.description.clone(),
                        s.applied_at.map_or_else(
                            || "pending".to_owned(),
                            |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
                        ),
                    ]
                })
                .collect();
            output::table(&["SET", "VERSION", "DESCRIPTION", "APPLIED"], &rows);
            let missing: Vec<&str> = status
                .change_indexes
                .iter()
                .filter(|i| !i.ready)
                .map(|i| i.name.as_str())
                .collect();
            if missing.is_empty() {
                out!(
                    "change indexes: all {} in place",
                    status.change_indexes.len()
                );
            } else {
                out!(
                    "change indexes missing: {} (run `ontofleet db migrate` as the legacy tables' owner, or docs/change-indexes.sql)",
                    missing.join(", ")
                );
            }
        }
    }
    Ok(())
}

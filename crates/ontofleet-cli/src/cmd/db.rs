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
        }
    }
    Ok(())
}

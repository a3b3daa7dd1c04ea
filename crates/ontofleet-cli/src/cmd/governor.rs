//! `governor status`: the verdict every claim obeys, why, the signals, who samples them.

use crate::CliError;
use crate::cli::GovernorCommand;
use crate::context::Ctx;
use crate::output::{self, or_dash, out};

pub async fn run(ctx: Ctx<'_>, command: &GovernorCommand) -> Result<(), CliError> {
    match command {
        GovernorCommand::Status => {
            let pool = ctx.db().await?;
            let st = ontofleet_ops::governor::status(&pool).await?;
            if ctx.json() {
                output::json_of(&st);
                return Ok(());
            }
            out!("level      {} (since {})", st.level, st.since.to_rfc3339());
            for r in &st.reasons {
                out!("reason     {}", r.text);
            }
            if let Some(cap) = st.cap {
                out!("cap        {cap} in flight per run");
            }
            out!(
                "leader     {}",
                st.leader.as_deref().unwrap_or(
                    "none (no process samples: `[governor] enabled` on a worker or serve)"
                )
            );
            out!(
                "sampled    {}",
                or_dash(st.sampled_at.map(|t| t.to_rfc3339()))
            );
            if let Some(signals) = st.signals.as_object().filter(|o| !o.is_empty()) {
                out!();
                let mut rows = Vec::new();
                for (signal, readings) in signals {
                    for r in readings.as_array().into_iter().flatten() {
                        rows.push(vec![
                            signal.clone(),
                            r["subject"].as_str().unwrap_or("-").to_owned(),
                            r["value"]
                                .as_f64()
                                .map_or_else(|| "unreadable".to_owned(), |v| format!("{v:.1}")),
                        ]);
                    }
                }
                output::table(&["SIGNAL", "SUBJECT", "VALUE"], &rows);
            }
        }
    }
    Ok(())
}

//! `token create|list|revoke`: the admin API's tokens; a secret is printed once.

use ontofleet_ops::access::{self, Role};

use crate::CliError;
use crate::cli::TokenCommand;
use crate::context::{Ctx, actor};
use crate::output::{self, or_dash, out};

pub async fn run(ctx: Ctx<'_>, command: &TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Create {
            name,
            role,
            expires_in,
        } => {
            let role: Role = role.parse()?;
            let expires_in = expires_in
                .as_deref()
                .map(ontofleet_ops::parse::duration)
                .transpose()?;
            let pool = ctx.db().await?;
            let created = access::create_token(&pool, name, role, expires_in, &actor()).await?;
            if ctx.json() {
                output::json_of(&created);
            } else {
                out!("{}", created.token);
                eprintln!(
                    "token `{}` ({}) created{}; the secret above is shown only once: send it as `Authorization: Bearer …`",
                    created.view.name,
                    created.view.role,
                    created
                        .view
                        .expires_at
                        .map(|e| format!(", expires {}", e.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_default()
                );
            }
        }
        TokenCommand::List => {
            let pool = ctx.db().await?;
            let list = access::list_tokens(&pool).await?;
            if ctx.json() {
                output::json_of(&list);
                return Ok(());
            }
            out!(
                "{:<24} {:<9} {:<8} {:<17} {:<17}",
                "NAME",
                "ROLE",
                "STATE",
                "EXPIRES",
                "LAST USED"
            );
            let t = |v: Option<chrono::DateTime<chrono::Utc>>| {
                or_dash(v.map(|v| v.format("%Y-%m-%d %H:%M").to_string()))
            };
            for token in &list.tokens {
                out!(
                    "{:<24} {:<9} {:<8} {:<17} {:<17}",
                    token.name,
                    token.role,
                    token.state,
                    t(token.expires_at),
                    t(token.last_used_at)
                );
            }
        }
        TokenCommand::Revoke { name } => {
            let pool = ctx.db().await?;
            let revoked = access::revoke_token(&pool, name, &actor()).await?;
            if ctx.json() {
                output::json_of(&revoked);
            } else {
                out!("token `{}` revoked; its sessions have ended", revoked.name);
            }
        }
    }
    Ok(())
}

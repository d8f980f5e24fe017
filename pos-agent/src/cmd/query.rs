//! `pos-agent query`: the account (holder masked) and what it owes, as text or one JSON line.

use super::AccountArgs;
use crate::config::Config;
use crate::{bill, render};
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub account: AccountArgs,
}

pub async fn run(config: Config, args: QueryArgs, json: bool) -> ExitCode {
    let req = args.account.quote();
    // The account from the query service, then what it owes from the fee-engine.
    // No presence: a look-up under the id of a running kiosk leaves that kiosk online.
    let result = async {
        let agent = super::connect(&config).await?;
        let account = bill::account(&agent, &req).await?;
        let quote = bill::quote(&agent, &req).await?;
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(super::GOODBYE_TIMEOUT_MS),
            agent.client.flush(),
        )
        .await;
        Ok::<_, posfee_schemas::WireError>((account, quote))
    }
    .await;
    match result {
        Ok((a, q)) if json => {
            println!("{}", serde_json::json!({ "account": a, "quote": q }));
            ExitCode::SUCCESS
        }
        Ok((a, q)) => {
            print!("{}", render::account(config.language, &a));
            print!("{}", render::quote(config.language, &q));
            ExitCode::SUCCESS
        }
        Err(e) => super::pay::report_error(json, config.language, &e),
    }
}

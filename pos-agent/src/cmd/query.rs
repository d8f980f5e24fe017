//! `pos-agent query`: what an account owes, as text or one JSON line.

use super::AccountArgs;
use crate::config::Config;
use crate::{bill, render};
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    /// Print one JSON line instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(config: Config, args: QueryArgs) -> ExitCode {
    let req = args.account.quote();
    let result = super::session(
        &config,
        |agent| async move { bill::quote(&agent, &req).await },
    )
    .await;
    match result {
        Ok(q) if args.json => {
            println!("{}", serde_json::json!({ "quote": q }));
            ExitCode::SUCCESS
        }
        Ok(q) => {
            print!("{}", render::quote(config.language, &q));
            ExitCode::SUCCESS
        }
        Err(e) => super::pay::report_error(args.json, config.language, &e),
    }
}

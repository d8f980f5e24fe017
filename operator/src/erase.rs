//! `posfee erase-payer HANDLE`: erase a payer at their request. Paygate deletes the key who
//! they are is sealed under, so their name, identity card and bank account can no longer be
//! read anywhere they were copied, and refuses their payments; the books keep amounts and
//! handles, and reconcile still balances.

use crate::up::connect_operator;
use posfee_client::{call, CallError};
use posfee_deploy::layout::DataDir;
use posfee_schemas::ids::PayerHandle;
use posfee_schemas::paygate::{EraseReply, EraseRequest};
use posfee_schemas::subjects::{self, Identity, PaygateOp, Role};
use std::path::PathBuf;
use std::time::Duration;

/// How long paygate may take to record an erasure.
const ERASE_TIMEOUT_MS: u64 = 15_000;

#[derive(Debug, Clone, clap::Args)]
pub struct ErasePayerArgs {
    /// The data dir of the running system (as given to `posfee up`).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// The payer's handle as paygate gave it at registration (`p-…`; the phone shows it).
    pub payer: String,
}

pub async fn run(args: ErasePayerArgs, json: bool) -> anyhow::Result<()> {
    let payer = PayerHandle::parse(args.payer.trim())
        .map_err(|e| anyhow::anyhow!("{}: not a payer handle ({e})", args.payer))?;
    let client = connect_operator(&DataDir::new(&args.data_dir)).await?;
    let subject = subjects::paygate(PaygateOp::Erase, &Identity::Role(Role::Operator));
    let timeout = Some(Duration::from_millis(ERASE_TIMEOUT_MS));
    let reply: EraseReply = match call(&client, subject, &EraseRequest { payer }, timeout).await {
        Ok(r) => r,
        Err(CallError::Remote(e)) => anyhow::bail!("refused: {e}"),
        Err(e) => anyhow::bail!(
            "no answer from paygate ({e}): the payer may or may not be erased; run the same command again, it erases once"
        ),
    };
    if json {
        println!("{}", serde_json::to_string(&reply)?);
    } else {
        println!(
            "payer {} erased at {}: who they are can no longer be read; their payments stay in the books",
            reply.payer,
            reply.erased_at.to_rfc3339()
        );
    }
    Ok(())
}

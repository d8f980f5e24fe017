//! `posfee refund`: a tenant's billing clerk gives back part or all of a payment, with the
//! clerk credential `posfee keys clerk TENANT` issued. The ledger decides (never above what
//! was paid, once per idempotency key) and paygate credits the payer; the answer is the total
//! refunded so far.

use posfee_client::{call, CallError};
use posfee_deploy::layout::DataDir;
use posfee_schemas::ids::{IdempotencyKey, PaymentId, TenantId};
use posfee_schemas::ledger::{RefundReply, RefundRequest};
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::subjects;
use std::path::PathBuf;
use std::time::Duration;

/// How long the ledger may take to answer a refund.
pub const REFUND_TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, Clone, clap::Args)]
pub struct RefundArgs {
    /// The data dir of the running system (as given to `posfee up`).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// The tenant (biller) whose payment it is, e.g. city-water: the clerk's own.
    #[arg(long)]
    pub tenant: String,
    /// The payment to refund (its id, as on the receipt).
    #[arg(long)]
    pub payment: String,
    /// How much to give back, in yuan (e.g. 50.00); at most what is left of the payment.
    #[arg(long)]
    pub amount: String,
    /// Why, as the payer and the books will read it.
    #[arg(long)]
    pub reason: String,
    /// The refund's own id: the same id given again refunds once. Default: one made from the
    /// payment, amount and reason, so running the same command twice refunds once.
    #[arg(long)]
    pub key: Option<String>,
    /// The clerk's seed file (default: the one `posfee keys clerk TENANT` wrote).
    #[arg(long, env = "POSFEE_NKEY_FILE")]
    pub nkey_file: Option<PathBuf>,
}

/// The request the arguments stand for, checked before anything is sent.
pub fn request(args: &RefundArgs) -> anyhow::Result<(TenantId, RefundRequest)> {
    let tenant = TenantId::parse(&args.tenant)
        .map_err(|e| anyhow::anyhow!("--tenant {}: {e}", args.tenant))?;
    let payment = uuid::Uuid::parse_str(&args.payment)
        .map(PaymentId)
        .map_err(|_| {
            anyhow::anyhow!(
                "--payment {}: not a payment id (a UUID, as on the receipt)",
                args.payment
            )
        })?;
    let fen = Fen::parse_yuan(&args.amount)
        .ok()
        .filter(|f| f.get() > 0)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--amount {}: a positive amount in yuan, e.g. 50.00",
                args.amount
            )
        })?;
    if args.reason.trim().is_empty() {
        anyhow::bail!("--reason: say why, as the payer and the books will read it");
    }
    let key = match &args.key {
        Some(k) => k.clone(),
        None => default_key(&payment, fen, &args.reason),
    };
    let idempotency_key =
        IdempotencyKey::parse(&key).map_err(|e| anyhow::anyhow!("--key {key}: {e}"))?;
    let req = RefundRequest {
        payment_id: payment,
        amount: Money::cny(fen.get()),
        reason: args.reason.trim().to_string(),
        idempotency_key,
    };
    Ok((tenant, req))
}

/// The same command run twice is one refund: its key is made from what it asks.
fn default_key(payment: &PaymentId, fen: Fen, reason: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{payment}\0{}\0{}", fen.get(), reason.trim()));
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("refund-{hex}")
}

pub async fn run(args: RefundArgs, json: bool) -> anyhow::Result<()> {
    let (tenant, req) = request(&args)?;
    let data = DataDir::new(&args.data_dir);
    let clerk =
        crate::up::connect_clerk(&data, &tenant, args.nkey_file.as_deref(), "posfee-refund")
            .await?;
    let timeout = Some(Duration::from_millis(REFUND_TIMEOUT_MS));
    let reply: RefundReply = match call(&clerk, subjects::ledger_refund(&tenant), &req, timeout).await {
        Ok(r) => r,
        Err(CallError::Remote(e)) => anyhow::bail!("refused: {e}"),
        Err(e) => anyhow::bail!(
            "no answer from the ledger ({e}): the refund may or may not be booked; run the same command again (same --key) to find out, it refunds once"
        ),
    };
    if json {
        println!("{}", serde_json::to_string(&reply)?);
    } else {
        println!(
            "refunded {} of payment {} (key {}); {} refunded in all",
            reply.refunded, reply.payment_id, req.idempotency_key, reply.total_refunded
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(amount: &str, reason: &str) -> RefundArgs {
        RefundArgs {
            data_dir: "./data".into(),
            tenant: "city-water".into(),
            payment: "0b6f5c1e-8f5a-4a51-9d43-5f4c7a1c2b3d".into(),
            amount: amount.into(),
            reason: reason.into(),
            key: None,
            nkey_file: None,
        }
    }

    #[test]
    fn amounts_are_yuan_to_the_fen_and_the_same_command_is_the_same_refund() {
        let (_, a) = request(&args("50.00", "meter misread")).unwrap();
        assert_eq!(a.amount, Money::cny(5000));
        let (_, b) = request(&args("50", " meter misread ")).unwrap();
        assert_eq!(a.idempotency_key, b.idempotency_key);
        let (_, c) = request(&args("50.01", "meter misread")).unwrap();
        assert_ne!(a.idempotency_key, c.idempotency_key);
        for bad in ["0", "-1", "1.234", "abc"] {
            let e = request(&args(bad, "x")).unwrap_err().to_string();
            assert!(e.contains("--amount"), "{e}");
        }
        assert!(request(&args("1", "  "))
            .unwrap_err()
            .to_string()
            .contains("--reason"));
    }
}

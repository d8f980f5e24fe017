//! `posfee reconcile`: compare what the ledger settled with what paygate captured and list
//! every difference. There must be none: no money without a settled bill, no settled bill
//! without money, refunds credited as booked.

use crate::cmd::up::connect_operator;
use crate::layout::DataDir;
use chrono::{DateTime, Utc};
use posfee_runtime::call;
use posfee_schemas::ids::PaymentId;
use posfee_schemas::ledger::{SettlementItem, SettlementsPage, SettlementsQuery};
use posfee_schemas::paygate::{PaygatePayment, PaymentState, PaymentsList, PaymentsListQuery};
use posfee_schemas::subjects::{self, LedgerOp, PaygateOp};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// An authorization younger than this is a payment in flight, not a difference.
pub const IN_FLIGHT_GRACE_SECS: i64 = 60;
/// Page size asked of each service (each also caps it to fit the payload limit).
pub const PAGE: u32 = 400;
const CALL_TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, Clone, clap::Args)]
pub struct ReconcileArgs {
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    /// Paygate took the money but the ledger has no settlement.
    CapturedNotSettled { payment_id: PaymentId },
    /// The ledger settled a payment paygate did not capture.
    SettledNotCaptured {
        payment_id: PaymentId,
        paygate_state: Option<PaymentState>,
    },
    AmountMismatch {
        payment_id: PaymentId,
        ledger_fen: i64,
        paygate_fen: i64,
    },
    /// Refunds booked at the ledger but not (yet) credited to the payer, or the reverse.
    RefundMismatch {
        payment_id: PaymentId,
        ledger_fen: i64,
        paygate_fen: i64,
    },
    /// Authorized long ago and neither captured nor voided.
    Stuck {
        payment_id: PaymentId,
        since: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub settled: usize,
    pub captured: usize,
    pub voided: usize,
    pub in_flight: usize,
    pub settled_fen: i64,
    pub captured_fen: i64,
    pub differences: Vec<Difference>,
}

pub async fn run(args: ReconcileArgs) -> anyhow::Result<()> {
    let client = connect_operator(&DataDir::new(&args.data_dir)).await?;
    let report = reconcile(&client, Utc::now()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "ledger: {} settled ({} fen); paygate: {} captured ({} fen), {} voided, {} in flight",
            report.settled,
            report.settled_fen,
            report.captured,
            report.captured_fen,
            report.voided,
            report.in_flight
        );
        for d in &report.differences {
            println!("DIFFERENCE {}", serde_json::to_string(d)?);
        }
        if report.differences.is_empty() {
            println!("no differences");
        }
    }
    if !report.differences.is_empty() {
        anyhow::bail!(
            "{} difference(s) between ledger and paygate",
            report.differences.len()
        );
    }
    Ok(())
}

/// Reads both sides completely and compares them payment by payment.
pub async fn reconcile(client: &async_nats::Client, now: DateTime<Utc>) -> anyhow::Result<Report> {
    let timeout = Some(Duration::from_millis(CALL_TIMEOUT_MS));
    let mut ledger: BTreeMap<PaymentId, SettlementItem> = BTreeMap::new();
    let mut after = None;
    loop {
        let page: SettlementsPage = call(
            client,
            subjects::ledger(LedgerOp::Settlements),
            &SettlementsQuery {
                after,
                limit: Some(PAGE),
            },
            timeout,
        )
        .await?;
        ledger.extend(page.items.into_iter().map(|i| (i.payment_id, i)));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut paygate: BTreeMap<PaymentId, PaygatePayment> = BTreeMap::new();
    let mut after = None;
    loop {
        let page: PaymentsList = call(
            client,
            subjects::paygate(PaygateOp::Payments),
            &PaymentsListQuery {
                after,
                limit: Some(PAGE),
            },
            timeout,
        )
        .await?;
        paygate.extend(page.items.into_iter().map(|i| (i.payment_id, i)));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }

    let mut differences = Vec::new();
    let mut report = Report {
        settled: ledger.len(),
        captured: 0,
        voided: 0,
        in_flight: 0,
        settled_fen: ledger.values().map(|s| s.amount.fen.0).sum(),
        captured_fen: 0,
        differences: Vec::new(),
    };
    for (id, p) in &paygate {
        match p.state {
            PaymentState::Captured => {
                report.captured += 1;
                report.captured_fen += p.amount.fen.0;
                match ledger.get(id) {
                    None => differences.push(Difference::CapturedNotSettled { payment_id: *id }),
                    Some(s) => {
                        if s.amount != p.amount {
                            differences.push(Difference::AmountMismatch {
                                payment_id: *id,
                                ledger_fen: s.amount.fen.0,
                                paygate_fen: p.amount.fen.0,
                            });
                        }
                        if s.refunded != p.refunded {
                            differences.push(Difference::RefundMismatch {
                                payment_id: *id,
                                ledger_fen: s.refunded.fen.0,
                                paygate_fen: p.refunded.fen.0,
                            });
                        }
                    }
                }
            }
            PaymentState::Voided => report.voided += 1,
            PaymentState::Authorized => {
                report.in_flight += 1;
                if (now - p.authorized_at).num_seconds() > IN_FLIGHT_GRACE_SECS {
                    differences.push(Difference::Stuck {
                        payment_id: *id,
                        since: p.authorized_at,
                    });
                }
            }
        }
    }
    for id in ledger.keys() {
        match paygate.get(id).map(|p| p.state) {
            Some(PaymentState::Captured) => {}
            // Settled at the ledger, capture not yet recorded: in flight while young.
            Some(PaymentState::Authorized)
                if paygate.get(id).is_some_and(|p| {
                    (now - p.authorized_at).num_seconds() <= IN_FLIGHT_GRACE_SECS
                }) => {}
            state => differences.push(Difference::SettledNotCaptured {
                payment_id: *id,
                paygate_state: state,
            }),
        }
    }
    report.differences = differences;
    Ok(report)
}

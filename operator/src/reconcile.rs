//! `posfee reconcile`: compare what the ledger settled with what paygate captured and list
//! every difference. There must be none: no money without a settled bill, no settled bill
//! without money, refunds credited as booked.

use crate::up::connect_operator;
use chrono::{DateTime, NaiveDate, Utc};
use posfee_client::call;
use posfee_client::screen::local_time;
use posfee_deploy::layout::DataDir;
use posfee_schemas::audit::{BrokenLink, ChainReport};
use posfee_schemas::ids::{PaymentId, TenantId};
use posfee_schemas::ledger::{SettlementItem, SettlementsPage, SettlementsQuery};
use posfee_schemas::money::Money;
use posfee_schemas::paygate::{PaygatePayment, PaymentState, PaymentsList, PaymentsListQuery};
use posfee_schemas::subjects::{self, IdentityOp, LedgerOp, PaygateOp};
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
    /// The data dir of the running system (as given to `posfee up`).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// With --date: also what this tenant collected that day (its daily statement's totals).
    #[arg(long, requires = "date")]
    pub tenant: Option<String>,
    /// With --tenant: the day, YYYY-MM-DD, in the tenant's time zone.
    #[arg(long, requires = "tenant")]
    pub date: Option<String>,
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
    /// A journal's chain does not hold at this entry: an entry lost, altered, forged or put
    /// back out of its place ([`posfee_schemas::audit`]).
    BrokenChain {
        journal: String,
        #[serde(flatten)]
        link: BrokenLink,
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
    /// What the walk over each journal found (the ledger's, then paygate's).
    pub journals: Vec<ChainReport>,
    /// `--tenant`/`--date`: what the tenant collected that day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<crate::day::DayTotals>,
}

pub async fn run(args: ReconcileArgs, json: bool) -> anyhow::Result<()> {
    let data = DataDir::new(&args.data_dir);
    let day = day_asked(&args, &data)?;
    let client = connect_operator(&data).await?;
    let mut report = reconcile(&client, Utc::now()).await?;
    if let Some(day) = day {
        let keys = posfee_client::keydir::KeyDirectory::open(&client, data.trust_root()?).await?;
        let (tenant, date, tz) = (&day.0, day.1, day.2);
        report.day = Some(crate::day::totals(&client, &keys, (tenant, date, tz)).await?);
    }
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report));
    }
    if !report.differences.is_empty() {
        anyhow::bail!(
            "{} difference(s) between ledger and paygate",
            report.differences.len()
        );
    }
    Ok(())
}

/// The tenant and day `--tenant`/`--date` ask about, with the tenant's time zone from the
/// running system's rule files.
fn day_asked(
    args: &ReconcileArgs,
    data: &DataDir,
) -> anyhow::Result<Option<(TenantId, NaiveDate, chrono_tz::Tz)>> {
    let (Some(tenant), Some(date)) = (&args.tenant, &args.date) else {
        return Ok(None);
    };
    let tenant = TenantId::parse(tenant).map_err(|e| anyhow::anyhow!("--tenant {tenant}: {e}"))?;
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("--date {date}: a day as YYYY-MM-DD"))?;
    let rules = posfee_deploy::rules_dir::load(&posfee_deploy::rules_dir::of_running(data)?)?;
    let tz = rules
        .tenant(&tenant)
        .map(|t| t.time_zone)
        .ok_or_else(|| anyhow::anyhow!("--tenant {tenant}: no such tenant in the rule files"))?;
    Ok(Some((tenant, date, tz)))
}

/// An amount of fen as the operator reads it: `1234.56 CNY`.
fn cny(fen: i64) -> Money {
    Money::cny(fen)
}

/// The text report: totals in CNY, then one line per difference.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        "ledger: {} settled ({}); paygate: {} captured ({}), {} voided, {} in flight\n",
        r.settled,
        cny(r.settled_fen),
        r.captured,
        cny(r.captured_fen),
        r.voided,
        r.in_flight
    );
    if let Some(d) = &r.day {
        out.push_str(&crate::day::render(d));
    }
    for j in &r.journals {
        out.push_str(&format!(
            "journal {}: {} entries on {} subjects walked, chain {}\n",
            j.journal,
            j.entries,
            j.subjects,
            if j.broken.is_some() {
                "BROKEN"
            } else {
                "whole"
            }
        ));
    }
    for d in &r.differences {
        let line = match d {
            Difference::CapturedNotSettled { payment_id } => {
                format!("payment {payment_id}: paygate captured it, the ledger has no settlement")
            }
            Difference::SettledNotCaptured {
                payment_id,
                paygate_state,
            } => format!(
                "payment {payment_id}: settled at the ledger, {} at paygate",
                match paygate_state {
                    Some(PaymentState::Authorized) => "only authorized",
                    Some(PaymentState::Voided) => "voided",
                    Some(PaymentState::Captured) => "captured",
                    None => "unknown",
                }
            ),
            Difference::AmountMismatch {
                payment_id,
                ledger_fen,
                paygate_fen,
            } => format!(
                "payment {payment_id}: the ledger settled {}, paygate captured {}",
                cny(*ledger_fen),
                cny(*paygate_fen)
            ),
            Difference::RefundMismatch {
                payment_id,
                ledger_fen,
                paygate_fen,
            } => format!(
                "payment {payment_id}: the ledger booked {} refunded, paygate credited {}",
                cny(*ledger_fen),
                cny(*paygate_fen)
            ),
            Difference::Stuck { payment_id, since } => format!(
                "payment {payment_id}: authorized at {} and neither captured nor voided",
                local_time(*since)
            ),
            Difference::BrokenChain { journal, link } => format!(
                "journal {journal}, entry {} on {}{}: {}",
                link.seq,
                link.subject,
                link.names
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                link.why
            ),
        };
        out.push_str(&format!("DIFFERENCE {line}\n"));
    }
    if r.differences.is_empty() {
        out.push_str("no differences\n");
    }
    out
}

/// Reads both sides completely and compares them payment by payment.
pub async fn reconcile(client: &async_nats::Client, now: DateTime<Utc>) -> anyhow::Result<Report> {
    let timeout = Some(Duration::from_millis(CALL_TIMEOUT_MS));
    let ledger = settlements(client).await?;
    let mut paygate: BTreeMap<PaymentId, PaygatePayment> = BTreeMap::new();
    let mut recovered_through;
    let mut cursor = None;
    loop {
        let page: PaymentsList = call(
            client,
            subjects::paygate(
                PaygateOp::Payments,
                &subjects::Identity::Role(subjects::Role::Operator),
            ),
            &PaymentsListQuery {
                page_size: Some(PAGE),
                cursor,
            },
            timeout,
        )
        .await?;
        paygate.extend(page.items.into_iter().map(|i| (i.payment_id, i)));
        recovered_through = page.recovered_through;
        match page.next_cursor {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }

    let mut report = compare(&ledger, &paygate, recovered_through, now);
    report.journals = audits(client).await?;
    report
        .differences
        .extend(report.journals.iter().filter_map(|j| {
            let link = j.broken.clone()?;
            Some(Difference::BrokenChain {
                journal: j.journal.clone(),
                link,
            })
        }));
    Ok(report)
}

/// Every settlement the ledger lists, page by page, by payment id.
pub async fn settlements(
    client: &async_nats::Client,
) -> anyhow::Result<BTreeMap<PaymentId, SettlementItem>> {
    let timeout = Some(Duration::from_millis(CALL_TIMEOUT_MS));
    let mut ledger = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page: SettlementsPage = call(
            client,
            subjects::ledger(LedgerOp::Settlements),
            &SettlementsQuery {
                page_size: Some(PAGE),
                cursor,
            },
            timeout,
        )
        .await?;
        ledger.extend(page.items.into_iter().map(|i| (i.payment_id, i)));
        match page.next_cursor {
            Some(n) => cursor = Some(n),
            None => return Ok(ledger),
        }
    }
}

/// How long a walk over a whole journal may take.
const AUDIT_TIMEOUT_MS: u64 = 60_000;

/// The ledger's, paygate's and the identity service's walks over their journals' chains.
async fn audits(client: &async_nats::Client) -> anyhow::Result<Vec<ChainReport>> {
    let timeout = Some(Duration::from_millis(AUDIT_TIMEOUT_MS));
    let operator = subjects::Identity::Role(subjects::Role::Operator);
    let ledger: ChainReport = call(client, subjects::ledger(LedgerOp::Audit), &(), timeout).await?;
    let paygate: ChainReport = call(
        client,
        subjects::paygate(PaygateOp::Audit, &operator),
        &(),
        timeout,
    )
    .await?;
    let identity: ChainReport =
        call(client, subjects::identity(IdentityOp::Audit), &(), timeout).await?;
    Ok(vec![ledger, paygate, identity])
}

/// Both sides, payment by payment. A hold is stuck once it is old and paygate's recovery has
/// tried it and failed; right after a restart, before the first recovery pass, every hold is
/// still in flight.
pub fn compare(
    ledger: &BTreeMap<PaymentId, SettlementItem>,
    paygate: &BTreeMap<PaymentId, PaygatePayment>,
    recovered_through: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Report {
    let settling = |p: &PaygatePayment| {
        (now - p.authorized_at).num_seconds() <= IN_FLIGHT_GRACE_SECS
            || recovered_through.is_none_or(|t| p.authorized_at >= t)
    };
    let mut differences = Vec::new();
    let mut report = Report {
        settled: ledger.len(),
        captured: 0,
        voided: 0,
        in_flight: 0,
        settled_fen: ledger.values().map(|s| s.amount.fen.get()).sum(),
        captured_fen: 0,
        differences: Vec::new(),
        journals: Vec::new(),
        day: None,
    };
    for (id, p) in paygate {
        match p.state {
            PaymentState::Captured => {
                report.captured += 1;
                report.captured_fen += p.amount.fen.get();
                match ledger.get(id) {
                    None => differences.push(Difference::CapturedNotSettled { payment_id: *id }),
                    Some(s) => {
                        if s.amount != p.amount {
                            differences.push(Difference::AmountMismatch {
                                payment_id: *id,
                                ledger_fen: s.amount.fen.get(),
                                paygate_fen: p.amount.fen.get(),
                            });
                        }
                        if s.refunded != p.refunded {
                            differences.push(Difference::RefundMismatch {
                                payment_id: *id,
                                ledger_fen: s.refunded.fen.get(),
                                paygate_fen: p.refunded.fen.get(),
                            });
                        }
                    }
                }
            }
            PaymentState::Voided => report.voided += 1,
            PaymentState::Authorized => {
                report.in_flight += 1;
                if !settling(p) {
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
            Some(PaymentState::Authorized) if paygate.get(id).is_some_and(&settling) => {}
            state => differences.push(Difference::SettledNotCaptured {
                payment_id: *id,
                paygate_state: state,
            }),
        }
    }
    report.differences = differences;
    report
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use posfee_schemas::ids::BillId;
    use posfee_schemas::money::Money;

    fn hold(authorized_at: DateTime<Utc>) -> BTreeMap<PaymentId, PaygatePayment> {
        let id = PaymentId::new_random();
        let p = PaygatePayment {
            payment_id: id,
            bill_id: BillId::new_random(),
            amount: Money::cny(100),
            state: PaymentState::Authorized,
            refunded: Money::cny(0),
            authorized_at,
        };
        BTreeMap::from([(id, p)])
    }

    #[test]
    fn an_old_hold_is_stuck_only_once_a_recovery_pass_has_tried_it() {
        let now = Utc::now();
        let old = hold(now - chrono::Duration::minutes(5));
        let ledger = BTreeMap::new();
        let stuck = |r: &Report| {
            r.differences
                .iter()
                .any(|d| matches!(d, Difference::Stuck { .. }))
        };
        // Paygate just restarted: its first pass has not finished.
        assert!(!stuck(&compare(&ledger, &old, None, now)));
        // A pass that started before the hold never saw it.
        let before = now - chrono::Duration::minutes(10);
        assert!(!stuck(&compare(&ledger, &old, Some(before), now)));
        // A pass that started after it tried it and could not finish it.
        let after = now - chrono::Duration::seconds(1);
        assert!(stuck(&compare(&ledger, &old, Some(after), now)));
        // A young hold is in flight whatever the passes.
        let young = hold(now - chrono::Duration::seconds(5));
        assert!(!stuck(&compare(&ledger, &young, Some(after), now)));
    }

    #[test]
    fn amounts_read_in_cny_and_times_in_local_time() {
        let since = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 25, 2, 0, 0).unwrap();
        let id = PaymentId::new_random();
        let r = Report {
            settled: 2,
            captured: 2,
            voided: 0,
            in_flight: 1,
            settled_fen: 123_456,
            captured_fen: 6_000,
            differences: vec![
                Difference::AmountMismatch {
                    payment_id: id,
                    ledger_fen: 3_000,
                    paygate_fen: 3_001,
                },
                Difference::Stuck {
                    payment_id: id,
                    since,
                },
                Difference::BrokenChain {
                    journal: "POSFEE_LEDGER".into(),
                    link: BrokenLink {
                        seq: 41,
                        subject: "posfee.journal.ledger.ab12".into(),
                        names: Some("city-water/3-1-1202".into()),
                        why: "not chained".into(),
                    },
                },
            ],
            journals: vec![ChainReport {
                journal: "POSFEE_LEDGER".into(),
                entries: 41,
                subjects: 7,
                last_seq: 41,
                broken: None,
            }],
            day: Some(crate::day::DayTotals {
                tenant: posfee_schemas::ids::TenantId::parse("city-water").unwrap(),
                date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
                time_zone: "Asia/Shanghai".into(),
                payments: 2,
                amount_fen: 38_000,
                refunds: 1,
                refunded_fen: 3_000,
                net_fen: 35_000,
            }),
        };
        let text = render(&r);
        assert!(
            text.contains("city-water on 2026-11-25 (Asia/Shanghai): 2 payment(s) 380.00 CNY, 1 refund(s) 30.00 CNY, net 350.00 CNY"),
            "{text}"
        );
        assert!(
            text.contains("journal POSFEE_LEDGER, entry 41 on posfee.journal.ledger.ab12 (city-water/3-1-1202): not chained"),
            "{text}"
        );
        assert!(
            text.contains("41 entries on 7 subjects walked, chain whole"),
            "{text}"
        );
        assert!(
            text.starts_with("ledger: 2 settled (1234.56 CNY); paygate: 2 captured (60.00 CNY)"),
            "{text}"
        );
        assert!(
            text.contains("settled 30.00 CNY, paygate captured 30.01 CNY"),
            "{text}"
        );
        assert!(
            text.contains("authorized at 2026-11-25 10:00:00 +08:00"),
            "{text}"
        );
        assert!(!text.contains("fen"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["differences"][1]["since"], "2026-11-25T02:00:00Z");
        assert_eq!(json["differences"][2]["kind"], "broken_chain");
        assert_eq!(json["differences"][2]["seq"], 41);
    }
}

//! Rows checked against what the running system will do with them, before anything is sent:
//! the tenant has rules, the account's class, attributes and fee kinds are the ones its
//! rules price, and a reading belongs to an account the system will know.

use super::Parsed;
use futures::StreamExt;
use posfee_client::{call, CallError};
use posfee_schemas::events::{Event, EventBody};
use posfee_schemas::ids::{AccountNo, TenantId};
use posfee_schemas::query::{AccountRef, AccountSummary};
use posfee_schemas::subjects::{self, QueryKind};
use posfee_schemas::ErrorCode;
use posfee_tariff::{RuleSet, Tenant};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Account look-ups in flight at once when checking readings.
pub const LOOKUPS_IN_FLIGHT: usize = 64;

/// How long one account look-up may take: the query service may first wait for its view to
/// catch up with the stream, and asks the fee-engine for the amount owed.
pub const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// An account as the system names it.
pub type AccountKey = (TenantId, AccountNo);

/// Refuses the rows the tenants' rules (loaded from `dir`) cannot bill.
pub fn against_rules(parsed: &mut Parsed, rules: &RuleSet, dir: &Path) {
    parsed.refuse(|e| {
        let Some(tenant) = e.tenant() else {
            return Vec::new();
        };
        match (tenant_of(rules, tenant, dir), &e.body) {
            (Err(why), _) => vec![why],
            (Ok(t), EventBody::AccountUpserted(a)) => t.check_account(a),
            (Ok(_), _) => Vec::new(),
        }
    });
}

fn tenant_of<'a>(rules: &'a RuleSet, id: &TenantId, dir: &Path) -> Result<&'a Tenant, String> {
    rules.tenant(id).ok_or_else(|| {
        let known: Vec<&str> = rules.tenants.keys().map(TenantId::as_str).collect();
        format!(
            "tenant: {id} has no rule file in {} (tenants there: {}); fix the tenant, or add its rules and restart posfee up",
            dir.display(),
            known.join(", ")
        )
    })
}

/// The accounts these rows upsert.
pub fn accounts_of(events: &[Event]) -> BTreeSet<AccountKey> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::AccountUpserted(a) => Some((a.tenant.clone(), a.account.clone())),
            _ => None,
        })
        .collect()
}

/// Refuses readings of accounts that are neither in `in_run` (imported by this run) nor
/// known to the query service. Fails, rather than refusing rows, when the query service
/// cannot answer: an unanswered question is not an unknown account.
pub async fn readings_of_known_accounts(
    parsed: &mut Parsed,
    in_run: &BTreeSet<AccountKey>,
    client: &async_nats::Client,
) -> anyhow::Result<()> {
    let asked: BTreeSet<AccountKey> = parsed
        .events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ReadingRecorded(r) => Some((r.tenant.clone(), r.account.clone())),
            _ => None,
        })
        .filter(|k| !in_run.contains(k))
        .collect();
    let known = in_system(client, asked).await?;
    parsed.refuse(|e| match &e.body {
        EventBody::ReadingRecorded(r) => {
            let key = (r.tenant.clone(), r.account.clone());
            if in_run.contains(&key) || known.get(&key) == Some(&true) {
                Vec::new()
            } else {
                vec![format!(
                    "account: {} is not an account of tenant {}; import it first (posfee import accounts), or fix the account number",
                    r.account, r.tenant
                )]
            }
        }
        _ => Vec::new(),
    });
    Ok(())
}

/// Asks the query service about each account, a few at a time: whether it knows it.
async fn in_system(
    client: &async_nats::Client,
    accounts: BTreeSet<AccountKey>,
) -> anyhow::Result<BTreeMap<AccountKey, bool>> {
    let answers: Vec<anyhow::Result<(AccountKey, bool)>> =
        futures::stream::iter(accounts.into_iter().map(|key| async move {
            let known = exists(client, &key).await?;
            Ok((key, known))
        }))
        .buffer_unordered(LOOKUPS_IN_FLIGHT)
        .collect()
        .await;
    answers.into_iter().collect()
}

async fn exists(
    client: &async_nats::Client,
    (tenant, account): &AccountKey,
) -> anyhow::Result<bool> {
    let asked = AccountRef {
        tenant: tenant.clone(),
        account: account.clone(),
    };
    let answer: Result<AccountSummary, CallError> = call(
        client,
        subjects::query(QueryKind::Account, &posfee_client::bus::asker_of(client)?),
        &asked,
        Some(LOOKUP_TIMEOUT),
    )
    .await;
    match answer {
        Ok(_) => Ok(true),
        Err(CallError::Remote(w))
            if matches!(w.code, ErrorCode::AccountNotFound | ErrorCode::TenantNotFound) =>
        {
            Ok(false)
        }
        Err(e) => anyhow::bail!(
            "cannot check whether account {account} of tenant {tenant} exists: the query service did not answer ({e}); is posfee up running all its services? Nothing imported"
        ),
    }
}

//! The fee-engine service: prices accounts by their tenant's rule files and issues signed
//! bills. A bill is recorded as its `bill.issued` event and nowhere else, so any number of
//! instances serve side by side; each builds its view of accounts, readings, bills and settled
//! payments from the event stream into its own store, rebuilt from the stream if lost.
//! The pricing itself is the pure `posfee-tariff` library.

pub mod app;
pub mod keys;
pub mod ops;
pub mod store;

use anyhow::Context;
use app::App;
use posfee_client::keydir::{self, KeyDirectory};
use posfee_client::{Clock, Shutdown};
use posfee_runtime::feed;
use posfee_runtime::serve::{self, Endpoints, ServiceSpec};
use posfee_runtime::tasks::Tasks;
use posfee_runtime::trust::{Trust, EVENT_ID_LABEL};
use posfee_schemas::signed::Purpose;
use posfee_schemas::subjects::{self, EventKind, Role, ServiceName};
use posfee_store as rstore;
use std::path::PathBuf;
use std::sync::Arc;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: ServiceName::FeeEngine.as_str(),
    version: env!("CARGO_PKG_VERSION"),
    description: env!("CARGO_PKG_DESCRIPTION"),
};

#[derive(Debug, Clone)]
pub struct Config {
    /// This service's own folder: the store in `db/`, tenants' signing keys in `keys/`.
    pub store_dir: PathBuf,
    /// Folder of tenants' rule files.
    pub rules_dir: PathBuf,
    /// The root it believes and its authority (which certifies its tenants' keys and seals
    /// its events).
    pub trust: Trust,
    /// Bills one kiosk may issue: a stolen kiosk's key cannot fill the store with bills.
    pub kiosk_bills: posfee_runtime::limit::Rate,
    /// Requests one kiosk, phone or clerk may make of the service, whatever it asks.
    pub edge_requests: posfee_runtime::limit::Rate,
}

/// Bills per second one kiosk may issue unless configured otherwise (thirty seconds' worth at
/// once): a busy kiosk issues one every few seconds.
pub const DEFAULT_KIOSK_BILLS_PER_SEC: f64 = 2.0;

impl Config {
    pub fn keys_dir(&self) -> PathBuf {
        self.store_dir.join("keys")
    }
}

/// The events the fee-engine's view is built from.
pub fn followed() -> Vec<String> {
    [
        EventKind::AccountUpserted,
        EventKind::ReadingRecorded,
        EventKind::BillIssued,
        EventKind::PaymentSettled,
    ]
    .into_iter()
    .map(subjects::event)
    .collect()
}

/// Forgets bills past their retention, a batch at a time, until `shutdown`.
async fn prune(store: store::Store, clock: Arc<dyn Clock>, shutdown: Shutdown) {
    let retention = chrono::Duration::seconds(app::BILL_RETENTION_SECS);
    loop {
        loop {
            match store.prune(clock.now(), retention, app::PRUNE_BATCH) {
                Ok(n) if n == app::PRUNE_BATCH => tokio::task::yield_now().await,
                Ok(0) => break,
                Ok(n) => {
                    tracing::info!(bills = n, "expired bills forgotten");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "pruning expired bills failed");
                    break;
                }
            }
        }
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(app::PRUNE_EVERY_SECS)) => {}
        }
    }
}

/// Runs the service until `shutdown`.
pub async fn run(
    client: async_nats::Client,
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let rules = posfee_tariff::RuleSet::load_dir(&config.rules_dir).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("rule files refused:\n  {}", list.join("\n  "))
    })?;
    let tenants: Vec<_> = rules.tenants.keys().cloned().collect();
    tracing::info!(tenants = tenants.len(), dir = %config.rules_dir.display(), "rules loaded");
    let db = rstore::open(&config.store_dir.join("db"))?;
    let store = store::Store::open(db.clone())?;
    let me = posfee_runtime::journal::instance_id(&db, store.meta())?;
    let keys = keys::TenantKeys::load_or_create(&config.keys_dir(), &tenants, me)
        .context("loading tenants' signing keys")?;
    let signer = config.trust.signer(Role::FeeEngine)?;
    for (id, (tenant, key)) in keys.public_keys() {
        keydir::publish(&client, signer, Purpose::Bill, tenant.as_str(), id, key)
            .await
            .with_context(|| format!("publishing key {id} to the key directory"))?;
    }
    let seals = Arc::new(KeyDirectory::open(&client, config.trust.root.clone()).await?);
    let (applied_tx, applied_rx) = tokio::sync::watch::channel(store.feed_seq()?);

    let feed_store = store.clone();
    let mut tasks = Tasks::new();
    tasks.spawn_fallible(
        "event feed",
        feed::follow(
            client.clone(),
            followed(),
            store.feed_seq()?,
            applied_tx,
            shutdown.clone(),
            seals.clone(),
            move |batch| feed_store.apply(batch),
        ),
    );
    let ledger_store = store.clone();
    let ledger_applied = feed::spawn_carried(
        &mut tasks,
        (&client, subjects::LEDGER_JOURNAL, store.meta()),
        (&shutdown, seals),
        move |key, batch| ledger_store.apply_at(key, batch),
    )?;
    tasks.spawn(
        "prune",
        prune(store.clone(), clock.clone(), shutdown.clone()),
    );

    let app = Arc::new(App {
        rules,
        store,
        keys,
        clock,
        client: client.clone(),
        js: async_nats::jetstream::new(client.clone()),
        signer: signer.clone(),
        applied: applied_rx,
        ledger_applied,
        event_key: signer.derived_key(EVENT_ID_LABEL),
        kiosk_bills: posfee_runtime::limit::Limiter::new(config.kiosk_bills),
    });
    let (a, b, c) = (app.clone(), app.clone(), app.clone());
    let keys = posfee_runtime::directory::Directory::new(&client);
    let endpoints = Endpoints::new()
        .limit_edges(config.edge_requests)
        .add("keys", subjects::keys_get_terminals(), move |m| {
            keys.clone().handle(m)
        })
        .add("quote", subjects::fee_quote_any(), move |m| {
            ops::quote::handle(a.clone(), m)
        })
        .add("payees", subjects::fee_payees_any(), move |m| {
            ops::payees::handle(c.clone(), m)
        })
        .add("issue", subjects::bill_issue_any(), move |m| {
            ops::issue::handle(b.clone(), m)
        });
    serve::run_to_the_end(&client, &SPEC, endpoints, (shutdown, tasks, &db)).await
}

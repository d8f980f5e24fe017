//! The ledger: settles bills exactly once, keeps double-entry books, refunds.
//!
//! Only the ledger publishes `payment.settled` (nats.conf). Every write that moves money is one
//! entry appended to the replicated journal, on the account's latest state, acknowledged by a
//! majority of the cluster before the answer; any number of instances may serve side by side,
//! each with its own view of the journal ([`journal`]).

pub mod app;
pub mod journal;
pub mod ops;
pub mod statement;
pub mod store;

use app::App;
use posfee_client::keydir::KeyDirectory;
use posfee_client::{Clock, Shutdown};
use posfee_runtime::journal::Journal;
use posfee_runtime::outbox::Outbox;
use posfee_runtime::serve::{self, Endpoints, ServiceSpec};
use posfee_runtime::tasks::Tasks;

use posfee_schemas::subjects::{self, LedgerOp, Role, ServiceName};
use posfee_store as rstore;
use std::path::PathBuf;
use std::sync::Arc;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: ServiceName::Ledger.as_str(),
    version: env!("CARGO_PKG_VERSION"),
    description: env!("CARGO_PKG_DESCRIPTION"),
};

#[derive(Debug, Clone)]
pub struct Config {
    /// This service's own store.
    pub store_dir: PathBuf,
    /// The root it believes and its authority (which signs receipts and seals its events).
    pub trust: posfee_runtime::Trust,
    /// Requests one kiosk, phone or clerk may make of the service, whatever it asks.
    pub edge_requests: posfee_runtime::limit::Rate,
    /// Each tenant's time zone (its rule file's; [`app::DEFAULT_TIME_ZONE`] otherwise).
    pub time_zones: std::collections::BTreeMap<posfee_schemas::ids::TenantId, chrono_tz::Tz>,
}

/// Runs the service until `shutdown`.
pub async fn run(
    client: async_nats::Client,
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let signer = config.trust.signer(Role::Ledger)?.clone();
    let db = rstore::open(&config.store_dir.join("db"))?;
    let outbox = Outbox::of_journal(&db)?.sealed_by(&signer);
    let store = store::Store::open(db.clone())?;
    let me = posfee_runtime::journal::instance_id(&db, &store.meta)?;
    let mut tasks = Tasks::new();
    tasks.spawn(
        "outbox",
        outbox.clone().run(client.clone(), shutdown.clone()),
    );
    let (view, out, sign) = (store.clone(), outbox.clone(), signer.clone());
    let journal = Journal::follow(
        &client,
        (subjects::LEDGER_JOURNAL, journal::subject),
        store.meta.clone(),
        (Some(outbox.clone()), &mut tasks, shutdown.clone()),
        (config.trust.journal(Role::Ledger)?, signer.name().clone()),
        move |batch| journal::apply(&view, (&out, &sign), me, batch),
    )
    .await?
    .carrying(&signer);
    let app = Arc::new(App {
        store,
        outbox,
        journal,
        me,
        clock,
        keys: KeyDirectory::open(&client, config.trust.root.clone()).await?,
        event_key: signer.derived_key(posfee_runtime::trust::EVENT_ID_LABEL),
        signer,
        time_zones: Arc::new(config.time_zones),
        last_statement: std::sync::Mutex::new(None),
    });
    tasks.spawn(
        "statements",
        statement::schedule(app.clone(), shutdown.clone()),
    );
    let (a, b, c, d, e, f) = (
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
    );
    let keys = posfee_runtime::directory::Directory::new(&client);
    let endpoints = Endpoints::new()
        .limit_edges(config.edge_requests)
        .add("keys", subjects::keys_get_terminals(), move |m| {
            keys.clone().handle(m)
        })
        .add("settle", subjects::ledger(LedgerOp::Settle), {
            let a = a.clone();
            move |m| ops::settle::handle(a.clone(), m)
        })
        .add(
            "settle_basket",
            subjects::ledger(LedgerOp::SettleBasket),
            move |m| ops::basket::handle(a.clone(), m),
        )
        .add("refund", subjects::ledger_refund_any(), move |m| {
            ops::refund::handle(b.clone(), m)
        })
        .add(
            "settlements",
            subjects::ledger(LedgerOp::Settlements),
            move |m| ops::settlements::handle(c.clone(), m),
        )
        .add("close", subjects::ledger_close_any(), move |m| {
            ops::close::handle(d.clone(), m)
        })
        .add("audit", subjects::ledger(LedgerOp::Audit), move |m| {
            ops::audit::handle(e.clone(), m)
        })
        .add("statement", subjects::ledger_statement_any(), move |m| {
            ops::statement::handle(f.clone(), m)
        });
    serve::run_to_the_end(&client, &SPEC, endpoints, (shutdown, tasks, &db)).await
}

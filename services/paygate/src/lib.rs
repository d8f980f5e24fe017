//! paygate: the payment platform sandbox. Payers register once from their phone (identity,
//! bank account, device key) and get an opaque handle; payments are device-signed orders that
//! pay fee-engine-signed bills: authorize (hold), settle at the ledger, capture — or void.
//! Payers and payments are kept in a replicated journal ([`journal`]), so any number of
//! instances may serve side by side; who a payer is is journaled too, sealed under a key of the
//! payer's own that an erasure deletes ([`vault`]).

pub mod app;
pub mod feed;
pub mod handles;
pub mod identity;
pub mod journal;
pub mod migrate;
pub mod ops;
pub mod refunds;
pub mod settle;
pub mod store;
pub mod vault;

use app::App;
use posfee_client::keydir::{self, KeyDirectory};
use posfee_client::{Clock, Shutdown};
use posfee_runtime::keyfile;
use posfee_runtime::outbox::Outbox;
use posfee_runtime::serve::{self, Endpoints, ServiceSpec};
use posfee_runtime::tasks::Tasks;
use posfee_schemas::signed::Purpose;
use posfee_schemas::subjects::{self, PaygateOp, Role, ServiceName};
use posfee_store as rstore;
use posfee_store::GroupCommit;
use std::path::PathBuf;
use std::sync::Arc;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: ServiceName::Paygate.as_str(),
    version: env!("CARGO_PKG_VERSION"),
    description: env!("CARGO_PKG_DESCRIPTION"),
};

/// Key id prefix of paygate's settlement-notice keys.
pub const KEY_PREFIX: &str = "paygate";

#[derive(Debug, Clone)]
pub struct Config {
    /// This service's own store; its signing keys live in its `keys/` folder.
    pub store_dir: PathBuf,
    /// The root it believes and its authority (which certifies its settlement keys and seals
    /// its events).
    pub trust: posfee_runtime::Trust,
    /// Requests one kiosk, phone or clerk may make of the service, whatever it asks.
    pub edge_requests: posfee_runtime::limit::Rate,
    /// The master keys that wrap payers' data keys ([`vault`]), and the file they are read
    /// again from for a rotation.
    pub masters: (vault::MasterKeys, Option<PathBuf>),
}

/// Deletes the data key of each payer the journal erased, as the view applies it.
async fn erase_keys(
    vault: Arc<vault::Vault>,
    mut erased: tokio::sync::mpsc::UnboundedReceiver<posfee_schemas::ids::PayerHandle>,
) {
    while let Some(payer) = erased.recv().await {
        if let Err(e) = vault.erase(&payer).await {
            tracing::error!(payer = %payer, error = %e, "an erased payer's data key could not be deleted; erase them again");
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
    let db = rstore::open(&config.store_dir.join("db"))?;
    let store = store::Store::open(db.clone())?;
    let me = posfee_runtime::journal::instance_id(&db, &store.meta)?;
    let (masters, masters_file) = config.masters;
    let js = async_nats::jetstream::new(client.clone());
    let bucket = js
        .get_key_value(subjects::PAYER_KEYS_BUCKET)
        .await
        .map_err(|e| anyhow::anyhow!("opening the payers' keys bucket: {e}"))?;
    let under = js
        .get_stream(format!("KV_{}", subjects::PAYER_KEYS_BUCKET))
        .await
        .map_err(|e| anyhow::anyhow!("opening the payers' keys bucket: {e}"))?;
    let vault = Arc::new(vault::Vault::open(
        vault::Shelf::Bucket(Box::new((bucket, under))),
        store.identities.clone(),
        (masters, masters_file),
    ));
    // Each instance signs with keys of its own, named apart (`paygate-<instance>-<n>`), so
    // two instances never publish different keys under one id.
    let prefix = format!("{KEY_PREFIX}-{:08x}", me >> 32);
    let keys = keyfile::load_or_create(&config.store_dir.join("keys"), &prefix)?;
    let signer = config.trust.signer(Role::Paygate)?;
    for (id, key) in &keys.all {
        keydir::publish(&client, signer, Purpose::Settlement, KEY_PREFIX, id, key).await?;
    }
    let outbox = Outbox::of_journal(&db)?.sealed_by(signer);
    let directory = KeyDirectory::open(&client, config.trust.root.clone()).await?;
    let seals = Arc::new(KeyDirectory::open(&client, config.trust.root.clone()).await?);
    let mut tasks = Tasks::new();
    tasks.spawn(
        "outbox",
        outbox.clone().run(client.clone(), shutdown.clone()),
    );
    migrate::set_aside(&store)?;
    // Every instance deletes an erased payer's key as it applies the erasure, as well as the
    // instance that took it: a key brought back by anything (an older instance's files) goes.
    let (erasures, erased) = tokio::sync::mpsc::unbounded_channel();
    tasks.spawn("erasures", erase_keys(vault.clone(), erased));
    let view = store.clone();
    let journal = posfee_runtime::journal::Journal::follow(
        &client,
        (subjects::PAYGATE_JOURNAL, journal::subject),
        store.meta.clone(),
        (None, &mut tasks, shutdown.clone()),
        (config.trust.journal(Role::Paygate)?, signer.name().clone()),
        move |batch| {
            journal::apply(&view, batch)?;
            for handle in journal::erased(batch) {
                let _ = erasures.send(handle);
            }
            Ok(())
        },
    )
    .await?
    .carrying(signer);
    let credits = Arc::new(tokio::sync::Notify::new());
    let captures = Arc::new(feed::Captures::default());
    let feed_applied = feed::follow(
        &client,
        &store,
        (&captures, &credits),
        seals,
        &mut tasks,
        &shutdown,
    )?;
    let app = Arc::new(App::new(
        store,
        outbox,
        (journal, me),
        (captures, feed_applied),
        GroupCommit::start(&db),
        clock,
        client.clone(),
        (
            directory,
            signer.derived_key(posfee_runtime::trust::EVENT_ID_LABEL),
            config
                .trust
                .journal(Role::Paygate)?
                .derived_key(handles::LABEL),
        ),
        keys.active_id,
        keys.active,
        vault.clone(),
    ));
    migrate::journal_kept(&app, &config.store_dir.join("payer-keys")).await?;
    tasks.spawn("master keys", vault.watch(shutdown.clone()));
    tasks.spawn("recovery", settle::recover(app.clone(), shutdown.clone()));
    tasks.spawn(
        "refund credits",
        refunds::credit_loop(app.clone(), credits, shutdown.clone()),
    );
    let endpoints = endpoints(&app, &client, config.edge_requests);
    serve::run_to_the_end(&client, &SPEC, endpoints, (shutdown, tasks, &db)).await
}

/// What paygate answers: phones' key look-ups, registrations, corrections, payments, and the
/// operator's listings and journal walk.
fn endpoints(
    app: &Arc<App>,
    client: &async_nats::Client,
    edge_requests: posfee_runtime::limit::Rate,
) -> Endpoints {
    let (a, b, c, d, e, f) = (
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
    );
    let keys = posfee_runtime::directory::Directory::new(client);
    Endpoints::new()
        .limit_edges(edge_requests)
        .add("keys", subjects::keys_get_devices(), move |m| {
            keys.clone().handle(m)
        })
        .add(
            "register",
            subjects::paygate_from_any(PaygateOp::Register),
            move |m| ops::register::handle(a.clone(), m),
        )
        .add(
            "amend",
            subjects::paygate_from_any(PaygateOp::Amend),
            move |m| ops::amend::handle(e.clone(), m),
        )
        .add(
            "pay",
            subjects::paygate_from_any(PaygateOp::Pay),
            move |m| ops::pay::handle(b.clone(), m),
        )
        .add(
            "payments",
            subjects::paygate_from_any(PaygateOp::Payments),
            move |m| ops::payments::handle(c.clone(), m),
        )
        .add(
            "audit",
            subjects::paygate_from_any(PaygateOp::Audit),
            move |m| ops::audit::handle(d.clone(), m),
        )
        .add(
            "erase",
            subjects::paygate_from_any(PaygateOp::Erase),
            move |m| ops::erase::handle(f.clone(), m),
        )
}

//! The query service: answers the patent's "query requests" from its own view of the event
//! stream (accounts, readings, bills issued, payments settled and refunded), with live
//! amounts from the fee-engine. The view resumes where it stopped and is rebuilt by replay.

pub mod app;
pub mod ops;
pub mod view;

use app::App;
use posfee_client::{Clock, Shutdown};
use posfee_runtime::feed;
use posfee_runtime::serve::{self, Endpoints, ServiceSpec};
use posfee_runtime::tasks::Tasks;
use posfee_schemas::subjects::{self, EventKind, QueryKind, Role, ServiceName};
use posfee_store as store;
use std::path::PathBuf;
use std::sync::Arc;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: ServiceName::Query.as_str(),
    version: env!("CARGO_PKG_VERSION"),
    description: env!("CARGO_PKG_DESCRIPTION"),
};

#[derive(Debug, Clone)]
pub struct Config {
    /// This service's own folder; the view lives in `db/`.
    pub store_dir: PathBuf,
    /// The root it believes and its authority (which seals the kiosks' events it writes).
    pub trust: posfee_runtime::Trust,
    /// Reads one kiosk may make (accounts, bills, payments, readings): a stolen kiosk's
    /// key cannot walk every account's readings.
    pub kiosk_reads: posfee_runtime::limit::Rate,
    /// Requests one kiosk, phone or clerk may make of the service, whatever it asks.
    pub edge_requests: posfee_runtime::limit::Rate,
}

/// Reads per second one kiosk may make unless configured otherwise (thirty seconds' worth at
/// once): a payer at a kiosk looks at an account or two.
pub const DEFAULT_KIOSK_READS_PER_SEC: f64 = 5.0;

/// The events the view is built from, in the event stream; `payment.*` events come from the
/// ledger's journal too, which carries them since they stopped being published.
pub fn followed() -> Vec<String> {
    [
        EventKind::AccountUpserted,
        EventKind::ReadingRecorded,
        EventKind::BillIssued,
        EventKind::PaymentSettled,
        EventKind::PaymentRefunded,
    ]
    .into_iter()
    .map(subjects::event)
    .collect()
}

/// Runs the service until `shutdown`.
pub async fn run(
    client: async_nats::Client,
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let (applied, _) = tokio::sync::watch::channel(0);
    run_reporting(client, config, clock, shutdown, applied).await
}

/// [`run`], publishing on `applied` the stream sequence the view has applied and recorded
/// (first the position it resumes from): what a caller in the same process waits on to know
/// the view has seen an event.
pub async fn run_reporting(
    client: async_nats::Client,
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: Shutdown,
    applied_tx: tokio::sync::watch::Sender<u64>,
) -> anyhow::Result<()> {
    let signer = config.trust.signer(Role::Query)?.clone();
    let seals = Arc::new(
        posfee_client::keydir::KeyDirectory::open(&client, config.trust.root.clone()).await?,
    );
    let db = store::open(&config.store_dir.join("db"))?;
    let view = view::View::open(db.clone())?;
    applied_tx.send_replace(view.feed_seq()?);
    let applied_rx = applied_tx.subscribe();
    let (feed_view, seals_of_journal) = (view.clone(), seals.clone());
    let mut tasks = Tasks::new();
    tasks.spawn_fallible(
        "event feed",
        feed::follow(
            client.clone(),
            followed(),
            view.feed_seq()?,
            applied_tx,
            shutdown.clone(),
            seals.clone(),
            move |batch| feed_view.apply(batch),
        ),
    );
    let ledger_view = view.clone();
    let ledger_applied = feed::spawn_carried(
        &mut tasks,
        (&client, subjects::LEDGER_JOURNAL, view.meta()),
        (&shutdown, seals_of_journal),
        move |key, batch| ledger_view.apply_at(key, batch),
    )?;
    let app = Arc::new(App {
        view,
        client: client.clone(),
        clock,
        applied: applied_rx,
        ledger_applied,
        terminals: Default::default(),
        event_key: signer.derived_key(posfee_runtime::trust::EVENT_ID_LABEL),
        signer,
        kiosk_reads: posfee_runtime::limit::Limiter::new(config.kiosk_reads),
    });
    let mut endpoints = Endpoints::new().limit_edges(config.edge_requests);
    for kind in QueryKind::ALL {
        let app = app.clone();
        let kind = *kind;
        endpoints = endpoints.add(kind.as_str(), subjects::query_from_any(kind), move |m| {
            let app = app.clone();
            async move {
                app.within_kiosk_reads(&m.subject)?;
                match kind {
                    QueryKind::Account => ops::account::handle(app, m).await,
                    QueryKind::Bills => ops::bills::handle(app, m).await,
                    QueryKind::Payments => ops::payments::handle(app, m).await,
                    QueryKind::Readings => ops::readings::handle(app, m).await,
                }
            }
        });
    }
    let (reporting, seeing) = (app.clone(), app.clone());
    let keys = posfee_runtime::directory::Directory::new(&client);
    let endpoints = endpoints
        .add("report", subjects::terminal_report_any(), move |m| {
            ops::report::handle(reporting.clone(), m)
        })
        .add("seen", subjects::terminal_seen_any(), move |m| {
            ops::edge::seen(seeing.clone(), m)
        })
        .add("keys", subjects::keys_get_any(), move |m| {
            keys.clone().handle(m)
        });
    serve::run_to_the_end(&client, &SPEC, endpoints, (shutdown, tasks, &db)).await
}

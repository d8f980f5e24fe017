//! identity: who is on the bus.
//!
//! nats-server hands every connection that is not a service role to this service (its auth
//! callout, [`callout`]); the answer is a user JWT with that one kiosk's, phone's or clerk's
//! permissions, or a refusal. The server itself keeps no list of devices: a city's millions of
//! phones are in this service's journal ([`journal`]), and each instance answers from its own
//! view of it, one read per connection. Phones enrol their own keys ([`ops::enrol`]); the
//! operator issues kiosks' and clerks' keys and revokes any key ([`ops::keys`]), and a revoked
//! key's live connections are closed at once ([`cut`]). Any number of instances serve side
//! by side.

pub mod app;
pub mod callout;
pub mod cut;
pub mod difficulty;
pub mod journal;
pub mod jwt;
pub mod live;
pub mod migrate;
pub mod ops;
pub mod store;

use app::App;
use futures::StreamExt;
use posfee_client::{Clock, Shutdown};
use posfee_runtime::journal::Journal;
use posfee_runtime::limit::Limiter;
use posfee_runtime::serve::{self, record, Endpoints, Field, ServiceSpec};
use posfee_runtime::tasks::Tasks;
use posfee_schemas::subjects::{
    self, IdentityOp, Role, ServiceName, AUTH_CALLOUT, IDENTITY_JOURNAL, QUEUE_GROUP,
};
use posfee_store as rstore;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: ServiceName::Identity.as_str(),
    version: env!("CARGO_PKG_VERSION"),
    description: env!("CARGO_PKG_DESCRIPTION"),
};

/// New phones enrolled per second before enrolling asks for harder stamps, unless configured
/// otherwise: a city's phones enrol a few a second; a rush of made-up keys pays more work for
/// every doubling beyond this.
pub const DEFAULT_ENROL_TARGET_PER_SEC: f64 = 50.0;
/// Callout requests answered at once.
const MAX_CALLOUTS_IN_FLIGHT: usize = 256;

#[derive(Debug, Clone)]
pub struct Config {
    /// This instance's view of the journal.
    pub store_dir: PathBuf,
    /// The root it believes and its authority, whose journal key seals its journal.
    pub trust: posfee_runtime::Trust,
    /// The account key whose signature the server's `auth_callout.issuer` trusts.
    pub issuer_seed: String,
    /// Enrolments per second that need only `stamp_bits` ([`difficulty`]).
    pub enrol_target_per_sec: f64,
    /// The stamp bits a new key needs to connect and, when enrolments are quiet, to enrol
    /// ([`posfee_schemas::identity::CONNECT_STAMP_BITS`] unless a bench lowers it).
    pub stamp_bits: u32,
    /// How long a key nobody enrolled yet stays connected
    /// ([`callout::UNENROLLED_TTL_SECS`]).
    pub unenrolled_ttl_secs: i64,
    /// Requests one kiosk, phone or clerk may make of the service, whatever it asks.
    pub edge_requests: posfee_runtime::limit::Rate,
}

/// Runs the service until `shutdown`: `client` is its role's connection, `sys` one in the
/// system account (to close revoked keys' connections).
pub async fn run(
    client: async_nats::Client,
    sys: async_nats::Client,
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let issuer = nkeys::KeyPair::from_seed(&config.issuer_seed)
        .map_err(|e| anyhow::anyhow!("the callout issuer seed: {e}"))?;
    let db = rstore::open(&config.store_dir.join("db"))?;
    let store = store::Store::open(&db)?;
    let mut tasks = Tasks::new();
    let view = store.clone();
    let signer = config.trust.signer(Role::Identity)?;
    let (revoked_tx, revoked) = tokio::sync::mpsc::unbounded_channel();
    let journal = Journal::follow(
        &client,
        (IDENTITY_JOURNAL, journal::subject),
        store.meta.clone(),
        (None, &mut tasks, shutdown.clone()),
        (config.trust.journal(Role::Identity)?, signer.name().clone()),
        move |batch| {
            for r in journal::apply(&view, batch)? {
                let _ = revoked_tx.send(r);
            }
            Ok(())
        },
    )
    .await?;
    let cutter = cut::Cutter { sys: sys.clone() };
    tasks.spawn(
        "cuts",
        cut::as_applied(revoked, cutter.clone(), clock.clone()),
    );
    migrate::legacy_keys(&db, &store, &journal).await?;
    // Nobody is admitted on a view that is behind: a key revoked while this instance was down
    // would be let in until the view reached its revocation.
    caught_up_at_start(&journal, &shutdown).await?;
    let live = Arc::new(live::Live::default());
    {
        let (live, sys, shutdown, cutter) = (live.clone(), sys, shutdown.clone(), cutter.clone());
        tasks.spawn_fallible("connection counts", async move {
            live.follow(sys, posfee_authz::ACCOUNT, cutter, shutdown)
                .await
        });
    }
    let callout = Arc::new(callout::Callout {
        store: store.clone(),
        issuer,
        admissions: Limiter::new(callout::ADMISSION_RATE),
        fresh_looks: Limiter::new(callout::FRESH_LOOK_RATE),
        live,
        stamp_bits: config.stamp_bits,
        unenrolled_ttl_secs: config.unenrolled_ttl_secs,
    });
    tasks.spawn_fallible(
        "auth callout",
        answer_callouts(client.clone(), (callout, journal.clone()), shutdown.clone()),
    );
    let app = Arc::new(App {
        store,
        journal,
        clock,
        difficulty: difficulty::Difficulty::new(config.enrol_target_per_sec, config.stamp_bits),
        cutter,
    });
    let endpoints = endpoints(&app, config.edge_requests);
    serve::run_to_the_end(&client, &SPEC, endpoints, (shutdown, tasks, &db)).await
}

/// Waits until the view has every entry the journal held when the instance started (asked
/// again while the journal cannot be reached), before the instance answers any callout.
async fn caught_up_at_start(journal: &Journal, shutdown: &Shutdown) -> anyhow::Result<()> {
    loop {
        match journal.caught_up_with_all().await {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::warn!(why = %e.message, "the key view is not caught up yet; no callout answered until it is")
            }
        }
        tokio::select! {
            _ = shutdown.wait() => anyhow::bail!("stopped before the key view caught up"),
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
    }
}

/// What the identity service answers besides the callout: phones' enrolments, any key's
/// status, and the operator's issues, revocations, listings and journal walk.
fn endpoints(app: &Arc<App>, edge_requests: posfee_runtime::limit::Rate) -> Endpoints {
    let (a, b, c, d, e, f) = (
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
    );
    Endpoints::new()
        .limit_edges(edge_requests)
        .add("enrol", subjects::identity_enrol_any(), move |m| {
            ops::enrol::handle(a.clone(), m)
        })
        .add("status", subjects::identity_status_any(), move |m| {
            ops::status::handle(e.clone(), m)
        })
        .add("issue", subjects::identity(IdentityOp::Issue), move |m| {
            ops::keys::issue(b.clone(), m)
        })
        .add("revoke", subjects::identity(IdentityOp::Revoke), move |m| {
            ops::keys::revoke_holder(c.clone(), m)
        })
        .add("list", subjects::identity(IdentityOp::List), move |m| {
            ops::keys::list(d.clone(), m)
        })
        .add("audit", subjects::identity(IdentityOp::Audit), move |m| {
            ops::audit::handle(f.clone(), m)
        })
}

/// Answers the server's auth callout requests until shutdown, a bounded number at once.
async fn answer_callouts(
    client: async_nats::Client,
    (callout, journal): (Arc<callout::Callout>, Journal),
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut requests = client
        .queue_subscribe(AUTH_CALLOUT, QUEUE_GROUP.to_string())
        .await?;
    let permits = Arc::new(Semaphore::new(MAX_CALLOUTS_IN_FLIGHT));
    loop {
        let msg = tokio::select! {
            _ = shutdown.wait() => break,
            m = requests.next() => match m { Some(m) => m, None => break },
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (client, callout, journal) = (client.clone(), callout.clone(), journal.clone());
        let span = tracing::info_span!(
            "request",
            service = SPEC.name,
            endpoint = "auth-callout",
            caller = tracing::field::Empty
        );
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                answer(&client, (&callout, &journal), msg).await;
                drop(permit);
            },
            span,
        ));
    }
    Ok(())
}

/// Answers one callout request, in the request's span (opened by the caller).
async fn answer(
    client: &async_nats::Client,
    (callout, journal): (&callout::Callout, &Journal),
    msg: async_nats::Message,
) {
    let Some(reply) = msg.reply.clone() else {
        return;
    };
    let request: callout::Request = match std::str::from_utf8(&msg.payload)
        .map_err(anyhow::Error::from)
        .and_then(jwt::claims_of)
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable auth callout request");
            return;
        }
    };
    if let Some(device) = callout.unseen_phone(&request.nats) {
        journal::look_for_phone(journal, device).await;
    }
    let verdict = callout.verdict(&request.nats);
    match &verdict {
        callout::Verdict::Known(holder) => record(Field::Caller, holder),
        callout::Verdict::Unenrolled(device) => record(Field::Caller, device),
        callout::Verdict::Explain(_) | callout::Verdict::Refused(_) => {}
    }
    match &verdict {
        callout::Verdict::Refused(why) => {
            tracing::info!(reason = %why, host = %request.nats.client_info.host, "connection refused")
        }
        callout::Verdict::Explain(why) => {
            tracing::info!(reason = %why, host = %request.nats.client_info.host, "connection let in only to ask why it is refused")
        }
        v => tracing::debug!(verdict = ?v, "connection admitted"),
    }
    match callout.answer(&request.nats, &verdict) {
        Ok(token) => {
            if let Err(e) = client.publish(reply, token.into()).await {
                tracing::warn!(error = %e, "answering the auth callout");
            }
        }
        Err(e) => tracing::error!(error = %e, "signing the auth callout answer"),
    }
}

//! The test harness: a real nats-server started with the project's nats.conf on a free port,
//! with a temporary store that lives as long as the harness and is killed on Drop; services
//! run in-process on their own connections; tests connect as any role.

pub mod fixtures;
pub mod process;

use anyhow::Context;
use posfee_client::{bus, Clock, Shutdown, SystemClock};
use posfee_deploy::creds::RoleCreds;
use posfee_deploy::identities::Registry;
use posfee_deploy::layout::DataDir;
use posfee_deploy::natsd::{self, NatsServer, ServerConfig};
use posfee_schemas::identity::Holder;
use posfee_schemas::ids::{DeviceId, TerminalId};
use posfee_schemas::subjects::{Identity, Role, ServiceName};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a test waits for an in-process service to answer its ping.
pub const SERVICE_READY_TIMEOUT_MS: u64 = 10_000;

/// A service running inside the test process.
struct InProcess {
    name: ServiceName,
    shutdown: Shutdown,
    task: JoinHandle<anyhow::Result<()>>,
    /// The stream sequence the service's view has applied, for the query service.
    applied: Option<tokio::sync::watch::Receiver<u64>>,
}

/// How long a test waits for a view to apply what the stream holds, or for a stopped
/// service's store to be free to open.
pub const CONDITION_TIMEOUT_MS: u64 = 10_000;

/// How to run an in-process service.
#[derive(Clone)]
pub struct ServiceOptions {
    pub clock: Arc<dyn Clock>,
    pub rules_dir: PathBuf,
    /// Enrolments per second before the identity service asks for harder stamps.
    pub enrol_target_per_sec: f64,
    /// The stamp bits a new key needs to connect.
    pub stamp_bits: u32,
    /// How long a key nobody enrolled yet stays connected.
    pub unenrolled_ttl_secs: i64,
    /// Bills one kiosk may issue per second (the fee-engine).
    pub kiosk_bills_per_sec: f64,
    /// Reads one kiosk may make per second (the query service).
    pub kiosk_reads_per_sec: f64,
    /// Requests one kiosk, phone or clerk may make of any one service per second.
    pub edge_requests_per_sec: f64,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            rules_dir: posfee_deploy::rules_dir::shipped(),
            enrol_target_per_sec: posfee_identity::DEFAULT_ENROL_TARGET_PER_SEC,
            stamp_bits: posfee_schemas::identity::CONNECT_STAMP_BITS,
            unenrolled_ttl_secs: posfee_identity::callout::UNENROLLED_TTL_SECS,
            kiosk_bills_per_sec: posfee_fee_engine::DEFAULT_KIOSK_BILLS_PER_SEC,
            kiosk_reads_per_sec: posfee_query::DEFAULT_KIOSK_READS_PER_SEC,
            edge_requests_per_sec: posfee_runtime::serve::DEFAULT_EDGE_REQUESTS_PER_SEC,
        }
    }
}

pub struct Harness {
    server: NatsServer,
    creds: RoleCreds,
    data: DataDir,
    services: Vec<InProcess>,
    // Declared last so it is removed after the server that writes into it has stopped.
    _tmp: tempfile::TempDir,
}

impl Harness {
    /// Starts nats-server on a free port with nats.conf and creates the stream and bucket.
    pub async fn start() -> anyhow::Result<Harness> {
        // Service logs go to the test's captured output (RUST_LOG=debug for more).
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .try_init();
        let tmp = tempfile::Builder::new().prefix("posfee-test-").tempdir()?;
        let data = DataDir::new(tmp.path());
        let creds = RoleCreds::ensure(&data.creds())?;
        let conf = natsd::write_config(&data, &natsd::default_conf(), &creds)?;
        let server = NatsServer::start(&ServerConfig {
            binary: natsd::find_server()?,
            conf,
            port: None,
            store_dir: data.jetstream(),
            run_dir: data.nats_run(),
            log_file: Some(data.logs().join(natsd::SERVER_LOG)),
            env: Vec::new(),
            cluster: None,
        })?;
        let h = Harness {
            server,
            creds,
            data,
            services: Vec::new(),
            _tmp: tmp,
        };
        let admin = h.connect(Role::Admin).await?;
        posfee_deploy::streams::ensure(&admin, 1).await?;
        posfee_deploy::streams::publish_authorities(&admin, &h.data.creds()).await?;
        let mut h = h;
        // No kiosk, phone or clerk connects without the identity service: it answers the
        // server's auth callout.
        h.start_service(ServiceName::Identity, ServiceOptions::default())
            .await?;
        Ok(h)
    }

    pub fn url(&self) -> &str {
        self.server.url()
    }

    pub fn data(&self) -> &DataDir {
        &self.data
    }

    pub fn creds(&self) -> &RoleCreds {
        &self.creds
    }

    /// The key `role` seals its journal with. Test support: a harness without it is broken.
    #[allow(clippy::panic)]
    pub fn journal_seal(&self, role: Role) -> posfee_schemas::trust::JournalSeal {
        let file = self
            .creds
            .authority_file(role)
            .unwrap_or_else(|| panic!("{role} has no authority"));
        posfee_client::creds::read_journal_key(&file)
            .unwrap_or_else(|e| panic!("the journal key of {role}: {e:#}"))
    }

    /// `role`'s authority, which seals what that role writes. Test support: a harness
    /// without it is broken.
    #[allow(clippy::panic)]
    pub fn signer(&self, role: Role) -> posfee_schemas::trust::Signer {
        self.creds
            .signer(role)
            .unwrap_or_else(|e| panic!("the authority of {role}: {e:#}"))
    }

    /// The root this harness's system believes.
    #[allow(clippy::panic)]
    pub fn root(&self) -> posfee_schemas::trust::TrustRoot {
        self.creds
            .root()
            .unwrap_or_else(|e| panic!("the root: {e:#}"))
    }

    /// Writes `<data-dir>/run/nats.url` and the rules folder as `posfee up` does, so the
    /// operator commands (`posfee import`, `events`, `status` …) can be run against this
    /// harness. The rules recorded are the shipped ones, the in-process fee-engine's default.
    pub fn publish_url_file(&self) -> anyhow::Result<()> {
        let path = self.data.url_file();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.url())?;
        posfee_deploy::rules_dir::record(&self.data, &posfee_deploy::rules_dir::shipped())
    }

    /// The server's log, for tests that check what it refused.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.data.logs().join(natsd::SERVER_LOG)).unwrap_or_default()
    }

    /// Connects as `role` with the role's nkey.
    pub async fn connect(&self, role: Role) -> anyhow::Result<async_nats::Client> {
        self.connect_as(role).await
    }

    /// The key registry of kiosks and phones, as `posfee keys` keeps it.
    pub fn registry(&self) -> Registry {
        Registry::new(&self.data.creds())
    }

    /// Issues a key the way `posfee keys terminal|clerk` does (through the identity service,
    /// once per holder).
    pub async fn issue(&self, holder: Holder) -> anyhow::Result<()> {
        let who = Identity::from(holder.clone());
        if !self.registry().seed_file(&who).exists() {
            let operator = self.connect(Role::Operator).await?;
            self.registry()
                .issue(&operator, holder, None, false)
                .await?;
        }
        Ok(())
    }

    /// Issues a kiosk's key the way `posfee keys terminal` does, once per terminal id; then
    /// connects as that terminal.
    pub async fn terminal(&self, id: &str) -> anyhow::Result<async_nats::Client> {
        let id = TerminalId::parse(id)?;
        self.issue(Holder::Terminal(id.clone())).await?;
        self.connect_as(Identity::Terminal(id)).await
    }

    /// Issues a tenant's clerk's key the way `posfee keys clerk` does (once per tenant), then
    /// connects as that clerk.
    pub async fn clerk(&self, tenant: &str) -> anyhow::Result<async_nats::Client> {
        let tenant = posfee_schemas::ids::TenantId::parse(tenant)?;
        self.issue(Holder::Clerk(tenant.clone())).await?;
        self.connect_as(Identity::Clerk(tenant)).await
    }

    /// A new phone as a real one starts: it makes its own key, enrols it through the identity
    /// service, and connects with it. The seed is kept where [`Self::seed_file`] finds it.
    pub async fn phone(&self) -> anyhow::Result<(DeviceId, async_nats::Client)> {
        let seed = posfee_client::enrol::new_key()?;
        let reply = posfee_client::enrol::enrol(self.url(), &seed, "test-enrol").await?;
        let who = Identity::Device(reply.device_id.clone());
        posfee_client::creds::write_seed(&self.seed_file(&who), &seed)?;
        Ok((reply.device_id, self.connect_as(who).await?))
    }

    /// A kiosk agent on its own terminal key, with its clock and pairing time.
    pub async fn kiosk(
        &self,
        terminal: &TerminalId,
        pairing_ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<posfee_pos_agent::Agent> {
        let client = self.terminal(terminal.as_str()).await?;
        Ok(posfee_pos_agent::Agent::new(
            client,
            posfee_pos_agent::Settings {
                terminal: terminal.clone(),
                pairing_ttl,
                receipt_wait: Duration::from_secs(10),
                heartbeat: Duration::from_secs(1),
                root: self.root(),
            },
            clock,
        ))
    }

    /// A phone on its own device key, keeping its store in `home`.
    pub async fn companion(
        &self,
        home: &std::path::Path,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<posfee_companion::Companion> {
        let (device, client) = self.phone().await?;
        let home = posfee_companion::home::Home::open(home)
            .map_err(|e| anyhow::anyhow!("phone home: {e}"))?;
        Ok(posfee_companion::Companion::new(
            client,
            device,
            (home, self.root()),
            clock,
        ))
    }

    /// The seed an identity connects with (the admin's is in memory only).
    pub fn seed_of(&self, who: &Identity) -> anyhow::Result<String> {
        match who {
            Identity::Role(r) => self.creds.seed(*r),
            _ => posfee_client::creds::read_seed(&self.seed_file(who)),
        }
    }

    /// The seed file an identity connects with.
    pub fn seed_file(&self, who: &Identity) -> std::path::PathBuf {
        self.registry().seed_file(who)
    }

    /// Connects as a role, or as a terminal or phone already issued a key.
    pub async fn connect_as(&self, who: impl Into<Identity>) -> anyhow::Result<async_nats::Client> {
        let who = who.into();
        let seed = self.seed_of(&who)?;
        bus::connect(self.url(), who.clone(), Some(seed), &format!("test-{who}")).await
    }

    /// Connects as `who` and also returns the server errors the connection receives
    /// (permission violations arrive this way).
    pub async fn connect_watching(
        &self,
        who: impl Into<Identity>,
    ) -> anyhow::Result<(
        async_nats::Client,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    )> {
        let who = who.into();
        let opts = async_nats::ConnectOptions::new()
            .nkey(self.seed_of(&who)?)
            .custom_inbox_prefix(who.inbox_prefix());
        self.watching(opts)
            .await
            .with_context(|| format!("connecting as {who}"))
    }

    /// Connects with `opts` and also returns the server errors the connection receives: for
    /// a key the harness did not issue (a phone's own, a stranger's).
    pub async fn watching(
        &self,
        opts: async_nats::ConnectOptions,
    ) -> anyhow::Result<(
        async_nats::Client,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    )> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let client = opts
            .event_callback(move |event| {
                let tx = tx.clone();
                async move {
                    if let async_nats::Event::ServerError(e) = event {
                        let _ = tx.send(e.to_string());
                    }
                }
            })
            .connect(self.url())
            .await?;
        Ok((client, rx))
    }

    /// Starts a service in this process on its own connection and waits for its ping. A
    /// service started again while it runs is a second instance beside the first, with a
    /// store of its own (`<role>-2` …), as `posfee up --instances` runs them.
    pub async fn start_service(
        &mut self,
        name: ServiceName,
        opts: ServiceOptions,
    ) -> anyhow::Result<()> {
        let role = name.role();
        let client = self.connect(role).await?;
        let running = self.services.iter().filter(|s| s.name == name).count();
        let store_dir = match running {
            0 => self.data.service(role.as_str()),
            n => self.data.service(&format!("{}-{}", role.as_str(), n + 1)),
        };
        let shutdown = Shutdown::new();
        let s = shutdown.clone();
        let clock = opts.clock.clone();
        let mut applied = None;
        let trust = || -> anyhow::Result<posfee_runtime::Trust> {
            let t = posfee_runtime::Trust::new(self.creds.root()?, Some(self.creds.signer(role)?))?;
            match self.creds.authority_file(role) {
                Some(f) if posfee_client::creds::journal_key_file(&f).exists() => {
                    Ok(t.with_journal(posfee_client::creds::read_journal_key(&f)?))
                }
                _ => Ok(t),
            }
        };
        let task = match name {
            ServiceName::Identity => {
                let sys = bus::connect_system(
                    self.url(),
                    posfee_client::creds::read_seed(&self.creds.system_user_file())?,
                    "test-identity-sys",
                )
                .await?;
                tokio::spawn(posfee_identity::run(
                    client,
                    sys,
                    posfee_identity::Config {
                        edge_requests: posfee_runtime::limit::per_sec(opts.edge_requests_per_sec),
                        store_dir,
                        trust: trust()?,
                        issuer_seed: posfee_client::creds::read_seed(
                            &self.creds.callout_issuer_file(),
                        )?,
                        enrol_target_per_sec: opts.enrol_target_per_sec,
                        stamp_bits: opts.stamp_bits,
                        unenrolled_ttl_secs: opts.unenrolled_ttl_secs,
                    },
                    clock,
                    s,
                ))
            }
            ServiceName::FeeEngine => tokio::spawn(posfee_fee_engine::run(
                client,
                posfee_fee_engine::Config {
                    edge_requests: posfee_runtime::limit::per_sec(opts.edge_requests_per_sec),
                    store_dir,
                    rules_dir: opts.rules_dir.clone(),
                    trust: trust()?,
                    kiosk_bills: posfee_runtime::limit::per_sec(opts.kiosk_bills_per_sec),
                },
                clock,
                s,
            )),
            ServiceName::Query => {
                let (tx, rx) = tokio::sync::watch::channel(0);
                applied = Some(rx);
                tokio::spawn(posfee_query::run_reporting(
                    client,
                    posfee_query::Config {
                        edge_requests: posfee_runtime::limit::per_sec(opts.edge_requests_per_sec),
                        store_dir,
                        trust: trust()?,
                        kiosk_reads: posfee_runtime::limit::per_sec(opts.kiosk_reads_per_sec),
                    },
                    clock,
                    s,
                    tx,
                ))
            }
            ServiceName::Ledger => tokio::spawn(posfee_ledger::run(
                client,
                posfee_ledger::Config {
                    edge_requests: posfee_runtime::limit::per_sec(opts.edge_requests_per_sec),
                    store_dir,
                    trust: trust()?,
                    time_zones: posfee_tariff::RuleSet::load_dir(&opts.rules_dir)
                        .map_err(|e| anyhow::anyhow!("rules: {e:?}"))?
                        .tenants
                        .into_iter()
                        .map(|(id, t)| (id, t.time_zone))
                        .collect(),
                },
                clock,
                s,
            )),
            ServiceName::Paygate => tokio::spawn(posfee_paygate::run(
                client,
                posfee_paygate::Config {
                    // One system, one master keys file, as `posfee up` has: every paygate
                    // instance opens every payer's data key.
                    masters: {
                        let file = self.data.creds().join("paygate.master");
                        posfee_client::creds::ensure_master_keys(&file)?;
                        let keys = posfee_client::creds::read_master_keys(&file)?;
                        (posfee_paygate::vault::MasterKeys::new(keys)?, Some(file))
                    },
                    edge_requests: posfee_runtime::limit::per_sec(opts.edge_requests_per_sec),
                    store_dir,
                    trust: trust()?,
                },
                clock,
                s,
            )),
        };
        self.services.push(InProcess {
            name,
            shutdown,
            task,
            applied,
        });
        self.wait_for_service(name).await
    }

    /// Starts every service with the same options.
    pub async fn start_all(&mut self, opts: ServiceOptions) -> anyhow::Result<()> {
        for name in [
            ServiceName::Ledger,
            ServiceName::Paygate,
            ServiceName::FeeEngine,
            ServiceName::Query,
        ] {
            self.start_service(name, opts.clone()).await?;
        }
        Ok(())
    }

    /// Waits until `$SRV.PING.<name>` is answered through the server by as many instances
    /// as this harness runs (a second instance is ready when it answers too, not when the
    /// first one does).
    pub async fn wait_for_service(&self, name: ServiceName) -> anyhow::Result<()> {
        let operator = self.connect(Role::Operator).await?;
        let running = self
            .services
            .iter()
            .filter(|s| s.name == name)
            .count()
            .max(1);
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(SERVICE_READY_TIMEOUT_MS);
        loop {
            if let Some(s) = self.services.iter().find(|s| s.name == name) {
                if s.task.is_finished() {
                    anyhow::bail!("{name} stopped during start-up");
                }
            }
            let answering =
                posfee_runtime::serve::instances_answering(&operator, name.as_str(), running);
            if answering.await? >= running {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("{name} did not answer $SRV.PING in time");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops an in-process service and waits for it to drain.
    pub async fn stop_service(&mut self, name: ServiceName) -> anyhow::Result<()> {
        if let Some(i) = self.services.iter().position(|s| s.name == name) {
            let s = self.services.remove(i);
            s.shutdown.trigger();
            s.task.await??;
        }
        Ok(())
    }

    /// Waits until the running query service's view has applied every event now stored on
    /// the subjects it follows, and returns that stream sequence. Everything published
    /// before the call is then in the view (its position is recorded with the effects).
    pub async fn wait_query_caught_up(&self) -> anyhow::Result<u64> {
        let mut applied = self
            .services
            .iter()
            .find(|s| s.name == ServiceName::Query)
            .and_then(|s| s.applied.clone())
            .context("the query service is not running in this harness")?;
        // Asked as the query service asks it (the role allowed to read the last messages).
        let query = self.connect(Role::Query).await?;
        let target = posfee_runtime::feed::last_seq_of(&query, &posfee_query::followed()).await?;
        let reached = tokio::time::timeout(
            Duration::from_millis(CONDITION_TIMEOUT_MS),
            applied.wait_for(|seq| *seq >= target),
        )
        .await
        .map(|r| r.map(|_| ()));
        match reached {
            Ok(Ok(())) => Ok(target),
            Ok(Err(_)) => anyhow::bail!("the query service stopped"),
            Err(_) => anyhow::bail!(
                "the query view stayed at {} below stream sequence {target}",
                *applied.borrow()
            ),
        }
    }

    /// Stops a service that reports through an outbox (fee-engine, ledger, paygate) and
    /// checks its outbox is empty: every event it will ever report is then in the stream.
    pub async fn stop_and_drain(&mut self, name: ServiceName) -> anyhow::Result<()> {
        self.stop_service(name).await?;
        let dir = self.data.service(name.role().as_str()).join("db");
        // The service's last handles on its store go away just after it returns.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(CONDITION_TIMEOUT_MS);
        let db = loop {
            match posfee_store::open(&dir) {
                Ok(db) => break db,
                Err(e) if tokio::time::Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let pending = db.open_tree(posfee_runtime::outbox::OUTBOX_TREE)?.len();
        anyhow::ensure!(
            pending == 0,
            "{name} stopped with {pending} events unpublished"
        );
        Ok(())
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill_server(&mut self) {
        self.server.kill();
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        for s in &self.services {
            s.shutdown.trigger();
        }
    }
}

/// Publishes events to the stream in order as a role would, sealed by `signer` (that role's
/// authority: [`Harness::signer`]), and returns once every one is stored (acknowledged).
pub async fn publish_events(
    client: &async_nats::Client,
    signer: &posfee_schemas::trust::Signer,
    events: &[posfee_schemas::events::Event],
) -> anyhow::Result<()> {
    let js = async_nats::jetstream::new(client.clone());
    let mut acks = Vec::with_capacity(events.len());
    for e in events {
        let (subject, msg) = posfee_client::sealed::message(e, signer);
        acks.push(js.send_publish(subject, msg).await?);
    }
    for ack in acks {
        ack.await?;
    }
    Ok(())
}

/// Every event stored so far on `filter` (e.g. `posfee.events.bill.issued`, wildcards
/// allowed), read as the operator reads them: exactly the events stored when the call
/// began, however long they take to arrive; those of the event stream first, then those the
/// ledger's and paygate's journal entries carry.
pub async fn stored_events(
    client: &async_nats::Client,
    filter: &str,
) -> anyhow::Result<Vec<posfee_schemas::events::Event>> {
    use posfee_schemas::subjects;
    let mut out = events_in_stream(client, filter).await?;
    let carried = posfee_schemas::events::CARRIED_KINDS
        .iter()
        .any(|k| subjects::matches(filter, &subjects::event(*k)));
    if !carried {
        return Ok(out);
    }
    for journal in [subjects::LEDGER_JOURNAL, subjects::PAYGATE_JOURNAL] {
        for m in stored_messages(client, journal, ">", true).await? {
            for event in carried_by(&m)? {
                if subjects::matches(filter, &event.subject()) {
                    out.push(event);
                }
            }
        }
    }
    Ok(out)
}

/// [`stored_events`] of the event stream alone: what was published there, not carried.
pub async fn events_in_stream(
    client: &async_nats::Client,
    filter: &str,
) -> anyhow::Result<Vec<posfee_schemas::events::Event>> {
    let stream = posfee_schemas::subjects::EVENTS_STREAM;
    stored_messages(client, stream, filter, false)
        .await?
        .iter()
        .map(|m| Ok(posfee_schemas::decode(&m.payload)?))
        .collect()
}

/// The events a journal entry carries, decoded (their seals are the services' to check).
pub fn carried_by(
    m: &async_nats::jetstream::Message,
) -> anyhow::Result<Vec<posfee_schemas::events::Event>> {
    posfee_runtime::feed::carried_in(m.headers.as_ref())
        .into_iter()
        .map(|c| Ok(posfee_schemas::decode(&c.payload)?))
        .collect()
}

/// Every message stored so far in `stream` on `filter` (headers only if asked).
async fn stored_messages(
    client: &async_nats::Client,
    stream: &str,
    filter: &str,
    headers_only: bool,
) -> anyhow::Result<Vec<async_nats::jetstream::Message>> {
    use async_nats::jetstream::consumer;
    use futures::StreamExt;
    let js = async_nats::jetstream::new(client.clone());
    let stream = js.get_stream_no_info(stream).await?;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: if filter == ">" {
                String::new()
            } else {
                filter.to_string()
            },
            headers_only,
            ..Default::default()
        })
        .await?;
    // The server counts the matching messages when it creates the consumer: read that many.
    let stored = consumer.cached_info().num_pending;
    let mut out = Vec::new();
    if stored == 0 {
        return Ok(out);
    }
    let mut messages = consumer.messages().await?;
    while (out.len() as u64) < stored {
        let next =
            tokio::time::timeout(Duration::from_millis(CONDITION_TIMEOUT_MS), messages.next())
                .await
                .with_context(|| {
                    format!(
                        "{} of {stored} stored messages on {filter} arrived",
                        out.len()
                    )
                })?
                .with_context(|| format!("the feed of {filter} ended"))??;
        out.push(next);
    }
    Ok(out)
}

/// A binary built beside `posfee` (pos-agent, companion, the services): the tests that run
/// the real CLIs find them there (`scripts/test` builds every binary before the tests).
/// `posfee` is the test's `env!("CARGO_BIN_EXE_posfee")`.
pub fn sibling_binary(posfee: &str, name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(posfee).with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// Who `client` is, as the shared request subjects name it (`posfee.fee.quote.<asker>` …).
/// Test support: a connection made without a posfee inbox prefix is a broken test.
#[allow(clippy::panic)]
pub fn asker(client: &async_nats::Client) -> Identity {
    posfee_client::bus::asker_of(client).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Whether `subscriber` hears what `asker` publishes on `subject`: probes (payload "probe",
/// no reply subject) are published until one arrives, for up to about 3 s. A flushed
/// subscription is only written to the socket; it is in place on the server once something
/// published by another connection reaches it.
pub async fn hears(
    asker: &async_nats::Client,
    subscriber: &mut async_nats::Subscriber,
    subject: &str,
) -> bool {
    use futures::StreamExt;
    for _ in 0..15 {
        if asker
            .publish(subject.to_string(), "probe".into())
            .await
            .is_err()
        {
            return false;
        }
        let got = tokio::time::timeout(Duration::from_millis(200), subscriber.next()).await;
        if got.is_ok_and(|m| m.is_some_and(|m| m.payload == "probe")) {
            return true;
        }
    }
    false
}

/// Waits until `check` holds, asking again every 20 ms for up to [`CONDITION_TIMEOUT_MS`];
/// fails the test with `what` if it never does. The one poll loop tests use for a condition
/// the system reaches on its own (a view catching up, a connection closed).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let within = Duration::from_millis(CONDITION_TIMEOUT_MS);
    eventually_within(what, within, || {
        let fut = check();
        async move {
            if fut.await {
                Ok(())
            } else {
                Err("not yet")
            }
        }
    })
    .await
}

/// [`eventually`] for a condition that yields a value: `check` answers `Ok(value)` once it
/// holds, or `Err(what it saw)`, which the failure shows if it never holds within `within`.
#[allow(clippy::panic)]
pub async fn eventually_within<T, S, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    S: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, S>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let seen = match check().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "not within {} ms: {what}; last seen: {seen:?}",
                within.as_millis()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`eventually_within`] for a test on plain threads (one watching child processes).
#[allow(clippy::panic)]
pub fn eventually_blocking<T, S, F>(what: &str, within: Duration, mut check: F) -> T
where
    S: std::fmt::Debug,
    F: FnMut() -> Result<T, S>,
{
    let deadline = std::time::Instant::now() + within;
    loop {
        let seen = match check() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if std::time::Instant::now() >= deadline {
            panic!(
                "not within {} ms: {what}; last seen: {seen:?}",
                within.as_millis()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

//! `posfee up`: start nats-server and every service, wait until each answers `$SRV.PING`,
//! print `ready`, supervise until SIGINT/SIGTERM, then stop everything it started.

use anyhow::{bail, Context};
use posfee_client::{bus, Shutdown};
use posfee_deploy::creds::RoleCreds;
use posfee_deploy::layout::DataDir;
use posfee_deploy::natsd::{self, NatsServer, ServerConfig};
use posfee_deploy::services::{ServiceProc, SERVICES};
use posfee_runtime::serve;
use posfee_schemas::subjects::{Role, ServiceName};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Every service must answer `$SRV.PING` within this long of the server's start.
pub const READY_TIMEOUT_MS: u64 = 10_000;
/// How long a stopping service may take to drain.
pub const SERVICE_STOP_TIMEOUT_MS: u64 = 10_000;
/// A process that exits is started again after this pause, doubled for each earlier exit
/// within [`CRASH_WINDOW_SECS`], up to [`MAX_RESTART_DELAY_MS`]: a crash loop slows down but
/// the launcher never gives up on a service or on the server.
pub const FIRST_RESTART_DELAY_MS: u64 = 250;
pub const MAX_RESTART_DELAY_MS: u64 = 30_000;
pub const CRASH_WINDOW_SECS: u64 = 60;
/// A process that ran this long before it exited was healthy: its earlier exits are
/// forgiven, so a process killed now and then (a host's OOM killer, an operator, a fault
/// campaign) comes back after the first pause, and only a crash loop waits longer and longer.
pub const HEALTHY_RUN_SECS: u64 = 10;
const SUPERVISE_TICK_MS: u64 = 250;

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Where the stores, credentials and logs live.
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// The NATS client port (loopback only); 0 picks a free one.
    #[arg(long, default_value_t = 4222)]
    pub port: u16,
    /// nats.conf to use (default: the repository's).
    #[arg(long)]
    pub nats_conf: Option<PathBuf>,
    /// The folder holding the service binaries (default: beside this one).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// The tenants' rule files for the fee-engine (default: the shipped examples).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// The WebSocket port phones' web app connects to (loopback only); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub ws_port: u16,
    /// The HTTP port the phone's web app is served on (loopback only); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub http_port: u16,
    /// The HTTP port every service's metrics are served on for Prometheus (`/metrics`,
    /// `/metrics/<service>`; loopback only); 0 picks a free one. The URL is in
    /// `<data-dir>/run/metrics.url`.
    #[arg(long, env = "POSFEE_METRICS_PORT", default_value_t = 0)]
    pub metrics_port: u16,
    /// The built web app to serve (default: the installation's, companion/web/dist in a
    /// checkout; `scripts/setup` builds it).
    #[arg(long)]
    pub web_dir: Option<PathBuf>,
    /// The HTTP port the operator's console is served on (loopback only; sign in with the
    /// operator's key, `<data-dir>/creds/operator.nk`); 0 picks a free one. The URL is in
    /// `<data-dir>/run/console.url`.
    #[arg(long, env = "POSFEE_CONSOLE_PORT", default_value_t = 0)]
    pub console_port: u16,
    /// The built console to serve (default: the installation's, operator/console/dist in a
    /// checkout; `scripts/setup` builds it).
    #[arg(long)]
    pub console_dir: Option<PathBuf>,
    /// nats-server nodes to run as one cluster on this machine (loopback routes, a store
    /// folder each), the local stand-in for as many hosts; streams then keep 3 copies.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=9))]
    pub cluster: u16,
    /// Instances of each service that can run side by side (see `posfee_deploy::services`);
    /// requests are shared among them and any one may die.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=8))]
    pub instances: u16,
}

/// Holds the data dir for one `posfee up`; released when the process exits, however it exits.
struct DataDirLock {
    _file: File,
}

fn lock_data_dir(data: &DataDir) -> anyhow::Result<DataDirLock> {
    data.refuse_file()?;
    std::fs::create_dir_all(data.root())
        .with_context(|| format!("creating {}", data.root().display()))?;
    let path = data.lock_file();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            bail!(
                "posfee is already running on data dir {} (pid {}); stop it first, or use another --data-dir",
                data.root().display(),
                holder.trim()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(DataDirLock { _file: file })
}

/// A service child process and how often it has been restarted lately.
struct Supervised {
    proc: ServiceProc,
    /// Which of the service's instances (1-based): its store folder and log are its own.
    instance: usize,
    child: Child,
    backoff: Backoff,
}

/// The pause before starting a process again: longer the more often it exited lately; and,
/// while the process is down, when it is to be started.
#[derive(Debug, Default)]
struct Backoff {
    exits: Vec<Instant>,
    restart_at: Option<Instant>,
    /// When the process was last started again (`None`: the first start).
    started: Option<Instant>,
}

impl Backoff {
    /// The process went down (exited, or did not start): it is started again after a pause,
    /// which this returns.
    fn down(&mut self, now: Instant) -> Duration {
        let pause = self.after_exit(now);
        self.restart_at = Some(now + pause);
        pause
    }

    /// Whether the process is down and its pause is over (it is then taken as started).
    fn due(&mut self, now: Instant) -> bool {
        let due = self.restart_at.is_some_and(|at| now >= at);
        if due {
            self.restart_at = None;
            self.started = Some(now);
        }
        due
    }

    /// Whether the process is down, waiting out its pause.
    fn waiting(&self) -> bool {
        self.restart_at.is_some()
    }

    fn after_exit(&mut self, now: Instant) -> Duration {
        let window = Duration::from_secs(CRASH_WINDOW_SECS);
        let healthy = Duration::from_secs(HEALTHY_RUN_SECS);
        if self
            .started
            .is_some_and(|s| now.duration_since(s) >= healthy)
        {
            self.exits.clear();
        }
        self.exits.retain(|t| now.duration_since(*t) < window);
        self.exits.push(now);
        let doublings = u32::try_from(self.exits.len() - 1)
            .unwrap_or(u32::MAX)
            .min(16);
        let ms = FIRST_RESTART_DELAY_MS.saturating_mul(1 << doublings);
        Duration::from_millis(ms.min(MAX_RESTART_DELAY_MS))
    }
}

struct Launch<'a> {
    data: &'a DataDir,
    creds: &'a RoleCreds,
    url: String,
    bin_dir: PathBuf,
    rules: PathBuf,
}

impl<'a> Launch<'a> {
    /// Where the services connect, with what, and where their binaries and rules are: the
    /// given folders, else the binaries beside this one and the shipped rules.
    fn new(
        args: &UpArgs,
        data: &'a DataDir,
        creds: &'a RoleCreds,
        url: &str,
    ) -> anyhow::Result<Launch<'a>> {
        Ok(Launch {
            data,
            creds,
            url: url.to_string(),
            bin_dir: match &args.bin_dir {
                Some(d) => d.clone(),
                None => std::env::current_exe()?
                    .parent()
                    .context("binary has no folder")?
                    .to_path_buf(),
            },
            rules: args
                .rules
                .clone()
                .unwrap_or_else(posfee_deploy::rules_dir::shipped),
        })
    }

    fn spawn(&self, proc: ServiceProc, instance: usize) -> anyhow::Result<Child> {
        let bin = self.bin_dir.join(proc.name.as_str());
        if !bin.exists() {
            bail!(
                "service binary {} not found; build the workspace first (cargo build --workspace)",
                bin.display()
            );
        }
        std::fs::create_dir_all(self.data.logs())?;
        let log_path = self
            .data
            .logs()
            .join(format!("{}.log", proc.instance_dir(instance)));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut cmd = Command::new(&bin);
        cmd.arg("--nats-url")
            .arg(&self.url)
            .arg("--nkey-file")
            .arg(self.creds.seed_file(proc.role))
            .arg("--store-dir")
            .arg(self.data.service(&proc.instance_dir(instance)))
            .arg("--exit-on-stdin-eof")
            .arg("--root-key")
            .arg(self.creds.root_file())
            .stdin(Stdio::piped())
            .process_group(0)
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(authority) = self.creds.authority_file(proc.role) {
            cmd.arg("--authority-file").arg(authority);
        }
        // The fee-engine prices by the rules; the ledger reads the tenants' time zones.
        if matches!(proc.role, Role::FeeEngine | Role::Ledger) {
            cmd.arg("--rules").arg(&self.rules);
        }
        if proc.role == Role::Identity {
            cmd.arg("--issuer-seed-file")
                .arg(self.creds.callout_issuer_file())
                .arg("--sys-nkey-file")
                .arg(self.creds.system_user_file());
        }
        cmd.spawn()
            .with_context(|| format!("starting {}", bin.display()))
    }
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let data = DataDir::new(&args.data_dir);
    let _lock = lock_data_dir(&data)?;
    let shutdown = Shutdown::new();
    shutdown.on_signals(false)?;

    let creds = RoleCreds::ensure(&data.creds())?;
    let first = server_config(&args, &data, &creds)?;
    let nodes_n = usize::from(args.cluster);
    let mut nodes = start_nodes(&data, &first, nodes_n)?;
    let server_started = Instant::now();
    let url = client_url(&nodes);
    let ws_url = nodes[0].server.ws_url().map(str::to_string);
    create_streams(&url, &creds, &data, nodes_n).await?;

    let launch = Launch::new(&args, &data, &creds, &url)?;
    let mut children = Vec::new();
    // From here on, whatever fails stops what was started before it returns.
    let started = async {
        spawn_services(&launch, args.instances, &mut children)?;
        until_ready(&launch, server_started, &shutdown, &mut children).await
    }
    .await;
    match started {
        Ok(true) => {}
        Ok(false) => {
            stop_all(&mut children, &mut nodes);
            println!("stopped: interrupted during start-up");
            return Ok(());
        }
        Err(e) => {
            stop_all(&mut children, &mut nodes);
            return Err(e);
        }
    }
    let mut web = match start_web(&args, &creds, ws_url.as_deref()).await {
        Ok(web) => web,
        Err(e) => {
            stop_all(&mut children, &mut nodes);
            return Err(e);
        }
    };
    let mut metrics = match start_metrics(&launch, args.metrics_port).await {
        Ok(m) => m,
        Err(e) => {
            stop_all(&mut children, &mut nodes);
            return Err(e);
        }
    };
    let mut console = match start_console(&args, &launch).await {
        Ok(c) => c,
        Err(e) => {
            stop_all(&mut children, &mut nodes);
            return Err(e);
        }
    };
    write_url_file(&data, &url)?;
    write_run_file(&data.metrics_url_file(), &metrics.url())?;
    write_run_file(&data.console_url_file(), &console.url())?;
    posfee_deploy::rules_dir::record(&data, &launch.rules)?;
    let names: Vec<&str> = SERVICES.iter().map(|s| s.name.as_str()).collect();
    println!(
        "{READY_PREFIX} posfee is up at {url} ({}) after {} ms; {}; {}; metrics at {}/metrics; {}; data in {}; Ctrl-C stops it",
        names.join(", "),
        server_started.elapsed().as_millis(),
        shape_note(nodes_n, &children),
        web_note(web.as_ref(), ws_url.as_deref()),
        metrics.url(),
        console_note(&console, &args, &data),
        data.root().display()
    );

    let result = supervise(&launch, &mut children, &mut nodes, &shutdown).await;
    metrics.stop().await;
    console.stop().await;
    shut_down(&data, web.as_mut(), &mut children, &mut nodes).await;
    result
}

/// The first (or only) server node's configuration, with the nats.conf written for this
/// data dir and its credentials.
fn server_config(args: &UpArgs, data: &DataDir, creds: &RoleCreds) -> anyhow::Result<ServerConfig> {
    let base = args.nats_conf.clone().unwrap_or_else(natsd::default_conf);
    let conf = natsd::write_config(data, &base, creds)?;
    Ok(ServerConfig {
        binary: natsd::find_server()?,
        conf,
        port: (args.port != 0).then_some(args.port),
        store_dir: data.jetstream(),
        run_dir: data.nats_run(),
        log_file: Some(data.logs().join(natsd::SERVER_LOG)),
        env: match args.ws_port {
            0 => Vec::new(),
            p => vec![(natsd::WS_PORT_ENV.to_string(), p.to_string())],
        },
        cluster: None,
    })
}

/// Starts the `nodes_n` server nodes, each after stopping any nats-server an earlier
/// launcher left running on its folder; if one does not start, those before it are stopped.
fn start_nodes(data: &DataDir, first: &ServerConfig, nodes_n: usize) -> anyhow::Result<Vec<Node>> {
    let mut nodes = Vec::new();
    for cfg in posfee_deploy::cluster::plan(data, first, nodes_n)? {
        if let Some(pid) = natsd::stop_stale(&cfg.run_dir)? {
            eprintln!(
                "stopped nats-server {pid} left running by an earlier launcher on this data dir"
            );
        }
        match Node::start(cfg) {
            Ok(node) => nodes.push(node),
            Err(e) => {
                stop_all(&mut [], &mut nodes);
                return Err(e);
            }
        }
    }
    Ok(nodes)
}

/// The URL clients connect to: every node's, comma-separated.
fn client_url(nodes: &[Node]) -> String {
    nodes
        .iter()
        .map(|n| n.server.url())
        .collect::<Vec<_>>()
        .join(",")
}

/// As the admin: creates the stream and buckets (on as many copies as the cluster keeps) and
/// publishes the signing services' certificates.
async fn create_streams(
    url: &str,
    creds: &RoleCreds,
    data: &DataDir,
    nodes_n: usize,
) -> anyhow::Result<()> {
    let admin = bus::connect(
        url,
        Role::Admin,
        Some(creds.seed(Role::Admin)?),
        "posfee-up",
    )
    .await?;
    posfee_deploy::streams::ensure(&admin, posfee_deploy::cluster::replicas(nodes_n)).await?;
    posfee_deploy::streams::publish_authorities(&admin, &data.creds()).await?;
    Ok(())
}

/// Starts every instance of every service in order; each one started goes into `children`
/// at once, so a later failure can stop it.
fn spawn_services(
    launch: &Launch<'_>,
    instances: u16,
    children: &mut Vec<Supervised>,
) -> anyhow::Result<()> {
    for proc in SERVICES {
        for instance in 1..=proc.instances(usize::from(instances)) {
            children.push(Supervised {
                proc: *proc,
                instance,
                child: launch.spawn(*proc, instance)?,
                backoff: Backoff::default(),
            });
        }
    }
    Ok(())
}

/// Waits until every service instance answers `$SRV.PING`: `Ok(true)` when they all do,
/// `Ok(false)` when a Ctrl-C comes first.
async fn until_ready(
    launch: &Launch<'_>,
    server_started: Instant,
    shutdown: &Shutdown,
    children: &mut [Supervised],
) -> anyhow::Result<bool> {
    let operator = bus::connect(
        &launch.url,
        Role::Operator,
        Some(launch.creds.seed(Role::Operator)?),
        "posfee-up",
    )
    .await?;
    tokio::select! {
        r = wait_ready(&operator, server_started, children) => r.map(|()| true),
        // Ctrl-C during start-up: stop, and never print ready afterwards.
        _ = shutdown.wait() => Ok(false),
    }
}

/// Stops the phone's web app, removes the files that tell other commands the system runs,
/// then stops every process `posfee up` started.
async fn shut_down(
    data: &DataDir,
    web: Option<&mut crate::web::WebApp>,
    children: &mut [Supervised],
    nodes: &mut [Node],
) {
    if let Some(w) = web {
        w.stop().await;
    }
    let _ = std::fs::remove_file(data.url_file());
    let _ = std::fs::remove_file(data.metrics_url_file());
    let _ = std::fs::remove_file(data.console_url_file());
    let _ = std::fs::remove_file(data.rules_file());
    stop_all(children, nodes);
    println!("stopped: every process posfee up started has exited");
}

/// Serves the phone's web app when the server has a WebSocket listener for it.
async fn start_web(
    args: &UpArgs,
    creds: &RoleCreds,
    ws_url: Option<&str>,
) -> anyhow::Result<Option<crate::web::WebApp>> {
    let Some(ws_url) = ws_url else {
        return Ok(None);
    };
    let dist = match &args.web_dir {
        Some(d) => d.clone(),
        None => posfee_deploy::install::Install::find()?.web,
    };
    let config = crate::web::AppConfig {
        ws_url: ws_url.to_string(),
        root_key: creds.root()?.to_string(),
    };
    Ok(Some(
        crate::web::serve(&dist, config, args.http_port).await?,
    ))
}

/// Serves every service's metrics, asking them as the operator; `posfee up`'s own (its
/// restarts) are among them.
async fn start_metrics(launch: &Launch<'_>, port: u16) -> anyhow::Result<crate::web::Served> {
    posfee_runtime::metrics::install("launcher", &format!("{}", launch.data.root().display()));
    let operator = bus::connect(
        &launch.url,
        Role::Operator,
        Some(launch.creds.seed(Role::Operator)?),
        "posfee-up-metrics",
    )
    .await?;
    crate::metrics::serve(operator, port).await
}

/// Serves the operator's console, answering with an operator connection of its own.
async fn start_console(args: &UpArgs, launch: &Launch<'_>) -> anyhow::Result<crate::web::Served> {
    let seed = launch.creds.seed(Role::Operator)?;
    let operator_key = posfee_client::creds::public_key(&seed)?;
    let client = bus::connect(&launch.url, Role::Operator, Some(seed), "posfee-console").await?;
    let keys = posfee_client::keydir::KeyDirectory::open(&client, launch.creds.root()?).await?;
    let tenants = posfee_deploy::rules_dir::load(&launch.rules)?
        .tenants
        .into_values()
        .map(|t| crate::console::Tenant {
            id: t.id,
            name: t.name,
            time_zone: t.time_zone.name().to_string(),
            tz: t.time_zone,
        })
        .collect();
    let console = crate::console::Console::new(client, keys, tenants, operator_key);
    crate::console::serve(console, &console_dir(args)?, args.console_port).await
}

fn console_dir(args: &UpArgs) -> anyhow::Result<PathBuf> {
    Ok(match &args.console_dir {
        Some(d) => d.clone(),
        None => posfee_deploy::install::Install::find()?.console,
    })
}

/// The ready line's word on the console: where, and with which key to sign in.
fn console_note(console: &crate::web::Served, args: &UpArgs, data: &DataDir) -> String {
    let built = console_dir(args).is_ok_and(|d| crate::web::is_built(&d));
    let key = data.role_seed(Role::Operator);
    match built {
        true => format!(
            "operator console at {} (sign in with {})",
            console.url(),
            key.display()
        ),
        false => format!(
            "operator console at {} is not built (run scripts/setup)",
            console.url()
        ),
    }
}

/// The ready line's word on the phone's web app: where to open it, or why it is not there.
fn web_note(web: Option<&crate::web::WebApp>, ws_url: Option<&str>) -> String {
    match (web, ws_url) {
        (Some(w), Some(ws)) if crate::web::is_built(&w.dist) => {
            format!("phone app at {} (WebSocket {ws})", w.url())
        }
        (Some(w), _) => format!(
            "phone app at {} is not built ({} has no index.html; run scripts/setup)",
            w.url(),
            w.dist.display()
        ),
        _ => "no phone app (nats.conf opens no WebSocket listener)".to_string(),
    }
}

fn write_url_file(data: &DataDir, url: &str) -> anyhow::Result<()> {
    write_run_file(&data.url_file(), url)
}

/// Writes one of the files under `<data-dir>/run/` that tell other commands the system runs.
fn write_run_file(path: &Path, url: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, url).with_context(|| format!("writing {}", path.display()))
}

async fn wait_ready(
    operator: &async_nats::Client,
    since: Instant,
    children: &mut [Supervised],
) -> anyhow::Result<()> {
    let deadline = since + Duration::from_millis(READY_TIMEOUT_MS);
    // A service is ready when every instance started answers, not when the first one does.
    let instances = |name: ServiceName| children.iter().filter(|c| c.proc.name == name).count();
    let wanted: Vec<usize> = children.iter().map(|s| instances(s.proc.name)).collect();
    for (s, want) in children.iter_mut().zip(wanted) {
        let name = s.proc.name;
        loop {
            if let Some(status) = s.child.try_wait()? {
                bail!("{name} exited during start-up ({status}); see its log under logs/");
            }
            let answering = serve::instances_answering(operator, name.as_str(), want).await;
            match answering {
                Ok(n) if n >= want => break,
                _ if Instant::now() > deadline => bail!(
                    "{name} did not answer $SRV.PING within {READY_TIMEOUT_MS} ms of the server's start"
                ),
                _ => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
    }
    Ok(())
}

/// Restarts crashed services and server nodes until shutdown, each after its pause.
async fn supervise(
    launch: &Launch<'_>,
    children: &mut [Supervised],
    nodes: &mut [Node],
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(SUPERVISE_TICK_MS)) => {}
        }
        let now = Instant::now();
        for node in nodes.iter_mut() {
            node.supervise(now);
        }
        for s in children.iter_mut() {
            supervise_service(launch, s, now)?;
        }
    }
}

/// One nats-server node, and when it is to be started again after it died.
struct Node {
    server: NatsServer,
    cfg: ServerConfig,
    backoff: Backoff,
}

impl Node {
    /// Starts the node, then pins its ports: a restarted node comes back where it was, so
    /// every client and the other nodes find it again.
    fn start(mut cfg: ServerConfig) -> anyhow::Result<Node> {
        let server = NatsServer::start(&cfg)?;
        cfg.port = Some(server.port());
        if let Some(ws) = server.ws_url().and_then(|u| u.rsplit(':').next()) {
            cfg.env.retain(|(k, _)| k != natsd::WS_PORT_ENV);
            cfg.env
                .push((natsd::WS_PORT_ENV.to_string(), ws.to_string()));
        }
        Ok(Node {
            server,
            cfg,
            backoff: Backoff::default(),
        })
    }

    /// The node comes back on the same ports with the same store (or, if its store folder
    /// was lost, an empty one it refills from the other nodes); the services and every client
    /// reconnect by themselves, to this node or another.
    fn supervise(&mut self, now: Instant) {
        let name = self.name();
        if self.backoff.due(now) {
            match NatsServer::start(&self.cfg) {
                Ok(s) => {
                    self.server = s;
                    posfee_runtime::metrics::restarted(&name);
                    eprintln!("{name} restarted at {}", self.server.url());
                }
                Err(e) => {
                    let pause = self.backoff.down(now);
                    eprintln!(
                        "{name} did not start again ({e:#}); next try in {:.1} s",
                        pause.as_secs_f64()
                    );
                }
            }
        } else if !self.backoff.waiting() {
            if let Some(status) = self.server.exited() {
                let pause = self.backoff.down(now);
                eprintln!(
                    "{name} exited ({status}; see its log under logs/); restarting in {:.1} s",
                    pause.as_secs_f64()
                );
            }
        }
    }

    fn name(&self) -> String {
        match &self.cfg.cluster {
            Some(c) => format!("nats-server {}", c.server_name),
            None => "nats-server".to_string(),
        }
    }
}

/// The ready line's word on how many server nodes and service instances run.
fn shape_note(nodes: usize, children: &[Supervised]) -> String {
    let many: Vec<String> = SERVICES
        .iter()
        .filter_map(|p| {
            let n = children.iter().filter(|c| c.proc == *p).count();
            (n > 1).then(|| format!("{n}× {}", p.name.as_str()))
        })
        .collect();
    let servers = match nodes {
        1 => "one nats-server".to_string(),
        n => format!(
            "a cluster of {n} nats-server nodes, streams kept on {}",
            posfee_deploy::cluster::replicas(n)
        ),
    };
    match many.is_empty() {
        true => servers,
        false => format!("{servers}; {}", many.join(", ")),
    }
}

/// Starts a service again once its pause is over, or notices it exited and sets the pause.
fn supervise_service(launch: &Launch<'_>, s: &mut Supervised, now: Instant) -> anyhow::Result<()> {
    if s.backoff.due(now) {
        s.child = launch.spawn(s.proc, s.instance)?;
        posfee_runtime::metrics::restarted(&s.proc.instance_dir(s.instance));
    } else if !s.backoff.waiting() {
        if let Some(status) = s.child.try_wait()? {
            let pause = s.backoff.down(now);
            eprintln!(
                "{} exited ({status}); restarting in {:.1} s (see its log under logs/)",
                s.proc.name,
                pause.as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Stops services in reverse start order, then the server nodes.
fn stop_all(children: &mut [Supervised], nodes: &mut [Node]) {
    for s in children.iter_mut().rev() {
        natsd::terminate(&mut s.child, Duration::from_millis(SERVICE_STOP_TIMEOUT_MS));
    }
    for node in nodes.iter_mut() {
        node.server.stop();
    }
}

/// The URL of the system running on `data`, for the other commands: `POSFEE_NATS_URL` when
/// set (a deployment on real hosts, whose data dir holds only the operator's keys), else the
/// one the running `posfee up` recorded.
pub fn running_url(data: &DataDir) -> anyhow::Result<String> {
    if let Ok(url) = std::env::var(NATS_URL_ENV) {
        if !url.trim().is_empty() {
            return Ok(url.trim().to_string());
        }
    }
    let path = data.url_file();
    match std::fs::read_to_string(&path) {
        Ok(url) => Ok(url.trim().to_string()),
        Err(_) => bail!(
            "posfee is not running on data dir {} (no {}); start it with `posfee up --data-dir {}`",
            data.root().display(),
            path.display(),
            data.root().display()
        ),
    }
}

/// Connects as the operator to the system running on `data`.
pub async fn connect_operator(data: &DataDir) -> anyhow::Result<async_nats::Client> {
    let url = running_url(data)?;
    let seed = posfee_client::creds::read_seed(&data.role_seed(Role::Operator))?;
    bus::connect(&url, Role::Operator, Some(seed), "posfee-operator").await
}

/// Connects as `tenant`'s billing clerk with its seed (`nkey_file`, or the one `posfee keys
/// clerk` wrote), naming the command that issues one if there is none.
pub async fn connect_clerk(
    data: &DataDir,
    tenant: &posfee_schemas::ids::TenantId,
    nkey_file: Option<&Path>,
    name: &str,
) -> anyhow::Result<async_nats::Client> {
    let who = posfee_schemas::subjects::Identity::Clerk(tenant.clone());
    let seed_file = match nkey_file {
        Some(f) => f.to_path_buf(),
        None => posfee_deploy::identities::Registry::new(&data.creds()).seed_file(&who),
    };
    let seed = posfee_client::creds::read_seed(&seed_file).with_context(|| {
        format!("the clerk's key of {tenant}: issue one with `posfee keys clerk {tenant}`")
    })?;
    bus::connect(&running_url(data)?, who, Some(seed), name).await
}

/// The environment variable that names the servers for every command and service.
pub const NATS_URL_ENV: &str = "POSFEE_NATS_URL";

/// How `posfee up`'s ready line starts.
pub const READY_PREFIX: &str = "ready:";

/// A `posfee up` that printed its ready line: that line, the lines before it, and the rest of
/// its output (drain it, or the launcher blocks on a full pipe).
pub struct Ready {
    pub line: String,
    pub before: Vec<String>,
    pub rest: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

/// Reads a spawned `posfee up`'s stdout until its ready line, or says how it ended first. The
/// one place that knows what "ready" looks like, for the bench and the tests that run `up`.
pub fn read_ready_line(stdout: std::process::ChildStdout) -> anyhow::Result<Ready> {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut before = Vec::new();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with(READY_PREFIX) => {
                return Ok(Ready {
                    line,
                    before,
                    rest: lines,
                })
            }
            Some(Ok(line)) => before.push(line),
            Some(Err(e)) => anyhow::bail!("reading posfee up's output: {e}"),
            None => anyhow::bail!("posfee up ended before it was ready: {before:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_with_each_exit_in_the_window_up_to_the_cap_and_reset_after_it() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        let pauses: Vec<u64> = (0..10)
            .map(|i| b.after_exit(t0 + Duration::from_millis(i)).as_millis() as u64)
            .collect();
        assert_eq!(&pauses[..4], [250, 500, 1000, 2000]);
        assert_eq!(pauses[9], MAX_RESTART_DELAY_MS);
        let later = t0 + Duration::from_secs(CRASH_WINDOW_SECS + 1);
        assert_eq!(
            b.after_exit(later).as_millis() as u64,
            FIRST_RESTART_DELAY_MS
        );
    }

    #[test]
    fn a_process_that_ran_healthy_before_it_was_killed_comes_back_after_the_first_pause() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        // Killed every 12 s: each run was healthy, so every pause is the first one.
        for i in 0..5u64 {
            let exit = t0 + Duration::from_secs(12 * i);
            let pause = b.down(exit);
            assert_eq!(pause.as_millis() as u64, FIRST_RESTART_DELAY_MS, "exit {i}");
            assert!(b.due(exit + pause));
        }
        // Dying a second after each start is a crash loop: the pauses grow again.
        let mut at = t0 + Duration::from_secs(100);
        let mut pauses = Vec::new();
        for _ in 0..3 {
            let pause = b.down(at);
            pauses.push(pause.as_millis() as u64);
            at += pause;
            assert!(b.due(at));
            at += Duration::from_secs(1);
        }
        assert_eq!(pauses, [FIRST_RESTART_DELAY_MS, 500, 1000]);
    }
}

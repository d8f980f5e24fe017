//! Starting and stopping nats-server with the project's nats.conf.

use crate::install::Install;
use anyhow::{bail, Context};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The oldest server we accept: `sync_interval` (acks only after fsync) arrived in 2.10, and
/// 2.9 is affected by CVE-2023-47090.
pub const MIN_SERVER_VERSION: (u32, u32) = (2, 10);
/// How long the server may take to open its port.
pub const START_TIMEOUT_MS: u64 = 10_000;
/// How long a stopping server may take to flush JetStream before it is killed.
pub const STOP_TIMEOUT_MS: u64 = 10_000;

/// nats.conf: `POSFEE_NATS_CONF`, or the installation's ([`Install`]).
pub fn default_conf() -> PathBuf {
    if let Some(p) = std::env::var_os("POSFEE_NATS_CONF") {
        return PathBuf::from(p);
    }
    match Install::find() {
        Ok(i) => i.nats_conf,
        Err(_) => PathBuf::from("nats.conf"),
    }
}

/// Finds a nats-server new enough: `NATS_SERVER` if set, else the installation's (the one
/// `scripts/setup` puts under `.tools/bin` in a checkout), else one on `PATH`.
pub fn find_server() -> anyhow::Result<PathBuf> {
    let mut tried = Vec::new();
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("NATS_SERVER") {
        candidates.push(PathBuf::from(p));
    } else {
        if let Ok(i) = Install::find() {
            candidates.push(i.nats_server);
        }
        candidates.push(PathBuf::from("nats-server"));
    }
    for c in candidates {
        match server_version(&c) {
            Ok(v) if v >= MIN_SERVER_VERSION => return Ok(c),
            Ok(v) => tried.push(format!(
                "{} is version {}.{} (need {}.{} or newer)",
                c.display(),
                v.0,
                v.1,
                MIN_SERVER_VERSION.0,
                MIN_SERVER_VERSION.1
            )),
            Err(e) => tried.push(format!("{}: {e}", c.display())),
        }
    }
    bail!(
        "no usable nats-server: {}. Run scripts/setup, or set NATS_SERVER to a nats-server {}.{}+ binary",
        tried.join("; "),
        MIN_SERVER_VERSION.0,
        MIN_SERVER_VERSION.1
    )
}

fn server_version(bin: &Path) -> anyhow::Result<(u32, u32)> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .context("cannot run")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "nats-server: v2.15.1"
    let v = text
        .split('v')
        .next_back()
        .context("no version in output")?
        .trim();
    let mut parts = v.split('.');
    let major = parts.next().and_then(|p| p.parse().ok());
    let minor = parts.next().and_then(|p| p.parse().ok());
    match (major, minor) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => bail!("cannot read version from {text:?}"),
    }
}

/// Renders the server configuration into the data dir: a copy of `base` (the repository's
/// nats.conf) and, beside it, `auth.conf` with the accounts, the role users and the auth
/// callout. Both are replaced whole (written aside, then renamed), so a reloading server never
/// reads half a file. Returns the configuration to start the server with.
pub fn write_config(
    data: &crate::layout::DataDir,
    base: &Path,
    roles: &crate::creds::RoleCreds,
) -> anyhow::Result<PathBuf> {
    let base_text =
        std::fs::read_to_string(base).with_context(|| format!("reading {}", base.display()))?;
    replace_file(
        &data.auth_conf(),
        &crate::authz::render(&roles.users(), roles.callout()),
    )?;
    let conf = data.server_conf();
    replace_file(&conf, &base_text)?;
    Ok(conf)
}

/// Replaces `path` whole: written under a temporary name beside it, then renamed.
pub(crate) fn replace_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The store path as the server's configuration reads it from the environment: absolute,
/// because nats-server takes a value starting with `.` (the default `./data`) for a variable
/// reference and refuses the configuration.
fn js_dir(store_dir: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(store_dir)
        .with_context(|| format!("making {} absolute", store_dir.display()))
}

/// Whether the server running on `data` acknowledges JetStream writes only after fsync: its
/// configuration, as rendered into the data dir, sets `sync_interval: always`. What a bench
/// reports as durable, read from what the server was started with, not assumed.
pub fn syncs_every_write(data: &crate::layout::DataDir) -> anyhow::Result<bool> {
    let conf = std::fs::read_to_string(data.server_conf())
        .with_context(|| format!("reading {}", data.server_conf().display()))?;
    Ok(conf.lines().any(|l| {
        let l = l.split('#').next().unwrap_or_default();
        let mut parts = l.splitn(2, [':', '=']);
        parts.next().map(str::trim) == Some("sync_interval")
            && parts.next().map(|v| v.trim().trim_matches('"')) == Some("always")
    }))
}

/// Checks a configuration the way the server will read it (`nats-server -t`).
pub fn check_config(binary: &Path, conf: &Path, store_dir: &Path) -> anyhow::Result<()> {
    let out = Command::new(binary)
        .arg("-t")
        .arg("-c")
        .arg(conf)
        .env("POSFEE_JS_DIR", js_dir(store_dir)?)
        .env(WS_PORT_ENV, RANDOM_PORT)
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    if !out.status.success() {
        bail!(
            "nats-server refuses {}: {}",
            conf.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The server's log file name under `<data-dir>/logs/`.
pub const SERVER_LOG: &str = "nats-server.log";

/// What nats-server logs once a reload has taken effect.
const RELOADED: &str = "Reloaded server configuration";
/// How long a reload may take to show in the server's log.
pub const RELOAD_TIMEOUT_MS: u64 = 10_000;

/// Has the server running on this data dir re-read its configuration (SIGHUP) and waits until
/// its log says the new configuration is in force. Returns the server's pid, or `None` when
/// no server is running there. (Kiosks and phones are not in the configuration: issuing and
/// revoking keys needs no reload; `posfee bench identities` times one.)
pub fn reload(run_dir: &Path, log_file: &Path) -> anyhow::Result<Option<u32>> {
    let Some(pid) = running_pid(run_dir) else {
        return Ok(None);
    };
    let count = |text: &str| text.matches(RELOADED).count();
    let before = count(&std::fs::read_to_string(log_file).unwrap_or_default());
    use nix::sys::signal::{kill, Signal};
    kill(nix::unistd::Pid::from_raw(pid), Signal::SIGHUP)
        .with_context(|| format!("signalling nats-server {pid}"))?;
    let deadline = Instant::now() + Duration::from_millis(RELOAD_TIMEOUT_MS);
    loop {
        let log = std::fs::read_to_string(log_file).unwrap_or_default();
        if count(&log) > before {
            return Ok(u32::try_from(pid).ok());
        }
        if Instant::now() > deadline {
            bail!(
                "nats-server {pid} did not confirm the reload within {RELOAD_TIMEOUT_MS} ms; see {}",
                log_file.display()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The pid of the nats-server that writes its ports file into `run_dir`, if it still runs.
fn running_pid(run_dir: &Path) -> Option<i32> {
    ports_files(run_dir)
        .into_iter()
        .map(|(pid, _)| pid)
        .find(|pid| is_our_server(*pid, run_dir))
}

/// The ports files in `run_dir` (`nats-server_<pid>.ports`) with the pid each names.
fn ports_files(run_dir: &Path) -> Vec<(i32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().to_string();
            let pid = name
                .strip_prefix("nats-server_")
                .and_then(|r| r.strip_suffix(".ports"))
                .and_then(|p| p.parse::<i32>().ok())?;
            Some((pid, entry.path()))
        })
        .collect()
}

/// Whether `pid` is a nats-server writing its ports file into this very run dir, so a
/// recycled pid is never signalled.
fn is_our_server(pid: i32, run_dir: &Path) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    let ours = format!("--ports_file_dir {}", run_dir.display());
    cmdline.contains("nats-server") && cmdline.contains(&ours)
}

/// The environment variable nats.conf reads the WebSocket port from.
pub const WS_PORT_ENV: &str = "POSFEE_WS_PORT";
/// nats-server's "pick a free port".
const RANDOM_PORT: &str = "-1";

/// How to start a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub binary: PathBuf,
    pub conf: PathBuf,
    /// `None` picks a free port (the tests' way).
    pub port: Option<u16>,
    pub store_dir: PathBuf,
    /// Where the server writes its ports file, so a random port can be read back.
    pub run_dir: PathBuf,
    pub log_file: Option<PathBuf>,
    /// Extra environment for the server.
    pub env: Vec<(String, String)>,
    /// This node's place in a cluster, or `None` for a server on its own.
    pub cluster: Option<ClusterNode>,
}

/// The cluster's name: every node must carry the same one.
pub const CLUSTER_NAME: &str = "posfee";
/// One node's place in the cluster: its name, where it listens for routes, and where the
/// others do.
#[derive(Debug, Clone)]
pub struct ClusterNode {
    pub server_name: String,
    pub route_port: u16,
    pub peers: Vec<u16>,
}

impl ClusterNode {
    /// The command-line flags that put a server into the cluster (they override nats.conf's
    /// `server_name`, so one configuration serves every node).
    pub fn args(&self) -> Vec<String> {
        let routes: Vec<String> = self
            .peers
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect();
        vec![
            "--name".into(),
            self.server_name.clone(),
            "--cluster_name".into(),
            CLUSTER_NAME.into(),
            "--cluster".into(),
            format!("nats://127.0.0.1:{}", self.route_port),
            "--routes".into(),
            routes.join(","),
        ]
    }
}

/// A running nats-server, stopped (then killed if need be) on `stop` or Drop.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    url: String,
    port: u16,
    /// The WebSocket listener for phones' web app (`ws://127.0.0.1:PORT`), read back from the
    /// ports file.
    ws_url: Option<String>,
}

impl NatsServer {
    pub fn start(cfg: &ServerConfig) -> anyhow::Result<NatsServer> {
        std::fs::create_dir_all(&cfg.store_dir)
            .with_context(|| format!("creating {}", cfg.store_dir.display()))?;
        std::fs::create_dir_all(&cfg.run_dir)
            .with_context(|| format!("creating {}", cfg.run_dir.display()))?;
        let port = cfg
            .port
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-1".into());
        let mut cmd = Command::new(&cfg.binary);
        cmd.arg("-c")
            .arg(&cfg.conf)
            .args(["-a", "127.0.0.1", "-p", &port])
            .arg("--ports_file_dir")
            .arg(&cfg.run_dir)
            .env("POSFEE_JS_DIR", js_dir(&cfg.store_dir)?)
            // A free WebSocket port unless the caller's environment names one.
            .env(WS_PORT_ENV, RANDOM_PORT)
            .envs(cfg.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            // Its own process group: a Ctrl-C at the terminal reaches the launcher only, which
            // then stops the services before the server they drain through.
            .process_group(0);
        if let Some(node) = &cfg.cluster {
            cmd.args(node.args());
        }
        match &cfg.log_file {
            Some(log) => {
                if let Some(dir) = log.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                cmd.arg("-l")
                    .arg(log)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
            }
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", cfg.binary.display()))?;
        let ports_file = cfg
            .run_dir
            .join(format!("nats-server_{}.ports", child.id()));
        let deadline = Instant::now() + Duration::from_millis(START_TIMEOUT_MS);
        let (url, ws_url) = loop {
            if let Some(status) = child.try_wait()? {
                return Err(exited_at_start(cfg, status));
            }
            if let Ok(text) = std::fs::read_to_string(&ports_file) {
                if let Some(urls) = parse_ports_file(&text) {
                    break urls;
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("nats-server did not open its port within {START_TIMEOUT_MS} ms");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .context("no port in server URL")?;
        Ok(NatsServer {
            child: Some(child),
            url,
            port,
            ws_url,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The WebSocket URL phones' web app connects to, when nats.conf opens one.
    pub fn ws_url(&self) -> Option<&str> {
        self.ws_url.as_deref()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGTERM, then wait for the server to flush and exit; SIGKILL after the timeout.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, Duration::from_millis(STOP_TIMEOUT_MS));
        }
    }

    /// Whether the server has exited (and how), without waiting.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL at once: for crash tests.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends SIGTERM and waits up to `grace`, then SIGKILLs.
pub fn terminate(child: &mut Child, grace: Duration) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// What nats-server logs when its port is taken.
const PORT_IN_USE: &str = "address already in use";

/// Why the server exited at start, and what to do: a taken port is the usual cause, and its
/// remedy is a free port, not the log.
fn exited_at_start(cfg: &ServerConfig, status: std::process::ExitStatus) -> anyhow::Error {
    let log = cfg
        .log_file
        .as_ref()
        .and_then(|l| std::fs::read_to_string(l).ok())
        .unwrap_or_default();
    let see = cfg
        .log_file
        .as_ref()
        .map(|l| format!("see {}", l.display()))
        .unwrap_or_else(|| "see its output above".into());
    match cfg.port {
        Some(port) if log.contains(PORT_IN_USE) => anyhow::anyhow!(
            "port {port} on 127.0.0.1 is in use (another posfee or program listens there): pass --port 0 to pick a free port, or another --port; {see}"
        ),
        _ => anyhow::anyhow!("nats-server exited at start ({status}); {see}"),
    }
}

/// The client URL and, when there is a WebSocket listener, its URL. A configuration with a
/// `websocket` block lists it in the same file, written once every listener is open.
fn parse_ports_file(text: &str) -> Option<(String, Option<String>)> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let nats = v.get("nats")?.get(0)?.as_str()?.to_string();
    let ws = v
        .get("websocket")
        .and_then(|w| w.get(0))
        .and_then(|w| w.as_str())
        .map(str::to_string);
    Some((nats, ws))
}

/// Stops a server a previous launcher left behind (a launcher killed by SIGKILL cannot stop
/// its server). The server's ports file names its pid; we stop it only if that pid is still
/// a nats-server, so a recycled pid is never touched.
pub fn stop_stale(run_dir: &Path) -> anyhow::Result<Option<u32>> {
    let mut stopped = None;
    for (pid, ports_file) in ports_files(run_dir) {
        if is_our_server(pid, run_dir) {
            use nix::sys::signal::{kill, Signal};
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = kill(p, Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_millis(STOP_TIMEOUT_MS);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if Path::new(&format!("/proc/{pid}")).exists() {
                let _ = kill(p, Signal::SIGKILL);
            }
            stopped = u32::try_from(pid).ok();
        }
        let _ = std::fs::remove_file(&ports_file);
    }
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_ports_file_gives_the_client_and_websocket_urls() {
        assert_eq!(
            parse_ports_file(
                r#"{"nats":["nats://127.0.0.1:42985"],"websocket":["ws://127.0.0.1:44305"]}"#
            ),
            Some((
                "nats://127.0.0.1:42985".to_string(),
                Some("ws://127.0.0.1:44305".to_string())
            ))
        );
        assert_eq!(
            parse_ports_file(r#"{"nats":["nats://127.0.0.1:4222"]}"#),
            Some(("nats://127.0.0.1:4222".to_string(), None))
        );
        assert_eq!(parse_ports_file("{"), None);
    }

    #[test]
    fn durability_is_read_from_the_servers_configuration() {
        let tmp = tempfile::tempdir().unwrap();
        let data = crate::layout::DataDir::new(tmp.path());
        std::fs::create_dir_all(data.server_conf().parent().unwrap()).unwrap();
        std::fs::write(
            data.server_conf(),
            "jetstream {\n  # sync_interval: always\n}\n",
        )
        .unwrap();
        assert!(!syncs_every_write(&data).unwrap());
        std::fs::write(
            data.server_conf(),
            "jetstream {\n  sync_interval: always\n}\n",
        )
        .unwrap();
        assert!(syncs_every_write(&data).unwrap());
    }
}

//! The system a bench measures: one it starts itself (`posfee up` in a temp dir, stopped on
//! drop), its processes found by data dir, their memory, and its stores' size on disk.

use anyhow::Context;
use posfee_deploy::layout::DataDir;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `posfee up` started by the bench in a temp dir of its own; stopped and removed on drop.
pub struct OwnSystem {
    pub data: DataDir,
    up: Option<Child>,
    tmp: PathBuf,
}

impl OwnSystem {
    /// Starts it (with `env` added to the launcher's, and so to its services') and returns
    /// once it printed its ready line. `name` tells the temp dirs of two benches apart.
    /// `up_args` go to `posfee up` (e.g. `--cluster 3`).
    pub fn start(name: &str, env: &[(&str, &str)], up_args: &[&str]) -> anyhow::Result<OwnSystem> {
        let tmp = std::env::temp_dir().join(format!("posfee-bench-{name}-{}", std::process::id()));
        let data = DataDir::new(tmp.join("data"));
        let mut up = Command::new(std::env::current_exe()?)
            .args(["up", "--port", "0", "--data-dir"])
            .arg(data.root())
            .args(up_args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting posfee up")?;
        let stdout = up.stdout.take().context("no stdout")?;
        let ready = posfee_operator::up::read_ready_line(stdout)?;
        std::thread::spawn(move || for _ in ready.rest {});
        Ok(OwnSystem {
            data,
            up: Some(up),
            tmp,
        })
    }
}

impl Drop for OwnSystem {
    fn drop(&mut self) {
        if let Some(mut up) = self.up.take() {
            posfee_deploy::natsd::terminate(&mut up, Duration::from_secs(20));
        }
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// The processes serving `data`, by name: each service (named like its folder, `ledger` …)
/// and its nats-server, with their `/proc` folders.
pub fn processes(data: &DataDir) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        for svc in posfee_deploy::services::SERVICES {
            let needle = format!("--store-dir {}", data.service(svc.dir()).display());
            if cmd.contains(&needle) {
                out.push((svc.dir().to_string(), entry.path()));
            }
        }
        // Every node's ports file is under <data-dir>/nats/ (node-<i>/run in a cluster).
        let nats_dir = data.root().join("nats").display().to_string();
        if cmd.contains("nats-server") && cmd.contains(&nats_dir) {
            out.push(("nats-server".into(), entry.path()));
        }
    }
    out
}

/// A memory figure of a process's `/proc/<pid>/status` (`VmRSS`, `VmHWM` …), in MiB.
pub fn status_mib(proc_dir: &Path, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(proc_dir.join("status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

/// Bytes under a folder, all the way down.
pub fn dir_bytes(p: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(p) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

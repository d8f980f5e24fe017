//! `posfee up` and `posfee status` as an operator runs them: real processes, a real server.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const POSFEE: &str = env!("CARGO_BIN_EXE_posfee");

/// Every process whose command line mentions `needle` (the test's own data dir).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(false);
        if cmd.contains(needle) && !zombie {
            out.push(format!("{pid}: {cmd}"));
        }
    }
    out
}

fn wait_gone(needle: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let left = processes_mentioning(needle);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The URL of a ready line, `ready: posfee is up at URL (services) after N ms; data in DIR;
/// …`, after checking it names every service and `data` as the data dir.
fn ready_url(ready: &str, data: &Path) -> String {
    let rest = ready
        .strip_prefix("ready: posfee is up at ")
        .unwrap_or_else(|| panic!("not a ready line: {ready}"));
    let (url, rest) = rest.split_once(' ').unwrap();
    let port = url
        .strip_prefix("nats://127.0.0.1:")
        .unwrap_or_else(|| panic!("not a local URL: {url}"));
    assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{ready}");
    for name in SERVICES {
        assert!(rest.contains(name), "{name} missing from {ready}");
    }
    assert!(
        rest.contains(&format!("; data in {};", data.display())),
        "{ready}"
    );
    url.to_string()
}

const SERVICES: [&str; 5] = [
    "posfee-fee-engine",
    "posfee-identity",
    "posfee-ledger",
    "posfee-paygate",
    "posfee-query",
];

/// The services `posfee status --json` finds answering, sorted by name.
fn running_services(data: &Path) -> Vec<String> {
    let out = Command::new(POSFEE)
        .args(["status", "--json", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for s in status["services"].as_array().unwrap() {
        assert!(!s["id"].as_str().unwrap().is_empty());
        assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    }
    service_names(&status)
}

/// The names of the services a `posfee status --json` answer lists, sorted.
fn service_names(status: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Starts `posfee up` and returns once it printed the line that starts with `ready:`, with
/// that line.
fn start_up(data: &Path) -> (Child, String, Duration) {
    start_up_on(data, 0)
}

/// `start_up` on a given port (0 picks a free one).
fn start_up_on(data: &Path, port: u16) -> (Child, String, Duration) {
    let started = Instant::now();
    let mut child = Command::new(POSFEE)
        .args(["up", "--port", &port.to_string(), "--data-dir"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn posfee up");
    let ready = posfee_operator::up::read_ready_line(child.stdout.take().unwrap()).unwrap();
    // Keep draining stdout so the launcher never blocks on a full pipe.
    let rest = ready.rest;
    std::thread::spawn(move || for _ in rest {});
    (child, ready.line, started.elapsed())
}

fn sigterm(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

#[test]
fn up_serves_every_service_status_reports_them_and_sigterm_stops_all() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mut up, ready, took) = start_up(&data);
    let url = ready_url(&ready, &data);
    assert!(
        took < Duration::from_secs(10),
        "ready after {took:?}, want every service answering $SRV.PING within 10 s"
    );
    // The URL it printed is the one it wrote for the operator commands.
    assert_eq!(
        std::fs::read_to_string(data.join("run/nats.url"))
            .unwrap()
            .trim(),
        url
    );
    assert_eq!(running_services(&data), SERVICES);

    let table = Command::new(POSFEE)
        .args(["status", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("posfee-ledger") && table.contains("TERMINAL"),
        "{table}"
    );

    // A second launcher on the same data dir refuses and touches nothing.
    let second = Command::new(POSFEE)
        .args(["up", "--port", "0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("already running"), "{err}");

    sigterm(&up);
    let exit = up.wait().unwrap();
    assert!(exit.success(), "posfee up exited with {exit}");
    let left = wait_gone(data.to_str().unwrap(), Duration::from_secs(5));
    assert!(left.is_empty(), "orphans after shutdown: {left:?}");

    let after = Command::new(POSFEE)
        .args(["status", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!after.status.success());
    assert!(String::from_utf8_lossy(&after.stderr).contains("not running"));
}

#[test]
fn closing_the_terminal_of_up_stops_the_server_and_every_service() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mut up, _ready, _) = start_up(&data);
    // The probe can succeed: the server and the services are running.
    assert_eq!(running_services(&data), SERVICES);
    assert!(!wait_gone(data.to_str().unwrap(), Duration::ZERO).is_empty());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(up.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let exit = up.wait().unwrap();
    assert!(exit.success(), "posfee up exited with {exit}");
    let left = wait_gone(data.to_str().unwrap(), Duration::from_secs(5));
    assert!(left.is_empty(), "left running after SIGHUP: {left:?}");
}

#[test]
fn a_killed_launcher_takes_its_services_along_and_the_next_up_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mut up, _, _) = start_up(&data);
    up.kill().unwrap();
    up.wait().unwrap();
    // Services notice their stdin closing; the orphaned server is left for the next `up`.
    let services_left: Vec<String> = wait_gone("--store-dir", Duration::from_secs(10))
        .into_iter()
        .filter(|p| p.contains(data.to_str().unwrap()))
        .collect();
    assert!(
        services_left.is_empty(),
        "services outlived the launcher: {services_left:?}"
    );

    // The next launcher comes up on the same data dir with every service answering.
    let (up2, ready, _) = start_up(&data);
    ready_url(&ready, &data);
    assert_eq!(running_services(&data), SERVICES);
    sigterm(&up2);
    let mut up2 = up2;
    assert!(up2.wait().unwrap().success());
    let left = wait_gone(data.to_str().unwrap(), Duration::from_secs(5));
    assert!(
        left.is_empty(),
        "orphans after the second shutdown: {left:?}"
    );
}

/// Runs `posfee ARGS --data-dir DATA`; (succeeded, stderr).
fn posfee(args: &[&str], data: &Path) -> (bool, String) {
    let out = Command::new(POSFEE)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn up_names_a_taken_port_and_a_file_as_data_dir_and_keys_need_a_set_up_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (ok, err) = posfee(&["up", "--port", &port.to_string()], &data);
    assert!(!ok, "{err}");
    assert!(
        err.contains(&format!("port {port} on 127.0.0.1 is in use")) && err.contains("--port 0"),
        "{err}"
    );
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let (ok, err) = posfee(&["up", "--port", "0"], &file);
    assert!(!ok, "{err}");
    assert!(err.contains("is a file, not a folder"), "{err}");

    // A data dir nobody set up is named, and not created.
    let typo = tmp.path().join("typo");
    for args in [&["keys", "list"][..], &["keys", "terminal", "kiosk-01"]] {
        let (ok, err) = posfee(args, &typo);
        assert!(!ok, "{args:?}: {err}");
        assert!(
            err.contains(&format!("{} is not a posfee data dir", typo.display()))
                && err.contains("posfee up --data-dir"),
            "{args:?}: {err}"
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }

    // The same port, once free, and the same commands on a data dir `posfee up` set up, work.
    drop(taken);
    let (up, ready, _) = start_up_on(&data, port);
    assert!(ready.contains(&format!(":{port}")), "{ready}");
    for args in [&["keys", "terminal", "kiosk-01"][..], &["keys", "list"]] {
        let (ok, err) = posfee(args, &data);
        assert!(ok, "{args:?}: {err}");
    }
    // The list says what its columns are, then the kiosk just issued.
    let listed = Command::new(POSFEE)
        .args(["keys", "list", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    let mut lines = text.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "KIND", "ID", "STATE", "ISSUED", "(+08:00)", "REVOKED", "PUBLIC", "KEY"
        ]),
        "{text}"
    );
    assert!(
        lines.any(|l| l.starts_with("terminal") && l.contains("kiosk-01")),
        "{text}"
    );
    sigterm(&up);
    let mut up = up;
    up.wait().unwrap();
}

/// The pid of the one process whose command line holds all of `needles`.
fn pid_of(needles: &[&str]) -> i32 {
    let found: Vec<String> = processes_mentioning(needles[0])
        .into_iter()
        .filter(|p| needles.iter().all(|n| p.contains(n)))
        .collect();
    assert_eq!(found.len(), 1, "{needles:?}: {found:?}");
    found[0].split(':').next().unwrap().parse().unwrap()
}

fn sigkill(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

/// Polls `posfee status` until every service answers again, and returns how long it took.
fn until_every_service_answers(data: &Path, within: Duration) -> Duration {
    let started = Instant::now();
    let answering = || {
        let out = Command::new(POSFEE)
            .args(["status", "--json", "--data-dir"])
            .arg(data)
            .output()
            .unwrap();
        if !out.status.success() {
            return Err(Vec::new());
        }
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let names = service_names(&status);
        if names == SERVICES {
            Ok(())
        } else {
            Err(names)
        }
    };
    posfee_harness::eventually_blocking("every service answers again", within, answering);
    started.elapsed()
}

#[test]
fn a_killed_server_is_started_again_on_its_port_and_a_crash_looping_service_is_never_given_up() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mut up, ready, _) = start_up(&data);
    let url = ready_url(&ready, &data);
    let data_arg = data.display().to_string();

    // The server, killed: the launcher starts it again on the same port, and every service
    // reconnects by itself.
    sigkill(pid_of(&["nats-server", &data_arg]));
    let back = until_every_service_answers(&data, Duration::from_secs(30));
    eprintln!("every service answered again {back:?} after the server was killed");
    assert!(up.try_wait().unwrap().is_none(), "the launcher gave up");
    assert_eq!(
        std::fs::read_to_string(data.join("run/nats.url"))
            .unwrap()
            .trim(),
        url
    );

    // A service killed six times in a row (more than the five a minute that used to stop
    // everything): restarted each time, with growing pauses.
    let store = data.join("ledger").display().to_string();
    for _ in 0..6 {
        let pid = pid_of(&["posfee-ledger", &store]);
        sigkill(pid);
        let within = Duration::from_secs(30);
        posfee_harness::eventually_blocking("the killed ledger goes away", within, || {
            let left = processes_mentioning(&store);
            let gone = !left.iter().any(|p| p.starts_with(&format!("{pid}:")));
            if gone {
                Ok(())
            } else {
                Err(left)
            }
        });
        posfee_harness::eventually_blocking("the ledger is started again", within, || {
            if processes_mentioning(&store).is_empty() {
                Err(())
            } else {
                Ok(())
            }
        });
    }
    until_every_service_answers(&data, Duration::from_secs(30));
    assert!(up.try_wait().unwrap().is_none(), "the launcher gave up");
    sigterm(&up);
    assert!(up.wait().unwrap().success());
}

//! One family of CLIs, as a new user meets them: `posfee`, `pos-agent` and `companion` find
//! the running system and their keys in the same data dir, take `--json` in the same place,
//! name the same setting the same way, explain every option, and stop on Ctrl-C with 130.
//!
//! The end-to-end test runs the real binaries against `posfee up` in a fresh folder, with no
//! URL and no key file given: everything is found under `./data`, as `posfee up` and
//! `posfee keys` left it.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clap::CommandFactory;
use posfee_harness::process::{wait_exit, wait_for_line};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

const POSFEE: &str = env!("CARGO_BIN_EXE_posfee");
const TERMINAL: &str = "kiosk-05";

/// The pos-agent and companion binaries, built beside `posfee`.
fn sibling(name: &str) -> PathBuf {
    posfee_harness::sibling_binary(POSFEE, name)
}

/// A system under `posfee up` in a fresh folder; every command runs in that folder, so the
/// default `./data` is the system's data dir.
struct System {
    tmp: tempfile::TempDir,
    up: Child,
    up_out: PathBuf,
}

impl System {
    fn start() -> System {
        System::start_logging("info")
    }

    /// With the services' `RUST_LOG` set to `log`.
    fn start_logging(log: &str) -> System {
        System::start_with(&[("RUST_LOG", log)])
    }

    /// With these variables in the services' environment.
    fn start_with(env: &[(&str, &str)]) -> System {
        let tmp = tempfile::tempdir().unwrap();
        let up_out = tmp.path().join("up.out");
        let mut up = Command::new(POSFEE)
            .args(["up", "--port", "0"])
            .current_dir(tmp.path())
            .env_remove("POSFEE_DATA_DIR")
            .envs(env.iter().copied())
            .stdout(File::create(&up_out).unwrap())
            .stderr(File::create(tmp.path().join("up.err")).unwrap())
            .spawn()
            .unwrap();
        wait_for_line(&up_out, &mut up, |l| l.starts_with("ready").then_some(()));
        System { tmp, up, up_out }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// A command in the system's folder with none of the settings in the environment.
    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.dir());
        for var in [
            "POSFEE_NATS_URL",
            "POSFEE_DATA_DIR",
            "POSFEE_NKEY_FILE",
            "POSFEE_TERMINAL_ID",
            "POSFEE_DEVICE_ID",
            "POSFEE_CONFIG",
            "POSFEE_COMPANION_HOME",
            "POSFEE_COMPANION_NKEY_FILE",
            "POS_AGENT_NKEY_FILE",
            "POS_AGENT_TERMINAL_ID",
            "RUST_LOG",
        ] {
            c.env_remove(var);
        }
        c
    }

    fn posfee(&self, args: &[&str]) -> Output {
        self.cmd(Path::new(POSFEE)).args(args).output().unwrap()
    }

    fn kiosk(&self) -> Command {
        let mut c = self.cmd(&sibling("pos-agent"));
        c.args(["--terminal-id", TERMINAL, "--language", "en"]);
        c
    }

    fn phone(&self) -> Command {
        let mut c = self.cmd(&sibling("companion"));
        c.arg("--home").arg(self.dir().join("phone"));
        c
    }

    /// Starts a command with its stdout and stderr in files named after it.
    fn spawn(&self, name: &str, mut c: Command) -> (Child, PathBuf) {
        let out = self.dir().join(format!("{name}.out"));
        let child = c
            .stdin(Stdio::piped())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(self.dir().join(format!("{name}.err"))).unwrap())
            .spawn()
            .unwrap();
        (child, out)
    }
}

/// What `posfee up` serves at `path` of its metrics URL, fetched by plain HTTP as a
/// Prometheus server would: the body of a 200.
fn scrape(sys: &System, path: &str) -> String {
    let url = std::fs::read_to_string(sys.dir().join("data/run/metrics.url")).unwrap();
    let addr = url.trim().strip_prefix("http://").unwrap().to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(conn, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.contains(" 200 "), "{path}: {answer}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.to_string()
}

/// The sum of the samples of `name` whose labels include each of `labels` (0 when none).
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| labels.iter().all(|x| l.contains(x)))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

impl Drop for System {
    /// Stops the system as an operator would (SIGTERM, then SIGKILL after a grace): a
    /// launcher killed outright leaves its nats-server running (the next `posfee up` on the
    /// data dir stops it, but a test's data dir is gone by then).
    fn drop(&mut self) {
        if let Ok(None) = self.up.try_wait() {
            posfee_deploy::natsd::terminate(&mut self.up, Duration::from_secs(20));
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sigint(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
}

/// What a person pressing Ctrl-C waits at most.
const CTRL_C_WITHIN_MS: u128 = 1_000;

/// Ctrl-C ends the command with status 130 (its own exit, not death by the signal), within
/// [`CTRL_C_WITHIN_MS`].
fn interrupted(name: &str, child: &mut Child, out: &Path) {
    sigint(child);
    let pressed = Instant::now();
    let status = wait_exit(name, child);
    let took = pressed.elapsed().as_millis();
    assert!(
        took <= CTRL_C_WITHIN_MS,
        "{name} took {took} ms after Ctrl-C"
    );
    assert_eq!(
        status.code(),
        Some(130),
        "{name} after Ctrl-C: {status}\n{}",
        std::fs::read_to_string(out).unwrap_or_default()
    );
}

fn type_line(stdin: &mut ChildStdin, line: &str) {
    writeln!(stdin, "{line}").unwrap();
    stdin.flush().unwrap();
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    text(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn rfc3339(v: &serde_json::Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"));
}

#[test]
fn a_new_user_runs_kiosk_and_phone_from_the_data_dir_and_ctrl_c_ends_each_with_130() {
    let mut sys = System::start();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    for (kind, file) in [("accounts", "accounts.csv"), ("readings", "readings.csv")] {
        let f = samples.join(file);
        let out = sys.posfee(&["import", kind, f.to_str().unwrap(), "--quiet"]);
        assert!(out.status.success(), "import {kind}: {}", text(&out.stderr));
    }
    let out = sys.posfee(&["keys", "terminal", TERMINAL]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The keys with when they were issued: a table within 100 columns, and JSON whose times
    // are UTC with `Z` like every other time posfee prints as JSON.
    let out = sys.posfee(&["keys", "list"]);
    let table = text(&out.stdout);
    assert!(
        table.contains("ISSUED") && table.contains(TERMINAL),
        "{table}"
    );
    for line in table.lines() {
        assert!(line.chars().count() <= 100, "wider than 100: {line}");
    }
    let today = chrono::Utc::now()
        .with_timezone(&posfee_client::screen::LOCAL_TZ)
        .format("%Y-%m-%d")
        .to_string();
    assert!(table.contains(&today), "{table}");
    let out = sys.posfee(&["keys", "list", "--json"]);
    let first = json_lines(&out.stdout).remove(0);
    rfc3339(&first["issued_at"]);
    assert!(
        first["issued_at"].as_str().unwrap().ends_with('Z'),
        "{first}"
    );

    // No key for the id: refused, naming the command that issues one (JSON before the
    // subcommand, as the last line).
    let out = sys
        .cmd(&sibling("pos-agent"))
        .args(["--json", "--terminal-id", "kiosk-99", "query"])
        .args(["--tenant", "city-water", "--account", "W-000001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let last = json_lines(&out.stdout).pop().unwrap();
    let message = last["error"]["message"].as_str().unwrap();
    assert!(message.contains("posfee keys terminal kiosk-99"), "{last}");
    let out = sys.phone().args(["receipts", "--json"]).output().unwrap();
    // Receipts are on the phone: listed without a key, offline.
    assert!(out.status.success(), "{out:?}");
    // A key file that holds no key: refused, naming the file.
    let bad = sys.dir().join("not-a-key.nk");
    std::fs::write(&bad, "no key here\n").unwrap();
    let out = sys
        .phone()
        .arg("--nkey-file")
        .arg(&bad)
        .args([
            "register",
            "--name",
            "x",
            "--national-id",
            "11010519491231002X",
        ])
        .args(["--bank-account", "6222600260001072444"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("not-a-key.nk"),
        "{}",
        text(&out.stderr)
    );
    // A data dir where nothing runs: refused, naming `posfee up`.
    let out = sys
        .kiosk()
        .args(["--data-dir", "elsewhere", "--nkey-file"])
        .arg(
            sys.dir()
                .join(format!("data/creds/terminals/{TERMINAL}.nk")),
        )
        .args(["query", "--tenant", "city-water", "--account", "W-000001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("posfee up --data-dir elsewhere"),
        "{}",
        text(&out.stderr)
    );

    // The phone registers with the key it made and enrolled itself (JSON after the subcommand).
    let out = sys
        .phone()
        .args([
            "register",
            "--name",
            "张三",
            "--national-id",
            "11010519491231002X",
        ])
        .args(["--bank-account", "6222600260001072444", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let registered = json_lines(&out.stdout);
    assert_eq!(registered.len(), 1, "one thing, one object: {registered:?}");
    assert!(registered[0]["registered"].is_object(), "{registered:?}");

    // Every service's metrics, as Prometheus scrapes them: the counts before the payment.
    let settled = |text: &str| {
        sample(
            text,
            "posfee_requests_total",
            &["endpoint=\"settle\"", "answer=\"ok\""],
        )
    };
    let paid = |text: &str| {
        sample(
            text,
            "posfee_requests_total",
            &["endpoint=\"pay\"", "answer=\"ok\""],
        )
    };
    let before = scrape(&sys, "/metrics");
    assert!(before.contains("service=\"launcher\""), "{before}");

    // Mode A, scripted: `--json` before the subcommand at the kiosk, after it on the phone.
    let mut kiosk = sys.kiosk();
    kiosk.args([
        "--json",
        "pay",
        "--tenant",
        "city-water",
        "--account",
        "W-000001",
    ]);
    let (mut kiosk_a, kiosk_a_out) = sys.spawn("kiosk-a", kiosk);
    let code = wait_for_line(&kiosk_a_out, &mut kiosk_a, |l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        rfc3339(&v["pairing"]["expires_at"]);
        v["pairing"]["code"].as_str().map(str::to_string)
    });
    let out = sys
        .phone()
        .args(["pay", &code, "--yes", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let status = wait_exit("kiosk (mode A)", &mut kiosk_a);
    assert!(status.success(), "kiosk (mode A): {status}");
    let lines = json_lines(&std::fs::read(&kiosk_a_out).unwrap());
    let receipt = &lines.last().unwrap()["receipt"];
    assert_eq!(receipt["account"], "W-000001", "{lines:?}");
    rfc3339(&receipt["settled_at"]);
    // The payment moved the counts: one settlement more at the ledger (whose metrics are
    // the ledger's only), one payment more at paygate, each timed; the ledger's view is
    // reported as far as its journal.
    let ledger = scrape(&sys, "/metrics/ledger");
    assert_eq!(settled(&ledger), settled(&before) + 1.0, "{ledger}");
    assert!(!ledger.contains("service=\"paygate\""), "{ledger}");
    let after = scrape(&sys, "/metrics");
    assert_eq!(paid(&after), paid(&before) + 1.0, "{after}");
    assert!(
        sample(
            &ledger,
            "posfee_request_duration_seconds_count",
            &["endpoint=\"settle\""]
        ) >= 1.0,
        "{ledger}"
    );
    assert!(
        sample(
            &ledger,
            "posfee_feed_applied_sequence",
            &["stream=\"POSFEE_LEDGER\""]
        ) >= 1.0,
        "{ledger}"
    );

    // Mode B at the interactive kiosk: while it waits for the payer's answer it says how to
    // cancel, and cancelling works.
    let mut show = sys.phone();
    show.arg("show-code");
    let (mut phone_b, phone_b_out) = sys.spawn("phone-b", show);
    let wallet = wait_for_line(&phone_b_out, &mut phone_b, |l| {
        l.split_once("Code 付款码: ")
            .map(|(_, c)| c.trim().to_string())
    });
    let (mut kiosk_b, kiosk_b_out) = sys.spawn("kiosk-b", {
        let mut k = sys.kiosk();
        k.arg("run");
        k
    });
    let mut keys = kiosk_b.stdin.take().unwrap();
    for line in ["2", "city-water", "W-000005", wallet.as_str()] {
        type_line(&mut keys, line);
    }
    wait_for_line(&phone_b_out, &mut phone_b, |l| {
        l.contains("[y/N]").then_some(())
    });
    wait_for_line(&kiosk_b_out, &mut kiosk_b, |l| {
        l.contains("type c and Enter to cancel").then_some(())
    });
    type_line(&mut keys, "c");
    wait_for_line(&kiosk_b_out, &mut kiosk_b, |l| {
        l.contains("nothing was charged").then_some(())
    });
    // An account that owes nothing is said so before the payer is asked for their phone.
    let asked_before = std::fs::read_to_string(&kiosk_b_out)
        .unwrap()
        .matches("Phone wallet code")
        .count();
    for line in ["2", "city-telecom", "13800000007"] {
        type_line(&mut keys, line);
    }
    wait_for_line(&kiosk_b_out, &mut kiosk_b, |l| {
        l.contains("Nothing is owed").then_some(())
    });
    let asked_after = std::fs::read_to_string(&kiosk_b_out)
        .unwrap()
        .matches("Phone wallet code")
        .count();
    assert_eq!(asked_before, asked_after, "asked for the phone first");
    // Nothing owed is an answer the payer is shown, counted apart from refusals and failures.
    let fees = scrape(&sys, "/metrics/fee-engine");
    assert!(
        sample(
            &fees,
            "posfee_requests_total",
            &["answer=\"outcome\"", "code=\"NOTHING_OWED\""]
        ) >= 1.0,
        "{fees}"
    );
    // A basket at the interactive kiosk: "+" adds a second biller's bill, one code for both,
    // one confirmation on the phone, both receipts and the basket's total at the kiosk.
    let mut show = sys.phone();
    show.args(["show-code", "--yes"]);
    let (mut phone_c, phone_c_out) = sys.spawn("phone-basket", show);
    let wallet_c = wait_for_line(&phone_c_out, &mut phone_c, |l| {
        l.split_once("Code 付款码: ")
            .map(|(_, c)| c.trim().to_string())
    });
    for line in [
        "2",
        "city-power",
        "E-000018",
        "+",
        "city-telecom",
        "13800000011",
    ] {
        type_line(&mut keys, line);
    }
    wait_for_line(&kiosk_b_out, &mut kiosk_b, |l| {
        l.contains("city-telecom 13800000011").then_some(())
    });
    type_line(&mut keys, &wallet_c);
    wait_for_line(&kiosk_b_out, &mut kiosk_b, |l| {
        l.contains("2 bills paid at once").then_some(())
    });
    let status = wait_exit("phone (basket)", &mut phone_c);
    assert!(status.success(), "phone (basket): {status}");
    let paid = std::fs::read_to_string(&phone_c_out).unwrap();
    assert!(paid.contains("Paid 2 bills"), "{paid}");
    // Each bill of the basket is a payment of its own: the power bill's, then the phone line's.
    let basket_payments: Vec<String> = paid
        .lines()
        .filter(|l| l.contains("支付编号:"))
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    assert_eq!(basket_payments.len(), 2, "{paid}");
    // The pairing belongs to every bill of the basket: following the second bill's account
    // shows it.
    let out = sys.posfee(&[
        "events",
        "--since",
        "start",
        "--no-follow",
        "--account",
        "13800000011",
    ]);
    let pairings = text(&out.stdout);
    assert!(
        out.status.success()
            && pairings.contains("pairing.joined")
            && pairings.contains("and 1 more (a basket)"),
        "{pairings}"
    );
    type_line(&mut keys, "4");
    let status = wait_exit("kiosk (mode B)", &mut kiosk_b);
    assert!(status.success(), "kiosk (mode B): {status}");
    let status = wait_exit("phone (mode B)", &mut phone_b);
    assert_eq!(
        status.code(),
        Some(3),
        "the phone hears the cancel: {status}"
    );

    // The operator's view: local times with their offset, modes by name, 100 columns; the
    // same events as JSON lines with RFC 3339 times, `--json` in either place.
    let out = sys.posfee(&[
        "events",
        "--since",
        "start",
        "--no-follow",
        "--kind",
        "pairing.*",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("mode A (kiosk shows code)"), "{table}");
    assert!(table.contains("mode B (phone shows code)"), "{table}");
    assert!(!table.contains("Presents"), "{table}");
    assert!(table.contains(" +08:00  pairing.joined"), "{table}");
    for line in table.lines() {
        assert!(line.chars().count() <= 100, "wider than 100: {line}");
    }
    // The cancelled bill's end, as the ledger recorded it.
    let out = sys.posfee(&[
        "events",
        "--since",
        "start",
        "--no-follow",
        "--kind",
        "bill.closed",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let closed = text(&out.stdout);
    assert!(
        closed.contains("bill.closed")
            && closed.contains("W-000005")
            && closed.contains("unpaid: cancelled"),
        "{closed}"
    );
    for args in [
        ["--json", "events", "--since", "start", "--no-follow"],
        ["events", "--since", "start", "--no-follow", "--json"],
    ] {
        let out = sys.posfee(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let events = json_lines(&out.stdout);
        assert!(events.len() > 10, "{events:?}");
        for e in &events {
            rfc3339(&e["time"]);
            rfc3339(&e["event"]["at"]);
        }
    }
    // One account's story, and one payment's: the events that name it, and those of its bill.
    let payment = receipt["payment_id"].as_str().unwrap().to_string();
    let bill = receipt["bill_id"].as_str().unwrap().to_string();
    let story = |filter: [&str; 2]| {
        let mut args = vec!["--json", "events", "--since", "start", "--no-follow"];
        args.extend(filter);
        let out = sys.posfee(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        json_lines(&out.stdout)
    };
    let account = story(["--account", "W-000001"]);
    let kinds: Vec<&str> = account
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    for kind in [
        "bill.issued",
        "pairing.joined",
        "payment.authorized",
        "payment.settled",
    ] {
        assert!(
            kinds.iter().any(|k| k.ends_with(kind)),
            "{kind} missing: {kinds:?}"
        );
    }
    let bills: Vec<&serde_json::Value> = account
        .iter()
        .filter(|e| e["event"]["body"]["data"]["account"] == "W-000001")
        .map(|e| &e["event"]["body"]["data"]["bill_id"])
        .collect();
    for e in &account {
        let data = &e["event"]["body"]["data"];
        let ours = data["account"] == "W-000001" || bills.contains(&&data["bill_id"]);
        assert!(ours, "not W-000001's: {e}");
    }
    let paid = story(["--payment", payment.as_str()]);
    let kinds: Vec<&str> = paid
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert!(
        kinds.iter().any(|k| k.ends_with("payment.authorized")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.ends_with("payment.settled")),
        "{kinds:?}"
    );
    assert!(
        paid.iter()
            .all(|e| e["event"]["body"]["data"]["bill_id"] == bill.as_str()),
        "{paid:?}"
    );

    // The water company's clerk gives one yuan back, with the key `posfee keys clerk` issued;
    // the same command again is the same refund, and more than was paid is refused.
    let out = sys.posfee(&["keys", "clerk", "city-water"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let refund = |amount: &str| {
        sys.posfee(&[
            "refund",
            "--tenant",
            "city-water",
            "--payment",
            payment.as_str(),
            "--amount",
            amount,
            "--reason",
            "meter misread",
        ])
    };
    for _ in 0..2 {
        let out = refund("1.00");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let said = text(&out.stdout);
        assert!(
            said.contains("refunded 1.00 CNY") && said.contains("1.00 CNY refunded in all"),
            "{said}"
        );
    }
    // A billing clerk asks for today's statement: refused until the day has ended in the
    // tenant's time zone, saying when it is issued (with the clerk key just issued).
    let out = sys.posfee(&[
        "report",
        "daily",
        "--tenant",
        "city-water",
        "--date",
        &today,
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("has not ended in Asia/Shanghai"),
        "{}",
        text(&out.stderr)
    );
    let out = refund("100000.00");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("REFUND_EXCEEDS_PAYMENT"),
        "{}",
        text(&out.stderr)
    );
    // Another biller's clerk cannot refund it.
    let out = sys.posfee(&["keys", "clerk", "city-power"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = sys.posfee(&[
        "refund",
        "--tenant",
        "city-power",
        "--payment",
        payment.as_str(),
        "--amount",
        "1.00",
        "--reason",
        "meter misread",
    ]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("FORBIDDEN"),
        "{}",
        text(&out.stderr)
    );
    // Refunds of a basket stay per bill: the power company's clerk refunds its own bill of
    // the basket, and not the phone line's beside it.
    let basket_refund = |payment: &str| {
        sys.posfee(&[
            "refund",
            "--tenant",
            "city-power",
            "--payment",
            payment,
            "--amount",
            "1.00",
            "--reason",
            "estimated reading",
        ])
    };
    let out = basket_refund(&basket_payments[0]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = basket_refund(&basket_payments[1]);
    assert!(
        !out.status.success() && text(&out.stderr).contains("FORBIDDEN"),
        "{}",
        text(&out.stderr)
    );

    // The query bench would leave its generated accounts in this system for good: refused.
    let out = sys.posfee(&["bench", "query", "--accounts", "10", "--duration", "1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already holds")
            && text(&out.stderr).contains("--into-existing"),
        "{}",
        text(&out.stderr)
    );

    let out = sys.posfee(&["reconcile"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let books = text(&out.stdout);
    assert!(books.contains(" CNY)") && !books.contains("fen"), "{books}");
    // The water company's day so far: today's payment and its refund of 1.00.
    let out = sys.posfee(&["reconcile", "--tenant", "city-water", "--date", &today]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let books = text(&out.stdout);
    assert!(
        books.contains(&format!(
            "city-water on {today} (Asia/Shanghai): 1 payment(s)"
        )) && books.contains("1 refund(s) 1.00 CNY"),
        "{books}"
    );
    // A bill for an account that owes nothing is an outcome at the fee-engine, not a failure.
    let out = sys
        .kiosk()
        .args([
            "--json",
            "pay",
            "--tenant",
            "city-telecom",
            "--account",
            "13800000007",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    for args in [["--json", "status"], ["status", "--json"]] {
        let out = sys.posfee(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let status = json_lines(&out.stdout);
        assert_eq!(status.len(), 1, "one object: {}", text(&out.stdout));
        for s in status[0]["services"].as_array().unwrap() {
            rfc3339(&s["started"]);
        }
        let issue = status[0]["services"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["endpoints"].as_array().unwrap())
            .find(|e| e["subject"] == "posfee.bill.issue.*")
            .unwrap();
        assert!(issue["outcomes"].as_u64().unwrap() >= 1, "{issue}");
        assert_eq!(issue["failed"], 0, "{issue}");
    }

    // Logs carry no colour codes into a pipe, in all three.
    for (name, mut c) in [
        ("posfee", sys.cmd(Path::new(POSFEE))),
        ("pos-agent", sys.kiosk()),
        ("companion", sys.phone()),
    ] {
        match name {
            "posfee" => c.arg("status"),
            "pos-agent" => c.args(["query", "--tenant", "city-water", "--account", "W-000013"]),
            _ => c.arg("receipts"),
        };
        let out = c.env("RUST_LOG", "debug").output().unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        assert!(!out.stderr.is_empty(), "{name} logged nothing to check");
        assert!(
            !out.stderr.contains(&0x1b),
            "{name} wrote escape codes into a pipe"
        );
    }

    // Ctrl-C in every long-running command: 130.
    let (mut kiosk, kiosk_out) = sys.spawn("kiosk-int", {
        let mut k = sys.kiosk();
        k.args(["pay", "--tenant", "city-water", "--account", "W-000009"]);
        k
    });
    wait_for_line(&kiosk_out, &mut kiosk, |l| {
        l.contains(&format!("{TERMINAL}:")).then_some(())
    });
    interrupted("pos-agent pay", &mut kiosk, &kiosk_out);

    let (mut menu, menu_out) = sys.spawn("kiosk-run-int", {
        let mut k = sys.kiosk();
        k.arg("run");
        k
    });
    wait_for_line(&menu_out, &mut menu, |l| l.contains("Choose").then_some(()));
    interrupted("pos-agent run", &mut menu, &menu_out);

    let (mut show, show_out) = sys.spawn("phone-int", {
        let mut p = sys.phone();
        p.args(["--json", "show-code"]);
        p
    });
    wait_for_line(&show_out, &mut show, |l| {
        l.contains("\"wallet\"").then_some(())
    });
    interrupted("companion show-code", &mut show, &show_out);

    // A phone showing its code whose key is revoked is told so, with what to do, and ends
    // within seconds.
    let mut show = sys.phone();
    show.arg("show-code");
    let (mut phone_c, phone_c_out) = sys.spawn("phone-c", show);
    wait_for_line(&phone_c_out, &mut phone_c, |l| {
        l.contains("Code 付款码: ").then_some(())
    });
    let seed = std::fs::read_to_string(sys.dir().join("phone").join("bus.nk")).unwrap();
    let device = posfee_client::creds::device_id(seed.trim()).unwrap();
    let out = sys.posfee(&["keys", "revoke", "device", device.as_str()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let revoked = Instant::now();
    let status = wait_exit("phone (revoked)", &mut phone_c);
    assert!(
        revoked.elapsed() < Duration::from_secs(5),
        "{:?}",
        revoked.elapsed()
    );
    assert!(!status.success(), "{status}");
    let said = std::fs::read_to_string(sys.dir().join("phone-c.err")).unwrap_or_default()
        + &std::fs::read_to_string(&phone_c_out).unwrap();
    assert!(
        said.contains("revoked") && said.contains("new key"),
        "{said}"
    );

    let (mut follow, follow_out) = sys.spawn("events-int", {
        let mut e = sys.cmd(Path::new(POSFEE));
        e.arg("events");
        e
    });
    wait_for_line(&follow_out, &mut follow, |l| {
        l.contains("KIND").then_some(())
    });
    interrupted("posfee events", &mut follow, &follow_out);

    let up_out = sys.up_out.clone();
    interrupted("posfee up", &mut sys.up, &up_out);
    let said = std::fs::read_to_string(&up_out).unwrap();
    assert!(said.contains("stopped: every process"), "{said}");
}

/// Every argument of every command, with the path of commands that leads to it.
/// The trace ids (32 hex digits after `trace=`) a log names.
fn traces_in(log: &str) -> std::collections::BTreeSet<String> {
    log.split("trace=")
        .skip(1)
        .filter_map(|rest| rest.get(..32))
        .filter(|id| id.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
        .collect()
}

/// An OTLP/HTTP collector as far as the test needs one: it answers every request 200 and keeps
/// the bodies (protobuf `ExportTraceServiceRequest`s), which name the service and carry the
/// trace ids as raw bytes.
fn collector() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>) {
    use std::io::BufRead;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let kept = kept.clone();
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
                let mut conn = conn;
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.to_ascii_lowercase();
                        if let Some(v) = l.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    kept.lock().unwrap().push(body);
                    let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if conn.write_all(ok.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, bodies)
}

#[test]
fn one_payment_is_one_trace_through_kiosk_fee_engine_phone_paygate_and_ledger() {
    // Each request a service answers is logged at debug with its trace, and its span is
    // exported over OTLP to the collector.
    let (otlp, exported) = collector();
    let sys = System::start_with(&[
        ("RUST_LOG", "info,posfee_runtime=debug"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ]);

    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    for (kind, file) in [("accounts", "accounts.csv"), ("readings", "readings.csv")] {
        let f = samples.join(file);
        let out = sys.posfee(&["import", kind, f.to_str().unwrap(), "--quiet"]);
        assert!(out.status.success(), "import {kind}: {}", text(&out.stderr));
    }
    assert!(sys.posfee(&["keys", "terminal", TERMINAL]).status.success());
    let out = sys
        .phone()
        .args(["register", "--name", "李四", "--national-id"])
        .args([
            "11010519491231002X",
            "--bank-account",
            "6222600260001072444",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let mut kiosk = sys.kiosk();
    kiosk.env("RUST_LOG", "info").args([
        "--json",
        "pay",
        "--tenant",
        "city-water",
        "--account",
        "W-000001",
    ]);
    let (mut kiosk_a, kiosk_out) = sys.spawn("kiosk-trace", kiosk);
    let code = wait_for_line(&kiosk_out, &mut kiosk_a, |l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        v["pairing"]["code"].as_str().map(str::to_string)
    });
    let phone = sys
        .phone()
        .env("RUST_LOG", "info")
        .args(["pay", &code, "--yes", "--json"])
        .output()
        .unwrap();
    assert!(phone.status.success(), "{phone:?}");
    assert!(wait_exit("kiosk", &mut kiosk_a).success());

    // The kiosk began one trace for the payer; the phone took it up from the kiosk's answer.
    let kiosk_log = std::fs::read_to_string(sys.dir().join("kiosk-trace.err")).unwrap();
    let started = traces_in(&kiosk_log);
    assert_eq!(started.len(), 1, "one payment, one trace: {kiosk_log}");
    let trace = started.into_iter().next().unwrap();
    assert_eq!(
        traces_in(&text(&phone.stderr)),
        [trace.clone()].into(),
        "{}",
        text(&phone.stderr)
    );
    // Every service the payment passed through answered inside it: the bill's issue, the
    // phone's payment, paygate's settlement request to the ledger.
    for (service, endpoint) in [
        ("fee-engine", "issue"),
        ("paygate", "pay"),
        ("ledger", "settle"),
    ] {
        let log =
            std::fs::read_to_string(sys.dir().join(format!("data/logs/{service}.log"))).unwrap();
        let answered = log
            .lines()
            .filter(|l| l.contains(&format!("endpoint=\"{endpoint}\"")) && l.contains("answered"))
            .filter(|l| l.contains(&format!("trace={trace}")))
            .count();
        assert!(
            answered >= 1,
            "{service} {endpoint} not in trace {trace}:\n{log}"
        );
    }
    // And each of those services exported its spans of that trace.
    let trace_bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let holds = |body: &[u8], part: &[u8]| body.windows(part.len()).any(|w| w == part);
    for service in ["posfee-fee-engine", "posfee-paygate", "posfee-ledger"] {
        posfee_harness::eventually_blocking(
            &format!("{service} exports a span of trace {trace}"),
            Duration::from_secs(10),
            || {
                let bodies = exported.lock().unwrap();
                let found = bodies
                    .iter()
                    .any(|b| holds(b, service.as_bytes()) && holds(b, &trace_bytes));
                if found {
                    Ok(())
                } else {
                    Err(bodies.len())
                }
            },
        );
    }
}

fn arguments(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
    for a in cmd.get_arguments() {
        out.push((path.to_string(), a.clone()));
    }
    for sub in cmd.get_subcommands() {
        arguments(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

fn all_arguments() -> Vec<(String, clap::Arg)> {
    let mut out = Vec::new();
    arguments(&posfee::cli::Cli::shared_command(), "posfee", &mut out);
    arguments(
        &posfee_pos_agent::cmd::Cli::command(),
        "pos-agent",
        &mut out,
    );
    arguments(
        &posfee_companion::cmd::Cli::command(),
        "companion",
        &mut out,
    );
    out
}

/// Arguments of commands changed elsewhere at the moment (keys, import, rules): they get
/// their help lines there.
const HELP_LEFT_TO_THEIR_OWNERS: &[(&str, &str)] = &[];

#[test]
fn every_option_of_every_command_says_what_it_is() {
    let mut missing = Vec::new();
    for (path, a) in all_arguments() {
        let id = a.get_id().as_str();
        if matches!(id, "help" | "version") || HELP_LEFT_TO_THEIR_OWNERS.contains(&(&path, id)) {
            continue;
        }
        if a.get_help().is_none() && a.get_long_help().is_none() {
            missing.push(format!("{path}: {id}"));
        }
    }
    assert!(missing.is_empty(), "no help line:\n{}", missing.join("\n"));
}

#[test]
fn the_same_setting_has_the_same_name_and_one_env_prefix() {
    let args = all_arguments();
    for (path, a) in &args {
        if let Some(env) = a.get_env() {
            let env = env.to_string_lossy();
            assert!(env.starts_with("POSFEE_"), "{path} --{}: {env}", a.get_id());
        }
        assert_ne!(a.get_long(), Some("ttl-secs"), "{path}: --ttl-secs");
        assert_ne!(a.get_long(), Some("url"), "{path}: --url");
    }
    // Each of these names one setting; wherever it is offered it reads the same variable.
    for (long, env) in [
        ("data-dir", "POSFEE_DATA_DIR"),
        ("nats-url", "POSFEE_NATS_URL"),
        ("nkey-file", "POSFEE_NKEY_FILE"),
        ("pairing-ttl-secs", "POSFEE_PAIRING_TTL_SECS"),
    ] {
        let offered: Vec<_> = args
            .iter()
            .filter(|(_, a)| a.get_long() == Some(long))
            .collect();
        assert!(offered.len() >= 2, "--{long} offered once only");
        for (path, a) in offered {
            // `bench flows --nats-url` goes with its --data-dir and reads no variable.
            if path == "posfee bench flows" {
                continue;
            }
            assert_eq!(
                a.get_env().map(|e| e.to_string_lossy().into_owned()),
                Some(env.to_string()),
                "{path} --{long}"
            );
        }
    }
}

#[test]
fn json_is_taken_before_or_after_the_subcommand_by_all_three() {
    use clap::Parser;
    for argv in [
        &["posfee", "--json", "status"][..],
        &["posfee", "status", "--json"],
        &["posfee", "events", "--json", "--no-follow"],
    ] {
        assert!(
            posfee::cli::Cli::try_parse_from(argv).unwrap().json,
            "{argv:?}"
        );
    }
    let query = ["query", "--tenant", "city-water", "--account", "W-1"];
    let before = [&["pos-agent", "--json"][..], &query].concat();
    let after = [&["pos-agent"][..], &query, &["--json"]].concat();
    for argv in [before, after] {
        assert!(
            posfee_pos_agent::cmd::Cli::try_parse_from(&argv)
                .unwrap()
                .json
        );
    }
    for argv in [
        &["companion", "--json", "receipts"][..],
        &["companion", "receipts", "--json"],
    ] {
        assert!(
            posfee_companion::cmd::Cli::try_parse_from(argv)
                .unwrap()
                .json
        );
    }
    // The phone's code lifetime answers to its old name too.
    let old =
        posfee_companion::cmd::Cli::try_parse_from(["companion", "show-code", "--ttl-secs", "30"]);
    assert!(old.is_ok(), "{old:?}");
}

#[test]
fn kiosk_and_phone_look_where_posfee_writes() {
    let root = Path::new("/srv/posfee-data");
    let data = posfee_deploy::layout::DataDir::new(root);
    assert_eq!(posfee_pos_agent::config::url_file(root), data.url_file());
    assert_eq!(posfee_companion::cmd::url_file(root), data.url_file());
    let registry = posfee_deploy::identities::Registry::new(&data.creds());
    let terminal = posfee_schemas::ids::TerminalId::parse("kiosk-01").unwrap();
    assert_eq!(
        posfee_pos_agent::config::terminal_seed_file(root, &terminal),
        registry.seed_file(&posfee_schemas::subjects::Identity::Terminal(terminal))
    );
}

/// The English words in what a Chinese screen showed, outside what any screen may show in
/// Latin letters: error codes (`PAIRING_GONE`), ids and typed codes (anything holding a digit,
/// `-`, `_`, `.`, `:` or `/`: `kiosk-05`, `W-000001`, `p-5e1d…`, times, paths), a command to type
/// (between backticks), and the units and names on this list.
fn english_in(text: &str) -> Vec<String> {
    /// `kWh` and `QR` are how a meter and a code are written in Chinese too; `posfee` is
    /// the product's name; `English` is the menu entry that switches to English.
    const ALLOWED: [&str; 4] = ["kWh", "QR", "posfee", "English"];
    let mut found = Vec::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            continue; // a command
        }
        for token in part.split(|c: char| c.is_whitespace() || "()（），,;；：、\"'[]".contains(c))
        {
            let id_like = token
                .chars()
                .any(|c| c.is_ascii_digit() || "-_.:/".contains(c));
            let code = token.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            let letters: String = token.chars().filter(char::is_ascii_alphabetic).collect();
            if id_like || code || letters.len() < 2 || ALLOWED.contains(&token) {
                continue;
            }
            found.push(token.to_string());
        }
    }
    found
}

#[test]
fn in_chinese_kiosk_and_phone_say_every_outcome_and_error_without_english() {
    let sys = System::start();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    for (kind, file) in [("accounts", "accounts.csv"), ("readings", "readings.csv")] {
        let f = samples.join(file);
        let out = sys.posfee(&["import", kind, f.to_str().unwrap(), "--quiet"]);
        assert!(out.status.success(), "import {kind}: {}", text(&out.stderr));
    }
    assert!(sys.posfee(&["keys", "terminal", TERMINAL]).status.success());
    let seen: std::cell::RefCell<Vec<(String, String)>> = Default::default();
    let keep = |what: &str, out: &Output| {
        seen.borrow_mut().push((
            what.to_string(),
            format!("{}{}", text(&out.stdout), text(&out.stderr)),
        ));
    };
    // The kiosk speaks Chinese unless told otherwise; the phone when asked to.
    let kiosk = || {
        let mut c = sys.cmd(&sibling("pos-agent"));
        c.args(["--terminal-id", TERMINAL]);
        c
    };
    let phone = |home: &str| {
        let mut c = sys.cmd(&sibling("companion"));
        c.arg("--home")
            .arg(sys.dir().join(home))
            .args(["--language", "zh"]);
        c
    };
    let run = |mut c: Command, args: &[&str]| c.args(args).output().unwrap();

    // The kiosk's look-ups: found, not found, no such payee, nothing owed.
    let query = |tenant: &str, account: &str| {
        run(
            kiosk(),
            &["query", "--tenant", tenant, "--account", account],
        )
    };
    let found = query("city-water", "W-000001");
    assert!(found.status.success(), "{found:?}");
    assert!(text(&found.stdout).contains("市自来水公司"), "{found:?}");
    keep("query", &found);
    keep("no account", &query("city-water", "W-999999"));
    keep("no payee", &query("city-gas", "G-1"));
    let none = run(
        kiosk(),
        &[
            "pay",
            "--tenant",
            "city-telecom",
            "--account",
            "13800000007",
        ],
    );
    assert_eq!(none.status.code(), Some(3), "{none:?}");
    keep("nothing owed", &none);
    // A kiosk without a key, a kiosk pointed at no system, a phone's mistyped registration.
    keep(
        "no key",
        &run(
            sys.cmd(&sibling("pos-agent")),
            &[
                "--terminal-id",
                "kiosk-98",
                "query",
                "--tenant",
                "city-water",
                "--account",
                "W-000001",
            ],
        ),
    );
    keep(
        "no system",
        &run(
            kiosk(),
            &[
                "--data-dir",
                "elsewhere",
                "query",
                "--tenant",
                "city-water",
                "--account",
                "W-000001",
            ],
        ),
    );
    let register = |home: &str, name: &str, id: &str| {
        run(
            phone(home),
            &[
                "register",
                "--name",
                name,
                "--national-id",
                id,
                "--bank-account",
                "6222600260001072444",
            ],
        )
    };
    let typo = register("phone", "张三", "110105194912310021");
    assert_eq!(typo.status.code(), Some(1), "{typo:?}");
    keep("registration refused", &typo);
    let ok = register("phone", "张叁", "11010519491231002X");
    assert!(ok.status.success(), "{ok:?}");
    keep("registered", &ok);
    let fixed = register("phone", "张三", "11010519491231002X");
    assert!(text(&fixed.stdout).contains("已更正"), "{fixed:?}");
    keep("corrected", &fixed);
    keep("not registered", &run(phone("stranger"), &["show-code"]));
    keep(
        "bad code",
        &run(phone("phone"), &["pay", "kiosk-05:not-a-code"]),
    );

    // Mode A paid, declined, and the code used again; mode B cancelled at the kiosk.
    let pay_a = |account: &str, answer: Option<&str>| {
        let (mut k, k_out) = sys.spawn(&format!("zh-kiosk-{account}"), {
            let mut c = kiosk();
            c.args(["pay", "--tenant", "city-water", "--account", account]);
            c
        });
        let code = wait_for_line(&k_out, &mut k, |l| {
            l.split_whitespace()
                .find(|w| w.starts_with(&format!("{TERMINAL}:")))
                .map(str::to_string)
        });
        let mut p = phone("phone");
        p.args(["pay", &code]);
        let on_phone = match answer {
            None => p.arg("--yes").output().unwrap(),
            Some(a) => {
                let mut child = p
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                type_line(child.stdin.as_mut().unwrap(), a);
                child.wait_with_output().unwrap()
            }
        };
        wait_exit("kiosk", &mut k);
        let at_kiosk = Output {
            status: k.wait().unwrap(),
            stdout: std::fs::read(&k_out).unwrap(),
            stderr: std::fs::read(sys.dir().join(format!("zh-kiosk-{account}.err"))).unwrap(),
        };
        (code, at_kiosk, on_phone)
    };
    let (code, at_kiosk, on_phone) = pay_a("W-000001", None);
    assert!(text(&at_kiosk.stdout).contains("缴费凭证"), "{at_kiosk:?}");
    assert!(text(&on_phone.stdout).contains("缴费凭证"), "{on_phone:?}");
    keep("paid at the kiosk", &at_kiosk);
    keep("paid on the phone", &on_phone);
    keep(
        "code used again",
        &run(phone("phone"), &["pay", &code, "--yes"]),
    );
    let (_, at_kiosk, on_phone) = pay_a("W-000005", Some("n"));
    assert_eq!(at_kiosk.status.code(), Some(3), "{at_kiosk:?}");
    keep("declined at the kiosk", &at_kiosk);
    keep("declined on the phone", &on_phone);
    keep("receipts", &run(phone("phone"), &["receipts"]));
    // Nobody came before the kiosk's code expired; a phone then tries it.
    let expired = run(
        kiosk(),
        &[
            "--pairing-ttl-secs",
            "1",
            "pay",
            "--tenant",
            "city-water",
            "--account",
            "W-000013",
        ],
    );
    assert_eq!(expired.status.code(), Some(3), "{expired:?}");
    keep("expired at the kiosk", &expired);
    let late = text(&expired.stdout)
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{TERMINAL}:")))
        .unwrap()
        .to_string();
    let too_late = run(phone("phone"), &["pay", &late, "--yes"]);
    assert!(!too_late.status.success(), "{too_late:?}");
    keep("expired on the phone", &too_late);

    let (mut show, show_out) = sys.spawn("zh-phone-b", {
        let mut c = phone("phone");
        c.arg("show-code");
        c
    });
    let wallet = wait_for_line(&show_out, &mut show, |l| {
        l.split_once("付款码: ").map(|(_, c)| c.trim().to_string())
    });
    let (mut menu, menu_out) = sys.spawn("zh-kiosk-run", {
        let mut c = kiosk();
        c.arg("run");
        c
    });
    let mut keys = menu.stdin.take().unwrap();
    // No such payee, a payee by its Chinese name, a mistyped wallet code, then the phone's.
    for line in [
        "2",
        "没有这家",
        "市自来水公司",
        "W-000009",
        "不是付款码",
        wallet.as_str(),
    ] {
        type_line(&mut keys, line);
    }
    wait_for_line(&menu_out, &mut menu, |l| {
        l.contains("输入 c 回车取消").then_some(())
    });
    wait_for_line(&show_out, &mut show, |l| l.contains("[y/N]").then_some(()));
    type_line(&mut keys, "c");
    wait_for_line(&menu_out, &mut menu, |l| l.contains("未扣款").then_some(()));
    type_line(&mut keys, "4");
    wait_exit("kiosk (run)", &mut menu);
    wait_exit("phone (show-code)", &mut show);
    let read = |name: &str| std::fs::read_to_string(sys.dir().join(name)).unwrap_or_default();
    seen.borrow_mut().push((
        "interactive kiosk".into(),
        read("zh-kiosk-run.out") + &read("zh-kiosk-run.err"),
    ));
    seen.borrow_mut().push((
        "phone cancelled".into(),
        read("zh-phone-b.out") + &read("zh-phone-b.err"),
    ));
    assert!(
        seen.borrow().last().unwrap().1.contains("未完成"),
        "{seen:?}"
    );

    // A revoked kiosk.
    assert!(sys
        .posfee(&["keys", "revoke", "terminal", TERMINAL])
        .status
        .success());
    keep("revoked", &query("city-water", "W-000001"));

    let mut english = Vec::new();
    for (what, said) in seen.borrow().iter() {
        let words = english_in(said);
        if !words.is_empty() {
            english.push(format!("{what}: {words:?}\n{said}"));
        }
    }
    assert!(
        english.is_empty(),
        "English on a Chinese screen:\n{}",
        english.join("\n\n")
    );
}

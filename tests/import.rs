//! Reference data in: CSV import, bad rows with line numbers, re-import changes nothing, the
//! imported accounts are quoted and queried, and `posfee events` shows what happened.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_client::{call, ManualClock};
use posfee_harness::asker;
use posfee_harness::fixtures::billing_now;
use posfee_harness::{Harness, ServiceOptions};
use posfee_schemas::fee::{Quote, QuoteRequest};
use posfee_schemas::ids::{AccountNo, TenantId};
use posfee_schemas::query::{AccountRef, AccountSummary};
use posfee_schemas::subjects::{self, QueryKind, Role};
use std::process::Command;
use std::sync::Arc;

const POSFEE: &str = env!("CARGO_BIN_EXE_posfee");
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/samples");

fn posfee(h: &Harness, args: &[&str]) -> std::process::Output {
    Command::new(POSFEE)
        .args(args)
        .arg("--data-dir")
        .arg(h.data().root())
        .output()
        .unwrap()
}

async fn stream_messages(h: &Harness) -> u64 {
    let js = async_nats::jetstream::new(h.connect(Role::Operator).await.unwrap());
    let mut s = js.get_stream(subjects::EVENTS_STREAM).await.unwrap();
    s.info().await.unwrap().state.messages
}

async fn system() -> Harness {
    let mut h = Harness::start().await.unwrap();
    h.start_all(ServiceOptions {
        clock: Arc::new(ManualClock::new(billing_now())),
        ..Default::default()
    })
    .await
    .unwrap();
    h.publish_url_file().unwrap();
    h
}

// Several threads: the services run in this process while `posfee import`, a child process
// the test waits for, asks the query service about accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_the_samples_twice_stores_them_once_and_every_tenant_prices() {
    let h = system().await;
    let accounts = format!("{SAMPLES}/accounts.csv");
    let readings = format!("{SAMPLES}/readings.csv");
    let out = posfee(&h, &["import", "accounts", &accounts]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = posfee(&h, &["import", "readings", &readings]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let once = stream_messages(&h).await;
    assert_eq!(once, 300 + 2340);

    let again = posfee(&h, &["import", "accounts", &accounts]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("0 new events stored"), "{text}");
    assert_eq!(stream_messages(&h).await, once);

    // One account of each example tenant is priced from the imported data.
    let terminal = h.terminal("kiosk-01").await.unwrap();
    for (tenant, account) in [
        ("acme-property", "1-1-0000"),
        ("city-water", "W-000001"),
        ("city-power", "E-000002"),
        ("city-power", "E-000006"),
        ("city-telecom", "13800000003"),
    ] {
        let q: Result<Quote, _> = call(
            &terminal,
            subjects::fee_quote(&asker(&terminal)),
            &QuoteRequest {
                tenant: TenantId::parse(tenant).unwrap(),
                account: AccountNo::parse(account).unwrap(),
                kinds: vec![],
                as_of: None,
                prepay_months: None,
                top_up: None,
            },
            None,
        )
        .await;
        let q = q.unwrap_or_else(|e| panic!("{tenant}/{account}: {e}"));
        assert!(q.total.get() > 0, "{tenant}/{account} owes nothing");
    }
    let s: AccountSummary = call(
        &terminal,
        subjects::query(QueryKind::Account, &asker(&terminal)),
        &AccountRef {
            tenant: TenantId::parse("acme-property").unwrap(),
            account: AccountNo::parse("1-1-0000").unwrap(),
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(s.holder_masked, "陈**");
    assert_eq!(s.attributes.get("building").map(String::as_str), Some("B"));
    assert!(s.outstanding.is_some(), "{s:?}");

    // The operator sees the import in the stream, in order.
    let out = posfee(
        &h,
        &[
            "events",
            "--json",
            "--since",
            "start",
            "--no-follow",
            "--kind",
            "account.*",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 300);
    assert!(lines
        .windows(2)
        .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64()));
    assert_eq!(lines[0]["subject"], "posfee.events.account.upserted");
    assert_eq!(lines[0]["event"]["body"]["data"]["account"], "1-1-0000");
    // The stream keeps the holder's name masked only.
    assert_eq!(lines[0]["event"]["body"]["data"]["holder_name"], "陈**");
}

// Several threads: the services run in this process while `posfee import`, a child process
// the test waits for, asks the query service about accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_bad_rows_reports_each_with_its_line_and_imports_nothing() {
    let h = system().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.csv");
    std::fs::write(
        &file,
        "tenant,account,class,holder_name,attributes,meters,paid_through,arrears\n\
         city-water,W-1,residential,张三,,water=W-1,water=2026-09,\n\
         city.water,W-2,residential,李四,,,,\n\
         city-water,W 3,residential,王五,,,,\n\
         city-water,W-4,residential,赵六,,,water=2026-13,\n\
         city-water,W-5,residential,钱七,area,,,\n\
         city-water,W-6,residential\n",
    )
    .unwrap();
    let before = stream_messages(&h).await;
    let out = posfee(&h, &["import", "accounts", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for (line, what) in [
        (3, "tenant"),
        (4, "account"),
        (5, "paid_through"),
        (6, "attributes"),
        (7, "fields"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("line {line}:")) && l.contains(what)),
            "line {line} ({what}) not reported:\n{err}"
        );
    }
    assert!(err.contains("nothing imported"), "{err}");
    assert_eq!(stream_messages(&h).await, before);

    // For scripts: one object per bad row, then one for the file.
    let out = posfee(
        &h,
        &[
            "import",
            "accounts",
            file.to_str().unwrap(),
            "--skip-bad",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stream_messages(&h).await, before + 1);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.iter().filter(|l| l["bad_row"].is_object()).count(), 5);
    let imported = &lines.last().unwrap()["imported"];
    assert_eq!(
        (
            &imported["rows"],
            &imported["stored"],
            &imported["skipped_bad"]
        ),
        (
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!(5)
        ),
        "{lines:?}"
    );
}

/// Runs an import and gives (succeeded, stderr).
fn import(h: &Harness, args: &[&str]) -> (bool, String) {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    let out = posfee(h, &all);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn assert_reported(err: &str, line: u64, reason: &str) {
    assert!(
        err.lines()
            .any(|l| l.contains(&format!("line {line}:")) && l.contains(reason)),
        "line {line} ({reason}) not reported:\n{err}"
    );
}

// Several threads: the services run in this process while `posfee import`, a child process
// the test waits for, asks the query service about accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_checked_against_their_tenants_rules() {
    let h = system().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.csv");
    // Line 2 is good; each later line breaks one thing line 2 gets right.
    std::fs::write(
        &file,
        "tenant,account,class,holder_name,attributes,meters,paid_through,arrears\n\
         acme-property,1-1-1,residential,张三,area_m2=80;building=A,,property=2026-09,\n\
         acme-propety,1-1-2,residential,李四,area_m2=80;building=A,,property=2026-09,\n\
         acme-property,1-1-3,residental,王五,area_m2=80;building=A,,property=2026-09,\n\
         acme-property,1-1-4,residential,赵六,area_m2=abc;building=A,,property=2026-09,\n\
         acme-property,1-1-5,residential,钱七,building=A,,property=2026-09,\n\
         acme-property,1-1-6,residential,孙八,area_m2=80;building=A,,gas=2026-09,\n",
    )
    .unwrap();
    let before = stream_messages(&h).await;
    let (ok, err) = import(&h, &["accounts", file.to_str().unwrap()]);
    assert!(!ok, "{err}");
    assert_reported(&err, 3, "tenant: acme-propety has no rule file in");
    assert_reported(
        &err,
        4,
        "class: \"residental\" is not a class of tenant acme-property (residential, commercial",
    );
    assert_reported(
        &err,
        5,
        "attributes: account attribute \"area_m2\" = \"abc\"",
    );
    assert_reported(
        &err,
        6,
        "attributes: account attribute \"area_m2\" is missing",
    );
    assert_reported(
        &err,
        7,
        "paid_through: tenant acme-property does not bill \"gas\"",
    );
    assert!(
        !err.contains("line 2:"),
        "the good row is not refused:\n{err}"
    );
    assert!(
        err.contains("5 bad row(s)") && err.contains("nothing imported"),
        "{err}"
    );
    assert_eq!(stream_messages(&h).await, before);

    // The good row goes in alone with --skip-bad: the check refuses rows, not the tenant.
    let (ok, err) = import(&h, &["accounts", file.to_str().unwrap(), "--skip-bad"]);
    assert!(ok, "{err}");
    assert_eq!(stream_messages(&h).await, before + 1);
}

// Several threads: the services run in this process while `posfee import`, a child process
// the test waits for, asks the query service about accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_of_unknown_accounts_are_refused() {
    let h = system().await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let header = "tenant,account,class,holder_name,attributes,meters,paid_through,arrears\n";
    let earlier = write(
        "earlier.csv",
        &format!("{header}city-water,W-1,residential,张三,,water=W-1,water=2026-09,\n"),
    );
    let same_run = write(
        "same-run.csv",
        &format!("{header}city-water,W-2,residential,李四,,water=W-2,water=2026-09,\n"),
    );
    let (ok, err) = import(&h, &["accounts", &earlier]);
    assert!(ok, "{err}");
    let readings_header = "tenant,account,meter,register,read_on,value\n";
    let good_rows = "city-water,W-1,W-1,,2026-10-31,12.5\ncity-water,W-2,W-2,,2026-10-31,20\n";
    let bad = write(
        "bad.csv",
        &format!("{readings_header}{good_rows}city-water,W-404,W-404,,2026-10-31,3\ncity-wat,W-1,W-1,,2026-10-31,3\n"),
    );
    let before = stream_messages(&h).await;
    let (ok, err) = import(&h, &["readings", &bad, "--accounts", &same_run]);
    assert!(!ok, "{err}");
    assert_reported(
        &err,
        4,
        "account: W-404 is not an account of tenant city-water",
    );
    assert_reported(&err, 5, "tenant: city-wat has no rule file");
    assert!(
        !err.contains("line 2:") && !err.contains("line 3:"),
        "{err}"
    );
    assert_eq!(stream_messages(&h).await, before);

    // W-2 is known only through --accounts: without it, its reading is refused too.
    let good = write("good.csv", &format!("{readings_header}{good_rows}"));
    let (ok, err) = import(&h, &["readings", &good]);
    assert!(!ok, "{err}");
    assert_reported(
        &err,
        3,
        "account: W-2 is not an account of tenant city-water",
    );
    assert!(!err.contains("line 2:"), "W-1 was imported earlier:\n{err}");

    // The same readings with the account imported in the same run: the account, then both
    // readings.
    let (ok, err) = import(&h, &["readings", &good, "--accounts", &same_run]);
    assert!(ok, "{err}");
    assert_eq!(stream_messages(&h).await, before + 3);
}

//! `posfee bench flows --short`: the bench's own system comes up, complete pay flows in both
//! pairing modes run through the kiosk and phone libraries, none fails, and the report has
//! the keys the issue asks for. No speed is asserted: speed is measured, not tested.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

/// Runs `posfee bench flows --short --quiet` with `args`, writing its JSON (`--out`) to `json`; fails
/// the test if the bench fails, and returns the report.
fn short_bench(args: &[&str], json: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_posfee"))
        .args(["bench", "flows", "--short", "--quiet"])
        .args(args)
        .arg("--out")
        .arg(json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap()
}

#[test]
fn a_short_bench_completes_flows_without_errors_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let r = short_bench(&[], &dir.path().join("bench.json"));
    for key in [
        "flows_per_sec",
        "p50_ms",
        "p99_ms",
        "errors",
        "hops_per_flow",
        "bus_roundtrips_per_sec",
        "bus_ratio",
        "durable",
    ] {
        assert!(r.get(key).is_some(), "no {key} in {r}");
    }
    assert!(r["flows"].as_u64().unwrap() > 0);
    assert_eq!(r["errors"].as_object().unwrap().len(), 0, "{r}");
    assert_eq!(r["durable"], true);
    // Every process of the system is accounted for in the CPU each flow costs.
    let cpu = r["cpu_ms_per_flow"].as_object().unwrap();
    for process in [
        "nats-server",
        "fee-engine",
        "ledger",
        "paygate",
        "query",
        "identity",
    ] {
        assert!(cpu.contains_key(process), "no CPU for {process}: {r}");
    }
    assert!(cpu["paygate"].as_f64().unwrap() > 0.0, "{r}");
    // Server side and client side are reported apart, and add up to the whole.
    let (server, client) = (
        r["server_cpu_ms_per_flow"].as_f64().unwrap(),
        r["client_cpu_ms_per_flow"].as_f64().unwrap(),
    );
    let whole: f64 = cpu.values().map(|v| v.as_f64().unwrap()).sum();
    assert!(server > 0.0 && client > 0.0, "{r}");
    assert!((server + client - whole).abs() < 1e-6, "{r}");
    // The fsynced writes a flow costs are counted per stream: one settlement in the ledger's
    // journal, one hold in paygate's (the capture is the ledger's settlement, learnt from the
    // event its entry carries), and the bill's own event. The money events and the pairing
    // are carried by the entries, no writes of their own: three fsynced writes per flow.
    let writes = r["stream_writes_per_flow"].as_object().unwrap();
    let w = |stream: &str| writes[stream].as_f64().unwrap();
    assert!(w("POSFEE_LEDGER") > 0.0, "{r}");
    assert!(w("POSFEE_PAYGATE") > 0.0, "{r}");
    assert!(w("POSFEE_EVENTS") > 0.0, "{r}");
    let all = w("POSFEE_EVENTS") + w("POSFEE_PAYGATE") + w("POSFEE_LEDGER");
    // One flow per lane is a warm-up the count includes: a little above the whole number.
    assert!(all < 3.1, "{r}");
    // Every flow that completed was settled exactly once by the ledger (plus one warm-up
    // flow per lane).
    let lanes = r["concurrency"].as_u64().unwrap();
    assert_eq!(
        r["settled"].as_u64().unwrap(),
        r["flows"].as_u64().unwrap() + lanes
    );
}

/// The bench against a system that is already running (here the test harness's server and
/// in-process services), found through its data dir and URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_bench_runs_against_a_running_system() {
    let mut h = posfee_harness::Harness::start().await.unwrap();
    // A running system meant for a bench lifts its per-kiosk limits (the bench's kiosks issue
    // a bill every few milliseconds), as an operator would with POSFEE_KIOSK_BILLS_PER_SEC.
    h.start_all(posfee_harness::ServiceOptions {
        kiosk_bills_per_sec: 1e6,
        kiosk_reads_per_sec: 1e6,
        edge_requests_per_sec: 1e6,
        ..Default::default()
    })
    .await
    .unwrap();
    let json = h.data().root().join("bench.json");
    let (data, url) = (h.data().root().display().to_string(), h.url().to_string());
    let r = tokio::task::spawn_blocking(move || {
        short_bench(&["--url", &url, "--data-dir", &data], &json)
    })
    .await
    .unwrap();
    assert!(r["flows"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["errors"].as_object().unwrap().len(), 0, "{r}");
    // The phones the bench enrolled are revoked again; its kiosks keep their keys.
    let operator = h
        .connect(posfee_schemas::subjects::Role::Operator)
        .await
        .unwrap();
    let left = posfee_deploy::identities::list(&operator, 0).await.unwrap();
    assert!(left.devices_revoked > 0, "{left:?}");
    assert_eq!(left.devices_enrolled, 0, "{left:?}");
    assert!(
        left.keys
            .iter()
            .any(|k| matches!(k.holder, posfee_schemas::identity::Holder::Terminal(_))),
        "{left:?}"
    );
}

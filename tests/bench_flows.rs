//! `posfee bench flows --short`: the bench's own system comes up, complete pay flows in both
//! pairing modes run through the kiosk and phone libraries, none fails, and the report has
//! the keys the issue asks for. No speed is asserted: speed is measured, not tested.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn a_short_bench_completes_flows_without_errors_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_posfee"))
        .args(["bench", "flows", "--short", "--quiet", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
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
    for process in ["nats-server", "fee-engine", "ledger", "paygate", "query"] {
        assert!(cpu.contains_key(process), "no CPU for {process}: {r}");
    }
    assert!(cpu["paygate"].as_f64().unwrap() > 0.0, "{r}");
    // Every flow that completed was settled exactly once by the ledger (plus one warm-up
    // flow per lane).
    let lanes = r["concurrency"].as_u64().unwrap();
    assert_eq!(
        r["settled"].as_u64().unwrap(),
        r["flows"].as_u64().unwrap() + lanes
    );
}

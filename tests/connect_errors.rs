//! A refused key and a system that is not running are reported as such, with the command
//! that fixes them, and at once rather than as a timeout.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_client::bus;
use posfee_harness::Harness;
use posfee_schemas::identity::Holder;
use posfee_schemas::ids::TerminalId;
use posfee_schemas::subjects::{Identity, Role};

async fn connect_with(
    h: &Harness,
    who: &Identity,
    seed_file: &std::path::Path,
) -> anyhow::Result<async_nats::Client> {
    let seed = posfee_client::creds::read_seed(seed_file)?;
    bus::connect(h.url(), who.clone(), Some(seed), "test").await
}

#[tokio::test]
async fn a_revoked_kiosk_or_phone_key_is_reported_as_refused_with_the_command_that_issues_one() {
    let h = Harness::start().await.unwrap();
    let kiosk = Identity::Terminal(TerminalId::parse("kiosk-07").unwrap());
    h.terminal("kiosk-07").await.unwrap();
    let (device, _phone) = h.phone().await.unwrap();
    let phone = Identity::Device(device.clone());
    // Keep the seeds: revoking deletes the registry's copy.
    let dir = tempfile::tempdir().unwrap();
    let mut kept = Vec::new();
    for who in [&kiosk, &phone] {
        let copy = dir.path().join(format!("{}.nk", kept.len()));
        std::fs::copy(h.seed_file(who), &copy).unwrap();
        // The same key, before it is revoked, connects.
        connect_with(&h, who, &copy).await.unwrap();
        kept.push((who.clone(), copy));
    }
    let operator = h.connect(Role::Operator).await.unwrap();
    let kiosk_07 = TerminalId::parse("kiosk-07").unwrap();
    posfee_deploy::identities::revoke(&operator, Holder::Terminal(kiosk_07))
        .await
        .unwrap();
    posfee_deploy::identities::revoke(&operator, Holder::Device(device.clone()))
        .await
        .unwrap();

    for (who, seed, remedy) in [
        (
            &kept[0].0,
            &kept[0].1,
            "posfee keys terminal kiosk-07".to_string(),
        ),
        (&kept[1].0, &kept[1].1, "makes a new key".to_string()),
    ] {
        let started = std::time::Instant::now();
        let err = format!("{:#}", connect_with(&h, who, seed).await.unwrap_err());
        assert!(
            started.elapsed() < std::time::Duration::from_millis(bus::CONNECT_TIMEOUT_MS),
            "not at once: {err}"
        );
        assert!(err.contains(&format!("refused the key of {who}")), "{err}");
        assert!(err.contains(&remedy), "{err}");
        assert_eq!(err.matches("authorization violation").count(), 0, "{err}");
    }
}

#[tokio::test]
async fn a_system_that_is_not_running_is_named_with_how_to_start_it() {
    let mut h = Harness::start().await.unwrap();
    let kiosk = Identity::Terminal(TerminalId::parse("kiosk-08").unwrap());
    h.terminal("kiosk-08").await.unwrap();
    let seed = h.seed_file(&kiosk);
    connect_with(&h, &kiosk, &seed).await.unwrap();
    h.kill_server();
    let err = format!("{:#}", connect_with(&h, &kiosk, &seed).await.unwrap_err());
    assert!(
        err.contains(&format!("{}{}", posfee_client::words::NOT_RUNNING, h.url()))
            && err.contains("posfee up"),
        "{err}"
    );
    assert_eq!(err.matches("Connection refused").count(), 0, "{err}");
}

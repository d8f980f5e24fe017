//! A view's feed against a real server: it reads a stream in order from where it stopped, and
//! a consumer taken from under it (deleted here, as a node's death takes it) is replaced by
//! one that starts after the last message applied: nothing missed, nothing applied twice.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_nats::jetstream;
use futures::TryStreamExt;
use posfee_client::shutdown::Shutdown;
use posfee_runtime::consumer::Source;
use posfee_runtime::feed::{follow_raw, Seals};
use posfee_schemas::subjects::{self, Role};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Appends `n` plain entries to the ledger's journal as the ledger; their stream sequences.
async fn append(js: &jetstream::Context, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    for i in 0..n {
        let ack = js
            .publish(
                subjects::ledger_journal("feed-test"),
                format!("m{i}").into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        seqs.push(ack.sequence);
    }
    seqs
}

/// The consumers the server holds on the ledger's journal.
async fn consumers(admin: &jetstream::Context) -> Vec<String> {
    let stream = admin.get_stream(subjects::LEDGER_JOURNAL).await.unwrap();
    stream.consumer_names().try_collect().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_whose_consumer_is_deleted_reads_on_after_what_it_applied() {
    let h = posfee_harness::Harness::start().await.unwrap();
    let ledger = h.connect(Role::Ledger).await.unwrap();
    let js = jetstream::new(ledger.clone());
    let admin = jetstream::new(h.connect(Role::Admin).await.unwrap());
    let mut expected = append(&js, 5).await;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let (applied_tx, mut applied) = watch::channel(0);
    let shutdown = Shutdown::new();
    let source = Source {
        stream: subjects::LEDGER_JOURNAL.to_string(),
        filters: Vec::new(),
        headers_only: false,
    };
    let seals = Seals::Own(
        h.journal_seal(Role::Ledger),
        h.signer(Role::Ledger).name().clone(),
    );
    let noted = seen.clone();
    let feed = tokio::spawn(follow_raw(
        ledger.clone(),
        source,
        0,
        applied_tx,
        shutdown.clone(),
        seals,
        move |raw| {
            let mut noted = noted.lock().unwrap();
            noted.extend(raw.iter().map(|m| m.seq));
            Ok(raw.last().map_or(0, |m| m.seq))
        },
    ));
    let within = Duration::from_secs(10);
    let first = *expected.last().unwrap();
    tokio::time::timeout(within, applied.wait_for(|s| *s >= first))
        .await
        .unwrap()
        .unwrap();

    // The feed's consumer, taken away: the probe finds it first, so the deletion is real.
    let before = consumers(&admin).await;
    assert_eq!(before.len(), 1, "{before:?}");
    let stream = admin.get_stream(subjects::LEDGER_JOURNAL).await.unwrap();
    stream.delete_consumer(&before[0]).await.unwrap();

    expected.extend(append(&js, 5).await);
    let last = *expected.last().unwrap();
    tokio::time::timeout(within, applied.wait_for(|s| *s >= last))
        .await
        .expect("the feed did not read on after its consumer was deleted")
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), expected, "missed or applied twice");
    let after = consumers(&admin).await;
    assert!(
        after.iter().all(|c| !before.contains(c)) && !after.is_empty(),
        "a new consumer reads the stream: {before:?} then {after:?}"
    );

    shutdown.trigger();
    feed.await.unwrap().unwrap();
}

//! The JetStream stream and bucket posfee needs, created at start-up by the admin role.

use anyhow::Context;
use async_nats::jetstream::{self, kv, stream};
use posfee_schemas::{subjects, MAX_PAYLOAD_BYTES};
use std::time::Duration;

/// Events are the system's record: reference data is rebuilt from them, so they are kept
/// without an age limit. The byte cap is there so a runaway producer fills a known budget and
/// then fails loudly (discard new) instead of silently dropping history.
pub const EVENTS_MAX_BYTES: i64 = 12 * 1024 * 1024 * 1024;
/// Each journal (the ledger's, paygate's, identity's): about 1.5 KB a settlement or hold, so
/// some 1.4 million of them; some 6 million keys. With the events this stays inside
/// nats.conf's `max_file_store` (20 GB, 18 of them budgeted), which a deployment raises with
/// all four.
pub const LEDGER_JOURNAL_MAX_BYTES: i64 = 2 * 1024 * 1024 * 1024;
/// A retried publish within this window is stored once (`Nats-Msg-Id`).
pub const EVENTS_DUPLICATE_WINDOW_SECS: u64 = 120;
/// One small record per terminal.
pub const TERMINAL_RECORD_MAX_BYTES: i32 = 1024;
/// One public key and its labels.
pub const PUBLIC_KEY_RECORD_MAX_BYTES: i32 = 1024;
/// One wrapped data key: the master key's id, a nonce and 48 bytes.
pub const PAYER_KEY_RECORD_MAX_BYTES: i32 = 256;

pub fn events_stream_config(replicas: usize) -> stream::Config {
    stream::Config {
        num_replicas: replicas,
        name: subjects::EVENTS_STREAM.to_string(),
        description: Some(
            "posfee events: bills, pairings, payments, terminals, reference data".into(),
        ),
        subjects: vec![subjects::events_all()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::New,
        max_bytes: EVENTS_MAX_BYTES,
        max_message_size: i32::try_from(MAX_PAYLOAD_BYTES).unwrap_or(i32::MAX),
        duplicate_window: Duration::from_secs(EVENTS_DUPLICATE_WINDOW_SECS),
        allow_rollup: false,
        deny_delete: true,
        deny_purge: true,
        ..Default::default()
    }
}

/// No publish may erase what others wrote: roll-up headers (`Nats-Rollup: all` on one key
/// would empty a whole bucket), deleting messages and purging are refused by the server for
/// this stream, whoever asks. Kiosks write their own presence key and signers their own
/// public keys with plain puts, which stay allowed. These settings cannot be undone, which is
/// the point.
async fn harden(js: &jetstream::Context, stream: &str) -> anyhow::Result<()> {
    let mut s = js
        .get_stream(stream)
        .await
        .with_context(|| format!("reading stream {stream}"))?;
    let mut config = s.info().await?.config.clone();
    if !config.allow_rollup && config.deny_delete && config.deny_purge {
        return Ok(());
    }
    config.allow_rollup = false;
    config.deny_delete = true;
    config.deny_purge = true;
    js.update_stream(config)
        .await
        .with_context(|| format!("hardening stream {stream}"))?;
    Ok(())
}

/// The ledger's journal: the books' system of record, kept forever, nothing ever deleted.
/// A basket's settlements (one per tenant account) are appended as one atomic batch.
pub fn ledger_journal_config(replicas: usize) -> stream::Config {
    stream::Config {
        allow_atomic_publish: true,
        ..journal_config(
            subjects::LEDGER_JOURNAL,
            "posfee ledger journal: settlements, closes, refunds per account",
            subjects::ledger_journal_all(),
            replicas,
        )
    }
}

/// Paygate's journal: payers' registrations (no personal data), holds, captures, voids and
/// refund credits, per payer.
pub fn paygate_journal_config(replicas: usize) -> stream::Config {
    journal_config(
        subjects::PAYGATE_JOURNAL,
        "posfee paygate journal: registrations, holds, captures, voids, credits per payer",
        subjects::paygate_journal_all(),
        replicas,
    )
}

/// The identity service's journal: every kiosk's, clerk's and phone's key, when it was issued
/// or enrolled and when revoked, per holder (public keys only, about 300 bytes each).
pub fn identity_journal_config(replicas: usize) -> stream::Config {
    journal_config(
        subjects::IDENTITY_JOURNAL,
        "posfee identity journal: issued, enrolled and revoked keys per holder",
        subjects::identity_journal_all(),
        replicas,
    )
}

fn journal_config(name: &str, what: &str, subject: String, replicas: usize) -> stream::Config {
    stream::Config {
        name: name.to_string(),
        description: Some(what.into()),
        subjects: vec![subject],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::New,
        max_bytes: LEDGER_JOURNAL_MAX_BYTES,
        max_message_size: i32::try_from(MAX_PAYLOAD_BYTES).unwrap_or(i32::MAX),
        duplicate_window: Duration::from_secs(EVENTS_DUPLICATE_WINDOW_SECS),
        num_replicas: replicas,
        allow_rollup: false,
        deny_delete: true,
        deny_purge: true,
        ..Default::default()
    }
}

/// Paygate's data key per payer, wrapped by its master key: a key-value bucket (the stream a
/// bucket is, made here rather than by `create_key_value` for one setting: messages may be
/// deleted, so an erasure overwrites the payer's key where it lies on disk; a bucket made the
/// usual way refuses that). One value per payer (two for a moment during a rotation).
pub fn payer_keys_config(replicas: usize) -> stream::Config {
    let bucket = subjects::PAYER_KEYS_BUCKET;
    stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("paygate's data key per payer, wrapped by its master key".into()),
        subjects: vec![format!("$KV.{bucket}.>")],
        // Two: a rotation writes the new wrap, then overwrites the old one itself (a value
        // pushed out by a limit is dropped, not overwritten).
        max_messages_per_subject: 2,
        max_message_size: PAYER_KEY_RECORD_MAX_BYTES,
        storage: stream::StorageType::File,
        // No roll-up: it too would drop values without overwriting them.
        allow_rollup: false,
        deny_delete: false,
        deny_purge: false,
        allow_direct: true,
        num_replicas: replicas,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    }
}

/// How long a new cluster may take to elect its JetStream leader before [`ensure`] gives up.
pub const CLUSTER_READY_TIMEOUT_MS: u64 = 30_000;

/// Creates the events stream and the buckets with `replicas` copies each, or leaves them as
/// they are. On a cluster that has just started, JetStream answers "temporarily unavailable"
/// until its nodes have elected a leader: that is waited out, anything else is an error.
pub async fn ensure(client: &async_nats::Client, replicas: usize) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_millis(CLUSTER_READY_TIMEOUT_MS);
    loop {
        match ensure_once(client, replicas).await {
            Ok(()) => return Ok(()),
            Err(e) if std::time::Instant::now() < deadline && not_ready_yet(&e) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether JetStream refused only because the cluster has no leader yet (or did not answer).
fn not_ready_yet(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}").to_lowercase();
    [
        "temporarily unavailable",
        "timed out",
        "timeout",
        "no responders",
        "no suitable peers",
        "insufficient resources",
    ]
    .iter()
    .any(|s| text.contains(s))
}

async fn ensure_once(client: &async_nats::Client, replicas: usize) -> anyhow::Result<()> {
    let js = jetstream::new(client.clone());
    js.get_or_create_stream(events_stream_config(replicas))
        .await
        .context("creating stream POSFEE_EVENTS")?;
    let mut ledger = js
        .get_or_create_stream(ledger_journal_config(replicas))
        .await
        .context("creating stream POSFEE_LEDGER")?;
    // A journal made before baskets: atomic batches allowed (a setting that only adds).
    let config = ledger.info().await?.config.clone();
    if !config.allow_atomic_publish {
        js.update_stream(stream::Config {
            allow_atomic_publish: true,
            ..config
        })
        .await
        .context("allowing atomic batches on POSFEE_LEDGER")?;
    }
    js.get_or_create_stream(paygate_journal_config(replicas))
        .await
        .context("creating stream POSFEE_PAYGATE")?;
    js.get_or_create_stream(identity_journal_config(replicas))
        .await
        .context("creating stream POSFEE_IDENTITY")?;
    if js.get_key_value(subjects::TERMINALS_BUCKET).await.is_err() {
        js.create_key_value(kv::Config {
            bucket: subjects::TERMINALS_BUCKET.to_string(),
            description: "last heartbeat of each terminal".into(),
            history: 1,
            max_value_size: TERMINAL_RECORD_MAX_BYTES,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .context("creating bucket POSFEE_TERMINALS")?;
    }
    if js.get_key_value(subjects::KEYS_BUCKET).await.is_err() {
        js.create_key_value(kv::Config {
            bucket: subjects::KEYS_BUCKET.to_string(),
            description: "public keys that sign bills and settlement notices".into(),
            history: 1,
            max_value_size: PUBLIC_KEY_RECORD_MAX_BYTES,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .context("creating bucket POSFEE_KEYS")?;
    }
    js.get_or_create_stream(payer_keys_config(replicas))
        .await
        .context("creating bucket POSFEE_PAYER_KEYS")?;
    harden(&js, subjects::EVENTS_STREAM).await?;
    for bucket in [subjects::TERMINALS_BUCKET, subjects::KEYS_BUCKET] {
        harden(&js, &format!("KV_{bucket}")).await?;
    }
    Ok(())
}

/// Puts the signing services' certificates (from the creds folder `dir`) into the key
/// directory under `authority.<role>`, where readers of receipts and seals look them up. The
/// root signed them, so writing them is the set-up's job, not a right any service needs.
pub async fn publish_authorities(
    client: &async_nats::Client,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let js = jetstream::new(client.clone());
    let keys = js
        .get_key_value(subjects::KEYS_BUCKET)
        .await
        .context("opening the key directory")?;
    for cert in crate::creds::certificates(dir)? {
        let name = posfee_schemas::decode::<posfee_schemas::trust::Authority>(&cert.body)
            .map_err(|e| anyhow::anyhow!("a certificate that does not read: {e}"))?
            .name;
        keys.put(
            posfee_client::keydir::authority_key(&name),
            posfee_schemas::encode(&cert).into(),
        )
        .await
        .with_context(|| format!("publishing the authority {name}"))?;
    }
    Ok(())
}

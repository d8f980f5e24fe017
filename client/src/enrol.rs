//! A phone enrols its own key: the one path every phone takes (the CLI companion, the web app,
//! the demo and the identity bench).
//!
//! The phone connects with its key, named with a stamp (a little work per new key); the
//! server's auth callout lets a key it does not know yet ask only to enrol as the phone the
//! key's fingerprint names. The request carries the key's signature over
//! [`enrol_proof_message`] and the stamp (a stronger one while many keys enrol at once), the
//! answer is the enrolment; the phone then connects again with the same key and has a
//! phone's permissions.

use crate::call::{call, CallError};
use posfee_schemas::identity::{
    enrol_proof_message, find_stamp, stamp_needed, EnrolReply, EnrolRequest, CONNECT_STAMP_BITS,
    MAX_STAMP_BITS, STAMP_NAME_PREFIX,
};
use posfee_schemas::ids::DeviceId;
use posfee_schemas::subjects::{self, Identity};
use posfee_schemas::{ErrorCode, WireError};
use std::time::Duration;

/// How long an enrolment may take.
pub const ENROL_TIMEOUT_MS: u64 = 5_000;

/// The public key of `seed`.
fn public_key(seed: &str) -> Result<String, CallError> {
    nkeys::KeyPair::from_seed(seed)
        .map(|kp| kp.public_key())
        .map_err(|e| {
            CallError::Remote(WireError::new(
                ErrorCode::InvalidField,
                format!("nkey: {e}"),
            ))
        })
}

/// A stamp of at least `bits` for the key `seed`, searched from `from`: about 2^bits hashes.
pub fn stamp(seed: &str, bits: u32, from: u64) -> anyhow::Result<u64> {
    let nkey = nkeys::KeyPair::from_seed(seed)
        .map_err(|e| anyhow::anyhow!("bad seed: {e}"))?
        .public_key();
    Ok(find_stamp(&nkey, bits, from))
}

/// A connection name that carries `stamp` (how a key nobody enrolled yet gets in).
pub fn stamped_name(name: &str, stamp: u64) -> String {
    format!("{name} {STAMP_NAME_PREFIX}{stamp}")
}

/// The enrolment request for the key `seed`, signed by it, with `stamp`.
pub fn request(seed: &str, stamp: u64) -> anyhow::Result<(DeviceId, EnrolRequest)> {
    let kp = nkeys::KeyPair::from_seed(seed).map_err(|e| anyhow::anyhow!("bad seed: {e}"))?;
    let nkey = kp.public_key();
    let proof = kp
        .sign(&enrol_proof_message(&nkey))
        .map_err(|e| anyhow::anyhow!("signing the enrolment: {e}"))?;
    Ok((
        DeviceId::of_nkey(&nkey)?,
        EnrolRequest {
            nkey,
            proof,
            stamp: Some(stamp),
        },
    ))
}

/// Asks, on `client`'s connection (the key `seed`'s own, device `asker`), to enrol the key
/// with `stamp`; while enrolling needs a stronger stamp than that, computes one and asks again.
pub async fn ask(
    client: &async_nats::Client,
    asker: &DeviceId,
    seed: &str,
    mut stamp: u64,
) -> Result<EnrolReply, CallError> {
    let nkey = public_key(seed)?;
    loop {
        let (_, req) = request(seed, stamp).map_err(|e| {
            CallError::Remote(WireError::new(
                ErrorCode::InvalidField,
                format!("nkey: {e:#}"),
            ))
        })?;
        let asked = call(
            client,
            subjects::identity_enrol(asker),
            &req,
            Some(Duration::from_millis(ENROL_TIMEOUT_MS)),
        )
        .await;
        match asked {
            Err(CallError::Remote(e)) if e.code == ErrorCode::StampTooWeak => {
                let Some(bits) = stamp_needed(&e.message).filter(|b| *b <= MAX_STAMP_BITS) else {
                    return Err(CallError::Remote(e));
                };
                tracing::info!(bits, "enrolling needs a stronger stamp just now");
                stamp = find_stamp(&nkey, bits, stamp + 1);
            }
            other => return other,
        }
    }
}

/// Connects with `seed` (named with a stamp, as a new key must), enrols it, and disconnects.
/// Enrolling an enrolled key answers its first enrolment.
pub async fn enrol(url: &str, seed: &str, name: &str) -> anyhow::Result<EnrolReply> {
    enrol_with(url, seed, name, CONNECT_STAMP_BITS).await
}

/// [`enrol`] with a stamp of `bits` (a bench whose system asks for fewer).
pub async fn enrol_with(
    url: &str,
    seed: &str,
    name: &str,
    bits: u32,
) -> anyhow::Result<EnrolReply> {
    let device = crate::creds::device_id(seed)?;
    let stamp = stamp(seed, bits, 0)?;
    let client = crate::bus::connect(
        url,
        Identity::Device(device.clone()),
        Some(seed.to_string()),
        &stamped_name(name, stamp),
    )
    .await?;
    let reply = ask(&client, &device, seed, stamp)
        .await
        .map_err(|e| anyhow::anyhow!("enrolling phone {device}: {e}"));
    let _ = client.drain().await;
    reply
}

/// A new phone key (seed), made on the phone.
pub fn new_key() -> anyhow::Result<String> {
    nkeys::KeyPair::new_user()
        .seed()
        .map_err(|e| anyhow::anyhow!("encoding seed: {e}"))
}

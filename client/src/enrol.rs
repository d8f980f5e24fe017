//! A phone enrols its own key: the one path every phone takes (the CLI companion, the web app,
//! the demo and the identity bench).
//!
//! The phone connects with its key; the server's auth callout lets a key it does not know yet
//! ask only to enrol as the phone the key's fingerprint names. The request carries the key's
//! signature over [`enrol_proof_message`], the answer is the enrolment; the phone then
//! connects again with the same key and has a phone's permissions.

use crate::call::{call, CallError};
use posfee_schemas::identity::{enrol_proof_message, EnrolReply, EnrolRequest};
use posfee_schemas::ids::DeviceId;
use posfee_schemas::subjects::{self, Identity};
use std::time::Duration;

/// How long an enrolment may take.
pub const ENROL_TIMEOUT_MS: u64 = 5_000;

/// The enrolment request for the key `seed`, signed by it.
pub fn request(seed: &str) -> anyhow::Result<(DeviceId, EnrolRequest)> {
    let kp = nkeys::KeyPair::from_seed(seed).map_err(|e| anyhow::anyhow!("bad seed: {e}"))?;
    let nkey = kp.public_key();
    let proof = kp
        .sign(&enrol_proof_message(&nkey))
        .map_err(|e| anyhow::anyhow!("signing the enrolment: {e}"))?;
    Ok((DeviceId::of_nkey(&nkey)?, EnrolRequest { nkey, proof }))
}

/// Asks, on `client`'s connection, to enrol the key `seed` (the connection's own key for a
/// phone; `asker` is the device the connection is).
pub async fn ask(
    client: &async_nats::Client,
    asker: &DeviceId,
    seed: &str,
) -> Result<EnrolReply, CallError> {
    let (_, req) = request(seed).map_err(|e| {
        CallError::Remote(posfee_schemas::WireError::new(
            posfee_schemas::ErrorCode::InvalidField,
            format!("nkey: {e:#}"),
        ))
    })?;
    call(
        client,
        subjects::identity_enrol(asker),
        &req,
        Some(Duration::from_millis(ENROL_TIMEOUT_MS)),
    )
    .await
}

/// Connects with `seed`, enrols it, and disconnects. Enrolling an enrolled key answers its
/// first enrolment.
pub async fn enrol(url: &str, seed: &str, name: &str) -> anyhow::Result<EnrolReply> {
    let device = crate::creds::device_id(seed)?;
    let client = crate::bus::connect(
        url,
        Identity::Device(device.clone()),
        Some(seed.to_string()),
        name,
    )
    .await?;
    let reply = ask(&client, &device, seed)
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

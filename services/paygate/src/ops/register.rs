//! `posfee.paygate.register`: the payer's identity and bank account, once, from their phone.
//! Answers an opaque payer handle; nothing personal ever leaves paygate again.

use crate::app::{App, SANDBOX_OPENING_BALANCE_FEN};
use crate::identity::{check_bank_account, check_name, check_national_id};
use crate::journal::{self, Entry};
use crate::store::{Payer, PayerIdentity, Registration};
use ed25519_dalek::VerifyingKey;
use posfee_runtime::serve::{decode_request, reply_ok, Handled};
use posfee_schemas::ids::PayerHandle;
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::paygate::{RegisterReply, RegisterRequest};
use posfee_schemas::subjects::{Identity, Subject};
use posfee_schemas::{decode, encode, ErrorCode, WireError};
use rand::RngCore;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: RegisterRequest = decode_request(&msg.payload)?;
    let fingerprint = fingerprint(&req);
    app.journal.settled_view(journal::REGISTRATIONS).await?;
    if let Some(reply) = replay(&app, &req, &fingerprint)? {
        return reply_ok(&reply);
    }
    check(&req)?;
    let payer = PayerHandle::parse(new_handle()).map_err(super::internal)?;
    let reply = RegisterReply {
        payer: payer.clone(),
        balance: Money::cny(SANDBOX_OPENING_BALANCE_FEN),
    };
    // Who the payer is goes to the journal sealed under their own data key, made now.
    let identity = PayerIdentity {
        name: req.name.trim().to_string(),
        national_id: req.national_id.to_ascii_uppercase(),
        bank_account: req.bank_account.clone(),
    };
    let sealed = app
        .vault
        .seal(&payer, &identity)
        .await
        .map_err(super::internal)?;
    let entry = Entry::Registered {
        handle: payer.clone(),
        payer: Payer {
            device_key_id: req.device_key_id.clone(),
            device_public_key: req.device_public_key.clone(),
            balance: Fen::new(SANDBOX_OPENING_BALANCE_FEN),
            held: Fen::ZERO,
            registered_at: app.clock.now(),
            device: match Subject::parse(&msg.subject) {
                Ok(Subject::Paygate(_, Identity::Device(d))) => Some(d),
                _ => None,
            },
            erased_at: None,
        },
        idempotency_key: req.idempotency_key.as_str().to_string(),
        registration: Registration {
            fingerprint: fingerprint.clone(),
            reply: reply.clone(),
        },
        identity: Some(sealed),
    };
    let s = &app.store;
    let id = format!("register:{}", req.idempotency_key);
    let mut conflict = false;
    app.journal
        .write(journal::REGISTRATIONS, &id, || {
            if s.registrations
                .contains_key(req.idempotency_key.as_str().as_bytes())
                .map_err(super::internal)?
            {
                return Ok(None);
            }
            // The same key under a second key id would be two payers paying with one phone.
            conflict = s
                .devices
                .contains_key(req.device_key_id.as_str().as_bytes())
                .map_err(super::internal)?
                || s.device_keys
                    .contains_key(req.device_public_key.as_slice())
                    .map_err(super::internal)?;
            Ok((!conflict).then(|| entry.clone()))
        })
        .await?;
    if conflict {
        app.vault.discard(&payer).await;
        return Err(WireError::new(
            ErrorCode::IdempotencyConflict,
            format!(
                "device key {} (or its public key) is already registered",
                req.device_key_id
            ),
        ));
    }
    let reply = replay(&app, &req, &fingerprint)?
        .ok_or_else(|| super::internal("a registration the journal took is not in the view"))?;
    if reply.payer != payer {
        // A concurrent twin of this request registered first: its payer is the one.
        app.vault.discard(&payer).await;
    }
    // The handle only: registrations are never logged with who registered.
    tracing::info!(payer = %reply.payer, "payer registered");
    reply_ok(&reply)
}

/// The person's details are well formed and the request is signed by the device key it
/// registers.
fn check(req: &RegisterRequest) -> Result<(), WireError> {
    check_name(&req.name)?;
    check_national_id(&req.national_id)?;
    check_bank_account(&req.bank_account)?;
    let key: [u8; 32] = req
        .device_public_key
        .as_slice()
        .try_into()
        .map_err(|_| WireError::field("device_public_key", "must be 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|_| WireError::field("device_public_key", "is not an ed25519 public key"))?;
    if !req.proves_possession(&key) {
        return Err(WireError::new(
            ErrorCode::BadSignature,
            "device_proof: not signed by the device key being registered",
        ));
    }
    Ok(())
}

/// What tells a retried registration from another one under the same idempotency key: a
/// SHA-256 of the whole request, so the journal (and the JetStream store under it) holds no
/// trace of who registered.
fn fingerprint(req: &RegisterRequest) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(encode(req)).to_vec()
}

fn new_handle() -> String {
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("p-{hex}")
}

fn replay(
    app: &App,
    req: &RegisterRequest,
    fingerprint: &[u8],
) -> Result<Option<RegisterReply>, WireError> {
    let Some(raw) = app
        .store
        .registrations
        .get(req.idempotency_key.as_str().as_bytes())
        .map_err(super::internal)?
    else {
        return Ok(None);
    };
    let r: Registration = decode(&raw).map_err(super::internal)?;
    if r.fingerprint != fingerprint {
        return Err(WireError::new(
            ErrorCode::IdempotencyConflict,
            format!(
                "idempotency key {} was used for another registration",
                req.idempotency_key
            ),
        ));
    }
    Ok(Some(r.reply))
}

//! `posfee.paygate.register`: the payer's identity and bank account, once, from their phone.
//! Answers an opaque payer handle; nothing personal ever leaves paygate again.

use crate::app::{App, SANDBOX_OPENING_BALANCE_FEN};
use crate::identity::{check_bank_account, check_name, check_national_id};
use crate::store::{Payer, Registration};
use ed25519_dalek::VerifyingKey;
use posfee_runtime::once::Abort;
use posfee_runtime::serve::{decode_request, reply_ok, Handled};
use posfee_schemas::ids::PayerHandle;
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::paygate::{RegisterReply, RegisterRequest};
use posfee_schemas::{decode, encode, ErrorCode, WireError};
use rand::RngCore;
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: RegisterRequest = decode_request(&msg.payload)?;
    let fingerprint = encode(&req);
    let once = app.once();
    if let Some(reply) = once.replayed(replay(&app, &req, &fingerprint)).await? {
        return reply_ok(&reply);
    }
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

    let payer = PayerHandle::parse(new_handle()).map_err(super::internal)?;
    let record = Payer {
        name: req.name.trim().to_string(),
        national_id: req.national_id.to_ascii_uppercase(),
        bank_account: req.bank_account.clone(),
        device_key_id: req.device_key_id.clone(),
        device_public_key: req.device_public_key.clone(),
        balance: Fen::new(SANDBOX_OPENING_BALANCE_FEN),
        held: Fen::ZERO,
        registered_at: app.clock.now(),
    };
    let reply = RegisterReply {
        payer: payer.clone(),
        balance: Money::cny(SANDBOX_OPENING_BALANCE_FEN),
    };
    let idem = req.idempotency_key.as_str().as_bytes().to_vec();
    let device = req.device_key_id.as_str().as_bytes().to_vec();
    let registration = encode(&Registration {
        fingerprint: fingerprint.clone(),
        reply: reply.clone(),
    });
    let s = &app.store;
    let public_key = req.device_public_key.as_slice();
    let result = (&s.registrations, &s.devices, &s.device_keys, &s.payers).transaction(
        |(regs, devices, device_keys, payers)| {
            if regs.get(&idem)?.is_some() {
                return Err(ConflictableTransactionError::Abort(Abort::Taken));
            }
            // The same key under a second key id would be two payers paying with one phone.
            if devices.get(&device)?.is_some() || device_keys.get(public_key)?.is_some() {
                return Err(ConflictableTransactionError::Abort(Abort::Refused(())));
            }
            regs.insert(idem.as_slice(), registration.as_slice())?;
            devices.insert(device.as_slice(), payer.as_str().as_bytes())?;
            device_keys.insert(public_key, device.as_slice())?;
            payers.insert(payer.as_str().as_bytes(), encode(&record))?;
            Ok(reply.clone())
        },
    );
    let reply = once
        .finish(
            result,
            &[],
            || replay(&app, &req, &fingerprint),
            |()| {
                WireError::new(
                    ErrorCode::IdempotencyConflict,
                    format!(
                        "device key {} (or its public key) is already registered",
                        req.device_key_id
                    ),
                )
            },
        )
        .await?;
    // The handle only: registrations are never logged with who registered.
    tracing::info!(payer = %reply.payer, "payer registered");
    reply_ok(&reply)
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

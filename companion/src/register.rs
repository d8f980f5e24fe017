//! Registration, once per phone: a fresh ed25519 device key, then identity, bank account and
//! the device's public key go to the payment platform (`posfee.paygate.register`) and nowhere
//! else. Everything is stored before the request leaves, so a retry after a lost answer sends
//! the same key and the same idempotency key; what paygate refuses is forgotten.

use crate::home::Profile;
use crate::Companion;
use ed25519_dalek::SigningKey;
use posfee_client::{call, CallError};
use posfee_schemas::ids::{IdempotencyKey, KeyId};
use posfee_schemas::paygate::{AmendReply, AmendRequest, RegisterReply, RegisterRequest};
use posfee_schemas::subjects::{self, PaygateOp};
use posfee_schemas::{ErrorCode, WireError};
use std::time::Duration;

pub const REGISTER_TIMEOUT_MS: u64 = 5_000;
/// Attempts per registration; timed-out attempts repeat with the same idempotency key.
pub const REGISTER_ATTEMPTS: usize = 3;
/// Longest name, national id or bank account we send.
pub const MAX_FIELD_CHARS: usize = 128;

/// What the payer types once.
#[derive(Clone)]
pub struct Identity {
    pub name: String,
    pub national_id: String,
    pub bank_account: String,
}

impl Identity {
    fn check(&self) -> crate::Result<()> {
        for (field, v) in [
            ("name", &self.name),
            ("national_id", &self.national_id),
            ("bank_account", &self.bank_account),
        ] {
            let v = v.trim();
            if v.is_empty() {
                return Err(WireError::field(field, "is empty"));
            }
            if v.chars().count() > MAX_FIELD_CHARS || v.chars().any(char::is_control) {
                return Err(WireError::field(
                    field,
                    format!("must be at most {MAX_FIELD_CHARS} printable characters"),
                ));
            }
        }
        Ok(())
    }

    fn same_as(&self, p: &Profile) -> bool {
        self.name.trim() == p.name
            && self.national_id.trim() == p.national_id
            && self.bank_account.trim() == p.bank_account
    }
}

pub fn device_key(p: &Profile) -> crate::Result<SigningKey> {
    let seed: [u8; 32] = p
        .device_seed
        .as_slice()
        .try_into()
        .map_err(|_| crate::internal("reading the device key", "not 32 bytes"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Registers this phone, or finishes an earlier registration that lost its answer. A phone
/// already registered with the same identity gets its registration back; a corrected name or
/// bank card is sent to paygate as a correction ([`correct`]); another national id is
/// refused (one phone, one payer). Details paygate refuses are forgotten at once, so a
/// mistyped field never locks the phone: the payer corrects it and registers again.
pub async fn register(c: &Companion, id: Identity) -> crate::Result<Profile> {
    id.check()?;
    match c.home.profile()? {
        Some(p) if p.payer.is_some() && id.same_as(&p) => Ok(p),
        Some(p) if p.payer.is_some() && id.national_id.trim() == p.national_id => {
            correct(c, p, &id).await
        }
        Some(p) if p.payer.is_some() => Err(already_registered()),
        Some(p) if id.same_as(&p) => send(c, p).await,
        // An earlier attempt with other details never got its answer: learn how it ended
        // before starting again, so the phone is never registered twice.
        Some(p) => match send(c, p).await {
            Ok(_) => Err(already_registered()),
            Err(e) if e.code.status() < 500 => send(c, fresh(&id)?).await,
            Err(e) => Err(e),
        },
        None => send(c, fresh(&id)?).await,
    }
}

fn already_registered() -> WireError {
    WireError::new(
        ErrorCode::IdempotencyConflict,
        "this phone is registered to the holder of another national id, which cannot be changed; \
         a different person registers on their own phone (or a new home: --home DIR)",
    )
}

/// Sends a registered payer's corrected name or bank card (`posfee.paygate.amend`) and keeps
/// them on the phone once paygate has them.
async fn correct(c: &Companion, mut profile: Profile, id: &Identity) -> crate::Result<Profile> {
    let changed = |new: &str, old: &str| (new.trim() != old).then(|| new.trim().to_string());
    let req = AmendRequest::signed(
        changed(&id.name, &profile.name),
        changed(&id.bank_account, &profile.bank_account),
        &device_key(&profile)?,
        profile.device_key_id.clone(),
    );
    let asker = subjects::Identity::Device(c.device.clone());
    let _: AmendReply = call(
        &c.client,
        subjects::paygate(PaygateOp::Amend, &asker),
        &req,
        Some(Duration::from_millis(REGISTER_TIMEOUT_MS)),
    )
    .await
    .map_err(crate::from_call)?;
    profile.name = id.name.trim().to_string();
    profile.bank_account = id.bank_account.trim().to_string();
    c.home.save_profile(&profile).await?;
    Ok(profile)
}

/// A new registration: a fresh device key and idempotency key for these details.
fn fresh(id: &Identity) -> crate::Result<Profile> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut suffix = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut suffix);
    let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Profile {
        name: id.name.trim().to_string(),
        national_id: id.national_id.trim().to_string(),
        bank_account: id.bank_account.trim().to_string(),
        device_key_id: KeyId::parse(format!("dev-{hex}"))
            .map_err(|e| crate::internal("device key id", e))?,
        device_seed: key.to_bytes().to_vec(),
        idempotency_key: IdempotencyKey::parse(format!("register-{hex}"))
            .map_err(|e| crate::internal("idempotency key", e))?,
        payer: None,
        balance: None,
    })
}

/// Stores the registration (so a lost answer is retried with the same keys), sends it, and
/// keeps it only if paygate accepts; a refusal forgets it.
async fn send(c: &Companion, profile: Profile) -> crate::Result<Profile> {
    c.home.save_profile(&profile).await?;
    let req = RegisterRequest::signed(
        profile.name.clone(),
        profile.national_id.clone(),
        profile.bank_account.clone(),
        &device_key(&profile)?,
        profile.device_key_id.clone(),
        profile.idempotency_key.clone(),
    );
    let mut attempt = 0;
    let reply: RegisterReply = loop {
        attempt += 1;
        match call(
            &c.client,
            subjects::paygate(
                PaygateOp::Register,
                &subjects::Identity::Device(c.device.clone()),
            ),
            &req,
            Some(Duration::from_millis(REGISTER_TIMEOUT_MS)),
        )
        .await
        {
            Ok(r) => break r,
            Err(CallError::TimedOut(_)) if attempt < REGISTER_ATTEMPTS => {
                tracing::warn!(
                    attempt,
                    "registration timed out; retrying with the same key"
                );
            }
            Err(CallError::Remote(e)) if e.code.status() < 500 => {
                c.home.forget_profile().await?;
                return Err(e);
            }
            Err(e) => return Err(crate::from_call(e)),
        }
    };
    let mut profile = profile;
    profile.payer = Some(reply.payer);
    profile.balance = Some(reply.balance);
    c.home.save_profile(&profile).await?;
    Ok(profile)
}

/// The registered profile, or a clear error telling the payer to register first.
pub fn registered(c: &Companion) -> crate::Result<(Profile, posfee_schemas::ids::PayerHandle)> {
    match c.home.profile()? {
        Some(p) => match p.payer.clone() {
            Some(h) => Ok((p, h)),
            None => Err(WireError::new(
                ErrorCode::PayerNotFound,
                "registration did not finish; run `companion register` again",
            )),
        },
        None => Err(WireError::new(
            ErrorCode::PayerNotFound,
            "this phone is not registered; run `companion register` first",
        )),
    }
}

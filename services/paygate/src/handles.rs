//! The payer's handle each biller sees. Paygate knows a payer by the handle it gave them at
//! registration; a biller (its ledger entries, events, statements, receipts, kiosks) sees
//! instead an HMAC-SHA256 of that handle and the biller's tenant id under a key only paygate
//! holds (derived from its journal key, which is kept for the system's life). The same payer
//! is the same handle at one biller, payment after payment, and a different one at each
//! other biller: two billers comparing their data cannot tell that one person paid both, and
//! nobody without paygate's key can compute a handle from another.

use hmac::{Hmac, Mac};
use posfee_schemas::ids::{PayerHandle, TenantId};
use sha2::Sha256;

/// What the key is derived for (`JournalSeal::derived_key`).
pub const LABEL: &str = "payer-handle-per-biller";

/// `payer`'s handle at `tenant`: `b-` and 24 hex digits (96 bits).
pub fn at_biller(key: &[u8; 32], payer: &PayerHandle, tenant: &TenantId) -> PayerHandle {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        // An HMAC takes a key of any length; this arm is never taken.
        Err(_) => return payer.clone(),
    };
    mac.update(payer.as_str().as_bytes());
    mac.update(&[0]);
    mac.update(tenant.as_str().as_bytes());
    let digest = mac.finalize().into_bytes();
    let handle = format!("b-{}", hex::encode(&digest[..12]));
    PayerHandle::parse(handle).unwrap_or_else(|_| payer.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_payer_has_one_handle_per_biller_and_different_ones_across_billers() {
        let key = [7u8; 32];
        let payer = PayerHandle::parse("p-0123456789abcdef01234567").unwrap();
        let other = PayerHandle::parse("p-76543210fedcba9876543210").unwrap();
        let water = TenantId::parse("city-water").unwrap();
        let power = TenantId::parse("city-power").unwrap();
        let at_water = at_biller(&key, &payer, &water);
        assert_eq!(at_water, at_biller(&key, &payer, &water), "stable");
        assert_ne!(
            at_water,
            at_biller(&key, &payer, &power),
            "linkable across billers"
        );
        assert_ne!(
            at_water,
            at_biller(&key, &other, &water),
            "two payers, one handle"
        );
        assert_ne!(at_water, at_biller(&[8u8; 32], &payer, &water), "not keyed");
        assert!(at_water.as_str().starts_with("b-") && at_water.as_str().len() == 26);
        assert!(!at_water.as_str().contains(payer.as_str()));
    }
}

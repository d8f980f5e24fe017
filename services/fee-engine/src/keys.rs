//! Tenants' bill-signing keys: one key folder per tenant under `<keys-dir>/<tenant>/`, key ids
//! `<tenant>-<instance>-<n>` (see `posfee_runtime::keyfile`): each instance signs with keys of
//! its own, named apart, so two instances never publish different keys under one id.

use anyhow::Context;
use ed25519_dalek::{SigningKey, VerifyingKey};
use posfee_runtime::keyfile;
use posfee_schemas::ids::{KeyId, TenantId};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone)]
pub struct TenantKey {
    pub id: KeyId,
    pub key: SigningKey,
}

/// Every tenant's signing key and all its verifying keys.
#[derive(Clone, Default)]
pub struct TenantKeys {
    active: BTreeMap<TenantId, TenantKey>,
    public: BTreeMap<KeyId, (TenantId, VerifyingKey)>,
}

impl TenantKeys {
    /// Loads (creating where missing) the keys of `tenants` from `dir`, named for this
    /// `instance`.
    pub fn load_or_create<'a>(
        dir: &Path,
        tenants: impl IntoIterator<Item = &'a TenantId>,
        instance: u64,
    ) -> anyhow::Result<TenantKeys> {
        let mut keys = TenantKeys::default();
        for tenant in tenants {
            let prefix = format!("{tenant}-{:08x}", instance >> 32);
            let set = keyfile::load_or_create(&dir.join(tenant.as_str()), &prefix)
                .with_context(|| format!("keys of tenant {tenant}"))?;
            for (id, key) in set.all {
                keys.public.insert(id, (tenant.clone(), key));
            }
            keys.active.insert(
                tenant.clone(),
                TenantKey {
                    id: set.active_id,
                    key: set.active,
                },
            );
        }
        Ok(keys)
    }

    pub fn active(&self, tenant: &TenantId) -> Option<&TenantKey> {
        self.active.get(tenant)
    }

    /// Every verifying key with the tenant it belongs to.
    pub fn public_keys(&self) -> &BTreeMap<KeyId, (TenantId, VerifyingKey)> {
        &self.public
    }
}

//! Each identity instance's view of the journal ([`crate::journal`]): every issued key, by
//! key and by holder, rebuilt from the journal if lost.
//!
//! `keys`: public nkey → [`IssuedKey`]; `holders`: holder key (`terminal/kiosk-07`) → its
//! current nkey. A phone's connection looks its key up in one read, however many phones are
//! enrolled; a revocation marks one record.

use posfee_schemas::decode;
use posfee_schemas::identity::{Holder, IssuedKey};

#[derive(Clone)]
pub struct Store {
    pub(crate) keys: posfee_store::Tree,
    pub(crate) holders: posfee_store::Tree,
    /// The view's place in the journal and each holder's last entry.
    pub meta: posfee_store::Tree,
    /// What an identity service before the journal kept as its record: moved into the
    /// journal once at start ([`crate::migrate`]), then emptied.
    pub(crate) legacy: posfee_store::Tree,
}

/// What a connecting key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Active(Holder),
    Revoked(Holder),
    Unknown,
}

impl Store {
    pub fn open(db: &posfee_store::Db) -> anyhow::Result<Store> {
        Ok(Store {
            keys: db.open_tree("key_view")?,
            holders: db.open_tree("holder_view")?,
            meta: db.open_tree("meta")?,
            legacy: db.open_tree("keys")?,
        })
    }

    pub fn lookup(&self, nkey: &str) -> anyhow::Result<Lookup> {
        Ok(match self.key(nkey)? {
            Some(k) if k.revoked_at.is_some() => Lookup::Revoked(k.holder),
            Some(k) => Lookup::Active(k.holder),
            None => Lookup::Unknown,
        })
    }

    pub fn key(&self, nkey: &str) -> anyhow::Result<Option<IssuedKey>> {
        match self.keys.get(nkey.as_bytes())? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    /// The holder's current key, revoked or not.
    pub fn current(&self, holder: &Holder) -> anyhow::Result<Option<IssuedKey>> {
        match self.holders.get(holder.key().as_bytes())? {
            Some(nkey) => self.key(&String::from_utf8_lossy(&nkey)),
            None => Ok(None),
        }
    }

    /// Kiosks' and clerks' keys in full; phones' up to `devices`, with their counts.
    pub fn list(&self, devices: usize) -> anyhow::Result<(Vec<IssuedKey>, u64, u64)> {
        let (mut keys, mut enrolled, mut revoked, mut shown) = (Vec::new(), 0u64, 0u64, 0usize);
        for item in self.holders.iter() {
            let (holder, nkey) = item?;
            let Some(key) = self.key(&String::from_utf8_lossy(&nkey))? else {
                continue;
            };
            if holder.starts_with(b"device/") {
                match key.revoked_at {
                    Some(_) => revoked += 1,
                    None => enrolled += 1,
                }
                if shown >= devices {
                    continue;
                }
                shown += 1;
            }
            keys.push(key);
        }
        Ok((keys, enrolled, revoked))
    }
}

//! The identity service's own store: every issued key, by key and by holder.
//!
//! `keys`: public nkey → [`IssuedKey`]; `holders`: holder key (`terminal/kiosk-07`) → its
//! current nkey. A phone's connection looks its key up in one read, however many phones are
//! enrolled; a revocation marks one record.

use chrono::{DateTime, Utc};
use posfee_schemas::identity::{Holder, IssuedKey};
use posfee_schemas::{decode, encode};
use sled::Transactional;

#[derive(Clone)]
pub struct Store {
    keys: sled::Tree,
    holders: sled::Tree,
}

/// What a connecting key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Active(Holder),
    Revoked(Holder),
    Unknown,
}

impl Store {
    pub fn open(db: &sled::Db) -> anyhow::Result<Store> {
        Ok(Store {
            keys: db.open_tree("keys")?,
            holders: db.open_tree("holders")?,
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

    /// Makes `key` the holder's current key if the holder's current key is still `expected`
    /// (its nkey; `None`: no key yet) and the key is new, in one transaction: two requests
    /// deciding on the same state cannot both leave a key behind. Says whether it did.
    pub fn claim(&self, key: &IssuedKey, expected: Option<&str>) -> anyhow::Result<bool> {
        use sled::transaction::{ConflictableTransactionError, TransactionError};
        let (nkey, holder, record) = (key.nkey.as_bytes(), key.holder.key(), encode(key));
        let claimed = (&self.keys, &self.holders).transaction(|(keys, holders)| {
            let current = holders.get(holder.as_bytes())?;
            if current.as_deref() != expected.map(str::as_bytes) || keys.get(nkey)?.is_some() {
                return Ok(false);
            }
            keys.insert(nkey, record.as_slice())?;
            holders.insert(holder.as_bytes(), nkey)?;
            Ok::<_, ConflictableTransactionError<()>>(true)
        });
        match claimed {
            Ok(done) => Ok(done),
            Err(TransactionError::Storage(e)) => Err(e.into()),
            Err(TransactionError::Abort(())) => Ok(false),
        }
    }

    /// Records a new key as the holder's current one.
    pub fn insert(&self, key: &IssuedKey) -> anyhow::Result<()> {
        self.keys.insert(key.nkey.as_bytes(), encode(key))?;
        self.holders
            .insert(key.holder.key().as_bytes(), key.nkey.as_bytes())?;
        Ok(())
    }

    /// Marks a key revoked (once: the first time stays).
    pub fn revoke(&self, nkey: &str, at: DateTime<Utc>) -> anyhow::Result<Option<IssuedKey>> {
        let Some(mut key) = self.key(nkey)? else {
            return Ok(None);
        };
        if key.revoked_at.is_none() {
            key.revoked_at = Some(at);
            self.keys.insert(nkey.as_bytes(), encode(&key))?;
        }
        Ok(Some(key))
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

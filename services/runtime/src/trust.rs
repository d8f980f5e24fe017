//! What a service believes and who it is: the root it pins (every key record, receipt and
//! sealed event is believed through it) and, for the services that sign, its authority.

use posfee_schemas::subjects::Role;
use posfee_schemas::trust::{JournalSeal, Signer, TrustRoot};
use std::sync::Arc;

/// What a service's event-id key is derived for (`Signer::derived_key`, `EventId::keyed`).
pub const EVENT_ID_LABEL: &str = "event-id";

#[derive(Clone, Debug)]
pub struct Trust {
    pub root: TrustRoot,
    signer: Option<Arc<Signer>>,
    /// The key this service seals its own journal with (beside its authority's seed).
    journal: Option<JournalSeal>,
}

impl Trust {
    /// `signer`, when given, must be certified by `root`: a service never starts signing with
    /// a key its readers would refuse.
    pub fn new(root: TrustRoot, signer: Option<Signer>) -> anyhow::Result<Trust> {
        if let Some(s) = &signer {
            root.authority(s.certificate()).map_err(|e| {
                anyhow::anyhow!(
                    "the authority {} is not certified by the root {root}: {e}",
                    s.name()
                )
            })?;
        }
        Ok(Trust {
            root,
            signer: signer.map(Arc::new),
            journal: None,
        })
    }

    /// With the key this service seals its journal with.
    pub fn with_journal(mut self, journal: JournalSeal) -> Trust {
        self.journal = Some(journal);
        self
    }

    /// The key this service seals its journal with: a service with a journal cannot run
    /// without it.
    pub fn journal(&self, role: Role) -> anyhow::Result<JournalSeal> {
        self.journal.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "{role} keeps a journal and needs its key beside its authority: <data-dir>/creds/authorities/{role}.journal"
            )
        })
    }

    /// This service's authority, which must be `role`'s: a service that signs cannot run
    /// without it.
    pub fn signer(&self, role: Role) -> anyhow::Result<&Signer> {
        match self.signer.as_deref() {
            Some(s) if s.name().as_str() == role.as_str() => Ok(s),
            Some(s) => anyhow::bail!(
                "the authority given is {}'s, not {role}'s (--authority-file)",
                s.name()
            ),
            None => anyhow::bail!(
                "{role} signs what it writes and needs its authority: --authority-file <data-dir>/creds/authorities/{role}.nk"
            ),
        }
    }
}

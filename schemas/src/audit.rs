//! `posfee.ledger.audit` and `posfee.paygate.audit.<asker>`: the operator asks a service to
//! walk its whole journal and say whether every entry is its own, in its place
//! (`posfee reconcile` asks both). The journal is chained per subject
//! ([`crate::trust::JournalLink`]) and each entry sealed by its service, so an entry lost,
//! altered, forged or put back out of place is found, and named, even when JetStream itself
//! reports nothing wrong.

use serde::{Deserialize, Serialize};

/// What a walk over one journal found. The request is empty (nil).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    /// The journal's stream (`POSFEE_LEDGER`, `POSFEE_PAYGATE`, `POSFEE_IDENTITY`).
    pub journal: String,
    /// Entries walked, and the subjects (scopes) they are on.
    pub entries: u64,
    pub subjects: u64,
    /// The stream's last sequence when the walk began: entries after it are not judged.
    pub last_seq: u64,
    /// The first entry where the chain does not hold, if any.
    pub broken: Option<BrokenLink>,
}

/// Where a journal's chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    /// The stream sequence of the entry found wrong (or, for an entry gone, of the entry the
    /// service's view last applied on that subject).
    pub seq: u64,
    pub subject: String,
    /// Who the subject's entries are about, when the service can tell (the ledger:
    /// `tenant/account`).
    pub names: Option<String>,
    pub why: String,
}

//! What every identity request shares.

use crate::cut::Cutter;
use crate::difficulty::Difficulty;
use crate::store::Store;
use posfee_client::Clock;
use posfee_runtime::journal::Journal;
use std::sync::Arc;

pub struct App {
    /// This instance's view of the journal.
    pub store: Store,
    /// Where keys are issued, enrolled and revoked ([`crate::journal`]).
    pub journal: Journal,
    pub clock: Arc<dyn Clock>,
    /// The stamp bits enrolling a new phone needs just now.
    pub difficulty: Difficulty,
    pub cutter: Cutter,
}

//! What every identity request shares.

use crate::cut::Cutter;
use crate::difficulty::Difficulty;
use crate::store::Store;
use posfee_client::Clock;
use posfee_store::GroupCommit;
use std::sync::Arc;

pub struct App {
    pub store: Store,
    pub commit: GroupCommit,
    pub clock: Arc<dyn Clock>,
    /// The stamp bits enrolling a new phone needs just now.
    pub difficulty: Difficulty,
    pub cutter: Cutter,
}

//! What every identity request shares.

use crate::cut::Cutter;
use crate::limit::Limiter;
use crate::store::Store;
use posfee_client::Clock;
use posfee_store::GroupCommit;
use std::sync::Arc;

pub struct App {
    pub store: Store,
    pub commit: GroupCommit,
    pub clock: Arc<dyn Clock>,
    /// Enrolments of new phones, all callers together.
    pub enrolments: Limiter,
    pub cutter: Cutter,
}

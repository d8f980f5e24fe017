//! The receipts this phone keeps.

use crate::Companion;
use posfee_schemas::ledger::Receipt;

pub fn list(c: &Companion) -> crate::Result<Vec<Receipt>> {
    c.home.receipts()
}

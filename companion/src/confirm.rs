//! The payer's answer to a bill shown on the phone: asked by both pairing modes (the phone
//! joining a kiosk's code, [`crate::pay`], and a kiosk offering to the phone's code,
//! [`crate::wallet`]).

use crate::verify::VerifiedBill;
use futures::future::BoxFuture;

/// Does the payer agree to pay this bill? Asked while the phone listens to the kiosk, so it
/// must be cancel-safe: the question is dropped if the kiosk ends the pairing first.
pub trait Confirm: Send {
    fn confirm<'a>(&'a mut self, bill: &'a VerifiedBill) -> BoxFuture<'a, bool>;
}

/// A fixed answer (`--yes`, tests).
pub struct Always(pub bool);

impl Confirm for Always {
    fn confirm<'a>(&'a mut self, _bill: &'a VerifiedBill) -> BoxFuture<'a, bool> {
        let yes = self.0;
        Box::pin(async move { yes })
    }
}

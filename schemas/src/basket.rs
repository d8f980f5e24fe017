//! Baskets: several bills, for one biller or several, paired once, confirmed once on the
//! phone and paid with one hold; all of them settle, each in its own biller's books, or none.
//!
//! The kiosk issues each bill of a basket with the same [`BasketTag`] (its id and its size),
//! which the fee-engine signs into the bill. The ledger settles a tagged bill only together
//! with as many bills of its tag as the tag's size, in one request and one atomic append:
//! a phone (or anyone) paying one bill of a basket alone is refused, so a basket is never
//! half paid. Each bill is still a payment of its own once paid ([`crate::ids::PaymentId::part`]):
//! its own receipt, settlement, statement row and refunds.

use crate::ids::{BasketId, BillId, PaymentId};
use crate::ledger::SignedReceipt;
use crate::money::Money;
use serde::{Deserialize, Serialize};

/// Fewest bills a basket has: one bill is an ordinary payment.
pub const MIN_BILLS: usize = 2;
/// Most bills a basket has: what a phone's screen and a payer can check at once.
pub const MAX_BILLS: usize = 10;

/// Signed into every bill of a basket (`Bill::basket`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketTag {
    pub id: BasketId,
    /// How many bills the basket has, [`MIN_BILLS`] to [`MAX_BILLS`].
    pub size: u8,
}

impl BasketTag {
    /// Whether the size is one a basket may have.
    pub fn size_ok(&self) -> bool {
        (MIN_BILLS..=MAX_BILLS).contains(&usize::from(self.size))
    }
}

/// `posfee.paygate.pay`'s answer to a basket order: every bill's receipt, signed by the
/// ledger, in the order's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketPaid {
    /// The id the phone chose for the basket's payment.
    pub payment_id: PaymentId,
    pub total: Money,
    pub receipts: Vec<SignedReceipt>,
}

/// The bills of an order or offer in order: the lead bill, then the others.
pub fn bills_of<'a>(lead: &'a BillId, more: &'a [BillId]) -> impl Iterator<Item = &'a BillId> {
    std::iter::once(lead).chain(more.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_payment_id_is_the_same_for_everyone_and_differs_per_bill() {
        let basket = PaymentId::new_random();
        let (a, b) = (BillId::new_random(), BillId::new_random());
        assert_eq!(PaymentId::part(basket, a), PaymentId::part(basket, a));
        assert_ne!(PaymentId::part(basket, a), PaymentId::part(basket, b));
        assert_ne!(PaymentId::part(basket, a), basket);
        let other = PaymentId::new_random();
        assert_ne!(PaymentId::part(basket, a), PaymentId::part(other, a));
    }

    #[test]
    fn basket_sizes_are_two_to_ten() {
        let tag = |size| BasketTag {
            id: BasketId::new_random(),
            size,
        };
        assert!(!tag(1).size_ok());
        assert!(tag(2).size_ok());
        assert!(tag(10).size_ok());
        assert!(!tag(11).size_ok());
    }
}

//! `posfee.ledger.{settle,refund,settlements}` requests, the settlement notice inside a
//! settle, and the receipt terminals and phones decode.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posfee_fuzz::decodes_and_round_trips as check;
use posfee_schemas::ledger::{
    Receipt, RefundRequest, SettleRequest, SettlementNotice, SettlementsQuery,
};

fuzz_target!(|data: &[u8]| {
    check::<SettleRequest>(data);
    check::<SettlementNotice>(data);
    check::<RefundRequest>(data);
    check::<SettlementsQuery>(data);
    check::<Receipt>(data);
});

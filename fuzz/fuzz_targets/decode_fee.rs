//! `posfee.fee.quote` and `posfee.bill.issue` requests, and the bills they answer with
//! (phones and paygate decode those from the bus).
#![no_main]
use libfuzzer_sys::fuzz_target;
use posfee_fuzz::decodes_and_round_trips as check;
use posfee_schemas::fee::{Bill, BillIssueRequest, IssuedBill, Quote, QuoteRequest};

fuzz_target!(|data: &[u8]| {
    check::<QuoteRequest>(data);
    check::<BillIssueRequest>(data);
    check::<Quote>(data);
    check::<Bill>(data);
    check::<IssuedBill>(data);
});

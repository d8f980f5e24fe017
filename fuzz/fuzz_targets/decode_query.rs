//! `posfee.query.{account,bills,payments,readings}` requests.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posfee_fuzz::decodes_and_round_trips as check;
use posfee_schemas::query::{AccountRef, PaymentsQuery, ReadingsQuery};

fuzz_target!(|data: &[u8]| {
    check::<AccountRef>(data);
    check::<PaymentsQuery>(data);
    check::<ReadingsQuery>(data);
});

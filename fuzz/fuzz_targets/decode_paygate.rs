//! `posfee.paygate.{register,pay,payments}` requests and the device-signed order inside a pay.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posfee_fuzz::decodes_and_round_trips as check;
use posfee_schemas::paygate::{PayOrder, PayRequest, PaymentsListQuery, RegisterRequest};

fuzz_target!(|data: &[u8]| {
    check::<RegisterRequest>(data);
    check::<PayRequest>(data);
    check::<PayOrder>(data);
    check::<PaymentsListQuery>(data);
});

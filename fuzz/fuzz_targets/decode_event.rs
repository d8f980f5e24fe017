//! Every event on `POSFEE_EVENTS`: the fee-engine, query and paygate build state from them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posfee_fuzz::decodes_and_round_trips as check;
use posfee_schemas::events::Event;

fuzz_target!(|data: &[u8]| {
    check::<Event>(data);
});

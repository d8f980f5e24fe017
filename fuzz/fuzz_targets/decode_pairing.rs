//! What crosses the temporary kiosk–phone connection (join, offer, wallet answer) and what a
//! terminal records in the terminals bucket.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posfee_fuzz::decodes_and_round_trips as check;
use posfee_schemas::pairing::{BillOffer, PairJoin, WalletAnswer};
use posfee_schemas::terminal::TerminalSeen;

fuzz_target!(|data: &[u8]| {
    check::<PairJoin>(data);
    check::<BillOffer>(data);
    check::<WalletAnswer>(data);
    check::<TerminalSeen>(data);
});

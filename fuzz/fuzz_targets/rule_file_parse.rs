//! A tenant's rule file and a preview input file, as `posfee rules check` and the fee-engine
//! read them: any text gives a tenant or an error with a position, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = posfee_tariff::parse_rule_file("fuzz.toml", &text);
    let _ = posfee_tariff::parse_input("fuzz-input.toml", &text);
});

//! `PairCode::parse` (what a phone or kiosk reads from a QR code or a person's typing): never
//! panics, and a code that parses reads back the same from its URI and from its typed form.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posfee_schemas::pairing::PairCode;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(code) = PairCode::parse(&text) else {
        return;
    };
    assert_eq!(PairCode::parse(&code.uri()).ok(), Some(code.clone()), "uri");
    // The mode is in the typed code's check only, so it reads back in its own mode.
    let typed = PairCode::parse_mode(&code.typed(), code.mode()).expect("its own typed code parses");
    // The typed form does not carry the bill id.
    assert_eq!(
        (typed.mode(), typed.terminal_id(), typed.device_id(), typed.token()),
        (code.mode(), code.terminal_id(), code.device_id(), code.token()),
        "typed"
    );
});

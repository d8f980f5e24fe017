//! `Subject::parse`: never panics, and whatever parses renders back to the same subject.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posfee_schemas::subjects::Subject;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(subject) = Subject::parse(text) {
        let rendered = subject.render();
        assert_eq!(rendered, text, "a parsed subject renders as written");
        assert!(
            !rendered.contains(['*', '>', ' ', '\t', '\r', '\n']),
            "a parsed subject is concrete: {rendered:?}"
        );
    }
});

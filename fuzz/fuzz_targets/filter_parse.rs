//! Any text given to the filter parser: an error or a filter, never a
//! panic, whatever the nesting; an accepted filter prints back to text that
//! parses to the same filter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runreg::Filter;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = Filter::parse(text) {
        let printed = filter.to_string();
        let again =
            Filter::parse(&printed).unwrap_or_else(|e| panic!("{printed:?} does not parse: {e}"));
        assert_eq!(again.to_string(), printed);
    }
});

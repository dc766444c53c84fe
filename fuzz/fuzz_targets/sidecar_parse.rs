//! Any bytes given to the sidecar parser: an error or a sidecar, never a
//! panic; a sidecar it accepts writes back to JSON that parses to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runreg::Sidecar;

fuzz_target!(|data: &[u8]| {
    if let Ok(sidecar) = Sidecar::parse(data) {
        let text = sidecar.to_json();
        let again = Sidecar::parse(text.as_bytes()).expect("a written sidecar parses");
        assert_eq!(again.to_json(), text, "write, parse, write is stable");
    }
});

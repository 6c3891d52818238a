//! CPM in both layouts, with verification.
#![no_main]

use controlplane::wire::cpm::{self, CpmRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = CpmRepr::parse(data) {
        let mut bytes = Vec::new();
        if m.emit(&mut bytes).is_ok() {
            assert_eq!(CpmRepr::parse(&bytes).ok(), Some(m));
        }
    }
    let _ = cpm::verify(data, b"fuzz-key");
    let _ = cpm::legacy::parse(data);
    let _ = cpm::legacy::verify(data, b"fuzz-key");
});

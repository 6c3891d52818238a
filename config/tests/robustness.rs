//! Arbitrary input never panics the loader or the legacy importer.

use config::{legacy, parse};
use proptest::prelude::*;

const VALID_FRAGMENT: &str = "[[port]]\nname = \"p\"\ndevice = \"d\"\nrole = \"rloc\"\naddresses = [\"192.0.2.1/24\"]\n[[database]]\nprefix = \"10.0.0.0/8\"\n[[database.locator]]\naddress = \"192.0.2.1\"\nlocal = true\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text, "fuzz.toml");
        let _ = legacy::import(&text);
    }

    #[test]
    fn mutated_configs_do_not_panic(cut in 0usize..VALID_FRAGMENT.len(), insert in "[ -~\n]{0,16}") {
        let mut text = VALID_FRAGMENT.to_owned();
        let cut = (0..=cut).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.insert_str(cut, &insert);
        if let Err(errors) = parse(&text, "fuzz.toml") {
            for d in errors.0 {
                prop_assert!(d.line >= 1 && d.column >= 1, "{d}");
            }
        }
    }
}

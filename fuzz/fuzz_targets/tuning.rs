//! The tuning document: any text is either a validated tuning or an error naming the key;
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use t1578_core::tuning::Tuning;
use t1578_core::Catalog;

fuzz_target!(|data: &[u8]| {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    let catalog = CATALOG.get_or_init(|| Catalog::builtin().expect("builtin catalog"));
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = Tuning::from_toml(text, "fuzz.toml", catalog) {
            assert!(!e.to_string().is_empty());
        }
    }
});

//! Splitting any document into records, and normalizing each one (CloudTrail, EventBridge,
//! Activity Log, Log Analytics `AzureActivity` rows), plus the JSON-lines fast paths of both
//! clouds on every line: no panic, a normalized event's time is in the representable range,
//! and a line the fast path takes gives exactly what normalizing its whole record gives (the
//! fast path reads a borrowed tree of part of the line, the whole parse a `Value`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use t1578_core::normalize::{activity_log_line, cloudtrail_line, normalize, MAX_TIME_MS};

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = t1578_core::source::normalize_document(data) {
        for (_, r) in records {
            if let Ok(ev) = r {
                assert!((0..=MAX_TIME_MS).contains(&ev.time_ms), "{}", ev.time_ms);
            }
        }
    }
    for line in data.split(|b| *b == b'\n') {
        for fast in [cloudtrail_line(line), activity_log_line(line)].into_iter().flatten() {
            if let Ok(ev) = &fast {
                assert!((0..=MAX_TIME_MS).contains(&ev.time_ms), "{}", ev.time_ms);
            }
            // What the CLI does with a line no fast path takes.
            let whole = serde_json::from_slice(line).expect("a line the fast path took is JSON");
            let mut records = Vec::new();
            t1578_core::source::expand(whole, &mut records);
            assert_eq!(records.len(), 1, "a line the fast path took holds one record");
            assert_eq!(Some(fast), records.pop().map(normalize));
        }
    }
});

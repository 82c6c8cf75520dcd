//! Splitting any document into records, and normalizing each one (CloudTrail, EventBridge,
//! Activity Log, Log Analytics `AzureActivity` rows), plus the CloudTrail JSON-lines fast path
//! on every line: no panic, and a normalized event's time is in the representable range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use t1578_core::normalize::MAX_TIME_MS;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = t1578_core::source::normalize_document(data) {
        for (_, r) in records {
            if let Ok(ev) = r {
                assert!((0..=MAX_TIME_MS).contains(&ev.time_ms), "{}", ev.time_ms);
            }
        }
    }
    for line in data.split(|b| *b == b'\n') {
        if let Some(Ok(ev)) = t1578_core::normalize::cloudtrail_line(line) {
            assert!((0..=MAX_TIME_MS).contains(&ev.time_ms), "{}", ev.time_ms);
        }
    }
});

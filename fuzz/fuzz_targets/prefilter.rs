//! The skip-fast path against the full path, on any bytes: a line that `Prefilter::may_match`
//! skips holds no record that the full path (parsed whole, split, normalized, within the time
//! span, scored) would count, under either profile, with or without a span. A line skipped
//! wrongly is an evasion: crafted JSON (a duplicate key, an escape, odd casing or spacing)
//! whose in-scope call the detector would never see.
//!
//! Each line of the input is tested, and, when the whole input is one JSON document (the seed
//! corpus is `events/` and real captures, pretty-printed), each of its records compacted to
//! one line, so mutations of real records reach the prefilter as the lines they would be.
//!
//! Out of scope, as the prefilter's documentation says: a line with an operation key
//! (`eventName`, `operationName`, `OperationNameValue`) spelled in another casing around its
//! `Name` than the one the prefilter searches for, or escaped. Finding those would take a
//! case-blind scan of every line (about six times the prefilter's cost, measured); every
//! producer writes the keys exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::LazyLock;
use t1578_core::engine::{Engine, Profile, ProfileName};
use t1578_core::prefilter::Prefilter;
use t1578_core::{normalize, Catalog};

/// Epoch ms of 2026-10-15T00:00:00Z, inside the fixtures' months (September to November 2026).
const MID: i64 = 1_792_022_400_000;
const DAY: i64 = 86_400_000;

/// The CLI's spans: none, `--since`, `--until`, and both.
const SPANS: [(Option<i64>, Option<i64>); 4] = [
    (None, None),
    (Some(MID), None),
    (None, Some(MID)),
    (Some(MID - 30 * DAY), Some(MID + 15 * DAY)),
];

struct Filter {
    engine: Engine,
    prefilter: Prefilter,
    span: (Option<i64>, Option<i64>),
}

/// Built as the CLI's `drive` builds them.
static FILTERS: LazyLock<Vec<Filter>> = LazyLock::new(|| {
    let mut out = Vec::new();
    for profile in [ProfileName::Default, ProfileName::SeedKql] {
        for span in SPANS {
            let engine = Engine::new(Catalog::builtin().unwrap(), Profile::named(profile));
            let prefilter = engine.prefilter().within(span.0, span.1);
            out.push(Filter { engine, prefilter, span });
        }
    }
    out
});

const OPERATION_KEYS: [&str; 3] = ["eventName", "operationName", "OperationNameValue"];

/// Object keys, at any depth, that the normalizer could read as an operation key.
fn operation_keys(v: &Value) -> usize {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| {
                usize::from(OPERATION_KEYS.iter().any(|o| k.eq_ignore_ascii_case(o))) + operation_keys(x)
            })
            .sum(),
        Value::Array(a) => a.iter().map(operation_keys).sum(),
        _ => 0,
    }
}

/// Operation keys written in the line exactly as the prefilter looks for them (a duplicate
/// the parse merged, or the text as a string value, counts too). Fewer than
/// [`operation_keys`]: one is spelled otherwise. An escape may hide one in the same count
/// (`"event\u004eame"` merged with `"eventName"`), so lines with one are not tested either.
fn exact_operation_keys(line: &[u8]) -> usize {
    OPERATION_KEYS
        .iter()
        .map(|o| memchr::memmem::find_iter(line, format!("\"{o}\"").as_bytes()).count())
        .sum()
}

fn check(line: &[u8]) {
    let skipped: Vec<&Filter> = FILTERS.iter().filter(|f| !f.prefilter.may_match(line)).collect();
    if skipped.is_empty() {
        return;
    }
    // What the CLI does with a line the prefilter lets through and no fast path takes.
    let Ok(whole) = serde_json::from_slice::<Value>(line) else {
        return;
    };
    let ops = operation_keys(&whole);
    if ops > exact_operation_keys(line) || (ops > 0 && memchr::memmem::find(line, b"\\u").is_some()) {
        return;
    }
    let mut records = Vec::new();
    t1578_core::source::expand(whole, &mut records);
    for r in records {
        let Ok(ev) = normalize(r) else { continue };
        for f in &skipped {
            let (since, until) = f.span;
            let in_span = !(until.is_some_and(|u| ev.time_ms > u) || since.is_some_and(|s| ev.time_ms < s));
            assert!(
                !(in_span && f.engine.score(&ev).is_ok()),
                "skipped a record the {:?} profile counts (span {:?}): {}",
                f.engine.profile.name,
                f.span,
                String::from_utf8_lossy(&line[..line.len().min(2000)])
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for line in data.split(|b| *b == b'\n') {
        check(line);
    }
    if let Ok(doc) = serde_json::from_slice(data) {
        let mut records = Vec::new();
        t1578_core::source::expand(doc, &mut records);
        for r in records {
            if let Ok(line) = serde_json::to_vec(&r) {
                check(&line);
            }
        }
    }
});

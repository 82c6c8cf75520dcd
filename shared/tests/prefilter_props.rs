//! The skip-fast path never skips an in-scope record, whatever the spacing and key order.

mod common;

use common::{engine, events_dir, load};
use proptest::prelude::*;
use serde_json::Value;
use t1578_core::engine::ProfileName;
use t1578_core::prefilter::Prefilter;

/// Serialize with keys in a shuffled order and random whitespace around separators.
fn render(v: &Value, seed: &mut u64, out: &mut String) {
    fn rnd(seed: &mut u64) -> usize {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (*seed >> 33) as usize
    }
    let ws = [" ", "", "\t", "  ", ""];
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            for i in (1..keys.len()).rev() {
                keys.swap(i, rnd(seed) % (i + 1));
            }
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws[rnd(seed) % ws.len()]);
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push_str(ws[rnd(seed) % ws.len()]);
                out.push(':');
                out.push_str(ws[rnd(seed) % ws.len()]);
                render(&m[*k], seed, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(x, seed, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn in_scope_records() -> Vec<Value> {
    let e = engine(ProfileName::Default);
    let mut out = Vec::new();
    for dir in ["aws", "azure"] {
        for f in std::fs::read_dir(events_dir().join(dir)).unwrap() {
            let path = f.unwrap().path();
            let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut recs = Vec::new();
            t1578_core::source::expand(raw, &mut recs);
            let evs = load(&path);
            for (r, ev) in recs.into_iter().zip(evs) {
                if e.score(&ev).is_ok() || e.catalog.classify(&ev).is_some() {
                    out.push(r);
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn never_skips_an_in_scope_record(seed in any::<u64>()) {
        let p = Prefilter::new(&t1578_core::Catalog::builtin().unwrap());
        let recs = in_scope_records();
        prop_assert!(recs.len() > 150);
        for r in &recs {
            let mut s = seed;
            let mut line = String::new();
            render(r, &mut s, &mut line);
            prop_assert!(p.may_match(line.as_bytes()), "skipped: {}", &line[..line.len().min(300)]);
        }
    }
}

//! The skip-fast path never skips an in-scope record, whatever the spacing and key order.

mod common;

use common::{engine, events_dir, load};
use proptest::prelude::*;
use serde_json::{json, Value};
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

/// Fixture records that the catalog classifies or the default profile scores.
fn in_scope_records() -> Vec<Value> {
    let e = engine(ProfileName::Default);
    fixture_records(|ev| e.score(ev).is_ok() || e.catalog.classify(ev).is_some())
}

/// Every fixture record whose event `pick` accepts.
fn fixture_records(pick: impl Fn(&t1578_core::ComputeEvent) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    for dir in ["aws", "azure"] {
        for f in std::fs::read_dir(events_dir().join(dir)).unwrap() {
            let path = f.unwrap().path();
            let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut recs = Vec::new();
            t1578_core::source::expand(raw, &mut recs);
            let evs = load(&path);
            for (r, ev) in recs.into_iter().zip(evs) {
                if pick(&ev) {
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

/// Put a decoy `errorCode`/`resultType` inside the record's request content, where an attacker
/// chooses keys: the prefilter must not take it for the record's outcome.
fn with_decoy(r: &Value) -> Value {
    let mut r = r.clone();
    if let Some(o) = r.as_object_mut() {
        o.insert(
            "requestParameters".into(),
            serde_json::json!({"errorCode": "Client.Decoy", "resultType": "Failure", "ActivityStatusValue": "Failed"}),
        );
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// With the profile's counted phases, no record the profile scores is skipped.
    #[test]
    fn never_skips_a_record_the_profile_counts(seed in any::<u64>()) {
        for profile in [ProfileName::Default, ProfileName::SeedKql] {
            let e = engine(profile);
            let p = e.prefilter();
            let recs = fixture_records(|ev| e.score(ev).is_ok());
            prop_assert!(recs.len() > 100);
            for r in recs.iter().flat_map(|r| [r.clone(), with_decoy(r)]) {
                let mut s = seed;
                let mut line = String::new();
                render(&r, &mut s, &mut line);
                prop_assert!(p.may_match(line.as_bytes()), "{:?} skipped: {}", profile, &line[..line.len().min(300)]);
            }
        }
    }
}

/// The counted-phase test does skip: failed fixtures are plainly not counted, whether a bare
/// record (Azure) or the CloudTrail record in an EventBridge envelope's `detail` (AWS).
#[test]
fn failed_calls_are_skipped_when_phases_are_given() {
    let e = engine(ProfileName::Default);
    let p = e.prefilter();
    let failed =
        fixture_records(|ev| ev.phase == t1578_core::Phase::Failure && e.catalog.classify(ev).is_some());
    let enveloped = failed.iter().filter(|r| r.get("detail").is_some()).count();
    assert!(
        failed.len() >= 5 && enveloped >= 5,
        "{} failed fixtures, {enveloped} in an envelope",
        failed.len()
    );
    let kept: Vec<String> = failed
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .filter(|line| p.may_match(line.as_bytes()))
        .map(|line| line[..line.len().min(200)].to_string())
        .collect();
    assert!(
        kept.is_empty(),
        "{} of {} failed fixtures not skipped:\n{}",
        kept.len(),
        failed.len(),
        kept.join("\n")
    );
}

/// Records of the benchmark's look-alike generator (`bench/lookalikes.py`, stdlib Python): what
/// a byte filter on the operation name cannot tell from an in-scope record (same-named calls of
/// other services, failed and dry-run calls, compute operations outside the catalog,
/// Start/Accept/Success triples, assumed-role sessions, managed identities).
fn lookalike_lines(cloud: &str, records: usize, seed: u64) -> Vec<String> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/lookalikes.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(cloud)
        .args([
            "--records",
            &records.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
            "/dev/stdout",
        ])
        .output()
        .unwrap_or_else(|e| panic!("python3 {}: {e}", script.display()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    // A burst's last group of records may run past `records`.
    assert!(lines.len() >= records, "{cloud}: {} lines", lines.len());
    lines
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]
    /// On the look-alike generator's output, re-rendered with shuffled keys and spacing, no
    /// record that the full path counts (parsed whole, normalized, scored under the profile)
    /// is skipped, under both profiles. And the prefilter does skip: most look-alikes that do
    /// not count never reach the parser, so this is not a filter that passes everything.
    #[test]
    fn never_skips_a_counted_lookalike(seed in 1u64..1_000_000) {
        for cloud in ["aws", "azure"] {
            let lines = lookalike_lines(cloud, 6_000, seed);
            for profile in [ProfileName::Default, ProfileName::SeedKql] {
                let e = engine(profile);
                let p = e.prefilter();
                let (mut counted, mut uncounted, mut uncounted_passed) = (0, 0, 0);
                for (i, line) in lines.iter().enumerate() {
                    let v: Value = serde_json::from_str(line).unwrap();
                    let counts = t1578_core::normalize(v.clone()).is_ok_and(|ev| e.score(&ev).is_ok());
                    let mut s = seed ^ i as u64;
                    let mut shuffled = String::new();
                    render(&v, &mut s, &mut shuffled);
                    for l in [line.as_str(), shuffled.as_str()] {
                        let kept = p.may_match(l.as_bytes());
                        if counts {
                            prop_assert!(kept, "{cloud} {profile:?} skipped a counted record: {}", &l[..l.len().min(400)]);
                        }
                    }
                    if counts {
                        counted += 1;
                    } else {
                        uncounted += 1;
                        uncounted_passed += usize::from(p.may_match(line.as_bytes()));
                    }
                }
                prop_assert!(counted >= 60, "{cloud} {profile:?}: {counted} counted records");
                prop_assert!(
                    uncounted_passed * 20 < uncounted,
                    "{cloud} {profile:?}: {uncounted_passed} of {uncounted} uncounted records pass"
                );
            }
        }
    }
}

/// Time decoys where an attacker chooses content: a nested copy of the time keys with an old
/// time inside the request, which the prefilter must not take for the record's own time.
fn with_time_decoy(r: &Value) -> Value {
    let mut r = r.clone();
    if let Some(o) = r.as_object_mut() {
        o.insert(
            "requestParameters".into(),
            serde_json::json!({"eventTime": "2001-01-01T00:00:00Z", "time": "2001-01-01T00:00:00Z",
                               "TimeGenerated": "2001-01-01T00:00:00Z"}),
        );
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]
    /// With a time span (as `query --until` and `replay --since/--until` give it), no record
    /// that the full path keeps (normalized, scored, its time inside the span) is skipped, on
    /// the look-alike output re-rendered and with time decoys in request content; and most
    /// counted records outside the span are skipped, so the span is really applied.
    #[test]
    fn never_skips_a_counted_record_inside_the_span(seed in 1u64..1_000_000, from in 0usize..1_000, len in 0usize..1_000) {
        for cloud in ["aws", "azure"] {
            let lines = lookalike_lines(cloud, 4_000, seed);
            let e = engine(ProfileName::SeedKql);
            let events: Vec<Option<t1578_core::ComputeEvent>> = lines
                .iter()
                .map(|l| t1578_core::normalize(serde_json::from_str(l).unwrap()).ok().filter(|ev| e.score(ev).is_ok()))
                .collect();
            let mut times: Vec<i64> = events.iter().flatten().map(|ev| ev.time_ms).collect();
            times.sort_unstable();
            // Ends at counted records, with at least a tenth of them before the span and a fifth
            // after it, whatever the draw: `from` and `len` are per mille of what is left.
            let n = times.len();
            let lo = n / 10 + from * (3 * n / 10) / 1_000;
            let hi = lo + n / 10 + len * (3 * n / 10) / 1_000;
            let (since, until) = (times[lo], times[hi]);
            let p = e.prefilter().within(Some(since), Some(until));
            let (mut outside, mut outside_passed) = (0, 0);
            for (i, (line, ev)) in lines.iter().zip(&events).enumerate() {
                let Some(ev) = ev else { continue };
                let v: Value = serde_json::from_str(line).unwrap();
                let mut s = seed ^ i as u64;
                let mut shuffled = String::new();
                render(&with_time_decoy(&v), &mut s, &mut shuffled);
                let inside = (since..=until).contains(&ev.time_ms);
                for l in [line.as_str(), shuffled.as_str()] {
                    if inside {
                        prop_assert!(p.may_match(l.as_bytes()), "{cloud}: skipped a record inside the span: {}", &l[..l.len().min(400)]);
                    }
                }
                if !inside {
                    outside += 1;
                    outside_passed += usize::from(p.may_match(line.as_bytes()));
                }
            }
            // The generator's seed decides how many records count (98 on one Azure draw of
            // 4,000 lines): 60 keep the span's tenth and fifth meaningful on any draw.
            prop_assert!(n >= 60 && outside >= n / 5, "{cloud}: {outside} of {n} counted records outside the span");
            prop_assert!(outside_passed == 0, "{cloud}: {outside_passed} of {outside} counted records outside the span pass");
        }
    }
}

/// The network activity fixture: records logged beside EC2 calls that crossed a VPC endpoint
/// (`eventType` `AwsVpceEvent`), which no profile counts.
fn network_records() -> Vec<Value> {
    let path = events_dir().join("formats/cloudtrail-network-activity.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A network activity record is skipped once the profile's phases are given, bare or in an
/// EventBridge envelope, whatever the spacing and key order; and kept when that `eventType` may
/// not be what the normalizer reads: only in request content (an attacker's copy), escaped,
/// or twice. Each kept variant is one the profile counts, so keeping it is required.
#[test]
fn network_activity_records_are_skipped_when_phases_are_given() {
    let records = network_records();
    assert!(records.len() >= 3, "{} network records", records.len());
    let bare = Prefilter::new(&t1578_core::Catalog::builtin().unwrap());
    for profile in [ProfileName::Default, ProfileName::SeedKql] {
        let e = engine(profile);
        let p = e.prefilter();
        for (i, r) in records.iter().enumerate() {
            let mut seed = i as u64 + 1;
            let mut shuffled = String::new();
            render(r, &mut seed, &mut shuffled);
            let envelope = json!({"detail-type": "AWS API Call via CloudTrail",
                                              "source": "aws.ec2", "detail": r});
            for line in [serde_json::to_string(r).unwrap(), shuffled, envelope.to_string()] {
                assert!(!full_path_counts(&e, &line, None), "{profile:?} counts: {line}");
                assert!(!p.may_match(line.as_bytes()), "{profile:?} kept: {line}");
                assert!(bare.may_match(line.as_bytes()), "skipped without phases: {line}");
            }

            let mut call = r.clone();
            call.as_object_mut().unwrap().remove("eventType");
            call["requestParameters"] = json!({"eventType": "AwsVpceEvent"});
            let line = serde_json::to_string(&call).unwrap();
            // A JSON parser keeps the last of two equal keys: the call's type, after the
            // network record's, in its exact spelling or escaped.
            let compact = serde_json::to_string(r).unwrap();
            let body = compact.strip_suffix('}').unwrap();
            let twice = format!("{body}, \"eventType\": \"AwsApiCall\"}}");
            let escaped = format!("{body}, \"event\\u0054ype\": \"AwsApiCall\"}}");
            for line in [line, escaped, twice] {
                let ev = t1578_core::normalize(serde_json::from_str(&line).unwrap()).unwrap();
                assert!(e.score(&ev).is_ok(), "{profile:?} does not count: {line}");
                assert!(p.may_match(line.as_bytes()), "{profile:?} skipped a call: {line}");
            }
        }
    }
}

/// Whether the full path counts a record of `line`: parsed whole, split into its records,
/// normalized, scored, and (with a span) inside it.
fn full_path_counts(e: &t1578_core::engine::Engine, line: &str, span: Option<(i64, i64)>) -> bool {
    let mut recs = Vec::new();
    t1578_core::source::expand(serde_json::from_str(line).unwrap(), &mut recs);
    recs.into_iter().any(|v| {
        t1578_core::normalize(v)
            .is_ok_and(|ev| e.score(&ev).is_ok() && span.is_none_or(|(a, b)| (a..=b).contains(&ev.time_ms)))
    })
}

/// Lines that are containers, each holding one counted record beside (or around) keys that
/// would skip a bare record: an outer `errorCode`, network `eventType` or old `eventTime`, an
/// outer operation the catalog does not list, an array whose first item failed. The reader
/// counts the record inside, so none may be skipped.
fn containers(r: &Value) -> Vec<String> {
    let text = |v: &Value| serde_json::to_string(v).unwrap();
    // The AWS fixtures are EventBridge envelopes: the record is their `detail`.
    let r = r.get("detail").unwrap_or(r);
    // The record's own keys that the outer object repeats are dropped or spelled in another
    // casing (which the normalizer reads, and the prefilter does not take for the record's
    // own), so the outer key is the only one in its exact spelling.
    let mut bare = r.clone();
    let o = bare.as_object_mut().unwrap();
    o.remove("eventType");
    o.remove("errorCode");
    for (exact, other) in [
        ("eventTime", "EventTime"),
        ("time", "Time"),
        ("TimeGenerated", "timeGenerated"),
        ("resultType", "ResultType"),
        ("ActivityStatusValue", "activityStatusValue"),
    ] {
        if let Some(v) = o.remove(exact) {
            o.insert(other.into(), v);
        }
    }
    let out_of_scope = "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION";
    let (op_key, op) = match (r.get("eventName"), r.get("operationName")) {
        (Some(_), _) => ("eventName", "DescribeInstances"),
        (None, Some(_)) => ("operationName", out_of_scope),
        (None, None) => ("OperationNameValue", out_of_scope),
    };

    vec![
        text(&json!({"errorCode": "Client.UnauthorizedOperation", "Events": [bare]})),
        text(
            &json!({"errorCode": "Client.UnauthorizedOperation", "resultType": "Failure",
                     "ActivityStatusValue": "Failed", "Records": [bare]}),
        ),
        text(&json!({"resultType": "Failure", "ActivityStatusValue": "Failed", "records": [bare]})),
        text(
            &json!({"errorCode": "Client.UnauthorizedOperation", "resultType": "Failure",
                     "messageType": "DATA_MESSAGE", "logEvents": [{"message": bare}]}),
        ),
        text(&json!({"eventType": "AwsVpceEvent", "Events": [bare]})),
        text(&json!({"resultType": "Failure", "ActivityStatusValue": "Failed", "Events": [bare]})),
        text(&json!([{"errorCode": "Client.UnauthorizedOperation", "resultType": "Failure"}, bare])),
        text(&json!({op_key: op, "eventSource": "ec2.amazonaws.com", "Records": text(&json!([r]))})),
        text(&json!({op_key: op, "CloudTrailEvent": text(r)})),
        text(&json!({op_key: op, "messageType": "DATA_MESSAGE", "logEvents": [{"message": text(r)}]})),
        text(
            &json!({"eventTime": "2001-01-01T00:00:00Z", "time": "2001-01-01T00:00:00Z",
                     "TimeGenerated": "2001-01-01T00:00:00Z", "Events": [bare]}),
        ),
    ]
}

/// A key beside a container's records is not theirs: whatever it says (failed, a network
/// record, out of the span, an operation out of scope), the records inside still count, so
/// the line is kept, under both profiles, with and without a span.
#[test]
fn a_containers_own_keys_never_skip_the_records_inside() {
    for profile in [ProfileName::Default, ProfileName::SeedKql] {
        let e = engine(profile);
        let mut records = fixture_records(|ev| e.score(ev).is_ok());
        // Log Analytics rows (`OperationNameValue`, `ActivityStatusValue`, `TimeGenerated`).
        let rows = std::fs::read_to_string(events_dir().join("formats/azure-activity-la.json")).unwrap();
        let rows: Vec<Value> = serde_json::from_str(&rows).unwrap();
        let before = records.len();
        records.extend(
            rows.into_iter()
                .filter(|r| t1578_core::normalize(r.clone()).is_ok_and(|ev| e.score(&ev).is_ok())),
        );
        assert!(records.len() > before, "{profile:?}: no Log Analytics row counts");
        let (mut lines, mut counted) = (0, 0);
        for r in &records {
            let time = t1578_core::normalize(r.clone()).unwrap().time_ms;
            let span = (time - 86_400_000, time + 86_400_000);
            for line in containers(r) {
                lines += 1;
                for (p, span) in [
                    (e.prefilter(), None),
                    (e.prefilter().within(Some(span.0), Some(span.1)), Some(span)),
                ] {
                    if full_path_counts(&e, &line, span) {
                        counted += 1;
                        assert!(
                            p.may_match(line.as_bytes()),
                            "{profile:?} {span:?} skipped: {line}"
                        );
                    }
                }
            }
        }
        // Every variant counts but where the normalizer reads no record in it: most do.
        assert!(
            counted * 10 >= lines * 2 * 8,
            "{profile:?}: {counted} of {} counted",
            lines * 2
        );
    }
}

//! The `t1578` binary end to end: the main job, the seed query, persistence, the EventBridge
//! pattern, and bad input.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn t1578(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_t1578"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run t1578")
}

/// Run t1578 with `input` on its standard input.
fn t1578_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_t1578"))
        .args(args)
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run t1578");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("wait for t1578")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Alert lines of `--format json`, each checked against the committed schema.
fn alert_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(t1578_testkit::assert_valid_alert_text)
        .collect()
}

#[test]
fn replay_of_events_prints_alerts_of_both_clouds() {
    let o = t1578(&["replay", "--format", "json", "events/"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let alerts = alert_lines(&o);
    let clouds: BTreeSet<&str> = alerts
        .iter()
        .filter_map(|a| a["cloud"]["provider"].as_str())
        .collect();
    assert_eq!(clouds, BTreeSet::from(["AWS", "Azure"]));
    let seed = t1578(&["replay", "--profile", "seed-kql", "--format", "json", "events/"]);
    assert!(!alert_lines(&seed).is_empty(), "{}", stderr(&seed));
    assert!(stderr(&o).contains(" 0 parse errors"), "{}", stderr(&o));
    let table = t1578(&["replay", "events/scenarios"]);
    assert!(stdout(&table).starts_with("TIME"), "{}", stdout(&table));
}

#[test]
fn seed_query_over_log_analytics_rows_double_counts_start_and_success() {
    let o = t1578(&[
        "query",
        "--profile",
        "seed-kql",
        "--format",
        "json",
        "events/formats/azure-activity-la.json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_lines(&o);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r["PrincipalName"], "alice@contoso.com");
    assert_eq!(r["CallerIp"], "198.51.100.44");
    assert_eq!(r["ResourceGroup"], "RG-PROD-WEB");
    assert_eq!(r["SubscriptionId"], "aaaaaaaa-1111-2222-3333-444444444444");
    // Four operations, each logged Start and Success: the seed counts eight.
    assert_eq!(r["OperationCount"], 8);
    assert_eq!(r["UniqueResources"], 4);
    assert_eq!(r["TotalRiskScore"], 16);
    assert_eq!(
        r["AlertReason"],
        "High-risk compute operations: multiple delete/capture/generalize actions"
    );
    assert_eq!(r["FirstSeen"], "2026-11-07T09:12:03.527Z");
    assert_eq!(r["LastSeen"], "2026-11-07T09:26:05.527Z");
    let cols: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut want = vec![
        "FirstSeen",
        "LastSeen",
        "PrincipalName",
        "CallerIp",
        "ResourceGroup",
        "SubscriptionId",
        "OperationCount",
        "UniqueResources",
        "OperationTypes",
        "TotalRiskScore",
        "AlertReason",
        "Resources",
    ];
    want.sort();
    let mut got = cols.clone();
    got.sort();
    assert_eq!(got, want);
    // The default profile counts each operation once.
    let d = json_lines(&t1578(&[
        "query",
        "--profile",
        "default",
        "--format",
        "json",
        "events/formats/azure-activity-la.json",
    ]));
    assert_eq!(d[0]["OperationCount"], 4);
    // A window that ends before the deletes sees only the two snapshot writes (4 rows, 4 points).
    let early = json_lines(&t1578(&[
        "query",
        "--format",
        "json",
        "--until",
        "2026-11-07T09:16:00Z",
        "events/formats/azure-activity-la.json",
    ]));
    assert_eq!(early[0]["OperationCount"], 4);
    assert_eq!(
        early[0]["AlertReason"],
        "Suspicious compute infrastructure modification"
    );
}

#[test]
fn state_file_continues_windows_across_replays() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/scenarios/mixed-burst/events.json")).unwrap(),
    )
    .unwrap();
    let mut sorted = all.clone();
    sorted.sort_by_key(|e| e["detail"]["eventTime"].as_str().unwrap().to_string());
    let (a, b) = sorted.split_at(sorted.len() / 2);
    let write = |name: &str, v: &[Value]| {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
        p.to_string_lossy().to_string()
    };
    let (whole, first, second) = (
        write("whole.json", &sorted),
        write("a.json", a),
        write("b.json", b),
    );
    let state = dir.path().join("state.redb").to_string_lossy().to_string();
    let key = |v: &Value| {
        (
            v["metadata"]["correlation_uid"].as_str().unwrap().to_string(),
            v["unmapped"]["tier"].as_str().unwrap().to_string(),
            v["risk_score"].clone(),
        )
    };
    let once: Vec<_> = alert_lines(&t1578(&["replay", "--format", "json", &whole]))
        .iter()
        .map(key)
        .collect();
    let mut halves: Vec<_> = json_lines(&t1578(&["replay", "--format", "json", "--state", &state, &first]))
        .iter()
        .map(key)
        .collect();
    halves.extend(
        json_lines(&t1578(&[
            "replay", "--format", "json", "--state", &state, &second,
        ]))
        .iter()
        .map(key),
    );
    assert!(!once.is_empty());
    assert_eq!(once, halves);
    // Replaying again into the same state: every event is a duplicate, nothing alerts.
    assert!(json_lines(&t1578(&["replay", "--format", "json", "--state", &state, &whole])).is_empty());
}

#[test]
fn event_patterns_cover_exactly_the_aws_catalog_within_eventbridge_limits() {
    let o = t1578(&["event-pattern"]);
    assert!(o.status.success());
    let patterns: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let mut covered = BTreeSet::new();
    for p in &patterns {
        assert!(p.to_string().len() <= 4096);
        assert_eq!(p["detail"]["errorCode"], serde_json::json!([{"exists": false}]));
        let src = p["detail"]["eventSource"][0]
            .as_str()
            .unwrap()
            .trim_end_matches(".amazonaws.com")
            .to_string();
        assert_eq!(p["source"][0], format!("aws.{src}"));
        for n in p["detail"]["eventName"].as_array().unwrap() {
            covered.insert(format!("{src}:{}", n.as_str().unwrap()));
        }
    }
    let catalog: Value = serde_json::from_slice(&t1578(&["catalog", "--format", "json"]).stdout).unwrap();
    let want: BTreeSet<String> = catalog["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cloud"] == "aws")
        .map(|e| e["operation"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(covered, want);
    // Terraform deploys the committed copy: it must be current.
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("infra/aws/modules/detector/event-patterns.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(committed, Value::Array(patterns), "run `make event-pattern`");
}

/// `rel -> text` of the generated rules under `dir` (aws/, azure/, correlation/).
fn sigma_tree(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for sub in ["aws", "azure", "correlation"] {
        for f in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = f.unwrap().path();
            let rel = format!("{sub}/{}", p.file_name().unwrap().to_string_lossy());
            out.insert(rel, std::fs::read_to_string(&p).unwrap());
        }
    }
    out
}

#[test]
fn sigma_rules_cover_every_catalog_row_and_the_committed_copy_is_current() {
    let dir = tempfile::tempdir().unwrap();
    let o = t1578(&["sigma", "--out", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let generated = sigma_tree(dir.path());
    let catalog: Value = serde_json::from_slice(&t1578(&["catalog", "--format", "json"]).stdout).unwrap();
    let rows = catalog["operations"].as_array().unwrap();
    for row in rows {
        let id = row["id"].as_str().unwrap();
        let file = format!(
            "{}/t1578_{}.yml",
            row["cloud"].as_str().unwrap(),
            id.replace('.', "_")
        );
        let text = generated.get(&file).unwrap_or_else(|| panic!("no rule for {id}"));
        assert!(text.contains(&format!("catalog_id: '{id}'")), "{file}");
    }
    let correlations: Vec<&String> = generated
        .iter()
        .filter(|(k, _)| k.starts_with("correlation/"))
        .map(|(_, v)| v)
        .collect();
    assert!(!correlations.is_empty());
    assert!(correlations.iter().all(|t| t.contains("timespan: 1d")));
    assert_eq!(generated.len(), rows.len() + correlations.len());
    // Analysts load the committed copy: it must be current.
    let committed = sigma_tree(&root().join("shared/catalog/sigma"));
    assert!(committed == generated, "run `make sigma-rules`");
}

fn bad(name: &str) -> String {
    root()
        .join("cli/tests/data/bad")
        .join(name)
        .to_string_lossy()
        .to_string()
}

#[test]
fn unreadable_inputs_are_named_and_the_rest_is_processed() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.json");
    // A 50 MB single line: one JSON string, not a record.
    std::fs::write(&huge, format!("{{\"eventName\":\"{}\"", "A".repeat(50 << 20))).unwrap();
    let good = root()
        .join("events/aws/ec2-modify-snapshot-attribute-share.json")
        .to_string_lossy()
        .to_string();
    let o = t1578(&[
        "replay",
        "--format",
        "json",
        &bad("truncated.json"),
        &bad("binary.bin"),
        &bad("empty.json"),
        huge.to_str().unwrap(),
        &good,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    for f in ["binary.bin", "empty.json", "huge.json"] {
        assert!(
            err.lines().any(|l| l.contains("cannot read") && l.contains(f)),
            "{f} not reported:\n{err}"
        );
    }
    assert!(err.contains("empty input") && err.contains("not UTF-8"), "{err}");
    // A cut S3 log file is read up to the cut, and the cut is reported where it is.
    assert!(
        err.lines()
            .any(|l| l.contains("truncated.json record") && l.contains("truncated")),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    assert_eq!(
        json_lines(&o).len(),
        2,
        "the good file still alerts, and so do the whole records before the cut"
    );
}

#[test]
fn bad_records_in_a_file_are_counted_by_kind_with_positions() {
    let o = t1578(&["replay", "--format", "json", &bad("mixed.jsonl")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("invalid_json: 1"), "{err}");
    assert!(err.contains("missing_field"), "{err}");
    assert!(err.contains("mixed.jsonl:3"), "{err}");
    // Control characters from the log are escaped in what we print.
    assert!(!err.contains('\u{0}'));
    for line in stdout(&o).lines() {
        serde_json::from_str::<Value>(line).unwrap();
    }
}

#[test]
fn missing_path_is_a_one_line_reason_and_non_zero_exit() {
    let o = t1578(&["replay", "/nonexistent/file.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/file.json: no such file"));
}

#[test]
fn gzip_and_stdin_inputs_are_read() {
    let gz = t1578(&[
        "replay",
        "--format",
        "json",
        "events/formats/cloudtrail-s3-log.json.gz",
    ]);
    let plain = t1578(&[
        "replay",
        "--format",
        "json",
        "events/formats/cloudtrail-s3-log.json",
    ]);
    assert!(gz.status.success(), "{}", stderr(&gz));
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_eq!(stdout(&plain).lines().count(), 3, "the log's three alerts");
    assert_eq!(stdout(&gz), stdout(&plain));
    // The same document on standard input, and JSON lines there too.
    let piped = t1578_stdin(
        &["replay", "--format", "json", "-"],
        &std::fs::read(root().join("events/formats/cloudtrail-s3-log.json")).unwrap(),
    );
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(stdout(&piped), stdout(&plain));
    let lines = t1578_stdin(
        &["replay", "--format", "json", "-"],
        &std::fs::read(root().join("events/formats/cloudtrail.jsonl")).unwrap(),
    );
    assert!(lines.status.success(), "{}", stderr(&lines));
    assert!(
        stderr(&lines).contains("6 records read (2 skipped by the fast path), 4 in scope, 0 parse errors"),
        "{}",
        stderr(&lines)
    );
}

/// `replay --format json` of `paths`: its alerts, and its one-line summary from "N files" on.
fn replay_summary(paths: &[&str]) -> (String, String) {
    let mut args = vec!["replay", "--format", "json"];
    args.extend_from_slice(paths);
    let o = t1578(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let line = err.lines().find(|l| l.contains(" files, ")).unwrap_or_default();
    (stdout(&o), line.trim_start_matches("t1578: ").to_string())
}

#[test]
fn json_lines_with_a_byte_order_mark_stay_json_lines() {
    let ct = "events/formats/cloudtrail.jsonl";
    let az = "events/formats/azure-storage-export-PT1H.json";
    let (alerts, summary) = replay_summary(&[ct, az]);
    // The export's snapshot copy names its source on its Start, which is parsed to compare the
    // source's subscription with the record's (a copy within it: not in scope); its snapshot
    // export's Start, which says how long the URL reads, is in scope.
    assert!(
        summary
            .starts_with("2 files, 11 records read (2 skipped by the fast path), 8 in scope, 0 parse errors"),
        "{summary}"
    );
    assert!(!alerts.is_empty());
    let bom = |path: &str| {
        [
            b"\xEF\xBB\xBF".as_slice(),
            &std::fs::read(root().join(path)).unwrap(),
        ]
        .concat()
    };
    let dir = tempfile::tempdir().unwrap();
    // As Windows tools write them (a mark at the start of each file), and both joined by `cat`
    // (the second mark at the start of a line inside the file).
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("a.jsonl"), bom(ct)).unwrap();
    std::fs::write(files.join("b.json"), bom(az)).unwrap();
    let joined = [bom(ct), bom(az)].concat();
    std::fs::write(dir.path().join("joined.jsonl"), &joined).unwrap();
    std::fs::write(dir.path().join("joined.jsonl.gz"), gzip(&joined)).unwrap();
    for (input, files_read) in [("files", 2), ("joined.jsonl", 1), ("joined.jsonl.gz", 1)] {
        let path = dir.path().join(input);
        let (got, line) = replay_summary(&[path.to_str().unwrap()]);
        // Read whole as one document, the mark cost the fast path (0 skipped) and memory.
        let want = summary.replacen("2 files", &format!("{files_read} files"), 1);
        assert_eq!(line, want, "{input}");
        assert_eq!(got, alerts, "{input}");
    }
}

#[test]
fn a_trail_sent_to_cloudwatch_logs_reads_from_its_export_and_from_firehose() {
    let ct = "events/formats/cloudtrail.jsonl";
    let (alerts, summary) = replay_summary(&[ct]);
    assert!(
        summary
            .starts_with("1 files, 6 records read (2 skipped by the fast path), 4 in scope, 0 parse errors"),
        "{summary}"
    );
    let records: Vec<String> = std::fs::read_to_string(root().join(ct))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    // `aws logs create-export-task`: `<ingestion time> <message>` lines, gzipped.
    let export: String = records
        .iter()
        .enumerate()
        .map(|(i, r)| format!("2026-11-06T10:07:{i:02}.123Z {r}\n"))
        .collect();
    let export_path = dir.path().join("000000.gz");
    std::fs::write(&export_path, gzip(export.as_bytes())).unwrap();
    let (got, line) = replay_summary(&[export_path.to_str().unwrap()]);
    assert_eq!((got.as_str(), line.as_str()), (alerts.as_str(), summary.as_str()));
    // Firehose from a subscription filter: payloads appended with no separator, gzipped.
    let payload = |k: usize, rs: &[String]| {
        let events: Vec<Value> = rs
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"id": format!("{k}{i}"), "timestamp": 1_793_491_805_123_i64, "message": r}))
            .collect();
        json!({"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "trail",
               "logStream": "s", "subscriptionFilters": ["all"], "logEvents": events})
        .to_string()
    };
    let firehose: String = records
        .chunks(4)
        .enumerate()
        .map(|(k, c)| payload(k, c))
        .collect();
    // Firehose's own object name, no suffix: the directory walk takes it, not the note beside it.
    let firehose_dir = dir.path().join("2026/11/06/10");
    std::fs::create_dir_all(&firehose_dir).unwrap();
    std::fs::write(
        firehose_dir.join("trail-1-2026-11-06-10-07-00-0f1e2d3c-4b5a-6978-8a9b-acbdcedf0011"),
        gzip(firehose.as_bytes()),
    )
    .unwrap();
    std::fs::write(
        firehose_dir.join("trail-1-2026-11-06-10-07-00-notes"),
        b"not a log",
    )
    .unwrap();
    let (got, line) = replay_summary(&[dir.path().join("2026").to_str().unwrap()]);
    assert_eq!(got, alerts);
    // Read whole, so without the fast path: every record is parsed.
    assert!(
        line.starts_with("1 files, 6 records read (0 skipped by the fast path), 4 in scope, 0 parse errors"),
        "{line}"
    );
}

#[test]
fn event_hubs_capture_files_read_as_the_activity_log_they_carry() {
    let az = "events/formats/azure-storage-export-PT1H.json";
    let (alerts, summary) = replay_summary(&[az]);
    assert!(
        summary
            .starts_with("1 files, 5 records read (0 skipped by the fast path), 4 in scope, 0 parse errors"),
        "{summary}"
    );
    assert!(!alerts.is_empty());
    // Written by fastavro (cli/tests/data/capture/make.py): the same records in {"records"}
    // bodies, an event without a body, one event a block; with AvroDeflate and plain Avro.
    let deflate = "cli/tests/data/capture/capture-deflate.avro";
    let (got, line) = replay_summary(&[deflate]);
    assert!(got == alerts, "{got}");
    // Each body is parsed whole: no record is skipped unparsed.
    let whole = summary.replace("(1 skipped by the fast path)", "(0 skipped by the fast path)");
    assert_eq!(line, whole);
    // A body that is no Activity Log message is that event's error; the others are read.
    let o = t1578(&[
        "replay",
        "--format",
        "json",
        "cli/tests/data/capture/capture-null.avro",
    ]);
    assert!(stdout(&o) == alerts, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("1 files, 6 records read (0 skipped by the fast path), 4 in scope, 1 parse errors"),
        "{err}"
    );
    assert!(err.contains("capture-null.avro event 4 record 0"), "{err}");
    // Cut inside its last block: the events of the blocks before are read, the cut is named.
    let bytes = std::fs::read(root().join(deflate)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("00.avro");
    std::fs::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
    let o = t1578(&["replay", "--format", "json", cut.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(err.contains("1 files, 4 records read"), "{err}");
    assert!(err.contains("00.avro: Avro, at event 3"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
}

#[test]
fn a_small_reorder_buffer_gives_the_same_alerts_as_a_full_sort() {
    // Sparse in-scope events: 16 held-back events span far more than the 1 h window, so windows
    // are pruned while the reader runs ahead. Pruning must follow what was processed.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("aws.jsonl").to_string_lossy().to_string();
    assert!(t1578(&["generate", "aws", "--records", "20000", "--out", &data])
        .status
        .success());
    // seed-kql: every principal of this one-day file is new, and only the seed alerts on a
    // single destructive operation, so it has the most windows to prune.
    let replay = |reorder: &str| {
        t1578(&[
            "replay",
            "--format",
            "json",
            "--profile",
            "seed-kql",
            "--window",
            "1h",
            "--reorder",
            reorder,
            &data,
        ])
    };
    let (small, full) = (replay("16"), replay("1000000"));
    assert!(!stdout(&full).is_empty());
    assert_eq!(stdout(&small), stdout(&full));
}

#[test]
fn events_out_of_order_within_the_reorder_buffer_give_the_alerts_of_the_ordered_input() {
    // A workload, in time order, with attacks after its warm-up. Reversing each half hour of it
    // is the disorder of CloudTrail files and hourly Activity Log blobs; the default buffer of
    // 2,048 in-scope events holds about three days of this workload.
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("wl");
    let o = t1578(&[
        "generate",
        "workload",
        "aws",
        "--days",
        "15",
        "--principals",
        "40",
        "--out",
        wl.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ordered = wl.join("events.jsonl.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&ordered).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let half_hour = |line: &str| {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let t = chrono::DateTime::parse_from_rfc3339(v["eventTime"].as_str().unwrap()).unwrap();
        t.timestamp() / 1800
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut shuffled: Vec<&str> = Vec::with_capacity(lines.len());
    for chunk in lines.chunk_by(|a, b| half_hour(a) == half_hour(b)) {
        shuffled.extend(chunk.iter().rev());
    }
    assert_ne!(shuffled, lines);
    let disordered = dir.path().join("disordered.jsonl");
    std::fs::write(&disordered, shuffled.join("\n") + "\n").unwrap();
    let (ordered, disordered) = (ordered.to_str().unwrap(), disordered.to_str().unwrap());
    let expected = sorted_replay(&[], ordered);
    assert!(!expected.is_empty());
    assert_eq!(sorted_replay(&[], disordered), expected);
    // Without the buffer the same disorder changes the alerts: so the equality above is the
    // buffer's doing.
    assert_ne!(sorted_replay(&["--reorder", "0"], disordered), expected);
}

#[test]
fn a_folder_of_files_weeks_apart_gives_the_alerts_of_a_full_sort() {
    // events/ is read file by file in name order, weeks apart in time: the default buffer
    // must hold enough of it that the first events of each account and principal are seen
    // first. (A hold of two hours instead lost 4 of its 84 alerts, 3 of them critical.)
    let sorted = sorted_replay(&["--reorder", "1000000"], "events/");
    assert!(sorted.len() > 50, "{} alerts", sorted.len());
    assert_eq!(sorted_replay(&[], "events/"), sorted);
    assert_ne!(sorted_replay(&["--reorder", "0"], "events/"), sorted);
}

/// The alert lines of `replay --format json EXTRA.. PATH`, sorted: alerts of one time are
/// printed in the order their events came, which is what the reorder tests vary.
fn sorted_replay(extra: &[&str], path: &str) -> Vec<String> {
    let mut args = vec!["replay", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(path);
    let o = t1578(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut alerts: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
    alerts.sort();
    alerts
}

#[test]
fn compare_config_prints_the_alerts_a_change_adds_or_removes() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let loose = dir.path().join("loose.toml");
    // Lower the bar in the AWS account, for new principals too (a baseline knob): more alerts
    // there, none fewer anywhere.
    std::fs::write(
        &loose,
        "[accounts.\"111122223333\"]\nthresholds = { risk = 1 }\n\
         [accounts.\"111122223333\".baseline]\nnew_principal_risk = 0\n",
    )
    .unwrap();
    // `replay --format json --config A --compare-config B events/aws`: one change per line.
    let compare_on = |a: &std::path::Path, b: &std::path::Path, events: &str| {
        let o = t1578(&[
            "replay",
            "--format",
            "json",
            "--config",
            a.to_str().unwrap(),
            "--compare-config",
            b.to_str().unwrap(),
            events,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        json_lines(&o)
    };
    let compare = |a: &std::path::Path, b: &std::path::Path| compare_on(a, b, "events/aws");
    let changes = compare(&empty, &loose);
    assert!(!changes.is_empty());
    assert!(changes
        .iter()
        .all(|c| c["change"] == "added" && c["alert"]["cloud"]["account"]["uid"] == "111122223333"));
    changes
        .iter()
        .for_each(|c| t1578_testkit::assert_valid_alert(&c["alert"]));
    // The reverse comparison removes exactly those.
    let back = compare(&loose, &empty);
    assert_eq!(back.len(), changes.len());
    assert!(back.iter().all(|c| c["change"] == "removed"));
    // The same configuration on both sides changes nothing.
    assert!(compare(&loose, &loose).is_empty());
    // A baseline knob alone, on a burst by a new principal: with the seed's 3 points for its
    // lowest tier, the first delete (3) opens the finding; by default it is evidence and the
    // finding opens at high risk.
    let knob = dir.path().join("knob.toml");
    std::fs::write(&knob, t1578_testkit::SEED_TIERS).unwrap();
    let by_knob = compare_on(&empty, &knob, "events/scenarios/mixed-burst");
    // The reports keep their finding but not their numbers: each one is added or changed.
    assert!(by_knob
        .iter()
        .any(|c| c["alert"]["unmapped"]["tier"] == "suspicious"
            && c["alert"]["unmapped"]["baseline"]["established"] == false
            && c["alert"]["risk_score"] == 3
            && c["alert"]["activity_id"] == 1));
    assert!(by_knob.iter().all(|c| c["change"] != "removed"), "{by_knob:?}");
}

#[test]
fn an_invalid_configuration_is_refused_naming_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[allow]]\nprincipal = \"arn:aws:iam::*:role/[\"\nreason = \"x\"\n",
    )
    .unwrap();
    let o = t1578(&["replay", "--config", bad.to_str().unwrap(), "events/aws"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("bad.toml") && err.contains("allow[0].principal") && err.contains("glob"),
        "{err}"
    );
    assert!(stdout(&o).is_empty(), "nothing runs on a half-read configuration");
    let example = t1578(&[
        "catalog",
        "--format",
        "json",
        "--config",
        "events/tuning/example.toml",
    ]);
    let cat: Value = serde_json::from_slice(&example.stdout).unwrap();
    let run = cat["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "aws.ec2.run_instances")
        .unwrap();
    assert_eq!(run["risk"], 0, "catalog shows the configured score");
}

/// The record of `events/aws/ec2-delete-snapshot.json`: the base of the reader tests that
/// need many in-scope records.
fn delete_snapshot() -> Value {
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/aws/ec2-delete-snapshot.json")).unwrap(),
    )
    .unwrap();
    event["detail"].clone()
}

/// The arguments of a seed-kql replay of `input` printing JSON.
fn seed_kql_json(input: &str) -> [&str; 6] {
    ["replay", "--format", "json", "--profile", "seed-kql", input]
}

/// `text` written to `path` and replayed by [`seed_kql_json`] from there (the parallel file
/// reader) and from standard input (the stream reader).
fn replay_file_and_stdin(path: &std::path::Path, text: &str) -> (Output, Output) {
    std::fs::write(path, text).unwrap();
    (
        t1578(&seed_kql_json(path.to_str().unwrap())),
        t1578_stdin(&seed_kql_json("-"), text.as_bytes()),
    )
}

/// `base` as record `i`: event id `evt-{i}`, snapshot `snap-{i:05}`.
fn numbered(base: &Value, i: usize) -> Value {
    let mut r = base.clone();
    r["eventID"] = Value::from(format!("evt-{i}"));
    r["requestParameters"]["snapshotId"] = Value::from(format!("snap-{i:05}"));
    r
}

#[test]
fn the_parallel_file_reader_agrees_with_the_stream_reader_across_block_boundaries() {
    // ~3.5 MiB: records straddle the 1 MiB blocks, one line is longer than a block, a bad line
    // sits deep in the file, and the last line has no newline.
    let base = delete_snapshot();
    let mut lines = Vec::new();
    for i in 0..1500 {
        let mut r = numbered(&base, i);
        r["userAgent"] = Value::from("u".repeat(i % 3000));
        lines.push(serde_json::to_string(&r).unwrap());
        if i == 700 {
            let mut long = base.clone();
            long["eventID"] = Value::from("evt-long");
            long["userAgent"] = Value::from("L".repeat(1_500_000));
            lines.push(serde_json::to_string(&long).unwrap());
        }
        if i == 1300 {
            lines.push("{not json".into());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (file, stream) = replay_file_and_stdin(&dir.path().join("big.jsonl"), &lines.join("\n"));
    assert!(file.status.success() && stream.status.success());
    assert_eq!(stdout(&file), stdout(&stream));
    let err = stderr(&file);
    assert!(
        err.contains("1502 records read") && err.contains("1501 in scope"),
        "{err}"
    );
    // Line 1303: 1300 records before it, plus the long line, plus itself.
    assert!(err.contains("big.jsonl:1303: invalid_json"), "{err}");
    assert!(
        stderr(&stream).contains("-:1303: invalid_json"),
        "{}",
        stderr(&stream)
    );
}

/// A big file whose every line is in scope: each block holds a few hundred events, so the
/// workers of the parallel reader reach their bound on events held (not the one on blocks)
/// and wait for delivery whenever they are ahead (twice in a debug build's run, counted with
/// a print in the wait). Every record is read, once and in order, as from standard input.
#[test]
fn a_big_file_of_in_scope_records_is_read_whole_by_workers_that_wait_for_room() {
    let base = delete_snapshot();
    let mut lines = Vec::new();
    for i in 0..12_000 {
        let mut r = numbered(&base, i);
        // Spread over an hour.
        r["eventTime"] = Value::from(format!("2026-11-22T10:{:02}:{:02}Z", i / 200 % 60, i % 60));
        lines.push(serde_json::to_string(&r).unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dense.jsonl");
    let (file, stream) = replay_file_and_stdin(&path, &lines.join("\n"));
    assert!(
        std::fs::metadata(&path).unwrap().len() > 8 << 20,
        "big enough for the parallel reader"
    );
    assert!(
        file.status.success() && stream.status.success(),
        "{}",
        stderr(&file)
    );
    assert!(!alert_lines(&file).is_empty(), "{}", stderr(&file));
    assert_eq!(stdout(&file), stdout(&stream));
    // Both readers read every record: the alerts alone would be the same from half of them.
    for err in [stderr(&file), stderr(&stream)] {
        assert!(
            err.contains("12000 records read") && err.contains("12000 in scope"),
            "{err}"
        );
    }
}

/// A big file that is mostly unreadable lines (JSON cut short), with in-scope records among
/// them: every bad line is counted by kind, the first five are named by line,
/// and the records are read as if the bad lines were not there, from a file (the parallel
/// reader) and from standard input (the stream reader) alike.
#[test]
fn a_file_of_unreadable_lines_is_counted_whole_and_its_records_still_read() {
    let base = delete_snapshot();
    let (mut lines, mut good) = (Vec::new(), Vec::new());
    let mut bad = 0;
    for i in 0..400_000 {
        // The first line is a record: a file whose first line is not one is read as a document.
        if i % 10_000 == 0 {
            let r = numbered(&base, i);
            lines.push(serde_json::to_string(&r).unwrap());
            good.push(lines.last().unwrap().clone());
        } else {
            lines.push(format!("{{\"log\":\"Dec  2 03:00:00 host sshd[{i}]: cut short"));
            bad += 1;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, clean) = (dir.path().join("mixed.jsonl"), dir.path().join("clean.jsonl"));
    let (file, stream) = replay_file_and_stdin(&path, &lines.join("\n"));
    std::fs::write(&clean, good.join("\n")).unwrap();
    let only_good = t1578(&seed_kql_json(clean.to_str().unwrap()));
    assert!(
        std::fs::metadata(&path).unwrap().len() > 16 << 20,
        "big enough for the parallel reader"
    );
    assert!(file.status.success() && stream.status.success() && only_good.status.success());
    assert!(!alert_lines(&only_good).is_empty(), "{}", stderr(&only_good));
    for (o, name) in [(&file, path.display().to_string()), (&stream, "-".to_string())] {
        assert_eq!(
            stdout(o),
            stdout(&only_good),
            "{name}: the records among bad lines"
        );
        let err = stderr(o);
        assert!(err.contains(&format!("{bad} parse errors")), "{name}: {err}");
        assert!(err.contains(&format!("invalid_json: {bad}")), "{name}: {err}");
        let named: Vec<&str> = err.lines().filter(|l| l.contains(" parked ")).collect();
        let want: Vec<String> = (2..=6).map(|n| format!("{name}:{n}: invalid_json")).collect();
        assert_eq!(named.len(), 5, "{name}: {err}");
        for (line, w) in named.iter().zip(&want) {
            assert!(line.contains(w.as_str()), "{name}: {line} is not {w}");
        }
    }
}

#[test]
fn a_line_starting_exactly_on_a_block_boundary_is_read() {
    // The parallel reader cuts the file into 1 MiB blocks: the second line is padded so the
    // third starts exactly at 1 MiB, and the third so the fourth starts exactly at 2 MiB. (The
    // first stays short: a file is read as JSON lines only when its first line is a record.)
    let base = delete_snapshot();
    let line = |i: usize, len: Option<usize>| {
        let mut r = numbered(&base, i);
        r["userAgent"] = Value::from("");
        let bare = serde_json::to_string(&r).unwrap().len();
        if let Some(len) = len {
            r["userAgent"] = Value::from("u".repeat(len - 1 - bare));
        }
        serde_json::to_string(&r).unwrap()
    };
    let first = line(0, None);
    let mut lines = vec![line(1, Some((1 << 20) - first.len() - 1)), line(2, Some(1 << 20))];
    lines.insert(0, first);
    lines.extend((3..5).map(|i| line(i, None)));
    let text = lines.join("\n") + "\n";
    assert_eq!(lines[0].len() + lines[1].len() + 2, 1 << 20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aligned.jsonl");
    std::fs::write(&path, &text).unwrap();
    let out = t1578(&["replay", "--profile", "seed-kql", path.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(
        err.contains("5 records read") && err.contains("5 in scope"),
        "{err}"
    );
}

#[test]
fn show_prints_one_alert_with_its_guide_and_queries() {
    let input = "events/aws/ec2-modify-snapshot-attribute-share.json";
    let all = alert_lines(&t1578(&["replay", "--format", "json", input]));
    let a = all
        .iter()
        .find(|a| a["unmapped"]["trigger_catalog_id"] == "aws.ec2.snapshot_shared")
        .expect("the share alerts");
    let guide = &a["unmapped"]["guide"];
    assert!(!guide["steps"].as_array().unwrap().is_empty());
    assert_eq!(guide["queries"].as_array().unwrap().len(), 6, "3 per SQL dialect");
    let id = a["metadata"]["uid"].as_str().unwrap();
    let text = t1578(&["show", id, input]);
    assert!(text.status.success(), "{}", stderr(&text));
    let out = stdout(&text);
    let snap = a["resources"][0]["uid"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    for want in [
        "QUESTIONS",
        "CONTAINMENT AND REVERT",
        "HUNTING QUERIES",
        "-- principal_activity / athena_sql",
        &format!("$ aws ec2 reset-snapshot-attribute --region eu-west-1 --snapshot-id {snap} --attribute createVolumePermission"),
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // By dedup key too, and as the whole document.
    let dedup = a["metadata"]["correlation_uid"].as_str().unwrap();
    let json = t1578(&["show", "--format", "json", dedup, input]);
    let doc = t1578_testkit::assert_valid_alert_text(&stdout(&json));
    assert_eq!(&doc, a);
    let missing = t1578(&["show", "no-such-alert", input]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no alert with id or dedup key"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn parked_records_from_the_azure_dead_letter_container_replay() {
    // A blob as the Function parks it (`functions/azure-function/src/deadletter.rs`): one line
    // per record, the reason and position under `parked`, the record as received in `records`.
    // The first record is one 3-point operation by a new principal: evidence by default, so the
    // seed's 3 points are configured to see both redriven records alert.
    let dir = tempfile::tempdir().unwrap();
    let seed_tiers = dir.path().join("seed-tiers.toml");
    std::fs::write(&seed_tiers, t1578_testkit::SEED_TIERS).unwrap();
    let o = t1578(&[
        "replay",
        "--format",
        "json",
        "--config",
        seed_tiers.to_str().unwrap(),
        "cli/tests/data/deadletter-azure.jsonl",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let alerts = alert_lines(&o);
    let tiers: Vec<&str> = alerts
        .iter()
        .map(|a| a["finding_info"]["types"][0].as_str().unwrap())
        .collect();
    assert_eq!(tiers, ["suspicious", "critical"], "both parked records redriven");
    let err = stderr(&o);
    assert!(err.contains("3 records read"), "{err}");
    assert!(err.contains("2 in scope"), "{err}");
    assert!(
        err.contains("deadletter-azure.jsonl:3: not_an_object"),
        "the unreadable parked body is named: {err}"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// `n` distinct CloudTrail snapshot shares, each its own principal (one alert each).
fn shares(n: usize) -> Vec<Value> {
    let base: Value = serde_json::from_slice(
        &std::fs::read(root().join("events/aws/ec2-modify-snapshot-attribute-share.json")).unwrap(),
    )
    .unwrap();
    let rec = base.get("detail").cloned().unwrap_or(base);
    (0..n)
        .map(|i| {
            let mut r = rec.clone();
            r["eventID"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
            r["userIdentity"]["userName"] = json!(format!("user{i}"));
            r["userIdentity"]["arn"] = json!(format!("arn:aws:iam::111122223333:user/user{i}"));
            r["userIdentity"]["principalId"] = json!(format!("AIDAEXAMPLE{i:09}"));
            r
        })
        .collect()
}

#[test]
fn a_truncated_gzip_processes_every_whole_record_before_the_cut_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let recs = shares(400);
    let lines: String = recs.iter().map(|r| format!("{r}\n")).collect();
    let doc = json!({ "Records": recs }).to_string();
    for (name, text) in [("lines.jsonl.gz", lines), ("s3.json.gz", doc)] {
        let packed = gzip(text.as_bytes());
        let path = dir.path().join(name);
        // Cut at 60 %: inside the deflate stream, far from its end.
        std::fs::write(&path, &packed[..packed.len() * 6 / 10]).unwrap();
        let o = t1578(&["replay", "--format", "json", path.to_str().unwrap()]);
        let err = stderr(&o);
        let count = |after: &str| -> usize {
            err.split(after)
                .next()
                .and_then(|s| s.rsplit(' ').next())
                .unwrap()
                .parse()
                .unwrap()
        };
        let (read, in_scope) = (count(" records read"), count(" in scope"));
        // Whatever the compressor did, the records before the cut are a good part of them.
        assert!(read > 100 && read < 400, "{name}: {read} read\n{err}");
        assert_eq!(
            in_scope, read,
            "{name}: every whole record read is processed\n{err}"
        );
        assert!(!alert_lines(&o).is_empty(), "{name}: and decided on\n{err}");
        assert!(err.contains("truncated: 1"), "{name}: the cut is reported\n{err}");
        assert!(!err.contains("invalid_json"), "{name}: not as a bad line\n{err}");
        assert!(!err.contains("cannot read"), "{name}: {err}");
    }
}

/// CloudTrail S3 files larger than the reader's first look are streamed record by record by
/// the pool: they alert as the same records given as JSON lines. One of them has another key
/// after `Records` (not CloudTrail's shape): it is read again whole, and its records count too.
#[test]
fn big_cloudtrail_files_read_together_alert_as_their_records_as_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (docs, lines) = (dir.path().join("docs"), dir.path().join("lines"));
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::create_dir_all(&lines).unwrap();
    let recs = shares(900);
    let mut all = String::new();
    for (k, chunk) in recs.chunks(300).enumerate() {
        let mut doc = json!({ "Records": chunk }).to_string();
        if k == 1 {
            doc = format!("{},\"x\":1}}", doc.strip_suffix('}').unwrap());
        }
        assert!(doc.len() > 128 << 10, "past the first 64 KiB read");
        let name = format!("111122223333_CloudTrail_us-east-1_20260101T000{k}Z_A.json");
        std::fs::write(docs.join(format!("{name}.gz")), gzip(doc.as_bytes())).unwrap();
        all.extend(chunk.iter().map(|r| format!("{r}\n")));
    }
    std::fs::write(lines.join("all.jsonl"), all).unwrap();
    let replay = |p: &std::path::Path| t1578(&["replay", "--format", "json", p.to_str().unwrap()]);
    let (d, l) = (replay(&docs), replay(&lines));
    assert!(d.status.success() && l.status.success(), "{}", stderr(&d));
    assert!(!alert_lines(&d).is_empty(), "{}", stderr(&d));
    assert_eq!(stdout(&d), stdout(&l));
    assert!(stderr(&d).contains("3 files, 900 records read"), "{}", stderr(&d));
    assert!(stderr(&d).contains(" 0 parse errors"), "{}", stderr(&d));
}

#[test]
fn truncated_files_read_together_each_keep_their_whole_records_and_report_their_cut() {
    // Several files go through the two-worker pool rather than the one-file reader.
    let dir = tempfile::tempdir().unwrap();
    let recs = shares(400);
    let lines: String = recs.iter().map(|r| format!("{r}\n")).collect();
    let doc = json!({ "Records": recs }).to_string();
    for (name, text) in [("a-lines.jsonl.gz", lines), ("b-s3.json.gz", doc)] {
        let packed = gzip(text.as_bytes());
        std::fs::write(dir.path().join(name), &packed[..packed.len() * 6 / 10]).unwrap();
    }
    let o = t1578(&["replay", "--format", "json", dir.path().to_str().unwrap()]);
    let err = stderr(&o);
    let count = |after: &str| -> usize {
        err.split(after)
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    let (read, in_scope) = (count(" records read"), count(" in scope"));
    assert!(read > 200 && read < 800, "{read} read\n{err}");
    assert_eq!(in_scope, read, "every whole record read is processed\n{err}");
    assert!(err.contains("truncated: 2"), "each cut is reported once\n{err}");
    // The JSON-lines cut is named by its line: the one after the last whole line.
    let line_cut = err
        .lines()
        .find(|l| l.contains("a-lines.jsonl.gz:") && l.contains("truncated"))
        .unwrap_or_else(|| panic!("no line position\n{err}"));
    let at: usize = line_cut
        .split("a-lines.jsonl.gz:")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line_cut}"));
    assert!(at > 100 && at <= 400, "{line_cut}");
    assert!(
        !err.contains("invalid_json") && !err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn an_event_time_outside_the_representable_range_is_a_parse_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = shares(3);
    recs[0]["eventTime"] = json!(i64::MIN);
    recs[1]["eventTime"] = json!("-292277022657-01-27T08:29:52Z");
    let path = dir.path().join("times.jsonl");
    let text: String = recs.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let o = t1578(&["replay", "--format", "json", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("times.jsonl:1: invalid_field: field `eventTime` is invalid"),
        "{err}"
    );
    assert!(err.contains("times.jsonl:2"), "{err}");
    let alerts = alert_lines(&o);
    assert_eq!(alerts.len(), 1, "only the record with a real time alerts");
    assert!(
        alerts[0]["time_dt"].as_str().unwrap().starts_with("20"),
        "{}",
        alerts[0]["time_dt"]
    );
}

#[test]
fn fuzz_found_inputs_read_or_report_without_panicking() {
    // Inputs the cli_reader fuzz target found (fuzz/fuzz_targets/cli_reader.rs): a document
    // that is unreadable whole (invalid UTF-8, a control character) but whose prefix, cut by a
    // truncated gzip, is a good document. Whole: named and skipped; cut: the prefix's whole
    // records read, the cut reported.
    // And a `{"Records":[...]}` document ending in a backslash inside a string: the record
    // scanner stepped past the end (found by the 10-minute `make fuzz` run).
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "cli_reader-cut-prefix-readable.json",
        "cli_reader-control-char-past-cut.json",
        "cli_reader-backslash-at-end.json",
    ] {
        let path = root().join("cli/tests/data/fuzz").join(name);
        let whole = t1578(&["replay", "--format", "json", path.to_str().unwrap()]);
        let err = stderr(&whole);
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(
            err.contains("cannot read") || err.contains("invalid_json") || err.contains("parked"),
            "{name}: the bad document is reported\n{err}"
        );
        let bytes = std::fs::read(&path).unwrap();
        let packed = gzip(&bytes);
        let cut = dir.path().join(format!("{name}.gz"));
        std::fs::write(&cut, &packed[..bytes[0] as usize * packed.len() / 256]).unwrap();
        let o = t1578(&["replay", "--format", "json", cut.to_str().unwrap()]);
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{name}: {err}");
        // Either the prefix's whole records are read and the cut is a `truncated` error, or
        // the prefix is no document at all and the reason names the cut.
        assert!(
            err.contains("truncated") || err.contains("input cut short"),
            "{name}: the cut is reported\n{err}"
        );
    }
}

/// A trail's archive in the organization-trail layout holding a snapshot share to
/// 444455556666, which is (`with_recipient`) or is not one of the archive's accounts.
fn org_trail(with_recipient: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![("111122223333", "ec2-modify-snapshot-attribute-share.json")];
    if with_recipient {
        files.push(("444455556666", "ec2-delete-snapshot.json"));
    }
    for (acct, fixture) in files {
        let day = format!("AWSLogs/o-abc123def4/{acct}/CloudTrail/us-east-1/2026/10/01");
        let day = dir.path().join(day);
        std::fs::create_dir_all(&day).unwrap();
        std::fs::copy(root().join("events/aws").join(fixture), day.join(fixture)).unwrap();
    }
    dir
}

fn tiers(o: &Output) -> Vec<String> {
    alert_lines(o)
        .iter()
        .map(|a| a["unmapped"]["tier"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_share_to_an_account_of_the_archive_is_not_a_critical() {
    let outside = org_trail(false);
    let o = t1578(&["replay", "--format", "json", outside.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(tiers(&o), ["critical"]);
    let inside = org_trail(true);
    let path = inside.path().to_str().unwrap();
    let o = t1578(&["replay", "--format", "json", path]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!tiers(&o).contains(&"critical".to_string()), "{:?}", tiers(&o));
    assert!(
        stderr(&o).contains("3 accounts, organizations or subscriptions named by the inputs' key layout"),
        "{}",
        stderr(&o)
    );
    let o = t1578(&["replay", "--format", "json", "--own-accounts", "none", path]);
    assert!(tiers(&o).contains(&"critical".to_string()), "{:?}", tiers(&o));
    assert!(!stderr(&o).contains("key layout"), "{}", stderr(&o));
}

/// `--aws-ip-ranges`: an instance's session stopping an instance from a VPS address (1 point,
/// no tier) alerts with the ranges and not without them, and a ranges file that holds none is
/// refused naming the flag.
#[test]
fn aws_ranges_make_an_instances_call_from_outside_aws_a_finding() {
    let dir = std::env::temp_dir().join(format!("t1578-cli-ranges-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(root().join("events/aws/ec2-stop-instances.json")).unwrap();
    let mut rec: Value = serde_json::from_str(&text).unwrap();
    let d = &mut rec["detail"];
    d["userIdentity"]["arn"] = json!("arn:aws:sts::111122223333:assumed-role/web-node/i-0123456789abcdef0");
    d["userIdentity"]["principalId"] = json!("AROAGTORWAAKLPWFBGYGE:i-0123456789abcdef0");
    d["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
        json!("arn:aws:iam::111122223333:role/web-node");
    d["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] = json!("web-node");
    d["sourceIPAddress"] = json!("45.77.10.20");
    let events = dir.join("stop.json");
    std::fs::write(&events, serde_json::to_string(&rec).unwrap()).unwrap();
    let ranges = dir.join("ip-ranges.json");
    std::fs::write(
        &ranges,
        r#"{"syncToken": "1", "prefixes": [{"ip_prefix": "52.4.0.0/14", "region": "us-east-1", "service": "AMAZON"}], "ipv6_prefixes": []}"#,
    )
    .unwrap();
    let (events, ranges) = (events.to_str().unwrap(), ranges.to_str().unwrap());
    let with = t1578(&["replay", "--format", "json", "--aws-ip-ranges", ranges, events]);
    assert!(with.status.success(), "{}", stderr(&with));
    let alerts = alert_lines(&with);
    assert_eq!(alerts.len(), 1, "{}", stdout(&with));
    let codes: Vec<&str> = alerts[0]["unmapped"]["baseline"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(codes.contains(&"instance_credentials_outside_aws"), "{codes:?}");
    assert!(
        stderr(&with).contains("1 IPv4 and 0 IPv6 intervals"),
        "{}",
        stderr(&with)
    );
    let without = t1578(&["replay", "--format", "json", events]);
    assert!(without.status.success(), "{}", stderr(&without));
    assert!(alert_lines(&without).is_empty(), "{}", stdout(&without));
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    let refused = t1578(&["replay", "--aws-ip-ranges", empty.to_str().unwrap(), events]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--aws-ip-ranges") && stderr(&refused).contains("no prefixes"),
        "{}",
        stderr(&refused)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

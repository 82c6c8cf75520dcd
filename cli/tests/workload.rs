//! `t1578 generate workload`: what it writes replays cleanly, its ground truth names every
//! scenario with event ids that are in the output and principals keyed as the detector keys
//! them, the same seed gives the same bytes and another seed another workload.

use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn t1578(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_t1578"))
        .args(args)
        .output()
        .expect("run t1578")
}

fn generate(cloud: &str, seed: u64, out: &Path) -> Value {
    let o = t1578(&[
        "generate",
        "workload",
        cloud,
        "--days",
        "16",
        "--principals",
        "48",
        "--attacks",
        "2",
        "--seed",
        &seed.to_string(),
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("truth.json")).expect("truth.json");
    serde_json::from_str(&text).expect("truth is JSON")
}

/// Every record normalizes; returns the event ids and the (principal key, account) pairs.
fn normalized(events: &Path) -> (HashSet<String>, HashSet<(String, String)>, usize) {
    let mut text = String::new();
    let file = std::fs::File::open(events).expect("events.jsonl.gz");
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(file), &mut text).expect("gzip");
    let (mut ids, mut keys, mut n) = (HashSet::new(), HashSet::new(), 0);
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("JSON line");
        let ev = t1578_core::normalize(v).unwrap_or_else(|e| panic!("{e}: {line}"));
        ids.insert(ev.event_id);
        keys.insert((ev.principal.key, ev.account));
        n += 1;
    }
    (ids, keys, n)
}

fn check(cloud: &str, dir: &Path, truth: &Value) {
    let events = dir.join(truth["events"].as_str().unwrap());
    let o = t1578(&["replay", "--format", "json", events.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(" 0 parse errors"), "{err}");
    let (ids, keys, n) = normalized(&events);
    assert_eq!(n as u64, truth["records"].as_u64().unwrap());
    assert!(err.contains(&format!("{n} records read")), "{err}");
    let compute = truth["compute_records"].as_u64().unwrap();
    assert!(
        compute > 0 && (n as u64) >= 2 * compute,
        "{cloud}: noise should at least match compute changes: {compute} of {n}"
    );

    let principals = truth["principals"].as_array().unwrap();
    for p in principals.iter().filter(|p| p["records"].as_u64().unwrap() > 0) {
        let pair = (
            p["key"].as_str().unwrap().to_string(),
            p["account"].as_str().unwrap().to_ascii_lowercase(),
        );
        assert!(
            keys.contains(&pair),
            "{cloud}: principal {pair:?} is not keyed so by the detector"
        );
    }
    let listed: HashSet<&str> = principals.iter().map(|p| p["key"].as_str().unwrap()).collect();
    let from = truth["params"]["measure_from_ms"].as_i64().unwrap();
    let scenarios: BTreeSet<&str> = truth["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let mut seen = BTreeSet::new();
    for a in truth["attacks"].as_array().unwrap() {
        let event_ids = a["event_ids"].as_array().unwrap();
        assert!(!event_ids.is_empty(), "{a}");
        for id in event_ids {
            assert!(
                ids.contains(id.as_str().unwrap()),
                "{cloud}: {} lists {id}, not in the output",
                a["id"]
            );
        }
        assert!(listed.contains(a["principal"].as_str().unwrap()), "{a}");
        assert!(
            a["start_ms"].as_i64().unwrap() >= from,
            "{}: attack before the warm-up ends",
            a["id"]
        );
        assert!(a["end_ms"].as_i64().unwrap() >= a["start_ms"].as_i64().unwrap());
        seen.insert(a["scenario"].as_str().unwrap());
    }
    assert_eq!(seen, scenarios, "{cloud}: every scenario has attacks");
    assert_eq!(
        truth["attacks"].as_array().unwrap().len(),
        2 * scenarios.len(),
        "{cloud}: 2 of each"
    );
}

fn tempdir() -> PathBuf {
    tempfile::tempdir().expect("tempdir").keep()
}

#[test]
fn workloads_replay_cleanly_and_their_truth_holds() {
    let root = tempdir();
    for cloud in ["aws", "azure"] {
        let dir = root.join(format!("{cloud}-3"));
        let truth = generate(cloud, 3, &dir);
        check(cloud, &dir, &truth);

        let again = root.join(format!("{cloud}-3-again"));
        generate(cloud, 3, &again);
        let bytes = |d: &Path| std::fs::read(d.join("events.jsonl.gz")).unwrap();
        assert!(
            bytes(&dir) == bytes(&again),
            "{cloud}: the same seed gives the same workload"
        );

        let other = root.join(format!("{cloud}-4"));
        let truth4 = generate(cloud, 4, &other);
        assert!(
            bytes(&dir) != bytes(&other),
            "{cloud}: another seed gives another workload"
        );
        let keys = |t: &Value| -> BTreeSet<String> {
            t["principals"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["key"].as_str().unwrap().to_string())
                .collect()
        };
        assert!(keys(&truth).is_disjoint(&keys(&truth4)) || keys(&truth) != keys(&truth4));
    }
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn bad_parameters_are_refused_with_the_flag_named() {
    let dir = tempdir();
    let out = dir.to_str().unwrap();
    for (flag, value) in [("--days", "10"), ("--principals", "5"), ("--attacks", "0")] {
        let o = t1578(&["generate", "workload", "aws", flag, value, "--out", out]);
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains(flag), "{flag}");
    }
    // The tuning document's parser, so its bounds too.
    for value in ["yesterday", "1999-01-01", "First"] {
        let events = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/scenarios/mixed-burst");
        let o = t1578(&["replay", "--observed-since", value, events]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "{value}");
        assert!(err.contains("--observed-since") && err.contains(value), "{err}");
    }
    let old = t1578(&[
        "generate",
        "aws",
        "--records",
        "10",
        "--out",
        dir.join("x.jsonl").to_str().unwrap(),
    ]);
    assert!(old.status.success(), "{}", String::from_utf8_lossy(&old.stderr));
    std::fs::remove_dir_all(&dir).ok();
}

/// A cold start, replayed. Without `--observed-since`, the first day's busy principals all lack
/// history and meet the seed's thresholds; with it (`first`, or the first day as a date) they
/// are learned instead, and every attack after the warm-up is still caught.
#[test]
fn observed_since_learns_the_first_days_principals_and_keeps_the_attacks() {
    let dir = tempdir();
    let truth = generate("aws", 5, &dir);
    let events = dir.join(truth["events"].as_str().unwrap());
    let start = truth["params"]["start_ms"].as_i64().unwrap();
    let day = truth["params"]["day_ms"].as_i64().unwrap();
    // The alerts, and the summary: whether it points at --observed-since (a cold start's
    // alerts), and whether it says the replay learned by itself.
    let replay = |extra: &[&str]| -> (Vec<Value>, (bool, bool)) {
        let mut args = vec!["replay", "--format", "json"];
        args.extend(extra);
        args.push(events.to_str().unwrap());
        let o = t1578(&args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let hint = err.contains("first seen in the first 3 days of this replay");
        let learned = err.contains(
            "a backtest (events on 3 days or more, from 3 principals or more): principals first seen",
        );
        (
            text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
            (hint, learned),
        )
    };
    let uid = |a: &Value| a["actor"]["user"]["uid"].as_str().unwrap().to_string();
    // Principals with a finding opened on the first day, criticals aside.
    let first_day = |alerts: &[Value]| -> BTreeSet<String> {
        alerts
            .iter()
            .filter(|a| a["activity_name"] == "Create" && a["unmapped"]["tier"] != "critical")
            .filter(|a| a["time"].as_i64().unwrap() < start + day)
            .map(uid)
            .collect()
    };
    // The attacks an alert names the principal of, from the attack's start to a day after it.
    let caught = |alerts: &[Value]| -> BTreeSet<String> {
        let attacks = truth["attacks"].as_array().unwrap();
        attacks
            .iter()
            .filter(|at| {
                let (from, to) = (
                    at["start_ms"].as_i64().unwrap(),
                    at["end_ms"].as_i64().unwrap() + day,
                );
                alerts.iter().any(|a| {
                    let t = a["time"].as_i64().unwrap();
                    uid(a) == at["principal"].as_str().unwrap() && (from..=to).contains(&t)
                })
            })
            .map(|at| at["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (cold, (hint, learned)) = replay(&["--observed-since", "none"]);
    let date = chrono::DateTime::from_timestamp_millis(start)
        .unwrap()
        .to_rfc3339();
    assert!(first_day(&cold).len() >= 5, "{:?}", first_day(&cold));
    assert!(!caught(&cold).is_empty());
    assert!(hint, "the summary names the cold start and the flag");
    assert!(!learned, "a start was given");
    for flag in ["first", date.as_str()] {
        let (learned, (hint, chose)) = replay(&["--observed-since", flag]);
        assert!(!hint && !chose, "{flag}");
        assert!(
            first_day(&learned).is_empty(),
            "{flag}: {:?}",
            first_day(&learned)
        );
        assert_eq!(caught(&learned), caught(&cold), "{flag}");
        assert!(
            learned.len() < cold.len() / 2,
            "{flag}: {} of {}",
            learned.len(),
            cold.len()
        );
    }
    // Continued with --state, `first` keeps the start recorded by the first part: the two
    // parts alert exactly as the whole replay does. Started afresh at the split instead,
    // principals first seen up to three days after it would be taken for learned ones: at the
    // end of the warm-up, the attacks' new principals among them.
    let split = start + 14 * day;
    let at = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let ids = |alerts: &[Value]| -> Vec<String> {
        alerts
            .iter()
            .map(|a| a["metadata"]["uid"].as_str().unwrap().to_string())
            .collect()
    };
    let (whole, _) = replay(&["--observed-since", "first"]);
    // Not given: a replay with events on three days or more is a backtest and learns from each
    // account's first event; a shorter one (an incident's day or two) gets the seed's
    // thresholds for everyone.
    let (auto, (hint, learned)) = replay(&[]);
    assert!(!hint && learned);
    assert_eq!(ids(&auto), ids(&whole));
    let days = |n: i64| at(start + n * day);
    for n in [1, 2] {
        let until = days(n);
        let (short, (hint, learned)) = replay(&["--until", &until]);
        let (plain, _) = replay(&["--until", &until, "--observed-since", "none"]);
        assert!(!hint && !learned, "the replay chose no start itself");
        assert!(!first_day(&short).is_empty(), "{n} days");
        assert_eq!(ids(&short), ids(&plain), "{n} days");
    }
    for n in [3, 6, 8] {
        let until = days(n);
        let (backtest, (hint, chose)) = replay(&["--until", &until]);
        let (learned, _) = replay(&["--until", &until, "--observed-since", "first"]);
        let (plain, _) = replay(&["--until", &until, "--observed-since", "none"]);
        assert!(!hint && chose, "{n} days: the summary says the replay learned");
        assert_eq!(ids(&backtest), ids(&learned), "{n} days");
        assert!(
            backtest.len() * 10 < plain.len(),
            "{n} days: {} alerts learning, {} without a start",
            backtest.len(),
            plain.len()
        );
    }
    let state = dir.join("state.redb");
    let (until, since) = (at(split - 1), at(split));
    let state_arg = state.to_str().unwrap();
    let (mut parts, _) = replay(&[
        "--observed-since",
        "first",
        "--state",
        state_arg,
        "--until",
        &until,
    ]);
    let fresh_start = dir.join("state-fresh-start.redb");
    std::fs::copy(&state, &fresh_start).unwrap();
    let (second, _) = replay(&[
        "--observed-since",
        "first",
        "--state",
        state_arg,
        "--since",
        &since,
    ]);
    parts.extend(second);
    assert_eq!(ids(&parts), ids(&whole));
    let (mut restarted, _) = replay(&["--observed-since", "first", "--until", &until]);
    let (second, _) = replay(&[
        "--observed-since",
        &since,
        "--state",
        fresh_start.to_str().unwrap(),
        "--since",
        &since,
    ]);
    restarted.extend(second);
    assert_ne!(
        ids(&restarted),
        ids(&whole),
        "the check can tell the two starts apart"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// One attack's records replayed alone are a scenario, not a backtest, however many days they
/// span: from one or two principals, the replay chooses no start and judges them by the seed's
/// thresholds, as it judges an incident's burst. Learned from their first event, a low-and-slow
/// attack would alert only for its criticals, protection changes and user-data swaps. A third
/// principal makes the same days a backtest.
#[test]
fn an_attack_replayed_alone_over_days_is_not_learned() {
    let dir = tempdir();
    let truth = generate("aws", 5, &dir);
    let day = truth["params"]["day_ms"].as_i64().unwrap();
    let mut text = String::new();
    let file = std::fs::File::open(dir.join(truth["events"].as_str().unwrap())).unwrap();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(file), &mut text).unwrap();
    let records: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let attacks = truth["attacks"].as_array().unwrap();
    // The attacks' records, each copied onto the three days after it: four days of events.
    let slow = |picked: &[&Value], name: &str| -> PathBuf {
        let ids: HashSet<&str> = picked
            .iter()
            .flat_map(|a| a["event_ids"].as_array().unwrap())
            .map(|i| i.as_str().unwrap())
            .collect();
        let mut out = String::new();
        for r in records
            .iter()
            .filter(|r| ids.contains(r["eventID"].as_str().unwrap()))
        {
            for d in 0..4 {
                let t = chrono::DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap();
                let mut copy = r.clone();
                copy["eventTime"] = (t + chrono::Duration::milliseconds(d * day))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    .into();
                copy["eventID"] = format!("{}-{d}", r["eventID"].as_str().unwrap()).into();
                out.push_str(&copy.to_string());
                out.push('\n');
            }
        }
        let path = dir.join(name);
        std::fs::write(&path, out).unwrap();
        path
    };
    let replay = |path: &Path, extra: &[&str]| -> (Vec<String>, String) {
        let mut args = vec!["replay", "--format", "json"];
        args.extend(extra);
        args.push(path.to_str().unwrap());
        let o = t1578(&args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        let ids = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["metadata"]["uid"].to_string())
            .collect();
        (ids, err)
    };
    let chose = |err: &str| err.contains("t1578: a backtest (events on 3 days or more, from 3 principals");
    let (mut alone, mut learned) = (0, 0);
    for (i, attack) in attacks.iter().enumerate() {
        let path = slow(&[attack], &format!("attack-{i}.jsonl"));
        let (auto, err) = replay(&path, &[]);
        let (plain, _) = replay(&path, &["--observed-since", "none"]);
        let (first, _) = replay(&path, &["--observed-since", "first"]);
        assert!(!chose(&err), "{}", attack["id"]);
        assert!(
            err.contains("events on 3 days or more, but from 1 principal(s)"),
            "{err}"
        );
        assert_eq!(auto, plain, "{}", attack["id"]);
        alone += usize::from(!auto.is_empty());
        learned += usize::from(!first.is_empty());
    }
    // Every attack alerts alone; learned, fewer would (criticals, protection changes, swaps).
    assert_eq!(alone, attacks.len());
    assert!(learned < alone, "{learned} of {alone} learned");
    // Two principals' attacks together are still a scenario; three principals' are a backtest.
    let mut by_principal: Vec<&Value> = Vec::new();
    for a in attacks {
        if !by_principal.iter().any(|b| b["principal"] == a["principal"]) {
            by_principal.push(a);
        }
    }
    assert!(by_principal.len() >= 3);
    let pair = slow(&by_principal[..2], "two.jsonl");
    let (two_ids, two) = replay(&pair, &[]);
    let (two_plain, _) = replay(&pair, &["--observed-since", "none"]);
    let (_, three) = replay(&slow(&by_principal[..3], "three.jsonl"), &[]);
    assert!(!chose(&two) && two.contains("but from 2 principal(s)"), "{two}");
    assert_eq!(two_ids, two_plain);
    assert!(chose(&three) && !three.contains("but from"), "{three}");
    std::fs::remove_dir_all(&dir).ok();
}

//! Fixtures → handler → DynamoDB → SNS → a subscribed SQS queue, against a real moto server.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::*;
use serde_json::{json, Value};
use t1578_aws_lambda::{Deps, DynamoStore, Response, SnsSink};
use t1578_core::Engine;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[tokio::test]
async fn snapshot_share_fixture_reaches_the_subscribed_queue_field_by_field() {
    let env = Env::start().await;
    let (deps, _) = env.deps().await;
    let fixture = snapshot_share();
    let detail = fixture["detail"].clone();
    let key = key_of(&deps, &fixture);

    let before = chrono::Utc::now().timestamp_millis();
    let sum = summary(invoke(&deps, fixture.clone()).await);
    let after = chrono::Utc::now().timestamp_millis();
    assert_eq!(
        (sum.records, sum.rejected, sum.in_scope, sum.alerts, sum.shadow),
        (1, 0, 1, 1, false)
    );

    // DynamoDB: one item, keyed by the hash, readable key as data, version 2 (the save, then
    // the alert marked sent), TTL set.
    let item = env.item(&key).await.expect("state item written");
    assert_eq!(item["pk"].as_s().unwrap(), &key.storage_id());
    assert_eq!(item["key"].as_s().unwrap(), &key.0);
    assert_eq!(item["version"].as_n().unwrap(), "2");
    let event_ms = chrono::DateTime::parse_from_rfc3339(s(&detail["eventTime"]))
        .unwrap()
        .timestamp_millis();
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    // The state outlives the 24 h window: the principal's addresses are remembered 30 days,
    // counted on the wall clock from now (the fixture's event is years old).
    let kept = (event_ms + 30 * 86_400_000) / 1000 + 1;
    let lag = |now: i64| (now - event_ms) / 1000;
    assert!(
        (kept + lag(before)..=kept + lag(after)).contains(&expires),
        "{expires} not 30 days after the write"
    );
    assert_eq!(env.window(&key).await.unwrap().unit_count(), 1);

    // SNS → SQS: the notification envelope.
    let notes = env.drain().await;
    assert_eq!(notes.len(), 1, "{notes:#?}");
    let note = &notes[0];
    assert_eq!(note["Type"], "Notification");
    assert_eq!(note["TopicArn"], env.topic_arn.as_str());
    let subject = s(&note["Subject"]);
    assert!(
        subject.len() <= 100 && subject.starts_with("[T1578 critical] critical by "),
        "{subject}"
    );
    let account = s(&detail["recipientAccountId"]);
    let attrs = &note["MessageAttributes"];
    for (name, want) in [
        ("severity", "critical"),
        ("technique", "T1578"),
        ("account", account),
        ("tier", "critical"),
        ("activity", "create"),
    ] {
        assert_eq!(attrs[name]["Type"], "String", "{name}");
        assert_eq!(attrs[name]["Value"], want, "{name}");
    }
    assert_eq!(attrs["finding"]["Value"].as_str().map(str::len), Some(32));

    // The alert document, field by field.
    let alert: Value = serde_json::from_str(s(&note["Message"])).unwrap();
    let ui = &detail["userIdentity"];
    let (principal_key, principal_name) = match s(&ui["type"]) {
        "AssumedRole" => (
            s(&ui["sessionContext"]["sessionIssuer"]["arn"]),
            s(&ui["sessionContext"]["sessionIssuer"]["userName"]),
        ),
        _ => (s(&ui["arn"]), s(&ui["userName"])),
    };
    let region = s(&detail["awsRegion"]);
    let snapshot = s(&detail["requestParameters"]["snapshotId"]);
    let event_id = s(&detail["eventID"]);
    t1578_testkit::assert_valid_alert(&alert);
    assert_eq!(alert["class_uid"], 2004);
    assert!(!s(&alert["metadata"]["uid"]).is_empty());
    // A new finding: its id names the incident, the correlation uid this report of it.
    assert_eq!(s(&alert["finding_info"]["uid"]).len(), 32);
    assert_eq!(s(&alert["metadata"]["correlation_uid"]).len(), 32);
    assert_eq!(
        (alert["activity_id"].as_u64(), alert["count"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(alert["time"], event_ms);
    assert_eq!(alert["time_dt"], t1578_core::alert::rfc3339(event_ms));
    assert_eq!(alert["severity"], "Critical");
    assert_eq!(alert["severity_id"], 5);
    assert_eq!(alert["finding_info"]["types"], json!(["critical"]));
    assert_eq!(alert["unmapped"]["tier"], "critical");
    assert_eq!(alert["unmapped"]["profile"], "default");
    assert_eq!(alert["finding_info"]["analytic"]["uid"], "t1578/default");
    let attack = &alert["finding_info"]["attacks"][0];
    assert_eq!(attack["tactic"]["uid"], "TA0005");
    assert_eq!(attack["technique"]["uid"], "T1578");
    assert_eq!(attack["sub_technique"]["uid"], "T1578.001");
    assert_eq!(alert["cloud"]["provider"], "AWS");
    assert_eq!(alert["cloud"]["account"]["uid"], account);
    assert_eq!(alert["cloud"]["region"], region);
    assert_eq!(alert["unmapped"]["scopes"], json!([region]));
    assert_eq!(alert["actor"]["user"]["uid"], principal_key);
    assert_eq!(alert["actor"]["user"]["name"], principal_name);
    assert_eq!(
        alert["unmapped"]["source_ips"],
        json!([{"ip": s(&detail["sourceIPAddress"]), "unfamiliar": false}])
    );
    assert_eq!(alert["unmapped"]["user_agent"], detail["userAgent"]);
    assert_eq!(alert["risk_score"], 5);
    assert_eq!(alert["unmapped"]["operation_count"], 1);
    assert_eq!(alert["finding_info"]["related_events_count"], 1);
    assert_eq!(alert["unmapped"]["unique_resources"], 1);
    assert_eq!(alert["unmapped"]["counts_are_lower_bounds"], false);
    assert_eq!(
        alert["resources"],
        json!([{"uid": format!("arn:aws:ec2:{region}:{account}:snapshot/{snapshot}")}])
    );
    assert_eq!(alert["finding_info"]["first_seen_time"], event_ms);
    assert_eq!(alert["finding_info"]["last_seen_time"], event_ms);
    assert_eq!(alert["unmapped"]["trigger_catalog_id"], "aws.ec2.snapshot_shared");
    assert_eq!(alert["unmapped"]["tuning"]["change_window"], "none");
    assert_eq!(alert["evidences"].as_array().unwrap().len(), 1);
    let ev = &alert["evidences"][0];
    assert_eq!(ev["api"]["request"]["uid"], event_id);
    assert_eq!(ev["api"]["operation"], "ModifySnapshotAttribute");
    assert_eq!(ev["data"]["catalog_id"], "aws.ec2.snapshot_shared");
    assert_eq!(ev["data"]["risk"], 5);
    assert_eq!(alert["finding_info"]["related_events"][0]["uid"], event_id);
    // The document round-trips into the core's type: the same shape the Azure side sends.
    let typed: t1578_core::Alert = serde_json::from_value(alert.clone()).unwrap();
    assert_eq!(typed.subject(100), subject);
}

#[tokio::test]
async fn the_same_event_three_times_is_counted_once_and_alerted_once() {
    let env = Env::start().await;
    let (deps, _) = env.deps().await;
    let event = fresh(snapshot_share(), "dup-1", 120);
    let key = key_of(&deps, &event);
    let first = summary(invoke(&deps, event.clone()).await);
    assert_eq!((first.in_scope, first.duplicates, first.alerts), (1, 0, 1));
    for _ in 0..2 {
        let again = summary(invoke(&deps, event.clone()).await);
        assert_eq!((again.in_scope, again.duplicates, again.alerts), (1, 1, 0));
    }
    assert_eq!(env.window(&key).await.unwrap().unit_count(), 1);
    assert_eq!(
        env.item(&key).await.unwrap()["version"].as_n().unwrap(),
        "2",
        "one save, one to mark the alert sent; duplicates cause no write"
    );
    assert_eq!(env.alerts().await.len(), 1);
}

#[tokio::test]
async fn shadow_mode_records_but_publishes_nothing() {
    let env = Env::start().await;
    let counter = std::sync::Arc::new(Counter::default());
    let deps = env
        .deps_via(&env.moto.url(), &env.moto.url(), counter, true)
        .await;
    let event = fresh(snapshot_share(), "shadow-1", 60);
    let sum = summary(invoke(&deps, event.clone()).await);
    assert_eq!((sum.in_scope, sum.alerts, sum.shadow), (1, 1, true));
    assert_eq!(env.window(&key_of(&deps, &event)).await.unwrap().unit_count(), 1);
    assert!(env.drain().await.is_empty(), "shadow mode published");
}

#[tokio::test]
async fn an_sqs_batch_of_envelopes_is_processed_and_only_the_malformed_message_is_parked() {
    let env = Env::start().await;
    let (deps, _) = env.deps().await;
    let share = share_snapshot("alice", "sqs-share-1");
    let bodies = vec![
        share.to_string(),
        create_snapshot("bob", 1).to_string(),
        "{not json".to_string(),
        // EventBridge → SNS → SQS without raw delivery wraps the envelope once more.
        json!({"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": create_snapshot("bob", 2).to_string()}).to_string(),
    ];
    let failures = batch_failures(invoke(&deps, sqs_event(&bodies)).await);
    // The unreadable body goes back to the queue, whose redrive policy parks it in its DLQ.
    assert_eq!(failures, ["m2"]);
    let alerts = env.alerts().await;
    assert_eq!(
        alerts.len(),
        2,
        "alice's share, and bob's two snapshots (4 points) crossing the threshold"
    );
    assert!(alerts
        .iter()
        .any(|a| a["actor"]["user"]["name"] == "alice" && a["unmapped"]["tier"] == "critical"));
    assert!(alerts
        .iter()
        .any(|a| a["actor"]["user"]["name"] == "bob" && a["unmapped"]["operation_count"] == 2));
    assert_eq!(
        env.window(&key_of(&deps, &create_snapshot("bob", 1)))
            .await
            .unwrap()
            .unit_count(),
        2
    );
}

#[tokio::test]
async fn an_expired_item_is_ignored_and_replaced() {
    let env = Env::start().await;
    let (deps, _) = env.deps().await;
    let event = fresh(snapshot_share(), "exp-1", 60);
    let key = key_of(&deps, &event);
    // A window past its TTL that DynamoDB has not deleted yet (it may take days): its event
    // must not be counted with the new one.
    summary(invoke(&deps, fresh(snapshot_share(), "exp-old", 600)).await);
    env.ddb
        .update_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(key.storage_id()))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            AttributeValue::N((chrono::Utc::now().timestamp() - 10).to_string()),
        )
        .send()
        .await
        .unwrap();
    let sum = summary(invoke(&deps, event).await);
    assert_eq!(
        (sum.in_scope, sum.alerts),
        (1, 1),
        "alerts again: the old window is gone"
    );
    let item = env.item(&key).await.unwrap();
    assert_eq!(
        item["version"].as_n().unwrap(),
        "4",
        "the version keeps counting through expiry (the first save and mark; the new window's save, then its alert marked sent)"
    );
    assert_eq!(env.window(&key).await.unwrap().unit_count(), 1);
}

/// A backlog delivered forty days late (a queue after an outage, an EventBridge archive
/// replay) keeps its window from one batch to the next: bob's two snapshots, one per batch,
/// still add up to an alert. Before the store's expiry counted the lag, the first batch's item
/// was already past its TTL and the second batch started from nothing.
#[tokio::test]
async fn a_backlog_days_late_keeps_its_window_between_batches() {
    let env = Env::start().await;
    let (deps, _) = env.deps().await;
    let age = 40 * 86_400;
    let first = fresh(create_snapshot("bob", 1), "late-1", age);
    let key = key_of(&deps, &first);
    let s1 = summary(invoke(&deps, first).await);
    assert_eq!((s1.in_scope, s1.alerts), (1, 0));
    let expires: i64 = env.item(&key).await.unwrap()["expires_at"]
        .as_n()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        expires > chrono::Utc::now().timestamp() + 29 * 86_400,
        "kept for the 30-day address memory from now, not from the event: {expires}"
    );
    let s2 = summary(invoke(&deps, fresh(create_snapshot("bob", 2), "late-2", age - 60)).await);
    assert_eq!(
        (s2.in_scope, s2.alerts),
        (1, 1),
        "the second snapshot crosses the threshold"
    );
    assert_eq!(env.window(&key).await.unwrap().unit_count(), 2);
    assert_eq!(env.alerts().await.len(), 1);
}

#[tokio::test]
async fn every_aws_fixture_is_handled_without_error() {
    let env = Env::start().await;
    let (deps, _) = env.deps().await;
    let dir = workspace_root().join("events/aws");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    // A positive and a negative fixture for every AWS catalog row, at least.
    let catalog = t1578_core::Catalog::builtin().unwrap();
    let rows = catalog
        .entries
        .iter()
        .filter(|e| e.cloud == t1578_core::Cloud::Aws)
        .count();
    assert!(
        files.len() >= 2 * rows,
        "{} fixtures for {rows} AWS rows",
        files.len()
    );
    let (mut records, mut in_scope) = (0, 0);
    for path in &files {
        let payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        match invoke(&deps, payload).await {
            Ok(Response::Summary(s)) => {
                assert_eq!(s.rejected, 0, "{}", path.display());
                records += s.records;
                in_scope += s.in_scope;
            }
            // The fixtures are EventBridge events and bare records, never SQS batches.
            Ok(Response::Sqs(_)) => panic!("{}: taken for an SQS batch", path.display()),
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    assert!(records >= files.len(), "every fixture holds a record");
    assert!(
        in_scope >= rows,
        "each row's positive fixture is in scope: {in_scope} of {records}"
    );
}

/// `T1578_OBSERVED_SINCE=first` (the Terraform default): the account's first event is recorded
/// in the table by the first invocation and read back by a cold one, so a principal seen in the
/// first days is learned and one appearing sixteen days later, once the account has been
/// watched for the baseline period, is new.
#[tokio::test]
async fn the_first_event_is_recorded_in_dynamodb_and_read_back_by_a_cold_container() {
    let env = Env::start().await;
    let learning = |mut d: Deps<DynamoStore, SnsSink>| {
        d.engine = d.engine.clone().observed_from_first_event();
        d
    };
    let (deps, _) = env.deps().await;
    let deps = learning(deps);
    let mut first = create_snapshot("ops", 1);
    first = fresh(first, "first-1", 16 * 86_400);
    let sum = summary(invoke(&deps, first.clone()).await);
    assert_eq!((sum.in_scope, sum.alerts), (1, 0));
    let key = Engine::first_event_key(t1578_core::Cloud::Aws, "111122223333");
    let item = env.item(&key).await.expect("the first event is recorded");
    let recorded: i64 = std::str::from_utf8(item["state"].as_b().unwrap().as_ref())
        .unwrap()
        .parse()
        .unwrap();
    let t = t1578_core::normalize(first).unwrap().time_ms;
    assert_eq!(recorded, t);
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    assert!(
        expires > chrono::Utc::now().timestamp() + 50 * 365 * 86_400,
        "{expires}"
    );
    // A cold container: ci, first seen a day after the start, is learned (its two snapshots
    // alert for a new principal, as bob's do); bob, sixteen days after the start, is new.
    let counter = std::sync::Arc::new(Counter::default());
    let cold = learning(
        env.deps_via(&env.moto.url(), &env.moto.url(), counter, false)
            .await,
    );
    for (who, n, age) in [
        ("ci", 2, 15 * 86_400),
        ("ci", 3, 15 * 86_400),
        ("bob", 2, 60),
        ("bob", 3, 60),
    ] {
        let e = fresh(create_snapshot(who, n), &format!("{who}-{n}"), age);
        summary(invoke(&cold, e).await);
    }
    let alerts = env.alerts().await;
    let names: Vec<&str> = alerts.iter().map(|a| s(&a["actor"]["user"]["name"])).collect();
    assert_eq!(names, ["bob"], "{names:?}");
    // The start was read once, not written again: ops' and bob's windows are the only writes.
    assert_eq!(env.item(&key).await.unwrap()["version"], item["version"]);
}

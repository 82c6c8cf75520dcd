//! Network faults between the function and DynamoDB or SNS, injected by a TCP proxy in front of
//! moto (moto keeps its data in memory, so it is not restarted).

mod common;

use common::*;
use std::sync::Arc;
use t1578_aws_lambda::HandlerError;
use t1578_core::pipeline::PipelineError;
use t1578_core::ports::{SinkError, StoreError};

fn assert_retryable(r: Result<t1578_aws_lambda::Response, HandlerError>) -> PipelineError {
    match r {
        Err(e @ HandlerError::Retryable { .. }) => {
            assert!(e.retryable());
            let diag: lambda_runtime::Diagnostic = e.clone().into();
            assert_eq!(diag.error_type, "Retryable");
            match e {
                HandlerError::Retryable { first, .. } => first,
                HandlerError::Permanent { .. } => unreachable!(),
            }
        }
        other => panic!("expected a retryable invocation error, got {other:?}"),
    }
}

#[tokio::test]
async fn dynamodb_cut_fails_the_invocation_and_the_retry_counts_once() {
    let env = Env::start().await;
    let proxy = Proxy::start(env.moto.port).await;
    let counter = Arc::new(Counter::default());
    let deps = env.deps_via(&proxy.url(), &env.moto.url(), counter, false).await;
    let event = fresh(snapshot_share(), "ddb-cut-1", 30);
    let key = key_of(&deps, &event);

    proxy.switch.cut();
    let err = assert_retryable(invoke(&deps, event.clone()).await);
    assert!(
        matches!(err, PipelineError::Store(StoreError::Transient(_))),
        "{err:?}"
    );
    assert!(
        env.drain().await.is_empty(),
        "nothing published when the state could not be read"
    );

    proxy.switch.restore();
    let s = summary(invoke(&deps, event.clone()).await);
    assert_eq!((s.in_scope, s.duplicates, s.alerts), (1, 0, 1));
    let s = summary(invoke(&deps, event).await);
    assert_eq!((s.duplicates, s.alerts), (1, 0));
    assert_eq!(env.window(&key).await.unwrap().unit_count(), 1);
    assert_eq!(env.alerts().await.len(), 1);
}

#[tokio::test]
async fn dynamodb_cut_at_the_write_publishes_nothing_and_the_retry_publishes_once() {
    let env = Env::start().await;
    let proxy = Proxy::start(env.moto.port).await;
    let counter = Arc::new(Counter::default());
    let deps = env
        .deps_via(&proxy.url(), &env.moto.url(), counter.clone(), false)
        .await;
    let event = fresh(snapshot_share(), "ddb-cut-2", 30);
    let key = key_of(&deps, &event);

    // The read succeeds; the path dies as the write goes out, before anything is published.
    counter.cut_before("UpdateItem", proxy.switch.clone());
    let err = assert_retryable(invoke(&deps, event.clone()).await);
    assert!(
        matches!(err, PipelineError::Store(StoreError::Transient(_))),
        "{err:?}"
    );
    assert!(
        env.item(&key).await.is_none(),
        "state must not record an event whose save failed"
    );
    assert!(
        env.alerts().await.is_empty(),
        "a decision is published only once it is saved"
    );

    counter.clear_cut();
    proxy.switch.restore();
    let s = summary(invoke(&deps, event.clone()).await);
    assert_eq!((s.in_scope, s.alerts), (1, 1));
    assert_eq!(env.alerts().await.len(), 1, "the retry publishes it, once");
    assert!(env.pending(&key).await.is_empty());
    assert_eq!(env.window(&key).await.unwrap().unit_count(), 1);

    let s = summary(invoke(&deps, event).await);
    assert_eq!((s.duplicates, s.alerts), (1, 0));
    assert!(env.alerts().await.is_empty());
}

#[tokio::test]
async fn sns_cut_fails_the_invocation_and_the_retry_publishes_once() {
    let env = Env::start().await;
    let proxy = Proxy::start(env.moto.port).await;
    let counter = Arc::new(Counter::default());
    let deps = env.deps_via(&env.moto.url(), &proxy.url(), counter, false).await;
    let event = fresh(snapshot_share(), "sns-cut-1", 30);
    let key = key_of(&deps, &event);

    proxy.switch.cut();
    let err = assert_retryable(invoke(&deps, event.clone()).await);
    assert!(
        matches!(err, PipelineError::Sink(SinkError::Transient(_))),
        "{err:?}"
    );
    assert_eq!(env.window(&key).await.unwrap().unit_count(), 1, "counted, and");
    assert_eq!(
        env.pending(&key).await.len(),
        1,
        "the decision waits in the outbox"
    );
    assert!(env.drain().await.is_empty());

    proxy.switch.restore();
    let s = summary(invoke(&deps, event.clone()).await);
    assert_eq!((s.in_scope, s.alerts), (1, 1));
    let s = summary(invoke(&deps, event).await);
    assert_eq!((s.duplicates, s.alerts), (1, 0));
    assert_eq!(env.alerts().await.len(), 1, "published exactly once");
    assert_eq!(env.window(&key).await.unwrap().unit_count(), 1);
    assert!(env.pending(&key).await.is_empty());
}

#[tokio::test]
async fn sqs_batch_redelivers_only_the_messages_of_failed_keys() {
    let env = Env::start().await;
    let proxy = Proxy::start(env.moto.port).await;
    let counter = Arc::new(Counter::default());
    let deps = env.deps_via(&env.moto.url(), &proxy.url(), counter, false).await;
    let share = share_snapshot("hank", "sqs-fail-share");
    let quiet = create_snapshot("ivy", 1);
    let bodies = vec![
        share.to_string(),
        quiet.to_string(),
        "[1, 2".to_string(),
        share_snapshot("hank", "sqs-fail-share-2").to_string(),
    ];

    // SNS down: hank's key (alerting) fails and keeps its decisions in the outbox, ivy's (no
    // alert) is saved. The malformed message is parked: failed, so the queue's redrive policy
    // moves it to the dead-letter queue after maxReceiveCount receives.
    proxy.switch.cut();
    let failures = batch_failures(invoke(&deps, sqs_event(&bodies)).await);
    assert_eq!(failures, vec!["m0", "m2", "m3"]);
    assert_eq!(env.window(&key_of(&deps, &quiet)).await.unwrap().unit_count(), 1);
    assert_eq!(env.pending(&key_of(&deps, &share)).await.len(), 2);

    proxy.switch.restore();
    let redelivered: Vec<String> = vec![bodies[0].clone(), bodies[3].clone()];
    assert!(batch_failures(invoke(&deps, sqs_event(&redelivered)).await).is_empty());
    let alerts = env.alerts().await;
    let tiers: Vec<&str> = alerts
        .iter()
        .map(|a| a["unmapped"]["tier"].as_str().unwrap())
        .collect();
    assert_eq!(
        tiers,
        vec!["critical", "critical"],
        "first share critical; the second, a new critical, updates the same finding"
    );
    assert!(alerts.iter().all(|a| a["actor"]["user"]["name"] == "hank"));
    assert_eq!(alerts[0]["finding_info"]["uid"], alerts[1]["finding_info"]["uid"]);
    assert_eq!(
        (
            alerts[0]["activity_id"].as_u64(),
            alerts[1]["activity_id"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(env.window(&key_of(&deps, &share)).await.unwrap().unit_count(), 2);
}

#[tokio::test]
async fn a_missing_table_fails_the_invocation_as_non_retryable_so_events_reach_the_dlq() {
    let env = Env::start().await;
    let cfg = sdk_config(&env.moto.url()).await;
    let settings = t1578_core::settings::CommonSettings::from_lookup(|_| None).unwrap();
    let deps = t1578_aws_lambda::Deps::new(
        t1578_core::Engine::new(t1578_core::Catalog::builtin().unwrap(), settings.profile),
        t1578_aws_lambda::DynamoStore::new(aws_sdk_dynamodb::Client::new(&cfg), "no-such-table"),
        t1578_aws_lambda::SnsSink::new(aws_sdk_sns::Client::new(&cfg), &env.topic_arn),
        false,
    );
    // Retrying cannot create the table, but dropping the event would lose it: the invocation
    // fails, classed NonRetryable, and Lambda's on-failure destination keeps the event.
    let err = t1578_aws_lambda::handler::handle(
        lambda_runtime::LambdaEvent::new(
            fresh(snapshot_share(), "perm-1", 30),
            lambda_runtime::Context::default(),
        ),
        &deps,
    )
    .await
    .unwrap_err();
    assert!(!err.retryable(), "{err}");
    let diag: lambda_runtime::Diagnostic = err.into();
    assert_eq!(diag.error_type, "NonRetryable");
    assert!(
        env.drain().await.is_empty(),
        "nothing published for an event whose state could not be kept"
    );
}

/// The event source mapping's side of the contract, played against moto's SQS: receive,
/// invoke, delete what succeeded, make what failed visible again. Returns the bodies received
/// in each round.
async fn poll_round<S: t1578_core::StateStore, A: t1578_core::AlertSink>(
    env: &Env,
    queue: &str,
    deps: &t1578_aws_lambda::Deps<S, A>,
) -> Vec<String> {
    let msgs = env.receive(queue).await;
    if msgs.is_empty() {
        return Vec::new();
    }
    let records: Vec<serde_json::Value> = msgs
        .iter()
        .map(|m| {
            serde_json::json!({"messageId": m.message_id(), "receiptHandle": m.receipt_handle(),
                "body": m.body(), "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:t1578-in",
                "awsRegion": "us-east-1"})
        })
        .collect();
    let failed = batch_failures(invoke(deps, serde_json::json!({ "Records": records })).await);
    for m in &msgs {
        let handle = m.receipt_handle().unwrap();
        if failed.iter().any(|f| Some(f.as_str()) == m.message_id()) {
            let req = env.sqs.change_message_visibility().queue_url(queue);
            req.receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        } else {
            let req = env.sqs.delete_message().queue_url(queue);
            req.receipt_handle(handle).send().await.unwrap();
        }
    }
    msgs.iter()
        .map(|m| m.body().unwrap_or_default().to_string())
        .collect()
}

async fn queue_with_dlq(env: &Env, max_receives: u32) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let dlq = env
        .sqs
        .create_queue()
        .queue_name("t1578-in-dlq")
        .send()
        .await
        .unwrap();
    let dlq = dlq.queue_url.unwrap();
    let attrs = env.sqs.get_queue_attributes().queue_url(&dlq);
    let attrs = attrs
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let dlq_arn = attrs.attributes.unwrap()[&QueueAttributeName::QueueArn].clone();
    let policy = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives});
    let src = env.sqs.create_queue().queue_name("t1578-in");
    let src = src.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
    let src = src.attributes(QueueAttributeName::VisibilityTimeout, "30");
    (src.send().await.unwrap().queue_url.unwrap(), dlq)
}

#[tokio::test]
async fn sqs_retry_is_redelivered_and_park_reaches_the_dlq_after_max_receives() {
    let env = Env::start().await;
    let proxy = Proxy::start(env.moto.port).await;
    let deps = env
        .deps_via(&env.moto.url(), &proxy.url(), Arc::new(Counter::default()), false)
        .await;
    let (queue, dlq) = queue_with_dlq(&env, 2).await;
    let share = share_snapshot("kim", "redrive-share");
    for body in [share.to_string(), "[1, 2".to_string()] {
        env.sqs
            .send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    // Round 1, SNS down: the share's key is a Retry and the malformed message a Park; both
    // stay on the queue.
    proxy.switch.cut();
    let mut receives = std::collections::HashMap::<String, usize>::new();
    for b in poll_round(&env, &queue, &deps).await {
        *receives.entry(b).or_default() += 1;
    }
    assert_eq!(receives.len(), 2, "both delivered in round 1: {receives:?}");
    proxy.switch.restore();
    for _ in 0..5 {
        for b in poll_round(&env, &queue, &deps).await {
            *receives.entry(b).or_default() += 1;
        }
    }
    // The retried share was processed on its second delivery, once.
    assert_eq!(receives[&share.to_string()], 2, "{receives:?}");
    let alerts = env.alerts().await;
    assert_eq!(alerts.len(), 1, "one decision, published once: {alerts:?}");
    assert_eq!(alerts[0]["actor"]["user"]["name"], "kim");
    assert_eq!(env.window(&key_of(&deps, &share)).await.unwrap().unit_count(), 1);
    // The parked one was received maxReceiveCount times, then the redrive policy moved it.
    assert_eq!(receives["[1, 2"], 2, "{receives:?}");
    let left = env.sqs.receive_message().queue_url(&queue).send().await.unwrap();
    assert!(
        left.messages.unwrap_or_default().is_empty(),
        "the source queue is empty"
    );
    let dead = env
        .sqs
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(10);
    let dead = dead.send().await.unwrap().messages.unwrap_or_default();
    let bodies: Vec<&str> = dead.iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, ["[1, 2"], "exactly the parked message is in the DLQ");
}

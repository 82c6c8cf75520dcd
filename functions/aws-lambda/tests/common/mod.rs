//! Shared test harness: a real moto server per test (loopback, free port, killed on drop), a
//! fault-injecting TCP proxy, a request-counting SDK interceptor, and the table/topic/queue
//! every test needs.
#![allow(dead_code)]

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use t1578_aws_lambda::{handle, setup, Deps, DynamoStore, HandlerError, Response, SnsSink};
use t1578_core::settings::CommonSettings;
use t1578_core::window::WindowState;
use t1578_core::{Catalog, Engine, StateKey};
use t1578_testkit::reserve_port;
use tokio::sync::watch;

pub const REGION: &str = "us-east-1";
pub const TABLE: &str = "t1578-state";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A moto server on a free loopback port, stopped when dropped.
///
/// moto runs under a small `bash` guard that holds the read end of a pipe from this process: when
/// the guard is dropped, or this process dies without unwinding, the pipe closes and the guard
/// kills moto by its PID. The guard also closes every inherited descriptor above stderr, so
/// moto never holds a lock file the test runner was started under (`flock ... cargo test`).
pub struct Moto {
    guard: Child,
    pub port: u16,
}

const GUARD: &str = r#"for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && [ -e "$fd" ] && eval "exec $n>&-"; done
"$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 </dev/null &
m=$!
read -r _
kill -KILL "$m" 2>/dev/null
wait "$m" 2>/dev/null
exit 0"#;

impl Moto {
    pub fn start() -> Moto {
        let bin = workspace_root().join(".tools/venv/bin/moto_server");
        assert!(
            bin.exists(),
            "{} is missing: run scripts/install-tools.sh",
            bin.display()
        );
        let (port, _reserved) = reserve_port();
        let guard = Command::new("bash")
            .args(["-c", GUARD])
            .arg(&bin)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn moto_server");
        let moto = Moto { guard, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !http_ok(port) {
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the pipe tells the guard to kill moto and exit.
        drop(self.guard.stdin.take());
        let _ = self.guard.wait();
    }
}

fn http_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && buf.starts_with(b"HTTP/1.") && &buf[9..12] == b"200")
}

/// Turns a proxy's path off and on; cloneable so an interceptor can pull the plug mid-call.
#[derive(Clone, Debug)]
pub struct Switch(Arc<watch::Sender<bool>>);

impl Switch {
    pub fn cut(&self) {
        self.0.send_replace(true);
    }
    pub fn restore(&self) {
        self.0.send_replace(false);
    }
}

/// A TCP proxy in front of moto. Cut: open connections are dropped and new ones are closed
/// at once, which the SDK sees as a network failure.
pub struct Proxy {
    pub port: u16,
    pub switch: Switch,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if *rx.borrow() {
                    drop(client);
                    continue;
                }
                let mut cut = rx.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    // Biased: once the switch is cut, no further byte is forwarded, even one
                    // already waiting on the socket.
                    tokio::select! {
                        biased;
                        _ = cut.wait_for(|c| *c) => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        Proxy {
            port,
            switch: Switch(Arc::new(tx)),
            task,
        }
    }

    /// A proxy that lets one request at a time through to moto.
    ///
    /// moto's conditional writes are not atomic under concurrent requests (its threaded server
    /// checks the condition and writes without a lock: 16 racing boto3 writers left version 16
    /// with 15 list entries). DynamoDB applies each request atomically per item; serializing
    /// requests here restores that, while the function's read / decide / conditional-write
    /// races stay fully concurrent. moto answers `Connection: close`, so one connection is one
    /// request.
    pub async fn start_serial(upstream: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, _) = watch::channel(false);
        let one = Arc::new(tokio::sync::Mutex::new(()));
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let one = one.clone();
                tokio::spawn(async move {
                    let _turn = one.lock().await;
                    let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.split();
                    let (mut sr, mut sw) = server.split();
                    // The turn ends when the response is through, not when the client hangs up.
                    tokio::select! {
                        _ = tokio::io::copy(&mut sr, &mut cw) => {}
                        _ = async {
                            let _ = tokio::io::copy(&mut cr, &mut sw).await;
                            std::future::pending::<()>().await
                        } => {}
                    }
                });
            }
        });
        Proxy {
            port,
            switch: Switch(Arc::new(tx)),
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts DynamoDB requests on the wire (each attempt, by `X-Amz-Target`), and can cut a proxy
/// right before a given operation is sent.
#[derive(Debug, Default)]
pub struct Counter {
    counts: Mutex<HashMap<String, usize>>,
    cut_before: Mutex<Option<(String, Switch)>>,
    total: AtomicUsize,
}

impl Counter {
    pub fn get(&self, op: &str) -> usize {
        self.counts.lock().unwrap().get(op).copied().unwrap_or(0)
    }
    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
        self.total.store(0, Ordering::SeqCst);
    }
    pub fn cut_before(&self, op: &str, switch: Switch) {
        *self.cut_before.lock().unwrap() = Some((op.to_string(), switch));
    }
    pub fn clear_cut(&self) {
        *self.cut_before.lock().unwrap() = None;
    }
}

#[derive(Debug, Clone)]
pub struct CountingInterceptor(pub Arc<Counter>);

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "CountingInterceptor"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = ctx.request().headers().get("x-amz-target").unwrap_or_default();
        let op = target.rsplit('.').next().unwrap_or_default().to_string();
        if let Some((cut_op, switch)) = self.0.cut_before.lock().unwrap().as_ref() {
            if *cut_op == op {
                switch.cut();
            }
        }
        *self.0.counts.lock().unwrap().entry(op).or_default() += 1;
        self.0.total.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "static"))
        .timeout_config(setup::timeouts())
        .retry_config(setup::retries())
        .load()
        .await
}

/// One moto with the function's table and topic, and a queue subscribed to the topic.
pub struct Env {
    pub moto: Moto,
    pub ddb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub topic_arn: String,
    pub queue_url: String,
}

impl Env {
    pub async fn start() -> Env {
        let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
        let cfg = sdk_config(&moto.url()).await;
        let ddb = aws_sdk_dynamodb::Client::new(&cfg);
        let sns = aws_sdk_sns::Client::new(&cfg);
        let sqs = aws_sdk_sqs::Client::new(&cfg);
        ddb.create_table()
            .table_name(TABLE)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        ddb.update_time_to_live()
            .table_name(TABLE)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let topic_arn = sns
            .create_topic()
            .name("t1578-alerts")
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let queue_url = sqs
            .create_queue()
            .queue_name("t1578-alerts-sub")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        let queue_arn = attrs.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();
        Env {
            moto,
            ddb,
            sns,
            sqs,
            topic_arn,
            queue_url,
        }
    }

    /// Handler dependencies whose DynamoDB and SNS clients go to `ddb_url` / `sns_url` (moto
    /// itself, or a proxy in front of it), with a request counter on DynamoDB.
    pub async fn deps_via(
        &self,
        ddb_url: &str,
        sns_url: &str,
        counter: Arc<Counter>,
        shadow: bool,
    ) -> Deps<DynamoStore, SnsSink> {
        let ddb_cfg = sdk_config(ddb_url).await;
        let ddb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&ddb_cfg)
                .interceptor(CountingInterceptor(counter))
                .build(),
        );
        let sns = aws_sdk_sns::Client::new(&sdk_config(sns_url).await);
        let settings = CommonSettings::from_lookup(|_| None).unwrap();
        Deps::new(
            Engine::new(Catalog::builtin().unwrap(), settings.profile),
            DynamoStore::new(ddb, TABLE),
            SnsSink::new(sns, &self.topic_arn),
            shadow,
        )
    }

    pub async fn deps(&self) -> (Deps<DynamoStore, SnsSink>, Arc<Counter>) {
        let counter = Arc::new(Counter::default());
        (
            self.deps_via(&self.moto.url(), &self.moto.url(), counter.clone(), false)
                .await,
            counter,
        )
    }

    /// The raw item of a state key, if any.
    pub async fn item(&self, key: &StateKey) -> Option<HashMap<String, AttributeValue>> {
        self.ddb
            .get_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(key.storage_id()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    /// The decoded window of a state key.
    pub async fn window(&self, key: &StateKey) -> Option<WindowState> {
        let item = self.item(key).await?;
        let bytes = item["state"].as_b().unwrap().as_ref().to_vec();
        Some(WindowState::decode(t1578_core::outbox::split(&bytes).unwrap().0, key).unwrap())
    }

    /// The alerts still pending in the outbox of a state key.
    pub async fn pending(&self, key: &StateKey) -> Vec<t1578_core::outbox::Pending> {
        match self.item(key).await {
            None => Vec::new(),
            Some(item) => {
                t1578_core::outbox::split(item["state"].as_b().unwrap().as_ref())
                    .unwrap()
                    .1
            }
        }
    }

    /// Up to 10 messages now visible on `queue` (no wait).
    pub async fn receive(&self, queue: &str) -> Vec<aws_sdk_sqs::types::Message> {
        self.sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    }

    /// Every message on the subscribed queue so far, as SNS notifications (deleted once read).
    pub async fn drain(&self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let msgs = self.receive(&self.queue_url).await;
            if msgs.is_empty() {
                return out;
            }
            for m in msgs {
                out.push(serde_json::from_str(m.body.as_deref().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// The alert documents on the queue so far, each checked against the committed schema.
    pub async fn alerts(&self) -> Vec<Value> {
        self.drain()
            .await
            .iter()
            .map(|n| t1578_testkit::assert_valid_alert_text(n["Message"].as_str().unwrap()))
            .collect()
    }
}

/// Invoke the handler as the runtime would.
pub async fn invoke<S: t1578_core::StateStore, A: t1578_core::AlertSink>(
    deps: &Deps<S, A>,
    payload: Value,
) -> Result<Response, HandlerError> {
    handle(LambdaEvent::new(payload, Context::default()), deps).await
}

pub fn summary(r: Result<Response, HandlerError>) -> t1578_aws_lambda::Summary {
    match r {
        Ok(Response::Summary(s)) => s,
        other => panic!("expected a summary, got {other:?}"),
    }
}

/// The snapshot-share fixture: `events/aws/ec2-modify-snapshot-attribute-share.json` when the
/// fixture set has it, else the Stratus Red Team CloudTrail record wrapped in an envelope.
pub fn snapshot_share() -> Value {
    let fixture = workspace_root().join("events/aws/ec2-modify-snapshot-attribute-share.json");
    if let Ok(text) = std::fs::read_to_string(&fixture) {
        return serde_json::from_str(&text).unwrap();
    }
    let path = "/work/shared/data/stratus-red-team/aws.exfiltration.ec2-share-ebs-snapshot.json";
    let records: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    envelope(records[0].clone())
}

pub fn envelope(detail: Value) -> Value {
    json!({
        "version": "0",
        "id": format!("env-{}", detail["eventID"].as_str().unwrap_or("x")),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": detail["recipientAccountId"].clone(),
        "time": detail["eventTime"].clone(),
        "region": detail["awsRegion"].clone(),
        "resources": [],
        "detail": detail,
    })
}

pub fn rfc3339_now_minus(secs: i64) -> String {
    let t = chrono::Utc::now() - chrono::Duration::seconds(secs);
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Give an envelope a fresh event id and a recent time, so its window is live.
pub fn fresh(mut env: Value, event_id: &str, age_secs: i64) -> Value {
    let t = rfc3339_now_minus(age_secs);
    env["id"] = json!(format!("env-{event_id}"));
    env["time"] = json!(t);
    env["detail"]["eventID"] = json!(event_id);
    env["detail"]["eventTime"] = json!(t);
    env
}

/// A CloudTrail record by IAM user `user` in account 111122223333.
pub fn record(user: &str, event_name: &str, event_id: &str, request: Value) -> Value {
    let t = rfc3339_now_minus(60);
    json!({
        "eventVersion": "1.10",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::111122223333:user/{user}"),
                         "accountId": "111122223333", "userName": user},
        "eventTime": t, "eventSource": "ec2.amazonaws.com", "eventName": event_name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.18.5", "requestParameters": request,
        "responseElements": {"_return": true}, "eventID": event_id, "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    })
}

/// CreateSnapshot of a distinct volume: in scope, 2 points, no alert on its own.
pub fn create_snapshot(user: &str, n: usize) -> Value {
    let mut r = record(
        user,
        "CreateSnapshot",
        &format!("create-{user}-{n}"),
        json!({"volumeId": format!("vol-{n:04}")}),
    );
    r["responseElements"] = json!({"snapshotId": format!("snap-{n:04}"), "volumeId": format!("vol-{n:04}")});
    envelope(r)
}

/// A snapshot share to another account by `user`: a critical alert on its own.
pub fn share_snapshot(user: &str, event_id: &str) -> Value {
    envelope(record(
        user,
        "ModifySnapshotAttribute",
        event_id,
        json!({"snapshotId": "snap-0123", "attributeType": "CREATE_VOLUME_PERMISSION",
               "createVolumePermission": {"add": {"items": [{"userId": "444455556666"}]}}}),
    ))
}

/// The state key the engine gives an envelope.
pub fn key_of(deps: &Deps<DynamoStore, SnsSink>, env: &Value) -> StateKey {
    let ev = t1578_core::normalize(env.clone()).unwrap();
    deps.engine.score(&ev).unwrap().key
}

/// An SQS event holding `bodies` (message ids `m0`, `m1`, ...).
pub fn sqs_event(bodies: &[String]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({"messageId": format!("m{i}"), "receiptHandle": format!("rh{i}"), "body": b, "attributes": {},
                   "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:t1578-events", "awsRegion": "us-east-1"})
        })
        .collect();
    json!({"Records": records})
}

pub fn batch_failures(r: Result<Response, HandlerError>) -> Vec<String> {
    match r {
        Ok(Response::Sqs(b)) => {
            let v = serde_json::to_value(&b).unwrap();
            v["batchItemFailures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
                .collect()
        }
        other => panic!("expected an SQS batch response, got {other:?}"),
    }
}

//! Test servers on loopback: a real Azurite (Table and Blob services) per test, a Logic App stand-in that
//! can fail on demand, a fault-injecting proxy in front of Azurite, plus record and invocation
//! builders following the Activity Log export shape (wire-formats.md §1.6(b)).
#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use t1578_azure_function::app::{app, AppState};
use t1578_azure_function::auth::Credential;
use t1578_azure_function::config::{parse_connection_string, SecretUrl};
use t1578_azure_function::deadletter::BlobDeadLetters;
use t1578_azure_function::invoke::InvokeResponse;
use t1578_azure_function::logic_app::{LogicAppSink, SinkOptions};
use t1578_azure_function::table::{SweepOptions, TableClient, TableStore};
use t1578_core::engine::StateKey;
use t1578_core::pipeline::PipelineOptions;
use t1578_core::ports::StateStore;
use t1578_core::tuning::Tuning;
use t1578_core::window::WindowState;
use t1578_core::{normalize, Catalog, Engine, Profile, ProfileName};
use t1578_testkit::{free_port, reserve_port};
use tower::ServiceExt;

pub const SUB: &str = "aaaaaaaa-1111-2222-3333-444444444444";
pub const TENANT: &str = "bbbbbbbb-5555-6666-7777-888888888888";
pub const SIG: &str = "TESTSIGNATUREdoNotLog";

/// One Azurite Table service, in memory, on a free loopback port; killed on drop.
pub struct Azurite {
    child: Child,
    blob: Child,
    dir: PathBuf,
    pub port: u16,
    pub blob_port: u16,
}

/// Start one Azurite service (`table` or `blob`) in memory on a free port.
fn spawn_service(service: &str, dir: &std::path::Path) -> Option<(Child, u16)> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../../.tools/node/node_modules/azurite/dist/src/{service}/main.js"
    ));
    assert!(
        script.exists(),
        "Azurite is not installed at {}: run scripts/install-tools.sh",
        script.display()
    );
    for _ in 0..3 {
        let (port, _reserved) = reserve_port();
        let mut child = Command::new("node")
            .arg(&script)
            .args([
                format!("--{service}Host"),
                "127.0.0.1".into(),
                format!("--{service}Port"),
                port.to_string(),
            ])
            .args(["--inMemoryPersistence", "--disableTelemetry", "--silent"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning node (is Node.js installed? run scripts/install-tools.sh)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some((child, port));
            }
            if let Ok(Some(_)) = child.try_wait() {
                break; // port taken between probe and bind: try another
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

impl Azurite {
    /// Table and Blob services, in memory, each on a free loopback port.
    pub fn start() -> Azurite {
        let dir = std::env::temp_dir().join(format!("t1578-azurite-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("azurite dir");
        // `node main.js` directly: one process, one PID to kill (npx adds layers). No
        // --location: Azurite refuses it with --inMemoryPersistence; the working directory
        // catches any stray file instead.
        let (child, port) = spawn_service("table", &dir).expect("Azurite Table did not start");
        let (blob, blob_port) = spawn_service("blob", &dir).expect("Azurite Blob did not start");
        Azurite {
            child,
            blob,
            dir,
            port,
            blob_port,
        }
    }

    pub fn blob_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/devstoreaccount1", self.blob_port)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/devstoreaccount1", self.port)
    }

    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint={};BlobEndpoint={};",
            self.endpoint(),
            self.blob_endpoint()
        )
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.blob.kill();
        let _ = self.blob.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn serve(router: Router) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (port, h)
}

/// The Logic App stand-in: records accepted alert bodies; can answer 500 a number of times.
#[derive(Default)]
pub struct ReceiverState {
    pub accepted: Mutex<Vec<Value>>,
    pub attempts: AtomicUsize,
    pub fail_next: AtomicUsize,
    /// Answer 403 (a revoked signature: permanent) to everything.
    pub refuse: std::sync::atomic::AtomicBool,
    /// Never answer the next this many requests (the caller dies waiting).
    pub hang_next: AtomicUsize,
    pub queries: Mutex<Vec<String>>,
    /// `x-t1578-activity` and `x-t1578-finding` of each accepted alert.
    pub headers: Mutex<Vec<(String, String)>>,
}

pub struct Receiver {
    pub state: Arc<ReceiverState>,
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let router = Router::new()
            .route("/workflows/t1578/triggers/manual/paths/invoke", post(receive))
            .with_state(state.clone());
        let (port, task) = serve(router).await;
        let url = format!(
            "http://127.0.0.1:{port}/workflows/t1578/triggers/manual/paths/invoke?api-version=2016-10-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
        );
        Receiver { state, url, task }
    }

    /// Alert bodies accepted so far, each checked against the committed schema and against
    /// the headers a trigger condition filters on.
    pub fn alerts(&self) -> Vec<Value> {
        let alerts = self.state.accepted.lock().unwrap().clone();
        alerts.iter().for_each(t1578_testkit::assert_valid_alert);
        let headers = self.state.headers.lock().unwrap().clone();
        assert_eq!(headers.len(), alerts.len());
        for (a, (activity, finding)) in alerts.iter().zip(&headers) {
            assert_eq!(a["unmapped"]["finding"]["activity"], activity.as_str());
            assert_eq!(a["finding_info"]["uid"], finding.as_str());
        }
        alerts
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(st): State<Arc<ReceiverState>>, req: Request) -> Response {
    st.attempts.fetch_add(1, Ordering::SeqCst);
    st.queries
        .lock()
        .unwrap()
        .push(req.uri().query().unwrap_or("").to_string());
    if st.refuse.load(Ordering::SeqCst) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let h = st.hang_next.load(Ordering::SeqCst);
    if h > 0
        && st
            .hang_next
            .compare_exchange(h, h - 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        std::future::pending::<()>().await;
    }
    let n = st.fail_next.load(Ordering::SeqCst);
    if n > 0
        && st
            .fail_next
            .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let header = |h: &axum::http::HeaderMap, name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let headers = (
        header(req.headers(), "x-t1578-activity"),
        header(req.headers(), "x-t1578-finding"),
    );
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).expect("alert body is JSON");
    {
        // One lock for both lists, so a body and its headers stay at the same index.
        let mut accepted = st.accepted.lock().unwrap();
        st.headers.lock().unwrap().push(headers);
        accepted.push(v);
    }
    StatusCode::ACCEPTED.into_response()
}

/// How the proxy fails requests in its failure range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// Answer 503 Server Busy, as Table Storage does when throttling a partition.
    Busy,
    /// Never answer: the client's timeout fires.
    Hang,
}

pub struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    pub requests: AtomicUsize,
    pub forwarded: AtomicUsize,
    fail_from: AtomicUsize,
    fail_until: AtomicUsize,
    fault: Mutex<Fault>,
}

/// An HTTP proxy in front of Azurite that counts requests and fails the n-th to m-th.
pub struct FaultProxy {
    pub state: Arc<ProxyState>,
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(azurite: &Azurite) -> FaultProxy {
        let state = Arc::new(ProxyState {
            upstream: format!("http://127.0.0.1:{}", azurite.port),
            http: reqwest::Client::new(),
            requests: AtomicUsize::new(0),
            forwarded: AtomicUsize::new(0),
            fail_from: AtomicUsize::new(usize::MAX),
            fail_until: AtomicUsize::new(usize::MAX),
            fault: Mutex::new(Fault::Busy),
        });
        let router = Router::new().fallback(forward).with_state(state.clone());
        let (port, task) = serve(router).await;
        FaultProxy { state, port, task }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/devstoreaccount1", self.port)
    }

    /// Fail requests number `from..until` (0-based, counted from now on).
    pub fn fail(&self, from: usize, until: usize, fault: Fault) {
        let base = self.state.requests.load(Ordering::SeqCst);
        *self.state.fault.lock().unwrap() = fault;
        self.state
            .fail_from
            .store(base.saturating_add(from), Ordering::SeqCst);
        self.state
            .fail_until
            .store(base.saturating_add(until), Ordering::SeqCst);
    }

    pub fn heal(&self) {
        self.state.fail_from.store(usize::MAX, Ordering::SeqCst);
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(st): State<Arc<ProxyState>>, req: Request) -> Response {
    let n = st.requests.fetch_add(1, Ordering::SeqCst);
    if n >= st.fail_from.load(Ordering::SeqCst) && n < st.fail_until.load(Ordering::SeqCst) {
        let fault = *st.fault.lock().unwrap();
        match fault {
            Fault::Busy => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [("x-ms-error-code", "ServerBusy")],
                    "busy",
                )
                    .into_response()
            }
            Fault::Hang => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return StatusCode::GATEWAY_TIMEOUT.into_response();
            }
        }
    }
    let (parts, body) = req.into_parts();
    let body: Bytes = body.collect().await.unwrap().to_bytes();
    let url = format!(
        "{}{}",
        st.upstream,
        parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut out = st.http.request(parts.method.clone(), url);
    for (k, v) in parts.headers.iter() {
        if k != "host" && k != "content-length" {
            out = out.header(k, v);
        }
    }
    let resp = out.body(body).send().await.expect("azurite answers");
    st.forwarded.fetch_add(1, Ordering::SeqCst);
    let mut b = Response::builder().status(resp.status().as_u16());
    for (k, v) in resp.headers().iter() {
        if k != "transfer-encoding" && k != "connection" && k != "content-length" {
            b = b.header(k.as_str(), v.as_bytes());
        }
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    b.body(Body::from(bytes)).unwrap()
}

pub type TestState = AppState<TableStore, LogicAppSink, BlobDeadLetters>;

pub const DEAD_LETTERS: &str = "t1578-deadletter";

/// Store, sink and router over a table at `endpoint` (Azurite or the proxy).
pub struct Handler {
    pub state: Arc<TestState>,
}

pub struct HandlerOptions {
    pub table: String,
    pub profile: ProfileName,
    pub shadow: bool,
    pub table_timeout: Duration,
    pub sink: SinkOptions,
    pub sweep: SweepOptions,
    /// Tuning document (TOML) the engine runs with; empty for none.
    pub tuning: String,
    /// How long an invocation owns the alerts it saved (the pipeline's 60 s by default): short
    /// in the tests that wait for it to run out.
    pub outbox_lease: Duration,
}

/// New principals alert on the seed's lowest tier from its 3 points, as the seed does: for the
/// tests that count reports at single-operation scale, where `default` keeps one delete (3
/// points) as evidence.
pub use t1578_testkit::SEED_TIERS as EVERY_TIER;

/// The engine a handler built with `tuning` runs.
pub fn engine_with(profile: ProfileName, tuning: &str) -> Engine {
    let catalog = Catalog::builtin().unwrap();
    let tuning = Tuning::from_toml(tuning, "test", &catalog).unwrap();
    Engine::with_tuning(catalog, Profile::named(profile), tuning)
}

impl Default for HandlerOptions {
    fn default() -> Self {
        HandlerOptions {
            table: "t1578state".into(),
            profile: ProfileName::Default,
            shadow: false,
            table_timeout: Duration::from_secs(5),
            sink: SinkOptions {
                timeout: Duration::from_secs(5),
                max_attempts: 3,
                backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(100),
            },
            sweep: SweepOptions::default(),
            tuning: String::new(),
            outbox_lease: PipelineOptions::default().outbox_lease,
        }
    }
}

impl Handler {
    /// `endpoint` is where requests go; the key comes from Azurite's connection string.
    pub async fn new(azurite: &Azurite, endpoint: &str, receiver: &Receiver, o: HandlerOptions) -> Handler {
        let access = parse_connection_string(&azurite.connection_string()).unwrap();
        let http = t1578_azure_function::http_client().unwrap();
        let client = TableClient::new(
            http.clone(),
            endpoint,
            &o.table,
            Credential::from_access(&access),
            o.table_timeout,
        )
        .unwrap();
        client.ensure_table().await.unwrap();
        let store = TableStore::new(client, o.sweep);
        let dead_letters = BlobDeadLetters::new(
            http.clone(),
            &azurite.blob_endpoint(),
            DEAD_LETTERS,
            Credential::from_access(&access),
            o.table_timeout,
        )
        .unwrap();
        dead_letters.ensure_container().await.unwrap();
        let sink = LogicAppSink::new(http, Some(SecretUrl::parse(&receiver.url).unwrap()), o.sink);
        let engine = engine_with(o.profile, &o.tuning);
        let options = PipelineOptions {
            shadow: o.shadow,
            outbox_lease: o.outbox_lease,
            ..Default::default()
        };
        Handler {
            state: Arc::new(AppState {
                engine,
                store,
                sink,
                dead_letters,
                options,
                last_park_backoff: vec![Duration::from_millis(50); 3],
            }),
        }
    }

    pub async fn post(&self, path: &str, body: String) -> (StatusCode, InvokeResponse) {
        let resp = app(self.state.clone())
            .oneshot(
                axum::http::Request::post(path)
                    .header("content-type", "application/json; charset=utf-8")
                    .header("x-azure-functions-invocationid", "test-invocation")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let parsed: InvokeResponse = serde_json::from_slice(&bytes).expect("an InvokeResponse");
        (status, parsed)
    }

    /// POST one batch of Event Hub bodies, in the host's expected shape (JSON text).
    pub async fn batch(&self, bodies: &[Value]) -> (StatusCode, InvokeResponse) {
        self.post("/ActivityLog", invocation_text(bodies)).await
    }

    /// The same, as the host's `retry`-th re-drive under a policy of `max` retries.
    pub async fn batch_retry(&self, bodies: &[Value], retry: u64, max: u64) -> (StatusCode, InvokeResponse) {
        let mut v: Value = serde_json::from_str(&invocation_text(bodies)).unwrap();
        v["Metadata"]["RetryContext"] = json!({"RetryCount": retry, "MaxRetryCount": max, "Exception": null});
        self.post("/ActivityLog", v.to_string()).await
    }

    /// Every parked line in the dead-letter container.
    pub async fn parked(&self) -> Vec<Value> {
        let dl = &self.state.dead_letters;
        let mut out = Vec::new();
        for name in dl.list("").await.unwrap() {
            let bytes = dl.get(&name).await.unwrap();
            for line in String::from_utf8(bytes).unwrap().lines() {
                out.push(serde_json::from_str(line).expect("parked lines are JSON"));
            }
        }
        out
    }

    /// The alerts still pending in the outbox of `key`.
    pub async fn pending(&self, key: &StateKey) -> usize {
        match self.state.store.load(key).await.unwrap() {
            None => 0,
            Some(s) => t1578_core::outbox::split(&s.bytes).unwrap().1.len(),
        }
    }

    pub fn key_of(&self, record: &Value) -> StateKey {
        self.state
            .engine
            .score(&normalize(record.clone()).unwrap())
            .expect("record is scored")
            .key
    }

    /// Units the stored window holds for `key` (0 when absent).
    pub async fn units(&self, key: &StateKey) -> usize {
        match self.state.store.load(key).await.unwrap() {
            None => 0,
            Some(s) => WindowState::decode(t1578_core::outbox::split(&s.bytes).unwrap().0, key)
                .expect("stored window decodes")
                .unit_count(),
        }
    }
}

/// `{"Data":{"events":"<JSON text of an array of strings>"}, ...}`: what the host sends for
/// `cardinality: many`, `dataType: string`.
pub fn invocation_text(bodies: &[Value]) -> String {
    let strings: Vec<String> = bodies.iter().map(|b| b.to_string()).collect();
    let data = serde_json::to_string(&strings).unwrap();
    json!({"Data": {"events": data}, "Metadata": metadata(bodies.len())}).to_string()
}

/// The same batch with `Data.events` as a plain JSON array of strings.
pub fn invocation_array(bodies: &[Value]) -> String {
    let strings: Vec<String> = bodies.iter().map(|b| b.to_string()).collect();
    json!({"Data": {"events": strings}, "Metadata": metadata(bodies.len())}).to_string()
}

fn metadata(n: usize) -> Value {
    let seq: Vec<usize> = (100..100 + n).collect();
    json!({
        "PartitionContext": {"EventHubName": "insights-activity-logs", "ConsumerGroup": "t1578", "PartitionId": "0"},
        "SequenceNumberArray": serde_json::to_string(&seq).unwrap(),
        "sys": {"MethodName": "ActivityLog", "UtcNow": "2026-11-26T12:00:00Z", "RandGuid": "00000000-0000-0000-0000-000000000000"}
    })
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn rfc3339(ms: i64) -> String {
    t1578_core::alert::rfc3339(ms)
}

/// Resource id in the export's upper-case spelling.
pub fn resource(kind: &str, name: &str) -> String {
    format!(
        "/SUBSCRIPTIONS/{}/RESOURCEGROUPS/RG-TEST/PROVIDERS/MICROSOFT.COMPUTE/{}/{}",
        SUB.to_uppercase(),
        kind.to_uppercase(),
        name.to_uppercase()
    )
}

/// One diagnostic-settings export record of a user's Microsoft.Compute operation.
pub fn record(
    upn: &str,
    operation: &str,
    resource_id: &str,
    status: &str,
    correlation: &str,
    t_ms: i64,
) -> Value {
    let signature = match status {
        "Start" => "Started.",
        "Accept" => "Accepted.",
        "Success" => "Succeeded.OK",
        _ => "Failed.Conflict",
    };
    json!({
        "RoleLocation": "West Europe",
        "time": rfc3339(t_ms),
        "resourceId": resource_id,
        "operationName": operation.to_uppercase(),
        "category": "Administrative",
        "resultType": status,
        "resultSignature": signature,
        "durationMs": "0",
        "callerIpAddress": "203.0.113.10",
        "correlationId": correlation,
        "identity": {
            "authorization": {
                "scope": resource_id.to_lowercase(),
                "action": operation,
                "evidence": {"role": "Contributor", "principalType": "User", "principalId": "55555555555555555555555555555555"}
            },
            "claims": {
                "aud": "https://management.core.windows.net/",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": upn,
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": upn,
                "idtyp": "user",
                "ipaddr": "203.0.113.10",
                "http://schemas.microsoft.com/identity/claims/tenantid": TENANT
            }
        },
        "level": "Informational",
        "properties": {
            "eventCategory": "Administrative",
            "entity": resource_id,
            "message": operation,
            "hierarchy": format!("{TENANT}/{SUB}")
        },
        "tenantId": TENANT
    })
}

/// An Event Hub body.
pub fn body(records: Vec<Value>) -> Value {
    json!({ "records": records })
}

/// Load an `events/` fixture and move its times so the newest record is `ago_ms` before now,
/// keeping the gaps: stored windows then are live, not already expired.
pub fn fixture(rel: &str, ago_ms: i64) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let parse = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    let recs = v["records"].as_array_mut().expect("an Event Hub body");
    let newest = recs
        .iter()
        .map(|r| parse(r["time"].as_str().unwrap()))
        .max()
        .unwrap();
    let shift = now_ms() - ago_ms - newest;
    for r in recs.iter_mut() {
        let t = parse(r["time"].as_str().unwrap());
        r["time"] = json!(rfc3339(t + shift));
    }
    v
}

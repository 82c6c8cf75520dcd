//! Archives read in place: `replay s3://...` against moto and `replay az://...` (and the
//! `https://ACCOUNT.blob.core.windows.net/...` form) against Azurite Blob print the same bytes
//! as a replay of the same files on disk; a `--since/--until` week reads only that week's
//! objects, counted by the server's request log and by the CLI; a missing bucket and refused
//! credentials are clear errors naming the URL.

use base64::Engine as _;
use flate2::write::GzEncoder;
use hmac::{Hmac, Mac};
use object_store::path::Path as Key;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use t1578_testkit::reserve_port;

const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const CONTAINER: &str = "insights-activity-logs";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A loopback server process on a free port, killed by its own handle (PID) on drop; its
/// output goes to `log`.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        match self.child.stdin.take() {
            // moto runs under a guard shell: closing its stdin makes the guard kill moto by PID
            // and exit. Killing the guard as well raced it: a guard killed before it read the
            // end of its stdin left moto running, orphaned (three or four per test run).
            Some(stdin) => drop(stdin),
            None => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

/// moto under a guard that closes inherited descriptors (the build lock) and kills moto by its
/// PID when the pipe from this process closes, even if this process dies without unwinding.
const GUARD: &str = r#"for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && [ -e "$fd" ] && eval "exec $n>&-"; done
"$0" -H 127.0.0.1 -p "$1" >"$2" 2>&1 </dev/null &
m=$!
read -r _
kill -KILL "$m" 2>/dev/null
wait "$m" 2>/dev/null
exit 0"#;

fn wait_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "{what} exited");
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn moto() -> Server {
    let bin = root().join(".tools/venv/bin/moto_server");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/install-tools.sh",
        bin.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("moto.log");
    let (port, _reserved) = reserve_port();
    let mut child = Command::new("bash")
        .args(["-c", GUARD])
        .arg(&bin)
        .arg(port.to_string())
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port, &mut child, "moto_server");
    // moto answers on its port before the app is ready: wait for a real response.
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(
        port,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .is_none()
    {
        assert!(Instant::now() < deadline, "moto_server did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        port,
        log,
        _dir: dir,
    }
}

fn azurite() -> Server {
    let script = root().join(".tools/node/node_modules/azurite/dist/src/blob/main.js");
    assert!(
        script.exists(),
        "{} is missing: run scripts/install-tools.sh",
        script.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let (port, _reserved) = reserve_port();
    let mut child = Command::new("node")
        .arg(&script)
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .args(["--inMemoryPersistence", "--disableTelemetry", "--silent"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node (run scripts/install-tools.sh)");
    wait_port(port, &mut child, "Azurite Blob");
    Server {
        child,
        port,
        log: PathBuf::new(),
        _dir: dir,
    }
}

/// One raw HTTP/1.1 exchange; the status code, or `None` when the server did not answer.
fn http(port: u16, request: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).ok()?;
    std::str::from_utf8(&buf[9..12]).ok()?.parse().ok()
}

fn create_bucket(moto: &Server, bucket: &str) {
    let req = format!(
        "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(http(moto.port, &req), Some(200));
}

/// Create the container, signed with the emulator's account key (SharedKey).
fn create_container(az: &Server) {
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let version = "2021-08-06";
    let to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{CONTAINER}\nrestype:container"
    );
    let key = base64::engine::general_purpose::STANDARD.decode(KEY).unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let req = format!(
        "PUT /{ACCOUNT}/{CONTAINER}?restype=container HTTP/1.1\r\nHost: 127.0.0.1\r\nx-ms-date: {date}\r\nx-ms-version: {version}\r\nAuthorization: SharedKey {ACCOUNT}:{sig}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(http(az.port, &req), Some(201));
}

fn s3_store(moto: &Server, bucket: &str) -> Box<dyn ObjectStore> {
    Box::new(
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(format!("http://127.0.0.1:{}", moto.port))
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap(),
    )
}

fn blob_store(az: &Server) -> Box<dyn ObjectStore> {
    Box::new(
        object_store::azure::MicrosoftAzureBuilder::new()
            .with_endpoint(format!("http://127.0.0.1:{}/{ACCOUNT}", az.port))
            .with_allow_http(true)
            .with_account(ACCOUNT)
            .with_access_key(KEY)
            .with_container_name(CONTAINER)
            .build()
            .unwrap(),
    )
}

/// Write `files` (key → bytes) both under `dir` and into `store`.
fn lay_out(files: &BTreeMap<String, Vec<u8>>, dir: &Path, store: &dyn ObjectStore) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (key, bytes) in files {
        let p = dir.join(key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        rt.block_on(store.put(&Key::parse(key).unwrap(), PutPayload::from(bytes.clone())))
            .unwrap();
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn fixtures(dir: &str) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("events").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
        .collect()
}

/// The CloudTrail records of the AWS fixtures (the `detail` of their EventBridge envelopes).
fn aws_records() -> Vec<Value> {
    fixtures("aws").into_iter().map(|v| v["detail"].clone()).collect()
}

/// A `trail` bucket in `moto` holding the AWS fixtures in CloudTrail's S3 layout, and the same
/// files on disk: the records, the files by key, and the directory.
fn trail(moto: &Server) -> (Vec<Value>, BTreeMap<String, Vec<u8>>, tempfile::TempDir) {
    create_bucket(moto, "trail");
    let records = aws_records();
    let files = cloudtrail_layout(&records);
    let dir = tempfile::tempdir().unwrap();
    lay_out(&files, dir.path(), s3_store(moto, "trail").as_ref());
    (records, files, dir)
}

fn text(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_string()
}

/// CloudTrail's S3 layout: one `{"Records":[...]}` .json.gz per account, region and day,
/// named by the day's last minute; every third file under an organization trail's `o-ORGID/`.
fn cloudtrail_layout(records: &[Value]) -> BTreeMap<String, Vec<u8>> {
    let mut groups: BTreeMap<(String, String, String), Vec<Value>> = BTreeMap::new();
    for r in records {
        let t = text(r, "eventTime");
        groups
            .entry((
                text(r, "recipientAccountId"),
                text(r, "awsRegion"),
                t[..10].to_string(),
            ))
            .or_default()
            .push(r.clone());
    }
    let mut out = BTreeMap::new();
    for (n, ((account, region, date), recs)) in groups.into_iter().enumerate() {
        let account = if account.is_empty() {
            "111122223333".to_string()
        } else {
            account
        };
        let org = if n % 3 == 0 { "o-abc123def4/" } else { "" };
        let day = date.replace('-', "/");
        let stamp = format!("{}T2359Z", date.replace('-', ""));
        let key = format!(
            "AWSLogs/{org}{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{stamp}_f{n:03}.json.gz"
        );
        let doc = serde_json::json!({ "Records": recs });
        out.insert(key, gzip(doc.to_string().as_bytes()));
    }
    out
}

/// The Activity Log export: one JSON-lines `PT1H.json` per subscription and hour.
fn export_layout(records: &[Value]) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for r in records {
        let id = text(r, "resourceId").to_uppercase();
        let sub: Vec<&str> = id.split('/').take(3).collect();
        let t = text(r, "time");
        let key = format!(
            "resourceId={}/y={}/m={}/d={}/h={}/m=00/PT1H.json",
            sub.join("/"),
            &t[..4],
            &t[5..7],
            &t[8..10],
            &t[11..13]
        );
        let body = out.entry(key).or_default();
        body.extend(serde_json::to_vec(r).unwrap());
        body.push(b'\n');
    }
    out
}

/// Objects of other services in AWS's delivery layout, in the trail's account and organization
/// folders, dated inside the tests' windows.
fn others() -> BTreeMap<String, Vec<u8>> {
    let config = br#"{"fileVersion":"1.0","configurationItems":[{"configurationItemCaptureTime":"2026-11-06T10:00:00.000Z","awsAccountId":"111122223333","resourceType":"AWS::EC2::Snapshot","resourceId":"snap-1","awsRegion":"us-east-1","configuration":{"eventName":"DeleteSnapshot"}}]}"#;
    let flow = b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n2 111122223333 eni-0a1b 10.0.0.1 10.0.0.2 443 50000 6 10 840 1794650400 1794650460 ACCEPT OK\n";
    let elb = b"https 2026-11-06T10:00:00.000000Z app/web/1 203.0.113.9:5000 10.0.0.5:80 0.001 0.002 0.000 200 200 34 366 \"GET https://web:443/ HTTP/1.1\" \"curl\" - - arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/t/1 \"Root=1-1\"\n";
    [
        ("AWSLogs/111122223333/Config/us-east-1/2026/11/6/ConfigHistory/111122223333_Config_us-east-1_ConfigHistory_AWS::EC2::Snapshot_20261106T100000Z_20261106T110000Z_1.json.gz", &config[..]),
        ("AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/06/111122223333_vpcflowlogs_us-east-1_fl-0a1b_20261106T1000Z_1a2b3c4d.log.gz", &flow[..]),
        ("AWSLogs/o-abc123def4/111122223333/elasticloadbalancing/us-east-1/2026/11/06/111122223333_elasticloadbalancing_us-east-1_app.web.1_20261106T1000Z_10.0.0.5_x.log.gz", &elb[..]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), gzip(v)))
    .collect()
}

fn t1578(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_t1578"));
    c.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("AZURE_") || k.starts_with("AZURITE_") {
            c.env_remove(k);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn s3_env(moto: &Server) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", moto.port)),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
    ]
}

fn azurite_env(az: &Server) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
        (
            "AZURITE_BLOB_STORAGE_URL",
            format!("http://127.0.0.1:{}", az.port),
        ),
    ]
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Object GETs moto logged (listings are `GET /bucket?...`).
fn object_gets(moto: &Server, bucket: &str) -> Vec<String> {
    let log = std::fs::read_to_string(&moto.log).unwrap();
    let get = format!("\"GET /{bucket}/");
    log.lines()
        .filter_map(|l| {
            l.split_once(&get)
                .map(|(_, rest)| rest.split(' ').next().unwrap().to_string())
        })
        .collect()
}

fn listing_prefixes(moto: &Server) -> Vec<String> {
    let log = std::fs::read_to_string(&moto.log).unwrap();
    log.lines()
        .filter_map(|l| {
            l.split_once("prefix=")
                .map(|(_, rest)| rest.split([' ', '&']).next().unwrap().to_string())
        })
        .collect()
}

/// The number before `word` in the CLI's line about `url`.
fn reported(out: &Output, url: &str, word: &str) -> u64 {
    let err = stderr(out);
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("t1578: {url}: ")))
        .unwrap_or_else(|| panic!("no report line for {url}:\n{err}"));
    let before = line.split(word).next().unwrap();
    before
        .trim_end()
        .rsplit([' ', '(', ','])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The servers a test starts are gone when it ends: nothing listens on their ports after drop
/// (killing moto's guard before it read its closed stdin left moto running, orphaned).
#[test]
fn servers_stop_when_dropped() {
    for _ in 0..3 {
        for server in [moto(), azurite()] {
            let port = server.port;
            drop(server);
            assert!(
                TcpStream::connect(("127.0.0.1", port)).is_err(),
                "a server still listens on {port} after drop"
            );
        }
    }
}

#[test]
fn s3_layout_in_place_prints_the_alerts_of_the_same_files_on_disk() {
    let moto = moto();
    create_bucket(&moto, "trail");
    let records = aws_records();
    let mut files = cloudtrail_layout(&records);
    assert!(files.len() > 10 && files.keys().any(|k| k.contains("/o-abc123def4/")));
    // An object that is not gzip at all: reported by name, the rest still read.
    let bad = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/06/111122223333_CloudTrail_us-east-1_20261106T1000Z_bad.json.gz";
    files.insert(bad.into(), b"not gzip".to_vec());
    // The trail's folders of no API calls, beside its logs: neither read nor fetched.
    let digest = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/06/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261106T100000Z.json.gz";
    files.insert(
        digest.into(),
        gzip(br#"{"awsAccountId":"111122223333","logFiles":[]}"#),
    );
    let insight = "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/11/06/111122223333_CloudTrail-Insight_us-east-1_20261106T1000Z_i.json.gz";
    let insight_record = serde_json::json!({"Records": [{"eventVersion": "1.07", "eventTime": "2026-11-06T10:00:00Z",
        "awsRegion": "us-east-1", "eventID": "i-1", "eventType": "AwsCloudTrailInsight", "eventCategory": "Insight",
        "recipientAccountId": "111122223333", "insightDetails": {"state": "Start", "eventSource": "ec2.amazonaws.com",
        "eventName": "DeleteSnapshot", "insightType": "ApiCallRateInsight"}}]});
    files.insert(insight.into(), gzip(insight_record.to_string().as_bytes()));
    // What a central log bucket keeps beside the trail, under the same account folders: AWS
    // Config history (JSON, `.json.gz`), VPC flow logs and load balancer logs (text, `.log.gz`).
    for (key, body) in others() {
        files.insert(key, body);
    }
    let inputs = files.len() - 2 - others().len();
    let dir = tempfile::tempdir().unwrap();
    lay_out(&files, dir.path(), s3_store(&moto, "trail").as_ref());

    let local = t1578(&["replay", "--format", "json", dir.path().to_str().unwrap()], &[]);
    let remote = t1578(&["replay", "--format", "json", "s3://trail/"], &s3_env(&moto));
    let alerts = String::from_utf8_lossy(&local.stdout).lines().count();
    assert!(alerts >= 10, "{alerts} alerts:\n{}", stderr(&local));
    assert_eq!(
        String::from_utf8_lossy(&remote.stdout),
        String::from_utf8_lossy(&local.stdout),
        "{}",
        stderr(&remote)
    );
    assert_eq!(remote.status.code(), local.status.code());
    // Both take the accounts the layout names as the organization's, the same ones.
    assert!(layout_note(&local).is_some(), "{}", stderr(&local));
    assert_eq!(layout_note(&remote), layout_note(&local));
    assert!(
        stderr(&remote).contains(&format!("s3://trail/{bad}")),
        "{}",
        stderr(&remote)
    );
    assert!(!stderr(&remote).contains("panicked"));
    // Every object fetched exactly once.
    let gets = object_gets(&moto, "trail");
    assert_eq!(gets.len(), inputs);
    assert_eq!(reported(&remote, "s3://trail/", "fetched"), inputs as u64);
    // The summary counts the same files and records as the local replay.
    let summary = |o: &Output| {
        stderr(o)
            .lines()
            .find(|l| l.contains(" files, "))
            .unwrap()
            .to_string()
    };
    assert_eq!(summary(&remote), summary(&local));
    // `query` reads a bucket through the same path.
    let q_local = t1578(&["query", "--format", "json", dir.path().to_str().unwrap()], &[]);
    let q_remote = t1578(&["query", "--format", "json", "s3://trail/"], &s3_env(&moto));
    assert_eq!(q_remote.stdout, q_local.stdout);
    assert_eq!(summary(&q_remote), summary(&q_local));
    let want = format!("{inputs} files, {} records read", records.len());
    assert!(summary(&q_remote).contains(&want), "{}", summary(&q_remote));
    assert!(summary(&q_local).contains(&want), "{}", summary(&q_local));
}

#[test]
fn export_layout_in_place_prints_the_alerts_of_the_same_files_on_disk() {
    let az = azurite();
    create_container(&az);
    let records: Vec<Value> = fixtures("azure")
        .into_iter()
        .flat_map(|v| v["records"].as_array().unwrap().clone())
        .collect();
    let files = export_layout(&records);
    assert!(files.len() > 5);
    let dir = tempfile::tempdir().unwrap();
    lay_out(&files, dir.path(), blob_store(&az).as_ref());
    let local = t1578(&["replay", "--format", "json", dir.path().to_str().unwrap()], &[]);
    assert!(
        String::from_utf8_lossy(&local.stdout).lines().count() >= 5,
        "{}",
        stderr(&local)
    );
    for url in [
        format!("az://{CONTAINER}/resourceId=/SUBSCRIPTIONS"),
        format!("https://{ACCOUNT}.blob.core.windows.net/{CONTAINER}/"),
    ] {
        let remote = t1578(&["replay", "--format", "json", &url], &azurite_env(&az));
        assert_eq!(
            String::from_utf8_lossy(&remote.stdout),
            String::from_utf8_lossy(&local.stdout),
            "{url}: {}",
            stderr(&remote)
        );
        assert_eq!(remote.status.code(), Some(0), "{}", stderr(&remote));
        assert_eq!(reported(&remote, &url, "fetched"), files.len() as u64);
        assert!(layout_note(&local).is_some(), "{}", stderr(&local));
        assert_eq!(layout_note(&remote), layout_note(&local), "{url}");
    }
}

/// What stderr says of the accounts the inputs' key layout names.
fn layout_note(o: &Output) -> Option<String> {
    stderr(o)
        .lines()
        .find(|l| l.contains("named by the inputs' key layout"))
        .map(str::to_string)
}

/// One object a day for eight weeks (October and November), each holding one shared snapshot
/// dated that day at 11:50, plus objects dated just before and just after the week.
fn weeks(template: &Value, key: impl Fn(&str, &str) -> String) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut put = |date: chrono::NaiveDate, hm: &str, event_at: &str| {
        let mut r = template.clone();
        let id = Value::from(format!("ev-{date}-{hm}"));
        if r.get("eventTime").is_some() {
            r["eventTime"] = Value::from(format!("{event_at}:00Z"));
            r["eventID"] = id;
        } else {
            r["time"] = Value::from(format!("{event_at}:00.0000000Z"));
            r["correlationId"] = id;
        }
        out.insert(
            key(&date.format("%Y/%m/%d").to_string(), hm),
            r.to_string().into_bytes(),
        );
    };
    let first = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    for d in 0..56 {
        let date = first + chrono::Duration::days(d);
        put(date, "1200", &format!("{date}T11:50"));
    }
    // CloudTrail delivers minutes after the events: a file of the week's last minutes is
    // dated the next day, and is read; one dated later is not.
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    put(day(9), "0030", "2026-11-08T23:55");
    put(day(9), "0230", "2026-11-09T02:25");
    put(day(1), "2330", "2026-11-01T23:25");
    out
}

#[test]
fn a_week_out_of_two_months_lists_and_reads_only_that_week() {
    let moto = moto();
    create_bucket(&moto, "org");
    let template = fixtures("aws")
        .into_iter()
        .map(|v| v["detail"].clone())
        .find(|d| {
            text(d, "eventName") == "ModifySnapshotAttribute"
                && d.to_string().contains("createVolumePermission")
                && d["errorCode"].is_null()
        })
        .unwrap();
    let mut files = weeks(&template, |day, hm| {
        let stamp = format!("{}T{hm}Z", day.replace('/', ""));
        format!("AWSLogs/o-abc123def4/111122223333/CloudTrail/us-east-1/{day}/111122223333_CloudTrail_us-east-1_{stamp}_x.json.gz")
    });
    // The Records wrapper, gzip, as CloudTrail writes them.
    for v in files.values_mut() {
        let rec: Value = serde_json::from_slice(v).unwrap();
        *v = gzip(serde_json::json!({ "Records": [rec] }).to_string().as_bytes());
    }
    // Other services' logs in the week, beside the trail: never listed, never fetched.
    let mut laid = files.clone();
    laid.extend(others());
    let dir = tempfile::tempdir().unwrap();
    lay_out(&laid, dir.path(), s3_store(&moto, "org").as_ref());

    // With the flag given, one pass: without it, a week of one principal's records is read
    // twice, to tell an investigation of it from a backtest.
    let window = [
        "--since",
        "2026-11-02",
        "--until",
        "2026-11-08T23:59:59Z",
        "--observed-since",
        "none",
    ];
    let args = |input: &'static str| [&["replay", "--format", "json"][..], &window[..], &[input]].concat();
    let remote = t1578(&args("s3://org/AWSLogs/"), &s3_env(&moto));
    let local_dir = dir.path().to_str().unwrap().to_string();
    let local = t1578(&args(local_dir.leak()), &[]);
    assert_eq!(remote.status.code(), Some(0), "{}", stderr(&remote));
    assert_eq!(local.status.code(), Some(0), "{}", stderr(&local));

    // Seven days of the week plus the file delivered after midnight; nothing else was fetched.
    let mut gets = object_gets(&moto, "org");
    gets.sort();
    let want: Vec<String> = files
        .keys()
        .filter(|k| {
            let d = &k.split('/').nth(7).unwrap();
            (("02".."09").contains(d) && k.contains("/2026/11/") && !k.contains("T2330Z"))
                || k.contains("20261109T0030Z")
        })
        .cloned()
        .collect();
    assert_eq!(want.len(), 8);
    assert_eq!(gets, want);
    assert_eq!(reported(&remote, "s3://org/AWSLogs/", "fetched"), 8);
    // October was never listed, nor any November day outside the window but the 9th, whose
    // files are dated by their minute.
    let prefixes = listing_prefixes(&moto);
    assert!(!prefixes.iter().any(|p| p.contains("/2026/10/")), "{prefixes:?}");
    for service in ["Config", "vpcflowlogs", "elasticloadbalancing"] {
        assert!(
            !prefixes.iter().any(|p| p.contains(&format!("/{service}/"))),
            "{service} listed: {prefixes:?}"
        );
    }
    assert!(prefixes.iter().any(|p| p.contains("/2026/11/09")), "{prefixes:?}");
    for day in ["01", "10", "15", "25"] {
        assert!(
            !prefixes.iter().any(|p| p.contains(&format!("/2026/11/{day}"))),
            "{prefixes:?}"
        );
    }
    // The week's alerts are those of the whole archive read from disk with the same window.
    let alerts = String::from_utf8_lossy(&remote.stdout).lines().count();
    assert!(alerts >= 1, "{alerts}: {}", stderr(&remote));
    assert!(
        stderr(&remote).contains("8 files, 8 records read (0 skipped by the fast path), 8 in scope"),
        "{}",
        stderr(&remote)
    );
    assert_eq!(remote.stdout, local.stdout);
}

#[test]
fn a_week_of_the_export_reads_only_that_weeks_hours() {
    let az = azurite();
    create_container(&az);
    let template = fixtures("azure")
        .into_iter()
        .flat_map(|v| v["records"].as_array().unwrap().clone())
        .next()
        .unwrap();
    let files = weeks(&template, |day, hm| {
        let (y, rest) = day.split_at(4);
        let (m, d) = (&rest[1..3], &rest[4..6]);
        format!(
            "resourceId=/SUBSCRIPTIONS/S1/y={y}/m={m}/d={d}/h={}/m=00/PT1H.json",
            &hm[..2]
        )
    });
    let dir = tempfile::tempdir().unwrap();
    lay_out(&files, dir.path(), blob_store(&az).as_ref());
    let url = format!("az://{CONTAINER}/");
    let args = [
        "replay",
        "--since",
        "2026-11-02",
        "--until",
        "2026-11-08T23:59:59Z",
        &url,
    ];
    let remote = t1578(&args, &azurite_env(&az));
    assert_eq!(remote.status.code(), Some(0), "{}", stderr(&remote));
    // The week's seven noon hours and the hour just after it (h=00 of the 9th).
    assert_eq!(reported(&remote, &url, "fetched"), 8);
    // Listed: the week's days and the 9th (its 00, 02 and 12 hours); the 1st and the rest of
    // the two months were pruned by their folders.
    assert_eq!(reported(&remote, &url, "objects listed"), 10);
    assert_eq!(reported(&remote, &url, "outside"), 2);
    assert!(
        stderr(&remote).contains("t1578: 8 files, 8 records read"),
        "{}",
        stderr(&remote)
    );
}

#[test]
fn a_missing_bucket_or_refused_credentials_are_errors_naming_the_url() {
    let moto = moto();
    let out = t1578(&["replay", "s3://no-such-bucket/AWSLogs/"], &s3_env(&moto));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot read s3://no-such-bucket/AWSLogs/: listing failed")
            && err.contains("404 Not Found"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let az = azurite();
    create_container(&az);
    let mut env = azurite_env(&az);
    env.push((
        "AZURE_STORAGE_ACCOUNT_KEY",
        base64::engine::general_purpose::STANDARD.encode([7u8; 64]),
    ));
    let url = format!("az://{CONTAINER}/");
    let out = t1578(&["replay", &url], &env);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("cannot read {url}: listing failed")) && err.contains("403"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // A prefix that is not a folder of the bucket (a typo, half a segment): named, not silent.
    create_bucket(&moto, "trail");
    let out = t1578(&["replay", "s3://trail/AWSLog"], &s3_env(&moto));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read s3://trail/AWSLog: no log objects under this prefix"),
        "{}",
        stderr(&out)
    );
    // Not an archive URL at all: the reason, no attempt.
    let out = t1578(&["replay", "https://example.com/c/p"], &[]);
    assert!(
        stderr(&out).contains("https://example.com/c/p: not an Azure Blob URL"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_object_that_cannot_be_fetched_is_reported_by_its_url_and_the_rest_is_read() {
    let moto = moto();
    let (records, files, dir) = trail(&moto);
    // Moved to Glacier by a lifecycle rule: listed, but its GET is refused (InvalidObjectState).
    let archived = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/30/111122223333_CloudTrail_us-east-1_20261130T2359Z_old.json.gz";
    let body = gzip(
        serde_json::json!({ "Records": [records[0]] })
            .to_string()
            .as_bytes(),
    );
    let opts = PutOptions {
        attributes: Attributes::from_iter([(Attribute::StorageClass, "GLACIER")]),
        ..PutOptions::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(s3_store(&moto, "trail").put_opts(
        &Key::parse(archived).unwrap(),
        PutPayload::from(body),
        opts,
    ))
    .unwrap();

    let remote = t1578(
        &["replay", "--format", "json", "s3://trail/AWSLogs"],
        &s3_env(&moto),
    );
    let local = t1578(&["replay", "--format", "json", dir.path().to_str().unwrap()], &[]);
    let err = stderr(&remote);
    assert_eq!(remote.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("cannot read s3://trail/{archived}: GET failed")),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // Every other object was read: the alerts are those of the archive without it.
    assert!(!local.stdout.is_empty());
    assert_eq!(remote.stdout, local.stdout);
    assert_eq!(
        reported(&remote, "s3://trail/AWSLogs", "fetched"),
        files.len() as u64 + 1
    );
}

#[test]
fn a_named_profile_supplies_the_keys_and_region_once_per_run() {
    let moto = moto();
    let (_, files, dir) = trail(&moto);
    // The profile's keys come from a credential_process that counts its runs.
    let home = tempfile::tempdir().unwrap();
    let runs = home.path().join("runs");
    let script = home.path().join("creds.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{}'\necho '{{\"Version\":1,\"AccessKeyId\":\"AKIAPROFILE\",\"SecretAccessKey\":\"s\"}}'\n",
            runs.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    let config = home.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile audit]\nregion = us-east-1\ncredential_process = {}\n",
            script.display()
        ),
    )
    .unwrap();
    let env = vec![
        ("AWS_PROFILE", "audit".to_string()),
        ("AWS_CONFIG_FILE", config.display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("none").display().to_string(),
        ),
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", moto.port)),
        ("AWS_ALLOW_HTTP", "true".to_string()),
        // No IMDS fallback to hide a missing profile provider.
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9".to_string()),
    ];
    let remote = t1578(&["replay", "--format", "json", "s3://trail/"], &env);
    let local = t1578(&["replay", "--format", "json", dir.path().to_str().unwrap()], &[]);
    assert_eq!(remote.status.code(), Some(0), "{}", stderr(&remote));
    assert!(!local.stdout.is_empty());
    assert_eq!(remote.stdout, local.stdout);
    // One run of the process for the listing and every GET: the credentials are cached.
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 1);
    assert_eq!(reported(&remote, "s3://trail/", "fetched"), files.len() as u64);
}

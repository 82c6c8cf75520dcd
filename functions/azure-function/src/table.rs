//! Table Storage over its REST API, and the [`StateStore`] the pipeline uses on top of it.
//!
//! Raw REST rather than a crate: the only Tables crate (`azure_data_tables`) is frozen on the
//! legacy `azure_core`, and the detector needs six calls (create table, get, insert, replace,
//! query, delete).
//!
//! Entities: `PartitionKey = RowKey = StateKey::storage_id()` (64 hex characters of SHA-256, so any
//! principal string, `#EXT#` guests included, makes a legal key), `State` (Edm.Binary, the
//! encoded window), `ExpiresAt` (Edm.Int64, epoch seconds), `Key` (the clipped state key, data
//! only, for people reading the table). One entity per partition means entity-group
//! transactions could never batch two windows, so none are used.
//!
//! Concurrency: first write is an Insert (`POST`, 409 = someone else created it), later writes
//! a Replace (`PUT`) with `If-Match: <ETag>` (412 = someone else wrote since our read, 404 = the
//! cleanup deleted it). All three are [`SaveOutcome::Conflict`]: the pipeline reloads and
//! re-applies. There are no retries in here: a transient failure goes back to the Functions
//! host, whose retry policy re-drives the whole batch and holds the checkpoint.

use crate::auth::{Credential, TokenError};
use base64::Engine as _;
use futures::stream::{self, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use t1578_core::engine::StateKey;
use t1578_core::memory::MemoryStore;
use t1578_core::ports::{SaveOutcome, StateStore, StoreError, Stored, Version};
use t1578_core::window::WindowState;

/// The REST version sent on every request. Bearer tokens need 2019-02-02 or later.
pub const API_VERSION: &str = "2019-02-02";
/// Service limit for one binary property.
pub const MAX_PROPERTY_BYTES: usize = 64 * 1024;
/// The `Key` property is for humans; the hash is the identity.
const MAX_KEY_PROPERTY_CHARS: usize = 1024;

/// A Table Storage request that failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Timeout, refused or reset connection: nothing answered.
    #[error("table request {op} failed: {reason}")]
    Transport {
        /// Operation.
        op: &'static str,
        /// What happened (never a URL with credentials; Table URLs carry none).
        reason: String,
    },
    /// The service answered with an error status.
    #[error("table request {op} answered HTTP {status} {code}")]
    Status {
        /// Operation.
        op: &'static str,
        /// HTTP status.
        status: u16,
        /// The service's error code (`x-ms-error-code`), if any.
        code: String,
    },
    /// No bearer token could be obtained.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A request we refuse to send (bad key, oversized state).
    #[error("table request {op} refused locally: {reason}")]
    Invalid {
        /// Operation.
        op: &'static str,
        /// Why.
        reason: String,
    },
    /// The service answered 2xx with a body we cannot read.
    #[error("table response to {op} unreadable: {reason}")]
    Decode {
        /// Operation.
        op: &'static str,
        /// Why.
        reason: String,
    },
}

impl TableError {
    /// Would retrying the invocation help? Throttling (429), server errors, timeouts, resets,
    /// identity-endpoint hiccups and 401 (a bearer token expired early; the cache was cleared
    /// so the retry fetches a new one): yes. Refusals (400, 403, 404 table) and our own
    /// validation errors: no.
    pub fn retryable(&self) -> bool {
        match self {
            TableError::Transport { .. } => true,
            TableError::Status { status, .. } => matches!(*status, 401 | 408 | 429) || *status >= 500,
            TableError::Token(t) => t.retryable(),
            TableError::Invalid { .. } | TableError::Decode { .. } => false,
        }
    }
}

impl From<TableError> for StoreError {
    fn from(e: TableError) -> StoreError {
        if e.retryable() {
            StoreError::Transient(e.to_string())
        } else {
            StoreError::Permanent(e.to_string())
        }
    }
}

/// Describe a reqwest failure without its URL (habit: some URLs carry secrets).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body failed"
    } else {
        "request failed"
    };
    let mut detail = String::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail = s.to_string();
        src = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// Result of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Done; the new ETag.
    Done(String),
    /// Precondition failed: 409 on insert, 412 or 404 on a conditional update or delete.
    Conflict,
}

/// Where a paged query continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    partition: String,
    row: Option<String>,
}

/// One Table Storage table.
pub struct TableClient {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    table: String,
    credential: Credential,
    timeout: Duration,
    requests: AtomicU64,
}

impl std::fmt::Debug for TableClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("table", &self.table)
            .finish()
    }
}

/// Percent-encode a query value: everything but RFC 3986 unreserved characters, so spaces in
/// `$filter` become `%20` (form encoding's `+` is not a space to every storage front end).
fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Headers asking for entities without OData metadata (what every read and insert wants).
fn accept_json() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "Accept",
        HeaderValue::from_static("application/json;odata=nometadata"),
    );
    h
}

/// The conditional-write header: the write applies only if the entity still has `etag`.
fn if_match(op: &'static str, etag: &str) -> Result<HeaderMap, TableError> {
    let mut h = HeaderMap::new();
    h.insert(
        "If-Match",
        HeaderValue::from_str(etag).map_err(|_| TableError::Invalid {
            op,
            reason: "ETag".into(),
        })?,
    );
    Ok(h)
}

fn json_body(op: &'static str, entity: &Value) -> Result<Vec<u8>, TableError> {
    serde_json::to_vec(entity).map_err(|e| TableError::Invalid {
        op,
        reason: e.to_string(),
    })
}

/// Keys we put in a URL path must need no escaping. Ours are hex; anything else is refused
/// rather than quoted, because `/ \ # ?` and quotes in keys are where Table Storage and its
/// emulator disagree.
fn check_key(op: &'static str, k: &str) -> Result<(), TableError> {
    if !k.is_empty()
        && k.len() <= 1024
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(TableError::Invalid {
            op,
            reason: "key is not [A-Za-z0-9_-]{1,1024}".into(),
        })
    }
}

impl TableClient {
    /// A client of `table` at `endpoint` (e.g. `https://acct.table.core.windows.net`, or the
    /// path-style `http://127.0.0.1:10002/devstoreaccount1` of Azurite). `timeout` bounds each
    /// request; `http` is the process's one shared client.
    pub fn new(
        http: reqwest::Client,
        endpoint: &str,
        table: &str,
        credential: Credential,
        timeout: Duration,
    ) -> Result<TableClient, TableError> {
        let op = "configure";
        crate::config::validate_table_name(table).map_err(|reason| TableError::Invalid { op, reason })?;
        let mut endpoint =
            reqwest::Url::parse(endpoint.trim_end_matches('/')).map_err(|e| TableError::Invalid {
                op,
                reason: format!("endpoint: {e}"),
            })?;
        if endpoint.cannot_be_a_base() {
            return Err(TableError::Invalid {
                op,
                reason: "endpoint cannot be a base URL".into(),
            });
        }
        let path = endpoint.path().trim_end_matches('/').to_string();
        endpoint.set_path(&path);
        Ok(TableClient {
            http,
            endpoint,
            table: table.to_string(),
            credential,
            timeout,
            requests: AtomicU64::new(0),
        })
    }

    /// Requests sent so far (every attempt, whatever its outcome).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn url(&self, resource: &str, query: &[(&str, String)]) -> reqwest::Url {
        let mut url = self.endpoint.clone();
        let path = format!("{}/{resource}", self.endpoint.path().trim_end_matches('/'));
        url.set_path(&path);
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", encode_query(k), encode_query(v)))
                .collect();
            url.set_query(Some(&q.join("&")));
        }
        url
    }

    fn entity_resource(&self, pk: &str, rk: &str) -> String {
        format!("{}(PartitionKey='{pk}',RowKey='{rk}')", self.table)
    }

    async fn send(
        &self,
        op: &'static str,
        method: Method,
        url: reqwest::Url,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, TableError> {
        let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let auth = self.credential.authorization(&self.http, &url, &date).await?;
        let mut req = self
            .http
            .request(method, url)
            .timeout(self.timeout)
            .headers(headers)
            .header("x-ms-date", &date)
            .header("x-ms-version", API_VERSION)
            .header("DataServiceVersion", "3.0;NetFx")
            .header("MaxDataServiceVersion", "3.0;NetFx")
            .header(reqwest::header::AUTHORIZATION, auth);
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.credential
            .send(req)
            .await
            .map_err(|e| TableError::Transport {
                op,
                reason: describe(&e),
            })
    }

    fn status_error(op: &'static str, resp: &reqwest::Response) -> TableError {
        TableError::Status {
            op,
            status: resp.status().as_u16(),
            code: crate::auth::error_code(resp),
        }
    }

    fn etag(op: &'static str, resp: &reqwest::Response) -> Result<String, TableError> {
        resp.headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or(TableError::Decode {
                op,
                reason: "no ETag header".into(),
            })
    }

    /// Create the table; an existing table is fine.
    pub async fn ensure_table(&self) -> Result<(), TableError> {
        let op = "create table";
        let mut h = accept_json();
        h.insert("Prefer", HeaderValue::from_static("return-no-content"));
        let body = serde_json::to_vec(&json!({ "TableName": self.table })).unwrap_or_default();
        let resp = self
            .send(op, Method::POST, self.url("Tables", &[]), h, Some(body))
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::CONFLICT => Ok(()),
            _ => Err(Self::status_error(op, &resp)),
        }
    }

    /// Read one entity and its ETag; `None` when absent.
    pub async fn get_entity(&self, pk: &str, rk: &str) -> Result<Option<(Value, String)>, TableError> {
        let op = "get entity";
        check_key(op, pk)?;
        check_key(op, rk)?;
        let h = accept_json();
        let resp = self
            .send(
                op,
                Method::GET,
                self.url(&self.entity_resource(pk, rk), &[]),
                h,
                None,
            )
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let etag = Self::etag(op, &resp)?;
                let v: Value = resp.json().await.map_err(|e| TableError::Transport {
                    op,
                    reason: describe(&e),
                })?;
                Ok(Some((v, etag)))
            }
            _ => Err(Self::status_error(op, &resp)),
        }
    }

    /// Insert a new entity; [`Write::Conflict`] when it already exists.
    pub async fn insert_entity(&self, entity: &Value) -> Result<Write, TableError> {
        let op = "insert entity";
        let mut h = accept_json();
        h.insert("Prefer", HeaderValue::from_static("return-no-content"));
        let body = json_body(op, entity)?;
        let resp = self
            .send(op, Method::POST, self.url(&self.table, &[]), h, Some(body))
            .await?;
        match resp.status() {
            StatusCode::CONFLICT => Ok(Write::Conflict),
            s if s.is_success() => Ok(Write::Done(Self::etag(op, &resp)?)),
            _ => Err(Self::status_error(op, &resp)),
        }
    }

    /// Replace an entity if its ETag is still `etag`.
    pub async fn replace_entity(
        &self,
        pk: &str,
        rk: &str,
        entity: &Value,
        etag: &str,
    ) -> Result<Write, TableError> {
        let op = "replace entity";
        check_key(op, pk)?;
        check_key(op, rk)?;
        let h = if_match(op, etag)?;
        let body = json_body(op, entity)?;
        let resp = self
            .send(
                op,
                Method::PUT,
                self.url(&self.entity_resource(pk, rk), &[]),
                h,
                Some(body),
            )
            .await?;
        match resp.status() {
            StatusCode::PRECONDITION_FAILED | StatusCode::NOT_FOUND => Ok(Write::Conflict),
            s if s.is_success() => Ok(Write::Done(Self::etag(op, &resp)?)),
            _ => Err(Self::status_error(op, &resp)),
        }
    }

    /// Delete an entity if its ETag is still `etag` (`*`: whatever it is).
    pub async fn delete_entity(&self, pk: &str, rk: &str, etag: &str) -> Result<Write, TableError> {
        let op = "delete entity";
        check_key(op, pk)?;
        check_key(op, rk)?;
        let h = if_match(op, etag)?;
        let resp = self
            .send(
                op,
                Method::DELETE,
                self.url(&self.entity_resource(pk, rk), &[]),
                h,
                None,
            )
            .await?;
        match resp.status() {
            StatusCode::PRECONDITION_FAILED | StatusCode::NOT_FOUND => Ok(Write::Conflict),
            s if s.is_success() => Ok(Write::Done(String::new())),
            _ => Err(Self::status_error(op, &resp)),
        }
    }

    /// One page of a filtered query: entities (with `odata.etag`) and where to continue.
    pub async fn query_page(
        &self,
        filter: &str,
        select: &str,
        top: u32,
        from: Option<&Continuation>,
    ) -> Result<(Vec<Value>, Option<Continuation>), TableError> {
        let op = "query entities";
        let mut q = vec![
            ("$filter", filter.to_string()),
            ("$select", select.to_string()),
            ("$top", top.to_string()),
        ];
        if let Some(c) = from {
            q.push(("NextPartitionKey", c.partition.clone()));
            if let Some(r) = &c.row {
                q.push(("NextRowKey", r.clone()));
            }
        }
        let mut h = HeaderMap::new();
        h.insert(
            "Accept",
            HeaderValue::from_static("application/json;odata=minimalmetadata"),
        );
        let resp = self
            .send(
                op,
                Method::GET,
                self.url(&format!("{}()", self.table), &q),
                h,
                None,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(Self::status_error(op, &resp));
        }
        let header = |k: &str| {
            resp.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let next = header("x-ms-continuation-NextPartitionKey").map(|partition| Continuation {
            partition,
            row: header("x-ms-continuation-NextRowKey"),
        });
        let body: Value = resp.json().await.map_err(|e| TableError::Transport {
            op,
            reason: describe(&e),
        })?;
        let items = match body.get("value") {
            Some(Value::Array(a)) => a.clone(),
            _ => {
                return Err(TableError::Decode {
                    op,
                    reason: "no `value` array".into(),
                })
            }
        };
        Ok((items, next))
    }
}

/// Read an Edm.Int64 (sent as a JSON string) or a plain number.
fn int_prop(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Cleanup knobs.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Entities per query page (service maximum 1000).
    pub page_size: u32,
    /// Deletes in flight.
    pub concurrency: usize,
    /// Stop starting new pages after this long; the next timer run continues.
    pub budget: Duration,
}

impl Default for SweepOptions {
    fn default() -> Self {
        // Well under the host's default 5-minute function timeout on Consumption plans.
        SweepOptions {
            page_size: 1000,
            concurrency: 8,
            budget: Duration::from_secs(120),
        }
    }
}

/// What a cleanup run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Expired windows deleted.
    pub deleted: usize,
    /// Expired at query time but written (or deleted) since: left alone.
    pub skipped: usize,
    /// Query pages read.
    pub pages: usize,
    /// False when the time budget ran out first.
    pub complete: bool,
}

/// Removes expired windows: Table Storage has no TTL.
pub trait Sweep: Send + Sync {
    /// Delete what expired before `now` (epoch seconds).
    fn sweep_expired(&self, now: i64) -> impl Future<Output = Result<SweepReport, StoreError>> + Send;
}

/// Nothing expires in memory; lets router tests run on the core's [`MemoryStore`].
impl Sweep for MemoryStore {
    async fn sweep_expired(&self, _now: i64) -> Result<SweepReport, StoreError> {
        Ok(SweepReport {
            complete: true,
            ..Default::default()
        })
    }
}

/// The pipeline's [`StateStore`] on one table.
#[derive(Debug)]
pub struct TableStore {
    client: TableClient,
    sweep: SweepOptions,
}

impl TableStore {
    /// A store on `client`'s table.
    pub fn new(client: TableClient, sweep: SweepOptions) -> TableStore {
        TableStore { client, sweep }
    }

    /// The underlying client (request counter, raw entity access).
    pub fn client(&self) -> &TableClient {
        &self.client
    }

    fn entity(key: &StateKey, bytes: &[u8], expires_at: i64) -> Value {
        let id = key.storage_id();
        json!({
            "PartitionKey": id,
            "RowKey": id,
            "Key": t1578_core::event::clip(&key.0, MAX_KEY_PROPERTY_CHARS),
            "State@odata.type": "Edm.Binary",
            "State": base64::engine::general_purpose::STANDARD.encode(bytes),
            "ExpiresAt@odata.type": "Edm.Int64",
            "ExpiresAt": expires_at.to_string(),
        })
    }

    async fn sweep_page(&self, items: Vec<Value>) -> Result<(usize, usize), TableError> {
        let results: Vec<Result<Write, TableError>> = stream::iter(items)
            .map(|e| async move {
                let pk = e
                    .get("PartitionKey")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let rk = e
                    .get("RowKey")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                // Deleting with the queried ETag: a window refreshed after the query has a
                // new ETag and a later ExpiresAt, and must survive (412 -> skipped).
                let etag = e
                    .get("odata.etag")
                    .and_then(Value::as_str)
                    .unwrap_or("*")
                    .to_string();
                self.client.delete_entity(&pk, &rk, &etag).await
            })
            .buffer_unordered(self.sweep.concurrency.max(1))
            .collect()
            .await;
        let (mut deleted, mut skipped) = (0, 0);
        for r in results {
            match r? {
                Write::Done(_) => deleted += 1,
                Write::Conflict => skipped += 1,
            }
        }
        Ok((deleted, skipped))
    }
}

impl StateStore for TableStore {
    async fn pause(&self, wait: std::time::Duration) {
        tokio::time::sleep(wait).await;
    }

    async fn load(&self, key: &StateKey) -> Result<Option<Stored>, StoreError> {
        let id = key.storage_id();
        let Some((entity, etag)) = self.client.get_entity(&id, &id).await? else {
            return Ok(None);
        };
        let now = chrono::Utc::now().timestamp();
        let version = Version(etag);
        if int_prop(entity.get("ExpiresAt")).is_some_and(|t| t < now) {
            // Expired but not yet swept: an empty window carrying the real ETag, so the next
            // save replaces it conditionally instead of colliding with it on insert.
            return Ok(Some(Stored {
                bytes: WindowState::new(key).encode(),
                version,
            }));
        }
        // Unreadable State yields empty bytes; the pipeline counts it as corrupt and restarts
        // the window instead of blocking the key.
        let bytes = entity
            .get("State")
            .and_then(Value::as_str)
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .unwrap_or_default();
        Ok(Some(Stored { bytes, version }))
    }

    async fn save(
        &self,
        key: &StateKey,
        bytes: &[u8],
        expires_at: i64,
        expected: Option<&Version>,
    ) -> Result<SaveOutcome, StoreError> {
        if bytes.len() > MAX_PROPERTY_BYTES {
            return Err(TableError::Invalid {
                op: "save",
                reason: format!("state of {} bytes exceeds the 64 KiB property limit", bytes.len()),
            }
            .into());
        }
        let entity = Self::entity(key, bytes, expires_at);
        let id = key.storage_id();
        let w = match expected {
            None => self.client.insert_entity(&entity).await?,
            Some(v) => self.client.replace_entity(&id, &id, &entity, &v.0).await?,
        };
        Ok(match w {
            Write::Done(_) => SaveOutcome::Saved,
            Write::Conflict => SaveOutcome::Conflict,
        })
    }
}

impl Sweep for TableStore {
    async fn sweep_expired(&self, now: i64) -> Result<SweepReport, StoreError> {
        let started = Instant::now();
        let filter = format!("ExpiresAt lt {now}L");
        let mut report = SweepReport::default();
        let mut next: Option<Continuation> = None;
        loop {
            let (items, cont) = self
                .client
                .query_page(
                    &filter,
                    "PartitionKey,RowKey,ExpiresAt",
                    self.sweep.page_size,
                    next.as_ref(),
                )
                .await?;
            report.pages += 1;
            let (d, s) = self.sweep_page(items).await?;
            report.deleted += d;
            report.skipped += s;
            match cont {
                None => {
                    report.complete = true;
                    return Ok(report);
                }
                Some(c) if started.elapsed() < self.sweep.budget => next = Some(c),
                Some(_) => return Ok(report),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query("ExpiresAt lt 5L"), "ExpiresAt%20lt%205L");
        assert_eq!(encode_query("$top"), "%24top");
    }

    #[test]
    fn only_plain_keys_reach_a_url() {
        assert!(check_key("t", "0123abcdef").is_ok());
        for bad in ["", "a/b", "a#EXT#b", "it's", "a?b", "a\u{1}b"] {
            assert!(check_key("t", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn retryable_classes() {
        let s = |status| TableError::Status {
            op: "x",
            status,
            code: String::new(),
        };
        assert!(
            s(503).retryable()
                && s(500).retryable()
                && s(429).retryable()
                && s(408).retryable()
                && s(401).retryable()
        );
        assert!(!s(400).retryable() && !s(403).retryable() && !s(404).retryable());
        assert!(TableError::Transport {
            op: "x",
            reason: "timeout".into()
        }
        .retryable());
        assert!(matches!(StoreError::from(s(403)), StoreError::Permanent(_)));
        assert!(matches!(StoreError::from(s(503)), StoreError::Transient(_)));
    }

    #[test]
    fn int64_properties_read_both_spellings() {
        assert_eq!(int_prop(Some(&json!("12"))), Some(12));
        assert_eq!(int_prop(Some(&json!(12))), Some(12));
        assert_eq!(int_prop(Some(&json!("x"))), None);
        assert_eq!(int_prop(None), None);
    }
}

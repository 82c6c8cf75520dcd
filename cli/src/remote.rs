//! Archives read in place: `s3://BUCKET/PREFIX`, `az://CONTAINER/PREFIX` and
//! `https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`, through `object_store` and its
//! credential chains (environment keys, web identity, container and instance roles for S3; an
//! account key, a SAS, a service principal or a managed identity for Azure).
//!
//! The objects are listed (pruned by the dates their keys name when a time window is given),
//! then fetched a bounded number at a time and streamed, chunk by chunk through bounded
//! channels, into the same reader the local files go through: one pipeline, one format
//! detection, one gzip path.

use anyhow::anyhow;
use bytes::Bytes;
use chrono::{Datelike, NaiveDate};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as Key;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use t1578_cli::input::{holds_no_api_calls, is_aws_account, is_input_name, time_key, Blobs, Reader};
use t1578_core::ComputeEvent;
use tokio::sync::mpsc;

/// Objects fetched at once.
const IN_FLIGHT: usize = 8;
/// Chunks of one object's body held before its download waits for the reader: with
/// [`IN_FLIGHT`], what bounds memory whatever the objects' sizes and number.
const CHUNKS: usize = 8;
/// How long after the window's end an object's key may be dated and still be read: CloudTrail
/// names a file by its delivery, minutes after its events. Before the window no slack is
/// needed: an object is never dated before the events it holds.
const SLACK_MS: i64 = 3_600_000;

/// An argument naming a bucket or container rather than a local path.
pub fn is_remote(arg: &Path) -> bool {
    let s = arg.to_string_lossy();
    s.starts_with("s3://") || s.starts_with("az://") || s.starts_with("https://")
}

/// A parsed archive URL: the store to read and the prefix (a folder) within it.
struct Location {
    url: String,
    /// `s3://BUCKET` or `az://CONTAINER`: object names are this plus `/KEY`.
    base: String,
    prefix: Option<Key>,
    store: Arc<dyn ObjectStore>,
}

fn locate(url: &str, rt: &tokio::runtime::Runtime) -> anyhow::Result<Location> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (account, rest) = match scheme {
        "s3" | "az" => (None, rest),
        "https" => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let account = host
                .strip_suffix(".blob.core.windows.net")
                .filter(|a| !a.is_empty() && !a.contains('.'))
                .ok_or_else(|| anyhow!("{url}: not an Azure Blob URL (https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX)"))?;
            (Some(account), path)
        }
        _ => {
            return Err(anyhow!(
                "{url}: expected s3://, az:// or https://ACCOUNT.blob.core.windows.net/"
            ))
        }
    };
    let (container, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if container.is_empty() {
        return Err(anyhow!("{url}: no bucket or container named"));
    }
    let prefix = prefix.trim_matches('/');
    let prefix = (!prefix.is_empty())
        .then(|| Key::parse(prefix))
        .transpose()
        .map_err(|e| anyhow!("{url}: prefix: {e}"))?;
    let store: Arc<dyn ObjectStore> = if scheme == "s3" {
        let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(container);
        if let Some(profile) = crate::aws_profile::named() {
            b = b.with_credentials(Arc::new(crate::aws_profile::ProfileCredentials::new(&profile)));
            if let Some(region) = rt.block_on(crate::aws_profile::region(&profile)) {
                b = b.with_region(region);
            }
        }
        Arc::new(b.build().map_err(|e| anyhow!("{url}: {e}"))?)
    } else {
        let mut b = object_store::azure::MicrosoftAzureBuilder::from_env().with_container_name(container);
        if let Some(a) = account {
            b = b.with_account(a);
        }
        Arc::new(b.build().map_err(|e| anyhow!("{url}: {e}"))?)
    };
    let kind = if scheme == "s3" { "s3" } else { "az" };
    Ok(Location {
        url: url.to_string(),
        base: format!("{kind}://{container}"),
        prefix,
        store,
    })
}

/// Event-time bounds (ms, inclusive) the keys are pruned by.
#[derive(Clone, Copy, Debug, Default)]
pub struct Window {
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Window {
    fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// Whether a key dated `[start, end)` may hold events of the window.
    fn admits(&self, (start, end): (i64, i64)) -> bool {
        self.until.is_none_or(|u| start <= u.saturating_add(SLACK_MS)) && self.since.is_none_or(|s| end > s)
    }
}

/// What the listing did, for the report line and the tests.
#[derive(Debug, Default)]
struct Listing {
    objects: Vec<Key>,
    listings: u64,
    listed: u64,
    outside: u64,
    undated: u64,
}

impl Listing {
    /// Keep an object to read. `from`: the number of the listed prefix's parts, whose folders
    /// the user chose and are not judged.
    fn consider(&mut self, meta: ObjectMeta, w: Window, from: usize) {
        let parts: Vec<&str> = meta.location.as_ref().split('/').collect();
        let name = parts.last().copied().unwrap_or_default();
        let folders = from..parts.len().saturating_sub(1);
        if !is_input_name(name) || folders.into_iter().any(|i| holds_no_api_calls(&parts, i)) {
            return;
        }
        self.listed += 1;
        if !w.is_open() {
            match key_span(&parts) {
                Some(span) if !w.admits(span) => {
                    self.outside += 1;
                    return;
                }
                Some(_) => {}
                // Read whole: its events are still filtered by their time.
                None => self.undated += 1,
            }
        }
        self.objects.push(meta.location);
    }
}

/// List the objects under `prefix`. With a window, the tree is walked folder by folder and a
/// dated folder outside the window is never listed; a day (or finer) folder is listed flat.
async fn list(store: &dyn ObjectStore, prefix: Option<&Key>, w: Window) -> object_store::Result<Listing> {
    let mut out = Listing::default();
    let from = prefix.map_or(0, |p| p.parts().count());
    if w.is_open() {
        out.listings += 1;
        let all: Vec<ObjectMeta> = store.list(prefix).try_collect().await?;
        all.into_iter().for_each(|m| out.consider(m, w, from));
        return Ok(out);
    }
    let mut stack = vec![prefix.cloned()];
    while let Some(dir) = stack.pop() {
        let parts: Vec<String> = dir
            .iter()
            .flat_map(|d| d.parts())
            .map(|p| p.as_ref().to_string())
            .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        out.listings += 1;
        if key_span(&parts).is_some_and(|(a, b)| b - a <= DAY_MS) {
            let all: Vec<ObjectMeta> = store.list(dir.as_ref()).try_collect().await?;
            all.into_iter().for_each(|m| out.consider(m, w, from));
            continue;
        }
        let r = store.list_with_delimiter(dir.as_ref()).await?;
        r.objects.into_iter().for_each(|m| out.consider(m, w, from));
        for p in r.common_prefixes.into_iter().rev() {
            let sub: Vec<&str> = p.as_ref().split('/').collect();
            let skipped = holds_no_api_calls(&sub, sub.len() - 1);
            if skipped || key_span(&sub).is_some_and(|s| !w.admits(s)) {
                continue;
            }
            stack.push(Some(p));
        }
    }
    Ok(out)
}

const DAY_MS: i64 = 86_400_000;

/// The time span `[start, end)` (ms) a key or folder names, read with its own layout:
/// CloudTrail's `AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/` (and the minute in
/// its file names), or the export's `y=YYYY/m=MM/d=DD/h=HH/m=MM/` folders. `None`: neither.
pub fn key_span(parts: &[&str]) -> Option<(i64, i64)> {
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let mut fields: Vec<u32> = Vec::new();
    let trail = parts
        .iter()
        .position(|p| matches!(*p, "CloudTrail" | "CloudTrail-Insight"));
    if let Some(i) = trail.filter(|&i| i >= 1 && is_aws_account(parts[i - 1])) {
        for (k, len) in [(2, 4), (3, 2), (4, 2)] {
            match parts.get(i + k).and_then(|p| num(p, len)) {
                Some(v) => fields.push(v),
                None => break,
            }
        }
        if fields.len() == 3 && parts.len() > i + 5 {
            if let Some(t) = parts.last().and_then(|n| time_key(Path::new(n))) {
                fields = vec![
                    num(&t[..4], 4)?,
                    num(&t[4..6], 2)?,
                    num(&t[6..8], 2)?,
                    num(&t[9..11], 2)?,
                    num(&t[11..13], 2)?,
                ];
            }
        }
    } else if let Some(i) = parts.iter().position(|p| p.starts_with("y=")) {
        for (k, key) in ["y=", "m=", "d=", "h=", "m="].iter().enumerate() {
            let value = parts.get(i + k).and_then(|p| p.strip_prefix(key));
            match value.and_then(|v| num(v, v.len().clamp(1, 4))) {
                Some(v) => fields.push(v),
                None => break,
            }
        }
        // `m=00` under the hour is always 00: the blob (PT1H.json) holds the whole hour.
        fields.truncate(4);
    }
    span(&fields)
}

/// `[start, end)` of a date given to year, month, day, hour or minute precision.
fn span(f: &[u32]) -> Option<(i64, i64)> {
    let y = i32::try_from(*f.first()?).ok()?;
    let date = NaiveDate::from_ymd_opt(y, *f.get(1).unwrap_or(&1), *f.get(2).unwrap_or(&1))?;
    let start = date.and_hms_opt(*f.get(3).unwrap_or(&0), *f.get(4).unwrap_or(&0), 0)?;
    let end = match f.len() {
        1 => NaiveDate::from_ymd_opt(y + 1, 1, 1)?.and_hms_opt(0, 0, 0)?,
        2 => {
            let (ny, nm) = if date.month() == 12 {
                (y + 1, 1)
            } else {
                (y, date.month() + 1)
            };
            NaiveDate::from_ymd_opt(ny, nm, 1)?.and_hms_opt(0, 0, 0)?
        }
        3 => start + chrono::Duration::days(1),
        4 => start + chrono::Duration::hours(1),
        _ => start + chrono::Duration::minutes(1),
    };
    Some((
        start.and_utc().timestamp_millis(),
        end.and_utc().timestamp_millis(),
    ))
}

/// The chunks of one object's body, or why its download failed.
type Chunks = mpsc::Receiver<Result<Bytes, String>>;

/// One object's body as the reader sees it: chunks from its download, in order.
struct Body {
    rx: Chunks,
    chunk: Bytes,
}

impl Read for Body {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.chunk = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.chunk.len());
        out[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

/// The listed objects' bodies, by name, as their downloads deliver them.
struct Fetched {
    index: HashMap<PathBuf, usize>,
    bodies: Vec<Mutex<Option<Chunks>>>,
}

impl Blobs for Fetched {
    fn open(&self, name: &Path) -> std::io::Result<Box<dyn Read>> {
        let rx = self
            .index
            .get(name)
            .and_then(|&i| self.bodies[i].lock().ok()?.take());
        let Some(mut rx) = rx else {
            return Err(std::io::Error::other("not among the listed objects"));
        };
        // The first message tells a failed GET (unreadable) from a body cut later (a read
        // error, reported where the records stop, as for a truncated local file).
        let chunk = match rx.blocking_recv() {
            Some(Ok(b)) => b,
            Some(Err(e)) => return Err(std::io::Error::other(e)),
            None => Bytes::new(),
        };
        Ok(Box::new(Body { rx, chunk }))
    }
}

/// Download one object into its channel. Transient failures are retried by the store's retry
/// configuration; what is left is the object's error.
async fn fetch(
    store: &dyn ObjectStore,
    key: &Key,
    tx: mpsc::Sender<Result<Bytes, String>>,
    gets: &AtomicU64,
) {
    gets.fetch_add(1, Ordering::Relaxed);
    let mut body = match store.get(key).await {
        Ok(r) => r.into_stream(),
        Err(e) => {
            let _ = tx.send(Err(format!("GET failed: {e}"))).await;
            return;
        }
    };
    while let Some(chunk) = body.next().await {
        let failed = chunk.is_err();
        if tx
            .send(chunk.map_err(|e| format!("download failed: {e}")))
            .await
            .is_err()
            || failed
        {
            return;
        }
    }
}

/// Read the arguments in order: runs of local paths through the local walk, each archive URL
/// in place. `span` bounds the events (inclusive, ms) and prunes the archives' keys.
pub fn read_inputs<T: Send>(
    reader: &mut Reader<'_>,
    paths: &[PathBuf],
    span: (Option<i64>, Option<i64>),
    keep: impl Fn(ComputeEvent) -> Option<T> + Sync,
    mut on_item: impl FnMut(T),
) {
    let w = Window {
        since: span.0,
        until: span.1,
    };
    let mut start = 0;
    for (i, p) in paths.iter().enumerate() {
        if is_remote(p) {
            if start < i {
                reader.read_all(&paths[start..i], &keep, &mut on_item);
            }
            read_url(reader, &p.to_string_lossy(), w, &keep, &mut on_item);
            start = i + 1;
        }
    }
    if start < paths.len() {
        reader.read_all(&paths[start..], &keep, &mut on_item);
    }
}

/// Read every object under `url` (within `w`) through `reader`. A listing that fails (no such
/// bucket, credentials refused) makes the whole URL unreadable, named with its reason.
pub fn read_url<T: Send>(
    reader: &mut Reader<'_>,
    url: &str,
    w: Window,
    keep: impl Fn(ComputeEvent) -> Option<T> + Sync,
    on_item: impl FnMut(T),
) {
    if let Err(e) = try_read_url(reader, url, w, keep, on_item) {
        reader.stats.unreadable.push(format!("{e:#}"));
    }
}

fn try_read_url<T: Send>(
    reader: &mut Reader<'_>,
    url: &str,
    w: Window,
    keep: impl Fn(ComputeEvent) -> Option<T> + Sync,
    on_item: impl FnMut(T),
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let loc = locate(url, &rt)?;
    let listing = rt
        .block_on(list(loc.store.as_ref(), loc.prefix.as_ref(), w))
        .map_err(|e| anyhow!("{}: listing failed: {e}", loc.url))?;
    if listing.listed == 0 && w.is_open() {
        // As a mistyped local path would be: PREFIX is matched by whole key segments.
        return Err(anyhow!(
            "{}: no log objects under this prefix (a folder: whole key segments)",
            loc.url
        ));
    }
    // Named as the local walk would name them, and in its order (path order, then the time
    // the key names), so a bucket and its copy on disk replay identically.
    let mut named: Vec<(PathBuf, Key)> = listing
        .objects
        .iter()
        .map(|k| (PathBuf::from(format!("{}/{}", loc.base, k.as_ref())), k.clone()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.sort_by_cached_key(|(n, _)| time_key(n));
    let (txs, rxs): (Vec<_>, Vec<_>) = named.iter().map(|_| mpsc::channel(CHUNKS)).unzip();
    let fetched = Fetched {
        index: named
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i))
            .collect(),
        bodies: rxs.into_iter().map(|r| Mutex::new(Some(r))).collect(),
    };
    let names: Vec<PathBuf> = named.iter().map(|(n, _)| n.clone()).collect();
    let gets = AtomicU64::new(0);
    std::thread::scope(|sc| {
        let store = loc.store.as_ref();
        let gets = &gets;
        let keys = named.iter().map(|(_, k)| k);
        sc.spawn(move || {
            rt.block_on(
                futures::stream::iter(keys.zip(txs))
                    .map(|(k, tx)| fetch(store, k, tx, gets))
                    .buffer_unordered(IN_FLIGHT)
                    .for_each(|()| async {}),
            )
        });
        reader.read_blobs(&names, &fetched, keep, on_item);
        // Unread bodies (the reader stopped early) release their downloads.
        drop(fetched);
    });
    eprintln!(
        "t1578: {}: {} listings, {} objects listed, {} fetched ({} outside the time window, {} with no date in their key read whole)",
        loc.url,
        listing.listings,
        listing.listed,
        gets.load(Ordering::Relaxed),
        listing.outside,
        listing.undated
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    fn span_of(key: &str) -> Option<(i64, i64)> {
        key_span(&key.split('/').collect::<Vec<_>>())
    }

    #[test]
    fn keys_are_dated_by_their_own_layout() {
        let day = (at("2026-11-01T00:00:00Z"), at("2026-11-02T00:00:00Z"));
        assert_eq!(
            span_of("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/01"),
            Some(day)
        );
        assert_eq!(
            span_of("x/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2026/11"),
            Some((at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z")))
        );
        assert_eq!(
            span_of("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/12"),
            Some((at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z")))
        );
        assert_eq!(
            span_of("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/01/111122223333_CloudTrail_eu-west-1_20261101T1005Z_Ab.json.gz"),
            Some((at("2026-11-01T10:05:00Z"), at("2026-11-01T10:06:00Z")))
        );
        assert_eq!(
            span_of("resourceId=/SUBSCRIPTIONS/S/y=2026/m=11/d=01/h=07/m=00/PT1H.json"),
            Some((at("2026-11-01T07:00:00Z"), at("2026-11-01T08:00:00Z")))
        );
        assert_eq!(
            span_of("insights-activity-logs/resourceId=/SUBSCRIPTIONS/S/y=2026/m=11/d=01"),
            Some(day)
        );
        assert_eq!(
            span_of("insights-activity-logs/resourceId=/SUBSCRIPTIONS/S/y=2026"),
            Some((at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z")))
        );
        // Not a layout, or not a date: undated.
        for k in [
            "events/aws/x.json",
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/13",
            "AWSLogs/notanaccount/CloudTrail/eu-west-1/2026/11/01",
            "resourceId=/SUBSCRIPTIONS/S/y=2026/m=02/d=30",
            "AWSLogs/111122223333/CloudTrail",
        ] {
            assert_eq!(span_of(k), None, "{k}");
        }
    }

    #[test]
    fn the_window_admits_keys_dated_in_it_or_up_to_an_hour_after() {
        let w = Window {
            since: Some(at("2026-11-02T00:00:00Z")),
            until: Some(at("2026-11-08T23:59:59Z")),
        };
        let day = |d: &str| span_of(&format!("AWSLogs/111122223333/CloudTrail/r/2026/11/{d}")).unwrap();
        assert!(!w.admits(day("01")) && !w.admits(day("10")));
        assert!(w.admits(day("02")) && w.admits(day("08")) && w.admits(day("09")));
        let file = |t: &str| {
            span_of(&format!(
                "AWSLogs/111122223333/CloudTrail/r/2026/11/09/111122223333_CloudTrail_r_{t}Z_x.json.gz"
            ))
            .unwrap()
        };
        assert!(w.admits(file("20261109T0030")));
        assert!(!w.admits(file("20261109T0130")));
        assert!(Window::default().admits(day("10")));
    }

    #[test]
    fn urls_name_their_store_and_prefix() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let l = locate("s3://bucket/AWSLogs/111122223333/", &rt).unwrap();
        assert_eq!(l.base, "s3://bucket");
        assert_eq!(l.prefix.unwrap().as_ref(), "AWSLogs/111122223333");
        let l = locate(
            "https://acct.blob.core.windows.net/insights-activity-logs/resourceId=/SUBSCRIPTIONS",
            &rt,
        )
        .unwrap();
        assert_eq!(l.base, "az://insights-activity-logs");
        assert_eq!(l.prefix.unwrap().as_ref(), "resourceId=/SUBSCRIPTIONS");
        for bad in ["s3://", "https://example.com/c/p", "gs://b/p"] {
            let e = locate(bad, &rt).err().unwrap().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}

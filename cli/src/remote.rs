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
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use t1578_cli::input::{holds_no_api_calls, is_aws_account, is_input_name, time_key, Blobs, Reader};
use t1578_core::ComputeEvent;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// Objects whose bodies are held at once: downloading, or waiting for the reader, or being
/// read. A download starts only with one of these permits, given back when the reader is done
/// with its body.
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

/// One object's body as the reader sees it: chunks from its download, in order. Its permit
/// goes back when the reader drops it, and the next download starts.
struct Body {
    rx: Chunks,
    chunk: Bytes,
    _permit: OwnedSemaphorePermit,
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
///
/// A download's channel is made when the download starts, and the downloads start in listing
/// order, each with a permit (of [`IN_FLIGHT`]) that its body holds until the reader drops it.
/// Before, a channel was made for every listed object up front (about 1.5 KB each), and a
/// download ended as soon as its body fit its channel, so small objects were all fetched
/// ahead of the reader, into memory.
struct Fetched {
    index: HashMap<PathBuf, usize>,
    state: Mutex<Started>,
    moved: Condvar,
}

#[derive(Default)]
struct Started {
    /// Bodies of started downloads the reader has not opened yet, by listing order.
    waiting: BTreeMap<usize, (Chunks, OwnedSemaphorePermit)>,
    /// Downloads started so far.
    count: usize,
    /// The reader is done, or the downloads stopped: nothing more starts or is waited for.
    closed: bool,
}

impl Fetched {
    fn new(names: &[PathBuf]) -> Fetched {
        Fetched {
            index: names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect(),
            state: Mutex::new(Started::default()),
            moved: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Started> {
        // Counters and channels, whole after any panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Start download `i`, the next in listing order: its channel's sending end, the other
    /// kept for the reader; `None` once closed.
    fn start(&self, i: usize, permit: OwnedSemaphorePermit) -> Option<mpsc::Sender<Result<Bytes, String>>> {
        let (tx, rx) = mpsc::channel(CHUNKS);
        let mut s = self.lock();
        if s.closed {
            return None;
        }
        s.waiting.insert(i, (rx, permit));
        s.count = i + 1;
        self.moved.notify_all();
        Some(tx)
    }

    /// Downloads started so far.
    #[cfg(test)]
    fn started(&self) -> usize {
        self.lock().count
    }

    /// No download starts any more, and the bodies not opened are dropped (their downloads
    /// stop at their next chunk, and their permits free the downloads still waiting for one).
    fn close(&self) {
        let waiting = {
            let mut s = self.lock();
            s.closed = true;
            std::mem::take(&mut s.waiting)
        };
        drop(waiting);
        self.moved.notify_all();
    }

    /// Closes on drop while the thread panics: no reader may wait for a download that will
    /// never start.
    fn close_on_panic(&self) -> impl Drop + '_ {
        struct Guard<'a>(&'a Fetched);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.close();
                }
            }
        }
        Guard(self)
    }
}

impl Blobs for Fetched {
    fn open(&self, name: &Path) -> std::io::Result<Box<dyn Read>> {
        let Some(&i) = self.index.get(name) else {
            return Err(std::io::Error::other("not among the listed objects"));
        };
        let (mut rx, permit) = {
            let mut s = self.lock();
            loop {
                if let Some(body) = s.waiting.remove(&i) {
                    break body;
                }
                if s.closed || s.count > i {
                    return Err(std::io::Error::other("its download did not start"));
                }
                s = self
                    .moved
                    .wait(s)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        };
        // The first message tells a failed GET (unreadable) from a body cut later (a read
        // error, reported where the records stop, as for a truncated local file).
        let chunk = match rx.blocking_recv() {
            Some(Ok(b)) => b,
            Some(Err(e)) => return Err(std::io::Error::other(e)),
            None => Bytes::new(),
        };
        Ok(Box::new(Body {
            rx,
            chunk,
            _permit: permit,
        }))
    }
}

/// Download `keys` in order into `fetched`, at most [`IN_FLIGHT`] bodies held at once.
async fn download_all<'k>(
    store: &dyn ObjectStore,
    keys: impl Iterator<Item = &'k Key>,
    fetched: &Fetched,
    gets: &AtomicU64,
) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    // Started here, one after the other, so the channels exist in listing order: a reader
    // waiting for body `i` takes a later one's existence to mean `i` will not come.
    futures::stream::iter(keys.enumerate())
        .then(|(i, k)| {
            let permits = permits.clone();
            async move {
                let tx = permits
                    .acquire_owned()
                    .await
                    .ok()
                    .and_then(|p| fetched.start(i, p));
                (k, tx)
            }
        })
        .map(|(k, tx)| async move {
            if let Some(tx) = tx {
                fetch(store, k, tx, gets).await
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .for_each(|()| async {})
        .await
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

/// Archives located for the layout search, kept for their read: one store per URL, so that a
/// profile's credential process runs once a run, and its client's connections are reused.
static LOCATED: std::sync::LazyLock<Mutex<HashMap<String, (tokio::runtime::Runtime, Location)>>> =
    std::sync::LazyLock::new(|| Mutex::new(HashMap::new()));

/// Add the accounts the key layout under `url` names ([`crate::layout`]), if it is an archive in
/// place (else false): its prefixes listed level by level, never an object. A URL that cannot be
/// listed adds none: reading it names it.
pub fn search_layout(
    url: &str,
    level: Option<crate::layout::Level>,
    budget: &mut usize,
    out: &mut Vec<String>,
) -> bool {
    if !is_remote(Path::new(url)) {
        return false;
    }
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return true;
    };
    let Ok(loc) = locate(url, &rt) else {
        return true;
    };
    let mut tree = Prefixes {
        store: loc.store.as_ref(),
        rt: &rt,
        budget,
    };
    crate::layout::search(&mut tree, loc.prefix.clone(), level, out);
    if let Ok(mut kept) = LOCATED.lock() {
        kept.insert(url.to_string(), (rt, loc));
    }
    true
}

/// A bucket's or container's prefixes, listed with the delimiter, while the budget lasts.
struct Prefixes<'a> {
    store: &'a dyn ObjectStore,
    rt: &'a tokio::runtime::Runtime,
    budget: &'a mut usize,
}

impl crate::layout::Folders for Prefixes<'_> {
    type Dir = Option<Key>;

    fn folders(&mut self, dir: &Option<Key>) -> Vec<(Option<Key>, String)> {
        if *self.budget == 0 {
            return Vec::new();
        }
        *self.budget -= 1;
        let Ok(r) = self.rt.block_on(self.store.list_with_delimiter(dir.as_ref())) else {
            return Vec::new();
        };
        r.common_prefixes
            .into_iter()
            .filter_map(|p| {
                let name = p.parts().next_back()?.as_ref().to_string();
                Some((Some(p), name))
            })
            .collect()
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
    let (rt, loc) = match LOCATED.lock().map(|mut l| l.remove(url)) {
        Ok(Some(kept)) => kept,
        _ => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let loc = locate(url, &rt)?;
            (rt, loc)
        }
    };
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
    let names: Vec<PathBuf> = named.iter().map(|(n, _)| n.clone()).collect();
    let fetched = Fetched::new(&names);
    let gets = AtomicU64::new(0);
    std::thread::scope(|sc| {
        let (store, gets, fetched) = (loc.store.as_ref(), &gets, &fetched);
        let keys = named.iter().map(|(_, k)| k);
        sc.spawn(move || {
            let _closes = fetched.close_on_panic();
            rt.block_on(download_all(store, keys, fetched, gets))
        });
        reader.read_blobs(&names, fetched, keep, on_item);
        // Bodies the reader did not open (it stopped early) stop their downloads, and no
        // other starts.
        fetched.close();
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

    /// A slow reader of 40 of 60 small objects: each download starts in listing order, never
    /// more than [`IN_FLIGHT`] bodies ahead of what the reader has finished, and none starts
    /// after the reader stops.
    #[test]
    fn downloads_start_in_order_and_at_most_in_flight_ahead_of_the_reader() {
        use object_store::PutPayload;
        let store = object_store::memory::InMemory::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let keys: Vec<Key> = (0..60).map(|i| Key::from(format!("o/{i:03}.json"))).collect();
        for (i, k) in keys.iter().enumerate() {
            rt.block_on(store.put(k, PutPayload::from(format!("{{\"n\":{i}}}").into_bytes())))
                .unwrap();
        }
        let names: Vec<PathBuf> = keys.iter().map(|k| PathBuf::from(k.as_ref())).collect();
        let fetched = Fetched::new(&names);
        let gets = AtomicU64::new(0);
        std::thread::scope(|sc| {
            let (f, g, st) = (&fetched, &gets, &store);
            let keys = keys.iter();
            sc.spawn(move || rt.block_on(download_all(st, keys, f, g)));
            for (done, n) in names.iter().take(40).enumerate() {
                let mut body = String::new();
                fetched.open(n).unwrap().read_to_string(&mut body).unwrap();
                assert_eq!(body, format!("{{\"n\":{done}}}"), "bodies come by name");
                // `done + 1` bodies read and dropped, each giving its permit back.
                let started = fetched.started();
                assert!(
                    started <= done + 1 + IN_FLIGHT,
                    "{started} started, {} read",
                    done + 1
                );
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
            // With 40 read, downloads go on until `IN_FLIGHT` bodies wait, and stop there.
            let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while fetched.started() < 40 + IN_FLIGHT && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert_eq!(fetched.started(), 40 + IN_FLIGHT);
            fetched.close();
        });
        let gets = gets.load(Ordering::Relaxed) as usize;
        assert!(
            (40..=40 + IN_FLIGHT).contains(&gets),
            "{gets} fetched for 40 read"
        );
        assert!(
            fetched.open(&names[59]).is_err(),
            "nothing is waited for after the close"
        );
    }

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

//! Inputs: files, directories (recursive), `.gz`, stdin. Each file's format is detected:
//! JSON lines are streamed line by line through the prefilter; a CloudTrail S3 file
//! (`{"Records":[...]}`) is cut into its records, each prefiltered like a line; anything else
//! (arrays, Event Hub bodies, pretty-printed JSON) is read whole and split by the core.
//!
//! Many files (an S3 delivery layout, an Activity Log export) are read, decompressed and scanned
//! by two workers, file by file, and delivered in order through bounded channels: memory holds
//! a few files' worth, whatever their number. Archive layouts are read in time order (the time
//! in CloudTrail's file names, the `y=/m=/d=/h=` folders of the export), not account by account.

use crate::staged::{aligned_start, ALIGN};
use flate2::read::MultiGzDecoder;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use t1578_core::delivery::Tally;
use t1578_core::prefilter::Prefilter;
use t1578_core::source::{self, RecordError};
use t1578_core::{normalize, ComputeEvent};

mod records;
mod walk;

/// Records that did not end Done, named in the summary with their position.
pub const SAMPLES: usize = 5;

/// Counters for the end-of-run summary. A record that cannot be read is parked in the core's
/// [`Tally`] (the edge contract's bookkeeping, shared with the functions) with its kind and
/// position; the CLI's "dead letter" is the summary that names it.
#[derive(Debug)]
pub struct Stats {
    pub files: usize,
    pub records: u64,
    pub skipped_fast: u64,
    pub outcomes: Tally,
    pub unreadable: Vec<String>,
    pub bytes: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            files: 0,
            records: 0,
            skipped_fast: 0,
            outcomes: Tally::new(SAMPLES),
            unreadable: Vec::new(),
            bytes: 0,
        }
    }
}

impl Stats {
    fn error(&mut self, kind: &'static str, at: String, msg: &str) {
        self.outcomes.park(at, kind, msg);
    }

    /// Records that could not be read (parked).
    pub fn error_count(&self) -> u64 {
        self.outcomes.counts().2
    }
}

/// Folders of a trail's bucket that hold no API calls: digest files sign the log files, and
/// Insights files hold CloudTrail's own findings about call rates (`AwsCloudTrailInsight`,
/// whose only operation names sit inside `insightDetails`). Read, each record of theirs would
/// be an `unknown_shape` error.
pub const NOT_API_CALL_DIRS: [&str; 2] = ["CloudTrail-Digest", "CloudTrail-Insight"];

/// Whether the folder `parts[i]` of a path holds no API calls, so a walk does not enter it: a
/// folder of [`NOT_API_CALL_DIRS`], or a service folder of AWS's log delivery layout
/// (`AWSLogs/[o-ORG/]ACCOUNT/SERVICE/`) other than `CloudTrail`. Central log buckets (Control
/// Tower's log archive among them) keep AWS Config snapshots and history, VPC flow logs and
/// load balancer logs beside the trail, under the same `AWSLogs/ACCOUNT/`: read, each of their
/// files would be an error, and flow logs are often most of the bucket's bytes.
pub fn holds_no_api_calls(parts: &[&str], i: usize) -> bool {
    let Some(&name) = parts.get(i) else {
        return false;
    };
    if NOT_API_CALL_DIRS.contains(&name) {
        return true;
    }
    let under_account = i >= 2
        && is_aws_account(parts[i - 1])
        && (parts[i - 2] == "AWSLogs"
            || (i >= 3 && parts[i - 2].starts_with("o-") && parts[i - 3] == "AWSLogs"));
    under_account && name != "CloudTrail"
}

/// A folder named as an AWS account id is: twelve digits.
pub fn is_aws_account(p: &str) -> bool {
    p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit())
}

/// A file (or object) name the directory walk reads: the log formats, plain or gzip.
pub fn is_input_name(name: &str) -> bool {
    [
        ".json",
        ".jsonl",
        ".ndjson",
        ".json.gz",
        ".jsonl.gz",
        ".ndjson.gz",
        ".log",
        ".log.gz",
        ".csv",
        ".csv.gz",
        ".avro",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
        || is_firehose_object(name)
}

/// Firehose's default object name, `<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>`, with no
/// suffix: how a trail sent to CloudWatch Logs lands in S3 through a subscription filter.
fn is_firehose_object(name: &str) -> bool {
    let b = name.as_bytes();
    let Some(cut) = b.len().checked_sub(36 + 21) else {
        return false;
    };
    let (stamp, uuid) = b[cut..].split_at(21);
    let shape = |text: &[u8], dashes: &[usize], hex: bool| {
        text.iter().enumerate().all(|(i, c)| {
            if dashes.contains(&i) {
                *c == b'-'
            } else if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            }
        })
    };
    shape(stamp, &[0, 5, 8, 11, 14, 17, 20], false) && shape(uuid, &[8, 13, 18, 23], true)
}

/// Where the bytes of named inputs come from when they are not local files: the objects of a
/// bucket or container, fetched by the CLI. Each is then read exactly as a local file of the
/// same name (format detection, gzip by its magic bytes, scanning).
pub trait Blobs: Sync {
    /// The named input's raw bytes (still compressed, when they are gzip). An error
    /// makes the input unreadable, reported by name; the other inputs are still read.
    fn open(&self, name: &Path) -> std::io::Result<Box<dyn Read>>;
}

/// The time an archive key names, as `YYYYMMDDTHHMM`: CloudTrail's
/// `ACCOUNT_CloudTrail_REGION_20261101T1005Z_X.json.gz`, or the export's
/// `y=2026/m=11/d=01/h=10/m=00/` folders. Sorting by it reads accounts and subscriptions
/// interleaved in time, as the reorder buffer and the windows expect.
pub fn time_key(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if let Some(t) = name.split('_').find(|p| {
        let b = p.as_bytes();
        b.len() == 14
            && b[8] == b'T'
            && b[13] == b'Z'
            && b[..8].iter().chain(&b[9..13]).all(u8::is_ascii_digit)
    }) {
        return Some(t[..13].to_string());
    }
    let mut parts = Vec::new();
    for c in path.components() {
        let c = c.as_os_str().to_str()?;
        if let Some((k, v)) = c.split_once('=') {
            if matches!(k, "y" | "m" | "d" | "h") && v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() {
                parts.push((k, v));
            }
        }
    }
    let want = ["y", "m", "d", "h", "m"];
    (parts.len() == 5 && parts.iter().zip(want).all(|((k, _), w)| *k == w)).then(|| {
        let v: Vec<&str> = parts.iter().map(|(_, v)| *v).collect();
        format!("{:0>4}{:0>2}{:0>2}T{:0>2}{:0>2}", v[0], v[1], v[2], v[3], v[4])
    })
}

/// Progress on stderr during a long read (files, MiB, records per second), only when stderr
/// is a terminal: a redirected log never gets carriage returns.
struct Progress {
    total_files: usize,
    files_done: usize,
    started: Instant,
    last: Instant,
    enabled: bool,
}

impl Progress {
    fn new(total_bytes: u64, total_files: usize) -> Progress {
        Progress {
            total_files,
            files_done: 0,
            started: Instant::now(),
            last: Instant::now(),
            enabled: std::io::stderr().is_terminal() && (total_bytes > 64 << 20 || total_files > 100),
        }
    }

    fn file_done(&mut self) {
        self.files_done += 1;
    }

    fn tick(&mut self, stats: &Stats) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(250) {
            return;
        }
        self.last = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        eprint!(
            "\r{} / {} files, {} MiB, {} records, {:.0} records/s   ",
            self.files_done,
            self.total_files,
            stats.bytes >> 20,
            stats.records,
            stats.records as f64 / secs
        );
    }

    fn finish(&self) {
        if self.enabled {
            eprint!("\r{:78}\r", "");
        }
    }
}

/// Reads every input and hands each normalized event to `on_event`.
pub struct Reader<'a> {
    prefilter: Option<&'a Prefilter>,
    pub stats: Stats,
}

/// The input's text, decompressed when its bytes are gzip (and whether they were). Gzip is
/// known by its magic bytes, not the name: Firehose stores CloudWatch Logs payloads gzipped
/// under names without a suffix, and a `.gz` someone already unpacked is read as it is.
fn open(path: &Path, blobs: Option<&dyn Blobs>) -> std::io::Result<(Box<dyn Read>, bool)> {
    let raw: Box<dyn Read> = if let Some(b) = blobs {
        b.open(path)?
    } else if path.as_os_str() == "-" {
        crate::staged::widen_pipe(std::io::stdin());
        Box::new(crate::staged::Staged::new(std::io::stdin().lock()))
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    let mut raw = std::io::BufReader::with_capacity(8 << 10, raw);
    let gz = std::io::BufRead::fill_buf(&mut raw)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        (Box::new(MultiGzDecoder::new(raw)), true)
    } else {
        (Box::new(raw), false)
    })
}

impl<'a> Reader<'a> {
    pub fn new(prefilter: Option<&'a Prefilter>) -> Reader<'a> {
        Reader {
            prefilter,
            stats: Stats::default(),
        }
    }

    /// `keep` runs where the record is parsed, on the reader threads: it turns an event into
    /// what the caller wants (or drops it), so per-event work and the event's memory stay
    /// there. `on_item` gets the kept items in input order, on the calling thread.
    pub fn read_all<T: Send>(
        &mut self,
        paths: &[PathBuf],
        keep: impl Fn(ComputeEvent) -> Option<T> + Sync,
        mut on_item: impl FnMut(T),
    ) {
        let mut files = walk::Files::new(paths);
        self.stats.unreadable.extend(files.take_unreadable());
        let mut progress = Progress::new(files.total_bytes(), files.total_files());
        // A large plain file is read by both workers block by block; the runs of other files
        // between them (compressed, small, documents) by both workers file by file.
        let mut big = None;
        loop {
            let run = UntilBig {
                files: &mut files,
                big: &mut big,
            };
            self.read_run(run, &keep, &mut on_item, &mut progress);
            let Some(f) = big.take() else { break };
            self.read_one(&f, &keep, &mut on_item, &mut progress);
        }
        self.stats.unreadable.extend(files.take_unreadable());
        progress.finish();
    }

    /// Read inputs whose bytes `blobs` provides (objects of a bucket, in the order given),
    /// through the same pool, format detection and scanning as local files.
    pub fn read_blobs<T: Send>(
        &mut self,
        names: &[PathBuf],
        blobs: &dyn Blobs,
        keep: impl Fn(ComputeEvent) -> Option<T> + Sync,
        mut on_item: impl FnMut(T),
    ) {
        let mut progress = Progress::new(0, names.len());
        self.read_pool(
            names.iter().cloned(),
            Some(blobs),
            &keep,
            &mut on_item,
            &mut progress,
        );
        progress.finish();
    }

    /// Read a run of files: one alone with both cores on it, several through the pool.
    fn read_run<T: Send>(
        &mut self,
        mut run: impl Iterator<Item = PathBuf> + Send,
        keep: &(impl Fn(ComputeEvent) -> Option<T> + Sync),
        on_item: &mut impl FnMut(T),
        progress: &mut Progress,
    ) {
        match (run.next(), run.next()) {
            (None, _) => {}
            (Some(f), None) => self.read_one(&f, keep, on_item, progress),
            (Some(a), Some(b)) => {
                self.read_pool([a, b].into_iter().chain(run), None, keep, on_item, progress)
            }
        }
    }

    fn read_one<T: Send>(
        &mut self,
        f: &Path,
        keep: &(impl Fn(ComputeEvent) -> Option<T> + Sync),
        on_item: &mut impl FnMut(T),
        progress: &mut Progress,
    ) {
        self.stats.files += 1;
        if let Err(reason) = self.read_file(f, keep, on_item, progress) {
            self.stats.unreadable.push(format!("{}: {reason}", f.display()));
        }
        progress.file_done();
    }

    /// Many files: two workers each take every other file, decompress and scan it, and send
    /// its parts through a bounded channel; they are delivered here in file order. The files
    /// are taken from `files` as the workers reach them.
    fn read_pool<T: Send>(
        &mut self,
        files: impl Iterator<Item = PathBuf> + Send,
        blobs: Option<&dyn Blobs>,
        keep: &(impl Fn(ComputeEvent) -> Option<T> + Sync),
        on_item: &mut impl FnMut(T),
        progress: &mut Progress,
    ) {
        let prefilter = self.prefilter;
        let feed = std::sync::Mutex::new(Feed::new(files));
        let feed = &feed;
        let take = |k: Option<usize>| feed.lock().ok().and_then(|mut f| f.take(k));
        std::thread::scope(|sc| {
            let mut rxs = Vec::new();
            let mut workers = Vec::new();
            for k in 0..WORKERS {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Piece<T>>(4);
                rxs.push(rx);
                workers.push(sc.spawn(move || {
                    let mut buf = Vec::new();
                    while let Some(f) = take(Some(k)) {
                        let mut send = |p: Piece<T>| tx.send(p).is_ok();
                        let r = produce(&f, blobs, &mut buf, prefilter, keep, &mut send);
                        if tx.send(Piece::Done(r)).is_err() {
                            return;
                        }
                    }
                }));
            }
            let mut j = 0;
            'files: while let Some(f) = take(None) {
                self.stats.files += 1;
                let name = f.display().to_string();
                let mut line_no = 0;
                loop {
                    match rxs[j % WORKERS].recv() {
                        Ok(Piece::Part(sc, bytes)) => {
                            let lines = sc.newlines;
                            self.deliver(sc, line_no, &name, on_item);
                            line_no += lines;
                            self.stats.bytes += bytes;
                            progress.tick(&self.stats);
                        }
                        Ok(Piece::Done(r)) => {
                            if let Err(reason) = r {
                                self.stats.unreadable.push(format!("{name}: {reason}"));
                            }
                            break;
                        }
                        Err(_) => {
                            self.stats
                                .unreadable
                                .push(format!("{name}: a reader thread stopped"));
                            break 'files;
                        }
                    }
                }
                progress.file_done();
                j += 1;
            }
            drop(rxs);
            join_all(workers);
        });
    }

    fn read_file<T: Send>(
        &mut self,
        path: &Path,
        keep: &(impl Fn(ComputeEvent) -> Option<T> + Sync),
        on_item: &mut impl FnMut(T),
        progress: &mut Progress,
    ) -> Result<(), String> {
        let name = path.display().to_string();
        let (mut reader, gz) = open(path, None).map_err(|e| e.to_string())?;
        let mut buf: Vec<u8> = Vec::with_capacity(BLOCK);
        let mut cut: Option<String> = None;
        let eof = fill_or_cut(&mut reader, &mut buf, FIRST_PEEK, &mut cut);
        if first_is_record(&buf, eof) {
            let plain = path.as_os_str() != "-" && !gz;
            if let (true, Ok(file)) = (plain, std::fs::File::open(path)) {
                let len = file.metadata().map_err(|e| e.to_string())?.len();
                return self.read_parallel(&file, len, &name, keep, on_item, progress);
            }
            return self.stream_lines(reader, buf, (eof, cut), &name, keep, on_item, progress);
        }
        if crate::capture::looks_like_avro(&buf) {
            return capture_rows(buf, reader, self.prefilter, keep, &mut |sc| {
                self.deliver(sc, 0, &name, on_item);
                true
            });
        }
        if crate::portal_csv::looks_like_csv(&name, &buf) {
            return csv_rows(buf, reader, keep, &mut |sc| {
                self.deliver(sc, 0, &name, on_item);
                true
            });
        }
        // A whole document: read it all, cut it into records across both cores. A read error
        // (a cut gzip stream) keeps what was read: the whole records before the cut are
        // processed and the cut is reported where it is.
        if !eof {
            if let Err(e) = reader.read_to_end(&mut buf) {
                cut = Some(e.to_string());
            }
        }
        self.stats.bytes += buf.len() as u64;
        for sc in document(&buf, self.prefilter, keep, true, cut.as_deref())? {
            self.deliver(sc, 0, &name, on_item);
        }
        Ok(())
    }

    /// Hand one scanned part's results on, numbering its lines from `line_base`.
    fn deliver<T>(&mut self, sc: Scan<T>, line_base: usize, name: &str, on_item: &mut impl FnMut(T)) {
        self.stats.records += sc.records;
        self.stats.skipped_fast += sc.skipped;
        for out in sc.out {
            match out {
                Ok(item) => on_item(item),
                Err((kind, pos, msg)) => {
                    let at = match pos {
                        Pos::Line(n) => format!("{name}:{}", line_base + n),
                        Pos::Record(i) => format!("{name} record {i}"),
                        Pos::Doc(p) => format!("{name} {p}"),
                        Pos::Event(i, p) => format!("{name} event {i} {p}"),
                    };
                    self.stats.error(kind, at, &msg)
                }
            }
        }
        self.stats.outcomes.merge(sc.elided);
    }

    /// JSON lines from a stream (stdin, gzip), block by block: each block is cut at its last
    /// newline and scanned in place by two threads; results are delivered in input order.
    #[allow(clippy::too_many_arguments)]
    fn stream_lines<T: Send>(
        &mut self,
        mut reader: Box<dyn Read>,
        mut buf: Vec<u8>,
        (mut eof, mut cut): (bool, Option<String>),
        name: &str,
        keep: &(impl Fn(ComputeEvent) -> Option<T> + Sync),
        on_item: &mut impl FnMut(T),
        progress: &mut Progress,
    ) -> Result<(), String> {
        let mut line_no = 0usize;
        loop {
            if !eof {
                eof = fill_or_cut(&mut reader, &mut buf, BLOCK, &mut cut);
            }
            if let (true, Some(why)) = (eof, cut.take()) {
                let msg = drop_partial_line(&mut buf, &why);
                let at = line_no + memchr::memchr_iter(b'\n', &buf).count() + 1;
                self.stats.error("truncated", format!("{name}:{at}"), &msg);
            }
            let end = if eof {
                buf.len()
            } else {
                match memchr::memrchr(b'\n', &buf) {
                    Some(i) => i + 1,
                    // One line longer than the block: read on until it ends.
                    None => {
                        let target = buf.len() * 2;
                        eof = fill_or_cut(&mut reader, &mut buf, target, &mut cut);
                        continue;
                    }
                }
            };
            let cut_at = end;
            let block = &buf[..cut_at];
            let p = self.prefilter;
            let (a, b) = if block.len() >= PARALLEL_MIN {
                let mid = memchr::memchr(b'\n', &block[block.len() / 2..])
                    .map_or(block.len(), |i| block.len() / 2 + i + 1);
                let (x, y) = block.split_at(mid);
                std::thread::scope(|sc| {
                    let hb = sc.spawn(move || scan(p, keep, y));
                    (scan(p, keep, x), hb.join().unwrap_or_default())
                })
            } else {
                (scan(p, keep, block), Scan::default())
            };
            let (na, nb) = (a.newlines, b.newlines);
            self.deliver(a, line_no, name, on_item);
            self.deliver(b, line_no + na, name, on_item);
            line_no += na + nb;
            self.stats.bytes += cut_at as u64;
            progress.tick(&self.stats);
            buf.drain(..cut_at);
            if eof && buf.is_empty() {
                return Ok(());
            }
        }
    }

    /// JSON lines from a regular file: two workers each read (positioned reads, no shared
    /// cursor) and scan every other block, so reading and scanning use both cores; the results
    /// are consumed in block order, through bounded channels that keep memory flat.
    fn read_parallel<T: Send>(
        &mut self,
        file: &std::fs::File,
        len: u64,
        name: &str,
        keep: &(impl Fn(ComputeEvent) -> Option<T> + Sync),
        on_item: &mut impl FnMut(T),
        progress: &mut Progress,
    ) -> Result<(), String> {
        let blocks = len.div_ceil(FILE_BLOCK as u64).max(1) as usize;
        let prefilter = self.prefilter;
        let mut failure = None;
        let in_flight: [InFlight; WORKERS] = std::array::from_fn(|_| InFlight::default());
        let in_flight = &in_flight;
        std::thread::scope(|sc| {
            let mut rxs = Vec::new();
            let mut workers = Vec::new();
            for (k, held) in in_flight.iter().enumerate() {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Scan<T>, u64), String>>(AHEAD);
                rxs.push(rx);
                workers.push(sc.spawn(move || {
                    let mut buf = Vec::new();
                    for i in (k..blocks).step_by(WORKERS) {
                        let r = block_lines(file, len, i, &mut buf)
                            .map(|(a, b)| (scan(prefilter, keep, &buf[a..b]), (b - a) as u64));
                        let kept = r.as_ref().map_or(0, |(sc, _)| sc.out.len());
                        if !held.reserve(kept, HELD_AHEAD) || tx.send(r).is_err() {
                            return;
                        }
                    }
                }));
            }
            let mut line_no = 0;
            for i in 0..blocks {
                match rxs[i % WORKERS].recv() {
                    Ok(Ok((sc, bytes))) => {
                        in_flight[i % WORKERS].release(sc.out.len());
                        let lines = sc.newlines;
                        self.deliver(sc, line_no, name, on_item);
                        line_no += lines;
                        self.stats.bytes += bytes;
                        progress.tick(&self.stats);
                    }
                    Ok(Err(e)) => {
                        failure = Some(e);
                        break;
                    }
                    Err(_) => {
                        failure = Some("a reader thread stopped".into());
                        break;
                    }
                }
            }
            // Closing stops workers waiting for room after a failure, and dropping the
            // receivers those still sending.
            in_flight.iter().for_each(InFlight::close);
            drop(rxs);
            join_all(workers);
        });
        failure.map_or(Ok(()), Err)
    }
}

/// Waits for each worker's thread to end. The scope alone waits only for the worker's closure
/// to return, not for its thread to run its thread-local destructors and exit: a leak checker
/// running right after (the fuzz targets' LeakSanitizer) then sees their memory as leaked.
fn join_all<R>(workers: Vec<std::thread::ScopedJoinHandle<'_, R>>) {
    for w in workers {
        // A worker that panicked has reported nothing more; what it delivered stands.
        let _ = w.join();
    }
}

/// Worker threads of the parallel reader.
const WORKERS: usize = 2;

/// Blocks a worker of a big file may scan ahead of the main thread. The main thread runs a
/// batch through the pipeline after about 55 MB of the look-alike bench's lines (1,024 of its
/// in-scope events); with 16 blocks (4 MiB) of room the workers stopped a few milliseconds
/// into each batch, and both the workers and the main thread spent about 40 % of a replay
/// waiting for each other. 128 blocks are 32 MiB of file; what they hold is bounded by
/// [`HELD_AHEAD`] too.
const AHEAD: usize = 128;

/// In-scope events a worker may hold scanned and not yet delivered. On sparse input the
/// block count binds first; on input where most lines are in scope (about 160 events a
/// block) this does, after six blocks: 128 such blocks held 26 MB more.
const HELD_AHEAD: usize = 1024;

/// How many in-scope events one worker has scanned and the delivering thread not yet taken.
#[derive(Default)]
struct InFlight {
    /// Events held, and whether delivery stopped.
    state: std::sync::Mutex<(usize, bool)>,
    changed: std::sync::Condvar,
}

impl InFlight {
    /// Wait until `n` more events fit under `cap`, then count them. A block is let through
    /// whatever its size when nothing is held, so a worker never waits on itself. False when
    /// delivery stopped.
    fn reserve(&self, n: usize, cap: usize) -> bool {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while !s.1 && s.0 > 0 && s.0 + n > cap {
            s = self
                .changed
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        s.0 += n;
        !s.1
    }

    /// `n` events were delivered.
    fn release(&self, n: usize) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.0 = s.0.saturating_sub(n);
        self.changed.notify_all();
    }

    /// Delivery stopped: nothing waits for room any more.
    fn close(&self) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.1 = true;
        self.changed.notify_all();
    }
}

/// A pool's files, handed out in order as they are reached: file `j` to worker `j % WORKERS`,
/// and every name to the delivering thread, which takes file `j`'s parts from that worker.
/// A worker is at most a few files ahead of delivery (its channel is bounded), so the names
/// queued here stay few, however many files the listing holds.
struct Feed<I> {
    files: I,
    workers: [std::collections::VecDeque<PathBuf>; WORKERS],
    delivery: std::collections::VecDeque<PathBuf>,
    pulled: usize,
}

impl<I: Iterator<Item = PathBuf>> Feed<I> {
    fn new(files: I) -> Feed<I> {
        Feed {
            files,
            workers: Default::default(),
            delivery: Default::default(),
            pulled: 0,
        }
    }

    /// The next file of worker `k`, or (`None`) of delivery; `None` once the files ran out.
    fn take(&mut self, k: Option<usize>) -> Option<PathBuf> {
        loop {
            let queue = match k {
                Some(k) => self.workers.get_mut(k)?,
                None => &mut self.delivery,
            };
            if let Some(f) = queue.pop_front() {
                return Some(f);
            }
            let f = self.files.next()?;
            self.workers[self.pulled % WORKERS].push_back(f.clone());
            self.delivery.push_back(f);
            self.pulled += 1;
        }
    }
}

/// The files of a listing up to the next large plain one, which is left in `big`: it is read
/// by both workers on its own.
struct UntilBig<'a> {
    files: &'a mut walk::Files,
    big: &'a mut Option<PathBuf>,
}

impl Iterator for UntilBig<'_> {
    type Item = PathBuf;

    fn next(&mut self) -> Option<PathBuf> {
        if self.big.is_some() {
            return None;
        }
        let f = self.files.next()?;
        let plain = f.as_os_str() != "-" && !f.to_string_lossy().ends_with(".gz");
        if plain && std::fs::metadata(&f).is_ok_and(|m| m.len() >= BIG_FILE) {
            *self.big = Some(f);
            return None;
        }
        Some(f)
    }
}

/// Plain files at least this large are read by both workers block by block.
const BIG_FILE: u64 = 8 << 20;

/// Records of a document scanned per part sent by a pool worker.
const RECORDS_PER_PART: usize = 4096;

/// What a pool worker sends for one file: its scanned parts in order, then how it ended.
enum Piece<T> {
    Part(Scan<T>, u64),
    Done(Result<(), String>),
}

/// The file's first line is a whole JSON record: read it as JSON lines.
fn first_is_record(buf: &[u8], eof: bool) -> bool {
    let first_end = memchr::memchr(b'\n', buf).unwrap_or(buf.len());
    let t = without_export_time(without_bom(buf[..first_end].trim_ascii()));
    t.starts_with(b"{")
        && (first_end < buf.len() || eof)
        && serde_json::from_slice::<serde::de::IgnoredAny>(t).is_ok()
        && !is_records_document(t)
}

/// The text after a UTF-8 byte order mark, if it starts with one. Windows tools write one at the
/// start of a file (PowerShell 5's `Out-File`, Notepad), and `cat` of such files puts one at the
/// start of a line: it marks the encoding and is no part of the record. Left in, a file's first
/// line is no JSON record, and a file of JSON lines would be read whole as one document, without
/// the fast path and in memory as large as the file.
fn without_bom(t: &[u8]) -> &[u8] {
    t.strip_prefix(b"\xEF\xBB\xBF")
        .map_or(t, <[u8]>::trim_ascii_start)
}

/// The record after the time CloudWatch Logs puts before each event when it exports a log group
/// to S3 (`2026-11-01T00:10:05.123Z {"eventVersion":...}`, a trail sent to CloudWatch Logs and
/// exported): the time the event reached CloudWatch Logs, not the record's, which has its own.
/// Only a time of that form followed by an object is taken off; no JSON line starts with it.
fn without_export_time(t: &[u8]) -> &[u8] {
    let dated = t.len() > 20
        && t[..4].iter().all(u8::is_ascii_digit)
        && t[4] == b'-'
        && t[7] == b'-'
        && t[10] == b'T';
    if !dated {
        return t;
    }
    match memchr::memchr(b' ', &t[..t.len().min(40)]) {
        Some(sp) if t[..sp].iter().all(|b| b.is_ascii_graphic()) => {
            let rest = t[sp + 1..].trim_ascii_start();
            if rest.starts_with(b"{") {
                rest
            } else {
                t
            }
        }
        _ => t,
    }
}

/// `{"Records":[` at the start: a CloudTrail S3 file (on one line, as CloudTrail writes it).
fn is_records_document(t: &[u8]) -> bool {
    let mut i = 0;
    let mut expect = |lit: &[u8]| {
        while t.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let ok = t[i.min(t.len())..].starts_with(lit);
        i += lit.len();
        ok
    };
    expect(b"{") && expect(b"\"Records\"") && expect(b":") && expect(b"[")
}

/// A file's error when its reader went away before the file's end (`send` answered false).
fn stopped() -> String {
    "stopped".to_string()
}

/// One file, start to end, on a pool worker: `send` gets its scanned parts in order (false:
/// the reader is gone, stop).
/// `buf` is the worker's, reused from file to file: thousands of small files then cost no
/// allocation churn, and memory stays at the largest file.
fn produce<T: Send>(
    path: &Path,
    blobs: Option<&dyn Blobs>,
    buf: &mut Vec<u8>,
    prefilter: Option<&Prefilter>,
    keep: &(impl Fn(ComputeEvent) -> Option<T> + Sync),
    send: &mut impl FnMut(Piece<T>) -> bool,
) -> Result<(), String> {
    let (mut reader, _) = open(path, blobs).map_err(|e| e.to_string())?;
    buf.clear();
    let mut cut: Option<String> = None;
    let mut eof = fill_or_cut(&mut reader, buf, FIRST_PEEK, &mut cut);
    if crate::capture::looks_like_avro(buf) {
        return capture_rows(std::mem::take(buf), reader, prefilter, keep, &mut |sc| {
            send(Piece::Part(sc, 0))
        });
    }
    if crate::portal_csv::looks_like_csv(&path.to_string_lossy(), buf) {
        return csv_rows(std::mem::take(buf), reader, keep, &mut |sc| {
            send(Piece::Part(sc, 0))
        });
    }
    if !first_is_record(buf, eof) {
        // A local file can be read again, so a document that is not what its head says
        // (or is cut short) is read again whole below; standard input and a bucket's object
        // cannot.
        let again = blobs.is_none() && path.as_os_str() != "-";
        if !eof && again && is_records_document(without_bom(buf)) {
            if let Some(parts) = records::stream_records(&mut reader, buf, eof, prefilter, keep) {
                for (sc, bytes) in parts {
                    if !send(Piece::Part(sc, bytes)) {
                        return Err(stopped());
                    }
                }
                return Ok(());
            }
            (reader, _) = open(path, None).map_err(|e| e.to_string())?;
            buf.clear();
            eof = fill_or_cut(&mut reader, buf, FIRST_PEEK, &mut cut);
        }
        if !eof {
            if let Err(e) = reader.read_to_end(buf) {
                cut = Some(e.to_string());
            }
        }
        let bytes = buf.len() as u64;
        let mut parts = document(buf, prefilter, keep, false, cut.as_deref())?
            .into_iter()
            .peekable();
        while let Some(sc) = parts.next() {
            let last = parts.peek().is_none();
            if !send(Piece::Part(sc, if last { bytes } else { 0 })) {
                return Err(stopped());
            }
        }
        return Ok(());
    }
    lines(reader, buf, eof, cut, prefilter, keep, send)
}

/// A file of JSON lines from its first block on, in blocks of whole lines: each is scanned and
/// sent, then dropped from `buf`. A line cut by a read error is reported as truncated.
fn lines<T: Send>(
    mut reader: Box<dyn Read>,
    buf: &mut Vec<u8>,
    mut eof: bool,
    mut cut: Option<String>,
    prefilter: Option<&Prefilter>,
    keep: &(impl Fn(ComputeEvent) -> Option<T> + Sync),
    send: &mut impl FnMut(Piece<T>) -> bool,
) -> Result<(), String> {
    loop {
        if !eof {
            eof = fill_or_cut(&mut reader, buf, BLOCK, &mut cut);
        }
        let lost = match (eof, cut.take()) {
            (true, Some(why)) => Some(drop_partial_line(buf, &why)),
            _ => None,
        };
        let end = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', buf) {
                Some(i) => i + 1,
                None => {
                    let target = buf.len() * 2;
                    eof = fill_or_cut(&mut reader, buf, target, &mut cut);
                    continue;
                }
            }
        };
        let mut sc = scan(prefilter, keep, &buf[..end]);
        if let Some(msg) = lost {
            // The cut line follows the part's last whole line.
            sc.error("truncated", Pos::Line(sc.newlines + 1), || msg);
        }
        if !send(Piece::Part(sc, end as u64)) {
            return Err(stopped());
        }
        buf.drain(..end);
        if eof && buf.is_empty() {
            return Ok(());
        }
    }
}

/// The records of a whole document, scanned. A CloudTrail S3 file is cut into its records
/// without parsing them, and each is prefiltered like a line (`parallel`: in two halves on
/// two threads); any other document is parsed whole and split by the core.
/// `cut`: the read error that ended the input early, if any: a record the cut went through
/// is reported as truncated, naming it.
fn document<T: Send>(
    buf: &[u8],
    prefilter: Option<&Prefilter>,
    keep: &(impl Fn(ComputeEvent) -> Option<T> + Sync),
    parallel: bool,
    cut: Option<&str>,
) -> Result<Vec<Scan<T>>, String> {
    let body = without_bom(buf);
    if let Some(extents) = records_array(body) {
        if parallel && extents.len() >= 2 * RECORDS_PER_PART {
            let (a, b) = extents.split_at(extents.len() / 2);
            let base = a.len();
            return Ok(std::thread::scope(|sc| {
                let hb = sc.spawn(move || scan_records(prefilter, keep, body, b, base));
                let first = scan_records(prefilter, keep, body, a, 0);
                vec![first, hb.join().unwrap_or_default()]
            }));
        }
        return Ok(extents
            .chunks(RECORDS_PER_PART)
            .enumerate()
            .map(|(k, c)| scan_records(prefilter, keep, body, c, k * RECORDS_PER_PART))
            .collect());
    }
    let records = source::split(buf).map_err(|e| match cut {
        Some(c) => format!("{e} (input cut short: {c})"),
        None => e.to_string(),
    })?;
    let mut sc = Scan::default();
    for (pos, rec) in records {
        match rec.and_then(|v| normalize(v).map_err(RecordError::from)) {
            Ok(ev) => {
                sc.records += 1;
                sc.out.extend(keep(ev).map(Ok));
            }
            // Not a record read: the whole records before the cut were.
            Err(RecordError::Truncated(msg)) => {
                let why = cut.unwrap_or("the document ends early");
                sc.error("truncated", Pos::Doc(pos), || format!("{msg} ({why})"));
            }
            Err(e) => {
                sc.records += 1;
                sc.error(e.kind(), Pos::Doc(pos), || e.to_string());
            }
        }
    }
    Ok(vec![sc])
}

/// A portal CSV export of `AzureActivity`, row by row, in parts of [`RECORDS_PER_PART`] rows
/// (`emit` false: stop). Errors are numbered by the row's line in the file.
fn csv_rows<T>(
    head: Vec<u8>,
    rest: Box<dyn Read>,
    keep: &impl Fn(ComputeEvent) -> Option<T>,
    emit: &mut impl FnMut(Scan<T>) -> bool,
) -> Result<(), String> {
    use crate::portal_csv::Header;
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::Cursor::new(head).chain(rest));
    let mut rec = csv::StringRecord::new();
    if !rd.read_record(&mut rec).map_err(|e| e.to_string())? {
        return Err("empty CSV".into());
    }
    let header = Header::new(&rec).map_err(|e| e.to_string())?;
    let mut sc = Scan::default();
    loop {
        let line = rd.position().line() as usize;
        match rd.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                sc.records += 1;
                match normalize(header.row(&rec)) {
                    Ok(ev) => sc.out.extend(keep(ev).map(Ok)),
                    Err(e) => sc.error(e.kind(), Pos::Line(line), || e.to_string()),
                }
            }
            // A broken row (an unbalanced quote, bytes that are not UTF-8) is that row's error.
            Err(e) if e.is_io_error() => return Err(e.to_string()),
            Err(e) => {
                sc.records += 1;
                sc.error("invalid_csv", Pos::Line(line), || e.to_string());
            }
        }
        if sc.records as usize >= RECORDS_PER_PART && !emit(std::mem::take(&mut sc)) {
            return Err(stopped());
        }
    }
    emit(sc);
    Ok(())
}

/// The records of an Event Hubs Capture file, event by event: each body is a document of its
/// own (the Activity Log's `{"records":[...]}`), scanned like a file of that shape. A container
/// that breaks part way keeps the records of the events before the break.
fn capture_rows<T>(
    head: Vec<u8>,
    rest: Box<dyn Read>,
    prefilter: Option<&Prefilter>,
    keep: &(impl Fn(ComputeEvent) -> Option<T> + Sync),
    emit: &mut impl FnMut(Scan<T>) -> bool,
) -> Result<(), String>
where
    T: Send,
{
    let events = crate::capture::bodies(std::io::Cursor::new(head).chain(rest))?;
    let mut sc = Scan::default();
    for (i, event) in events.enumerate() {
        let body = match event {
            Ok(Some(body)) => body,
            Ok(None) => continue,
            Err(e) => {
                emit(sc);
                return Err(e);
            }
        };
        match document(&body, prefilter, keep, false, None) {
            Ok(parts) => parts.into_iter().for_each(|part| sc.absorb(part, i)),
            Err(e) => {
                sc.records += 1;
                let at = source::Position { index: 0, line: None };
                sc.error("invalid_json", Pos::Event(i, at), || e);
            }
        }
        if sc.records as usize >= RECORDS_PER_PART && !emit(std::mem::take(&mut sc)) {
            return Err(stopped());
        }
    }
    emit(sc);
    Ok(())
}

/// Scan the records at `extents` of `doc`, numbered from `first`.
fn scan_records<T>(
    prefilter: Option<&Prefilter>,
    keep: &impl Fn(ComputeEvent) -> Option<T>,
    doc: &[u8],
    extents: &[(usize, usize)],
    first: usize,
) -> Scan<T> {
    let mut sc = Scan::default();
    for (k, &(a, b)) in extents.iter().enumerate() {
        scan_record(prefilter, keep, &doc[a..b], Pos::Record(first + k), &mut sc);
    }
    sc
}

/// Extents of the records of a `{"Records":[...]}` document, found by following only strings
/// and braces (no values are built); `None` for any other shape, which is then parsed whole.
fn records_array(doc: &[u8]) -> Option<Vec<(usize, usize)>> {
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while doc.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    for lit in [&b"{"[..], b"\"Records\"", b":", b"["] {
        skip_ws(&mut i);
        if !doc[i.min(doc.len())..].starts_with(lit) {
            return None;
        }
        i += lit.len();
    }
    let mut out = Vec::new();
    skip_ws(&mut i);
    if doc.get(i) == Some(&b']') {
        i += 1;
    } else {
        loop {
            if doc.get(i) != Some(&b'{') {
                return None;
            }
            let end = object_end(doc, i)?;
            out.push((i, end));
            i = end;
            skip_ws(&mut i);
            match doc.get(i) {
                Some(b',') => {
                    i += 1;
                    skip_ws(&mut i);
                }
                Some(b']') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    skip_ws(&mut i);
    if doc.get(i) != Some(&b'}') {
        return None;
    }
    i += 1;
    skip_ws(&mut i);
    (i == doc.len()).then_some(out)
}

/// End (exclusive) of the object starting at `start`: braces counted outside strings.
fn object_end(doc: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    loop {
        let at = i + memchr::memchr3(b'"', b'{', b'}', doc.get(i..)?)?;
        match doc[at] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {
                let mut j = at + 1;
                loop {
                    // `get`: a backslash as the last byte puts `j` past the end (a cut file).
                    let q = j + memchr::memchr2(b'"', b'\\', doc.get(j..)?)?;
                    if doc[q] == b'\\' {
                        j = q + 2;
                    } else {
                        j = q;
                        break;
                    }
                }
                i = j + 1;
                continue;
            }
        }
        i = at + 1;
    }
}

/// Read block `i` of a file into `buf` and return the bounds of the lines that *start* in it:
/// the partial line at the block's head belongs to the previous block, and its last line is
/// read on past the block's end until it ends. `buf` is reused from block to block and only
/// grows, so it is never zero-filled again.
///
/// Every read lands at an address congruent to its file offset modulo [`ALIGN`]: the kernel
/// copies from the page cache with `rep movsb`, which on the machine measured ran 4 to 5 times
/// slower when source and destination are misaligned to each other (BENCHMARKS, "Aligned
/// reads"), and a heap buffer starts 16 bytes into its allocation.
fn block_lines(
    file: &std::fs::File,
    len: u64,
    i: usize,
    buf: &mut Vec<u8>,
) -> Result<(usize, usize), String> {
    use std::os::unix::fs::FileExt;
    if buf.capacity() < BLOCK_RESERVE {
        buf.reserve_exact(BLOCK_RESERVE - buf.len());
    }
    // Where the aligned part of the buffer starts; recomputed per block, since a line longer
    // than the reserve moves the buffer (its reads are then merely slower).
    let pad = aligned_start(buf);
    let read_at = |buf: &mut Vec<u8>, from: usize, at: u64, n: usize| -> Result<usize, String> {
        let from = pad + from;
        if buf.len() < from + n {
            buf.resize(from + n, 0);
        }
        let mut got = 0;
        while got < n {
            match file.read_at(&mut buf[from + got..from + n], at + got as u64) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read error at byte {}: {e}", at + got as u64)),
            }
        }
        Ok(got)
    };
    // Every block but the first is read from `ALIGN` bytes before it, an aligned offset: when
    // the byte just before the block is a newline, the line starting exactly at the block's
    // start is this block's.
    let back = if i == 0 { 0 } else { ALIGN };
    let start = i as u64 * FILE_BLOCK as u64 - back as u64;
    let end = ((i as u64 + 1) * FILE_BLOCK as u64).min(len);
    let mut filled = read_at(buf, 0, start, (end - start) as usize)?;
    let begin = if i == 0 {
        0
    } else if filled < back {
        return Ok((0, 0));
    } else {
        match memchr::memchr(b'\n', &buf[pad + back - 1..pad + filled]) {
            Some(p) => back + p,
            None => return Ok((0, 0)),
        }
    };
    if begin >= filled {
        return Ok((0, 0));
    }
    // Finish the last line: read on until a newline or the end of the file.
    let mut at = end;
    while buf[pad + filled - 1] != b'\n' && at < len {
        let got = read_at(buf, filled, at, TAIL)?;
        if got == 0 {
            break;
        }
        at += got as u64;
        if let Some(p) = memchr::memchr(b'\n', &buf[pad + filled..pad + filled + got]) {
            return Ok((pad + begin, pad + filled + p + 1));
        }
        filled += got;
    }
    Ok((pad + begin, pad + filled))
}

/// Bytes read at a time past a block's end to finish its last line: every block but the last
/// reads one, so it is small against [`FILE_BLOCK`]; a longer line takes more reads.
const TAIL: usize = 8 << 10;

/// A block reader's buffer: the aligned start (up to [`ALIGN`] bytes in), the [`ALIGN`] bytes
/// read back before the block, the block, and one [`TAIL`] read. One `ALIGN` short, the first
/// tail read of nearly every block outgrew it: the vector was moved, copying the block, and
/// reserved 2 MiB per reader.
const BLOCK_RESERVE: usize = ALIGN + ALIGN + FILE_BLOCK + TAIL;

/// Bytes read before deciding a file's format.
const FIRST_PEEK: usize = 64 << 10;
/// Block size of the JSON-lines reader of a stream (standard input, a compressed file).
const BLOCK: usize = 1 << 20;
/// Block size of the two workers that read a big plain file in place. Each holds one block
/// and its tail at a time: at 1 MiB that was 2.2 MB of a 20 MB replay; at 256 KiB, with
/// [`AHEAD`] raised to keep as many bytes in flight, replays ran as fast and peaked about
/// 1.3 MB lower (BENCHMARKS, "Held events encoded, smaller blocks").
const FILE_BLOCK: usize = 256 << 10;
/// Blocks at least this large are split across two threads.
const PARALLEL_MIN: usize = 1 << 20;

/// Read until `buf` holds at least `target` bytes or the input ends. Returns true at the end.
fn fill(reader: &mut Box<dyn Read>, buf: &mut Vec<u8>, target: usize) -> Result<bool, String> {
    while buf.len() < target {
        let len = buf.len();
        buf.resize(target, 0);
        let got = reader.read(&mut buf[len..]);
        buf.truncate(len + *got.as_ref().unwrap_or(&0));
        match got {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read error: {e}")),
        }
    }
    Ok(false)
}

/// [`fill`], but a read error ends the input instead of failing it: what was read stays in
/// `buf` and the error goes to `cut`, so a truncated stream gives up only its last record.
fn fill_or_cut(
    reader: &mut Box<dyn Read>,
    buf: &mut Vec<u8>,
    target: usize,
    cut: &mut Option<String>,
) -> bool {
    match fill(reader, buf, target) {
        Ok(eof) => eof,
        Err(e) => {
            *cut = Some(e);
            true
        }
    }
}

/// The stream broke: drop the partial line after the last newline (the record the cut went
/// through) and say so; every whole line before it is still read.
fn drop_partial_line(buf: &mut Vec<u8>, why: &str) -> String {
    let whole = memchr::memrchr(b'\n', buf).map_or(0, |i| i + 1);
    let lost = buf.len() - whole;
    buf.truncate(whole);
    format!(
        "input cut short ({why}); {lost} bytes of an incomplete record dropped, every whole line before it read"
    )
}

/// Where a bad record is.
#[derive(Debug, Clone, Copy)]
enum Pos {
    /// 1-based line within the scanned part.
    Line(usize),
    /// 0-based record of a CloudTrail S3 file.
    Record(usize),
    /// Position in a document split by the core.
    Doc(source::Position),
    /// 0-based event of an Event Hubs Capture file, and the record's place in its body.
    Event(usize, source::Position),
}

/// A kept item, or (error kind, position, message).
type Outcome<T> = Result<T, (&'static str, Pos, String)>;

struct Scan<T> {
    records: u64,
    skipped: u64,
    /// Newlines seen: the part's line count, to number the next part's lines.
    newlines: usize,
    /// Kept items, and the first [`SAMPLES`] errors of the part with their messages.
    out: Vec<Outcome<T>>,
    /// Errors kept in `out`.
    errors: usize,
    /// The part's later errors, counted by kind only. The summary names the first
    /// [`SAMPLES`] errors of the whole input, and a part's later ones always follow its
    /// first: blocks of unreadable lines held a message each until delivered, 39 MB for a
    /// file of 3 million (BENCHMARKS, "Code layout, unreadable lines").
    elided: Tally,
}

impl<T> Scan<T> {
    /// An error at `pos`; its message is made only if it is one of the part's first.
    fn error(&mut self, kind: &'static str, pos: Pos, msg: impl FnOnce() -> String) {
        if self.errors < SAMPLES {
            self.errors += 1;
            self.out.push(Err((kind, pos, msg())));
        } else {
            self.elided.park("", kind, "");
        }
    }

    /// Take in the next part of the same input, its places already the input's.
    fn merge(&mut self, part: Scan<T>) {
        self.records += part.records;
        self.skipped += part.skipped;
        self.newlines += part.newlines;
        self.elided.merge(part.elided);
        for o in part.out {
            match o {
                Ok(item) => self.out.push(Ok(item)),
                Err((kind, pos, msg)) => self.error(kind, pos, || msg),
            }
        }
    }

    /// Take in a part scanned from the body of capture event `event`, its places made relative
    /// to that event.
    fn absorb(&mut self, mut part: Scan<T>, event: usize) {
        for (_, pos, _) in part.out.iter_mut().filter_map(|o| o.as_mut().err()) {
            let at = match *pos {
                Pos::Doc(p) | Pos::Event(_, p) => p,
                Pos::Record(index) => source::Position { index, line: None },
                Pos::Line(n) => source::Position {
                    index: n.saturating_sub(1),
                    line: Some(n),
                },
            };
            *pos = Pos::Event(event, at);
        }
        self.merge(part);
    }
}

impl<T> Default for Scan<T> {
    fn default() -> Self {
        Scan {
            records: 0,
            skipped: 0,
            newlines: 0,
            out: Vec::new(),
            errors: 0,
            elided: Tally::default(),
        }
    }
}

/// Scan the lines of one part of a block: prefilter, then parse and normalize what may match.
fn scan<T>(prefilter: Option<&Prefilter>, keep: &impl Fn(ComputeEvent) -> Option<T>, part: &[u8]) -> Scan<T> {
    let mut sc = Scan::default();
    let mut start = 0;
    let mut n = 0;
    let ends = memchr::memchr_iter(b'\n', part).chain(std::iter::once(part.len()));
    for end in ends {
        if start > part.len() {
            break;
        }
        if end < part.len() {
            sc.newlines += 1;
        }
        let line = without_export_time(without_bom(part[start..end].trim_ascii()));
        start = end + 1;
        n += 1;
        if !line.is_empty() {
            scan_record(prefilter, keep, line, Pos::Line(n), &mut sc);
        }
    }
    sc
}

/// One line or record: skipped when the prefilter is sure it is out of scope, else parsed
/// (only the fields read, when it is a bare CloudTrail record), normalized and kept.
fn scan_record<T>(
    prefilter: Option<&Prefilter>,
    keep: &impl Fn(ComputeEvent) -> Option<T>,
    line: &[u8],
    pos: Pos,
    sc: &mut Scan<T>,
) {
    if prefilter.is_some_and(|p| !p.may_match(line)) {
        sc.records += 1;
        sc.skipped += 1;
        return;
    }
    let fast = t1578_core::normalize::cloudtrail_line(line)
        .or_else(|| t1578_core::normalize::activity_log_line(line));
    if let Some(r) = fast {
        sc.records += 1;
        match r {
            Ok(ev) => sc.out.extend(keep(ev).map(Ok)),
            Err(e) => sc.error(e.kind(), pos, || e.to_string()),
        }
        return;
    }
    // One UTF-8 check of the whole line rather than one per string; a line that fails it
    // is parsed as bytes, for serde_json's own error and position.
    let parsed = match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(line),
    };
    let value: serde_json::Value = match parsed {
        Ok(v) => v,
        Err(e) => {
            sc.records += 1;
            sc.error("invalid_json", pos, || e.to_string());
            return;
        }
    };
    let mut recs = Vec::new();
    source::expand(value, &mut recs);
    for v in recs {
        sc.records += 1;
        match normalize(v) {
            Ok(ev) => sc.out.extend(keep(ev).map(Ok)),
            Err(e) => sc.error(e.kind(), pos, || e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_keeps_the_messages_of_its_first_errors_and_counts_the_rest() {
        let mut part = Vec::new();
        for i in 0..10_000 {
            part.extend_from_slice(format!("{{\"cut\":\"{i}\n").as_bytes());
        }
        let sc: Scan<ComputeEvent> = scan(None, &Some, &part);
        assert_eq!((sc.records, sc.newlines), (10_000, 10_000));
        let kept: Vec<&Pos> = sc
            .out
            .iter()
            .filter_map(|o| o.as_ref().err().map(|(_, p, _)| p))
            .collect();
        assert_eq!(kept.len(), SAMPLES);
        assert!(matches!(
            kept[..],
            [
                Pos::Line(1),
                Pos::Line(2),
                Pos::Line(3),
                Pos::Line(4),
                Pos::Line(5)
            ]
        ));
        assert_eq!(sc.elided.counts().2, 10_000 - SAMPLES as u64);
        assert_eq!(
            sc.elided.kinds().collect::<Vec<_>>(),
            vec![("invalid_json", 10_000 - SAMPLES as u64)]
        );
        assert!(sc.elided.samples().is_empty());
    }

    #[test]
    fn records_documents_are_cut_into_their_records() {
        let doc = br#" {"Records" : [ {"a":"}{\"","b":{"c":[1,{}]}} ,{"d":"\\"}]}
"#;
        let ext = records_array(doc).unwrap();
        let recs: Vec<&[u8]> = ext.iter().map(|&(a, b)| &doc[a..b]).collect();
        assert_eq!(
            recs,
            vec![&br#"{"a":"}{\"","b":{"c":[1,{}]}}"#[..], br#"{"d":"\\"}"#]
        );
        assert_eq!(records_array(br#"{"Records":[]}"#).unwrap(), vec![]);
        // Any other shape is parsed whole by the core.
        for other in [
            &br#"{"Records":[{"a":1}],"x":1}"#[..],
            br#"{"Records":[{"a":1}]"#,
            br#"{"Records":[{"a":"1}]}"#,
            br#"{"Records":["s"]}"#,
            br#"{"records":[{"a":1}]}"#,
            br#"[{"a":1}]"#,
        ] {
            assert!(
                records_array(other).is_none(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn a_pools_files_go_to_the_workers_in_turn_and_are_listed_only_as_far_as_taken() {
        let pulled = std::cell::Cell::new(0);
        let files = (0..100).map(|i| {
            pulled.set(pulled.get() + 1);
            PathBuf::from(format!("f{i}"))
        });
        let f = |i: usize| Some(PathBuf::from(format!("f{i}")));
        let mut feed = Feed::new(files);
        // Worker 0 three files ahead of everyone else: listed up to its third, no further.
        for i in [0, 2, 4] {
            assert_eq!(feed.take(Some(0)), f(i));
        }
        assert_eq!(pulled.get(), 5);
        assert_eq!((feed.take(Some(1)), feed.take(Some(1))), (f(1), f(3)));
        for i in 0..5 {
            assert_eq!(feed.take(None), f(i));
        }
        assert_eq!(pulled.get(), 5);
        let rest = |feed: &mut Feed<_>, k| std::iter::from_fn(|| feed.take(k)).collect::<Vec<_>>();
        let odd = rest(&mut feed, Some(1));
        assert_eq!(odd, (5..100).step_by(2).filter_map(f).collect::<Vec<_>>());
        let even = rest(&mut feed, Some(0));
        assert_eq!(even, (6..100).step_by(2).filter_map(f).collect::<Vec<_>>());
        assert_eq!(rest(&mut feed, None), (5..100).filter_map(f).collect::<Vec<_>>());
        assert_eq!(pulled.get(), 100);
        assert_eq!(feed.take(Some(WORKERS)), None);
    }

    #[test]
    fn archive_keys_sort_by_the_time_they_name() {
        let ct = Path::new("AWSLogs/o-1/111122223333/CloudTrail/eu-west-1/2026/11/01/111122223333_CloudTrail_eu-west-1_20261101T1005Z_AbC.json.gz");
        assert_eq!(time_key(ct).as_deref(), Some("20261101T1005"));
        let az = Path::new(
            "insights-activity-logs/resourceId=/SUBSCRIPTIONS/S/y=2026/m=11/d=01/h=07/m=00/PT1H.json",
        );
        assert_eq!(time_key(az).as_deref(), Some("20261101T0700"));
        assert_eq!(time_key(Path::new("events/aws/x.json")), None);
    }

    #[test]
    fn a_worker_waits_for_room_for_its_events_until_delivery_takes_some_or_stops() {
        use std::sync::mpsc::channel;
        use std::time::Duration;
        let held = InFlight::default();
        // Nothing held: a block passes whatever its size, so a worker never waits on itself.
        assert!(held.reserve(100, 8));
        held.release(100);
        assert!(held.reserve(5, 8));
        std::thread::scope(|sc| {
            let (tx, rx) = channel();
            let held = &held;
            sc.spawn(move || tx.send(held.reserve(5, 8)));
            assert!(
                rx.recv_timeout(Duration::from_millis(100)).is_err(),
                "10 events let through under a cap of 8"
            );
            held.release(5);
            assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        });
        // 5 are held again; delivery stops: the waiting worker is let go, told to stop.
        std::thread::scope(|sc| {
            let (tx, rx) = channel();
            let held = &held;
            sc.spawn(move || tx.send(held.reserve(5, 8)));
            assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
            held.close();
            assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(false));
        });
        assert!(!held.reserve(0, 8), "a stopped delivery takes nothing more");
    }

    #[test]
    fn only_the_trail_is_entered_among_a_log_buckets_service_folders() {
        let last = |path: &str| {
            let parts: Vec<&str> = path.split('/').collect();
            holds_no_api_calls(&parts, parts.len() - 1)
        };
        for skipped in [
            "AWSLogs/111122223333/Config",
            "AWSLogs/111122223333/vpcflowlogs",
            "o-abc123def4/AWSLogs/o-abc123def4/111122223333/elasticloadbalancing",
            "AWSLogs/111122223333/CloudTrail-Digest",
            "copy/CloudTrail-Insight",
        ] {
            assert!(last(skipped), "{skipped} entered");
        }
        for entered in [
            "AWSLogs/111122223333/CloudTrail",
            "AWSLogs/o-abc123def4/111122223333/CloudTrail",
            "AWSLogs/111122223333",
            "AWSLogs/o-abc123def4",
            // Not the delivery layout: an account folder must be 12 digits right under AWSLogs.
            "logs/111122223333/Config",
            "AWSLogs/1111/Config",
            "AWSLogs/111122223333/CloudTrail/us-east-1",
        ] {
            assert!(!last(entered), "{entered} skipped");
        }
    }

    #[test]
    fn blocks_hand_out_each_line_once_from_reads_aligned_to_their_offsets() {
        // Lines of many lengths, one longer than a block, then lines ending exactly `d` bytes
        // before a block boundary: on it, inside the bytes read back before a block, and just
        // before them.
        let mut text = Vec::new();
        for (n, len) in (0..400)
            .map(|k| 1 + (k * 7919) % 20_000)
            .chain([3 * FILE_BLOCK / 2, 5, 60, 63, 64, 65])
            .enumerate()
        {
            text.extend_from_slice(format!("{n:08}{}\n", "x".repeat(len)).as_bytes());
        }
        for d in [0usize, 1, 30, 62, 63, 64, 65] {
            let boundary = (text.len() + 100).div_ceil(FILE_BLOCK) * FILE_BLOCK;
            text.extend(std::iter::repeat_n(b'y', boundary - 1 - d - text.len()));
            text.push(b'\n');
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.jsonl");
        std::fs::write(&path, &text).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for i in 0..text.len().div_ceil(FILE_BLOCK) {
            let capacity = buf.capacity();
            let (a, b) = block_lines(&file, text.len() as u64, i, &mut buf).unwrap();
            if a == b {
                continue;
            }
            // Lines come out contiguously: the first byte of this block's lines is file offset
            // `got.len()`, and it sits at an address congruent to it, unless the block's last
            // line outgrew the buffer and moved it.
            if capacity == buf.capacity() {
                assert_eq!(
                    (buf.as_ptr() as usize + a) % ALIGN,
                    got.len() % ALIGN,
                    "block {i}"
                );
            }
            got.extend_from_slice(&buf[a..b]);
        }
        assert_eq!(got.len(), text.len());
        assert!(got == text, "lines lost, doubled or moved");
    }

    #[test]
    fn a_blocks_last_line_is_finished_within_the_reserved_buffer() {
        // Lines of 1,000 bytes: the last line of every block runs past its end, and each is
        // finished by one tail read, which must fit the buffer reserved for a block.
        let line = format!("{}\n", "x".repeat(999));
        let text = line.repeat(3 * FILE_BLOCK / line.len() + 1);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.jsonl");
        std::fs::write(&path, &text).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let mut buf = Vec::new();
        let mut got = 0;
        for i in 0..text.len().div_ceil(FILE_BLOCK) {
            let (a, b) = block_lines(&file, text.len() as u64, i, &mut buf).unwrap();
            assert_eq!(buf.capacity(), BLOCK_RESERVE, "block {i} outgrew its buffer");
            got += b - a;
        }
        assert_eq!(got, text.len());
    }
}

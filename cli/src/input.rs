//! Inputs: files, directories (recursive), `.gz`, stdin. Each file's format is detected:
//! JSON lines are streamed line by line through the prefilter; anything else (CloudTrail S3
//! files, arrays, pretty-printed JSON) is read whole and split by the core.

use flate2::read::MultiGzDecoder;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use t1578_core::prefilter::Prefilter;
use t1578_core::source::{self, RecordError};
use t1578_core::{normalize, ComputeEvent};

/// Error positions kept for the summary.
const SAMPLES: usize = 5;

/// Counters for the end-of-run summary.
#[derive(Debug, Default)]
pub struct Stats {
    pub files: usize,
    pub records: u64,
    pub skipped_fast: u64,
    pub errors: BTreeMap<&'static str, u64>,
    pub error_samples: Vec<String>,
    pub unreadable: Vec<String>,
    pub bytes: u64,
}

impl Stats {
    fn error(&mut self, kind: &'static str, at: String, msg: &str) {
        *self.errors.entry(kind).or_default() += 1;
        if self.error_samples.len() < SAMPLES {
            self.error_samples
                .push(format!("{at}: {kind}: {}", crate::escape(msg, 160)));
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Expand arguments into the files to read, directories recursively and in name order.
pub fn expand_paths(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>, bad: &mut Vec<String>) {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                bad.push(format!("{}: {e}", dir.display()));
                return;
            }
        };
        entries.sort();
        for p in entries {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                walk(&p, out, bad);
            } else if [
                ".json",
                ".jsonl",
                ".ndjson",
                ".json.gz",
                ".jsonl.gz",
                ".ndjson.gz",
                ".log",
                ".log.gz",
            ]
            .iter()
            .any(|ext| name.ends_with(ext))
            {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" || p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            walk(p, &mut out, &mut bad);
        } else {
            bad.push(format!("{}: no such file or directory", p.display()));
        }
    }
    (out, bad)
}

struct Progress {
    total: u64,
    last: Instant,
    enabled: bool,
}

impl Progress {
    fn new(total: u64) -> Progress {
        Progress {
            total,
            last: Instant::now(),
            enabled: std::io::stderr().is_terminal() && total > 64 << 20,
        }
    }

    fn tick(&mut self, done: u64) {
        if self.enabled && self.last.elapsed() > Duration::from_millis(250) {
            self.last = Instant::now();
            eprint!(
                "\r{:>6} / {} MiB ({:>3}%)",
                done >> 20,
                self.total >> 20,
                done * 100 / self.total.max(1)
            );
        }
    }

    fn finish(&self) {
        if self.enabled {
            eprint!("\r{:60}\r", "");
        }
    }
}

/// Reads every input and hands each normalized event to `on_event`.
pub struct Reader<'a> {
    prefilter: Option<&'a Prefilter>,
    pub stats: Stats,
}

fn open(path: &Path) -> std::io::Result<Box<dyn Read>> {
    let raw: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    Ok(if path.to_string_lossy().ends_with(".gz") {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        raw
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
        let (files, bad) = expand_paths(paths);
        self.stats.unreadable.extend(bad);
        let total: u64 = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        let mut progress = Progress::new(total);
        for f in files {
            self.stats.files += 1;
            if let Err(reason) = self.read_file(&f, &keep, &mut on_item, &mut progress) {
                self.stats.unreadable.push(format!("{}: {reason}", f.display()));
            }
        }
        progress.finish();
    }

    fn read_file<T: Send>(
        &mut self,
        path: &Path,
        keep: &(impl Fn(ComputeEvent) -> Option<T> + Sync),
        on_item: &mut impl FnMut(T),
        progress: &mut Progress,
    ) -> Result<(), String> {
        let name = path.display().to_string();
        let mut reader = open(path).map_err(|e| e.to_string())?;
        let mut buf: Vec<u8> = Vec::with_capacity(BLOCK);
        let mut cut: Option<String> = None;
        let eof = fill_or_cut(&mut reader, &mut buf, FIRST_PEEK, &mut cut);
        let first_end = memchr::memchr(b'\n', &buf).unwrap_or(buf.len());
        let first_is_record = {
            let t = buf[..first_end].trim_ascii();
            t.starts_with(b"{")
                && (first_end < buf.len() || eof)
                && serde_json::from_slice::<serde_json::Value>(t).is_ok()
        };
        if first_is_record {
            let plain = path.as_os_str() != "-" && !path.to_string_lossy().ends_with(".gz");
            if let (true, Ok(file)) = (plain, std::fs::File::open(path)) {
                let len = file.metadata().map_err(|e| e.to_string())?.len();
                return self.read_parallel(&file, len, &name, keep, on_item, progress);
            }
            return self.stream_lines(reader, buf, (eof, cut), &name, keep, on_item, progress);
        }
        // A whole document (S3 log file, array, pretty-printed JSON): read it all and split.
        // A read error (a cut gzip stream) keeps what was read: the core salvages the whole
        // records before the cut and reports the truncation where it is.
        if !eof {
            if let Err(e) = reader.read_to_end(&mut buf) {
                cut = Some(e.to_string());
            }
        }
        self.stats.bytes += buf.len() as u64;
        let records = match source::split(&buf) {
            Ok(r) => r,
            Err(e) => {
                return Err(match cut {
                    Some(c) => format!("{e} (input cut short: {c})"),
                    None => e.to_string(),
                })
            }
        };
        for (pos, rec) in records {
            self.stats.records += 1;
            match rec.and_then(|v| normalize(v).map_err(RecordError::from)) {
                Ok(ev) => {
                    if let Some(item) = keep(ev) {
                        on_item(item);
                    }
                }
                Err(RecordError::Truncated(msg)) => {
                    self.stats.records -= 1;
                    let why = cut.as_deref().unwrap_or("the document ends early");
                    self.stats
                        .error("truncated", format!("{name} {pos}"), &format!("{msg} ({why})"));
                }
                Err(e) => self
                    .stats
                    .error(e.kind(), format!("{name} {pos}"), &e.to_string()),
            }
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
                Err((kind, line, msg)) => {
                    self.stats
                        .error(kind, format!("{name}:{}", line_base + line), &msg)
                }
            }
        }
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
                // The stream broke: the partial line after the last newline is the record the
                // cut went through. Every whole line before it is still scanned below.
                let whole = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
                let lost = buf.len() - whole;
                buf.truncate(whole);
                let at = line_no + memchr::memchr_iter(b'\n', &buf).count() + 1;
                self.stats.error(
                    "truncated",
                    format!("{name}:{at}"),
                    &format!("input cut short ({why}); {lost} bytes of an incomplete record dropped, every whole line before it read"),
                );
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
            progress.tick(self.stats.bytes);
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
        let blocks = len.div_ceil(BLOCK as u64).max(1) as usize;
        let prefilter = self.prefilter;
        let mut failure = None;
        std::thread::scope(|sc| {
            let mut rxs = Vec::new();
            for k in 0..WORKERS {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Scan<T>, u64), String>>(2);
                rxs.push(rx);
                sc.spawn(move || {
                    let mut buf = Vec::new();
                    for i in (k..blocks).step_by(WORKERS) {
                        let r = block_lines(file, len, i, &mut buf)
                            .map(|(a, b)| (scan(prefilter, keep, &buf[a..b]), (b - a) as u64));
                        if tx.send(r).is_err() {
                            return;
                        }
                    }
                });
            }
            let mut line_no = 0;
            for i in 0..blocks {
                match rxs[i % WORKERS].recv() {
                    Ok(Ok((sc, bytes))) => {
                        let lines = sc.newlines;
                        self.deliver(sc, line_no, name, on_item);
                        line_no += lines;
                        self.stats.bytes += bytes;
                        progress.tick(self.stats.bytes);
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
            // Dropping the receivers stops workers still sending after a failure.
            drop(rxs);
        });
        failure.map_or(Ok(()), Err)
    }
}

/// Worker threads of the parallel reader.
const WORKERS: usize = 2;

/// Read block `i` of a file into `buf` and return the bounds of the lines that *start* in it:
/// the partial line at the block's head belongs to the previous block, and its last line is
/// read on past the block's end until it ends. `buf` is reused from block to block and only
/// grows, so it is never zero-filled again.
fn block_lines(
    file: &std::fs::File,
    len: u64,
    i: usize,
    buf: &mut Vec<u8>,
) -> Result<(usize, usize), String> {
    use std::os::unix::fs::FileExt;
    let read_at = |buf: &mut Vec<u8>, from: usize, at: u64, n: usize| -> Result<usize, String> {
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
    // Every block but the first is read from the byte before it: when that byte is a newline,
    // the line starting exactly at the block's start is this block's.
    let start = (i as u64 * BLOCK as u64).saturating_sub(1);
    let end = ((i as u64 + 1) * BLOCK as u64).min(len);
    let mut filled = read_at(buf, 0, start, (end - start) as usize)?;
    let begin = if i == 0 {
        0
    } else {
        match memchr::memchr(b'\n', &buf[..filled]) {
            Some(p) => p + 1,
            None => return Ok((0, 0)),
        }
    };
    if begin >= filled {
        return Ok((0, 0));
    }
    // Finish the last line: read on until a newline or the end of the file.
    let mut at = end;
    while buf[filled - 1] != b'\n' && at < len {
        let got = read_at(buf, filled, at, 64 << 10)?;
        if got == 0 {
            break;
        }
        at += got as u64;
        if let Some(p) = memchr::memchr(b'\n', &buf[filled..filled + got]) {
            return Ok((begin, filled + p + 1));
        }
        filled += got;
    }
    Ok((begin, filled))
}

/// Bytes read before deciding a file's format.
const FIRST_PEEK: usize = 64 << 10;
/// Block size of the JSON-lines reader.
const BLOCK: usize = 1 << 20;
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

/// A kept item, or (error kind, 1-based line within the scanned part, message).
type Outcome<T> = Result<T, (&'static str, usize, String)>;

struct Scan<T> {
    records: u64,
    skipped: u64,
    /// Newlines seen: the part's line count, to number the next part's lines.
    newlines: usize,
    out: Vec<Outcome<T>>,
}

impl<T> Default for Scan<T> {
    fn default() -> Self {
        Scan {
            records: 0,
            skipped: 0,
            newlines: 0,
            out: Vec::new(),
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
        let line = part[start..end].trim_ascii();
        start = end + 1;
        n += 1;
        if line.is_empty() {
            continue;
        }
        if prefilter.is_some_and(|p| !p.may_match(line)) {
            sc.records += 1;
            sc.skipped += 1;
            continue;
        }
        if let Some(r) = t1578_core::normalize::cloudtrail_line(line) {
            sc.records += 1;
            match r {
                Ok(ev) => sc.out.extend(keep(ev).map(Ok)),
                Err(e) => sc.out.push(Err((e.kind(), n, e.to_string()))),
            }
            continue;
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
                sc.out.push(Err(("invalid_json", n, e.to_string())));
                continue;
            }
        };
        let mut recs = Vec::new();
        source::expand(value, &mut recs);
        for v in recs {
            sc.records += 1;
            match normalize(v) {
                Ok(ev) => sc.out.extend(keep(ev).map(Ok)),
                Err(e) => sc.out.push(Err((e.kind(), n, e.to_string()))),
            }
        }
    }
    sc
}

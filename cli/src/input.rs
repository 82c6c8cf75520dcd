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
                .push(format!("{at}: {kind}: {}", crate::output::escape(msg, 160)));
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

    pub fn read_all(&mut self, paths: &[PathBuf], mut on_event: impl FnMut(ComputeEvent)) {
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
            if let Err(reason) = self.read_file(&f, &mut on_event, &mut progress) {
                self.stats.unreadable.push(format!("{}: {reason}", f.display()));
            }
        }
        progress.finish();
    }

    fn read_file(
        &mut self,
        path: &Path,
        on_event: &mut impl FnMut(ComputeEvent),
        progress: &mut Progress,
    ) -> Result<(), String> {
        let name = path.display().to_string();
        let mut reader = open(path).map_err(|e| e.to_string())?;
        let mut buf: Vec<u8> = Vec::with_capacity(BLOCK);
        let eof = fill(&mut reader, &mut buf, FIRST_PEEK)?;
        let first_end = memchr::memchr(b'\n', &buf).unwrap_or(buf.len());
        let first_is_record = {
            let t = buf[..first_end].trim_ascii();
            t.starts_with(b"{")
                && (first_end < buf.len() || eof)
                && serde_json::from_slice::<serde_json::Value>(t).is_ok()
        };
        if first_is_record {
            return self.stream_lines(reader, buf, eof, &name, on_event, progress);
        }
        // A whole document (S3 log file, array, pretty-printed JSON): read it all and split.
        reader.read_to_end(&mut buf).map_err(|e| e.to_string())?;
        self.stats.bytes += buf.len() as u64;
        let records = source::split(&buf).map_err(|e| e.to_string())?;
        for (pos, rec) in records {
            self.stats.records += 1;
            match rec.and_then(|v| normalize(v).map_err(RecordError::from)) {
                Ok(ev) => on_event(ev),
                Err(e) => self
                    .stats
                    .error(e.kind(), format!("{name} {pos}"), &e.to_string()),
            }
        }
        Ok(())
    }

    /// JSON lines, block by block: each block is cut at its last newline and scanned in place
    /// by two threads, and the results are delivered in input order.
    fn stream_lines(
        &mut self,
        mut reader: Box<dyn Read>,
        mut buf: Vec<u8>,
        mut eof: bool,
        name: &str,
        on_event: &mut impl FnMut(ComputeEvent),
        progress: &mut Progress,
    ) -> Result<(), String> {
        let mut line_no = 0usize;
        loop {
            if !eof {
                eof = fill(&mut reader, &mut buf, BLOCK)?;
            }
            let cut = if eof {
                buf.len()
            } else {
                match memchr::memrchr(b'\n', &buf) {
                    Some(i) => i + 1,
                    // One line longer than the block: read on until it ends.
                    None => {
                        let target = buf.len() * 2;
                        eof = fill(&mut reader, &mut buf, target)?;
                        continue;
                    }
                }
            };
            let block = &buf[..cut];
            let scans = match block.len() >= PARALLEL_MIN {
                true => {
                    let mid = memchr::memchr(b'\n', &block[block.len() / 2..])
                        .map_or(block.len(), |i| block.len() / 2 + i + 1);
                    let (a, b) = block.split_at(mid);
                    let b_first = line_no + memchr::memchr_iter(b'\n', a).count();
                    let p = self.prefilter;
                    std::thread::scope(|sc| {
                        let hb = sc.spawn(move || scan(p, b, b_first, name));
                        let ra = scan(p, a, line_no, name);
                        vec![ra, hb.join().unwrap_or_default()]
                    })
                }
                false => vec![scan(self.prefilter, block, line_no, name)],
            };
            line_no += memchr::memchr_iter(b'\n', block).count();
            self.stats.bytes += cut as u64;
            for sc in scans {
                self.stats.records += sc.records;
                self.stats.skipped_fast += sc.skipped;
                for out in sc.out {
                    match out {
                        Ok(ev) => on_event(ev),
                        Err((kind, at, msg)) => self.stats.error(kind, at, &msg),
                    }
                }
            }
            progress.tick(self.stats.bytes);
            buf.drain(..cut);
            if eof && buf.is_empty() {
                return Ok(());
            }
        }
    }
}

/// Bytes read before deciding a file's format.
const FIRST_PEEK: usize = 64 << 10;
/// Block size of the JSON-lines reader.
const BLOCK: usize = 2 << 20;
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

type Outcome = Result<ComputeEvent, (&'static str, String, String)>;

#[derive(Default)]
struct Scan {
    records: u64,
    skipped: u64,
    out: Vec<Outcome>,
}

/// Scan the lines of one part of a block: prefilter, then parse and normalize what may match.
fn scan(prefilter: Option<&Prefilter>, part: &[u8], first_line: usize, name: &str) -> Scan {
    let mut sc = Scan::default();
    let mut start = 0;
    let mut n = first_line;
    let ends = memchr::memchr_iter(b'\n', part).chain(std::iter::once(part.len()));
    for end in ends {
        if start > part.len() {
            break;
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
        let value: serde_json::Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                sc.records += 1;
                sc.out
                    .push(Err(("invalid_json", format!("{name}:{n}"), e.to_string())));
                continue;
            }
        };
        let mut recs = Vec::new();
        source::expand(value, &mut recs);
        for v in recs {
            sc.records += 1;
            sc.out
                .push(normalize(v).map_err(|e| (e.kind(), format!("{name}:{n}"), e.to_string())));
        }
    }
    sc
}

//! Inputs: files, directories (recursive), `.gz`, stdin. Each file's format is detected:
//! JSON lines are streamed line by line through the prefilter; anything else (CloudTrail S3
//! files, arrays, pretty-printed JSON) is read whole and split by the core.

use flate2::read::MultiGzDecoder;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, IsTerminal, Read};
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
        let mut reader = BufReader::with_capacity(1 << 20, open(path).map_err(|e| e.to_string())?);
        let mut first = Vec::new();
        reader.read_until(b'\n', &mut first).map_err(|e| e.to_string())?;
        let first_is_record = {
            let t = first.trim_ascii();
            t.starts_with(b"{") && serde_json::from_slice::<serde_json::Value>(t).is_ok()
        };
        if first_is_record {
            // JSON lines (or a single-line document): stream.
            let mut line = first;
            let mut n = 0usize;
            loop {
                n += 1;
                self.stats.bytes += line.len() as u64;
                self.line(&line, &name, n, on_event);
                progress.tick(self.stats.bytes);
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(format!("read error after line {n}: {e}")),
                }
            }
        }
        let mut all = first;
        reader.read_to_end(&mut all).map_err(|e| e.to_string())?;
        self.stats.bytes += all.len() as u64;
        let records = source::split(&all).map_err(|e| e.to_string())?;
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

    fn line(&mut self, line: &[u8], name: &str, n: usize, on_event: &mut impl FnMut(ComputeEvent)) {
        let t = line.trim_ascii();
        if t.is_empty() {
            return;
        }
        if let Some(p) = self.prefilter {
            if !p.may_match(t) {
                self.stats.records += 1;
                self.stats.skipped_fast += 1;
                return;
            }
        }
        let value: serde_json::Value = match serde_json::from_slice(t) {
            Ok(v) => v,
            Err(e) => {
                self.stats.records += 1;
                self.stats
                    .error("invalid_json", format!("{name}:{n}"), &e.to_string());
                return;
            }
        };
        let mut recs = Vec::new();
        source::expand(value, &mut recs);
        for v in recs {
            self.stats.records += 1;
            match normalize(v) {
                Ok(ev) => on_event(ev),
                Err(e) => self.stats.error(e.kind(), format!("{name}:{n}"), &e.to_string()),
            }
        }
    }
}

//! What both clouds share: the random source, time and address habits, the time-ordered sink
//! and the ground-truth document.

use super::Options;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufWriter, Write};
use std::path::Path;

pub const DAY_MS: i64 = 86_400_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const MIN_MS: i64 = 60_000;
/// Monday 2026-11-02 00:00 UTC: day 0 of every workload.
pub const START_MS: i64 = 1_793_577_600_000;
/// Attacks start on this day (0-based) or later; alerts are measured from it.
pub const WARMUP_DAYS: u32 = 14;
/// Gzip: a 21-day, 400-principal workload is 0.5 to 1.2 GB of JSON, a tenth of that compressed.
pub const EVENTS_FILE: &str = "events.jsonl.gz";
pub const TRUTH_FILE: &str = "truth.json";

pub fn day_start(day: u32) -> i64 {
    START_MS + day as i64 * DAY_MS
}

/// Day 0 is a Monday.
pub fn weekday(day: u32) -> bool {
    day % 7 < 5
}

/// splitmix64: small, fast, and every seed gives a full-period stream.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next();
        r
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Uniform in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64) as i64
    }
    pub fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    /// Pick by weight.
    pub fn weighted<'a, T>(&mut self, xs: &'a [(T, u32)]) -> &'a T {
        let total: u64 = xs.iter().map(|(_, w)| *w as u64).sum();
        let mut k = self.below(total);
        for (x, w) in xs {
            if k < *w as u64 {
                return x;
            }
            k -= *w as u64;
        }
        &xs[xs.len() - 1].0
    }
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }
    pub fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(n);
        s
    }
    /// Upper-case letters and digits, as AWS access key and principal ids are.
    pub fn ident(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        (0..n).map(|_| A[self.below(32) as usize] as char).collect()
    }
    /// A day's count around `mean`: most days within +-40 %, one in twenty a busy day.
    pub fn daily(&mut self, mean: f64) -> u32 {
        let mut f = 0.6 + 0.8 * self.f();
        if self.chance(0.05) {
            f = 1.5 + 0.5 * self.f();
        }
        let x = mean * f;
        let base = x.floor();
        (base + if self.chance(x - base) { 1.0 } else { 0.0 }) as u32
    }
    /// Multiply a base weight by a seed-dependent factor in 0.6..1.4.
    pub fn jitter(&mut self, w: f64) -> f64 {
        w * (0.6 + 0.8 * self.f())
    }
}

/// Local working hours `[from, to)` in a time zone `tz` hours from UTC; `to` may pass 24.
#[derive(Clone, Copy, Debug)]
pub struct Hours {
    pub tz: i64,
    pub from: i64,
    pub to: i64,
}

impl Hours {
    pub const ALWAYS: Hours = Hours {
        tz: 0,
        from: 0,
        to: 24,
    };
    pub fn time(&self, r: &mut Rng, day: u32) -> i64 {
        let span = (self.to - self.from).max(1) * HOUR_MS;
        day_start(day) + (self.from - self.tz) * HOUR_MS + r.range(0, span)
    }
    /// A fixed local time of day (a cron), with a few seconds of start-up jitter.
    pub fn at(&self, r: &mut Rng, day: u32, hour: i64, minute: i64) -> i64 {
        day_start(day) + (hour - self.tz) * HOUR_MS + minute * MIN_MS + r.range(0, 40_000)
    }
}

/// A /24 network, as the first three octets.
pub type Net = [u8; 3];

/// First octets of ISP, office and hotel address space (no private, reserved or multicast).
const ISP_OCTETS: [u8; 36] = [
    24, 31, 37, 46, 62, 66, 68, 71, 73, 76, 77, 78, 81, 82, 84, 85, 86, 88, 89, 90, 93, 94, 95, 98, 108, 109,
    151, 173, 176, 178, 188, 194, 195, 212, 213, 217,
];
/// Hosting and VPS space an intruder rents or proxies through.
const HOSTING_OCTETS: [u8; 12] = [5, 23, 45, 64, 91, 103, 139, 146, 154, 167, 185, 193];
pub const AWS_OCTETS: [u8; 7] = [3, 18, 34, 44, 52, 54, 35];
pub const AZURE_OCTETS: [u8; 8] = [4, 13, 20, 40, 51, 52, 104, 137];

/// Hands out /24 networks no one else in the workload uses, so "never used" holds by
/// construction.
pub struct Nets {
    used: HashSet<Net>,
}

impl Nets {
    pub fn new() -> Nets {
        Nets { used: HashSet::new() }
    }
    pub fn fresh(&mut self, r: &mut Rng, octets: &[u8]) -> Net {
        loop {
            let n = [*r.pick(octets), r.range(1, 255) as u8, r.range(0, 256) as u8];
            if self.used.insert(n) {
                return n;
            }
        }
    }
    pub fn isp(&mut self, r: &mut Rng) -> Net {
        self.fresh(r, &ISP_OCTETS)
    }
    pub fn hosting(&mut self, r: &mut Rng) -> Net {
        self.fresh(r, &HOSTING_OCTETS)
    }
}

pub fn host(r: &mut Rng, n: &Net) -> String {
    format!("{}.{}.{}.{}", n[0], n[1], n[2], r.range(2, 254))
}

/// Records gathered until their time can no longer be preceded by a later one, then written
/// in event-time order (ties in generation order).
pub struct Sink {
    pending: Vec<(i64, u64, String)>,
    seq: u64,
    out: BufWriter<GzEncoder<std::fs::File>>,
    pub records: u64,
}

impl Sink {
    pub fn create(path: &Path) -> anyhow::Result<Sink> {
        let f = std::fs::File::create(path).map_err(|e| anyhow::anyhow!("create {}: {e}", path.display()))?;
        Ok(Sink {
            pending: Vec::new(),
            seq: 0,
            out: BufWriter::with_capacity(1 << 20, GzEncoder::new(f, Compression::fast())),
            records: 0,
        })
    }
    pub fn push(&mut self, t: i64, line: String) {
        self.pending.push((t.max(START_MS), self.seq, line));
        self.seq += 1;
    }
    pub fn mark(&self) -> usize {
        self.pending.len()
    }
    pub fn since(&self, mark: usize) -> &[(i64, u64, String)] {
        &self.pending[mark..]
    }
    /// Write every record earlier than `t`.
    pub fn flush_before(&mut self, t: i64) -> std::io::Result<()> {
        self.pending.sort_unstable_by_key(|(t, s, _)| (*t, *s));
        let n = self.pending.partition_point(|(rt, _, _)| *rt < t);
        for (_, _, line) in self.pending.drain(..n) {
            self.out.write_all(line.as_bytes())?;
            self.out.write_all(b"\n")?;
            self.records += 1;
        }
        Ok(())
    }
    pub fn finish(mut self) -> std::io::Result<u64> {
        self.flush_before(i64::MAX)?;
        self.out.into_inner().map_err(|e| e.into_error())?.finish()?;
        Ok(self.records)
    }
}

#[derive(Serialize)]
pub struct Params {
    pub cloud: &'static str,
    pub seed: u64,
    pub days: u32,
    pub principals: u32,
    pub attacks_per_scenario: u32,
    pub warmup_days: u32,
    pub start_ms: i64,
    pub day_ms: i64,
    pub measure_from_ms: i64,
    pub measure_to_ms: i64,
}

impl Params {
    pub fn new(o: &Options, cloud: &'static str) -> Params {
        Params {
            cloud,
            seed: o.seed,
            days: o.days,
            principals: o.principals,
            attacks_per_scenario: o.attacks,
            warmup_days: WARMUP_DAYS,
            start_ms: START_MS,
            day_ms: DAY_MS,
            measure_from_ms: day_start(WARMUP_DAYS),
            measure_to_ms: day_start(o.days),
        }
    }
}

/// One principal as the detector keys it (see `key_forms` in the truth file).
#[derive(Serialize, Clone)]
pub struct PrincipalTruth {
    pub key: String,
    pub account: String,
    pub role: &'static str,
    pub name: String,
    /// False for principals that exist only to attack (a brand-new principal).
    pub benign: bool,
    pub active_days: u32,
    pub records: u64,
}

#[derive(Serialize)]
pub struct AttackTruth {
    pub id: String,
    pub scenario: &'static str,
    pub cloud: &'static str,
    pub principal: String,
    pub account: String,
    pub principal_role: &'static str,
    pub start_ms: i64,
    pub end_ms: i64,
    pub description: String,
    pub source_ips: Vec<String>,
    /// Ids as the detector reports them in `finding_info.related_events[].uid` and
    /// `evidences[].api.request.uid`: CloudTrail's `eventID`; for the Activity Log export (which
    /// has no event id) the id the normalizer derives, computed here by the same code.
    pub event_ids: Vec<String>,
}

#[derive(Serialize)]
pub struct Truth {
    pub format: &'static str,
    pub params: Params,
    pub events: &'static str,
    pub records: u64,
    /// Records of in-scope-looking compute changes (successful or not); the rest is noise.
    pub compute_records: u64,
    pub key_forms: BTreeMap<&'static str, &'static str>,
    pub scenarios: Vec<&'static str>,
    pub principals: Vec<PrincipalTruth>,
    pub attacks: Vec<AttackTruth>,
}

/// The attack's records written since `mark`: their detector event ids, times and addresses.
pub fn attack_records(sink: &Sink, mark: usize) -> (Vec<String>, i64, i64) {
    let mut ids = Vec::new();
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for (t, _, line) in sink.since(mark) {
        let v: serde_json::Value = serde_json::from_str(line).expect("generated JSON");
        if let Ok(ev) = t1578_core::normalize(v) {
            ids.push(ev.event_id);
        }
        lo = lo.min(*t);
        hi = hi.max(*t);
    }
    (ids, lo, hi)
}

/// Role counts for a population of `n`: base weights jittered by the seed, each at least its
/// minimum, the largest role absorbing the rounding.
pub fn allocate(r: &mut Rng, n: u32, roles: &[(f64, u32)]) -> Vec<u32> {
    let w: Vec<f64> = roles.iter().map(|(w, _)| r.jitter(*w)).collect();
    let total: f64 = w.iter().sum();
    let mut counts: Vec<u32> = roles
        .iter()
        .zip(&w)
        .map(|((_, min), w)| ((w / total * n as f64).round() as u32).max(*min))
        .collect();
    let biggest = (0..counts.len()).max_by_key(|&i| counts[i]).unwrap_or(0);
    let sum: u32 = counts.iter().sum();
    if sum > n {
        counts[biggest] = counts[biggest].saturating_sub(sum - n).max(roles[biggest].1);
    } else {
        counts[biggest] += n - sum;
    }
    counts
}

//! The subcommands.

use crate::args::{
    Cli, CloudArg, Command, Format, GenerateWorkload, OwnAccountsArg, ProfileArg, ReplayArgs, REORDER,
};
use crate::held::{Held, Ordered};
use crate::input::{Reader, Stats, SAMPLES};
use crate::output::{escape, print_guide, print_rows, AlertPrinter, QueryRow};
use crate::store::{CliStore, FileStore};
use anyhow::{anyhow, Context};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use t1578_core::alert::rfc3339;
use t1578_core::aws_ranges::AwsRanges;
use t1578_core::delivery::Tally;
use t1578_core::engine::Scored;
use t1578_core::engine::{BaselineRule, Engine, ObservedSince, Profile, ProfileName};
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::{process_scored, PipelineOptions};
use t1578_core::profile::parse_day_or_time_ms;
use t1578_core::settings::parse_duration_ms;
use t1578_core::tuning::Tuning;
use t1578_core::window::WindowState;
use t1578_core::{eventpattern, sigma, Alert, Catalog, ComputeEvent};

/// Events handed to the pipeline at a time, on the in-memory store. Small, to hold fewer
/// scored events at once: about 2 MB less peak memory than 1,024 in every bench run. On a
/// contended machine it was faster too, since the readers wait while the main thread works
/// through a batch; on an idle one it was not, and it took 3-11 % more CPU (BENCHMARKS.md).
/// A replay has about one event per window in a batch at either size, so windows are not
/// loaded more often.
const BATCH: usize = 64;

/// Events handed to the pipeline at a time on a `--state` database, where every window saved
/// is a transaction of its own: a busy principal's events are saved together, as 1,024 at a
/// time did (a replay of 200,000 look-alike records took 3.0 s with it, 4.1 s at 64).
const FILE_BATCH: usize = 1_024;

/// Events handed to the pipeline between two scans for keys that can no longer change (each
/// scan walks every key seen): as often as batches of 1,024 were.
const PRUNE_EVERY: usize = 1_024;

/// Bytes of output gathered per write to stdout.
const OUT_BUFFER: usize = 64 << 10;

/// Exit code when an input could not be read at all (the rest was still processed).
const EXIT_UNREADABLE: u8 = 2;
/// Some state keys failed: their records were not processed.
const EXIT_STATE: u8 = 3;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Replay(args) => replay_command(args),
        Command::Query {
            profile,
            config,
            until,
            window,
            format,
            paths,
        } => query(
            &engine(profile, &window, config.as_deref())?,
            until.as_deref(),
            format,
            &paths,
        ),
        Command::Show {
            id,
            profile,
            window,
            config,
            observed_since,
            own_accounts,
            aws_ip_ranges,
            format,
            paths,
        } => {
            let observed = observed_arg(observed_since.as_deref())?;
            let own = layout_accounts(own_accounts, &paths);
            let ranges = aws_ranges(aws_ip_ranges.as_deref())?;
            let engine = observed
                .apply(engine(profile, &window, config.as_deref())?)?
                .with_own_accounts(&own)
                .with_aws_ranges(ranges);
            show(engine, observed == Observed::Auto, &id, format, &paths)
        }
        Command::Catalog { format, config } => catalog(format, config.as_deref()),
        Command::EventPattern => {
            let patterns = eventpattern::event_patterns(&Catalog::builtin()?);
            println!("{}", serde_json::to_string_pretty(&patterns)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sigma { out } => write_sigma(&out),
        Command::Generate {
            workload,
            cloud,
            records,
            seed,
            out,
        } => generate(workload, cloud, records, seed, out),
    }
}

/// `replay`: one engine, or two for `--compare-config`.
fn replay_command(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let ReplayArgs {
        profile,
        window,
        config,
        compare_config,
        reorder,
        state,
        format,
        since,
        until,
        observed_since,
        own_accounts,
        aws_ip_ranges,
        paths,
    } = args;
    let observed = observed_arg(observed_since.as_deref())?;
    let own = layout_accounts(own_accounts, &paths);
    let ranges = aws_ranges(aws_ip_ranges.as_deref())?;
    let build = |config: Option<&Path>| {
        Ok::<_, anyhow::Error>(
            observed
                .apply(engine(profile, &window, config)?)?
                .with_own_accounts(&own)
                .with_aws_ranges(ranges.clone()),
        )
    };
    let span = (
        time_arg("--since", since.as_deref())?,
        time_arg("--until", until.as_deref())?,
    );
    let engine = build(config.as_deref())?;
    match compare_config {
        Some(b) => compare(
            (engine, build(Some(&b))?),
            observed == Observed::Auto,
            reorder,
            format,
            (&paths, span),
        ),
        None => replay(
            engine,
            observed == Observed::Auto,
            reorder,
            state,
            format,
            (&paths, span),
        ),
    }
}

/// `generate`: a multi-day workload with its ground truth, or the benchmark's records.
fn generate(
    workload: Option<GenerateWorkload>,
    cloud: Option<CloudArg>,
    records: u64,
    seed: u64,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    if let Some(GenerateWorkload::Workload(options)) = workload {
        return crate::workload::run(&options);
    }
    let (Some(cloud), Some(out)) = (cloud, out) else {
        return Err(anyhow!("generate: CLOUD and --out are required"));
    };
    crate::generate::generate(cloud, records, seed, &out)
}

/// Writes the rules under `out`, replacing generated files of earlier runs so a removed row
/// leaves no stale rule behind.
fn write_sigma(out: &Path) -> anyhow::Result<ExitCode> {
    let files = sigma::sigma_rules(&Catalog::builtin()?);
    for sub in ["aws", "azure", "correlation"] {
        let dir = out.join(sub);
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir)? {
                let p = f?.path();
                if p.extension().is_some_and(|x| x == "yml") {
                    std::fs::remove_file(&p).with_context(|| format!("{}", p.display()))?;
                }
            }
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
    }
    for f in &files {
        let p = out.join(&f.path);
        std::fs::write(&p, &f.text).with_context(|| format!("{}", p.display()))?;
    }
    eprintln!("t1578: {} Sigma rules written to {}", files.len(), out.display());
    Ok(ExitCode::SUCCESS)
}

/// A time bound: RFC 3339, or a bare date for midnight UTC.
fn time_arg(flag: &str, value: Option<&str>) -> anyhow::Result<Option<i64>> {
    let Some(v) = value else { return Ok(None) };
    parse_day_or_time_ms(v)
        .map(Some)
        .ok_or_else(|| anyhow!("{flag} {v:?}: not a time (expected RFC 3339 or YYYY-MM-DD)"))
}

/// `--observed-since`: when the detector started seeing the accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Observed {
    /// Not given: learn from each account's first event when the replay turns out to be a
    /// [`Backtest`], else none (see [`run_replay`]).
    Auto,
    /// `none`: principals without history are new (or the tuning document says).
    Unset,
    /// A time (ms).
    At(i64),
    /// The replay's first event.
    First,
}

impl Observed {
    fn apply(self, engine: Engine) -> anyhow::Result<Engine> {
        Ok(engine.observing(match self {
            Observed::At(ms) => ObservedSince::At(ms),
            Observed::First => ObservedSince::FirstEvent,
            Observed::Unset | Observed::Auto => ObservedSince::Unset,
        }))
    }
}

/// The own accounts the inputs' key layout names (`--own-accounts layout`), said on stderr by
/// name: whoever can write into the archive can add an account folder, so the analyst sees
/// which accounts a share to is not a critical.
fn layout_accounts(arg: OwnAccountsArg, paths: &[PathBuf]) -> Vec<String> {
    if arg == OwnAccountsArg::None {
        return Vec::new();
    }
    let found = crate::layout::own_accounts(paths, crate::remote::search_layout);
    let own = t1578_core::own::OwnAccounts::of(&found.ids);
    if !own.is_empty() {
        const SHOWN: usize = 12;
        let ids = own.ids();
        let mut names = ids[..ids.len().min(SHOWN)].join(", ");
        if ids.len() > SHOWN {
            names.push_str(&format!(" and {} more", ids.len() - SHOWN));
        }
        eprintln!(
            "t1578: {} accounts, organizations or subscriptions named by the inputs' key layout \
             are the organization's own ({names}): a share to one is evidence, not a critical; \
             --own-accounts none judges them as any other (README, Tuning)",
            own.len()
        );
    }
    if found.exhausted {
        eprintln!("t1578: the search of the inputs' key layout stopped after its folder listings: own accounts beyond them are judged as any other");
    }
    own.ids().to_vec()
}

/// `--aws-ip-ranges`: AWS's published ranges, read once, or none.
fn aws_ranges(path: Option<&Path>) -> anyhow::Result<Option<Arc<AwsRanges>>> {
    let Some(path) = path else { return Ok(None) };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--aws-ip-ranges {}", path.display()))?;
    let ranges = AwsRanges::parse(&text).with_context(|| format!("--aws-ip-ranges {}", path.display()))?;
    let (v4, v6) = ranges.intervals();
    eprintln!(
        "t1578: AWS's ranges from {}: {v4} IPv4 and {v6} IPv6 intervals; an instance's credentials \
         used outside them alert",
        path.display()
    );
    Ok(Some(Arc::new(ranges)))
}

/// The tuning document's parser (`first`, a day or an RFC 3339 time), plus `none`.
fn observed_arg(value: Option<&str>) -> anyhow::Result<Observed> {
    let Some(v) = value else { return Ok(Observed::Auto) };
    if v == "none" {
        return Ok(Observed::Unset);
    }
    match t1578_core::tuning::observed_since(v) {
        Ok(ObservedSince::At(ms)) => Ok(Observed::At(ms)),
        Ok(ObservedSince::FirstEvent) => Ok(Observed::First),
        Ok(ObservedSince::Unset) => Ok(Observed::Auto),
        Err(reason) => Err(anyhow!(
            "--observed-since {v:?}: {reason} (or `none` for no start)"
        )),
    }
}

/// Events in scope of the inputs' time bounds (inclusive, ms).
type Span = (Option<i64>, Option<i64>);

fn tuning(catalog: &Catalog, config: Option<&Path>) -> anyhow::Result<Tuning> {
    let Some(path) = config else {
        return Ok(Tuning::default());
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("--config {}", path.display()))?;
    Ok(Tuning::from_toml(&text, &path.display().to_string(), catalog)?)
}

fn engine(profile: ProfileArg, window: &str, config: Option<&Path>) -> anyhow::Result<Engine> {
    let name = match profile {
        ProfileArg::Default => ProfileName::Default,
        ProfileArg::SeedKql => ProfileName::SeedKql,
    };
    let mut p = Profile::named(name);
    p.window_ms = parse_duration_ms(window).map_err(|e| anyhow!("--window: {e}"))?;
    let catalog = Catalog::builtin()?;
    let tuning = tuning(&catalog, config)?;
    Ok(Engine::with_tuning(catalog, p, tuning))
}

/// What a replay saw, for the summary.
struct Counts {
    in_scope: u64,
    alerts: u64,
    shadow: u64,
    /// Alerts at the seed's thresholds for principals first seen in the replay's first
    /// `min_history_days`, with no `observed_since`: a cold start's, and how many.
    cold_start: (u32, u64),
    /// The default scope's `min_history_days`, when the replay chose to learn from each
    /// account's first event (a [`Backtest`]): the summary says so, since a few days' backtest
    /// then prints little but criticals and protection changes.
    learned: Option<u32>,
    /// How many principals a replay with events on [`AUTO_LEARN_DAYS`] days or more came from,
    /// when they were too few for a [`Backtest`]: the summary says it judged them without a
    /// start, as an investigation of them.
    few_principals: Option<usize>,
    /// State keys that failed.
    failures: u64,
    /// The records of failed state keys, settled by the edge contract: Retry (re-run the
    /// command) or Park.
    outcomes: Tally,
}

impl Counts {
    fn new() -> Counts {
        Counts {
            in_scope: 0,
            alerts: 0,
            shadow: 0,
            cold_start: (0, 0),
            learned: None,
            few_principals: None,
            failures: 0,
            outcomes: Tally::new(SAMPLES),
        }
    }
}

/// Read inputs, score each event once, feed the in-scope ones in event-time order to `batch`.
/// `batch` also gets the keys whose state outlived the engine's retention (the window, or the
/// unfamiliar-address memory) plus one window: no later event of a time-ordered input can read
/// them, so an in-memory store may drop them. Events go to `batch` `batch_size` at a time.
/// `reorder` events are held back to put a roughly ordered input into event-time order:
/// memory stays bounded whatever the input size, and an event later than that is still
/// handled by its window.
fn drive(
    engine: &Engine,
    paths: &[PathBuf],
    (reorder, batch_size): (usize, usize),
    span: Span,
    mut batch: impl FnMut(Vec<(usize, Scored)>, &Expired) -> anyhow::Result<()>,
) -> anyhow::Result<(Stats, u64, Option<i64>)> {
    let prefilter = engine.prefilter().within(span.0, span.1);
    let mut reader = Reader::new(Some(&prefilter));
    // Sized once: it holds `reorder + 1` events at most, and doubling from 2,048 reserved
    // room for 4,096 of them (2.3 MB of a replay's heap at its peak, in heaptrack).
    let mut heap: BinaryHeap<Reverse<Ordered>> =
        BinaryHeap::with_capacity(reorder.saturating_add(1).min(1 << 20));
    let mut pending: Vec<(usize, Scored)> = Vec::with_capacity(batch_size);
    let hasher = std::hash::RandomState::new();
    let mut last_seen = LastSeen::new(
        hasher.clone(),
        engine.retention_ms().saturating_add(engine.profile.window_ms),
    );
    let mut seq = 0u64;
    let mut in_scope = 0u64;
    let mut latest: Option<i64> = None;
    let mut err: Option<anyhow::Error> = None;
    let mut flush = |pending: &mut Vec<(usize, Scored)>, last_seen: &mut LastSeen| {
        let expired = last_seen.handed(pending);
        batch(
            std::mem::replace(pending, Vec::with_capacity(batch_size)),
            &expired,
        )
    };
    // Scoring runs on the reader threads: it is per-event work, and an event that does not
    // count is dropped where it was parsed.
    let (since, until) = span;
    let keep = |ev: ComputeEvent| {
        if until.is_some_and(|u| ev.time_ms > u) || since.is_some_and(|s| ev.time_ms < s) {
            return None;
        }
        engine.score_owned(ev).ok().map(|s| Held::new(s, &hasher))
    };
    let on_item = |held: Held| {
        let time_ms = held.time_ms;
        in_scope += 1;
        latest = Some(latest.map_or(time_ms, |l: i64| l.max(time_ms)));
        last_seen.see(held.key_hash, time_ms);
        seq += 1;
        heap.push(Reverse(Ordered(held, seq)));
        if heap.len() > reorder {
            if let Some(Reverse(Ordered(s, i))) = heap.pop() {
                match s.into_scored() {
                    Ok(s) => pending.push((i as usize, s)),
                    Err(e) => {
                        err.get_or_insert(e);
                    }
                }
            }
            if pending.len() >= batch_size && err.is_none() {
                if let Err(e) = flush(&mut pending, &mut last_seen) {
                    err = Some(e);
                }
                pending.clear();
            }
        }
    };
    crate::remote::read_inputs(&mut reader, paths, span, keep, on_item);
    if let Some(e) = err {
        return Err(e);
    }
    while let Some(Reverse(Ordered(s, i))) = heap.pop() {
        pending.push((i as usize, s.into_scored()?));
        if pending.len() >= batch_size {
            flush(&mut pending, &mut last_seen)?;
        }
    }
    if !pending.is_empty() {
        flush(&mut pending, &mut last_seen)?;
    }
    Ok((reader.stats, in_scope, latest))
}

/// The last time [`drive`] saw each key, by the key's hash (the store holds the keys already),
/// and which keys can no longer change.
struct LastSeen {
    times: HashMap<u64, i64>,
    hasher: std::hash::RandomState,
    /// The engine's retention plus one window.
    horizon: i64,
    /// Newest event handed to the pipeline. Pruning is measured from here, not from the read
    /// frontier: the reorder buffer can run days ahead of what the windows have seen.
    processed: i64,
    /// Events handed over since the last scan.
    unpruned: usize,
}

impl LastSeen {
    fn new(hasher: std::hash::RandomState, horizon: i64) -> LastSeen {
        LastSeen {
            times: HashMap::new(),
            hasher,
            horizon,
            processed: i64::MIN,
            unpruned: 0,
        }
    }

    fn see(&mut self, key_hash: u64, time_ms: i64) {
        let t = self.times.entry(key_hash).or_insert(time_ms);
        *t = (*t).max(time_ms);
    }

    /// `pending` goes to the pipeline: the keys past the horizon, scanned every
    /// [`PRUNE_EVERY`] events (none in between).
    fn handed(&mut self, pending: &[(usize, Scored)]) -> Expired {
        self.processed = pending
            .iter()
            .map(|(_, s)| s.ctx.time_ms)
            .fold(self.processed, i64::max);
        self.unpruned += pending.len();
        let mut expired = Expired {
            hasher: self.hasher.clone(),
            hashes: std::collections::HashSet::new(),
        };
        if self.unpruned < PRUNE_EVERY {
            return expired;
        }
        self.unpruned = 0;
        let floor = self.processed.saturating_sub(self.horizon);
        self.times.retain(|h, t| {
            let keep = *t >= floor;
            if !keep {
                expired.hashes.insert(*h);
            }
            keep
        });
        expired
    }
}

/// The keys [`drive`] found past the horizon, by hash. Two keys of one hash share their
/// last-seen time, so a collision keeps a window longer, never drops one early.
struct Expired {
    hasher: std::hash::RandomState,
    hashes: std::collections::HashSet<u64>,
}

impl Expired {
    /// Forget the expired windows of an in-memory store.
    fn drop_from(&self, store: &MemoryStore) {
        if !self.hashes.is_empty() {
            store.retain(|k| !self.hashes.contains(&self.hasher.hash_one(k)));
        }
    }
}

fn summary(stats: &Stats, counts: &Counts) -> ExitCode {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(
        e,
        "t1578: {} files, {} records read ({} skipped by the fast path), {} in scope, {} parse errors, {} alerts",
        stats.files,
        stats.records,
        stats.skipped_fast,
        counts.in_scope,
        stats.error_count(),
        counts.alerts
    );
    if counts.shadow > 0 {
        let _ = writeln!(
            e,
            "t1578: {} of those alerts are in shadow-mode accounts (decided and logged, not sent)",
            counts.shadow
        );
    }
    let (days, cold) = counts.cold_start;
    if cold >= 10 && cold * 4 >= counts.alerts {
        let _ = writeln!(
            e,
            "t1578: {cold} of those alerts are for principals first seen in the first {days} days of \
             this replay, whose history the detector never saw; a backtest of an archive from its \
             start learns them instead with --observed-since first (README, Tuning)"
        );
    }
    if let Some(days) = counts.learned {
        let _ = writeln!(
            e,
            "t1578: a backtest (events on {AUTO_LEARN_DAYS} days or more, from \
             {AUTO_LEARN_PRINCIPALS} principals or more): principals first seen in an account's \
             first {days} days of events were learned, not taken for new; --observed-since none \
             judges them as new (README, Tuning)"
        );
    }
    if let Some(n) = counts.few_principals {
        let _ = writeln!(
            e,
            "t1578: events on {AUTO_LEARN_DAYS} days or more, but from {n} principal(s), fewer \
             than a backtest's {AUTO_LEARN_PRINCIPALS}: judged without a start, as an investigation \
             of them (one attack's records, say); --observed-since first learns them as a \
             backtest does (README, Tuning)"
        );
    }
    let mut not_done = stats.outcomes.clone();
    not_done.merge(counts.outcomes.clone());
    if not_done.kinds().next().is_some() {
        let kinds: Vec<String> = not_done.kinds().map(|(k, n)| format!("{k}: {n}")).collect();
        let _ = writeln!(e, "t1578: records not processed, by kind: {}", kinds.join(", "));
        for s in not_done.samples() {
            let _ = writeln!(e, "t1578:   {s}");
        }
    }
    let (_, retry, parked) = counts.outcomes.counts();
    if counts.failures > 0 {
        let _ = writeln!(
            e,
            "t1578: {} state keys failed: {retry} records to retry (run the same command again: \
             windows are idempotent, so nothing counts twice), {parked} parked",
            counts.failures
        );
    }
    for u in &stats.unreadable {
        let _ = writeln!(e, "t1578: cannot read {}", escape(u, 300));
    }
    if counts.failures > 0 {
        ExitCode::from(EXIT_STATE)
    } else if stats.unreadable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_UNREADABLE)
    }
}

/// How many days (UTC) with events make a replay a backtest rather than an incident replay,
/// when `--observed-since` is not given: three. Any few days of an organisation's logs flood
/// without a start, because every busy principal meets the seed's thresholds on each of them:
/// 500 to 1,550 alerts per 1,000 principal-days on 2- to 6-day slices of the workloads
/// (BENCHMARKS, "Short backtests learn"), 0 to 12 on the 3- to 6-day ones when learning. One
/// burst of an incident, even across midnight UTC, or a few records redriven from a
/// dead-letter container, fall on one or two days and want the seed's thresholds for
/// everyone; a third day with events is a capture of ordinary life.
const AUTO_LEARN_DAYS: usize = 3;

/// How many principals (whatever their accounts) a backtest has at least, with
/// [`AUTO_LEARN_DAYS`]: three. An attack's own records replayed alone, a scenario, come from
/// one or two principals, and when they span days (a low-and-slow exfiltration, a launch a
/// night) learning them from their first event would hide all but their criticals,
/// protection changes and user-data swaps: a replay of the workloads' attacks copied over four
/// days caught 3 of 18 learning (before learning alerted for swaps), 18 without a start
/// (BENCHMARKS, "A scenario is not a backtest"). No organisation's logs come from fewer. A
/// third principal's one stray event is enough, so an investigation's export of a few
/// principals is a backtest: `--observed-since none` judges it without a start.
const AUTO_LEARN_PRINCIPALS: usize = 3;

/// What a replay has shown of itself so far: whether it is a backtest, events on
/// [`AUTO_LEARN_DAYS`] days from [`AUTO_LEARN_PRINCIPALS`] principals or more.
#[derive(Default)]
struct Backtest {
    days: std::collections::BTreeSet<i64>,
    principals: Vec<String>,
}

impl Backtest {
    /// Counted until there are enough: at most one batch's days past the bound, and a short
    /// list, so a long replay pays nothing per event once it is known to be a backtest.
    fn see(&mut self, scored: &[(usize, Scored)]) {
        if self.days.len() < AUTO_LEARN_DAYS {
            self.days
                .extend(scored.iter().map(|(_, s)| s.ctx.time_ms.div_euclid(86_400_000)));
        }
        for (_, s) in scored {
            if self.principals.len() >= AUTO_LEARN_PRINCIPALS {
                break;
            }
            if !self.principals.contains(&s.ctx.principal_key) {
                self.principals.push(s.ctx.principal_key.clone());
            }
        }
    }

    fn is_backtest(&self) -> bool {
        self.days.len() >= AUTO_LEARN_DAYS && self.principals.len() >= AUTO_LEARN_PRINCIPALS
    }
}

/// Replay into `store`, handing each alert to `on_alert` in event-time order.
///
/// With `auto` (no `--observed-since`, no start in the tuning document, an in-memory store and
/// no stdin), the replay learns from each account's first event, holding its alerts back until
/// it is known to be a [`Backtest`]. A shorter replay, or one of fewer principals, learned
/// nothing worth the name: it runs again without a start, and only that run is printed. Its
/// inputs are read twice (an archive in place is fetched twice), and its alerts held for the
/// whole first pass, which a replay of one or two days of events, or of one or two
/// principals' records, can afford; a backtest is read once.
fn run_replay(
    engine: Engine,
    auto: bool,
    reorder: usize,
    store: &CliStore,
    inputs: (&[PathBuf], Span),
    mut on_alert: impl FnMut(&Alert) -> anyhow::Result<()>,
) -> anyhow::Result<(Stats, Counts)> {
    let rule = engine.effective("").baseline;
    let learns = rule.is_some_and(|r| engine.observation(&r) == ObservedSince::Unset);
    let rereadable = matches!(store, CliStore::Memory(_)) && !inputs.0.iter().any(|p| p.as_os_str() == "-");
    if !(auto && learns && rereadable) {
        let hint = ColdStart::new(&engine);
        return Ok(replay_pass(&engine, hint, reorder, store, inputs, false, &mut on_alert)?.0);
    }
    let learning = engine.observed_from_first_event();
    let (done, seen) = replay_pass(
        &learning,
        ColdStart::off(),
        reorder,
        store,
        inputs,
        true,
        &mut on_alert,
    )?;
    if seen.is_backtest() {
        let (stats, mut counts) = done;
        counts.learned = rule.map(|r| r.min_history_days);
        return Ok((stats, counts));
    }
    let fresh = CliStore::Memory(MemoryStore::new());
    let ((stats, mut counts), _) = replay_pass(
        &learning.without_first_events(),
        ColdStart::off(),
        reorder,
        &fresh,
        inputs,
        false,
        &mut on_alert,
    )?;
    counts.few_principals = (seen.days.len() >= AUTO_LEARN_DAYS).then_some(seen.principals.len());
    Ok((stats, counts))
}

/// One pass of [`run_replay`]. With `hold`, alerts are kept back until the replay is known to
/// be a [`Backtest`], and dropped if it never is; what it saw of that is returned.
fn replay_pass(
    engine: &Engine,
    mut cold: ColdStart,
    reorder: usize,
    store: &CliStore,
    (paths, span): (&[PathBuf], Span),
    hold: bool,
    on_alert: &mut impl FnMut(&Alert) -> anyhow::Result<()>,
) -> anyhow::Result<((Stats, Counts), Backtest)> {
    // The CLI prints what the pipeline decides and has nowhere to deliver to: shadow mode
    // records each decision in the windows exactly as alert mode does, and keeps nothing else.
    let sink = MemorySink::new();
    let opts = PipelineOptions {
        shadow: true,
        ..PipelineOptions::default()
    };
    let mut counts = Counts::new();
    let mut held: Option<Vec<Alert>> = hold.then(Vec::new);
    let mut backtest = Backtest::default();
    let batch_size = match store {
        CliStore::Memory(_) => BATCH,
        CliStore::File(_) => FILE_BATCH,
    };
    let (stats, in_scope, _) = drive(engine, paths, (reorder, batch_size), span, |scored, expired| {
        // Batches come in time order: the first one's earliest event is the replay's start.
        cold.start = cold.start.or(scored.iter().map(|(_, s)| s.ctx.time_ms).min());
        if held.is_some() {
            backtest.see(&scored);
        }
        let report = futures::executor::block_on(process_scored(engine, store, &sink, scored, &opts));
        if let CliStore::Memory(m) = store {
            expired.drop_from(m);
        }
        // A failed key's records are settled as the functions settle them; the other keys'
        // records, and later batches, go on.
        counts.failures += report.failures.len() as u64;
        counts.outcomes.settle(&report, false);
        for a in &report.alerts {
            counts.alerts += 1;
            counts.shadow += u64::from(!a.is_alert);
            counts.cold_start.1 += u64::from(cold.counts(a));
        }
        match held.as_mut() {
            Some(h) => h.extend(report.alerts),
            None => report.alerts.iter().try_for_each(&mut *on_alert)?,
        }
        if held.is_some() && backtest.is_backtest() {
            held.take().into_iter().flatten().try_for_each(|a| on_alert(&a))?;
        }
        Ok(())
    })?;
    counts.in_scope = in_scope;
    counts.cold_start.0 = cold.days();
    Ok(((stats, counts), backtest))
}

/// Recognises a cold start's alerts, for the summary's hint: no observation start is known,
/// and the alert meets the seed's thresholds (`no_history`) for a principal that the default
/// scope's baseline would be learning had the replay's first event been the start.
struct ColdStart {
    /// The default scope's baseline, when no start is known.
    rule: Option<BaselineRule>,
    start: Option<i64>,
}

impl ColdStart {
    /// No hint: the replay chose its start itself.
    fn off() -> ColdStart {
        ColdStart {
            rule: None,
            start: None,
        }
    }

    fn new(engine: &Engine) -> ColdStart {
        let rule = engine.effective("").baseline;
        ColdStart {
            rule: rule.filter(|r| engine.observation(r) == ObservedSince::Unset),
            start: None,
        }
    }

    /// `min_history_days` of the rule; 0 when the hint is off.
    fn days(&self) -> u32 {
        self.rule.map_or(0, |r| r.min_history_days)
    }

    fn counts(&self, a: &Alert) -> bool {
        let (Some(rule), Some(b)) = (self.rule, a.unmapped.baseline.as_ref()) else {
            return false;
        };
        let first_seen = (b.first_seen_dt.as_deref())
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.timestamp_millis());
        // The root user meets the thresholds, and an instance's credentials used outside AWS
        // alert, whatever the standing: no start would learn them.
        let alone = b
            .reasons
            .iter()
            .any(|r| t1578_core::decision::fires_alone(&r.code));
        !alone && b.reasons.iter().any(|r| r.code == "no_history") && rule.learning(first_seen, self.start)
    }
}

fn replay(
    engine: Engine,
    auto: bool,
    reorder: usize,
    state: Option<PathBuf>,
    format: Format,
    inputs: (&[PathBuf], Span),
) -> anyhow::Result<ExitCode> {
    let store = match &state {
        Some(p) => CliStore::File(FileStore::open(p)?),
        None => CliStore::Memory(MemoryStore::new()),
    };
    let mut printer = AlertPrinter::new(format == Format::Json);
    // Buffered: a replay can print one alert per in-scope event, and stdout alone would make
    // each one a write call.
    let mut out = std::io::BufWriter::with_capacity(OUT_BUFFER, std::io::stdout().lock());
    let (stats, counts) = run_replay(engine, auto, reorder, &store, inputs, |a| {
        printer.print(&mut out, a).context("writing alerts")
    })?;
    out.flush().context("writing alerts")?;
    Ok(summary(&stats, &counts))
}

/// Replay and print the one alert whose id or dedup key is `id`, with its guide.
fn show(engine: Engine, auto: bool, id: &str, format: Format, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut found: Option<Alert> = None;
    let (stats, counts) = run_replay(
        engine,
        auto,
        REORDER,
        &CliStore::Memory(MemoryStore::new()),
        (paths, (None, None)),
        |a| {
            if found.is_none() && (a.alert_id() == id || a.dedup_key() == id) {
                found = Some(a.clone());
            }
            Ok(())
        },
    )?;
    let Some(alert) = found else {
        summary(&stats, &counts);
        return Err(anyhow!(
            "no alert with id or dedup key {} in these inputs",
            escape(id, 80)
        ));
    };
    let mut out = std::io::BufWriter::with_capacity(OUT_BUFFER, std::io::stdout().lock());
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &alert)?;
        writeln!(out)?;
    } else {
        print_guide(&mut out, &alert)?;
    }
    out.flush()?;
    Ok(summary(&stats, &counts))
}

/// Backtest a configuration change: the same logs under A and B, alerts added and removed.
/// Alerts are matched by their deterministic dedup key (same window, tier, trigger bucket).
fn compare(
    (a, b): (Engine, Engine),
    auto: bool,
    reorder: usize,
    format: Format,
    inputs: (&[PathBuf], Span),
) -> anyhow::Result<ExitCode> {
    let collect = |e: Engine| -> anyhow::Result<(Stats, Counts, Vec<Alert>)> {
        let mut all = Vec::new();
        let store = CliStore::Memory(MemoryStore::new());
        let (stats, counts) = run_replay(e, auto, reorder, &store, inputs, |x| {
            all.push(x.clone());
            Ok(())
        })?;
        Ok((stats, counts, all))
    };
    let (stats, mut counts, before) = collect(a)?;
    let (_, _, after) = collect(b)?;
    let keys = |v: &[Alert]| {
        v.iter()
            .map(|x| (x.dedup_key().to_string(), x.risk_score))
            .collect::<HashMap<_, _>>()
    };
    let (kb, ka) = (keys(&before), keys(&after));
    let mut changes: Vec<(&str, &Alert)> = before
        .iter()
        .filter(|x| !ka.contains_key(x.dedup_key()))
        .map(|x| ("removed", x))
        .collect();
    // The same decision (dedup key) at another risk: the knob moved the score, not the verdict.
    changes.extend(after.iter().filter_map(|x| match kb.get(x.dedup_key()) {
        None => Some(("added", x)),
        Some(&risk) if risk != x.risk_score => Some(("changed", x)),
        Some(_) => None,
    }));
    changes.sort_by_key(|x| x.1.time);
    let mut out = std::io::stdout().lock();
    let mut printer = AlertPrinter::new(format == Format::Json);
    for (change, alert) in &changes {
        if format == Format::Json {
            writeln!(out, "{}", serde_json::json!({"change": change, "alert": alert}))?;
        } else {
            let mark = match *change {
                "added" => '+',
                "removed" => '-',
                _ => '~',
            };
            printer.print_marked(&mut out, alert, Some(mark))?;
        }
    }
    eprintln!(
        "t1578: compare: {} alerts with --config, {} with --compare-config: {} removed, {} added, {} at another risk",
        before.len(),
        after.len(),
        changes.iter().filter(|c| c.0 == "removed").count(),
        changes.iter().filter(|c| c.0 == "added").count(),
        changes.iter().filter(|c| c.0 == "changed").count()
    );
    counts.alerts = changes.len() as u64;
    Ok(summary(&stats, &counts))
}

fn query(
    engine: &Engine,
    until: Option<&str>,
    format: Format,
    paths: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let until_ms = until
        .map(|u| {
            chrono::DateTime::parse_from_rfc3339(u)
                .map(|t| t.timestamp_millis())
                .map_err(|e| anyhow!("--until {u:?}: {e}"))
        })
        .transpose()?;
    let store = MemoryStore::new();
    let sink = MemorySink::new();
    let opts = PipelineOptions {
        shadow: true,
        windows_only: true,
        ..PipelineOptions::default()
    };
    // With --until the summarize reads one window ending there: older events cannot change a
    // row, so they are not windowed at all (the SQL equivalent filters on time the same way).
    let since_ms = until_ms.map(|u| u.saturating_sub(engine.retention_ms()));
    let (stats, in_scope, latest) = drive(
        engine,
        paths,
        (REORDER, BATCH),
        (since_ms, until_ms),
        |scored, expired| {
            let report = futures::executor::block_on(process_scored(engine, &store, &sink, scored, &opts));
            expired.drop_from(&store);
            match report.failures.first() {
                Some(f) => Err(anyhow!("state store: {}", f.error)),
                None => Ok(()),
            }
        },
    )?;
    let now = until_ms.or(latest).unwrap_or(0);
    let rows = query_rows(engine, &store, now);
    let mut out = std::io::BufWriter::with_capacity(OUT_BUFFER, std::io::stdout().lock());
    print_rows(&mut out, &rows, format == Format::Json)?;
    out.flush()?;
    Ok(summary(
        &stats,
        &Counts {
            in_scope,
            alerts: rows.len() as u64,
            ..Counts::new()
        },
    ))
}

/// The summarize, the `where` threshold and the sort of the seed, over every window.
pub fn query_rows(engine: &Engine, store: &MemoryStore, now: i64) -> Vec<QueryRow> {
    let mut rows: Vec<QueryRow> = store
        .entries()
        .into_iter()
        .filter_map(|(key, bytes)| {
            let state = WindowState::decode(&bytes, &key).ok()?;
            let agg = state.aggregate_at(
                &engine.catalog,
                engine.profile.name,
                now,
                engine.profile.window_ms,
            );
            if agg.operation_count == 0 {
                return None;
            }
            let tier = engine.profile.thresholds.tier(&agg)?;
            let s = state.summary();
            Some(QueryRow {
                FirstSeen: rfc3339(agg.first_seen),
                LastSeen: rfc3339(agg.last_seen),
                PrincipalName: if s.principal_key.starts_with("arn:") {
                    s.principal_key
                } else {
                    s.principal_name
                },
                CallerIp: s.source_ips.join(", "),
                ResourceGroup: s.scopes.join(", "),
                SubscriptionId: s.account,
                OperationCount: agg.operation_count,
                UniqueResources: agg.unique_resources,
                OperationTypes: agg
                    .operation_types
                    .iter()
                    .map(|t| t.as_str().to_string())
                    .collect(),
                TotalRiskScore: agg.total_risk,
                AlertReason: tier.seed_reason().to_string(),
                Resources: agg.resources,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.TotalRiskScore
            .cmp(&a.TotalRiskScore)
            .then(b.OperationCount.cmp(&a.OperationCount))
            .then_with(|| a.PrincipalName.cmp(&b.PrincipalName))
            .then_with(|| a.CallerIp.cmp(&b.CallerIp))
            .then_with(|| a.ResourceGroup.cmp(&b.ResourceGroup))
    });
    rows
}

fn catalog(format: Format, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut c = Catalog::builtin()?;
    let t = tuning(&c, config)?;
    for e in &mut c.entries {
        e.risk = t.score("", &e.id, e.risk);
    }
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"version": c.version, "operations": c.entries})
            )?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<44} {:<6} {:<58} {:<17} {:>4} {:<10} {:<4} {:<16}",
        "ID", "CLOUD", "OPERATION", "TYPE", "RISK", "TECHNIQUE", "CRIT", "SEED TYPE"
    )?;
    for e in &c.entries {
        let when = e
            .when
            .as_ref()
            .map(|w| serde_json::to_string(w).unwrap_or_default())
            .unwrap_or_default();
        writeln!(
            out,
            "{:<44} {:<6} {:<58} {:<17} {:>4} {:<10} {:<4} {:<16} {}",
            e.id,
            e.cloud.as_str(),
            e.operation,
            e.op_type.as_str(),
            e.risk,
            e.technique,
            if e.critical { "yes" } else { "" },
            e.seed_type.map(|t| t.as_str()).unwrap_or("-"),
            when
        )?;
    }
    writeln!(
        out,
        "catalog version {}, {} operations",
        c.version,
        c.entries.len()
    )?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use t1578_core::engine::StateKey;
    use t1578_core::ports::StateStore;

    #[test]
    fn expired_keys_are_dropped_from_the_store_and_no_other() {
        let store = MemoryStore::new();
        let keys: Vec<StateKey> = (0..50).map(|i| StateKey(format!("[\"aws\",\"k{i}\"]"))).collect();
        for k in &keys {
            let saved = futures::executor::block_on(store.save(k, b"w", 0, None));
            assert!(matches!(saved, Ok(t1578_core::ports::SaveOutcome::Saved)));
        }
        let hasher = std::hash::RandomState::new();
        let mut expired = Expired {
            hasher: hasher.clone(),
            hashes: std::collections::HashSet::new(),
        };
        expired.drop_from(&store);
        assert_eq!(store.len(), 50);
        expired
            .hashes
            .extend(keys.iter().step_by(3).map(|k| hasher.hash_one(k)));
        expired.drop_from(&store);
        assert_eq!(store.len(), 50 - 17);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(store.get_bytes(k).is_some(), i % 3 != 0, "key {i}");
        }
    }
}

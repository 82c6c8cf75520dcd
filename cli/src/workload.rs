//! A multi-day workload with stable per-principal habits and labelled attacks, the yardstick
//! for alert quality (issue 11, "Measure it").
//!
//! `t1578 generate workload aws|azure --days 21 --principals 400 --seed N --out DIR` writes
//! `DIR/events.jsonl.gz` (JSON lines in event-time order, gzip, with the real CloudTrail record and
//! Activity Log export field sets) and `DIR/truth.json` (the parameters, every principal under
//! the key the detector gives it, and every attack with the event ids of its records).
//!
//! The workload knows nothing of any detector: habits are what organisations run (automation,
//! CI, backups, partner shares, IaC, cost schedulers, admins who travel, rare users, plenty of
//! read and out-of-scope calls), and attacks are what the issue lists, injected after the
//! warm-up. Deterministic for a seed; a different seed changes the mix, counts, hours and
//! addresses.

mod aws;
mod azure;
mod common;

use common::WARMUP_DAYS;

use crate::args::CloudArg;
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::process::ExitCode;

/// What to generate (`generate workload`'s arguments).
#[derive(clap::Args, Debug)]
pub struct Options {
    #[arg(value_enum)]
    pub cloud: CloudArg,
    #[arg(long, default_value_t = 21)]
    pub days: u32,
    #[arg(long, default_value_t = 400)]
    pub principals: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Instances of each attack scenario, each on its own principal.
    #[arg(long, default_value_t = 3)]
    pub attacks: u32,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// Smallest population that still hosts every scenario on its own principals.
const MIN_PRINCIPALS: u32 = 40;

pub fn run(o: &Options) -> anyhow::Result<ExitCode> {
    if o.days <= WARMUP_DAYS || o.days > 90 {
        bail!(
            "--days: {} is outside {}..=90 (attacks come after the {WARMUP_DAYS}-day warm-up)",
            o.days,
            WARMUP_DAYS + 1
        );
    }
    if o.principals < MIN_PRINCIPALS || o.principals > 100_000 {
        bail!(
            "--principals: {} is outside {MIN_PRINCIPALS}..=100000",
            o.principals
        );
    }
    if o.attacks == 0 || o.attacks > 10 {
        bail!("--attacks: {} is outside 1..=10", o.attacks);
    }
    std::fs::create_dir_all(&o.out).with_context(|| format!("--out {}", o.out.display()))?;
    let events = o.out.join(common::EVENTS_FILE);
    let sink = common::Sink::create(&events)?;
    let truth = match o.cloud {
        CloudArg::Aws => aws::generate(o, sink)?,
        CloudArg::Azure => azure::generate(o, sink)?,
    };
    let path = o.out.join(common::TRUTH_FILE);
    std::fs::write(&path, serde_json::to_vec_pretty(&truth)?)
        .with_context(|| format!("write {}", path.display()))?;
    eprintln!(
        "t1578: workload {}: {} records ({} of them compute changes) by {} principals over {} days, {} attacks; wrote {} and {}",
        truth.params.cloud,
        truth.records,
        truth.compute_records,
        truth.principals.len(),
        o.days,
        truth.attacks.len(),
        events.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

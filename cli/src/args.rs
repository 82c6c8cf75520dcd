//! Command-line surface.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// In-scope events held back to restore event-time order: `replay --reorder`'s default, and
/// what `query` and `show` hold.
pub const REORDER: usize = 2048;

/// Replay and backtest CloudTrail and Azure Activity Log files through the T1578 detector.
#[derive(Parser, Debug)]
#[command(name = "t1578", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    Default,
    #[value(name = "seed-kql")]
    SeedKql,
}

/// Where the organization's own accounts come from, besides a tuning document's `own_accounts`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OwnAccountsArg {
    /// The accounts, organizations and subscriptions the inputs' key layout names.
    Layout,
    /// None but the tuning document's.
    None,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum CloudArg {
    Aws,
    Azure,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Stream events in event-time order through the pipeline and print each alert when it
    /// would have fired.
    Replay(ReplayArgs),
    /// What the seed's scheduled KQL returns for the day ending at --until.
    Query {
        #[arg(long, value_enum, default_value = "seed-kql")]
        profile: ProfileArg,
        /// Tuning configuration (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// End of the one-day window (RFC 3339); default: the latest event time in the input.
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value = "24h")]
        window: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Replay the inputs and print one alert (by its id, `metadata.uid`, or its dedup key) with
    /// its investigation guide: questions, containment steps with their commands, and hunting
    /// queries.
    Show {
        /// The alert's id or dedup key (as printed by `replay --format json`).
        id: String,
        #[arg(long, value_enum, default_value = "default")]
        profile: ProfileArg,
        #[arg(long, default_value = "24h")]
        window: String,
        /// Tuning configuration (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// As for `replay`: give what the replay that printed the alert was given.
        #[arg(long)]
        observed_since: Option<String>,
        /// As for `replay`.
        #[arg(long, value_enum, default_value = "layout")]
        own_accounts: OwnAccountsArg,
        /// As for `replay`.
        #[arg(long, value_name = "FILE")]
        aws_ip_ranges: Option<PathBuf>,
        /// `table`: the guide as text; `json`: the whole alert document.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// The operations catalog as loaded, with the configuration's score overrides applied.
    Catalog {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Tuning configuration whose global score overrides to show.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// EventBridge event patterns generated from the catalog (what Terraform deploys).
    EventPattern,
    /// Sigma rules generated from the catalog (one per row, plus correlation rules), written
    /// under DIR as aws/, azure/ and correlation/.
    Sigma {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write realistic benchmark data (JSON lines): out-of-scope noise, in-scope operations and
    /// bursts that must alert. `generate workload` writes a multi-day workload with labelled
    /// attacks instead.
    #[command(args_conflicts_with_subcommands = true)]
    Generate {
        #[command(subcommand)]
        workload: Option<GenerateWorkload>,
        #[arg(value_enum, required = true)]
        cloud: Option<CloudArg>,
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        #[arg(long, required = true)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum GenerateWorkload {
    /// Days of habitual activity by a population of principals, attacks injected after a
    /// 14-day warm-up: DIR/events.jsonl and the ground truth DIR/truth.json.
    Workload(crate::workload::Options),
}

/// `replay`'s arguments.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    #[arg(long, value_enum, default_value = "default")]
    pub profile: ProfileArg,
    /// Rolling window (e.g. 24h, 90m, 1d).
    #[arg(long, default_value = "24h")]
    pub window: String,
    /// Tuning configuration (TOML): allowlists, per-account modes and overrides.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Backtest: replay with --config and with this one, print alerts added and removed.
    #[arg(long, conflicts_with = "state")]
    pub compare_config: Option<PathBuf>,
    /// Events held back to restore event-time order (memory bound).
    #[arg(long, default_value_t = REORDER, hide = true)]
    pub reorder: usize,
    /// Persist windows in this embedded database file; a later replay continues them.
    #[arg(long)]
    pub state: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Only events at or after this time (RFC 3339, or YYYY-MM-DD for midnight UTC); in a
    /// bucket, objects whose keys are dated before it are not even listed or read.
    #[arg(long)]
    pub since: Option<String>,
    /// Only events at or before this time (RFC 3339, or YYYY-MM-DD for midnight UTC);
    /// objects dated more than an hour after it are not read.
    #[arg(long)]
    pub until: Option<String>,
    /// When the detector started seeing these accounts (RFC 3339, YYYY-MM-DD, `first` for
    /// each account's first event, kept in `--state`, or `none`): a principal first seen
    /// within `min_history_days` of it is being learned, not new, and only criticals (not
    /// another account's copy of a share, nor a workload's read of data), protection changes, a
    /// stop-then-user-data swap, a person's revert that deletes the root volume it replaced
    /// and a mass deletion by people alert for it. Not given: `first` if
    /// the replay has events on three days or more from three principals or more (a
    /// backtest), else `none` (an incident, or one attack's records, read twice to tell);
    /// `none` with `--state` or stdin. A tuning document's `baseline.observed_since` wins where
    /// it sets one.
    #[arg(long)]
    pub observed_since: Option<String>,
    /// The organization's own accounts, to which a share (or from which an Azure copy) is
    /// evidence, not a critical, besides a tuning document's `own_accounts`: `layout` adds the
    /// AWS accounts and organizations and the Azure subscriptions the inputs' key layout names
    /// (`AWSLogs/[o-ORG/]ACCOUNT/`, `resourceId=/SUBSCRIPTIONS/SUB/`: an account that delivers
    /// its logs into the archive is the organization's); `none` adds none.
    #[arg(long, value_enum, default_value = "layout")]
    pub own_accounts: OwnAccountsArg,
    /// AWS's published address ranges (`ip-ranges.json` from
    /// <https://ip-ranges.amazonaws.com/ip-ranges.json>, or a list of CIDRs): an EC2 instance's
    /// role credentials used from a routable address outside them alert on one call
    /// (`instance_credentials_outside_aws`). Not given: that sign is off.
    #[arg(long, value_name = "FILE")]
    pub aws_ip_ranges: Option<PathBuf>,
    /// Files (recursive), .gz files, - for stdin, or archives in place:
    /// `s3://BUCKET/PREFIX`, `az://CONTAINER/PREFIX`,
    /// `https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

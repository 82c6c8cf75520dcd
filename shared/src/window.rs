//! The rolling window of one state key: pure, bounded, idempotent.
//!
//! It keeps at most [`MAX_UNITS`] units, newest by event time, so aggregates are exact while a
//! key sees fewer units than that inside the window. Past that the window *saturates*: counts
//! and sums become lower bounds (flagged in alerts) and a re-delivered unit older than every
//! kept unit is ignored, so it still cannot count twice. Every thresholds is far below the cap
//! (the configuration refuses one that is not), so alert decisions stay right.

use crate::alert::Tier;
use crate::baseline::{self, Baseline, Novelty, Observed, Peaks};
use crate::catalog::{Catalog, OpType};
use crate::engine::{flags, EventContext, ProfileName, Scored, StateKey, Thresholds, Unit};
use crate::event::{clip, PrincipalKind};
use crate::incident::Incident;
use crate::profile::BaselineRule;
use crate::tuning::{Effective, Unfamiliar};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use xxhash_rust::xxh3::xxh3_64;

pub use crate::profile::MAX_UNITS;
/// Resources, evidence events and IPs kept for the alert.
pub const MAX_LISTED: usize = 10;
/// Regions / resource groups kept.
const MAX_SCOPES: usize = 5;
/// Fired-alert records kept (tiers plus one per critical catalog row).
const MAX_FIRED: usize = 32;
/// The span of the busiest-hour measure.
const HOUR_MS: i64 = 3_600_000;
/// Addresses (or networks) remembered per principal for the unfamiliar-IP rule.
pub const MAX_SEEN: usize = 32;
/// Most bytes an encoded window takes: what a principal may cost the store, whatever its
/// history (Table Storage holds the window and its outbox in one 64 KiB property).
pub const MAX_STATE_BYTES: usize = 16 * 1024;

/// Room reserved for an encoding: most windows encode to about 1 KB (99 % under 1.6 KB in
/// the look-alike bench); a larger one grows the vector once or twice.
const ENCODE_RESERVE: usize = 2 * 1024;
/// Display strings are clipped to this many bytes when a window would outgrow the bound.
const COMPACT_FIELD: usize = 64;
/// Entries kept per display list at the second compaction step.
const COMPACT_KEEP: usize = 3;
/// Compaction steps ([`WindowState::compact`]).
const COMPACT_STEPS: usize = 3;
/// 3: the principal's behaviour baseline, what is new for it, and its open finding; 4: its
/// busiest hours; 5: the root disks its calls named; 6: the data disks its calls attached; 7: the
/// machines whose parts its calls worked on. An older state is read as a format-7 one without
/// what came later (each addition is last and a list, so its bytes plus an empty list per
/// addition are a format-7 encoding): an upgrade keeps every principal's baseline.
const FORMAT: u8 = 7;
const FORMAT_BEFORE_PEAKS: u8 = 3;
const FORMAT_BEFORE_LINKS: u8 = 4;
const FORMAT_BEFORE_MOUNTS: u8 = 5;
const FORMAT_BEFORE_MACHINES: u8 = 6;
/// Root-disk links kept (each of a unit the window still holds). Every full update of an Azure VM
/// names its OS disk, so a busy admin's writes make many; the oldest unit's goes first. As many
/// data-disk links are kept, for the same reason (a full update names every data disk too), and
/// as many machine links (of the rows of a sequence on one machine only).
const MAX_LINKS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Listed {
    pub(crate) h: u64,
    pub(crate) value: String,
    pub(crate) t: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Evidence {
    pub(crate) event_id: String,
    pub(crate) t: i64,
    pub(crate) operation: String,
    pub(crate) catalog_id: String,
    pub(crate) risk: u32,
    pub(crate) flags: u8,
    pub(crate) ip: Option<String>,
}

/// One address or network in a principal's history: hash, first and last use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    h: u64,
    first: i64,
    last: i64,
}

/// A unit and a resource its call named beside its own: the disk it made a machine's root disk
/// ([`crate::event::Details::root_disk`]), or the machine whose part it worked on
/// ([`crate::event::Details::machine`]). The unit's id and the resource's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Link {
    unit: u64,
    to: u64,
}

/// A unit whose call attached a data disk to a machine ([`crate::engine::Mount`]): the unit's
/// id, the disk's and the machine's resource hashes, and whether the call created the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Mounted {
    unit: u64,
    disk: u64,
    machine: u64,
    new_machine: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Fired {
    tier: Tier,
    disc: u32,
    t: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct Who {
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) kind: PrincipalKind,
    pub(crate) session: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) account: String,
    pub(crate) t: i64,
}

/// The disks made from a snapshot that a window's units booted machines from, or read on
/// machines made for them (one tally each), each disk once.
#[derive(Debug, Default)]
struct Boots {
    disks: Vec<u64>,
    by_hand: u32,
    last: i64,
}

impl Boots {
    /// Count a boot from `disk` by unit `u`; false when the disk's boot was counted already.
    fn add(&mut self, disk: u64, u: &Unit, by_iac: bool) -> bool {
        if self.disks.contains(&disk) {
            return false;
        }
        self.disks.push(disk);
        self.by_hand += u32::from(!by_iac && u.flags & flags::BY_PERSON != 0);
        self.last = self.last.max(u.t);
        true
    }
}

/// What people's calls in a window add up to ([`flags::BY_PERSON`]): the deletes, reverts and
/// threats a principal being learned is judged on.
#[derive(Debug)]
struct PersonCalls {
    deletes: u32,
    first_delete: i64,
    risky_reverts: u32,
    reverts: u32,
    threats: u32,
}

impl Default for PersonCalls {
    fn default() -> Self {
        PersonCalls {
            deletes: 0,
            first_delete: i64::MAX,
            risky_reverts: 0,
            reverts: 0,
            threats: 0,
        }
    }
}

impl PersonCalls {
    fn add(&mut self, catalog: &Catalog, u: &Unit) {
        // Only a lifecycle unit of 2 points or more can be a threat: the row is looked up for
        // those alone (a plain launch is 1 point).
        self.threats += u32::from(
            u.kind.is_lifecycle()
                && u.risk >= 2
                && catalog
                    .by_id_hash(u.op)
                    .is_some_and(|e| e.risk >= 2 && e.risky_variant()),
        );
        if u.kind == OpType::Delete {
            self.deletes += 1;
            self.first_delete = self.first_delete.min(u.t);
        } else if u.kind == OpType::Revert {
            self.reverts += 1;
            self.risky_reverts += u32::from(catalog.by_id_hash(u.op).is_some_and(|e| e.risky_variant()));
        }
    }
}

/// When the unit `id` was counted, or the earliest time when the window no longer holds it (its
/// link goes first at a bound).
fn unit_time(units: &[Unit], id: u64) -> i64 {
    units.iter().find(|u| u.id == id).map_or(i64::MIN, |u| u.t)
}

/// Link the resource `to` (a root disk, a machine) to the event's first unit, when counted (or
/// upgraded) and not linked yet. At [`MAX_LINKS`], the oldest unit's link goes when older than
/// this one (a disk's late Start completes a recent write's); an older event's link is not
/// kept then, so a re-delivered old event cannot push a newer link out and count as news.
fn link(links: &mut Vec<Link>, units: &[Unit], s: &Scored, to: Option<u64>, counted: &[(usize, u8)]) {
    let (Some(to), Some(u)) = (to, s.units.first()) else {
        return;
    };
    if !counted.iter().any(|&(i, _)| i == 0) || links.iter().any(|l| l.unit == u.id) {
        return;
    }
    if links.len() >= MAX_LINKS {
        let at = |l: &Link| unit_time(units, l.unit);
        match (0..links.len()).min_by_key(|&i| at(&links[i])) {
            Some(i) if at(&links[i]) < u.t => {
                links.remove(i);
            }
            _ => return,
        }
    }
    links.push(Link { unit: u.id, to });
}

/// What [`WindowState::count_units`] counted of one event.
#[derive(Debug, Default)]
struct Counted {
    /// (unit index in the event, its flags as kept) of each unit counted.
    units: Vec<(usize, u8)>,
    /// Points the window gained.
    gained: u32,
    /// Units counted before as another row, which this event's Start upgraded.
    upgraded: Vec<Upgraded>,
}

/// A unit as it was before an upgrade: what the baseline recorded for it.
#[derive(Debug)]
struct Upgraded {
    i: usize,
    t: i64,
    kind: OpType,
    points: u32,
}

/// Serialized state of one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowState {
    pub(crate) format: u8,
    pub(crate) key: String,
    pub(crate) max_t: i64,
    pub(crate) saturated_until: i64,
    pub(crate) units: Vec<Unit>,
    pub(crate) resources: Vec<Listed>,
    pub(crate) evidence: Vec<Evidence>,
    pub(crate) ips: Vec<Listed>,
    /// Hashes of the `ips` values that were unfamiliar when used.
    pub(crate) unfamiliar: Vec<u64>,
    /// Address history, outliving the window (the unfamiliar-IP memory).
    seen: Vec<Seen>,
    pub(crate) scopes: Vec<Listed>,
    pub(crate) who: Who,
    fired: Vec<Fired>,
    /// What the principal normally does (default profile).
    pub(crate) baseline: Baseline,
    /// What in the window is new for the principal against its baseline.
    pub(crate) novel: Vec<Novelty>,
    /// The finding open for this principal, if any (default profile).
    pub(crate) incident: Option<Incident>,
    /// Its busiest hours per day (default profile). See [`FORMAT`].
    pub(crate) peaks: Peaks,
    /// The root disks its units' calls named, for the sequences that end in a machine booted
    /// from a disk made from a snapshot ([`WindowState::sequence`]). See [`FORMAT`].
    links: Vec<Link>,
    /// The data disks its units' calls attached, for a disk made from a snapshot read by a
    /// machine made for the purpose ([`WindowState::mounts_snapshot`]). See [`FORMAT`].
    mounts: Vec<Mounted>,
    /// The machines whose parts its units' calls worked on (an Azure VM's extension, its run
    /// command), for the sequences on one machine's parts ([`WindowState::sequence`]): a
    /// security agent removed, then a script run on the machine. Last: see [`FORMAT`].
    machines: Vec<Link>,
}

/// The seed's `summarize` columns for one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Aggregate {
    /// `OperationCount`.
    pub operation_count: u32,
    /// `UniqueResources`.
    pub unique_resources: u32,
    /// `TotalRiskScore` (with sequence boosts in the default profile).
    pub total_risk: u32,
    /// `OperationTypes`, sorted.
    pub operation_types: Vec<OpType>,
    /// `FirstSeen` (ms).
    pub first_seen: i64,
    /// `LastSeen` (ms).
    pub last_seen: i64,
    /// `Resources` (at most 10).
    pub resources: Vec<String>,
    /// The counts are lower bounds (saturated window).
    pub lower_bound: bool,
    /// Units per operation type ([`baseline::type_index`]).
    #[serde(skip)]
    pub type_counts: [u32; baseline::TYPES],
    /// Points per operation type, sequence boosts included.
    #[serde(skip)]
    pub type_points: [u32; baseline::TYPES],
    /// The whole shape of a technique: a unit of a row that is not lifecycle work completing its
    /// catalog sequence (user data changed on an instance the principal stopped within the
    /// hour), found where the boosts are summed. The community rules alert on it whoever does
    /// it, so it needs no history: it alerts for a principal being learned too
    /// ([`crate::decision`]), unless an IaC tool made the completing call
    /// ([`flags::IAC_AGENT`]): Terraform changes user data by stopping the instance, swapping it
    /// and starting it again, so its roles did this on their learning days (10 alerts on the
    /// first three days of a workload), and the community rule excludes the same agents. A
    /// volume attached after its creation from a snapshot is lifecycle work (backup restores
    /// and in-account scanners do it every day), unless it becomes the machine's root disk
    /// (that is [`Self::booted_from_snapshot`]) or is read on a machine made for it (that is
    /// [`Self::mounted_from_snapshot`]), and so is a workload's scale-set model pushed
    /// to its instances: a deploy job's release ([`crate::catalog::Boost::pipeline_routine`]).
    /// A person pushing a fleet's custom data by hand is the technique.
    #[serde(skip)]
    pub whole_technique: bool,
    /// Deletes made by people ([`flags::BY_PERSON`]): a mass deletion by a principal being
    /// learned is judged on them alone, not on its pipeline sessions' ([`crate::decision`]).
    #[serde(skip)]
    pub person_deletes: u32,
    /// The first of them (ms; 0 when none): the day it falls on, and the days after, are not
    /// the history its bar is taken from.
    #[serde(skip)]
    pub person_deletes_from: i64,
    /// Reverts by people of a risky variant's row ([`crate::catalog::Entry::risky_variant`]: the
    /// replaced root volume deleted, a restore made public): no routine needs them, so they
    /// alert for a principal being learned too ([`crate::decision`]); a workload's patching
    /// that replaces root volumes does not.
    #[serde(skip)]
    pub person_risky_reverts: u32,
    /// Reverts by people of any row, risky or plain (a backup restored, a failover, a root
    /// volume replaced): what completes a thin history's first revert from a new network
    /// ([`crate::decision`]), whoever made the window's last call.
    #[serde(skip)]
    pub person_reverts: u32,
    /// Protection changes and generalizes, but not a workload's generalize of a machine it
    /// wrote earlier in the window: an image pipeline (Packer, Azure Image Builder) creates its
    /// build VM, generalizes and captures it on every build, where an attacker generalizes a
    /// machine someone else runs. They alert with one whatever the points ([`crate::decision`]).
    #[serde(skip)]
    pub impairing: u32,
    /// People's lifecycle calls whose request names their threat: a risky variant of risk 2 or
    /// more beside its call's plain row (a GPU size, IMDSv1, a database delete that keeps no
    /// final snapshot). With one, a principal not known to be new is judged by a new
    /// principal's thresholds too ([`crate::decision`]); a workload's may be a weekly image
    /// pipeline's GPU build the detector has not met yet.
    #[serde(skip)]
    pub threats: u32,
    /// Machines booted from a disk the principal made from a snapshot within the sequence's
    /// time (a unit completing its sequence on the root disk its call named): a root volume or
    /// OS disk swapped for an old snapshot's, which reverts the machine past its patches and
    /// agents, or a new machine built on a copy of another's disk. Few routines do it, so
    /// unless the principal did it in its baseline period (a weekly refresh of a test machine),
    /// it is unusual for a principal with a history ([`crate::decision`]).
    #[serde(skip)]
    pub booted_from_snapshot: u32,
    /// Those a person made by hand, without an IaC agent: a technique's whole shape for a
    /// principal being learned, unless it did it in its baseline period. A workload's may be
    /// its nightly routine the detector has not met yet (Citrix MCS builds its workers on disks
    /// made from the master image's snapshot), and Terraform replaces a root disk so; any
    /// caller can send that agent, so it only narrows what learning lets through.
    #[serde(skip)]
    pub booted_by_hand: u32,
    /// When the last of them booted (ms; 0 when none): the day the baseline remembers it on.
    #[serde(skip)]
    pub booted_at: i64,
    /// Disks the principal made from a snapshot within the hour and attached as a data disk to
    /// a machine made for reading them: one it launched in the window or created with the disk,
    /// or any machine when the disk was copied from another subscription's snapshot; and a data
    /// volume a person detached from a server within the hour, read the same way. The
    /// snapshot's data read on a machine the caller controls (the mount step of snapshot
    /// theft), where a restore attaches the disk to the machine it came from. Few routines do
    /// it, so unless the principal did it in its baseline period (a DR drill's weekly test
    /// machines, a backup product's file-level restore workers), it is unusual for a principal
    /// with a history ([`crate::decision`]).
    #[serde(skip)]
    pub mounted_from_snapshot: u32,
    /// Those a person attached by hand, without an IaC agent: a technique's whole shape for a
    /// principal being learned, unless it did it in its baseline period. A workload's may be a
    /// backup product's restore worker the detector has not met yet.
    #[serde(skip)]
    pub mounted_by_hand: u32,
    /// When the last of them was attached (ms; 0 when none).
    #[serde(skip)]
    pub mounted_at: i64,
    /// Instances a person launched by hand (no IaC agent) in the hour up to the window's
    /// latest event, when the window acted in [`SWEEP_REGIONS`] regions or more in that hour
    /// (or in [`SWEEP_THREAT_REGIONS`], with as many launch calls whose request names their
    /// threat), from one address (0 otherwise): a stolen key's sweep across regions for
    /// mining, where each region's quota is fresh. A technique's whole shape for a principal being learned
    /// ([`crate::decision`]). Launches are AWS's (`RunInstances`, Lightsail's creates), whose
    /// scope is a region.
    #[serde(skip)]
    pub swept_launches: u32,
    /// The regions of that hour, when it is a sweep.
    #[serde(skip)]
    pub swept_regions: u32,
}

/// Regions in an hour that make a person's launches a sweep: a multi-region deployment by hand
/// is rare, and IaC agents' calls do not count.
pub const SWEEP_REGIONS: u32 = 3;
/// Instances launched in that hour, at least.
pub const SWEEP_LAUNCHES: u32 = 3;
/// Regions in an hour, and launch calls whose request names their threat (a GPU size,
/// IMDSv1), that make a sweep: a stolen session's GPU instances in two far regions, one call
/// each, twenty minutes apart (the twenty-eighth blind probe's P02, on the detector's first
/// day), where a data scientist's training runs launch where its quota is.
pub const SWEEP_THREAT_REGIONS: u32 = 2;

/// Who and where a window is about: the seed's grouping columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowSummary {
    /// Stable principal key.
    pub principal_key: String,
    /// `PrincipalName` (the Azure caller / AWS principal name).
    pub principal_name: String,
    /// Principal kind.
    pub principal_kind: PrincipalKind,
    /// `SubscriptionId` / AWS account.
    pub account: String,
    /// `CallerIp` values, most recent first.
    pub source_ips: Vec<String>,
    /// `ResourceGroup` / region values, most recent first.
    pub scopes: Vec<String>,
}

/// Could not read stored state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored window state is unreadable: {0}")]
pub struct StateDecodeError(pub String);

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// New units counted.
    Counted,
    /// Every unit was already counted (a re-delivery).
    Duplicate,
    /// Older than the window: outside what the window can still contain.
    TooLate,
}

impl Thresholds {
    /// The seed's `where` and `AlertReason` `case()`, in its order.
    pub fn tier(&self, a: &Aggregate) -> Option<Tier> {
        let risky = a.total_risk >= self.risk;
        let bulk = a.operation_count >= self.bulk_operations && a.unique_resources >= self.bulk_resources;
        if !(risky || bulk) {
            return None;
        }
        Some(if a.total_risk >= self.high_risk {
            Tier::HighRisk
        } else if risky && a.operation_count >= self.bulk_operations {
            Tier::Elevated
        } else if bulk {
            Tier::Bulk
        } else {
            Tier::Suspicious
        })
    }
}

/// Does a completed sequence tell the technique? Not a workload's pipeline routine (a deploy
/// job pushing a scale set's model on every release, a node pool's image upgrade): only its
/// points count, not a first's full weight nor a technique's whole shape.
fn tells(b: &crate::catalog::Boost, u: &Unit) -> bool {
    !b.pipeline_routine || u.flags & flags::BY_PERSON != 0
}

/// What the unfamiliar-IP rule compares: the /24 (IPv4) or /48 (IPv6) network, or the whole
/// address; a value that is not an address (a service DNS name) is compared as written.
fn address_key(ip: &str, by_prefix: bool) -> (u64, String) {
    let key = match (ip.trim().parse::<std::net::IpAddr>(), by_prefix) {
        (Ok(std::net::IpAddr::V4(a)), true) => {
            let [x, y, z, _] = a.octets();
            format!("{x}.{y}.{z}.0/24")
        }
        (Ok(std::net::IpAddr::V6(a)), true) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        (Ok(a), false) => a.to_string(),
        (Err(_), _) => ip.trim().to_ascii_lowercase(),
    };
    (xxh3_64(key.as_bytes()), key)
}

/// Keep `value` in a bounded most-recent list; returns its hash (the list's identity for it).
fn remember(list: &mut Vec<Listed>, value: &str, t: i64, cap: usize) -> u64 {
    let h = xxh3_64(value.as_bytes());
    if let Some(x) = list.iter_mut().find(|x| x.h == h) {
        x.t = x.t.max(t);
        return h;
    }
    if list.len() >= cap {
        // Keep the most recent ones.
        let (i, oldest) = list
            .iter()
            .enumerate()
            .min_by_key(|(_, x)| x.t)
            .map(|(i, x)| (i, x.t))
            .unwrap_or((0, 0));
        if oldest > t {
            return h;
        }
        list.remove(i);
    }
    list.push(Listed {
        h,
        value: clip(value, crate::event::MAX_FIELD),
        t,
    });
    h
}

impl WindowState {
    /// Empty window for a key.
    pub fn new(key: &StateKey) -> WindowState {
        WindowState {
            format: FORMAT,
            key: key.0.clone(),
            max_t: i64::MIN,
            saturated_until: i64::MIN,
            units: Vec::new(),
            resources: Vec::new(),
            evidence: Vec::new(),
            ips: Vec::new(),
            unfamiliar: Vec::new(),
            seen: Vec::new(),
            scopes: Vec::new(),
            who: Who::default(),
            fired: Vec::new(),
            baseline: Baseline::default(),
            novel: Vec::new(),
            incident: None,
            peaks: Peaks::default(),
            links: Vec::new(),
            mounts: Vec::new(),
            machines: Vec::new(),
        }
    }

    /// Compact binary encoding for the stores, at most [`MAX_STATE_BYTES`]. Written once into
    /// room for a usual window (`ENCODE_RESERVE`): sizing it first walked the window twice per
    /// save, and a vector grown from empty as postcard writes is reallocated and copied several
    /// times; a replay saves each window it touches once per batch.
    pub fn encode(&self) -> Vec<u8> {
        let sized = |w: &WindowState| postcard::experimental::serialized_size(w).unwrap_or(0);
        let write =
            |w: &WindowState, size| postcard::to_extend(w, Vec::with_capacity(size)).unwrap_or_default();
        let bytes = write(self, ENCODE_RESERVE);
        if bytes.len() <= MAX_STATE_BYTES {
            return bytes;
        }
        // Only adversarial strings get here (every list full of strings at their longest):
        // the evidence shown in alerts gives way, step by step, never the counts.
        let mut small = self.clone();
        let mut step = 0;
        let size = loop {
            step += 1;
            small.compact(step);
            let size = sized(&small);
            if size <= MAX_STATE_BYTES || step == COMPACT_STEPS {
                break size;
            }
        };
        write(&small, size)
    }

    /// Shrink what the window keeps for display, `step` by step (1: clip its strings; 2: keep
    /// the newest few of each list; 3: drop those lists and clip the principal's strings).
    /// Counts, units, baseline, address memory, novelties (matched by value) and the open
    /// finding stay: decisions do not change. Lists keep matching by hash, the evidence by its
    /// whole event id. Idempotent, so a compacted window read back encodes to the same bytes.
    fn compact(&mut self, step: usize) {
        let short = |s: &mut String| *s = clip(s, COMPACT_FIELD);
        let keep = match step {
            1 => usize::MAX,
            2 => COMPACT_KEEP,
            _ => 0,
        };
        for l in [&mut self.resources, &mut self.ips, &mut self.scopes] {
            // The newest `keep`, in their order.
            let mut times: Vec<i64> = l.iter().map(|x| x.t).collect();
            times.sort_unstable_by(|a, b| b.cmp(a));
            let oldest_kept = times.get(keep.saturating_sub(1)).copied().unwrap_or(i64::MIN);
            let mut kept = 0;
            l.retain(|x| {
                let keep_it = keep > 0 && x.t >= oldest_kept && kept < keep;
                kept += usize::from(keep_it);
                keep_it
            });
            l.iter_mut().for_each(|x| short(&mut x.value));
        }
        // Already the riskiest first; the event id stays whole, it names the record.
        self.evidence.truncate(keep);
        for e in &mut self.evidence {
            short(&mut e.operation);
            e.ip.as_mut().map(short);
        }
        let ips = &self.ips;
        self.unfamiliar.retain(|h| ips.iter().any(|x| x.h == *h));
        let who = &mut self.who;
        short(&mut who.name);
        who.session.as_mut().map(short);
        who.user_agent.as_mut().map(short);
        if step >= 3 {
            short(&mut who.key);
        }
    }

    /// Decode; a window from another key (hash collision) or another format is refused.
    pub fn decode(bytes: &[u8], key: &StateKey) -> Result<WindowState, StateDecodeError> {
        let upgraded;
        let missing: &[u8] = match bytes.first() {
            Some(&FORMAT_BEFORE_PEAKS) => &[0, 0, 0, 0],
            Some(&FORMAT_BEFORE_LINKS) => &[0, 0, 0],
            Some(&FORMAT_BEFORE_MOUNTS) => &[0, 0],
            Some(&FORMAT_BEFORE_MACHINES) => &[0],
            _ => &[],
        };
        let bytes = if missing.is_empty() {
            bytes
        } else {
            upgraded = [bytes, missing].concat();
            &upgraded[..]
        };
        // Every byte is the window's: a wrong count of appended lists is refused, not ignored.
        let (mut s, rest): (WindowState, _) =
            postcard::take_from_bytes(bytes).map_err(|e| StateDecodeError(e.to_string()))?;
        if !rest.is_empty() {
            return Err(StateDecodeError(format!("{} bytes after the window", rest.len())));
        }
        if !missing.is_empty() {
            s.format = FORMAT;
        }
        if s.format != FORMAT {
            return Err(StateDecodeError(format!(
                "format {} (expected {FORMAT})",
                s.format
            )));
        }
        if s.key != key.0 {
            return Err(StateDecodeError("state belongs to another key".into()));
        }
        Ok(s)
    }

    /// When the store may forget this state (epoch seconds): the window end of the newest unit,
    /// or the end of the address memory when that is later.
    pub fn expires_at(&self, eff: &Effective) -> i64 {
        let memory = eff.unfamiliar_ip.map_or(i64::MIN, |u| {
            self.seen
                .iter()
                .map(|x| x.last)
                .max()
                .unwrap_or(i64::MIN)
                .saturating_add(u.days_ms)
        });
        let baseline = eff
            .baseline
            .map_or(i64::MIN, |b| self.max_t.saturating_add(b.days_ms()));
        self.max_t.saturating_add(eff.window_ms).max(memory).max(baseline) / 1000 + 1
    }

    /// When the store may forget this state on the wall clock (epoch seconds), which is what
    /// DynamoDB's TTL and the Function's reads and cleanup compare with: [`Self::expires_at`],
    /// moved later by how far the newest event lags `now_ms`. A backlog delivered days late (a
    /// queue after an outage, an archive replay) keeps its windows and its unsent alerts from
    /// one batch to the next instead of finding them expired at every read; live traffic lags
    /// by seconds and keeps the event-time horizon.
    pub fn store_expiry(&self, eff: &Effective, now_ms: i64) -> i64 {
        let lag_s = if self.max_t == i64::MIN {
            0
        } else {
            now_ms.saturating_sub(self.max_t).max(0) / 1000
        };
        self.expires_at(eff).saturating_add(lag_s)
    }

    /// Grouping columns and principal of this window.
    pub fn summary(&self) -> WindowSummary {
        let recent = |l: &[Listed]| {
            let mut v: Vec<&Listed> = l.iter().collect();
            v.sort_by_key(|x| std::cmp::Reverse(x.t));
            v.into_iter().map(|x| x.value.clone()).collect()
        };
        WindowSummary {
            principal_key: self.who.key.clone(),
            principal_name: self.who.name.clone(),
            principal_kind: self.who.kind,
            account: self.who.account.clone(),
            source_ips: recent(&self.ips),
            scopes: recent(&self.scopes),
        }
    }

    /// Units currently held.
    pub fn unit_count(&self) -> usize {
        self.units.len()
    }

    fn prune(&mut self, window_ms: i64, memory_ms: i64, first_days: Option<(i64, i64)>) {
        let floor = self.max_t.saturating_sub(window_ms);
        let memory_floor = self.max_t.saturating_sub(memory_ms);
        self.seen.retain(|x| x.last >= memory_floor);
        self.units.retain(|u| u.t >= floor);
        let units = &self.units;
        self.links.retain(|l| units.iter().any(|u| u.id == l.unit));
        self.mounts.retain(|m| units.iter().any(|u| u.id == m.unit));
        self.machines.retain(|l| units.iter().any(|u| u.id == l.unit));
        let live: BTreeSet<u64> = self.units.iter().map(|u| u.res).collect();
        self.resources.retain(|r| r.t >= floor && live.contains(&r.h));
        self.evidence.retain(|e| e.t >= floor);
        self.ips.retain(|x| x.t >= floor);
        let ips = &self.ips;
        self.unfamiliar.retain(|h| ips.iter().any(|x| x.h == *h));
        self.scopes.retain(|x| x.t >= floor);
        self.fired.retain(|f| f.t >= floor);
        self.novel.retain(|n| n.t >= floor);
        // Kept while an event the window still accepts (one window late) could find it open: a
        // late event's finding must not open anew in the bucket of the one it belongs to.
        if self
            .incident
            .as_ref()
            .is_some_and(|i| !i.open_at(floor, window_ms, first_days))
        {
            self.incident = None;
        }
    }

    /// Is this event's address new for the principal? Only once the principal has a history:
    /// the first address ever seen is the baseline, not a surprise.
    /// Returns whether it is new, and its network (hash and text).
    fn unfamiliar(
        &self,
        rule: Option<Unfamiliar>,
        ip: Option<&str>,
        t: i64,
    ) -> (bool, Option<(u64, String)>) {
        let (Some(u), Some(ip)) = (rule, ip) else {
            return (false, None);
        };
        let (h, net) = address_key(ip, u.by_prefix);
        let since = t.saturating_sub(u.days_ms);
        let mut known = self
            .seen
            .iter()
            .filter(|x| x.first <= t && x.last >= since)
            .peekable();
        let has_history = known.peek().is_some();
        let familiar = known.any(|x| x.h == h);
        (has_history && !familiar, Some((h, net)))
    }

    /// The novelties of one kind the window holds, oldest first.
    pub(crate) fn novel_of(&self, kind: baseline::NoveltyKind) -> impl Iterator<Item = &Novelty> {
        self.novel.iter().filter(move |n| n.kind == kind)
    }

    /// Networks the principal started using between `from` and `to` (ms): how often it moves.
    /// A CI role on hosted runners or a roaming admin adopts new networks all the time.
    pub fn networks_adopted(&self, from: i64, to: i64) -> usize {
        self.seen
            .iter()
            .filter(|x| x.first >= from && x.first < to)
            .count()
    }

    fn remember_address(&mut self, h: u64, t: i64) {
        if let Some(x) = self.seen.iter_mut().find(|x| x.h == h) {
            x.first = x.first.min(t);
            x.last = x.last.max(t);
            return;
        }
        if self.seen.len() >= MAX_SEEN {
            let Some((i, oldest)) = self.seen.iter().enumerate().min_by_key(|(_, x)| x.last) else {
                return;
            };
            if oldest.last > t {
                return;
            }
            self.seen.remove(i);
        }
        self.seen.push(Seen { h, first: t, last: t });
    }

    /// Note what is new about an event against the baseline, then teach the baseline the units
    /// this window has just counted (so a re-delivery teaches nothing).
    fn learn(&mut self, s: &Scored, counted: &Counted, new_network: Option<&str>, rule: &BaselineRule) {
        let c = &s.ctx;
        let ev = Observed {
            t: c.time_ms,
            op: s.units[0].op,
            catalog_id: &c.catalog_id,
            points: c.risk,
            scope: &c.scope,
            new_network,
            export_hours: c.export_hours,
        };
        for (kind, value) in self.baseline.novelties(&ev, rule) {
            baseline::note(&mut self.novel, kind, &value, c.time_ms);
        }
        let mut kinds = 0u16;
        for &(i, _) in &counted.units {
            let u = &s.units[i];
            // An upgraded unit was recorded once already, as the row it was counted for then:
            // it moves to its own row instead of counting twice.
            if let Some(was) = counted.upgraded.iter().find(|w| w.i == i) {
                self.baseline.unrecord_unit(was.t, was.kind, was.points);
            }
            self.baseline.record_unit(u.t, u.kind, u32::from(u.risk));
            kinds |= 1 << baseline::type_index(u.kind);
        }
        let hour = self.hour_counts(c.time_ms);
        for (i, kind) in baseline::ALL_TYPES.iter().enumerate() {
            if kinds & (1 << i) != 0 {
                self.peaks.record(c.time_ms, *kind, hour[i] as usize);
            }
        }
        if let Some(hours) = c.export_hours {
            self.baseline.record_export(c.time_ms, hours);
        }
        let destinations: Vec<u64> = c.destinations.iter().map(|d| baseline::place_hash(d)).collect();
        self.baseline
            .record_event(c.time_ms, ev.op, &c.scope, &destinations);
        let kept_from = self.baseline.prune(self.max_t, rule);
        self.peaks.prune(kept_from);
    }

    /// The principal's first days under the profile's baseline rule, in which a finding opened
    /// stays open ([`Incident::open_at`]).
    pub fn first_days(&self, eff: &Effective) -> Option<(i64, i64)> {
        eff.baseline.and_then(|rule| self.baseline.first_days(&rule))
    }

    /// Add one event's units. Pure: the same event applied twice changes nothing.
    pub fn apply(&mut self, s: &Scored, eff: &Effective) -> Applied {
        let window_ms = eff.window_ms;
        let t = s.ctx.time_ms;
        if self.max_t != i64::MIN && t < self.max_t.saturating_sub(window_ms) {
            return Applied::TooLate;
        }
        let (new_net, address) = self.unfamiliar(eff.unfamiliar_ip, s.ctx.source_ip.as_deref(), t);
        let bonus = if new_net {
            eff.unfamiliar_ip.map_or(0, |u| u.points)
        } else {
            0
        };
        let unfamiliar_points = eff.unfamiliar_ip.map_or(0, |u| u.points);
        let counted = self.count_units(s, bonus, unfamiliar_points, window_ms);
        let gained = counted.gained;
        if counted.units.is_empty() {
            // Its disks may still be news: see `link_late`.
            return if self.link_late(s) {
                Applied::Counted
            } else {
                Applied::Duplicate
            };
        }
        self.link_root(s, &counted.units);
        self.link_mounts(s, &counted.units);
        self.max_t = self.max_t.max(t);
        let c = &s.ctx;
        self.list_resources(s, &counted.units, t);
        self.add_evidence(c, gained, counted.units.iter().fold(0, |f, &(_, x)| f | x));
        if let Some(ip) = &c.source_ip {
            let h = remember(&mut self.ips, ip, t, MAX_LISTED);
            if new_net && !self.unfamiliar.contains(&h) {
                self.unfamiliar.push(h);
            }
        }
        if let Some(rule) = eff.baseline {
            self.learn(
                s,
                &counted,
                new_net.then(|| address.as_ref().map(|a| a.1.as_str())).flatten(),
                &rule,
            );
        }
        if let Some((a, _)) = address {
            self.remember_address(a, t);
        }
        if !c.scope.is_empty() {
            remember(&mut self.scopes, &c.scope, t, MAX_SCOPES);
        }
        if t >= self.who.t {
            self.who = Who {
                key: c.principal_key.clone(),
                name: c.principal_name.clone(),
                kind: c.principal_kind,
                session: c.session.clone(),
                user_agent: c.user_agent.clone(),
                account: c.account.clone(),
                t,
            };
        }
        let first_days = self.first_days(eff);
        self.prune(window_ms, eff.unfamiliar_ip.map_or(0, |u| u.days_ms), first_days);
        Applied::Counted
    }

    /// Insert the event's units not seen before, in time order; at the bound, the oldest unit
    /// goes and the window is marked saturated until it would have left. The unfamiliar-address
    /// `bonus` goes on the first counted unit (`unfamiliar_points` is what the rule adds, to
    /// tell a stored unit's own points). Returns (unit index, flags) of each counted unit, the
    /// points they gained, and what each upgraded unit was.
    fn count_units(&mut self, s: &Scored, bonus: u32, unfamiliar_points: u32, window_ms: i64) -> Counted {
        let mut out = Counted::default();
        for (i, u) in s.units.iter().enumerate() {
            if let Some(x) = self.units.iter_mut().find(|x| x.id == u.id) {
                // The Start of an operation counted from its Start, after a later record of it
                // (its Success, from another partition) was counted for the catch-all row of the
                // operation: the Start read the request body, and its row is the operation's.
                if u.flags & flags::FROM_START != 0 && x.flags & flags::FROM_START == 0 && x.op != u.op {
                    let bonus_then = if x.flags & flags::UNFAMILIAR_IP != 0 {
                        unfamiliar_points
                    } else {
                        0
                    };
                    out.upgraded.push(Upgraded {
                        i,
                        t: x.t,
                        kind: x.kind,
                        points: u32::from(x.risk).saturating_sub(bonus_then),
                    });
                    out.gained += u32::from(u.risk.saturating_sub(x.risk));
                    (x.op, x.kind, x.risk) = (u.op, u.kind, x.risk.max(u.risk));
                    x.flags |= u.flags;
                    out.units.push((i, x.flags));
                }
                continue;
            }
            let mut u = *u;
            if out.units.is_empty() && bonus > 0 {
                u.risk = u.risk.saturating_add(bonus.min(255) as u8);
                u.flags |= flags::UNFAMILIAR_IP;
            }
            if self.units.len() >= MAX_UNITS {
                if u.t <= self.units[0].t {
                    self.saturated_until = self.saturated_until.max(u.t.saturating_add(window_ms));
                    continue;
                }
                let evicted = self.units.remove(0);
                self.saturated_until = self.saturated_until.max(evicted.t.saturating_add(window_ms));
            }
            let at = self.units.partition_point(|x| x.t <= u.t);
            self.units.insert(at, u);
            out.gained += u32::from(u.risk);
            out.units.push((i, u.flags));
        }
        out
    }

    /// Remember the root disk the event's call named, and the machine whose part it worked on,
    /// on its first unit when counted (or upgraded: a VM write's Start, read after its Success,
    /// names the disk).
    fn link_root(&mut self, s: &Scored, counted: &[(usize, u8)]) {
        link(&mut self.links, &self.units, s, s.ctx.root_disk, counted);
        link(&mut self.machines, &self.units, s, s.ctx.machine, counted);
    }

    /// Link the disks an event's call named to its first unit, counted earlier from another
    /// record of the same operation for the same row: a GPU VM's Accept, whose response body
    /// names its size but not the disks its request named, before its Start, which does. Whether
    /// a link was added (the event is news for the decision: a re-delivered Start adds none).
    fn link_late(&mut self, s: &Scored) -> bool {
        let Some(u) = s.units.first() else {
            return false;
        };
        let Some(flags) = self.units.iter().find(|x| x.id == u.id).map(|x| x.flags) else {
            return false;
        };
        let linked = |w: &WindowState| {
            (
                w.links.iter().any(|l| l.unit == u.id),
                w.mounts.iter().any(|m| m.unit == u.id),
                w.machines.iter().any(|l| l.unit == u.id),
            )
        };
        let before = linked(self);
        self.link_root(s, &[(0, flags)]);
        self.link_mounts(s, &[(0, flags)]);
        linked(self) != before
    }

    /// Remember the data disks the event's call attached, on its first unit when counted (or
    /// upgraded, as [`Self::link_root`]); at the bound, the oldest unit's go first.
    fn link_mounts(&mut self, s: &Scored, counted: &[(usize, u8)]) {
        let (Some(m), Some(u)) = (&s.ctx.mount, s.units.first()) else {
            return;
        };
        if !counted.iter().any(|&(i, _)| i == 0) || self.mounts.iter().any(|x| x.unit == u.id) {
            return;
        }
        for &disk in &m.disks {
            if self.mounts.len() >= MAX_LINKS {
                // The oldest other unit's link, when older than this one's.
                let at = |x: &Mounted| unit_time(&self.units, x.unit);
                let oldest = (0..self.mounts.len())
                    .filter(|&i| self.mounts[i].unit != u.id)
                    .min_by_key(|&i| at(&self.mounts[i]));
                match oldest {
                    Some(i) if at(&self.mounts[i]) < u.t => {
                        self.mounts.remove(i);
                    }
                    _ => return,
                }
            }
            self.mounts.push(Mounted {
                unit: u.id,
                disk,
                machine: m.machine,
                new_machine: m.new_machine,
            });
        }
    }

    /// The counted units' resources, for display: the first `MAX_LISTED` distinct, each with
    /// its latest time.
    fn list_resources(&mut self, s: &Scored, counted: &[(usize, u8)], t: i64) {
        for &(i, _) in counted {
            let r = &s.resources[i];
            if self.resources.len() < MAX_LISTED && !self.resources.iter().any(|x| x.h == s.units[i].res) {
                self.resources.push(Listed {
                    h: s.units[i].res,
                    value: clip(r, crate::event::MAX_FIELD),
                    t,
                });
            } else if let Some(x) = self.resources.iter_mut().find(|x| x.h == s.units[i].res) {
                x.t = x.t.max(t);
            }
        }
    }

    /// The event as evidence, once per record id; the `MAX_LISTED` riskiest, latest first.
    fn add_evidence(&mut self, c: &EventContext, gained: u32, bits: u8) {
        if self.evidence.iter().any(|e| e.event_id == c.event_id) {
            return;
        }
        self.evidence.push(Evidence {
            event_id: clip(&c.event_id, 128),
            t: c.time_ms,
            operation: c.operation.clone(),
            catalog_id: c.catalog_id.clone(),
            risk: gained,
            flags: bits,
            ip: c.source_ip.as_deref().map(|ip| clip(ip, 64)),
        });
        self.evidence
            .sort_by(|a, b| b.risk.cmp(&a.risk).then(b.t.cmp(&a.t)));
        self.evidence.truncate(MAX_LISTED);
    }

    /// Units of each operation type within the hour up to `t` (inclusive), by
    /// [`baseline::type_index`].
    pub fn hour_counts(&self, t: i64) -> [u32; baseline::TYPES] {
        let from = t.saturating_sub(HOUR_MS);
        let mut out = [0u32; baseline::TYPES];
        for u in self.units.iter().filter(|u| u.t > from && u.t <= t) {
            out[baseline::type_index(u.kind)] += 1;
        }
        out
    }

    /// The busiest hour of `kind` in the baseline period of `t`, when known for every day.
    pub fn busiest_hour(&self, kind: OpType, t: i64, rule: &BaselineRule) -> Option<u32> {
        self.peaks.largest(&self.baseline, kind, t, rule)
    }

    /// The seed's summarize over the window ending at the latest event.
    pub fn aggregate(&self, catalog: &Catalog, profile: ProfileName) -> Aggregate {
        self.aggregate_at(catalog, profile, self.max_t, i64::MAX / 4)
    }

    /// The summarize over `[now - window_ms, now]`: what the seed's scheduled query returns
    /// when it runs at `now`.
    pub fn aggregate_at(
        &self,
        catalog: &Catalog,
        profile: ProfileName,
        now: i64,
        window_ms: i64,
    ) -> Aggregate {
        let floor = now.saturating_sub(window_ms);
        let live = |t: i64| t >= floor && t <= now;
        let (swept_launches, swept_regions) = self.sweep(catalog, now);
        let mut types = BTreeSet::new();
        let mut distinct = BTreeSet::new();
        let mut risk = 0u32;
        let mut count = 0u32;
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        let mut type_counts = [0u32; baseline::TYPES];
        let mut type_points = [0u32; baseline::TYPES];
        let mut whole_technique = false;
        let mut people = PersonCalls::default();
        let mut impairing = 0u32;
        let mut boots = Boots::default();
        let mut mounts = Boots::default();
        for u in self.units.iter().filter(|u| live(u.t)) {
            impairing += u32::from(self.impairs(u, floor));
            if u.flags & flags::BY_PERSON != 0 {
                people.add(catalog, u);
            }
            count += 1;
            types.insert(u.kind);
            distinct.insert(u.res);
            let mut points = u32::from(u.risk);
            if profile == ProfileName::Default {
                let (extra, whole) = self.sequence_points(catalog, u, &mut boots, &mut mounts);
                points += extra;
                whole_technique |= whole;
            }
            risk += points;
            let i = baseline::type_index(u.kind);
            type_counts[i] += 1;
            type_points[i] += points;
            first = first.min(u.t);
            last = last.max(u.t);
        }
        Aggregate {
            operation_count: count,
            unique_resources: distinct.len() as u32,
            total_risk: risk,
            operation_types: types.into_iter().collect(),
            first_seen: if count > 0 { first } else { 0 },
            last_seen: if count > 0 { last } else { 0 },
            resources: self
                .resources
                .iter()
                .filter(|r| live(r.t))
                .map(|r| r.value.clone())
                .collect(),
            lower_bound: self.saturated_until >= now,
            type_counts,
            type_points,
            whole_technique,
            person_deletes: people.deletes,
            person_deletes_from: if people.deletes > 0 {
                people.first_delete
            } else {
                0
            },
            person_risky_reverts: people.risky_reverts,
            person_reverts: people.reverts,
            impairing,
            threats: people.threats,
            booted_from_snapshot: boots.disks.len() as u32,
            booted_by_hand: boots.by_hand,
            booted_at: boots.last,
            mounted_from_snapshot: mounts.disks.len() as u32,
            mounted_by_hand: mounts.by_hand,
            mounted_at: mounts.last,
            swept_launches,
            swept_regions,
        }
    }

    /// The points unit `u`'s sequence adds (a sequence's points count once per machine booted,
    /// however many later writes name its disk: a tag, boot diagnostics), and whether it
    /// completes a technique's whole shape; its boots and mounts of a snapshot's disk are
    /// counted in `boots` and `mounts`.
    fn sequence_points(
        &self,
        catalog: &Catalog,
        u: &Unit,
        boots: &mut Boots,
        mounts: &mut Boots,
    ) -> (u32, bool) {
        let sequence = self.sequence(catalog, u);
        let by_iac = u.flags & flags::IAC_AGENT != 0;
        let whole = !by_iac && sequence.is_some_and(|(b, _)| tells(b, u)) && !u.kind.is_lifecycle();
        let first = match sequence {
            Some((_, Some(disk))) => boots.add(disk, u, by_iac),
            _ => true,
        };
        for m in self.mounts.iter().filter(|m| m.unit == u.id) {
            if self.mounts_snapshot(catalog, u, m) {
                mounts.add(m.disk, u, by_iac);
            }
        }
        (sequence.filter(|_| first).map_or(0, |(b, _)| b.points), whole)
    }

    /// ([`Aggregate::swept_launches`], [`Aggregate::swept_regions`]) at `now`. The window keeps
    /// its scopes with their latest use, not per unit: the regions are those it acted in within
    /// the hour, the launches in any of them.
    fn sweep(&self, catalog: &Catalog, now: i64) -> (u32, u32) {
        let hour = |t: i64| t <= now && now - t <= HOUR_MS;
        let regions = self.scopes.iter().filter(|s| hour(s.t)).count() as u32;
        // One caller's sweep comes from one address: a role many people share (an Identity
        // Center permission set) acts in several regions from their several offices.
        let addresses = self.ips.iter().filter(|x| hour(x.t)).count();
        if regions < SWEEP_THREAT_REGIONS || addresses > 1 {
            return (0, 0);
        }
        let by_hand = |f: u8| f & flags::BY_PERSON != 0 && f & flags::IAC_AGENT == 0;
        let (mut launches, mut first, mut last) = (0u32, i64::MAX, i64::MIN);
        for u in self.units.iter().filter(|u| hour(u.t) && by_hand(u.flags)) {
            let Some(e) = catalog.by_id_hash(u.op).filter(|e| e.launches_machine()) else {
                continue;
            };
            launches += 1;
            if e.risky_variant() {
                (first, last) = (first.min(u.t), last.max(u.t));
            }
        }
        // The window keeps no region per unit: two calls (at two times) stand for two places,
        // as a mining sweep makes one call a region.
        let two_threat_calls = first < last;
        let swept = (regions >= SWEEP_REGIONS && launches >= SWEEP_LAUNCHES) || two_threat_calls;
        if !swept {
            return (0, 0);
        }
        (launches, regions)
    }

    /// Whether a data disk unit `u`'s call attached is one the principal made from a snapshot
    /// (or took off another machine) within the hour before, on a machine made for reading it:
    /// launched by the principal before the attach (in the window), or created by the call
    /// itself; or, whatever the machine, a disk copied from another subscription's snapshot.
    /// A person's data volume detached from a server and attached to a helper launched for it
    /// reads the server's data as a snapshot's copy would (the twenty-third blind probe's D06: a
    /// Vault server's raft volume moved to an attacker's instance and back). Computed at
    /// aggregation, as the sequences are, so the order events arrive in does not matter.
    fn mounts_snapshot(&self, catalog: &Catalog, u: &Unit, m: &Mounted) -> bool {
        let (mut made, mut across) = (false, false);
        // A person's detach of a data volume only: a render farm's scheduler moves its scratch
        // volumes between the workers it launches all day (the workloads' benign alerts, seed
        // 41), and a rescue moves a broken machine's root volume (detached at its root device,
        // linked as the call's root disk) to a helper launched to repair it.
        let persons_data_volume =
            |v: &Unit| v.flags & flags::BY_PERSON != 0 && !self.links.iter().any(|l| l.unit == v.id);
        for (v, e) in self
            .units
            .iter()
            .filter(|v| v.res == m.disk && v.t <= u.t && u.t - v.t <= HOUR_MS)
            .filter_map(|v| catalog.by_id_hash(v.op).map(|e| (v, e)))
        {
            if e.makes_disk_from_snapshot() || (e.takes_disk_off_machine() && persons_data_volume(v)) {
                made = true;
                across |= e.copies_across();
            }
        }
        made && (m.new_machine
            || across
            || self.units.iter().any(|w| {
                w.res == m.machine
                    && w.t <= u.t
                    && catalog.by_id_hash(w.op).is_some_and(|e| e.launches_machine())
            }))
    }

    /// Whether a unit of catalog row `op` (its id hash) in the window completed the row's
    /// sequence: the whole shape of a technique (user data changed on an instance the principal
    /// stopped minutes before), not one of its parts.
    pub(crate) fn completes_sequence(&self, catalog: &Catalog, op: u32) -> bool {
        self.units
            .iter()
            .any(|u| u.op == op && self.sequence(catalog, u).is_some_and(|(b, _)| tells(b, u)))
    }

    /// The sequence a unit completes (its points count whoever completes it): its catalog row's
    /// `boost` when the same principal did the `after` operation on the same resource, or on
    /// the root disk the unit's call named, or a data disk it attached where its row is about
    /// data disks (an Azure VM write's data disk made from a snapshot is AWS's volume attached
    /// after it), or on the same machine where the boost is `on_machine` (a VM's agent
    /// extension removed, then a script run on the VM), within the allowed time before it; and whether on
    /// that root disk: a machine booted from a disk the principal made from a snapshot (its
    /// root volume or OS disk swapped for the snapshot's, or a new machine built on it).
    /// Computed at aggregation, not at insertion, so the order events arrive in does not matter.
    fn sequence<'c>(
        &self,
        catalog: &'c Catalog,
        u: &Unit,
    ) -> Option<(&'c crate::catalog::Boost, Option<u64>)> {
        let e = catalog.by_id_hash(u.op)?;
        let b = e.boost.as_ref()?;
        // The catalog checked at load that `after` names a row; its hash is the row's op.
        let after = crate::catalog::id_hash(&b.after);
        let within = i64::from(b.within_minutes) * 60_000;
        let root = self.links.iter().find(|l| l.unit == u.id).map(|l| l.to);
        // Only a row that attaches data disks completes its sequence on one: an OS-disk row's
        // full update names every data disk of its machine too.
        let reads_data = e.when.as_ref().is_some_and(|w| w.data_disk == Some(true));
        let attached = |r: u64| reads_data && self.mounts.iter().any(|m| m.unit == u.id && m.disk == r);
        // A part's unit is on its machine: an extension removed and a script run on that VM
        // name two resources, or the extension and the VM.
        let machine = |x: &Unit| {
            self.machines
                .iter()
                .find(|l| l.unit == x.id)
                .map_or(x.res, |l| l.to)
        };
        let machine_of_u = b.on_machine.then(|| machine(u));
        let on_machine = |v: &Unit| machine_of_u == Some(machine(v));
        let (mut same, mut booted) = (false, false);
        for v in self
            .units
            .iter()
            .filter(|v| v.op == after && v.t <= u.t && u.t - v.t <= within)
        {
            same |= v.res == u.res || attached(v.res) || on_machine(v);
            booted |= root == Some(v.res);
        }
        (same || booted).then_some((b, root.filter(|_| booted)))
    }

    /// Does a unit weaken a protection or make a machine into an image of someone's, not an
    /// image pipeline's build VM (a workload's generalize of a machine it wrote since `floor`)?
    fn impairs(&self, u: &Unit, floor: i64) -> bool {
        match u.kind {
            OpType::Impair => true,
            OpType::Generalize if u.flags & flags::BY_PERSON == 0 => !self
                .units
                .iter()
                .any(|v| v.kind == OpType::CreateOrModify && v.res == u.res && v.t >= floor && v.t <= u.t),
            OpType::Generalize => true,
            _ => false,
        }
    }

    /// Remember a decision of the seed profile, keeping at most [`MAX_FIRED`] (oldest first).
    pub(crate) fn record_fired(&mut self, tier: Tier, disc: u32, t: i64) {
        if self.fired.len() >= MAX_FIRED {
            self.fired.remove(0);
        }
        self.fired.push(Fired { tier, disc, t });
    }

    /// Has the seed profile already fired this tier (or a higher one) in the window?
    pub(crate) fn fired_at_or_above(&self, tier: Tier) -> bool {
        self.fired
            .iter()
            .any(|f| f.tier != Tier::Critical && f.tier >= tier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default profile's engine with the built-in catalog.
    fn default_engine() -> crate::engine::Engine {
        crate::engine::Engine::new(
            Catalog::builtin().unwrap(),
            crate::profile::Profile::named(ProfileName::Default),
        )
    }

    /// The records of an `events/azure/` fixture, normalized.
    fn azure_fixture(file: &str) -> Vec<crate::event::ComputeEvent> {
        let path = format!("{}/../events/azure/{file}", env!("CARGO_MANIFEST_DIR"));
        crate::source::normalize_document(&std::fs::read(path).unwrap())
            .unwrap()
            .into_iter()
            .map(|(_, r)| r.unwrap())
            .collect()
    }

    /// A machine's Start read after its Success (another partition) moves the unit the Success
    /// counted for the plain row to the row the Start reads from its body: the baseline counts
    /// the machine once, of the type and points it has in the order the records were written.
    #[test]
    fn an_upgraded_unit_counts_once_in_the_baseline() {
        use crate::event::Phase::{self, Accept, Start, Success};
        let engine = default_engine();
        let rule = BaselineRule::DEFAULT;
        for (file, row) in [
            ("compute-vm-write-gpu.json", "azure.compute.vm_write_gpu"),
            (
                "compute-snapshot-copy-cross-subscription.json",
                "azure.compute.snapshot_copy_cross_subscription",
            ),
            ("compute-vm-write-os-disk.json", "azure.compute.vm_write_os_disk"),
        ] {
            let events = azure_fixture(file);
            let scored = |p: Phase| {
                events
                    .iter()
                    .find(|e| e.phase == p)
                    .and_then(|e| engine.score(e).ok())
            };
            let replay = |order: &[Phase]| {
                let first = scored(order[0]).unwrap();
                let mut w = WindowState::new(&first.key);
                for s in order.iter().filter_map(|&p| scored(p)) {
                    w.apply(&s, &engine.effective(&s.ctx.account));
                }
                w
            };
            let written = replay(&[Start, Accept, Success]);
            let t = written.max_t;
            let volumes = |w: &WindowState| {
                baseline::ALL_TYPES
                    .iter()
                    .map(|&k| w.baseline.volume(k, t, &rule))
                    .collect::<Vec<_>>()
            };
            let kind = engine.catalog.get(row).unwrap().op_type;
            let today = written.baseline.volume(kind, t, &rule);
            assert_eq!(today.today_count, 1, "{file}");
            assert_eq!(
                written.baseline.total_volume(t, &rule, &[]).today_count,
                1,
                "{file}"
            );
            for order in [[Success, Start, Accept], [Success, Accept, Start]] {
                let late = replay(&order);
                assert_eq!(
                    late.units.iter().map(|u| u.op).collect::<Vec<_>>(),
                    written.units.iter().map(|u| u.op).collect::<Vec<_>>(),
                    "{file} {order:?}: upgraded"
                );
                assert_eq!(volumes(&late), volumes(&written), "{file} {order:?}");
                // The Start names the OS disk however late it comes.
                assert_eq!(late.links, written.links, "{file} {order:?}");
            }
            let named = events.iter().any(|e| e.details.root_disk.is_some());
            assert_eq!(written.links.len(), usize::from(named), "{file}");
        }
    }

    /// Machine links are few: at the bound, an event older than every kept link keeps none, so
    /// a re-delivery of it once newer events pushed links out cannot push a newer one out in
    /// turn and count as news. A managed run command on each of 40 VMs, then the first again.
    #[test]
    fn a_redelivered_old_event_does_not_push_a_newer_machine_link_out() {
        use crate::event::Phase;
        let engine = default_engine();
        let success = azure_fixture("compute-vm-run-commands-write.json")
            .into_iter()
            .find(|e| e.phase == Phase::Success)
            .unwrap();
        let on = |n: i64| {
            let mut ev = success.clone();
            let vm = format!(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-{n}"
            );
            ev.resources = vec![format!("{vm}/runCommands/rc")];
            ev.details.machine = Some(vm);
            ev.event_id = format!("ev-{n}");
            ev.time_ms += n * 1000;
            let s = engine.score(&ev).unwrap();
            assert!(s.ctx.machine.is_some(), "a row of a machine sequence is linked");
            s
        };
        let (newest, oldest) = (40, 0);
        let mut w = WindowState::new(&on(oldest).key);
        let eff = engine.effective(&on(oldest).ctx.account);
        for n in 1..=newest {
            assert_eq!(w.apply(&on(n), &eff), Applied::Counted);
        }
        assert_eq!(w.machines.len(), MAX_LINKS);
        let kept = w.machines.clone();
        assert_eq!(w.apply(&on(oldest), &eff), Applied::Counted);
        assert_eq!(w.machines, kept, "the oldest event's link is not kept");
        assert_eq!(w.apply(&on(oldest), &eff), Applied::Duplicate);
        assert_eq!(w.apply(&on(1), &eff), Applied::Duplicate);
        assert_eq!(w.machines, kept);
    }

    /// A GPU VM's Accept (its size in its response body) counted before its Start: the Start,
    /// whose body names the OS disk and a data disk, still links them, and is news once (a
    /// re-delivered Start is a duplicate); in either order the window holds the same links.
    #[test]
    fn a_start_read_after_its_accept_still_links_its_disks() {
        use crate::event::Phase;
        let engine = default_engine();
        let events = azure_fixture("compute-vm-write-gpu.json");
        let of = |p: Phase| events.iter().find(|e| e.phase == p).unwrap().clone();
        let mut start = of(Phase::Start);
        let disk =
            |n: &str| format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/{n}");
        start.details.root_disk = Some(disk("os-restored"));
        start.details.data_disks = vec![disk("data-restored")];
        let (start, accept) = (
            engine.score(&start).unwrap(),
            engine.score(&of(Phase::Accept)).unwrap(),
        );
        assert_eq!(start.ctx.catalog_id, "azure.compute.vm_write_gpu");
        assert_eq!(accept.ctx.catalog_id, "azure.compute.vm_write_gpu");
        let run = |order: &[&Scored]| {
            let mut w = WindowState::new(&start.key);
            let eff = engine.effective(&start.ctx.account);
            let applied: Vec<Applied> = order.iter().map(|s| w.apply(s, &eff)).collect();
            (w, applied)
        };
        let (first, applied) = run(&[&start, &accept]);
        assert_eq!(applied, [Applied::Counted, Applied::Duplicate]);
        let (late, applied) = run(&[&accept, &start, &start]);
        assert_eq!(applied, [Applied::Counted, Applied::Counted, Applied::Duplicate]);
        assert_eq!((late.links.len(), late.mounts.len()), (1, 1));
        assert_eq!((&late.links, &late.mounts), (&first.links, &first.mounts));
        // One unit either way, of the same row; its time is the first record's.
        let row = |w: &WindowState| w.units.iter().map(|u| (u.id, u.op, u.risk)).collect::<Vec<_>>();
        assert_eq!(row(&late), row(&first));
    }

    /// A state stored by the release before busiest hours were counted (format 3) is read with
    /// its baseline, not restarted: an upgrade must not make every principal new.
    #[test]
    fn a_state_stored_before_busiest_hours_keeps_its_baseline() {
        let key = StateKey("v1|aws|111122223333|arn:aws:iam::111122223333:user/ana".into());
        let t = 20_000 * baseline::DAY_MS;
        let mut before = WindowState::new(&key);
        before.max_t = t;
        for d in 0..4 {
            before
                .baseline
                .record_unit(t + d * baseline::DAY_MS, OpType::Delete, 3);
        }
        // Formats 3 to 6 were this encoding without its last fields (an empty list is one 0 byte
        // each), and a count of them that does not match the format is refused.
        let mut v6 = before.encode();
        assert_eq!(v6.pop(), Some(0));
        v6[0] = FORMAT_BEFORE_MACHINES;
        assert_eq!(WindowState::decode(&v6, &key).unwrap(), before);
        let mut padded = before.encode();
        padded.push(0);
        assert!(WindowState::decode(&padded, &key).is_err());
        let mut v5 = v6.clone();
        assert_eq!(v5.pop(), Some(0));
        v5[0] = FORMAT_BEFORE_MOUNTS;
        assert_eq!(WindowState::decode(&v5, &key).unwrap(), before);
        v6[0] = FORMAT_BEFORE_MOUNTS;
        assert!(WindowState::decode(&v6, &key).is_err());
        let mut v4 = v5.clone();
        assert_eq!(v4.pop(), Some(0));
        v4[0] = FORMAT_BEFORE_LINKS;
        assert_eq!(WindowState::decode(&v4, &key).unwrap(), before);
        let mut v3 = v4.clone();
        assert_eq!(v3.pop(), Some(0));
        v3[0] = FORMAT_BEFORE_PEAKS;
        let read = WindowState::decode(&v3, &key).unwrap();
        assert_eq!(read, before);
        assert_eq!(read.format, FORMAT);
        let rule = BaselineRule::DEFAULT;
        assert_eq!(
            read.busiest_hour(OpType::Delete, t + 5 * baseline::DAY_MS, &rule),
            None
        );
        let mut after = read;
        after.peaks.record(t, OpType::Delete, 4);
        let again = WindowState::decode(&after.encode(), &key).unwrap();
        assert_eq!(again, after);
        let mut other = after.encode();
        other[0] = 2;
        assert!(
            WindowState::decode(&other, &key).is_err(),
            "older formats are refused"
        );
    }
}

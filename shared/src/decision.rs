//! Decisions: when a principal's window becomes a finding, and when a finding is updated.
//!
//! Design decisions:
//! - **The seed profile decides as the seed does**: one alert per (state key, tier) per window,
//!   again when a higher tier is reached. Its output must not change.
//! - **The default profile judges a principal against its own normal** ([`crate::baseline`]).
//!   A principal first seen less than `min_history_days` ago meets the seed thresholds, the
//!   lowest (risk alone) from `new_principal_risk` (4) points or with a protection change or
//!   generalize (not a workload's of a VM it wrote earlier in the window: an image pipeline's
//!   build VM, [`Aggregate::impairing`]): one destructive operation (3) is what every rarely
//!   seen person does now and then; a launch and a terminate, a snapshot and a capture (the seed's Atomic tests), or
//!   enabling the serial console alert. An established one reaches a
//!   threshold tier only with activity that is unusual *for it*:
//!
//!   | what is unusual | weight |
//!   |---|---|
//!   | an operation type's count above `volume_factor` x its largest day and above that day + the seed's bulk count (all types together: + twice the bulk count, as a day's mix varies more) | 2 |
//!   | an operation type's count within an hour, the same against its busiest hour (a burst a busy role's day hides) | 2 |
//!   | a first capture, code execution, extension, share, export, revert or protection change, or a risky variant of a create or delete (a GPU size, IMDSv1, no final snapshot: a row with a request condition beside its call's plain row) | 2; 1 for an explorer or a thin history, unless it completes its catalog sequence (stop, then user data; a person's scale-set model written, then pushed to the instances; a machine's security agent removed, then code run on it, even as a variant of its routine) |
//!   | a first create, modify, stop or delete | 1; 0 for an explorer or a thin history |
//!   | operations outside the account's declared change windows | 2 |
//!   | a machine booted from a disk the principal made from a snapshot within the hour, unless it booted one in its baseline period (`snapshot_boot`) | 2 |
//!   | a disk the principal made from a snapshot (or an EBS volume it detached from another machine) within the hour read on a machine made for it (launched in the window, created with it) or copied from another subscription, unless it did so in its baseline period (`snapshot_mount`) | 2 |
//!   | an Azure export whose SAS URL reads more than four times as long as any the principal asked for in the month before (`long_export`) | 2 |
//!   | each network (/24, /48) it has not used lately, at most 2 (1 for a thin history) | 1; 0 for a roamer |
//!   | an hour (±1) it is never active at | 1; 0 with a thin history |
//!   | a region or resource group it did not act in | 1 |
//!
//!   A tier fires when the signs about *what* was done weigh [`UNUSUAL_SCORE`] (2), or on a
//!   pattern of stolen credentials that ordinary life does not produce: a settled person on two
//!   new networks in one window (a trip brings one), a workload on a new network at an hour it
//!   never acts at (workloads do not travel), a workload on a schedule deleting in bulk hours
//!   from it, or with a weekly row on another day (`off_schedule`: a janitor's code or
//!   credentials used at another time), or a weak
//!   first capture/execution/share by a settled principal from a new network (or, for a
//!   workload, with any other sign). A thin history
//!   (active on fewer than `settled_days` days) makes everything look new, so novelty weighs
//!   less and a first capture is not yet a weak sign; a lifecycle call's risky variant of risk
//!   2 or more (a GPU launch, IMDSv1, an RDS delete without its final snapshot), a person's
//!   first revert of any kind (a backup restored, a failover, a reimage, a root volume
//!   replaced), or a protection change that disables a defense tool (a security agent's
//!   extension removed) still is one, which only a new network completes (or, for a
//!   workload's GPU launch, a region or resource group it never used).
//!   A principal silent for the whole period has a thin history, it is not a new principal.
//! - **The AWS account's root user has no normal to learn.** AWS keeps it for the few tasks
//!   only it can do, and no compute change is one of them, so its window's threshold tier is a
//!   finding whatever its standing (`root_user`): a stolen root key's first compute changes are
//!   not its routine, however long the detector has watched them.
//! - **An instance's credentials have no routine outside AWS** (`outside_aws`). Where the
//!   deployment gives AWS's published ranges ([`crate::aws_ranges`]), an instance profile's
//!   session (named after its instance) calling from a routable address outside them makes a
//!   finding on one catalog call, at its window's tier or the lowest, whatever its standing:
//!   an instance reaches the API from AWS's addresses or a private one, so the credentials were
//!   taken off the machine.
//! - **No history is not the same as new** (`BaselineRule::observed_since`). When the detector
//!   knows when it started seeing an account, a principal first seen within `min_history_days`
//!   of that start is being learned: it may be years old, the detector was not looking. Only
//!   criticals, protection changes, when its tier fires a technique's whole shape (stop, then
//!   user data, unless an IaC agent made the call: Terraform's way of changing user data; on an
//!   Azure VM a person's, as the Activity Log names no user agent; a person's scale-set model
//!   write, then its push to the instances: a workload's is a deploy job's release; a person's
//!   machine booted from a disk it made from a snapshot, its root swapped for the snapshot's,
//!   unless it booted one in its baseline period: `snapshot_boot`, which weighs 2 for an
//!   established principal too; a person's disk made from a snapshot (or data volume detached
//!   from a server) and read on a machine made for it, on the same terms: `snapshot_mount`; a
//!   person's launches by hand in three regions within the hour, or GPU or IMDSv1 launches in
//!   two: `launch_sweep`), a person's revert whose request names its threat (a root volume
//!   replaced and the old one deleted: no troubleshooting needs that, where a patching
//!   workload may; a settled explorer's first weighs 2 too),
//!   and a mass deletion by its people's calls (more than four times the seed's bulk count in
//!   24 h above its largest day before them: few people's routine, where a backup product's
//!   retention deletes hundreds) alert for it (`learning`). One first seen later, but before the detector
//!   has watched the account for the baseline period, may have been silent all that time (a
//!   weekly job, a rare user): it is not known to be new, and is judged as a principal back
//!   from a break is, by its volume against the little history it has (`short_observation`;
//!   a workload's deletes only against a mass bar, as a weekly retention job's first run is its
//!   routine), a protection change, a technique's whole shape, such a revert, or a person's
//!   lifecycle call whose request names its threat (a GPU launch, IMDSv1:
//!   `Aggregate::threats`) where the window meets a new principal's thresholds. The seed's
//!   thresholds are for principals that appear once the detector has watched for the baseline
//!   period: in the cold-start workloads, principals met in the second week made most of its
//!   alerts. Unknown (the default), every principal without history is new, which an incident
//!   replay wants and a cold start floods with (half the principals on day one of the
//!   workloads). A deployment need not know its start: `first` records each account's first
//!   event in the state store, so accounts onboarded months apart each get their own learning
//!   period.
//! - **Single-event criticals fire at once**, except a share to a destination the principal
//!   already shared to in the baseline period: that is evidence, marked as a known destination.
//!   So is a share whose recipients are all known or the organization's own, at least one own
//!   ([`crate::own`]: a backup product's share to the backup account on its first night), an
//!   Azure copy from an own subscription, and an own account's copy of a snapshot shared with
//!   it, marked as such too. A public share, or a new destination outside the organization, is
//!   always critical. So is another account's use of a
//!   snapshot shared with it, except while that account is being learned: the share may be
//!   years old, and one made while the detector watches raised the sharer's critical (unless
//!   the sharer is allowlisted or a service, whose share raises none: such a copy in the
//!   learning days is the blind spot this buys, as the copying account is then known). An
//!   export has no recipient to know: it is evidence only where the principal makes exports of
//!   its kind from its account routinely, on `routine_export_days` of the period (2: a backup
//!   product's nightly download URLs; a person needs a day more), or a workload's read of data
//!   in place while it is being learned, or, found at work then, in its account's first baseline
//!   period (its nightly or weekly reads began before the detector looked),
//!   so one share with a partner makes the partner known and one export makes nothing known.
//! - **One finding per incident.** The first decision creates a finding; while the principal
//!   keeps acting within the window of the last report, later decisions update the same
//!   finding (same `finding_info.uid`, a running count) when the activity grows by
//!   `escalation_factor`, a higher tier is reached, a new critical or a new operation type
//!   appears, while the window still makes a finding (or with a new critical). Deduplication
//!   can therefore never hide a new burst, and routine activity after a finding does not
//!   repeat it, even of a type the finding had not seen. A critical the finding has reported
//!   (the same row to the same destinations: a backup product's next download URL) is news
//!   again only at the factor cubed (8x: 1, 8, 64 shares to one account), and keeps the
//!   finding open meanwhile, for two windows from its opening, so a nightly one is one finding,
//!   not one a night nor one per doubling. A finding opened in its principal's first
//!   `min_history_days` is held open until they end, while its operations could still double:
//!   a newcomer doing the same work on each of its first days is one finding, which its next
//!   days update only as any finding is updated. A critical is not held in it: one the finding
//!   has not reported, more than a window after it opened, opens its own, as an analyst may
//!   have closed the first as the newcomer's routine.
//! - **Deterministic ids.** The finding id hashes the profile, the state key and the window
//!   bucket it opened in; each report's id hashes the finding id and its count. Re-applying the
//!   same events after a save conflict or a retry, in any order, gives the same ids.

use crate::alert::Tier;
use crate::baseline::{self, describe_hours, Baseline, NoveltyKind, ALL_TYPES};
use crate::catalog::OpType;
use crate::engine::{flags, Destination, Engine, EventContext, ProfileName, Scored, Unit};
use crate::event::{Cloud, PrincipalKind};
use crate::incident::Incident;
use crate::profile::{BaselineRule, Thresholds, MAX_UNITS};
use crate::tuning::Effective;
use crate::window::{Aggregate, Applied, WindowState};
use std::borrow::Cow;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

/// Unusualness a threshold tier needs for an established principal.
pub const UNUSUAL_SCORE: u32 = 2;
/// Catalog rows taken up in the baseline period that make a principal an explorer.
pub const EXPLORER_OPERATIONS: usize = 2;
/// Networks taken up in the baseline period that make a principal a roamer.
pub const ROAMER_NETWORKS: usize = 3;

/// Signs about what was done, as opposed to where and when it was done from.
fn is_content(code: &str) -> bool {
    matches!(
        code,
        "volume"
            | "new_operation"
            | "outside_change_window"
            | "snapshot_boot"
            | "snapshot_mount"
            | "long_export"
    )
}

/// A weak sign about what was done, by what it is completed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum WeakSign {
    #[default]
    None,
    /// A first capture, code execution, share or risky variant by a principal with a settled
    /// history: completed by a new network, or for a workload by any other sign.
    Settled,
    /// A first risky variant of a lifecycle call of risk 2 or more (a GPU size, IMDSv1), or a
    /// first removal of a defense tool, by a principal with a thin history: it names its threat
    /// itself ([`threat_of`]), where a thin history's first capture may be any routine, but
    /// only a new network completes it, as a thin history's hours and places say little; for a
    /// workload, a region or resource group it never used does too (automation repeats itself).
    Threat,
    /// A thin history's first revert (a backup restored, a failover, a root volume replaced):
    /// a person's names its threat as [`WeakSign::Threat`] does, as a restore puts a copy of
    /// the data, or an old machine, where the restorer chose; a patching workload's or a DR
    /// drill's may be its monthly routine, from a hosted runner's new address each time.
    PersonThreat,
}

/// What an established principal's window shows, beyond the weighted reasons.
#[derive(Debug, Clone, Copy, Default)]
struct Signs {
    /// A weak sign about what was done.
    weak: WeakSign,
    /// The principal is a workload (service principal, managed identity, automation role).
    workload: bool,
    /// The window holds a person's revert ([`Aggregate::person_reverts`]): what completes
    /// [`WeakSign::PersonThreat`], whoever made the window's last call (a role key used by
    /// people's sessions and by automation's).
    person_revert: bool,
    /// The window holds a technique's whole shape ([`Aggregate::whole_technique`]), for a
    /// principal being learned or not known to be new, whose tier would otherwise not fire.
    whole: bool,
}

/// An established principal's tier fires on [`UNUSUAL_SCORE`] when the signs about what was
/// done weigh [`UNUSUAL_SCORE`] on their own. Where and when never make a finding alone,
/// except as a sign of stolen credentials that ordinary life does not produce:
/// - a person with a settled history that rotates through two new networks in a window (a
///   trip brings one, and shifted hours with it; every network of a rare user is new);
/// - a workload acting from a new network at an hour it never acts at (workloads do not
///   travel; an egress change brings new addresses, at the usual hours);
/// - a workload that acts on a schedule acting hours away from it, or deleting with a weekly
///   row on another day (`off_schedule`): a nightly or weekly job's code or credentials used
///   at another time (a rerun by hand, or a schedule changed, is the finding's cost, once or
///   twice).
///
/// A weak sign about what ([`WeakSign`]: a first capture, code execution or share by a settled
/// principal that explores, or a thin history's first GPU launch) is completed by a new
/// network, or for a settled workload by any other sign: an admin's first VM delete from a
/// hotel is not a finding, its first user-data change from there is; its first image at
/// midnight is an on-call night. A thin-history workload's first GPU launch is completed by a
/// region or resource group it never used too: stolen automation credentials mine where the
/// quota is fresh (the twentieth blind probe's Z06: a Terraform principal's GPU scale set in
/// southeastasia; the twenty-fourth's D10: a pipeline vendor's role's GPU Batch environments
/// in a region the pipelines never use), where a person's new place is its everyday.
fn unusual_enough(reasons: &[Reason], signs: Signs) -> bool {
    let weight =
        |f: &dyn Fn(&str) -> bool| -> u32 { reasons.iter().filter(|r| f(r.code)).map(|r| r.weight).sum() };
    let score = weight(&|_| true);
    let content = weight(&is_content);
    let networks = weight(&|c| c == "new_network");
    let hour = weight(&|c| c == "unusual_hour");
    let schedule = weight(&|c| c == "off_schedule");
    let scope = weight(&|c| c == "new_scope");
    // A schedule's own deletes off it are a workload's, whoever made the window's last call.
    let stolen = schedule >= 1
        || if signs.workload {
            networks >= 1 && hour >= 1
        } else {
            networks >= 2
        };
    // A person's odd hour is an on-call night; only a new network completes its weak sign. A
    // workload's first GPU launch in a region or resource group it never used is completed by
    // that place: people explore, automation repeats itself.
    let completed = match signs.weak {
        WeakSign::Settled => signs.workload || networks >= 1,
        WeakSign::Threat => networks >= 1 || (signs.workload && scope >= 1),
        WeakSign::PersonThreat => signs.person_revert && networks >= 1,
        WeakSign::None => false,
    };
    score >= UNUSUAL_SCORE && (content >= UNUSUAL_SCORE || stolen || completed)
}

/// Does a thin history's first use of this row (of risk 2 or more) name its threat itself?
/// A lifecycle call's risky variant does (a GPU size, IMDSv1, a delete that drops the backups),
/// and so does a protection change that disables a defense tool (ATT&CK T1562.001 among its
/// `related`: a security agent's extension removed): no first look explains blinding a
/// machine. Not every protection change: a disk encryption set or a Recycle Bin rule is
/// provisioning a rare admin does from wherever it is. A revert does for a person
/// ([`WeakSign::PersonThreat`]): a rare user's first restore from a place it was never seen at
/// is how the probes' stolen sessions reached a database's data (a backup restored into the
/// attacker's subnet, a failover to an old recovery point), and a rare admin's DR drill runs
/// from its usual place (BENCHMARKS, "A rare user's first restore from a new network"). Every
/// revert row of 2 points or more is one (all of them today): a restore, a failover (a DR drill's test failover too, from the drill's
/// usual place), a reimage, a root volume replaced, a Recycle Bin or archive tier restore, a
/// WorkSpace rebuilt. Its risky variant (the replaced root volume deleted, a restore made
/// public) alerts for a person even while it is learned ([`learned_fires`]: no troubleshooting
/// needs it). Only a new network completes either.
fn threat_of(row: &crate::catalog::Entry) -> WeakSign {
    if row.risk < 2 {
        WeakSign::None
    } else if row.op_type.is_lifecycle()
        || (row.op_type == OpType::Impair && row.related.iter().any(|t| t == DISABLE_TOOLS))
    {
        WeakSign::Threat
    } else if row.op_type == OpType::Revert {
        WeakSign::PersonThreat
    } else {
        WeakSign::None
    }
}

/// ATT&CK's Impair Defenses: Disable or Modify Tools.
const DISABLE_TOOLS: &str = "T1562.001";

/// A protection change (serial console, metadata options, deletion protection) or a
/// generalize: rare in anyone's routine and made to weaken or copy a machine, so a new
/// principal's lowest tier alerts with one whatever its points. Not an image pipeline's
/// generalize of its own build VM ([`Aggregate::impairing`]).
fn impairs(agg: &Aggregate) -> bool {
    agg.impairing > 0
}

/// Create a finding, or update the open one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// A new finding (OCSF activity 1).
    Create,
    /// The open finding grew (OCSF activity 2).
    Update,
}

/// One sign of why activity is unusual for its principal, or why it is judged as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// Machine-readable: `volume`, `new_operation`, `new_network`, `unusual_hour`, `new_scope`,
    /// `outside_change_window`, `new_destination`, `no_history`, `learning`, `short_observation`,
    /// `root_user`, `instance_credentials_outside_aws`.
    pub code: &'static str,
    /// What an analyst reads.
    pub detail: String,
    /// Its weight towards [`UNUSUAL_SCORE`] (0: context only).
    pub weight: u32,
}

/// A decision to report.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Tier reported.
    pub tier: Tier,
    /// Create or update.
    pub activity: Activity,
    /// `finding_info.uid`.
    pub finding_uid: String,
    /// This report's deterministic id (`metadata.correlation_uid`, the dedup key).
    pub decision_uid: String,
    /// Reports of this finding so far, this one included.
    pub count: u32,
    /// The window's totals.
    pub agg: Aggregate,
    /// The principal had enough history to be judged against its baseline.
    pub established: bool,
    /// Why it is unusual (established) or why plain thresholds applied (not).
    pub reasons: Vec<Reason>,
    /// For an update: what changed since the last report.
    pub updated_because: Vec<String>,
    /// The catalog row of a single-event critical in this report.
    pub critical: Option<String>,
}

fn hex128(parts: &str) -> String {
    format!("{:032x}", xxh3_128(parts.as_bytes()))
}

/// Apply one event to its window and decide what to report.
pub fn step(state: &mut WindowState, engine: &Engine, s: &Scored) -> (Applied, Vec<Verdict>) {
    let eff = engine.effective(&s.ctx.account);
    match engine.profile.name {
        ProfileName::SeedKql => {
            let applied = state.apply(s, &eff);
            let out = if applied == Applied::Counted {
                seed_step(state, engine, &eff, s)
            } else {
                Vec::new()
            };
            (applied, out)
        }
        ProfileName::Default => {
            let s = mark_known_destination(state, engine, &eff, s);
            let applied = state.apply(&s, &eff);
            let out = if applied == Applied::Counted {
                baseline_step(state, engine, &eff, &s)
            } else {
                Vec::new()
            };
            (applied, out)
        }
    }
}

/// The seed's decision: one report per tier per window, as the scheduled rule would.
fn seed_step(state: &mut WindowState, engine: &Engine, eff: &Effective, s: &Scored) -> Vec<Verdict> {
    let agg = state.aggregate(&engine.catalog, engine.profile.name);
    let Some(tier) = eff.thresholds.tier(&agg).filter(|&t| !state.fired_at_or_above(t)) else {
        return Vec::new();
    };
    // At the window's newest time, not the event's: a late event that crosses the threshold
    // must not date the report back, or it would leave the window early and the same tier
    // fire again for the same activity.
    let at = state.max_t.max(s.ctx.time_ms);
    state.record_fired(tier, 0, at);
    let bucket = at.div_euclid(eff.window_ms.max(1));
    let uid = hex128(&format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}0\u{1f}{bucket}",
        engine.profile.name.as_str(),
        state.key,
        tier.as_str()
    ));
    vec![Verdict {
        tier,
        activity: Activity::Create,
        finding_uid: uid.clone(),
        decision_uid: uid,
        count: 1,
        agg,
        established: false,
        reasons: Vec::new(),
        updated_because: Vec::new(),
        critical: None,
    }]
}

/// A critical share to destinations the principal already shared to in the baseline period
/// is marked, so it counts as evidence and not as a critical; so is one whose recipients are
/// known or the organization's own ([`crate::own`]), marked as such too.
fn mark_known_destination<'a>(
    state: &WindowState,
    engine: &Engine,
    eff: &Effective,
    s: &'a Scored,
) -> Cow<'a, Scored> {
    let c = &s.ctx;
    let Some(rule) = eff.baseline.filter(|r| r.known_destinations) else {
        return Cow::Borrowed(s);
    };
    if !c.critical || c.public || c.more_destinations > 0 || c.destinations.is_empty() {
        return Cow::Borrowed(s);
    }
    let bits = if c.destinations.iter().all(|d| knows(state, &rule, s, d)) {
        flags::KNOWN_DESTINATION
    } else if own_recipients(engine, c, |d| knows(state, &rule, s, d)) {
        flags::KNOWN_DESTINATION | flags::OWN_DESTINATION
    } else {
        return Cow::Borrowed(s);
    };
    let mut s = s.clone();
    for u in &mut s.units {
        u.flags |= bits;
    }
    Cow::Owned(s)
}

/// Are the recipients of a critical share or copy the organization's own, or known, with at
/// least one own? The shared Azure gallery, kept beside its recipients to learn its removals, is
/// no recipient; a share that names only it (its recipients not logged) is not one of ours.
/// An export never is: it is made from one of our accounts, and says nothing of where it goes.
fn own_recipients(engine: &Engine, c: &EventContext, known: impl Fn(&str) -> bool) -> bool {
    let gallery = |d: &str| c.cloud == Cloud::Azure && d.contains("/providers/microsoft.compute/galleries/");
    let mut own = false;
    for d in c.destinations.iter().filter(|d| !gallery(d)) {
        if ours(engine, d) {
            own = true;
        } else if !known(d) {
            return false;
        }
    }
    own
}

/// Is a share's recipient, or a copy's source, one of the organization's own accounts?
fn ours(engine: &Engine, d: &str) -> bool {
    match Destination::of(d) {
        Destination::Recipient(n) | Destination::CopiedFrom(n) => engine.owns(n),
        Destination::ExportedFrom(_) => false,
    }
}

/// Did the principal share to `d` in the baseline period of the event, or, for an export,
/// make such exports there on `routine_export_days` of its days (a workload: a backup product
/// or a scanner, every night), or one day more for a person, whose exports are rarely a routine
/// and whose stolen session's third night should not be one?
fn knows(state: &WindowState, rule: &BaselineRule, s: &Scored, d: &str) -> bool {
    let h = baseline::place_hash(d);
    let c = &s.ctx;
    if matches!(Destination::of(d), Destination::ExportedFrom(_)) {
        let days = rule.routine_export_days.saturating_add(u32::from(by_person(s)));
        return rule.routine_export_days > 0 && state.baseline.destination_days(h, c.time_ms, rule) >= days;
    }
    state.baseline.knows_destination(h, c.time_ms, rule)
}

/// Another account's use of a snapshot shared with it (a copy or a volume made from it, which
/// AWS logs in the sharing account as that account's call). While that account is being learned
/// it is evidence, not a critical: the share it uses may be years old (the detector was not
/// looking), and a share made while the detector watches raised its own critical, the sharer's.
/// Agentless scanners' vendors and backup vaults copy every day, so every backtest's first day
/// alerted for each of them beside their sharers. The cost: a share by an allowlisted principal
/// or a service (a DLM or AWS Backup copy rule) raises no critical, so another account copying
/// through one in the learning days is not reported, and is a known destination after.
fn recipient_use(c: &EventContext) -> bool {
    c.principal_kind == PrincipalKind::AwsAccount && c.op_type == OpType::Exfil
}

/// Does the scored call carry `flag` ([`flags`]: set on every unit of a call, when it was
/// scored, or when its destinations were found known)?
fn flagged(s: &Scored, flag: u8) -> bool {
    s.units.first().is_some_and(|u| u.flags & flag != 0)
}

/// A workload's read of a disk's or a snapshot's data in place: a download URL (Azure's
/// `beginGetAccess`) or a read through the EBS direct APIs. While the workload is being learned,
/// and while one found at work then is in its account's first baseline period
/// ([`found_at_work`]), it is evidence, not a critical, as another account's use of a share is:
/// a backup product or a scanner reads every night or every week, it began before the detector
/// looked, and each product's first nights in each account were criticals at every deployment
/// (the twelfth probe's backup vendor: 3 of its 10 AWS benign findings; a weekly product's first
/// two weeks: 2 of the fourteenth's 8, and both of its last five days'). An export that writes a copy elsewhere (an image or
/// instance export, a store task, an RDS export) stays a critical, and so does a person's read
/// (an IAM or Entra user's, an Identity Center or email-named session's: [`by_person`]) and a
/// workload's first seen after the learning days. Off with `routine_export_days = 0` (every
/// export a critical). The cost: a workload's stolen credentials reading data in an account's
/// first two weeks of observation raise no critical; the tiers still judge the window.
fn learned_read(engine: &Engine, rule: &BaselineRule, s: &Scored) -> bool {
    rule.routine_export_days > 0
        && !by_person(s)
        && s.ctx
            .destinations
            .iter()
            .any(|d| matches!(Destination::of(d), Destination::ExportedFrom(_)))
        && engine
            .catalog
            .get(&s.ctx.catalog_id)
            .is_some_and(crate::catalog::Entry::reads_in_place)
}

/// Was the principal already at work when the detector began (first seen in its account's
/// learning days, not before them: a store continued with a later start knows it), is the account
/// still in its first baseline period, and is this read in the account's first week or after a
/// read of the same kind on an earlier day? A weekly job makes its first two reads in that time,
/// which the detector has no chance to see as its routine; a workload that only stopped a machine
/// in the learning days and reads data for the first time in its second week is not that job.
fn found_at_work(state: &WindowState, rule: &BaselineRule, observed: Option<i64>, s: &Scored) -> bool {
    const WEEK_MS: i64 = 7 * baseline::DAY_MS;
    let (Some(o), t) = (observed, s.ctx.time_ms) else {
        return false;
    };
    let first = state.baseline.first_seen();
    let read_before = || {
        s.ctx.destinations.iter().any(|d| {
            matches!(Destination::of(d), Destination::ExportedFrom(_))
                && state.baseline.knows_destination(baseline::place_hash(d), t, rule)
        })
    };
    first.is_some_and(|f| f >= o)
        && rule.learning(first, observed)
        && t < o.saturating_add(rule.days_ms())
        && (t < o.saturating_add(WEEK_MS) || read_before())
}

/// Was the call a person's ([`flags::BY_PERSON`])?
fn by_person(s: &Scored) -> bool {
    flagged(s, flags::BY_PERSON)
}

fn type_mask(agg: &Aggregate) -> u16 {
    (0..baseline::TYPES)
        .filter(|&i| agg.type_points[i] > 0)
        .fold(0u16, |m, i| m | (1 << i))
}

/// How a principal is judged: against its own normal, or by why it has none yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Enough history: judged against its own normal.
    Established,
    /// First seen within `min_history_days` of when the detector started seeing its account.
    Learning,
    /// First seen later, but before the detector had watched the account for the baseline
    /// period: perhaps silent all that time, so judged as one back from a break is.
    Unproven,
    /// First seen while the detector was watching long enough: the seed's thresholds.
    New,
}

/// Whether a reason's `detail` is written. Only a verdict shows it, and formatting it for
/// every event that decides nothing was about one in twenty of a replay's allocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Text {
    Skip,
    Write,
}

impl Text {
    fn of(self, detail: impl FnOnce() -> String) -> String {
        match self {
            Text::Write => detail(),
            Text::Skip => String::new(),
        }
    }
}

fn standing(
    state: &WindowState,
    engine: &Engine,
    rule: &BaselineRule,
    c: &EventContext,
) -> (Standing, Option<i64>) {
    let observed = engine.observed_since_for(rule, c.cloud, &c.account);
    let first_seen = state.baseline.first_seen();
    let standing = if state.baseline.established(c.time_ms, rule) {
        Standing::Established
    } else if rule.learning(first_seen, observed) {
        Standing::Learning
    } else if rule.unproven(first_seen, observed) {
        Standing::Unproven
    } else {
        Standing::New
    };
    (standing, observed)
}

/// The default profile's decision on one counted event: judge the window against the
/// principal's own normal, then open or update its finding when the activity makes one.
fn baseline_step(state: &mut WindowState, engine: &Engine, eff: &Effective, s: &Scored) -> Vec<Verdict> {
    let c = &s.ctx;
    let t = c.time_ms;
    let agg = state.aggregate(&engine.catalog, engine.profile.name);
    let judged = eff.baseline.map(|r| (r, standing(state, engine, &r, c)));
    let learned_use = match judged {
        Some((r, (Standing::Learning, _))) => recipient_use(c) || learned_read(engine, &r, s),
        Some((r, (Standing::Established, observed))) => {
            found_at_work(state, &r, observed, s) && learned_read(engine, &r, s)
        }
        _ => false,
    };
    let critical = c.critical && !flagged(s, flags::KNOWN_DESTINATION) && !learned_use;
    // Most events decide nothing: their reasons are weighed without their text, and written
    // out (the same reasons, judged again) only for a verdict.
    let (reasons, weak) = judge(state, engine, eff, &agg, judged, t, Text::Skip);
    let tier = eff.thresholds.tier(&agg);
    let signs = Signs {
        weak,
        workload: !by_person(s),
        person_revert: agg.person_reverts > 0,
        whole: whole_shape(state, judged, &agg),
    };
    // Remembered for the days after: a weekly refresh's second week is its routine.
    if agg.booted_from_snapshot > 0 && judged.is_some() {
        state.baseline.record_snapshot_boot(agg.booted_at);
    }
    if agg.mounted_from_snapshot > 0 && judged.is_some() {
        state.baseline.record_snapshot_mount(agg.mounted_at);
    }
    let judged_fires =
        tier.filter(|&tr| fires_at(tr, judged.map(|(r, (st, _))| (r, st)), &agg, &reasons, signs));
    let root = c.principal_kind == PrincipalKind::Root;
    let fires = if root {
        tier
    } else if c.outside_aws {
        // One call is enough: no routine has an instance's credentials leave AWS.
        tier.or(Some(Tier::Suspicious))
    } else {
        judged_fires
    };
    let disc =
        critical.then(|| xxh3_64(format!("{}\u{1f}{:?}", c.catalog_id, c.destinations).as_bytes()) as u32);
    let open = open_finding(state, eff, t, disc, escalation(eff));
    let (activity, inc, updated_because) = match open {
        Some(inc) => {
            let decided = Decided {
                critical,
                judged_fires,
                fires,
                disc,
            };
            let Some((inc, why)) = update_finding(state, eff, inc, &agg, decided, t) else {
                return Vec::new();
            };
            (Activity::Update, inc, why)
        }
        None if critical || fires.is_some() => {
            let inc = new_incident(engine, &state.key, t, eff.window_ms);
            (Activity::Create, inc, Vec::new())
        }
        None => return Vec::new(),
    };
    let now = if critical {
        Tier::Critical
    } else {
        fires.or(tier).unwrap_or(Tier::Suspicious)
    };
    let (mut reasons, _) = judge(state, engine, eff, &agg, judged, t, Text::Write);
    if root {
        reasons.push(root_reason());
    }
    if c.outside_aws {
        reasons.push(outside_aws_reason(c));
    }
    if critical && !c.destinations.is_empty() {
        reasons.push(destination_reason(
            c,
            |d| eff.baseline.is_some_and(|r| knows(state, &r, s, d)),
            |d| ours(engine, d),
        ));
    }
    let finding = Finding {
        activity,
        inc,
        updated_because,
        now,
        disc,
        established: judged.is_some_and(|(_, (st, _))| st == Standing::Established),
        reasons,
        critical: critical.then(|| c.catalog_id.clone()),
    };
    vec![record(state, agg, t, finding)]
}

/// A principal being learned or not known to be new has no normal to weigh against, but a
/// technique's whole shape needs none: a sequence that tells, a person's machine booted from
/// (or data read on a machine made for) a disk made from a snapshot outside its routine, or a
/// person's launch sweep.
fn whole_shape(state: &WindowState, judged: Judged, agg: &Aggregate) -> bool {
    let unjudged = matches!(judged, Some((_, (Standing::Learning | Standing::Unproven, _))));
    let known = |t, knows| routine(state, judged, t, knows);
    let boot = agg.booted_by_hand > 0 && !known(agg.booted_at, Baseline::knows_snapshot_boot);
    let mount = agg.mounted_by_hand > 0 && !known(agg.mounted_at, Baseline::knows_snapshot_mount);
    unjudged && (agg.whole_technique || boot || mount || agg.swept_launches > 0)
}

/// The growth factor that makes an open finding's activity news (percent).
fn escalation(eff: &Effective) -> u32 {
    eff.baseline.map_or(200, |r| r.escalation_percent)
}

/// What an event decided before its finding is looked up.
#[derive(Debug, Clone, Copy)]
struct Decided {
    /// A critical not explained by a known destination or a learned read.
    critical: bool,
    /// The tier that fires for the principal's standing.
    judged_fires: Option<Tier>,
    /// The tier that fires (the root user's whatever its standing).
    fires: Option<Tier>,
    /// The critical's row and destinations, hashed.
    disc: Option<u32>,
}

/// The open finding `inc` updated by an event at `t`, with why; `None` when the event is not
/// news (the finding kept open meanwhile by a repeated critical).
fn update_finding(
    state: &mut WindowState,
    eff: &Effective,
    mut inc: Incident,
    agg: &Aggregate,
    d: Decided,
    t: i64,
) -> Option<(Incident, Vec<String>)> {
    // A critical the finding has reported (the same row to the same destinations: a backup
    // product's next download URL of the night, a scanner's next share to its vendor) is news
    // again only at the escalation factor cubed. The root user's tier always fires: whether a
    // critical repeats is judged as for anyone, or its nightly one would update at 2x.
    let repeated =
        d.critical && d.judged_fires.is_none() && d.disc.is_some_and(|x| inc.criticals.contains(&x));
    let pct = escalation(eff);
    let pct = if repeated { cubed(pct) } else { pct };
    let why = growth(&inc, agg, d.fires, d.disc, pct);
    // Growth is news only while the window still makes a finding: routine work later in the
    // day of a finding does not repeat it.
    if why.is_empty() || !(d.critical || d.fires.is_some()) {
        // A repeated critical keeps its finding open, so a nightly one's next night is the same
        // finding; for two windows from its opening only, so that a critical repeated longer (a
        // public share every night) opens a new one, and no finding stays open for ever or is
        // compared with a report days old.
        if repeated && t - inc.opened <= 2 * eff.window_ms {
            inc.last = inc.last.max(t);
            state.incident = Some(inc);
        }
        return None;
    }
    inc.count += 1;
    Some((inc, why))
}

/// The finding an event of time `t` reports in, if one is open ([`Incident::open_at`]): a
/// principal's first days hold it open for work that is not a critical (`disc`), while its
/// operations could still grow by the escalation factor within the window's bound (a report of
/// more than half the window's units could never double: days of mass activity would pass as
/// one report). In those days a critical the finding has not reported, more than a window after
/// it opened, opens its own, however recent the last update: an attack on a newcomer's third
/// day is not an update of a finding an analyst may have closed as the newcomer's routine.
/// `escalation` is the growth an update needs, in percent.
fn open_finding(
    state: &WindowState,
    eff: &Effective,
    t: i64,
    disc: Option<u32>,
    escalation: u32,
) -> Option<Incident> {
    let (w, first_days) = (eff.window_ms, state.first_days(eff));
    let i = state.incident.as_ref()?;
    let open = match disc {
        Some(d) => {
            let late_news = i.held_at(t, first_days) && !i.criticals.contains(&d) && t - i.opened > w;
            i.open_at(t, w, None) && !late_news
        }
        None => {
            let (ops, max) = (u64::from(i.operations), MAX_UNITS as u64);
            let can_grow = ops < max && ops * u64::from(escalation) <= 100 * max;
            i.open_at(t, w, None) || (can_grow && i.open_at(t, w, first_days))
        }
    };
    open.then(|| i.clone())
}

/// A principal's standing under the default profile's baseline rule, and since when its
/// account is observed (`None`: no baseline in this scope).
type Judged = Option<(BaselineRule, (Standing, Option<i64>))>;

/// The reasons the activity is (or is not) unusual for its principal, by its standing, and
/// whether it holds a weak sign about what was done ([`WeakSign`]).
fn judge(
    state: &WindowState,
    engine: &Engine,
    eff: &Effective,
    agg: &Aggregate,
    judged: Judged,
    t: i64,
    text: Text,
) -> (Vec<Reason>, WeakSign) {
    match judged {
        Some((rule, (Standing::Established, _))) => {
            unusual(state, engine, agg, &rule, t, &eff.thresholds, text)
        }
        Some((rule, (Standing::Learning, observed))) => {
            let mut out: Vec<Reason> = mass_deletion(state, agg, &rule, &eff.thresholds, text)
                .into_iter()
                .collect();
            out.extend(sweep_reason(agg, text));
            out.push(learning_reason(&rule, observed, text));
            (out, WeakSign::None)
        }
        Some((rule, (Standing::Unproven, observed))) => {
            // A workload's deletes are not judged by the seed's bulk count while it is not
            // known to be new: a weekly retention job's first run after the learning days (an
            // image janitor's 48 deletes) is its routine the detector has not met yet. Its
            // other types are, its people's deletes alone are, and all its deletes together
            // against a mass bar ([`unproven_deletes`]).
            let workload_deletes = agg.type_counts[baseline::type_index(OpType::Delete)] > agg.person_deletes;
            let except = workload_deletes.then_some(OpType::Delete);
            let mut out = volume_reasons(state, agg, &rule, t, &eff.thresholds, (text, except));
            if workload_deletes {
                out.extend(unproven_deletes(state, agg, &rule, t, &eff.thresholds, text));
            }
            out.extend(sweep_reason(agg, text));
            out.push(unproven_reason(state, &rule, observed, agg.threats > 0, text));
            (out, WeakSign::None)
        }
        _ => (no_history(state, eff.baseline.as_ref(), t, text), WeakSign::None),
    }
}

/// A report decided by [`baseline_step`], before it is recorded in the finding.
struct Finding {
    activity: Activity,
    /// The finding as it was (an update) or as it opens (a create).
    inc: Incident,
    updated_because: Vec<String>,
    /// The tier the activity reaches now.
    now: Tier,
    /// The critical's discriminator (its row and destinations), if one is reported.
    disc: Option<u32>,
    established: bool,
    reasons: Vec<Reason>,
    critical: Option<String>,
}

/// Record the report in the window's finding and make its verdict.
fn record(state: &mut WindowState, agg: Aggregate, t: i64, f: Finding) -> Verdict {
    let tier = match f.activity {
        Activity::Create => f.now,
        Activity::Update => f.now.max(f.inc.tier),
    };
    let mut inc = f.inc;
    // A late event's update must not move the finding back: it would leave the window early
    // and the next event open a second finding for the same activity.
    inc.last = inc.last.max(t);
    inc.tier = inc.tier.max(tier);
    inc.operations = agg.operation_count;
    inc.risk = agg.total_risk;
    inc.types |= type_mask(&agg);
    if let Some(d) = f.disc {
        inc.add_critical(d);
    }
    let verdict = Verdict {
        tier,
        activity: f.activity,
        finding_uid: inc.uid.clone(),
        decision_uid: hex128(&format!("{}\u{1f}{}", inc.uid, inc.count)),
        count: inc.count,
        agg,
        established: f.established,
        reasons: f.reasons,
        updated_because: f.updated_because,
        critical: f.critical,
    };
    state.incident = Some(inc);
    verdict
}

/// Whether the seed's tier `tier` is a finding for a principal of this standing (`None`: no
/// baseline, the plain thresholds).
fn fires_at(
    tier: Tier,
    judged: Option<(BaselineRule, Standing)>,
    agg: &Aggregate,
    reasons: &[Reason],
    signs: Signs,
) -> bool {
    match judged {
        Some((_, Standing::Established)) => unusual_enough(reasons, signs),
        // Nothing to compare with yet (being learned: the detector was not looking): a
        // protection change, a technique's whole shape or a person's revert whose request names
        // its threat (the replaced volume deleted) needs no history to tell, nor does a mass
        // action against the little history there is (`judge` weighs a learned principal's by
        // its people's deletes alone, a higher bar). The same holds for one not known to be new.
        Some((_, Standing::Learning)) => learned_fires(agg, reasons, signs),
        // A window holding a person's lifecycle call whose request names its threat (a GPU
        // launch, IMDSv1), by a principal first seen after the learning days, meets a new
        // principal's thresholds: a rare user's silence explains its routine, not a GPU fleet.
        // One being learned may have launched them for years before the detector looked, and a
        // workload's may be a weekly image pipeline's GPU build.
        Some((rule, Standing::Unproven)) => {
            learned_fires(agg, reasons, signs) || (agg.threats > 0 && new_fires(tier, &rule, agg))
        }
        Some((rule, Standing::New)) => new_fires(tier, &rule, agg),
        None => true,
    }
}

/// A principal without history meets the seed's thresholds; the lowest (risk alone) from the
/// rule's points.
fn new_fires(tier: Tier, rule: &BaselineRule, agg: &Aggregate) -> bool {
    tier > Tier::Suspicious || agg.total_risk >= rule.new_principal_risk || impairs(agg)
}

/// What makes a finding of a principal being learned or not known to be new: a protection
/// change, a technique's whole shape, a person's risky revert (one whose request names its
/// threat: the replaced volume deleted, a restore made public), or a mass action against the
/// little history there is.
fn learned_fires(agg: &Aggregate, reasons: &[Reason], signs: Signs) -> bool {
    impairs(agg) || signs.whole || agg.person_risky_reverts > 0 || reasons.iter().any(|r| r.code == "volume")
}

/// A finding opened at `t`. Its id is the window bucket's, not the event's: writers that race on
/// one key open the same finding whichever of their events crossed first. Two findings of one
/// principal never open in one bucket (the first stays open past its end).
fn new_incident(engine: &Engine, key: &str, t: i64, window_ms: i64) -> Incident {
    let bucket = t.div_euclid(window_ms.max(1));
    Incident {
        uid: hex128(&format!(
            "{}\u{1f}{key}\u{1f}finding\u{1f}{bucket}",
            engine.profile.name.as_str(),
        )),
        opened: t,
        last: t,
        count: 1,
        tier: Tier::Suspicious,
        operations: 0,
        risk: 0,
        types: 0,
        criticals: Vec::new(),
    }
}

/// A critical share or copy to destinations the principal has not shared to before: those
/// are named, the known ones and the organization's own beside them counted apart (an own
/// account never shared to is not a known one to the analyst), and so are recipients past what
/// a baseline remembers (never judged known).
fn destination_reason(c: &EventContext, known: impl Fn(&str) -> bool, own: impl Fn(&str) -> bool) -> Reason {
    let (mine, rest): (Vec<&String>, Vec<&String>) = c.destinations.iter().partition(|d| own(d));
    let (old, new): (Vec<&String>, Vec<&String>) = rest.into_iter().partition(|d| known(d));
    let names = |v: &[&String]| {
        v.iter()
            .map(|d| Destination::of(d).name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let any = |f: fn(Destination) -> bool| c.destinations.iter().any(|d| f(Destination::of(d)));
    // A copy into the account names where it read from, not where it sent to.
    let copy = any(|d| matches!(d, Destination::CopiedFrom(_)));
    let export = any(|d| matches!(d, Destination::ExportedFrom(_)));
    let mut detail = match (c.public, new.is_empty()) {
        (true, true) => "public share".to_string(),
        (true, false) => format!("public share; also to {}", names(&new)),
        (false, false) if export => format!("not an export it makes routinely from {}", names(&new)),
        (false, false) if copy => format!("copied from a new source {}", names(&new)),
        (false, false) => format!("new destination {}", names(&new)),
        (false, true) => "no new destination among those kept".to_string(),
    };
    if !old.is_empty() {
        detail.push_str(&format!(" (and {} known: {})", old.len(), names(&old)));
    }
    if !mine.is_empty() {
        let n = mine.len();
        detail.push_str(&format!(" (and {n} of the organization's own: {})", names(&mine)));
    }
    if c.more_destinations > 0 {
        detail.push_str(&format!(
            "; {} more recipients not judged (a share to more than {} is never to known destinations)",
            c.more_destinations,
            baseline::MAX_PLACES
        ));
    }
    Reason {
        code: "new_destination",
        detail,
        weight: 0,
    }
}

/// Why an open finding should be reported again, if it should.
fn growth(inc: &Incident, agg: &Aggregate, fires: Option<Tier>, disc: Option<u32>, pct: u32) -> Vec<String> {
    let mut why = Vec::new();
    if let Some(f) = fires.filter(|&f| f > inc.tier) {
        why.push(format!("reached the {} tier", f.as_str()));
    }
    let grew = |now: u32, then: u32| now > then && u64::from(now) * 100 >= u64::from(then) * u64::from(pct);
    if grew(agg.operation_count, inc.operations) {
        why.push(format!(
            "operations grew from {} to {}",
            inc.operations, agg.operation_count
        ));
    }
    if grew(agg.total_risk, inc.risk) {
        why.push(format!("risk grew from {} to {}", inc.risk, agg.total_risk));
    }
    let new_types = type_mask(agg) & !inc.types;
    for i in (0..baseline::TYPES).filter(|i| new_types & (1 << i) != 0) {
        why.push(format!("new operation type {}", ALL_TYPES[i].as_str()));
    }
    if disc.is_some_and(|d| !inc.criticals.contains(&d)) {
        why.push("a new single-event critical".into());
    }
    why
}

/// A growth factor (percent) cubed: 200 % (2x) gives 800 % (8x).
fn cubed(pct: u32) -> u32 {
    let x = u64::from(pct);
    u32::try_from(x * x * x / 10_000).unwrap_or(u32::MAX)
}

fn type_label(t: OpType, n: u32) -> String {
    let word = match t {
        OpType::Delete => "delete",
        OpType::CreateOrModify => "create/modify",
        OpType::Capture => "capture",
        OpType::Generalize => "generalize",
        OpType::Deallocate => "stop/deallocate",
        OpType::ExtensionChange => "extension change",
        OpType::Share => "share",
        OpType::Exfil => "export",
        OpType::Impair => "protection change",
        OpType::Revert => "revert",
        OpType::Exec => "code execution",
        OpType::Other => "other",
    };
    format!("{n} {word} operation{}", if n == 1 { "" } else { "s" })
}

/// Is `count` unusual against the largest count of a baseline period (a day's, or an hour's)?
/// Above `volume_factor` x the largest, and above it by the seed's bulk count: small numbers vary more than a factor says. Counts,
/// not points: points above the bar made by a few dearer operations than usual are the ordinary
/// spread of a day's work (the seed's risk tiers judge points), and stop/deallocate weigh none.
fn above(largest: u32, count: u32, rule: &BaselineRule, th: &Thresholds) -> bool {
    above_by(largest, count, rule, th.bulk_operations)
}

/// [`above`] with the margin over the largest day given.
fn above_by(largest: u32, count: u32, rule: &BaselineRule, margin: u32) -> bool {
    let scaled = (u64::from(largest) * u64::from(rule.volume_percent)).div_ceil(100);
    u64::from(count) > scaled.max(u64::from(largest) + u64::from(margin))
}

/// All operation types together pass the bar by twice the bulk count: a day's mix of types
/// varies more than one type does. One VM made or changed by hand (VM and disk writes, an
/// extension, a deallocate) is six to eight operations of two or three types, none above the
/// bulk count, for a rare user whose largest day is none (BENCHMARKS, "A VM made by hand is
/// not a volume").
fn above_together(largest: u32, count: u32, rule: &BaselineRule, th: &Thresholds) -> bool {
    above_by(largest, count, rule, th.bulk_operations.saturating_mul(2))
}

fn volume_reason(
    what: impl FnOnce() -> String,
    points: u32,
    v: &baseline::Volume,
    rule: &BaselineRule,
    text: Text,
) -> Reason {
    Reason {
        code: "volume",
        detail: text.of(|| {
            format!(
                "{} ({points} points) in 24 h; largest day in the last {}: {} ({} points)",
                what(),
                rule.days,
                v.max_count,
                v.max_points
            )
        }),
        weight: 2,
    }
}

/// A day's volume compressed into an hour: the same test as a day's, against the busiest hour.
fn burst_reason(what: impl FnOnce() -> String, busiest: u32, rule: &BaselineRule, text: Text) -> Reason {
    Reason {
        code: "volume",
        detail: text.of(|| {
            format!(
                "{} within an hour; busiest hour in the last {} days: {busiest}",
                what(),
                rule.days
            )
        }),
        weight: 2,
    }
}

/// Deletes a workload's calls (with its people's) in a window must pass, as a multiple of the
/// seed's bulk count above the largest day before it, to alert while the principal is not known
/// to be new: a weekly retention job's first run after the learning days deletes dozens (the
/// sixth probe's image janitor 24 to 48 a run), a wipe of a fleet or of an account's snapshots
/// more (100 with the seed's bulk count of 5).
const WORKLOAD_MASS_DELETE_BULKS: u32 = 20;

/// The deletes of a principal not known to be new whose window holds a workload's: its
/// people's deletes judged alone by their volume (the workload's beside them do not make a
/// person's one delete a burst), and all of them against [`WORKLOAD_MASS_DELETE_BULKS`].
fn unproven_deletes(
    state: &WindowState,
    agg: &Aggregate,
    rule: &BaselineRule,
    t: i64,
    th: &Thresholds,
    text: Text,
) -> Option<Reason> {
    let i = baseline::type_index(OpType::Delete);
    let v = state.baseline.volume(OpType::Delete, t, rule);
    let (all, people) = (agg.type_counts[i], agg.person_deletes);
    if people > 0 && above(v.max_count, people, rule, th) {
        let points = agg.type_points[i] * people / all.max(1);
        let what = || format!("{} by people", type_label(OpType::Delete, people));
        return Some(volume_reason(what, points, &v, rule, text));
    }
    let bar = v
        .max_count
        .saturating_add(th.bulk_operations.saturating_mul(WORKLOAD_MASS_DELETE_BULKS));
    (all > bar).then(|| Reason {
        code: "volume",
        detail: text.of(|| {
            format!(
                "{} in 24 h, more than {bar}: a mass deletion (largest day before: {})",
                type_label(OpType::Delete, all),
                v.max_count
            )
        }),
        weight: 2,
    })
}

/// Deletes people's calls in a window must pass, as a multiple of the seed's bulk count above
/// the largest day before it, to alert while the principal is being learned. Nothing tells a
/// busy person's ordinary day from an unusual one yet, but few people's routine deletes this
/// many machines, disks, snapshots and images in a day; the attacks the probes made deleted 65
/// to 142 (BENCHMARKS, "A person's mass deletion while it is learned").
const MASS_DELETE_BULKS: u32 = 4;

/// A mass deletion by people while the principal is being learned: more of its people's deletes
/// in the window ([`Aggregate::person_deletes`]) than [`MASS_DELETE_BULKS`] x the seed's bulk
/// count above its largest day of deletes (all of its deletes, a pipeline session's too: the
/// higher bar) before the day of the first of them. The days they fall on are left out of the
/// bar, so deletes straddling midnight do not raise it; no factor scales it, as a learned
/// history is a day or two. Workloads' calls are not counted: a backup product or a node
/// autoscaler deletes hundreds a day, and a role's pipeline sessions are not its people.
fn mass_deletion(
    state: &WindowState,
    agg: &Aggregate,
    rule: &BaselineRule,
    th: &Thresholds,
    text: Text,
) -> Option<Reason> {
    if agg.person_deletes == 0 {
        return None;
    }
    let largest = state
        .baseline
        .volume(OpType::Delete, agg.person_deletes_from, rule)
        .max_count;
    let bar = largest.saturating_add(th.bulk_operations.saturating_mul(MASS_DELETE_BULKS));
    (agg.person_deletes > bar).then(|| Reason {
        code: "volume",
        detail: text.of(|| {
            format!(
                "{} by people in 24 h, more than {bar}: a mass deletion (largest day before: {largest})",
                type_label(OpType::Delete, agg.person_deletes)
            )
        }),
        weight: 2,
    })
}

/// Volume of each operation type, and of all together, against the principal's largest day,
/// and of each type in the last hour against its busiest hour; `except`, a type left out of
/// both.
fn volume_reasons(
    state: &WindowState,
    agg: &Aggregate,
    rule: &BaselineRule,
    t: i64,
    th: &Thresholds,
    (text, except): (Text, Option<OpType>),
) -> Vec<Reason> {
    let mut out = Vec::new();
    let hour = state.hour_counts(t);
    // Calls of no points (stops, starts, deallocations) are what a person does to a dev
    // environment at the end of the day, by the dozen (the twenty-seventh blind probe's benign
    // findings): never a volume, of their own or with the rest. The types left out are kept on
    // the stack, as this runs for every event an established principal makes.
    let mut left = [OpType::Delete; ALL_TYPES.len()];
    let mut n = 0;
    if let Some(k) = except {
        (left[0], n) = (k, 1);
    }
    for (i, kind) in ALL_TYPES.iter().enumerate() {
        if agg.type_counts[i] == 0 || left[..n].contains(kind) {
            continue;
        }
        let v = state.baseline.volume(*kind, t, rule);
        let count = agg.type_counts[i].max(v.today_count);
        let points = agg.type_points[i].max(v.today_points);
        if points == 0 && v.max_points == 0 {
            (left[n], n) = (*kind, n + 1);
            continue;
        }
        if above(v.max_count, count, rule, th) {
            out.push(volume_reason(|| type_label(*kind, count), points, &v, rule, text));
        } else if let Some(busiest) = state.busiest_hour(*kind, t, rule) {
            if above(busiest, hour[i], rule, th) {
                out.push(burst_reason(|| type_label(*kind, hour[i]), busiest, rule, text));
            }
        }
    }
    if out.is_empty() {
        let left = &left[..n];
        let v = state.baseline.total_volume(t, rule, left);
        let (left_count, left_points) = left.iter().fold((0, 0), |(c, p), k| {
            let i = baseline::type_index(*k);
            (c + agg.type_counts[i], p + agg.type_points[i])
        });
        let count = agg.operation_count.saturating_sub(left_count).max(v.today_count);
        let points = agg.total_risk.saturating_sub(left_points).max(v.today_points);
        if above_together(v.max_count, count, rule, th) {
            let what = || format!("{count} operation{} of all types", plural(count as usize));
            out.push(volume_reason(what, points, &v, rule, text));
        }
    }
    out
}

/// Everything unusual in the window of an established principal, with its weight, and the weak
/// sign about what it did, if any.
fn unusual(
    state: &WindowState,
    engine: &Engine,
    agg: &Aggregate,
    rule: &BaselineRule,
    t: i64,
    th: &Thresholds,
    text: Text,
) -> (Vec<Reason>, WeakSign) {
    let mut out = volume_reasons(state, agg, rule, t, th, (text, None));
    // A thin history (a person seen on a few days) makes everything look new: its novelties
    // weigh less, and its hours say nothing yet.
    let active = state.baseline.active_days(t, rule);
    let settled = active >= rule.settled_days;
    let people_risky_revert = agg.person_risky_reverts > 0;
    let (ops, weak) = new_operations(
        state,
        engine,
        rule,
        t,
        (settled, active, people_risky_revert),
        text,
    );
    out.extend(ops);
    if agg.booted_from_snapshot > 0 && !state.baseline.knows_snapshot_boot(agg.booted_at, rule) {
        out.push(snapshot_boot_reason(agg.booted_from_snapshot, text));
    }
    if agg.mounted_from_snapshot > 0 && !state.baseline.knows_snapshot_mount(agg.mounted_at, rule) {
        out.push(snapshot_mount_reason(agg.mounted_from_snapshot, text));
    }
    // One reason per kind of novelty (per operation for new operations): networks weigh one
    // each up to two, hours and scopes one however many.
    let list = |kind| state.novel_of(kind).map(|n| n.value.as_str()).collect::<Vec<_>>();
    let networks = list(NoveltyKind::Network);
    if !networks.is_empty() {
        out.push(network_reason(state, rule, t, (&networks, settled), text));
    }
    if let Some(first) = state.novel_of(NoveltyKind::Hour).next() {
        out.push(hour_reason(state, rule, first.t, (settled, active), text));
    }
    // One `off_schedule` at most: a run at the wrong hour on the wrong day is one sign.
    out.extend(schedule_reason(state, th, text).or_else(|| weekday_reason(state, th, text)));
    if let Some(n) = state.novel_of(NoveltyKind::ExportLength).next() {
        out.push(long_export_reason(&n.value, text));
    }
    if state.novel_of(NoveltyKind::Scope).next().is_some() {
        out.push(Reason {
            code: "new_scope",
            detail: text.of(|| {
                format!(
                    "new region or resource group {}",
                    list(NoveltyKind::Scope).join(", ")
                )
            }),
            weight: 1,
        });
    }
    let outside = state
        .units
        .iter()
        .filter(|u| u.flags & flags::OUTSIDE_WINDOW != 0)
        .count();
    if outside > 0 {
        out.push(Reason {
            code: "outside_change_window",
            detail: text.of(|| format!("{outside} operations outside the declared change windows")),
            weight: 2,
        });
    }
    (out, weak)
}

/// Did the principal do it in its baseline period (`knows` says what: boot a machine from a
/// snapshot's disk, a weekly refresh of a test machine from production's snapshot; read one on a
/// machine made for it, a DR drill's test machines), its routine?
fn routine(
    state: &WindowState,
    judged: Judged,
    t: i64,
    knows: fn(&Baseline, i64, &BaselineRule) -> bool,
) -> bool {
    judged.is_some_and(|(rule, _)| knows(&state.baseline, t, &rule))
}

/// A disk the principal made from a snapshot within the hour, attached as a data disk to a
/// machine it launched for the purpose (or created with it), or copied from another
/// subscription: the snapshot's data read where the caller controls it, the mount step of
/// snapshot theft. A restore attaches the disk to the machine it came from, which is no new
/// machine. Unusual whatever else the history holds, unless the principal did it in its
/// baseline period.
fn snapshot_mount_reason(disks: u32, text: Text) -> Reason {
    Reason {
        code: "snapshot_mount",
        detail: text.of(|| {
            let (s, them) = if disks == 1 { ("", "it") } else { ("s", "them") };
            format!(
                "{disks} disk{s} this principal made from a snapshot (or detached from another machine) within the hour attached to a machine made to read {them} (launched in the window, or created with {them}), or copied from another subscription"
            )
        }),
        weight: 2,
    }
}

/// A machine booted from a disk the principal made from a snapshot within the hour: its root
/// swapped for the snapshot's (past its patches, agents and clean-ups), or a new machine built on
/// a copy of another's disk. Unusual whatever else the history holds, unless the principal did
/// it in its baseline period (a weekly refresh): a DR drill that does is worth its one finding.
fn snapshot_boot_reason(machines: u32, text: Text) -> Reason {
    Reason {
        code: "snapshot_boot",
        detail: text.of(|| {
            format!(
                "{machines} machine{} booted from a disk this principal made from a snapshot within the hour (a root volume or OS disk swapped for the snapshot's, or a machine built on it)",
                if machines == 1 { "" } else { "s" }
            )
        }),
        weight: 2,
    }
}

/// New networks weigh one each, up to two; none for a principal that keeps taking up
/// networks (a roamer), and one at most for a thin history: every network of a person seen on
/// a few days is new, and a mobile or home line brings another on each of them, so two are
/// not a sign of stolen credentials yet (they still complete a weak sign).
fn network_reason(
    state: &WindowState,
    rule: &BaselineRule,
    t: i64,
    (networks, settled): (&[&str], bool),
    text: Text,
) -> Reason {
    let day_start = baseline::day_of(t) * baseline::DAY_MS;
    let adopted = state.networks_adopted(day_start - rule.days_ms(), day_start);
    let roamer = adopted >= ROAMER_NETWORKS;
    Reason {
        code: "new_network",
        detail: text.of(|| {
            let habit = if roamer {
                format!(" (it took up {adopted} other networks in {} days)", rule.days)
            } else {
                String::new()
            };
            format!(
                "new network{} {}{habit}",
                plural(networks.len()),
                networks.join(", ")
            )
        }),
        weight: if roamer {
            0
        } else {
            networks.len().min(if settled { 2 } else { 1 }) as u32
        },
    }
}

/// Activity at hours unusual for the principal, first at `first_t`: one point once its history
/// is settled, none before.
fn hour_reason(
    state: &WindowState,
    rule: &BaselineRule,
    first_t: i64,
    (settled, active): (bool, u32),
    text: Text,
) -> Reason {
    Reason {
        code: "unusual_hour",
        detail: text.of(|| {
            let thin = if settled {
                String::new()
            } else {
                format!(" (active on {active} of the last {} days)", rule.days)
            };
            let hours: Vec<&str> = state
                .novel_of(NoveltyKind::Hour)
                .map(|n| n.value.as_str())
                .collect();
            format!(
                "{}{thin}; this at {}",
                describe_hours(state.baseline.usual_hours(first_t, rule)),
                hours.join(", ")
            )
        }),
        weight: u32::from(settled),
    }
}

/// A person's launches by hand across regions within the hour ([`Aggregate::swept_launches`]):
/// a stolen key's mining sweep, each region's quota fresh (the twenty-second probe's C01: a
/// legacy CI user's key launching seven large instances in three regions at 02:00). Named for
/// a principal being learned or not known to be new, whose technique's whole shape it is.
fn sweep_reason(agg: &Aggregate, text: Text) -> Option<Reason> {
    (agg.swept_launches > 0).then(|| Reason {
        code: "launch_sweep",
        detail: text.of(|| {
            format!(
                "{} instances launched by hand within the hour, while acting in {} regions",
                agg.swept_launches, agg.swept_regions
            )
        }),
        weight: 2,
    })
}

/// A delete of a workload's (not a person's session's): what a job's schedule is judged by.
fn workload_delete(u: &Unit) -> bool {
    u.kind == OpType::Delete && u.flags & flags::BY_PERSON == 0
}

/// Hours from a schedule that make a call off it: more than a job's drift, a daylight-saving
/// shift or a slow run.
const OFF_SCHEDULE_HOURS: u32 = 3;

/// An established principal that acts on a schedule ([`Baseline::schedule`]) whose workload
/// calls delete in bulk (more than four times the seed's bulk count in the window: the bar of
/// a mass deletion by people, without their largest day, which a janitor's run is) at least
/// [`OFF_SCHEDULE_HOURS`] from it. A job's history says when it runs more sharply than any
/// threshold says how much: the weekly janitor that deletes 80 snapshots every Sunday at 04:00
/// deletes as many on a Wednesday afternoon when its code or its credentials are someone
/// else's (the twenty-first probe's B09), and nothing else about it is new. Deletes only: a
/// release train's hotfix deploy off its hour creates and changes a few things. Not people's
/// calls (people keep no schedule), and not a principal with a thin schedule (two runs, or a
/// spread of hours: an hourly or a busy job, or an event-driven one whose few runs fell at
/// 14:00, 16:00 and 18:00, keeps none).
fn schedule_reason(state: &WindowState, th: &Thresholds, text: Text) -> Option<Reason> {
    let (hours, days) = state
        .novel_of(NoveltyKind::Hour)
        .find_map(|n| state.baseline.schedule(n.t))?;
    let away = |t: i64| baseline::hours_away(hours, baseline::hour_of(t));
    let (count, first) = state
        .units
        .iter()
        .filter(|u| workload_delete(u) && away(u.t) >= OFF_SCHEDULE_HOURS)
        .fold((0u32, i64::MAX), |(n, first), u| (n + 1, first.min(u.t)));
    let bar = th.bulk_operations.saturating_mul(MASS_DELETE_BULKS);
    (count > bar).then(|| Reason {
        code: "off_schedule",
        detail: text.of(|| {
            let h = baseline::hour_of(first);
            format!(
                "runs on a schedule ({}, on {days} days of its history); {} deletes {} hours or more from it, the first at {h:02}:00-{:02}:00 ({} hours from it)",
                describe_hours(hours),
                count,
                OFF_SCHEDULE_HOURS,
                (h + 1) % 24,
                away(first)
            )
        }),
        weight: 2,
    })
}

/// An export whose SAS URL reads more than four times as long as any the principal asked for
/// in the month before ([`NoveltyKind::ExportLength`]: the top of the longest one's power of
/// two of hours). A backup product exports a disk for
/// an hour and closes it within minutes, every night; the same identity asking for a day is
/// someone reading the disk at leisure: the twenty-second probe's X04, a compromised media
/// agent's service principal exporting a patient database's disks for 24 hours, on its usual
/// host, at its usual hours, with its usual operations. Content, as a volume is: the export
/// itself is what is odd.
fn long_export_reason(value: &str, text: Text) -> Reason {
    Reason {
        code: "long_export",
        detail: text.of(|| format!("an export's SAS URL asked for {value}")),
        weight: 2,
    }
}

/// Weekday names by day number mod 7 (day 0, 1 January 1970, was a Thursday).
const WEEKDAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

/// A row's weekday and its days of use on it ([`Baseline::weekday_of`]).
type Weekly = (i64, u32);

/// An established principal's workload deletes, the seed's bulk count of them in the window,
/// of rows it uses on one weekday only ([`Baseline::weekday_of`]), on another day. A weekly
/// job's history says which day it runs as sharply as its hours do, and a job that runs at its
/// usual hour on the wrong day is the other half of [`schedule_reason`]: the twenty-second
/// probe's C13 and X13, a governance role's and an automation account's weekly snapshot
/// cleanups, their filters changed to take the incident's evidence and recent backups, ran on
/// the Friday and Saturday before their Sunday at their usual 05:00, and deleted a handful
/// where their Sundays delete fifty. The principal may act every day (the governance role
/// tags and stops machines daily): the row's days are its own. Not a run into the next day's
/// first [`OFF_SCHEDULE_HOURS`] (an overrun, or a local schedule's daylight-saving shift) or in
/// the last hour of the day before (the shift the other way), nor the row's use on the same
/// day of the month before (a monthly run of the weekly job's row). A schedule changed for
/// good is the finding's cost once (twice if four runs on the old day are still in the month
/// before the new day's second). Judged only where the schedule's hours say nothing
/// ([`schedule_reason`]): a run at the wrong hour on the wrong day is one sign.
fn weekday_reason(state: &WindowState, th: &Thresholds, text: Text) -> Option<Reason> {
    let bar = th.bulk_operations.max(1);
    // Most windows hold fewer: nothing to read of the rows' days.
    if (state.units.iter().filter(|u| workload_delete(u)).count() as u32) < bar {
        return None;
    }
    // A window's units are mostly a few rows on a day or two: each (row, day) is read once.
    let mut seen: Vec<(u32, i64, Option<Weekly>)> = Vec::new();
    let mut off = |u: &Unit| {
        let day = baseline::day_of(u.t);
        let usual = match seen.iter().find(|s| s.0 == u.op && s.1 == day) {
            Some(s) => s.2,
            None => {
                let b = &state.baseline;
                let w = b.weekday_of(u.op, day).filter(|_| !b.monthly(u.op, day));
                seen.push((u.op, day, w));
                w
            }
        }?;
        let after = (day - usual.0).rem_euclid(7);
        let hour = baseline::hour_of(u.t);
        // Past midnight into the next day by a few hours: a run that overran, or a local
        // schedule's daylight-saving shift; the hour before midnight of the day before: the
        // shift the other way.
        let shifted = (after == 1 && hour < OFF_SCHEDULE_HOURS) || (after == 6 && hour == 23);
        (after != 0 && !shifted).then_some((day, usual))
    };
    let (count, last) = state
        .units
        .iter()
        .filter(|u| workload_delete(u))
        .filter_map(&mut off)
        .fold((0u32, None), |(n, _), x| (n + 1, Some(x)));
    let (day, (usual, days)) = last?;
    (count >= bar).then(|| Reason {
        code: "off_schedule",
        detail: text.of(|| {
            format!(
                "deletes on {}s only (on {days} days of its history); {count} deletes on a {}",
                WEEKDAYS[usual as usize],
                WEEKDAYS[day.rem_euclid(7) as usize]
            )
        }),
        weight: 2,
    })
}

/// The catalog rows new for the principal. A principal that keeps taking up new operations
/// (an admin) is judged against that habit, as is one with a thin history: for them a first
/// lifecycle operation is context, and a first capture, code execution, share or risky variant
/// weighs 1; it is a weak sign for an explorer with a settled history, and for a thin history
/// only when it names its threat ([`threat_of`]: a risky lifecycle variant of risk 2 or more, a
/// defense tool's removal, a person's revert).
fn new_operations(
    state: &WindowState,
    engine: &Engine,
    rule: &BaselineRule,
    t: i64,
    (settled, active, people_risky_revert): (bool, u32, bool),
    text: Text,
) -> (Vec<Reason>, WeakSign) {
    let adopted = state.baseline.operations_adopted(t, rule);
    let explorer = adopted >= EXPLORER_OPERATIONS;
    let habit = || {
        if explorer {
            format!(" (it took up {adopted} other operations in that time)")
        } else if !settled {
            format!(" (active on {active} of the last {} days)", rule.days)
        } else {
            String::new()
        }
    };
    let full = settled && !explorer;
    let mut sign = WeakSign::None;
    let mut families: Vec<&str> = Vec::new();
    let mut reasons = Vec::new();
    for n in state.novel_of(NoveltyKind::Operation) {
        let row = engine.catalog.get(&n.value);
        // A lifecycle call's risky variant, told by what it asks for (a GPU size, IMDSv1, no
        // final snapshot), is not the routine the call is: it weighs as a first capture does.
        let light = row.is_some_and(|row| row.op_type.is_lifecycle() && !row.risky_variant());
        // A first capture, execution or share that completes its catalog sequence is the
        // technique whole (stop, new user data, start: what the community rules alert on
        // whoever does it), which no habit of trying new operations explains: full weight.
        let sequence = row
            .filter(|r| !light && state.completes_sequence(&engine.catalog, r.id_hash()))
            .and_then(|r| r.boost.as_ref());
        // A row told apart from another of the same API call only by a name the caller
        // chooses (an extension called CustomScript), by a role that already makes that call:
        // a variant of its routine. A real attribute (user data) is not a name. Two rows of one
        // such call are one novelty, unless the second completes its sequence.
        let variant = row.and_then(|r| variant_of(engine, state, rule, t, r));
        let family = row
            .filter(|r| named_family(engine, r))
            .map(|r| r.operation.as_str());
        let repeat = family.is_some_and(|f| families.contains(&f));
        families.extend(family);
        let weak = variant.is_some() || repeat;
        // A thin history makes any first look new, so a first capture or share is a weak sign
        // only once the history is settled; a lifecycle call's variant of risk 2 or more (a GPU
        // size, IMDSv1, a delete that drops the backups; each weighs above its plain call)
        // names its threat itself (BENCHMARKS, "A GPU launch from a new network by a rare
        // user"). A lifecycle row that is not light is such a variant; so is a defense tool's
        // removal, and for a person any revert.
        if !light && !weak {
            if settled {
                sign = WeakSign::Settled;
            } else if sign != WeakSign::Threat {
                match row.map_or(WeakSign::None, threat_of) {
                    WeakSign::Threat => sign = WeakSign::Threat,
                    WeakSign::PersonThreat if sign == WeakSign::None => sign = WeakSign::PersonThreat,
                    _ => {}
                }
            }
        }
        // A person's first revert whose request names its threat (the replaced root volume
        // deleted) weighs in full for a settled history, as it alerts for one being learned:
        // no habit of trying new calls needs the machine's state before it gone (the
        // twenty-sixth blind probe's P11, an SFTP server's root reverted to an old snapshot by
        // a pooled Identity Center role's session). A thin history's needs a new network, as
        // its every first look is new; a workload's is its patching routine's, monthly.
        let destroys = settled
            && people_risky_revert
            && row.is_some_and(|r| r.op_type == OpType::Revert && r.risky_variant());
        let how = || match (variant, sequence) {
            (_, Some(b)) => format!(
                " (after {} on the same {} within {} minutes)",
                b.after,
                if b.on_machine { "machine" } else { "resource" },
                b.within_minutes
            ),
            (_, None) if destroys => " (by a person: a revert whose request names its threat)".to_string(),
            (Some(base), None) => format!(" (a variant of {base}, which it uses)"),
            (None, None) => habit(),
        };
        reasons.push(Reason {
            code: "new_operation",
            detail: text.of(|| {
                format!(
                    "first {} by this principal in {} days{}",
                    n.value,
                    rule.days,
                    how()
                )
            }),
            // A completed sequence weighs in full even where the call is the principal's
            // routine under another name: an admin's monitoring-extension updates do not
            // explain a script run on the machine whose security agent it just removed.
            weight: if sequence.is_some() || destroys {
                2
            } else if repeat {
                0
            } else {
                (u32::from(full) + u32::from(!light)).saturating_sub(u32::from(weak))
            },
        });
    }
    (reasons, sign)
}

/// Is `row`'s API call split into rows by a name the caller chooses (the extension's)?
fn named_family(engine: &Engine, row: &crate::catalog::Entry) -> bool {
    engine
        .catalog
        .entries
        .iter()
        .any(|e| e.operation == row.operation && e.when.as_ref().is_some_and(|w| w.by_chosen_name()))
}

/// Is `row` the plain form of an API call that another row tells apart by where a copy reads
/// from (`cross_subscription`) or where the call acts ([`crate::catalog::Condition::names_place`]:
/// a disk made from a snapshot, a VM write naming its OS disk)? Then a principal that makes the
/// other form routinely makes the call: the Success of one of its copies, counted before the
/// Start that names the source (another Event Hub partition), is its routine.
fn plain_of_a_place(engine: &Engine, row: &crate::catalog::Entry) -> bool {
    row.when.is_none()
        && engine.catalog.entries.iter().any(|e| {
            e.operation == row.operation
                && e.when
                    .as_ref()
                    .is_some_and(|w| w.cross_subscription.is_some() || w.names_place())
        })
}

/// Another row of the same API call, used in the baseline period, when the call is split into
/// rows only by a name the caller chooses, `row` is the plain form of a copy or of a call told
/// by where it acts, or `row` is told by where it acts (then of the call's rows that name no
/// threat: a GPU size is no place).
fn variant_of<'a>(
    engine: &'a Engine,
    state: &WindowState,
    rule: &BaselineRule,
    t: i64,
    row: &crate::catalog::Entry,
) -> Option<&'a str> {
    let placed = row.when.as_ref().is_some_and(|w| w.names_place());
    if !named_family(engine, row) && !plain_of_a_place(engine, row) && !placed {
        return None;
    }
    engine
        .catalog
        .entries
        .iter()
        .filter(|e| e.operation == row.operation && e.id != row.id && !(placed && e.risky_variant()))
        .find(|e| state.baseline.knows_operation(e.id_hash(), t, rule))
        .map(|e| e.id.as_str())
}

/// `YYYY-MM-DD HH:MM UTC`, or nothing for no time.
fn minute_utc(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A principal seen within `min_history_days` of when the detector started seeing its account.
fn learning_reason(rule: &BaselineRule, observed_since: Option<i64>, text: Text) -> Reason {
    Reason {
        code: "learning",
        detail: text.of(|| {
            format!(
                "first seen within {} days of when the detector started seeing this account ({}): \
                 learning its habits, only criticals (not another account's copy of a share, nor \
                 a workload's read of data), protection changes, a technique's whole sequence \
                 (stop, then user data), a \
                 person's revert that deletes what it replaced and a mass deletion by people \
                 alert",
                rule.min_history_days,
                minute_utc(observed_since)
            )
        }),
        weight: 0,
    }
}

/// The AWS account's root user, judged by the thresholds alone whatever its history: AWS keeps
/// it for the few tasks only it can do, none of them a compute change (IAM user guide, "Tasks
/// that require root user credentials"; CIS AWS Foundations: no root use for daily tasks), so
/// it has no routine to learn, and a stolen root password or key is what one would look like.
fn root_reason() -> Reason {
    Reason {
        code: ROOT_USER,
        detail: "the account's root user: no compute change is among the tasks only it can do, so \
                 its threshold tier is a finding whatever its standing or history, which hold \
                 back no alert of it"
            .into(),
        weight: 0,
    }
}

/// The reason code of an alert of the AWS account's root user, whose threshold tier fires whatever
/// its standing.
pub const ROOT_USER: &str = "root_user";

/// An EC2 instance's role credentials used from outside AWS ([`crate::aws_ranges`]): an instance
/// calls the API from its own address, a NAT gateway's or a VPC endpoint's, all of them AWS's or
/// private, so a call from anywhere else is its credentials taken off the machine (IMDS read
/// through an SSRF, a compromised host), GuardDuty's `InstanceCredentialExfiltration.OutsideAWS`.
/// No routine does it, so one catalog call is a finding whatever the principal's standing.
fn outside_aws_reason(c: &EventContext) -> Reason {
    let ip = c.source_ip.as_deref().unwrap_or_default();
    let session = c.session.as_deref().unwrap_or_default();
    Reason {
        code: OUTSIDE_AWS,
        detail: format!(
            "the role's credentials of instance {session} used from {ip}, an address outside AWS's \
             published ranges: an instance calls from its own, a NAT gateway's or a VPC \
             endpoint's address, so these were taken off the machine"
        ),
        weight: 0,
    }
}

/// The reason code of an alert of an instance's credentials used outside AWS, which fires on
/// one call whatever the principal's standing.
pub const OUTSIDE_AWS: &str = "instance_credentials_outside_aws";

/// Whether a reason makes its alert by itself, whatever the principal's history: the signs
/// the history gives are then context, and no learning period holds such an alert back.
pub fn fires_alone(code: &str) -> bool {
    code == ROOT_USER || code == OUTSIDE_AWS
}

/// A principal first seen before the detector had watched its account for the baseline period.
fn unproven_reason(
    state: &WindowState,
    rule: &BaselineRule,
    observed_since: Option<i64>,
    threat: bool,
    text: Text,
) -> Reason {
    let detail = || {
        let since = minute_utc(observed_since);
        let age = state
            .baseline
            .first_seen()
            .zip(observed_since)
            .map(|(f, o)| describe_age(f - o))
            .unwrap_or_default();
        let how = if threat {
            "by its volume, and by a new principal's thresholds: a person's launch or delete \
             here names its threat (a GPU size, IMDSv1, no final snapshot)"
        } else {
            "by its volume"
        };
        format!(
            "first seen {age} after the detector started seeing this account ({since}), less than \
             {} days: perhaps silent since, not known to be new; judged {how}",
            rule.days
        )
    };
    Reason {
        code: "short_observation",
        detail: text.of(detail),
        weight: 0,
    }
}

/// Why the plain thresholds apply to this principal.
fn no_history(state: &WindowState, rule: Option<&BaselineRule>, t: i64, text: Text) -> Vec<Reason> {
    let mut out = Vec::new();
    if let Some(rule) = rule {
        let detail = || match state.baseline.first_seen() {
            Some(f) if f <= t.saturating_sub(i64::from(rule.min_history_days) * baseline::DAY_MS) => {
                format!(
                    "no activity in the last {} days: plain thresholds apply",
                    rule.days
                )
            }
            Some(f) => format!(
                "first seen {} ago (less than {} days): plain thresholds apply",
                describe_age(t - f),
                rule.min_history_days
            ),
            None => "never seen before: plain thresholds apply".into(),
        };
        out.push(Reason {
            code: "no_history",
            detail: text.of(detail),
            weight: 0,
        });
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn describe_age(ms: i64) -> String {
    let h = ms.max(0) / 3_600_000;
    if h < 48 {
        format!("{h} h")
    } else {
        format!("{} days", h / 24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(code: &'static str, weight: u32) -> Reason {
        Reason {
            code,
            detail: String::new(),
            weight,
        }
    }

    const PERSON: Signs = Signs {
        weak: WeakSign::None,
        workload: false,
        person_revert: false,
        whole: false,
    };
    const WORKLOAD: Signs = Signs {
        weak: WeakSign::None,
        workload: true,
        person_revert: false,
        whole: false,
    };

    #[test]
    fn where_and_when_alone_need_the_pattern_of_stolen_credentials() {
        let trip = [r("new_network", 1), r("unusual_hour", 1)];
        assert!(!unusual_enough(&trip, PERSON), "a person's trip");
        assert!(
            unusual_enough(&trip, WORKLOAD),
            "a workload off schedule, elsewhere"
        );
        let rotating = [r("new_network", 2)];
        assert!(unusual_enough(&rotating, PERSON), "a person rotating addresses");
        assert!(!unusual_enough(&rotating, WORKLOAD), "a workload's egress change");
        let roamer = [r("new_network", 0), r("unusual_hour", 1)];
        assert!(
            !unusual_enough(&roamer, WORKLOAD),
            "a roamer's new network weighs nothing"
        );
    }

    #[test]
    fn a_weak_sign_about_what_needs_a_new_network_for_a_person() {
        let sensitive = Signs {
            weak: WeakSign::Settled,
            ..PERSON
        };
        let at_night = [r("new_operation", 1), r("unusual_hour", 1)];
        assert!(!unusual_enough(&at_night, sensitive), "an admin's on-call night");
        assert!(unusual_enough(
            &at_night,
            Signs {
                workload: true,
                ..sensitive
            }
        ));
        let elsewhere = [r("new_operation", 1), r("new_network", 1)];
        assert!(unusual_enough(&elsewhere, sensitive));
        assert!(!unusual_enough(&elsewhere, PERSON), "a first lifecycle operation");
        assert!(
            unusual_enough(&[r("new_operation", 2)], PERSON),
            "a settled first capture"
        );
        assert!(unusual_enough(&[r("volume", 2)], WORKLOAD));
        // A thin history's first GPU launch: a new network completes it; for a workload, a new
        // region or resource group too (automation repeats itself), not for a person (whose new
        // resource group is its everyday), nor an odd hour for either.
        let thin = Signs {
            weak: WeakSign::Threat,
            ..WORKLOAD
        };
        assert!(unusual_enough(&[r("new_operation", 1), r("new_scope", 1)], thin));
        assert!(!unusual_enough(
            &[r("new_operation", 1), r("unusual_hour", 1)],
            thin
        ));
        let thin_person = Signs {
            weak: WeakSign::Threat,
            ..PERSON
        };
        assert!(!unusual_enough(
            &[r("new_operation", 1), r("new_scope", 1)],
            thin_person
        ));
        assert!(unusual_enough(
            &[r("new_operation", 1), r("new_network", 1)],
            thin_person
        ));
        // A thin history's first revert: a person's, completed by a new network; not a
        // workload's, even when a person's session made the last call.
        let revert = [r("new_operation", 1), r("new_network", 1)];
        let by_person = Signs {
            weak: WeakSign::PersonThreat,
            person_revert: true,
            ..PERSON
        };
        assert!(unusual_enough(&revert, by_person));
        assert!(!unusual_enough(
            &[r("new_operation", 1), r("unusual_hour", 1)],
            by_person
        ));
        assert!(!unusual_enough(
            &revert,
            Signs {
                person_revert: false,
                ..by_person
            }
        ));
        assert!(unusual_enough(
            &[r("new_operation", 1), r("new_network", 1)],
            thin
        ));
        assert!(unusual_enough(&[r("volume", 2)], PERSON));
        assert!(!unusual_enough(
            &[r("new_scope", 1), r("unusual_hour", 1)],
            PERSON
        ));
    }

    #[test]
    fn volume_counts_operations_not_points() {
        let rule = BaselineRule::DEFAULT;
        let th = Thresholds::default();
        // The bar is the largest count alone: a day of stop/deallocate (no points) counts.
        // 2.5 x 12 = 30; 12 + bulk (5) = 17: the factor is the bar.
        assert!(!above(12, 30, &rule, &th));
        assert!(above(12, 31, &rule, &th), "stop/deallocate weigh no points");
        assert!(!above(1, 6, &rule, &th), "1 + 5: small numbers vary");
        assert!(above(1, 7, &rule, &th));
        // All types together: the margin is twice the bulk count, the factor unchanged.
        assert!(
            !above_together(0, 10, &rule, &th),
            "a VM made by hand by a rare user"
        );
        assert!(above_together(0, 11, &rule, &th));
        assert!(!above_together(12, 30, &rule, &th) && above_together(12, 31, &rule, &th));
        assert!(
            !OpType::Exec.is_lifecycle() && !OpType::Capture.is_lifecycle() && OpType::Delete.is_lifecycle()
        );
    }
}

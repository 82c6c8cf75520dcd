//! Profiles and the engine: which events count, under which state key, for how many points.

use crate::aws_ranges::{instance_session, AwsRanges};
use crate::catalog::{Catalog, Entry, OpType};
use crate::event::{clip, Cloud, ComputeEvent, Phase, PrincipalKind};
use crate::kql;
use crate::own::OwnAccounts;
use crate::prefilter::Prefilter;
pub use crate::profile::{BaselineRule, ObservedSince, Profile, ProfileName, StateKey, Thresholds};
use crate::schedule::WindowPosition;
use crate::tuning::{Effective, Tuning};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// AWS services that make whatever call their author wrote, with the author's role: a critical
/// they carry is the principal's (`Engine::carried_critical`). Sigma's critical rows admit
/// them too.
pub const CARRIERS: &[&str] = &[
    "ssm.amazonaws.com",
    "states.amazonaws.com",
    "scheduler.amazonaws.com",
];

/// CloudFormation: it names itself as `invokedBy`, source address and user agent on each call
/// a stack makes, with the credentials of whoever deployed it (forward access sessions) or
/// with the stack's role. Those calls are the deployer's, as Terraform's and an ARM
/// deployment's are: counted, learned by the baseline as the deployer's routine, and lowered
/// in a change window by the IaC tuning (its built-in `*cloudformation*` user agent). Taken
/// for a service's own, a template was a way to create, capture and delete instances unseen.
pub const DEPLOYER: &str = "cloudformation.amazonaws.com";

/// The AWS Management Console: it names itself as `invokedBy` (and as the user agent) on the
/// calls a signed-in person makes there (an IAM user's or the root user's `RunInstances` or
/// `ModifyImageAttribute`, in AWS's own examples and in captures). It acts for that person, not
/// on its own: the call is the person's, like one from the CLI.
pub const CONSOLE: &str = "signin.amazonaws.com";

/// The services that name themselves on a call they make for the principal, not as
/// themselves: such a call is the principal's (unless the role is service-linked). The engine
/// and the Sigma rules read this one list.
pub const ACTS_FOR_PRINCIPAL: &[&str] = &[CONSOLE, DEPLOYER];

/// Everything about one event that window state keeps for evidence and display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventContext {
    /// Event time (ms).
    pub time_ms: i64,
    /// Record id.
    pub event_id: String,
    /// Catalog row id.
    pub catalog_id: String,
    /// Operation as spelled in the record.
    pub operation: String,
    /// Operation type under the active profile.
    pub op_type: OpType,
    /// Points per unit (before sequence boosts).
    pub risk: u32,
    /// Single-event critical (default profile).
    pub critical: bool,
    /// Source cloud.
    pub cloud: Cloud,
    /// Account / subscription.
    pub account: String,
    /// Region / resource group.
    pub scope: String,
    /// Stable principal key.
    pub principal_key: String,
    /// Principal display name.
    pub principal_name: String,
    /// Principal kind.
    pub principal_kind: PrincipalKind,
    /// Session name.
    pub session: Option<String>,
    /// Source IP.
    pub source_ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Against the account's change windows (`None`: it declares none).
    pub change_window: Option<WindowPosition>,
    /// The resource hash of the disk the call made a machine's root disk
    /// ([`crate::event::Details::root_disk`]), which the window links to the event's unit.
    #[serde(default)]
    pub root_disk: Option<u64>,
    /// The data disks the call attached to a machine ([`crate::event::Details::data_disks`]),
    /// which the window links to the event's first unit.
    #[serde(default)]
    pub mount: Option<Mount>,
    /// The resource hash of the machine whose part the call works on
    /// ([`crate::event::Details::machine`]: an Azure VM's extension or run command), which the
    /// window links to the event's first unit.
    #[serde(default)]
    pub machine: Option<u64>,
    /// The hours an export's SAS URL reads, rounded up ([`crate::event::Details::export_seconds`]).
    #[serde(default)]
    pub export_hours: Option<u32>,
    /// An EC2 instance's role credentials used from a routable address outside AWS's ranges
    /// ([`crate::aws_ranges`]; only where the deployment gives them).
    #[serde(default)]
    pub outside_aws: bool,
    /// Where a share or a copy sends data (account ids, organizations; the shared resource
    /// when the record does not say), for the known-destination rule. Empty otherwise.
    pub destinations: Vec<String>,
    /// Recipients beyond those kept in `destinations` (a share to more than a baseline can
    /// remember): such a share is never to known destinations.
    pub more_destinations: u32,
    /// A share to the public: never a known destination.
    pub public: bool,
}

/// Data disks a call attached to a machine, as resource hashes: what the window links to a
/// disk made from a snapshot and to the machine's launch (`snapshot_mount`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// The disks.
    pub disks: Vec<u64>,
    /// The machine: the instance an `AttachVolume` names, or the VM a write is on.
    pub machine: u64,
    /// The call created the machine (an Azure VM created with the disks).
    pub new_machine: bool,
}

/// What tuning did to a unit, kept with it so an alert can say why its score is what it is.
pub mod flags {
    /// An IaC user agent inside a change window: points lowered.
    pub const IAC_IN_WINDOW: u8 = 1;
    /// Outside every change window of the account: points added.
    pub const OUTSIDE_WINDOW: u8 = 2;
    /// From an address the principal has not used lately: points added.
    pub const UNFAMILIAR_IP: u8 = 4;
    /// A share to a destination the principal already shared to: evidence, not a critical.
    pub const KNOWN_DESTINATION: u8 = 8;
    /// Counted for a row read from a body (the operation's Start, or a later record carrying
    /// the body): it stands for the operation even where a record of it without the body was
    /// counted first ([`crate::window`]).
    pub const FROM_START: u8 = 16;
    /// A row with a catalog sequence, or a launch, called by an IaC user agent, inside a change
    /// window or not: Terraform changes user data by stopping the instance, swapping it and
    /// starting it, and deploys to several regions at once, so such a unit does not complete
    /// the technique's shape for a principal being learned ([`crate::decision`]). Any caller
    /// can send that agent: it only narrows what learning lets through, never what an
    /// established principal's baseline judges.
    pub const IAC_AGENT: u8 = 32;
    /// Made by a person, not a workload ([`crate::event::is_workload`], judged per call: a
    /// role's sessions may be a pipeline's and people's). Only a person's deletes make a mass
    /// deletion while the principal is being learned ([`crate::decision`]).
    pub const BY_PERSON: u8 = 64;
    /// A share to (or a copy from, or another account's copy from) the organization's own
    /// accounts ([`crate::own`]): evidence, not a critical, as a known destination is (which
    /// [`KNOWN_DESTINATION`] is also set for).
    pub const OWN_DESTINATION: u8 = 128;
}

/// The prefix of a destination that is the source of a copy into the account (an Azure
/// subscription a snapshot or disk was copied from), so that it is never taken for a share to
/// the same place, nor a share for it.
const SOURCE_PREFIX: &str = "from:";

/// The prefix of an export's destination: `export:ACCOUNT/ROW`, the account it exports from and
/// its catalog row. A download URL has no recipient to know; what can be known is that the
/// principal makes such exports there routinely (a backup product, a scanner), which
/// [`crate::profile::BaselineRule::routine_export_days`] decides.
const EXPORT_PREFIX: &str = "export:";

/// What a destination of [`EventContext::destinations`] names. The strings are what the
/// baseline remembers (hashed); this is the one place that writes and reads their prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination<'a> {
    /// An account, organization, tenant or resource a share is to.
    Recipient(&'a str),
    /// The subscription a copy into the account read from.
    CopiedFrom(&'a str),
    /// The account an export (a download URL, an image or instance export) is made from.
    ExportedFrom(&'a str),
}

impl<'a> Destination<'a> {
    /// Reads a destination string by its prefix.
    pub fn of(d: &'a str) -> Destination<'a> {
        if let Some(e) = d.strip_prefix(EXPORT_PREFIX) {
            // `ACCOUNT/ROW`: the row is the alert's already.
            return Destination::ExportedFrom(e.split('/').next().unwrap_or(e));
        }
        match d.strip_prefix(SOURCE_PREFIX) {
            Some(sub) => Destination::CopiedFrom(sub),
            None => Destination::Recipient(d),
        }
    }

    /// The account, subscription or recipient, as an analyst reads it.
    pub fn name(self) -> &'a str {
        match self {
            Destination::Recipient(n) | Destination::CopiedFrom(n) | Destination::ExportedFrom(n) => n,
        }
    }
}

/// One counted unit: a (record, resource) pair. TerminateInstances of 5 instances is 5 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Identity of (event, resource): a duplicate delivery has the same id.
    pub id: u64,
    /// Resource hash, for distinct counts.
    pub res: u64,
    /// Event time (ms).
    pub t: i64,
    /// Hash of the catalog row id.
    pub op: u32,
    /// Operation type.
    pub kind: OpType,
    /// Points, tuning included.
    pub risk: u8,
    /// [`flags`] bits.
    pub flags: u8,
}

/// An in-scope event, ready for its window.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Window it belongs to.
    pub key: StateKey,
    /// Units, parallel to `resources`.
    pub units: Vec<Unit>,
    /// Resource ids of the units.
    pub resources: Vec<String>,
    /// Evidence and display data.
    pub ctx: EventContext,
}

/// Why an event is not scored. Counted, never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Operation not in the profile's catalog.
    NotInCatalog,
    /// Failed, dry-run, or a phase the profile does not count.
    NotCounted,
    /// Made by an AWS service or an Azure platform identity; not counted unless configured.
    ServiceCaller,
    /// The principal is allowlisted by the tuning configuration.
    Allowlisted,
}

/// Catalog plus profile plus tuning: the pure decision function of the detector.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Operations catalog.
    pub catalog: Catalog,
    /// Active profile.
    pub profile: Profile,
    /// Tuning configuration (empty: the profile as built).
    pub tuning: Tuning,
    /// When the detector started seeing events (ms), for every baseline whose rule does not
    /// say (see [`BaselineRule::observed_since`]). Set once, before anything is decided.
    observed_since: std::sync::OnceLock<i64>,
    /// Where neither the rule nor `observed_since` says: learn each account from the first
    /// event processed for it ([`ObservedSince::FirstEvent`]).
    first_event: bool,
    /// The first events recorded in the state store, as read or written by the pipeline. A
    /// recorded start never changes, so a warm function asks the store once per account.
    starts: FirstEvents,
    /// Own accounts besides the tuning's: those an archive's key layout names (the CLI).
    own: OwnAccounts,
    /// AWS's published ranges, where the deployment gives them: an instance role's call from
    /// an address outside them is its credentials used elsewhere ([`crate::aws_ranges`]).
    aws_ranges: Option<std::sync::Arc<AwsRanges>>,
}

/// Per cloud, then per account, the recorded first event (ms). Nested so that the lookup every
/// decision makes borrows the account instead of allocating a key.
#[derive(Debug, Default)]
struct FirstEvents(
    std::sync::RwLock<std::collections::HashMap<Cloud, std::collections::HashMap<String, i64>>>,
);

impl FirstEvents {
    fn get(&self, cloud: Cloud, account: &str) -> Option<i64> {
        let m = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.get(&cloud)?.get(account).copied()
    }

    fn insert(&self, cloud: Cloud, account: &str, ms: i64) {
        let mut m = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.entry(cloud).or_default().insert(account.to_string(), ms);
    }
}

impl Clone for FirstEvents {
    fn clone(&self) -> Self {
        let m = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        FirstEvents(std::sync::RwLock::new(m.clone()))
    }
}

/// A service-linked role (`AWSServiceRoleFor*`, under `/aws-service-role/`): a service's own
/// identity, whatever service carried its call.
fn service_linked(key: &str) -> bool {
    key.contains("/aws-service-role/") || key.contains(":role/AWSServiceRoleFor")
}

/// The data disks an event attached, on the machine it names or is on; only the default
/// profile's decisions read them.
fn mount(p: ProfileName, d: &crate::event::Details, resources: &[String]) -> Option<Mount> {
    if p != ProfileName::Default || d.data_disks.is_empty() {
        return None;
    }
    let machine = d
        .mounted_on
        .as_deref()
        .or(resources.first().map(String::as_str))?;
    Some(Mount {
        disks: d.data_disks.iter().map(|r| resource_hash(p, r)).collect(),
        machine: resource_hash(p, machine),
        new_machine: d.creates_machine,
    })
}

/// Hash a resource id for distinct counting. The seed's `dcount(ResourceId)` is
/// case-sensitive; the default profile folds case because Azure spells one id several ways.
fn resource_hash(profile: ProfileName, r: &str) -> u64 {
    match profile {
        ProfileName::SeedKql => xxh3_64(r.as_bytes()),
        ProfileName::Default => xxh3_64(r.to_ascii_lowercase().as_bytes()),
    }
}

impl Engine {
    /// An engine with no tuning.
    pub fn new(catalog: Catalog, profile: Profile) -> Engine {
        Engine::with_tuning(catalog, profile, Tuning::default())
    }

    /// An engine with a tuning configuration.
    pub fn with_tuning(catalog: Catalog, profile: Profile, tuning: Tuning) -> Engine {
        Engine {
            catalog,
            profile,
            tuning,
            observed_since: std::sync::OnceLock::new(),
            first_event: false,
            starts: FirstEvents::default(),
            own: OwnAccounts::default(),
            aws_ranges: None,
        }
    }

    /// The same engine knowing AWS's address ranges, where a deployment gives them: an
    /// instance role's calls from outside them are judged as its credentials used elsewhere
    /// (`outside_aws`). `None` leaves the sign off.
    pub fn with_aws_ranges(mut self, ranges: Option<std::sync::Arc<AwsRanges>>) -> Engine {
        self.aws_ranges = ranges;
        self
    }

    /// Whether the event is an EC2 instance's role credentials used from a routable address
    /// outside AWS's ranges (never without ranges, nor in the seed's profile). The session
    /// and address are those kept: a taken event's own are gone.
    fn outside_aws(&self, ev: &ComputeEvent, session: Option<&str>, ip: Option<&str>) -> bool {
        let Some(ranges) = self.aws_ranges.as_deref() else {
            return false;
        };
        self.profile.name == ProfileName::Default
            && ev.cloud == Cloud::Aws
            && ev.principal.kind == PrincipalKind::Role
            && ev.invoked_by.is_none()
            && session.is_some_and(instance_session)
            && ip.is_some_and(|ip| ranges.outside(ip))
    }

    /// The same engine taking `ids` as the organization's own too ([`crate::own`]): the
    /// accounts, organizations and subscriptions an archive's key layout names.
    pub fn with_own_accounts<S: AsRef<str>>(mut self, ids: impl IntoIterator<Item = S>) -> Engine {
        self.own.extend(ids);
        self
    }

    /// Is a share's recipient, or a copy's source, one of the organization's own accounts (the
    /// tuning's `own_accounts`, or one the archive's layout names)?
    pub fn owns(&self, recipient: &str) -> bool {
        self.tuning.own_accounts.owns(recipient) || self.own.owns(recipient)
    }

    /// The same engine told when the detector started seeing events (ms): every baseline that
    /// does not say so itself learns from then (see [`BaselineRule::observed_since`]). The
    /// first time given is kept.
    pub fn observed_since(self, ms: i64) -> Engine {
        let _ = self.observed_since.set(ms);
        self
    }

    /// The same engine learning each account from the first event it processes for it, wherever
    /// neither the rule nor [`Engine::observed_since`] gives a time.
    pub fn observed_from_first_event(mut self) -> Engine {
        self.first_event = true;
        self
    }

    /// The same engine as before [`Engine::observed_from_first_event`], for a run on a fresh
    /// store: it learns from no first event, and forgets those the last run recorded. A replay
    /// that learned nothing runs again with it, instead of with a copy of the engine kept for
    /// the purpose (a catalog and its guides, about 250 KB of the replay's peak).
    pub fn without_first_events(mut self) -> Engine {
        self.first_event = false;
        self.starts = FirstEvents::default();
        self
    }

    /// The same engine with `o` as its start where the rules do not say: what the functions'
    /// `T1578_OBSERVED_SINCE` and the CLI's `--observed-since` give.
    pub fn observing(self, o: ObservedSince) -> Engine {
        match o {
            ObservedSince::Unset => self,
            ObservedSince::At(ms) => self.observed_since(ms),
            ObservedSince::FirstEvent => self.observed_from_first_event(),
        }
    }

    /// How the start of `rule`'s account is known: the rule's own setting, else the engine's.
    pub fn observation(&self, rule: &BaselineRule) -> ObservedSince {
        match (rule.observed_since, self.observed_since.get()) {
            (ObservedSince::Unset, Some(&ms)) => ObservedSince::At(ms),
            (ObservedSince::Unset, None) if self.first_event => ObservedSince::FirstEvent,
            (o, _) => o,
        }
    }

    /// When the detector started seeing the account, if known: a time, or the first event
    /// recorded for it ([`Engine::record_first_event`]).
    pub fn observed_since_for(&self, rule: &BaselineRule, cloud: Cloud, account: &str) -> Option<i64> {
        match self.observation(rule) {
            ObservedSince::At(ms) => Some(ms),
            ObservedSince::FirstEvent => self.starts.get(cloud, account),
            ObservedSince::Unset => None,
        }
    }

    /// Whether the account learns from a first event that this engine has not seen recorded:
    /// the pipeline reads or records it before deciding anything for the account.
    pub fn needs_first_event(&self, cloud: Cloud, account: &str) -> bool {
        let rule = self.effective(account).baseline;
        rule.is_some_and(|r| self.observation(&r) == ObservedSince::FirstEvent)
            && self.starts.get(cloud, account).is_none()
    }

    /// The first event recorded for the account in the state store (ms).
    pub fn record_first_event(&self, cloud: Cloud, account: &str, ms: i64) {
        self.starts.insert(cloud, account, ms);
    }

    /// Where the state store records the account's first event. Azure's is in its second
    /// version since its principals' windows moved from the subscription to the tenant: their
    /// histories start again, so each subscription learns again from its next event rather
    /// than meet every principal as new once its first days are long past.
    pub fn first_event_key(cloud: Cloud, account: &str) -> StateKey {
        let version = match cloud {
            Cloud::Aws => "v1",
            Cloud::Azure => "v2",
        };
        StateKey::from_parts(&[version, "first-event", cloud.as_str(), account])
    }

    /// Window, mode, thresholds, service-caller policy and risk rules in force for an account.
    pub fn effective(&self, account: &str) -> Effective<'_> {
        self.tuning.effective(account, &self.profile)
    }

    /// How long after its last event any window state is still needed (ms).
    pub fn retention_ms(&self) -> i64 {
        self.tuning.retention_ms(&self.profile)
    }

    fn is_service_caller(ev: &ComputeEvent, eff: &Effective) -> bool {
        if ev.cloud == Cloud::Azure {
            return eff.azure_platform_callers.matches(&ev.principal.key);
        }
        // Service events name another account as the actor (a copy of a shared snapshot) and
        // carry `invokedBy: ec2.amazonaws.com`: that account is the signal, not a service.
        if ev.principal.kind == PrincipalKind::AwsAccount {
            return false;
        }
        // The console and CloudFormation act for the principal; a service-linked role is a
        // service's own, whatever carried its call.
        let acts_for_principal = |s: &str| {
            ACTS_FOR_PRINCIPAL.iter().any(|a| s.eq_ignore_ascii_case(a)) && !service_linked(&ev.principal.key)
        };
        let service =
            |s: Option<&str>| s.is_some_and(|s| s.ends_with(".amazonaws.com") && !acts_for_principal(s));
        ev.principal.kind == PrincipalKind::AwsService
            || service(ev.invoked_by.as_deref())
            || service(ev.source_ip.as_deref())
    }

    /// A single-event critical (a share, a public snapshot or image, an export) that a service
    /// running its author's calls made with the author's role or user: SSM Automation's
    /// `aws:executeAwsApi`, Step Functions' SDK integrations and EventBridge Scheduler's
    /// universal targets ([`CARRIERS`], by `invokedBy` or as the source address). Carried by such
    /// a service, a share to another account is still the principal's, and it is judged as any
    /// critical is. Services that act on their own (AWS Backup, DLM, EC2 Image Builder, Auto
    /// Scaling) and service-linked roles stay service callers: their recurring copies and
    /// exports would page every run (an export has no destination to learn, and a share to more
    /// accounts than a baseline remembers is never known). Only the default profile has
    /// criticals; the seed's service-caller policy is the seed's.
    fn carried_critical(&self, ev: &ComputeEvent, entry: &Entry) -> bool {
        let carrier = |s: Option<&str>| s.is_some_and(|s| CARRIERS.iter().any(|c| s.eq_ignore_ascii_case(c)));
        let linked = service_linked(&ev.principal.key);
        self.profile.name == ProfileName::Default
            && entry.critical
            && ev.cloud == Cloud::Aws
            && ev.principal.kind != PrincipalKind::AwsService
            && !linked
            && (carrier(ev.invoked_by.as_deref()) || carrier(ev.source_ip.as_deref()))
    }

    /// Whether the profile counts an event of this catalog row in this phase: the profile's
    /// phases ([`Engine::counts_phase`]); under the default profile, a row counted from its
    /// `Start` ([`Entry::on_start`]) there. Not in the other phases when the row matches any
    /// record of its operation (a gallery share): the phases of one operation count once, the
    /// first to arrive, and a Success that arrived first (another Event Hub partition, a
    /// redrive) would stand for the share without its recipients. A row with a condition is
    /// counted in the profile's phases too: a record that meets it carries the body it is read
    /// from (an Accept's response body, where the Start's request body is missing).
    pub fn counts_row_phase(&self, entry: &Entry, phase: Phase) -> bool {
        if entry.on_start && self.profile.name == ProfileName::Default {
            let later = entry.when.is_some() || entry.any_record;
            return phase == Phase::Start || (later && self.counts_phase(entry.cloud, phase));
        }
        self.counts_phase(entry.cloud, phase)
    }

    /// The prefilter that never skips a record this engine counts: it skips the phases the
    /// profile counts for no row, but keeps the `Start` of the operations counted from it (their
    /// Accept and Success pass it too: the engine drops a gallery share's, and counts a copy's
    /// for the catch-all row of its operation).
    pub fn prefilter(&self) -> Prefilter {
        let rows: Vec<&Entry> = self
            .catalog
            .entries
            .iter()
            .filter(|e| self.counts_row_phase(e, Phase::Start) && !self.counts_phase(e.cloud, Phase::Start))
            .collect();
        // An operation's Start is needed only with the body key its rows' conditions read; if
        // one of them counts every Start (a gallery share), or they read different keys, any.
        let starts = rows.iter().map(|e| {
            let mut keys = rows
                .iter()
                .filter(|x| x.operation.eq_ignore_ascii_case(&e.operation))
                .map(|x| start_needs(x));
            let first = keys.next().flatten();
            (e.operation.as_str(), first.filter(|k| keys.all(|x| x == Some(k))))
        });
        Prefilter::new(&self.catalog)
            .counting(|c, p| self.counts_phase(c, p))
            .starting(starts)
    }

    /// Whether the profile counts an event of this cloud in this phase: the rule of every row
    /// but those counted from their `Start` ([`Engine::counts_row_phase`]).
    pub fn counts_phase(&self, cloud: Cloud, phase: Phase) -> bool {
        match (self.profile.name, cloud) {
            (_, Cloud::Aws) => phase == Phase::Success,
            // Accept/Success: the operation happened (long-running ones may never log Success).
            (ProfileName::Default, Cloud::Azure) => matches!(phase, Phase::Accept | Phase::Success),
            (ProfileName::SeedKql, Cloud::Azure) => matches!(phase, Phase::Start | Phase::Success),
        }
    }

    /// Classify and key one event, or say why it is not scored.
    pub fn score(&self, ev: &ComputeEvent) -> Result<Scored, Skip> {
        let (entry, op_type, timing) = self.admit(ev)?;
        Ok(self.scored(
            ev,
            entry,
            op_type,
            &timing,
            Kept::cloned(ev, self, entry, op_type),
        ))
    }

    /// [`Engine::score`] of an event the caller is done with: its strings move into the scored
    /// event instead of being copied (a reader thread scores every in-scope line it parses).
    pub fn score_owned(&self, mut ev: ComputeEvent) -> Result<Scored, Skip> {
        let (entry, op_type, timing) = self.admit(&ev)?;
        let kept = Kept::taken(&mut ev, self, entry, op_type);
        Ok(self.scored(&ev, entry, op_type, &timing, kept))
    }

    /// The catalog row, operation type and timing of an event that is scored, or why not.
    fn admit(&self, ev: &ComputeEvent) -> Result<(&Entry, OpType, Timing), Skip> {
        let (entry, op_type, risk) = self.classify(ev)?;
        if !self.counts_row_phase(entry, ev.phase) {
            return Err(Skip::NotCounted);
        }
        let eff = self.effective(&ev.account);
        if !eff.count_service_callers
            && Self::is_service_caller(ev, &eff)
            && !self.carried_critical(ev, entry)
        {
            return Err(Skip::ServiceCaller);
        }
        if self
            .tuning
            .allowed(&ev.principal.key, &ev.account, ev.time_ms)
            .is_some()
        {
            return Err(Skip::Allowlisted);
        }
        let risk = self.tuning.score(&ev.account, &entry.id, risk);
        let mut timing = Timing::of(ev, &eff, risk);
        // Only a row that completes a sequence, or a launch (a sweep across regions), needs to
        // know (a UA match per event costs).
        let asks = entry.boost.is_some() || entry.launches_machine();
        if asks && ev.user_agent.as_deref().is_some_and(|ua| eff.iac.matches(ua)) {
            timing.flag |= flags::IAC_AGENT;
        }
        let p = &ev.principal;
        if !crate::event::is_workload(p.kind, &p.name, p.session.as_deref()) {
            timing.flag |= flags::BY_PERSON;
        }
        Ok((entry, op_type, timing))
    }

    /// The scored event; `kept` holds the strings of `ev` it keeps (`ev`'s own may be gone).
    fn scored(
        &self,
        ev: &ComputeEvent,
        entry: &Entry,
        op_type: OpType,
        timing: &Timing,
        kept: Kept,
    ) -> Scored {
        let resources = if kept.resources.is_empty() {
            vec![String::new()]
        } else {
            kept.resources
        };
        let p = self.profile.name;
        let mount = mount(p, &ev.details, &resources);
        let outside_aws = self.outside_aws(ev, kept.session.as_deref(), kept.source_ip.as_deref());
        Scored {
            key: kept.key,
            units: self.units(ev, &kept.event_id, entry, op_type, &resources, timing),
            resources,
            ctx: EventContext {
                time_ms: ev.time_ms,
                event_id: kept.event_id,
                catalog_id: entry.id.clone(),
                operation: clip(&ev.operation_raw, 96),
                op_type,
                risk: timing.risk,
                critical: p == ProfileName::Default && entry.critical,
                cloud: ev.cloud,
                account: kept.account,
                scope: kept.scope,
                principal_key: kept.principal_key,
                principal_name: kept.principal_name,
                principal_kind: ev.principal.kind,
                session: kept.session,
                source_ip: kept.source_ip,
                user_agent: kept.user_agent,
                change_window: timing.change_window,
                // Only the default profile's sequences read it.
                root_disk: ev
                    .details
                    .root_disk
                    .as_deref()
                    .filter(|_| p == ProfileName::Default)
                    .map(|r| resource_hash(p, r)),
                mount,
                // Only a row of a sequence on one machine is linked to its machine: a busy
                // admin's other extension writes would push the links it needs out.
                machine: ev
                    .details
                    .machine
                    .as_deref()
                    .filter(|_| p == ProfileName::Default && entry.in_machine_sequence())
                    .map(|r| resource_hash(p, r)),
                export_hours: ev
                    .details
                    .export_seconds
                    .map(|s| u32::try_from(s.saturating_add(3599) / 3600).unwrap_or(u32::MAX)),
                outside_aws,
                destinations: kept.to.list,
                more_destinations: kept.to.more,
                public: kept.to.public,
            },
        }
    }

    /// The catalog row, its operation type and points under the profile.
    fn classify(&self, ev: &ComputeEvent) -> Result<(&Entry, OpType, u32), Skip> {
        match self.profile.name {
            ProfileName::Default => {
                let e = self.catalog.classify(ev).ok_or(Skip::NotInCatalog)?;
                Ok((e, e.op_type, e.risk))
            }
            ProfileName::SeedKql => {
                let (e, t) = self.catalog.classify_seed(ev).ok_or(Skip::NotInCatalog)?;
                Ok((e, t, kql::risk_points(t)))
            }
        }
    }

    /// The window the event counts in: the principal for the default profile; the seed's
    /// `summarize ... by` columns (caller, IP, resource group) for the seed's.
    fn state_key(&self, ev: &ComputeEvent) -> StateKey {
        let p = self.profile.name;
        let (cloud, account) = (ev.cloud.as_str(), ev.account.as_str());
        match p {
            // An Entra ID identity is the tenant's, not a subscription's: one history across
            // the subscriptions it acts in, so its first call in another one is judged against
            // what it does elsewhere, not as a principal the detector never saw.
            ProfileName::Default if ev.cloud == Cloud::Azure => {
                StateKey::from_parts(&["v2", p.as_str(), cloud, "tenant", &ev.principal.key])
            }
            ProfileName::Default => {
                StateKey::from_parts(&["v1", p.as_str(), cloud, account, &ev.principal.key])
            }
            ProfileName::SeedKql => {
                let ip = ev.source_ip.as_deref().unwrap_or("");
                StateKey::from_parts(&["v1", p.as_str(), cloud, account, ev.seed_caller(), ip, &ev.scope])
            }
        }
    }

    fn units(
        &self,
        ev: &ComputeEvent,
        event_id: &str,
        entry: &Entry,
        op_type: OpType,
        resources: &[String],
        timing: &Timing,
    ) -> Vec<Unit> {
        let p = self.profile.name;
        // Start/Accept/Success of one Azure operation share the operation key: counted once.
        let identity = match (p, &ev.operation_key) {
            (ProfileName::Default, Some(k)) => k.as_str(),
            _ => event_id,
        };
        let op = entry.id_hash();
        let from_start = if entry.on_start && p == ProfileName::Default {
            flags::FROM_START
        } else {
            0
        };
        resources
            .iter()
            .enumerate()
            .map(|(i, r)| Unit {
                id: xxh3_64(format!("{identity}\u{1f}{}", r.to_ascii_lowercase()).as_bytes()),
                res: resource_hash(p, r),
                t: ev.time_ms,
                op,
                kind: op_type,
                // Event-level points go on the first unit only: an event touching 50
                // instances is still one event outside the window.
                risk: (timing.risk + if i == 0 { timing.extra } else { 0 }).min(255) as u8,
                flags: timing.flag | from_start,
            })
            .collect()
    }
}

/// What a scored event keeps of its event's strings, with what is derived from them first.
struct Kept {
    key: StateKey,
    event_id: String,
    account: String,
    scope: String,
    principal_key: String,
    principal_name: String,
    session: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    resources: Vec<String>,
    to: Destined,
}

/// Text without which a row counted from its Start does not match it: a copy or a disk made
/// from a snapshot names its source (`creationData.sourceResourceId`); a VM write naming its OS
/// disk, `osDisk`; one setting user data, `userData`; a GPU size starts with the row's one
/// prefix (lower-case; the prefilter compares in any casing). Two rows of one operation needing
/// different text need any Start.
fn start_needs(e: &Entry) -> Option<&str> {
    let c = e.when.as_ref()?;
    if c.cross_subscription == Some(true) || c.from_snapshot == Some(true) {
        return Some("sourceResourceId");
    }
    if c.root_disk == Some(true) {
        return Some("osDisk");
    }
    if c.user_data == Some(true) {
        return Some("userData");
    }
    if c.data_disk == Some(true) {
        return Some("dataDisks");
    }
    match c.instance_type_prefix.as_slice() {
        [one] => Some(one.as_str()),
        _ => None,
    }
}

/// Where a share or copy sends data, for the known-destination rule.
#[derive(Debug, Clone)]
struct Destined {
    list: Vec<String>,
    /// Recipients past those kept in `list`.
    more: u32,
    public: bool,
}

impl Destined {
    fn of(ev: &ComputeEvent, entry: &Entry, op_type: OpType) -> Destined {
        let (list, more) = destinations(ev, entry, op_type);
        Destined {
            list,
            more,
            public: is_public(ev),
        }
    }
}

impl Kept {
    /// Copied from an event the caller keeps.
    fn cloned(ev: &ComputeEvent, engine: &Engine, entry: &Entry, op_type: OpType) -> Kept {
        Kept {
            key: engine.state_key(ev),
            event_id: ev.event_id.clone(),
            account: ev.account.clone(),
            scope: ev.scope.clone(),
            principal_key: shown_key(ev, engine.profile.name).to_string(),
            principal_name: ev.principal.name.clone(),
            session: ev.principal.session.clone(),
            source_ip: ev.source_ip.clone(),
            user_agent: ev.user_agent.clone(),
            resources: ev.resources.clone(),
            to: Destined::of(ev, entry, op_type),
        }
    }

    /// Moved out of an event the caller is done with.
    fn taken(ev: &mut ComputeEvent, engine: &Engine, entry: &Entry, op_type: OpType) -> Kept {
        let take = std::mem::take::<String>;
        let key = engine.state_key(ev);
        let to = Destined::of(ev, entry, op_type);
        // Shown as itself, the principal key moves; shown as the session ARN, the ARN is copied
        // (the principal keeps its own).
        let principal_key = match shown_key(ev, engine.profile.name) {
            k if std::ptr::eq(k, ev.principal.key.as_str()) => take(&mut ev.principal.key),
            k => k.to_string(),
        };
        Kept {
            key,
            event_id: take(&mut ev.event_id),
            account: take(&mut ev.account),
            scope: take(&mut ev.scope),
            principal_key,
            principal_name: take(&mut ev.principal.name),
            session: ev.principal.session.take(),
            source_ip: ev.source_ip.take(),
            user_agent: ev.user_agent.take(),
            resources: std::mem::take(&mut ev.resources),
            to,
        }
    }
}

/// The principal an alert shows: the seed prints the caller it groups by (an assumed role's
/// session ARN).
fn shown_key(ev: &ComputeEvent, p: ProfileName) -> &str {
    match (p, ev.cloud) {
        (ProfileName::SeedKql, Cloud::Aws) => ev.seed_caller(),
        _ => &ev.principal.key,
    }
}

/// A share to the public.
fn is_public(ev: &ComputeEvent) -> bool {
    ev.details
        .share_added
        .iter()
        .any(|r| r.eq_ignore_ascii_case("all"))
}

/// An event against the account's change windows: its points, the points added to the event
/// (not per unit), and the flag that says why.
struct Timing {
    change_window: Option<WindowPosition>,
    risk: u32,
    extra: u32,
    flag: u8,
}

impl Timing {
    /// Outside the windows adds points to the event; inside, an IaC user agent lowers them.
    /// Without declared windows the user agent changes nothing, because any caller can send
    /// any user agent.
    fn of(ev: &ComputeEvent, eff: &Effective, risk: u32) -> Timing {
        let change_window = eff.change_windows.map(|w| w.position(ev.time_ms));
        let mut t = Timing {
            change_window,
            risk,
            extra: 0,
            flag: 0,
        };
        match (change_window, eff.change_windows) {
            (Some(WindowPosition::Outside), Some(w)) => {
                t.extra = w.outside_points;
                t.flag = flags::OUTSIDE_WINDOW;
            }
            (Some(WindowPosition::Inside), _)
                if ev.user_agent.as_deref().is_some_and(|ua| eff.iac.matches(ua)) =>
            {
                t.risk = risk * eff.iac.risk_percent / 100;
                t.flag = flags::IAC_IN_WINDOW;
            }
            _ => {}
        }
        t
    }
}

/// Destinations of a critical share or copy: the accounts (or organizations) added to a share,
/// the shared resource when the record names no recipient (an Azure gallery share logged
/// without its request body), the other account itself for copies it makes of what was
/// shared with it, or the subscription an Azure copy reads from, with how many more there are
/// than a principal's baseline remembers (those are not kept, and make the share one to
/// unknown destinations). An export (a download URL, an image or instance export) has no
/// recipient: its destination is the account and row it exports from ([`EXPORT_PREFIX`]).
fn destinations(ev: &ComputeEvent, entry: &Entry, op_type: OpType) -> (Vec<String>, u32) {
    if !entry.critical {
        return (Vec::new(), 0);
    }
    let clipped = |v: &[String]| {
        let kept = v
            .iter()
            .take(crate::baseline::MAX_PLACES)
            .map(|s| clip(&s.to_ascii_lowercase(), 128))
            .collect();
        (kept, v.len().saturating_sub(crate::baseline::MAX_PLACES) as u32)
    };
    match op_type {
        // On Azure the shared gallery is a destination of every addition too: learned from
        // them, it makes the gallery's removals and resets (whose request names no recipient)
        // known ones, as they were when the gallery was the only destination.
        OpType::Share if !ev.details.share_added.is_empty() && ev.cloud == Cloud::Azure => {
            clipped(&[&ev.details.share_added[..], &ev.resources[..]].concat())
        }
        OpType::Share if !ev.details.share_added.is_empty() => clipped(&ev.details.share_added),
        OpType::Share => clipped(&ev.resources),
        OpType::Exfil if ev.principal.kind == PrincipalKind::AwsAccount => {
            (vec![clip(&ev.principal.key, 128)], 0)
        }
        // A copy from another subscription: that subscription, so a principal that copies from
        // the same one every night (disaster recovery) is known there.
        OpType::Exfil => match &ev.details.source_account {
            Some(sub) if ev.cloud == Cloud::Azure => (vec![clip(&format!("{SOURCE_PREFIX}{sub}"), 128)], 0),
            _ => (
                vec![clip(
                    &format!("{EXPORT_PREFIX}{}/{}", ev.account.to_ascii_lowercase(), entry.id),
                    128,
                )],
                0,
            ),
        },
        _ => (Vec::new(), 0),
    }
}

//! The operations catalog: a TOML document compiled into the crate (`catalog/t1578.toml`),
//! validated when loaded, and queried by operation name plus request condition.

use crate::event::{Cloud, ComputeEvent};
use crate::guide::{GuideBook, GuideError};
use crate::kql;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use xxhash_rust::xxh3::xxh3_64;

/// The catalog shipped with this build.
pub const BUILTIN_CATALOG: &str = include_str!("../catalog/t1578.toml");

/// Operation types: the seed KQL's six, plus what the seed has no word for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OpType {
    /// Seed: deletes.
    Delete,
    /// Seed: `/write`.
    CreateOrModify,
    /// Seed: capture; here also snapshots and images.
    Capture,
    /// Seed: generalize.
    Generalize,
    /// Seed: deallocate; here also stop/start.
    Deallocate,
    /// Seed: extension changes.
    ExtensionChange,
    /// Share with another account or the public.
    Share,
    /// Data leaves: export tasks, SAS URLs, copies by another account.
    Exfil,
    /// Weakens a protection (T1578.005).
    Impair,
    /// Restores to an earlier state (T1578.004).
    Revert,
    /// Runs code on an instance.
    Exec,
    /// Seed: anything else.
    Other,
}

impl OpType {
    /// Lifecycle operations (create, modify, stop, delete) are every operator's daily work; the
    /// others (capture, generalize, code execution, extensions, shares, exports, protection and
    /// reverts) are what T1578 abuse is made of, so a first one weighs more, and one completing
    /// its catalog sequence is a technique's whole shape ([`crate::window::Aggregate`]).
    pub fn is_lifecycle(self) -> bool {
        matches!(
            self,
            OpType::Delete | OpType::Deallocate | OpType::CreateOrModify | OpType::Other
        )
    }

    /// The name as written in the catalog and in alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Delete => "DELETE",
            OpType::CreateOrModify => "CREATE_OR_MODIFY",
            OpType::Capture => "CAPTURE",
            OpType::Generalize => "GENERALIZE",
            OpType::Deallocate => "DEALLOCATE",
            OpType::ExtensionChange => "EXTENSION_CHANGE",
            OpType::Share => "SHARE",
            OpType::Exfil => "EXFIL",
            OpType::Impair => "IMPAIR",
            OpType::Revert => "REVERT",
            OpType::Exec => "EXEC",
            OpType::Other => "OTHER",
        }
    }
}

/// What a share condition asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShareCond {
    /// Added recipient `all`.
    Public,
    /// Added recipient other than the account itself (another account, an org, the public).
    External,
    /// Only removals.
    Removed,
}

/// A request condition; every field set must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Share direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<ShareCond>,
    /// Instance attribute changed (a Lightsail add-on turned off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// IMDS httpTokens value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_tokens: Option<String>,
    /// Volume or disk created from a snapshot (Azure: read from the Start record's request
    /// body, so the row must be counted `on_start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_snapshot: Option<bool>,
    /// Azure: a VM write whose request body names the machine's managed OS disk (read from the
    /// Start record's request body, so the row must be counted `on_start`). Where, not what:
    /// every full update of a VM names its disk, so the row is no risky variant; its sequence
    /// tells a disk made from a snapshot put under the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_disk: Option<bool>,
    /// Azure: a VM write whose request body sets the machine's `userData` (read from the Start
    /// record's request body, so the row must be counted `on_start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<bool>,
    /// Azure: a VM write whose request body attaches managed data disks by id (read from the
    /// Start record's request body, so the row must be counted `on_start`): with a disk the
    /// same principal made from a snapshot within the hour, a machine that reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_disk: Option<bool>,
    /// Copy from another region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_region: Option<bool>,
    /// Azure: copy from a resource of another subscription (read from the Start record's
    /// request body, so the row must be counted `on_start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_subscription: Option<bool>,
    /// RDS deletion protection as requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// RDS backup retention as requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_retention: Option<i64>,
    /// A recovery point deleted by AWS Backup within this many days of the call (its
    /// calculated deletion time, else its `deleteAfterDays`): the snapshots and images behind
    /// it go that soon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days_max: Option<i64>,
    /// RDS public accessibility as requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publicly_accessible: Option<bool>,
    /// RDS `skipFinalSnapshot` as requested (a delete that keeps no final snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_final_snapshot: Option<bool>,
    /// RDS `deleteAutomatedBackups` as requested (a delete that drops the automated backups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_automated_backups: Option<bool>,
    /// EC2 `DeleteReplacedRootVolume` as requested (a revert that deletes the volume it
    /// replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_replaced_root_volume: Option<bool>,
    /// Requested instance type starts with one of these (lower-case), e.g. GPU families
    /// abused for mining. Data, so a deployment edits the list rather than code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_type_prefix: Vec<String>,
    /// IMDS `httpPutResponseHopLimit` requested at least this high.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop_limit_min: Option<i64>,
    /// Auto Scaling: the group's desired or maximum capacity set to 0 (every instance
    /// terminated by the service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_zero: Option<bool>,
    /// EC2 Fleet and Spot Fleet: fleets deleted or cancelled with their instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminates_instances: Option<bool>,
    /// Azure VM extension name (from the resource id) contains one of these (lower-case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension_contains: Vec<String>,
}

impl Condition {
    /// Does the condition tell rows apart by a name the caller chooses (an extension's)?
    pub fn by_chosen_name(&self) -> bool {
        !self.extension_contains.is_empty()
    }

    /// Does the condition say only which disk a call acts on or starts from (a VM write naming
    /// its OS disk, a disk made from a snapshot), and nothing that makes it risky? Such a row is
    /// its call's routine form, a variant of its plain row: it exists for its sequence.
    pub fn names_place(&self) -> bool {
        let rest = Condition {
            root_disk: None,
            data_disk: None,
            from_snapshot: None,
            ..self.clone()
        };
        (self.root_disk.is_some() || self.data_disk.is_some() || self.from_snapshot.is_some())
            && rest == Condition::default()
    }

    /// Does the event's request satisfy every field of this condition?
    pub fn matches(&self, ev: &ComputeEvent) -> bool {
        let d = &ev.details;
        if let Some(share) = self.share {
            let public = d.share_added.iter().any(|r| r.eq_ignore_ascii_case("all"));
            let external = public
                || d.share_added
                    .iter()
                    .any(|r| r.starts_with("arn:") || r != &ev.account);
            let ok = match share {
                ShareCond::Public => public,
                ShareCond::External => external,
                ShareCond::Removed => d.share_added.is_empty() && !d.share_removed.is_empty(),
            };
            if !ok {
                return false;
            }
        }
        let eq = |want: &Option<String>, got: &Option<String>| match want {
            None => true,
            Some(w) => got.as_deref().is_some_and(|g| g.eq_ignore_ascii_case(w)),
        };
        if !eq(&self.attribute, &d.attribute) || !eq(&self.http_tokens, &d.http_tokens) {
            return false;
        }
        if self.from_snapshot.is_some_and(|w| w != d.from_snapshot)
            || self.root_disk.is_some_and(|w| w != d.root_disk.is_some())
            || self.user_data.is_some_and(|w| w != d.user_data)
            || self.data_disk.is_some_and(|w| w == d.data_disks.is_empty())
        {
            return false;
        }
        if let Some(w) = self.cross_region {
            let cross = d
                .source_region
                .as_deref()
                .is_some_and(|r| !r.eq_ignore_ascii_case(&ev.scope));
            if w != cross {
                return false;
            }
        }
        if let Some(w) = self.cross_subscription {
            // An event whose own subscription is unknown is not judged a copy out of another.
            let cross = ev.account != "unknown"
                && d.source_account
                    .as_deref()
                    .is_some_and(|a| !a.eq_ignore_ascii_case(&ev.account));
            if w != cross {
                return false;
            }
        }
        let opt = |want: Option<bool>, got: Option<bool>| want.is_none() || want == got;
        let any_of = |wants: &[String], got: &Option<String>, prefix: bool| {
            wants.is_empty()
                || got.as_deref().is_some_and(|g| {
                    let g = g.to_ascii_lowercase();
                    wants.iter().any(|w| {
                        if prefix {
                            // A list of types (an EKS node group's) is written comma-separated:
                            // any of them may start with the prefix. An AWS Batch environment
                            // may name a family alone (`p3`: any of its sizes), which a prefix
                            // of its sizes (`p3.`) names too.
                            g.split(',').map(str::trim_start).any(|t| {
                                t.starts_with(w.as_str())
                                    || (!t.contains('.') && w.strip_suffix('.') == Some(t))
                            })
                        } else {
                            g.contains(w.as_str())
                        }
                    })
                })
        };
        opt(self.deletion_protection, d.deletion_protection)
            && opt(self.publicly_accessible, d.publicly_accessible)
            && opt(self.skip_final_snapshot, d.skip_final_snapshot)
            && opt(self.delete_automated_backups, d.delete_automated_backups)
            && opt(self.delete_replaced_root_volume, d.delete_replaced_root_volume)
            && opt(self.capacity_zero, Some(d.capacity_zero))
            && opt(self.terminates_instances, Some(d.terminates_instances))
            && (self.backup_retention.is_none() || self.backup_retention == d.backup_retention)
            && self
                .retention_days_max
                .is_none_or(|max| d.backup_retention.is_some_and(|r| (0..=max).contains(&r)))
            && self
                .hop_limit_min
                .is_none_or(|min| d.hop_limit.is_some_and(|h| h >= min))
            && any_of(&self.instance_type_prefix, &d.instance_type, true)
            && any_of(&self.extension_contains, &d.extension, false)
    }
}

/// A sequence bonus: extra points when the same principal did `after` on the same resource
/// shortly before (or on the same machine, with `on_machine`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boost {
    /// Catalog id of the preceding operation.
    pub after: String,
    /// How long before, at most.
    pub within_minutes: u32,
    /// Points added.
    pub points: u32,
    /// The completed sequence is also a pipeline's routine (a scale-set model pushed to its
    /// instances: what a deploy job does on every release, a node pool's image upgrade). A
    /// workload's adds its points only: it is no technique's whole shape that needs no history,
    /// nor a first of full weight. A person's is both.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pipeline_routine: bool,
    /// The two calls name two parts of one machine, or a part and the machine (an Azure VM's
    /// security agent extension removed, then a script extension or a run command on the VM):
    /// the sequence matches on the machine a part's id names ([`crate::event::Details::machine`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_machine: bool,
}

/// One catalog row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Unique stable id.
    pub id: String,
    /// Cloud.
    pub cloud: Cloud,
    /// AWS `service:EventName` or Azure operation name.
    pub operation: String,
    /// Optional request condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// Operation type under the default profile.
    #[serde(rename = "type")]
    pub op_type: OpType,
    /// Risk points under the default profile.
    pub risk: u32,
    /// T1578 or a sub-technique.
    pub technique: String,
    /// Other ATT&CK techniques this maps to. T1562.001 (disable or modify tools) also makes a
    /// protection change a weak sign for a thin history (`decision::threat_of`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    /// Operation type under `seed-kql`; absent = not in the seed's scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_type: Option<OpType>,
    /// Alerts on its own (default profile).
    #[serde(default)]
    pub critical: bool,
    /// Azure: counted (default profile) from the operation's `Start` record only, the one
    /// record of it whose request body the Activity Log keeps, where its recipients or source
    /// are read; its Accept and Success records are not counted for this row (those of a copy
    /// are the catch-all row's, which the Start replaces if they come first). A Start whose
    /// operation then fails is counted as the attempt it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_start: bool,
    /// Azure, with `on_start`: the operation's Accept or Success counts it too when it comes
    /// first (another Event Hub partition, a pipeline that forwards only Success records),
    /// and the Start then counts nothing more. For a row whose body adds to what the operation
    /// is (an export's length), not one whose body is what it is (a gallery share's
    /// recipients: a Success without them would stand for a share to no one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any_record: bool,
    /// Sequence bonus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boost: Option<Boost>,
    /// One line for analysts.
    pub description: String,
    /// Positive fixture, relative to `events/`.
    pub positive: String,
    /// Negative look-alike fixture, relative to `events/`.
    pub negative: String,
    /// The catalog has a row of the same call without a condition (set when the catalog is
    /// built): this row is a variant of a call that counts anyway ([`Entry::risky_variant`]).
    #[serde(skip)]
    plain_sibling: bool,
    /// The call launches a machine ([`Entry::launches_machine`]; set when the catalog is built,
    /// as every in-scope event asks).
    #[serde(skip)]
    launches: bool,
    /// The row is one end of an `on_machine` sequence (set when the catalog is built): only its
    /// events' machines are linked in a window, whose links are few.
    #[serde(skip)]
    machine_sequence: bool,
}

/// The calls that launch a machine the principal then holds.
const LAUNCHES: [&str; 3] = [
    "ec2:RunInstances",
    "lightsail:CreateInstances",
    "lightsail:CreateInstancesFromSnapshot",
];

/// Short stable hash of a catalog id, stored in window state instead of the id string.
pub fn id_hash(id: &str) -> u32 {
    xxh3_64(id.as_bytes()) as u32
}

impl Entry {
    /// [`id_hash`] of this row's id.
    pub fn id_hash(&self) -> u32 {
        id_hash(&self.id)
    }

    /// Does its call have a plain row (no condition) beside this one?
    pub fn has_plain_sibling(&self) -> bool {
        self.plain_sibling
    }

    /// A row told from its call's plain row by a request condition of its own (a GPU size,
    /// IMDSv1, no final snapshot, the replaced volume deleted): the request names its threat.
    /// Not a row told apart by a name the caller chooses ([`Condition::by_chosen_name`]) or by
    /// where it acts ([`Condition::names_place`]), nor a call counted only in one form, with no
    /// plain row (a group's capacity set to zero: the condition says which calls are the
    /// technique, not what makes a routine call risky).
    pub fn risky_variant(&self) -> bool {
        self.plain_sibling
            && self
                .when
                .as_ref()
                .is_some_and(|w| !w.by_chosen_name() && !w.names_place())
    }

    /// A disk or volume made from a snapshot (or copied from another subscription's disk or
    /// snapshot): one a machine can then read (`snapshot_mount`).
    pub fn makes_disk_from_snapshot(&self) -> bool {
        // Lightsail makes a disk from a snapshot with a call of its own.
        if self
            .operation
            .eq_ignore_ascii_case("lightsail:CreateDiskFromSnapshot")
        {
            return true;
        }
        let disk = self.operation.eq_ignore_ascii_case("ec2:CreateVolume")
            || ends_with_ci(&self.operation, "/disks/write");
        disk && self
            .when
            .as_ref()
            .is_some_and(|w| w.from_snapshot == Some(true) || w.cross_subscription == Some(true))
    }

    /// An EBS volume detached from its machine: one another machine can then read, as a disk
    /// made from a snapshot can (`snapshot_mount`). The Activity Log has no call of its own for
    /// an Azure disk's detach (a VM write that leaves it out), and the catalog has no Lightsail
    /// `DetachDisk` row.
    pub fn takes_disk_off_machine(&self) -> bool {
        self.operation.eq_ignore_ascii_case("ec2:DetachVolume")
    }

    /// A snapshot or disk copied from another subscription's.
    pub fn copies_across(&self) -> bool {
        self.when
            .as_ref()
            .is_some_and(|w| w.cross_subscription == Some(true))
    }

    /// An instance launch (`RunInstances`, Lightsail's creates): a machine the principal made.
    pub fn launches_machine(&self) -> bool {
        self.launches
    }

    /// Is the row one end of a sequence on one machine ([`Boost::on_machine`])?
    pub fn in_machine_sequence(&self) -> bool {
        self.machine_sequence
    }

    /// A read of a disk's or a snapshot's data where it is (an Azure disk's or snapshot's
    /// download URL, `beginGetAccess`; a read through the EBS direct APIs), not an export that
    /// writes a copy elsewhere: what a backup product or a scanner does every night. A restore
    /// point's download URLs (`retrieveSasUris`) are not among them.
    pub fn reads_in_place(&self) -> bool {
        let op = self.operation.as_bytes();
        op.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"ebs:"))
            || ends_with_ci(&self.operation, "/begingetaccess/action")
    }
}

/// Does `s` end with `suffix`, ASCII case-insensitively?
fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len()
        .checked_sub(suffix.len())
        .and_then(|i| s.get(i..))
        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    version: String,
    operation: Vec<Entry>,
}

/// Why a catalog was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// Not valid TOML or not the catalog schema.
    #[error("catalog is not valid: {0}")]
    Parse(String),
    /// The guide text does not fit the catalog.
    #[error(transparent)]
    Guide(#[from] GuideError),
    /// A row breaks a rule.
    #[error("catalog row `{id}`: {reason}")]
    Row {
        /// Row id.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

/// A validated catalog with its lookup indexes.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Catalog version, carried in alerts.
    pub version: String,
    /// Rows in file order.
    pub entries: Vec<Entry>,
    /// Per cloud, lower-cased operation -> rows, so a lookup borrows the event's string.
    by_operation: HashMap<Cloud, HashMap<String, Vec<usize>>>,
    by_hash: HashMap<u32, usize>,
    seed_azure: Vec<usize>,
    /// Investigation guides of the rows (`catalog/guides.toml`); empty for a catalog loaded
    /// from text alone.
    pub guides: GuideBook,
}

/// What one row must satisfy on its own: id syntax, ATT&CK ids, lower-case condition values,
/// points, the operation's spelling for its cloud, and the seed's type for Azure rows.
fn check_row(e: &Entry) -> Result<(), String> {
    let id_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c);
    if e.id.is_empty() || !e.id.chars().all(id_ok) {
        return Err("id must be lower-case letters, digits, '.' and '_'".into());
    }
    if !valid_technique(&e.technique, true) {
        return Err(format!(
            "technique `{}` is not T1578 or T1578.001-.005",
            e.technique
        ));
    }
    if let Some(bad) = e.related.iter().find(|t| !valid_technique(t, false)) {
        return Err(format!("related technique `{bad}` is not an ATT&CK id"));
    }
    if let Some(bad) = e.when.as_ref().and_then(|c| {
        c.instance_type_prefix
            .iter()
            .chain(&c.extension_contains)
            .find(|w| w.is_empty() || w.chars().any(|ch| ch.is_ascii_uppercase()))
    }) {
        return Err(format!(
            "condition value `{bad}` must be non-empty and lower-case"
        ));
    }
    if e.risk > 20 {
        return Err(format!("risk {} is above 20", e.risk));
    }
    if let Some(c) = &e.when {
        // `false` of either flag: every call that does not empty a group, or does not delete a
        // fleet with its instances, would meet it.
        if c.capacity_zero == Some(false) {
            return Err("capacity_zero can only be true: it selects the calls that empty a group".into());
        }
        if c.terminates_instances == Some(false) {
            return Err(
                "terminates_instances can only be true: it selects the deletions that take the instances"
                    .into(),
            );
        }
        // AWS Backup refuses a retention under one day: such a row would match nothing.
        if c.retention_days_max.is_some_and(|m| m < 1) {
            return Err("retention_days_max must be at least 1 (days)".into());
        }
    }
    if e.on_start && e.cloud != Cloud::Azure {
        return Err("on_start is for Azure rows: CloudTrail logs one record per call".into());
    }
    if e.any_record && !e.on_start {
        return Err(
            "any_record is for on_start rows: every other row counts its Accept and Success already".into(),
        );
    }
    if let Some(key) = e.when.as_ref().and_then(|c| body_key(c, e.cloud)) {
        if !e.on_start {
            return Err(format!(
                "{key} is read from the request body, which only the Start record carries: the row must be on_start"
            ));
        }
    }
    if e.cloud == Cloud::Aws {
        if let Some(c) = &e.when {
            if c.root_disk.is_some() {
                return Err("root_disk is an Azure VM write's condition: an AWS root attach is told by its device, which links the volume without a row of its own".into());
            }
            if c.user_data.is_some() {
                return Err("user_data is an Azure VM write's condition: AWS's is ModifyInstanceAttribute's `attribute = \"userData\"`".into());
            }
            if c.data_disk.is_some() {
                return Err("data_disk is an Azure VM write's condition: an AWS attach names its instance, which links the volume without a row of its own".into());
            }
            if c.cross_subscription.is_some() {
                return Err("cross_subscription is an Azure condition (a copy from another subscription): an AWS row would match nothing".into());
            }
        }
    }
    match e.cloud {
        Cloud::Aws if !e.operation.contains(':') => {
            return Err("AWS operation must be `service:EventName`".into())
        }
        Cloud::Azure if !e.operation.contains('/') => {
            return Err("Azure operation must be `Provider/type/action`".into())
        }
        _ => {}
    }
    match e.seed_type {
        Some(st) if e.cloud == Cloud::Azure && st != kql::operation_type(&e.operation) => Err(format!(
            "seed_type {} but the seed's case() gives {}",
            st.as_str(),
            kql::operation_type(&e.operation).as_str()
        )),
        _ => Ok(()),
    }
}

/// The condition of an Azure row read from the Start record's request body, if any.
fn body_key(c: &Condition, cloud: Cloud) -> Option<&'static str> {
    if cloud != Cloud::Azure {
        return None;
    }
    if c.cross_subscription.is_some() {
        Some("cross_subscription")
    } else if c.from_snapshot.is_some() {
        Some("from_snapshot")
    } else if c.root_disk.is_some() {
        Some("root_disk")
    } else if c.user_data.is_some() {
        Some("user_data")
    } else if c.data_disk.is_some() {
        Some("data_disk")
    } else {
        None
    }
}

fn valid_technique(t: &str, parent_only: bool) -> bool {
    let b = t.as_bytes();
    let head = b.len() >= 5 && b[0] == b'T' && b[1..5].iter().all(u8::is_ascii_digit);
    let sub = b.len() == 5 || (b.len() == 9 && b[5] == b'.' && b[6..].iter().all(u8::is_ascii_digit));
    head && sub
        && (!parent_only || t == "T1578" || (t.starts_with("T1578.00") && (b'1'..=b'5').contains(&b[8])))
}

impl Catalog {
    /// The catalog compiled into this build.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        let mut c = Catalog::from_toml(BUILTIN_CATALOG)?;
        c.guides = GuideBook::builtin(&c)?;
        Ok(c)
    }

    /// Parse and validate a catalog document.
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))?;
        Catalog::from_entries(file.version, file.operation)
    }

    /// Validate rows and build the indexes.
    pub fn from_entries(version: String, mut entries: Vec<Entry>) -> Result<Catalog, CatalogError> {
        let row = |id: &str, reason: String| CatalogError::Row {
            id: id.to_string(),
            reason,
        };
        let mut by_operation: HashMap<Cloud, HashMap<String, Vec<usize>>> = HashMap::new();
        let mut by_hash = HashMap::new();
        let mut seed_azure = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            check_row(e).map_err(|r| row(&e.id, r))?;
            if by_hash.insert(e.id_hash(), i).is_some() {
                return Err(row(&e.id, "duplicate id (or id hash collision)".into()));
            }
            if e.cloud == Cloud::Azure && e.seed_type.is_some() {
                seed_azure.push(i);
            }
            by_operation
                .entry(e.cloud)
                .or_default()
                .entry(e.operation.to_ascii_lowercase())
                .or_default()
                .push(i);
        }
        let plain: Vec<bool> = entries.iter().map(|e| e.when.is_none()).collect();
        for e in entries.iter_mut() {
            let same_call = &by_operation[&e.cloud][&e.operation.to_ascii_lowercase()];
            e.plain_sibling = same_call.iter().any(|&j| plain[j]);
            e.launches = LAUNCHES.iter().any(|op| e.operation.eq_ignore_ascii_case(op));
        }
        let mut on_machine = std::collections::HashSet::new();
        for e in &entries {
            if let Some(b) = &e.boost {
                if !entries.iter().any(|x| x.id == b.after) {
                    return Err(row(
                        &e.id,
                        format!("boost.after `{}` is not a catalog id", b.after),
                    ));
                }
                if b.on_machine {
                    on_machine.extend([e.id.clone(), b.after.clone()]);
                }
            }
        }
        for e in entries.iter_mut() {
            e.machine_sequence = on_machine.contains(&e.id);
        }
        Ok(Catalog {
            version,
            entries,
            by_operation,
            by_hash,
            seed_azure,
            guides: GuideBook::default(),
        })
    }

    /// Row whose id hashes to `h`.
    pub fn by_id_hash(&self, h: u32) -> Option<&Entry> {
        self.by_hash.get(&h).map(|&i| &self.entries[i])
    }

    /// Row by id.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// First row whose operation and condition match (the default profile's classification).
    pub fn classify(&self, ev: &ComputeEvent) -> Option<&Entry> {
        let rows = self.by_operation.get(&ev.cloud)?.get(ev.operation.as_str())?;
        rows.iter()
            .map(|&i| &self.entries[i])
            .find(|e| e.when.as_ref().is_none_or(|c| c.matches(ev)))
    }

    /// The seed KQL's classification: on Azure `has_any` over its 13 operations (restricted to
    /// the Microsoft.Compute provider) and the type from its `case()`; on AWS the default
    /// classification mapped to the row's `seed_type`.
    pub fn classify_seed(&self, ev: &ComputeEvent) -> Option<(&Entry, OpType)> {
        match ev.cloud {
            Cloud::Azure => {
                if ev.provider != "microsoft.compute" {
                    return None;
                }
                let e = self
                    .seed_azure
                    .iter()
                    .map(|&i| &self.entries[i])
                    .find(|e| kql::has(&ev.operation, &e.operation))?;
                Some((e, kql::operation_type(&ev.operation)))
            }
            Cloud::Aws => {
                let e = self.classify(ev)?;
                e.seed_type.map(|t| (e, t))
            }
        }
    }

    /// Entries of one cloud.
    pub fn for_cloud(&self, cloud: Cloud) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.cloud == cloud)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reads_in_place_are_the_download_urls_and_the_ebs_direct_reads() {
        let c = Catalog::builtin().unwrap();
        let ids: Vec<&str> = c
            .entries
            .iter()
            .filter(|e| e.reads_in_place())
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "aws.ebs.snapshot_blocks_listed",
                "aws.ebs.changed_blocks_listed",
                "azure.compute.disk_sas_export",
                "azure.compute.snapshot_sas_export",
            ]
        );
    }

    #[test]
    fn a_condition_makes_a_risky_variant_only_beside_a_plain_row_of_its_call() {
        let c = Catalog::builtin().unwrap();
        let risky = |id: &str| c.get(id).unwrap().risky_variant();
        // A GPU launch beside every launch, a delete that drops the backups beside every
        // delete: the request names its threat.
        assert!(risky("aws.ec2.run_instances_gpu"));
        assert!(risky("aws.rds.delete_db_instance_no_final_snapshot"));
        // A group's capacity set to zero and a share taken back are the only forms of their
        // calls the catalog counts: no routine form to be a variant of.
        assert!(!risky("aws.autoscaling.scale_to_zero"));
        assert!(!risky("aws.ec2.snapshot_share_removed"));
        // An extension told apart by the name its caller chose is no variant either.
        assert!(!risky("azure.compute.vm_security_extension_delete"));
        // Nor is a plain row.
        assert!(!risky("aws.ec2.run_instances"));
    }

    #[test]
    fn builtin_catalog_loads() {
        let c = Catalog::builtin().unwrap();
        // The counts the README states: 211 operations, 147 AWS and 64 Azure.
        let aws = c.entries.iter().filter(|e| e.cloud == Cloud::Aws).count();
        let azure = c.entries.iter().filter(|e| e.cloud == Cloud::Azure).count();
        assert_eq!((c.entries.len(), aws, azure), (211, 147, 64));
        assert_eq!(c.seed_azure.len(), 13);
    }

    #[test]
    fn validation_names_the_row_and_reason() {
        let doc = |extra: &str| {
            format!(
                "version = \"t\"\n[[operation]]\nid = \"x.y\"\ncloud = \"azure\"\noperation = \"Microsoft.Compute/disks/delete\"\ntype = \"DELETE\"\nrisk = 3\ntechnique = \"T1578.003\"\ndescription = \"d\"\npositive = \"p\"\nnegative = \"n\"\n{extra}"
            )
        };
        assert!(Catalog::from_toml(&doc("")).is_ok());
        let e = Catalog::from_toml(&doc("seed_type = \"CAPTURE\"")).unwrap_err();
        assert!(e.to_string().contains("case() gives DELETE"), "{e}");
        let e = Catalog::from_toml(&doc("color = 1")).unwrap_err();
        assert!(matches!(e, CatalogError::Parse(_)));
        let e = Catalog::from_toml(&doc("").replace("T1578.003", "T1578.009")).unwrap_err();
        assert!(e.to_string().contains("x.y"), "{e}");
        let e = Catalog::from_toml(&doc(
            "boost = { after = \"nope\", within_minutes = 1, points = 1 }",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("nope"));
        let e = Catalog::from_toml(&doc("when = { extension_contains = [\"CustomScript\"] }")).unwrap_err();
        assert!(e.to_string().contains("lower-case"), "{e}");
        let e = Catalog::from_toml(&doc("when = { capacity_zero = false }")).unwrap_err();
        assert!(e.to_string().contains("capacity_zero can only be true"), "{e}");
        let e = Catalog::from_toml(&doc("when = { terminates_instances = false }")).unwrap_err();
        assert!(
            e.to_string().contains("terminates_instances can only be true"),
            "{e}"
        );
        let e = Catalog::from_toml(&doc("when = { retention_days_max = 0 }")).unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
    }

    /// A recovery point's retention cut to days is the row; kept for longer, or a request
    /// that names no retention (a cold-storage move alone), is not: nothing is deleted soon.
    /// An `UpdateRecoveryPointLifecycle` record of 2026-02-01 09:00 UTC asking for `lifecycle`,
    /// with `response` as its response elements.
    fn lifecycle_call(lifecycle: serde_json::Value, response: serde_json::Value) -> ComputeEvent {
        crate::normalize::normalize(serde_json::json!({"eventTime":"2026-02-01T09:00:00Z",
            "eventSource":"backup.amazonaws.com","eventName":"UpdateRecoveryPointLifecycle",
            "awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"e1",
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice"},
            "requestParameters":{"backupVaultName":"Default",
                "recoveryPointArn":"arn:aws:ec2:us-east-1::snapshot/snap-1","lifecycle":lifecycle},
            "responseElements":response}))
        .unwrap()
    }

    #[test]
    fn a_retention_cut_is_a_recovery_point_kept_a_week_at_most() {
        let c = Catalog::builtin().unwrap();
        let at = |lifecycle: serde_json::Value| {
            let ev = lifecycle_call(lifecycle, serde_json::Value::Null);
            c.classify(&ev).map(|e| e.id.clone())
        };
        let cut = Some("aws.backup.recovery_point_retention_cut".to_string());
        assert_eq!(at(serde_json::json!({"deleteAfterDays": 1})), cut);
        assert_eq!(at(serde_json::json!({"DeleteAfterDays": "7"})), cut);
        assert_eq!(at(serde_json::json!({"deleteAfterDays": 8})), None);
        assert_eq!(at(serde_json::json!({"deleteAfterDays": 400})), None);
        assert_eq!(at(serde_json::json!({"moveToColdStorageAfterDays": 1})), None);
        // A retention taken away keeps the point until someone deletes it.
        assert_eq!(at(serde_json::json!({"deleteAfterDays": -1})), None);
    }

    /// The days count from the point's creation: 30 days on a 60-day-old point deletes it at
    /// once, which the response's calculated deletion time tells (in the Java SDK's format, or
    /// RFC 3339), and 2 days on a new point that the response dates a year away is no cut.
    #[test]
    fn a_retention_cut_is_read_from_when_the_point_is_deleted() {
        let c = Catalog::builtin().unwrap();
        let at = |days: i64, delete_at: &str| {
            let ev = lifecycle_call(
                serde_json::json!({"deleteAfterDays": days}),
                serde_json::json!({"calculatedLifecycle": {"deleteAt": delete_at}}),
            );
            (ev.details.backup_retention, c.classify(&ev).map(|e| e.id.clone()))
        };
        let cut = Some("aws.backup.recovery_point_retention_cut".to_string());
        assert_eq!(at(30, "Feb 1, 2026, 9:00:00 AM"), (Some(0), cut.clone()));
        assert_eq!(at(30, "2026-02-03T09:00:00Z"), (Some(2), cut));
        assert_eq!(at(2, "Feb 1, 2027, 9:00:00 AM"), (Some(365), None));
    }
}

//! Sigma rules generated from the catalog, so analysts can run the same row logic in their
//! SIEM. Data in, text out: one rule per catalog row, plus correlation rules for the seed's
//! count and resource thresholds. `t1578 sigma --out DIR` writes exactly this output and the
//! committed copy under `shared/catalog/sigma/` is checked against it.
//!
//! Each rule mirrors the catalog's first-match-wins order: a row's rule excludes what the
//! earlier rows of the same operation match, so an event fires the rule of the row it
//! classifies as, and no other.

use crate::catalog::{Catalog, Condition, Entry, OpType, ShareCond};
use crate::event::{Cloud, NETWORK_ACTIVITY_TYPE};
use std::fmt::Write;

/// Namespace of the rule UUIDs (v5 of the row id): stable across runs and releases.
const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5b0f_3a5e_7d1c_4c8e_9a57_1578_0000_5167);

/// The seed's false positives, quoted from its rule page.
const SEED_FALSE_POSITIVES: [&str; 5] = [
    "Legitimate DevOps CI/CD pipelines creating and deleting ephemeral build VMs during automated deployment workflows",
    "Authorized disaster recovery tests involving snapshot creation, VM replication, and failover exercises",
    "Infrastructure-as-Code tooling (Terraform, Bicep, ARM templates) running bulk creates/deletes during planned maintenance windows",
    "Cloud cost optimization scripts automatically deallocating idle VMs on a schedule",
    "Security scanning tools or backup agents installing VM extensions across a fleet",
];

/// One generated file, relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaFile {
    /// `aws/<rule>.yml`, `azure/<rule>.yml` or `correlation/<rule>.yml`.
    pub path: String,
    /// YAML text.
    pub text: String,
}

/// A Sigma value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Str(String),
    Bool(bool),
    Int(i64),
    Null,
}

/// `field|modifiers: values` (a list means any of them).
#[derive(Debug, Clone)]
struct Item {
    field: String,
    values: Vec<Val>,
}

/// A search identifier: a list of maps, any of which matches when all its items do.
#[derive(Debug, Clone)]
struct Search {
    name: String,
    maps: Vec<Vec<Item>>,
}

/// What one condition (or row) contributes: searches, the boolean expression over their
/// names, and what Sigma cannot say about it.
#[derive(Debug, Clone, Default)]
struct Part {
    searches: Vec<Search>,
    expr: String,
    gaps: Vec<String>,
}

fn s(v: &str) -> Val {
    Val::Str(v.to_string())
}

fn item(field: impl Into<String>, values: Vec<Val>) -> Item {
    Item {
        field: field.into(),
        values,
    }
}

/// The rule name of a row: its id with `_` for `.`.
pub fn rule_name(id: &str) -> String {
    format!("t1578_{}", id.replace('.', "_"))
}

/// The stable UUID of a row's rule (or of a correlation rule, by its name).
pub fn rule_uuid(key: &str) -> String {
    uuid::Uuid::new_v5(&NAMESPACE, key.as_bytes()).to_string()
}

/// Whether the row's Sigma rule is wider than the row: its condition has a part of the request
/// body Sigma cannot test as the detector does (`body_parts`: the subscription of a copy's
/// source against the record's own, the OS disk a VM write names against an earlier record's
/// disk, user data set on a machine that exists, which needs a second test of the body, a data
/// disk told from the OS disk), so the rule matches every copy that names its source, every VM
/// write that names a disk or sets user data.
pub fn widened(e: &Entry) -> bool {
    e.when.as_ref().is_some_and(|c| !body_parts(c, "").is_empty())
}

/// Sigma level from the row's points: what alerts alone is high (critical when it makes
/// data public), 3-4 points are medium, 1-2 low, context rows informational. A [`widened`]
/// rule is low, whatever the row: most of what it matches is not what the row means.
pub fn level(e: &Entry) -> &'static str {
    if widened(e) {
        return "low";
    }
    match (e.critical, e.risk) {
        (true, r) if r >= 7 => "critical",
        (true, _) | (_, 5..) => "high",
        (_, 3..=4) => "medium",
        (_, 1..=2) => "low",
        _ => "informational",
    }
}

/// Request parameter paths as CloudTrail logs them: flat, or wrapped as
/// `{"<Op>Request": {"PascalCase": ...}}` by newer EC2 APIs (the normalizer reads both).
fn req_paths(event_name: &str, path: &str) -> Vec<String> {
    let pascal: Vec<String> = path
        .split('.')
        .map(|seg| {
            let mut c = seg.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    vec![
        format!("requestParameters.{path}"),
        format!("requestParameters.{event_name}Request.{}", pascal.join(".")),
    ]
}

/// Any of the request paths has one of `values` (with `modifier`, e.g. `|gte`).
fn req_any(event_name: &str, path: &str, modifier: &str, values: Vec<Val>) -> Vec<Vec<Item>> {
    req_paths(event_name, path)
        .into_iter()
        .map(|p| vec![item(format!("{p}{modifier}"), values.clone())])
        .collect()
}

fn search(name: &str, maps: Vec<Vec<Item>>) -> Search {
    Search {
        name: name.to_string(),
        maps,
    }
}

/// Where a share request lists its recipients, per API family.
#[derive(Clone, Copy)]
enum Recipients {
    /// EC2: `add` / `remove` lists of items under this permission.
    Ec2(&'static str),
    /// RDS: `valuesToAdd` / `valuesToRemove` of the `restore` attribute.
    Rds,
    /// A DLM policy: its schedules' share rules name target accounts (nothing is removed).
    Dlm,
    /// A WorkSpaces image: one account a call, allowed to copy it or no longer.
    Workspaces,
}

impl Recipients {
    fn of(svc: &str, name: &str) -> Recipients {
        match (svc, name) {
            ("ec2", "ModifySnapshotAttribute") => Recipients::Ec2("requestParameters.createVolumePermission"),
            ("ec2", _) => Recipients::Ec2("requestParameters.launchPermission"),
            ("dlm", _) => Recipients::Dlm,
            ("workspaces", _) => Recipients::Workspaces,
            _ => Recipients::Rds,
        }
    }

    /// The fields that may hold an added recipient of this kind (`userId`, `group`...).
    fn added(self, key: &str) -> Vec<String> {
        match self {
            Recipients::Ec2(base) => vec![format!("{base}.add.items.{key}")],
            Recipients::Rds => vec!["requestParameters.valuesToAdd".into()],
            Recipients::Dlm => DLM_TARGETS.iter().map(|f| f.to_string()).collect(),
            Recipients::Workspaces => WORKSPACES_SPELLINGS.iter().map(|(_, a)| a.to_string()).collect(),
        }
    }

    /// Any recipient added (`side` = "add") or removed ("remove").
    fn any(self, side: &str) -> Vec<Vec<Item>> {
        match self {
            Recipients::Rds => {
                let key = if side == "add" {
                    "valuesToAdd"
                } else {
                    "valuesToRemove"
                };
                vec![vec![item(format!("requestParameters.{key}"), vec![s("*")])]]
            }
            // A policy write takes no share back: both sides are its targets, so "removed and not
            // added" never holds.
            Recipients::Dlm => DLM_TARGETS.iter().map(|f| vec![item(*f, vec![s("*")])]).collect(),
            Recipients::Workspaces => WORKSPACES_SPELLINGS
                .iter()
                .map(|(allow, account)| {
                    vec![
                        item(*allow, vec![Val::Bool(side == "add")]),
                        item(*account, vec![s("*")]),
                    ]
                })
                .collect(),
            Recipients::Ec2(base) => ["userId", "group", "organizationArn", "organizationalUnitArn"]
                .iter()
                .map(|k| vec![item(format!("{base}.{side}.items.{k}"), vec![s("*")])])
                .collect(),
        }
    }
}

/// Where a DLM policy write lists the accounts its snapshots are shared with: as CloudTrail's
/// other captures spell request members, and as AWS's own DLM example does (the API's
/// PascalCase). Most SIEMs compare field names case-sensitively.
const DLM_TARGETS: [&str; 2] = [
    "requestParameters.policyDetails.schedules.shareRules.targetAccounts",
    "requestParameters.PolicyDetails.Schedules.ShareRules.TargetAccounts",
];

/// Where UpdateWorkspaceImagePermission says whether the account may copy the image, and which
/// account, as CloudTrail spells the request members of JSON-protocol services (camelCase). One
/// spelling: QRadar's and DuckDB's columns are case-insensitive, so a PascalCase twin would be
/// the same column twice.
const WORKSPACES_SPELLINGS: [(&str, &str); 1] = [(
    "requestParameters.allowCopyImage",
    "requestParameters.sharedAccountId",
)];

/// The recipients added or removed by a share request, per API family.
fn share_part(op: &str, want: ShareCond, p: &str) -> Part {
    let (svc, name) = op.split_once(':').unwrap_or(("", op));
    let mut part = Part::default();
    if name.starts_with("SharedSnapshot") {
        // Service events: the other account is the caller.
        let field = item("userIdentity.accountId|fieldref", vec![s("recipientAccountId")]);
        part.searches
            .push(search(&format!("{p}_own_account"), vec![vec![field]]));
        part.expr = format!("not {p}_own_account");
        return part;
    }
    let to = Recipients::of(svc, name);
    let mut exprs = Vec::new();
    if matches!(to, Recipients::Rds) {
        let restore = item("requestParameters.attributeName", vec![s("restore")]);
        part.searches
            .push(search(&format!("{p}_restore"), vec![vec![restore]]));
        exprs.push(format!("{p}_restore"));
    }
    match want {
        ShareCond::Public => {
            let public = to
                .added("group")
                .into_iter()
                .map(|f| vec![item(f, vec![s("all")])]);
            part.searches
                .push(search(&format!("{p}_public"), public.collect()));
            exprs.push(format!("{p}_public"));
        }
        ShareCond::External => {
            part.searches.push(search(&format!("{p}_added"), to.any("add")));
            let mut expr = format!("{p}_added");
            // One search per spelling, each negated: Splunk's backend cannot OR field references.
            for (i, f) in to.added("userId").into_iter().enumerate() {
                let name = match i {
                    0 => format!("{p}_to_self"),
                    i => format!("{p}_to_self_{i}"),
                };
                let field = item(format!("{f}|fieldref"), vec![s("recipientAccountId")]);
                part.searches.push(search(&name, vec![vec![field]]));
                expr.push_str(&format!(" and not {name}"));
            }
            exprs.push(expr);
            // A WorkSpaces image is shared with one account a call.
            if !matches!(to, Recipients::Workspaces) {
                part.gaps.push(
                    "a request adding the own account together with another one is missed: Sigma compares the recipient list to the account as a whole".into(),
                );
            }
        }
        ShareCond::Removed => {
            part.searches
                .push(search(&format!("{p}_removed"), to.any("remove")));
            part.searches.push(search(&format!("{p}_added"), to.any("add")));
            exprs.push(format!("{p}_removed and not {p}_added"));
        }
    }
    part.expr = exprs.join(" and ");
    part
}

/// The parts of an Azure row's condition that test the Start record's request body, each with
/// what Sigma cannot say of it: one test of the body is all every backend converts (Sentinel's
/// quotes the field of a second twice), and Sigma compares no value with another record's.
fn body_parts(c: &Condition, p: &str) -> Vec<Part> {
    let part = |suffix: &str, text: &str, gap: &str| Part {
        searches: vec![search(
            &format!("{p}_{suffix}"),
            vec![vec![item("properties.requestbody|contains", vec![s(text)])]],
        )],
        expr: format!("{p}_{suffix}"),
        gaps: vec![gap.to_string()],
    };
    let mut parts = Vec::new();
    if c.root_disk == Some(true) {
        // A disk named by its id in a VM's body: the OS disk's, or a data disk attached.
        parts.push(part(
            "root_disk",
            "/providers/Microsoft.Compute/disks/",
            "Sigma cannot compare the OS disk a VM write names with the disks the same caller made from snapshots within the hour (the detector's sequence): this rule matches every write that names a disk by its id, every full update of a VM; join it with azure.compute.disk_from_snapshot's rule on the disk id, or rely on the detector",
        ));
    }
    if c.user_data == Some(true) {
        // The key in the Start's request body: a routine full update leaves it out.
        parts.push(part(
            "user_data",
            "\"userData\"",
            "Sigma cannot compare two tests of one request body in every backend (Sentinel's quotes the field twice): this rule tests that the body sets userData, so it also matches a VM created with user data, where the detector counts user data set on a machine that exists (its body names its OS disk by id)",
        ));
    }
    if c.data_disk == Some(true) {
        // A data disk named by its id in a VM's body.
        parts.push(part(
            "data_disk",
            "/providers/Microsoft.Compute/disks/",
            "Sigma cannot compare the data disks a VM write names with the disks the same caller made from snapshots within the hour (the detector's link), nor tell a data disk's id from the OS disk's in one test of the body: this rule matches every write that names a disk by its id; join it with azure.compute.disk_from_snapshot's rule on the disk id, or rely on the detector",
        ));
    }
    if c.cross_subscription == Some(true) {
        parts.push(part(
            "source",
            "sourceResourceId",
            "Sigma cannot compare the subscription of the source (in the request body) with the record's: this rule matches every copy whose Start names its source, within one subscription too; add a filter on your own subscription ids, or rely on the detector, which compares them",
        ));
    }
    parts
}

/// The Sigma form of one request condition, its search names prefixed with `p`.
fn condition_part(e: &Entry, c: &Condition, p: &str) -> Part {
    let name = e.operation.split_once(':').map_or("", |x| x.1);
    let mut parts: Vec<Part> = Vec::new();
    let simple = |suffix: &str, maps: Vec<Vec<Item>>| Part {
        searches: vec![search(&format!("{p}_{suffix}"), maps)],
        expr: format!("{p}_{suffix}"),
        gaps: Vec::new(),
    };
    if let Some(sh) = c.share {
        parts.push(share_part(&e.operation, sh, p));
    }
    if let Some(a) = e.operation.strip_prefix("lightsail:").and(c.attribute.as_ref()) {
        // Lightsail names the add-on a DisableAddOn turns off.
        parts.push(simple("attribute", req_any(name, "addOnType", "", vec![s(a)])));
    } else if let Some(a) = &c.attribute {
        let mut maps = req_any(name, "attribute", "", vec![s(a)]);
        maps.extend(req_any(name, a, "", vec![s("*")]));
        // CloudTrail logs most attributes as an object (`{"disableApiTermination": {"value":
        // false}}`), which a flattened field list holds only by its member.
        maps.extend(req_any(name, &format!("{a}.value"), "", vec![s("*")]));
        parts.push(simple("attribute", maps));
    }
    if let Some(t) = &c.http_tokens {
        // A launch template sets them in its data, the other calls at the top or in their options.
        let maps = if name.starts_with("CreateLaunchTemplate") {
            req_any(
                name,
                "launchTemplateData.metadataOptions.httpTokens",
                "",
                vec![s(t)],
            )
        } else {
            let mut maps = req_any(name, "httpTokens", "", vec![s(t)]);
            maps.extend(req_any(name, "metadataOptions.httpTokens", "", vec![s(t)]));
            maps
        };
        parts.push(simple("http_tokens", maps));
    }
    if let Some(h) = c.hop_limit_min {
        let mut maps = req_any(name, "httpPutResponseHopLimit", "|gte", vec![Val::Int(h)]);
        maps.extend(req_any(
            name,
            "metadataOptions.httpPutResponseHopLimit",
            "|gte",
            vec![Val::Int(h)],
        ));
        parts.push(simple("hop_limit", maps));
    }
    if c.capacity_zero == Some(true) {
        let mut maps = req_any(name, "desiredCapacity", "", vec![Val::Int(0)]);
        maps.extend(req_any(name, "maxSize", "", vec![Val::Int(0)]));
        parts.push(simple("capacity_zero", maps));
    }
    if c.terminates_instances == Some(true) {
        parts.push(simple(
            "terminates_instances",
            req_any(name, "terminateInstances", "", vec![Val::Bool(true)]),
        ));
    }
    if c.from_snapshot == Some(true) {
        let maps = match e.cloud {
            Cloud::Aws => req_any(name, "snapshotId", "", vec![s("*")]),
            // The source in the Start's request body.
            Cloud::Azure => vec![vec![item(
                "properties.requestbody|contains",
                vec![s("/providers/Microsoft.Compute/snapshots/")],
            )]],
        };
        parts.push(simple("from_snapshot", maps));
        if e.cloud == Cloud::Azure {
            // Sentinel's backend quotes the field of two tests of the body twice (invalid KQL).
            parts.last_mut().expect("pushed").gaps.push(
                "a disk made from a VM restore point's disk (a source under /diskRestorePoints/, which the detector counts) is not matched".into(),
            );
        }
    }
    parts.extend(body_parts(c, p));
    if c.cross_region == Some(true) {
        parts.push(cross_region_part(e, name, p));
    }
    for (suffix, field, want) in [
        ("deletion_protection", "deletionProtection", c.deletion_protection),
        ("publicly_accessible", "publiclyAccessible", c.publicly_accessible),
        ("skip_final_snapshot", "skipFinalSnapshot", c.skip_final_snapshot),
        (
            "delete_automated_backups",
            "deleteAutomatedBackups",
            c.delete_automated_backups,
        ),
        (
            "delete_replaced_root_volume",
            "deleteReplacedRootVolume",
            c.delete_replaced_root_volume,
        ),
    ] {
        if let Some(w) = want {
            parts.push(simple(suffix, req_any(name, field, "", vec![Val::Bool(w)])));
        }
    }
    if let Some(r) = c.backup_retention {
        parts.push(simple(
            "backup_retention",
            req_any(name, "backupRetentionPeriod", "", vec![Val::Int(r)]),
        ));
    }
    if let Some(max) = c.retention_days_max {
        let maps = req_paths(name, "lifecycle.deleteAfterDays")
            .into_iter()
            .map(|p| {
                vec![
                    item(format!("{p}|lte"), vec![Val::Int(max)]),
                    // -1 takes the retention away: the point is kept.
                    item(format!("{p}|gte"), vec![Val::Int(1)]),
                ]
            })
            .collect();
        parts.push(simple("retention_days", maps));
        parts.last_mut().expect("pushed").gaps.push(
            "the days count from the recovery point's creation, so a longer retention on an older point deletes it as soon, which Sigma cannot compare; the detector reads the response's calculated deletion time".into(),
        );
    }
    if !c.instance_type_prefix.is_empty() {
        parts.push(instance_type_part(e, name, &c.instance_type_prefix, p));
    }
    if !c.extension_contains.is_empty() {
        let v = c
            .extension_contains
            .iter()
            .map(|x| s(&format!("*/extensions/*{x}*")))
            .collect();
        parts.push(simple("extension", vec![vec![item("resourceId", v)]]));
        parts.last_mut().expect("pushed").gaps.push(
            "the extension is recognised by its name in the resource id, which the caller chooses".into(),
        );
    }
    join_parts(parts)
}

/// The requested size starts with one of `prefixes`. On Azure the size is a string of the
/// request body (itself a JSON string): a value starting with the prefix, as `"Standard_N`.
fn instance_type_part(e: &Entry, name: &str, prefixes: &[String], p: &str) -> Part {
    let (maps, gaps) = match e.cloud {
        Cloud::Azure => {
            let v = prefixes
                .iter()
                .map(|x| s(&format!("\"{}", azure_size_casing(x))))
                .collect();
            (
                vec![vec![item("properties.requestbody|contains", v)]],
                vec!["the size is found as a string of the request body starting with the prefix: a name the caller chooses that starts with it matches too".into()],
            )
        }
        Cloud::Aws => {
            // An AWS Batch environment may name a family alone (`p3`), so its test drops the
            // prefixes' dot: every family the list names is a GPU family, and so is every type
            // that starts with one (`p3dn`, `g6e`).
            let batch = name.ends_with("ComputeEnvironment");
            let v: Vec<Val> = prefixes
                .iter()
                .map(|x| {
                    s(if batch {
                        x.strip_suffix('.').unwrap_or(x)
                    } else {
                        x
                    })
                })
                .collect();
            // A launch template names the type in its data, RunInstances at the top, an EKS node
            // group in a list (any of its types), an AWS Batch environment in its resources'.
            let path = if name.starts_with("CreateLaunchTemplate") {
                "launchTemplateData.instanceType"
            } else if name == "CreateNodegroup" {
                "instanceTypes"
            } else if batch {
                "computeResources.instanceTypes"
            } else {
                "instanceType"
            };
            (req_any(name, path, "|startswith", v), Vec::new())
        }
    };
    Part {
        searches: vec![search(&format!("{p}_instance_type"), maps)],
        expr: format!("{p}_instance_type"),
        gaps,
    }
}

/// An Azure size prefix as Azure writes sizes (`standard_n` -> `Standard_N`): Sigma matches
/// without case, and the rule reads as the sizes do.
fn azure_size_casing(prefix: &str) -> String {
    prefix
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map_or_else(String::new, |f| f.to_ascii_uppercase().to_string() + c.as_str())
        })
        .collect::<Vec<_>>()
        .join("_")
}

fn cross_region_part(e: &Entry, name: &str, p: &str) -> Part {
    if e.operation.starts_with("rds:") {
        let mut maps = req_any(name, "sourceDBSnapshotIdentifier", "|startswith", vec![s("arn:")]);
        maps.extend(req_any(
            name,
            "sourceDBClusterSnapshotIdentifier",
            "|startswith",
            vec![s("arn:")],
        ));
        return Part {
            searches: vec![search(&format!("{p}_source_arn"), maps)],
            expr: format!("{p}_source_arn"),
            gaps: vec![
                "the source is matched as an ARN (cross-region copies must name one); Sigma cannot compare the ARN's region with awsRegion, so a same-region copy named by ARN also matches".into(),
            ],
        };
    }
    Part {
        searches: vec![
            search(
                &format!("{p}_source_region"),
                req_any(name, "sourceRegion", "", vec![s("*")]),
            ),
            search(
                &format!("{p}_same_region"),
                vec![vec![item(
                    "requestParameters.sourceRegion|fieldref",
                    vec![s("awsRegion")],
                )]],
            ),
        ],
        expr: format!("{p}_source_region and not {p}_same_region"),
        gaps: Vec::new(),
    }
}

fn join_parts(parts: Vec<Part>) -> Part {
    let mut out = Part::default();
    let mut exprs = Vec::new();
    for p in parts {
        out.searches.extend(p.searches);
        out.gaps.extend(p.gaps);
        exprs.push(format!("({})", p.expr));
    }
    out.expr = exprs.join(" and ");
    out
}

/// The complete detection of a row: operation and success, its own condition, and the
/// negation of every earlier row of the same operation (first match wins).
fn detection(catalog: &Catalog, e: &Entry) -> Part {
    let mut part = Part::default();
    let mut expr = vec!["selection".to_string()];
    part.searches.push(search("selection", vec![base_selection(e)]));
    if let Some(c) = &e.when {
        let own = condition_part(e, c, "when");
        part.searches.extend(own.searches);
        part.gaps.extend(own.gaps);
        expr.push(own.expr);
    }
    let earlier = catalog
        .entries
        .iter()
        .take_while(|x| x.id != e.id)
        .filter(|x| x.cloud == e.cloud && x.operation.eq_ignore_ascii_case(&e.operation))
        // A row matched on the Start and one matched on the Success never see one record.
        .filter(|x| x.on_start == e.on_start)
        // A wider rule's condition holds for every record of a later row's (a copy's Start
        // names its source, and so does a disk made from a snapshot): excluding it would leave
        // the later rule nothing. The two rules overlap instead, as the wider one says.
        .filter(|x| !widened(x));
    for (k, prior) in earlier.enumerate() {
        if let Some(c) = &prior.when {
            let p = condition_part(prior, c, &format!("earlier{}", k + 1));
            part.searches.extend(p.searches);
            expr.push(format!("not ({})", p.expr));
        }
    }
    if e.cloud == Cloud::Aws {
        part.searches.push(search(
            "filter_aws_service",
            vec![vec![item("userIdentity.type", vec![s("AWSService")])]],
        ));
        expr.push("not filter_aws_service".into());
        // The endpoint owner's record of a call that crossed a VPC endpoint, beside the call's
        // own: not the call (the engine's `Phase::Network`).
        part.searches.push(search(
            "filter_network_activity",
            vec![vec![item("eventType", vec![s(NETWORK_ACTIVITY_TYPE)])]],
        ));
        expr.push("not filter_network_activity".into());
    }
    part.expr = expr.join(" and ");
    part
}

fn base_selection(e: &Entry) -> Vec<Item> {
    match e.cloud {
        Cloud::Aws => {
            let (svc, name) = e.operation.split_once(':').unwrap_or(("", &e.operation));
            // Success only (failed and DryRun calls carry an errorCode), and not a call an AWS
            // service made for the principal. Written as "absent or empty" rather than a negated
            // wildcard: SIEMs store the absent field as null (ES|QL) or "" (Sentinel), and a
            // negated wildcard is false for both there.
            let mut items = vec![
                item("eventSource", vec![s(&format!("{svc}.amazonaws.com"))]),
                item("eventName", vec![s(name)]),
                item("errorCode", vec![Val::Null, s("")]),
            ];
            // Service events (SharedSnapshot*) are invoked by EC2 by nature. The console acts for
            // the person signed in and CloudFormation for the stack's deployer, and a critical
            // carried by a service that runs its author's calls is the author's, as the engine
            // judges them.
            if !is_service_event(e) {
                let mut by = vec![Val::Null, s("")];
                by.extend(crate::engine::ACTS_FOR_PRINCIPAL.iter().map(|a| s(a)));
                if e.critical {
                    by.extend(crate::engine::CARRIERS.iter().map(|c| s(c)));
                }
                items.push(item("userIdentity.invokedBy", by));
            }
            items
        }
        // A row counted from its Start (its request body) matches the Start, as the detector.
        Cloud::Azure if e.on_start => vec![
            item("operationName", vec![s(&e.operation)]),
            item("resultType", vec![s("Start"), s("Started")]),
        ],
        Cloud::Azure => vec![
            item("operationName", vec![s(&e.operation)]),
            item("resultType", vec![s("Success"), s("Succeeded")]),
        ],
    }
}

/// Single-quoted YAML scalar.
fn q(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''").replace(['\n', '\r'], " "))
}

fn val(v: &Val) -> String {
    match v {
        Val::Str(x) => q(x),
        Val::Bool(b) => b.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Null => "null".into(),
    }
}

fn write_search(out: &mut String, sr: &Search) {
    let _ = writeln!(out, "  {}:", sr.name);
    for map in &sr.maps {
        for (i, it) in map.iter().enumerate() {
            let lead = if i == 0 { "    - " } else { "      " };
            match it.values.as_slice() {
                [one] => {
                    let _ = writeln!(out, "{lead}{}: {}", it.field, val(one));
                }
                many => {
                    let _ = writeln!(out, "{lead}{}:", it.field);
                    for v in many {
                        let _ = writeln!(out, "          - {}", val(v));
                    }
                }
            }
        }
    }
}

fn attack_tags(e: &Entry) -> Vec<String> {
    let mut tags = vec!["attack.defense-evasion".to_string()];
    tags.extend(
        std::iter::once(&e.technique)
            .chain(&e.related)
            .map(|t| format!("attack.{}", t.to_ascii_lowercase())),
    );
    tags
}

fn row_false_positive(t: OpType) -> &'static str {
    match t {
        OpType::Share => {
            "Sanctioned sharing with a partner, backup or disaster-recovery account (allowlist the recipient)"
        }
        OpType::Exfil => "Sanctioned exports or migrations to a known bucket or account",
        OpType::Delete => "Planned decommissioning and retention clean-up",
        OpType::Capture | OpType::Generalize => {
            "Scheduled backups and image pipelines not run as an AWS service"
        }
        OpType::Impair => "Planned configuration changes recorded in a change ticket",
        OpType::Revert => "Restores during incident recovery or disaster-recovery tests",
        OpType::Exec | OpType::ExtensionChange => {
            "Configuration management and patching agents run by operators"
        }
        _ => "Routine operations by the teams that own the resource",
    }
}

fn description(e: &Entry, gaps: &[String]) -> String {
    let mut d = format!(
        "{}. Catalog row {} ({}, {} points{}).",
        e.description,
        e.id,
        e.op_type.as_str(),
        e.risk,
        if e.critical { ", alerts alone" } else { "" }
    );
    let mut not_expressed: Vec<String> = gaps.to_vec();
    if let Some(b) = &e.boost {
        not_expressed.push(format!(
            "the +{} sequence bonus after {} within {} minutes",
            b.points, b.after, b.within_minutes
        ));
    }
    not_expressed.push(
        "the detector's per-principal sum of points and its baselines (see the correlation rules for the seed's count thresholds)".into(),
    );
    let _ = write!(d, " Not expressed in Sigma: {}.", not_expressed.join("; "));
    d
}

fn rule_text(catalog: &Catalog, e: &Entry, date: &str) -> String {
    let det = detection(catalog, e);
    let mut out = String::new();
    let _ = writeln!(out, "title: {}", q(&format!("T1578 {}", e.description)));
    let _ = writeln!(out, "id: {}", rule_uuid(&e.id));
    let _ = writeln!(out, "name: {}", rule_name(&e.id));
    let _ = writeln!(out, "status: experimental");
    let _ = writeln!(out, "description: {}", q(&description(e, &det.gaps)));
    let _ = writeln!(out, "references:");
    let _ = writeln!(
        out,
        "  - {}",
        q(&format!(
            "https://attack.mitre.org/techniques/{}/",
            e.technique.replace('.', "/")
        ))
    );
    let _ = writeln!(out, "author: {}", q("t1578 catalog (generated by `t1578 sigma`)"));
    let _ = writeln!(out, "date: {date}");
    let _ = writeln!(out, "tags:");
    for t in attack_tags(e) {
        let _ = writeln!(out, "  - {t}");
    }
    let (product, service) = match e.cloud {
        Cloud::Aws => ("aws", "cloudtrail"),
        Cloud::Azure => ("azure", "activitylogs"),
    };
    let _ = writeln!(out, "logsource:\n  product: {product}\n  service: {service}");
    let _ = writeln!(out, "detection:");
    for sr in &det.searches {
        write_search(&mut out, sr);
    }
    let _ = writeln!(out, "  condition: {}", det.expr);
    let _ = writeln!(out, "falsepositives:");
    for fp in SEED_FALSE_POSITIVES
        .iter()
        .copied()
        .chain([row_false_positive(e.op_type)])
    {
        let _ = writeln!(out, "  - {}", q(fp));
    }
    let _ = writeln!(out, "level: {}", level(e));
    let _ = writeln!(out, "catalog_id: {}", q(&e.id));
    let _ = writeln!(out, "risk_points: {}", e.risk);
    let _ = writeln!(out, "sigma_gaps: {}", det.gaps.len());
    if widened(e) {
        let _ = writeln!(out, "sigma_wider: true");
    }
    out
}

/// A Sigma correlation rule over the rules of one cloud.
struct Correlation {
    name: &'static str,
    title: &'static str,
    cloud: Cloud,
    kind: &'static str,
    /// Only rows worth exactly these points (None: every row with points).
    points: Option<u32>,
    group_by: &'static [&'static str],
    field: Option<&'static str>,
    gte: u32,
    level: &'static str,
    description: &'static str,
}

const AWS_PRINCIPAL: &[&str] = &["userIdentity.arn", "recipientAccountId"];
/// The Entra object id of the caller, a claim of the Activity Log export (the form the Azure
/// rules test): every principal's token carries it, users, applications and managed identities
/// alike, and it does not change with a rename. The export has no `caller` and no
/// `subscriptionId` (both are REST / Log Analytics fields); the subscription is only a segment
/// of `resourceId`, which Sigma cannot group by, so none is grouped by here.
const AZURE_PRINCIPAL: &[&str] =
    &["identity.claims.http://schemas.microsoft.com/identity/claims/objectidentifier"];

/// What the Azure correlations count across, said in their descriptions.
const AZURE_GROUPING: &str = "One principal is its Entra object id (the objectidentifier claim of the export record; Sentinel's AzureActivity has it as Caller for applications and managed identities, and the UPN there for users). The export names no subscription outside resourceId, so a principal's operations in all subscriptions of its tenant count together, where the detector counts per subscription, so this can fire where no one subscription reaches the threshold.";

const CORRELATIONS: [Correlation; 5] = [
    Correlation {
        name: "t1578_correlation_aws_bulk_operations",
        title: "T1578 bulk compute modifications by one AWS principal",
        cloud: Cloud::Aws,
        kind: "event_count",
        points: None,
        group_by: AWS_PRINCIPAL,
        field: None,
        gte: 5,
        level: "medium",
        description: "The seed's bulk half: 5 or more T1578 operations by one principal in a day. Not expressed in Sigma: the seed's AND with 3 or more distinct resources (AWS names resources in per-API fields, so no one field holds them), and the detector's keying of assumed roles by the issuing role (Sigma groups by the session ARN, so rotating sessions split the count).",
    },
    Correlation {
        name: "t1578_correlation_aws_two_point_pairs",
        title: "T1578 repeated two-point compute modifications by one AWS principal",
        cloud: Cloud::Aws,
        kind: "event_count",
        points: Some(2),
        group_by: AWS_PRINCIPAL,
        field: None,
        gte: 2,
        level: "medium",
        description: "The seed's risk threshold (a day's points reach 3) for the 2-point rows: two of them. Rows of 3 or more points reach it alone (their own rules). Not expressed in Sigma: sums that mix rows of different points (2 + 1), which needs the detector's summed risk.",
    },
    Correlation {
        name: "t1578_correlation_aws_one_point_triples",
        title: "T1578 repeated one-point compute modifications by one AWS principal",
        cloud: Cloud::Aws,
        kind: "event_count",
        points: Some(1),
        group_by: AWS_PRINCIPAL,
        field: None,
        gte: 3,
        level: "low",
        description: "The seed's risk threshold (a day's points reach 3) for the 1-point rows: three of them. Not expressed in Sigma: sums that mix rows of different points, per-instance units of batch APIs, baselines.",
    },
    Correlation {
        name: "t1578_correlation_azure_bulk_operations",
        title: "T1578 bulk compute modifications by one Azure caller",
        cloud: Cloud::Azure,
        kind: "event_count",
        points: None,
        group_by: AZURE_PRINCIPAL,
        field: None,
        gte: 5,
        level: "medium",
        description: "The seed's bulk half: 5 or more T1578 operations by one principal in a day (one per operation: the rules match its Success only, or a gallery share's Start only, where the seed double-counts Started and Succeeded). Not expressed in the same rule: the AND with 3 distinct resources (see the value_count rule).",
    },
    Correlation {
        name: "t1578_correlation_azure_distinct_resources",
        title: "T1578 compute modifications across many Azure resources by one caller",
        cloud: Cloud::Azure,
        kind: "value_count",
        points: None,
        group_by: AZURE_PRINCIPAL,
        field: Some("resourceId"),
        gte: 3,
        level: "medium",
        description: "The seed's resource half: T1578 operations on 3 or more distinct resources by one principal in a day. Sigma has no AND of two correlation conditions, so the seed's (count >= 5 and resources >= 3) is these two rules together.",
    },
];

/// CloudTrail's service events (`SharedSnapshot*`): another account acts, as `AWSAccount` with
/// an account id and no `userIdentity.arn`.
fn is_service_event(e: &Entry) -> bool {
    e.cloud == Cloud::Aws
        && e.operation
            .split_once(':')
            .is_some_and(|(_, name)| name.starts_with("SharedSnapshot"))
}

/// A row read from its operation's Start (its request body) beside the operation's plain row, or
/// a [`widened`] one: the plain row's rule counts the operation's Success, so a correlation
/// counting both would count one operation twice. The plain row is another, counted from the
/// Success: a row counted from its Start alone (a gallery share, an export) is its operation's
/// only rule, which the correlation counts.
fn read_beside_plain(e: &Entry, catalog: &Catalog) -> bool {
    let beside = || {
        catalog.for_cloud(e.cloud).any(|x| {
            x.id != e.id && x.when.is_none() && !x.on_start && x.operation.eq_ignore_ascii_case(&e.operation)
        })
    };
    widened(e) || (e.on_start && beside())
}

fn correlation_text(c: &Correlation, catalog: &Catalog, date: &str) -> String {
    let weighed = |e: &&Entry| e.risk > 0 && c.points.is_none_or(|p| e.risk == p);
    // A record without the group-by field would be counted in one null group with every other
    // such record (or dropped, by Splunk): the service events have no principal ARN.
    let rules: Vec<String> = catalog
        .for_cloud(c.cloud)
        .filter(weighed)
        .filter(|e| !is_service_event(e) && !read_beside_plain(e, catalog))
        .map(|e| rule_name(&e.id))
        .collect();
    let skipped = catalog.for_cloud(c.cloud).filter(weighed).any(is_service_event);
    let wide = catalog
        .for_cloud(c.cloud)
        .filter(weighed)
        .any(|e| read_beside_plain(e, catalog));
    let mut out = String::new();
    let _ = writeln!(out, "title: {}", q(c.title));
    let _ = writeln!(out, "id: {}", rule_uuid(c.name));
    let _ = writeln!(out, "name: {}", c.name);
    let _ = writeln!(out, "status: experimental");
    let mut description = match c.cloud {
        Cloud::Azure => format!("{} {AZURE_GROUPING}", c.description),
        Cloud::Aws => c.description.to_string(),
    };
    if skipped {
        description.push_str(" Not counted: the SharedSnapshot* service events, in which another account acts and which carry no userIdentity.arn to group by (each alerts alone through its own rule).");
    }
    if wide {
        description.push_str(" Not counted: the rules read from an operation's Start beside its catch-all rule (a copy from another subscription, a disk made from a snapshot, a GPU size, a VM write naming its OS disk), whose Success the catch-all rule counts already.");
    }
    let _ = writeln!(out, "description: {}", q(&description));
    let _ = writeln!(out, "author: {}", q("t1578 catalog (generated by `t1578 sigma`)"));
    let _ = writeln!(out, "date: {date}");
    let _ = writeln!(out, "tags:\n  - attack.defense-evasion\n  - attack.t1578");
    // `generate: true` keeps the referenced rules' own queries: each row still alerts alone.
    let _ = writeln!(
        out,
        "correlation:\n  type: {}\n  generate: true\n  rules:",
        c.kind
    );
    for r in &rules {
        let _ = writeln!(out, "    - {r}");
    }
    let _ = writeln!(out, "  group-by:");
    for g in c.group_by {
        let _ = writeln!(out, "    - {}", field_name(g));
    }
    let _ = writeln!(out, "  timespan: 1d\n  condition:\n    gte: {}", c.gte);
    if let Some(f) = c.field {
        let _ = writeln!(out, "    field: {f}");
    }
    let _ = writeln!(out, "falsepositives:");
    for fp in SEED_FALSE_POSITIVES {
        let _ = writeln!(out, "  - {}", q(fp));
    }
    let _ = writeln!(out, "level: {}", c.level);
    out
}

/// A field name as a YAML scalar: plain when it is a dotted name, quoted when it holds other
/// characters (the claim URIs' `:` and `/`).
fn field_name(f: &str) -> String {
    if f.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        f.to_string()
    } else {
        q(f)
    }
}

/// Every rule and correlation rule for the catalog, in a stable order.
pub fn sigma_rules(catalog: &Catalog) -> Vec<SigmaFile> {
    // The catalog version (`YYYY.MM.DD`, `.N` after it for a later release the same day) dates
    // the rules, so output changes only with the data; Sigma's `date` is the day alone.
    let date = catalog.version.split('.').take(3).collect::<Vec<_>>().join("-");
    let mut out: Vec<SigmaFile> = catalog
        .entries
        .iter()
        .map(|e| SigmaFile {
            path: format!("{}/{}.yml", e.cloud.as_str(), rule_name(&e.id)),
            text: rule_text(catalog, e, &date),
        })
        .collect();
    out.extend(CORRELATIONS.iter().map(|c| SigmaFile {
        path: format!("correlation/{}.yml", c.name),
        text: correlation_text(c, catalog, &date),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_a_rule_with_a_stable_unique_id() {
        let c = Catalog::builtin().unwrap();
        let files = sigma_rules(&c);
        assert_eq!(files.len(), c.entries.len() + CORRELATIONS.len());
        let ids: std::collections::BTreeSet<String> = files
            .iter()
            .map(|f| {
                f.text
                    .lines()
                    .find(|l| l.starts_with("id: "))
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids.len(), files.len());
        // Stable: the id published with the first rules (a UUIDv5 of the row id in the
        // project's namespace, computed independently with Python's uuid.uuid5).
        assert_eq!(
            rule_uuid("aws.ec2.snapshot_public"),
            "64db918f-93dc-5f44-aff8-8014c859910c"
        );
        assert_ne!(
            rule_uuid("aws.ec2.snapshot_public"),
            rule_uuid("aws.ec2.snapshot_shared")
        );
    }

    #[test]
    fn a_catch_all_rule_excludes_the_earlier_rows_of_its_operation() {
        let c = Catalog::builtin().unwrap();
        let text = rule_text(&c, c.get("aws.ec2.run_instances").unwrap(), "2026-01-01");
        assert!(text.contains("and not ((earlier1_"), "{text}");
        assert!(text.contains("and not ((earlier2_"), "{text}");
        assert!(
            text.contains("requestParameters.instanceType|startswith"),
            "{text}"
        );
        assert!(text.contains("level: low"));
        let public = rule_text(&c, c.get("aws.ec2.snapshot_public").unwrap(), "2026-01-01");
        assert!(public.contains("level: critical"));
        assert!(!public.contains("earlier"), "{public}");
    }

    #[test]
    fn azure_correlations_group_by_a_field_of_the_export_record() {
        let c = Catalog::builtin().unwrap();
        let azure: Vec<&Correlation> = CORRELATIONS.iter().filter(|x| x.cloud == Cloud::Azure).collect();
        assert!(!azure.is_empty());
        for corr in azure {
            let text = correlation_text(corr, &c, "2026-01-01");
            assert!(
                text.contains("group-by:\n    - 'identity.claims.http://schemas.microsoft.com/identity/claims/objectidentifier'\n  timespan"),
                "{text}"
            );
            assert!(
                !text.contains("subscriptionId") && !text.contains("- caller"),
                "{text}"
            );
            assert!(text.contains("all subscriptions of its tenant"), "{text}");
        }
    }

    #[test]
    fn correlations_grouped_by_the_principal_arn_count_no_service_event() {
        let c = Catalog::builtin().unwrap();
        let service: Vec<String> = c
            .entries
            .iter()
            .filter(|e| is_service_event(e))
            .map(|e| format!("- {}\n", rule_name(&e.id)))
            .collect();
        assert!(!service.is_empty());
        let bulk = correlation_text(&CORRELATIONS[0], &c, "2026-01-01");
        assert!(bulk.contains("- t1578_aws_ec2_snapshot_public\n"), "{bulk}");
        assert!(bulk.contains("Not counted: the SharedSnapshot*"), "{bulk}");
        for corr in CORRELATIONS.iter().filter(|x| x.cloud == Cloud::Aws) {
            let text = correlation_text(corr, &c, "2026-01-01");
            assert!(service.iter().all(|s| !text.contains(s.as_str())), "{text}");
        }
    }

    #[test]
    fn a_console_or_stack_call_or_a_critical_a_carrier_made_is_matched_and_other_service_calls_are_not() {
        let c = Catalog::builtin().unwrap();
        let shared = rule_text(&c, c.get("aws.ec2.snapshot_shared").unwrap(), "2026-01-01");
        let by = "userIdentity.invokedBy:\n          - null\n          - ''\n          - 'signin.amazonaws.com'\n          - 'cloudformation.amazonaws.com'\n          - 'ssm.amazonaws.com'\n          - 'states.amazonaws.com'\n          - 'scheduler.amazonaws.com'\n";
        assert!(shared.contains(by), "{shared}");
        assert!(!shared.contains("backup.amazonaws.com"), "{shared}");
        assert!(shared.contains("not filter_aws_service"), "{shared}");
        assert!(
            shared.contains("filter_network_activity:\n    - eventType: 'AwsVpceEvent'\n"),
            "{shared}"
        );
        assert!(shared.contains("not filter_network_activity"), "{shared}");
        let created = rule_text(&c, c.get("aws.ec2.create_snapshot").unwrap(), "2026-01-01");
        let by = "userIdentity.invokedBy:\n          - null\n          - ''\n          - 'signin.amazonaws.com'\n          - 'cloudformation.amazonaws.com'\n ";
        assert!(created.contains(by), "{created}");
        assert!(!created.contains("ssm.amazonaws.com"), "{created}");
    }

    #[test]
    fn quotes_cannot_break_out_of_a_scalar() {
        assert_eq!(q("it's\nfine"), "'it''s fine'");
    }
}

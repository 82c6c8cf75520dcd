//! CloudTrail records, bare or inside an EventBridge envelope.

use super::project::{self, Shape};
use super::{hash_hex, parse_time, NormalizeError};
use crate::event::{
    clip, clip_into, Cloud, ComputeEvent, Details, Phase, Principal, PrincipalKind, MAX_FIELD,
    NETWORK_ACTIVITY_TYPE,
};
use crate::json::{self, get, text_at, Json};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashSet;

crate::prefilter::quoted_keys! {
    EVENT_NAME = b"\"eventName\"";
}

/// At most this many resources are read from one call: a TerminateInstances of 1,000
/// instances is already far past every threshold, and state must stay bounded.
pub const MAX_RESOURCES_PER_EVENT: usize = 50;

/// Fields that may arrive as JSON inside a string.
const STRINGY: [&str; 5] = [
    "requestParameters",
    "responseElements",
    "userIdentity",
    "additionalEventData",
    "serviceEventDetails",
];

/// Top-level fields [`from_record`] reads, in any casing (lookups match any casing). A line
/// read by [`from_line`] keeps only these: every field `from_record` starts reading must be
/// added here (`from_line_reads_what_from_record_reads` checks the fixtures).
static RECORD: Shape = Shape {
    fields: &[
        ("eventName", None),
        ("eventSource", None),
        ("eventTime", None),
        ("userIdentity", None),
        ("recipientAccountId", None),
        ("awsRegion", None),
        ("eventType", None),
        ("errorCode", None),
        ("requestParameters", None),
        ("responseElements", None),
        ("serviceEventDetails", None),
        ("eventID", None),
        ("sourceIPAddress", None),
        ("userAgent", None),
    ],
    // EventBridge envelopes and `Records` containers.
    other: &["detail-type", "detail", "records"],
};

/// A bare CloudTrail record from one JSON line, parsed into only the fields of [`RECORD`]; the
/// rest of the line is checked exactly as `serde_json::Value` checks it (strings, numbers,
/// depth) but not kept, which saves most of the allocation of an in-scope line.
///
/// `None` when the line is not plainly such a record (not valid JSON, another shape, no
/// `eventID`, whose stand-in hashes the whole record): the caller then parses it whole, and
/// whatever it yields, including the error, is what it always was. `Some` is exactly what
/// [`crate::normalize::normalize`] gives for the whole record.
pub(super) fn from_line(line: &[u8]) -> Option<Result<ComputeEvent, NormalizeError>> {
    // Lines of other clouds are not parsed twice.
    EVENT_NAME.find(line)?;
    // One UTF-8 check of the whole line rather than one per string.
    let mut rec = project::parse(std::str::from_utf8(line).ok()?, &RECORD)?;
    let event_name = get(&rec, "eventName");
    let is_record = event_name.is_some() || get(&rec, "eventSource").is_some();
    // An object `eventName` may be the Activity Log's REST shape, which [`super::normalize`]
    // tells apart by a key this parse does not read.
    let maybe_azure = event_name.is_some_and(Json::is_object);
    if !is_record || maybe_azure || text_at(&rec, &["eventID"]).is_none() {
        return None;
    }
    for k in STRINGY {
        rec.unstring(k);
    }
    Some(from_fields(&rec, None))
}

pub(super) struct EnvelopeHints {
    account: Option<String>,
    region: Option<String>,
}

pub(super) fn from_envelope(mut env: Value) -> Result<ComputeEvent, NormalizeError> {
    json::unstring(&mut env, "detail");
    let hints = EnvelopeHints {
        account: text_at(&env, &["account"]).map(|s| s.into_owned()),
        region: text_at(&env, &["region"]).map(|s| s.into_owned()),
    };
    let obj = env.as_object_mut().ok_or(NormalizeError::NotAnObject)?;
    let key = obj
        .keys()
        .find(|k| k.eq_ignore_ascii_case("detail"))
        .cloned()
        .ok_or(NormalizeError::Missing("detail"))?;
    let mut detail = obj.remove(&key).unwrap_or(Value::Null);
    if !detail.is_object() {
        return Err(NormalizeError::Invalid {
            field: "detail",
            reason: "not an object".into(),
        });
    }
    from_record(&mut detail, Some(hints))
}

pub(super) fn from_record(
    rec: &mut Value,
    hints: Option<EnvelopeHints>,
) -> Result<ComputeEvent, NormalizeError> {
    for k in STRINGY {
        json::unstring(rec, k);
    }
    from_fields(&*rec, hints)
}

/// A record whose fields sent as JSON text, if any, are parsed already.
fn from_fields<J: Json>(rec: &J, hints: Option<EnvelopeHints>) -> Result<ComputeEvent, NormalizeError> {
    let event_name = text_at(rec, &["eventName"]).ok_or(NormalizeError::Missing("eventName"))?;
    let source = text_at(rec, &["eventSource"])
        .ok_or(NormalizeError::Missing("eventSource"))?
        .to_ascii_lowercase();
    let time_ms = parse_time(
        get(rec, "eventTime").ok_or(NormalizeError::Missing("eventTime"))?,
        "eventTime",
    )?;
    let provider = source.trim_end_matches(".amazonaws.com").to_string();
    let hints = hints.unwrap_or(EnvelopeHints {
        account: None,
        region: None,
    });

    let null = J::null();
    let ui = get(rec, "userIdentity").unwrap_or(null);
    let account = text_at(rec, &["recipientAccountId"])
        .or(hints.account.map(Cow::Owned))
        .or_else(|| text_at(ui, &["accountId"]))
        .unwrap_or(Cow::Borrowed("unknown"));
    let region = text_at(rec, &["awsRegion"])
        .or(hints.region.map(Cow::Owned))
        .unwrap_or_default();
    let event_type = text_at(rec, &["eventType"]);
    let is_type = |t: &str| event_type.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(t));
    let service_event = is_type("AwsServiceEvent");
    let invoked_by = text_at(ui, &["invokedBy"]).map(|s| clip_into(s, MAX_FIELD));
    let principal = principal(ui, &account, invoked_by.as_deref());

    let error_code = text_at(rec, &["errorCode"]).map(|s| clip_into(s, MAX_FIELD));
    let mut phase = phase(is_type(NETWORK_ACTIVITY_TYPE), error_code.as_deref());
    let req = unwrap_op(
        get(rec, "requestParameters").unwrap_or(null),
        &event_name,
        "Request",
    );
    let resp = unwrap_op(
        get(rec, "responseElements").unwrap_or(null),
        &event_name,
        "Response",
    );
    let sed = get(rec, "serviceEventDetails").unwrap_or(null);
    let workspaces = provider
        .eq_ignore_ascii_case("workspaces")
        .then(|| workspaces_done(req, resp))
        .flatten();
    if phase == Phase::Success && workspaces.as_ref().is_some_and(Vec::is_empty) {
        // A WorkSpaces batch call succeeds whatever became of its items: none done is none.
        phase = Phase::Failure;
    }
    let done = workspaces.as_deref().unwrap_or_default();
    let resources = resources(&provider, &region, &account, &event_name, (req, resp, sed), done);
    let mut details = details(&provider, &event_name, (req, resp), ui, service_event, time_ms);
    if provider == "lightsail" && event_name.eq_ignore_ascii_case("AttachDisk") {
        lightsail_attached(&mut details, req, (&*region, &*account));
    } else {
        let attach = event_name.eq_ignore_ascii_case("AttachVolume");
        if attach || event_name.eq_ignore_ascii_case("DetachVolume") {
            let place = (&*provider, &*region, &*account);
            volume_at_device(&mut details, (req, resp), &resources, (place, attach));
        }
    }

    let event_id = match text_at(rec, &["eventID"]) {
        Some(id) => clip_into(id, 128),
        None => hash_hex(&[&rec.canonical()]),
    };
    let mut operation = format!("{provider}:{event_name}");
    operation.make_ascii_lowercase();
    Ok(ComputeEvent {
        time_ms,
        cloud: Cloud::Aws,
        account: clip_into(account, 64),
        scope: clip_into(region, 64),
        principal,
        source_ip: text_at(rec, &["sourceIPAddress"]).map(|s| clip_into(s, 64)),
        user_agent: text_at(rec, &["userAgent"]).map(|s| clip_into(s, MAX_FIELD)),
        operation,
        operation_raw: clip_into(event_name, 128),
        provider,
        phase,
        error_code,
        resources,
        details,
        event_id,
        operation_key: None,
        invoked_by,
        service_event,
    })
}

/// The outcome of a record. A network activity record (`AwsVpceEvent`) is logged beside the
/// call's own record when the call crossed a VPC endpoint, or for a call another account made:
/// if it counted, every such call would count twice.
fn phase(network_activity: bool, error_code: Option<&str>) -> Phase {
    match error_code {
        _ if network_activity => Phase::Network,
        None => Phase::Success,
        Some(c) if c.contains("DryRunOperation") => Phase::DryRun,
        Some(_) => Phase::Failure,
    }
}

/// Newer EC2 APIs log `{"<Op>Request": {...}}` / `{"<Op>Response": {...}}` with PascalCase
/// keys; read through the wrapper (key lookups are case-insensitive already).
fn unwrap_op<'a, J: Json>(v: &'a J, event_name: &str, suffix: &str) -> &'a J {
    let wrapper = format!("{event_name}{suffix}");
    match get(v, &wrapper) {
        Some(inner) if inner.is_object() => inner,
        _ => v,
    }
}

/// Stable principal per the wire-format notes: assumed roles keyed by the issuing role (the
/// session name rotates and would make every session a new principal), users by ARN. Fields
/// are read in place (borrowed from a line's tree) and copied once, into the principal.
fn principal<J: Json>(ui: &J, account: &str, invoked_by: Option<&str>) -> Principal {
    let typ = text_at(ui, &["type"]).unwrap_or_default();
    let arn = text_at(ui, &["arn"]);
    let acct = text_at(ui, &["accountId"]).unwrap_or(Cow::Borrowed(account));
    let principal_id = text_at(ui, &["principalId"]);
    let session_from_pid = || {
        principal_id
            .as_deref()
            .and_then(|p| p.split_once(':'))
            .map(|(_, s)| s)
    };
    let issuer = text_at(ui, &["sessionContext", "sessionIssuer", "arn"]);
    let issuer_name = text_at(ui, &["sessionContext", "sessionIssuer", "userName"]);
    let shown_arn = arn.as_deref().map(|a| clip(a, 512));
    let (key, name, kind, session): (String, String, _, Option<&str>) = match typ.as_ref() {
        "IAMUser" => {
            let user = text_at(ui, &["userName"]);
            let key = match &arn {
                Some(a) => a.to_string(),
                None => format!("arn:aws:iam::{acct}:user/{}", user.as_deref().unwrap_or_default()),
            };
            let name = user.map_or_else(|| key.clone(), Cow::into_owned);
            (key, name, PrincipalKind::User, None)
        }
        "AssumedRole" => {
            let session = session_from_pid().or_else(|| arn.as_deref().and_then(|a| a.rsplit('/').next()));
            let (key, name) = assumed_role(
                issuer,
                issuer_name,
                arn.as_deref(),
                principal_id.as_deref(),
                &acct,
            );
            (key, name, PrincipalKind::Role, session)
        }
        "Root" => (
            arn.map_or_else(|| format!("arn:aws:iam::{acct}:root"), Cow::into_owned),
            "root".into(),
            PrincipalKind::Root,
            None,
        ),
        "AWSService" => {
            let svc = invoked_by.unwrap_or("unknown.amazonaws.com");
            (
                format!("aws-service:{svc}"),
                svc.to_string(),
                PrincipalKind::AwsService,
                None,
            )
        }
        "AWSAccount" => (
            format!("arn:aws:iam::{acct}:root"),
            format!("account {acct}"),
            PrincipalKind::AwsAccount,
            None,
        ),
        "FederatedUser" => {
            let key = issuer.or(arn).map_or_else(
                || format!("arn:aws:sts::{acct}:federated-user/unknown"),
                Cow::into_owned,
            );
            let name = issuer_name.map_or_else(|| key.clone(), Cow::into_owned);
            (key, name, PrincipalKind::User, session_from_pid())
        }
        _ => other_identity(ui, &typ, arn, principal_id.as_deref(), &acct),
    };
    Principal {
        key: clip_into(key, 512),
        name: clip_into(name, MAX_FIELD),
        kind,
        session: session.map(|s| clip(s, 128)),
        arn: shown_arn,
    }
}

/// Service events carry only the other account's id; other types (IdentityCenterUser, Unknown)
/// fall back to whatever stable id the record has.
fn other_identity<'s, J: Json>(
    ui: &J,
    typ: &str,
    arn: Option<Cow<'_, str>>,
    principal_id: Option<&str>,
    acct: &str,
) -> (String, String, PrincipalKind, Option<&'s str>) {
    if typ.is_empty() && arn.is_none() && text_at(ui, &["accountId"]).is_some() {
        return (
            format!("arn:aws:iam::{acct}:root"),
            format!("account {acct}"),
            PrincipalKind::AwsAccount,
            None,
        );
    }
    let key = arn
        .map(Cow::into_owned)
        .or_else(|| principal_id.map(str::to_string))
        .unwrap_or_else(|| format!("unknown@{acct}"));
    (key.clone(), key, PrincipalKind::Unknown, None)
}

/// An assumed role's key and name: the issuing role, from the session context, else from the
/// assumed-role ARN, else from the principal id.
fn assumed_role(
    issuer: Option<Cow<'_, str>>,
    issuer_name: Option<Cow<'_, str>>,
    arn: Option<&str>,
    principal_id: Option<&str>,
    acct: &str,
) -> (String, String) {
    let key = issuer
        .map(Cow::into_owned)
        .or_else(|| arn.and_then(role_from_assumed_arn))
        .unwrap_or_else(|| format!("arn:aws:iam::{acct}:role/{}", principal_id.unwrap_or("unknown")));
    let name = issuer_name.map_or_else(
        || key.rsplit('/').next().unwrap_or(&key).to_string(),
        Cow::into_owned,
    );
    (key, name)
}

/// `arn:aws:sts::1:assumed-role/Name/session` -> `arn:aws:iam::1:role/Name`.
fn role_from_assumed_arn(arn: &str) -> Option<String> {
    let (head, rest) = arn.split_once(":assumed-role/")?;
    let role = rest.split('/').next()?;
    Some(format!("{}:role/{}", head.replacen(":sts:", ":iam:", 1), role))
}

/// The WorkSpaces a batch call (RebuildWorkspaces, TerminateWorkspaces: 1 and 25 a call) acted
/// on: those it names that its response does not list as failed; `None` where it names none.
/// A record's lists are read up to a bound far above the API's, so a forged one costs no more
/// than a real one.
fn workspaces_done<'a, J: Json>(req: &'a J, resp: &'a J) -> Option<Vec<Cow<'a, str>>> {
    const MAX_ITEMS: usize = 64;
    let ids = |list: Option<&'a J>| {
        list.map(json::items)
            .unwrap_or_default()
            .into_iter()
            .take(MAX_ITEMS)
            .filter_map(|it| text_at(it, &["workspaceId"]))
            .filter(|id| !id.trim().is_empty())
    };
    let requested: Vec<_> = ["rebuildWorkspaceRequests", "terminateWorkspaceRequests"]
        .into_iter()
        .flat_map(|k| ids(get(req, k)))
        .collect();
    if requested.is_empty() {
        return None;
    }
    let failed: HashSet<_> = ids(get(resp, "failedRequests")).collect();
    Some(requested.into_iter().filter(|id| !failed.contains(id)).collect())
}

/// Paths to the id naming the resource a call acts on, in order of preference; the key holding
/// the id says what it is. The response is read first because for create/copy calls it names
/// what was created (the snapshot, not the volume).
const RESPONSE_KEYS: [&[&str]; 14] = [
    // A launch template, by the id its response gives when the request named it by its name
    // (CreateLaunchTemplate always does): the guides' commands take the id, and a template made
    // by name and changed by id is one resource.
    &["launchTemplate", "launchTemplateId"],
    &["launchTemplateVersion", "launchTemplateId"],
    &["snapshotId"],
    &["imageId"],
    &["volumeId"],
    &["dBSnapshotIdentifier"],
    &["dBClusterSnapshotIdentifier"],
    &["dBInstanceIdentifier"],
    &["dBClusterIdentifier"],
    &["exportTaskIdentifier"],
    &["exportTaskId"],
    // CreateLifecyclePolicy (DLM): the policy it made
    &["policyId"],
    // RequestSpotFleet: the fleet request it made (its instances come later, from the fleet)
    &["spotFleetRequestId"],
    // AWS Batch: the compute environment made or updated (an ARN already)
    &["computeEnvironmentArn"],
];
const REQUEST_KEYS: [&[&str]; 23] = [
    &["snapshotId"],
    // ListChangedBlocks (EBS direct APIs): the snapshot whose blocks are read
    &["secondSnapshotId"],
    &["imageId"],
    &["volumeId"],
    // Auto Scaling: the group, which its ARN's last part names
    // (`arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroupName/NAME`), before the instance a
    // group may be created from
    &["autoScalingGroupName"],
    &["instanceId"],
    &["dBSnapshotIdentifier"],
    &["dBClusterSnapshotIdentifier"],
    &["dBInstanceIdentifier"],
    &["dBClusterIdentifier"],
    &["sourceSnapshotId"],
    &["sourceImageId"],
    &["sourceDBSnapshotIdentifier"],
    &["sourceArn"],
    &["identifier"],
    &["launchTemplateId"],
    &["launchTemplateName"],
    &["associationId"],
    // UpdateLifecyclePolicy (DLM)
    &["policyId"],
    // AWS Backup's StartRestoreJob, DeleteRecoveryPoint: the recovery point (an ARN already)
    &["recoveryPointArn"],
    // WorkSpaces' RestoreWorkspace, and CreateWorkspaceImage's source when it made no image
    &["workspaceId"],
    // AWS Batch: a refused call's compute environment, by its name (or ARN: an update's)
    &["computeEnvironmentName"],
    &["computeEnvironment"],
];

/// The ARN of a resource a record names by `key` (`instanceId`, `snapshotId`...) and `id`, in
/// the record's region and account (`workspaces`: a WorkSpaces call, whose images are not AMIs).
fn arn_of((provider, region, account, workspaces): (&str, &str, &str, bool), key: &str, id: &str) -> String {
    if id.starts_with("arn:") {
        return clip(id, MAX_FIELD);
    }
    let (svc, kind, sep) = match key {
        // A WorkSpaces image (wsi-) is not an AMI.
        "imageId" if workspaces => ("workspaces", "workspaceimage", '/'),
        "workspaceId" if workspaces => ("workspaces", "workspace", '/'),
        "snapshotId" | "sourceSnapshotId" | "secondSnapshotId" => ("ec2", "snapshot", '/'),
        "imageId" | "sourceImageId" => ("ec2", "image", '/'),
        "volumeId" => ("ec2", "volume", '/'),
        "instanceId" => ("ec2", "instance", '/'),
        "dBSnapshotIdentifier" | "sourceDBSnapshotIdentifier" => ("rds", "snapshot", ':'),
        "dBClusterSnapshotIdentifier" => ("rds", "cluster-snapshot", ':'),
        "dBInstanceIdentifier" => ("rds", "db", ':'),
        "dBClusterIdentifier" => ("rds", "cluster", ':'),
        "launchTemplateId" | "launchTemplateName" => ("ec2", "launch-template", '/'),
        "policyId" => ("dlm", "policy", '/'),
        "spotFleetRequestId" => ("ec2", "spot-fleet-request", '/'),
        "fleetId" => ("ec2", "fleet", '/'),
        "computeEnvironmentName" | "computeEnvironment" => ("batch", "compute-environment", '/'),
        _ => (provider, key, '/'),
    };
    clip_into(
        format!("arn:aws:{svc}:{region}:{account}:{kind}{sep}{id}"),
        MAX_FIELD,
    )
}

fn resources<J: Json>(
    provider: &str,
    region: &str,
    account: &str,
    event_name: &str,
    (req, resp, sed): (&J, &J, &J),
    workspaces_done: &[Cow<'_, str>],
) -> Vec<String> {
    if provider.eq_ignore_ascii_case("lightsail") {
        return lightsail_resources(event_name, (req, resp), (region, account));
    }
    let workspaces = provider.eq_ignore_ascii_case("workspaces");
    let arn = |key: &str, id: &str| arn_of((provider, region, account, workspaces), key, id);
    let mut out: Vec<String> = Vec::new();
    listed_resources(&mut out, &arn, (req, resp, sed));
    named_resources(&mut out, &arn, provider, (region, account), req, resp);
    // RebuildWorkspaces, TerminateWorkspaces: the WorkSpaces they acted on.
    for id in workspaces_done {
        push_resource(&mut out, arn("workspaceId", id));
    }
    if let Some((k, id)) = keyed_resource(event_name, req, resp) {
        push_resource(&mut out, arn(k, &id));
    }
    if out.is_empty() {
        // Account- or region-level settings (DisableEbsEncryptionByDefault...).
        out.push(clip(
            &format!(
                "arn:aws:{provider}:{region}:{account}:{}",
                event_name.to_ascii_lowercase()
            ),
            MAX_FIELD,
        ));
    }
    out
}

/// The instances and snapshots a call's request and response list, and its service event
/// details' snapshot.
fn listed_resources<J: Json>(
    out: &mut Vec<String>,
    arn: &impl Fn(&str, &str) -> String,
    (req, resp, sed): (&J, &J, &J),
) {
    for side in [req, resp] {
        for (set, key) in [("instancesSet", "instanceId"), ("snapshotSet", "snapshotId")] {
            if let Some(set) = get(side, set) {
                for it in json::items(set) {
                    if let Some(id) = text_at(it, &[key]) {
                        push_resource(out, arn(key, &id));
                    }
                }
            }
        }
    }
    if let Some(id) = text_at(sed, &["snapshotId"]) {
        push_resource(out, arn("snapshotId", &id));
    }
}

/// Fleets and EKS node groups, which a call names by their own keys.
fn named_resources<J: Json>(
    out: &mut Vec<String>,
    arn: &impl Fn(&str, &str) -> String,
    provider: &str,
    (region, account): (&str, &str),
    req: &J,
    resp: &J,
) {
    // DeleteFleets, CancelSpotFleetRequests: the fleets, a list (one alone may be logged as a
    // string, or as the EC2 query API's `{"tag", "content"}` object).
    for k in ["fleetId", "spotFleetRequestId"] {
        if let Some(v) = get(req, k) {
            let single = v.as_str().is_some().then_some(v);
            for it in json::items(v).into_iter().chain(single) {
                let id = json::text(it).or_else(|| text_at(it, &["content"]));
                if let Some(id) = id.filter(|id| !id.trim().is_empty()) {
                    push_resource(out, arn(k, &id));
                }
            }
        }
    }
    // An EKS node group: its ARN as created, else (a refused call) its cluster and name.
    if provider.eq_ignore_ascii_case("eks") {
        let named = || match (text_at(req, &["clusterName"]), text_at(req, &["nodegroupName"])) {
            (Some(c), Some(n)) => Some(format!("arn:aws:eks:{region}:{account}:nodegroup/{c}/{n}")),
            _ => None,
        };
        if let Some(a) = text_at(resp, &["nodegroup", "nodegroupArn"])
            .map(|a| a.into_owned())
            .or_else(named)
        {
            push_resource(out, clip_into(a, MAX_FIELD));
        }
    }
}

/// The first id of the response's keys, else the request's: (its key, the id).
fn keyed_resource<'a, J: Json>(
    event_name: &str,
    req: &'a J,
    resp: &'a J,
) -> Option<(&'static str, Cow<'a, str>)> {
    // A volume made from a snapshot: its response names the snapshot first, but what the call
    // made is the volume, which the calls after it (its attach) name.
    let made: &[&[&str]] = if event_name.eq_ignore_ascii_case("CreateVolume") {
        &[&["volumeId"]]
    } else {
        &[]
    };
    for (side, keys) in [(resp, made), (resp, &RESPONSE_KEYS[..]), (req, &REQUEST_KEYS[..])] {
        for path in keys {
            // An empty id names nothing (`text_at` gives none): the next key may.
            if let (Some(id), Some(k)) = (text_at(side, path), path.last()) {
                return Some((*k, id));
            }
        }
    }
    None
}

/// Add a resource to an event's, once, up to [`MAX_RESOURCES_PER_EVENT`].
fn push_resource(out: &mut Vec<String>, s: String) {
    if out.len() < MAX_RESOURCES_PER_EVENT && !out.contains(&s) {
        out.push(s);
    }
}

/// The keys naming what a Lightsail call acts on, in order of preference, with the kind each
/// names: the snapshot a snapshot call makes before the instance or disk it is taken of, a copy's
/// target before its source. `snapshot`: a copy's or an export's name may be an instance's or a
/// disk's snapshot (a copy's response says which, [`lightsail_snapshot_kind`]).
const LIGHTSAIL_KEYS: [(&str, &str); 7] = [
    ("targetSnapshotName", "snapshot"),
    ("instanceSnapshotName", "instancesnapshot"),
    ("diskSnapshotName", "disksnapshot"),
    ("diskName", "disk"),
    ("instanceName", "instance"),
    ("sourceSnapshotName", "snapshot"),
    ("sourceDiskName", "disk"),
];

/// What a Lightsail call acts on. Lightsail names its resources (unique per kind in a region) and
/// gives no ids, so a resource is `arn:aws:lightsail:REGION:ACCOUNT:KIND/NAME`, and the name
/// the create used is the one the attach or the delete after it uses. One resource a call, as
/// EC2's, but for the instances a create names: each is a unit, as RunInstances' are.
fn lightsail_resources<J: Json>(
    event_name: &str,
    (req, resp): (&J, &J),
    (region, account): (&str, &str),
) -> Vec<String> {
    let arn = |kind: &str, name: &str| lightsail_arn((region, account), kind, name);
    let instances: Vec<String> = get(req, "instanceNames")
        .map(json::items)
        .unwrap_or_default()
        .into_iter()
        .take(2 * MAX_RESOURCES_PER_EVENT)
        .filter_map(json::text)
        .filter(|n| !n.trim().is_empty())
        .map(|n| arn("instance", &n))
        .fold(Vec::new(), |mut out, a| {
            push_resource(&mut out, a);
            out
        });
    if !instances.is_empty() {
        return instances;
    }
    // A disk made from a snapshot is what the call made, the snapshot what it read.
    let made = event_name
        .eq_ignore_ascii_case("CreateDiskFromSnapshot")
        .then_some(("diskName", "disk"));
    let copied = lightsail_snapshot_kind(resp);
    let named = made.into_iter().chain(LIGHTSAIL_KEYS).find_map(|(k, kind)| {
        let kind = match (k, copied) {
            ("targetSnapshotName", Some(known)) => known,
            _ => kind,
        };
        text_at(req, &[k]).map(|n| arn(kind, &n))
    });
    // DeleteAutoSnapshot: the instance's or disk's automatic snapshot of one date; an add-on's
    // call (DisableAddOn): the instance or disk itself, which its name does not tell apart.
    let by_resource = || {
        let of = text_at(req, &["resourceName"])?;
        Some(match text_at(req, &["date"]) {
            Some(date) => arn("autosnapshot", &format!("{of}/{date}")),
            None => arn("resource", &of),
        })
    };
    let one = named.or_else(by_resource).unwrap_or_else(|| {
        // Account- or region-level calls name no resource.
        arn("", &event_name.to_ascii_lowercase())
    });
    vec![one]
}

/// The kind of snapshot a call's response says it made (`operations[].resourceType`).
fn lightsail_snapshot_kind<J: Json>(resp: &J) -> Option<&'static str> {
    let ops = get(resp, "operations").map(json::items).unwrap_or_default();
    let kind = text_at(*ops.first()?, &["resourceType"])?;
    [
        ("InstanceSnapshot", "instancesnapshot"),
        ("DiskSnapshot", "disksnapshot"),
    ]
    .into_iter()
    .find(|(t, _)| kind.eq_ignore_ascii_case(t))
    .map(|(_, k)| k)
}

fn lightsail_arn((region, account): (&str, &str), kind: &str, name: &str) -> String {
    let sep = if kind.is_empty() { "" } else { "/" };
    clip_into(
        format!("arn:aws:lightsail:{region}:{account}:{kind}{sep}{}", name.trim()),
        MAX_FIELD,
    )
}

/// An `AttachDisk` makes its disk a data disk of the instance it names: what links a disk made
/// from a snapshot to the machine that reads it, as an EBS volume's attach does.
fn lightsail_attached<J: Json>(details: &mut Details, req: &J, place: (&str, &str)) {
    if let (Some(disk), Some(instance)) = (text_at(req, &["diskName"]), text_at(req, &["instanceName"])) {
        details.data_disks = vec![lightsail_arn(place, "disk", &disk)];
        details.mounted_on = Some(lightsail_arn(place, "instance", &instance));
    }
}

/// What an `AttachVolume` or a `DetachVolume` makes of its volume: at a root device name, the
/// machine's root disk (a detach there takes it off: a rescue's first step, the root volume
/// moved to a helper to be repaired, is not a server's data moved to a machine made to read
/// it); elsewhere, attached, a data disk of the instance it names.
fn volume_at_device<J: Json>(
    details: &mut Details,
    (req, resp): (&J, &J),
    resources: &[String],
    (place, attach): ((&str, &str, &str), bool),
) {
    let (provider, region, account) = place;
    let at = |k: &str| text_at(req, &[k]).or_else(|| text_at(resp, &[k]));
    let Some(volume) = resources.first() else {
        return;
    };
    if at("device").is_some_and(|d| root_device(&d)) {
        details.root_disk = Some(volume.clone());
    } else if let Some(instance) = at("instanceId").filter(|_| attach) {
        details.data_disks = vec![volume.clone()];
        details.mounted_on = Some(arn_of(
            (provider, region, account, false),
            "instanceId",
            &instance,
        ));
    }
}

/// Instance attributes ModifyInstanceAttribute can change, in the order they are looked for.
const INSTANCE_ATTRIBUTES: [&str; 14] = [
    "userData",
    "groupSet",
    "instanceType",
    "disableApiTermination",
    "disableApiStop",
    "instanceInitiatedShutdownBehavior",
    "blockDeviceMapping",
    "sourceDestCheck",
    "ebsOptimized",
    "enaSupport",
    "sriovNetSupport",
    "kernel",
    "ramdisk",
    "enclaveOptions",
];

/// Recipients kept per list: a request names a handful (an AMI shared to a few accounts, one
/// organization); more than this is padding, which must not cost memory. The list is
/// deduplicated first (the own account repeated cannot push a foreign one out) and `all` goes
/// first (other accounts cannot push a public share out): what is cut is accounts beyond the
/// 64th, each foreign as those kept, so the share's kind does not change.
const MAX_RECIPIENTS: usize = 64;

/// The accounts (organizations, OUs, `all`) a list of recipients names: strings, or items of
/// EC2's `{"userId": ...}` / `{"group": ...}` shape.
fn recipients<J: Json>(list: Option<&J>, into: &mut Vec<String>) {
    let Some(list) = list else { return };
    for it in json::items(list) {
        if let Some(s) = it.as_str() {
            into.push(clip(s, 128));
            continue;
        }
        for k in ["userId", "group", "organizationArn", "organizationalUnitArn"] {
            if let Some(v) = text_at(it, &[k]) {
                into.push(clip(&v, 128));
            }
        }
    }
}

/// Who a share request adds and removes: EC2's permission lists, RDS's `restore` attribute, a
/// DLM policy's share rules, or (a service event) the account that used a shared snapshot.
fn shares<J: Json>(provider: &str, event_name: &str, req: &J, ui: &J, service_event: bool, d: &mut Details) {
    for perm in ["createVolumePermission", "launchPermission"] {
        if let Some(p) = get(req, perm) {
            recipients(get(p, "add"), &mut d.share_added);
            recipients(get(p, "remove"), &mut d.share_removed);
        }
    }
    let restore_attr = text_at(req, &["attributeName"]).is_none_or(|a| a.eq_ignore_ascii_case("restore"));
    if restore_attr {
        recipients(get(req, "valuesToAdd"), &mut d.share_added);
        recipients(get(req, "valuesToRemove"), &mut d.share_removed);
    }
    let policy_write = ["CreateLifecyclePolicy", "UpdateLifecyclePolicy"]
        .iter()
        .any(|n| event_name.eq_ignore_ascii_case(n));
    if provider.eq_ignore_ascii_case("dlm") && policy_write {
        // Every snapshot the policy makes from now on is shared with these accounts, by DLM's
        // own role, which the engine takes for a service: the write is the writer's share.
        let schedules = json::path(req, &["policyDetails", "schedules"]);
        for schedule in schedules.map(json::items).unwrap_or_default() {
            for rule in get(schedule, "shareRules").map(json::items).unwrap_or_default() {
                recipients(get(rule, "targetAccounts"), &mut d.share_added);
            }
        }
    }
    if provider.eq_ignore_ascii_case("workspaces")
        && event_name.eq_ignore_ascii_case("UpdateWorkspaceImagePermission")
    {
        // One account a call: allowed to copy the image (shared) or no longer (unshared).
        if let Some(account) = text_at(req, &["sharedAccountId"]).filter(|a| !a.trim().is_empty()) {
            match get(req, "allowCopyImage").and_then(json::boolean) {
                Some(true) => d.share_added.push(clip(&account, 64)),
                Some(false) => d.share_removed.push(clip(&account, 64)),
                None => {}
            }
        }
    }
    if service_event && event_name.starts_with("SharedSnapshot") {
        if let Some(other) = text_at(ui, &["accountId"]) {
            d.share_added.push(clip(&other, 64));
        }
    }
    for list in [&mut d.share_added, &mut d.share_removed] {
        let mut seen = HashSet::new();
        list.retain(|r| seen.insert(r.clone()));
        // Stable: the accounts keep their order behind it.
        list.sort_by_key(|r| !r.eq_ignore_ascii_case("all"));
        list.truncate(MAX_RECIPIENTS);
    }
}

fn details<J: Json>(
    provider: &str,
    event_name: &str,
    (req, resp): (&J, &J),
    ui: &J,
    service_event: bool,
    time_ms: i64,
) -> Details {
    let mut d = Details::default();
    shares(provider, event_name, req, ui, service_event, &mut d);
    if provider.eq_ignore_ascii_case("lightsail") && event_name.eq_ignore_ascii_case("DisableAddOn") {
        // Which add-on is turned off: automatic snapshots are the instance's or disk's daily
        // restore points.
        d.attribute = text_at(req, &["addOnType"]).map(|s| s.to_ascii_lowercase());
    } else if event_name.eq_ignore_ascii_case("ModifyInstanceAttribute") {
        d.attribute = text_at(req, &["attribute"])
            .map(|s| s.to_ascii_lowercase())
            .or_else(|| {
                INSTANCE_ATTRIBUTES
                    .iter()
                    .find(|a| get(req, a).is_some())
                    .map(|a| a.to_ascii_lowercase())
            });
    }
    // A launch template's as its own request sets them: a version that keeps its source's
    // metadata options chose nothing (its response repeats them).
    d.http_tokens = text_at(req, &["httpTokens"])
        .or_else(|| text_at(req, &["metadataOptions", "httpTokens"]))
        .or_else(|| text_at(req, &["launchTemplateData", "metadataOptions", "httpTokens"]))
        .map(|s| s.to_ascii_lowercase());
    d.from_snapshot = text_at(req, &["snapshotId"]).is_some();
    d.source_region = text_at(req, &["sourceRegion"])
        .map(|s| s.to_ascii_lowercase())
        .or_else(|| {
            // RDS copies name the source snapshot by ARN: arn:aws:rds:<region>:...
            text_at(req, &["sourceDBSnapshotIdentifier"])
                .or_else(|| text_at(req, &["sourceDBClusterSnapshotIdentifier"]))
                .filter(|s| s.starts_with("arn:"))
                .and_then(|s| s.split(':').nth(3).map(str::to_ascii_lowercase))
        });
    d.deletion_protection = get(req, "deletionProtection").and_then(json::boolean);
    d.backup_retention = if event_name.eq_ignore_ascii_case("UpdateRecoveryPointLifecycle") {
        recovery_point_days((req, resp), time_ms)
    } else {
        get(req, "backupRetentionPeriod").and_then(json::int)
    };
    d.publicly_accessible = get(req, "publiclyAccessible").and_then(json::boolean);
    d.skip_final_snapshot = get(req, "skipFinalSnapshot").and_then(json::boolean);
    d.delete_automated_backups = get(req, "deleteAutomatedBackups").and_then(json::boolean);
    d.delete_replaced_root_volume = get(req, "deleteReplacedRootVolume").and_then(json::boolean);
    d.hop_limit = get(req, "httpPutResponseHopLimit")
        .or_else(|| json::path(req, &["metadataOptions", "httpPutResponseHopLimit"]))
        .and_then(json::int);
    // DeleteFleets, CancelSpotFleetRequests: the service terminates the fleets' instances.
    d.terminates_instances = get(req, "terminateInstances").and_then(json::boolean) == Some(true);
    if provider.eq_ignore_ascii_case("autoscaling") {
        // UpdateAutoScalingGroup, SetDesiredCapacity and a scheduled action: a group emptied
        // by its size, not by the caller's terminations.
        let zero = |k: &str| get(req, k).and_then(json::int) == Some(0);
        d.capacity_zero = zero("desiredCapacity") || zero("maxSize");
    }
    // RunInstances' type, a ModifyInstanceAttribute's `{"value"}`, a launch template's data as
    // requested. Not a new version's type kept from its source version (its response has it): a
    // GPU template's monthly image bump is not a GPU decision.
    d.instance_type = text_at(req, &["instanceType"])
        .or_else(|| text_at(req, &["instanceType", "value"]))
        .or_else(|| text_at(req, &["launchTemplateData", "instanceType"]))
        .map(|s| clip(&s, 64))
        .or_else(|| instance_types(req));
    d
}

/// An EKS node group's or an AWS Batch compute environment's instance types, comma-separated
/// (the catalog's type prefixes test each): a group may list any types, and a GPU type listed
/// after a cheap one launches GPUs too.
fn instance_types<J: Json>(req: &J) -> Option<String> {
    let list =
        get(req, "instanceTypes").or_else(|| json::path(req, &["computeResources", "instanceTypes"]))?;
    let types: Vec<String> = json::items(list)
        .into_iter()
        .filter_map(json::text)
        .map(|t| clip(t.trim(), 64))
        .filter(|t| !t.is_empty() && !t.contains(','))
        .take(MAX_INSTANCE_TYPES)
        .collect();
    (!types.is_empty()).then(|| types.join(","))
}

/// Instance types kept of a node group's or compute environment's list: EKS accepts 20 at most,
/// and AWS Batch documents no limit, so a bound well past both lists a GPU type placed late.
const MAX_INSTANCE_TYPES: usize = 50;

/// A device name EC2 gives a root volume (`/dev/xvda`, `/dev/sda1`; the documented names of
/// Linux and Windows AMIs): a volume attached there is the machine's boot disk, where a
/// forensic or a data volume goes to `/dev/sdf` to `/dev/sdp` or `xvdf` onwards.
fn root_device(device: &str) -> bool {
    let d = device.trim();
    let d = d
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("/dev/"))
        .map_or(d, |_| &d[5..]);
    ["xvda", "xvda1", "sda", "sda1", "nvme0n1"]
        .iter()
        .any(|r| d.eq_ignore_ascii_case(r))
}

/// Days from the call until AWS Backup deletes a recovery point (UpdateRecoveryPointLifecycle).
/// `deleteAfterDays` counts from the point's creation, so 30 on a 60-day-old point deletes it at
/// once: the response's calculated deletion time, where the record keeps it, says when. Else the
/// days asked for; none for a retention taken away (-1: kept until deleted by hand).
fn recovery_point_days<J: Json>((req, resp): (&J, &J), time_ms: i64) -> Option<i64> {
    use crate::baseline::DAY_MS;
    let delete_at = json::path(resp, &["calculatedLifecycle", "deleteAt"])
        .and_then(|v| super::parse_time(v, "calculatedLifecycle.deleteAt").ok());
    match delete_at {
        Some(at) => Some((at.saturating_sub(time_ms).max(0) + DAY_MS - 1) / DAY_MS),
        None => json::path(req, &["lifecycle", "deleteAfterDays"])
            .and_then(json::int)
            .filter(|d| *d >= 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;
    use serde_json::json;

    fn rec(ui: Value) -> Value {
        json!({"eventTime":"2026-01-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances",
               "awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"e1","userIdentity":ui,
               "requestParameters":{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"},{"instanceId":"i-3"}]}}})
    }

    /// A volume attached at a root device name is the machine's root disk, named as the
    /// volume's resource is (a CreateVolume's response makes the same ARN), and so is one
    /// detached from there; at a data device, or on another call, nothing is.
    #[test]
    fn a_volume_attached_at_a_root_device_is_the_machines_root_disk() {
        let attach = |device: &str, key: &str| {
            let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}));
            r["eventName"] = json!("AttachVolume");
            r["requestParameters"] = json!({"volumeId": "vol-1", "instanceId": "i-1", key: device});
            r["responseElements"] = json!({"volumeId": "vol-1", "instanceId": "i-1", "status": "attaching"});
            normalize(r).unwrap()
        };
        let root = attach("/dev/xvda", "device");
        assert_eq!(
            root.details.root_disk.as_deref(),
            Some(root.resources[0].as_str())
        );
        assert_eq!(
            root.resources[0],
            "arn:aws:ec2:us-east-1:111122223333:volume/vol-1"
        );
        // The volume made from a snapshot is the same resource, though its response names the
        // snapshot first.
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}));
        r["eventName"] = json!("CreateVolume");
        r["requestParameters"] = json!({"snapshotId": "snap-1", "zone": "us-east-1a"});
        r["responseElements"] = json!({"snapshotId": "snap-1", "volumeId": "vol-1", "status": "creating"});
        let made = normalize(r).unwrap();
        assert_eq!(made.resources, root.resources);
        assert!(made.details.from_snapshot);
        for device in ["/dev/sda1", "xvda", " /DEV/XVDA ", "/dev/nvme0n1"] {
            assert!(attach(device, "device").details.root_disk.is_some(), "{device}");
        }
        for device in ["/dev/sdf", "/dev/xvdb", "xvdf", "", "/dev/", "/dev/xvdaa"] {
            assert_eq!(attach(device, "device").details.root_disk, None, "{device}");
        }
        // The response says where, when a request names the device otherwise.
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}));
        r["eventName"] = json!("AttachVolume");
        r["responseElements"] = json!({"volumeId": "vol-1", "device": "/dev/sda1"});
        assert!(normalize(r).unwrap().details.root_disk.is_some());
        // A detach at a root device takes the machine's root disk off it (a rescue's first
        // step), named so; at a data device, or without one, it names none.
        let detach = |device: Option<&str>| {
            let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}));
            r["requestParameters"] = json!({"volumeId": "vol-1"});
            r["responseElements"] = json!({"volumeId": "vol-1", "instanceId": "i-1", "status": "detaching"});
            if let Some(d) = device {
                r["responseElements"]["device"] = json!(d);
            }
            r["eventName"] = json!("DetachVolume");
            normalize(r).unwrap().details.root_disk
        };
        assert_eq!(
            detach(Some("/dev/xvda")).as_deref(),
            Some(root.resources[0].as_str())
        );
        assert_eq!(detach(Some("/dev/sdf")), None);
        assert_eq!(detach(None), None);
    }

    /// Attached elsewhere, the volume is a data disk of the instance the call names, written as
    /// a launch's response writes it: what links a volume made from a snapshot to the machine
    /// that reads it. A root attach is not one, nor is a detach.
    #[test]
    fn a_volume_attached_at_another_device_is_a_data_disk_of_its_instance() {
        let call = |name: &str, device: &str| {
            let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}));
            r["eventName"] = json!(name);
            r["requestParameters"] = json!({"volumeId": "vol-1", "instanceId": "i-0abc", "device": device});
            r["responseElements"] = json!({"volumeId": "vol-1", "instanceId": "i-0abc", "device": device});
            normalize(r).unwrap()
        };
        let data = call("AttachVolume", "/dev/sdf");
        assert_eq!(data.details.data_disks, data.resources);
        let mut launch = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}));
        launch["eventName"] = json!("RunInstances");
        launch["requestParameters"] = json!({"instanceType": "t3.micro"});
        launch["responseElements"] = json!({"instancesSet": {"items": [{"instanceId": "i-0abc"}]}});
        assert_eq!(
            data.details.mounted_on.as_ref(),
            normalize(launch).unwrap().resources.first()
        );
        let root = call("AttachVolume", "/dev/xvda");
        assert!(root.details.data_disks.is_empty() && root.details.mounted_on.is_none());
        let detach = call("DetachVolume", "/dev/sdf");
        assert!(detach.details.data_disks.is_empty() && detach.details.mounted_on.is_none());
    }

    #[test]
    fn assumed_roles_are_keyed_by_issuer_and_keep_the_session() {
        let ev = normalize(rec(json!({"type":"AssumedRole","principalId":"AROA1:alice-session","arn":"arn:aws:sts::111122223333:assumed-role/Deploy/alice-session","accountId":"111122223333",
            "sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/ci/Deploy","userName":"Deploy"}}}))).unwrap();
        assert_eq!(ev.principal.key, "arn:aws:iam::111122223333:role/ci/Deploy");
        assert_eq!(ev.principal.session.as_deref(), Some("alice-session"));
        // The seed rule groups by userIdentity.arn: the session.
        assert_eq!(
            ev.seed_caller(),
            "arn:aws:sts::111122223333:assumed-role/Deploy/alice-session"
        );
        assert_eq!(ev.principal.kind, PrincipalKind::Role);
        assert_eq!(ev.resources.len(), 3);
        assert_eq!(ev.resources[0], "arn:aws:ec2:us-east-1:111122223333:instance/i-1");
    }

    #[test]
    fn assumed_role_without_issuer_falls_back_to_the_role_in_the_arn() {
        let ev = normalize(rec(
            json!({"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Deploy/s1"}),
        ))
        .unwrap();
        assert_eq!(ev.principal.key, "arn:aws:iam::111122223333:role/Deploy");
    }

    #[test]
    fn services_root_and_users_are_recognised() {
        let svc = normalize(rec(
            json!({"type":"AWSService","invokedBy":"backup.amazonaws.com"}),
        ))
        .unwrap();
        assert_eq!(svc.principal.kind, PrincipalKind::AwsService);
        assert_eq!(svc.principal.key, "aws-service:backup.amazonaws.com");
        let root = normalize(rec(
            json!({"type":"Root","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"}),
        ))
        .unwrap();
        assert_eq!(root.principal.kind, PrincipalKind::Root);
        let user = normalize(rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","userName":"bob","invokedBy":"autoscaling.amazonaws.com"}))).unwrap();
        assert_eq!(user.principal.kind, PrincipalKind::User);
        assert_eq!(user.invoked_by.as_deref(), Some("autoscaling.amazonaws.com"));
    }

    #[test]
    fn envelope_and_stringified_fields_are_read() {
        let env = json!({"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","account":"999","region":"eu-west-1",
            "detail": serde_json::to_string(&json!({"eventTime":"2026-01-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"ModifySnapshotAttribute",
                "errorCode":"Client.DryRunOperation","userIdentity":"{\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::999:user/x\"}",
                "requestParameters":"{\"snapshotId\":\"snap-1\",\"createVolumePermission\":{\"add\":{\"items\":[{\"group\":\"all\"}]}}}"})).unwrap()});
        let ev = normalize(env).unwrap();
        assert_eq!(ev.account, "999");
        assert_eq!(ev.scope, "eu-west-1");
        assert_eq!(ev.phase, Phase::DryRun);
        assert_eq!(ev.details.share_added, vec!["all"]);
        assert_eq!(ev.principal.key, "arn:aws:iam::999:user/x");
        assert_eq!(ev.resources, vec!["arn:aws:ec2:eu-west-1:999:snapshot/snap-1"]);
    }

    #[test]
    fn an_ebs_direct_read_names_the_snapshot_it_reads() {
        // A data event of the EBS direct APIs: the blocks listed are the second snapshot's (the
        // first, when given, is only the base of the comparison).
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}));
        r["eventSource"] = json!("ebs.amazonaws.com");
        r["eventName"] = json!("ListChangedBlocks");
        r["eventCategory"] = json!("Data");
        r["managementEvent"] = json!(false);
        r["requestParameters"] = json!({"firstSnapshotId":"snap-a","secondSnapshotId":"snap-b"});
        r["responseElements"] = Value::Null;
        let ev = normalize(r).unwrap();
        assert_eq!(ev.operation, "ebs:listchangedblocks");
        assert_eq!(
            ev.resources,
            vec!["arn:aws:ec2:us-east-1:111122223333:snapshot/snap-b"]
        );
    }

    #[test]
    fn an_auto_scaling_call_names_its_group_or_the_instance_it_terminates() {
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}));
        r["eventSource"] = json!("autoscaling.amazonaws.com");
        r["eventName"] = json!("CreateAutoScalingGroup");
        // A group made from an instance names both: the group is what the call made.
        r["requestParameters"] = json!({"autoScalingGroupName":"web","instanceId":"i-9","minSize":1,"maxSize":2,
            "launchTemplate":{"launchTemplateId":"lt-1","version":"$Latest"}});
        r["responseElements"] = Value::Null;
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(
            ev.resources,
            vec!["arn:aws:autoscaling:us-east-1:111122223333:autoScalingGroupName/web"]
        );
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
        // Termination through the group names the instance: its own TerminateInstances is the
        // service's call.
        r["eventName"] = json!("TerminateInstanceInAutoScalingGroup");
        r["requestParameters"] = json!({"instanceId":"i-9","shouldDecrementDesiredCapacity":false});
        r["responseElements"] = json!({"activity":{"autoScalingGroupName":"web","statusCode":"InProgress"}});
        let ev = normalize(r).unwrap();
        assert_eq!(
            ev.resources,
            vec!["arn:aws:ec2:us-east-1:111122223333:instance/i-9"]
        );
    }

    #[test]
    fn a_spot_fleet_requests_resource_is_the_fleet_request() {
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}));
        r["eventName"] = json!("RequestSpotFleet");
        r["requestParameters"] = json!({"spotFleetRequestConfig":{"targetCapacity":8,
            "launchSpecifications":[{"imageId":"ami-1","instanceType":"c6i.8xlarge"}]}});
        r["responseElements"] = json!({"requestId":"q-1","spotFleetRequestId":"sfr-0abc"});
        let ev = normalize(r.clone()).unwrap();
        // Not the launch specification's image: the request made a fleet, not an image.
        assert_eq!(
            ev.resources,
            vec!["arn:aws:ec2:us-east-1:111122223333:spot-fleet-request/sfr-0abc"]
        );
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
    }

    #[test]
    fn a_lifecycle_policys_share_rules_are_its_recipients() {
        // Any casing: AWS's own example logs the request as the API spells it (PascalCase).
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}));
        r["eventSource"] = json!("dlm.amazonaws.com");
        r["eventName"] = json!("CreateLifecyclePolicy");
        r["requestParameters"] = json!({"PolicyDetails":{"schedules":[
            {"name":"daily","shareRules":[{"TargetAccounts":["444455556666","111122223333"]}]},
            {"name":"weekly"}]}});
        r["responseElements"] = json!({"policyId":"policy-0abc"});
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(ev.details.share_added, vec!["444455556666", "111122223333"]);
        assert_eq!(
            ev.resources,
            vec!["arn:aws:dlm:us-east-1:111122223333:policy/policy-0abc"]
        );
        let line = serde_json::to_vec(&r).unwrap();
        let fast = crate::normalize::cloudtrail_line(&line).unwrap().unwrap();
        assert_eq!(fast, ev);
        // Another service's call of the same name (EC2 Image Builder's) shares nothing, and
        // padding is deduplicated and bounded.
        r["eventSource"] = json!("imagebuilder.amazonaws.com");
        assert!(normalize(r.clone()).unwrap().details.share_added.is_empty());
        r["eventSource"] = json!("dlm.amazonaws.com");
        let mut padded = vec!["111122223333".to_string(); 5000];
        padded.push("444455556666".into());
        padded.extend((0..5000).map(|i| format!("{:012}", i)));
        padded.push("all".into());
        r["requestParameters"] =
            json!({"policyDetails":{"schedules":[{"shareRules":[{"targetAccounts":padded}]}]}});
        let added = normalize(r).unwrap().details.share_added;
        assert_eq!(added.len(), 64);
        assert_eq!(added[..3], ["all", "111122223333", "444455556666"]);
    }

    #[test]
    fn a_workspaces_image_share_names_its_account_and_image() {
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}));
        r["eventSource"] = json!("workspaces.amazonaws.com");
        r["eventName"] = json!("UpdateWorkspaceImagePermission");
        // Any casing, and a boolean as text.
        r["requestParameters"] =
            json!({"ImageId":"wsi-0abc12345","AllowCopyImage":"true","SharedAccountId":"444455556666"});
        r["responseElements"] = json!(null);
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(ev.details.share_added, vec!["444455556666"]);
        assert!(ev.details.share_removed.is_empty());
        // A WorkSpaces image, not an AMI of the same key.
        assert_eq!(
            ev.resources,
            vec!["arn:aws:workspaces:us-east-1:111122223333:workspaceimage/wsi-0abc12345"]
        );
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
        r["requestParameters"] =
            json!({"imageId":"wsi-0abc12345","allowCopyImage":false,"sharedAccountId":"444455556666"});
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(ev.details.share_removed, vec!["444455556666"]);
        assert!(ev.details.share_added.is_empty());
        // Whether the account may copy is not said: nothing is invented.
        r["requestParameters"] = json!({"imageId":"wsi-0abc12345","sharedAccountId":"444455556666"});
        let ev = normalize(r.clone()).unwrap();
        assert!(ev.details.share_added.is_empty() && ev.details.share_removed.is_empty());
        // EC2's call of a like-named member is still an AMI.
        r["eventSource"] = json!("ec2.amazonaws.com");
        r["eventName"] = json!("ModifyImageAttribute");
        r["requestParameters"] = json!({"imageId":"ami-1"});
        assert_eq!(
            normalize(r).unwrap().resources,
            vec!["arn:aws:ec2:us-east-1:111122223333:image/ami-1"]
        );
    }

    #[test]
    fn workspaces_rebuilt_or_terminated_are_each_named() {
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}));
        r["eventSource"] = json!("workspaces.amazonaws.com");
        r["eventName"] = json!("TerminateWorkspaces");
        r["requestParameters"] = json!({"terminateWorkspaceRequests":[
            {"workspaceId":"ws-aaaaaaaaa"},{"workspaceId":""},{"workspaceId":"ws-bbbbbbbbb"},
            {"workspaceId":"ws-fffffffff"}]});
        // The one the service could not terminate is not named.
        r["responseElements"] = json!({"failedRequests":[
            {"workspaceId":"ws-fffffffff","errorCode":"InvalidResourceState.Suspended"}]});
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(
            ev.resources,
            vec![
                "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-aaaaaaaaa",
                "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-bbbbbbbbb",
            ]
        );
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
        // None done: the call is a failure, with nothing invented to count.
        r["requestParameters"] = json!({"terminateWorkspaceRequests":[{"workspaceId":"ws-fffffffff"}]});
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(ev.phase, Phase::Failure);
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
        r["eventName"] = json!("RestoreWorkspace");
        r["requestParameters"] = json!({"workspaceId":"ws-ccccccccc"});
        assert_eq!(
            normalize(r).unwrap().resources,
            vec!["arn:aws:workspaces:us-east-1:111122223333:workspace/ws-ccccccccc"]
        );
    }

    #[test]
    fn an_eks_node_groups_types_are_all_kept() {
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}));
        r["eventSource"] = json!("eks.amazonaws.com");
        r["eventName"] = json!("CreateNodegroup");
        r["requestParameters"] = json!({"clusterName":"prod","nodegroupName":"gpu",
            "instanceTypes":["p3.8xlarge","p3.16xlarge"],"amiType":"AL2_x86_64_GPU"});
        r["responseElements"] = json!(null);
        let ev = normalize(r.clone()).unwrap();
        assert!(
            ev.operation.eq_ignore_ascii_case("eks:CreateNodegroup"),
            "{}",
            ev.operation
        );
        assert_eq!(
            ev.details.instance_type.as_deref(),
            Some("p3.8xlarge,p3.16xlarge")
        );
        // A refused call names its group by its cluster and name; a created one by its ARN.
        assert_eq!(
            ev.resources,
            vec!["arn:aws:eks:us-east-1:111122223333:nodegroup/prod/gpu"]
        );
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
        let arn = "arn:aws:eks:us-east-1:111122223333:nodegroup/prod/gpu/a1b2";
        r["responseElements"] = json!({"nodegroup":{"nodegroupArn":arn}});
        assert_eq!(normalize(r.clone()).unwrap().resources, vec![arn]);
        // A group whose types are in its launch template names none; an empty or odd list none.
        for types in [json!(null), json!([]), json!([""]), json!([" "])] {
            r["requestParameters"]["instanceTypes"] = types.clone();
            assert_eq!(
                normalize(r.clone()).unwrap().details.instance_type,
                None,
                "{types}"
            );
        }
    }

    #[test]
    fn a_batch_environments_types_and_name_are_read() {
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}));
        r["eventSource"] = json!("batch.amazonaws.com");
        r["eventName"] = json!("CreateComputeEnvironment");
        r["requestParameters"] = json!({"computeEnvironmentName":"gpu-spot","type":"MANAGED",
            "computeResources":{"type":"SPOT","minvCpus":192,"instanceTypes":["c6i","p3","g5.12xlarge"]}});
        r["responseElements"] = json!(null);
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(ev.details.instance_type.as_deref(), Some("c6i,p3,g5.12xlarge"));
        // A refused call names its environment by its name; a created one by its ARN.
        assert_eq!(
            ev.resources,
            vec!["arn:aws:batch:us-east-1:111122223333:compute-environment/gpu-spot"]
        );
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
        let arn = "arn:aws:batch:us-east-1:111122223333:compute-environment/gpu-spot";
        r["responseElements"] = json!({"computeEnvironmentName":"gpu-spot","computeEnvironmentArn":arn});
        assert_eq!(normalize(r.clone()).unwrap().resources, vec![arn]);
        // An update names the environment it changes, by name or ARN.
        r["eventName"] = json!("UpdateComputeEnvironment");
        r["requestParameters"] =
            json!({"computeEnvironment":"gpu-spot","computeResources":{"maxvCpus":3072}});
        r["responseElements"] = json!(null);
        let ev = normalize(r).unwrap();
        assert_eq!(ev.resources, vec![arn]);
        assert_eq!(ev.details.instance_type, None);
    }

    #[test]
    fn a_launch_templates_type_and_imds_options_are_read_from_its_own_request() {
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}));
        r["eventName"] = json!("CreateLaunchTemplate");
        r["requestParameters"] = json!({"CreateLaunchTemplateRequest":{"LaunchTemplateName":"gpu",
            "LaunchTemplateData":{"ImageId":"ami-1","InstanceType":"g5.12xlarge"}}});
        r["responseElements"] = json!(null);
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(ev.details.instance_type.as_deref(), Some("g5.12xlarge"));
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
        // A version that keeps its source's type (a new image only) chose no type: the
        // response's merged data is not read.
        r["eventName"] = json!("CreateLaunchTemplateVersion");
        r["requestParameters"] = json!({"CreateLaunchTemplateVersionRequest":{"LaunchTemplateId":"lt-1",
            "SourceVersion":"3","LaunchTemplateData":{"ImageId":"ami-2"}}});
        r["responseElements"] = json!({"CreateLaunchTemplateVersionResponse":{"launchTemplateVersion":{
            "launchTemplateId":"lt-1","versionNumber":4,"launchTemplateData":{"instanceType":"p3.8xlarge"}}}});
        assert_eq!(normalize(r.clone()).unwrap().details.instance_type, None);
        r["requestParameters"]["CreateLaunchTemplateVersionRequest"]["LaunchTemplateData"]["InstanceType"] =
            json!("p3.8xlarge");
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(ev.details.instance_type.as_deref(), Some("p3.8xlarge"));
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
        // IMDS options as the version's own request sets them, not as its response repeats
        // its source's.
        r["responseElements"]["CreateLaunchTemplateVersionResponse"]["launchTemplateVersion"]
            ["launchTemplateData"]["metadataOptions"] = json!({"httpTokens":"optional"});
        assert_eq!(normalize(r.clone()).unwrap().details.http_tokens, None);
        r["requestParameters"]["CreateLaunchTemplateVersionRequest"]["LaunchTemplateData"]
            ["MetadataOptions"] = json!({"HttpTokens":"Optional"});
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(ev.details.http_tokens.as_deref(), Some("optional"));
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
    }

    #[test]
    fn a_launch_template_is_named_by_its_id_whichever_way_the_request_named_it() {
        let lt = "arn:aws:ec2:us-east-1:111122223333:launch-template/lt-0abc";
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}));
        r["eventName"] = json!("CreateLaunchTemplate");
        r["requestParameters"] = json!({"CreateLaunchTemplateRequest":{"LaunchTemplateName":"web",
            "LaunchTemplateData":{"ImageId":"ami-1"}}});
        r["responseElements"] = json!({"CreateLaunchTemplateResponse":{"launchTemplate":{
            "launchTemplateId":"lt-0abc","launchTemplateName":"web","latestVersionNumber":1}}});
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(ev.resources, vec![lt]);
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
        r["eventName"] = json!("CreateLaunchTemplateVersion");
        r["requestParameters"] = json!({"CreateLaunchTemplateVersionRequest":{"LaunchTemplateName":"web",
            "LaunchTemplateData":{"ImageId":"ami-2"}}});
        r["responseElements"] = json!({"CreateLaunchTemplateVersionResponse":{"launchTemplateVersion":{
            "launchTemplateId":"lt-0abc","launchTemplateName":"web","versionNumber":2}}});
        assert_eq!(normalize(r.clone()).unwrap().resources, vec![lt]);
        // An empty id names nothing, and without a response (a failed call) the request's name
        // is all there is.
        r["responseElements"]["CreateLaunchTemplateVersionResponse"]["launchTemplateVersion"]
            ["launchTemplateId"] = json!(" ");
        assert_eq!(
            normalize(r.clone()).unwrap().resources,
            vec!["arn:aws:ec2:us-east-1:111122223333:launch-template/web"]
        );
        r["responseElements"] = json!(null);
        assert_eq!(
            normalize(r).unwrap().resources,
            vec!["arn:aws:ec2:us-east-1:111122223333:launch-template/web"]
        );
    }

    #[test]
    fn lightsail_calls_name_what_they_made_by_name() {
        let mut r = rec(json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}));
        r["eventSource"] = json!("lightsail.amazonaws.com");
        r["eventName"] = json!("CreateInstancesFromSnapshot");
        // Each instance a create names is a resource; the snapshot it read is not counted.
        r["requestParameters"] = json!({"instanceNames":["clone-a","","clone-b","clone-a"],
            "instanceSnapshotName":"site-snap","bundleId":"xlarge_3_0"});
        let ev = normalize(r.clone()).unwrap();
        assert_eq!(
            ev.resources,
            vec![
                "arn:aws:lightsail:us-east-1:111122223333:instance/clone-a",
                "arn:aws:lightsail:us-east-1:111122223333:instance/clone-b",
            ]
        );
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(crate::normalize::cloudtrail_line(&line).unwrap().unwrap(), ev);
        let named = |name: &str, req: serde_json::Value| {
            let mut r = r.clone();
            r["eventName"] = json!(name);
            r["requestParameters"] = req;
            normalize(r).unwrap()
        };
        let one = |name: &str, req: serde_json::Value| named(name, req).resources;
        let ls = |kind: &str| format!("arn:aws:lightsail:us-east-1:111122223333:{kind}");
        // What a snapshot call makes, before what it is taken of; a copy's target, before its source.
        assert_eq!(
            one(
                "CreateInstanceSnapshot",
                json!({"instanceName":"site","instanceSnapshotName":"site-snap"})
            ),
            vec![ls("instancesnapshot/site-snap")]
        );
        assert_eq!(
            one(
                "CreateDiskSnapshot",
                json!({"diskName":"media","diskSnapshotName":"media-snap"})
            ),
            vec![ls("disksnapshot/media-snap")]
        );
        let copy = named(
            "CopySnapshot",
            json!({"sourceSnapshotName":"site-snap",
            "targetSnapshotName":"site-copy","SourceRegion":"EU-CENTRAL-1"}),
        );
        assert_eq!(copy.resources, vec![ls("snapshot/site-copy")]);
        assert_eq!(copy.details.source_region.as_deref(), Some("eu-central-1"));
        // Its response says which kind of snapshot it made: the name its later calls use.
        let mut typed = r.clone();
        typed["eventName"] = json!("CopySnapshot");
        typed["requestParameters"] =
            json!({"sourceSnapshotName":"media-snap","targetSnapshotName":"media-copy"});
        typed["responseElements"] =
            json!({"operations":[{"resourceName":"media-copy","resourceType":"DiskSnapshot"}]});
        assert_eq!(
            normalize(typed).unwrap().resources,
            vec![ls("disksnapshot/media-copy")]
        );
        // An add-on's call names the instance or disk; which add-on is its attribute.
        let add_on = named(
            "DisableAddOn",
            json!({"addOnType":"AutoSnapshot","resourceName":"site"}),
        );
        assert_eq!(add_on.resources, vec![ls("resource/site")]);
        assert_eq!(add_on.details.attribute.as_deref(), Some("autosnapshot"));
        // A disk made from a snapshot is the disk, which its attach names too.
        assert_eq!(
            one(
                "CreateDiskFromSnapshot",
                json!({"diskSnapshotName":"media-snap","diskName":"media-2"})
            ),
            vec![ls("disk/media-2")]
        );
        let attach = named(
            "AttachDisk",
            json!({"diskName":"media-2","instanceName":"clone-a","diskPath":"/dev/xvdf"}),
        );
        assert_eq!(attach.resources, vec![ls("disk/media-2")]);
        assert_eq!(attach.details.data_disks, vec![ls("disk/media-2")]);
        assert_eq!(attach.details.mounted_on, Some(ls("instance/clone-a")));
        // An attach that names no disk links nothing.
        let bare = named("AttachDisk", json!({"instanceName":"clone-a"}));
        assert!(bare.details.data_disks.is_empty() && bare.details.mounted_on.is_none());
        assert_eq!(
            one(
                "DeleteAutoSnapshot",
                json!({"resourceName":"site","date":"2026-10-11"})
            ),
            vec![ls("autosnapshot/site/2026-10-11")]
        );
        assert_eq!(
            one("ExportSnapshot", json!({"sourceSnapshotName":"site-snap"})),
            vec![ls("snapshot/site-snap")]
        );
        // A call naming nothing is the account's, as EC2's settings are.
        assert_eq!(one("DeleteInstance", json!({})), vec![ls("deleteinstance")]);
        // A forged list costs a bounded read, and keeps at most the bound.
        let many: Vec<String> = (0..500).map(|i| format!("i-{i}")).collect();
        assert_eq!(
            one("CreateInstances", json!({"instanceNames": many})).len(),
            MAX_RESOURCES_PER_EVENT
        );
    }

    #[test]
    fn missing_required_fields_are_named() {
        let err = normalize(json!({"eventSource":"ec2.amazonaws.com","eventTime":"2026-01-01T00:00:00Z"}))
            .unwrap_err();
        assert_eq!(err, NormalizeError::Missing("eventName"));
        let err = normalize(json!({"eventSource":"ec2.amazonaws.com","eventName":"X","eventTime":{"a":1}}))
            .unwrap_err();
        assert!(matches!(
            err,
            NormalizeError::Invalid {
                field: "eventTime",
                ..
            }
        ));
    }

    #[test]
    fn huge_attacker_strings_are_clipped() {
        let mut r = rec(
            json!({"type":"IAMUser","arn":format!("arn:aws:iam::1:user/{}", "\"\n\u{0}".repeat(10_000))}),
        );
        r["userAgent"] = json!("x".repeat(100_000));
        let ev = normalize(r).unwrap();
        assert!(ev.user_agent.unwrap().len() <= MAX_FIELD);
        assert!(ev.principal.key.len() <= 512);
    }
}

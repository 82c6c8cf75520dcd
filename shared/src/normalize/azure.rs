//! Azure Activity Log: diagnostic-settings records (Event Hub, storage export), the REST /
//! portal shape, and Log Analytics `AzureActivity` rows.

use super::project::{self, Shape};
use super::{hash_hex, parse_time, NormalizeError};
use crate::event::{
    clip, clip_into, Cloud, ComputeEvent, Details, Phase, Principal, PrincipalKind, MAX_DATA_DISKS, MAX_FIELD,
};
use crate::json::{self, get, int, text_at, Json};
use serde_json::Value;
use std::borrow::Cow;

crate::prefilter::quoted_keys! {
    OPERATION_NAME = b"\"operationName\"";
}

const CLAIM_UPN: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";
const CLAIM_NAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
const CLAIM_EMAIL: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
const CLAIM_OID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";

/// Map a status spelling (`Start`, `Started`, `Succeeded`, `Accept`...) to a phase.
pub(crate) fn phase_of(status: &str) -> Phase {
    match status.trim().to_ascii_lowercase().as_str() {
        "success" | "succeeded" => Phase::Success,
        "start" | "started" => Phase::Start,
        "accept" | "accepted" => Phase::Accept,
        "failure" | "failed" => Phase::Failure,
        _ => Phase::Other,
    }
}

/// What [`build`] reads of a record, borrowed from it where the record is a line's tree.
struct Parts<'a> {
    time_ms: i64,
    operation_raw: Cow<'a, str>,
    resource_id: Cow<'a, str>,
    status: Cow<'a, str>,
    signature: Option<Cow<'a, str>>,
    correlation_id: Option<Cow<'a, str>>,
    event_data_id: Option<Cow<'a, str>>,
    caller_ip: Option<Cow<'a, str>>,
    provider_hint: Option<Cow<'a, str>>,
    subscription_hint: Option<Cow<'a, str>>,
    rg_hint: Option<Cow<'a, str>>,
    caller_hint: Option<Cow<'a, str>>,
}

/// The claims [`principal`] and [`build`] read.
static CLAIMS: Shape = Shape {
    fields: &[
        ("idtyp", None),
        (CLAIM_UPN, None),
        (CLAIM_NAME, None),
        (CLAIM_EMAIL, None),
        ("xms_mirid", None),
        (CLAIM_OID, None),
        ("appid", None),
        ("ipaddr", None),
    ],
    other: &[],
};

static AUTHORIZATION: Shape = Shape {
    fields: &[(
        "evidence",
        Some(&Shape {
            fields: &[("principalType", None), ("principalId", None)],
            other: &[],
        }),
    )],
    other: &[],
};

/// What [`from_activity_log`] reads of a record, for [`from_line`]: every field it starts
/// reading must be added here (`from_line_reads_what_from_activity_log_reads` checks the
/// fixtures).
static RECORD: Shape = Shape {
    fields: &[
        ("operationName", None),
        ("time", None),
        ("eventTimestamp", None),
        ("resourceId", None),
        (
            "properties",
            Some(&Shape {
                fields: &[
                    ("entity", None),
                    ("hierarchy", None),
                    ("requestbody", None),
                    ("responseBody", None),
                ],
                other: &[],
            }),
        ),
        ("resultType", None),
        ("status", None),
        (
            "identity",
            Some(&Shape {
                fields: &[("claims", Some(&CLAIMS)), ("authorization", Some(&AUTHORIZATION))],
                other: &[],
            }),
        ),
        ("claims", Some(&CLAIMS)),
        ("authorization", Some(&AUTHORIZATION)),
        ("resultSignature", None),
        ("subStatus", None),
        ("correlationId", None),
        ("eventDataId", None),
        ("callerIpAddress", None),
        ("httpRequest", None),
        ("resourceProviderName", None),
        ("subscriptionId", None),
        ("resourceGroupName", None),
        ("caller", None),
        ("requestbody", None),
        ("responseBody", None),
    ],
    // What [`super::normalize`] or `source::expand` would read another way: an EventBridge
    // envelope, a CloudTrail record, the REST shape, a Log Analytics row, containers.
    other: &[
        "detail-type",
        "detail",
        "eventName",
        "eventSource",
        "OperationNameValue",
        "messageType",
        "records",
        "CloudTrailEvent",
        "Events",
    ],
};

/// An Activity Log record (the export's and Event Hub's shape) from one JSON line, parsed into
/// only what [`RECORD`] names. `None` when the line is not plainly such a record: the caller
/// then parses it whole. `Some` is exactly what [`super::normalize`] gives for the whole record.
pub(super) fn from_line(line: &[u8]) -> Option<Result<ComputeEvent, NormalizeError>> {
    OPERATION_NAME.find(line)?;
    let mut rec = project::parse(std::str::from_utf8(line).ok()?, &RECORD)?;
    get(&rec, "operationName")?;
    // As [`from_activity_log`] parses them.
    for k in STRINGY {
        rec.unstring(k);
    }
    if let Some(id) = rec.exact_mut("identity") {
        id.unstring("claims");
    }
    Some(from_activity_fields(&rec))
}

/// Fields of a record that may arrive as JSON inside a string.
const STRINGY: [&str; 4] = ["identity", "properties", "claims", "authorization"];

/// Diagnostic-settings export record; also the REST shape (`operationName.value`, `status.value`).
pub(super) fn from_activity_log(rec: &mut Value) -> Result<ComputeEvent, NormalizeError> {
    for k in STRINGY {
        json::unstring(rec, k);
    }
    if let Some(id) = rec.as_object_mut().and_then(|o| o.get_mut("identity")) {
        json::unstring(id, "claims");
    }
    from_activity_fields(&*rec)
}

/// A record whose fields sent as JSON text, if any, are parsed already.
fn from_activity_fields<J: Json>(rec: &J) -> Result<ComputeEvent, NormalizeError> {
    let operation_raw = text_at(rec, &["operationName"])
        .or_else(|| text_at(rec, &["operationName", "value"]))
        .ok_or(NormalizeError::Missing("operationName"))?;
    let time = get(rec, "time")
        .or_else(|| get(rec, "eventTimestamp"))
        .ok_or(NormalizeError::Missing("time"))?;
    let time_ms = parse_time(time, "time")?;
    let resource_id = text_at(rec, &["resourceId"])
        .or_else(|| text_at(rec, &["properties", "entity"]))
        .ok_or(NormalizeError::Missing("resourceId"))?;
    let status = text_at(rec, &["resultType"])
        .or_else(|| text_at(rec, &["status", "value"]))
        .or_else(|| text_at(rec, &["status"]))
        .unwrap_or_default();
    let claims = get(rec, "identity")
        .and_then(|i| get(i, "claims"))
        .or_else(|| get(rec, "claims"))
        .unwrap_or(J::null());
    let evidence = get(rec, "identity")
        .and_then(|i| json::path(i, &["authorization", "evidence"]))
        .or_else(|| json::path(rec, &["authorization", "evidence"]))
        .unwrap_or(J::null());
    let parts = Parts {
        time_ms,
        operation_raw,
        resource_id,
        status,
        signature: text_at(rec, &["resultSignature"]).or_else(|| text_at(rec, &["subStatus", "value"])),
        correlation_id: text_at(rec, &["correlationId"]),
        event_data_id: text_at(rec, &["eventDataId"]),
        caller_ip: text_at(rec, &["callerIpAddress"])
            .or_else(|| text_at(rec, &["httpRequest", "clientIpAddress"]))
            .or_else(|| text_at(claims, &["ipaddr"])),
        provider_hint: text_at(rec, &["resourceProviderName", "value"]),
        subscription_hint: text_at(rec, &["subscriptionId"]).or_else(|| {
            text_at(rec, &["properties", "hierarchy"])
                .and_then(|h| h.rsplit('/').next().map(|s| Cow::Owned(s.to_string())))
        }),
        rg_hint: text_at(rec, &["resourceGroupName"]),
        caller_hint: text_at(rec, &["caller"]),
    };
    let mut details = details(rec, &parts.operation_raw);
    name_parts(&mut details, &parts.resource_id);
    Ok(build(parts, claims, evidence, details))
}

/// Log Analytics `AzureActivity` row (the seed KQL's own table).
pub(super) fn from_log_analytics(row: &mut Value) -> Result<ComputeEvent, NormalizeError> {
    for k in [
        "Claims_d",
        "Claims",
        "Authorization_d",
        "Properties_d",
        "Properties",
    ] {
        json::unstring(row, k);
    }
    let row = &*row;
    let operation_raw =
        text_at(row, &["OperationNameValue"]).ok_or(NormalizeError::Missing("OperationNameValue"))?;
    let time_ms = parse_time(
        get(row, "TimeGenerated").ok_or(NormalizeError::Missing("TimeGenerated"))?,
        "TimeGenerated",
    )?;
    let resource_id = text_at(row, &["ResourceId"])
        .or_else(|| text_at(row, &["_ResourceId"]))
        .unwrap_or_default();
    let null = Value::Null;
    let claims = get(row, "Claims_d")
        .or_else(|| get(row, "Claims"))
        .unwrap_or(&null);
    let evidence = get(row, "Authorization_d")
        .and_then(|a| get(a, "evidence"))
        .unwrap_or(&null);
    let parts = Parts {
        time_ms,
        operation_raw,
        resource_id,
        status: text_at(row, &["ActivityStatusValue"]).unwrap_or_default(),
        signature: text_at(row, &["ActivitySubstatusValue"]),
        correlation_id: text_at(row, &["CorrelationId"]),
        event_data_id: text_at(row, &["EventDataId"]),
        caller_ip: text_at(row, &["CallerIpAddress"]),
        provider_hint: text_at(row, &["ResourceProviderValue"]),
        subscription_hint: text_at(row, &["SubscriptionId"]),
        rg_hint: text_at(row, &["ResourceGroup"]),
        caller_hint: text_at(row, &["Caller"]),
    };
    let mut details = get(row, "Properties_d")
        .or_else(|| get(row, "Properties"))
        .map(|p| details(p, &parts.operation_raw))
        .unwrap_or_default();
    name_parts(&mut details, &parts.resource_id);
    Ok(build(parts, claims, evidence, details))
}

fn build<J: Json>(p: Parts, claims: &J, evidence: &J, details: Details) -> ComputeEvent {
    let (sub_from_id, rg_from_id) = split_resource_id(&p.resource_id);
    let account = p
        .subscription_hint
        .as_deref()
        .or(sub_from_id)
        .map_or_else(|| "unknown".into(), str::to_ascii_lowercase);
    let scope = match p.rg_hint {
        Some(rg) => clip_into(rg, 128),
        None => clip(rg_from_id.unwrap_or_default(), 128),
    };
    let operation = p.operation_raw.to_ascii_lowercase();
    let provider = p
        .provider_hint
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_else(|| operation.split('/').next().unwrap_or_default().to_string());
    let phase = phase_of(&p.status);
    let error_code =
        (phase == Phase::Failure).then(|| clip(p.signature.as_deref().unwrap_or(&p.status), 128));
    let principal = principal(claims, evidence, p.caller_hint.as_deref());
    let resource_lc = p.resource_id.to_ascii_lowercase();
    let event_id = match &p.event_data_id {
        Some(id) => clip(id, 128),
        None => hash_hex(&[
            p.correlation_id.as_deref().unwrap_or(""),
            &operation,
            &resource_lc,
            &p.status.to_ascii_lowercase(),
            &p.time_ms.to_string(),
        ]),
    };
    // One operation emits Start, Accept and Success records sharing the correlation id; the
    // resource id is part of the key because one deployment fans out under one correlation id.
    let operation_key = p
        .correlation_id
        .as_deref()
        .map(|c| hash_hex(&[&c.to_ascii_lowercase(), &operation, &resource_lc]));
    ComputeEvent {
        time_ms: p.time_ms,
        cloud: Cloud::Azure,
        account: clip_into(account, 64),
        scope,
        principal,
        source_ip: p.caller_ip.map(|s| clip_into(s, 64)),
        // The Activity Log has no user agent; the client application the token was issued to
        // (`appid`: Azure CLI, the portal, a pipeline's service principal) is what stands in.
        user_agent: text_at(claims, &["appid"])
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty())
            .map(|a| clip_into(format!("appid:{a}"), 64)),
        operation: clip_into(operation, MAX_FIELD),
        operation_raw: clip_into(p.operation_raw, MAX_FIELD),
        provider: clip_into(provider, 64),
        phase,
        error_code,
        resources: if p.resource_id.is_empty() {
            Vec::new()
        } else {
            vec![clip_into(p.resource_id, MAX_FIELD)]
        },
        details,
        event_id,
        operation_key,
        invoked_by: None,
        service_event: false,
    }
}

/// `/subscriptions/{sub}/resourceGroups/{rg}/...` -> (sub, rg), case-insensitively.
fn split_resource_id(id: &str) -> (Option<&str>, Option<&str>) {
    let mut segs = id.split('/').filter(|s| !s.is_empty()).peekable();
    let mut sub = None;
    let mut rg = None;
    while let (Some(name), Some(&value)) = (segs.next(), segs.peek()) {
        if name.eq_ignore_ascii_case("subscriptions") && sub.is_none() {
            sub = Some(value);
        } else if name.eq_ignore_ascii_case("resourcegroups") && rg.is_none() {
            rg = Some(value);
        }
    }
    (sub, rg)
}

/// Caller from the claims in the documented order: upn, name, emailaddress, appid (with
/// xms_mirid for managed identities), objectidentifier, then the RBAC evidence principal.
fn principal<J: Json>(claims: &J, evidence: &J, caller_hint: Option<&str>) -> Principal {
    // Trimmed; borrowed from the claims where they are a line's tree.
    let claim = |k: &str| {
        text_at(claims, &[k])
            .map(|s| match s {
                Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
            })
            .filter(|s| !s.is_empty())
    };
    let is_app = claim("idtyp").is_some_and(|t| t.eq_ignore_ascii_case("app"))
        || text_at(evidence, &["principalType"]).is_some_and(|t| t.eq_ignore_ascii_case("ServicePrincipal"));
    let user = claim(CLAIM_UPN)
        .or_else(|| claim(CLAIM_NAME))
        .or_else(|| claim(CLAIM_EMAIL));
    let (key, name, kind): (String, Cow<str>, _) = if let (Some(u), false) = (user.clone(), is_app) {
        (keyed("user", &u), u, PrincipalKind::User)
    } else if let Some(mirid) = claim("xms_mirid") {
        // Keyed by the identity's resource id (stable, readable); shown as the `Caller`
        // column shows it, the object id.
        let key = keyed("mi", &mirid);
        (
            key,
            claim(CLAIM_OID).unwrap_or(mirid),
            PrincipalKind::ManagedIdentity,
        )
    } else if let Some(app) = claim("appid").filter(|_| is_app || user.is_none()) {
        // The Caller column holds the object id for applications; prefer it as display.
        let key = keyed("app", &app);
        (
            key,
            claim(CLAIM_OID).unwrap_or(app),
            PrincipalKind::ServicePrincipal,
        )
    } else if let Some(oid) = claim(CLAIM_OID) {
        (keyed("oid", &oid), oid, PrincipalKind::Unknown)
    } else if let Some(pid) = text_at(evidence, &["principalId"]) {
        (keyed("oid", &pid), pid, PrincipalKind::Unknown)
    } else if let Some(c) = caller_hint.map(str::trim).filter(|c| !c.is_empty()) {
        let kind = if c.contains('@') {
            PrincipalKind::User
        } else {
            PrincipalKind::Unknown
        };
        let prefix = if kind == PrincipalKind::User {
            "user"
        } else {
            "oid"
        };
        (keyed(prefix, c), Cow::Borrowed(c), kind)
    } else {
        ("unknown".into(), Cow::Borrowed("unknown"), PrincipalKind::Unknown)
    };
    // The Log Analytics Caller column wins as the display name when present: it is what the
    // seed KQL groups by.
    let name = caller_hint
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map_or(name, Cow::Borrowed);
    Principal {
        key: clip_into(key, 512),
        name: clip_into(name, MAX_FIELD),
        kind,
        session: None,
        arn: None,
    }
}

/// `prefix:value`, the value lower-cased: a principal's key.
fn keyed(prefix: &str, value: &str) -> String {
    let mut key = format!("{prefix}:{value}");
    key.make_ascii_lowercase();
    key
}

/// What a VM part's resource id names: its extension and its machine (one lower-cased copy of
/// the id for both).
fn name_parts(details: &mut Details, resource_id: &str) {
    let lower = resource_id.to_ascii_lowercase();
    details.extension = extension_name(&lower);
    details.machine = machine_of_part(resource_id, &lower);
}

/// The VM extension a lower-cased resource id names (`.../extensions/<name>`).
fn extension_name(lower: &str) -> Option<String> {
    let (_, rest) = lower.rsplit_once("/extensions/")?;
    let name = rest.split('/').next().filter(|n| !n.is_empty())?;
    Some(clip(name, 64))
}

/// The virtual machine whose extension or managed run command a resource id names (`lower`: the
/// id lower-cased): the id up to the machine's name, as written
/// (`.../providers/Microsoft.Compute/virtualMachines/<vm>/extensions/<name>`, or a scale set's
/// instance `.../virtualMachineScaleSets/<s>/virtualMachines/<n>/...`), clipped as the event's
/// resource is, so it hashes as the VM's own id does. Read after the provider, so a resource
/// group named `virtualMachines` is not taken for one. Not a scale set's own parts: they are
/// its model's, not a machine's.
fn machine_of_part(resource_id: &str, lower: &str) -> Option<String> {
    const PROVIDER: &str = "/providers/microsoft.compute/";
    debug_assert_eq!(lower.len(), resource_id.len(), "lower is the id lower-cased");
    let start = lower.find(PROVIDER)? + PROVIDER.len();
    // The first six segments after the provider are all either form names (no allocation: this
    // runs for every in-scope Azure record).
    let mut split = lower[start..].split('/');
    let segments: [&str; 6] = std::array::from_fn(|_| split.next().unwrap_or(""));
    let machine_len = match segments {
        ["virtualmachines", vm, "extensions" | "runcommands", part, ..]
            if !vm.is_empty() && !part.is_empty() =>
        {
            2
        }
        ["virtualmachinescalesets", set, "virtualmachines", vm, "extensions" | "runcommands", part]
            if !set.is_empty() && !vm.is_empty() && !part.is_empty() =>
        {
            4
        }
        _ => return None,
    };
    // The segments and the '/' between them, as written in the id.
    let end = start + segments[..machine_len].iter().map(|s| s.len() + 1).sum::<usize>() - 1;
    Some(clip(&resource_id[..end], MAX_FIELD))
}

fn details<J: Json>(rec: &J, operation: &str) -> Details {
    let mut d = Details::default();
    let body = |name: &str| {
        json::path(rec, &["properties", name])
            .or_else(|| get(rec, name))
            .and_then(Json::as_str)
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
    };
    let scale_set = ends_with(operation, "/virtualmachinescalesets/write");
    let vm = ends_with(operation, "/virtualmachines/write");
    if let Some(b) = body("requestbody") {
        d.instance_type = size(&b, scale_set);
        if vm {
            // `text_at` names no blank id.
            d.root_disk = text_at(
                &b,
                &["properties", "storageProfile", "osDisk", "managedDisk", "id"],
            )
            .map(|id| clip(id.trim(), MAX_FIELD));
            // On a machine that exists: a full update names its OS disk, which a create from an
            // image does not, and a PATCH (the SDKs' updates, azurerm's) carries no `location`,
            // which a create must. A launch's bootstrap script is not a change of one.
            let update = d.root_disk.is_some() || b.get("location").is_none();
            d.user_data = update && text_at(&b, &["properties", "userData"]).is_some();
            d.data_disks = data_disks(&b);
            // A create from an image must name it; a body with a location that names neither
            // its OS disk nor an image is an update written by hand, not a new machine.
            let image = json::path(&b, &["properties", "storageProfile", "imageReference"]);
            d.creates_machine = !update && image.is_some_and(|i| i.is_object());
        }
        copy_source(&b, &mut d);
        gallery_sharing(&b, &mut d);
        if ends_with(operation, "/begingetaccess/action") {
            // A negative or zero duration asks for nothing the API grants: not a length.
            d.export_seconds = get(&b, "durationInSeconds").and_then(int).filter(|&s| s > 0);
        }
    } else if let Some(b) = (scale_set || vm).then(|| body("responseBody")).flatten() {
        // The Accept of a create carries the resource as created in its response body: an
        // export without the Start's request body still has the size. Not the source of a copy:
        // a response holds the resource's whole state, so every later update of a copied
        // snapshot (its tags) would read as a new copy. Parsed only where a size is read: a
        // VM's or a scale set's write.
        d.instance_type = size(&b, scale_set);
    }
    d
}

/// The managed data disks a VM write's body names by id, the last [`MAX_DATA_DISKS`] (a disk
/// added to a machine's model is appended to its list).
fn data_disks(body: &Value) -> Vec<String> {
    let Some(list) = json::path(body, &["properties", "storageProfile", "dataDisks"]) else {
        return Vec::new();
    };
    // A disk marked to be detached (`toBeDetached`, as the AKS cloud provider's PATCH sends
    // it) is leaving the machine, not attached to it.
    let leaving = |d: &&Value| get(*d, "toBeDetached").and_then(Json::as_bool) == Some(true);
    let ids: Vec<String> = json::items(list)
        .into_iter()
        .filter(|d| !leaving(d))
        .filter_map(|d| text_at(d, &["managedDisk", "id"]))
        .map(|id| clip(id.trim(), MAX_FIELD))
        .collect();
    let skip = ids.len().saturating_sub(MAX_DATA_DISKS);
    ids.into_iter().skip(skip).collect()
}

/// Does an operation name end with `suffix` (ASCII case-insensitive)?
fn ends_with(operation: &str, suffix: &str) -> bool {
    operation.len() >= suffix.len()
        && operation.as_bytes()[operation.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// A VM's size; a scale set's is its sku's name. A scale set's write says so by its operation,
/// or by a body with a virtualMachineProfile (a disk's sku is its storage type): a scale-out
/// (`az vmss scale`) sends only the sku and its capacity. An AKS node pool's and a Batch pool's
/// is the `vmSize` of their properties.
fn size(b: &Value, scale_set: bool) -> Option<String> {
    text_at(b, &["properties", "hardwareProfile", "vmSize"])
        .or_else(|| text_at(b, &["properties", "vmSize"]))
        .or_else(|| {
            (scale_set || json::path(b, &["properties", "virtualMachineProfile"]).is_some())
                .then(|| text_at(b, &["sku", "name"]))
                .flatten()
        })
        .map(|s| clip(&s, 64))
}

/// Where a snapshot or disk is copied from.
fn copy_source(b: &Value, d: &mut Details) {
    // A snapshot or disk made from another resource names it; its subscription tells a
    // copy across subscriptions (out of the one whose log this is) from a local one.
    let source = text_at(b, &["properties", "creationData", "sourceResourceId"]);
    d.from_snapshot = source.as_deref().is_some_and(names_snapshot);
    d.source_account = source
        .and_then(|id| {
            split_resource_id(&id)
                .0
                .map(|sub| clip(&sub.trim().to_ascii_lowercase(), 64))
        })
        .filter(|sub| !sub.is_empty());
}

/// Does a resource id name a snapshot, or a disk's restore point (what a VM restore point
/// keeps of each disk)?
fn names_snapshot(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    lower.contains("/providers/microsoft.compute/snapshots/") || lower.contains("/diskrestorepoints/")
}

/// A gallery sharing update (`galleries/share/action`): `{"operationType": "Add" | "Remove" |
/// "Reset" | "EnableCommunity", "groups": [{"type": "Subscriptions" | "AADTenants", "ids": [..]}]}`.
/// Community sharing is public. Ids are kept lower-cased and capped, like AWS share recipients.
fn gallery_sharing(body: &Value, d: &mut Details) {
    let Some(op) = text_at(body, &["operationType"]) else {
        return;
    };
    let ids: Vec<String> = json::get(body, "groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| json::get(g, "ids").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .take(32)
        .map(|s| clip(&s.trim().to_ascii_lowercase(), 64))
        .collect();
    match op.to_ascii_lowercase().as_str() {
        "add" => d.share_added = ids,
        "remove" => d.share_removed = ids,
        "reset" => d.share_removed = vec!["all".into()],
        "enablecommunity" => d.share_added = vec!["all".into()],
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;
    use serde_json::json;

    /// An extension's or a managed run command's machine is its VM, as written; a VM's own id,
    /// a scale set's model extension, and a name cut short are no machine's part.
    #[test]
    fn a_vm_parts_machine_is_read_from_its_id() {
        let machine_of_part = |id: &str| super::machine_of_part(id, &id.to_ascii_lowercase());
        let vm = "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/virtualMachines/VM-SQL01";
        for part in [
            "/EXTENSIONS/MDE.WINDOWS",
            "/runCommands/rc-1",
            "/extensions/x/more",
        ] {
            assert_eq!(
                machine_of_part(&format!("{vm}{part}")).as_deref(),
                Some(vm),
                "{part}"
            );
        }
        let instance = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/3";
        assert_eq!(
            machine_of_part(&format!("{instance}/extensions/e")).as_deref(),
            Some(instance)
        );
        for id in [
            vm.to_string(),
            "/subscriptions/s/resourceGroups/virtualMachines/providers/Microsoft.Compute/disks/d".into(),
            format!("{vm}/extensions/"),
            format!("{vm}/instanceView"),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/extensions/e".into(),
            "/virtualMachines/".into(),
            String::new(),
        ] {
            assert_eq!(machine_of_part(&id), None, "{id}");
        }
    }

    /// Both Activity Log shapes read it: a security agent's removal names its VM.
    #[test]
    fn an_extensions_record_names_its_machine() {
        let path = format!(
            "{}/../events/azure/compute-vm-security-extension-delete.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let doc = std::fs::read(path).unwrap();
        let records = crate::source::normalize_document(&doc).unwrap();
        assert_eq!(records.len(), 3, "Start, Accept and Success");
        for (_, ev) in records {
            assert_eq!(
                ev.unwrap().details.machine.as_deref(),
                Some("/SUBSCRIPTIONS/AAAAAAAA-1111-2222-3333-444444444444/RESOURCEGROUPS/RG-PROD-DATA/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM-SQL01")
            );
        }
        let row = json!({"OperationNameValue": "Microsoft.Compute/virtualMachines/extensions/delete", "TimeGenerated": "2026-06-01T08:02:25Z",
            "ResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1/extensions/MDE.Windows",
            "ActivityStatusValue": "Success", "Caller": "alice@contoso.com"});
        let ev = normalize(row).unwrap();
        assert_eq!(
            ev.details.machine.as_deref(),
            Some("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1")
        );
    }

    fn record(claims: Value, status: &str) -> Value {
        json!({"time":"2026-11-03T10:00:00.1234567Z","resourceId":"/SUBSCRIPTIONS/AAAA-1/RESOURCEGROUPS/RG-X/PROVIDERS/MICROSOFT.COMPUTE/SNAPSHOTS/S1",
               "operationName":"MICROSOFT.COMPUTE/SNAPSHOTS/WRITE","category":"Administrative","resultType":status,"correlationId":"C-1",
               "callerIpAddress":"203.0.113.5","durationMs":"0","identity":{"claims":claims}})
    }

    #[test]
    fn export_records_derive_subscription_group_and_caller() {
        let ev = normalize(record(
            json!({CLAIM_UPN: "Alice@Contoso.com", "name": "Alice"}),
            "Start",
        ))
        .unwrap();
        assert_eq!(ev.account, "aaaa-1");
        assert_eq!(ev.scope, "RG-X");
        assert_eq!(ev.operation, "microsoft.compute/snapshots/write");
        assert_eq!(ev.provider, "microsoft.compute");
        assert_eq!(ev.principal.key, "user:alice@contoso.com");
        assert_eq!(ev.principal.kind, PrincipalKind::User);
        assert_eq!(ev.phase, Phase::Start);
    }

    #[test]
    fn a_copy_names_the_subscription_of_its_source_on_its_start_only() {
        let with = |body: &str| {
            let mut r = record(json!({CLAIM_UPN: "a@x"}), "Start");
            r["properties"] = json!({ "requestbody": body });
            normalize(r).unwrap().details.source_account
        };
        let src = r#"{"properties":{"creationData":{"createOption":"Copy","sourceResourceId":"/SUBSCRIPTIONS/BBBB-2/resourceGroups/rg/providers/Microsoft.Compute/disks/d"}}}"#;
        assert_eq!(with(src).as_deref(), Some("bbbb-2"));
        // An import names a blob, not a resource of a subscription; an update names nothing.
        let import = r#"{"properties":{"creationData":{"createOption":"Import","sourceUri":"https://acct.blob.core.windows.net/vhds/a.vhd"}}}"#;
        assert_eq!(with(import), None);
        assert_eq!(with(r#"{"properties":{"diskSizeGB":256}}"#), None);
        assert_eq!(with("not json"), None);
        let success = normalize(record(json!({CLAIM_UPN: "a@x"}), "Success")).unwrap();
        assert_eq!(success.details.source_account, None);
    }

    /// An export's Start names how long its SAS URL reads; a number written as a string is one
    /// too, and a length the API would refuse (zero, negative) is none.
    #[test]
    fn an_exports_start_names_its_length() {
        for (body, want) in [
            (r#"{"access":"Read","durationInSeconds":86400}"#, Some(86400)),
            (r#"{"access":"Read","durationInSeconds":"3600"}"#, Some(3600)),
            (r#"{"access":"Read","durationInSeconds":0}"#, None),
            (r#"{"access":"Read","durationInSeconds":-5}"#, None),
            (r#"{"access":"Read"}"#, None),
        ] {
            for (op, expected) in [
                ("MICROSOFT.COMPUTE/SNAPSHOTS/BEGINGETACCESS/ACTION", want),
                ("Microsoft.Compute/disks/beginGetAccess/action", want),
                ("Microsoft.Compute/disks/endGetAccess/action", None),
            ] {
                let mut r = record(json!({CLAIM_UPN: "a@x"}), "Start");
                r["operationName"] = json!(op);
                r["properties"]["requestbody"] = json!(body);
                let ev = normalize(r).unwrap();
                assert_eq!(ev.details.export_seconds, expected, "{op} {body}");
            }
        }
    }

    /// A disk made from a snapshot or a restore point's disk says so on its Start; a VM write's
    /// body names its managed OS disk, a scale set's and a disk's do not.
    #[test]
    fn a_disk_from_a_snapshot_and_a_vms_os_disk_are_read_from_the_start() {
        let with = |operation: &str, body: &str| {
            let mut r = record(json!({CLAIM_UPN: "a@x"}), "Start");
            r["operationName"] = json!(operation);
            r["properties"] = json!({ "requestbody": body });
            normalize(r).unwrap().details
        };
        let disk = "MICROSOFT.COMPUTE/DISKS/WRITE";
        let copy = |src: &str| {
            format!(
                r#"{{"properties":{{"creationData":{{"createOption":"Copy","sourceResourceId":"{src}"}}}}}}"#
            )
        };
        let snap = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/snap-1";
        assert!(with(disk, &copy(snap)).from_snapshot);
        assert!(with(disk, &copy(&snap.to_uppercase())).from_snapshot);
        let point = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/restorePointCollections/rpc/restorePoints/rp/diskRestorePoints/d1";
        assert!(with(disk, &copy(point)).from_snapshot);
        let other_disk = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d";
        assert!(!with(disk, &copy(other_disk)).from_snapshot);
        assert!(
            !with(
                disk,
                r#"{"properties":{"creationData":{"createOption":"Empty"}}}"#
            )
            .from_snapshot
        );
        let vm = "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE";
        let named = r#"{"properties":{"storageProfile":{"osDisk":{"managedDisk":{"id":" /subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/os-2 "}}}}}"#;
        assert_eq!(
            with(vm, named).root_disk.as_deref(),
            Some("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/os-2")
        );
        let from_image = r#"{"properties":{"storageProfile":{"osDisk":{"createOption":"FromImage","managedDisk":{"storageAccountType":"Premium_LRS"}}}}}"#;
        assert_eq!(with(vm, from_image).root_disk, None);
        assert_eq!(
            with(
                vm,
                r#"{"properties":{"storageProfile":{"osDisk":{"managedDisk":{"id":""}}}}}"#
            )
            .root_disk,
            None
        );
        assert_eq!(
            with("MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/WRITE", named).root_disk,
            None
        );
        let success = normalize(record(json!({CLAIM_UPN: "a@x"}), "Success")).unwrap();
        assert!(!success.details.from_snapshot && success.details.root_disk.is_none());
        // User data set on a machine that exists (its body names the OS disk); not a blank
        // one, not a create from an image with its bootstrap script, not a scale set's, not a
        // body without it.
        let existing = |user_data: &str| {
            format!(
                r#"{{"properties":{{"userData":"{user_data}","storageProfile":{{"osDisk":{{"managedDisk":{{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/os-2"}}}}}}}}}}"#
            )
        };
        assert!(with(vm, &existing("IyEvYmluL3NoCg==")).user_data);
        assert!(!with(vm, &existing(" ")).user_data);
        // A PATCH names only what changes, and no location.
        assert!(with(vm, r#"{"properties":{"userData":"IyEvYmluL3NoCg=="}}"#).user_data);
        let create = r#"{"location":"westeurope","properties":{"userData":"IyEvYmluL3NoCg==","storageProfile":{"imageReference":{"offer":"ubuntu"}}}}"#;
        assert!(!with(vm, create).user_data);
        assert!(!with(vm, named).user_data);
        assert!(
            !with(
                "MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/WRITE",
                &existing("IyEvYmluL3NoCg==")
            )
            .user_data
        );
        assert!(!success.details.user_data);
        // Data disks named by id, the last ones a long list names; a create with them makes
        // its machine, a full update (its OS disk named) or a PATCH does not.
        let data = |n: usize, head: &str| {
            let disks: Vec<String> = (0..n)
                .map(|i| format!(r#"{{"lun":{i},"createOption":"Attach","managedDisk":{{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d{i}"}}}}"#))
                .chain([r#"{"lun":99,"createOption":"Empty","diskSizeGB":64}"#.to_string()])
                .collect();
            format!(
                r#"{{{head}"properties":{{"storageProfile":{{"dataDisks":[{}]}}}}}}"#,
                disks.join(",")
            )
        };
        let created = with(
            vm,
            &data(2, r#""location":"westeurope","#).replace(
                r#""storageProfile":{"#,
                r#""storageProfile":{"imageReference":{"offer":"ubuntu"},"#,
            ),
        );
        // A location alone is not a create: an update written by hand may carry one.
        assert!(!with(vm, &data(1, r#""location":"westeurope","#)).creates_machine);
        assert_eq!(
            created.data_disks,
            ["d0", "d1"]
                .map(|d| format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/{d}"))
        );
        assert!(created.creates_machine);
        let patch = with(vm, &data(1, ""));
        assert!(!patch.creates_machine && patch.data_disks.len() == 1);
        let many = with(vm, &data(MAX_DATA_DISKS + 3, ""));
        assert_eq!(many.data_disks.len(), MAX_DATA_DISKS);
        assert!(many.data_disks[0].ends_with("/d3"), "{:?}", many.data_disks);
        assert!(!with(vm, named).creates_machine && with(vm, named).data_disks.is_empty());
        assert!(with(vm, create).creates_machine && with(vm, create).data_disks.is_empty());
        assert!(
            with("MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/WRITE", &data(1, ""))
                .data_disks
                .is_empty()
        );
        let leaving = data(2, "").replacen(r#""lun":1,"#, r#""lun":1,"toBeDetached":true,"#, 1);
        assert_eq!(with(vm, &leaving).data_disks.len(), 1, "{leaving}");
    }

    /// A scale set's size is its sku's name, also in a scale-out's body (`az vmss scale` sends
    /// only the sku and its capacity); a disk's sku is its storage type, never a size.
    #[test]
    fn a_scale_sets_size_is_its_sku_and_a_disks_is_none() {
        let with = |operation: &str, body: &str| {
            let mut r = record(json!({CLAIM_UPN: "a@x"}), "Start");
            r["operationName"] = json!(operation);
            r["properties"] = json!({ "requestbody": body });
            normalize(r).unwrap().details.instance_type
        };
        let vmss = "MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/WRITE";
        let scale_out = r#"{"sku":{"name":"Standard_NC8as_T4_v3","capacity":24}}"#;
        assert_eq!(with(vmss, scale_out).as_deref(), Some("Standard_NC8as_T4_v3"));
        let full = r#"{"sku":{"name":"Standard_D4s_v5"},"properties":{"virtualMachineProfile":{}}}"#;
        assert_eq!(with(vmss, full).as_deref(), Some("Standard_D4s_v5"));
        let disk = r#"{"sku":{"name":"Premium_LRS"},"properties":{"diskSizeGB":256}}"#;
        assert_eq!(with("MICROSOFT.COMPUTE/DISKS/WRITE", disk), None);
        assert_eq!(with(vmss, r#"{"properties":{"upgradePolicy":{}}}"#), None);
        // An AKS node pool's and a Batch pool's size is their properties' vmSize.
        let pool = r#"{"properties":{"count":10,"vmSize":"Standard_NC24ads_A100_v4","mode":"User"}}"#;
        let aks = "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AGENTPOOLS/WRITE";
        assert_eq!(with(aks, pool).as_deref(), Some("Standard_NC24ads_A100_v4"));
        let batch = r#"{"properties":{"vmSize":"STANDARD_F72S_V2","scaleSettings":{}}}"#;
        assert_eq!(
            with("MICROSOFT.BATCH/BATCHACCOUNTS/POOLS/WRITE", batch).as_deref(),
            Some("STANDARD_F72S_V2")
        );
    }

    #[test]
    fn phases_of_one_operation_share_the_operation_key_not_the_event_id() {
        let a = normalize(record(json!({CLAIM_UPN: "a@x"}), "Start")).unwrap();
        let b = normalize(record(json!({CLAIM_UPN: "a@x"}), "Success")).unwrap();
        assert_eq!(a.operation_key, b.operation_key);
        assert_ne!(a.event_id, b.event_id);
    }

    #[test]
    fn service_principals_and_managed_identities() {
        let sp = normalize(record(
            json!({"idtyp":"app","appid":"APP-1",CLAIM_OID:"oid-1"}),
            "Success",
        ))
        .unwrap();
        assert_eq!(sp.principal.kind, PrincipalKind::ServicePrincipal);
        assert_eq!(sp.principal.key, "app:app-1");
        assert_eq!(sp.principal.name, "oid-1");
        let mi = normalize(record(json!({"idtyp":"app","appid":"APP-2","xms_mirid":"/subscriptions/s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x",CLAIM_OID:"oid-2"}), "Success")).unwrap();
        assert_eq!(mi.principal.kind, PrincipalKind::ManagedIdentity);
        assert_eq!(
            mi.principal.key,
            "mi:/subscriptions/s/providers/microsoft.managedidentity/userassignedidentities/x"
        );
        // AzureActivity's Caller column holds the object id for managed identities.
        assert_eq!(mi.principal.name, "oid-2");
        assert_eq!(mi.seed_caller(), "oid-2");
        let name_only = normalize(record(
            json!({CLAIM_NAME: " guest_ext#EXT#@contoso.onmicrosoft.com"}),
            "Success",
        ))
        .unwrap();
        assert_eq!(
            name_only.principal.key,
            "user:guest_ext#ext#@contoso.onmicrosoft.com"
        );
    }

    #[test]
    fn identity_as_a_json_string_is_read() {
        let mut r = record(Value::Null, "Succeeded");
        r["identity"] = json!(serde_json::to_string(&json!({"claims":{CLAIM_UPN:"b@x"}})).unwrap());
        let ev = normalize(r).unwrap();
        assert_eq!(ev.principal.key, "user:b@x");
        assert_eq!(ev.phase, Phase::Success);
    }

    #[test]
    fn log_analytics_rows() {
        let ev = normalize(json!({"TimeGenerated":"2026-11-07T10:00:00Z","OperationNameValue":"MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE",
            "ActivityStatusValue":"Succeeded","Caller":"alice@contoso.com","CallerIpAddress":"198.51.100.7","ResourceGroup":"RG1",
            "SubscriptionId":"SUB-1","ResourceId":"/subscriptions/sub-1/resourcegroups/rg1/providers/microsoft.compute/virtualmachines/vm1",
            "ResourceProviderValue":"MICROSOFT.COMPUTE","EventDataId":"ed-1","CorrelationId":"c-1"})).unwrap();
        assert_eq!(ev.principal.name, "alice@contoso.com");
        assert_eq!(ev.scope, "RG1");
        assert_eq!(ev.account, "sub-1");
        assert_eq!(ev.event_id, "ed-1");
        assert_eq!(ev.provider, "microsoft.compute");
        let missing = normalize(json!({"OperationNameValue":"X"})).unwrap_err();
        assert_eq!(missing, NormalizeError::Missing("TimeGenerated"));
    }
}

//! Azure: Activity Log export records (diagnostic settings to storage or Event Hub) of one
//! tenant's subscriptions. Each operation logs Start, for long-running ones Accept, then
//! Success or Failure, under one correlation id.

mod attacks;
mod ops;
mod people;

use super::common::*;
use super::Options;
use ops::AOp;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const SCENARIOS: [&str; 5] = [
    "disk_sas_export_by_user",
    "vm_capture_with_generalize",
    "managed_identity_mass_deallocate_delete",
    "snapshot_copy_to_other_subscription",
    "gpu_vms_by_pipeline",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    MiAuto24,
    MiAutoBiz,
    MiNightly,
    SpCi,
    Vmss,
    AzBackup,
    MiSnapshot,
    CostScheduler,
    GalleryShare,
    DrCopy,
    VendorBackup,
    MlTraining,
    ImageBuilder,
    Iac,
    AdminUser,
    Rare,
    AppSp,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::MiAuto24 => "mi-automation-24x7",
            Role::MiAutoBiz => "mi-automation-business-hours",
            Role::MiNightly => "mi-automation-nightly",
            Role::SpCi => "sp-ci-pipeline",
            Role::Vmss => "vmss-automation",
            Role::AzBackup => "azure-backup-service",
            Role::MiSnapshot => "mi-snapshot-backup",
            Role::CostScheduler => "cost-scheduler",
            Role::GalleryShare => "gallery-share",
            Role::DrCopy => "dr-snapshot-copy",
            Role::VendorBackup => "third-party-backup-sas",
            Role::MlTraining => "ml-training-gpu",
            Role::ImageBuilder => "image-builder",
            Role::Iac => "iac-terraform",
            Role::AdminUser => "admin-user",
            Role::Rare => "rare-user",
            Role::AppSp => "application-sp",
        }
    }
}

pub struct Sub {
    pub id: String,
    pub rgs: Vec<String>,
}

pub enum Who {
    User {
        upn: String,
        oid: String,
        given: String,
        surname: String,
    },
    Sp {
        appid: String,
        oid: String,
    },
    Mi {
        mirid: String,
        appid: String,
        oid: String,
    },
}

pub struct Person {
    pub offices: Vec<Net>,
    pub home: Net,
    pub hours: Hours,
    pub trip: Option<(u32, u32, Net, i64)>,
    pub oncall: Vec<u32>,
    pub day_p: f64,
    pub days: Vec<u32>,
    /// Client application: Azure CLI, the portal or Azure PowerShell.
    pub client: &'static str,
}

pub struct Actor {
    pub role: Role,
    pub who: Who,
    pub sub: usize,
    pub rg: String,
    pub hours: Hours,
    pub mean: f64,
    pub weekend: f64,
    /// Usual networks, and the chance a call comes from a network not seen before (pools).
    pub nets: Vec<Net>,
    pub fresh: f64,
    pub mix: Vec<(AOp, u32)>,
    pub person: Option<Person>,
    pub vms: Vec<String>,
    pub snapshots: Vec<String>,
    /// Deallocations and deletions per day.
    pub destructive: Vec<u32>,
    pub active: Vec<bool>,
    pub records: u64,
    pub weekly: (u32, i64),
    pub partner: (String, String),
}

impl Actor {
    pub fn key(&self) -> String {
        match &self.who {
            Who::User { upn, .. } => format!("user:{}", upn.to_ascii_lowercase()),
            Who::Sp { appid, .. } => format!("app:{}", appid.to_ascii_lowercase()),
            Who::Mi { mirid, .. } => format!("mi:{}", mirid.to_ascii_lowercase()),
        }
    }
    pub fn display(&self) -> String {
        match &self.who {
            Who::User { upn, .. } => upn.clone(),
            Who::Sp { oid, .. } => oid.clone(),
            Who::Mi { mirid, .. } => mirid.rsplit('/').next().unwrap_or(mirid).to_string(),
        }
    }
}

pub struct Gen {
    pub r: Rng,
    /// The second random stream: see [`Gen::aside`].
    pub extra: Rng,
    pub sink: Sink,
    pub nets: Nets,
    pub subs: Vec<Sub>,
    pub tenant: String,
    pub compute: u64,
    pub tz: i64,
    pub azure_pool: Vec<Net>,
}

impl Gen {
    /// Run `f` on the second random stream. What was added to the workload after its first
    /// measurements (request bodies of snapshot and disk writes, the disaster-recovery copier,
    /// the cross-subscription copy attack) draws from it, so a seed's population, habits and
    /// other attacks stay what they were, and measurements before and after compare.
    pub fn aside<T>(&mut self, f: impl FnOnce(&mut Gen) -> T) -> T {
        std::mem::swap(&mut self.r, &mut self.extra);
        let out = f(self);
        std::mem::swap(&mut self.r, &mut self.extra);
        out
    }
}

/// One call: when, from where, with which client application.
pub struct Ctx {
    pub t: i64,
    pub ip: String,
    pub client: &'static str,
}

pub fn generate(o: &Options, sink: Sink) -> anyhow::Result<Truth> {
    let mut g = Gen {
        r: Rng::new(o.seed, 0xA2E),
        extra: Rng::new(o.seed, 0xA2E2),
        sink,
        nets: Nets::new(),
        subs: Vec::new(),
        tenant: String::new(),
        compute: 0,
        tz: 0,
        azure_pool: Vec::new(),
    };
    g.tenant = g.r.uuid();
    for _ in 0..g.r.range(3, 8) {
        let id = g.r.uuid();
        let rgs = (0..g.r.range(4, 10))
            .map(|_| {
                format!(
                    "rg-{}-{}",
                    g.r.pick(&["prod", "stage", "dev", "shared", "data", "web", "batch"]),
                    g.r.hex(4)
                )
            })
            .collect();
        g.subs.push(Sub { id, rgs });
    }
    g.azure_pool = (0..400).map(|_| g.nets.fresh(&mut g.r, &AZURE_OCTETS)).collect();
    let mut actors = people::population(&mut g, o.principals, o.days);
    let plan = attacks::plan(&mut g, &actors, o);
    let mut truths = Vec::new();
    for day in 0..o.days {
        for a in actors.iter_mut() {
            let before = a.records;
            people::routine(&mut g, a, day);
            if a.records > before {
                a.active[day as usize] = true;
            }
        }
        for p in plan.iter().filter(|p| p.day == day) {
            truths.push(attacks::run(&mut g, &mut actors, p));
        }
        g.sink.flush_before(day_start(day))?;
    }
    let records = g.sink.finish()?;
    let principals = actors
        .iter()
        .map(|a| PrincipalTruth {
            key: a.key(),
            account: g.subs[a.sub].id.clone(),
            role: a.role.name(),
            name: a.display(),
            benign: true,
            active_days: a.active.iter().filter(|x| **x).count() as u32,
            records: a.records,
        })
        .collect();
    Ok(Truth {
        format: "t1578-workload-truth/1",
        params: Params::new(o, "azure"),
        events: EVENTS_FILE,
        records,
        compute_records: g.compute,
        key_forms: BTreeMap::from([
            ("user", "user:<upn claim, lower case>"),
            ("managed identity", "mi:<xms_mirid claim, lower case>"),
            ("service principal", "app:<appid claim, lower case>"),
            (
                "account",
                "the subscription id (lower case); principals are keyed within it",
            ),
        ]),
        scenarios: SCENARIOS.to_vec(),
        principals,
        attacks: truths,
    })
}

fn claims(g: &mut Gen, a: &Actor, c: &Ctx) -> (Value, Value) {
    let iat = (c.t / 1000 - g.r.range(60, 3000)).to_string();
    let exp = (c.t / 1000 + 3600).to_string();
    let iss = format!("https://sts.windows.net/{}/", g.tenant);
    let (mut cl, pid, ptype) = match &a.who {
        Who::User {
            upn,
            oid,
            given,
            surname,
        } => (
            json!({"http://schemas.microsoft.com/claims/authnclassreference": "1",
                "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa", "appid": c.client, "appidacr": "0",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": surname,
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": given, "idtyp": "user", "ipaddr": c.ip,
                "name": format!("{given} {surname}"), "http://schemas.microsoft.com/identity/claims/objectidentifier": oid,
                "puid": g.r.hex(16).to_uppercase(), "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation",
                "sid": g.r.uuid(), "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": upn,
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": upn}),
            oid.clone(),
            "User",
        ),
        Who::Sp { appid, oid } => (
            json!({"appid": appid, "appidacr": "1", "http://schemas.microsoft.com/identity/claims/identityprovider": iss, "idtyp": "app",
                "http://schemas.microsoft.com/identity/claims/objectidentifier": oid,
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": oid}),
            oid.clone(),
            "ServicePrincipal",
        ),
        Who::Mi { mirid, appid, oid } => (
            json!({"appid": appid, "appidacr": "2", "http://schemas.microsoft.com/identity/claims/identityprovider": iss, "idtyp": "app",
                "http://schemas.microsoft.com/identity/claims/objectidentifier": oid,
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": oid, "xms_mirid": mirid, "xms_az_rid": mirid}),
            oid.clone(),
            "ServicePrincipal",
        ),
    };
    let o = cl.as_object_mut().expect("object");
    for (k, v) in [
        ("aud", json!("https://management.core.windows.net/")),
        ("iss", json!(iss)),
        ("iat", json!(iat)),
        ("nbf", json!(iat)),
        ("exp", json!(exp)),
        ("aio", json!(g.r.hex(56))),
        (
            "http://schemas.microsoft.com/identity/claims/tenantid",
            json!(g.tenant),
        ),
        ("uti", json!(g.r.hex(22))),
        ("ver", json!("1.0")),
        ("xms_tcdt", json!("1526368012")),
    ] {
        o.insert(k.into(), v);
    }
    let role = match a.role {
        Role::AdminUser | Role::Iac => "Owner",
        Role::Rare | Role::SpCi => "Contributor",
        _ => "Virtual Machine Contributor",
    };
    let evidence = json!({"role": role, "roleAssignmentScope": format!("/subscriptions/{}", g.subs[a.sub].id),
        "roleAssignmentId": g.r.hex(32), "roleDefinitionId": "9980e02cc2be4d7394e8173b1dc7cf3c",
        "principalId": pid.replace('-', ""), "principalType": ptype});
    (cl, evidence)
}

/// The phases of one operation on `resource` (canonical casing) by `a`.
pub fn operation(
    g: &mut Gen,
    a: &mut Actor,
    c: &Ctx,
    op: AOp,
    resource: &str,
    body: Option<String>,
    fail: bool,
) {
    let (name, is_async, compute) = op.spec();
    let corr = g.r.uuid();
    let (cl, evidence) = claims(g, a, c);
    let hierarchy = format!("{}/{}", g.tenant, g.subs[a.sub].id);
    let mut phases: Vec<(&str, &str, &str, i64)> = vec![("Start", "Started.", "", 0)];
    if is_async {
        phases.push(("Accept", "Accepted.", "Accepted", g.r.range(300, 1_500)));
    }
    let done = if is_async {
        g.r.range(15_000, 240_000)
    } else {
        g.r.range(200, 2_500)
    };
    if fail {
        phases.push(("Failure", "Failed.Conflict", "Conflict", done));
    } else {
        let created = name.ends_with("/write") && g.r.chance(0.3);
        phases.push((
            "Success",
            if created {
                "Succeeded.Created"
            } else {
                "Succeeded.OK"
            },
            if created { "Created" } else { "OK" },
            done,
        ));
    }
    for (status, signature, code, dt) in phases {
        let mut props = json!({"eventCategory": "Administrative", "entity": resource, "message": name, "hierarchy": hierarchy});
        if status == "Start" {
            if let Some(b) = &body {
                props["requestbody"] = json!(b);
            }
        } else {
            props["statusCode"] = json!(code);
            props["serviceRequestId"] = json!(g.r.uuid());
        }
        if status == "Failure" {
            props["statusMessage"] = json!("{\"error\":{\"code\":\"OperationNotAllowed\",\"message\":\"The operation is not allowed in the current state of the resource.\"}}");
        }
        let t = c.t + dt;
        let rec = json!({
            "RoleLocation": "West Europe", "Stamp": "AMS", "ReleaseVersion": "6.2026.39.2+8c1f2a7.release_2026w39",
            "time": az_time(t), "resourceId": resource.to_ascii_uppercase(), "operationName": name.to_ascii_uppercase(),
            "category": "Administrative", "resultType": status, "resultSignature": signature, "durationMs": if status == "Start" { "0".to_string() } else { dt.to_string() },
            "callerIpAddress": c.ip, "correlationId": corr,
            "identity": {"authorization": {"scope": resource, "action": name, "evidence": evidence}, "claims": cl},
            "level": if status == "Failure" { "Error" } else { "Informational" }, "properties": props, "tenantId": g.tenant
        });
        if compute {
            g.compute += 1;
        }
        a.records += 1;
        g.sink.push(t, serde_json::to_string(&rec).expect("serializable"));
    }
    if name.ends_with("/write") && !fail && g.r.chance(0.7) {
        let t = c.t + done + g.r.range(200, 2_000);
        let rec = policy_audit(g, a, resource, (&corr, &c.ip), &cl, t);
        a.records += 1;
        g.sink.push(t, rec);
    }
}

/// Azure Policy's audit record for a write (category Policy, same correlation id): most
/// subscriptions assign the Defender for Cloud initiative, so most writes have one.
fn policy_audit(
    g: &mut Gen,
    a: &Actor,
    resource: &str,
    (corr, ip): (&str, &str),
    claims: &Value,
    t: i64,
) -> String {
    let sub = &g.subs[a.sub].id;
    let definition = g.r.uuid();
    let policies = format!(
        "[{{\"policyDefinitionId\":\"/providers/Microsoft.Authorization/policyDefinitions/{definition}/\",\"policySetDefinitionId\":\"/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8/\",\"policySetDefinitionName\":\"1f3afdf9-d0c9-4c3d-847f-89da613e70a8\",\"policyDefinitionName\":\"{definition}\",\"policyDefinitionEffect\":\"Audit\",\"policyAssignmentId\":\"/subscriptions/{sub}/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn/\",\"policyAssignmentName\":\"SecurityCenterBuiltIn\",\"policyAssignmentScope\":\"/subscriptions/{sub}\",\"policyAssignmentParameters\":{{}}}}]"
    );
    let rec = json!({
        "RoleLocation": "West Europe", "Stamp": "AMS", "ReleaseVersion": "6.2026.39.2+8c1f2a7.release_2026w39",
        "time": az_time(t), "resourceId": resource.to_ascii_uppercase(),
        "operationName": "MICROSOFT.AUTHORIZATION/POLICIES/AUDIT/ACTION", "category": "Policy",
        "resultType": "Success", "resultSignature": "Succeeded", "durationMs": "0", "callerIpAddress": ip,
        "correlationId": corr, "identity": {"claims": claims}, "level": "Warning",
        "properties": {"isComplianceCheck": "False", "resourceLocation": "westeurope", "ancestors": g.tenant,
            "policies": policies, "hierarchy": format!("{}/{sub}", g.tenant)},
        "tenantId": g.tenant
    });
    serde_json::to_string(&rec).expect("serializable")
}

/// The export's 7-digit fractional seconds.
pub fn az_time(t: i64) -> String {
    let s = t1578_core::alert::rfc3339(t);
    format!("{}0000Z", s.trim_end_matches('Z'))
}

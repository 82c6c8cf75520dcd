//! AWS: the CloudTrail records of one organisation's accounts.

mod attacks;
mod calls;
mod people;
mod routines;

use super::common::*;
use super::Options;
use calls::{Call, Op};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const SCENARIOS: [&str; 6] = [
    "automation_destructive_burst",
    "deletes_from_rotating_ips",
    "new_principal_mass_launch",
    "user_data_swap",
    "image_capture_by_snapshot_role",
    "exfil_share_by_quiet_human",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    Auto24,
    AutoBiz,
    AutoNight,
    Ci,
    Packer,
    BackupScript,
    AwsBackup,
    PartnerShare,
    Partner,
    Iac,
    Scheduler,
    AdminUser,
    AdminSso,
    Rare,
    ReadOnly,
    App,
    NewPrincipal,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Auto24 => "automation-24x7",
            Role::AutoBiz => "automation-business-hours",
            Role::AutoNight => "automation-nightly",
            Role::Ci => "ci",
            Role::Packer => "ci-image-build",
            Role::BackupScript => "backup-script",
            Role::AwsBackup => "aws-backup-service-role",
            Role::PartnerShare => "partner-share",
            Role::Partner => "partner-account",
            Role::Iac => "iac-terraform",
            Role::Scheduler => "cost-scheduler",
            Role::AdminUser => "admin-iam-user",
            Role::AdminSso => "admin-sso-role",
            Role::Rare => "rare-user",
            Role::ReadOnly => "read-only-scanner",
            Role::App => "application-role",
            Role::NewPrincipal => "new-principal",
        }
    }
}

pub struct Acct {
    pub id: String,
    pub regions: Vec<&'static str>,
    pub dr: &'static str,
    pub vpce: String,
}

const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "eu-west-2",
    "ap-southeast-2",
    "ap-northeast-1",
];

/// How a role's sessions are named: the session name rotates, the issuing role does not.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Lambda,
    Ecs,
    Karpenter,
    GitHub,
    Botocore,
    Sso,
    Terraform,
    Backup,
}

pub enum Who {
    Role {
        name: String,
        path: &'static str,
        id: String,
        style: Style,
    },
    User {
        name: String,
        id: String,
        key: String,
    },
    Account {
        id: String,
    },
}

/// Where a principal's calls come from.
pub enum Addr {
    /// NAT gateway addresses.
    Fixed(Vec<String>),
    /// A pool of /24s (Lambda's AWS addresses, hosted CI runners); now and then a new one.
    Pool { nets: Vec<Net>, fresh: f64 },
    /// Private addresses behind a VPC endpoint.
    Vpce(Vec<Net>),
    /// An AWS service calling on the principal's behalf.
    Service(&'static str),
}

#[derive(Default)]
pub struct Pools {
    pub instances: Vec<String>,
    pub snapshots: Vec<String>,
    pub images: Vec<String>,
    pub volumes: Vec<String>,
}

pub struct Actor {
    pub role: Role,
    pub who: Who,
    pub acct: usize,
    pub region: &'static str,
    pub hours: Hours,
    pub mean: f64,
    pub weekend: f64,
    pub addr: Addr,
    pub ua: &'static str,
    pub mix: Vec<(Op, u32)>,
    pub people: Vec<people::Person>,
    pub pools: Pools,
    /// Destructive calls (terminate, delete, deregister) per day.
    pub deletes: Vec<u32>,
    pub active: Vec<bool>,
    pub records: u64,
    /// The partner actor and its account id.
    pub partner: Option<(usize, String)>,
    /// (weekday, local hour) of a weekly job.
    pub weekly: (u32, i64),
}

impl Actor {
    pub fn key(&self, accts: &[Acct]) -> String {
        let acct = &accts[self.acct].id;
        match &self.who {
            Who::Role { name, path, .. } => format!("arn:aws:iam::{acct}:role{path}{name}"),
            Who::User { name, .. } => format!("arn:aws:iam::{acct}:user/{name}"),
            Who::Account { id } => format!("arn:aws:iam::{id}:root"),
        }
    }
    pub fn display(&self) -> String {
        match &self.who {
            Who::Role { name, .. } | Who::User { name, .. } => name.clone(),
            Who::Account { id } => format!("account {id}"),
        }
    }
}

/// What one call is made with: when, from where, by which session and client.
pub struct Ctx {
    pub t: i64,
    pub ip: String,
    pub ua: String,
    pub region: &'static str,
    pub session: String,
    pub console: bool,
}

pub struct Gen {
    pub r: Rng,
    pub sink: Sink,
    pub nets: Nets,
    pub accts: Vec<Acct>,
    pub compute: u64,
    pub hosted_ci: Vec<Net>,
    /// The organisation's main time zone.
    pub tz: i64,
    pub days: u32,
    /// Snapshots shared to a partner: (sharing actor, partner actor, snapshot, region, time).
    pub shares: Vec<(usize, usize, String, &'static str, i64)>,
}

pub fn generate(o: &Options, sink: Sink) -> anyhow::Result<Truth> {
    let mut g = Gen {
        r: Rng::new(o.seed, 0xA75),
        sink,
        nets: Nets::new(),
        accts: Vec::new(),
        compute: 0,
        hosted_ci: Vec::new(),
        tz: 0,
        days: o.days,
        shares: Vec::new(),
    };
    accounts(&mut g);
    g.hosted_ci = (0..300).map(|_| g.nets.fresh(&mut g.r, &AZURE_OCTETS)).collect();
    let mut actors = people::population(&mut g, o.principals, o.days);
    let plan = attacks::plan(&mut g, &actors, o);
    let mut truths = Vec::new();
    for day in 0..o.days {
        for i in 0..actors.len() {
            routine(&mut g, &mut actors, i, day);
        }
        partner_copies(&mut g, &mut actors, day);
        for p in plan.iter().filter(|p| p.day == day) {
            truths.push(attacks::run(&mut g, &mut actors, p));
        }
        g.sink.flush_before(day_start(day))?;
    }
    let records = g.sink.finish()?;
    let principals = actors
        .iter()
        .map(|a| PrincipalTruth {
            key: a.key(&g.accts),
            account: g.accts[a.acct].id.clone(),
            role: a.role.name(),
            name: a.display(),
            benign: a.role != Role::NewPrincipal,
            active_days: a.active.iter().filter(|x| **x).count() as u32,
            records: a.records,
        })
        .collect();
    Ok(Truth {
        format: "t1578-workload-truth/1",
        params: Params::new(o, "aws"),
        events: EVENTS_FILE,
        records,
        compute_records: g.compute,
        key_forms: BTreeMap::from([
            ("assumed role", "issuing role ARN (sessionContext.sessionIssuer.arn): arn:aws:iam::<account>:role/<path><name>"),
            ("IAM user", "user ARN: arn:aws:iam::<account>:user/<name>"),
            ("another account (service events)", "arn:aws:iam::<other account>:root"),
        ]),
        scenarios: SCENARIOS.to_vec(),
        principals,
        attacks: truths,
    })
}

fn accounts(g: &mut Gen) {
    let n = g.r.range(5, 11) as usize;
    for _ in 0..n {
        let home = *g.r.pick(&REGIONS[..5]);
        let mut regions = vec![home];
        if g.r.chance(0.5) {
            let other = *g.r.pick(&REGIONS);
            if other != home {
                regions.push(other);
            }
        }
        let dr = loop {
            let d = *g.r.pick(&REGIONS);
            if d != home {
                break d;
            }
        };
        let id = format!("{:012}", 100_000_000_000 + g.r.below(899_999_999_999));
        let vpce = format!("vpce-{}", g.r.hex(17));
        g.accts.push(Acct {
            id,
            regions,
            dr,
            vpce,
        });
    }
}

/// One actor's ordinary day.
fn routine(g: &mut Gen, actors: &mut [Actor], i: usize, day: u32) {
    let a = &mut actors[i];
    let before = a.records;
    match a.role {
        Role::Auto24 | Role::AutoBiz | Role::AutoNight | Role::App | Role::ReadOnly => {
            people::generic_day(g, a, day)
        }
        Role::Ci => people::ci_day(g, a, day),
        Role::Packer => people::packer_day(g, a, day),
        Role::BackupScript | Role::AwsBackup => people::backup_day(g, a, day),
        Role::PartnerShare => people::share_day(g, a, i, day),
        Role::Iac => people::iac_day(g, a, day),
        Role::Scheduler => people::scheduler_day(g, a, day),
        Role::AdminUser | Role::AdminSso | Role::Rare => people::human_day(g, a, day),
        Role::Partner | Role::NewPrincipal => {}
    }
    if a.records > before {
        a.active[day as usize] = true;
    }
}

/// The partner copies what was shared with it a few hours later: a service event in the
/// sharing account's trail.
fn partner_copies(g: &mut Gen, actors: &mut [Actor], day: u32) {
    let shares = std::mem::take(&mut g.shares);
    for (sharer, partner, snap, region, t) in shares {
        let copy_t = t + g.r.range(HOUR_MS, 6 * HOUR_MS);
        let acct = actors[sharer].acct;
        let p = &mut actors[partner];
        p.acct = acct;
        let c = Ctx {
            t: copy_t,
            ip: "ec2.amazonaws.com".into(),
            ua: "ec2.amazonaws.com".into(),
            region,
            session: String::new(),
            console: false,
        };
        emit(g, p, &c, calls::shared_copy(&snap));
        p.active[day as usize] = true;
    }
}

/// The userIdentity block of `a` for session `session`.
fn identity(g: &mut Gen, a: &Actor, c: &Ctx) -> Value {
    let acct = g.accts[a.acct].id.clone();
    match &a.who {
        Who::Role {
            name,
            path,
            id,
            style,
        } => {
            let mut ui = json!({
                "type": "AssumedRole",
                "principalId": format!("{id}:{}", c.session),
                "arn": format!("arn:aws:sts::{acct}:assumed-role/{name}/{}", c.session),
                "accountId": acct,
                "accessKeyId": format!("ASIA{}", g.r.ident(16)),
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": id, "arn": format!("arn:aws:iam::{acct}:role{path}{name}"),
                        "accountId": acct, "userName": name},
                    "webIdFederationData": {},
                    "attributes": {"creationDate": ct_time(c.t - 15 * MIN_MS), "mfaAuthenticated": "false"}
                }
            });
            if *style == Style::GitHub {
                ui["sessionContext"]["webIdFederationData"] = json!({
                    "federatedProvider": format!("arn:aws:iam::{acct}:oidc-provider/token.actions.githubusercontent.com"),
                    "attributes": {}});
            }
            if *style == Style::Backup {
                ui["invokedBy"] = json!("backup.amazonaws.com");
            }
            ui
        }
        Who::User { name, id, key } => {
            let mut ui = json!({"type": "IAMUser", "principalId": id, "arn": format!("arn:aws:iam::{acct}:user/{name}"),
                "accountId": acct, "accessKeyId": key, "userName": name});
            if c.console {
                ui["accessKeyId"] = json!(format!("ASIA{}", g.r.ident(16)));
                ui["sessionContext"] = json!({"sessionIssuer": {}, "webIdFederationData": {},
                    "attributes": {"creationDate": ct_time(c.t - 40 * MIN_MS), "mfaAuthenticated": "true"}});
            }
            ui
        }
        Who::Account { id } => {
            json!({"type": "AWSAccount", "accountId": id, "invokedBy": "ec2.amazonaws.com"})
        }
    }
}

/// Write one CloudTrail record of `call` by `a`.
pub fn emit(g: &mut Gen, a: &mut Actor, c: &Ctx, call: Call) {
    let acct = g.accts[a.acct].id.clone();
    let ui = identity(g, a, c);
    let request_id = g.r.uuid();
    let mut resp = call.resp;
    if let Some(o) = resp.as_object_mut() {
        o.insert("requestId".into(), json!(request_id));
    }
    let service = call.service_event;
    let mut rec = json!({
        "eventVersion": if service { "1.08" } else { "1.10" },
        "userIdentity": ui,
        "eventTime": ct_time(c.t),
        "eventSource": call.source,
        "eventName": call.name,
        "awsRegion": c.region,
        "sourceIPAddress": c.ip,
        "userAgent": c.ua,
        "requestParameters": call.req,
        "responseElements": if call.err.is_some() { Value::Null } else { resp },
        "requestID": request_id,
        "eventID": g.r.uuid(),
        "readOnly": call.read_only,
        "eventType": if service { "AwsServiceEvent" } else { "AwsApiCall" },
        "managementEvent": true,
        "recipientAccountId": acct,
        "eventCategory": "Management",
    });
    let o = rec.as_object_mut().expect("object");
    if let Some((code, msg)) = call.err {
        o.insert("errorCode".into(), json!(code));
        o.insert("errorMessage".into(), json!(msg));
    }
    if service {
        o.remove("requestID");
        o.insert("serviceEventDetails".into(), call.details);
    } else {
        let host = format!(
            "{}.{}.amazonaws.com",
            call.source.split('.').next().unwrap_or("ec2"),
            c.region
        );
        o.insert("tlsDetails".into(), json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}));
        if c.ip.starts_with("10.") {
            o.insert("vpcEndpointId".into(), json!(g.accts[a.acct].vpce));
        }
        if c.console {
            o.insert("sessionCredentialFromConsole".into(), json!("true"));
        }
    }
    if call.compute {
        g.compute += 1;
    }
    a.records += 1;
    let line = serde_json::to_string(&rec).expect("serializable");
    g.sink.push(c.t - c.t.rem_euclid(1000), line);
}

/// CloudTrail's `eventTime`: whole seconds.
pub fn ct_time(t: i64) -> String {
    t1578_core::alert::rfc3339(t - t.rem_euclid(1000)).replace(".000Z", "Z")
}

//! Who works in the accounts, and what an ordinary day of each looks like.

use super::calls::{self, Noise, Op};
use super::{Actor, Addr, Ctx, Gen, Pools, Role, Style, Who};
use crate::workload::common::*;

/// A human behind an IAM user or an SSO role.
pub struct Person {
    pub name: String,
    pub offices: Vec<Net>,
    pub home: Net,
    pub hours: Hours,
    /// (first day, last day, hotel network, hours shifted by).
    pub trip: Option<(u32, u32, Net, i64)>,
    pub oncall: Vec<u32>,
    pub day_p: f64,
    pub mean: f64,
    pub console: bool,
    /// Rare users: the only days they work.
    pub days: Vec<u32>,
}

const FIRST: [&str; 24] = [
    "alice", "bob", "carol", "dana", "erik", "fatima", "george", "hana", "ivan", "julia", "kenji", "lena",
    "marco", "nina", "omar", "priya", "quentin", "rosa", "sam", "tariq", "uma", "victor", "wei", "yusuf",
];
const LAST: [&str; 16] = [
    "smith", "garcia", "muller", "rossi", "kowalski", "tanaka", "okafor", "silva", "nguyen", "haddad",
    "jensen", "dubois", "novak", "ahmed", "larsen", "moreau",
];

/// The organisation's offices: HQ time zone and networks, a second office, a VPN egress.
struct Company {
    tz: i64,
    hq: Vec<Net>,
    second_tz: i64,
    second: Net,
    vpn: Net,
    domain: &'static str,
}

pub fn population(g: &mut Gen, n: u32, days: u32) -> Vec<Actor> {
    let co = Company {
        tz: *g.r.pick(&[-8, -5, 0, 1]),
        hq: (0..g.r.range(2, 4)).map(|_| g.nets.isp(&mut g.r)).collect(),
        second_tz: *g.r.pick(&[-5, 1, 5, 8]),
        second: g.nets.isp(&mut g.r),
        vpn: g.nets.isp(&mut g.r),
        domain: ["example.com", "corp.example", "example.org"][g.r.below(3) as usize],
    };
    g.tz = co.tz;
    let shares = (n / 200).max(1);
    let roles: [(Role, f64, u32); 15] = [
        (Role::Auto24, 4.0, 3),
        (Role::AutoBiz, 4.0, 3),
        (Role::AutoNight, 3.0, 1),
        (Role::Ci, 7.0, 3),
        (Role::Packer, 1.5, 1),
        (Role::BackupScript, 5.0, 4),
        (Role::AwsBackup, 2.0, 1),
        (Role::Iac, 3.0, 1),
        (Role::Scheduler, 3.0, 1),
        (Role::AdminUser, 13.0, 8),
        (Role::AdminSso, 5.0, 2),
        (Role::Rare, 14.0, 4),
        (Role::ReadOnly, 4.0, 1),
        (Role::App, 11.0, 2),
        (Role::PartnerShare, 0.0, shares),
    ];
    let weights: Vec<(f64, u32)> = roles.iter().map(|(_, w, m)| (*w, *m)).collect();
    let counts = allocate(&mut g.r, n - shares, &weights);
    let mut actors = Vec::new();
    let mut backup_accounts = std::collections::HashSet::new();
    for ((role, _, _), count) in roles.iter().zip(counts) {
        for _ in 0..count {
            let mut a = build(g, &co, *role, days);
            if *role == Role::AwsBackup && !backup_accounts.insert(a.acct) {
                // One AWS Backup service role per account: the rest become backup scripts.
                a = build(g, &co, Role::BackupScript, days);
            }
            actors.push(a);
        }
    }
    for i in 0..actors.len() {
        if actors[i].role == Role::PartnerShare {
            let id = format!("{:012}", 200_000_000_000 + g.r.below(799_999_999_999));
            let mut p = base(g, Role::Partner, Who::Account { id }, days);
            p.acct = actors[i].acct;
            p.addr = Addr::Service("ec2.amazonaws.com");
            actors[i].partner = Some((actors.len(), id_of(&p)));
            actors.push(p);
        }
    }
    actors
}

fn id_of(a: &Actor) -> String {
    match &a.who {
        Who::Account { id } => id.clone(),
        _ => String::new(),
    }
}

pub fn base(g: &mut Gen, role: Role, who: Who, days: u32) -> Actor {
    let acct = g.r.below(g.accts.len() as u64) as usize;
    let region = g.accts[acct].regions[0];
    Actor {
        role,
        who,
        acct,
        region,
        hours: Hours::ALWAYS,
        mean: 0.0,
        weekend: 1.0,
        addr: Addr::Fixed(Vec::new()),
        ua: "",
        mix: Vec::new(),
        people: Vec::new(),
        pools: Pools::default(),
        deletes: vec![0; days as usize],
        active: vec![false; days as usize],
        records: 0,
        partner: None,
        weekly: (g.r.range(0, 5) as u32, g.r.range(9, 17)),
    }
}

fn role_who(g: &mut Gen, stem: &str, path: &'static str, style: Style) -> Who {
    Who::Role {
        name: format!("{stem}-{}", g.r.hex(6)),
        path,
        id: format!("AROA{}", g.r.ident(17)),
        style,
    }
}

const UA_BOTO_LAMBDA: &str = "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.227-239.884.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.145";
const UA_KARPENTER: &str = "aws-sdk-go-v2/1.32.4 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.187.0 m/E,e karpenter.sh-v1.0.6";
const UA_JAVA: &str = "aws-sdk-java/2.28.16 md/io#sync md/http#Apache ua/2.1 os/Linux#5.10.226-214.880.amzn2.x86_64 lang/java#17.0.12 md/OpenJDK_64-Bit_Server_VM#17.0.12+7-LTS md/vendor#Amazon.com_Inc. md/en_US exec-env/AWS_ECS_FARGATE m/F,D";
pub const UA_CLI_CI: &str = "aws-cli/2.18.5 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-1017-azure md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython exec-env/GitHubActions cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#ec2.{cmd}";
pub const UA_CLI_HUMAN: &str = "aws-cli/2.17.42 md/awscrt#0.20.11 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off md/command#ec2.{cmd}";
const UA_TERRAFORM: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.72.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.186.0";
const UA_PACKER: &str =
    "aws-sdk-go/1.55.5 (go1.22.5; linux; amd64) APN/1.0 HashiCorp/1.0 Packer/1.11.2 (+https://www.packer.io)";
const UA_SCHEDULER: &str = "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.227-239.884.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython exec-env/AWS_Lambda_python3.11 cfg/retry-mode#standard Botocore/1.34.145 AwsSolution/SO0030/v3.0.6";
pub const UA_CONSOLE: &str = "console.ec2.amazonaws.com";

/// Addresses of workloads running in AWS: a NAT gateway, a VPC endpoint, or Lambda's pool.
fn aws_addr(g: &mut Gen) -> Addr {
    match g.r.below(10) {
        0..=3 => Addr::Fixed(
            (0..g.r.range(1, 3))
                .map(|_| {
                    let n = g.nets.fresh(&mut g.r, &AWS_OCTETS);
                    host(&mut g.r, &n)
                })
                .collect(),
        ),
        4..=6 => Addr::Vpce(
            (0..g.r.range(2, 5))
                .map(|_| [10, g.r.range(0, 256) as u8, g.r.range(0, 256) as u8])
                .collect(),
        ),
        _ => Addr::Pool {
            nets: (0..g.r.range(4, 10))
                .map(|_| g.nets.fresh(&mut g.r, &AWS_OCTETS))
                .collect(),
            fresh: 0.002,
        },
    }
}

fn build(g: &mut Gen, co: &Company, role: Role, days: u32) -> Actor {
    let (who, style_ua) = match role {
        Role::Auto24 | Role::AutoBiz | Role::AutoNight => {
            let (stem, style, ua) = *g.r.pick(&[
                ("karpenter-controller", Style::Karpenter, UA_KARPENTER),
                ("ephemeral-env-manager", Style::Lambda, UA_BOTO_LAMBDA),
                ("batch-orchestrator", Style::Ecs, UA_JAVA),
                ("spot-rebalancer", Style::Lambda, UA_BOTO_LAMBDA),
                ("render-farm-scheduler", Style::Ecs, UA_JAVA),
                ("snapshot-lifecycle", Style::Lambda, UA_BOTO_LAMBDA),
                ("asg-lifecycle-hook", Style::Lambda, UA_BOTO_LAMBDA),
            ]);
            (role_who(g, stem, "/", style), ua)
        }
        Role::Ci => {
            let stem = *g.r.pick(&[
                "github-actions-deploy",
                "gha-integration-tests",
                "gitlab-runner",
                "ci-e2e",
            ]);
            (role_who(g, stem, "/ci/", Style::GitHub), UA_CLI_CI)
        }
        Role::Packer => (
            role_who(g, "packer-ami-builder", "/ci/", Style::GitHub),
            UA_PACKER,
        ),
        Role::BackupScript => {
            let stem = *g.r.pick(&[
                "ebs-snapshot-lambda",
                "nightly-backup",
                "db-backup-runner",
                "dr-snapshot-copier",
            ]);
            (role_who(g, stem, "/", Style::Lambda), UA_BOTO_LAMBDA)
        }
        Role::AwsBackup => (
            Who::Role {
                name: "AWSBackupDefaultServiceRole".into(),
                path: "/service-role/",
                id: format!("AROA{}", g.r.ident(17)),
                style: Style::Backup,
            },
            "backup.amazonaws.com",
        ),
        Role::PartnerShare => (
            role_who(g, "partner-dr-share", "/", Style::Lambda),
            UA_BOTO_LAMBDA,
        ),
        Role::Iac => (
            role_who(g, "terraform-apply", "/", Style::Terraform),
            UA_TERRAFORM,
        ),
        Role::Scheduler => (
            role_who(g, "InstanceScheduler-SchedulerRole", "/", Style::Lambda),
            UA_SCHEDULER,
        ),
        Role::ReadOnly => {
            let stem = *g.r.pick(&[
                "security-audit-scanner",
                "cspm-readonly",
                "datadog-integration",
                "inventory-collector",
            ]);
            (role_who(g, stem, "/", Style::Botocore), UA_BOTO_LAMBDA)
        }
        Role::App => {
            let stem = *g.r.pick(&[
                "orders-api-task",
                "payments-worker-task",
                "search-indexer-task",
                "etl-job",
                "web-frontend-task",
            ]);
            (role_who(g, stem, "/", Style::Ecs), UA_JAVA)
        }
        Role::AdminSso => (
            Who::Role {
                name: format!("AWSReservedSSO_AdministratorAccess_{}", g.r.hex(16)),
                path: "/aws-reserved/sso.amazonaws.com/",
                id: format!("AROA{}", g.r.ident(17)),
                style: Style::Sso,
            },
            UA_CONSOLE,
        ),
        Role::AdminUser | Role::Rare | Role::Partner | Role::NewPrincipal => {
            let name = format!("{}.{}{}", g.r.pick(&FIRST), g.r.pick(&LAST), g.r.range(1, 99));
            (
                Who::User {
                    name,
                    id: format!("AIDA{}", g.r.ident(17)),
                    key: format!("AKIA{}", g.r.ident(16)),
                },
                UA_CLI_HUMAN,
            )
        }
    };
    let mut a = base(g, role, who, days);
    a.ua = style_ua;
    habits(g, co, &mut a, days);
    a
}

/// Hours, volumes, addresses and repertoire of an actor of its role.
fn habits(g: &mut Gen, co: &Company, a: &mut Actor, days: u32) {
    use Op::*;
    let r = &mut g.r;
    match a.role {
        Role::Auto24 | Role::AutoBiz | Role::AutoNight => {
            a.hours = match a.role {
                Role::Auto24 => Hours::ALWAYS,
                Role::AutoBiz => Hours {
                    tz: co.tz,
                    from: r.range(6, 9),
                    to: r.range(17, 21),
                },
                _ => {
                    let from = r.range(0, 4);
                    Hours {
                        tz: co.tz,
                        from,
                        to: from + r.range(1, 4),
                    }
                }
            };
            a.mean = r.range(20, 110) as f64;
            a.weekend = if a.role == Role::AutoBiz {
                0.1
            } else {
                0.6 + 0.4 * r.f()
            };
            a.mix = automation_mix(r);
        }
        Role::Ci => {
            a.hours = Hours {
                tz: co.tz,
                from: 8,
                to: 19,
            };
            a.mean = r.range(2, 14) as f64;
            a.weekend = 0.05;
        }
        Role::Packer => {
            a.hours = Hours {
                tz: co.tz,
                from: 9,
                to: 18,
            };
            a.mean = 0.5 + 2.0 * r.f();
            a.weekend = 0.0;
        }
        Role::BackupScript | Role::AwsBackup => {
            let from = if a.role == Role::AwsBackup {
                5
            } else {
                r.range(0, 5)
            };
            a.hours = Hours {
                tz: if a.role == Role::AwsBackup { 0 } else { co.tz },
                from,
                to: from + 1,
            };
            a.mean = r.range(6, 40) as f64;
            a.mix = if a.role == Role::AwsBackup {
                vec![(Snap, 6), (Image, 2), (CopySnapDr, 2)]
            } else if r.chance(0.3) {
                vec![(Snap, 6), (DbSnap, 2)]
            } else if r.chance(0.5) {
                vec![(Snap, 6), (CopySnapDr, 3)]
            } else {
                vec![(Snap, 6)]
            };
        }
        Role::PartnerShare => {
            a.hours = Hours {
                tz: co.tz,
                from: 9,
                to: 17,
            };
            a.mean = 1.0 + r.below(3) as f64;
        }
        Role::Iac => {
            a.hours = Hours {
                tz: co.tz,
                from: 9,
                to: 18,
            };
            a.mean = r.range(5, 30) as f64;
            a.weekend = 0.25 + 0.3 * r.f();
            a.mix = vec![
                (Run, 4),
                (Terminate, 3),
                (LtVersion, 3),
                (GroupSet, 2),
                (NewVol, 2),
                (Attach, 2),
                (DelVol, 1),
                (InstType, 1),
                (Stop, 1),
                (Start, 1),
                (UserData, 1),
            ];
        }
        Role::Scheduler => {
            a.hours = Hours {
                tz: co.tz,
                from: 7,
                to: 19,
            };
            let fleet = r.range(4, 40);
            a.pools.instances = (0..fleet).map(|_| calls::id(r, "i")).collect();
        }
        Role::ReadOnly => a.mean = r.range(20, 100) as f64,
        Role::App => a.mean = r.range(10, 70) as f64,
        Role::AdminUser | Role::AdminSso | Role::Rare => {
            let members = if a.role == Role::AdminSso {
                g.r.range(2, 7)
            } else {
                1
            };
            a.people = (0..members).map(|_| person(g, co, a.role, days)).collect();
            if let (Who::User { name, .. }, Some(p)) = (&a.who, a.people.first_mut()) {
                p.name = name.clone();
            }
            a.mix = human_mix(&mut g.r, a.role);
        }
        Role::Partner | Role::NewPrincipal => {}
    }
    a.addr = match a.role {
        Role::Ci if g.r.chance(0.3) => Addr::Pool {
            nets: Vec::new(),
            fresh: 0.0,
        },
        Role::AwsBackup => Addr::Service("backup.amazonaws.com"),
        Role::Iac | Role::Ci | Role::Packer => {
            let n = g.nets.fresh(&mut g.r, &AWS_OCTETS);
            Addr::Fixed(vec![host(&mut g.r, &n)])
        }
        _ => aws_addr(g),
    };
}

fn automation_mix(r: &mut Rng) -> Vec<(Op, u32)> {
    use Op::*;
    let mut mix = vec![(Run, 5), (Terminate, 5)];
    if r.chance(0.6) {
        mix.extend([(Snap, 4), (DelSnap, 4)]);
    }
    if r.chance(0.4) {
        mix.extend([(NewVol, 2), (Attach, 2), (Detach, 1), (DelVol, 2)]);
    }
    if r.chance(0.25) {
        mix.extend([(Image, 1), (Dereg, 1)]);
    }
    if r.chance(0.3) {
        mix.extend([(Fleet, 3)]);
    }
    if r.chance(0.3) {
        mix.extend([(Stop, 2), (Start, 2)]);
    }
    mix
}

fn human_mix(r: &mut Rng, role: Role) -> Vec<(Op, u32)> {
    use Op::*;
    let all = [
        (Run, 3),
        (Stop, 4),
        (Start, 4),
        (Terminate, 2),
        (Snap, 3),
        (DelSnap, 1),
        (InstType, 1),
        (NewVol, 1),
        (Attach, 1),
        (DelVol, 1),
        (Image, 1),
        (GroupSet, 1),
    ];
    let keep = if role == Role::Rare { 0.4 } else { 0.7 };
    let mut mix: Vec<(Op, u32)> = all.iter().copied().filter(|_| r.chance(keep)).collect();
    if mix.is_empty() {
        mix.push((Start, 1));
    }
    mix
}

fn person(g: &mut Gen, co: &Company, role: Role, days: u32) -> Person {
    let r = &mut g.r;
    let second = r.chance(0.2);
    let offices = if second {
        vec![co.second, co.vpn]
    } else {
        let mut o = vec![*r.pick(&co.hq)];
        if r.chance(0.5) {
            o.push(co.vpn);
        }
        o
    };
    let tz = if second { co.second_tz } else { co.tz };
    let hours = Hours {
        tz,
        from: r.range(7, 10),
        to: r.range(16, 19),
    };
    let name = format!("{}.{}@{}", r.pick(&FIRST), r.pick(&LAST), co.domain);
    let travel = r.chance(0.25);
    let first = r.range(0, days as i64 - 3) as u32;
    let len = r.range(2, 5) as u32;
    let shift = if r.chance(0.5) {
        0
    } else {
        *r.pick(&[-9, -6, 6, 8])
    };
    let oncall: Vec<u32> = if role != Role::Rare && r.chance(0.35) {
        (0..r.range(1, 4))
            .map(|_| r.range(0, days as i64) as u32)
            .collect()
    } else {
        Vec::new()
    };
    let rare_days: Vec<u32> = if role == Role::Rare {
        (0..r.range(2, 5))
            .map(|_| r.range(0, days as i64) as u32)
            .collect()
    } else {
        Vec::new()
    };
    let (day_p, mean) = match role {
        Role::Rare => (0.0, 1.0 + 2.0 * r.f()),
        _ => (0.5 + 0.4 * r.f(), 1.0 + 6.0 * r.f()),
    };
    let console = r.chance(0.6);
    let trip = travel.then(|| (first, first + len, g.nets.isp(&mut g.r), shift));
    Person {
        name,
        offices,
        home: g.nets.isp(&mut g.r),
        hours,
        trip,
        oncall,
        day_p,
        mean,
        console,
        days: rare_days,
    }
}

/// The address of the actor's next call.
pub fn ip(g: &mut Gen, a: &mut Actor) -> String {
    match &mut a.addr {
        Addr::Fixed(v) if !v.is_empty() => g.r.pick(v).clone(),
        Addr::Fixed(_) => "203.0.113.10".into(),
        Addr::Pool { nets, fresh } => {
            if nets.is_empty() {
                let n = *g.r.pick(&g.hosted_ci);
                return host(&mut g.r, &n);
            }
            if g.r.chance(*fresh) {
                let n = g.nets.fresh(&mut g.r, &AWS_OCTETS);
                nets.push(n);
            }
            let n = *g.r.pick(nets);
            host(&mut g.r, &n)
        }
        Addr::Vpce(nets) => {
            let n = *g.r.pick(nets);
            host(&mut g.r, &n)
        }
        Addr::Service(s) => s.to_string(),
    }
}

/// The session name the actor's credentials carry at `t`.
pub fn session(g: &mut Gen, a: &Actor, t: i64) -> String {
    let Who::Role { name, style, .. } = &a.who else {
        return String::new();
    };
    let hour = t / HOUR_MS;
    match style {
        Style::Lambda => {
            name.trim_end_matches(|c: char| c.is_ascii_hexdigit())
                .trim_end_matches('-')
                .to_string()
                + "-fn"
        }
        Style::Ecs => {
            // A task runs for about six hours; its id is the session name.
            let task = name
                .bytes()
                .fold(hour as u64 / 6, |h, b| h.wrapping_mul(0x100_0000_01B3) ^ b as u64);
            format!("{:016x}{:016x}", task, task.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        }
        Style::Karpenter => format!(
            "aws-go-sdk-{}",
            hour * 3_600_000_000_000 + g.r.range(0, 999_999) * 1000
        ),
        Style::GitHub => format!("GitHubActions-{}", 11_000_000_000 + g.r.below(999_999_999)),
        Style::Botocore => format!("botocore-session-{}", hour * 3600),
        Style::Terraform => format!("terraform-{}", t / 1000),
        Style::Backup => "AWSBackup-AWSBackupDefaultServiceRole".into(),
        Style::Sso => String::new(),
    }
}

pub fn ua(template: &str, name: &str) -> String {
    if !template.contains("{cmd}") {
        return template.to_string();
    }
    let mut cmd = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            cmd.push('-');
        }
        cmd.push(ch.to_ascii_lowercase());
    }
    template.replace("{cmd}", &cmd)
}

pub fn ctx(g: &mut Gen, a: &mut Actor, t: i64) -> Ctx {
    Ctx {
        t,
        ip: ip(g, a),
        ua: a.ua.to_string(),
        region: a.region,
        session: session(g, a, t),
        console: false,
    }
}

/// Emit a compute call and the reads around it.
pub fn compute(g: &mut Gen, a: &mut Actor, c: &Ctx, call: calls::Call, reads: u32, day: u32) {
    let destructive = call.err.is_none()
        && matches!(
            call.name,
            "TerminateInstances" | "DeleteSnapshot" | "DeregisterImage" | "DeleteVolume" | "DeleteDBSnapshot"
        );
    let name = call.name;
    let mut cc = Ctx {
        ua: ua(&c.ua, name),
        ..clone_ctx(c)
    };
    super::emit(g, a, &cc, call);
    if destructive {
        a.deletes[day as usize] += 1;
    }
    let kind = if c.console { Noise::Console } else { Noise::Ec2 };
    for _ in 0..reads {
        cc.t += g.r.range(500, 90_000);
        let n = calls::noise(&mut g.r, kind);
        cc.ua = ua(&c.ua, n.name);
        super::emit(g, a, &cc, n);
    }
}

pub fn clone_ctx(c: &Ctx) -> Ctx {
    Ctx {
        t: c.t,
        ip: c.ip.clone(),
        ua: c.ua.clone(),
        region: c.region,
        session: c.session.clone(),
        console: c.console,
    }
}

fn scaled(g: &mut Gen, a: &Actor, day: u32) -> u32 {
    let m = if weekday(day) { a.mean } else { a.mean * a.weekend };
    g.r.daily(m)
}

/// Automation, scanners and applications: calls spread over their hours.
pub fn generic_day(g: &mut Gen, a: &mut Actor, day: u32) {
    let n = scaled(g, a, day);
    let acct = g.accts[a.acct].id.clone();
    for _ in 0..n {
        let t = a.hours.time(&mut g.r, day);
        let c = ctx(g, a, t);
        if a.mix.is_empty() {
            let kind = if a.role == Role::ReadOnly {
                Noise::Scanner
            } else {
                Noise::App
            };
            let call = calls::noise(&mut g.r, kind);
            super::emit(g, a, &c, call);
            continue;
        }
        let op = *g.r.weighted(&a.mix);
        let mut call = calls::routine(&mut g.r, &mut a.pools, &acct, a.region, op, t);
        if g.r.chance(0.01) {
            call = call.failed("Client.RequestLimitExceeded", "Request limit exceeded.".into());
        }
        let reads = g.r.range(0, 3) as u32;
        compute(g, a, &c, call, reads, day);
    }
    look_alikes(g, a, day, &acct);
}

/// Scanners check their permissions with DryRun calls; applications now and then hit an
/// in-scope API they are not allowed to call.
fn look_alikes(g: &mut Gen, a: &mut Actor, day: u32, acct: &str) {
    let p = match a.role {
        Role::ReadOnly => 0.3,
        Role::App => 0.05,
        _ => 0.02,
    };
    if !g.r.chance(p) {
        return;
    }
    let t = a.hours.time(&mut g.r, day);
    let c = ctx(g, a, t);
    let inst = calls::id(&mut g.r, "i");
    let call = match a.role {
        Role::ReadOnly => calls::terminate(&[inst]).dry_run(),
        _ => {
            let vol = calls::id(&mut g.r, "vol");
            calls::create_snapshot(&mut g.r, acct, &vol, "adhoc", t).0.failed(
                "Client.UnauthorizedOperation",
                "You are not authorized to perform this operation.".into(),
            )
        }
    };
    compute(g, a, &c, call, 0, day);
}

pub use super::routines::*;

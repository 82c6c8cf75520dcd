//! The AWS attack scenarios, each on its own principal and time after the warm-up.

use super::calls::{self, Noise};
use super::people::{self, clone_ctx, compute, ctx, ua};
use super::{Actor, Addr, Ctx, Gen, Role, Who, SCENARIOS};
use crate::workload::common::*;
use crate::workload::Options;

pub struct Plan {
    pub scenario: &'static str,
    pub n: u32,
    /// The hosting principal; `None` for a brand-new one.
    pub actor: Option<usize>,
    pub day: u32,
}

const UA_ATTACK_CLI: &str = "aws-cli/2.15.30 Python/3.11.8 Linux/5.15.0-105-generic exe/x86_64.ubuntu.22 prompt/off command/ec2.{cmd}";
const UA_ATTACK_BOTO: &str = "Boto3/1.28.57 md/Botocore#1.31.57 ua/2.0 os/linux#5.15.0-1049-kvm md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.57";

/// Which principals host which scenario, and on which day.
pub fn plan(g: &mut Gen, actors: &[Actor], o: &Options) -> Vec<Plan> {
    let mut used = std::collections::HashSet::new();
    let mut plans = Vec::new();
    for scenario in SCENARIOS {
        let mut candidates: Vec<usize> = (0..actors.len())
            .filter(|&i| hosts(actors, i, scenario))
            .collect();
        if scenario == "automation_destructive_burst" {
            // A busy role: the busier half.
            candidates.sort_by(|&a, &b| actors[b].mean.total_cmp(&actors[a].mean));
            candidates.truncate(candidates.len().div_ceil(2).max(o.attacks as usize));
        }
        for n in 0..o.attacks {
            let actor = if scenario == "new_principal_mass_launch" {
                None
            } else {
                let free: Vec<usize> = candidates.iter().copied().filter(|i| !used.contains(i)).collect();
                let Some(&i) = free.get(g.r.below(free.len() as u64) as usize) else {
                    continue;
                };
                used.insert(i);
                Some(i)
            };
            let day = WARMUP_DAYS + g.r.below((o.days - WARMUP_DAYS) as u64) as u32;
            plans.push(Plan {
                scenario,
                n,
                actor,
                day,
            });
        }
    }
    plans
}

fn hosts(actors: &[Actor], i: usize, scenario: &str) -> bool {
    let a = &actors[i];
    match scenario {
        "automation_destructive_burst" => matches!(a.role, Role::Auto24 | Role::AutoBiz),
        "deletes_from_rotating_ips" => a.role == Role::AdminUser,
        "user_data_swap" => matches!(
            a.role,
            Role::AdminUser | Role::AdminSso | Role::Ci | Role::AutoBiz | Role::Auto24
        ),
        "image_capture_by_snapshot_role" => a.role == Role::BackupScript,
        "exfil_share_by_quiet_human" => a.role == Role::Rare,
        _ => false,
    }
}

pub fn run(g: &mut Gen, actors: &mut Vec<Actor>, p: &Plan) -> AttackTruth {
    let mark = g.sink.mark();
    let i = match p.actor {
        Some(i) => i,
        None => {
            actors.push(new_principal(g, actors.len()));
            actors.len() - 1
        }
    };
    let a = &mut actors[i];
    let (description, ips) = match p.scenario {
        "automation_destructive_burst" => burst(g, a, p.day),
        "deletes_from_rotating_ips" => rotating(g, a, p.day),
        "new_principal_mass_launch" => mass_launch(g, a, p.day),
        "user_data_swap" => user_data(g, a, p),
        "image_capture_by_snapshot_role" => image(g, a, p),
        _ => exfil(g, a, p),
    };
    a.active[p.day as usize] = true;
    let (event_ids, start_ms, end_ms) = attack_records(&g.sink, mark);
    AttackTruth {
        id: format!("aws-{}-{}", p.scenario, p.n + 1),
        scenario: p.scenario,
        cloud: "aws",
        principal: a.key(&g.accts),
        account: g.accts[a.acct].id.clone(),
        principal_role: a.role.name(),
        start_ms,
        end_ms,
        description,
        source_ips: ips,
        event_ids,
    }
}

/// A context for the attacker: a fresh hosting address, a night hour in the organisation's
/// time zone unless `hour` says otherwise.
fn attacker_ctx(g: &mut Gen, a: &Actor, day: u32, hour: Option<i64>) -> Ctx {
    let hour = hour.unwrap_or_else(|| g.r.range(1, 4));
    let t = day_start(day) + (hour - g.tz).rem_euclid(24) * HOUR_MS + g.r.range(0, 50 * MIN_MS);
    let net = g.nets.hosting(&mut g.r);
    Ctx {
        t,
        ip: host(&mut g.r, &net),
        ua: UA_ATTACK_CLI.into(),
        region: a.region,
        session: people::session(g, a, t),
        console: false,
    }
}

/// The principal's usual context at a usual hour: for humans their office, else its habits.
fn usual_ctx(g: &mut Gen, a: &mut Actor, day: u32) -> Ctx {
    if let Some(person) = a.people.first() {
        let hours = person.hours;
        let net = person.offices[0];
        let name = person.name.clone();
        let t = hours.time(&mut g.r, day);
        return Ctx {
            t,
            ip: host(&mut g.r, &net),
            ua: people::UA_CLI_HUMAN.into(),
            region: a.region,
            session: name,
            console: false,
        };
    }
    let t = a.hours.time(&mut g.r, day);
    ctx(g, a, t)
}

fn hhmm(t: i64) -> String {
    t1578_core::alert::rfc3339(t)[11..16].to_string()
}

fn burst(g: &mut Gen, a: &mut Actor, day: u32) -> (String, Vec<String>) {
    let largest = a.deletes[..WARMUP_DAYS as usize]
        .iter()
        .copied()
        .max()
        .unwrap_or(0);
    let count = (3 * largest).max(10);
    let mut c = attacker_ctx(g, a, day, None);
    let start = c.t;
    let acct = g.accts[a.acct].id.clone();
    for _ in 0..count {
        c.t += g.r.range(3_000, 25_000);
        let call = match g.r.below(20) {
            0..=12 => calls::delete_snapshot(&calls::id(&mut g.r, "snap")),
            13..=18 => {
                let ids: Vec<String> = (0..g.r.range(1, 3))
                    .map(|_| calls::pick_instance(&mut g.r, &mut a.pools))
                    .collect();
                calls::terminate(&ids)
            }
            _ => calls::delete_volume(&calls::id(&mut g.r, "vol")),
        };
        let reads = u32::from(g.r.chance(0.2));
        compute(g, a, &c, call, reads, day);
    }
    let _ = acct;
    (
        format!(
            "{count} destructive calls (DeleteSnapshot, TerminateInstances, DeleteVolume) from {} starting {} UTC; largest day in the {WARMUP_DAYS}-day warm-up: {largest}",
            c.ip,
            hhmm(start)
        ),
        vec![c.ip],
    )
}

fn rotating(g: &mut Gen, a: &mut Actor, day: u32) -> (String, Vec<String>) {
    let count = g.r.range(12, 31) as u32;
    let hour = if g.r.chance(0.5) {
        Some(g.r.range(9, 18))
    } else {
        None
    };
    let mut c = attacker_ctx(g, a, day, hour);
    c.ua = UA_ATTACK_BOTO.into();
    let start = c.t;
    let mut ips = Vec::new();
    for _ in 0..count {
        c.t += g.r.range(20_000, 4 * MIN_MS);
        let net = g.nets.hosting(&mut g.r);
        c.ip = host(&mut g.r, &net);
        ips.push(c.ip.clone());
        let call = if g.r.chance(0.6) {
            calls::delete_snapshot(&calls::id(&mut g.r, "snap"))
        } else {
            calls::terminate(&[calls::pick_instance(&mut g.r, &mut a.pools)])
        };
        compute(g, a, &c, call, 0, day);
    }
    (
        format!(
            "{count} deletes from {count} addresses in {count} networks starting {} UTC",
            hhmm(start)
        ),
        ips,
    )
}

fn new_principal(g: &mut Gen, n: usize) -> Actor {
    let who = if g.r.chance(0.5) {
        Who::User {
            name: format!(
                "{}-{}",
                g.r.pick(&["svc-sync", "backup-admin", "ops-temp", "support-tooling"]),
                g.r.hex(4)
            ),
            id: format!("AIDA{}", g.r.ident(17)),
            key: format!("AKIA{}", g.r.ident(16)),
        }
    } else {
        Who::Role {
            name: format!(
                "{}-{}",
                g.r.pick(&["OrganizationAccountAccess-tmp", "ops-automation", "ci-bootstrap"]),
                g.r.hex(4)
            ),
            path: "/",
            id: format!("AROA{}", g.r.ident(17)),
            style: super::Style::Botocore,
        }
    };
    let days = g.days;
    let mut a = people::base(g, Role::NewPrincipal, who, days);
    a.addr = Addr::Fixed(Vec::new());
    a.ua = UA_ATTACK_BOTO;
    let _ = n;
    a
}

fn mass_launch(g: &mut Gen, a: &mut Actor, day: u32) -> (String, Vec<String>) {
    let hour = Some(g.r.range(0, 24));
    let mut c = attacker_ctx(g, a, day, hour);
    c.ua = UA_ATTACK_BOTO.into();
    let acct = g.accts[a.acct].id.clone();
    let start = c.t;
    for name in [
        "GetCallerIdentity",
        "DescribeRegions",
        "DescribeInstanceTypeOfferings",
    ] {
        c.t += g.r.range(1_000, 5_000);
        let mut n = calls::noise(&mut g.r, Noise::Ec2);
        n.name = name;
        if name == "GetCallerIdentity" {
            n.source = "sts.amazonaws.com";
        }
        super::emit(g, a, &c, n);
    }
    let regions = [
        "us-east-1",
        "us-west-2",
        "eu-west-1",
        "ap-southeast-1",
        "sa-east-1",
    ];
    let mut total = 0;
    for _ in 0..g.r.range(3, 7) {
        c.t += g.r.range(5_000, 60_000);
        c.region = *g.r.pick(&regions);
        let n = g.r.range(8, 21) as u32;
        total += n;
        let itype = *g.r.pick(&[
            "p3.16xlarge",
            "g5.12xlarge",
            "c5.24xlarge",
            "g4dn.12xlarge",
            "p4d.24xlarge",
        ]);
        let (call, _) = calls::run_instances(&mut g.r, &acct, c.region, n, itype, c.t);
        compute(g, a, &c, call, 1, day);
    }
    (
        format!(
            "{total} instances launched by a principal never seen before, from {} starting {} UTC",
            c.ip,
            hhmm(start)
        ),
        vec![c.ip],
    )
}

fn user_data(g: &mut Gen, a: &mut Actor, p: &Plan) -> (String, Vec<String>) {
    let mut c = if p.n == 0 {
        usual_ctx(g, a, p.day)
    } else {
        attacker_ctx(g, a, p.day, None)
    };
    let inst = calls::pick_instance(&mut g.r, &mut a.pools);
    let start = c.t;
    compute(g, a, &c, calls::stop(std::slice::from_ref(&inst)), 2, p.day);
    c.t += g.r.range(30_000, 2 * MIN_MS);
    let modify = calls::modify_instance(&mut g.r, &inst, "userData");
    compute(g, a, &c, modify, 0, p.day);
    c.t += g.r.range(10_000, MIN_MS);
    compute(g, a, &c, calls::start(std::slice::from_ref(&inst)), 2, p.day);
    let place = if p.n == 0 {
        "its usual address and hours"
    } else {
        "a new address at night"
    };
    (
        format!("StopInstances, ModifyInstanceAttribute userData, StartInstances on {inst} from {place} ({}, {} UTC)", c.ip, hhmm(start)),
        vec![c.ip],
    )
}

fn image(g: &mut Gen, a: &mut Actor, p: &Plan) -> (String, Vec<String>) {
    let hour = Some(g.r.range(0, 24));
    let mut c = if p.n == 0 {
        usual_ctx(g, a, p.day)
    } else {
        attacker_ctx(g, a, p.day, hour)
    };
    let start = c.t;
    let n = g.r.range(1, 4);
    for _ in 0..n {
        c.t += g.r.range(5_000, 90_000);
        let inst = calls::id(&mut g.r, "i");
        let name = format!("restore-{}", g.r.hex(6));
        let (call, _) = calls::create_image(&mut g.r, &inst, &name);
        compute(g, a, &c, call, 1, p.day);
    }
    (
        format!(
            "{n} CreateImage by a role that only ever snapshots, from {} at {} UTC",
            c.ip,
            hhmm(start)
        ),
        vec![c.ip],
    )
}

fn exfil(g: &mut Gen, a: &mut Actor, p: &Plan) -> (String, Vec<String>) {
    let hour = Some(g.r.range(18, 23));
    let mut c = if p.n == 0 {
        usual_ctx(g, a, p.day)
    } else {
        attacker_ctx(g, a, p.day, hour)
    };
    let acct = g.accts[a.acct].id.clone();
    let outsider = format!("{:012}", 900_000_000_000 + g.r.below(99_999_999_999));
    let start = c.t;
    let n = g.r.range(1, 3);
    for _ in 0..n {
        let vol = calls::id(&mut g.r, "vol");
        let (snap_call, snap) = calls::create_snapshot(&mut g.r, &acct, &vol, "", c.t);
        compute(g, a, &c, snap_call, 1, p.day);
        c.t += g.r.range(5 * MIN_MS, 20 * MIN_MS);
        compute(g, a, &c, calls::share_snapshot(&snap, &outsider, true), 0, p.day);
        c.t += g.r.range(MIN_MS, 5 * MIN_MS);
    }
    let mut browse = clone_ctx(&c);
    browse.ua = ua(&c.ua, "DescribeSnapshots");
    let read = calls::noise(&mut g.r, Noise::Ec2);
    super::emit(g, a, &browse, read);
    (
        format!("{n} snapshot(s) shared with never-seen account {outsider} by a rarely active user, from {} at {} UTC", c.ip, hhmm(start)),
        vec![c.ip],
    )
}

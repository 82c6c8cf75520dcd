//! The Azure attack scenarios, each on its own principal and time after the warm-up.

use super::ops::{self, AOp};
use super::people::{op, usual};
use super::{Actor, Ctx, Gen, Role, SCENARIOS};
use crate::workload::common::*;
use crate::workload::Options;

/// The scenarios added last: they draw from [`Gen::aside`]'s stream.
const COPY_OUT: &str = "snapshot_copy_to_other_subscription";
const GPU: &str = "gpu_vms_by_pipeline";

pub struct Plan {
    pub scenario: &'static str,
    pub n: u32,
    pub actor: usize,
    pub day: u32,
}

fn hosts(a: &Actor, scenario: &str, n: u32) -> bool {
    match scenario {
        "disk_sas_export_by_user" => matches!(a.role, Role::AdminUser | Role::Rare),
        COPY_OUT => matches!(a.role, Role::AdminUser | Role::SpCi | Role::Iac),
        GPU => a.role == Role::SpCi,
        // An identity that never captures: a human, a pipeline, an automation identity.
        "vm_capture_with_generalize" => match n % 3 {
            0 => a.role == Role::AdminUser,
            1 => a.role == Role::SpCi,
            _ => matches!(a.role, Role::MiAuto24 | Role::MiAutoBiz | Role::MiNightly),
        },
        _ => matches!(
            a.role,
            Role::CostScheduler | Role::MiAuto24 | Role::MiAutoBiz | Role::MiNightly
        ),
    }
}

pub fn plan(g: &mut Gen, actors: &[Actor], o: &Options) -> Vec<Plan> {
    let mut used = std::collections::HashSet::new();
    let mut plans = Vec::new();
    for scenario in SCENARIOS {
        for n in 0..o.attacks {
            let free: Vec<usize> = (0..actors.len())
                .filter(|&i| hosts(&actors[i], scenario, n) && !used.contains(&i))
                .collect();
            let draw = |g: &mut Gen| {
                let &actor = free.get(g.r.below(free.len() as u64) as usize)?;
                Some((
                    actor,
                    WARMUP_DAYS + g.r.below((o.days - WARMUP_DAYS) as u64) as u32,
                ))
            };
            let drawn = if scenario == COPY_OUT || scenario == GPU {
                g.aside(draw)
            } else {
                draw(g)
            };
            let Some((actor, day)) = drawn else {
                continue;
            };
            used.insert(actor);
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

pub fn run(g: &mut Gen, actors: &mut [Actor], p: &Plan) -> AttackTruth {
    let mark = g.sink.mark();
    let a = &mut actors[p.actor];
    let (home, home_rg) = (a.sub, a.rg.clone());
    let (description, ips) = match p.scenario {
        "disk_sas_export_by_user" => sas(g, a, p),
        "vm_capture_with_generalize" => capture(g, a, p),
        COPY_OUT => g.aside(|g| copy_out(g, a, p)),
        GPU => g.aside(|g| gpu(g, a, p)),
        _ => mass(g, a, p.day),
    };
    a.active[p.day as usize] = true;
    let (event_ids, start_ms, end_ms) = attack_records(&g.sink, mark);
    let truth = AttackTruth {
        id: format!("azure-{}-{}", p.scenario, p.n + 1),
        scenario: p.scenario,
        cloud: "azure",
        principal: a.key(),
        account: g.subs[a.sub].id.clone(),
        principal_role: a.role.name(),
        start_ms,
        end_ms,
        description,
        source_ips: ips,
        event_ids,
    };
    a.sub = home;
    a.rg = home_rg;
    truth
}

/// The intruder's context: a hosting address never used, at night in the organisation's time
/// zone unless `hour` says otherwise.
fn intruder(g: &mut Gen, a: &Actor, day: u32, hour: Option<i64>) -> Ctx {
    let hour = hour.unwrap_or_else(|| g.r.range(1, 4));
    let t = day_start(day) + (hour - g.tz).rem_euclid(24) * HOUR_MS + g.r.range(0, 50 * MIN_MS);
    let net = g.nets.hosting(&mut g.r);
    let client = a.person.as_ref().map(|p| p.client).unwrap_or("");
    Ctx {
        t,
        ip: host(&mut g.r, &net),
        client,
    }
}

fn hhmm(t: i64) -> String {
    t1578_core::alert::rfc3339(t)[11..16].to_string()
}

fn sas(g: &mut Gen, a: &mut Actor, p: &Plan) -> (String, Vec<String>) {
    let mut c = if p.n == 0 {
        usual(g, a, p.day)
    } else {
        intruder(g, a, p.day, None)
    };
    let start = c.t;
    let n = g.r.range(1, 4);
    for _ in 0..n {
        op(g, a, &c, AOp::DiskSas, p.day);
        c.t += g.r.range(20_000, 4 * MIN_MS);
    }
    let place = if p.n == 0 {
        "its office, in office hours"
    } else {
        "a new address at night"
    };
    (
        format!(
            "{n} disk SAS export(s) (beginGetAccess) by a user, from {place} ({}, {} UTC)",
            c.ip,
            hhmm(start)
        ),
        vec![c.ip],
    )
}

fn capture(g: &mut Gen, a: &mut Actor, p: &Plan) -> (String, Vec<String>) {
    let mut c = if p.n == 0 {
        usual(g, a, p.day)
    } else {
        intruder(g, a, p.day, None)
    };
    let start = c.t;
    let vm = ops::vm_name(&mut g.r);
    a.vms.push(vm.clone());
    let res = ops::rid(g, a, "Microsoft.Compute/virtualMachines", &vm);
    for o in [AOp::Deallocate, AOp::Generalize] {
        super::operation(g, a, &c, o, &res, None, false);
        c.t += g.r.range(2 * MIN_MS, 6 * MIN_MS);
    }
    let last = if p.n % 2 == 0 {
        let body = ops::body(g, AOp::Capture);
        super::operation(g, a, &c, AOp::Capture, &res, body, false);
        "capture/action"
    } else {
        let img = ops::rid(g, a, "Microsoft.Compute/images", &format!("{vm}-image"));
        let body = format!("{{\"location\":\"westeurope\",\"properties\":{{\"sourceVirtualMachine\":{{\"id\":\"{res}\"}}}}}}");
        super::operation(g, a, &c, AOp::ImageWrite, &img, Some(body), false);
        "images/write"
    };
    (format!("deallocate, generalize/action and {last} of {vm} by an identity that never captures, from {} at {} UTC", c.ip, hhmm(start)), vec![c.ip])
}

/// Snapshots of the principal's VMs copied into another subscription of the tenant (one the
/// intruder controls, or watched less): logged there, under the principal's identity. The
/// actor's subscription (and resource group) is that one until [`run`] has made the truth.
fn copy_out(g: &mut Gen, a: &mut Actor, p: &Plan) -> (String, Vec<String>) {
    let mut c = if p.n == 0 {
        usual(g, a, p.day)
    } else {
        intruder(g, a, p.day, None)
    };
    let start = c.t;
    let home = a.sub;
    let n = g.r.range(1, 4);
    let sources: Vec<String> = (0..n)
        .map(|_| {
            let disk = format!("{}_OsDisk_1_{}", ops::vm_name(&mut g.r), g.r.hex(32));
            ops::rid(g, a, "Microsoft.Compute/disks", &disk)
        })
        .collect();
    a.sub = (home + 2) % g.subs.len();
    a.rg = g.subs[a.sub].rgs[0].clone();
    for (i, from) in sources.iter().enumerate() {
        let name = format!("snap-copy-{i}-{}", g.r.hex(6));
        let res = ops::rid(g, a, "Microsoft.Compute/snapshots", &name);
        super::operation(
            g,
            a,
            &c,
            AOp::SnapWrite,
            &res,
            Some(ops::copy_body(from, false)),
            false,
        );
        c.t += g.r.range(20_000, 3 * MIN_MS);
    }
    let place = if p.n == 0 {
        "its usual network, in its hours"
    } else {
        "a new address at night"
    };
    (
        format!(
            "{n} snapshot(s) of its disks copied into subscription {} from {place} ({}, {} UTC)",
            g.subs[a.sub].id,
            c.ip,
            hhmm(start)
        ),
        vec![c.ip],
    )
}

/// A poisoned pipeline (a stolen token, or a job injected into the pipeline) starts GPU VMs to
/// mine with: from the pipeline's own runners in its hours, or from a new address at night.
fn gpu(g: &mut Gen, a: &mut Actor, p: &Plan) -> (String, Vec<String>) {
    let mut c = if p.n % 2 == 0 {
        usual(g, a, p.day)
    } else {
        intruder(g, a, p.day, None)
    };
    let start = c.t;
    let n = g.r.range(4, 9);
    let size = *g.r.pick(&ops::GPU_SIZES);
    for _ in 0..n {
        let vm = format!("vm-{}", g.r.hex(6));
        let res = ops::rid(g, a, "Microsoft.Compute/virtualMachines", &vm);
        super::operation(g, a, &c, AOp::VmWrite, &res, Some(ops::vm_body(size)), false);
        c.t += g.r.range(20_000, 2 * MIN_MS);
    }
    let place = if p.n % 2 == 0 {
        "its usual network, in its hours"
    } else {
        "a new address at night"
    };
    (
        format!(
            "{n} VMs of size {size} by a CI pipeline's principal, from {place} ({}, {} UTC)",
            c.ip,
            hhmm(start)
        ),
        vec![c.ip],
    )
}

fn mass(g: &mut Gen, a: &mut Actor, day: u32) -> (String, Vec<String>) {
    let largest = a.destructive[..WARMUP_DAYS as usize]
        .iter()
        .copied()
        .max()
        .unwrap_or(0);
    let count = (3 * largest).max(10);
    let mut c = intruder(g, a, day, None);
    let start = c.t;
    for _ in 0..count {
        c.t += g.r.range(2_000, 20_000);
        let o = match g.r.below(20) {
            0..=10 => AOp::Deallocate,
            11..=16 => AOp::VmDelete,
            _ => AOp::DiskDelete,
        };
        let res = ops::resource(g, a, o);
        super::operation(g, a, &c, o, &res, None, false);
    }
    (
        format!("{count} deallocations and deletions from {} starting {} UTC; largest day in the {WARMUP_DAYS}-day warm-up: {largest}", c.ip, hhmm(start)),
        vec![c.ip],
    )
}

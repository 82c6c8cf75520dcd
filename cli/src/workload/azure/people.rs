//! Who works in the subscriptions, and what an ordinary day of each looks like.

use super::ops::{self, AOp};
use super::{Actor, Ctx, Gen, Person, Role, Who};
use crate::workload::common::*;

const AZ_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const AZ_PORTAL: &str = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c";
const AZ_POWERSHELL: &str = "1950a258-227b-4e31-a9cf-717495945fc2";
/// The first-party application Azure Backup calls Resource Manager as.
const BACKUP_MANAGEMENT_SERVICE: &str = "262044b1-e2ce-469f-a196-69ab7ada62d3";

const FIRST: [&str; 20] = [
    "alex", "beatriz", "chen", "dmitri", "elif", "farah", "goran", "helga", "ines", "jamal", "kofi", "leila",
    "mateo", "noor", "olga", "pablo", "rania", "sven", "thandi", "yara",
];
const LAST: [&str; 14] = [
    "schmidt",
    "fernandez",
    "li",
    "petrov",
    "yilmaz",
    "khan",
    "horvat",
    "berg",
    "costa",
    "mensah",
    "karimi",
    "lopez",
    "nowak",
    "ndlovu",
];

struct Company {
    tz: i64,
    offices: Vec<Net>,
    domain: &'static str,
}

pub fn population(g: &mut Gen, n: u32, days: u32) -> Vec<Actor> {
    let co = Company {
        tz: *g.r.pick(&[-6, -5, 0, 1, 2]),
        offices: (0..g.r.range(2, 5)).map(|_| g.nets.isp(&mut g.r)).collect(),
        domain: ["contoso.com", "fabrikam.com", "woodgrove.example"][g.r.below(3) as usize],
    };
    g.tz = co.tz;
    let shares = (n / 200).max(1);
    let backups = g.subs.len() as u32;
    let roles: [(Role, f64, u32); 14] = [
        (Role::MiAuto24, 3.5, 1),
        (Role::MiAutoBiz, 3.5, 1),
        (Role::MiNightly, 3.0, 1),
        (Role::SpCi, 7.0, 3),
        (Role::Vmss, 3.0, 1),
        (Role::MiSnapshot, 4.0, 1),
        (Role::CostScheduler, 4.0, 3),
        (Role::ImageBuilder, 1.5, 1),
        (Role::Iac, 3.0, 1),
        (Role::AdminUser, 18.0, 6),
        (Role::Rare, 15.0, 4),
        (Role::AppSp, 9.0, 2),
        (Role::GalleryShare, 0.0, shares),
        (Role::AzBackup, 0.0, backups),
    ];
    let weights: Vec<(f64, u32)> = roles.iter().map(|(_, w, m)| (*w, *m)).collect();
    let counts = allocate(&mut g.r, n, &weights);
    let mut actors = Vec::new();
    for ((role, _, _), count) in roles.iter().zip(counts) {
        for k in 0..count {
            let mut a = build(g, &co, *role, days);
            if *role == Role::AzBackup {
                a.sub = k as usize % g.subs.len();
            }
            actors.push(a);
        }
    }
    let dr = g.aside(|g| build(g, &co, Role::DrCopy, days));
    actors.push(dr);
    let vendor = g.aside(|g| build(g, &co, Role::VendorBackup, days));
    actors.push(vendor);
    for _ in 0..2 {
        let ml = g.aside(|g| build(g, &co, Role::MlTraining, days));
        actors.push(ml);
    }
    actors
}

fn who(g: &mut Gen, co: &Company, role: Role, sub: usize, rg: &str) -> Who {
    let r = &mut g.r;
    let mi = |r: &mut Rng, provider: &str, stem: &str| Who::Mi {
        mirid: format!(
            "/subscriptions/{}/resourcegroups/{rg}/providers/{provider}/{stem}-{}",
            g.subs[sub].id,
            r.hex(4)
        ),
        appid: r.uuid(),
        oid: r.uuid(),
    };
    match role {
        Role::MiAuto24
        | Role::MiAutoBiz
        | Role::MiNightly
        | Role::MiSnapshot
        | Role::DrCopy
        | Role::ImageBuilder
        | Role::Vmss => {
            let stem = *r.pick(&[
                "id-runbook-ops",
                "id-env-manager",
                "id-batch-pool",
                "id-snapshot-job",
                "id-aib",
                "id-scaler",
            ]);
            if r.chance(0.3) {
                mi(r, "Microsoft.Web/sites", "func-ops")
            } else {
                mi(r, "Microsoft.ManagedIdentity/userAssignedIdentities", stem)
            }
        }
        Role::CostScheduler => mi(r, "Microsoft.Automation/automationAccounts", "aa-start-stop"),
        Role::AzBackup => Who::Sp {
            appid: BACKUP_MANAGEMENT_SERVICE.into(),
            oid: r.uuid(),
        },
        Role::SpCi | Role::Iac | Role::AppSp | Role::GalleryShare | Role::VendorBackup | Role::MlTraining => {
            Who::Sp {
                appid: r.uuid(),
                oid: r.uuid(),
            }
        }
        Role::AdminUser | Role::Rare => {
            let (given, surname) = (r.pick(&FIRST).to_string(), r.pick(&LAST).to_string());
            Who::User {
                upn: format!("{given}.{surname}{}@{}", r.range(1, 99), co.domain),
                oid: r.uuid(),
                given,
                surname,
            }
        }
    }
}

fn build(g: &mut Gen, co: &Company, role: Role, days: u32) -> Actor {
    let sub = g.r.below(g.subs.len() as u64) as usize;
    let rg = g.r.pick(&g.subs[sub].rgs).clone();
    let who = who(g, co, role, sub, &rg);
    let mut a = Actor {
        role,
        who,
        sub,
        rg,
        hours: Hours::ALWAYS,
        mean: 0.0,
        weekend: 1.0,
        nets: Vec::new(),
        fresh: 0.0,
        mix: Vec::new(),
        person: None,
        vms: Vec::new(),
        snapshots: Vec::new(),
        destructive: vec![0; days as usize],
        active: vec![false; days as usize],
        records: 0,
        weekly: (g.r.range(0, 5) as u32, g.r.range(9, 17)),
        partner: (g.r.uuid(), g.r.uuid()),
    };
    habits(g, co, &mut a, days);
    a
}

fn habits(g: &mut Gen, co: &Company, a: &mut Actor, days: u32) {
    use AOp::*;
    let r = &mut g.r;
    a.nets = (0..r.range(2, 8)).map(|_| *r.pick(&g.azure_pool)).collect();
    a.fresh = 0.003;
    match a.role {
        Role::MiAuto24 | Role::MiAutoBiz | Role::MiNightly => {
            a.hours = match a.role {
                Role::MiAuto24 => Hours::ALWAYS,
                Role::MiAutoBiz => Hours {
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
            a.mean = r.range(8, 45) as f64;
            a.weekend = if a.role == Role::MiAutoBiz {
                0.1
            } else {
                0.6 + 0.4 * r.f()
            };
            a.mix = vec![
                (VmWrite, 4),
                (VmDelete, 3),
                (Deallocate, 2),
                (VmStart, 3),
                (DiskWrite, 1),
                (ExtWrite, 1),
                (NicWrite, 4),
                (DeploymentWrite, 3),
                (TagsWrite, 2),
                (ListKeys, 2),
            ];
            if r.chance(0.5) {
                a.mix.extend([(SnapWrite, 3), (SnapDelete, 3)]);
            }
        }
        Role::SpCi => {
            a.hours = Hours {
                tz: co.tz,
                from: 8,
                to: 19,
            };
            a.mean = r.range(2, 12) as f64;
            a.weekend = 0.05;
            if r.chance(0.6) {
                a.nets = g.azure_pool.clone();
            }
        }
        Role::Vmss => {
            a.mean = r.range(6, 30) as f64;
            a.mix = vec![(VmssWrite, 8), (VmssExt, 1), (DeploymentWrite, 3), (TagsWrite, 2)];
        }
        Role::DrCopy | Role::VendorBackup => {
            let from = r.range(1, 4);
            a.hours = Hours {
                tz: co.tz,
                from,
                to: from + 1,
            };
            a.mean = r.range(2, 8) as f64;
            a.vms = (0..r.range(4, 16)).map(|_| ops::vm_name(r)).collect();
        }
        Role::MlTraining => {
            a.hours = Hours {
                tz: co.tz,
                from: 9,
                to: 18,
            };
            a.mean = r.range(1, 4) as f64;
            a.weekend = 0.0;
        }
        Role::AzBackup | Role::MiSnapshot => {
            let from = r.range(0, 4) + if a.role == Role::AzBackup { 22 } else { 0 };
            a.hours = Hours {
                tz: co.tz,
                from,
                to: from + 1,
            };
            a.mean = r.range(4, 25) as f64;
        }
        Role::CostScheduler => {
            a.hours = Hours {
                tz: co.tz,
                from: 7,
                to: 20,
            };
            a.vms = (0..r.range(5, 40)).map(|_| ops::vm_name(r)).collect();
        }
        Role::GalleryShare => {
            a.hours = Hours {
                tz: co.tz,
                from: 9,
                to: 17,
            }
        }
        Role::ImageBuilder => {
            a.hours = Hours {
                tz: co.tz,
                from: 1,
                to: 5,
            }
        }
        Role::Iac => {
            a.hours = Hours {
                tz: co.tz,
                from: 9,
                to: 18,
            };
            a.mean = r.range(5, 25) as f64;
            a.weekend = 0.25 + 0.3 * r.f();
            a.mix = vec![
                (VmWrite, 4),
                (DiskWrite, 2),
                (ExtWrite, 2),
                (VmssWrite, 1),
                (VmDelete, 1),
                (DiskDelete, 1),
                (NicWrite, 3),
                (NsgRuleWrite, 2),
                (PipWrite, 1),
                (TagsWrite, 2),
            ];
        }
        Role::AppSp => {
            a.mean = r.range(15, 80) as f64;
            a.mix = vec![
                (ListKeys, 4),
                (KeyVaultWrite, 1),
                (SiteRestart, 2),
                (DeploymentWrite, 2),
                (TagsWrite, 1),
            ];
        }
        Role::AdminUser | Role::Rare => {
            a.person = Some(person(g, co, a.role, days));
            let keep = if a.role == Role::Rare { 0.4 } else { 0.7 };
            let all = [
                (VmWrite, 3),
                (Deallocate, 2),
                (VmStart, 4),
                (VmRestart, 3),
                (SnapWrite, 2),
                (DiskWrite, 1),
                (VmDelete, 1),
                (DiskDelete, 1),
                (ExtWrite, 1),
                (RunCommand, 1),
                (NsgRuleWrite, 2),
                (TagsWrite, 2),
            ];
            a.mix = all.iter().copied().filter(|_| g.r.chance(keep)).collect();
            if a.mix.is_empty() {
                a.mix.push((VmStart, 1));
            }
            a.mean = if a.role == Role::Rare {
                1.0 + 2.0 * g.r.f()
            } else {
                1.0 + 6.0 * g.r.f()
            };
        }
    }
}

fn person(g: &mut Gen, co: &Company, role: Role, days: u32) -> Person {
    let r = &mut g.r;
    let mut offices = vec![*r.pick(&co.offices)];
    if r.chance(0.4) {
        offices.push(*r.pick(&co.offices));
    }
    let first = r.range(0, days as i64 - 3) as u32;
    let len = r.range(2, 5) as u32;
    let shift = if r.chance(0.5) {
        0
    } else {
        *r.pick(&[-9, -6, 6, 8])
    };
    let travel = r.chance(0.25);
    let oncall = if role == Role::AdminUser && r.chance(0.35) {
        (0..r.range(1, 4))
            .map(|_| r.range(0, days as i64) as u32)
            .collect()
    } else {
        Vec::new()
    };
    let rare: Vec<u32> = if role == Role::Rare {
        (0..r.range(2, 5))
            .map(|_| r.range(0, days as i64) as u32)
            .collect()
    } else {
        Vec::new()
    };
    let hours = Hours {
        tz: co.tz,
        from: r.range(7, 10),
        to: r.range(16, 19),
    };
    let client = *r.pick(&[AZ_CLI, AZ_PORTAL, AZ_PORTAL, AZ_POWERSHELL]);
    let day_p = 0.5 + 0.4 * r.f();
    let trip = travel.then(|| (first, first + len, g.nets.isp(&mut g.r), shift));
    Person {
        offices,
        home: g.nets.isp(&mut g.r),
        hours,
        trip,
        oncall,
        day_p,
        days: rare,
        client,
    }
}

pub fn ctx(g: &mut Gen, a: &mut Actor, t: i64) -> Ctx {
    if g.r.chance(a.fresh) {
        let n = g.nets.fresh(&mut g.r, &AZURE_OCTETS);
        a.nets.push(n);
    }
    let n = *g.r.pick(&a.nets);
    Ctx {
        t,
        ip: host(&mut g.r, &n),
        client: "",
    }
}

/// One operation; deletions and deallocations are counted for the day.
pub fn op(g: &mut Gen, a: &mut Actor, c: &Ctx, o: AOp, day: u32) {
    let fail = o.spec().2 && g.r.chance(0.015);
    ops::call(g, a, c, o, fail);
    if o.destructive() && !fail {
        a.destructive[day as usize] += 1;
    }
}

pub fn routine(g: &mut Gen, a: &mut Actor, day: u32) {
    match a.role {
        Role::MiAuto24 | Role::MiAutoBiz | Role::MiNightly | Role::Vmss | Role::AppSp => generic(g, a, day),
        Role::Iac => {
            if g.r.chance(if weekday(day) { a.weekend } else { 0.02 }) {
                burst(g, a, day)
            }
        }
        Role::SpCi => ci(g, a, day),
        Role::AzBackup | Role::MiSnapshot => backup(g, a, day),
        Role::CostScheduler => scheduler(g, a, day),
        Role::GalleryShare => share(g, a, day),
        Role::DrCopy => g.aside(|g| dr_copy(g, a, day)),
        Role::VendorBackup => g.aside(|g| vendor_backup(g, a, day)),
        Role::MlTraining => g.aside(|g| training(g, a, day)),
        Role::ImageBuilder => image_build(g, a, day),
        Role::AdminUser | Role::Rare => human(g, a, day),
    }
}

fn generic(g: &mut Gen, a: &mut Actor, day: u32) {
    let m = if weekday(day) { a.mean } else { a.mean * a.weekend };
    for _ in 0..g.r.daily(m) {
        let t = a.hours.time(&mut g.r, day);
        let mut c = ctx(g, a, t);
        let o = *g.r.weighted(&a.mix);
        op(g, a, &c, o, day);
        if o == AOp::VmDelete {
            // Cleanup after a VM: its disk and network interface.
            c.t += g.r.range(60_000, 300_000);
            op(g, a, &c, AOp::DiskDelete, day);
            op(g, a, &c, AOp::NicDelete, day);
        }
    }
}

/// Terraform: one run, a burst of changes within minutes.
fn burst(g: &mut Gen, a: &mut Actor, day: u32) {
    let t = a.hours.time(&mut g.r, day);
    let mut c = ctx(g, a, t);
    op(g, a, &c, AOp::DeploymentValidate, day);
    for _ in 0..g.r.daily(a.mean) {
        c.t += g.r.range(2_000, 40_000);
        let o = *g.r.weighted(&a.mix);
        op(g, a, &c, o, day);
    }
}

/// Pipelines: a test VM per run, deleted with its disk and NIC when the run ends.
fn ci(g: &mut Gen, a: &mut Actor, day: u32) {
    let m = if weekday(day) { a.mean } else { a.mean * a.weekend };
    for _ in 0..g.r.daily(m) {
        let t = a.hours.time(&mut g.r, day);
        let mut c = ctx(g, a, t);
        op(g, a, &c, AOp::DeploymentWrite, day);
        op(g, a, &c, AOp::NicWrite, day);
        let vm = ops::vm_name(&mut g.r);
        a.vms = vec![vm.clone()];
        c.t += g.r.range(5_000, 30_000);
        op(g, a, &c, AOp::VmWrite, day);
        c.t += g.r.range(10 * MIN_MS, 50 * MIN_MS);
        a.vms = vec![vm];
        op(g, a, &c, AOp::VmDelete, day);
        c.t += g.r.range(60_000, 200_000);
        op(g, a, &c, AOp::DiskDelete, day);
        op(g, a, &c, AOp::NicDelete, day);
    }
}

/// Nightly restore points (Azure Backup) or snapshots (a script), and the expired ones deleted.
fn backup(g: &mut Gen, a: &mut Actor, day: u32) {
    let t = a.hours.time(&mut g.r, day);
    let mut c = ctx(g, a, t);
    let (make, drop) = if a.role == Role::AzBackup {
        (AOp::RpWrite, AOp::RpDelete)
    } else {
        (AOp::SnapWrite, AOp::SnapDelete)
    };
    for _ in 0..g.r.daily(a.mean) {
        c.t += g.r.range(2_000, 60_000);
        if a.role == Role::AzBackup && day == 0 {
            op(g, a, &c, AOp::RpcWrite, day);
        }
        op(g, a, &c, make, day);
    }
    for _ in 0..g.r.daily(a.mean * 0.9) {
        c.t += g.r.range(2_000, 30_000);
        op(g, a, &c, drop, day);
    }
}

/// Disaster recovery: every night the latest snapshots of production VMs (in the next
/// subscription) are copied into this one, and the copies of a week ago deleted.
fn dr_copy(g: &mut Gen, a: &mut Actor, day: u32) {
    let t = a.hours.time(&mut g.r, day);
    let mut c = ctx(g, a, t);
    let source = (a.sub + 1) % g.subs.len();
    let source_rg = g.subs[source].rgs[0].clone();
    for _ in 0..g.r.daily(a.mean) {
        c.t += g.r.range(5_000, 90_000);
        let vm = g.r.pick(&a.vms).clone();
        let from = format!(
            "/subscriptions/{}/resourceGroups/{source_rg}/providers/Microsoft.Compute/snapshots/snap-{vm}-{day:03}",
            g.subs[source].id
        );
        let res = ops::rid(g, a, "Microsoft.Compute/snapshots", &format!("dr-{vm}-{day:03}"));
        super::operation(
            g,
            a,
            &c,
            AOp::SnapWrite,
            &res,
            Some(ops::copy_body(&from, true)),
            false,
        );
        if day >= 7 {
            c.t += g.r.range(2_000, 20_000);
            let old = ops::rid(
                g,
                a,
                "Microsoft.Compute/snapshots",
                &format!("dr-{vm}-{:03}", day - 7),
            );
            super::operation(g, a, &c, AOp::SnapDelete, &old, None, false);
        }
    }
}

/// A third-party backup product (Veeam, Commvault): every night it snapshots production VMs'
/// disks, reads each snapshot through a download URL (beginGetAccess) and deletes the
/// snapshots it no longer needs.
fn vendor_backup(g: &mut Gen, a: &mut Actor, day: u32) {
    let t = a.hours.time(&mut g.r, day);
    let mut c = ctx(g, a, t);
    let fleet = a.vms.clone();
    for vm in &fleet {
        a.vms = vec![vm.clone()];
        c.t += g.r.range(5_000, 60_000);
        op(g, a, &c, AOp::SnapWrite, day);
        c.t += g.r.range(2_000, 20_000);
        op(g, a, &c, AOp::SnapSas, day);
    }
    for _ in 0..fleet.len() / 2 {
        c.t += g.r.range(2_000, 20_000);
        op(g, a, &c, AOp::SnapDelete, day);
    }
    a.vms = fleet;
}

/// A machine-learning team's pipeline: on about half the weekdays, training VMs of GPU sizes,
/// deleted with their disks when the job ends hours later.
fn training(g: &mut Gen, a: &mut Actor, day: u32) {
    if !weekday(day) || !g.r.chance(0.5) {
        return;
    }
    let t = a.hours.time(&mut g.r, day);
    let mut c = ctx(g, a, t);
    let n = g.r.daily(a.mean).max(1);
    let vms: Vec<String> = (0..n).map(|_| ops::vm_name(&mut g.r)).collect();
    for vm in &vms {
        c.t += g.r.range(5_000, 60_000);
        let res = ops::rid(g, a, "Microsoft.Compute/virtualMachines", vm);
        let size = *g.r.pick(&ops::GPU_SIZES);
        super::operation(g, a, &c, AOp::VmWrite, &res, Some(ops::vm_body(size)), false);
    }
    c.t += g.r.range(2 * HOUR_MS, 6 * HOUR_MS);
    let fleet = std::mem::take(&mut a.vms);
    for vm in vms {
        c.t += g.r.range(5_000, 60_000);
        a.vms = vec![vm];
        op(g, a, &c, AOp::VmDelete, day);
        op(g, a, &c, AOp::DiskDelete, day);
    }
    a.vms = fleet;
}

/// Deallocate the fleet at 20:00 and start it at 07:00 on weekdays.
fn scheduler(g: &mut Gen, a: &mut Actor, day: u32) {
    if !weekday(day) {
        return;
    }
    let fleet = a.vms.clone();
    for (hour, o) in [(7, AOp::VmStart), (20, AOp::Deallocate)] {
        let t = a.hours.at(&mut g.r, day, hour, 0);
        let mut c = ctx(g, a, t);
        for vm in &fleet {
            c.t += g.r.range(300, 3_000);
            a.vms = vec![vm.clone()];
            op(g, a, &c, o, day);
        }
    }
    a.vms = fleet;
}

/// The weekly share of the image gallery with the partner's subscription and tenant.
fn share(g: &mut Gen, a: &mut Actor, day: u32) {
    if day % 7 != a.weekly.0 {
        return;
    }
    let minute = g.r.range(0, 40);
    let t = a.hours.at(&mut g.r, day, a.weekly.1, minute);
    let c = ctx(g, a, t);
    let res = ops::resource(g, a, AOp::GalleryShare);
    let body = format!(
        "{{\"operationType\":\"Add\",\"groups\":[{{\"type\":\"Subscriptions\",\"ids\":[\"{}\"]}},{{\"type\":\"AADTenants\",\"ids\":[\"{}\"]}}]}}",
        a.partner.0, a.partner.1
    );
    super::operation(g, a, &c, AOp::GalleryShare, &res, Some(body), false);
}

/// Image builds twice a week: a build VM, a gallery image version, the VM removed.
fn image_build(g: &mut Gen, a: &mut Actor, day: u32) {
    if day % 7 != 1 && day % 7 != 4 {
        return;
    }
    let t = a.hours.time(&mut g.r, day);
    let mut c = ctx(g, a, t);
    for o in [
        AOp::VmWrite,
        AOp::GalleryVersionWrite,
        AOp::VmDelete,
        AOp::DiskDelete,
    ] {
        op(g, a, &c, o, day);
        c.t += g.r.range(5 * MIN_MS, 25 * MIN_MS);
    }
}

fn human(g: &mut Gen, a: &mut Actor, day: u32) {
    let Some(p) = &a.person else { return };
    let oncall = p.oncall.contains(&day);
    let works = if a.role == Role::Rare {
        p.days.contains(&day)
    } else if weekday(day) {
        g.r.chance(p.day_p)
    } else {
        g.r.chance(0.04)
    };
    if !works && !oncall {
        return;
    }
    let mut hours = p.hours;
    let mut net = if g.r.chance(0.2) {
        p.home
    } else {
        *g.r.pick(&p.offices)
    };
    if let Some((_, _, hotel, shift)) = p.trip.filter(|(f, l, _, _)| (*f..=*l).contains(&day)) {
        net = hotel;
        hours.tz += shift;
    }
    let mut n = g.r.daily(a.mean);
    if oncall {
        hours = Hours {
            tz: hours.tz,
            from: 22,
            to: 27,
        };
        net = p.home;
        n = g.r.range(1, 4) as u32;
    }
    let client = p.client;
    for _ in 0..n {
        let t = hours.time(&mut g.r, day);
        let c = Ctx {
            t,
            ip: host(&mut g.r, &net),
            client,
        };
        let o = *g.r.weighted(&a.mix);
        op(g, a, &c, o, day);
    }
}

/// The usual context of an actor: a person's office in office hours, else its habits.
pub fn usual(g: &mut Gen, a: &mut Actor, day: u32) -> Ctx {
    if let Some(p) = &a.person {
        let (hours, net, client) = (p.hours, p.offices[0], p.client);
        let t = hours.time(&mut g.r, day);
        return Ctx {
            t,
            ip: host(&mut g.r, &net),
            client,
        };
    }
    let t = a.hours.time(&mut g.r, day);
    ctx(g, a, t)
}

//! The day of the principals whose work has a shape: CI runs, image builds, nightly backups,
//! the weekly partner share, Terraform runs, the cost scheduler and humans.

use super::calls::{self, Noise, Op};
use super::people::{clone_ctx, compute, ctx, ua, UA_CONSOLE};
use super::{Actor, Ctx, Gen, Role};
use crate::workload::common::*;

/// CI: each pipeline run launches test instances, polls them and terminates them.
pub fn ci_day(g: &mut Gen, a: &mut Actor, day: u32) {
    let m = if weekday(day) { a.mean } else { a.mean * a.weekend };
    let runs = g.r.daily(m);
    let acct = g.accts[a.acct].id.clone();
    for _ in 0..runs {
        let t = a.hours.time(&mut g.r, day);
        let mut c = ctx(g, a, t);
        let n = *g.r.pick(&[1, 1, 2, 3]);
        let itype = *g.r.pick(&calls::TYPES[..4]);
        let (call, ids) = calls::run_instances(&mut g.r, &acct, a.region, n, itype, t);
        if g.r.chance(0.02) {
            let failed = call.failed(
                "Client.UnauthorizedOperation",
                "You are not authorized to perform this operation.".into(),
            );
            compute(g, a, &c, failed, 1, day);
            continue;
        }
        let reads = g.r.range(2, 6) as u32;
        compute(g, a, &c, call, reads, day);
        c.t += g.r.range(5 * MIN_MS, 45 * MIN_MS);
        compute(g, a, &c, calls::terminate(&ids), 1, day);
    }
}

/// Golden-image builds: launch, stop, image, terminate; old images retired on Fridays.
pub fn packer_day(g: &mut Gen, a: &mut Actor, day: u32) {
    if !weekday(day) {
        return;
    }
    let builds = g.r.daily(a.mean);
    let acct = g.accts[a.acct].id.clone();
    for _ in 0..builds {
        let t = a.hours.time(&mut g.r, day);
        let mut c = ctx(g, a, t);
        let (call, ids) = calls::run_instances(&mut g.r, &acct, a.region, 1, "c6i.xlarge", t);
        compute(g, a, &c, call, 3, day);
        c.t += g.r.range(8 * MIN_MS, 15 * MIN_MS);
        compute(g, a, &c, calls::stop(&ids), 2, day);
        c.t += g.r.range(MIN_MS, 3 * MIN_MS);
        let name = format!("golden-{}", g.r.hex(8));
        let (img, ami) = calls::create_image(&mut g.r, &ids[0], &name);
        a.pools.images.push(ami);
        compute(g, a, &c, img, 4, day);
        c.t += g.r.range(6 * MIN_MS, 12 * MIN_MS);
        compute(g, a, &c, calls::terminate(&ids), 1, day);
    }
    if day % 7 == 4 {
        let t = a.hours.time(&mut g.r, day);
        let mut c = ctx(g, a, t);
        for _ in 0..g.r.range(1, 4) {
            let ami = if a.pools.images.len() > 4 {
                a.pools.images.remove(0)
            } else {
                calls::id(&mut g.r, "ami")
            };
            compute(g, a, &c, calls::deregister(&ami), 1, day);
            c.t += g.r.range(2_000, 20_000);
            let snap = calls::id(&mut g.r, "snap");
            compute(g, a, &c, calls::delete_snapshot(&snap), 0, day);
        }
    }
}

/// Nightly backups: snapshot each volume (and database), copy some to the DR region, delete
/// what left the retention period. AWS Backup does the same as a service.
pub fn backup_day(g: &mut Gen, a: &mut Actor, day: u32) {
    let n = g.r.daily(a.mean);
    let acct = g.accts[a.acct].id.clone();
    let dr = g.accts[a.acct].dr;
    let t0 = a.hours.time(&mut g.r, day);
    let mut c = ctx(g, a, t0);
    for _ in 0..n {
        c.t += g.r.range(1_000, 30_000);
        let op = *g.r.weighted(&a.mix);
        let mut call = calls::routine(&mut g.r, &mut a.pools, &acct, a.region, op, c.t);
        if op == Op::CopySnapDr {
            c.region = dr;
        }
        if g.r.chance(0.01) {
            call = call.failed("Client.RequestLimitExceeded", "Request limit exceeded.".into());
        }
        let reads = g.r.range(0, 2) as u32;
        compute(g, a, &c, call, reads, day);
        c.region = a.region;
    }
    // Retention: about as many deletions as creations, once the pools are full.
    let deletes = g.r.daily(a.mean * 0.9);
    for _ in 0..deletes {
        c.t += g.r.range(1_000, 20_000);
        let op = match a.mix.iter().any(|(o, _)| *o == Op::DbSnap) && g.r.chance(0.25) {
            true => Op::DelDbSnap,
            false if a.mix.iter().any(|(o, _)| *o == Op::Image) && g.r.chance(0.2) => Op::Dereg,
            false => Op::DelSnap,
        };
        let mut call = calls::routine(&mut g.r, &mut a.pools, &acct, a.region, op, c.t);
        if g.r.chance(0.02) {
            call = call.failed(
                "Client.InvalidSnapshot.InUse",
                "The snapshot is currently in use by an AMI.".into(),
            );
        }
        compute(g, a, &c, call, 0, day);
    }
}

/// The weekly share of DR snapshots (and now and then an AMI) with the same partner account,
/// last week's snapshot unshared.
pub fn share_day(g: &mut Gen, a: &mut Actor, me: usize, day: u32) {
    let acct = g.accts[a.acct].id.clone();
    if day % 7 != a.weekly.0 {
        if g.r.chance(0.5) {
            let t = a.hours.time(&mut g.r, day);
            let c = ctx(g, a, t);
            let n = calls::noise(&mut g.r, Noise::Ec2);
            super::emit(g, a, &c, n);
        }
        return;
    }
    let Some((partner, partner_id)) = a.partner.clone() else {
        return;
    };
    let minute = g.r.range(0, 30);
    let t = a.hours.at(&mut g.r, day, a.weekly.1, minute);
    let mut c = ctx(g, a, t);
    for _ in 0..(a.mean as u32) {
        let vol = calls::id(&mut g.r, "vol");
        let (snap_call, snap) = calls::create_snapshot(&mut g.r, &acct, &vol, "partner DR export", c.t);
        compute(g, a, &c, snap_call, 1, day);
        c.t += g.r.range(20 * MIN_MS, 40 * MIN_MS);
        compute(g, a, &c, calls::share_snapshot(&snap, &partner_id, true), 1, day);
        g.shares.push((me, partner, snap.clone(), c.region, c.t));
        if let Some(old) = a.pools.snapshots.first().cloned() {
            c.t += g.r.range(5_000, 60_000);
            compute(g, a, &c, calls::share_snapshot(&old, &partner_id, false), 0, day);
            a.pools.snapshots.remove(0);
        }
        a.pools.snapshots.push(snap);
    }
    if (day / 7) % 2 == 1 {
        c.t += g.r.range(MIN_MS, 10 * MIN_MS);
        let ami = calls::id(&mut g.r, "ami");
        compute(g, a, &c, calls::share_image(&ami, &partner_id), 1, day);
    }
}

/// Terraform: on some days one run, a burst of changes with many reads (the refresh).
pub fn iac_day(g: &mut Gen, a: &mut Actor, day: u32) {
    if !g.r.chance(if weekday(day) { a.weekend } else { 0.02 }) {
        return;
    }
    let n = g.r.daily(a.mean);
    let acct = g.accts[a.acct].id.clone();
    let t = a.hours.time(&mut g.r, day);
    let mut c = ctx(g, a, t);
    for _ in 0..g.r.range(10, 40) {
        c.t += g.r.range(200, 3_000);
        let call = calls::noise(&mut g.r, Noise::Ec2);
        super::emit(g, a, &c, call);
    }
    for _ in 0..n {
        c.t += g.r.range(2_000, 40_000);
        let op = *g.r.weighted(&a.mix);
        let call = calls::routine(&mut g.r, &mut a.pools, &acct, a.region, op, c.t);
        let reads = g.r.range(1, 4) as u32;
        compute(g, a, &c, call, reads, day);
    }
}

/// The cost scheduler stops tagged instances at 19:00 and starts them at 07:00 on weekdays.
pub fn scheduler_day(g: &mut Gen, a: &mut Actor, day: u32) {
    if !weekday(day) {
        return;
    }
    let fleet = a.pools.instances.clone();
    let groups: Vec<&[String]> = fleet.chunks(12).collect();
    for (hour, stop) in [(7, false), (19, true)] {
        let t = a.hours.at(&mut g.r, day, hour, 0);
        let mut c = ctx(g, a, t);
        for ids in &groups {
            c.t += g.r.range(500, 4_000);
            let call = if stop { calls::stop(ids) } else { calls::start(ids) };
            compute(g, a, &c, call, 1, day);
        }
    }
}

/// Humans: habitual work in office hours from the office (or home), trips with a hotel
/// network, on-call nights, and the console's many reads.
pub fn human_day(g: &mut Gen, a: &mut Actor, day: u32) {
    let acct = g.accts[a.acct].id.clone();
    for p in 0..a.people.len() {
        let person = &a.people[p];
        let on_trip = person.trip.filter(|(f, l, _, _)| (*f..=*l).contains(&day));
        let oncall = person.oncall.contains(&day);
        let works = if a.role == Role::Rare {
            person.days.contains(&day)
        } else if weekday(day) {
            g.r.chance(person.day_p)
        } else {
            g.r.chance(0.04)
        };
        if !works && !oncall {
            continue;
        }
        let mut hours = person.hours;
        let mut net = if g.r.chance(0.2) {
            person.home
        } else {
            *g.r.pick(&person.offices)
        };
        if let Some((_, _, hotel, shift)) = on_trip {
            net = hotel;
            hours.tz += shift;
        }
        let mut n = if works { g.r.daily(person.mean) } else { 0 };
        if oncall {
            hours = Hours {
                tz: hours.tz,
                from: 22,
                to: 27,
            };
            net = person.home;
            n = g.r.range(1, 5) as u32;
        }
        let console = person.console && g.r.chance(0.8);
        let session = person.name.clone();
        for _ in 0..n {
            let t = hours.time(&mut g.r, day);
            let c = Ctx {
                t,
                ip: host(&mut g.r, &net),
                ua: if console {
                    UA_CONSOLE.into()
                } else {
                    super::people::UA_CLI_HUMAN.into()
                },
                region: a.region,
                session: session.clone(),
                console,
            };
            human_call(g, a, &c, &acct, day);
        }
    }
}

fn human_call(g: &mut Gen, a: &mut Actor, c: &Ctx, acct: &str, day: u32) {
    let mut browse = clone_ctx(c);
    browse.t -= g.r.range(MIN_MS, 10 * MIN_MS);
    let kind = if c.console { Noise::Console } else { Noise::Ec2 };
    for _ in 0..g.r.range(1, 7) {
        browse.t += g.r.range(1_000, 40_000);
        let n = calls::noise(&mut g.r, kind);
        browse.ua = ua(&c.ua, n.name);
        super::emit(g, a, &browse, n);
    }
    let op = *g.r.weighted(&a.mix);
    let mut call = calls::routine(&mut g.r, &mut a.pools, acct, a.region, op, c.t);
    if g.r.chance(0.04) {
        call = call.dry_run();
    } else if g.r.chance(0.02) {
        call = call.failed(
            "Client.IncorrectInstanceState",
            "The instance is not in a state from which it can be modified.".into(),
        );
    }
    let reads = g.r.range(1, 4) as u32;
    compute(g, a, c, call, reads, day);
}

//! A principal's behaviour baseline: what it normally does, learned online from the events the
//! detector already sees, kept in the same stored state as its window.
//!
//! Design decisions:
//! - **Days, not events.** Each calendar day (UTC) keeps operation counts and points per
//!   operation type and the hours the principal was active, and ([`Peaks`]) its busiest hour
//!   per type. "Its largest day" and "the hours it works" are what an analyst compares with,
//!   and a day is a fixed 100-odd bytes whatever the volume, so the state stays bounded at any
//!   rate.
//! - **The baseline period excludes the event's own day.** A burst cannot raise its own bar,
//!   and the order events of one day arrive in does not change what is "new".
//! - **Things used, as day bitmasks.** Catalog rows, regions or resource groups, and share
//!   destinations are kept as hashes with the days they were used on (a 32-day bitmask back from
//!   the last use), so "used inside the last N days" is exact without a list of dates.
//! - **Bounded by construction.** At most [`MAX_DAYS`] days, [`MAX_OPS`] operations and
//!   [`MAX_PLACES`] scopes and destinations; the least recently used go first. Strings are never
//!   kept, only hashes.
//! - **Idempotent.** The window only records units it newly counts, so a re-delivered event
//!   never counts twice here either.

use crate::catalog::OpType;
use crate::profile::BaselineRule;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// Day slots kept: the longest baseline the tuning accepts (30 days) plus the current day.
pub const MAX_DAYS: usize = 31;
/// Days a sparse principal's history keeps before the latest, or the baseline period's if
/// longer: a weekly job's last four runs ([`Baseline::prune`], [`Baseline::schedule`]). Every
/// other reading of the days is of an event's baseline period (a late event's may reach a day
/// before the latest's period: kept with its peaks).
pub const HISTORY_DAYS: u32 = 28;

/// The oldest day kept after the latest day's.
fn history_floor(latest: i64, rule: &BaselineRule) -> i64 {
    day_of(latest) - i64::from(HISTORY_DAYS.max(rule.days))
}
/// Catalog rows remembered per principal (the catalog has about 100).
pub const MAX_OPS: usize = 64;
/// Regions / resource groups and share destinations remembered per principal.
pub const MAX_PLACES: usize = 16;
/// The longest baseline the tuning accepts, in days (a day bitmask holds 32).
pub const MAX_BASELINE_DAYS: u32 = 30;
/// Operation types, indexed by [`type_index`].
pub const TYPES: usize = 12;

/// Day number (days since the epoch, UTC) of a time.
pub fn day_of(t: i64) -> i64 {
    t.div_euclid(DAY_MS)
}

/// Hour of the day (UTC, 0..24) of a time.
pub fn hour_of(t: i64) -> u32 {
    (t.rem_euclid(DAY_MS) / 3_600_000) as u32
}

/// Index of an operation type in the per-type arrays.
pub fn type_index(t: OpType) -> usize {
    match t {
        OpType::Delete => 0,
        OpType::CreateOrModify => 1,
        OpType::Capture => 2,
        OpType::Generalize => 3,
        OpType::Deallocate => 4,
        OpType::ExtensionChange => 5,
        OpType::Share => 6,
        OpType::Exfil => 7,
        OpType::Impair => 8,
        OpType::Revert => 9,
        OpType::Exec => 10,
        OpType::Other => 11,
    }
}

/// Operation types in [`type_index`] order.
pub const ALL_TYPES: [OpType; TYPES] = [
    OpType::Delete,
    OpType::CreateOrModify,
    OpType::Capture,
    OpType::Generalize,
    OpType::Deallocate,
    OpType::ExtensionChange,
    OpType::Share,
    OpType::Exfil,
    OpType::Impair,
    OpType::Revert,
    OpType::Exec,
    OpType::Other,
];

/// Hash of a scope or destination as the baseline keeps it (case-folded).
pub fn place_hash(value: &str) -> u64 {
    xxh3_64(value.trim().to_ascii_lowercase().as_bytes())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Day {
    day: i64,
    /// Bit h: active during hour h (UTC).
    hours: u32,
    count: [u32; TYPES],
    points: [u32; TYPES],
}

/// The key of [`Baseline::record_snapshot_boot`] among the catalog rows' hashes (`u32`).
const SNAPSHOT_BOOT: u64 = 1 << 32;
/// The key of [`Baseline::record_snapshot_mount`], as [`SNAPSHOT_BOOT`].
const SNAPSHOT_MOUNT: u64 = SNAPSHOT_BOOT + 1;
/// The keys of [`Baseline::record_export`], one per [`length_class`], as [`SNAPSHOT_BOOT`].
const EXPORT_LENGTH: u64 = SNAPSHOT_BOOT + 16;
/// Length classes kept: up to 2^15 hours, past the API's longest grant.
const LENGTH_CLASSES: u32 = 16;
/// How many times the longest of the baseline period's exports (the top of its
/// [`length_class`]) an export's length must exceed to be new: a DR tool's exports of large
/// disks run a few times its usual hour.
pub const LONGER_EXPORT: u32 = 4;

/// An export's length class: the power of two of hours it reaches (1 h: 0, 2 h: 1, 3 to 4 h:
/// 2, 24 h: 5).
pub fn length_class(hours: u32) -> u32 {
    // Clamped first: a length past 2^31 hours has no next power of two in a u32.
    hours
        .clamp(1, 1 << (LENGTH_CLASSES - 1))
        .next_power_of_two()
        .trailing_zeros()
}

/// The day number of the same day of the month before `day`'s (its last day where that month
/// is shorter); `None` out of the calendar's range.
fn month_before(day: i64) -> Option<i64> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let date = epoch.checked_add_signed(chrono::TimeDelta::try_days(day)?)?;
    let before = date.checked_sub_months(chrono::Months::new(1))?;
    Some((before - epoch).num_days())
}

/// Days an export's length is remembered (and read) before the latest day's: the month its
/// key's days hold, so a backup's monthly full export of 8 hours sets the bar for the next.
pub const EXPORT_DAYS: i64 = 31;

/// Something the principal used, and on which days: bit i of `days` is day `last - i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Used {
    h: u64,
    last: i64,
    days: u32,
}

impl Used {
    fn mark(&mut self, day: i64) {
        if day > self.last {
            let shift = day - self.last;
            self.days = if shift >= 32 { 0 } else { self.days << shift };
            self.last = day;
            self.days |= 1;
        } else if self.last - day < 32 {
            self.days |= 1 << (self.last - day);
        }
    }

    /// First day of use still in the bitmask.
    fn first(&self) -> i64 {
        self.last - i64::from(31 - self.days.leading_zeros().min(31))
    }

    fn used_between(&self, from: i64, to: i64) -> bool {
        self.days_used_between(from, to) > 0
    }

    fn days_used_between(&self, from: i64, to: i64) -> u32 {
        self.days_between(from, to).count() as u32
    }

    /// The days of use from `from` to `to` (inclusive) the bitmask still holds, latest first.
    fn days_between(&self, from: i64, to: i64) -> impl Iterator<Item = i64> + '_ {
        (0..32i64)
            .filter(|i| self.days & (1 << i) != 0)
            .map(|i| self.last - i)
            .filter(move |&d| d >= from && d <= to)
    }
}

/// Did the principal use `h` (a catalog row, or a key past them) from `from` to `to`?
fn used_in(list: &[Used], h: u64, from: i64, to: i64) -> bool {
    list.iter().any(|u| u.h == h && u.used_between(from, to))
}

fn mark(list: &mut Vec<Used>, h: u64, day: i64, cap: usize) {
    if let Some(u) = list.iter_mut().find(|u| u.h == h) {
        u.mark(day);
        return;
    }
    if list.len() >= cap {
        let Some((i, oldest)) = list.iter().enumerate().min_by_key(|(_, u)| u.last) else {
            return;
        };
        if oldest.last > day {
            return;
        }
        list.remove(i);
    }
    list.push(Used {
        h,
        last: day,
        days: 1,
    });
}

/// The largest day of one operation type in the baseline period, and today so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Volume {
    /// Largest daily count in the baseline period.
    pub max_count: u32,
    /// Largest daily points in the baseline period.
    pub max_points: u32,
    /// Count on the event's day so far.
    pub today_count: u32,
    /// Points on the event's day so far.
    pub today_points: u32,
}

/// The busiest hour of each operation type on each day: the most units of the type the window
/// held within an hour of one of the day's events. A burst compressed into minutes hides inside
/// a busy principal's daily volume (a role that deletes 100 snapshots a day spread over 24
/// hours, then 200 in 40 minutes, stays under two and a half times its largest day), not inside
/// its hours. Counted from the window, so at most [`crate::window::MAX_UNITS`]: a `u8`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Peaks(Vec<Peak>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Peak {
    day: i64,
    count: [u8; TYPES],
}

impl Peaks {
    /// `count` units of `kind` within the hour up to `t`.
    pub fn record(&mut self, t: i64, kind: OpType, count: usize) {
        let day = day_of(t);
        let at = self.0.partition_point(|p| p.day < day);
        if self.0.get(at).is_none_or(|p| p.day != day) {
            if self.0.len() >= MAX_DAYS {
                if at == 0 {
                    return;
                }
                self.0.remove(0);
                return self.record(t, kind, count);
            }
            self.0.insert(
                at,
                Peak {
                    day,
                    count: [0; TYPES],
                },
            );
        }
        let c = &mut self.0[at].count[type_index(kind)];
        *c = (*c).max(count.min(usize::from(u8::MAX)) as u8);
    }

    /// Forget the days before `from`, the oldest [`Baseline::prune`] keeps: a day it keeps has
    /// its peaks, or a late event's baseline period would hold a day without them and its bar
    /// be unknown.
    pub fn prune(&mut self, from: i64) {
        self.0.retain(|p| p.day >= from);
    }

    /// The busiest hour of `kind` in the baseline period of `t`; `None` when a day the
    /// principal was active on in that period has no record (a state kept before hours were
    /// counted), so an unknown bar is never taken for zero.
    pub fn largest(&self, baseline: &Baseline, kind: OpType, t: i64, rule: &BaselineRule) -> Option<u32> {
        let i = type_index(kind);
        baseline.days_in(t, rule).try_fold(0u32, |m, d| {
            let p = self.0.iter().find(|p| p.day == d.day)?;
            Some(m.max(u32::from(p.count[i])))
        })
    }
}

/// What a principal normally does. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// First event ever counted (ms); `i64::MAX` before any.
    first_seen: i64,
    days: Vec<Day>,
    ops: Vec<Used>,
    scopes: Vec<Used>,
    destinations: Vec<Used>,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            first_seen: i64::MAX,
            days: Vec::new(),
            ops: Vec::new(),
            scopes: Vec::new(),
            destinations: Vec::new(),
        }
    }
}

impl Baseline {
    /// First event counted, if any (ms).
    pub fn first_seen(&self) -> Option<i64> {
        (self.first_seen != i64::MAX).then_some(self.first_seen)
    }

    /// The principal's first days: when it was first seen, and when `min_history_days` after
    /// that end (it is established from then on).
    pub fn first_days(&self, rule: &BaselineRule) -> Option<(i64, i64)> {
        let min = i64::from(rule.min_history_days) * DAY_MS;
        self.first_seen().map(|f| (f, f.saturating_add(min)))
    }

    /// Latest day with any activity.
    pub fn last_day(&self) -> Option<i64> {
        self.days.last().map(|d| d.day)
    }

    fn day_mut(&mut self, day: i64) -> Option<&mut Day> {
        let at = self.days.partition_point(|d| d.day < day);
        if self.days.get(at).is_none_or(|d| d.day != day) {
            if self.days.len() >= MAX_DAYS {
                if at == 0 {
                    // Older than every kept day: nothing to compare it with any more.
                    return None;
                }
                self.days.remove(0);
                return self.day_mut(day);
            }
            self.days.insert(
                at,
                Day {
                    day,
                    hours: 0,
                    count: [0; TYPES],
                    points: [0; TYPES],
                },
            );
        }
        self.days.get_mut(at)
    }

    /// Count one unit (a record and one resource) of an operation type at `t`.
    pub fn record_unit(&mut self, t: i64, kind: OpType, points: u32) {
        let i = type_index(kind);
        if let Some(d) = self.day_mut(day_of(t)) {
            d.count[i] = d.count[i].saturating_add(1);
            d.points[i] = d.points[i].saturating_add(points);
            d.hours |= 1 << hour_of(t);
        }
    }

    /// Take back a unit [`Baseline::record_unit`] counted, when the unit turns out to be
    /// another row's. A day no longer kept stays gone: nothing is created for it.
    pub fn unrecord_unit(&mut self, t: i64, kind: OpType, points: u32) {
        let i = type_index(kind);
        let day = day_of(t);
        if let Some(d) = self.days.iter_mut().find(|d| d.day == day) {
            d.count[i] = d.count[i].saturating_sub(1);
            d.points[i] = d.points[i].saturating_sub(points);
        }
    }

    /// Remember one newly counted event: when, which catalog row, where, shared to whom.
    pub fn record_event(&mut self, t: i64, op: u32, scope: &str, destinations: &[u64]) {
        self.first_seen = self.first_seen.min(t);
        let day = day_of(t);
        mark(&mut self.ops, u64::from(op), day, MAX_OPS);
        if !scope.is_empty() {
            mark(&mut self.scopes, place_hash(scope), day, MAX_PLACES);
        }
        for &h in destinations {
            mark(&mut self.destinations, h, day, MAX_PLACES);
        }
    }

    /// Forget what is older than the baseline period of the latest day, and return the oldest
    /// day kept. A sparse but recurring deleter's days (2 to [`SCHEDULE_DAYS`] in the period,
    /// the latest's included, deletes on one of them: a weekly janitor's) are kept
    /// [`HISTORY_DAYS`] (or the period, if longer) for its schedule ([`Self::schedule`]), which
    /// only its deletes are judged against. A busier one's schedule has its days in the period,
    /// and one seen once in it (a rare user, a monthly job) has none to keep: more days would
    /// grow their states for nothing (a replay holds every principal's).
    pub fn prune(&mut self, latest: i64, rule: &BaselineRule) -> i64 {
        let floor = day_of(latest) - i64::from(rule.days);
        let (recent, deletes) = self
            .days
            .iter()
            .filter(|d| d.day >= floor)
            .fold((0u32, false), |(n, del), d| {
                (n + 1, del || d.count[type_index(OpType::Delete)] > 0)
            });
        let from = if deletes && (2..=SCHEDULE_DAYS).contains(&recent) {
            history_floor(latest, rule)
        } else {
            floor
        };
        self.days.retain(|d| d.day >= from);
        for list in [&mut self.scopes, &mut self.destinations] {
            list.retain(|u| u.last >= floor);
        }
        let month = day_of(latest) - EXPORT_DAYS;
        self.ops
            .retain(|u| u.last >= floor || (u.h >= EXPORT_LENGTH && u.last >= month));
        from
    }

    /// The baseline period of an event at `t`: the `days` days before its own.
    fn period(t: i64, rule: &BaselineRule) -> (i64, i64) {
        let d = day_of(t);
        (d - i64::from(rule.days), d - 1)
    }

    fn days_in(&self, t: i64, rule: &BaselineRule) -> impl Iterator<Item = &Day> {
        let (from, to) = Self::period(t, rule);
        self.days.iter().filter(move |d| d.day >= from && d.day <= to)
    }

    /// The hours (bit h: hour h, UTC) of a principal that acts on a schedule, and its days:
    /// every day of its kept history before `t`'s but one at most, at least [`SCHEDULE_DAYS`]
    /// of them, falls within the same [`SCHEDULE_SPAN`] hours of the day. A nightly or weekly
    /// job's; read from every kept day ([`HISTORY_DAYS`]), not the baseline period's: a weekly
    /// job has two days in that. One day off the band (a rerun by hand, a run moved once, an
    /// earlier attack's) leaves the others' schedule, so one call at another hour does not
    /// blind it for four weeks.
    pub fn schedule(&self, t: i64) -> Option<(u32, u32)> {
        let today = day_of(t);
        let before = || self.days.iter().filter(move |d| d.day < today && d.hours != 0);
        // Without the day `skip` (none: every day).
        let band = |skip: i64| {
            let (n, hours) = before()
                .filter(|d| d.day != skip)
                .fold((0u32, 0u32), |(n, h), d| (n + 1, h | d.hours));
            (n >= SCHEDULE_DAYS && span(hours) <= SCHEDULE_SPAN).then_some((hours, n))
        };
        band(i64::MIN).or_else(|| before().find_map(|d| band(d.day)))
    }

    /// The weekday (day number mod 7) on which the principal uses catalog row `op`, if it keeps
    /// one, and on how many days it did. Every day of its use in the [`HISTORY_DAYS`] before
    /// `day` falls on the same weekday, at least [`SCHEDULE_DAYS`] of them; or all but one, at
    /// least one more. A weekly job's operation, read from the row's own days (a month of them,
    /// whatever the principal's other calls keep): a governance role that runs policies every
    /// day deletes snapshots on Sundays only. One day off it (a rerun by hand) leaves the others'
    /// weekday once they are four; a row used on two weekdays keeps none.
    pub fn weekday_of(&self, op: u32, day: i64) -> Option<(i64, u32)> {
        let u = self.ops.iter().find(|u| u.h == u64::from(op))?;
        let mut per = [0u32; 7];
        for d in u.days_between(day - i64::from(HISTORY_DAYS), day - 1) {
            per[d.rem_euclid(7) as usize] += 1;
        }
        let all: u32 = per.iter().sum();
        let (weekday, &most) = per.iter().enumerate().max_by_key(|&(_, n)| *n)?;
        let off = all - most;
        (most >= SCHEDULE_DAYS + off && off <= 1).then_some((weekday as i64, most))
    }

    /// Did the principal use catalog row `op` a month before `day` (the same day of the last
    /// month, or its last day where that month is shorter)? A monthly routine's day: a weekly
    /// job's row that also runs on the 1st of each month is on its schedule then.
    pub fn monthly(&self, op: u32, day: i64) -> bool {
        month_before(day).is_some_and(|m| used_in(&self.ops, u64::from(op), m, m))
    }

    /// Days with activity in the baseline period of `t`.
    pub fn active_days(&self, t: i64, rule: &BaselineRule) -> u32 {
        self.days_in(t, rule).count() as u32
    }

    /// Enough history to judge `t` against: first seen at least `min_history_days` before it.
    /// A principal silent for the whole baseline period is established with a thin history
    /// (nothing it does is familiar, so novelty weighs little and volume counts from zero): a
    /// person back from leave is not a new principal.
    pub fn established(&self, t: i64, rule: &BaselineRule) -> bool {
        let min = i64::from(rule.min_history_days) * DAY_MS;
        self.first_seen != i64::MAX && self.first_seen <= t.saturating_sub(min)
    }

    /// Largest day of an operation type in the baseline period of `t`, and the day of `t`.
    pub fn volume(&self, kind: OpType, t: i64, rule: &BaselineRule) -> Volume {
        let i = type_index(kind);
        let mut v = Volume::default();
        for d in self.days_in(t, rule) {
            v.max_count = v.max_count.max(d.count[i]);
            v.max_points = v.max_points.max(d.points[i]);
        }
        if let Some(d) = self.days.iter().find(|d| d.day == day_of(t)) {
            v.today_count = d.count[i];
            v.today_points = d.points[i];
        }
        v
    }

    /// Largest day of all operation types together in the baseline period of `t`, and the
    /// day of `t`: a burst spread over several types is still a burst. `except` leaves types
    /// out of every day.
    pub fn total_volume(&self, t: i64, rule: &BaselineRule, except: &[OpType]) -> Volume {
        let kept = |i: &usize| !except.iter().any(|k| type_index(*k) == *i);
        let sum = |d: &Day| {
            let of = |v: &[u32; TYPES]| (0..TYPES).filter(kept).map(|i| v[i]).sum::<u32>();
            (of(&d.count), of(&d.points))
        };
        let mut v = Volume::default();
        for d in self.days_in(t, rule) {
            let (c, p) = sum(d);
            v.max_count = v.max_count.max(c);
            v.max_points = v.max_points.max(p);
        }
        if let Some(d) = self.days.iter().find(|d| d.day == day_of(t)) {
            (v.today_count, v.today_points) = sum(d);
        }
        v
    }

    /// Hours (bit h = hour h UTC) the principal was active in the baseline period of `t`.
    pub fn usual_hours(&self, t: i64, rule: &BaselineRule) -> u32 {
        self.days_in(t, rule).fold(0, |m, d| m | d.hours)
    }

    fn knows(list: &[Used], h: u64, t: i64, rule: &BaselineRule) -> bool {
        let (from, to) = Self::period(t, rule);
        used_in(list, h, from, to)
    }

    /// Did the principal use this catalog row in the baseline period of `t`?
    pub fn knows_operation(&self, op: u32, t: i64, rule: &BaselineRule) -> bool {
        Self::knows(&self.ops, u64::from(op), t, rule)
    }

    /// Remember an export the principal asked for on the day of `t`, `hours` long, by its
    /// [`length_class`]. Kept with the catalog rows, under keys no row's hash can take.
    pub fn record_export(&mut self, t: i64, hours: u32) {
        let key = EXPORT_LENGTH + u64::from(length_class(hours));
        mark(&mut self.ops, key, day_of(t), MAX_OPS);
    }

    /// The longest [`length_class`] of the exports the principal asked for in the
    /// [`EXPORT_DAYS`] before `t`'s day (not only the baseline period: a monthly full backup's
    /// longer export is routine), if it asked for any.
    pub fn longest_export(&self, t: i64) -> Option<u32> {
        let day = day_of(t);
        (0..LENGTH_CLASSES).rev().find(|&c| {
            used_in(
                &self.ops,
                EXPORT_LENGTH + u64::from(c),
                day - EXPORT_DAYS,
                day - 1,
            )
        })
    }

    /// Remember that a machine booted from a disk the principal made from a snapshot on the
    /// day of `t` ([`crate::window::Aggregate::booted_from_snapshot`]). Kept with the catalog
    /// rows, under a key no row's hash (32 bits) can take.
    pub fn record_snapshot_boot(&mut self, t: i64) {
        mark(&mut self.ops, SNAPSHOT_BOOT, day_of(t), MAX_OPS);
    }

    /// Did it boot a machine from a snapshot's disk in the baseline period of `t` (a weekly
    /// refresh of a test machine from production's snapshot: its routine)?
    pub fn knows_snapshot_boot(&self, t: i64, rule: &BaselineRule) -> bool {
        Self::knows(&self.ops, SNAPSHOT_BOOT, t, rule)
    }

    /// Remember that a disk the principal made from a snapshot was attached to a machine made for
    /// reading it on the day of `t` ([`crate::window::Aggregate::mounted_from_snapshot`]).
    pub fn record_snapshot_mount(&mut self, t: i64) {
        mark(&mut self.ops, SNAPSHOT_MOUNT, day_of(t), MAX_OPS);
    }

    /// Did it do that in the baseline period of `t` (a DR drill's test machines, a backup
    /// product's restore workers: its routine)?
    pub fn knows_snapshot_mount(&self, t: i64, rule: &BaselineRule) -> bool {
        Self::knows(&self.ops, SNAPSHOT_MOUNT, t, rule)
    }

    /// Catalog rows the principal took up in the baseline period of `t` after its first day: how
    /// often it does something new. An admin's repertoire grows; an automation role's does not.
    pub fn operations_adopted(&self, t: i64, rule: &BaselineRule) -> usize {
        let (from, to) = Self::period(t, rule);
        let first_day = day_of(self.first_seen);
        self.ops
            .iter()
            // Catalog rows only: the keys past their `u32` hashes (a snapshot boot, an
            // export's length) are not operations taken up.
            .filter(|u| u.h < SNAPSHOT_BOOT)
            .map(Used::first)
            .filter(|&d| d > first_day && d >= from && d <= to)
            .count()
    }

    /// Did it act in this region / resource group in the baseline period of `t`?
    pub fn knows_scope(&self, scope: &str, t: i64, rule: &BaselineRule) -> bool {
        Self::knows(&self.scopes, place_hash(scope), t, rule)
    }

    /// Did it share to this destination (a [`place_hash`]) in the baseline period of `t`?
    pub fn knows_destination(&self, h: u64, t: i64, rule: &BaselineRule) -> bool {
        self.destination_days(h, t, rule) > 0
    }

    /// On how many days of the baseline period of `t` it used this destination.
    pub fn destination_days(&self, h: u64, t: i64, rule: &BaselineRule) -> u32 {
        let (from, to) = Self::period(t, rule);
        self.destinations
            .iter()
            .find(|u| u.h == h)
            .map_or(0, |u| u.days_used_between(from, to))
    }
}

/// Days of history, at least, that make a schedule ([`Baseline::schedule`]): a weekly job's
/// third run.
pub const SCHEDULE_DAYS: u32 = 3;
/// Consecutive hours of the day, at most, a schedule's days fall within: a job's start, and
/// its run past the hour. An hourly job, a busy one or an event-driven one whose few runs fell
/// at 14:00, 16:00 and 18:00 keeps none.
pub const SCHEDULE_SPAN: u32 = 2;

/// The fewest consecutive hours of the day (around midnight too) that hold all of `hours`
/// (bit h: hour h): 1 for one hour, 2 for 23:00 and 00:00, 0 for none.
pub fn span(hours: u32) -> u32 {
    let hours = hours & 0xff_ffff;
    if hours == 0 {
        return 0;
    }
    // The longest run of idle hours around the clock: the day twice over, read from an active
    // hour, holds every run whole.
    let first = hours.trailing_zeros();
    let (mut idle, mut run) = (0, 0);
    for h in first..first + 24 {
        if hours & (1 << (h % 24)) == 0 {
            run += 1;
            idle = idle.max(run);
        } else {
            run = 0;
        }
    }
    24 - idle
}

/// Hours from `h` to the nearest of `hours` (bit h: hour h) around the clock; 24 when none.
pub fn hours_away(hours: u32, h: u32) -> u32 {
    (0..24)
        .filter(|x| hours & (1 << x) != 0)
        .map(|x: u32| {
            let d = x.abs_diff(h % 24);
            d.min(24 - d)
        })
        .min()
        .unwrap_or(24)
}

/// Is hour `h` outside the usual hours, allowing an hour either side (people start early and
/// jobs drift)? A principal with no usual hours yet has nothing to be outside of.
pub fn unusual_hour(usual: u32, h: u32) -> bool {
    if usual == 0 {
        return false;
    }
    let near = [(h + 23) % 24, h, (h + 1) % 24];
    near.iter().all(|&x| usual & (1 << x) == 0)
}

/// The usual hours as ranges an analyst reads: `09:00-17:00, 22:00-23:00 UTC`.
pub fn describe_hours(usual: u32) -> String {
    if usual == 0 {
        return "no usual hours yet".into();
    }
    if usual == (1 << 24) - 1 {
        return "active at every hour".into();
    }
    // Start from an inactive hour so a range across midnight stays whole.
    let start = (0..24).find(|h| usual & (1 << h) == 0).unwrap_or(0);
    let mut ranges = Vec::new();
    let mut open: Option<u32> = None;
    for k in 1..=24 {
        let h = (start + k) % 24;
        let on = usual & (1 << h) != 0;
        match (on, open) {
            (true, None) => open = Some(h),
            (false, Some(s)) => {
                ranges.push(format!("{s:02}:00-{h:02}:00"));
                open = None;
            }
            _ => {}
        }
    }
    format!("usually active {} UTC", ranges.join(", "))
}

/// What is new for a principal in its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NoveltyKind {
    /// A catalog row it did not use in the baseline period (value: the catalog id).
    Operation,
    /// An hour it is never active at (value: `HH:00-HH:00` UTC).
    Hour,
    /// A region or resource group it did not act in (value: the scope).
    Scope,
    /// A network it has not used lately (value: the /24, /48 or address).
    Network,
    /// An export asked for more than four times as long as any of the baseline period's
    /// ([`LONGER_EXPORT`]; value: its hours and theirs).
    ExportLength,
}

/// One new thing, kept while it is inside the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Novelty {
    /// What is new.
    pub kind: NoveltyKind,
    /// Which (clipped).
    pub value: String,
    /// Latest event time it was seen at (ms).
    pub t: i64,
}

/// New things kept per window.
pub const MAX_NOVEL: usize = 8;

/// Remember a new thing, once per (kind, value), newest kept when full. Values are compared as
/// kept (clipped) and without case: Azure spells one resource group several ways in one
/// incident, and each spelling took a slot of the few the window keeps.
pub fn note(list: &mut Vec<Novelty>, kind: NoveltyKind, value: &str, t: i64) {
    let value = crate::event::clip(value, 128);
    if let Some(n) = list
        .iter_mut()
        .find(|n| n.kind == kind && n.value.eq_ignore_ascii_case(&value))
    {
        n.t = n.t.max(t);
        return;
    }
    if list.len() >= MAX_NOVEL {
        let Some((i, oldest)) = list.iter().enumerate().min_by_key(|(_, n)| n.t) else {
            return;
        };
        if oldest.t > t {
            return;
        }
        list.remove(i);
    }
    list.push(Novelty { kind, value, t });
}

impl Baseline {
    /// What about one event is new against the baseline: the catalog row (when it carries at
    /// least the rule's points), the hour, the scope, the network. Nothing for a principal without enough
    /// history: it meets the plain thresholds instead.
    pub fn novelties(&self, ev: &Observed<'_>, rule: &BaselineRule) -> Vec<(NoveltyKind, String)> {
        let t = ev.t;
        let mut out = Vec::new();
        if !self.established(t, rule) {
            return out;
        }
        if ev.points >= rule.new_operation_min_points && !self.knows_operation(ev.op, t, rule) {
            out.push((NoveltyKind::Operation, ev.catalog_id.to_string()));
        }
        if unusual_hour(self.usual_hours(t, rule), hour_of(t)) {
            let h = hour_of(t);
            out.push((NoveltyKind::Hour, format!("{h:02}:00-{:02}:00", (h + 1) % 24)));
        }
        if !ev.scope.is_empty() && !self.knows_scope(ev.scope, t, rule) {
            out.push((NoveltyKind::Scope, ev.scope.to_string()));
        }
        if let Some(net) = ev.new_network {
            out.push((NoveltyKind::Network, net.to_string()));
        }
        if let Some(hours) = ev.export_hours {
            // The top of its class: 8 h for a longest of 5 to 8, so a 24-hour export after an
            // 8-hour one is not new, where it is after an hour's.
            let usual = self.longest_export(t).map(|c| 1u32 << c);
            if let Some(usual) = usual.filter(|&u| hours > u.saturating_mul(LONGER_EXPORT)) {
                out.push((
                    NoveltyKind::ExportLength,
                    format!("{hours} h, where its longest in {EXPORT_DAYS} days was {usual} h or less"),
                ));
            }
        }
        out
    }
}

/// One event as the baseline sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Event time (ms).
    pub t: i64,
    /// Catalog row hash.
    pub op: u32,
    /// Catalog row id.
    pub catalog_id: &'a str,
    /// The event's points.
    pub points: u32,
    /// Region / resource group.
    pub scope: &'a str,
    /// The event's network, when the unfamiliar-IP memory has not seen it lately.
    pub new_network: Option<&'a str>,
    /// The hours an export asks for, if it is one that says.
    pub export_hours: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: BaselineRule = BaselineRule::DEFAULT;
    const D0: i64 = 20_000 * DAY_MS;

    /// One resource group in two spellings, or one long value noted twice, is one novelty: a
    /// slot each would push out the others the window keeps.
    #[test]
    fn a_novelty_is_noted_once_whatever_its_case_or_length() {
        let mut list = Vec::new();
        note(&mut list, NoveltyKind::Scope, "RG-AKS-RESEARCH-EUS", 1);
        note(&mut list, NoveltyKind::Scope, "rg-aks-research-eus", 2);
        let long = "x".repeat(300);
        note(&mut list, NoveltyKind::Network, &long, 3);
        note(&mut list, NoveltyKind::Network, &long, 4);
        note(&mut list, NoveltyKind::Network, "rg-aks-research-eus", 5);
        let seen: Vec<(NoveltyKind, i64)> = list.iter().map(|n| (n.kind, n.t)).collect();
        assert_eq!(
            seen,
            [
                (NoveltyKind::Scope, 2),
                (NoveltyKind::Network, 4),
                (NoveltyKind::Network, 5)
            ]
        );
        assert_eq!(list[0].value, "RG-AKS-RESEARCH-EUS");
        assert!(list[1].value.len() <= 128);
    }

    /// The busiest hour is known only when every active day of the period has one: a state
    /// kept before hours were counted has no bar, rather than a bar of zero.
    #[test]
    fn the_busiest_hour_covers_every_active_day_of_the_period_or_is_unknown() {
        let mut b = Baseline::default();
        let mut p = Peaks::default();
        for day in 0..5 {
            let t = D0 + day * DAY_MS + 3_600_000;
            b.record_unit(t, OpType::Delete, 3);
            b.record_event(t, 7, "", &[]);
            p.record(t, OpType::Delete, day as usize + 1);
            p.record(t + 60_000, OpType::Delete, 2);
        }
        let t = D0 + 5 * DAY_MS;
        assert_eq!(
            p.largest(&b, OpType::Delete, t, &RULE),
            Some(5),
            "day 4's 5, not its later 2"
        );
        assert_eq!(p.largest(&b, OpType::Capture, t, &RULE), Some(0));
        assert_eq!(
            p.largest(&b, OpType::Delete, D0 + 3 * DAY_MS, &RULE),
            Some(3),
            "today is not in the period"
        );
        // Active on day 5 with no busiest hour recorded (a state from before hours were counted).
        b.record_unit(t, OpType::Delete, 3);
        assert_eq!(p.largest(&b, OpType::Delete, D0 + 6 * DAY_MS, &RULE), None);
        p.record(t, OpType::Delete, 300);
        assert_eq!(
            p.largest(&b, OpType::Delete, D0 + 6 * DAY_MS, &RULE),
            Some(255),
            "saturates"
        );
        p.prune(day_of(D0) + 2);
        assert_eq!(p.0.len(), 4, "days 0 and 1 forgotten");
        p.prune(day_of(D0) + 20);
        assert_eq!(p, Peaks::default(), "older than the days kept");
    }

    #[test]
    fn the_period_excludes_the_events_own_day() {
        let mut b = Baseline::default();
        for day in 0..10 {
            for _ in 0..(day + 1) {
                b.record_unit(D0 + day * DAY_MS + 10 * 3_600_000, OpType::Delete, 3);
            }
            b.record_event(D0 + day * DAY_MS, 7, "eu-west-1", &[]);
        }
        let t = D0 + 9 * DAY_MS + 11 * 3_600_000;
        let v = b.volume(OpType::Delete, t, &RULE);
        assert_eq!((v.max_count, v.max_points), (9, 27), "days 0..8, not day 9");
        assert_eq!((v.today_count, v.today_points), (10, 30));
        assert!(b.established(t, &RULE));
        assert!(!b.established(D0 + 2 * DAY_MS, &RULE), "first seen 2 days before");
        assert!(b.established(D0 + 3 * DAY_MS, &RULE), "first seen 3 days before");
        assert!(
            b.established(D0 + 40 * DAY_MS, &RULE),
            "silent for the whole period: established, with a thin history"
        );
        assert_eq!(b.active_days(D0 + 40 * DAY_MS, &RULE), 0);
        assert!(b.knows_operation(7, t, &RULE));
        assert!(!b.knows_operation(8, t, &RULE));
        assert!(b.knows_scope("EU-WEST-1", t, &RULE));
        // Used only on day 0: known on day 14, forgotten on day 15.
        let mut c = Baseline::default();
        c.record_event(D0, 9, "", &[place_hash("444455556666")]);
        assert!(c.knows_destination(place_hash("444455556666"), D0 + 14 * DAY_MS, &RULE));
        assert!(!c.knows_destination(place_hash("444455556666"), D0 + 15 * DAY_MS, &RULE));
        assert!(!c.knows_destination(place_hash("444455556666"), D0 + 3_600_000, &RULE));
    }

    #[test]
    fn a_schedule_is_a_narrow_band_of_hours_on_three_days_or_more() {
        let bits = |hs: &[u32]| hs.iter().fold(0u32, |m, h| m | 1 << h);
        assert_eq!(span(0), 0);
        assert_eq!(span(bits(&[4])), 1);
        assert_eq!(span(bits(&[4, 5])), 2);
        assert_eq!(span(bits(&[23, 0])), 2, "around midnight");
        assert_eq!(span(bits(&[14, 16, 18])), 5);
        assert_eq!(hours_away(bits(&[4]), 13), 9);
        assert_eq!(hours_away(bits(&[23]), 2), 3, "around midnight");
        assert_eq!(hours_away(0, 2), 24);
        let mut b = Baseline::default();
        let at = |d: i64, h: i64| D0 + d * DAY_MS + h * 3_600_000;
        // Weekly at 04:00: two runs are no schedule yet, three are.
        for d in [0, 7] {
            b.record_unit(at(d, 4), OpType::Delete, 3);
        }
        assert_eq!(b.schedule(at(10, 13)), None);
        b.record_unit(at(14, 4), OpType::Delete, 3);
        assert_eq!(b.schedule(at(17, 13)), Some((bits(&[4]), 3)));
        // The day's own activity is not its history.
        assert_eq!(b.schedule(at(14, 13)), None);
        // Kept past the baseline period: the first of the four runs is 25 days back.
        b.record_unit(at(21, 5), OpType::Delete, 3);
        b.prune(at(25, 0), &RULE);
        assert_eq!(b.schedule(at(25, 13)), Some((bits(&[4, 5]), 4)));
        // One run at 09:00 leaves the others' schedule; a second one ends it.
        b.record_unit(at(26, 9), OpType::Delete, 3);
        assert_eq!(b.schedule(at(27, 13)), Some((bits(&[4, 5]), 4)));
        b.record_unit(at(27, 9), OpType::Delete, 3);
        assert_eq!(b.schedule(at(28, 13)), None);
        // A longer baseline period keeps its days.
        let long = BaselineRule { days: 30, ..RULE };
        assert_eq!(b.prune(at(29, 0), &long), day_of(at(0, 4)) - 1);
        assert_eq!(b.days.first().map(|d| d.day), Some(day_of(at(0, 4))));
        // A busy principal's schedule has its days in the period: nothing older is kept.
        let mut busy = Baseline::default();
        for d in 0..20 {
            busy.record_unit(at(d, 4), OpType::Delete, 3);
        }
        assert_eq!(busy.prune(at(20, 0), &RULE), day_of(at(6, 0)));
        assert_eq!(busy.days.len(), 14);
        assert_eq!(busy.schedule(at(20, 13)), Some((bits(&[4]), 14)));
    }

    #[test]
    fn hours_and_their_description() {
        let usual = (9..17).fold(0u32, |m, h| m | (1 << h));
        assert!(!unusual_hour(usual, 8) && !unusual_hour(usual, 17));
        assert!(unusual_hour(usual, 3) && unusual_hour(usual, 19));
        assert!(!unusual_hour(0, 3), "no history, nothing unusual");
        assert_eq!(describe_hours(usual), "usually active 09:00-17:00 UTC");
        let night = (1 << 23) | 1 | 2;
        assert_eq!(describe_hours(night), "usually active 23:00-02:00 UTC");
        assert!(!unusual_hour(night, 0) && unusual_hour(night, 12));
    }

    #[test]
    fn bounded_whatever_the_history() {
        let mut b = Baseline::default();
        for day in 0..400i64 {
            let t = D0 + day * DAY_MS;
            for k in 0..300u32 {
                b.record_unit(t + i64::from(k) * 1000, OpType::Delete, 3);
                b.record_event(t, k, &format!("rg-{k}"), &[u64::from(k)]);
            }
            b.prune(t, &RULE);
        }
        assert!(b.days.len() <= MAX_DAYS && b.ops.len() <= MAX_OPS);
        assert!(b.scopes.len() <= MAX_PLACES && b.destinations.len() <= MAX_PLACES);
        // An event older than every kept day is not recorded, and does not panic.
        b.record_unit(i64::MIN, OpType::Other, u32::MAX);
        b.record_unit(i64::MAX, OpType::Other, u32::MAX);
        assert!(b.days.len() <= MAX_DAYS);
    }

    /// A row's weekday: three days of it and no other, or four and one other. Three and one
    /// other, or two, make none; a day's own use is not its history.
    #[test]
    fn a_rows_weekday_is_most_of_its_days_of_the_month() {
        let with = |days: &[i64]| {
            let mut b = Baseline::default();
            for &d in days {
                b.record_event(D0 + d * DAY_MS, 7, "", &[]);
            }
            b
        };
        let sunday = |b: &Baseline, day: i64| b.weekday_of(7, day4(day));
        fn day4(d: i64) -> i64 {
            day_of(D0) + d
        }
        assert_eq!(sunday(&with(&[0, 7, 14]), 19), Some((day4(0).rem_euclid(7), 3)));
        assert_eq!(sunday(&with(&[0, 7, 14, 21, 24]), 26).map(|w| w.1), Some(4));
        assert_eq!(sunday(&with(&[0, 7, 14, 17]), 19), None, "three and one other");
        assert_eq!(sunday(&with(&[7, 14]), 19), None, "two");
        assert_eq!(
            sunday(&with(&[0, 7, 14]), 14),
            None,
            "day 14 itself is not history"
        );
        assert_eq!(
            sunday(&with(&[0, 7, 14]), 29),
            None,
            "day 0 is more than 28 days back"
        );
        assert_eq!(with(&[0, 7, 14]).weekday_of(8, day4(19)), None, "another row");
    }

    /// A month before is the same day of the month before, or that month's last day.
    #[test]
    fn a_month_before_is_the_same_day_of_the_month_before() {
        let day = |y, m, d| {
            (chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
                - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
            .num_days()
        };
        assert_eq!(month_before(day(2026, 11, 15)), Some(day(2026, 10, 15)));
        assert_eq!(month_before(day(2026, 3, 31)), Some(day(2026, 2, 28)));
        assert_eq!(month_before(day(2026, 1, 1)), Some(day(2025, 12, 1)));
        assert_eq!(month_before(i64::MAX), None);
        let mut b = Baseline::default();
        b.record_event(day(2026, 10, 30) * DAY_MS, 7, "", &[]);
        assert!(b.monthly(7, day(2026, 11, 30)));
        assert!(!b.monthly(7, day(2026, 11, 29)));
        assert!(!b.monthly(8, day(2026, 11, 30)), "another row");
    }

    /// Lengths by their power of two of hours, whatever the number; the longest is read from
    /// the month before, and kept that long.
    #[test]
    fn an_exports_length_class_and_the_longest_of_the_month() {
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 8, 9, 24, 1 << 20, u32::MAX].map(length_class),
            [0, 0, 1, 2, 2, 3, 3, 4, 5, 15, 15]
        );
        let mut b = Baseline::default();
        b.record_export(D0, 8);
        for d in 1..30 {
            let t = D0 + d * DAY_MS;
            b.record_export(t, 1);
            b.prune(t, &RULE);
        }
        let t = D0 + 30 * DAY_MS;
        assert_eq!(b.longest_export(t), Some(3), "day 0's 8 hours, 30 days back");
        assert_eq!(b.longest_export(D0 + 32 * DAY_MS), Some(0), "gone after 31 days");
        assert_eq!(Baseline::default().longest_export(t), None);
        assert_eq!(b.operations_adopted(t, &RULE), 0, "lengths are not operations");
    }
}

//! Change windows: when an account or subscription expects infrastructure changes.
//!
//! A weekly schedule in the account's own time zone, plus dated exceptions: `open` adds a
//! one-off window (an emergency change), `closed` removes the weekly schedule for a period (a
//! change freeze). Decisions:
//! - Local wall-clock times in an IANA zone, because that is how change boards write them; the
//!   zone database is bundled, so a decision never depends on the host's tzdata.
//! - Windows may not overlap: an overlap is almost always a typo in a schedule (a `22:00-06:00`
//!   slot repeated on consecutive days), and refusing it keeps "which window was this" unique.
//! - Exceptions win over the weekly schedule, `closed` over `open`.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

const MIN_PER_DAY: u32 = 1440;
const MIN_PER_WEEK: u32 = 7 * MIN_PER_DAY;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Where an event falls against an account's change windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowPosition {
    /// Inside a declared window.
    Inside,
    /// Outside every declared window.
    Outside,
}

/// The compiled change windows of one scope.
#[derive(Debug, Clone)]
pub struct ChangeWindows {
    /// IANA time zone name, as written.
    pub time_zone: String,
    tz: TimeZone,
    /// Minute-of-week intervals `[start, end)`, Monday 00:00 = 0; a slot that crosses the end of
    /// the week is stored as two intervals.
    weekly: Vec<(u32, u32)>,
    open: Vec<(DateTime, DateTime)>,
    closed: Vec<(DateTime, DateTime)>,
    /// Points added to each event outside every window.
    pub outside_points: u32,
}

/// A weekly slot as written: `{ days = ["sat", "sun"], start = "22:00", end = "04:00" }`.
/// `end` at or before `start` means the slot runs past midnight into the next day.
#[derive(Debug, Clone)]
pub struct WeeklySlot {
    /// Three-letter day names.
    pub days: Vec<String>,
    /// `HH:MM`, local.
    pub start: String,
    /// `HH:MM`, local.
    pub end: String,
}

/// A dated period as written: `YYYY-MM-DDTHH:MM` (local) or a whole day `YYYY-MM-DD`.
#[derive(Debug, Clone)]
pub struct Dated {
    /// Start, inclusive.
    pub start: String,
    /// End: exclusive for a date-time, inclusive (the whole day) for a date.
    pub end: String,
}

/// A schedule error: the key below the schedule's table, and why.
pub type ScheduleError = (String, String);

/// `HH:MM` (or `H:MM`) as minutes since midnight; `24:00` is the day's end.
fn minute_of_day(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    // Digits only, and few: an hour of many digits overflowed `h * 60` (found by the tuning
    // fuzz target), and `parse` would also take a sign.
    let digits = |x: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&x.len()) && x.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && h * 60 + m <= MIN_PER_DAY).then_some(h * 60 + m)
}

fn parse_local(s: &str, end: bool) -> Option<DateTime> {
    let s = s.trim();
    if s.contains('T') {
        return s.parse::<DateTime>().ok();
    }
    let d: Date = s.parse().ok()?;
    let d = if end { d.tomorrow().ok()? } else { d };
    Some(d.to_datetime(jiff::civil::Time::midnight()))
}

fn overlaps(a: &(u32, u32), b: &(u32, u32)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// The weekly slots as minute ranges of the week (a slot past Sunday midnight split in two),
/// refused where two overlap.
fn weekly_slots(weekly: &[WeeklySlot]) -> Result<Vec<(u32, u32)>, ScheduleError> {
    let mut slots: Vec<((u32, u32), String)> = Vec::new();
    for (i, w) in weekly.iter().enumerate() {
        let key = |k: &str| format!("weekly[{i}].{k}");
        let start = minute_of_day(&w.start)
            .filter(|&m| m < MIN_PER_DAY)
            .ok_or_else(|| (key("start"), format!("`{}` is not HH:MM", w.start)))?;
        let end = minute_of_day(&w.end).ok_or_else(|| (key("end"), format!("`{}` is not HH:MM", w.end)))?;
        if w.days.is_empty() {
            return Err((key("days"), "name at least one day (mon..sun)".into()));
        }
        let len = if end > start {
            end - start
        } else {
            end + MIN_PER_DAY - start
        };
        for d in &w.days {
            let day = DAYS
                .iter()
                .position(|x| x.eq_ignore_ascii_case(d.trim()))
                .ok_or_else(|| {
                    (
                        key("days"),
                        format!("`{d}` is not one of mon, tue, wed, thu, fri, sat, sun"),
                    )
                })? as u32;
            let s = day * MIN_PER_DAY + start;
            let e = s + len;
            let label = format!(
                "weekly[{i}] {} {}-{}",
                DAYS[day as usize],
                w.start.trim(),
                w.end.trim()
            );
            if e > MIN_PER_WEEK {
                slots.push(((s, MIN_PER_WEEK), label.clone()));
                slots.push(((0, e - MIN_PER_WEEK), label));
            } else {
                slots.push(((s, e), label));
            }
        }
    }
    for (i, a) in slots.iter().enumerate() {
        if let Some(b) = slots[..i].iter().find(|b| overlaps(&a.0, &b.0)) {
            return Err(("weekly".into(), format!("{} overlaps {}", a.1, b.1)));
        }
    }
    Ok(slots.into_iter().map(|(s, _)| s).collect())
}

/// Dated open or closed windows under `name`, each ending after it starts, none overlapping.
fn dated(name: &str, list: &[Dated]) -> Result<Vec<(DateTime, DateTime)>, ScheduleError> {
    let mut out: Vec<(DateTime, DateTime)> = Vec::new();
    for (i, d) in list.iter().enumerate() {
        let key = |k: &str| format!("{name}[{i}].{k}");
        let bad = |v: &str| format!("`{v}` is not YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time)");
        let s = parse_local(&d.start, false).ok_or_else(|| (key("start"), bad(&d.start)))?;
        let e = parse_local(&d.end, true).ok_or_else(|| (key("end"), bad(&d.end)))?;
        if e <= s {
            return Err((
                key("end"),
                format!("`{}` is not after start `{}`", d.end, d.start),
            ));
        }
        if let Some(j) = out.iter().position(|o| s < o.1 && o.0 < e) {
            return Err((format!("{name}[{i}]"), format!("overlaps {name}[{j}]")));
        }
        out.push((s, e));
    }
    Ok(out)
}

impl ChangeWindows {
    /// Compile and validate a schedule. Errors name the key under the schedule's table.
    pub fn new(
        time_zone: &str,
        weekly: &[WeeklySlot],
        open: &[Dated],
        closed: &[Dated],
        outside_points: u32,
    ) -> Result<ChangeWindows, ScheduleError> {
        let tz = TimeZone::get(time_zone.trim()).map_err(|_| {
            (
                "time_zone".to_string(),
                format!("`{time_zone}` is not an IANA time zone (like `Europe/Paris` or `UTC`)"),
            )
        })?;
        Ok(ChangeWindows {
            time_zone: time_zone.trim().to_string(),
            tz,
            weekly: weekly_slots(weekly)?,
            open: dated("open", open)?,
            closed: dated("closed", closed)?,
            outside_points,
        })
    }

    /// Where an event time (epoch ms) falls. A time outside the representable range is outside.
    pub fn position(&self, time_ms: i64) -> WindowPosition {
        let Ok(ts) = Timestamp::from_millisecond(time_ms) else {
            return WindowPosition::Outside;
        };
        let local = self.tz.to_datetime(ts);
        let within = |list: &[(DateTime, DateTime)]| list.iter().any(|(s, e)| *s <= local && local < *e);
        if within(&self.closed) {
            return WindowPosition::Outside;
        }
        if within(&self.open) {
            return WindowPosition::Inside;
        }
        let minute = local.weekday().to_monday_zero_offset() as u32 * MIN_PER_DAY
            + local.hour() as u32 * 60
            + local.minute() as u32;
        if self.weekly.iter().any(|&(s, e)| s <= minute && minute < e) {
            WindowPosition::Inside
        } else {
            WindowPosition::Outside
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(days: &[&str], start: &str, end: &str) -> WeeklySlot {
        WeeklySlot {
            days: days.iter().map(|s| s.to_string()).collect(),
            start: start.into(),
            end: end.into(),
        }
    }

    fn ms(rfc: &str) -> i64 {
        rfc.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn weekly_slots_follow_the_local_zone_and_cross_midnight() {
        let w = ChangeWindows::new("Europe/Paris", &[slot(&["sat"], "22:00", "04:00")], &[], &[], 2).unwrap();
        // 2026-11-28 is a Saturday; Paris is UTC+1 in winter.
        assert_eq!(w.position(ms("2026-11-28T21:30:00Z")), WindowPosition::Inside);
        assert_eq!(w.position(ms("2026-11-29T02:59:00Z")), WindowPosition::Inside);
        assert_eq!(w.position(ms("2026-11-29T03:00:00Z")), WindowPosition::Outside);
        assert_eq!(w.position(ms("2026-11-28T20:59:00Z")), WindowPosition::Outside);
        // Summer time: UTC+2.
        assert_eq!(w.position(ms("2026-07-04T20:30:00Z")), WindowPosition::Inside);
        // Sunday night wraps into Monday morning across the week boundary.
        let w = ChangeWindows::new("UTC", &[slot(&["sun"], "23:00", "01:00")], &[], &[], 1).unwrap();
        assert_eq!(w.position(ms("2026-11-30T00:30:00Z")), WindowPosition::Inside);
        assert_eq!(w.position(ms("2026-11-30T01:00:00Z")), WindowPosition::Outside);
    }

    #[test]
    fn exceptions_open_and_close_windows() {
        let d = |s: &str, e: &str| Dated {
            start: s.into(),
            end: e.into(),
        };
        let w = ChangeWindows::new(
            "America/New_York",
            &[slot(&["tue", "thu"], "09:00", "17:00")],
            &[d("2026-12-26T10:00", "2026-12-26T12:00")],
            &[d("2026-12-22", "2026-12-24")],
            1,
        )
        .unwrap();
        // Tuesday 2026-12-15 10:00 EST is 15:00Z.
        assert_eq!(w.position(ms("2026-12-15T15:00:00Z")), WindowPosition::Inside);
        // Frozen: Tuesday 2026-12-22 and Thursday 2026-12-24 (the whole end day).
        assert_eq!(w.position(ms("2026-12-22T15:00:00Z")), WindowPosition::Outside);
        assert_eq!(w.position(ms("2026-12-24T15:00:00Z")), WindowPosition::Outside);
        // A Saturday opened for an emergency change.
        assert_eq!(w.position(ms("2026-12-26T16:00:00Z")), WindowPosition::Inside);
        assert_eq!(w.position(ms("2026-12-26T17:00:00Z")), WindowPosition::Outside);
    }

    #[test]
    fn bad_schedules_name_the_key() {
        let err = |r: Result<ChangeWindows, ScheduleError>| r.unwrap_err().0;
        assert_eq!(
            err(ChangeWindows::new("Mars/Olympus", &[], &[], &[], 1)),
            "time_zone"
        );
        assert_eq!(
            err(ChangeWindows::new(
                "UTC",
                &[slot(&["mon"], "25:00", "26:00")],
                &[],
                &[],
                1
            )),
            "weekly[0].start"
        );
        // An hour of many digits: `h * 60` overflowed (a panic in debug builds; in release,
        // 71582789 * 60 wraps to 44, which read as 00:44). A sign is no digit either.
        for bad in ["00000002032286375:00", "71582789:00", "+1:00", "1:5", "01:005"] {
            assert_eq!(
                err(ChangeWindows::new(
                    "UTC",
                    &[slot(&["mon"], bad, "23:00")],
                    &[],
                    &[],
                    1
                )),
                "weekly[0].start",
                "{bad}"
            );
        }
        assert!(ChangeWindows::new("UTC", &[slot(&["mon"], "9:30", "24:00")], &[], &[], 1).is_ok());
        assert_eq!(
            err(ChangeWindows::new(
                "UTC",
                &[slot(&["funday"], "01:00", "02:00")],
                &[],
                &[],
                1
            )),
            "weekly[0].days"
        );
        // Monday 22:00-06:00 runs into Tuesday's 05:00 slot.
        let two = [slot(&["mon"], "22:00", "06:00"), slot(&["tue"], "05:00", "07:00")];
        assert_eq!(err(ChangeWindows::new("UTC", &two, &[], &[], 1)), "weekly");
        let d = |s: &str, e: &str| Dated {
            start: s.into(),
            end: e.into(),
        };
        let overlapping = [d("2026-12-01", "2026-12-03"), d("2026-12-03T10:00", "2026-12-04")];
        assert_eq!(
            err(ChangeWindows::new("UTC", &[], &overlapping, &[], 1)),
            "open[1]"
        );
        assert_eq!(
            err(ChangeWindows::new(
                "UTC",
                &[],
                &[],
                &[d("2026-12-05", "2026-12-01")],
                1
            )),
            "closed[0].end"
        );
    }
}

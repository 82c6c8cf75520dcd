//! The open finding of one principal: what it last reported, so an escalation updates the same
//! finding instead of raising a new alert, and routine activity after it stays quiet.
//!
//! Kept in the stored state with the window (see [`crate::window::WindowState`]); decided on by
//! [`crate::decision`]. Types only, so the window can hold it without depending on decisions.

use crate::alert::Tier;
use serde::{Deserialize, Serialize};

/// Criticals remembered per finding (distinct catalog row and destination pairs).
pub const MAX_CRITICALS: usize = 8;

/// One finding, open while its principal keeps acting within the window of its last report, or
/// in its principal's first days ([`Incident::open_at`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// `finding_info.uid`: deterministic (profile, key and the event that opened it).
    pub uid: String,
    /// When it was opened (event time, ms).
    pub opened: i64,
    /// Time of its last report (ms), or of a critical it had reported, repeated within two
    /// windows of its opening ([`crate::decision`]).
    pub last: i64,
    /// Reports so far (1: created, then one per update).
    pub count: u32,
    /// Highest tier reported.
    pub tier: Tier,
    /// Operations in the window at the last report.
    pub operations: u32,
    /// Risk in the window at the last report.
    pub risk: u32,
    /// Operation types with points at the last report (bit per type index).
    pub types: u16,
    /// Criticals reported (hash of catalog row and destinations).
    pub criticals: Vec<u32>,
}

impl Incident {
    /// Still open at `t`: the principal acted within `window_ms` of the last report, or the
    /// finding opened in its principal's first days and `t` is still in them (`first_days`:
    /// when the principal was first seen, and when those days end; the decision narrows this,
    /// [`Incident::held_at`]). A newcomer's first days are one incident: the same work on each
    /// of them updates one finding on growth, where a finding a day would repeat what the first
    /// one said.
    pub fn open_at(&self, t: i64, window_ms: i64, first_days: Option<(i64, i64)>) -> bool {
        t.saturating_sub(self.last) <= window_ms || self.held_at(t, first_days)
    }

    /// Opened in its principal's first days, which still last at `t`. [`crate::decision`] holds
    /// such a finding open only for work that is not a critical, and while its operations could
    /// still double.
    pub fn held_at(&self, t: i64, first_days: Option<(i64, i64)>) -> bool {
        first_days.is_some_and(|(from, until)| self.opened >= from && t < until)
    }

    /// Remember a critical, keeping at most [`MAX_CRITICALS`].
    pub fn add_critical(&mut self, disc: u32) {
        if !self.criticals.contains(&disc) {
            if self.criticals.len() >= MAX_CRITICALS {
                self.criticals.remove(0);
            }
            self.criticals.push(disc);
        }
    }
}

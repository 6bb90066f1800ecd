//! The CVM aggregate's state (spec 9.2) and how events change it (9.3).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::events::{CvmEvent, ReportType};
use super::rules::{
    still_blocks, MAX_RECENT_REPORTS_PER_TYPE, MAX_SCORE, MIN_SCORE, REPORT_WINDOW, REPOSITION_WINDOW, VOTE_WINDOW,
};
use super::IdentityRef;
use crate::kippenstummel::geo::Position;

/// One cigarette vending machine. Serialized (camelCase) as the snapshot;
/// the original's snapshot fields come first, with the same names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Cvm {
    pub id: String,
    pub longitude: f64,
    pub latitude: f64,
    pub score: i32,
    pub imported: bool,
    /// Newest last; at most [`MAX_RECENT_REPORTS_PER_TYPE`] per type.
    pub recent_reports: Vec<RecentReport>,
    pub marked_for_deletion: bool,
    pub marked_for_deletion_at: Option<DateTime<Utc>>,
    pub removed: bool,
    /// Number of applied events; 0 means the machine does not exist.
    pub version: u64,
    /// Not in the original's state, which kept no identities and asked its
    /// lagging read models instead (bug 12). These hold, per identity
    /// reference, the time of its last vote, report and reposition here, so
    /// the 7-day repeat rules are decided against the event log itself.
    pub recent_voters: RecentActivity,
    pub recent_reporters: RecentActivity,
    pub recent_editors: RecentActivity,
}

/// An entry of `recentReports`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentReport {
    #[serde(rename = "type")]
    pub report_type: ReportType,
    pub timestamp: DateTime<Utc>,
}

/// The time of the latest action per identity reference. Entries older than
/// the window (measured from the newest recorded action) are dropped, so the
/// map holds only identities that can still be blocked: the snapshot stays
/// small and erasable references do not linger in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecentActivity(BTreeMap<IdentityRef, DateTime<Utc>>);

impl RecentActivity {
    /// Records that `identity` acted `at`, dropping entries that no longer
    /// block anyone at `at`.
    pub fn record(&mut self, identity: &str, at: DateTime<Utc>, window: TimeDelta) {
        self.0.retain(|_, last| still_blocks(*last, at, window));
        let last = self.0.entry(identity.to_owned()).or_insert(at);
        *last = (*last).max(at);
    }

    /// True when `identity` acted within `window` before `now`.
    pub fn blocks(&self, identity: &str, now: DateTime<Utc>, window: TimeDelta) -> bool {
        self.0
            .get(identity)
            .is_some_and(|last| still_blocks(*last, now, window))
    }

    /// The latest action of `identity`, if it is still kept.
    pub fn last(&self, identity: &str) -> Option<DateTime<Utc>> {
        self.0.get(identity).copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Cvm {
    /// True once the machine has been registered or imported.
    pub fn exists(&self) -> bool {
        self.version > 0
    }

    pub fn position(&self) -> Position {
        Position::new(self.longitude, self.latitude)
    }

    fn set_position(&mut self, position: Position) {
        self.longitude = position.longitude;
        self.latitude = position.latitude;
    }

    /// Number of `recentReports` of one type.
    pub fn recent_report_count(&self, report_type: ReportType) -> usize {
        self.recent_reports
            .iter()
            .filter(|r| r.report_type == report_type)
            .count()
    }

    /// Replay rules of spec 9.3; every event counts one version.
    pub(super) fn apply_event(&mut self, event: CvmEvent) {
        self.version += 1;
        match event {
            CvmEvent::Registered(e) => {
                self.id = e.cvm_id;
                self.set_position(e.position);
                self.score = 0;
                self.imported = false;
            }
            CvmEvent::Imported(e) => {
                self.id = e.cvm_id;
                self.set_position(e.position);
                self.score = e.initial_score.unwrap_or(0);
                self.imported = true;
            }
            CvmEvent::Upvoted(e) => {
                self.score = (self.score + e.impact).min(MAX_SCORE);
                if let Some(at) = e.voted_at {
                    self.recent_voters.record(&e.voter_identity, at, VOTE_WINDOW);
                }
            }
            CvmEvent::Downvoted(e) => {
                self.score = (self.score - e.impact).max(MIN_SCORE);
                if let Some(at) = e.voted_at {
                    self.recent_voters.record(&e.voter_identity, at, VOTE_WINDOW);
                }
            }
            CvmEvent::Repositioned(e) => {
                self.set_position(e.repositioned_position);
                if let Some(at) = e.repositioned_at {
                    self.recent_editors.record(&e.editor_identity, at, REPOSITION_WINDOW);
                }
            }
            CvmEvent::Reported(e) => {
                self.add_recent_report(RecentReport {
                    report_type: e.report_type,
                    timestamp: e.timestamp,
                });
                self.recent_reporters
                    .record(&e.reporter_identity, e.timestamp, REPORT_WINDOW);
            }
            CvmEvent::Synchronized(e) => {
                self.set_position(e.position.over(self.position()));
                // Bug 2: the original replaced the score whenever the field
                // was not `undefined`, so a stored `null` nulled the score.
                // Intended: absent or null keeps it.
                if let Some(score) = e.forced_score {
                    self.score = score;
                }
            }
            CvmEvent::Removed(_) => {
                self.removed = true;
                self.clear_deletion_mark();
            }
            // The payload's position is not applied and the score is kept (9.3).
            CvmEvent::Restored(_) => self.removed = false,
            CvmEvent::DeletionMarked(e) => {
                self.marked_for_deletion = true;
                self.marked_for_deletion_at = Some(e.marked_at);
            }
            CvmEvent::DeletionUnmarked(_) => self.clear_deletion_mark(),
        }
    }

    /// Appends a report; an 11th of its type drops the oldest of that type.
    fn add_recent_report(&mut self, report: RecentReport) {
        let report_type = report.report_type;
        self.recent_reports.push(report);
        if self.recent_report_count(report_type) > MAX_RECENT_REPORTS_PER_TYPE {
            if let Some(oldest) = self.recent_reports.iter().position(|r| r.report_type == report_type) {
                self.recent_reports.remove(oldest);
            }
        }
    }

    fn clear_deletion_mark(&mut self) {
        self.marked_for_deletion = false;
        self.marked_for_deletion_at = None;
    }
}

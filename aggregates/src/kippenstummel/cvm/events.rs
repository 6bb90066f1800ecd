//! CVM events (spec 9.3 and 21).
//!
//! Names and payload field names are a contract: an existing event log must
//! be migratable. Each payload struct serializes with exactly the original's
//! camelCase field names; the enum is externally tagged with the original's
//! event name, so a stored payload is `{"cvm-registered": {"cvmId": …, …}}`
//! (cqrs-es deserializes events from the payload alone, so the tag must be in
//! it). Migrating an original document `{event, payload}` is therefore
//! `{<event>: <payload>}`, plus BSON dates turned into RFC 3339 strings.
//!
//! Optional fields the original stores as `null` when absent (`initialScore`,
//! `forcedScore`, the parts of a synchronized position) are written as `null`
//! and read back from `null` or a missing field alike.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::IdentityRef;
use crate::kippenstummel::geo::Position;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CvmEvent {
    #[serde(rename = "cvm-registered")]
    Registered(CvmRegistered),
    #[serde(rename = "cvm-imported")]
    Imported(CvmImported),
    #[serde(rename = "cvm-upvoted")]
    Upvoted(CvmVoted),
    #[serde(rename = "cvm-downvoted")]
    Downvoted(CvmVoted),
    #[serde(rename = "cvm-repositioned")]
    Repositioned(CvmRepositioned),
    #[serde(rename = "cvm-reported")]
    Reported(CvmReported),
    #[serde(rename = "cvm-synchronized")]
    Synchronized(CvmSynchronized),
    #[serde(rename = "cvm-removed")]
    Removed(CvmRemoved),
    #[serde(rename = "cvm-restored")]
    Restored(CvmRestored),
    #[serde(rename = "cvm-deletion-marked")]
    DeletionMarked(CvmDeletionMarked),
    #[serde(rename = "cvm-deletion-unmarked")]
    DeletionUnmarked(CvmDeletionUnmarked),
}

impl DomainEvent for CvmEvent {
    fn event_type(&self) -> String {
        match self {
            CvmEvent::Registered(_) => "cvm-registered",
            CvmEvent::Imported(_) => "cvm-imported",
            CvmEvent::Upvoted(_) => "cvm-upvoted",
            CvmEvent::Downvoted(_) => "cvm-downvoted",
            CvmEvent::Repositioned(_) => "cvm-repositioned",
            CvmEvent::Reported(_) => "cvm-reported",
            CvmEvent::Synchronized(_) => "cvm-synchronized",
            CvmEvent::Removed(_) => "cvm-removed",
            CvmEvent::Restored(_) => "cvm-restored",
            CvmEvent::DeletionMarked(_) => "cvm-deletion-marked",
            CvmEvent::DeletionUnmarked(_) => "cvm-deletion-unmarked",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// `cvm-registered`: a user registered a new machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvmRegistered {
    pub cvm_id: String,
    pub position: Position,
    pub creator_identity: IdentityRef,
}

/// `cvm-imported`: an import created a new machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvmImported {
    pub cvm_id: String,
    pub position: Position,
    /// `null` when the import gave no score (the machine then starts at 0).
    #[serde(default)]
    pub initial_score: Option<i32>,
}

/// Payload of `cvm-upvoted` and `cvm-downvoted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvmVoted {
    pub cvm_id: String,
    pub voter_identity: IdentityRef,
    pub impact: i32,
    /// Not in the original's event. Added because the aggregate itself
    /// enforces one vote per identity per 7 days (the original asked its
    /// lagging `votes` read model, which let rapid double votes both count:
    /// bug 12), and apply() may only use what the events carry. Absent in
    /// migrated events, which therefore do not block a new vote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voted_at: Option<DateTime<Utc>>,
}

/// `cvm-repositioned`: an editor moved the machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvmRepositioned {
    pub cvm_id: String,
    pub editor_identity: IdentityRef,
    pub former_position: Position,
    pub repositioned_position: Position,
    /// Not in the original's event; added for the aggregate's own "one
    /// reposition per editor per 7 days" rule, for the same reason as
    /// [`CvmVoted::voted_at`]. Absent in migrated events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repositioned_at: Option<DateTime<Utc>>,
}

/// `cvm-reported`: a user reported a problem with the machine. Its
/// `timestamp` also drives the "one report per identity per 7 days" rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvmReported {
    pub cvm_id: String,
    pub reporter_identity: IdentityRef,
    #[serde(rename = "type")]
    pub report_type: ReportType,
    pub timestamp: DateTime<Utc>,
}

/// `cvm-synchronized`: an import met this (not removed) machine and
/// overwrote the given position parts and, if given, the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvmSynchronized {
    pub cvm_id: String,
    pub position: PartialPosition,
    /// `null` when the import gave no score: the score is then kept. The
    /// original set the score to `null` on replay (bug 2); see `apply`.
    #[serde(default)]
    pub forced_score: Option<i32>,
}

/// `cvm-removed`: an admin or the cleanup removed the machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvmRemoved {
    pub cvm_id: String,
    pub position: Position,
}

/// `cvm-restored`: an import met this removed machine. The position is
/// informational; replay does not apply it (spec 9.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvmRestored {
    pub cvm_id: String,
    pub position: Position,
}

/// `cvm-deletion-marked`: the score fell to the deletion threshold or below.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvmDeletionMarked {
    pub cvm_id: String,
    pub marked_at: DateTime<Utc>,
}

/// `cvm-deletion-unmarked`: the score rose above the deletion threshold again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvmDeletionUnmarked {
    pub cvm_id: String,
}

/// What a report says is wrong with the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportType {
    Missing,
    Spam,
    Inactive,
    Inaccessible,
}

/// A position of which each part may be absent (`cvm-synchronized`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialPosition {
    #[serde(default)]
    pub longitude: Option<f64>,
    #[serde(default)]
    pub latitude: Option<f64>,
}

impl PartialPosition {
    /// `base` with the parts this position has replaced.
    pub fn over(self, base: Position) -> Position {
        Position {
            longitude: self.longitude.unwrap_or(base.longitude),
            latitude: self.latitude.unwrap_or(base.latitude),
        }
    }
}

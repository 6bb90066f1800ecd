//! CVM commands (spec 9.4). Time (`now`) and new ids come in with the
//! command: the aggregate reads no clock and makes no ids.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::ReportType;
use super::IdentityRef;
use crate::kippenstummel::geo::Position;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CvmCommand {
    /// A user registers a new machine (9.4.1, "no machine nearby"). The
    /// service reserves the spot (no other machine within 50 m) and turns a
    /// registration next to an existing machine into an [`CvmCommand::Upvote`]
    /// with [`VoteOrigin::NearbyRegistration`] on that machine instead.
    Register {
        cvm_id: String,
        position: Position,
        creator: IdentityRef,
        /// The registration throttle of 9.5, computed by the service (it
        /// needs read models and credibility).
        throttled: bool,
    },
    /// An import creates a new machine (9.4.7, "none nearby").
    Import {
        cvm_id: String,
        position: Position,
        /// Must lie in [−10, 10]; `None` starts the machine at 0.
        score: Option<i32>,
    },
    /// 9.4.2.
    Upvote {
        voter: IdentityRef,
        origin: VoteOrigin,
        now: DateTime<Utc>,
    },
    /// 9.4.2.
    Downvote {
        voter: IdentityRef,
        voter_position: Position,
        now: DateTime<Utc>,
    },
    /// 9.4.3.
    Report {
        reporter: IdentityRef,
        reporter_position: Position,
        report_type: ReportType,
        now: DateTime<Utc>,
    },
    /// 9.4.4.
    Reposition {
        editor: IdentityRef,
        editor_position: Position,
        new_position: Position,
        /// The repositioning throttle of 9.5, computed by the service.
        throttled: bool,
        now: DateTime<Utc>,
    },
    /// An admin removes the machine (9.4.5, KMC path).
    Remove,
    /// The cleanup removes a machine that has been marked for deletion for
    /// longer than the grace period (9.4.8 as intended: the original's query
    /// never selected anything, bug 1). The aggregate re-checks the mark and
    /// its age, so a lagging read model cannot remove a machine that has
    /// recovered in the meantime.
    RemoveForCleanup { now: DateTime<Utc> },
    /// 9.4.6 (no endpoint in the original; kept for completeness).
    Restore,
    /// An import met this machine (9.4.7, "found"): overwrite the given
    /// position parts and score, or restore it when removed.
    Synchronize {
        longitude: Option<f64>,
        latitude: Option<f64>,
        /// Must lie in [−10, 10]; `None` keeps the score.
        score: Option<i32>,
        now: DateTime<Utc>,
    },
}

/// Where an upvote comes from, which decides whether the voter's distance is
/// checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum VoteOrigin {
    /// A vote from a user standing here: must be within 50 m of the machine.
    At(Position),
    /// A registration within 50 m of this machine (9.4.1 step 4): the
    /// service's spatial check already placed the user, and the original
    /// checks no distance on this path.
    NearbyRegistration,
}

//! The CVM constants of spec 9.1 and the small pure predicates built on them.

use chrono::{DateTime, TimeDelta, Utc};

use crate::kippenstummel::geo::{km, Position};

/// Lowest score a machine can have (`MIN_CVM_SCORE`).
pub const MIN_SCORE: i32 = -10;
/// Highest score a machine can have (`MAX_CVM_SCORE`).
pub const MAX_SCORE: i32 = 10;
/// Score change of one accepted vote (`DEFAULT_CVM_VOTE_IMPACT`).
pub const VOTE_IMPACT: i32 = 1;
/// A score at or below this marks the machine for deletion (`MARKED_FOR_DELETION_THRESHOLD`).
pub const DELETION_THRESHOLD: i32 = -8;

/// Farthest a voter, reporter or editor may stand from the machine, in km (`NEARBY_CVM_RADIUS`).
pub const NEARBY_RADIUS_KM: f64 = 0.05;
/// Farthest one reposition may move the machine, in km (`NEARBY_REPOSITION_RADIUS`: 25 m; the original's
/// comment says metres but it compares km).
pub const REPOSITION_RADIUS_KM: f64 = 0.025;

/// One vote per identity and machine in this window (`CVM_VOTE_DELAY`).
pub const VOTE_WINDOW: TimeDelta = TimeDelta::days(7);
/// One report per identity and machine in this window (`CVM_REPORT_DELAY`).
pub const REPORT_WINDOW: TimeDelta = TimeDelta::days(7);
/// One reposition per editor and machine in this window (`CVM_REPOSITION_DELAY`).
pub const REPOSITION_WINDOW: TimeDelta = TimeDelta::days(7);
/// A machine marked for deletion longer than this is removed by the cleanup
/// (`CVM_SCORE_BELOW_DELETE_THRESHOLD_PERIOD`).
pub const CLEANUP_GRACE_PERIOD: TimeDelta = TimeDelta::days(7);

/// `recentReports` keeps at most this many entries per report type.
pub const MAX_RECENT_REPORTS_PER_TYPE: usize = 10;

/// True when `b` is at most `radius_km` from `a`. A NaN distance (non-finite
/// coordinates) is *not* within reach, unlike the original's `km > radius`
/// test, which lets NaN through.
pub fn within(a: Position, b: Position, radius_km: f64) -> bool {
    km(a, b) <= radius_km
}

/// True when `score` is a score a machine may hold.
pub fn is_valid_score(score: i32) -> bool {
    (MIN_SCORE..=MAX_SCORE).contains(&score)
}

/// True for a WGS84 position with finite coordinates in range (the bounds of spec 9.9).
pub fn is_valid_position(position: Position) -> bool {
    is_valid_longitude(position.longitude) && is_valid_latitude(position.latitude)
}

pub fn is_valid_longitude(longitude: f64) -> bool {
    longitude.is_finite() && (-180.0..=180.0).contains(&longitude)
}

pub fn is_valid_latitude(latitude: f64) -> bool {
    latitude.is_finite() && (-90.0..=90.0).contains(&latitude)
}

/// True when something done at `last` still blocks a repeat at `now`. The
/// window is inclusive (`last ≥ now − window`), like the original's `$gte`
/// query on `createdAt`.
pub fn still_blocks(last: DateTime<Utc>, now: DateTime<Utc>, window: TimeDelta) -> bool {
    last >= now - window
}

//! Why a CVM command was refused.
//!
//! The original raised plain errors for several of these, which surfaced as
//! 500 `INTERNAL_ERROR` (bug 17). Typed variants let the HTTP layer answer
//! with a 4xx instead; the codes the original used are noted per variant.

use crate::kippenstummel::geo::Position;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CvmError {
    /// The aggregate has no events (404 `NOT_FOUND_ERROR`).
    #[error("no such cigarette vending machine")]
    NotFound,
    /// Register or Import on an id that already has events. The service
    /// makes a fresh id for both, so this means a duplicate command.
    #[error("the cigarette vending machine already exists")]
    AlreadyExists,
    /// The user stands more than 50 m from the machine (403 `OUT_OF_REACH_ERROR`).
    #[error("the cigarette vending machine is out of reach")]
    OutOfReach,
    /// A reposition would move the machine more than 25 m (409 `ALTERATION_CONFLICT_ERROR`).
    #[error("the new position is too far from the current one")]
    AlterationConflict,
    /// The throttle computed by the service said no, or the editor already
    /// repositioned this machine within 7 days (429 `THROTTLED_ERROR`).
    #[error("too many changes, try again later")]
    Throttled,
    /// Vote, report, reposition or remove on a removed machine (500 in the original).
    #[error("the cigarette vending machine has been removed")]
    Removed,
    /// Restore on a machine that is not removed (500 in the original).
    #[error("the cigarette vending machine has not been removed")]
    NotRemoved,
    /// An import or synchronisation score outside [−10, 10].
    #[error("score {0} is outside [-10, 10]")]
    ScoreOutOfRange(i32),
    /// A machine position that is not a finite WGS84 coordinate. The HTTP
    /// layer validates user input first; this guards the unvalidated file
    /// import path (spec 13.1) and keeps NaN out of the state.
    #[error("invalid position (longitude {}, latitude {})", .0.longitude, .0.latitude)]
    InvalidPosition(Position),
    /// Cleanup of a machine that is not marked for deletion, or not for
    /// longer than the grace period (the read model the cleanup selected it
    /// from lags behind).
    #[error("the cigarette vending machine is not due for cleanup")]
    NotDueForCleanup,
}

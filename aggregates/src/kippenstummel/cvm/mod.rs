//! The CVM (cigarette vending machine) aggregate (spec 9, 19, 21).
//!
//! - `commands`: what callers ask for; `now` and new ids come with them.
//! - `decide`: the checks of 9.4 in the spec's order, yielding events.
//! - `events`: the event contract (names and camelCase payloads of 21).
//! - `state`: the state of 9.2 and the replay rules of 9.3.
//! - `rules`: the constants of 9.1 and small predicates.
//!
//! Departures from the original, each fixing a flagged bug:
//! - The 7-day "one vote / report / reposition per identity per machine"
//!   rules are decided by the aggregate from its own events instead of a
//!   lagging read model (bug 12); votes and repositions carry a new optional
//!   time field for it.
//! - A synchronisation without score keeps the score on replay (bug 2).
//! - Domain refusals are typed errors, not plain 500s (bug 17).
//! - Cleanup removes machines marked for deletion over 7 days ago (bug 1) and
//!   re-checks that here.
//!
//! Left to the service: the "no machine within 50 m" rule across machines
//! (spatial reservation, which also turns a registration next to a machine
//! into an upvote) and the throttling of 9.5 (an input flag here).

mod commands;
mod decide;
mod error;
mod events;
pub mod rules;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{CvmCommand, VoteOrigin};
pub use error::CvmError;
pub use events::{
    CvmDeletionMarked, CvmDeletionUnmarked, CvmEvent, CvmImported, CvmRegistered, CvmRemoved, CvmReported,
    CvmRepositioned, CvmRestored, CvmSynchronized, CvmVoted, PartialPosition, ReportType,
};
pub use state::{Cvm, RecentActivity, RecentReport};

/// An opaque, erasable token standing for one identity, stable per identity
/// and chosen by the service. The aggregate never sees raw identities.
pub type IdentityRef = String;

crate::decided_aggregate!(Cvm, "cvm", CvmCommand, CvmEvent, CvmError);

//! Given-events / when-command / then-events tests of the CVM aggregate, and
//! replay and serde tests. Shared fixtures live here.

mod lifecycle;
mod registration;
mod replay;
mod reports;
mod repositioning;
mod serde_contract;
mod votes;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;

use super::rules::*;
use super::*;
use crate::kippenstummel::geo::Position;

type CvmTest = TestFramework<Cvm>;

const CVM_ID: &str = "4f3c2a9e-8d1b-4c6a-9e7f-0a1b2c3d4e5f";
const CREATOR: &str = "ref-creator";
const ALICE: &str = "ref-alice";
const BOB: &str = "ref-bob";

/// Metres per degree of latitude on the 6371 km sphere of `geo::km`.
const METRES_PER_DEGREE_LATITUDE: f64 = 111_194.926_644_558_74;

fn test() -> CvmTest {
    CvmTest::with(())
}

/// Where the test machine stands (the original's test fixture, Karlsruhe).
fn machine() -> Position {
    Position::new(8.40395, 49.0092)
}

/// A position `metres` north of the machine.
fn north(metres: f64) -> Position {
    Position::new(
        machine().longitude,
        machine().latitude + metres / METRES_PER_DEGREE_LATITUDE,
    )
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

fn seconds(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn registered() -> CvmEvent {
    CvmEvent::Registered(CvmRegistered {
        cvm_id: CVM_ID.to_owned(),
        position: machine(),
        creator_identity: CREATOR.to_owned(),
    })
}

fn imported(score: Option<i32>) -> CvmEvent {
    CvmEvent::Imported(CvmImported {
        cvm_id: CVM_ID.to_owned(),
        position: machine(),
        initial_score: score,
    })
}

fn voted(voter: &str, at: Option<DateTime<Utc>>) -> CvmVoted {
    CvmVoted {
        cvm_id: CVM_ID.to_owned(),
        voter_identity: voter.to_owned(),
        impact: 1,
        voted_at: at,
    }
}

fn upvoted(voter: &str, at: DateTime<Utc>) -> CvmEvent {
    CvmEvent::Upvoted(voted(voter, Some(at)))
}

fn downvoted(voter: &str, at: DateTime<Utc>) -> CvmEvent {
    CvmEvent::Downvoted(voted(voter, Some(at)))
}

fn reported(reporter: &str, report_type: ReportType, at: DateTime<Utc>) -> CvmEvent {
    CvmEvent::Reported(CvmReported {
        cvm_id: CVM_ID.to_owned(),
        reporter_identity: reporter.to_owned(),
        report_type,
        timestamp: at,
    })
}

fn repositioned(editor: &str, from: Position, to: Position, at: DateTime<Utc>) -> CvmEvent {
    CvmEvent::Repositioned(CvmRepositioned {
        cvm_id: CVM_ID.to_owned(),
        editor_identity: editor.to_owned(),
        former_position: from,
        repositioned_position: to,
        repositioned_at: Some(at),
    })
}

fn synchronized(longitude: Option<f64>, latitude: Option<f64>, forced_score: Option<i32>) -> CvmEvent {
    CvmEvent::Synchronized(CvmSynchronized {
        cvm_id: CVM_ID.to_owned(),
        position: PartialPosition { longitude, latitude },
        forced_score,
    })
}

fn removed() -> CvmEvent {
    CvmEvent::Removed(CvmRemoved {
        cvm_id: CVM_ID.to_owned(),
        position: machine(),
    })
}

fn restored(position: Position) -> CvmEvent {
    CvmEvent::Restored(CvmRestored {
        cvm_id: CVM_ID.to_owned(),
        position,
    })
}

fn deletion_marked(at: DateTime<Utc>) -> CvmEvent {
    CvmEvent::DeletionMarked(CvmDeletionMarked {
        cvm_id: CVM_ID.to_owned(),
        marked_at: at,
    })
}

fn deletion_unmarked() -> CvmEvent {
    CvmEvent::DeletionUnmarked(CvmDeletionUnmarked {
        cvm_id: CVM_ID.to_owned(),
    })
}

/// A registered machine whose score an import forced to `score`.
fn machine_with_score(score: i32) -> Vec<CvmEvent> {
    vec![registered(), synchronized(None, None, Some(score))]
}

/// A registered machine at `score`, marked for deletion at `marked_at`.
fn marked_machine(score: i32, marked_at: DateTime<Utc>) -> Vec<CvmEvent> {
    let mut events = machine_with_score(score);
    events.push(deletion_marked(marked_at));
    events
}

fn removed_machine() -> Vec<CvmEvent> {
    vec![registered(), removed()]
}

fn replay(events: impl IntoIterator<Item = CvmEvent>) -> Cvm {
    let mut cvm = Cvm::default();
    for event in events {
        cvm.apply(event);
    }
    cvm
}

fn upvote_at(voter: &str, position: Position, now: DateTime<Utc>) -> CvmCommand {
    CvmCommand::Upvote {
        voter: voter.to_owned(),
        origin: VoteOrigin::At(position),
        now,
    }
}

fn downvote_at(voter: &str, position: Position, now: DateTime<Utc>) -> CvmCommand {
    CvmCommand::Downvote {
        voter: voter.to_owned(),
        voter_position: position,
        now,
    }
}

fn report_at(reporter: &str, position: Position, report_type: ReportType, now: DateTime<Utc>) -> CvmCommand {
    CvmCommand::Report {
        reporter: reporter.to_owned(),
        reporter_position: position,
        report_type,
        now,
    }
}

fn reposition_to(editor: &str, new_position: Position, now: DateTime<Utc>) -> CvmCommand {
    CvmCommand::Reposition {
        editor: editor.to_owned(),
        editor_position: machine(),
        new_position,
        throttled: false,
        now,
    }
}

fn synchronize(longitude: Option<f64>, latitude: Option<f64>, score: Option<i32>) -> CvmCommand {
    CvmCommand::Synchronize {
        longitude,
        latitude,
        score,
        now: t0(),
    }
}

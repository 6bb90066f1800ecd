//! apply(): the replay rules of 9.3, and the state's snapshot form.

use serde_json::json;

use super::*;

#[test]
fn a_new_aggregate_does_not_exist() {
    let cvm = Cvm::default();
    assert!(!cvm.exists());
    assert_eq!(cvm.version, 0);
}

#[test]
fn every_event_counts_one_version() {
    let cvm = replay(vec![registered(), upvoted(ALICE, t0()), removed(), restored(machine())]);
    assert!(cvm.exists());
    assert_eq!(cvm.version, 4);
}

#[test]
fn registration_starts_at_score_0_not_imported() {
    let cvm = replay(vec![registered()]);
    assert_eq!(cvm.id, CVM_ID);
    assert_eq!(cvm.position(), machine());
    assert_eq!(cvm.score, 0);
    assert!(!cvm.imported);
}

#[test]
fn an_import_starts_at_its_score_or_0() {
    let with_score = replay(vec![imported(Some(-4))]);
    assert_eq!(with_score.score, -4);
    assert!(with_score.imported);
    assert_eq!(replay(vec![imported(None)]).score, 0);
}

#[test]
fn upvotes_are_capped_at_the_maximum() {
    let cvm = replay(vec![imported(Some(9)), upvoted(ALICE, t0()), upvoted(BOB, t0())]);
    assert_eq!(cvm.score, MAX_SCORE);
}

#[test]
fn downvotes_are_floored_at_the_minimum() {
    let cvm = replay(vec![imported(Some(-9)), downvoted(ALICE, t0()), downvoted(BOB, t0())]);
    assert_eq!(cvm.score, MIN_SCORE);
}

#[test]
fn votes_use_their_impact() {
    let mut big = voted(ALICE, None);
    big.impact = 3;
    let cvm = replay(vec![
        registered(),
        CvmEvent::Upvoted(big.clone()),
        CvmEvent::Downvoted(big.clone()),
    ]);
    assert_eq!(cvm.score, 0);
    assert_eq!(replay(vec![registered(), CvmEvent::Upvoted(big)]).score, 3);
}

#[test]
fn recent_reports_keep_the_newest_10_per_type() {
    let mut events = vec![registered(), reported(BOB, ReportType::Spam, t0())];
    for minute in 0..11 {
        events.push(reported(ALICE, ReportType::Missing, t0() + TimeDelta::minutes(minute)));
    }
    let cvm = replay(events);
    assert_eq!(cvm.recent_report_count(ReportType::Missing), 10);
    assert_eq!(cvm.recent_report_count(ReportType::Spam), 1);
    let oldest_missing = cvm
        .recent_reports
        .iter()
        .find(|r| r.report_type == ReportType::Missing)
        .unwrap();
    assert_eq!(oldest_missing.timestamp, t0() + TimeDelta::minutes(1));
    assert_eq!(cvm.recent_reports[0].report_type, ReportType::Spam);
}

#[test]
fn reposition_moves_the_machine() {
    let cvm = replay(vec![registered(), repositioned(ALICE, machine(), north(20.0), t0())]);
    assert_eq!(cvm.position(), north(20.0));
    assert_eq!(cvm.recent_editors.last(ALICE), Some(t0()));
}

#[test]
fn synchronize_replaces_only_the_given_position_parts() {
    let cvm = replay(vec![registered(), synchronized(Some(9.0), None, None)]);
    assert_eq!(cvm.position(), Position::new(9.0, machine().latitude));
    let cvm = replay(vec![registered(), synchronized(None, Some(48.0), None)]);
    assert_eq!(cvm.position(), Position::new(machine().longitude, 48.0));
}

#[test]
fn synchronize_without_score_keeps_the_score() {
    // Bug 2: the original nulled the score when replaying `forcedScore: null`.
    let cvm = replay(vec![imported(Some(6)), synchronized(Some(9.0), Some(48.0), None)]);
    assert_eq!(cvm.score, 6);
}

#[test]
fn synchronize_with_score_forces_it() {
    let cvm = replay(vec![imported(Some(6)), synchronized(None, None, Some(-2))]);
    assert_eq!(cvm.score, -2);
}

#[test]
fn deletion_mark_and_unmark() {
    let marked = replay(marked_machine(-8, t0()));
    assert!(marked.marked_for_deletion);
    assert_eq!(marked.marked_for_deletion_at, Some(t0()));
    let mut events = marked_machine(-8, t0());
    events.push(deletion_unmarked());
    let unmarked = replay(events);
    assert!(!unmarked.marked_for_deletion);
    assert_eq!(unmarked.marked_for_deletion_at, None);
}

#[test]
fn removal_clears_the_deletion_mark() {
    let mut events = marked_machine(-9, t0());
    events.push(removed());
    let cvm = replay(events);
    assert!(cvm.removed);
    assert!(!cvm.marked_for_deletion);
    assert_eq!(cvm.marked_for_deletion_at, None);
}

#[test]
fn restore_keeps_score_and_position() {
    let cvm = replay(vec![imported(Some(5)), removed(), restored(Position::new(1.0, 2.0))]);
    assert!(!cvm.removed);
    assert_eq!(cvm.score, 5);
    assert_eq!(cvm.position(), machine());
}

#[test]
fn recent_activity_forgets_identities_outside_the_window() {
    let cvm = replay(vec![
        registered(),
        upvoted(ALICE, t0()),
        upvoted(BOB, t0() + days(7) + seconds(1)),
    ]);
    assert_eq!(cvm.recent_voters.last(ALICE), None);
    assert_eq!(cvm.recent_voters.last(BOB), Some(t0() + days(7) + seconds(1)));
    assert_eq!(cvm.recent_voters.len(), 1);
}

#[test]
fn recent_activity_keeps_the_latest_time_per_identity() {
    let cvm = replay(vec![
        registered(),
        upvoted(ALICE, t0() + days(1)),
        downvoted(ALICE, t0()),
        reported(BOB, ReportType::Spam, t0()),
    ]);
    assert_eq!(cvm.recent_voters.last(ALICE), Some(t0() + days(1)));
    assert_eq!(cvm.recent_reporters.last(BOB), Some(t0()));
    assert!(cvm.recent_editors.is_empty());
}

#[test]
fn the_snapshot_uses_the_original_field_names_and_round_trips() {
    let mut events = marked_machine(-8, t0());
    events.push(reported(ALICE, ReportType::Spam, t0()));
    events.push(upvoted(BOB, t0()));
    let cvm = replay(events);
    let snapshot = serde_json::to_value(&cvm).unwrap();
    assert_eq!(
        snapshot,
        json!({
            "id": CVM_ID,
            "longitude": 8.40395,
            "latitude": 49.0092,
            "score": -7,
            "imported": false,
            "recentReports": [{"type": "spam", "timestamp": "2025-06-01T12:00:00Z"}],
            "markedForDeletion": true,
            "markedForDeletionAt": "2025-06-01T12:00:00Z",
            "removed": false,
            "version": 5,
            "recentVoters": {"ref-bob": "2025-06-01T12:00:00Z"},
            "recentReporters": {"ref-alice": "2025-06-01T12:00:00Z"},
            "recentEditors": {},
        })
    );
    assert_eq!(serde_json::from_value::<Cvm>(snapshot).unwrap(), cvm);
}

#[test]
fn a_snapshot_without_the_new_fields_still_loads() {
    let cvm: Cvm = serde_json::from_value(json!({
        "id": CVM_ID, "longitude": 8.4, "latitude": 49.0, "score": 2, "imported": true,
        "recentReports": [], "removed": false, "markedForDeletion": false, "markedForDeletionAt": null,
        "version": 3,
    }))
    .unwrap();
    assert_eq!(cvm.score, 2);
    assert_eq!(cvm.version, 3);
    assert!(cvm.recent_voters.is_empty());
}

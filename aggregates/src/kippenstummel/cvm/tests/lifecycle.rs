//! Remove (9.4.5), cleanup (9.4.8 as intended), Restore (9.4.6) and
//! Synchronize (9.4.7, machine found).

use super::*;

fn cleanup(now: DateTime<Utc>) -> CvmCommand {
    CvmCommand::RemoveForCleanup { now }
}

#[test]
fn remove_emits_removed_at_the_current_position() {
    let moved = north(20.0);
    test()
        .given(vec![registered(), repositioned(BOB, machine(), moved, t0())])
        .when(CvmCommand::Remove)
        .then_expect_events(vec![CvmEvent::Removed(CvmRemoved {
            cvm_id: CVM_ID.to_owned(),
            position: moved,
        })]);
}

#[test]
fn removing_a_removed_machine_is_refused() {
    test()
        .given(removed_machine())
        .when(CvmCommand::Remove)
        .then_expect_error(CvmError::Removed);
}

#[test]
fn cleanup_removes_a_machine_marked_more_than_7_days_ago() {
    test()
        .given(marked_machine(-9, t0()))
        .when(cleanup(t0() + days(7) + seconds(1)))
        .then_expect_events(vec![removed()]);
}

#[test]
fn cleanup_spares_a_machine_marked_7_days_ago_or_later() {
    test()
        .given(marked_machine(-9, t0()))
        .when(cleanup(t0() + days(7)))
        .then_expect_error(CvmError::NotDueForCleanup);
}

#[test]
fn cleanup_spares_a_machine_that_is_no_longer_marked() {
    let mut events = marked_machine(-8, t0());
    events.extend([upvoted(ALICE, t0() + days(1)), deletion_unmarked()]);
    test()
        .given(events)
        .when(cleanup(t0() + days(30)))
        .then_expect_error(CvmError::NotDueForCleanup);
}

#[test]
fn cleanup_of_a_removed_machine_is_refused() {
    let mut events = marked_machine(-9, t0());
    events.push(removed());
    test()
        .given(events)
        .when(cleanup(t0() + days(30)))
        .then_expect_error(CvmError::Removed);
}

#[test]
fn restore_brings_back_a_removed_machine_at_its_position() {
    test()
        .given(removed_machine())
        .when(CvmCommand::Restore)
        .then_expect_events(vec![restored(machine())]);
}

#[test]
fn restoring_a_machine_that_is_not_removed_is_refused() {
    test()
        .given(vec![registered()])
        .when(CvmCommand::Restore)
        .then_expect_error(CvmError::NotRemoved);
}

#[test]
fn synchronize_overwrites_position_and_score() {
    test()
        .given(vec![registered()])
        .when(synchronize(Some(8.5), Some(49.1), Some(4)))
        .then_expect_events(vec![synchronized(Some(8.5), Some(49.1), Some(4))]);
}

#[test]
fn synchronize_without_score_runs_no_deletion_check() {
    test()
        .given(machine_with_score(-9))
        .when(synchronize(Some(8.5), Some(49.1), None))
        .then_expect_events(vec![synchronized(Some(8.5), Some(49.1), None)]);
}

#[test]
fn synchronize_to_a_low_score_marks_for_deletion() {
    test()
        .given(vec![registered()])
        .when(synchronize(None, None, Some(DELETION_THRESHOLD)))
        .then_expect_events(vec![
            synchronized(None, None, Some(DELETION_THRESHOLD)),
            deletion_marked(t0()),
        ]);
}

#[test]
fn synchronize_to_a_higher_score_unmarks() {
    test()
        .given(marked_machine(-9, t0() - days(2)))
        .when(synchronize(None, None, Some(0)))
        .then_expect_events(vec![synchronized(None, None, Some(0)), deletion_unmarked()]);
}

#[test]
fn synchronize_refuses_a_score_out_of_range_even_on_a_removed_machine() {
    test()
        .given(removed_machine())
        .when(synchronize(None, None, Some(MAX_SCORE + 1)))
        .then_expect_error(CvmError::ScoreOutOfRange(MAX_SCORE + 1));
}

#[test]
fn synchronize_refuses_an_invalid_position() {
    test()
        .given(vec![registered()])
        .when(synchronize(None, Some(-90.5), None))
        .then_expect_error(CvmError::InvalidPosition(Position::new(machine().longitude, -90.5)));
}

#[test]
fn synchronize_restores_a_removed_machine_and_does_nothing_else() {
    test()
        .given(removed_machine())
        .when(synchronize(Some(8.5), Some(49.1), Some(-9)))
        .then_expect_events(vec![restored(Position::new(8.5, 49.1))]);
}

#[test]
fn synchronize_restores_at_the_given_parts_over_the_current_position() {
    test()
        .given(removed_machine())
        .when(synchronize(Some(8.5), None, None))
        .then_expect_events(vec![restored(Position::new(8.5, machine().latitude))]);
}

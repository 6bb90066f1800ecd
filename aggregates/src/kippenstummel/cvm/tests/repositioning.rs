//! Reposition (9.4.4), with the spec's order of checks.

use super::*;

fn reposition(editor_position: Position, new_position: Position, throttled: bool) -> CvmCommand {
    CvmCommand::Reposition {
        editor: ALICE.to_owned(),
        editor_position,
        new_position,
        throttled,
        now: t0(),
    }
}

#[test]
fn a_reposition_moves_the_machine_and_records_the_former_position() {
    test()
        .given(vec![registered()])
        .when(reposition(north(45.0), north(22.0), false))
        .then_expect_events(vec![repositioned(ALICE, machine(), north(22.0), t0())]);
}

#[test]
fn an_editor_more_than_50_metres_away_is_out_of_reach() {
    test()
        .given(vec![registered()])
        .when(reposition(north(56.0), north(10.0), false))
        .then_expect_error(CvmError::OutOfReach);
}

#[test]
fn a_move_of_more_than_25_metres_is_an_alteration_conflict() {
    test()
        .given(vec![registered()])
        .when(reposition(machine(), north(27.0), false))
        .then_expect_error(CvmError::AlterationConflict);
}

#[test]
fn reach_is_checked_before_the_move_distance() {
    test()
        .given(vec![registered()])
        .when(reposition(north(56.0), north(30.0), true))
        .then_expect_error(CvmError::OutOfReach);
}

#[test]
fn a_throttled_editor_is_refused() {
    test()
        .given(vec![registered()])
        .when(reposition(machine(), north(10.0), true))
        .then_expect_error(CvmError::Throttled);
}

#[test]
fn the_move_distance_is_checked_before_the_throttle() {
    test()
        .given(vec![registered()])
        .when(reposition(machine(), north(30.0), true))
        .then_expect_error(CvmError::AlterationConflict);
}

#[test]
fn the_same_editor_within_7_days_is_throttled() {
    test()
        .given(vec![
            registered(),
            repositioned(ALICE, machine(), machine(), t0() - days(7)),
        ])
        .when(reposition(machine(), north(10.0), false))
        .then_expect_error(CvmError::Throttled);
}

#[test]
fn another_editor_or_a_later_reposition_is_allowed() {
    let earlier = t0() - days(7) - seconds(1);
    test()
        .given(vec![registered(), repositioned(ALICE, machine(), machine(), earlier)])
        .when(reposition(machine(), north(10.0), false))
        .then_expect_events(vec![repositioned(ALICE, machine(), north(10.0), t0())]);
    test()
        .given(vec![registered(), repositioned(BOB, machine(), machine(), t0())])
        .when(reposition(machine(), north(10.0), false))
        .then_expect_events(vec![repositioned(ALICE, machine(), north(10.0), t0())]);
}

#[test]
fn the_move_is_measured_from_the_current_position() {
    test()
        .given(vec![
            registered(),
            repositioned(BOB, machine(), north(20.0), t0() - days(30)),
        ])
        .when(reposition(north(20.0), north(40.0), false))
        .then_expect_events(vec![repositioned(ALICE, north(20.0), north(40.0), t0())]);
}

#[test]
fn a_reposition_of_a_removed_machine_is_refused_after_the_throttle() {
    test()
        .given(removed_machine())
        .when(reposition(machine(), north(10.0), false))
        .then_expect_error(CvmError::Removed);
    test()
        .given(removed_machine())
        .when(reposition(machine(), north(10.0), true))
        .then_expect_error(CvmError::Throttled);
}

#[test]
fn a_reposition_to_an_invalid_position_is_refused() {
    let invalid = Position::new(181.0, 49.0);
    test()
        .given(vec![registered()])
        .when(reposition(machine(), invalid, false))
        .then_expect_error(CvmError::InvalidPosition(invalid));
}

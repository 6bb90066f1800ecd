//! Upvote / Downvote (9.4.2), the upvote of a nearby registration (9.4.1
//! step 4) and the deletion-marking check (9.3).

use super::*;

#[test]
fn upvote_within_reach_emits_upvoted_with_its_time() {
    test()
        .given(vec![registered()])
        .when(upvote_at(ALICE, north(44.0), t0()))
        .then_expect_events(vec![upvoted(ALICE, t0())]);
}

#[test]
fn downvote_within_reach_emits_downvoted_with_its_time() {
    test()
        .given(vec![registered()])
        .when(downvote_at(ALICE, north(44.0), t0()))
        .then_expect_events(vec![downvoted(ALICE, t0())]);
}

#[test]
fn votes_from_more_than_50_metres_away_are_out_of_reach() {
    test()
        .given(vec![registered()])
        .when(upvote_at(ALICE, north(56.0), t0()))
        .then_expect_error(CvmError::OutOfReach);
    test()
        .given(vec![registered()])
        .when(downvote_at(ALICE, north(56.0), t0()))
        .then_expect_error(CvmError::OutOfReach);
}

#[test]
fn a_non_finite_voter_position_is_out_of_reach() {
    test()
        .given(vec![registered()])
        .when(downvote_at(ALICE, Position::new(f64::NAN, 49.0), t0()))
        .then_expect_error(CvmError::OutOfReach);
}

#[test]
fn the_upvote_of_a_nearby_registration_checks_no_distance() {
    test()
        .given(vec![registered()])
        .when(CvmCommand::Upvote {
            voter: BOB.to_owned(),
            origin: VoteOrigin::NearbyRegistration,
            now: t0(),
        })
        .then_expect_events(vec![upvoted(BOB, t0())]);
}

#[test]
fn a_second_vote_within_7_days_is_silently_ignored_whatever_its_direction() {
    test()
        .given(vec![registered(), upvoted(ALICE, t0())])
        .when(downvote_at(ALICE, machine(), t0() + days(7) - seconds(1)))
        .then_expect_events(vec![]);
    test()
        .given(vec![registered(), downvoted(ALICE, t0())])
        .when(upvote_at(ALICE, machine(), t0() + days(3)))
        .then_expect_events(vec![]);
}

#[test]
fn the_vote_window_includes_exactly_7_days() {
    test()
        .given(vec![registered(), upvoted(ALICE, t0())])
        .when(upvote_at(ALICE, machine(), t0() + days(7)))
        .then_expect_events(vec![]);
}

#[test]
fn a_vote_after_7_days_counts_again() {
    let later = t0() + days(7) + seconds(1);
    test()
        .given(vec![registered(), upvoted(ALICE, t0())])
        .when(upvote_at(ALICE, machine(), later))
        .then_expect_events(vec![upvoted(ALICE, later)]);
}

#[test]
fn another_voters_recent_vote_does_not_block() {
    test()
        .given(vec![registered(), upvoted(ALICE, t0())])
        .when(upvote_at(BOB, machine(), t0()))
        .then_expect_events(vec![upvoted(BOB, t0())]);
}

#[test]
fn the_upvote_of_a_nearby_registration_respects_the_vote_window() {
    test()
        .given(vec![registered(), downvoted(BOB, t0())])
        .when(CvmCommand::Upvote {
            voter: BOB.to_owned(),
            origin: VoteOrigin::NearbyRegistration,
            now: t0() + days(1),
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_migrated_vote_without_time_does_not_block() {
    test()
        .given(vec![registered(), CvmEvent::Upvoted(voted(ALICE, None))])
        .when(upvote_at(ALICE, machine(), t0()))
        .then_expect_events(vec![upvoted(ALICE, t0())]);
}

#[test]
fn an_upvote_at_the_maximum_is_a_silent_no_op() {
    test()
        .given(machine_with_score(MAX_SCORE))
        .when(upvote_at(ALICE, machine(), t0()))
        .then_expect_events(vec![]);
}

#[test]
fn a_downvote_at_the_minimum_is_a_silent_no_op() {
    test()
        .given(marked_machine(MIN_SCORE, t0()))
        .when(downvote_at(ALICE, machine(), t0()))
        .then_expect_events(vec![]);
}

#[test]
fn votes_on_a_removed_machine_are_refused() {
    test()
        .given(removed_machine())
        .when(upvote_at(ALICE, machine(), t0()))
        .then_expect_error(CvmError::Removed);
    test()
        .given(removed_machine())
        .when(downvote_at(ALICE, machine(), t0()))
        .then_expect_error(CvmError::Removed);
}

#[test]
fn reach_is_checked_before_removal() {
    test()
        .given(removed_machine())
        .when(upvote_at(ALICE, north(60.0), t0()))
        .then_expect_error(CvmError::OutOfReach);
}

#[test]
fn the_vote_window_is_checked_before_removal() {
    let mut events = vec![registered(), upvoted(ALICE, t0())];
    events.push(removed());
    test()
        .given(events)
        .when(downvote_at(ALICE, machine(), t0() + days(1)))
        .then_expect_events(vec![]);
}

#[test]
fn a_downvote_to_the_threshold_marks_for_deletion_at_now() {
    test()
        .given(machine_with_score(DELETION_THRESHOLD + 1))
        .when(downvote_at(ALICE, machine(), t0()))
        .then_expect_events(vec![downvoted(ALICE, t0()), deletion_marked(t0())]);
}

#[test]
fn an_upvote_above_the_threshold_unmarks() {
    test()
        .given(marked_machine(DELETION_THRESHOLD, t0()))
        .when(upvote_at(ALICE, machine(), t0() + days(1)))
        .then_expect_events(vec![upvoted(ALICE, t0() + days(1)), deletion_unmarked()]);
}

#[test]
fn a_marked_machine_that_stays_at_or_below_the_threshold_is_not_marked_again() {
    test()
        .given(marked_machine(DELETION_THRESHOLD, t0()))
        .when(downvote_at(ALICE, machine(), t0() + days(1)))
        .then_expect_events(vec![downvoted(ALICE, t0() + days(1))]);
    test()
        .given(marked_machine(DELETION_THRESHOLD - 1, t0()))
        .when(upvote_at(ALICE, machine(), t0() + days(1)))
        .then_expect_events(vec![upvoted(ALICE, t0() + days(1))]);
}

#[test]
fn an_unmarked_machine_below_the_threshold_is_marked_by_its_next_vote() {
    // An import may start a machine at −9 without a mark (spec 9.4.7 runs no
    // check on import); the next vote that keeps it ≤ −8 marks it.
    test()
        .given(vec![imported(Some(-9))])
        .when(upvote_at(ALICE, machine(), t0()))
        .then_expect_events(vec![upvoted(ALICE, t0()), deletion_marked(t0())]);
}

#[test]
fn handled_votes_are_applied_to_the_state() {
    let mut cvm = replay(vec![registered()]);
    let events = cvm.decide(upvote_at(ALICE, machine(), t0())).unwrap();
    for event in events {
        cvm.apply(event);
    }
    assert_eq!(cvm.score, 1);
    assert_eq!(cvm.recent_voters.last(ALICE), Some(t0()));
    assert_eq!(cvm.decide(upvote_at(ALICE, machine(), t0())), Ok(vec![]));
}

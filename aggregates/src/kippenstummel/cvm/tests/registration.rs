//! Register (9.4.1) and Import (9.4.7, new machine).

use super::*;

fn register(throttled: bool) -> CvmCommand {
    CvmCommand::Register {
        cvm_id: CVM_ID.to_owned(),
        position: machine(),
        creator: CREATOR.to_owned(),
        throttled,
    }
}

fn import(score: Option<i32>) -> CvmCommand {
    CvmCommand::Import {
        cvm_id: CVM_ID.to_owned(),
        position: machine(),
        score,
    }
}

#[test]
fn register_creates_the_machine() {
    test()
        .given_no_previous_events()
        .when(register(false))
        .then_expect_events(vec![registered()]);
}

#[test]
fn register_refuses_a_throttled_creator() {
    test()
        .given_no_previous_events()
        .when(register(true))
        .then_expect_error(CvmError::Throttled);
}

#[test]
fn register_on_an_existing_machine_is_refused_before_the_throttle() {
    test()
        .given(vec![registered()])
        .when(register(true))
        .then_expect_error(CvmError::AlreadyExists);
}

#[test]
fn register_refuses_an_invalid_position() {
    let position = Position::new(8.4, 91.0);
    test()
        .given_no_previous_events()
        .when(CvmCommand::Register {
            cvm_id: CVM_ID.to_owned(),
            position,
            creator: CREATOR.to_owned(),
            throttled: false,
        })
        .then_expect_error(CvmError::InvalidPosition(position));
}

#[test]
fn import_creates_the_machine_with_or_without_a_score() {
    test()
        .given_no_previous_events()
        .when(import(Some(-3)))
        .then_expect_events(vec![imported(Some(-3))]);
    test()
        .given_no_previous_events()
        .when(import(None))
        .then_expect_events(vec![imported(None)]);
}

#[test]
fn import_accepts_the_score_bounds() {
    for score in [MIN_SCORE, MAX_SCORE] {
        test()
            .given_no_previous_events()
            .when(import(Some(score)))
            .then_expect_events(vec![imported(Some(score))]);
    }
}

#[test]
fn import_refuses_a_score_out_of_range() {
    for score in [MIN_SCORE - 1, MAX_SCORE + 1] {
        test()
            .given_no_previous_events()
            .when(import(Some(score)))
            .then_expect_error(CvmError::ScoreOutOfRange(score));
    }
}

#[test]
fn import_on_an_existing_machine_is_refused() {
    test()
        .given(vec![imported(None)])
        .when(import(Some(1)))
        .then_expect_error(CvmError::AlreadyExists);
}

#[test]
fn import_refuses_a_non_finite_position() {
    let position = Position::new(f64::NAN, 49.0);
    let error = test()
        .given_no_previous_events()
        .when(CvmCommand::Import {
            cvm_id: CVM_ID.to_owned(),
            position,
            score: None,
        })
        .inspect_result()
        .unwrap_err();
    // NaN != NaN, so compare the variant, not the payload.
    assert!(
        matches!(error, CvmError::InvalidPosition(p) if p.longitude.is_nan()),
        "{error:?}"
    );
}

#[test]
fn every_other_command_on_a_missing_machine_is_not_found() {
    let commands = vec![
        upvote_at(ALICE, machine(), t0()),
        CvmCommand::Upvote {
            voter: ALICE.to_owned(),
            origin: VoteOrigin::NearbyRegistration,
            now: t0(),
        },
        downvote_at(ALICE, machine(), t0()),
        report_at(ALICE, machine(), ReportType::Spam, t0()),
        reposition_to(ALICE, north(10.0), t0()),
        CvmCommand::Remove,
        CvmCommand::RemoveForCleanup { now: t0() },
        CvmCommand::Restore,
        synchronize(Some(8.4), Some(49.0), Some(1)),
    ];
    for command in commands {
        test()
            .given_no_previous_events()
            .when(command)
            .then_expect_error(CvmError::NotFound);
    }
}

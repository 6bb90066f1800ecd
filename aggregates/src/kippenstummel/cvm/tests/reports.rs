//! Report (9.4.3).

use super::*;

#[test]
fn a_report_within_reach_is_recorded_at_now() {
    test()
        .given(vec![registered()])
        .when(report_at(ALICE, north(40.0), ReportType::Inactive, t0()))
        .then_expect_events(vec![reported(ALICE, ReportType::Inactive, t0())]);
}

#[test]
fn a_report_from_more_than_50_metres_away_is_out_of_reach() {
    test()
        .given(vec![registered()])
        .when(report_at(ALICE, north(56.0), ReportType::Missing, t0()))
        .then_expect_error(CvmError::OutOfReach);
}

#[test]
fn a_second_report_within_7_days_is_silently_ignored_whatever_its_type() {
    test()
        .given(vec![registered(), reported(ALICE, ReportType::Spam, t0())])
        .when(report_at(ALICE, machine(), ReportType::Missing, t0() + days(7)))
        .then_expect_events(vec![]);
}

#[test]
fn a_report_after_7_days_counts_again() {
    let later = t0() + days(7) + seconds(1);
    test()
        .given(vec![registered(), reported(ALICE, ReportType::Spam, t0())])
        .when(report_at(ALICE, machine(), ReportType::Spam, later))
        .then_expect_events(vec![reported(ALICE, ReportType::Spam, later)]);
}

#[test]
fn another_reporters_recent_report_does_not_block() {
    test()
        .given(vec![registered(), reported(ALICE, ReportType::Spam, t0())])
        .when(report_at(BOB, machine(), ReportType::Spam, t0()))
        .then_expect_events(vec![reported(BOB, ReportType::Spam, t0())]);
}

#[test]
fn a_report_on_a_removed_machine_is_refused() {
    test()
        .given(removed_machine())
        .when(report_at(ALICE, machine(), ReportType::Missing, t0()))
        .then_expect_error(CvmError::Removed);
}

#[test]
fn reports_never_change_the_score() {
    let cvm = replay(vec![
        imported(Some(3)),
        reported(ALICE, ReportType::Missing, t0()),
        reported(BOB, ReportType::Spam, t0()),
    ]);
    assert_eq!(cvm.score, 3);
    assert_eq!(cvm.recent_reports.len(), 2);
}

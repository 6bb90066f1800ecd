//! Given events, when a command, then events or an error; plus replay and
//! the event contract. Test data follows the QA seed (spec 12.1).

use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::json;

use super::*;

type TemplateTest = TestFramework<Template>;

fn question(number: u32, text: &str, multiline: bool, min_answer_length: u32) -> Question {
    Question {
        number,
        question: text.to_owned(),
        multiline,
        min_answer_length,
    }
}

/// The seeded `Dev searched` questions.
fn dev_searched_questions() -> Vec<Question> {
    vec![
        question(0, "Who are we?", false, 1),
        question(1, "Why should you join us?", true, 100),
        question(2, "What programming languages should you know?", false, 1),
        question(3, "Custom text:", true, 30),
    ]
}

fn created(name: &str, revision: u32, questions: Vec<Question>) -> TemplateEvent {
    TemplateEvent::Created(TemplateCreated {
        name: name.to_owned(),
        revision,
        questions,
        renamed_from: None,
    })
}

fn dev_searched_created() -> TemplateEvent {
    created("Dev searched", 1, dev_searched_questions())
}

fn deleted(revision: u32) -> TemplateEvent {
    TemplateEvent::Deleted(TemplateDeleted {
        revision,
        renamed_to: None,
    })
}

fn rejected(errors: Vec<FailureError>) -> TemplateError {
    TemplateError::Rejected(Failure { errors })
}

fn update(action: UpdateAction, question: Question) -> QuestionUpdate {
    QuestionUpdate {
        action: Some(action),
        question,
    }
}

/// The QA "all actions together" input: INSERT@2, APPEND, DELETE@0, REPLACE@2.
fn all_actions() -> Vec<QuestionUpdate> {
    vec![
        update(UpdateAction::Insert, question(2, "Inserted Question NUM: 1", false, 10)),
        update(UpdateAction::Append, question(17, "Appened Question NUM: 4", true, 100)),
        update(UpdateAction::Delete, question(0, "Deleted", false, 1)),
        update(
            UpdateAction::Replace,
            question(2, "Replaced Question NUM: 2", false, 44),
        ),
    ]
}

/// The QA expectation for [`all_actions`] on `Dev searched`.
fn all_actions_result() -> Vec<Question> {
    vec![
        question(0, "Why should you join us?", true, 100),
        question(1, "Inserted Question NUM: 1", false, 10),
        question(2, "Replaced Question NUM: 2", false, 44),
        question(3, "Custom text:", true, 30),
        question(4, "Appened Question NUM: 4", true, 100),
    ]
}

// --- createTemplate (9.6) ---

#[test]
fn create_stores_the_questions_sorted_with_their_numbers_as_given() {
    TemplateTest::with(())
        .given_no_previous_events()
        .when(TemplateCommand::Create {
            name: "PermissionTemplate".to_owned(),
            questions: vec![question(7, "Later?", false, 1), question(1, "First?", true, 3)],
        })
        .then_expect_events(vec![created(
            "PermissionTemplate",
            1,
            vec![question(1, "First?", true, 3), question(7, "Later?", false, 1)],
        )]);
}

#[test]
fn create_is_duplicated_while_a_template_of_that_name_is_enabled() {
    TemplateTest::with(())
        .given(vec![dev_searched_created()])
        .when(TemplateCommand::Create {
            name: "Dev searched".to_owned(),
            questions: vec![question(0, "Who?", false, 1)],
        })
        .then_expect_error(rejected(vec![FailureError::Duplicated]));
}

#[test]
fn create_reuses_a_deleted_name_with_the_next_revision() {
    TemplateTest::with(())
        .given(vec![dev_searched_created(), deleted(1)])
        .when(TemplateCommand::Create {
            name: "Dev searched".to_owned(),
            questions: vec![question(0, "Who?", false, 1)],
        })
        .then_expect_events(vec![created("Dev searched", 2, vec![question(0, "Who?", false, 1)])]);
}

#[test]
fn create_reports_each_repeated_number_once_ascending() {
    TemplateTest::with(())
        .given_no_previous_events()
        .when(TemplateCommand::Create {
            name: "Ambiguous".to_owned(),
            questions: [3, 1, 3, 0, 1, 3].map(|n| question(n, "Q?", false, 1)).to_vec(),
        })
        .then_expect_error(rejected(vec![
            FailureError::AmbiguousNumber { number: 1 },
            FailureError::AmbiguousNumber { number: 3 },
        ]));
}

#[test]
fn create_checks_duplicated_before_repeated_numbers() {
    TemplateTest::with(())
        .given(vec![dev_searched_created()])
        .when(TemplateCommand::Create {
            name: "Dev searched".to_owned(),
            questions: vec![question(0, "A?", false, 1), question(0, "B?", false, 1)],
        })
        .then_expect_error(rejected(vec![FailureError::Duplicated]));
}

#[test]
fn create_needs_at_least_one_question() {
    TemplateTest::with(())
        .given_no_previous_events()
        .when(TemplateCommand::Create {
            name: "Empty".to_owned(),
            questions: vec![],
        })
        .then_expect_error(TemplateError::InvalidInput(vec![InputViolation::QuestionCount {
            count: 0,
        }]));
}

#[test]
fn create_takes_at_most_25_questions() {
    let questions = |count: u32| (0..count).map(|n| question(n, "Q?", false, 1)).collect::<Vec<_>>();
    TemplateTest::with(())
        .given_no_previous_events()
        .when(TemplateCommand::Create {
            name: "Long".to_owned(),
            questions: questions(26),
        })
        .then_expect_error(TemplateError::InvalidInput(vec![InputViolation::QuestionCount {
            count: 26,
        }]));
    TemplateTest::with(())
        .given_no_previous_events()
        .when(TemplateCommand::Create {
            name: "Long".to_owned(),
            questions: questions(25),
        })
        .then_expect_events(vec![created("Long", 1, questions(25))]);
}

#[test]
fn create_refuses_a_blank_or_too_long_name() {
    for (name, length) in [("   ", 3), (&*"x".repeat(41), 41)] {
        TemplateTest::with(())
            .given_no_previous_events()
            .when(TemplateCommand::Create {
                name: name.to_owned(),
                questions: vec![question(0, "Q?", false, 1)],
            })
            .then_expect_error(TemplateError::InvalidInput(vec![InputViolation::TemplateName {
                length,
            }]));
    }
}

#[test]
fn create_refuses_invalid_questions_by_index() {
    TemplateTest::with(())
        .given_no_previous_events()
        .when(TemplateCommand::Create {
            name: "Bad".to_owned(),
            questions: vec![question(0, "Fine?", false, 1), question(1, "", false, 0)],
        })
        .then_expect_error(TemplateError::InvalidInput(vec![
            InputViolation::QuestionBlank { index: 1 },
            InputViolation::QuestionLength { index: 1, length: 0 },
            InputViolation::MinAnswerLength { index: 1, value: 0 },
        ]));
}

#[test]
fn create_checks_input_before_duplicated() {
    TemplateTest::with(())
        .given(vec![dev_searched_created()])
        .when(TemplateCommand::Create {
            name: "Dev searched".to_owned(),
            questions: vec![question(0, "Q?", false, 2000)],
        })
        .then_expect_error(TemplateError::InvalidInput(vec![InputViolation::MinAnswerLength {
            index: 0,
            value: 2000,
        }]));
}

// --- updateTemplate (9.8) ---

#[test]
fn update_is_not_found_without_a_template() {
    TemplateTest::with(())
        .given_no_previous_events()
        .when(TemplateCommand::Update { updates: all_actions() })
        .then_expect_error(rejected(vec![FailureError::NotFound]));
}

#[test]
fn update_is_not_found_after_delete() {
    TemplateTest::with(())
        .given(vec![dev_searched_created(), deleted(1)])
        .when(TemplateCommand::Update { updates: all_actions() })
        .then_expect_error(rejected(vec![FailureError::NotFound]));
}

#[test]
fn update_applies_all_actions_in_input_order() {
    TemplateTest::with(())
        .given(vec![dev_searched_created()])
        .when(TemplateCommand::Update { updates: all_actions() })
        .then_expect_events(vec![TemplateEvent::Updated(TemplateUpdated {
            revision: 2,
            questions: all_actions_result(),
        })]);
}

#[test]
fn update_without_changes_still_makes_a_new_revision() {
    TemplateTest::with(())
        .given(vec![dev_searched_created()])
        .when(TemplateCommand::Update { updates: vec![] })
        .then_expect_events(vec![TemplateEvent::Updated(TemplateUpdated {
            revision: 2,
            questions: dev_searched_questions(),
        })]);
}

#[test]
fn update_refuses_to_repeat_a_number_of_a_gapped_template() {
    TemplateTest::with(())
        .given(vec![created(
            "PermissionTemplate",
            1,
            vec![question(1, "Only?", false, 1)],
        )])
        .when(TemplateCommand::Update {
            updates: vec![update(UpdateAction::Append, question(0, "New?", false, 1))],
        })
        .then_expect_error(rejected(vec![FailureError::AmbiguousNumber { number: 1 }]));
}

#[test]
fn update_checks_the_input_of_skipped_entries_too() {
    TemplateTest::with(())
        .given(vec![dev_searched_created()])
        .when(TemplateCommand::Update {
            updates: vec![QuestionUpdate {
                action: None,
                question: question(0, " ", false, 1),
            }],
        })
        .then_expect_error(TemplateError::InvalidInput(vec![InputViolation::QuestionBlank {
            index: 0,
        }]));
}

#[test]
fn update_may_empty_a_template() {
    let delete_first = update(UpdateAction::Delete, question(0, "x", false, 1));
    TemplateTest::with(())
        .given(vec![created("One", 1, vec![question(0, "Q?", false, 1)])])
        .when(TemplateCommand::Update {
            updates: vec![delete_first],
        })
        .then_expect_events(vec![TemplateEvent::Updated(TemplateUpdated {
            revision: 2,
            questions: vec![],
        })]);
}

// --- deleteTemplate (9.7) ---

#[test]
fn delete_disables_the_current_revision() {
    TemplateTest::with(())
        .given(vec![
            dev_searched_created(),
            TemplateEvent::Updated(TemplateUpdated {
                revision: 2,
                questions: vec![],
            }),
        ])
        .when(TemplateCommand::Delete)
        .then_expect_events(vec![deleted(2)]);
}

#[test]
fn delete_is_not_found_without_an_enabled_template() {
    TemplateTest::with(())
        .given_no_previous_events()
        .when(TemplateCommand::Delete)
        .then_expect_error(rejected(vec![FailureError::NotFound]));
    TemplateTest::with(())
        .given(vec![dev_searched_created(), deleted(1)])
        .when(TemplateCommand::Delete)
        .then_expect_error(rejected(vec![FailureError::NotFound]));
}

// --- updateTemplate with a new name (9.8, two steps) ---

fn dev_searched_snapshot() -> TemplateSnapshot {
    TemplateSnapshot {
        name: "Dev searched".to_owned(),
        revision: 1,
        questions: dev_searched_questions(),
    }
}

#[test]
fn create_renamed_builds_the_new_name_from_the_source() {
    TemplateTest::with(())
        .given_no_previous_events()
        .when(TemplateCommand::CreateRenamed {
            name: "All updated".to_owned(),
            source: dev_searched_snapshot(),
            updates: all_actions(),
        })
        .then_expect_events(vec![TemplateEvent::Created(TemplateCreated {
            name: "All updated".to_owned(),
            revision: 1,
            questions: all_actions_result(),
            renamed_from: Some("Dev searched".to_owned()),
        })]);
}

#[test]
fn create_renamed_is_duplicated_on_a_taken_name() {
    TemplateTest::with(())
        .given(vec![created(
            "Dev offered",
            1,
            vec![question(0, "Who am I?", false, 1)],
        )])
        .when(TemplateCommand::CreateRenamed {
            name: "Dev offered".to_owned(),
            source: dev_searched_snapshot(),
            updates: vec![],
        })
        .then_expect_error(rejected(vec![FailureError::Duplicated]));
}

#[test]
fn create_renamed_refuses_an_invalid_name() {
    TemplateTest::with(())
        .given_no_previous_events()
        .when(TemplateCommand::CreateRenamed {
            name: String::new(),
            source: dev_searched_snapshot(),
            updates: vec![],
        })
        .then_expect_error(TemplateError::InvalidInput(vec![InputViolation::TemplateName {
            length: 0,
        }]));
}

#[test]
fn create_renamed_refuses_invalid_question_input() {
    TemplateTest::with(())
        .given_no_previous_events()
        .when(TemplateCommand::CreateRenamed {
            name: "All updated".to_owned(),
            source: dev_searched_snapshot(),
            updates: vec![update(UpdateAction::Append, question(0, "Q?", false, 1025))],
        })
        .then_expect_error(TemplateError::InvalidInput(vec![InputViolation::MinAnswerLength {
            index: 0,
            value: 1025,
        }]));
}

#[test]
fn retire_renamed_disables_the_old_name() {
    TemplateTest::with(())
        .given(vec![dev_searched_created()])
        .when(TemplateCommand::RetireRenamed {
            renamed_to: "All updated".to_owned(),
            expected_revision: 1,
        })
        .then_expect_events(vec![TemplateEvent::Deleted(TemplateDeleted {
            revision: 1,
            renamed_to: Some("All updated".to_owned()),
        })]);
}

#[test]
fn retire_renamed_refuses_a_revision_changed_in_between() {
    TemplateTest::with(())
        .given(vec![
            dev_searched_created(),
            TemplateEvent::Updated(TemplateUpdated {
                revision: 2,
                questions: vec![],
            }),
        ])
        .when(TemplateCommand::RetireRenamed {
            renamed_to: "All updated".to_owned(),
            expected_revision: 1,
        })
        .then_expect_error(TemplateError::RevisionMismatch { expected: 1, actual: 2 });
}

#[test]
fn retire_renamed_is_not_found_when_deleted_in_between() {
    TemplateTest::with(())
        .given(vec![dev_searched_created(), deleted(1)])
        .when(TemplateCommand::RetireRenamed {
            renamed_to: "All updated".to_owned(),
            expected_revision: 1,
        })
        .then_expect_error(rejected(vec![FailureError::NotFound]));
}

// --- replay and contract ---

fn replay(events: Vec<TemplateEvent>) -> Template {
    let mut template = Template::default();
    for event in events {
        template.apply(event);
    }
    template
}

#[test]
fn replay_tracks_name_revision_and_questions() {
    let template = replay(vec![
        dev_searched_created(),
        TemplateEvent::Updated(TemplateUpdated {
            revision: 2,
            questions: all_actions_result(),
        }),
    ]);
    assert_eq!(
        template.snapshot(),
        Some(TemplateSnapshot {
            name: "Dev searched".to_owned(),
            revision: 2,
            questions: all_actions_result(),
        })
    );
}

#[test]
fn replay_of_a_delete_leaves_no_snapshot_but_keeps_the_revision() {
    let template = replay(vec![dev_searched_created(), deleted(1)]);
    assert_eq!(template.snapshot(), None);
    assert_eq!(template.revision, 1);
    assert_eq!(Template::default().snapshot(), None);
}

#[test]
fn state_survives_a_json_snapshot() {
    let template = replay(vec![dev_searched_created()]);
    let json = serde_json::to_string(&template).unwrap();
    assert_eq!(serde_json::from_str::<Template>(&json).unwrap(), template);
}

#[test]
fn events_are_tagged_with_their_type_and_camel_case() {
    let event = created("One", 1, vec![question(0, "Q?", true, 5)]);
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"devmarkt-template-created": {
            "name": "One",
            "revision": 1,
            "questions": [{"number": 0, "question": "Q?", "multiline": true, "minAnswerLength": 5}],
            "renamedFrom": null
        }})
    );
    let stored = json!({"devmarkt-template-deleted": {"revision": 3}});
    assert_eq!(serde_json::from_value::<TemplateEvent>(stored).unwrap(), deleted(3));
}

#[test]
fn event_types_are_stable_and_version_1() {
    let events = [
        dev_searched_created(),
        TemplateEvent::Updated(TemplateUpdated {
            revision: 2,
            questions: vec![],
        }),
        deleted(2),
    ];
    let types: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(
        types,
        vec![
            "devmarkt-template-created",
            "devmarkt-template-updated",
            "devmarkt-template-deleted"
        ]
    );
    assert!(events.iter().all(|event| event.event_version() == "1"));
    assert_eq!(Template::TYPE, "devmarkt-template");
}

#[test]
fn errors_read_well() {
    assert_eq!(
        rejected(vec![FailureError::AmbiguousNumber { number: 1 }]).to_string(),
        "AMBIGUOUS_NUMBER {number: 1}"
    );
    assert_eq!(
        TemplateError::InvalidInput(vec![InputViolation::QuestionCount { count: 0 }]).to_string(),
        "invalid input: a template needs 1 to 25 questions (got 0)"
    );
}

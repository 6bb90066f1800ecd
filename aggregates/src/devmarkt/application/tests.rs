//! Given events, when a command, then events or an error; plus replay and
//! the event contract. Templates, users and answers follow the QA seed and
//! the QA examples of spec 9.15.

use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::json;

use super::validation::{size, MAX_SIZE};
use super::*;
use crate::devmarkt::template::Question;
use crate::devmarkt::user::UserId;

type ApplicationTest = TestFramework<Application>;

fn question(number: u32, text: &str, multiline: bool, min_answer_length: u32) -> Question {
    Question {
        number,
        question: text.to_owned(),
        multiline,
        min_answer_length,
    }
}

fn template(name: &str, questions: Vec<Question>) -> TemplateSnapshot {
    TemplateSnapshot {
        name: name.to_owned(),
        revision: 1,
        questions,
    }
}

/// The seeded `Dev offered` (minimum lengths 1, 1, 500).
fn dev_offered() -> TemplateSnapshot {
    template(
        "Dev offered",
        vec![
            question(0, "Who am I?", false, 1),
            question(1, "What programming language do I know?", false, 1),
            question(2, "Why should you choose me?", true, 500),
        ],
    )
}

fn empty_template() -> TemplateSnapshot {
    template("Empty template", vec![])
}

/// The seed's 506-character answer (spec 12.1, and
/// `/work/shared/data/devmarkt-qa-long-answer.txt`).
fn long_answer() -> String {
    [
        "Lorem ipsum dolor sit amet, consetetur sadipscing elitr, sed diam nonumy eirmod tempor invidunt ut labore",
        "et dolore magna aliquyam erat, sed diam voluptua. At vero eos et accusam et justo duo dolores et ea rebum. Stet c",
        "lita kasd gubergren, no sea takimata sanctus est Lorem ipsum dolor sit amet. Lorem ipsum dolor sit amet, consetetur sadipscing elitr, se",
        "d diam nonumy eirmod tempor invidunt ut labore et dolore magna aliquyam erat, sed diam voluptua. At vero eos et accusam et justo duo dolores et e",
        " N2",
    ]
    .join("\n")
}

/// Answer set A of the seed.
fn answer_set_a() -> Vec<Answer> {
    vec![
        Answer::new(0, "Lorem ipsum dolor sit amet, co N0"),
        Answer::new(1, "Lorem ipsum dolor sit amet, co N1"),
        Answer::new(2, long_answer()),
    ]
}

/// Valid answers 0 and 1 of `Dev offered` followed by `extra`.
fn first_two_and(extra: Vec<Answer>) -> Vec<Answer> {
    let mut answers = answer_set_a()[..2].to_vec();
    answers.extend(extra);
    answers
}

fn testuser(number: i64) -> UserId {
    UserId::new("testuser", number)
}

fn created(id: u32, owner: UserId, template: TemplateSnapshot, answers: Vec<Answer>) -> ApplicationEvent {
    ApplicationEvent::Created(ApplicationCreated {
        id,
        owner,
        template,
        answers,
    })
}

/// Seeded application 1: testuser:1, `Dev offered`, answer set A.
fn application_1() -> ApplicationEvent {
    created(1, testuser(1), dev_offered(), answer_set_a())
}

fn processed(status: Decision) -> ApplicationEvent {
    ApplicationEvent::Processed(ApplicationProcessed { status })
}

fn deleted() -> ApplicationEvent {
    ApplicationEvent::Deleted(ApplicationDeleted {})
}

fn create(id: u32, template: TemplateSnapshot, answers: Vec<Answer>) -> ApplicationCommand {
    ApplicationCommand::Create {
        id,
        owner: testuser(2),
        template,
        answers,
    }
}

fn rejected(errors: Vec<FailureError>) -> ApplicationError {
    ApplicationError::Rejected(Failure { errors })
}

fn when_creating(
    template: TemplateSnapshot,
    answers: Vec<Answer>,
) -> cqrs_es::test::AggregateResultValidator<Application> {
    ApplicationTest::with(())
        .given_no_previous_events()
        .when(create(7, template, answers))
}

// --- createApplication (9.12, 9.15) ---

#[test]
fn the_seed_long_answer_is_506_units() {
    assert_eq!(long_answer().encode_utf16().count(), 506);
}

#[test]
fn create_stores_an_unprocessed_application_with_answers_sorted() {
    let mut shuffled = answer_set_a();
    shuffled.rotate_left(2);
    ApplicationTest::with(())
        .given_no_previous_events()
        .when(ApplicationCommand::Create {
            id: 1,
            owner: testuser(1),
            template: dev_offered(),
            answers: shuffled,
        })
        .then_expect_events(vec![application_1()]);
}

#[test]
fn create_stores_the_template_questions_sorted() {
    let mut unsorted = dev_offered();
    unsorted.questions.reverse();
    ApplicationTest::with(())
        .given_no_previous_events()
        .when(create(7, unsorted, answer_set_a()))
        .then_expect_events(vec![created(7, testuser(2), dev_offered(), answer_set_a())]);
}

#[test]
fn a_template_without_questions_takes_no_answers() {
    when_creating(empty_template(), vec![]).then_expect_events(vec![created(7, testuser(2), empty_template(), vec![])]);
}

#[test]
fn create_refuses_an_id_in_use_or_used_before() {
    ApplicationTest::with(())
        .given(vec![application_1()])
        .when(create(1, dev_offered(), answer_set_a()))
        .then_expect_error(ApplicationError::AlreadyExists { id: 1 });
    ApplicationTest::with(())
        .given(vec![application_1(), deleted()])
        .when(create(1, dev_offered(), answer_set_a()))
        .then_expect_error(ApplicationError::AlreadyExists { id: 1 });
}

#[test]
fn a_repeated_valid_number_is_ambiguous() {
    when_creating(dev_offered(), first_two_and(vec![Answer::new(0, "fsdfsdf")])).then_expect_error(rejected(vec![
        FailureError::AmbiguousAnswerNumber { number: 0 },
        FailureError::QuestionUnanswered { number: 2 },
    ]));
}

#[test]
fn a_number_beyond_the_questions_has_no_question() {
    when_creating(
        dev_offered(),
        first_two_and(vec![Answer::new(6, "Lilly the Datawitch")]),
    )
    .then_expect_error(rejected(vec![
        FailureError::NoQuestion { number: 6 },
        FailureError::QuestionUnanswered { number: 2 },
    ]));
}

#[test]
fn an_answer_below_the_minimum_length_is_too_short() {
    when_creating(
        dev_offered(),
        first_two_and(vec![Answer::new(2, "Lilly the Datawitch")]),
    )
    .then_expect_error(rejected(vec![
        FailureError::AnswerTooShort {
            answer_length: 19,
            minimum_length: 500,
            number: 2,
        },
        FailureError::QuestionUnanswered { number: 2 },
    ]));
}

#[test]
fn every_question_needs_an_answer() {
    when_creating(dev_offered(), first_two_and(vec![]))
        .then_expect_error(rejected(vec![FailureError::QuestionUnanswered { number: 2 }]));
    when_creating(dev_offered(), vec![]).then_expect_error(rejected(vec![
        FailureError::QuestionUnanswered { number: 0 },
        FailureError::QuestionUnanswered { number: 1 },
        FailureError::QuestionUnanswered { number: 2 },
    ]));
}

#[test]
fn the_first_repeat_is_only_ambiguous_and_not_checked_further() {
    let answers = first_two_and(vec![Answer::new(2, long_answer()), Answer::new(2, "short")]);
    when_creating(dev_offered(), answers)
        .then_expect_error(rejected(vec![FailureError::AmbiguousAnswerNumber { number: 2 }]));
}

#[test]
fn ambiguity_is_reported_once_and_later_repeats_are_checked_as_answers() {
    let answers = vec![
        Answer::new(2, long_answer()),
        Answer::new(2, long_answer()),
        Answer::new(2, long_answer()),
        Answer::new(2, "short"),
        Answer::new(0, "a"),
        Answer::new(1, "b"),
    ];
    when_creating(dev_offered(), answers).then_expect_error(rejected(vec![
        FailureError::AmbiguousAnswerNumber { number: 2 },
        FailureError::AnswerTooShort {
            answer_length: 5,
            minimum_length: 500,
            number: 2,
        },
    ]));
}

#[test]
fn a_number_whose_first_answer_was_invalid_is_not_ambiguous_later() {
    let answers = first_two_and(vec![Answer::new(2, "short"), Answer::new(2, long_answer())]);
    when_creating(dev_offered(), answers).then_expect_error(rejected(vec![FailureError::AnswerTooShort {
        answer_length: 5,
        minimum_length: 500,
        number: 2,
    }]));
}

#[test]
fn answer_lengths_count_utf16_code_units() {
    // 250 crabs are 500 code units: enough for question 2.
    when_creating(dev_offered(), first_two_and(vec![Answer::new(2, "🦀".repeat(250))])).then_expect_events(vec![
        created(
            7,
            testuser(2),
            dev_offered(),
            first_two_and(vec![Answer::new(2, "🦀".repeat(250))]),
        ),
    ]);
    when_creating(dev_offered(), first_two_and(vec![Answer::new(2, "🦀".repeat(249))])).then_expect_error(rejected(
        vec![
            FailureError::AnswerTooShort {
                answer_length: 498,
                minimum_length: 500,
                number: 2,
            },
            FailureError::QuestionUnanswered { number: 2 },
        ],
    ));
}

/// A template of six 200-character questions (minimum length 1) whose
/// answers have the given lengths; the name is 8 long.
fn sized(answer_lengths: [usize; 6]) -> (TemplateSnapshot, Vec<Answer>) {
    let questions = (0..6).map(|n| question(n, &"q".repeat(200), true, 1)).collect();
    let answers = answer_lengths
        .iter()
        .zip(0..)
        .map(|(&length, number)| Answer::new(number, "a".repeat(length)))
        .collect();
    (template("Boundary", questions), answers)
}

#[test]
fn a_size_of_exactly_5800_is_allowed() {
    let (template, answers) = sized([766, 766, 766, 766, 766, 762]);
    assert_eq!(size(&template, &answers), MAX_SIZE);
    when_creating(template.clone(), answers.clone()).then_expect_events(vec![created(
        7,
        testuser(2),
        template,
        answers,
    )]);
}

#[test]
fn a_larger_application_is_too_large_with_its_size() {
    let (template, answers) = sized([766, 766, 766, 766, 766, 763]);
    when_creating(template, answers).then_expect_error(rejected(vec![FailureError::TooLarge { size: 5801 }]));
}

#[test]
fn too_large_comes_first_and_counts_every_submitted_answer() {
    let (template, mut answers) = sized([766, 766, 766, 766, 766, 762]);
    answers.push(Answer::new(0, "again"));
    answers.push(Answer::new(9, "nowhere"));
    when_creating(template, answers).then_expect_error(rejected(vec![
        FailureError::TooLarge { size: 5812 },
        FailureError::AmbiguousAnswerNumber { number: 0 },
        FailureError::NoQuestion { number: 9 },
    ]));
}

#[test]
fn a_template_with_gaps_cannot_be_answered() {
    // Answers match questions by position, "answered" compares numbers.
    let gapped = template("PermissionTemplate", vec![question(1, "Only?", false, 1)]);
    when_creating(gapped.clone(), vec![Answer::new(0, "yes")])
        .then_expect_error(rejected(vec![FailureError::QuestionUnanswered { number: 1 }]));
    when_creating(gapped, vec![Answer::new(1, "yes")]).then_expect_error(rejected(vec![
        FailureError::NoQuestion { number: 1 },
        FailureError::QuestionUnanswered { number: 1 },
    ]));
}

#[test]
fn create_refuses_blank_and_overlong_answers_before_validation() {
    let answers = vec![
        Answer::new(0, ""),
        Answer::new(1, "x".repeat(1025)),
        Answer::new(2, "\t "),
    ];
    when_creating(dev_offered(), answers).then_expect_error(ApplicationError::InvalidInput(vec![
        InputViolation::AnswerBlank { index: 0 },
        InputViolation::AnswerLength { index: 0, length: 0 },
        InputViolation::AnswerLength { index: 1, length: 1025 },
        InputViolation::AnswerBlank { index: 2 },
    ]));
}

// --- updateApplication (9.14) ---

/// Seeded application 3: testuser:1, REJECTED, `Dev offered`, answer set A.
fn application_3() -> Vec<ApplicationEvent> {
    vec![
        created(3, testuser(1), dev_offered(), answer_set_a()),
        processed(Decision::Rejected),
    ]
}

fn answers_updated(answers: Vec<Answer>) -> ApplicationEvent {
    ApplicationEvent::AnswersUpdated(ApplicationAnswersUpdated { answers })
}

#[test]
fn update_is_not_found_for_unknown_or_deleted_applications() {
    ApplicationTest::with(())
        .given_no_previous_events()
        .when(ApplicationCommand::UpdateAnswers {
            answers: vec![Answer::new(0, "x")],
        })
        .then_expect_error(rejected(vec![FailureError::NotFound]));
    ApplicationTest::with(())
        .given(vec![application_1(), deleted()])
        .when(ApplicationCommand::UpdateAnswers {
            answers: vec![Answer::new(0, "x")],
        })
        .then_expect_error(rejected(vec![FailureError::NotFound]));
}

#[test]
fn an_accepted_application_cannot_be_changed_whatever_the_answers() {
    ApplicationTest::with(())
        .given(vec![application_1(), processed(Decision::Accepted)])
        .when(ApplicationCommand::UpdateAnswers {
            answers: vec![Answer::new(9, "x"), Answer::new(9, "y")],
        })
        .then_expect_error(rejected(vec![FailureError::AlreadyAccepted]));
}

#[test]
fn a_rejected_application_may_be_edited() {
    ApplicationTest::with(())
        .given(application_3())
        .when(ApplicationCommand::UpdateAnswers {
            answers: vec![Answer::new(1, "Rust")],
        })
        .then_expect_events(vec![answers_updated(vec![Answer::new(1, "Rust")])]);
}

#[test]
fn update_reports_a_repeated_number() {
    ApplicationTest::with(())
        .given(application_3())
        .when(ApplicationCommand::UpdateAnswers {
            answers: vec![Answer::new(0, "first"), Answer::new(0, "second")],
        })
        .then_expect_error(rejected(vec![FailureError::AmbiguousAnswerNumber { number: 0 }]));
}

#[test]
fn update_reports_a_too_short_answer_without_unanswered_errors() {
    ApplicationTest::with(())
        .given(application_3())
        .when(ApplicationCommand::UpdateAnswers {
            answers: vec![Answer::new(2, "fsfs")],
        })
        .then_expect_error(rejected(vec![FailureError::AnswerTooShort {
            answer_length: 4,
            minimum_length: 500,
            number: 2,
        }]));
}

#[test]
fn update_reports_a_number_without_question() {
    ApplicationTest::with(())
        .given(vec![application_1()])
        .when(ApplicationCommand::UpdateAnswers {
            answers: vec![Answer::new(3, "nowhere")],
        })
        .then_expect_error(rejected(vec![FailureError::NoQuestion { number: 3 }]));
}

#[test]
fn update_checks_no_size() {
    // Only creation limits the size: six long answers are only ambiguous.
    let answers = vec![Answer::new(0, "x".repeat(1024)); 6];
    assert_eq!(size(&dev_offered(), &answers), 6225);
    ApplicationTest::with(())
        .given(vec![application_1()])
        .when(ApplicationCommand::UpdateAnswers { answers })
        .then_expect_error(rejected(vec![FailureError::AmbiguousAnswerNumber { number: 0 }]));
}

#[test]
fn update_with_no_answers_changes_nothing() {
    ApplicationTest::with(())
        .given(vec![application_1()])
        .when(ApplicationCommand::UpdateAnswers { answers: vec![] })
        .then_expect_events(vec![]);
}

#[test]
fn update_refuses_blank_answers() {
    ApplicationTest::with(())
        .given(vec![application_1()])
        .when(ApplicationCommand::UpdateAnswers {
            answers: vec![Answer::new(0, " ")],
        })
        .then_expect_error(ApplicationError::InvalidInput(vec![InputViolation::AnswerBlank {
            index: 0,
        }]));
}

#[test]
fn update_validates_against_the_application_template_revision() {
    // The template may have changed since; the copy decides.
    ApplicationTest::with(())
        .given(vec![created(5, testuser(2), empty_template(), vec![])])
        .when(ApplicationCommand::UpdateAnswers {
            answers: vec![Answer::new(0, "x")],
        })
        .then_expect_error(rejected(vec![FailureError::NoQuestion { number: 0 }]));
}

// --- processApplication (9.13) ---

#[test]
fn process_sets_the_decision() {
    ApplicationTest::with(())
        .given(vec![application_1()])
        .when(ApplicationCommand::Process {
            decision: Decision::Accepted,
        })
        .then_expect_events(vec![processed(Decision::Accepted)]);
}

#[test]
fn an_accepted_application_may_still_be_rejected() {
    ApplicationTest::with(())
        .given(vec![application_1(), processed(Decision::Accepted)])
        .when(ApplicationCommand::Process {
            decision: Decision::Rejected,
        })
        .then_expect_events(vec![processed(Decision::Rejected)]);
}

#[test]
fn process_with_the_current_status_changes_nothing() {
    ApplicationTest::with(())
        .given(application_3())
        .when(ApplicationCommand::Process {
            decision: Decision::Rejected,
        })
        .then_expect_error(ApplicationError::StatusUnchanged {
            status: Decision::Rejected,
        });
}

#[test]
fn process_is_not_found_for_unknown_applications() {
    ApplicationTest::with(())
        .given_no_previous_events()
        .when(ApplicationCommand::Process {
            decision: Decision::Accepted,
        })
        .then_expect_error(rejected(vec![FailureError::NotFound]));
}

#[test]
fn unprocessed_is_no_decision() {
    assert_eq!(Decision::from_status(ApplicationStatus::Unprocessed), None);
    assert_eq!(
        Decision::from_status(ApplicationStatus::Accepted),
        Some(Decision::Accepted)
    );
    assert_eq!(
        Decision::from_status(ApplicationStatus::Rejected),
        Some(Decision::Rejected)
    );
}

// --- deleteApplication (9.16) ---

#[test]
fn delete_removes_an_application_of_any_status() {
    ApplicationTest::with(())
        .given(vec![application_1(), processed(Decision::Accepted)])
        .when(ApplicationCommand::Delete)
        .then_expect_events(vec![deleted()]);
}

#[test]
fn delete_is_not_found_for_unknown_or_deleted_applications() {
    ApplicationTest::with(())
        .given_no_previous_events()
        .when(ApplicationCommand::Delete)
        .then_expect_error(rejected(vec![FailureError::NotFound]));
    ApplicationTest::with(())
        .given(vec![application_1(), deleted()])
        .when(ApplicationCommand::Delete)
        .then_expect_error(rejected(vec![FailureError::NotFound]));
}

// --- replay and contract ---

fn replay(events: Vec<ApplicationEvent>) -> Application {
    let mut application = Application::default();
    for event in events {
        application.apply(event);
    }
    application
}

#[test]
fn replay_overwrites_answers_in_place_and_keeps_the_rest() {
    let mut events = application_3();
    events.push(answers_updated(vec![Answer::new(1, "Rust"), Answer::new(0, "Me")]));
    let application = replay(events);
    assert_eq!(
        application.answers,
        vec![
            Answer::new(0, "Me"),
            Answer::new(1, "Rust"),
            Answer::new(2, long_answer())
        ]
    );
    assert_eq!(application.status, ApplicationStatus::Rejected);
    assert_eq!(
        application
            .question_of(&application.answers[1])
            .map(|q| q.question.as_str()),
        Some("What programming language do I know?")
    );
}

#[test]
fn only_a_live_unprocessed_application_is_current() {
    assert!(replay(vec![application_1()]).is_current());
    assert!(!replay(vec![application_1(), processed(Decision::Rejected)]).is_current());
    assert!(!replay(vec![application_1(), deleted()]).is_current());
    assert!(!Application::default().is_current());
}

#[test]
fn ownership_needs_a_live_application_of_that_user() {
    let application = replay(vec![application_1()]);
    assert!(application.is_owned_by(&testuser(1)));
    assert!(!application.is_owned_by(&testuser(2)));
    assert!(!replay(vec![application_1(), deleted()]).is_owned_by(&testuser(1)));
}

#[test]
fn state_survives_a_json_snapshot() {
    let application = replay(application_3());
    let json = serde_json::to_string(&application).unwrap();
    assert_eq!(serde_json::from_str::<Application>(&json).unwrap(), application);
}

#[test]
fn events_are_tagged_with_their_type_and_camel_case() {
    let event = created(6, testuser(3), empty_template(), vec![]);
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"devmarkt-application-created": {
            "id": 6,
            "owner": {"type": "testuser", "number": 3},
            "template": {"name": "Empty template", "revision": 1, "questions": []},
            "answers": []
        }})
    );
    assert_eq!(
        serde_json::to_value(processed(Decision::Accepted)).unwrap(),
        json!({"devmarkt-application-processed": {"status": "ACCEPTED"}})
    );
}

#[test]
fn event_types_are_stable_and_version_1() {
    let events = [
        application_1(),
        answers_updated(vec![]),
        processed(Decision::Rejected),
        deleted(),
    ];
    let types: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(
        types,
        vec![
            "devmarkt-application-created",
            "devmarkt-application-answers-updated",
            "devmarkt-application-processed",
            "devmarkt-application-deleted"
        ]
    );
    assert!(events.iter().all(|event| event.event_version() == "1"));
    assert_eq!(Application::TYPE, "devmarkt-application");
}

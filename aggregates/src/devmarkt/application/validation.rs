//! Answer validation (spec 9.12 step 3, 9.14 step 4, 9.15): the failure
//! errors of `createApplication` and `updateApplication`, in the spec's
//! order. Pure functions over a template revision and the submitted answers.

use std::collections::BTreeSet;

use super::answer::Answer;
use crate::devmarkt::template::failure::FailureError;
use crate::devmarkt::template::input::{text_length, text_violations, InputViolation, ANSWER_MAX_LENGTH};
use crate::devmarkt::template::question::{sorted_by_number, Question};
use crate::devmarkt::template::TemplateSnapshot;

/// The largest allowed size of a new application: it keeps the text below
/// Discord's 6000-character embed limit with room for decoration.
pub const MAX_SIZE: u32 = 5800;

/// `createApplication`'s errors: `TOO_LARGE`, then the per-answer errors in
/// input order, then `QUESTION_UNANSWERED` for every question (ascending
/// number) without a valid answer.
pub fn creation_errors(template: &TemplateSnapshot, answers: &[Answer]) -> Vec<FailureError> {
    let mut errors = Vec::new();
    let size = size(template, answers);
    if size > MAX_SIZE {
        errors.push(FailureError::TooLarge { size });
    }
    let questions = sorted_by_number(template.questions.clone());
    let checked = check_answers(&questions, answers);
    errors.extend(checked.errors);
    errors.extend(
        questions
            .iter()
            .filter(|question| !checked.valid_numbers.contains(&question.number))
            .map(|question| FailureError::QuestionUnanswered {
                number: question.number,
            }),
    );
    errors
}

/// `updateApplication`'s errors: the per-answer errors only, no size and no
/// unanswered check (spec 9.14).
pub fn update_errors(template: &TemplateSnapshot, answers: &[Answer]) -> Vec<FailureError> {
    check_answers(&sorted_by_number(template.questions.clone()), answers).errors
}

/// The size of spec 9.12 step 3a in UTF-16 code units: template name, all
/// question texts and *every* submitted answer, also invalid or repeated
/// ones.
pub fn size(template: &TemplateSnapshot, answers: &[Answer]) -> u32 {
    let texts = std::iter::once(template.name.as_str())
        .chain(template.questions.iter().map(|question| question.question.as_str()))
        .chain(answers.iter().map(|answer| answer.answer.as_str()));
    saturating_u32(texts.map(text_length).sum())
}

/// The `AnswerInput.answer` constraints (spec 4.3) of every answer.
pub(crate) fn answer_violations(answers: &[Answer]) -> Vec<InputViolation> {
    answers
        .iter()
        .enumerate()
        .flat_map(|(index, answer)| {
            text_violations(
                &answer.answer,
                ANSWER_MAX_LENGTH,
                || InputViolation::AnswerBlank { index },
                |length| InputViolation::AnswerLength { index, length },
            )
        })
        .collect()
}

/// The outcome of the per-answer rules.
struct CheckedAnswers {
    errors: Vec<FailureError>,
    /// `K` of spec 9.15: the numbers that received a valid answer. A
    /// question counts as answered when its *number* is in here.
    valid_numbers: BTreeSet<u32>,
}

/// Spec 9.15, answer by answer in input order, against `questions` sorted by
/// number and addressed by list position.
///
/// A repeat of a validly answered number is `AMBIGUOUS_ANSWER_NUMBER` once;
/// later repeats are checked like new answers. A number whose first answer
/// was invalid is not ambiguous later. On a template whose numbers have
/// gaps, answers match by position while "answered" compares real numbers,
/// so such a template cannot be answered completely (quirk, kept).
fn check_answers(questions: &[Question], answers: &[Answer]) -> CheckedAnswers {
    let mut checked = CheckedAnswers {
        errors: Vec::new(),
        valid_numbers: BTreeSet::new(),
    };
    for answer in answers {
        let number = answer.number;
        if checked.valid_numbers.contains(&number) {
            let ambiguous = FailureError::AmbiguousAnswerNumber { number };
            if !checked.errors.contains(&ambiguous) {
                checked.errors.push(ambiguous);
                continue;
            }
        }
        let Some(question) = questions.get(number as usize) else {
            checked.errors.push(FailureError::NoQuestion { number });
            continue;
        };
        let answer_length = saturating_u32(text_length(&answer.answer));
        if answer_length < question.min_answer_length {
            checked.errors.push(FailureError::AnswerTooShort {
                answer_length,
                minimum_length: question.min_answer_length,
                number,
            });
            continue;
        }
        checked.valid_numbers.insert(number);
    }
    checked
}

fn saturating_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

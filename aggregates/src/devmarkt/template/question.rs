//! Questions and the pure list rules around them: duplicate numbers
//! (spec 9.6) and the position-based update algorithm (spec 9.8).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::input::{text_violations, InputViolation, MIN_ANSWER_LENGTH, QUESTION_MAX_LENGTH};

/// One question of a template (spec 4.1 `Question`, 4.3 `QuestionInput`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    pub number: u32,
    pub question: String,
    pub multiline: bool,
    /// In UTF-16 code units; the GraphQL input defaults it to 1.
    pub min_answer_length: u32,
}

/// `UpdateAction` (spec 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UpdateAction {
    Insert,
    Replace,
    Delete,
    Append,
}

/// One `QuestionInput` of `updateTemplate`: `question.number` is the list
/// position the action addresses (ignored by `APPEND`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionUpdate {
    /// `None` (no `updateAction`) skips the entry.
    pub action: Option<UpdateAction>,
    pub question: Question,
}

/// Sorts by number; stable, so equal numbers keep their input order.
pub(crate) fn sorted_by_number(mut questions: Vec<Question>) -> Vec<Question> {
    questions.sort_by_key(|question| question.number);
    questions
}

/// Every number that occurs more than once, each once, ascending: the
/// `AMBIGUOUS_NUMBER` errors of spec 9.6 step 2.
pub fn ambiguous_numbers(questions: &[Question]) -> Vec<u32> {
    let mut occurrences: BTreeMap<u32, usize> = BTreeMap::new();
    for question in questions {
        *occurrences.entry(question.number).or_default() += 1;
    }
    occurrences
        .into_iter()
        .filter_map(|(number, count)| (count > 1).then_some(number))
        .collect()
}

/// Applies `updateTemplate`'s actions (spec 9.8 step 3) to `current`: in
/// input order, each against the list as it is by then, addressing list
/// *positions*, not stored numbers.
///
/// - no action, or a non-`APPEND` position ≥ the list length: skipped;
/// - `APPEND`: added at the end, numbered with the list length;
/// - `REPLACE`: text, multiline and minimum length replaced, number kept;
/// - `DELETE`: removed, then the whole list renumbered 0..n-2;
/// - `INSERT`: the elements from that position on move up one (number + 1),
///   the new question takes the position with its input number.
///
/// On a list numbered 0..n-1 the result is numbered 0..m-1 again. On a list
/// with gaps (possible via `createTemplate`) `APPEND` can repeat a number;
/// callers check the result with [`ambiguous_numbers`].
pub fn apply_update_actions(current: &[Question], updates: &[QuestionUpdate]) -> Vec<Question> {
    let mut list = sorted_by_number(current.to_vec());
    for update in updates {
        let Some(action) = update.action else { continue };
        let length = list.len();
        let position = update.question.number as usize;
        if action != UpdateAction::Append && position >= length {
            continue;
        }
        match action {
            UpdateAction::Append => list.push(Question {
                number: length as u32,
                ..update.question.clone()
            }),
            UpdateAction::Replace => {
                list[position] = Question {
                    number: list[position].number,
                    ..update.question.clone()
                }
            }
            UpdateAction::Delete => {
                list.remove(position);
                for (index, question) in list.iter_mut().enumerate() {
                    question.number = index as u32;
                }
            }
            UpdateAction::Insert => {
                for question in &mut list[position..] {
                    question.number += 1;
                }
                list.insert(position, update.question.clone());
            }
        }
    }
    list
}

/// The `QuestionInput` constraints (spec 4.3) of one question at `index`.
pub(crate) fn question_violations(index: usize, question: &Question) -> Vec<InputViolation> {
    let mut violations = text_violations(
        &question.question,
        QUESTION_MAX_LENGTH,
        || InputViolation::QuestionBlank { index },
        |length| InputViolation::QuestionLength { index, length },
    );
    if !MIN_ANSWER_LENGTH.contains(&question.min_answer_length) {
        violations.push(InputViolation::MinAnswerLength {
            index,
            value: question.min_answer_length,
        });
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(number: u32, text: &str) -> Question {
        Question {
            number,
            question: text.to_owned(),
            multiline: false,
            min_answer_length: 1,
        }
    }

    fn update(action: Option<UpdateAction>, number: u32, text: &str) -> QuestionUpdate {
        QuestionUpdate {
            action,
            question: question(number, text),
        }
    }

    /// (number, text) pairs, to compare lists at a glance.
    fn summary(questions: &[Question]) -> Vec<(u32, &str)> {
        questions.iter().map(|q| (q.number, q.question.as_str())).collect()
    }

    fn abc() -> Vec<Question> {
        vec![question(0, "a"), question(1, "b"), question(2, "c")]
    }

    #[test]
    fn ambiguous_numbers_lists_each_duplicate_once_ascending() {
        let questions = [3, 1, 3, 1, 3, 0].map(|n| question(n, "q"));
        assert_eq!(ambiguous_numbers(&questions), vec![1, 3]);
        assert!(ambiguous_numbers(&abc()).is_empty());
    }

    #[test]
    fn insert_shifts_the_rest_up() {
        let result = apply_update_actions(&abc(), &[update(Some(UpdateAction::Insert), 1, "new")]);
        assert_eq!(summary(&result), vec![(0, "a"), (1, "new"), (2, "b"), (3, "c")]);
    }

    #[test]
    fn replace_keeps_the_stored_number() {
        let gapped = vec![question(0, "a"), question(5, "b")];
        let mut replacement = update(Some(UpdateAction::Replace), 1, "new");
        replacement.question.multiline = true;
        replacement.question.min_answer_length = 44;
        let result = apply_update_actions(&gapped, &[replacement]);
        assert_eq!(summary(&result), vec![(0, "a"), (5, "new")]);
        assert!(result[1].multiline);
        assert_eq!(result[1].min_answer_length, 44);
    }

    #[test]
    fn delete_renumbers_the_whole_list() {
        let gapped = vec![question(2, "a"), question(5, "b"), question(9, "c")];
        let result = apply_update_actions(&gapped, &[update(Some(UpdateAction::Delete), 1, "ignored")]);
        assert_eq!(summary(&result), vec![(0, "a"), (1, "c")]);
    }

    #[test]
    fn append_ignores_the_input_number() {
        let result = apply_update_actions(&abc(), &[update(Some(UpdateAction::Append), 77, "new")]);
        assert_eq!(summary(&result), vec![(0, "a"), (1, "b"), (2, "c"), (3, "new")]);
        let onto_empty = apply_update_actions(&[], &[update(Some(UpdateAction::Append), 5, "first")]);
        assert_eq!(summary(&onto_empty), vec![(0, "first")]);
    }

    #[test]
    fn entries_without_action_or_beyond_the_end_are_skipped() {
        let updates = [
            update(None, 0, "no action"),
            update(Some(UpdateAction::Replace), 3, "too far"),
            update(Some(UpdateAction::Insert), 3, "too far"),
            update(Some(UpdateAction::Delete), 3, "too far"),
        ];
        assert_eq!(apply_update_actions(&abc(), &updates), abc());
    }

    #[test]
    fn actions_apply_in_input_order_against_the_current_list() {
        // Deleting position 0 twice removes the first two questions.
        let updates = [
            update(Some(UpdateAction::Delete), 0, ""),
            update(Some(UpdateAction::Delete), 0, ""),
        ];
        assert_eq!(summary(&apply_update_actions(&abc(), &updates)), vec![(0, "c")]);
    }

    #[test]
    fn the_current_list_is_sorted_by_number_first() {
        let unsorted = vec![question(1, "b"), question(0, "a")];
        let result = apply_update_actions(&unsorted, &[update(Some(UpdateAction::Replace), 0, "new")]);
        assert_eq!(summary(&result), vec![(0, "new"), (1, "b")]);
    }

    #[test]
    fn append_on_a_gapped_list_can_repeat_a_number() {
        let gapped = vec![question(1, "only")];
        let result = apply_update_actions(&gapped, &[update(Some(UpdateAction::Append), 0, "new")]);
        assert_eq!(ambiguous_numbers(&result), vec![1]);
    }

    #[test]
    fn question_constraints() {
        assert!(question_violations(0, &question(0, "fine")).is_empty());
        let mut bad = question(0, &"x".repeat(257));
        bad.min_answer_length = 1025;
        assert_eq!(
            question_violations(4, &bad),
            vec![
                InputViolation::QuestionLength { index: 4, length: 257 },
                InputViolation::MinAnswerLength { index: 4, value: 1025 }
            ]
        );
        let mut zero = question(0, "  ");
        zero.min_answer_length = 0;
        assert_eq!(
            question_violations(1, &zero),
            vec![
                InputViolation::QuestionBlank { index: 1 },
                InputViolation::MinAnswerLength { index: 1, value: 0 }
            ]
        );
        let mut limits = question(0, &"x".repeat(256));
        limits.min_answer_length = 1024;
        assert!(question_violations(0, &limits).is_empty());
    }
}

//! Input constraints (spec 2 `TemplateName`, 4.3 and 6.2) and the text
//! measures they use.
//!
//! The GraphQL layer checks these before anything else and answers with
//! constraint errors, so the aggregates normally never see such input. They
//! check again because they are the last guard of their invariants: a REST
//! command, a seed or an import must not store a blank question either.
//! Shared by all three Devmarkt aggregates (it lives here because the module
//! tree of `devmarkt` is not this module's to change).

use std::fmt;
use std::ops::RangeInclusive;

/// `TemplateName`: at most this many UTF-16 code units.
pub const TEMPLATE_NAME_MAX_LENGTH: usize = 40;
/// `createTemplate(questions:)` carries `@ContainerSize(min: 1, max: 25)`.
/// `updateTemplate` has no such limit (spec 4.3), so an update may grow or
/// empty a template.
pub const QUESTION_COUNT: RangeInclusive<usize> = 1..=25;
/// `QuestionInput.question`: `@Size(min: 1, max: 256)`.
pub const QUESTION_MAX_LENGTH: usize = 256;
/// `QuestionInput.minAnswerLength`: `@Range(min: 1, max: 1024)`.
pub const MIN_ANSWER_LENGTH: RangeInclusive<u32> = 1..=1024;
/// `AnswerInput.answer`: `@Size(min: 1, max: 1024)`.
pub const ANSWER_MAX_LENGTH: usize = 1024;

/// The length of a text as the spec measures it: UTF-16 code units (Java's
/// `String.length()`), so an emoji counts 2.
pub fn text_length(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `@NotBlank`: blank when nothing is left after trimming every character
/// up to U+0020 from both ends (Java's `String.trim()`).
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c <= ' ')
}

/// The `TemplateName` scalar: not blank (Java's `String.isBlank()`, which
/// uses `Character.isWhitespace`) and at most 40 UTF-16 code units.
pub fn is_valid_template_name(name: &str) -> bool {
    text_length(name) <= TEMPLATE_NAME_MAX_LENGTH && !name.chars().all(is_java_whitespace)
}

/// Java's `Character.isWhitespace`: Unicode white space except the
/// non-breaking spaces, plus the four information separators U+001C–U+001F;
/// U+0085 is a control character there, not white space.
fn is_java_whitespace(c: char) -> bool {
    let non_breaking = matches!(c, '\u{85}' | '\u{A0}' | '\u{2007}' | '\u{202F}');
    (c.is_whitespace() && !non_breaking) || ('\u{1C}'..='\u{1F}').contains(&c)
}

/// One violated input constraint. `index` is the position in the command's
/// list (questions, updates or answers), counted from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputViolation {
    /// The name is blank or longer than 40 UTF-16 code units.
    TemplateName { length: usize },
    /// `createTemplate` needs 1 to 25 questions.
    QuestionCount { count: usize },
    /// A question text is blank.
    QuestionBlank { index: usize },
    /// A question text is empty or longer than 256 UTF-16 code units.
    QuestionLength { index: usize, length: usize },
    /// A `minAnswerLength` outside 1..=1024.
    MinAnswerLength { index: usize, value: u32 },
    /// An answer is blank.
    AnswerBlank { index: usize },
    /// An answer is empty or longer than 1024 UTF-16 code units.
    AnswerLength { index: usize, length: usize },
    /// A user id's type is blank.
    UserTypeBlank,
}

impl fmt::Display for InputViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TemplateName { length } => {
                write!(f, "template name must not be blank or longer than 40 (length {length})")
            }
            Self::QuestionCount { count } => write!(f, "a template needs 1 to 25 questions (got {count})"),
            Self::QuestionBlank { index } => write!(f, "question {index} must not be blank"),
            Self::QuestionLength { index, length } => {
                write!(f, "question {index} must be 1 to 256 long (length {length})")
            }
            Self::MinAnswerLength { index, value } => {
                write!(
                    f,
                    "question {index} needs a minimum answer length of 1 to 1024 (got {value})"
                )
            }
            Self::AnswerBlank { index } => write!(f, "answer {index} must not be blank"),
            Self::AnswerLength { index, length } => {
                write!(f, "answer {index} must be 1 to 1024 long (length {length})")
            }
            Self::UserTypeBlank => write!(f, "user id type must not be blank"),
        }
    }
}

/// Renders a list of violations for an error message.
pub(crate) fn describe(violations: &[InputViolation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `@NotBlank` and `@Size(min: 1, max)` on one text; both fire for `""`,
/// as in the reference (spec 6.2).
pub(crate) fn text_violations(
    text: &str,
    max_length: usize,
    blank: impl FnOnce() -> InputViolation,
    length: impl FnOnce(usize) -> InputViolation,
) -> Vec<InputViolation> {
    let mut violations = Vec::new();
    if is_blank(text) {
        violations.push(blank());
    }
    let measured = text_length(text);
    if !(1..=max_length).contains(&measured) {
        violations.push(length(measured));
    }
    violations
}

/// The `TemplateName` check as a violation list (empty when valid).
pub(crate) fn template_name_violations(name: &str) -> Vec<InputViolation> {
    if is_valid_template_name(name) {
        Vec::new()
    } else {
        vec![InputViolation::TemplateName {
            length: text_length(name),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_utf16_code_units() {
        assert_eq!(text_length("abc"), 3);
        assert_eq!(text_length("ä"), 1);
        assert_eq!(text_length("🦀"), 2);
    }

    #[test]
    fn not_blank_trims_everything_up_to_space_only() {
        assert!(is_blank(""));
        assert!(is_blank(" \t\n\u{1}"));
        assert!(!is_blank(" x "));
        // U+00A0 survives Java's trim(), so it is not blank for @NotBlank.
        assert!(!is_blank("\u{A0}"));
    }

    #[test]
    fn template_name_is_not_blank_and_at_most_40_units() {
        assert!(is_valid_template_name("Dev offered"));
        assert!(is_valid_template_name(&"x".repeat(40)));
        assert!(!is_valid_template_name(&"x".repeat(41)));
        // 20 crabs are 40 UTF-16 code units; one more letter is 41.
        assert!(is_valid_template_name(&"🦀".repeat(20)));
        assert!(!is_valid_template_name(&format!("{}x", "🦀".repeat(20))));
        assert!(!is_valid_template_name(""));
        assert!(!is_valid_template_name(" \u{2003}\u{1F}"));
        // A non-breaking space is not Java white space.
        assert!(is_valid_template_name("\u{A0}"));
    }

    #[test]
    fn an_empty_text_violates_both_not_blank_and_size() {
        let violations = text_violations(
            "",
            ANSWER_MAX_LENGTH,
            || InputViolation::AnswerBlank { index: 3 },
            |length| InputViolation::AnswerLength { index: 3, length },
        );
        assert_eq!(
            violations,
            vec![
                InputViolation::AnswerBlank { index: 3 },
                InputViolation::AnswerLength { index: 3, length: 0 }
            ]
        );
    }
}

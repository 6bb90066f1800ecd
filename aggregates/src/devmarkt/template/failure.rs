//! The failure model of spec 7: domain refusals the API returns as *data*, a
//! `Failure { errors: [Error { code, data }] }`, not as GraphQL errors.
//!
//! Codes and data are a contract, so they are typed here once for all three
//! Devmarkt aggregates (the same code, e.g. `NOT_FOUND`, serves several
//! domains). [`FailureError`] serializes to exactly the spec's `Error` object,
//! `{"code": "...", "data": {...} | null}`, and [`FailureData::type_name`]
//! names the `FailureData` union member for `__typename`.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// One entry of `Failure.errors` (the spec's `Error` type): a code and
/// exactly the data its `FailureData` member carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureError {
    /// `NOT_FOUND` (template, user and application domains).
    NotFound,
    /// `DUPLICATED` (template and user domains).
    Duplicated,
    /// `AMBIGUOUS_NUMBER`: a question number given twice (`NumberTemplateErrorData`).
    AmbiguousNumber { number: u32 },
    /// `ADMIN_USER_CANT_BE_MODIFIED`: the built-in admin `internal:1`.
    AdminUserCantBeModified,
    /// `HAS_UNPROCESSED_APPLICATION`: the user already has a current application.
    HasUnprocessedApplication,
    /// `TEMPLATE_NOT_FOUND`: no enabled template of that name.
    TemplateNotFound,
    /// `AMBIGUOUS_ANSWER_NUMBER` (`NumberApplicationErrorData`).
    AmbiguousAnswerNumber { number: u32 },
    /// `NO_QUESTION`: the answer's number addresses no question (`NumberApplicationErrorData`).
    NoQuestion { number: u32 },
    /// `ANSWER_TOO_SHORT` (`AnswerTooShortApplicationErrorData`).
    AnswerTooShort {
        answer_length: u32,
        minimum_length: u32,
        number: u32,
    },
    /// `ALREADY_ACCEPTED`: accepted applications cannot be changed.
    AlreadyAccepted,
    /// `QUESTION_UNANSWERED` (`NumberApplicationErrorData`).
    QuestionUnanswered { number: u32 },
    /// `TOO_LARGE` (`TooLargeErrorData`, `size` = the computed size).
    TooLarge { size: u32 },
}

impl FailureError {
    /// The spec's code string.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "NOT_FOUND",
            Self::Duplicated => "DUPLICATED",
            Self::AmbiguousNumber { .. } => "AMBIGUOUS_NUMBER",
            Self::AdminUserCantBeModified => "ADMIN_USER_CANT_BE_MODIFIED",
            Self::HasUnprocessedApplication => "HAS_UNPROCESSED_APPLICATION",
            Self::TemplateNotFound => "TEMPLATE_NOT_FOUND",
            Self::AmbiguousAnswerNumber { .. } => "AMBIGUOUS_ANSWER_NUMBER",
            Self::NoQuestion { .. } => "NO_QUESTION",
            Self::AnswerTooShort { .. } => "ANSWER_TOO_SHORT",
            Self::AlreadyAccepted => "ALREADY_ACCEPTED",
            Self::QuestionUnanswered { .. } => "QUESTION_UNANSWERED",
            Self::TooLarge { .. } => "TOO_LARGE",
        }
    }

    /// The `data` field: `None` (rendered `null`) for codes without data.
    pub fn data(&self) -> Option<FailureData> {
        match *self {
            Self::AmbiguousNumber { number } => Some(FailureData::NumberTemplate { number }),
            Self::AmbiguousAnswerNumber { number }
            | Self::NoQuestion { number }
            | Self::QuestionUnanswered { number } => Some(FailureData::NumberApplication { number }),
            Self::AnswerTooShort {
                answer_length,
                minimum_length,
                number,
            } => Some(FailureData::AnswerTooShortApplication {
                answer_length,
                minimum_length,
                number,
            }),
            Self::TooLarge { size } => Some(FailureData::TooLarge { size }),
            Self::NotFound
            | Self::Duplicated
            | Self::AdminUserCantBeModified
            | Self::HasUnprocessedApplication
            | Self::TemplateNotFound
            | Self::AlreadyAccepted => None,
        }
    }
}

impl Serialize for FailureError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut error = serializer.serialize_struct("Error", 2)?;
        error.serialize_field("code", self.code())?;
        error.serialize_field("data", &self.data())?;
        error.end()
    }
}

impl fmt::Display for FailureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.data() {
            None => f.write_str(self.code()),
            Some(data) => write!(f, "{} {}", self.code(), data),
        }
    }
}

/// A member of the spec's `FailureData` union. Serializes (camelCase) to the
/// member's fields only; the member name comes from [`FailureData::type_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum FailureData {
    /// `NumberTemplateErrorData`.
    NumberTemplate { number: u32 },
    /// `NumberApplicationErrorData`.
    NumberApplication { number: u32 },
    /// `AnswerTooShortApplicationErrorData`.
    AnswerTooShortApplication {
        answer_length: u32,
        minimum_length: u32,
        number: u32,
    },
    /// `TooLargeErrorData`.
    TooLarge { size: u32 },
}

impl FailureData {
    /// The GraphQL type name of this union member (`__typename`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::NumberTemplate { .. } => "NumberTemplateErrorData",
            Self::NumberApplication { .. } => "NumberApplicationErrorData",
            Self::AnswerTooShortApplication { .. } => "AnswerTooShortApplicationErrorData",
            Self::TooLarge { .. } => "TooLargeErrorData",
        }
    }
}

impl fmt::Display for FailureData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NumberTemplate { number } | Self::NumberApplication { number } => write!(f, "{{number: {number}}}"),
            Self::AnswerTooShortApplication {
                answer_length,
                minimum_length,
                number,
            } => write!(
                f,
                "{{answerLength: {answer_length}, minimumLength: {minimum_length}, number: {number}}}"
            ),
            Self::TooLarge { size } => write!(f, "{{size: {size}}}"),
        }
    }
}

/// The spec's `Failure`: one or more errors, in the order they were found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub errors: Vec<FailureError>,
}

impl Failure {
    /// A failure with several errors; `None` when there are none, so a
    /// validation can end with `if let Some(failure) = Failure::of(errors)`.
    pub fn of(errors: Vec<FailureError>) -> Option<Self> {
        (!errors.is_empty()).then_some(Self { errors })
    }
}

impl From<FailureError> for Failure {
    fn from(error: FailureError) -> Self {
        Self { errors: vec![error] }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        f.write_str(&errors.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn codes_without_data_serialize_data_as_null() {
        let failure = Failure::from(FailureError::NotFound);
        assert_eq!(
            serde_json::to_value(&failure).unwrap(),
            json!({"errors": [{"code": "NOT_FOUND", "data": null}]})
        );
    }

    #[test]
    fn every_code_and_its_data_match_the_spec() {
        let cases = [
            (FailureError::NotFound, json!({"code": "NOT_FOUND", "data": null})),
            (FailureError::Duplicated, json!({"code": "DUPLICATED", "data": null})),
            (
                FailureError::AmbiguousNumber { number: 3 },
                json!({"code": "AMBIGUOUS_NUMBER", "data": {"number": 3}}),
            ),
            (
                FailureError::AdminUserCantBeModified,
                json!({"code": "ADMIN_USER_CANT_BE_MODIFIED", "data": null}),
            ),
            (
                FailureError::HasUnprocessedApplication,
                json!({"code": "HAS_UNPROCESSED_APPLICATION", "data": null}),
            ),
            (
                FailureError::TemplateNotFound,
                json!({"code": "TEMPLATE_NOT_FOUND", "data": null}),
            ),
            (
                FailureError::AmbiguousAnswerNumber { number: 0 },
                json!({"code": "AMBIGUOUS_ANSWER_NUMBER", "data": {"number": 0}}),
            ),
            (
                FailureError::NoQuestion { number: 6 },
                json!({"code": "NO_QUESTION", "data": {"number": 6}}),
            ),
            (
                FailureError::AnswerTooShort {
                    answer_length: 19,
                    minimum_length: 500,
                    number: 2,
                },
                json!({"code": "ANSWER_TOO_SHORT", "data": {"answerLength": 19, "minimumLength": 500, "number": 2}}),
            ),
            (
                FailureError::AlreadyAccepted,
                json!({"code": "ALREADY_ACCEPTED", "data": null}),
            ),
            (
                FailureError::QuestionUnanswered { number: 2 },
                json!({"code": "QUESTION_UNANSWERED", "data": {"number": 2}}),
            ),
            (
                FailureError::TooLarge { size: 5801 },
                json!({"code": "TOO_LARGE", "data": {"size": 5801}}),
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(serde_json::to_value(error).unwrap(), expected, "{error:?}");
        }
    }

    #[test]
    fn data_names_its_union_member() {
        let type_name = |error: FailureError| error.data().map(|data| data.type_name());
        assert_eq!(
            type_name(FailureError::AmbiguousNumber { number: 1 }),
            Some("NumberTemplateErrorData")
        );
        assert_eq!(
            type_name(FailureError::NoQuestion { number: 1 }),
            Some("NumberApplicationErrorData")
        );
        assert_eq!(
            type_name(FailureError::AnswerTooShort {
                answer_length: 1,
                minimum_length: 2,
                number: 0
            }),
            Some("AnswerTooShortApplicationErrorData")
        );
        assert_eq!(type_name(FailureError::TooLarge { size: 1 }), Some("TooLargeErrorData"));
        assert_eq!(type_name(FailureError::Duplicated), None);
    }

    #[test]
    fn failure_of_no_errors_is_none() {
        assert_eq!(Failure::of(Vec::new()), None);
        assert_eq!(
            Failure::of(vec![FailureError::Duplicated]),
            Some(Failure::from(FailureError::Duplicated))
        );
    }

    #[test]
    fn display_lists_codes_with_data() {
        let failure = Failure {
            errors: vec![
                FailureError::AnswerTooShort {
                    answer_length: 4,
                    minimum_length: 500,
                    number: 2,
                },
                FailureError::QuestionUnanswered { number: 2 },
            ],
        };
        assert_eq!(
            failure.to_string(),
            "ANSWER_TOO_SHORT {answerLength: 4, minimumLength: 500, number: 2}, QUESTION_UNANSWERED {number: 2}"
        );
    }
}

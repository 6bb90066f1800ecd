//! Why a filter is refused, and which of the two 400 answers of the contract
//! (spec 2.3) that is.

use super::like::PatternError;
use serde_json::{json, Value};

/// A refused filter. Both variants answer HTTP 400.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    /// `INVALID_FILTER_QUERY_ERROR`, "Invalid filter query", no `details`.
    #[error("invalid filter query: {0}")]
    Invalid(#[from] InvalidFilter),
    /// `UNSUPPORTED_FILTER_FIELD_ERROR`, "Unsupported filter field", with
    /// `details: [{"field": <selector>, "operator": <operator as spelled>}]`
    /// for the first offending comparison (left-to-right).
    #[error("unsupported filter field `{field}` with operator `{operator}`")]
    Unsupported { field: String, operator: String },
}

impl FilterError {
    pub const INVALID_CODE: &'static str = "INVALID_FILTER_QUERY_ERROR";
    pub const INVALID_MESSAGE: &'static str = "Invalid filter query";
    pub const UNSUPPORTED_CODE: &'static str = "UNSUPPORTED_FILTER_FIELD_ERROR";
    pub const UNSUPPORTED_MESSAGE: &'static str = "Unsupported filter field";

    /// HTTP status of both error codes.
    pub fn status(&self) -> u16 {
        400
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => Self::INVALID_CODE,
            Self::Unsupported { .. } => Self::UNSUPPORTED_CODE,
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Self::Invalid(_) => Self::INVALID_MESSAGE,
            Self::Unsupported { .. } => Self::UNSUPPORTED_MESSAGE,
        }
    }

    /// The `details` array of the error body; `None` means "omit `details`".
    pub fn details(&self) -> Option<Vec<Value>> {
        match self {
            Self::Invalid(_) => None,
            Self::Unsupported { field, operator } => Some(vec![json!({ "field": field, "operator": operator })]),
        }
    }
}

/// The reason behind an `INVALID_FILTER_QUERY_ERROR`. Not part of the HTTP
/// answer (which has no details), but worth logging and asserting on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidFilter {
    #[error("the filter is empty")]
    Empty,
    #[error("unexpected character `{found}` at byte {at}")]
    UnexpectedCharacter { at: usize, found: char },
    #[error("quote opened at byte {at} is never closed")]
    UnclosedQuote { at: usize },
    #[error("unexpected {found} at byte {at}")]
    UnexpectedToken { at: usize, found: String },
    #[error("the filter nests deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("the filter is longer than {max} bytes")]
    TooLong { max: usize },
    #[error("the filter has more than {max} comparisons and list values")]
    TooManyTerms { max: usize },
    /// Verbose (`=lt=` …) and custom operators the field accepts but the
    /// translation does not know (spec 8.2, bug 19.20).
    #[error("operator `{operator}` cannot be translated")]
    UntranslatableOperator { operator: String },
    /// A list for an operator other than `=in=`/`=out=`, or a list/operator
    /// the field's value type cannot take.
    #[error("operator `{operator}` on `{field}` does not take this argument")]
    UnexpectedArgument { field: String, operator: String },
    /// `Number(value)` is NaN or infinite.
    #[error("`{value}` is not a finite number (field `{field}`)")]
    NotANumber { field: String, value: String },
    /// `new Date(value)` would be an Invalid Date (or an implementation-defined format).
    #[error("`{value}` is not a date (field `{field}`)")]
    NotADate { field: String, value: String },
    #[error("`{value}` is not a bounding box minLng,minLat,maxLng,maxLat")]
    NotABoundingBox { value: String },
    #[error("=like= pattern `{pattern}` refused: {reason}")]
    UnsafePattern { pattern: String, reason: PatternError },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_query_has_its_code_and_no_details() {
        let error = FilterError::from(InvalidFilter::Empty);
        assert_eq!(error.status(), 400);
        assert_eq!(error.code(), "INVALID_FILTER_QUERY_ERROR");
        assert_eq!(error.message(), "Invalid filter query");
        assert_eq!(error.details(), None);
    }

    #[test]
    fn unsupported_field_reports_field_and_operator() {
        let error = FilterError::Unsupported {
            field: "score".into(),
            operator: "=like=".into(),
        };
        assert_eq!(error.status(), 400);
        assert_eq!(error.code(), "UNSUPPORTED_FILTER_FIELD_ERROR");
        assert_eq!(error.message(), "Unsupported filter field");
        assert_eq!(
            error.details(),
            Some(vec![json!({"field": "score", "operator": "=like="})])
        );
    }
}

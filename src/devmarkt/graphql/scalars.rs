//! The custom scalars of spec 2, with their input checks.

use aggregates::devmarkt::template::input::is_valid_template_name;
use async_graphql::{InputValueError, InputValueResult, Number, Scalar, ScalarType, Value};

fn int_in(value: &Value, min: i64, max: i64) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().filter(|v| (min..=max).contains(v)),
        _ => None,
    }
}

/// `Long`: a 64-bit signed integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Long(pub i64);

#[Scalar(name = "Long")]
impl ScalarType for Long {
    fn parse(value: Value) -> InputValueResult<Self> {
        int_in(&value, i64::MIN, i64::MAX)
            .map(Long)
            .ok_or_else(|| InputValueError::custom("expected a 64-bit integer"))
    }

    fn is_valid(value: &Value) -> bool {
        int_in(value, i64::MIN, i64::MAX).is_some()
    }

    fn to_value(&self) -> Value {
        Value::Number(Number::from(self.0))
    }
}

macro_rules! bounded_int {
    ($(#[$doc:meta])* $name:ident, $gql:literal, $min:expr, $message:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub u32);

        #[Scalar(name = $gql)]
        impl ScalarType for $name {
            fn parse(value: Value) -> InputValueResult<Self> {
                int_in(&value, $min, i64::from(i32::MAX))
                    .map(|v| $name(v as u32))
                    .ok_or_else(|| InputValueError::custom($message))
            }

            fn is_valid(value: &Value) -> bool {
                int_in(value, $min, i64::from(i32::MAX)).is_some()
            }

            fn to_value(&self) -> Value {
                Value::Number(Number::from(self.0))
            }
        }
    };
}

bounded_int!(
    /// `NonNegativeInt`: a 32-bit integer ≥ 0.
    NonNegativeInt,
    "NonNegativeInt",
    0,
    "Expected value to be a non-negative 32-bit integer"
);
bounded_int!(
    /// `PositiveInt`: a 32-bit integer ≥ 1.
    PositiveInt,
    "PositiveInt",
    1,
    "Expected value to be a positive 32-bit integer"
);
bounded_int!(
    /// `ApplicationId`: the rules of `NonNegativeInt` under its own name.
    ApplicationIdScalar,
    "ApplicationId",
    0,
    "Expected value to be a non-negative 32-bit integer"
);

/// `DateTime`: RFC 3339; only ever `null` here (`processTime`, spec 9.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTime(pub String);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(&s).is_ok() => Ok(DateTime(s)),
            _ => Err(InputValueError::custom("expected an RFC 3339 date-time")),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// `TemplateName`: "The name of a template, represented by a string"; not
/// blank and at most 40 UTF-16 code units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateName(pub String);

#[Scalar(name = "TemplateName")]
impl ScalarType for TemplateName {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) if is_valid_template_name(&s) => Ok(TemplateName(s)),
            Value::String(_) => Err(InputValueError::custom(
                "a template name must not be blank and at most 40 characters long",
            )),
            _ => Err(InputValueError::custom("a template name must be a string")),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(s) if is_valid_template_name(s))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

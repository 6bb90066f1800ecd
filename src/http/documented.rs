//! Request values taken as the client sent them, with a published schema.
//!
//! The Kippenstummel contract validates in its own way (spec 2.4: at most
//! one violation per property, class-validator's constraint names and
//! messages, JavaScript number coercion), so its handlers read raw strings
//! and JSON and validate themselves; poem-openapi's own parsing would answer
//! with other errors. But the OpenAPI document must still say what the
//! server enforces, or a client generator or a fuzzer sees only "string"
//! and "any". [`Param`] and [`Body`] carry the raw value and publish the
//! schema of a marker (`S`) or a documenting type (`T`).

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, ParseFromParameter, ParseResult, Type};
use std::borrow::Cow;
use std::marker::PhantomData;

/// The published schema of a parameter.
pub trait ParamSchema: Send + Sync + 'static {
    /// Listed as required; a missing one still reaches the handler, which
    /// answers the contract's `isDefined` violation.
    const REQUIRED: bool;
    const NAME: &'static str;
    fn schema() -> MetaSchema;
}

/// A query, header or path parameter: the first value sent, if any.
pub struct Param<S>(pub Option<String>, PhantomData<S>);

impl<S> Param<S> {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The value, or "" when absent (path parameters are always present).
    pub fn value(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }
}

impl<S: ParamSchema> Type for Param<S> {
    const IS_REQUIRED: bool = S::REQUIRED;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        S::NAME.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(S::schema()))
    }

    fn as_raw_value(&self) -> Option<&String> {
        self.0.as_ref()
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(self.0.iter())
    }
}

impl<S: ParamSchema> ParseFromParameter for Param<S> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(Some(value.to_owned()), PhantomData))
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(iter: I) -> ParseResult<Self> {
        Ok(Self(
            iter.into_iter().next().map(|v| v.as_ref().to_owned()),
            PhantomData,
        ))
    }
}

/// A JSON request body of any shape, published with `T`'s schema.
pub struct Body<T>(pub serde_json::Value, PhantomData<T>);

impl<T> std::ops::Deref for Body<T> {
    type Target = serde_json::Value;

    fn deref(&self) -> &serde_json::Value {
        &self.0
    }
}

impl<T: Type> Type for Body<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = serde_json::Value;
    type RawElementValueType = serde_json::Value;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&serde_json::Value> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a serde_json::Value> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<T: Type> ParseFromJSON for Body<T> {
    fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
        Ok(Self(value.unwrap_or_default(), PhantomData))
    }
}

/// Builders of the schemas below.
pub fn string() -> MetaSchema {
    MetaSchema::new("string")
}

pub fn pattern(regex: &str) -> MetaSchema {
    MetaSchema {
        pattern: Some(regex.to_owned()),
        ..string()
    }
}

pub fn number(minimum: f64, maximum: f64) -> MetaSchema {
    MetaSchema {
        minimum: Some(minimum),
        maximum: Some(maximum),
        ..MetaSchema::new("number")
    }
}

pub fn integer(minimum: f64, maximum: Option<f64>) -> MetaSchema {
    MetaSchema {
        minimum: Some(minimum),
        maximum,
        ..MetaSchema::new("integer")
    }
}

/// Declares a [`ParamSchema`] marker.
#[macro_export]
macro_rules! param_schema {
    ($(#[$doc:meta])* $name:ident, required: $required:expr, $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::http::documented::ParamSchema for $name {
            const REQUIRED: bool = $required;
            const NAME: &'static str = stringify!($name);

            fn schema() -> poem_openapi::registry::MetaSchema {
                $schema
            }
        }
    };
}

//! From the syntax tree to a typed [`Filter`], with one endpoint's field set.
//!
//! Comparisons are checked left to right and the first problem decides the
//! answer, as in the original: a selector or operator spelling the field set
//! does not allow is `UNSUPPORTED_FILTER_FIELD_ERROR`; a value that cannot be
//! coerced, an operator the field allows but nobody can translate (`=lt=`),
//! or an unsafe `=like=` pattern is `INVALID_FILTER_QUERY_ERROR`.
//!
//! Where the original sent nonsense to MongoDB (bug 19.20) this refuses or
//! repairs it instead, so no client input ends as a server error:
//!
//! - `=in=`/`=out=` coerce every list element (`score=in=(1,2)` → `[1, 2]`,
//!   `displayName=in=(a#1234,b)` → `["a", "b"]`); a single value is a list of one.
//! - A list with any other operator (`score==(1,2)`) is refused.
//! - A number that is NaN or infinite (`score>abc`, `karma<Infinity`) is
//!   refused: JSON and therefore the MongoDB builder cannot carry it, and the
//!   original's results for it (`$gt: NaN` matching every number) were
//!   accidents. `Number('')` is still 0, so `score==''` means `score==0`.
//! - An unparsable date is refused (the original silently filtered on 1970-01-01).

use super::ast::{Argument, Comparison, Expr, Operator};
use super::bbox::parse_bounding_box;
use super::error::{FilterError, InvalidFilter};
use super::fields::{Coercion, FieldSet, Operators, Reference, UnknownFields};
use super::js::{js_date, js_number};
use super::like::LikePattern;
use super::parser::parse;
use super::predicate::{FieldTest, Filter, Predicate, Scalar};

impl FieldSet {
    /// Parses and translates a filter string.
    pub fn compile(&self, rsql: &str) -> Result<Filter, FilterError> {
        let expr = parse(rsql)?;
        self.translate(&expr)
    }

    /// The `filter` query parameter: absent or empty means "no filter"
    /// (spec 8.1); anything else must compile. A blank `" "` is not empty
    /// and is refused, as in the original.
    pub fn compile_param(&self, param: Option<&str>) -> Result<Option<Filter>, FilterError> {
        match param {
            None | Some("") => Ok(None),
            Some(rsql) => self.compile(rsql).map(Some),
        }
    }

    /// Validates and coerces a parsed filter.
    pub fn translate(&self, expr: &Expr) -> Result<Filter, FilterError> {
        let mut references = Vec::new();
        let predicate = self.translate_expr(expr, &mut references)?;
        Ok(Filter { predicate, references })
    }

    /// `references` collects the joins used so far, in first-use order.
    fn translate_expr(&self, expr: &Expr, references: &mut Vec<Reference>) -> Result<Predicate, FilterError> {
        Ok(match expr {
            Expr::And(left, right) => Predicate::And(
                Box::new(self.translate_expr(left, references)?),
                Box::new(self.translate_expr(right, references)?),
            ),
            Expr::Or(left, right) => Predicate::Or(
                Box::new(self.translate_expr(left, references)?),
                Box::new(self.translate_expr(right, references)?),
            ),
            Expr::Comparison(comparison) => self.translate_comparison(comparison, references)?,
        })
    }

    fn translate_comparison(
        &self,
        comparison: &Comparison,
        references: &mut Vec<Reference>,
    ) -> Result<Predicate, FilterError> {
        let unsupported = || FilterError::Unsupported {
            field: comparison.selector.clone(),
            operator: comparison.operator.as_str().to_owned(),
        };
        let (path, operators, coercion) = self.resolve(&comparison.selector).ok_or_else(unsupported)?;
        if !operators.accepts(&comparison.operator) {
            return Err(unsupported());
        }
        let test = field_test(comparison, coercion)?;
        for reference in &self.references {
            if reference.is_used_by(path) && !references.contains(reference) {
                references.push(reference.clone());
            }
        }
        Ok(Predicate::Field {
            path: path.to_owned(),
            test,
        })
    }

    /// The document path, allowed operators and coercion of a selector.
    fn resolve<'a>(&'a self, selector: &'a str) -> Option<(&'a str, &'a Operators, Coercion)> {
        if let Some(rule) = self.rule(selector) {
            return Some((rule.target, &rule.operators, rule.coercion));
        }
        let operator_like = selector.split('.').any(|segment| segment.starts_with('$'));
        (self.unknown_fields == UnknownFields::PassThrough && !operator_like).then_some((
            selector,
            &Operators::All,
            Coercion::Text,
        ))
    }
}

fn field_test(comparison: &Comparison, coercion: Coercion) -> Result<FieldTest, InvalidFilter> {
    let single = || match &comparison.argument {
        Argument::Single(value) => Ok(value.as_str()),
        Argument::List(_) => Err(unexpected_argument(comparison)),
    };
    let scalar = || coerce(comparison, coercion, single()?);
    Ok(match &comparison.operator {
        Operator::Eq if coercion == Coercion::BoundingBox => {
            let value = single()?;
            let bbox =
                parse_bounding_box(value).ok_or_else(|| InvalidFilter::NotABoundingBox { value: value.into() })?;
            FieldTest::WithinBox(bbox)
        }
        Operator::Eq => FieldTest::Eq(scalar()?),
        Operator::Ne => FieldTest::Ne(scalar()?),
        Operator::Lt => FieldTest::Lt(scalar()?),
        Operator::Le => FieldTest::Le(scalar()?),
        Operator::Gt => FieldTest::Gt(scalar()?),
        Operator::Ge => FieldTest::Ge(scalar()?),
        Operator::In => FieldTest::In(list(comparison, coercion)?),
        Operator::Out => FieldTest::Nin(list(comparison, coercion)?),
        Operator::Like => FieldTest::Like(like_pattern(comparison, coercion, single()?)?),
        Operator::Other(spelling) => {
            return Err(InvalidFilter::UntranslatableOperator {
                operator: spelling.clone(),
            })
        }
    })
}

/// The values of `=in=`/`=out=`, each coerced; a single value is a list of one.
fn list(comparison: &Comparison, coercion: Coercion) -> Result<Vec<Scalar>, InvalidFilter> {
    let values = match &comparison.argument {
        Argument::Single(value) => std::slice::from_ref(value),
        Argument::List(values) => values.as_slice(),
    };
    values.iter().map(|value| coerce(comparison, coercion, value)).collect()
}

/// Only text fields take a pattern; a display name loses its suffix first.
fn like_pattern(comparison: &Comparison, coercion: Coercion, value: &str) -> Result<LikePattern, InvalidFilter> {
    let pattern = match coercion {
        Coercion::Text => value,
        Coercion::DisplayName => strip_display_name_suffix(value),
        _ => return Err(unexpected_argument(comparison)),
    };
    LikePattern::parse(pattern).map_err(|reason| InvalidFilter::UnsafePattern {
        pattern: pattern.to_owned(),
        reason,
    })
}

fn unexpected_argument(comparison: &Comparison) -> InvalidFilter {
    InvalidFilter::UnexpectedArgument {
        field: comparison.selector.clone(),
        operator: comparison.operator.as_str().to_owned(),
    }
}

/// One string value as the field's type.
fn coerce(comparison: &Comparison, coercion: Coercion, value: &str) -> Result<Scalar, InvalidFilter> {
    let field = &comparison.selector;
    match coercion {
        Coercion::Text => Ok(Scalar::Text(value.to_owned())),
        Coercion::DisplayName => Ok(Scalar::Text(strip_display_name_suffix(value).to_owned())),
        Coercion::Boolean => Ok(Scalar::Bool(value == "true")),
        Coercion::Number => {
            let number = js_number(value);
            if number.is_finite() {
                Ok(Scalar::Number(number))
            } else {
                Err(InvalidFilter::NotANumber {
                    field: field.clone(),
                    value: value.to_owned(),
                })
            }
        }
        Coercion::Date => js_date(value).map(Scalar::Date).ok_or_else(|| InvalidFilter::NotADate {
            field: field.clone(),
            value: value.to_owned(),
        }),
        // A box is a whole test, not a value: only `bbox==` takes one.
        Coercion::BoundingBox => Err(unexpected_argument(comparison)),
    }
}

/// `value.replace(/#\d{4}$/, '')`: the discriminator of `alice#1234`.
pub fn strip_display_name_suffix(value: &str) -> &str {
    let bytes = value.as_bytes();
    let has_suffix =
        bytes.len() >= 5 && bytes[bytes.len() - 5] == b'#' && bytes[bytes.len() - 4..].iter().all(u8::is_ascii_digit);
    if has_suffix {
        &value[..value.len() - 5]
    } else {
        value
    }
}

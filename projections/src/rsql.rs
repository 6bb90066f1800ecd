//! The RSQL filter language of the API (spec section 8): the `filter` query
//! parameter of `/cvms`, `/cvms/within`, the KMC lists and the density statistic.
//!
//! ```text
//! "score>=5;(id=like=^8ead,imported==true)"
//!     │ parser::parse                 syntax → Expr             (lexer, parser, ast)
//!     │ FieldSet::translate           allow-list, coercion → Filter   (fields, translate, js, bbox, like)
//!     ├─ Filter::to_mongo             → MongoQuery (find filter or pipeline, Extended JSON)   (mongo)
//!     └─ Filter::matches(&doc)        → bool, same semantics in memory   (eval)
//! ```
//!
//! Use one of [`FieldSet::public_cvm`], [`FieldSet::kmc_cvm`],
//! [`FieldSet::public_ident`], [`FieldSet::kmc_ident`] and
//! [`FieldSet::compile_param`]; a [`FilterError`] carries the error code,
//! message and `details` of the 400 answer. The document shapes the evaluator
//! expects are described in [`eval`] (module docs).
//!
//! Deliberate differences from the original (each fixes a 500 or a silent
//! accident of spec 19.20, and is documented where it is decided):
//! `=in=`/`=out=` coerce per element; lists are refused for other operators;
//! NaN/infinite numbers and unparsable dates are 400 instead of odd results;
//! `=like=` accepts only a backtracking-safe regular-expression subset;
//! filters nest at most [`MAX_DEPTH`] levels, are at most [`MAX_FILTER_BYTES`] long and hold
//! at most [`MAX_TERMS`] comparisons and list values; the generic field set refuses
//! `$`-selectors; pipelines can be restricted to a viewport (bug 19.3).

mod ast;
mod bbox;
mod error;
pub mod eval;
mod fields;
mod js;
mod lexer;
mod like;
pub mod mongo;
mod parser;
mod predicate;
mod translate;

#[cfg(test)]
mod tests;

pub use ast::{Argument, Comparison, Expr, Operator};
pub use bbox::{is_valid_latitude, is_valid_longitude, parse_bounding_box, BoundingBox};
pub use error::{FilterError, InvalidFilter};
pub use fields::{Coercion, ComputedField, FieldRule, FieldSet, Operators, Reference, UnknownFields};
pub use js::{js_date, js_number};
pub use like::{LikePattern, PatternError, MAX_PATTERN_CHARS, MAX_QUANTIFIERS};
pub use mongo::MongoQuery;
pub use parser::{parse, MAX_DEPTH, MAX_FILTER_BYTES, MAX_TERMS};
pub use predicate::{FieldTest, Filter, Predicate, Scalar};
pub use translate::strip_display_name_suffix;

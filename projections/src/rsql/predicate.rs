//! A validated, typed filter that no longer depends on the filter syntax:
//! what [`super::mongo`] turns into a MongoDB query and [`super::eval`]
//! evaluates in memory.

use super::bbox::BoundingBox;
use super::fields::Reference;
use super::like::LikePattern;
use chrono::{DateTime, Utc};

/// A filter accepted by a [`super::FieldSet`].
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub(super) predicate: Predicate,
    pub(super) references: Vec<Reference>,
}

impl Filter {
    pub fn predicate(&self) -> &Predicate {
        &self.predicate
    }

    /// The joins this filter needs, in first-use order (left to right): the
    /// MongoDB form becomes an aggregation pipeline, and documents given to
    /// [`Filter::matches`] must carry the joined values.
    pub fn references(&self) -> &[Reference] {
        &self.references
    }

    /// Whether the filter touches a reference field (`lastVotedAt`,
    /// `credibility`, `karma`) and so needs a pipeline instead of a find filter.
    pub fn uses_references(&self) -> bool {
        !self.references.is_empty()
    }
}

/// Binary logic as written (no flattening), over tests of single fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    And(Box<Predicate>, Box<Predicate>),
    Or(Box<Predicate>, Box<Predicate>),
    /// A test of the value at a document path (dotted for joined documents).
    Field {
        path: String,
        test: FieldTest,
    },
}

impl Predicate {
    /// Every test with its path, left to right.
    pub fn tests(&self) -> Vec<(&str, &FieldTest)> {
        match self {
            Self::And(l, r) | Self::Or(l, r) => {
                let mut tests = l.tests();
                tests.extend(r.tests());
                tests
            }
            Self::Field { path, test } => vec![(path.as_str(), test)],
        }
    }

    /// The same logic with every test replaced by `f(path, test)`.
    pub fn map_tests(&self, f: &mut impl FnMut(&str, &FieldTest) -> FieldTest) -> Predicate {
        match self {
            Self::And(l, r) => Self::And(Box::new(l.map_tests(f)), Box::new(r.map_tests(f))),
            Self::Or(l, r) => Self::Or(Box::new(l.map_tests(f)), Box::new(r.map_tests(f))),
            Self::Field { path, test } => Self::Field {
                path: path.clone(),
                test: f(path, test),
            },
        }
    }
}

/// What a field must satisfy. Semantics follow MongoDB's query operators on
/// scalar fields: a missing/`null` field or one of another type fails every
/// test except `Ne` and `Nin`, which it passes.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldTest {
    Eq(Scalar),
    Ne(Scalar),
    Lt(Scalar),
    Le(Scalar),
    Gt(Scalar),
    Ge(Scalar),
    /// Equal to one of the values (`=in=`).
    In(Vec<Scalar>),
    /// Equal to none of the values (`=out=`).
    Nin(Vec<Scalar>),
    /// A string containing a match of the pattern (`=like=`).
    Like(LikePattern),
    /// A point inside the box, edges included (`bbox==`).
    WithinBox(BoundingBox),
}

/// A coerced filter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    /// Always finite.
    Number(f64),
    Bool(bool),
    /// Millisecond precision, like a JavaScript `Date`.
    Date(DateTime<Utc>),
}

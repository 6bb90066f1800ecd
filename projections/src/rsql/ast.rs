//! The syntax tree of a filter, shaped like `@rsql/parser` 1.6 builds it:
//! binary logic nodes (no flattening) and comparisons whose values are still
//! the strings the client sent.

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Comparison(Comparison),
}

/// `selector operator argument`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub selector: String,
    pub operator: Operator,
    pub argument: Argument,
}

/// A comparison operator as the client spelled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=in=`
    In,
    /// `=out=`
    Out,
    /// `=like=` (a custom operator of the original)
    Like,
    /// Any other spelling the parser accepts — the verbose `=lt=`, `=le=`,
    /// `=gt=`, `=ge=` and custom `=word=` operators. The original keeps them
    /// verbatim and cannot translate them (spec 8.2), so neither does this.
    Other(String),
}

impl Operator {
    pub fn from_spelling(spelling: &str) -> Self {
        match spelling {
            "==" => Self::Eq,
            "!=" => Self::Ne,
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            "=in=" => Self::In,
            "=out=" => Self::Out,
            "=like=" => Self::Like,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The spelling, as reported in `UNSUPPORTED_FILTER_FIELD_ERROR` details.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::In => "=in=",
            Self::Out => "=out=",
            Self::Like => "=like=",
            Self::Other(spelling) => spelling,
        }
    }
}

/// The right-hand side: a bare word or quoted string, or a parenthesised list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Argument {
    Single(String),
    List(Vec<String>),
}

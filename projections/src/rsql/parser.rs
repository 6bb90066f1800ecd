//! Builds the [`Expr`] tree from tokens, with the grammar of `@rsql/parser` 1.6:
//!
//! ```text
//! or         = and { OR and }                 (left-associative)
//! and        = primary { AND primary }        (binds tighter than OR)
//! primary    = "(" or ")" | comparison
//! comparison = WORD OPERATOR argument
//! argument   = WORD | QUOTED | "(" value { OR value } ")"
//! value      = WORD | QUOTED
//! ```
//!
//! A selector must be an unquoted word; list items are separated by `,` (or,
//! as in the original, by the verbose `or`). Every deviation is an
//! [`InvalidFilter`], i.e. a 400 `INVALID_FILTER_QUERY_ERROR`.

use super::ast::{Argument, Comparison, Expr, Operator};
use super::error::InvalidFilter;
use super::lexer::{tokenize, Lexeme, Token};

/// How deeply logic nodes and parentheses may nest. MongoDB refuses documents
/// nested deeper than 100 levels and every binary `$and`/`$or` adds two, so a
/// deeper filter could only fail later, as a server error; it also bounds the
/// recursion of the parser, the translation and the evaluator. A flat chain
/// `a;b;c;…` nests one level per operator, so this allows 33 conditions in a row.
pub const MAX_DEPTH: usize = 32;

/// Longest accepted filter, in bytes, checked before anything is allocated for
/// it. Enough for a hundred UUIDs in one `=in=` list; the tokens, the tree and
/// the translated query all grow with the input, so it bounds them all.
pub const MAX_FILTER_BYTES: usize = 4096;

/// Most comparisons (and list values, counted together) in one filter. Depth
/// alone does not bound them (a balanced tree of depth 32 has 2^32 leaves),
/// and every document a filter is evaluated on costs one test per comparison
/// and list value.
pub const MAX_TERMS: usize = 128;

/// Parses a filter. Empty (or whitespace-only) input is an error here; the
/// HTTP layer treats an absent or empty `filter` parameter as "no filter"
/// before calling this (see [`super::FieldSet::compile_param`]).
pub fn parse(input: &str) -> Result<Expr, InvalidFilter> {
    if input.len() > MAX_FILTER_BYTES {
        return Err(InvalidFilter::TooLong { max: MAX_FILTER_BYTES });
    }
    let lexemes = tokenize(input)?;
    if lexemes.len() == 1 {
        return Err(InvalidFilter::Empty);
    }
    let mut parser = Parser {
        lexemes,
        next: 0,
        terms: 0,
    };
    let (expr, _) = parser.or(0)?;
    parser.expect_end()?;
    Ok(expr)
}

struct Parser {
    lexemes: Vec<Lexeme>,
    next: usize,
    /// Comparisons and list values so far (at most [`MAX_TERMS`]).
    terms: usize,
}

/// An expression and the depth of its logic tree.
type Node = (Expr, usize);

impl Parser {
    fn peek(&self) -> &Token {
        &self.lexemes[self.next].token
    }

    /// Takes the next token (the final `End` is never consumed).
    fn advance(&mut self) -> Lexeme {
        let lexeme = self.lexemes[self.next].clone();
        if lexeme.token != Token::End {
            self.next += 1;
        }
        lexeme
    }

    fn unexpected(&self) -> InvalidFilter {
        let lexeme = &self.lexemes[self.next];
        InvalidFilter::UnexpectedToken {
            at: lexeme.at,
            found: lexeme.token.describe(),
        }
    }

    fn expect_end(&self) -> Result<(), InvalidFilter> {
        match self.peek() {
            Token::End => Ok(()),
            _ => Err(self.unexpected()),
        }
    }

    /// `nesting` counts the parentheses around this expression.
    fn or(&mut self, nesting: usize) -> Result<Node, InvalidFilter> {
        let mut left = self.and(nesting)?;
        while *self.peek() == Token::Or {
            self.advance();
            let right = self.and(nesting)?;
            left = join(Expr::Or, left, right)?;
        }
        Ok(left)
    }

    fn and(&mut self, nesting: usize) -> Result<Node, InvalidFilter> {
        let mut left = self.primary(nesting)?;
        while *self.peek() == Token::And {
            self.advance();
            let right = self.primary(nesting)?;
            left = join(Expr::And, left, right)?;
        }
        Ok(left)
    }

    fn primary(&mut self, nesting: usize) -> Result<Node, InvalidFilter> {
        if *self.peek() != Token::Open {
            return Ok((Expr::Comparison(self.comparison()?), 0));
        }
        if nesting >= MAX_DEPTH {
            return Err(InvalidFilter::TooDeep { max: MAX_DEPTH });
        }
        self.advance();
        let group = self.or(nesting + 1)?;
        match self.peek() {
            Token::Close => {
                self.advance();
                Ok(group)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn comparison(&mut self) -> Result<Comparison, InvalidFilter> {
        let Token::Unquoted(selector) = self.peek().clone() else {
            return Err(self.unexpected());
        };
        self.advance();
        let Token::Comparison(operator) = self.peek().clone() else {
            return Err(self.unexpected());
        };
        self.advance();
        Ok(Comparison {
            selector,
            operator: Operator::from_spelling(&operator),
            argument: self.argument()?,
        })
    }

    fn argument(&mut self) -> Result<Argument, InvalidFilter> {
        if *self.peek() != Token::Open {
            return Ok(Argument::Single(self.value()?));
        }
        self.advance();
        let mut items = vec![self.value()?];
        loop {
            match self.peek() {
                Token::Or => {
                    self.advance();
                    items.push(self.value()?);
                }
                Token::Close => {
                    self.advance();
                    return Ok(Argument::List(items));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn value(&mut self) -> Result<String, InvalidFilter> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(InvalidFilter::TooManyTerms { max: MAX_TERMS });
        }
        match self.peek().clone() {
            Token::Unquoted(text) | Token::Quoted(text) => {
                self.advance();
                Ok(text)
            }
            _ => Err(self.unexpected()),
        }
    }
}

/// A binary logic node, refused once the tree would grow deeper than [`MAX_DEPTH`].
fn join(
    node: fn(Box<Expr>, Box<Expr>) -> Expr,
    (left, left_depth): Node,
    (right, right_depth): Node,
) -> Result<Node, InvalidFilter> {
    let depth = 1 + left_depth.max(right_depth);
    if depth > MAX_DEPTH {
        return Err(InvalidFilter::TooDeep { max: MAX_DEPTH });
    }
    Ok((node(Box::new(left), Box::new(right)), depth))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(selector: &str, operator: &str, value: &str) -> Expr {
        Expr::Comparison(Comparison {
            selector: selector.into(),
            operator: Operator::from_spelling(operator),
            argument: Argument::Single(value.into()),
        })
    }

    fn and(l: Expr, r: Expr) -> Expr {
        Expr::And(Box::new(l), Box::new(r))
    }

    fn or(l: Expr, r: Expr) -> Expr {
        Expr::Or(Box::new(l), Box::new(r))
    }

    #[test]
    fn parses_every_operator() {
        for spelling in [
            "==", "!=", "<", "<=", ">", ">=", "=in=", "=out=", "=like=", "=lt=", "=ge=", "=custom=",
        ] {
            assert_eq!(parse(&format!("score{spelling}5")), Ok(cmp("score", spelling, "5")));
        }
        assert_eq!(Operator::from_spelling("=lt="), Operator::Other("=lt=".into()));
        assert_eq!(Operator::from_spelling("=like="), Operator::Like);
    }

    #[test]
    fn parses_lists_of_bare_and_quoted_values() {
        let expected = Expr::Comparison(Comparison {
            selector: "score".into(),
            operator: Operator::In,
            argument: Argument::List(vec!["1".into(), "two, 2".into(), "3".into()]),
        });
        assert_eq!(parse("score=in=(1,'two, 2', 3)"), Ok(expected.clone()));
        // The original's parser also separates list items with the verbose `or`.
        assert_eq!(parse("score=in=(1 or 'two, 2' or 3)"), Ok(expected));
        assert_eq!(
            parse("id=out=(x)"),
            Ok(Expr::Comparison(Comparison {
                selector: "id".into(),
                operator: Operator::Out,
                argument: Argument::List(vec!["x".into()]),
            }))
        );
    }

    #[test]
    fn and_binds_tighter_than_or_and_both_associate_left() {
        let (a, b, c) = (cmp("a", "==", "1"), cmp("b", "==", "2"), cmp("c", "==", "3"));
        assert_eq!(parse("a==1;b==2,c==3"), Ok(or(and(a.clone(), b.clone()), c.clone())));
        assert_eq!(parse("a==1,b==2;c==3"), Ok(or(a.clone(), and(b.clone(), c.clone()))));
        assert_eq!(parse("a==1;b==2;c==3"), Ok(and(and(a.clone(), b.clone()), c.clone())));
        assert_eq!(parse("a==1,b==2,c==3"), Ok(or(or(a.clone(), b.clone()), c.clone())));
        assert_eq!(parse("a==1 and b==2 or c==3"), parse("a==1;b==2,c==3"));
    }

    #[test]
    fn parentheses_override_precedence() {
        let (a, b, c) = (cmp("a", "==", "1"), cmp("b", "==", "2"), cmp("c", "==", "3"));
        assert_eq!(parse("(a==1,b==2);c==3"), Ok(and(or(a.clone(), b.clone()), c.clone())));
        assert_eq!(parse("a==1;(b==2,c==3)"), Ok(and(a.clone(), or(b, c))));
        assert_eq!(parse("((a==1))"), Ok(a));
    }

    #[test]
    fn malformed_filters_are_invalid() {
        let cases = [
            (
                "score==",
                InvalidFilter::UnexpectedToken {
                    at: 7,
                    found: "end of filter".into(),
                },
            ),
            (
                "==",
                InvalidFilter::UnexpectedToken {
                    at: 0,
                    found: "operator `==`".into(),
                },
            ),
            (
                "score",
                InvalidFilter::UnexpectedToken {
                    at: 5,
                    found: "end of filter".into(),
                },
            ),
            (
                "((score==5)",
                InvalidFilter::UnexpectedToken {
                    at: 11,
                    found: "end of filter".into(),
                },
            ),
            (
                "score==5)",
                InvalidFilter::UnexpectedToken {
                    at: 8,
                    found: "`)`".into(),
                },
            ),
            (
                "score==5;",
                InvalidFilter::UnexpectedToken {
                    at: 9,
                    found: "end of filter".into(),
                },
            ),
            (
                "score==5 and",
                InvalidFilter::UnexpectedToken {
                    at: 9,
                    found: "word `and`".into(),
                },
            ),
            (
                "score==5 or ",
                InvalidFilter::UnexpectedToken {
                    at: 12,
                    found: "end of filter".into(),
                },
            ),
            (
                ";score==5",
                InvalidFilter::UnexpectedToken {
                    at: 0,
                    found: "AND operator".into(),
                },
            ),
            (
                "score==5 score==6",
                InvalidFilter::UnexpectedToken {
                    at: 9,
                    found: "word `score`".into(),
                },
            ),
            (
                "'score'==5",
                InvalidFilter::UnexpectedToken {
                    at: 0,
                    found: "quoted value `score`".into(),
                },
            ),
            (
                "score==5==6",
                InvalidFilter::UnexpectedToken {
                    at: 8,
                    found: "operator `==`".into(),
                },
            ),
            (
                "score=in=()",
                InvalidFilter::UnexpectedToken {
                    at: 10,
                    found: "`)`".into(),
                },
            ),
            (
                "score=in=(1,)",
                InvalidFilter::UnexpectedToken {
                    at: 12,
                    found: "`)`".into(),
                },
            ),
            (
                "score=in=(1 2)",
                InvalidFilter::UnexpectedToken {
                    at: 12,
                    found: "word `2`".into(),
                },
            ),
            (
                "score=in=(1;2)",
                InvalidFilter::UnexpectedToken {
                    at: 11,
                    found: "AND operator".into(),
                },
            ),
            (
                "score=in=(1",
                InvalidFilter::UnexpectedToken {
                    at: 11,
                    found: "end of filter".into(),
                },
            ),
            (
                "()",
                InvalidFilter::UnexpectedToken {
                    at: 1,
                    found: "`)`".into(),
                },
            ),
            (
                "score==(a==1)",
                InvalidFilter::UnexpectedToken {
                    at: 9,
                    found: "operator `==`".into(),
                },
            ),
            ("score==5=", InvalidFilter::UnexpectedCharacter { at: 8, found: '=' }),
            ("score=='5", InvalidFilter::UnclosedQuote { at: 7 }),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), Err(expected), "{input}");
        }
    }

    #[test]
    fn empty_and_blank_filters_are_invalid() {
        assert_eq!(parse(""), Err(InvalidFilter::Empty));
        assert_eq!(parse(" \t\n"), Err(InvalidFilter::Empty));
    }

    #[test]
    fn nesting_is_bounded() {
        let chain = |n: usize| vec!["a==1"; n].join(";");
        assert!(parse(&chain(MAX_DEPTH + 1)).is_ok());
        assert_eq!(
            parse(&chain(MAX_DEPTH + 2)),
            Err(InvalidFilter::TooDeep { max: MAX_DEPTH })
        );

        let nested = |n: usize| format!("{}a==1{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(
            parse(&nested(MAX_DEPTH + 1)),
            Err(InvalidFilter::TooDeep { max: MAX_DEPTH })
        );
        // Far beyond any stack: refused at once, without recursing that deep.
        assert_eq!(parse(&nested(2_000)), Err(InvalidFilter::TooDeep { max: MAX_DEPTH }));
        assert_eq!(
            parse(&nested(100_000)),
            Err(InvalidFilter::TooLong { max: MAX_FILTER_BYTES })
        );
    }

    #[test]
    fn size_is_bounded() {
        // A balanced tree stays within the depth limit with any number of leaves.
        fn balanced(levels: u32) -> String {
            if levels == 0 {
                "a==1".into()
            } else {
                let half = balanced(levels - 1);
                format!("({half},{half})")
            }
        }
        assert!(parse(&balanced(7)).is_ok(), "128 comparisons");
        assert_eq!(parse(&balanced(8)), Err(InvalidFilter::TooManyTerms { max: MAX_TERMS }));
        let list = |n: usize| format!("id=in=({})", vec!["x"; n].join(","));
        assert!(parse(&list(MAX_TERMS)).is_ok());
        assert_eq!(
            parse(&list(MAX_TERMS + 1)),
            Err(InvalidFilter::TooManyTerms { max: MAX_TERMS })
        );
        let long = format!("id=='{}'", "x".repeat(MAX_FILTER_BYTES));
        assert_eq!(parse(&long), Err(InvalidFilter::TooLong { max: MAX_FILTER_BYTES }));
    }
}

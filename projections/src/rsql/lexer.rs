//! Splits a filter string into tokens the way `@rsql/parser` 1.6 does.
//!
//! - Whitespace (space, tab, CR, LF) between tokens is skipped.
//! - `'…'` and `"…"` are quoted values; inside them a backslash escapes the
//!   next character (`\'`, `\"`, `\\`), outside them it is an ordinary character.
//! - `(` `)` group, `;` is AND and `,` is OR. `and` / `or` are the verbose
//!   AND / OR, but only at the start of a token and followed by a space.
//! - A comparison operator starts with `=`, `!`, `~`, `<` or `>`: one of
//!   `==` `!=` `<=` `>=` `<` `>` `=in=` `=out=` `=le=` `=ge=` `=lt=` `=gt=`,
//!   or a custom `=` + lowercase letters + `=` (which is how `=like=` exists).
//! - Anything else starts an unquoted word that runs up to the next reserved
//!   character (`"'();,=!~<>` or whitespace).

use super::error::InvalidFilter;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    Unquoted(String),
    Quoted(String),
    Open,
    Close,
    And,
    Or,
    Comparison(String),
    End,
}

impl Token {
    /// How an unexpected token is named in error reasons.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::Unquoted(word) => format!("word `{word}`"),
            Self::Quoted(text) => format!("quoted value `{text}`"),
            Self::Open => "`(`".into(),
            Self::Close => "`)`".into(),
            Self::And => "AND operator".into(),
            Self::Or => "OR operator".into(),
            Self::Comparison(op) => format!("operator `{op}`"),
            Self::End => "end of filter".into(),
        }
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lexeme {
    pub token: Token,
    pub at: usize,
}

/// The fixed comparison operators, tried in this order (so `<=` wins over `<`).
const COMPARISON_OPERATORS: [&str; 12] = [
    "==", "!=", "<=", ">=", "<", ">", "=in=", "=out=", "=le=", "=ge=", "=lt=", "=gt=",
];

fn is_skipped_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\n' | '\t' | '\r')
}

fn is_reserved(c: char) -> bool {
    matches!(c, '"' | '\'' | '(' | ')' | ';' | ',' | '=' | '!' | '~' | '<' | '>') || is_skipped_whitespace(c)
}

/// All tokens of `input`, always ending with [`Token::End`].
pub(super) fn tokenize(input: &str) -> Result<Vec<Lexeme>, InvalidFilter> {
    let mut lexemes = Vec::new();
    let mut at = 0;
    loop {
        at += input[at..].len() - input[at..].trim_start_matches(is_skipped_whitespace).len();
        let rest = &input[at..];
        let Some(first) = rest.chars().next() else {
            lexemes.push(Lexeme { token: Token::End, at });
            return Ok(lexemes);
        };
        let (token, len) = match first {
            '\'' | '"' => quoted(rest, first).ok_or(InvalidFilter::UnclosedQuote { at })?,
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            ';' => (Token::And, 1),
            ',' => (Token::Or, 1),
            '=' | '!' | '~' | '<' | '>' => {
                let op = comparison_operator(rest).ok_or(InvalidFilter::UnexpectedCharacter { at, found: first })?;
                (Token::Comparison(op.to_owned()), op.len())
            }
            _ if rest.starts_with("and ") => (Token::And, 3),
            _ if rest.starts_with("or ") => (Token::Or, 2),
            _ => {
                let len = first.len_utf8()
                    + rest[first.len_utf8()..]
                        .find(is_reserved)
                        .unwrap_or(rest.len() - first.len_utf8());
                (Token::Unquoted(rest[..len].to_owned()), len)
            }
        };
        lexemes.push(Lexeme { token, at });
        at += len;
    }
}

/// The quoted value at the start of `rest` (unescaped, without quotes) and
/// its length in bytes including both quotes; `None` if it is never closed.
fn quoted(rest: &str, quote: char) -> Option<(Token, usize)> {
    let mut value = String::new();
    let mut chars = rest.char_indices().skip(1);
    while let Some((index, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            c if c == quote => return Some((Token::Quoted(value), index + 1)),
            c => value.push(c),
        }
    }
    None
}

fn comparison_operator(rest: &str) -> Option<&str> {
    if let Some(op) = COMPARISON_OPERATORS.iter().find(|op| rest.starts_with(*op)) {
        return Some(op);
    }
    let letters = rest
        .strip_prefix('=')?
        .bytes()
        .take_while(u8::is_ascii_lowercase)
        .count();
    (letters > 0 && rest[1 + letters..].starts_with('=')).then(|| &rest[..letters + 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: &str) -> Vec<Token> {
        tokenize(input).unwrap().into_iter().map(|l| l.token).collect()
    }

    fn word(s: &str) -> Token {
        Token::Unquoted(s.into())
    }

    fn op(s: &str) -> Token {
        Token::Comparison(s.into())
    }

    #[test]
    fn splits_a_comparison() {
        assert_eq!(tokens("score>=5"), [word("score"), op(">="), word("5"), Token::End]);
        assert_eq!(
            tokens(" score \t<= \n-5 "),
            [word("score"), op("<="), word("-5"), Token::End]
        );
    }

    #[test]
    fn knows_every_operator_spelling() {
        for spelling in COMPARISON_OPERATORS.iter().chain(&["=like=", "=xyz="]) {
            assert_eq!(
                tokens(&format!("a{spelling}b")),
                [word("a"), op(spelling), word("b"), Token::End]
            );
        }
    }

    #[test]
    fn rejects_characters_that_start_no_operator() {
        for (input, at, found) in [
            ("a=b", 1, '='),
            ("a!b", 1, '!'),
            ("a~=b", 1, '~'),
            ("a=LIKE=b", 1, '='),
            ("a=1=b", 1, '='),
        ] {
            assert_eq!(
                tokenize(input),
                Err(InvalidFilter::UnexpectedCharacter { at, found }),
                "{input}"
            );
        }
    }

    #[test]
    fn words_run_to_the_next_reserved_character() {
        assert_eq!(
            tokens("createdAt>=2026-01-01T10:00:00.000Z;karma.amount<1e3"),
            [
                word("createdAt"),
                op(">="),
                word("2026-01-01T10:00:00.000Z"),
                Token::And,
                word("karma.amount"),
                op("<"),
                word("1e3"),
                Token::End
            ]
        );
        assert_eq!(
            tokens("name==a#1234\\x"),
            [word("name"), op("=="), word("a#1234\\x"), Token::End]
        );
    }

    #[test]
    fn quoted_values_keep_reserved_characters_and_unescape() {
        assert_eq!(tokens("bbox=='8,48,9,49'")[2], Token::Quoted("8,48,9,49".into()));
        assert_eq!(tokens(r#"a=="x;y (z)""#)[2], Token::Quoted("x;y (z)".into()));
        assert_eq!(tokens(r"a=='it\'s'")[2], Token::Quoted("it's".into()));
        assert_eq!(tokens(r#"a=="say \"hi\"""#)[2], Token::Quoted(r#"say "hi""#.into()));
        assert_eq!(tokens(r"a=='back\\'")[2], Token::Quoted(r"back\".into()));
        assert_eq!(tokens(r"a=='a\.b'")[2], Token::Quoted("a.b".into()));
        assert_eq!(tokens("a==''")[2], Token::Quoted(String::new()));
        assert_eq!(tokens("a=='ünï'")[2], Token::Quoted("ünï".into()));
    }

    #[test]
    fn unclosed_quotes_are_reported_where_they_open() {
        assert_eq!(tokenize("a=='open"), Err(InvalidFilter::UnclosedQuote { at: 3 }));
        assert_eq!(
            tokenize(r"a=='escaped at end\'"),
            Err(InvalidFilter::UnclosedQuote { at: 3 })
        );
        assert_eq!(tokenize(r#"a=="mixed'"#), Err(InvalidFilter::UnclosedQuote { at: 3 }));
    }

    #[test]
    fn verbose_logic_needs_a_following_space() {
        assert_eq!(
            tokens("a==1 and b==2 or c==3"),
            [
                word("a"),
                op("=="),
                word("1"),
                Token::And,
                word("b"),
                op("=="),
                word("2"),
                Token::Or,
                word("c"),
                op("=="),
                word("3"),
                Token::End
            ]
        );
        assert_eq!(tokens("a==and"), [word("a"), op("=="), word("and"), Token::End]);
        assert_eq!(tokens("android==1"), [word("android"), op("=="), word("1"), Token::End]);
        assert_eq!(
            tokens("a==1 AND b"),
            [word("a"), op("=="), word("1"), word("AND"), word("b"), Token::End]
        );
    }

    #[test]
    fn positions_are_byte_offsets() {
        let lexemes = tokenize("ä==(x, 'y')").unwrap();
        let offsets: Vec<usize> = lexemes.iter().map(|l| l.at).collect();
        assert_eq!(offsets, [0, 2, 4, 5, 6, 8, 11, 12]);
    }
}

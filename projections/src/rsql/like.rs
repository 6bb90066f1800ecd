//! `=like=`: what it means and how it is kept safe.
//!
//! In the original, `field=like=value` becomes `{field: {$regex: value}}`
//! (spec 8.2): the value is a PCRE regular expression, unanchored (it matches
//! anywhere in the field unless it uses `^`/`$`), case-sensitive, without
//! options. A backtracking engine (MongoDB's PCRE) can need exponential time
//! for patterns such as `(a+)+$` — a denial of service any client could
//! trigger (bug 19.20).
//!
//! This keeps that meaning for a subset of regular expressions that no
//! backtracking engine can blow up on, and refuses everything else with 400
//! `INVALID_FILTER_QUERY_ERROR`:
//!
//! - literal characters; `\` before ASCII punctuation for a literal
//!   (`\.`, `\*`, `\\`, …); `.` for any character except a newline;
//! - character classes `[abc]`, `[a-z0-9_]`, `[^#]` (members are literals,
//!   ranges or escaped punctuation; `-` is literal first or last);
//! - `^` only at the very start and `$` only at the very end;
//! - the quantifiers `*`, `+` and `?`, each directly after one of the items
//!   above, and at most [`MAX_QUANTIFIERS`] of them in the whole pattern;
//! - at most [`MAX_PATTERN_CHARS`] characters.
//!
//! Not accepted: groups `( )`, alternation `|`, counted repetition `{n,m}`,
//! lazy or possessive quantifiers, backslash before a letter or digit
//! (`\d`, `\w`, `\b`, back-references), POSIX classes, lookaround. Without
//! groups a quantifier applies to one character, so a backtracking matcher
//! does at most O(n^(q+1)) steps for a field of n characters and q
//! quantifiers — with q ≤ 2 and `=like=` only allowed on UUIDs and 16-character
//! user names that is a few ten thousand steps per document, never exponential.
//!
//! The accepted pattern is re-emitted in a canonical spelling (every literal
//! escaped the way both PCRE and Rust's `regex` read it the same), which is
//! what goes to MongoDB and what the in-memory evaluator compiles with the
//! `regex` crate (linear time in any case). The one known difference: PCRE's
//! `$` also matches before a final newline, `regex`'s only at the very end.

use regex::Regex;

/// Quantifiers (`*`, `+`, `?`) allowed in one pattern.
pub const MAX_QUANTIFIERS: usize = 2;
/// Longest pattern accepted, in characters (a UUID has 36).
pub const MAX_PATTERN_CHARS: usize = 64;

/// Why a `=like=` pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("longer than {MAX_PATTERN_CHARS} characters")]
    TooLong,
    #[error("more than {MAX_QUANTIFIERS} quantifiers")]
    TooManyQuantifiers,
    #[error("{what} at character {at} is not supported")]
    Unsupported { at: usize, what: &'static str },
}

/// A validated `=like=` pattern.
#[derive(Debug, Clone)]
pub struct LikePattern {
    canonical: String,
    regex: Regex,
}

impl PartialEq for LikePattern {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

impl LikePattern {
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let canonical = canonicalize(pattern)?;
        // Every piece was escaped for `regex`, so this cannot fail; the size
        // limit is a second fence in case it ever could.
        let regex = regex::RegexBuilder::new(&canonical)
            .size_limit(1 << 20)
            .build()
            .map_err(|_| PatternError::Unsupported {
                at: 0,
                what: "this pattern",
            })?;
        Ok(Self { canonical, regex })
    }

    /// The pattern for MongoDB's `$regex` (and for `regex`).
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// Whether the pattern occurs in `text` (unanchored, like `$regex`).
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

fn unsupported(at: usize, what: &'static str) -> PatternError {
    PatternError::Unsupported { at, what }
}

/// Validates `pattern` against the safe subset and spells it canonically.
fn canonicalize(pattern: &str) -> Result<String, PatternError> {
    let chars: Vec<char> = pattern.chars().collect();
    if chars.len() > MAX_PATTERN_CHARS {
        return Err(PatternError::TooLong);
    }
    let mut out = String::new();
    let mut quantifiers = 0;
    // Whether the previous item is one character a quantifier may follow.
    let mut quantifiable = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut next_quantifiable = true;
        match c {
            '^' if i == 0 => {
                out.push('^');
                next_quantifiable = false;
            }
            '$' if i == chars.len() - 1 => {
                out.push('$');
                next_quantifiable = false;
            }
            '^' | '$' => return Err(unsupported(i, "an anchor inside the pattern")),
            '.' => out.push('.'),
            '*' | '+' | '?' => {
                if !quantifiable {
                    return Err(unsupported(i, "a quantifier that does not follow a single character"));
                }
                quantifiers += 1;
                if quantifiers > MAX_QUANTIFIERS {
                    return Err(PatternError::TooManyQuantifiers);
                }
                out.push(c);
                next_quantifiable = false;
            }
            '\\' => {
                let escaped = escaped_literal(&chars, i)?;
                out.push_str(&regex::escape(&escaped.to_string()));
                i += 1;
            }
            '[' => {
                let (class, end) = character_class(&chars, i)?;
                out.push_str(&class);
                i = end;
            }
            '(' | ')' => return Err(unsupported(i, "a group")),
            '|' => return Err(unsupported(i, "alternation")),
            '{' | '}' => return Err(unsupported(i, "counted repetition (escape braces as \\{ \\})")),
            ']' => return Err(unsupported(i, "an unopened `]` (escape it as \\])")),
            literal => out.push_str(&regex::escape(&literal.to_string())),
        }
        quantifiable = next_quantifiable;
        i += 1;
    }
    Ok(out)
}

/// The character after the backslash at `at`, which must be ASCII punctuation.
fn escaped_literal(chars: &[char], at: usize) -> Result<char, PatternError> {
    match chars.get(at + 1) {
        Some(c) if c.is_ascii_punctuation() => Ok(*c),
        Some(_) => Err(unsupported(at, "a backslash before a letter, digit or space")),
        None => Err(unsupported(at, "a trailing backslash")),
    }
}

/// The class starting at `open` in canonical form, and the index of its `]`.
fn character_class(chars: &[char], open: usize) -> Result<(String, usize), PatternError> {
    let mut out = String::from("[");
    let mut i = open + 1;
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let first_member = i;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(unsupported(open, "an unterminated character class"));
        };
        if c == ']' {
            if i == first_member {
                return Err(unsupported(open, "an empty character class"));
            }
            out.push(']');
            return Ok((out, i));
        }
        let (low, after_low) = class_literal(chars, i)?;
        let is_range = chars.get(after_low) == Some(&'-') && chars.get(after_low + 1).is_some_and(|c| *c != ']');
        if is_range {
            let (high, after_high) = class_literal(chars, after_low + 1)?;
            if high < low {
                return Err(unsupported(i, "a reversed range"));
            }
            out.push_str(&format!("{}-{}", class_escape(low), class_escape(high)));
            i = after_high;
        } else {
            out.push_str(&class_escape(low));
            i = after_low;
        }
    }
}

/// One literal class member at `at` and the index after it.
fn class_literal(chars: &[char], at: usize) -> Result<(char, usize), PatternError> {
    match chars.get(at) {
        Some('\\') => Ok((escaped_literal(chars, at)?, at + 2)),
        Some('[') => Err(unsupported(at, "`[` inside a character class (escape it as \\[)")),
        Some(c) => Ok((*c, at + 1)),
        None => Err(unsupported(at, "an unterminated character class")),
    }
}

/// A class member spelled so that neither PCRE nor `regex` reads it as syntax
/// (`regex` would take `&&`, `--`, `~~` and `[` as set operations).
fn class_escape(c: char) -> String {
    regex::escape(&c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn canonical(pattern: &str) -> String {
        LikePattern::parse(pattern).unwrap().as_str().to_owned()
    }

    #[test]
    fn plain_words_stay_as_they_are() {
        assert_eq!(canonical("foo"), "foo");
        assert_eq!(canonical("8eadee97"), "8eadee97");
        assert_eq!(canonical(""), "");
    }

    #[test]
    fn keeps_the_regex_meaning_of_the_supported_subset() {
        let id = "8eadee97-1c2b-4c3d-9e8f-0a1b2c3d4e5f";
        let cases = [
            ("ead", true),
            ("^8ead", true),
            ("^ead", false),
            ("4e5f$", true),
            ("4e5$", false),
            ("^8e.dee97", true),
            ("^8e[a-c]dee97", true),
            ("^8e[^a]dee97", false),
            ("^[0-9a-f]+-", true),
            ("^8ead.*5f$", true),
            ("x?8ead", true),
            ("EAD", false),
        ];
        for (pattern, expected) in cases {
            assert_eq!(LikePattern::parse(pattern).unwrap().is_match(id), expected, "{pattern}");
        }
    }

    #[test]
    fn escapes_make_metacharacters_literal() {
        let dotted = LikePattern::parse(r"a\.b").unwrap();
        assert!(dotted.is_match("xa.by"));
        assert!(!dotted.is_match("axb"));
        assert_eq!(dotted.as_str(), r"a\.b");
        assert!(LikePattern::parse(r"\(\)\|\{\}\[\]\*\+\?\^\$\\")
            .unwrap()
            .is_match(r"()|{}[]*+?^$\"));
    }

    #[test]
    fn literals_regex_would_read_as_syntax_are_escaped() {
        // `#`, `&`, `~` and `-` are plain in PCRE but special to `regex` in
        // some positions; the canonical spelling escapes them.
        let p = LikePattern::parse("a#b&&c~~d--e").unwrap();
        assert_eq!(p.as_str(), r"a\#b\&\&c\~\~d\-\-e");
        assert!(p.is_match("a#b&&c~~d--e"));
        let class = LikePattern::parse("[&&~-]").unwrap();
        assert_eq!(class.as_str(), r"[\&\&\~\-]");
        assert!(class.is_match("~") && class.is_match("-") && !class.is_match("a"));
        // `<` and `>` are word boundaries in `regex` only when escaped.
        assert!(LikePattern::parse("<b>").unwrap().is_match("<b>"));
    }

    #[test]
    fn classes_with_ranges_negation_and_edge_dashes() {
        let p = LikePattern::parse("^[-a-c_]+$").unwrap();
        assert!(p.is_match("a-b_c") && !p.is_match("abd"));
        let negated = LikePattern::parse("^[^#]+$").unwrap();
        assert!(negated.is_match("alice") && !negated.is_match("alice#1234"));
        let trailing_dash = LikePattern::parse("[a-]").unwrap();
        assert!(trailing_dash.is_match("-") && !trailing_dash.is_match("b"));
    }

    #[test]
    fn refuses_everything_outside_the_subset() {
        let refused = [
            ("(a+)+$", PatternError::Unsupported { at: 0, what: "a group" }),
            (
                "a|b",
                PatternError::Unsupported {
                    at: 1,
                    what: "alternation",
                },
            ),
            (
                "a{2}",
                PatternError::Unsupported {
                    at: 1,
                    what: "counted repetition (escape braces as \\{ \\})",
                },
            ),
            (
                "*a",
                PatternError::Unsupported {
                    at: 0,
                    what: "a quantifier that does not follow a single character",
                },
            ),
            (
                "a**",
                PatternError::Unsupported {
                    at: 2,
                    what: "a quantifier that does not follow a single character",
                },
            ),
            (
                "a*?",
                PatternError::Unsupported {
                    at: 2,
                    what: "a quantifier that does not follow a single character",
                },
            ),
            (
                "a++",
                PatternError::Unsupported {
                    at: 2,
                    what: "a quantifier that does not follow a single character",
                },
            ),
            (
                "^*",
                PatternError::Unsupported {
                    at: 1,
                    what: "a quantifier that does not follow a single character",
                },
            ),
            (
                "a^b",
                PatternError::Unsupported {
                    at: 1,
                    what: "an anchor inside the pattern",
                },
            ),
            (
                "a$b",
                PatternError::Unsupported {
                    at: 1,
                    what: "an anchor inside the pattern",
                },
            ),
            (
                r"\d+",
                PatternError::Unsupported {
                    at: 0,
                    what: "a backslash before a letter, digit or space",
                },
            ),
            (r"(a)\1", PatternError::Unsupported { at: 0, what: "a group" }),
            (
                r"a\1",
                PatternError::Unsupported {
                    at: 1,
                    what: "a backslash before a letter, digit or space",
                },
            ),
            (
                "a\\",
                PatternError::Unsupported {
                    at: 1,
                    what: "a trailing backslash",
                },
            ),
            (
                "[abc",
                PatternError::Unsupported {
                    at: 0,
                    what: "an unterminated character class",
                },
            ),
            (
                "[]",
                PatternError::Unsupported {
                    at: 0,
                    what: "an empty character class",
                },
            ),
            (
                "[z-a]",
                PatternError::Unsupported {
                    at: 1,
                    what: "a reversed range",
                },
            ),
            (
                "[[:alpha:]]",
                PatternError::Unsupported {
                    at: 1,
                    what: "`[` inside a character class (escape it as \\[)",
                },
            ),
            (
                "a]",
                PatternError::Unsupported {
                    at: 1,
                    what: "an unopened `]` (escape it as \\])",
                },
            ),
            ("a*b*c*", PatternError::TooManyQuantifiers),
            ("a?a?a?aaa", PatternError::TooManyQuantifiers),
        ];
        for (pattern, expected) in refused {
            assert_eq!(LikePattern::parse(pattern), Err(expected), "{pattern}");
        }
        assert_eq!(
            LikePattern::parse(&"a".repeat(MAX_PATTERN_CHARS + 1)),
            Err(PatternError::TooLong)
        );
        assert!(
            LikePattern::parse(&"ä".repeat(MAX_PATTERN_CHARS)).is_ok(),
            "the limit counts characters"
        );
    }

    #[test]
    fn pathological_patterns_finish_instantly() {
        let started = Instant::now();
        // The classic exponential cases are refused before any matching.
        for pattern in [
            "(a+)+$",
            "(a|a)*$",
            "(.*a){20}",
            "(a|aa)+$",
            "^(a?){30}a{30}$",
            "a?a?a?a?a?a?a?a?a?a?aaaaaaaaaa",
        ] {
            assert!(LikePattern::parse(pattern).is_err(), "{pattern}");
        }
        // The worst accepted shape, two overlapping quantifiers followed by a
        // miss, against a long subject: linear in `regex`.
        let subject = "a".repeat(200_000);
        let worst = LikePattern::parse("a*a*b").unwrap();
        assert!(!worst.is_match(&subject));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
    }
}

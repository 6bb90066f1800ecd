//! Usernames: the profanity filter (spec 12.7), the `PATCH /ident/me`
//! validation (spec 4.5 with the constraint names of 2.4) and the display
//! name `username#suffix` (spec 12.6).
//!
//! The filter is a port of the original `isCleanUsername`. JavaScript
//! strings are UTF-16, so lengths, slices and Levenshtein distances in the
//! fuzzy branch are taken over UTF-16 code units, and the regex `.` of the
//! run-collapsing steps matches one code unit other than a line terminator;
//! this keeps the verdict identical for non-ASCII input.

use std::sync::OnceLock;

use serde_json::Value;

// ---------------------------------------------------------------------------
// Profanity filter
// ---------------------------------------------------------------------------

const BLOCKED_TERMS_FILE: &str = include_str!("../../data/blocked-username-terms.txt");

/// Terms shorter than this only match at the start or end of a name.
const MIN_SUBSTRING_LENGTH: usize = 5;
/// Terms shorter than this never match fuzzily: a distance budget of 1 on a
/// five-letter term collides with too many ordinary words.
const MIN_FUZZY_LENGTH: usize = 7;
const FUZZY_PERCENT: f64 = 0.2;

/// The blocked terms: the data file's lines, trimmed, empty ones dropped,
/// each normalised. Built once.
pub fn blocked_terms() -> &'static [String] {
    static TERMS: OnceLock<Vec<String>> = OnceLock::new();
    TERMS.get_or_init(|| {
        BLOCKED_TERMS_FILE
            .split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .map(js_trim)
            .filter(|term| !term.is_empty())
            .map(normalize)
            .collect()
    })
}

/// `String.prototype.trim`: Unicode white space plus the BOM.
fn js_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// Lower-case, read leetspeak digits as letters, keep only `a`–`z`.
pub fn normalize(input: &str) -> String {
    input
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            '1' => Some('i'),
            '3' => Some('e'),
            '4' => Some('a'),
            '0' => Some('o'),
            '5' => Some('s'),
            '7' => Some('t'),
            '8' | '6' => Some('b'),
            '9' => Some('g'),
            'a'..='z' => Some(c),
            _ => None,
        })
        .collect()
}

/// [`normalize`], then `z → s` and `ph → f`.
pub fn phonetic(input: &str) -> String {
    normalize(input).replace('z', "s").replace("ph", "f")
}

/// Collapses every run of one repeated character to a single one
/// (`/(.)\1+/g → $1`).
pub fn dedup(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut previous: Option<char> = None;
    for c in input.chars() {
        if previous == Some(c) && is_regex_dot_unit(c) {
            continue;
        }
        out.push(c);
        previous = Some(c);
    }
    out
}

/// Removes one leading and then one trailing run of two or more identical
/// characters (`/^(.)\1+/` then `/(.)\1+$/`), so padding like `xXnaziXx`
/// no longer hides a term from the start/end match. Single edge characters
/// stay, which keeps words like "Fluss" intact.
pub fn strip_pad(input: &str) -> String {
    let chars: Vec<char> = input.chars().collect();
    let start = run_length(chars.iter().copied());
    let rest = if start >= 2 { &chars[start..] } else { &chars[..] };
    let end = run_length(rest.iter().rev().copied());
    let kept = if end >= 2 { &rest[..rest.len() - end] } else { rest };
    kept.iter().collect()
}

/// Length of the run of identical regex-`.` characters at the iterator's front.
fn run_length(mut chars: impl Iterator<Item = char>) -> usize {
    match chars.next() {
        Some(first) if is_regex_dot_unit(first) => 1 + chars.take_while(|&c| c == first).count(),
        _ => 0,
    }
}

/// Whether a JavaScript regex `.` (no `u` flag) matches this character as
/// one unit: not a line terminator, and not an astral character (which is
/// two different surrogate code units and so never forms a run).
fn is_regex_dot_unit(c: char) -> bool {
    !matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') && c.len_utf16() == 1
}

/// The forms of `username` the terms are matched against: the distinct,
/// non-empty strings among lower-case, normalised, deduplicated normalised,
/// deduplicated phonetic, and [`strip_pad`] of each.
pub fn candidates(username: &str) -> Vec<String> {
    let normalized = normalize(username);
    let forms = [
        username.to_lowercase(),
        dedup(&normalized),
        dedup(&phonetic(username)),
        normalized,
    ];
    let mut all: Vec<String> = Vec::with_capacity(forms.len() * 2);
    for form in forms.iter().cloned().chain(forms.iter().map(|f| strip_pad(f))) {
        if !form.is_empty() && !all.contains(&form) {
            all.push(form);
        }
    }
    all
}

/// Does the (normalised) blocked `term` match `candidate`?
///
/// Short terms (< 5) only at the start or end; longer ones anywhere; terms
/// of 7 or more also fuzzily: some slice of the candidate of length
/// `len − 1`, `len` or `len + 1` within Levenshtein distance
/// `max(1, ⌊0.2 · len⌋)`.
pub fn term_matches(candidate: &str, term: &str) -> bool {
    let term_units: Vec<u16> = term.encode_utf16().collect();
    let term_len = term_units.len();
    if term_len < MIN_SUBSTRING_LENGTH {
        return candidate.starts_with(term) || candidate.ends_with(term);
    }
    if candidate.contains(term) {
        return true;
    }
    if term_len < MIN_FUZZY_LENGTH {
        return false;
    }
    let max_distance = ((term_len as f64 * FUZZY_PERCENT).floor() as usize).max(1);
    let candidate_units: Vec<u16> = candidate.encode_utf16().collect();
    (term_len - 1..=term_len + 1)
        .filter(|&len| len > 0 && len <= candidate_units.len())
        .any(|len| {
            candidate_units
                .windows(len)
                .any(|segment| strsim::generic_levenshtein(&segment.to_vec(), &term_units) <= max_distance)
        })
}

/// The `isCleanUsername` check: no blocked term matches any candidate form.
pub fn is_clean_username(username: &str) -> bool {
    let candidates = candidates(username);
    !blocked_terms()
        .iter()
        .any(|term| candidates.iter().any(|candidate| term_matches(candidate, term)))
}

// ---------------------------------------------------------------------------
// PATCH /ident/me validation
// ---------------------------------------------------------------------------

/// The `matches` pattern of `username`: 4–16 characters, a letter first, a
/// letter or digit last, letters, digits, `_` and `-` between.
pub const USERNAME_PATTERN: &str = "^[A-Za-z](?:[A-Za-z0-9_-]{2,14}[A-Za-z0-9])$";

/// Whether `username` matches [`USERNAME_PATTERN`].
pub fn matches_username_pattern(username: &str) -> bool {
    let bytes = username.as_bytes();
    let middle_ok = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-';
    match bytes {
        [first, middle @ .., last] => {
            (2..=14).contains(&middle.len())
                && first.is_ascii_alphabetic()
                && middle.iter().all(middle_ok)
                && last.is_ascii_alphanumeric()
        }
        _ => false,
    }
}

/// A failed constraint on `username`, as reported in the 422 `details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameViolation {
    IsCleanUsername,
    Matches,
    IsString,
}

impl UsernameViolation {
    /// The `constraint` name.
    pub fn constraint(self) -> &'static str {
        match self {
            Self::IsCleanUsername => "isCleanUsername",
            Self::Matches => "matches",
            Self::IsString => "isString",
        }
    }

    /// The `message` text.
    pub fn message(self) -> String {
        match self {
            Self::IsCleanUsername => "The username contains invalid terms.".to_owned(),
            Self::Matches => format!("username must match /{USERNAME_PATTERN}/ regular expression"),
            Self::IsString => "username must be a string".to_owned(),
        }
    }
}

/// Validates the `username` property of the `PATCH /ident/me` body (spec
/// 4.5). Absent and `null` skip validation (the property is optional).
/// Otherwise the first failure in the original's order is returned:
/// `isCleanUsername` (which also fails for non-strings, so `isString` is
/// never the one reported), then `matches`, then `isString`.
pub fn validate_username(value: Option<&Value>) -> Result<(), UsernameViolation> {
    let value = match value {
        None | Some(Value::Null) => return Ok(()),
        Some(value) => value,
    };
    let Value::String(username) = value else {
        return Err(UsernameViolation::IsCleanUsername);
    };
    if !is_clean_username(username) {
        return Err(UsernameViolation::IsCleanUsername);
    }
    if !matches_username_pattern(username) {
        return Err(UsernameViolation::Matches);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Display name
// ---------------------------------------------------------------------------

/// Smallest and largest suffix: always four digits.
pub const SUFFIX_MIN: u32 = 1000;
pub const SUFFIX_MAX: u32 = 9999;

/// A suffix in `1000..=9999` from a uniformly random `u32` drawn by the
/// caller (retried with a new number when the `(username, suffix)` pair is
/// taken). The modulo bias is below 10⁻⁶.
pub fn suffix_from_random(random: u32) -> String {
    (SUFFIX_MIN + random % (SUFFIX_MAX - SUFFIX_MIN + 1)).to_string()
}

/// `username#suffix`, only when both are set and non-empty.
pub fn display_name(username: Option<&str>, suffix: Option<&str>) -> Option<String> {
    match (username, suffix) {
        (Some(username), Some(suffix)) if !username.is_empty() && !suffix.is_empty() => {
            Some(format!("{username}#{suffix}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // --- normalisation steps ---------------------------------------------------

    #[test]
    fn normalize_lowercases_reads_leetspeak_and_drops_the_rest() {
        assert_eq!(normalize("N4Z1"), "nazi");
        assert_eq!(normalize("0135789 6"), "oiestbgb");
        assert_eq!(normalize("2_x-Y.z!"), "xyz");
        assert_eq!(normalize("Döner"), "dner");
        assert_eq!(normalize("scheiße"), "scheie");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn phonetic_maps_z_and_ph() {
        assert_eq!(phonetic("Zeppelin"), "seppelin");
        assert_eq!(phonetic("PHoto"), "foto");
        assert_eq!(phonetic("p0rn0"), "porno");
    }

    #[test]
    fn dedup_collapses_runs() {
        assert_eq!(dedup("fiiiickkk"), "fick");
        assert_eq!(dedup("aabbaa"), "aba");
        assert_eq!(dedup("abc"), "abc");
        assert_eq!(dedup("😀😀"), "😀😀", "astral characters are two different units in JS");
        assert_eq!(dedup("\n\n"), "\n\n", "regex dot does not match line terminators");
    }

    #[test]
    fn strip_pad_removes_one_run_at_each_end() {
        assert_eq!(strip_pad("xxnazixx"), "nazi");
        assert_eq!(strip_pad("__ass__"), "ass");
        assert_eq!(strip_pad("aachen"), "chen");
        assert_eq!(strip_pad("fluss"), "flu");
        assert_eq!(strip_pad("xnazix"), "xnazix", "single edge characters stay");
        assert_eq!(strip_pad("aaaa"), "");
        assert_eq!(strip_pad("aaab"), "b");
        assert_eq!(strip_pad("abbb"), "a");
        assert_eq!(strip_pad("\n\nab"), "\n\nab");
    }

    #[test]
    fn candidates_are_distinct_non_empty_forms() {
        let mut forms = candidates("xX_N4zz1_Xx");
        forms.sort();
        // lower, normalize, dedup(normalize), dedup(phonetic), then stripPad of the first two
        // (the deduplicated forms have no runs left, so their stripPad is a duplicate).
        let mut expected = ["xx_n4zz1_xx", "xxnazzixx", "xnazix", "xnasix", "_n4zz1_", "nazzi"];
        expected.sort();
        assert_eq!(forms, expected);
        // Only the lower-case form survives for a name without letters.
        assert_eq!(candidates("!!!"), ["!!!"]);
        assert!(candidates("").is_empty());
    }

    #[test]
    fn blocked_terms_are_loaded_and_normalised() {
        let terms = blocked_terms();
        assert_eq!(terms.len(), 133);
        assert!(terms
            .iter()
            .all(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase())));
        assert!(terms.contains(&"gspot".to_owned()), "g-spot loses its hyphen");
        assert!(terms.contains(&"bb".to_owned()), "88 reads as bb");
        assert!(terms.contains(&"ddel".to_owned()), "dödel loses its umlaut");
        assert!(terms.contains(&"arse".to_owned()), "the last line has no newline");
    }

    // --- matching branches -----------------------------------------------------

    #[test]
    fn short_terms_match_only_at_the_edges() {
        assert!(term_matches("assistant", "ass"));
        assert!(term_matches("badass", "ass"));
        assert!(!term_matches("klasse", "ass"));
    }

    #[test]
    fn long_terms_match_anywhere() {
        assert!(term_matches("bigpenisguy", "penis"));
        assert!(!term_matches("penguin", "penis"));
    }

    #[test]
    fn terms_below_seven_are_never_fuzzy() {
        // "wichse" (6) is one edit away from "wichte" but must not match.
        assert!(!term_matches("wichte", "wichse"));
    }

    #[test]
    fn long_terms_match_fuzzily_within_their_budget() {
        // "arschloch" (9): budget max(1, ⌊1.8⌋) = 1.
        assert!(term_matches("xarschlochx", "arschloch"));
        assert!(term_matches("arschloh", "arschloch"), "one deletion");
        assert!(
            term_matches("arschlohc", "arschloch"),
            "the 8-unit window arschloh is one deletion away"
        );
        assert!(
            !term_matches("arsxhlxch", "arschloch"),
            "two substitutions exceed the budget"
        );
        // "epsteinisland" (13): budget ⌊2.6⌋ = 2.
        assert!(term_matches("epstainislant", "epsteinisland"));
        assert!(!term_matches("epstainyslant", "epsteinisland"));
    }

    #[test]
    fn fuzzy_windows_are_utf16_code_units() {
        // "goebbels" (8) has budget 1. A BMP letter in place of the "l" is one substitution …
        assert!(term_matches("goebbeäs", "goebbels"));
        // … but an astral character is two UTF-16 units in JavaScript, so two edits.
        assert!(!term_matches("goebbe😀s", "goebbels"));
        assert!(
            !term_matches("göbbels", "goebbels"),
            "ö for oe: substitution plus deletion"
        );
    }

    // --- whole filter, real examples ---------------------------------------------

    #[test]
    fn ordinary_names_and_words_pass() {
        for name in [
            "alice",
            "cartographer",
            "mapper42",
            "nachtfalter",
            "kippenstummel",
            "wanderer",
            "zeppelin",
            "strasse",
            "klasse",
            "tasse",
            "wasser",
            "kasse",
            "masse",
            "passen",
            "eichhoernchen",
            "rohheit",
            "sternenhimmel",
            "wolkenkratzer",
        ] {
            assert!(is_clean_username(name), "{name}");
        }
    }

    #[test]
    fn words_with_edge_runs_pass() {
        for name in ["aachen", "fluss", "kuss", "schloss", "schiff", "kamm", "anna", "otto"] {
            assert!(is_clean_username(name), "{name}");
        }
    }

    #[test]
    fn known_false_positives_are_still_rejected() {
        for name in [
            "fussball",
            "handball",
            "basketball",
            "federball",
            "gasse",
            "gasthaus",
            "siegen",
            "heilbronn",
            "heilig",
        ] {
            assert!(!is_clean_username(name), "{name}");
        }
    }

    #[test]
    fn blocked_terms_in_all_disguises_are_rejected() {
        for name in [
            "hitler",
            "HITLER",
            "H1tl3r",
            "hhitler",
            "derhitlerfan",
            "h.i.t.l.e.r",
            "xXnaziXx",
            "__ass__",
            "assmann",
            "bigdick",
            "fiiiick",
            "arschl0ch99",
            "epsteinislands",
        ] {
            assert!(!is_clean_username(name), "{name}");
        }
    }

    // --- validation ------------------------------------------------------------

    #[test]
    fn pattern_edges() {
        assert!(matches_username_pattern("abcd"));
        assert!(matches_username_pattern("a_b-c9"));
        assert!(matches_username_pattern("abcdefghijklmnop"), "16 characters");
        assert!(!matches_username_pattern("abcdefghijklmnopq"), "17 characters");
        assert!(!matches_username_pattern("abc"), "3 characters");
        assert!(!matches_username_pattern("1abc"), "starts with a digit");
        assert!(!matches_username_pattern("abc_"), "ends with an underscore");
        assert!(!matches_username_pattern("ab cd"));
        assert!(!matches_username_pattern("abcä"));
        assert!(!matches_username_pattern("abcd\n"));
        assert!(!matches_username_pattern(""));
    }

    #[test]
    fn validation_order_and_messages() {
        assert_eq!(validate_username(None), Ok(()));
        assert_eq!(validate_username(Some(&Value::Null)), Ok(()));
        assert_eq!(validate_username(Some(&json!("mapper42"))), Ok(()));
        assert_eq!(
            validate_username(Some(&json!("hitler"))),
            Err(UsernameViolation::IsCleanUsername)
        );
        assert_eq!(
            validate_username(Some(&json!("H1tl3r_2000"))),
            Err(UsernameViolation::IsCleanUsername)
        );
        // "h!tler" normalises to "htler", which is clean; the pattern then rejects "!" and spaces.
        assert_eq!(
            validate_username(Some(&json!("h!tler with spaces"))),
            Err(UsernameViolation::Matches)
        );
        assert_eq!(validate_username(Some(&json!("ab"))), Err(UsernameViolation::Matches));
        for not_a_string in [json!(42), json!({}), json!(["alice"]), json!(true)] {
            assert_eq!(
                validate_username(Some(&not_a_string)),
                Err(UsernameViolation::IsCleanUsername)
            );
        }
        let matches = UsernameViolation::Matches;
        assert_eq!(matches.constraint(), "matches");
        assert_eq!(
            matches.message(),
            "username must match /^[A-Za-z](?:[A-Za-z0-9_-]{2,14}[A-Za-z0-9])$/ regular expression"
        );
        assert_eq!(UsernameViolation::IsCleanUsername.constraint(), "isCleanUsername");
        assert_eq!(
            UsernameViolation::IsCleanUsername.message(),
            "The username contains invalid terms."
        );
        assert_eq!(UsernameViolation::IsString.message(), "username must be a string");
    }

    // --- display name ------------------------------------------------------------

    #[test]
    fn suffixes_are_four_digits() {
        assert_eq!(suffix_from_random(0), "1000");
        assert_eq!(suffix_from_random(8999), "9999");
        assert_eq!(suffix_from_random(9000), "1000");
        assert_eq!(suffix_from_random(u32::MAX), (1000 + u32::MAX % 9000).to_string());
        for random in [1, 77, 4_000_000_000] {
            let suffix = suffix_from_random(random);
            assert_eq!(suffix.len(), 4, "{suffix}");
        }
    }

    #[test]
    fn display_name_needs_both_parts() {
        assert_eq!(display_name(Some("alice"), Some("1234")).as_deref(), Some("alice#1234"));
        assert_eq!(display_name(None, Some("1234")), None);
        assert_eq!(display_name(Some("alice"), None), None);
        assert_eq!(display_name(Some(""), Some("1234")), None);
        assert_eq!(display_name(Some("alice"), Some("")), None);
    }
}

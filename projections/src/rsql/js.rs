//! The two JavaScript coercions the original applies to filter values:
//! `Number(value)` and `new Date(value)`.
//!
//! Both are reproduced for the inputs a client can reasonably send; where the
//! original would have produced `NaN` or an Invalid Date, the callers answer
//! 400 instead (see [`super::translate`]).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// `Number(text)` with ECMAScript `StringToNumber` semantics: surrounding
/// JavaScript whitespace is ignored, the empty string is `0`, decimal literals
/// (optional sign, optional fraction, optional exponent, `Infinity`) and
/// unsigned `0x`/`0o`/`0b` integers are accepted, anything else is `NaN`.
pub fn js_number(text: &str) -> f64 {
    let trimmed = text.trim_matches(is_js_whitespace);
    if trimmed.is_empty() {
        return 0.0;
    }
    if let Some(value) = non_decimal_integer(trimmed) {
        return value;
    }
    decimal(trimmed).unwrap_or(f64::NAN)
}

/// WhiteSpace and LineTerminator of ECMA-262 (differs from Rust's
/// `char::is_whitespace`: U+FEFF counts, U+0085 does not).
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{0009}'
            | '\u{000A}'
            | '\u{000B}'
            | '\u{000C}'
            | '\u{000D}'
            | '\u{0020}'
            | '\u{00A0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

/// `0x1F`, `0o17`, `0b101` (no sign, at least one digit).
fn non_decimal_integer(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    if bytes.len() < 3 || bytes[0] != b'0' {
        return None;
    }
    let radix = match bytes[1] {
        b'x' | b'X' => 16,
        b'o' | b'O' => 8,
        b'b' | b'B' => 2,
        _ => return None,
    };
    let digits = &text[2..];
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return Some(f64::NAN);
    }
    // Exact up to 2^128; beyond that an approximation is good enough (such
    // values are rejected as out of range wherever they are used).
    Some(match u128::from_str_radix(digits, radix) {
        Ok(value) => value as f64,
        Err(_) => digits.chars().fold(0.0, |acc, c| {
            acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
        }),
    })
}

/// StrDecimalLiteral: `[+-]` then `Infinity`, or digits with an optional
/// fraction (digits required on at least one side of the dot) and an
/// optional exponent. Rust's float parser would also take `inf`, `NaN` and
/// `infinity`, so the shape is checked first.
fn decimal(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned == "Infinity" {
        return Some(if text.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(integer) && all_digits(fraction) && !(integer.is_empty() && fraction.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && all_digits(digits)
    });
    if !(mantissa_ok && exponent_ok) {
        return None;
    }
    text.parse().ok()
}

/// Largest distance from the epoch a JavaScript `Date` can hold (ms).
const MAX_JS_DATE_MS: i64 = 8_640_000_000_000_000;

/// `new Date(text)` for the formats every client uses, `None` where the
/// original would have produced an Invalid Date *or* fallen back to V8's
/// implementation-defined parser:
///
/// - the ECMAScript date-time string format (`Date.prototype.toISOString`):
///   `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, optionally followed by `THH:mm`,
///   `THH:mm:ss` or `THH:mm:ss.sss` (any number of fraction digits, truncated
///   to milliseconds; a space is accepted for `T` as V8 does) and `Z` or
///   `±HH:mm`; six-digit signed years; `24:00` as the end of the day.
///   Date-only forms are UTC; a date-time without offset is local time in
///   the original, whose container runs in UTC, so it is read as UTC here.
/// - RFC 2822 (`Date.prototype.toUTCString`, e.g. `Thu, 01 Jan 2026 00:00:00 GMT`).
///
/// Unlike V8, impossible calendar dates (`2026-02-30`) are rejected rather
/// than rolled over into the next month.
pub fn js_date(text: &str) -> Option<DateTime<Utc>> {
    let parsed = iso_date(text).or_else(|| DateTime::parse_from_rfc2822(text).ok().map(|d| d.to_utc()))?;
    // JavaScript dates have millisecond precision.
    let millis = parsed.timestamp_millis();
    (millis.abs() <= MAX_JS_DATE_MS).then(|| DateTime::from_timestamp_millis(millis))?
}

fn iso_date(text: &str) -> Option<DateTime<Utc>> {
    let mut cursor = Cursor { rest: text };
    let year = cursor.year()?;
    let mut month = 1;
    let mut day = 1;
    if cursor.eat('-') {
        month = cursor.digits(2)?;
        if cursor.eat('-') {
            day = cursor.digits(2)?;
        }
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    if cursor.rest.is_empty() {
        return Some(date.and_time(NaiveTime::MIN).and_utc());
    }
    if !(cursor.eat('T') || cursor.eat(' ')) {
        return None;
    }
    let local = cursor.time(date)?;
    let offset_minutes = cursor.offset()?;
    cursor
        .rest
        .is_empty()
        .then(|| (local - Duration::minutes(offset_minutes)).and_utc())
}

/// A tiny left-to-right reader over the ISO string.
struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Exactly `count` ASCII digits.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let head = self.rest.get(..count)?;
        if !head.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.rest = &self.rest[count..];
        head.parse().ok()
    }

    /// `YYYY` or `±YYYYYY` (`-000000` is not a year).
    fn year(&mut self) -> Option<i32> {
        if let Some(sign) = self.rest.chars().next().filter(|c| *c == '+' || *c == '-') {
            self.rest = &self.rest[1..];
            let magnitude = i32::try_from(self.digits(6)?).ok()?;
            if sign == '-' && magnitude == 0 {
                return None;
            }
            return Some(if sign == '-' { -magnitude } else { magnitude });
        }
        i32::try_from(self.digits(4)?).ok()
    }

    /// `HH:mm[:ss[.fff…]]` on `date`; `24:00[:00[.000]]` is the next midnight.
    fn time(&mut self, date: NaiveDate) -> Option<NaiveDateTime> {
        let hour = self.digits(2)?;
        if !self.eat(':') {
            return None;
        }
        let minute = self.digits(2)?;
        let (mut second, mut millis) = (0, 0);
        if self.eat(':') {
            second = self.digits(2)?;
            if self.eat('.') {
                let fraction_len = self.rest.bytes().take_while(u8::is_ascii_digit).count();
                if fraction_len == 0 {
                    return None;
                }
                let fraction = &self.rest[..fraction_len];
                self.rest = &self.rest[fraction_len..];
                millis = format!("{fraction:0<3}")[..3].parse().ok()?;
            }
        }
        if hour == 24 {
            let midnight = (minute, second, millis) == (0, 0, 0);
            return midnight.then(|| date.succ_opt().map(|next| next.and_time(NaiveTime::MIN)))?;
        }
        Some(date.and_time(NaiveTime::from_hms_milli_opt(hour, minute, second, millis)?))
    }

    /// `Z`, `±HH:mm` or nothing (UTC, see [`js_date`]); minutes east of UTC.
    fn offset(&mut self) -> Option<i64> {
        if self.eat('Z') || self.rest.is_empty() {
            return Some(0);
        }
        let sign = if self.eat('+') {
            1
        } else if self.eat('-') {
            -1
        } else {
            return None;
        };
        let hours = self.digits(2)?;
        if !self.eat(':') {
            return None;
        }
        let minutes = self.digits(2)?;
        (hours < 24 && minutes < 60).then_some(sign * i64::from(hours * 60 + minutes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_accepts_what_javascript_accepts() {
        let cases = [
            ("5", 5.0),
            ("-5", -5.0),
            ("+5", 5.0),
            ("  42\t\n", 42.0),
            ("\u{FEFF}7\u{00A0}", 7.0),
            ("", 0.0),
            ("   ", 0.0),
            ("1.5", 1.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("1E-2", 0.01),
            ("-2.5e+1", -25.0),
            ("0x1F", 31.0),
            ("0X1f", 31.0),
            ("0o17", 15.0),
            ("0b101", 5.0),
            ("007", 7.0),
        ];
        for (text, expected) in cases {
            assert_eq!(js_number(text), expected, "Number({text:?})");
        }
    }

    #[test]
    fn number_is_nan_for_garbage() {
        for text in [
            "abc",
            "5abc",
            "1,5",
            "1_000",
            ".",
            "+",
            "-",
            "e5",
            "1e",
            "1e+",
            "--5",
            "-0x10",
            "0x",
            "0xg",
            "0b2",
            "inf",
            "-inf",
            "NaN",
            "nan",
            "infinity",
            "INFINITY",
            "5 5",
            "\u{0085}5",
        ] {
            assert!(
                js_number(text).is_nan(),
                "Number({text:?}) should be NaN, got {}",
                js_number(text)
            );
        }
    }

    #[test]
    fn number_knows_infinity() {
        assert_eq!(js_number("Infinity"), f64::INFINITY);
        assert_eq!(js_number("+Infinity"), f64::INFINITY);
        assert_eq!(js_number("-Infinity"), f64::NEG_INFINITY);
        assert_eq!(js_number("1e400"), f64::INFINITY);
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn date_reads_the_ecmascript_format() {
        let cases = [
            ("2026-01-01", "2026-01-01T00:00:00Z"),
            ("2026-03", "2026-03-01T00:00:00Z"),
            ("2026", "2026-01-01T00:00:00Z"),
            ("2026-01-01T10:20", "2026-01-01T10:20:00Z"),
            ("2026-01-01T10:20:30", "2026-01-01T10:20:30Z"),
            ("2026-01-01 10:20:30", "2026-01-01T10:20:30Z"),
            ("2026-01-01T10:20:30.123Z", "2026-01-01T10:20:30.123Z"),
            ("2026-01-01T10:20:30.5Z", "2026-01-01T10:20:30.500Z"),
            ("2026-01-01T10:20:30.123999Z", "2026-01-01T10:20:30.123Z"),
            ("2026-01-01T10:20:30+02:00", "2026-01-01T08:20:30Z"),
            ("2026-01-01T00:30-01:30", "2026-01-01T02:00:00Z"),
            ("2026-01-01T24:00", "2026-01-02T00:00:00Z"),
            ("+002026-01-01", "2026-01-01T00:00:00Z"),
            ("Thu, 01 Jan 2026 00:00:00 GMT", "2026-01-01T00:00:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(js_date(text), Some(utc(expected)), "new Date({text:?})");
        }
        let year_minus_one = NaiveDate::from_ymd_opt(-1, 1, 1)
            .unwrap()
            .and_time(NaiveTime::MIN)
            .and_utc();
        assert_eq!(js_date("-000001-01-01T00:00:00Z"), Some(year_minus_one));
    }

    #[test]
    fn date_rejects_invalid_and_implementation_defined_input() {
        for text in [
            "",
            "garbage",
            "2026-13-01",
            "2026-02-30",
            "2026-1-1",
            "26-01-01",
            "2026-01-01T",
            "2026-01-01T10",
            "2026-01-01T25:00",
            "2026-01-01T24:01",
            "2026-01-01T10:00:00.",
            "2026-01-01T10:00:00+0200",
            "2026-01-01T10:00:00Zjunk",
            "-000000-01-01",
            "1700000000000",
            "Jan 1 2026",
            "+275761-01-01",
        ] {
            assert_eq!(js_date(text), None, "new Date({text:?}) should be invalid");
        }
    }
}

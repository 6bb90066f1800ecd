//! Evaluates a [`Filter`] against a read-model document in memory, with the
//! results MongoDB would give for the query of [`super::mongo`].
//!
//! # Document shapes
//!
//! Paths are the field sets' targets, looked up through nested objects.
//!
//! Machines (`public_cvm`, `kmc_cvm`) — the `cvms` read model (spec 16.1):
//! ```json
//! { "aggregateId": "8eadee97-…", "score": 3, "imported": false,
//!   "registeredBy": "<identity>" | null,
//!   "position": { "type": "Point", "coordinates": [8.40395, 49.0092] },
//!   "createdAt": "2026-01-01T10:00:00.000Z", "updatedAt": "…",
//!   "lastVotedAt": "…" }
//! ```
//! `lastVotedAt` is the newest `createdAt` of the machine's votes, computed
//! by the caller only when [`Filter::references`] lists the `votes`
//! reference; leave it out (or `null`) when there are no votes.
//!
//! Identities (`public_ident`, `kmc_ident`) — an `idents` document with its
//! credibility and karma documents joined in (the `$unwind` form):
//! ```json
//! { "identity": "…", "username": "alice" | null, "trusted": false,
//!   "createdAt": "…", "credibility": { "rating": 50 }, "karma": { "amount": 100 } }
//! ```
//! When the filter uses a plain (unwound) reference, a document whose joined
//! object is missing or `null` does not match at all, like `$unwind` dropping it.
//!
//! Types: numbers are JSON numbers, booleans JSON booleans, texts JSON
//! strings; dates are RFC 3339 strings (`to_rfc3339_opts(Millis, true)`) or
//! Extended JSON `{"$date": "<RFC 3339>" | <ms> | {"$numberLong": "<ms>"}}`,
//! compared at millisecond precision; `position` is a GeoJSON point or a
//! legacy `[lng, lat]` pair. A value of another type than the filter value
//! behaves like a missing one.

use super::predicate::{FieldTest, Filter, Predicate, Scalar};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::cmp::Ordering;

impl Filter {
    pub fn matches(&self, document: &Value) -> bool {
        let joined = self
            .references
            .iter()
            .filter(|reference| reference.unwinds())
            .all(|reference| document.get(reference.alias).is_some_and(Value::is_object));
        joined && predicate_matches(&self.predicate, document)
    }
}

impl Predicate {
    /// Whether the document satisfies the predicate alone (joins aside: see [`Filter::matches`]).
    pub fn matches(&self, document: &Value) -> bool {
        predicate_matches(self, document)
    }
}

fn predicate_matches(predicate: &Predicate, document: &Value) -> bool {
    match predicate {
        Predicate::And(left, right) => predicate_matches(left, document) && predicate_matches(right, document),
        Predicate::Or(left, right) => predicate_matches(left, document) || predicate_matches(right, document),
        Predicate::Field { path, test } => test_matches(test, lookup(document, path)),
    }
}

fn lookup<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(document, |value, segment| value.get(segment))
}

fn test_matches(test: &FieldTest, value: Option<&Value>) -> bool {
    let ordering = |operand: &Scalar| value.and_then(|v| compare(v, operand));
    let equal = |operand: &Scalar| ordering(operand) == Some(Ordering::Equal);
    match test {
        FieldTest::Eq(operand) => equal(operand),
        FieldTest::Ne(operand) => !equal(operand),
        FieldTest::Lt(operand) => ordering(operand) == Some(Ordering::Less),
        FieldTest::Le(operand) => matches!(ordering(operand), Some(Ordering::Less | Ordering::Equal)),
        FieldTest::Gt(operand) => ordering(operand) == Some(Ordering::Greater),
        FieldTest::Ge(operand) => matches!(ordering(operand), Some(Ordering::Greater | Ordering::Equal)),
        FieldTest::In(operands) => operands.iter().any(equal),
        FieldTest::Nin(operands) => !operands.iter().any(equal),
        FieldTest::Like(pattern) => value.and_then(Value::as_str).is_some_and(|text| pattern.is_match(text)),
        FieldTest::WithinBox(bbox) => value.and_then(point).is_some_and(|(lng, lat)| bbox.contains(lng, lat)),
    }
}

/// The document value against a filter value of the same type; `None` when
/// the value has another type (MongoDB's comparisons never cross types).
fn compare(value: &Value, operand: &Scalar) -> Option<Ordering> {
    match operand {
        Scalar::Text(text) => Some(value.as_str()?.cmp(text)),
        Scalar::Number(number) => value.as_f64()?.partial_cmp(number),
        Scalar::Bool(flag) => Some(value.as_bool()?.cmp(flag)),
        Scalar::Date(date) => Some(date_millis(value)?.cmp(&date.timestamp_millis())),
    }
}

fn date_millis(value: &Value) -> Option<i64> {
    let rfc3339 = |text: &str| DateTime::parse_from_rfc3339(text).ok().map(|d| d.to_utc());
    let date: DateTime<Utc> = match value {
        Value::String(text) => rfc3339(text)?,
        Value::Object(object) => match object.get("$date")? {
            Value::String(text) => rfc3339(text)?,
            Value::Number(ms) => return ms.as_i64(),
            Value::Object(long) => return long.get("$numberLong")?.as_str()?.parse().ok(),
            _ => return None,
        },
        _ => return None,
    };
    Some(date.timestamp_millis())
}

/// `(lng, lat)` of a GeoJSON point or a legacy coordinate pair.
fn point(value: &Value) -> Option<(f64, f64)> {
    let coordinates = match value.get("type") {
        Some(kind) if kind == "Point" => value.get("coordinates")?,
        Some(_) => return None,
        None => value,
    };
    match coordinates.as_array()?.as_slice() {
        [lng, lat] => Some((lng.as_f64()?, lat.as_f64()?)),
        _ => None,
    }
}

//! Lossless JSON ↔ BSON for event payloads, metadata and snapshots.
//!
//! BSON has no unsigned 64-bit integer: `bson::to_bson` refuses a JSON number
//! above `i64::MAX` (a hash, a digest), which made every snapshot of such an
//! aggregate fail. Those numbers are stored as Decimal128 — still a number
//! an operator sees in `mongosh`, and exact — and read back as the same JSON
//! integer. Every other value keeps its natural BSON type, and integers come
//! back whatever width the server returns (see [`super::num`]).

use mongodb::bson::{Bson, Decimal128, Document};
use serde_json::{Map, Number, Value};

pub fn to_bson(value: &Value) -> Bson {
    match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => number_to_bson(n),
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(to_bson).collect()),
        Value::Object(map) => Bson::Document(to_document(map)),
    }
}

pub fn to_document(map: &Map<String, Value>) -> Document {
    map.iter().map(|(k, v)| (k.clone(), to_bson(v))).collect()
}

fn number_to_bson(n: &Number) -> Bson {
    if let Some(i) = n.as_i64() {
        Bson::Int64(i)
    } else if let Some(u) = n.as_u64() {
        // Only reached above i64::MAX. The decimal form of a u64 always parses.
        Bson::Decimal128(u.to_string().parse::<Decimal128>().expect("a u64 is a valid decimal"))
    } else {
        Bson::Double(n.as_f64().unwrap_or(f64::NAN))
    }
}

pub fn from_bson(value: &Bson) -> Value {
    match value {
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Int32(i) => Value::from(*i),
        Bson::Int64(i) => Value::from(*i),
        Bson::Double(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Bson::Decimal128(d) => decimal_to_json(d),
        Bson::String(s) => Value::String(s.clone()),
        Bson::Array(items) => Value::Array(items.iter().map(from_bson).collect()),
        Bson::Document(d) => Value::Object(from_document(d)),
        // Never written by us; keep what an operator may have put there readable.
        other => other.clone().into_relaxed_extjson(),
    }
}

pub fn from_document(d: &Document) -> Map<String, Value> {
    d.iter().map(|(k, v)| (k.clone(), from_bson(v))).collect()
}

fn decimal_to_json(d: &Decimal128) -> Value {
    let text = d.to_string();
    if let Ok(u) = text.parse::<u64>() {
        return Value::from(u);
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    // A decimal we did not write (fractional, huge): its exact text.
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_json_value_round_trips_exactly() {
        let value = json!({
            "digest": u64::MAX, "big": i64::MAX as u64 + 1, "neg": i64::MIN, "small": 7, "zero": 0,
            "float": 1.5, "whole_float": 2.0, "text": "x", "none": null, "flag": true,
            "nested": [{"b": 1, "a": [u64::MAX, -1]}], "order": {"z": 1, "a": 2}
        });
        let back = from_bson(&to_bson(&value));
        assert_eq!(back, value);
        assert_eq!(back.to_string(), value.to_string(), "key order and number forms kept");
        assert!(matches!(to_bson(&json!(u64::MAX)), Bson::Decimal128(_)));
        assert_eq!(to_bson(&json!(5)), Bson::Int64(5));
    }

    #[test]
    fn narrower_integers_read_back_as_the_same_numbers() {
        assert_eq!(from_bson(&Bson::Int32(5)), json!(5));
        assert_eq!(from_bson(&Bson::Int64(5)), json!(5));
    }
}

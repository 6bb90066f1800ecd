//! Reading numbers back in whatever BSON width the server chose.
//!
//! We write every integer as Int64, but a server may hand it back narrower or
//! as a double: `$inc` on an upserted document, an aggregation, a
//! compatible server that normalises small values to Int32, a document
//! written by another tool. Demanding one width (`get_i64`) turns that into
//! a failed append or a failed projector batch, so every integer field is
//! read through [`int`].

use mongodb::bson::{Bson, Document};

#[derive(Debug, thiserror::Error)]
pub enum NumError {
    #[error("field {0:?} is missing")]
    Missing(String),
    #[error("field {0:?} is not an integer: {1}")]
    NotAnInteger(String, String),
}

/// The integer in `doc[key]`: Int32, Int64, or a double with an integral
/// value that fits an i64.
pub fn int(doc: &Document, key: &str) -> Result<i64, NumError> {
    let value = doc.get(key).ok_or_else(|| NumError::Missing(key.to_owned()))?;
    as_int(value).ok_or_else(|| NumError::NotAnInteger(key.to_owned(), value.to_string()))
}

/// [`int`], for a field that must not be negative (positions, sequences).
pub fn uint(doc: &Document, key: &str) -> Result<u64, NumError> {
    let value = int(doc, key)?;
    u64::try_from(value).map_err(|_| NumError::NotAnInteger(key.to_owned(), value.to_string()))
}

pub fn as_int(value: &Bson) -> Option<i64> {
    match *value {
        Bson::Int32(v) => Some(v.into()),
        Bson::Int64(v) => Some(v),
        // 2^63 is exactly representable; anything at or above it does not fit.
        Bson::Double(v) if v.fract() == 0.0 && v >= -(2f64.powi(63)) && v < 2f64.powi(63) => Some(v as i64),
        _ => None,
    }
}

/// A number in any width as f64 (scores of sorted sets).
pub fn float(doc: &Document, key: &str) -> Result<f64, NumError> {
    match doc.get(key) {
        None => Err(NumError::Missing(key.to_owned())),
        Some(Bson::Double(v)) => Ok(*v),
        Some(Bson::Int32(v)) => Ok((*v).into()),
        Some(Bson::Int64(v)) => Ok(*v as f64),
        Some(other) => Err(NumError::NotAnInteger(key.to_owned(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn every_integer_width_is_accepted() {
        let d = doc! {"a": 7_i32, "b": 7_i64, "c": 7.0, "d": 7.5, "e": "7", "f": -1_i64, "g": 1e30};
        assert_eq!(int(&d, "a").unwrap(), 7);
        assert_eq!(int(&d, "b").unwrap(), 7);
        assert_eq!(int(&d, "c").unwrap(), 7);
        assert!(matches!(int(&d, "d"), Err(NumError::NotAnInteger(..))));
        assert!(matches!(int(&d, "e"), Err(NumError::NotAnInteger(..))));
        assert!(matches!(int(&d, "g"), Err(NumError::NotAnInteger(..))));
        assert!(matches!(int(&d, "zz"), Err(NumError::Missing(_))));
        assert!(uint(&d, "f").is_err());
        assert_eq!(uint(&d, "a").unwrap(), 7);
        assert_eq!(float(&d, "a").unwrap(), 7.0);
        assert_eq!(float(&d, "d").unwrap(), 7.5);
    }
}

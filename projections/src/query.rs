//! Queries a document store answers from its own indexes.
//!
//! A projection declares, next to its documents, the fields a collection is
//! queried by ([`Queryable`]); each store keeps those fields in a native,
//! indexed form (SQLite: a typed table beside the documents; MongoDB: typed
//! documents with indexes), so a filtered page or a viewport is a query,
//! not a scan of the collection. [`ReadStore::query_docs`](crate::ReadStore)
//! has a scanning default for stores without such indexes (Redis, which
//! holds no queryable collection); its answers define the semantics every
//! store must match: those of [`Predicate::matches`] (MongoDB's).

use crate::rsql::{BoundingBox, Predicate};
use chrono::DateTime;
use serde_json::{json, Value};

/// How a field is stored and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Number,
    Bool,
    /// An RFC 3339 string in the document, compared as milliseconds.
    Time,
}

/// A field a collection is filtered by: the filter's path is the document's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryField {
    pub path: &'static str,
    pub kind: FieldKind,
}

/// Where a document's position is, and the filter path that tests it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionFields {
    /// The path `bbox` filters test (`position`).
    pub filter_path: &'static str,
    pub longitude: &'static str,
    pub latitude: &'static str,
}

/// A collection whose documents are queried by some of their fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queryable {
    pub collection: &'static str,
    pub fields: &'static [QueryField],
    pub position: Option<PositionFields>,
}

/// What to select: documents matching `predicate` (all when `None`) inside
/// `within` (edges included), ordered by key, `offset`/`limit` paged.
#[derive(Debug, Clone, Copy)]
pub struct DocQuery<'a> {
    pub predicate: Option<&'a Predicate>,
    pub within: Option<BoundingBox>,
    pub offset: usize,
    pub limit: usize,
}

impl<'a> DocQuery<'a> {
    /// Every matching document.
    pub fn all(predicate: Option<&'a Predicate>) -> Self {
        Self {
            predicate,
            within: None,
            offset: 0,
            limit: usize::MAX,
        }
    }
}

impl Queryable {
    /// A hash of the declaration (fields, kinds, position), stable across
    /// builds and releases (FNV-1a; std's hasher is neither): stores name
    /// their index structures by it, so a changed declaration is rebuilt
    /// from the documents instead of read in the old shape.
    pub fn fingerprint(&self) -> u32 {
        let mut hash: u32 = 0x811c_9dc5;
        let mut feed = |text: &str| {
            for byte in text.bytes().chain([0]) {
                hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
            }
        };
        for field in self.fields {
            feed(field.path);
            feed(&format!("{:?}", field.kind));
        }
        if let Some(p) = self.position {
            feed(p.longitude);
            feed(p.latitude);
        }
        hash
    }

    pub fn field(&self, path: &str) -> Option<&QueryField> {
        self.fields.iter().find(|f| f.path == path)
    }

    /// The document's position, if it has one.
    pub fn position_of(&self, doc: &Value) -> Option<(f64, f64)> {
        let fields = self.position?;
        Some((
            doc.get(fields.longitude)?.as_f64()?,
            doc.get(fields.latitude)?.as_f64()?,
        ))
    }

    /// Whether `doc` is selected by `query` (paging aside): the reference
    /// semantics, used by stores without native indexes.
    pub fn matches(&self, doc: &Value, query: &DocQuery<'_>) -> bool {
        if let Some(bbox) = query.within {
            match self.position_of(doc) {
                Some((lng, lat)) if bbox.contains(lng, lat) => {}
                _ => return false,
            }
        }
        let Some(predicate) = query.predicate else {
            return true;
        };
        match (self.position, self.position_of(doc)) {
            (Some(fields), Some((lng, lat))) => {
                let mut doc = doc.clone();
                doc[fields.filter_path] = json!({"type": "Point", "coordinates": [lng, lat]});
                predicate.matches(&doc)
            }
            _ => predicate.matches(doc),
        }
    }
}

/// Milliseconds of an RFC 3339 time (the [`FieldKind::Time`] form stores keep).
pub fn time_millis(value: &Value) -> Option<i64> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|t| t.timestamp_millis())
}

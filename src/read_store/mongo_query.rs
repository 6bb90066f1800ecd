//! Queryable collections in MongoDB: for each, a collection of typed
//! documents (`rmq_<projection>_<collection>_<fingerprint>`, prefixed like
//! every collection) beside `rm_docs`: the declared fields at their paths in
//! their BSON types (texts, doubles, booleans, dates), the position as a
//! GeoJSON point with a 2dsphere index, each field indexed with the
//! generation, and the document itself (as `rm_docs` keeps it). An operator
//! can read them with `mongosh`; filters run as `find`/`countDocuments`
//! with skip/limit on the server, viewports as `$geoWithin` queries.
//! Commits write them in the batch's transaction, by the same ids as
//! `rm_docs` rows.

use super::{other, unavailable};
use crate::mongo::Mongo;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime as BsonDate, Document};
use mongodb::{Collection, IndexModel};
use projections::query::time_millis;
use projections::{DocQuery, FieldKind, Namespace, Queryable, StoreError};
use serde_json::Value;

/// The (unprefixed) collection of a queryable collection.
pub fn name(projection: &str, q: &Queryable) -> String {
    format!("{}{:08x}", name_prefix(projection, q), q.fingerprint())
}

fn name_prefix(projection: &str, q: &Queryable) -> String {
    format!("rmq_{projection}_{}_", q.collection)
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |value, segment| value.get(segment))
}

/// The typed document of `doc` (its `_id` is the caller's row id).
pub fn typed(q: &Queryable, id: &str, ns: &Namespace, key: &str, doc: &Value) -> Document {
    let mut row = doc! {"_id": id, "generation": ns.generation as i64, "key": key};
    for field in q.fields {
        let value = lookup(doc, field.path);
        let bson = match field.kind {
            FieldKind::Text => value.and_then(Value::as_str).map(|s| Bson::String(s.to_owned())),
            FieldKind::Number => value.and_then(Value::as_f64).map(Bson::Double),
            FieldKind::Bool => value.and_then(Value::as_bool).map(Bson::Boolean),
            FieldKind::Time => value
                .and_then(time_millis)
                .map(|ms| Bson::DateTime(BsonDate::from_millis(ms))),
        };
        if let Some(bson) = bson {
            row.insert(field.path, bson);
        }
    }
    if let (Some(fields), Some((lng, lat))) = (q.position, q.position_of(doc)) {
        row.insert(fields.filter_path, doc! {"type": "Point", "coordinates": [lng, lat]});
    }
    row.insert("doc", doc.to_string());
    row
}

/// The server-side filter of `query` in generation `ns.generation`.
pub fn filter(q: &Queryable, ns: &Namespace, query: &DocQuery<'_>) -> Result<Document, StoreError> {
    let mut conditions = vec![Bson::Document(doc! {"generation": ns.generation as i64})];
    if let Some(b) = query.within {
        let Some(fields) = q.position else {
            return Err(other(format!("{} has no position", q.collection)));
        };
        conditions.push(Bson::Document(doc! {fields.filter_path: {"$geoWithin": {"$box": [
            [b.min_lng, b.min_lat], [b.max_lng, b.max_lat]
        ]}}}));
    }
    if let Some(predicate) = query.predicate {
        for (path, _) in predicate.tests() {
            let known = q.field(path).is_some() || q.position.is_some_and(|p| p.filter_path == path);
            if !known {
                return Err(other(format!("{}: {path} is not a queryable field", q.collection)));
            }
        }
        // Extended JSON: dates come as {"$date": …} and become BSON dates.
        conditions.push(Bson::try_from(predicate.to_mongo()).map_err(other)?);
    }
    Ok(doc! {"$and": conditions})
}

/// Creates the collection and its indexes if missing (before any
/// transaction uses it), filling a new one from the documents in `rm_docs`,
/// and drops collections of earlier declarations.
pub async fn create(
    mongo: &Mongo,
    rm_docs: &Collection<Document>,
    projection: &str,
    q: &Queryable,
    row_id: impl Fn(&Namespace, &str, &str) -> String,
) -> Result<Collection<Document>, StoreError> {
    let unprefixed = name(projection, q);
    let collection = mongo.collection(&unprefixed);
    let existing = mongo.db.list_collection_names().await.map_err(unavailable)?;
    let full = collection.name().to_owned();
    let prefix = mongo.collection(&name_prefix(projection, q)).name().to_owned();
    for old in existing.iter().filter(|n| n.starts_with(&prefix) && **n != full) {
        mongo.db.collection::<Document>(old).drop().await.map_err(unavailable)?;
    }
    let fresh = !existing.contains(&full);
    mongo
        .ensure_collections(&[unprefixed.as_str()])
        .await
        .map_err(unavailable)?;
    let mut indexes = vec![IndexModel::builder().keys(doc! {"generation": 1, "key": 1}).build()];
    for field in q.fields {
        indexes.push(
            IndexModel::builder()
                .keys(doc! {"generation": 1, field.path: 1})
                .build(),
        );
    }
    if let Some(fields) = q.position {
        // Not compound with the generation: Microsoft DocumentDB refuses
        // compound 2dsphere indexes, and a viewport is selective anyway.
        indexes.push(
            IndexModel::builder()
                .keys(doc! {fields.filter_path: "2dsphere"})
                .build(),
        );
    }
    collection.create_indexes(indexes).await.map_err(unavailable)?;
    if fresh {
        let mut rows = rm_docs
            .find(doc! {"projection": projection, "collection": q.collection})
            .await
            .map_err(unavailable)?;
        let mut batch = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(unavailable)? {
            let generation = row.get_i64("generation").map_err(other)?;
            let key = row.get_str("key").map_err(other)?.to_owned();
            let doc: Value = serde_json::from_str(row.get_str("doc").map_err(other)?).map_err(other)?;
            let ns = Namespace::new(projection, generation as u64);
            batch.push(typed(q, &row_id(&ns, q.collection, &key), &ns, &key, &doc));
            if batch.len() == 1000 {
                collection
                    .insert_many(std::mem::take(&mut batch))
                    .await
                    .map_err(unavailable)?;
            }
        }
        if !batch.is_empty() {
            collection.insert_many(batch).await.map_err(unavailable)?;
        }
    }
    Ok(collection)
}

pub async fn select_docs(
    collection: &Collection<Document>,
    filter: Document,
    (offset, limit): (usize, usize),
) -> Result<Vec<(String, Value)>, StoreError> {
    let rows: Vec<Document> = collection
        .find(filter)
        .sort(doc! {"key": 1})
        .skip(offset as u64)
        .limit(limit.min(i64::MAX as usize) as i64)
        .projection(doc! {"key": 1, "doc": 1})
        .await
        .map_err(unavailable)?
        .try_collect()
        .await
        .map_err(unavailable)?;
    rows.iter()
        .map(|row| {
            let key = row.get_str("key").map_err(other)?.to_owned();
            let doc = serde_json::from_str(row.get_str("doc").map_err(other)?).map_err(other)?;
            Ok((key, doc))
        })
        .collect()
}

pub async fn count(collection: &Collection<Document>, filter: Document) -> Result<u64, StoreError> {
    collection.count_documents(filter).await.map_err(unavailable)
}

pub async fn positions(
    collection: &Collection<Document>,
    q: &Queryable,
    filter: Document,
) -> Result<Vec<(String, f64, f64)>, StoreError> {
    let Some(fields) = q.position else {
        return Ok(Vec::new());
    };
    let rows: Vec<Document> = collection
        .find(filter)
        .sort(doc! {"key": 1})
        .projection(doc! {"key": 1, fields.filter_path: 1})
        .await
        .map_err(unavailable)?
        .try_collect()
        .await
        .map_err(unavailable)?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let key = row.get_str("key").ok()?.to_owned();
            let coordinates = row
                .get_document(fields.filter_path)
                .ok()?
                .get_array("coordinates")
                .ok()?;
            Some((key, coordinates.first()?.as_f64()?, coordinates.get(1)?.as_f64()?))
        })
        .collect())
}

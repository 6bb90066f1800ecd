//! The MongoDB form of a [`Filter`], as `serde_json::Value` in MongoDB
//! Extended JSON, mirroring the original's generic translation (spec 8.2):
//!
//! - `Eq` → `{path: v}`, `Ne` → `{path: {$ne: v}}`, `Lt`/`Le`/`Gt`/`Ge` →
//!   `$lt`/`$lte`/`$gt`/`$gte`, `In`/`Nin` → `$in`/`$nin`, `Like` →
//!   `{path: {$regex: <canonical pattern>}}`, a box →
//!   `{path: {$geoWithin: {$box: [[minLng, minLat], [maxLng, maxLat]]}}}`;
//! - AND → `{$and: [left, right]}`, OR → `{$or: [left, right]}`, binary as parsed;
//! - without references a find filter, otherwise a pipeline: per reference in
//!   first-use order `$lookup`, then `$unwind` (plain reference) or
//!   `$addFields` + `$project {<as>: 0}` (computed fields), then `$match`.
//!
//! Values: strings and booleans as JSON; numbers as JSON integers when they
//! are whole (so `50` and not `50.0`), else as doubles; dates as canonical
//! Extended JSON `{"$date": {"$numberLong": "<ms>"}}`. Convert with
//! `bson::Bson::try_from(value)` / `bson::Document::try_from(map)`, which read
//! Extended JSON — not with `bson::to_bson`, which would keep `$date` as a key.

use super::bbox::BoundingBox;
use super::fields::Reference;
use super::predicate::{FieldTest, Filter, Predicate, Scalar};
use serde_json::{json, Map, Value};

/// A find filter, or an aggregation pipeline when the filter needs joins.
#[derive(Debug, Clone, PartialEq)]
pub enum MongoQuery {
    Find(Value),
    Pipeline(Vec<Value>),
}

impl MongoQuery {
    /// Also require `prefilter` (e.g. the viewport `{position: {$geoWithin…}}`
    /// of `/cvms/within`). A pipeline gets it as a leading `$match` stage,
    /// which is what the original got wrong (bug 19.3: it prepended the bare
    /// condition, not a stage, so every `lastVotedAt` filter there failed
    /// with 500). Matching first also keeps the joins small.
    pub fn restricted_to(self, prefilter: Value) -> MongoQuery {
        match self {
            Self::Find(filter) => Self::Find(json!({ "$and": [prefilter, filter] })),
            Self::Pipeline(mut stages) => {
                stages.insert(0, json!({ "$match": prefilter }));
                Self::Pipeline(stages)
            }
        }
    }

    /// The query as pipeline stages, for callers that always aggregate
    /// (append `$skip`/`$limit` or `{$count: "total"}` to it).
    pub fn into_pipeline(self) -> Vec<Value> {
        match self {
            Self::Find(filter) => vec![json!({ "$match": filter })],
            Self::Pipeline(stages) => stages,
        }
    }
}

impl Filter {
    pub fn to_mongo(&self) -> MongoQuery {
        let condition = predicate_to_mongo(&self.predicate);
        if self.references.is_empty() {
            return MongoQuery::Find(condition);
        }
        let mut stages: Vec<Value> = self.references.iter().flat_map(join_stages).collect();
        stages.push(json!({ "$match": condition }));
        MongoQuery::Pipeline(stages)
    }
}

impl Predicate {
    /// The predicate alone as a find filter, for collections that hold the
    /// computed fields themselves (no joins needed).
    pub fn to_mongo(&self) -> Value {
        predicate_to_mongo(self)
    }
}

fn join_stages(reference: &Reference) -> Vec<Value> {
    let lookup = json!({ "$lookup": {
        "from": reference.from,
        "localField": reference.local_field,
        "foreignField": reference.foreign_field,
        "as": reference.alias,
    }});
    if reference.unwinds() {
        let unwind = json!({ "$unwind": {
            "path": format!("${}", reference.alias),
            "preserveNullAndEmptyArrays": false,
        }});
        return vec![lookup, unwind];
    }
    let computed: Map<String, Value> = reference
        .computed
        .iter()
        .map(|field| (field.name.to_owned(), field.expression.clone()))
        .collect();
    vec![
        lookup,
        json!({ "$addFields": computed }),
        json!({ "$project": { reference.alias: 0 } }),
    ]
}

fn predicate_to_mongo(predicate: &Predicate) -> Value {
    match predicate {
        Predicate::And(left, right) => json!({ "$and": [predicate_to_mongo(left), predicate_to_mongo(right)] }),
        Predicate::Or(left, right) => json!({ "$or": [predicate_to_mongo(left), predicate_to_mongo(right)] }),
        Predicate::Field { path, test } => {
            let mut condition = Map::new();
            condition.insert(path.clone(), test_to_mongo(test));
            Value::Object(condition)
        }
    }
}

fn test_to_mongo(test: &FieldTest) -> Value {
    let list = |values: &[Scalar]| Value::Array(values.iter().map(scalar_to_json).collect());
    match test {
        FieldTest::Eq(value) => scalar_to_json(value),
        FieldTest::Ne(value) => json!({ "$ne": scalar_to_json(value) }),
        FieldTest::Lt(value) => json!({ "$lt": scalar_to_json(value) }),
        FieldTest::Le(value) => json!({ "$lte": scalar_to_json(value) }),
        FieldTest::Gt(value) => json!({ "$gt": scalar_to_json(value) }),
        FieldTest::Ge(value) => json!({ "$gte": scalar_to_json(value) }),
        FieldTest::In(values) => json!({ "$in": list(values) }),
        FieldTest::Nin(values) => json!({ "$nin": list(values) }),
        FieldTest::Like(pattern) => json!({ "$regex": pattern.as_str() }),
        FieldTest::WithinBox(BoundingBox {
            min_lng,
            min_lat,
            max_lng,
            max_lat,
        }) => json!({ "$geoWithin": { "$box": [
            [number(*min_lng), number(*min_lat)],
            [number(*max_lng), number(*max_lat)],
        ]}}),
    }
}

/// A filter value in Extended JSON.
pub fn scalar_to_json(value: &Scalar) -> Value {
    match value {
        Scalar::Text(text) => Value::String(text.clone()),
        Scalar::Number(n) => number(*n),
        Scalar::Bool(flag) => Value::Bool(*flag),
        Scalar::Date(date) => json!({ "$date": { "$numberLong": date.timestamp_millis().to_string() } }),
    }
}

/// Whole numbers (within the exactly representable range) as integers.
fn number(n: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() <= EXACT {
        Value::from(n as i64)
    } else {
        // Non-finite values never get here: the translation refuses them.
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

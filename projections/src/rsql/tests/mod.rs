//! Tests across the modules: each field set end to end, the MongoDB builder,
//! the evaluator, and ports of the original's filter tests (spec 17.14,
//! 17.17–17.19).

mod evaluator;
mod field_sets;
mod mongo_builder;
mod original;
mod properties;

use super::{Filter, FilterError, InvalidFilter, MongoQuery};
use serde_json::Value;

/// The find filter of a filter that must not need joins.
fn find(filter: &Filter) -> Value {
    match filter.to_mongo() {
        MongoQuery::Find(condition) => condition,
        MongoQuery::Pipeline(stages) => panic!("expected a find filter, got pipeline {stages:?}"),
    }
}

/// The pipeline of a filter that must need joins.
fn pipeline(filter: &Filter) -> Vec<Value> {
    match filter.to_mongo() {
        MongoQuery::Pipeline(stages) => stages,
        MongoQuery::Find(condition) => panic!("expected a pipeline, got find filter {condition}"),
    }
}

fn unsupported(field: &str, operator: &str) -> FilterError {
    FilterError::Unsupported {
        field: field.into(),
        operator: operator.into(),
    }
}

fn invalid(reason: InvalidFilter) -> FilterError {
    FilterError::Invalid(reason)
}

/// `{"$date": {"$numberLong": …}}` of an RFC 3339 instant.
fn date(rfc3339: &str) -> Value {
    let millis = chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis();
    serde_json::json!({ "$date": { "$numberLong": millis.to_string() } })
}

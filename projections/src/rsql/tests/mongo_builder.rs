//! Shapes of the MongoDB queries beyond the original's own tests.

use super::{find, pipeline};
use crate::rsql::{FieldSet, MongoQuery};
use serde_json::json;

#[test]
fn logic_nodes_stay_binary_and_follow_precedence() {
    let filter = FieldSet::public_cvm()
        .compile("score>1;imported==true,id==x;score<9")
        .unwrap();
    assert_eq!(
        find(&filter),
        json!({"$or": [
            {"$and": [{"score": {"$gt": 1}}, {"imported": true}]},
            {"$and": [{"aggregateId": "x"}, {"score": {"$lt": 9}}]},
        ]})
    );
    let chain = FieldSet::public_cvm().compile("score>1;score>2;score>3").unwrap();
    assert_eq!(
        find(&chain),
        json!({"$and": [{"$and": [{"score": {"$gt": 1}}, {"score": {"$gt": 2}}]}, {"score": {"$gt": 3}}]})
    );
}

#[test]
fn numbers_are_integers_when_whole() {
    let filter = FieldSet::public_cvm().compile("score=in=(2,2.5,-3,1e15)").unwrap();
    let values = find(&filter)["score"]["$in"].clone();
    assert_eq!(values, json!([2, 2.5, -3, 1_000_000_000_000_000_i64]));
    assert!(values[0].is_i64() && values[1].is_f64());
}

#[test]
fn dates_are_canonical_extended_json() {
    let filter = FieldSet::public_cvm().compile("createdAt>=2026-01-01").unwrap();
    assert_eq!(
        find(&filter),
        json!({"createdAt": {"$gte": {"$date": {"$numberLong": "1767225600000"}}}})
    );
}

#[test]
fn like_patterns_go_to_mongodb_in_canonical_spelling() {
    let filter = FieldSet::public_cvm().compile("id=like='^8e#a.*-'").unwrap();
    assert_eq!(find(&filter), json!({"aggregateId": {"$regex": "^8e\\#a.*\\-"}}));
}

#[test]
fn references_join_once_in_first_use_order() {
    let filter = FieldSet::kmc_ident()
        .compile("karma>1;(credibility>2,karma<9);credibility<99")
        .unwrap();
    let stages = pipeline(&filter);
    let lookups: Vec<&str> = stages.iter().filter_map(|s| s["$lookup"]["from"].as_str()).collect();
    assert_eq!(lookups, ["karmas", "credibilities"]);
    assert_eq!(stages.len(), 5);
    assert_eq!(
        filter.references().iter().map(|r| r.from).collect::<Vec<_>>(),
        ["karmas", "credibilities"]
    );
}

#[test]
fn a_reference_in_one_branch_still_makes_a_pipeline() {
    let filter = FieldSet::kmc_cvm()
        .compile("registeredBy==abc,lastVotedAt<2026-01-01")
        .unwrap();
    assert!(filter.uses_references());
    assert_eq!(pipeline(&filter).len(), 4);
}

#[test]
fn restricting_a_find_filter_conjoins_the_prefilter() {
    let viewport = json!({"position": {"$geoWithin": {"$box": [[8, 48], [9, 49]]}}});
    let query = FieldSet::public_cvm().compile("score>=5").unwrap().to_mongo();
    assert_eq!(
        query.restricted_to(viewport.clone()),
        MongoQuery::Find(json!({"$and": [viewport, {"score": {"$gte": 5}}]}))
    );
}

#[test]
fn restricting_a_pipeline_prepends_a_match_stage() {
    // Bug 19.3: the original prepended the bare condition, which is no stage.
    let viewport = json!({"position": {"$geoWithin": {"$box": [[8, 48], [9, 49]]}}});
    let query = FieldSet::public_cvm()
        .compile("lastVotedAt>=2026-01-01")
        .unwrap()
        .to_mongo();
    let MongoQuery::Pipeline(stages) = query.restricted_to(viewport.clone()) else {
        panic!("expected a pipeline");
    };
    assert_eq!(stages.len(), 5);
    assert_eq!(stages[0], json!({"$match": viewport}));
    assert!(stages[1].get("$lookup").is_some());
    assert!(stages
        .iter()
        .all(|stage| stage.as_object().unwrap().keys().all(|k| k.starts_with('$'))));
}

#[test]
fn into_pipeline_wraps_a_find_filter_in_a_match_stage() {
    let find_query = FieldSet::public_cvm().compile("score>=5").unwrap().to_mongo();
    assert_eq!(find_query.into_pipeline(), [json!({"$match": {"score": {"$gte": 5}}})]);
    let joined = FieldSet::public_cvm()
        .compile("lastVotedAt>=2026-01-01")
        .unwrap()
        .to_mongo();
    assert_eq!(joined.into_pipeline().len(), 4);
}

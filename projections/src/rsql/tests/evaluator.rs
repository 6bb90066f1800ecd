//! The in-memory evaluator against documents of the shapes in `eval`'s docs.

use crate::rsql::{FieldSet, Filter};
use serde_json::{json, Value};

fn machines() -> Vec<Value> {
    vec![
        json!({
            "aggregateId": "8eadee97-1c2b-4c3d-9e8f-0a1b2c3d4e5f",
            "score": 5, "imported": false, "registeredBy": "alice-id",
            "position": {"type": "Point", "coordinates": [8.40395, 49.0092]},
            "createdAt": "2026-01-10T12:00:00.000Z", "updatedAt": "2026-02-01T00:00:00.000Z",
            "lastVotedAt": "2026-02-01T00:00:00.000Z",
        }),
        json!({
            "aggregateId": "00000000-aaaa-4bbb-8ccc-dddddddddddd",
            "score": -2.5, "imported": true,
            "position": {"type": "Point", "coordinates": [13.4, 52.5]},
            "createdAt": {"$date": "2025-12-31T23:59:59.999Z"},
            "updatedAt": {"$date": {"$numberLong": "1767225600000"}},
        }),
        json!({
            "aggregateId": "ffffffff-0000-4000-8000-000000000000",
            "score": 0, "imported": false, "registeredBy": null,
            "position": [8.9, 48.1],
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z",
            "lastVotedAt": null,
        }),
    ]
}

/// Indexes of the machines a public CVM filter selects.
fn selected(rsql: &str) -> Vec<usize> {
    selected_by(&FieldSet::kmc_cvm().compile(rsql).unwrap(), &machines())
}

fn selected_by(filter: &Filter, documents: &[Value]) -> Vec<usize> {
    (0..documents.len())
        .filter(|&i| filter.matches(&documents[i]))
        .collect()
}

#[test]
fn numbers_compare_numerically() {
    assert_eq!(selected("score==5"), [0]);
    assert_eq!(selected("score!=5"), [1, 2]);
    assert_eq!(selected("score<0"), [1]);
    assert_eq!(selected("score<=0"), [1, 2]);
    assert_eq!(selected("score>-2.5"), [0, 2]);
    assert_eq!(selected("score>=-2.5"), [0, 1, 2]);
    assert_eq!(selected("score=in=(5,'')"), [0, 2]);
    assert_eq!(selected("score=out=(5,'')"), [1]);
}

#[test]
fn booleans_and_texts() {
    assert_eq!(selected("imported==true"), [1]);
    assert_eq!(selected("imported!=true"), [0, 2]);
    assert_eq!(selected("id==8eadee97-1c2b-4c3d-9e8f-0a1b2c3d4e5f"), [0]);
    assert_eq!(selected("id=in=(nope,ffffffff-0000-4000-8000-000000000000)"), [2]);
    assert_eq!(selected("id=like=^0+-"), [1]);
    assert_eq!(selected("id=like=0000"), [1, 2]);
    assert_eq!(selected("id=like=4e5f$"), [0]);
}

#[test]
fn missing_and_null_fields_only_pass_negations() {
    // registeredBy: "alice-id", absent, null.
    assert_eq!(selected("registeredBy==alice-id"), [0]);
    let negated = FieldSet::generic(vec![]).compile("registeredBy!=alice-id").unwrap();
    assert_eq!(selected_by(&negated, &machines()), [1, 2]);
    let excluded = FieldSet::generic(vec![])
        .compile("registeredBy=out=(alice-id)")
        .unwrap();
    assert_eq!(selected_by(&excluded, &machines()), [1, 2]);
    // lastVotedAt: a date, absent, null.
    assert_eq!(selected("lastVotedAt>=2000-01-01"), [0]);
    assert_eq!(selected("lastVotedAt<2100-01-01"), [0]);
    assert_eq!(selected("lastVotedAt!=2026-02-01"), [1, 2]);
}

#[test]
fn values_of_another_type_never_compare() {
    // The generic set keeps "5" a string; the stored score is a number.
    let text = FieldSet::generic(vec![]).compile("score==5").unwrap();
    assert_eq!(selected_by(&text, &machines()), Vec::<usize>::new());
    let text_negated = FieldSet::generic(vec![]).compile("score!=5").unwrap();
    assert_eq!(selected_by(&text_negated, &machines()), [0, 1, 2]);
    let odd = [json!({"score": "5", "imported": "true", "createdAt": 1767225600000_i64})];
    assert_eq!(
        selected_by(&FieldSet::public_cvm().compile("score==5").unwrap(), &odd),
        Vec::<usize>::new()
    );
    assert_eq!(
        selected_by(&FieldSet::public_cvm().compile("imported==true").unwrap(), &odd),
        Vec::<usize>::new()
    );
    assert_eq!(
        selected_by(&FieldSet::public_cvm().compile("createdAt>=1970").unwrap(), &odd),
        Vec::<usize>::new()
    );
}

#[test]
fn dates_compare_as_instants_in_every_stored_form() {
    assert_eq!(selected("createdAt>=2026-01-01"), [0, 2]);
    assert_eq!(selected("createdAt<2026-01-01"), [1]);
    assert_eq!(selected("createdAt==2025-12-31T23:59:59.999Z"), [1]);
    assert_eq!(selected("createdAt=='2026-01-10T14:00:00+02:00'"), [0]);
    assert_eq!(selected("updatedAt==2026-01-01"), [1, 2]);
    assert_eq!(selected("updatedAt>2026-01-01T00:00:00.000Z"), [0]);
}

#[test]
fn bounding_boxes_select_by_position() {
    assert_eq!(selected("bbox=='8,48,9,50'"), [0, 2]);
    assert_eq!(selected("bbox=='13,52,14,53'"), [1]);
    assert_eq!(selected("bbox=='8.40395,49.0092,9,50'"), [0], "edges are inside");
    assert_eq!(selected("bbox=='-10,-10,0,0'"), Vec::<usize>::new());
}

#[test]
fn logic_follows_precedence() {
    assert_eq!(selected("imported==true,score>0;score<10"), [0, 1]);
    assert_eq!(selected("(imported==true,score>0);score<0"), [1]);
    assert_eq!(selected("imported==false and score>=0 or id=like=^0"), [0, 1, 2]);
    assert_eq!(selected("imported==false;(score>0 or score<0)"), [0]);
}

fn idents() -> Vec<Value> {
    vec![
        json!({"identity": "a1", "username": "alice", "trusted": true, "createdAt": "2026-01-01T00:00:00Z",
               "credibility": {"rating": 80}, "karma": {"amount": 120}}),
        json!({"identity": "b2", "username": null, "trusted": false, "createdAt": "2026-02-01T00:00:00Z",
               "credibility": {"rating": 40}, "karma": {"amount": 90}}),
        // Its credibility document is missing: `$unwind` drops it.
        json!({"identity": "c3", "username": "carol", "createdAt": "2026-03-01T00:00:00Z",
               "karma": {"amount": 300}}),
    ]
}

fn selected_idents(rsql: &str) -> Vec<usize> {
    selected_by(&FieldSet::kmc_ident().compile(rsql).unwrap(), &idents())
}

#[test]
fn identities_with_joined_documents() {
    assert_eq!(selected_idents("credibility>=50"), [0]);
    assert_eq!(selected_idents("karma>100"), [0, 2]);
    assert_eq!(selected_idents("displayName==alice#1234"), [0]);
    assert_eq!(selected_idents("displayName!=alice"), [1, 2]);
    assert_eq!(selected_idents("displayName=like=^[ac]"), [0, 2]);
    assert_eq!(selected_idents("trusted==true"), [0]);
    assert_eq!(selected_idents("trusted!=true"), [1, 2]);
    assert_eq!(selected_idents("createdAt>2026-01-15"), [1, 2]);
}

#[test]
fn a_used_join_without_counterpart_drops_the_document_in_every_branch() {
    assert_eq!(selected_idents("karma>100"), [0, 2]);
    // The credibility join is needed somewhere, so carol drops out even
    // though the branch she would match does not look at credibility.
    assert_eq!(selected_idents("karma>100,credibility>99"), [0]);
    let null_join = [json!({"identity": "d4", "credibility": null, "karma": {"amount": 1}})];
    let filter = FieldSet::kmc_ident().compile("credibility!=1").unwrap();
    assert_eq!(selected_by(&filter, &null_join), Vec::<usize>::new());
}

#[test]
fn evaluator_agrees_with_the_mongo_semantics_of_in_and_nin_on_lists_of_one() {
    assert_eq!(selected("score=in=5"), selected("score==5"));
    assert_eq!(selected("score=out=5"), selected("score!=5"));
}

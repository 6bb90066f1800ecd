//! The event contract of spec 21: event names, version and the exact JSON
//! payload of every event type.

use std::collections::BTreeSet;

use cqrs_es::DomainEvent;
use serde_json::{json, Value};

use super::*;

const T0: &str = "2025-06-01T12:00:00Z";

fn position_json() -> Value {
    json!({"longitude": 8.40395, "latitude": 49.0092})
}

/// Every event type once, with its name and its pinned JSON.
fn contract() -> Vec<(CvmEvent, &'static str, Value)> {
    vec![
        (
            registered(),
            "cvm-registered",
            json!({"cvmId": CVM_ID, "position": position_json(), "creatorIdentity": CREATOR}),
        ),
        (
            imported(Some(-3)),
            "cvm-imported",
            json!({"cvmId": CVM_ID, "position": position_json(), "initialScore": -3}),
        ),
        (
            upvoted(ALICE, t0()),
            "cvm-upvoted",
            json!({"cvmId": CVM_ID, "voterIdentity": ALICE, "impact": 1, "votedAt": T0}),
        ),
        (
            downvoted(ALICE, t0()),
            "cvm-downvoted",
            json!({"cvmId": CVM_ID, "voterIdentity": ALICE, "impact": 1, "votedAt": T0}),
        ),
        (
            repositioned(ALICE, machine(), Position::new(8.4, 49.0), t0()),
            "cvm-repositioned",
            json!({
                "cvmId": CVM_ID,
                "editorIdentity": ALICE,
                "formerPosition": position_json(),
                "repositionedPosition": {"longitude": 8.4, "latitude": 49.0},
                "repositionedAt": T0,
            }),
        ),
        (
            reported(ALICE, ReportType::Inaccessible, t0()),
            "cvm-reported",
            json!({"cvmId": CVM_ID, "reporterIdentity": ALICE, "type": "inaccessible", "timestamp": T0}),
        ),
        (
            synchronized(Some(8.4), None, Some(2)),
            "cvm-synchronized",
            json!({"cvmId": CVM_ID, "position": {"longitude": 8.4, "latitude": null}, "forcedScore": 2}),
        ),
        (
            removed(),
            "cvm-removed",
            json!({"cvmId": CVM_ID, "position": position_json()}),
        ),
        (
            restored(machine()),
            "cvm-restored",
            json!({"cvmId": CVM_ID, "position": position_json()}),
        ),
        (
            deletion_marked(t0()),
            "cvm-deletion-marked",
            json!({"cvmId": CVM_ID, "markedAt": T0}),
        ),
        (deletion_unmarked(), "cvm-deletion-unmarked", json!({"cvmId": CVM_ID})),
    ]
}

/// Exhaustive on purpose: a new variant does not compile until it gets an
/// index here, and then fails `every_event_type_is_pinned` until `contract()`
/// pins its JSON.
fn variant_index(event: &CvmEvent) -> usize {
    match event {
        CvmEvent::Registered(_) => 0,
        CvmEvent::Imported(_) => 1,
        CvmEvent::Upvoted(_) => 2,
        CvmEvent::Downvoted(_) => 3,
        CvmEvent::Repositioned(_) => 4,
        CvmEvent::Reported(_) => 5,
        CvmEvent::Synchronized(_) => 6,
        CvmEvent::Removed(_) => 7,
        CvmEvent::Restored(_) => 8,
        CvmEvent::DeletionMarked(_) => 9,
        CvmEvent::DeletionUnmarked(_) => 10,
    }
}

#[test]
fn every_event_type_is_pinned() {
    let pinned: BTreeSet<usize> = contract().iter().map(|(event, _, _)| variant_index(event)).collect();
    assert_eq!(pinned, (0..11).collect());
}

#[test]
fn event_types_are_the_original_names_at_version_1() {
    for (event, name, _) in contract() {
        assert_eq!(event.event_type(), name);
        assert_eq!(event.event_version(), "1");
    }
}

#[test]
fn payloads_serialize_with_the_original_field_names_tagged_by_event_name() {
    for (event, name, payload) in contract() {
        let actual = serde_json::to_value(&event).unwrap();
        assert_eq!(actual, json!({ name: payload }), "{name}");
    }
}

#[test]
fn payloads_deserialize_back_to_the_same_events() {
    for (event, name, payload) in contract() {
        let parsed: CvmEvent = serde_json::from_value(json!({ name: payload })).unwrap();
        assert_eq!(parsed, event, "{name}");
    }
}

#[test]
fn report_types_use_the_original_spelling() {
    let types = [
        ReportType::Missing,
        ReportType::Spam,
        ReportType::Inactive,
        ReportType::Inaccessible,
    ];
    let spelled: Vec<Value> = types.iter().map(|t| serde_json::to_value(t).unwrap()).collect();
    assert_eq!(
        spelled,
        vec![
            json!("missing"),
            json!("spam"),
            json!("inactive"),
            json!("inaccessible")
        ]
    );
}

#[test]
fn absent_optional_scores_are_written_as_null_like_the_original() {
    assert_eq!(
        serde_json::to_value(imported(None)).unwrap(),
        json!({"cvm-imported": {"cvmId": CVM_ID, "position": position_json(), "initialScore": null}})
    );
    assert_eq!(
        serde_json::to_value(synchronized(None, None, None)).unwrap(),
        json!({"cvm-synchronized": {
            "cvmId": CVM_ID,
            "position": {"longitude": null, "latitude": null},
            "forcedScore": null,
        }})
    );
}

#[test]
fn migrated_payloads_without_the_added_or_optional_fields_load() {
    let vote: CvmEvent = serde_json::from_value(json!({
        "cvm-upvoted": {"cvmId": CVM_ID, "voterIdentity": ALICE, "impact": 1}
    }))
    .unwrap();
    assert_eq!(vote, CvmEvent::Upvoted(voted(ALICE, None)));
    assert_eq!(
        serde_json::to_value(&vote).unwrap(),
        json!({"cvm-upvoted": {"cvmId": CVM_ID, "voterIdentity": ALICE, "impact": 1}})
    );

    let imported_without_score: CvmEvent =
        serde_json::from_value(json!({"cvm-imported": {"cvmId": CVM_ID, "position": position_json()}})).unwrap();
    assert_eq!(imported_without_score, imported(None));

    let synchronized_without_parts: CvmEvent =
        serde_json::from_value(json!({"cvm-synchronized": {"cvmId": CVM_ID, "position": {}}})).unwrap();
    assert_eq!(synchronized_without_parts, synchronized(None, None, None));

    let moved: CvmEvent = serde_json::from_value(json!({"cvm-repositioned": {
        "cvmId": CVM_ID,
        "editorIdentity": ALICE,
        "formerPosition": position_json(),
        "repositionedPosition": position_json(),
    }}))
    .unwrap();
    let CvmEvent::Repositioned(moved) = moved else {
        panic!("{moved:?}")
    };
    assert_eq!(moved.repositioned_at, None);
}

#[test]
fn the_aggregate_type_is_cvm() {
    assert_eq!(<Cvm as Aggregate>::TYPE, "cvm");
}

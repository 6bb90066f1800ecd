//! Property tests: any input gets an answer or an error, within bounds that
//! do not grow with the input (spec 8; the limits of `parser`).

use crate::rsql::{parse, parse_bounding_box, Argument, Expr, FieldSet, MAX_DEPTH, MAX_FILTER_BYTES, MAX_TERMS};
use proptest::prelude::*;
use serde_json::json;

/// Strings built from the filter language's own characters, so that most of
/// them get far into the parser, plus arbitrary text.
fn filter_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9=!<>;,()'\" .:_-]{0,300}",
        "(score|id|imported|createdAt|lastVotedAt|bbox|registeredBy)(==|!=|<|>|<=|>=|=in=|=out=|=like=|=ge=)[a-z0-9'(),.:-]{0,40}([;,](score|id)==[0-9a-z]{0,5}){0,40}",
        any::<String>(),
        (1usize..3000).prop_map(|n| format!("{}a==1{}", "(".repeat(n), ")".repeat(n))),
        (1usize..3000).prop_map(|n| vec!["a==1"; n].join(",")),
    ]
}

/// Comparisons plus list values, and the depth of the logic tree.
fn size(expr: &Expr) -> (usize, usize) {
    match expr {
        Expr::Comparison(c) => (
            match &c.argument {
                Argument::Single(_) => 1,
                Argument::List(items) => items.len(),
            },
            0,
        ),
        Expr::And(l, r) | Expr::Or(l, r) => {
            let ((lt, ld), (rt, rd)) = (size(l), size(r));
            (lt + rt, 1 + ld.max(rd))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsed_filters_stay_within_the_limits(input in filter_text()) {
        if let Ok(expr) = parse(&input) {
            prop_assert!(input.len() <= MAX_FILTER_BYTES);
            let (terms, depth) = size(&expr);
            prop_assert!(terms <= MAX_TERMS, "{terms} terms");
            prop_assert!(depth <= MAX_DEPTH, "depth {depth}");
        }
    }

    #[test]
    fn compiled_filters_evaluate_without_failing(input in filter_text()) {
        let doc = json!({
            "aggregateId": "3f0e5a4c-1b2d-4c3e-8f4a-5b6c7d8e9f01", "score": 3, "imported": true,
            "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-02T00:00:00.000Z",
            "position": {"type": "Point", "coordinates": [8.4, 49.0]}, "registeredBy": null,
        });
        for set in [FieldSet::public_cvm(), FieldSet::kmc_cvm(), FieldSet::kmc_ident()] {
            if let Ok(filter) = set.compile(&input) {
                let _ = filter.matches(&doc);
                let _ = filter.to_mongo();
            }
        }
    }

    #[test]
    fn bounding_boxes_are_in_range_or_refused(
        input in prop_oneof!["[0-9.,+ eE-]{0,60}", any::<String>()],
    ) {
        if let Some(b) = parse_bounding_box(&input) {
            prop_assert!((-180.0..=180.0).contains(&b.min_lng) && (-180.0..=180.0).contains(&b.max_lng));
            prop_assert!((-90.0..=90.0).contains(&b.min_lat) && (-90.0..=90.0).contains(&b.max_lat));
            prop_assert!(b.min_lng < b.max_lng && b.min_lat < b.max_lat);
        }
    }
}

//! The original's tests of the filter transformers, case by case
//! (`test/presentation/{common,cvm,ident,kmc}/filter.spec.ts`, spec 17.14 and
//! 17.17–17.19). `InvalidFilterQueryError` is `FilterError::Invalid`,
//! `UnsupportedFilterFieldError` is `FilterError::Unsupported`; JavaScript
//! `Date` values appear as Extended JSON dates.

use super::{date, find, pipeline, unsupported};
use crate::rsql::{ComputedField, FieldSet, FilterError, InvalidFilter, Reference};
use serde_json::json;

mod generic_transformer {
    use super::*;

    fn karmas() -> Reference {
        Reference {
            from: "karmas",
            local_field: "karma",
            foreign_field: "_id",
            alias: "karma",
            computed: vec![],
        }
    }

    #[test]
    fn translates_each_comparison_operator_keeping_values_as_strings() {
        let transformer = FieldSet::generic(vec![]);
        let cases = [
            ("score==5", json!({"score": "5"})),
            ("score!=5", json!({"score": {"$ne": "5"}})),
            ("score<=5", json!({"score": {"$lte": "5"}})),
            ("score>=5", json!({"score": {"$gte": "5"}})),
            ("score<5", json!({"score": {"$lt": "5"}})),
            ("score>5", json!({"score": {"$gt": "5"}})),
            ("score=in=(1,2)", json!({"score": {"$in": ["1", "2"]}})),
            ("score=out=(1,2)", json!({"score": {"$nin": ["1", "2"]}})),
            ("score=like=foo", json!({"score": {"$regex": "foo"}})),
        ];
        for (rsql, expected) in cases {
            assert_eq!(find(&transformer.compile(rsql).unwrap()), expected, "{rsql}");
        }
    }

    #[test]
    fn translates_a_conjunction() {
        let filter = FieldSet::generic(vec![]).compile("score==5;imported==true").unwrap();
        assert_eq!(find(&filter), json!({"$and": [{"score": "5"}, {"imported": "true"}]}));
    }

    #[test]
    fn translates_a_disjunction() {
        let filter = FieldSet::generic(vec![]).compile("score==5,score==6").unwrap();
        assert_eq!(find(&filter), json!({"$or": [{"score": "5"}, {"score": "6"}]}));
    }

    #[test]
    fn treats_the_verbose_and_like_a_semicolon() {
        let transformer = FieldSet::generic(vec![]);
        assert_eq!(
            transformer.compile("score==5 and imported==true"),
            transformer.compile("score==5;imported==true")
        );
        assert!(transformer.compile("score==5 and imported==true").is_ok());
    }

    #[test]
    fn nests_logic_nodes() {
        let filter = FieldSet::generic(vec![])
            .compile("(score==5,score==6);imported==true")
            .unwrap();
        assert_eq!(
            find(&filter),
            json!({"$and": [{"$or": [{"score": "5"}, {"score": "6"}]}, {"imported": "true"}]})
        );
    }

    #[test]
    fn rejects_unparsable_rsql() {
        let transformer = FieldSet::generic(vec![]);
        for rsql in ["score==", "==", "score", "((score==5)"] {
            let error = transformer.compile(rsql).unwrap_err();
            assert!(matches!(error, FilterError::Invalid(_)), "{rsql}: {error:?}");
            assert_eq!(error.code(), "INVALID_FILTER_QUERY_ERROR");
        }
    }

    #[test]
    fn stays_a_plain_filter_while_no_reference_is_touched() {
        let transformer = FieldSet::generic(vec![Reference {
            from: "votes",
            local_field: "_id",
            foreign_field: "cvm",
            alias: "_id",
            computed: vec![],
        }]);
        let filter = transformer.compile("score==5").unwrap();
        assert!(!filter.uses_references());
        assert_eq!(find(&filter), json!({"score": "5"}));
    }

    #[test]
    fn builds_a_lookup_pipeline_once_a_reference_is_used() {
        let filter = FieldSet::generic(vec![karmas()]).compile("karma.amount>=10").unwrap();
        assert_eq!(
            pipeline(&filter),
            [
                json!({"$lookup": {"from": "karmas", "localField": "karma", "foreignField": "_id", "as": "karma"}}),
                json!({"$unwind": {"path": "$karma", "preserveNullAndEmptyArrays": false}}),
                json!({"$match": {"karma.amount": {"$gte": "10"}}}),
            ]
        );
    }

    #[test]
    fn projects_computed_fields_away_instead_of_unwinding() {
        let transformer = FieldSet::generic(vec![Reference {
            from: "votes",
            local_field: "_id",
            foreign_field: "cvm",
            alias: "_votes",
            computed: vec![ComputedField {
                name: "lastVotedAt",
                expression: json!({"$max": "$_votes.createdAt"}),
            }],
        }]);
        let filter = transformer.compile("lastVotedAt>=2026-01-01").unwrap();
        assert_eq!(
            pipeline(&filter),
            [
                json!({"$lookup": {"from": "votes", "localField": "_id", "foreignField": "cvm", "as": "_votes"}}),
                json!({"$addFields": {"lastVotedAt": {"$max": "$_votes.createdAt"}}}),
                json!({"$project": {"_votes": 0}}),
                json!({"$match": {"lastVotedAt": {"$gte": "2026-01-01"}}}),
            ]
        );
    }

    #[test]
    fn resets_reference_state_between_calls() {
        let transformer = FieldSet::generic(vec![karmas()]);
        assert!(transformer.compile("karma.amount>=10").unwrap().uses_references());
        let second = transformer.compile("score==5").unwrap();
        assert!(!second.uses_references());
        assert_eq!(find(&second), json!({"score": "5"}));
    }
}

mod public_cvm_transformer {
    use super::*;

    #[test]
    fn accepts_the_allowed_fields() {
        for rsql in [
            "id==abc",
            "id=like=abc",
            "score>=5",
            "imported==true",
            "createdAt>=2026-01-01",
            "updatedAt<=2026-01-01",
            "bbox=='8.0,48.0,9.0,49.0'",
        ] {
            assert!(FieldSet::public_cvm().compile(rsql).is_ok(), "{rsql}");
        }
    }

    #[test]
    fn rejects_fields_and_operators_outside_the_allow_list() {
        let cases = [
            ("unknownField==1", unsupported("unknownField", "==")),
            ("score=like=5", unsupported("score", "=like=")),
            ("imported>=true", unsupported("imported", ">=")),
            ("bbox!='8.0,48.0,9.0,49.0'", unsupported("bbox", "!=")),
        ];
        for (rsql, expected) in cases {
            assert_eq!(FieldSet::public_cvm().compile(rsql), Err(expected), "{rsql}");
        }
    }

    #[test]
    fn renames_id_to_the_aggregate_identifier() {
        let filter = FieldSet::public_cvm().compile("id==8eadee97").unwrap();
        assert_eq!(find(&filter), json!({"aggregateId": "8eadee97"}));
    }

    #[test]
    fn translates_a_bbox_into_a_geo_query() {
        let filter = FieldSet::public_cvm().compile("bbox=='8.0,48.0,9.0,49.0'").unwrap();
        assert_eq!(
            find(&filter),
            json!({"position": {"$geoWithin": {"$box": [[8, 48], [9, 49]]}}})
        );
    }

    #[test]
    fn relays_a_rejected_bbox_as_an_invalid_filter() {
        for value in ["8.0,48.0,9.0", "8.0,48.0,181.0,49.0", "9.0,49.0,8.0,48.0"] {
            assert_eq!(
                FieldSet::public_cvm().compile(&format!("bbox=='{value}'")),
                Err(FilterError::Invalid(InvalidFilter::NotABoundingBox {
                    value: value.into()
                })),
                "{value}"
            );
        }
    }

    #[test]
    fn last_voted_at_needs_the_votes_lookup() {
        let filter = FieldSet::public_cvm().compile("lastVotedAt>=2026-01-01").unwrap();
        assert_eq!(
            pipeline(&filter),
            [
                json!({"$lookup": {"from": "votes", "localField": "_id", "foreignField": "cvm", "as": "_votes"}}),
                json!({"$addFields": {"lastVotedAt": {"$max": "$_votes.createdAt"}}}),
                json!({"$project": {"_votes": 0}}),
                json!({"$match": {"lastVotedAt": {"$gte": date("2026-01-01T00:00:00Z")}}}),
            ]
        );
    }

    #[test]
    fn last_voted_at_combined_with_score_is_still_an_aggregation() {
        let filter = FieldSet::public_cvm()
            .compile("score>=5;lastVotedAt>=2026-01-01")
            .unwrap();
        let stages = pipeline(&filter);
        assert_eq!(stages.len(), 4);
        assert_eq!(
            stages[3],
            json!({"$match": {"$and": [
                {"score": {"$gte": 5}},
                {"lastVotedAt": {"$gte": date("2026-01-01T00:00:00Z")}},
            ]}})
        );
    }
}

mod public_ident_transformer {
    use super::*;

    #[test]
    fn accepts_the_allowed_fields() {
        for rsql in [
            "identity==abc",
            "identity=like=abc",
            "displayName==alice",
            "credibility>=50",
            "karma>=10",
            "createdAt>=2026-01-01",
        ] {
            assert!(FieldSet::public_ident().compile(rsql).is_ok(), "{rsql}");
        }
    }

    #[test]
    fn rejects_fields_and_operators_outside_the_allow_list() {
        let cases = [
            ("secret==abc", unsupported("secret", "==")),
            ("credibility=like=50", unsupported("credibility", "=like=")),
            ("karma=like=10", unsupported("karma", "=like=")),
            ("createdAt=like=2026", unsupported("createdAt", "=like=")),
        ];
        for (rsql, expected) in cases {
            assert_eq!(FieldSet::public_ident().compile(rsql), Err(expected), "{rsql}");
        }
    }

    #[test]
    fn maps_credibility_onto_the_joined_rating_as_a_number() {
        let stages = pipeline(&FieldSet::public_ident().compile("credibility>=50").unwrap());
        assert!(
            stages.contains(&json!({"$match": {"credibility.rating": {"$gte": 50}}})),
            "{stages:?}"
        );
        assert_eq!(
            stages,
            [
                json!({"$lookup": {"from": "credibilities", "localField": "credibility", "foreignField": "_id", "as": "credibility"}}),
                json!({"$unwind": {"path": "$credibility", "preserveNullAndEmptyArrays": false}}),
                json!({"$match": {"credibility.rating": {"$gte": 50}}}),
            ]
        );
    }

    #[test]
    fn maps_karma_onto_the_joined_amount_as_a_number() {
        let stages = pipeline(&FieldSet::public_ident().compile("karma>=10").unwrap());
        assert!(
            stages.contains(&json!({"$match": {"karma.amount": {"$gte": 10}}})),
            "{stages:?}"
        );
    }

    #[test]
    fn strips_the_discriminator_suffix_from_a_display_name() {
        let filter = FieldSet::public_ident().compile("displayName==alice#1234").unwrap();
        assert_eq!(find(&filter), json!({"username": "alice"}));
    }

    #[test]
    fn leaves_a_display_name_without_a_suffix_untouched() {
        let filter = FieldSet::public_ident().compile("displayName==alice").unwrap();
        assert_eq!(find(&filter), json!({"username": "alice"}));
    }

    #[test]
    fn only_strips_a_four_digit_suffix_at_the_very_end() {
        let filter = FieldSet::public_ident().compile("displayName==alice#12345").unwrap();
        assert_eq!(find(&filter), json!({"username": "alice#12345"}));
    }

    #[test]
    fn turns_created_at_into_a_date() {
        let filter = FieldSet::public_ident().compile("createdAt>=2026-01-01").unwrap();
        assert_eq!(
            find(&filter),
            json!({"createdAt": {"$gte": date("2026-01-01T00:00:00Z")}})
        );
    }

    #[test]
    fn looks_up_both_references_when_credibility_and_karma_are_combined() {
        let stages = pipeline(&FieldSet::public_ident().compile("credibility>=50;karma>=10").unwrap());
        let lookups = stages.iter().filter(|stage| stage.get("$lookup").is_some()).count();
        assert_eq!(lookups, 2);
    }
}

mod kmc_transformers {
    use super::*;

    #[test]
    fn registered_by_is_kmc_only() {
        assert_eq!(
            FieldSet::public_cvm().compile("registeredBy==abc"),
            Err(unsupported("registeredBy", "=="))
        );
        let filter = FieldSet::kmc_cvm().compile("registeredBy==abc").unwrap();
        assert_eq!(find(&filter), json!({"registeredBy": "abc"}));
    }

    #[test]
    fn registered_by_takes_no_other_operator() {
        assert_eq!(
            FieldSet::kmc_cvm().compile("registeredBy!=abc"),
            Err(unsupported("registeredBy", "!="))
        );
    }

    #[test]
    fn kmc_cvm_inherits_the_public_allow_list() {
        let kmc = FieldSet::kmc_cvm();
        assert_eq!(find(&kmc.compile("id==abc").unwrap()), json!({"aggregateId": "abc"}));
        assert_eq!(kmc.compile("unknownField==1"), Err(unsupported("unknownField", "==")));
    }

    #[test]
    fn trusted_is_kmc_only() {
        assert_eq!(
            FieldSet::public_ident().compile("trusted==true"),
            Err(unsupported("trusted", "=="))
        );
        assert!(FieldSet::kmc_ident().compile("trusted==true").is_ok());
    }

    #[test]
    fn trusted_is_coerced_to_a_boolean() {
        let kmc = FieldSet::kmc_ident();
        assert_eq!(find(&kmc.compile("trusted==true").unwrap()), json!({"trusted": true}));
        assert_eq!(find(&kmc.compile("trusted==false").unwrap()), json!({"trusted": false}));
    }

    #[test]
    fn any_value_but_true_is_false() {
        let filter = FieldSet::kmc_ident().compile("trusted==yes").unwrap();
        assert_eq!(find(&filter), json!({"trusted": false}));
    }

    #[test]
    fn trusted_can_be_negated() {
        let filter = FieldSet::kmc_ident().compile("trusted!=true").unwrap();
        assert_eq!(find(&filter), json!({"trusted": {"$ne": true}}));
    }

    #[test]
    fn kmc_ident_inherits_the_public_allow_list() {
        let kmc = FieldSet::kmc_ident();
        assert_eq!(
            find(&kmc.compile("displayName==alice#1234").unwrap()),
            json!({"username": "alice"})
        );
        assert_eq!(kmc.compile("secret==abc"), Err(unsupported("secret", "==")));
    }
}

//! Every field of every set against every operator spelling, the value
//! coercions with their edge cases, and which error wins.

use super::{find, invalid, unsupported};
use crate::rsql::{FieldSet, FilterError, InvalidFilter, PatternError};
use serde_json::json;

/// Canonical spellings, then verbose and custom ones the parser also accepts.
const SPELLINGS: [&str; 14] = [
    "==", "!=", "<", "<=", ">", ">=", "=in=", "=out=", "=like=", "=lt=", "=le=", "=gt=", "=ge=", "=near=",
];
const STRING_MATCHING: &[&str] = &["==", "!=", "=in=", "=out=", "=like="];
const ORDERING: &[&str] = &["==", "!=", "<", "<=", ">", ">="];
const NUMERIC: &[&str] = &["==", "!=", "<", "<=", ">", ">=", "=in=", "=out="];

/// The allow-lists as the spec's tables state them (8.3–8.5), with a value
/// each field can take, and whether the field accepts *every* spelling but
/// `=like=` (so verbose/custom operators pass the allow-list and fail later).
struct Expected {
    field: &'static str,
    operators: &'static [&'static str],
    sample: &'static str,
    accepts_unknown_spellings: bool,
}

const fn field(field: &'static str, operators: &'static [&'static str], sample: &'static str) -> Expected {
    Expected {
        field,
        operators,
        sample,
        accepts_unknown_spellings: false,
    }
}

const fn numeric(field: &'static str) -> Expected {
    Expected {
        field,
        operators: NUMERIC,
        sample: "5",
        accepts_unknown_spellings: true,
    }
}

fn public_cvm() -> Vec<Expected> {
    vec![
        field("id", STRING_MATCHING, "abc"),
        numeric("score"),
        field("imported", &["==", "!="], "true"),
        field("createdAt", ORDERING, "2026-01-01"),
        field("updatedAt", ORDERING, "2026-01-01"),
        field("lastVotedAt", ORDERING, "2026-01-01"),
        field("bbox", &["=="], "'8,48,9,49'"),
    ]
}

fn public_ident() -> Vec<Expected> {
    vec![
        field("identity", STRING_MATCHING, "abc"),
        field("displayName", STRING_MATCHING, "alice"),
        numeric("credibility"),
        numeric("karma"),
        field("createdAt", ORDERING, "2026-01-01"),
    ]
}

fn check_allow_list(set: &FieldSet, expectations: &[Expected]) {
    for expected in expectations {
        for spelling in SPELLINGS {
            let argument = if spelling == "=in=" || spelling == "=out=" {
                format!("({})", expected.sample)
            } else {
                expected.sample.to_owned()
            };
            let rsql = format!("{}{spelling}{argument}", expected.field);
            let outcome = set.compile(&rsql);
            if expected.operators.contains(&spelling) {
                assert!(outcome.is_ok(), "{rsql} should be accepted: {outcome:?}");
            } else if expected.accepts_unknown_spellings && spelling != "=like=" {
                let untranslatable = invalid(InvalidFilter::UntranslatableOperator {
                    operator: spelling.into(),
                });
                assert_eq!(outcome, Err(untranslatable), "{rsql}");
            } else {
                assert_eq!(outcome, Err(unsupported(expected.field, spelling)), "{rsql}");
            }
        }
    }
}

#[test]
fn public_cvm_allow_list() {
    check_allow_list(FieldSet::public_cvm(), &public_cvm());
}

#[test]
fn kmc_cvm_allow_list() {
    let mut expected = public_cvm();
    expected.push(field("registeredBy", &["=="], "abc"));
    check_allow_list(FieldSet::kmc_cvm(), &expected);
}

#[test]
fn public_ident_allow_list() {
    check_allow_list(FieldSet::public_ident(), &public_ident());
}

#[test]
fn kmc_ident_allow_list() {
    let mut expected = public_ident();
    expected.push(field("trusted", &["==", "!="], "true"));
    check_allow_list(FieldSet::kmc_ident(), &expected);
}

#[test]
fn unknown_and_wrongly_cased_fields_are_unsupported_everywhere() {
    for set in [
        FieldSet::public_cvm(),
        FieldSet::kmc_cvm(),
        FieldSet::public_ident(),
        FieldSet::kmc_ident(),
    ] {
        for selector in [
            "unknown",
            "Score",
            "aggregateId",
            "position",
            "username",
            "credibility.rating",
            "_id",
        ] {
            assert_eq!(set.compile(&format!("{selector}==1")), Err(unsupported(selector, "==")));
        }
    }
}

#[test]
fn unsupported_details_name_the_field_and_the_spelling() {
    let error = FieldSet::public_cvm().compile("score=like=5").unwrap_err();
    assert_eq!(error.code(), "UNSUPPORTED_FILTER_FIELD_ERROR");
    assert_eq!(error.message(), "Unsupported filter field");
    assert_eq!(
        error.details(),
        Some(vec![json!({"field": "score", "operator": "=like="})])
    );
    let verbose = FieldSet::public_cvm().compile("createdAt=gt=2026").unwrap_err();
    assert_eq!(
        verbose.details(),
        Some(vec![json!({"field": "createdAt", "operator": "=gt="})])
    );
}

#[test]
fn the_first_offending_comparison_decides() {
    let set = FieldSet::public_cvm();
    assert_eq!(set.compile("score=like=5;foo==1"), Err(unsupported("score", "=like=")));
    assert_eq!(set.compile("foo==1;score=like=5"), Err(unsupported("foo", "==")));
    let not_a_number = invalid(InvalidFilter::NotANumber {
        field: "score".into(),
        value: "abc".into(),
    });
    assert_eq!(set.compile("score>abc;foo==1"), Err(not_a_number.clone()));
    assert_eq!(set.compile("(foo==1,id==x);score>abc"), Err(unsupported("foo", "==")));
    assert_eq!(set.compile("id==x,(score>abc;foo==1)"), Err(not_a_number));
}

#[test]
fn syntax_errors_win_over_field_errors() {
    let error = FieldSet::public_cvm().compile("foo==1;").unwrap_err();
    assert!(
        matches!(error, FilterError::Invalid(InvalidFilter::UnexpectedToken { .. })),
        "{error:?}"
    );
}

mod numbers {
    use super::*;

    fn score(rsql: &str) -> serde_json::Value {
        find(&FieldSet::public_cvm().compile(rsql).unwrap())
    }

    #[test]
    fn follow_javascript_number() {
        assert_eq!(score("score==5"), json!({"score": 5}));
        assert_eq!(score("score>=-2.5"), json!({"score": {"$gte": -2.5}}));
        assert_eq!(score("score==''"), json!({"score": 0}), "Number('') is 0");
        assert_eq!(score("score<' 7 '"), json!({"score": {"$lt": 7}}));
        assert_eq!(score("score==0x10"), json!({"score": 16}));
        assert_eq!(score("score<=1e1"), json!({"score": {"$lte": 10}}));
        assert_eq!(score("score==-0"), json!({"score": 0}));
    }

    #[test]
    fn coerce_every_list_element() {
        assert_eq!(score("score=in=(1,2.5,'')"), json!({"score": {"$in": [1, 2.5, 0]}}));
        assert_eq!(score("score=out=(-1,' 3')"), json!({"score": {"$nin": [-1, 3]}}));
        assert_eq!(
            score("score=in=3"),
            json!({"score": {"$in": [3]}}),
            "a single value is a list of one"
        );
        let karma = FieldSet::kmc_ident().compile("karma=in=(10,20)").unwrap();
        assert_eq!(
            super::super::pipeline(&karma)[2],
            json!({"$match": {"karma.amount": {"$in": [10, 20]}}})
        );
    }

    #[test]
    fn refuse_nan_and_infinity() {
        for (rsql, value) in [
            ("score>abc", "abc"),
            ("score==5x", "5x"),
            ("score<Infinity", "Infinity"),
            ("score>-Infinity", "-Infinity"),
            ("score=in=(1,x)", "x"),
            ("score=out=(NaN)", "NaN"),
            ("score==1e999", "1e999"),
        ] {
            let expected = invalid(InvalidFilter::NotANumber {
                field: "score".into(),
                value: value.into(),
            });
            assert_eq!(FieldSet::public_cvm().compile(rsql), Err(expected), "{rsql}");
        }
        let credibility = FieldSet::public_ident().compile("credibility>=high");
        let expected = invalid(InvalidFilter::NotANumber {
            field: "credibility".into(),
            value: "high".into(),
        });
        assert_eq!(credibility, Err(expected));
    }

    #[test]
    fn lists_need_in_or_out_and_verbose_operators_cannot_be_translated() {
        let list = invalid(InvalidFilter::UnexpectedArgument {
            field: "score".into(),
            operator: "==".into(),
        });
        assert_eq!(FieldSet::public_cvm().compile("score==(1,2)"), Err(list));
        let verbose = invalid(InvalidFilter::UntranslatableOperator {
            operator: "=lt=".into(),
        });
        assert_eq!(FieldSet::public_cvm().compile("score=lt=5"), Err(verbose));
        let custom = invalid(InvalidFilter::UntranslatableOperator {
            operator: "=between=".into(),
        });
        assert_eq!(FieldSet::public_cvm().compile("score=between=(1,2)"), Err(custom));
    }
}

mod booleans {
    use super::*;

    #[test]
    fn only_the_exact_word_true_is_true() {
        let cases = [
            ("imported==true", json!({"imported": true})),
            ("imported==false", json!({"imported": false})),
            ("imported==TRUE", json!({"imported": false})),
            ("imported=='true '", json!({"imported": false})),
            ("imported==1", json!({"imported": false})),
            ("imported!=yes", json!({"imported": {"$ne": false}})),
        ];
        for (rsql, expected) in cases {
            assert_eq!(find(&FieldSet::public_cvm().compile(rsql).unwrap()), expected, "{rsql}");
        }
    }

    #[test]
    fn a_list_is_refused() {
        let expected = invalid(InvalidFilter::UnexpectedArgument {
            field: "trusted".into(),
            operator: "==".into(),
        });
        assert_eq!(FieldSet::kmc_ident().compile("trusted==(true)"), Err(expected));
    }
}

mod dates {
    use super::super::date;
    use super::*;

    #[test]
    fn parse_like_new_date() {
        let cases = [
            (
                "createdAt>=2026-01-01",
                json!({"createdAt": {"$gte": date("2026-01-01T00:00:00Z")}}),
            ),
            (
                "createdAt<2026-01-01T10:00:00+02:00",
                json!({"createdAt": {"$lt": date("2026-01-01T08:00:00Z")}}),
            ),
            (
                "updatedAt=='2026-03-04T05:06:07.089Z'",
                json!({"updatedAt": date("2026-03-04T05:06:07.089Z")}),
            ),
            (
                "createdAt!='Thu, 01 Jan 2026 00:00:00 GMT'",
                json!({"createdAt": {"$ne": date("2026-01-01T00:00:00Z")}}),
            ),
        ];
        for (rsql, expected) in cases {
            assert_eq!(find(&FieldSet::public_cvm().compile(rsql).unwrap()), expected, "{rsql}");
        }
    }

    #[test]
    fn refuse_invalid_dates() {
        for (rsql, field, value) in [
            ("createdAt<garbage", "createdAt", "garbage"),
            ("updatedAt==2026-02-30", "updatedAt", "2026-02-30"),
            ("lastVotedAt>=''", "lastVotedAt", ""),
        ] {
            let expected = invalid(InvalidFilter::NotADate {
                field: field.into(),
                value: value.into(),
            });
            assert_eq!(FieldSet::public_cvm().compile(rsql), Err(expected), "{rsql}");
        }
    }
}

mod texts {
    use super::*;

    #[test]
    fn display_names_lose_their_suffix_per_element() {
        let filter = FieldSet::public_ident()
            .compile("displayName=in=(alice#1234,bob,'carol#12345')")
            .unwrap();
        assert_eq!(
            find(&filter),
            json!({"username": {"$in": ["alice", "bob", "carol#12345"]}})
        );
        let negated = FieldSet::public_ident().compile("displayName!=alice#1234").unwrap();
        assert_eq!(find(&negated), json!({"username": {"$ne": "alice"}}));
        let pattern = FieldSet::public_ident().compile("displayName=like=^ali#1234").unwrap();
        assert_eq!(find(&pattern), json!({"username": {"$regex": "^ali"}}));
    }

    #[test]
    fn ids_keep_quoted_characters() {
        let filter = FieldSet::public_cvm().compile("id=out=('a,b','c;d',\"e'f\")").unwrap();
        assert_eq!(find(&filter), json!({"aggregateId": {"$nin": ["a,b", "c;d", "e'f"]}}));
    }

    #[test]
    fn unsafe_like_patterns_are_invalid() {
        let cases = [
            (
                "id=like='(a+)+$'",
                "(a+)+$",
                PatternError::Unsupported { at: 0, what: "a group" },
            ),
            (
                "identity=like='a{1,30}'",
                "a{1,30}",
                PatternError::Unsupported {
                    at: 1,
                    what: "counted repetition (escape braces as \\{ \\})",
                },
            ),
            ("displayName=like=a*b*c*", "a*b*c*", PatternError::TooManyQuantifiers),
        ];
        for (rsql, pattern, reason) in cases {
            let set = if rsql.starts_with("id=") {
                FieldSet::public_cvm()
            } else {
                FieldSet::kmc_ident()
            };
            let expected = invalid(InvalidFilter::UnsafePattern {
                pattern: pattern.into(),
                reason,
            });
            assert_eq!(set.compile(rsql), Err(expected), "{rsql}");
        }
    }

    #[test]
    fn like_takes_no_list() {
        let expected = invalid(InvalidFilter::UnexpectedArgument {
            field: "id".into(),
            operator: "=like=".into(),
        });
        assert_eq!(FieldSet::public_cvm().compile("id=like=(a,b)"), Err(expected));
    }
}

mod bounding_boxes {
    use super::*;

    #[test]
    fn must_be_one_quoted_string() {
        let set = FieldSet::public_cvm();
        assert!(set.compile("bbox==\"8,48,9,49\"").is_ok());
        // Unquoted, the commas are OR operators and `48` a selector without operator.
        assert!(matches!(
            set.compile("bbox==8,48,9,49"),
            Err(FilterError::Invalid(InvalidFilter::UnexpectedToken { .. }))
        ));
        assert_eq!(
            set.compile("bbox==abc"),
            Err(invalid(InvalidFilter::NotABoundingBox { value: "abc".into() }))
        );
        let list = invalid(InvalidFilter::UnexpectedArgument {
            field: "bbox".into(),
            operator: "==".into(),
        });
        assert_eq!(set.compile("bbox==('8,48,9,49')"), Err(list));
    }
}

mod generic {
    use super::*;

    #[test]
    fn refuses_operator_like_selectors() {
        let set = FieldSet::generic(vec![]);
        assert_eq!(set.compile("$where==sleep"), Err(unsupported("$where", "==")));
        assert_eq!(set.compile("a.$gt==1"), Err(unsupported("a.$gt", "==")));
        assert_eq!(find(&set.compile("a.b$==1").unwrap()), json!({"a.b$": "1"}));
    }
}

mod parameter {
    use super::*;

    #[test]
    fn absent_or_empty_means_no_filter() {
        let set = FieldSet::public_cvm();
        assert_eq!(set.compile_param(None), Ok(None));
        assert_eq!(set.compile_param(Some("")), Ok(None));
        assert_eq!(set.compile_param(Some(" ")), Err(invalid(InvalidFilter::Empty)));
        let filter = set.compile_param(Some("score==5")).unwrap().unwrap();
        assert_eq!(find(&filter), json!({"score": 5}));
    }
}

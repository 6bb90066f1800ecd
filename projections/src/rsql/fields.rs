//! The field allow-lists of the four filter endpoints (spec 8.3–8.5) as data.
//!
//! A [`FieldSet`] says, per selector a client may write, which operator
//! spellings are accepted, where the value is looked up in the document
//! (renames such as `id` → `aggregateId`) and how the string value is coerced.
//! References describe the joins a selector needs (spec 8.2): the MongoDB
//! builder turns them into `$lookup` stages, the evaluator expects the
//! service to have joined them into the document already.

use super::ast::Operator;
use serde_json::{json, Value};
use std::sync::LazyLock;

/// The operator spellings a field accepts. This is the original's allow-list
/// and decides between the two 400 codes: a spelling the list refuses is an
/// `UNSUPPORTED_FILTER_FIELD_ERROR`; one it accepts but the translation does
/// not know (`=lt=` on `score`) is an `INVALID_FILTER_QUERY_ERROR`.
#[derive(Debug, Clone, PartialEq)]
pub enum Operators {
    Only(&'static [Operator]),
    /// Every spelling except `=like=`, including verbose and custom ones.
    AllExceptLike,
    /// Every spelling (the generic transformer without field rules).
    All,
}

impl Operators {
    pub fn accepts(&self, operator: &Operator) -> bool {
        match self {
            Self::Only(list) => list.contains(operator),
            Self::AllExceptLike => *operator != Operator::Like,
            Self::All => true,
        }
    }
}

/// How the string value(s) of a comparison become typed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coercion {
    /// Kept as the string the client sent.
    Text,
    /// `String(value)` minus a trailing `#` + exactly four digits, so
    /// `alice#1234` filters on the user name `alice`.
    DisplayName,
    /// JavaScript `Number(value)`; NaN and ±Infinity are refused (400).
    Number,
    /// `value === 'true'`: anything else is `false`, never an error.
    Boolean,
    /// JavaScript `new Date(value)`; an Invalid Date is refused (400).
    Date,
    /// A `minLng,minLat,maxLng,maxLat` string turned into a `$geoWithin $box`
    /// on the target (a GeoJSON point). Only with `==`.
    BoundingBox,
}

/// One selector a client may use.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRule {
    /// The selector as written in the filter.
    pub name: &'static str,
    /// The document path it filters on (dotted for joined documents).
    pub target: &'static str,
    pub operators: Operators,
    pub coercion: Coercion,
}

/// A field computed from a joined collection, e.g. `lastVotedAt`.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedField {
    pub name: &'static str,
    /// The `$addFields` expression that computes it after the `$lookup`.
    pub expression: Value,
}

/// A collection joined with `$lookup` when a filter needs it.
///
/// A path uses the reference when its first segment is `alias` and it has
/// more than one segment (`credibility.rating`), or when it is one of the
/// computed fields. Without computed fields the joined array is unwound
/// (documents without a match drop out); with them the fields are computed
/// and the joined array is projected away.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub from: &'static str,
    pub local_field: &'static str,
    pub foreign_field: &'static str,
    /// `as` of the `$lookup`.
    pub alias: &'static str,
    pub computed: Vec<ComputedField>,
}

impl Reference {
    /// Whether a filter on `path` needs this join.
    pub fn is_used_by(&self, path: &str) -> bool {
        let joined = path.split_once('.').is_some_and(|(root, _)| root == self.alias);
        joined || self.computed.iter().any(|field| field.name == path)
    }

    /// Whether documents without a joined counterpart drop out (`$unwind`
    /// without `preserveNullAndEmptyArrays`).
    pub fn unwinds(&self) -> bool {
        self.computed.is_empty()
    }
}

/// What happens to a selector no rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownFields {
    /// `UNSUPPORTED_FILTER_FIELD_ERROR` (every endpoint).
    Reject,
    /// Filter on the selector as is, any operator, string values — the
    /// original's base transformer. Selectors starting with `$` are still
    /// refused, so no client can smuggle in operators such as `$where`.
    PassThrough,
}

/// The filter vocabulary of one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSet {
    pub rules: Vec<FieldRule>,
    pub references: Vec<Reference>,
    pub unknown_fields: UnknownFields,
}

const STRING_MATCHING: &[Operator] = &[Operator::Eq, Operator::Ne, Operator::In, Operator::Out, Operator::Like];
const EQUALITY: &[Operator] = &[Operator::Eq, Operator::Ne];
const ORDERING: &[Operator] = &[
    Operator::Eq,
    Operator::Ne,
    Operator::Lt,
    Operator::Le,
    Operator::Gt,
    Operator::Ge,
];
const ONLY_EQUALS: &[Operator] = &[Operator::Eq];

const fn rule(name: &'static str, target: &'static str, operators: Operators, coercion: Coercion) -> FieldRule {
    FieldRule {
        name,
        target,
        operators,
        coercion,
    }
}

static PUBLIC_CVM: LazyLock<FieldSet> = LazyLock::new(|| FieldSet {
    rules: vec![
        rule("id", "aggregateId", Operators::Only(STRING_MATCHING), Coercion::Text),
        rule("score", "score", Operators::AllExceptLike, Coercion::Number),
        rule("imported", "imported", Operators::Only(EQUALITY), Coercion::Boolean),
        rule("createdAt", "createdAt", Operators::Only(ORDERING), Coercion::Date),
        rule("updatedAt", "updatedAt", Operators::Only(ORDERING), Coercion::Date),
        rule("lastVotedAt", "lastVotedAt", Operators::Only(ORDERING), Coercion::Date),
        rule("bbox", "position", Operators::Only(ONLY_EQUALS), Coercion::BoundingBox),
    ],
    references: vec![Reference {
        from: "votes",
        local_field: "_id",
        foreign_field: "cvm",
        alias: "_votes",
        computed: vec![ComputedField {
            name: "lastVotedAt",
            expression: json!({ "$max": "$_votes.createdAt" }),
        }],
    }],
    unknown_fields: UnknownFields::Reject,
});

static KMC_CVM: LazyLock<FieldSet> = LazyLock::new(|| {
    PUBLIC_CVM.extended_with(rule(
        "registeredBy",
        "registeredBy",
        Operators::Only(ONLY_EQUALS),
        Coercion::Text,
    ))
});

static PUBLIC_IDENT: LazyLock<FieldSet> = LazyLock::new(|| FieldSet {
    rules: vec![
        rule("identity", "identity", Operators::Only(STRING_MATCHING), Coercion::Text),
        rule(
            "displayName",
            "username",
            Operators::Only(STRING_MATCHING),
            Coercion::DisplayName,
        ),
        rule(
            "credibility",
            "credibility.rating",
            Operators::AllExceptLike,
            Coercion::Number,
        ),
        rule("karma", "karma.amount", Operators::AllExceptLike, Coercion::Number),
        rule("createdAt", "createdAt", Operators::Only(ORDERING), Coercion::Date),
    ],
    references: vec![
        Reference {
            from: "credibilities",
            local_field: "credibility",
            foreign_field: "_id",
            alias: "credibility",
            computed: vec![],
        },
        Reference {
            from: "karmas",
            local_field: "karma",
            foreign_field: "_id",
            alias: "karma",
            computed: vec![],
        },
    ],
    unknown_fields: UnknownFields::Reject,
});

static KMC_IDENT: LazyLock<FieldSet> = LazyLock::new(|| {
    PUBLIC_IDENT.extended_with(rule("trusted", "trusted", Operators::Only(EQUALITY), Coercion::Boolean))
});

impl FieldSet {
    /// `GET /cvms` and `GET /cvms/within` (spec 8.3).
    pub fn public_cvm() -> &'static FieldSet {
        &PUBLIC_CVM
    }

    /// The KMC machine endpoints and the density statistic: the public set
    /// plus `registeredBy` with `==` (spec 8.4).
    pub fn kmc_cvm() -> &'static FieldSet {
        &KMC_CVM
    }

    /// The public ident transformer (spec 8.5); no endpoint uses it directly.
    pub fn public_ident() -> &'static FieldSet {
        &PUBLIC_IDENT
    }

    /// `GET /kmc/ident`: the public ident set plus `trusted` with `==`/`!=`.
    pub fn kmc_ident() -> &'static FieldSet {
        &KMC_IDENT
    }

    /// The original's base transformer without field rules (spec 8.2/17.14):
    /// any selector but `$…`, any operator, values stay strings.
    pub fn generic(references: Vec<Reference>) -> FieldSet {
        FieldSet {
            rules: vec![],
            references,
            unknown_fields: UnknownFields::PassThrough,
        }
    }

    pub fn rule(&self, selector: &str) -> Option<&FieldRule> {
        self.rules.iter().find(|rule| rule.name == selector)
    }

    fn extended_with(&self, extra: FieldRule) -> FieldSet {
        let mut extended = self.clone();
        extended.rules.push(extra);
        extended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(set: &FieldSet) -> Vec<&'static str> {
        set.rules.iter().map(|r| r.name).collect()
    }

    #[test]
    fn the_four_sets_name_the_fields_of_the_spec() {
        assert_eq!(
            names(FieldSet::public_cvm()),
            [
                "id",
                "score",
                "imported",
                "createdAt",
                "updatedAt",
                "lastVotedAt",
                "bbox"
            ]
        );
        assert_eq!(
            names(FieldSet::kmc_cvm()),
            [
                "id",
                "score",
                "imported",
                "createdAt",
                "updatedAt",
                "lastVotedAt",
                "bbox",
                "registeredBy"
            ]
        );
        assert_eq!(
            names(FieldSet::public_ident()),
            ["identity", "displayName", "credibility", "karma", "createdAt"]
        );
        assert_eq!(
            names(FieldSet::kmc_ident()),
            [
                "identity",
                "displayName",
                "credibility",
                "karma",
                "createdAt",
                "trusted"
            ]
        );
    }

    #[test]
    fn operator_lists() {
        let like = Operator::Like;
        let verbose = Operator::Other("=lt=".into());
        assert!(Operators::AllExceptLike.accepts(&verbose) && !Operators::AllExceptLike.accepts(&like));
        assert!(Operators::All.accepts(&like) && Operators::All.accepts(&verbose));
        assert!(Operators::Only(STRING_MATCHING).accepts(&like));
        assert!(!Operators::Only(ORDERING).accepts(&verbose) && !Operators::Only(ORDERING).accepts(&Operator::In));
    }

    #[test]
    fn references_are_used_by_joined_paths_and_computed_fields() {
        let votes = &FieldSet::public_cvm().references[0];
        assert!(votes.is_used_by("lastVotedAt") && !votes.unwinds());
        assert!(votes.is_used_by("_votes.createdAt"));
        assert!(!votes.is_used_by("_votes") && !votes.is_used_by("score"));
        let credibilities = &FieldSet::public_ident().references[0];
        assert!(credibilities.is_used_by("credibility.rating") && credibilities.unwinds());
        assert!(!credibilities.is_used_by("credibility") && !credibilities.is_used_by("credibilityX.rating"));
    }
}

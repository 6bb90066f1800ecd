//! User ids (spec 4.1 `UserId`, 8.4) and the reserved identities.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The id type reserved for the backend (spec 8.4). Only the built-in admin
/// `internal:1` is protected: like the reference, other `internal:*` ids may
/// be created.
pub const INTERNAL_TYPE: &str = "internal";

/// A user's id: a free-form type (any non-blank text via `createUser`,
/// `[a-zA-Z]+` when it comes from a JWT) and a 64-bit number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId {
    #[serde(rename = "type")]
    pub id_type: String,
    pub number: i64,
}

impl UserId {
    pub fn new(id_type: impl Into<String>, number: i64) -> Self {
        Self {
            id_type: id_type.into(),
            number,
        }
    }

    /// `internal:1`, the admin the reference's migration inserts: it cannot
    /// be deleted and its role cannot be changed.
    pub fn built_in_admin() -> Self {
        Self::new(INTERNAL_TYPE, 1)
    }

    pub fn is_built_in_admin(&self) -> bool {
        self.id_type == INTERNAL_TYPE && self.number == 1
    }

    /// The aggregate id, `type:number`.
    pub fn aggregate_id(&self) -> String {
        self.to_string()
    }

    /// Reads an aggregate id back. Splits at the *last* colon: the number
    /// never contains one, while a type given to `createUser` may.
    pub fn parse_aggregate_id(id: &str) -> Option<Self> {
        let (id_type, number) = id.rsplit_once(':')?;
        Some(Self::new(id_type, number.parse().ok()?))
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.id_type, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_id_is_type_colon_number_and_parses_back() {
        for id in [
            UserId::new("testuser", 2),
            UserId::new("a:b", 7),
            UserId::new("neg", -5),
            UserId::new("max", i64::MAX),
        ] {
            assert_eq!(UserId::parse_aggregate_id(&id.aggregate_id()), Some(id));
        }
        assert_eq!(UserId::new("testuser", 2).aggregate_id(), "testuser:2");
    }

    #[test]
    fn parse_refuses_ids_without_a_number() {
        assert_eq!(UserId::parse_aggregate_id("wrong_format"), None);
        assert_eq!(UserId::parse_aggregate_id("testuser:x"), None);
        assert_eq!(UserId::parse_aggregate_id("big:9223372036854775808"), None);
    }

    #[test]
    fn only_internal_1_is_the_built_in_admin() {
        assert!(UserId::built_in_admin().is_built_in_admin());
        assert_eq!(UserId::built_in_admin().aggregate_id(), "internal:1");
        assert!(!UserId::new("internal", 2).is_built_in_admin());
        assert!(!UserId::new("Internal", 1).is_built_in_admin());
    }

    #[test]
    fn serializes_with_the_field_name_type() {
        assert_eq!(
            serde_json::to_value(UserId::new("testuser", 1)).unwrap(),
            serde_json::json!({"type": "testuser", "number": 1})
        );
    }
}

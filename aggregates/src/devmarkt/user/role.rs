//! Roles (spec 3 `Role`).

use serde::{Deserialize, Serialize};

/// A user's role. `NONE` may do nothing; `USER` the user operations;
/// `ADMIN` everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    User,
    #[default]
    None,
}

impl Role {
    /// The `roles` query's answer, in the server-side order `ADMIN`, `USER`,
    /// `NONE` (not the schema's order).
    pub const ALL: [Role; 3] = [Role::Admin, Role::User, Role::None];

    /// The wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::User => "USER",
            Role::None => "NONE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_listed_admin_user_none() {
        let names: Vec<&str> = Role::ALL.iter().map(Role::name).collect();
        assert_eq!(names, vec!["ADMIN", "USER", "NONE"]);
    }

    #[test]
    fn serializes_as_the_wire_name() {
        for role in Role::ALL {
            assert_eq!(serde_json::to_value(role).unwrap(), serde_json::json!(role.name()));
        }
    }
}

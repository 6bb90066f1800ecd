//! Why a user command was refused.

use crate::devmarkt::template::failure::Failure;
use crate::devmarkt::template::input::{describe, InputViolation};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// A domain failure of spec 7: `DUPLICATED`, `NOT_FOUND`,
    /// `ADMIN_USER_CANT_BE_MODIFIED` or `HAS_UNPROCESSED_APPLICATION`.
    /// `deleteUser`, a `Boolean` field, answers `false` for any of them.
    #[error("{0}")]
    Rejected(Failure),
    /// Input the API's constraints (spec 6.2) should have stopped.
    #[error("invalid input: {}", describe(.0))]
    InvalidInput(Vec<InputViolation>),
}

//! Why an application command was refused.

use super::answer::Decision;
use super::ApplicationId;
use crate::devmarkt::template::failure::Failure;
use crate::devmarkt::template::input::{describe, InputViolation};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplicationError {
    /// A domain failure of spec 7: `NOT_FOUND`, `ALREADY_ACCEPTED` or the
    /// answer validation errors, rendered as a `Failure` by the API
    /// (`processApplication` and `deleteApplication`, `Boolean` fields,
    /// answer `false` instead).
    #[error("{0}")]
    Rejected(Failure),
    /// Input the API's constraints (spec 6.2) should have stopped.
    #[error("invalid input: {}", describe(.0))]
    InvalidInput(Vec<InputViolation>),
    /// `Create` for an id that exists or existed: the service's id sequence
    /// never repeats an id, so this is a repeated command.
    #[error("application {id} already exists or existed")]
    AlreadyExists { id: ApplicationId },
    /// `processApplication` with the current status: nothing changes and
    /// the API answers `false` (spec 9.13).
    #[error("the application is already {status}")]
    StatusUnchanged { status: Decision },
}

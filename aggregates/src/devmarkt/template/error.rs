//! Why a template command was refused.

use super::failure::Failure;
use super::input::{describe, InputViolation};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A domain failure of spec 7, rendered as a `Failure` by the API
    /// (`deleteTemplate`, a `Boolean` field, answers `false` instead).
    #[error("{0}")]
    Rejected(Failure),
    /// Input the API's constraints (spec 6.2) should have stopped.
    #[error("invalid input: {}", describe(.0))]
    InvalidInput(Vec<InputViolation>),
    /// Rename step 2 found a newer revision than step 1 started from (a
    /// concurrent update): the service undoes step 1 and retries.
    #[error("the template changed since revision {expected} (now revision {actual})")]
    RevisionMismatch { expected: u32, actual: u32 },
}

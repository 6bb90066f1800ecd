//! The template aggregate (spec 9.1, 9.2, 9.6–9.8). The aggregate id is the
//! template name: at most one enabled template per name (the reference's
//! partial unique index), decided atomically by the aggregate.
//!
//! - `commands`, `events`, `error`, `state`: the aggregate.
//! - `decide`: the checks of 9.6–9.8 in the spec's order.
//! - `question`: questions, duplicate numbers and the update algorithm.
//! - `failure`, `input`: the failure codes of spec 7 and the input
//!   constraints of 6.2, shared by all Devmarkt aggregates (re-exported by
//!   `application` and `user`).
//!
//! Soft delete and replace-on-update become revisions: every creation and
//! update is a new revision of the name, a delete disables it. Applications
//! copy the revision they were created from ([`TemplateSnapshot`]), so they
//! stay readable whatever happens to the template later.
//!
//! Departures from the reference, both quirks of spec 9.8: a rename to a
//! taken name is refused with `DUPLICATED` before anything changes (the
//! reference left the old template disabled after an engine error), and an
//! update that would repeat a number is refused with `AMBIGUOUS_NUMBER`.

mod commands;
mod decide;
mod error;
mod events;
pub mod failure;
pub mod input;
pub mod question;
mod state;
#[cfg(test)]
mod tests;

pub use commands::TemplateCommand;
pub use error::TemplateError;
pub use events::{TemplateCreated, TemplateDeleted, TemplateEvent, TemplateUpdated};
pub use failure::{Failure, FailureData, FailureError};
pub use input::InputViolation;
pub use question::{apply_update_actions, Question, QuestionUpdate, UpdateAction};
pub use state::{Template, TemplateSnapshot};

crate::decided_aggregate!(
    Template,
    "devmarkt-template",
    TemplateCommand,
    TemplateEvent,
    TemplateError
);

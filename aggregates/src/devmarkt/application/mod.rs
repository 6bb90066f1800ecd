//! The application aggregate (spec 9.5, 9.12–9.17). The aggregate id is the
//! application id, which the service assigns from its sequence and passes
//! in with `Create` (the reference's ids are observable: 1, 2, … after a
//! reseed).
//!
//! - `commands`, `events`, `error`, `state`: the aggregate.
//! - `decide`: the checks of 9.12–9.16 in the spec's order.
//! - `validation`: the answer rules of 9.12 step 3 and 9.15, as pure
//!   functions the service can also call.
//! - `answer`: answers, statuses and processing decisions.
//!
//! An application copies the template revision it answers
//! ([`TemplateSnapshot`]), so it needs no other aggregate to validate its
//! answers, and stays readable after the template is updated or deleted.
//!
//! Left to the service: the caller's ownership (spec 8.5, see
//! [`Application::is_owned_by`]), `TEMPLATE_NOT_FOUND` (it loads the
//! template), and "one current unprocessed application per user", which the
//! user aggregate holds (see `crate::devmarkt::user`): claim the owner's slot
//! before `Create`, release it when `Create` fails or when an application
//! that [`Application::is_current`] is processed or deleted.

mod answer;
mod commands;
mod decide;
mod error;
mod events;
mod state;
#[cfg(test)]
mod tests;
pub mod validation;

pub use crate::devmarkt::template::failure::{Failure, FailureData, FailureError};
pub use crate::devmarkt::template::input::InputViolation;
pub use crate::devmarkt::template::TemplateSnapshot;
pub use answer::{Answer, ApplicationStatus, Decision};
pub use commands::ApplicationCommand;
pub use error::ApplicationError;
pub use events::{
    ApplicationAnswersUpdated, ApplicationCreated, ApplicationDeleted, ApplicationEvent, ApplicationProcessed,
};
pub use state::{Application, Stage};

/// `ApplicationId`: a `NonNegativeInt`.
pub type ApplicationId = u32;

crate::decided_aggregate!(
    Application,
    "devmarkt-application",
    ApplicationCommand,
    ApplicationEvent,
    ApplicationError
);

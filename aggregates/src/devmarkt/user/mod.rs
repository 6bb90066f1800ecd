//! The user aggregate (spec 8.4, 9.4, 9.9–9.11). The aggregate id is
//! `type:number` ([`UserId::aggregate_id`]); users are hard-deleted and may
//! be created again under the same id.
//!
//! - `commands`, `events`, `error`, `state`: the aggregate.
//! - `decide`: the checks of 9.9–9.11 in the spec's order.
//! - `id`, `role`: user ids, the built-in admin, roles.
//!
//! # One current unprocessed application per user
//!
//! `createApplication` must refuse a second `UNPROCESSED` application of a
//! user (`HAS_UNPROCESSED_APPLICATION`, spec 9.12 step 1). No application
//! can decide that alone, and a read model lags behind, so the user holds
//! the rule: `current_application` is a slot that at most one application
//! id occupies, and the aggregate's optimistic concurrency makes two racing
//! claims serialize (the loser sees the winner's claim). The service runs:
//!
//! 1. [`UserCommand::ClaimCurrentApplication`] on the owner (refused with
//!    `HAS_UNPROCESSED_APPLICATION`, first, as the spec orders);
//! 2. looks up the template (`TEMPLATE_NOT_FOUND`) and sends `Create` to the
//!    application; when either fails, it compensates with
//!    [`UserCommand::ReleaseCurrentApplication`] and returns the failure;
//! 3. after `Process` or `Delete` of an application that held the slot, it
//!    sends `ReleaseCurrentApplication` (idempotent, so it can be retried
//!    until it succeeds).
//!
//! An application that was processed is never `UNPROCESSED` again (spec
//! 9.13), so releasing on process and delete keeps the slot equal to "the
//! user's `UNPROCESSED` application". Between steps 1 and 2 the slot is
//! held by an application that may still fail; a concurrent create by the
//! same user is refused during that window, which is the safe side.
//!
//! # The built-in admin
//!
//! `internal:1` cannot be deleted (`deleteUser` answers `false`) and its role
//! cannot change (`ADMIN_USER_CANT_BE_MODIFIED`). It enters the log through
//! [`UserCommand::ProvisionBuiltInAdmin`]. Like the reference, other ids of
//! the reserved type `internal` are not protected (spec 8.4).

mod commands;
mod decide;
mod error;
mod events;
mod id;
mod role;
mod state;
#[cfg(test)]
mod tests;

pub use crate::devmarkt::template::failure::{Failure, FailureData, FailureError};
pub use crate::devmarkt::template::input::InputViolation;
pub use commands::UserCommand;
pub use error::UserError;
pub use events::{
    CurrentApplicationClaimed, CurrentApplicationReleased, UserCreated, UserDeleted, UserEvent, UserRoleUpdated,
};
pub use id::{UserId, INTERNAL_TYPE};
pub use role::Role;
pub use state::User;

crate::decided_aggregate!(User, "devmarkt-user", UserCommand, UserEvent, UserError);

//! User commands. Only `Create` names the user: every other command acts on
//! the user the aggregate already holds.

use serde::{Deserialize, Serialize};

use super::id::UserId;
use super::role::Role;
use crate::devmarkt::application::ApplicationId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserCommand {
    /// `createUser` (spec 9.9), and the `Foreign` auto-creation of 8.4 (with
    /// role `USER`).
    Create { user_id: UserId, role: Role },
    /// Brings the built-in admin `internal:1` into the log; the service sends
    /// it to the aggregate `internal:1` at start-up. Like the reference's
    /// `ON CONFLICT DO NOTHING`, a no-op when the admin exists.
    ProvisionBuiltInAdmin,
    /// `updateUserRole` (spec 9.11).
    UpdateRole { role: Role },
    /// `deleteUser` (spec 9.10).
    Delete,
    /// `createApplication` step 1 (spec 9.12): the user takes the single
    /// "current unprocessed application" slot for `application_id`, before
    /// the service creates that application.
    ClaimCurrentApplication { application_id: ApplicationId },
    /// Frees the slot when `application_id` stops being the current one: its
    /// creation failed (compensation), it was processed, or it was deleted.
    /// A no-op when the slot holds another id or none, so it can be retried.
    ReleaseCurrentApplication { application_id: ApplicationId },
}

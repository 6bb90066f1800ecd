//! User command handling (spec 9.9–9.12): each command's checks in the
//! spec's order, and the events it yields. Pure: reads only the state and
//! the command.

use super::commands::UserCommand;
use super::error::UserError;
use super::events::{
    CurrentApplicationClaimed, CurrentApplicationReleased, UserCreated, UserDeleted, UserEvent, UserRoleUpdated,
};
use super::id::UserId;
use super::role::Role;
use super::state::User;
use crate::devmarkt::application::ApplicationId;
use crate::devmarkt::template::failure::FailureError;
use crate::devmarkt::template::input::{is_blank, InputViolation};

impl User {
    /// The events `command` yields on this state, or why it is refused. An
    /// empty list is a no-op that succeeded.
    pub fn decide(&self, command: UserCommand) -> Result<Vec<UserEvent>, UserError> {
        match command {
            UserCommand::Create { user_id, role } => self.create(user_id, role),
            UserCommand::ProvisionBuiltInAdmin => Ok(self.provision_built_in_admin()),
            UserCommand::UpdateRole { role } => self.update_role(role),
            UserCommand::Delete => self.delete(),
            UserCommand::ClaimCurrentApplication { application_id } => self.claim(application_id),
            UserCommand::ReleaseCurrentApplication { application_id } => Ok(self.release(application_id)),
        }
    }

    /// 9.9. The built-in admin exists by definition (the reference inserts
    /// it by migration), so creating it is `DUPLICATED` even before
    /// [`UserCommand::ProvisionBuiltInAdmin`] has run.
    fn create(&self, user_id: UserId, role: Role) -> Result<Vec<UserEvent>, UserError> {
        if is_blank(&user_id.id_type) {
            return Err(UserError::InvalidInput(vec![InputViolation::UserTypeBlank]));
        }
        if self.exists || user_id.is_built_in_admin() {
            return Err(rejected(FailureError::Duplicated));
        }
        Ok(vec![UserEvent::Created(UserCreated { user_id, role })])
    }

    fn provision_built_in_admin(&self) -> Vec<UserEvent> {
        if self.exists {
            return Vec::new();
        }
        vec![UserEvent::Created(UserCreated {
            user_id: UserId::built_in_admin(),
            role: Role::Admin,
        })]
    }

    /// 9.11: the built-in admin first, then `NOT_FOUND`. The role is written
    /// even when unchanged, as in the reference.
    fn update_role(&self, role: Role) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_modifiable()?;
        Ok(vec![UserEvent::RoleUpdated(UserRoleUpdated { role })])
    }

    /// 9.10: refused (`false`) for the built-in admin and unknown users.
    fn delete(&self) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_modifiable()?;
        Ok(vec![UserEvent::Deleted(UserDeleted {})])
    }

    /// 9.12 step 1: `HAS_UNPROCESSED_APPLICATION` while another application
    /// holds the slot; claiming it again for the same id is a no-op, so the
    /// service may retry.
    fn claim(&self, application_id: ApplicationId) -> Result<Vec<UserEvent>, UserError> {
        if !self.exists {
            return Err(rejected(FailureError::NotFound));
        }
        match self.current_application {
            Some(current) if current == application_id => Ok(Vec::new()),
            Some(_) => Err(rejected(FailureError::HasUnprocessedApplication)),
            None => Ok(vec![UserEvent::CurrentApplicationClaimed(CurrentApplicationClaimed {
                application_id,
            })]),
        }
    }

    fn release(&self, application_id: ApplicationId) -> Vec<UserEvent> {
        if self.current_application != Some(application_id) {
            return Vec::new();
        }
        vec![UserEvent::CurrentApplicationReleased(CurrentApplicationReleased {
            application_id,
        })]
    }

    /// The built-in admin cannot be modified; other users must exist.
    fn ensure_modifiable(&self) -> Result<(), UserError> {
        // The built-in admin is never deleted, so its id means it exists.
        if self.user_id.is_built_in_admin() {
            Err(rejected(FailureError::AdminUserCantBeModified))
        } else if !self.exists {
            Err(rejected(FailureError::NotFound))
        } else {
            Ok(())
        }
    }
}

fn rejected(error: FailureError) -> UserError {
    UserError::Rejected(error.into())
}

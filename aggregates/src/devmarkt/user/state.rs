//! The user aggregate's state and how events change it.

use serde::{Deserialize, Serialize};

use super::events::UserEvent;
use super::id::UserId;
use super::role::Role;
use crate::devmarkt::application::ApplicationId;

/// One user id's state. Serialized (camelCase) as the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct User {
    /// Set by the first creation and kept after a delete.
    pub user_id: UserId,
    pub exists: bool,
    pub role: Role,
    /// The application holding the "current unprocessed application" slot:
    /// claimed before it is created, released once it is processed or
    /// deleted (or its creation failed).
    pub current_application: Option<ApplicationId>,
}

impl User {
    pub(super) fn apply_event(&mut self, event: UserEvent) {
        match event {
            UserEvent::Created(created) => {
                *self = User {
                    user_id: created.user_id,
                    exists: true,
                    role: created.role,
                    current_application: None,
                }
            }
            UserEvent::RoleUpdated(updated) => self.role = updated.role,
            UserEvent::Deleted(_) => {
                self.exists = false;
                self.role = Role::None;
                self.current_application = None;
            }
            UserEvent::CurrentApplicationClaimed(claimed) => self.current_application = Some(claimed.application_id),
            UserEvent::CurrentApplicationReleased(_) => self.current_application = None,
        }
    }
}

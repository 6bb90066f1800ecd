//! User events, externally tagged with their stable type, payloads in
//! camelCase (see the template events for the layout).

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::id::UserId;
use super::role::Role;
use crate::devmarkt::application::ApplicationId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserEvent {
    #[serde(rename = "devmarkt-user-created")]
    Created(UserCreated),
    #[serde(rename = "devmarkt-user-role-updated")]
    RoleUpdated(UserRoleUpdated),
    #[serde(rename = "devmarkt-user-deleted")]
    Deleted(UserDeleted),
    #[serde(rename = "devmarkt-user-current-application-claimed")]
    CurrentApplicationClaimed(CurrentApplicationClaimed),
    #[serde(rename = "devmarkt-user-current-application-released")]
    CurrentApplicationReleased(CurrentApplicationReleased),
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        match self {
            UserEvent::Created(_) => "devmarkt-user-created",
            UserEvent::RoleUpdated(_) => "devmarkt-user-role-updated",
            UserEvent::Deleted(_) => "devmarkt-user-deleted",
            UserEvent::CurrentApplicationClaimed(_) => "devmarkt-user-current-application-claimed",
            UserEvent::CurrentApplicationReleased(_) => "devmarkt-user-current-application-released",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCreated {
    pub user_id: UserId,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRoleUpdated {
    pub role: Role,
}

/// A hard delete in the reference: the service deletes the user's
/// applications too (they cascaded there), without `applicationDeleted`
/// notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDeleted {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentApplicationClaimed {
    pub application_id: ApplicationId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentApplicationReleased {
    pub application_id: ApplicationId,
}

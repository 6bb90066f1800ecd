//! Template events. The enum is externally tagged with the stable event
//! type, so a stored payload is `{"devmarkt-template-created": {…}}`
//! (cqrs-es deserializes events from the payload alone); payload fields are
//! camelCase.
//!
//! `revision` numbers the contents a name has had (1, 2, … across updates,
//! deletes and re-creations), so (name, revision) identifies one template
//! "row" of the reference: the one an application was created from.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::question::Question;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplateEvent {
    #[serde(rename = "devmarkt-template-created")]
    Created(TemplateCreated),
    #[serde(rename = "devmarkt-template-updated")]
    Updated(TemplateUpdated),
    #[serde(rename = "devmarkt-template-deleted")]
    Deleted(TemplateDeleted),
}

impl DomainEvent for TemplateEvent {
    fn event_type(&self) -> String {
        match self {
            TemplateEvent::Created(_) => "devmarkt-template-created",
            TemplateEvent::Updated(_) => "devmarkt-template-updated",
            TemplateEvent::Deleted(_) => "devmarkt-template-deleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// An enabled template came into being under `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateCreated {
    pub name: String,
    pub revision: u32,
    /// Sorted by number.
    pub questions: Vec<Question>,
    /// The old name when this template is the result of a rename.
    #[serde(default)]
    pub renamed_from: Option<String>,
}

/// The template's questions were replaced by an update (its previous
/// revision stays readable through the applications that copied it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateUpdated {
    pub revision: u32,
    /// The whole new list, sorted by number.
    pub questions: Vec<Question>,
}

/// The template was disabled (soft delete); `revision` is the one retired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateDeleted {
    pub revision: u32,
    /// The new name when the template was disabled by a rename.
    #[serde(default)]
    pub renamed_to: Option<String>,
}

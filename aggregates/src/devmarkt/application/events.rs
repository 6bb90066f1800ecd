//! Application events, externally tagged with their stable type, payloads
//! in camelCase (see the template events for the layout).

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::answer::{Answer, Decision};
use super::ApplicationId;
use crate::devmarkt::template::TemplateSnapshot;
use crate::devmarkt::user::UserId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicationEvent {
    #[serde(rename = "devmarkt-application-created")]
    Created(ApplicationCreated),
    #[serde(rename = "devmarkt-application-answers-updated")]
    AnswersUpdated(ApplicationAnswersUpdated),
    #[serde(rename = "devmarkt-application-processed")]
    Processed(ApplicationProcessed),
    #[serde(rename = "devmarkt-application-deleted")]
    Deleted(ApplicationDeleted),
}

impl DomainEvent for ApplicationEvent {
    fn event_type(&self) -> String {
        match self {
            ApplicationEvent::Created(_) => "devmarkt-application-created",
            ApplicationEvent::AnswersUpdated(_) => "devmarkt-application-answers-updated",
            ApplicationEvent::Processed(_) => "devmarkt-application-processed",
            ApplicationEvent::Deleted(_) => "devmarkt-application-deleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// A new `UNPROCESSED` application. It carries the template revision it
/// answers, so it stays readable after that template is updated or deleted
/// (spec 9.17).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationCreated {
    pub id: ApplicationId,
    pub owner: UserId,
    pub template: TemplateSnapshot,
    /// Sorted by number; answer `n` belongs to the template's question at
    /// position `n`.
    pub answers: Vec<Answer>,
}

/// Each answer replaces the stored answer at position `number` (spec 9.14
/// step 6); the others stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationAnswersUpdated {
    pub answers: Vec<Answer>,
}

/// The new status. The spec's `processTime` stays `null` (9.13); the time
/// of processing is the event's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationProcessed {
    pub status: Decision,
}

/// A hard delete in the reference; the id is never used again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDeleted {}

//! The application aggregate's state and how events change it.

use serde::{Deserialize, Serialize};

use super::answer::{Answer, ApplicationStatus};
use super::events::ApplicationEvent;
use super::ApplicationId;
use crate::devmarkt::template::{Question, TemplateSnapshot};
use crate::devmarkt::user::UserId;

/// Where an application is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// No events yet.
    #[default]
    New,
    Live,
    /// Deleted for good: ids are not reused.
    Deleted,
}

/// One application. Serialized (camelCase) as the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Application {
    pub id: ApplicationId,
    pub stage: Stage,
    pub owner: UserId,
    pub status: ApplicationStatus,
    /// The template revision it was created from, for ever.
    pub template: TemplateSnapshot,
    /// Sorted by number; answer `n` belongs to the question at position `n`.
    pub answers: Vec<Answer>,
}

impl Application {
    /// Whether it exists (created and not deleted).
    pub fn exists(&self) -> bool {
        self.stage == Stage::Live
    }

    /// Whether it is its owner's current application (`UNPROCESSED`), the
    /// one holding the owner's slot on the user aggregate.
    pub fn is_current(&self) -> bool {
        self.exists() && self.status == ApplicationStatus::Unprocessed
    }

    /// The ownership gate's question (spec 8.5).
    pub fn is_owned_by(&self, user: &UserId) -> bool {
        self.exists() && self.owner == *user
    }

    /// The question an answer belongs to: the template's question at the
    /// answer's position (spec 9.15).
    pub fn question_of(&self, answer: &Answer) -> Option<&Question> {
        self.template.questions.get(answer.number as usize)
    }

    pub(super) fn apply_event(&mut self, event: ApplicationEvent) {
        match event {
            ApplicationEvent::Created(created) => {
                *self = Application {
                    id: created.id,
                    stage: Stage::Live,
                    owner: created.owner,
                    status: ApplicationStatus::Unprocessed,
                    template: created.template,
                    answers: created.answers,
                }
            }
            ApplicationEvent::AnswersUpdated(updated) => {
                // A created application answers every question once, so
                // position `n` holds answer `n`: the reference's "by
                // position" and "by number" agree (spec 9.14 step 6).
                for answer in updated.answers {
                    if let Some(stored) = self.answers.get_mut(answer.number as usize) {
                        stored.answer = answer.answer;
                    }
                }
            }
            ApplicationEvent::Processed(processed) => self.status = processed.status.into(),
            ApplicationEvent::Deleted(_) => self.stage = Stage::Deleted,
        }
    }
}

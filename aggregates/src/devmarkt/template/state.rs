//! The template aggregate's state and how events change it.

use serde::{Deserialize, Serialize};

use super::events::TemplateEvent;
use super::question::Question;

/// Everything one template name has held. Serialized (camelCase) as the
/// snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Template {
    /// Empty until the first creation.
    pub name: String,
    /// The latest revision; 0 = never created. Never reset, so a re-created
    /// name continues counting and (name, revision) stays unique.
    pub revision: u32,
    /// Whether a template is currently enabled under this name.
    pub enabled: bool,
    /// The latest revision's questions, sorted by number (kept when
    /// disabled, for reference).
    pub questions: Vec<Question>,
}

/// One revision of a template, as an application copies it: the "template
/// row" of the reference, readable for ever even after the template is
/// deleted or updated (spec 9.17).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSnapshot {
    pub name: String,
    pub revision: u32,
    /// Sorted by number.
    pub questions: Vec<Question>,
}

impl Template {
    /// The enabled template's current revision; `None` when there is no
    /// enabled template under this name (`NOT_FOUND`/`TEMPLATE_NOT_FOUND`).
    pub fn snapshot(&self) -> Option<TemplateSnapshot> {
        self.enabled.then(|| TemplateSnapshot {
            name: self.name.clone(),
            revision: self.revision,
            questions: self.questions.clone(),
        })
    }

    pub(super) fn apply_event(&mut self, event: TemplateEvent) {
        match event {
            TemplateEvent::Created(created) => {
                self.name = created.name;
                self.revision = created.revision;
                self.questions = created.questions;
                self.enabled = true;
            }
            TemplateEvent::Updated(updated) => {
                self.revision = updated.revision;
                self.questions = updated.questions;
            }
            TemplateEvent::Deleted(_) => self.enabled = false,
        }
    }
}

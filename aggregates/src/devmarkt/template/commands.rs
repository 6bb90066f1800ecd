//! Template commands. Template names are the aggregate ids, so a rename
//! spans two aggregates: see [`TemplateCommand::CreateRenamed`].

use serde::{Deserialize, Serialize};

use super::question::{Question, QuestionUpdate};
use super::state::TemplateSnapshot;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplateCommand {
    /// `createTemplate` (spec 9.6): the questions are stored with their
    /// numbers exactly as given; `updateAction` does not exist here.
    Create { name: String, questions: Vec<Question> },
    /// `updateTemplate` without a new name, or with the same one (spec 9.8).
    Update { updates: Vec<QuestionUpdate> },
    /// `deleteTemplate` (spec 9.7): soft delete, the name becomes free.
    Delete,
    /// `updateTemplate` with a new name, step 1, sent to the *new* name:
    /// applies `updates` to `source` (the old template as the service loaded
    /// it) and creates the result here, refused with `DUPLICATED` when the
    /// name is taken. Step 2 is [`TemplateCommand::RetireRenamed`] on the old
    /// name with `expected_revision = source.revision`; when that step is
    /// refused the service deletes this new template again.
    ///
    /// Claiming the new name first keeps the reference's quirk away (there a
    /// taken name failed *after* the old template was disabled).
    CreateRenamed {
        name: String,
        source: TemplateSnapshot,
        updates: Vec<QuestionUpdate>,
    },
    /// `updateTemplate` with a new name, step 2, sent to the *old* name:
    /// disables it, provided it is still the revision step 1 started from.
    RetireRenamed { renamed_to: String, expected_revision: u32 },
}

//! Application commands. The id of a new application and the template it
//! answers come in with the command: an aggregate reads no other aggregate,
//! so the service loads the enabled template and passes its revision.

use serde::{Deserialize, Serialize};

use super::answer::{Answer, Decision};
use super::ApplicationId;
use crate::devmarkt::template::TemplateSnapshot;
use crate::devmarkt::user::UserId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicationCommand {
    /// `createApplication` (spec 9.12) from step 3 on: the service has
    /// claimed the owner's current-application slot (step 1) and found the
    /// enabled template `template` (step 2).
    Create {
        id: ApplicationId,
        owner: UserId,
        template: TemplateSnapshot,
        answers: Vec<Answer>,
    },
    /// `updateApplication` (spec 9.14).
    UpdateAnswers { answers: Vec<Answer> },
    /// `processApplication` (spec 9.13); a request for `UNPROCESSED` never
    /// gets here (see [`Decision::from_status`]).
    Process { decision: Decision },
    /// `deleteApplication` (spec 9.16), and the cascade of `deleteUser`.
    Delete,
}

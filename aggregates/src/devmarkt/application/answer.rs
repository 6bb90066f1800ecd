//! Answers and application statuses (spec 3, 4.1, 4.3).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One answer (`AnswerInput` in commands, `Answer` when stored): `number`
/// addresses the template question at that list position (spec 9.15).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub number: u32,
    pub answer: String,
}

impl Answer {
    pub fn new(number: u32, answer: impl Into<String>) -> Self {
        Self {
            number,
            answer: answer.into(),
        }
    }
}

/// `ApplicationStatus`, in schema order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApplicationStatus {
    /// The user's "current" application; at most one per user.
    #[default]
    Unprocessed,
    Rejected,
    /// Final for the user: answers can no longer change.
    Accepted,
}

/// What `processApplication` may set: any status but `UNPROCESSED` (spec
/// 9.13), so a processed application never becomes current again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    Accepted,
    Rejected,
}

impl Decision {
    /// The decision a requested status stands for; `None` for
    /// `UNPROCESSED`, which `processApplication` answers with `false`.
    pub fn from_status(status: ApplicationStatus) -> Option<Self> {
        match status {
            ApplicationStatus::Unprocessed => None,
            ApplicationStatus::Rejected => Some(Decision::Rejected),
            ApplicationStatus::Accepted => Some(Decision::Accepted),
        }
    }
}

impl From<Decision> for ApplicationStatus {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Accepted => ApplicationStatus::Accepted,
            Decision::Rejected => ApplicationStatus::Rejected,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Accepted => "ACCEPTED",
            Decision::Rejected => "REJECTED",
        })
    }
}

//! Application command handling (spec 9.12–9.16): each command's checks in
//! the spec's order, and the events it yields. Pure: reads only the state
//! and the command.

use super::answer::{Answer, ApplicationStatus, Decision};
use super::commands::ApplicationCommand;
use super::error::ApplicationError;
use super::events::{
    ApplicationAnswersUpdated, ApplicationCreated, ApplicationDeleted, ApplicationEvent, ApplicationProcessed,
};
use super::state::{Application, Stage};
use super::validation::{answer_violations, creation_errors, update_errors};
use super::ApplicationId;
use crate::devmarkt::template::failure::{Failure, FailureError};
use crate::devmarkt::template::question::sorted_by_number;
use crate::devmarkt::template::TemplateSnapshot;
use crate::devmarkt::user::UserId;

impl Application {
    /// The events `command` yields on this state, or why it is refused. An
    /// empty list is a no-op that succeeded.
    pub fn decide(&self, command: ApplicationCommand) -> Result<Vec<ApplicationEvent>, ApplicationError> {
        match command {
            ApplicationCommand::Create {
                id,
                owner,
                template,
                answers,
            } => self.create(id, owner, template, answers),
            ApplicationCommand::UpdateAnswers { answers } => self.update_answers(answers),
            ApplicationCommand::Process { decision } => self.process(decision),
            ApplicationCommand::Delete => self.delete(),
        }
    }

    /// 9.12 step 3–5: every error of the answers at once, nothing stored
    /// when there is one. A template without questions takes no answers.
    fn create(
        &self,
        id: ApplicationId,
        owner: UserId,
        template: TemplateSnapshot,
        answers: Vec<Answer>,
    ) -> Result<Vec<ApplicationEvent>, ApplicationError> {
        if self.stage != Stage::New {
            return Err(ApplicationError::AlreadyExists { id });
        }
        refuse_violations(&answers)?;
        refuse_errors(creation_errors(&template, &answers))?;
        let template = TemplateSnapshot {
            questions: sorted_by_number(template.questions),
            ..template
        };
        let mut answers = answers;
        answers.sort_by_key(|answer| answer.number);
        Ok(vec![ApplicationEvent::Created(ApplicationCreated {
            id,
            owner,
            template,
            answers,
        })])
    }

    /// 9.14: `NOT_FOUND`, then `ALREADY_ACCEPTED` (before the answers are
    /// looked at), then the per-answer errors. `REJECTED` applications may
    /// be edited and stay rejected; an empty list changes nothing.
    fn update_answers(&self, answers: Vec<Answer>) -> Result<Vec<ApplicationEvent>, ApplicationError> {
        refuse_violations(&answers)?;
        self.ensure_exists()?;
        if self.status == ApplicationStatus::Accepted {
            return Err(rejected(FailureError::AlreadyAccepted));
        }
        refuse_errors(update_errors(&self.template, &answers))?;
        if answers.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![ApplicationEvent::AnswersUpdated(ApplicationAnswersUpdated {
            answers,
        })])
    }

    /// 9.13: any status but the current one; `ACCEPTED` → `REJECTED` too.
    fn process(&self, decision: Decision) -> Result<Vec<ApplicationEvent>, ApplicationError> {
        self.ensure_exists()?;
        if self.status == ApplicationStatus::from(decision) {
            return Err(ApplicationError::StatusUnchanged { status: decision });
        }
        Ok(vec![ApplicationEvent::Processed(ApplicationProcessed {
            status: decision,
        })])
    }

    /// 9.16: whatever the status.
    fn delete(&self) -> Result<Vec<ApplicationEvent>, ApplicationError> {
        self.ensure_exists()?;
        Ok(vec![ApplicationEvent::Deleted(ApplicationDeleted {})])
    }

    fn ensure_exists(&self) -> Result<(), ApplicationError> {
        if self.exists() {
            Ok(())
        } else {
            Err(rejected(FailureError::NotFound))
        }
    }
}

fn rejected(error: FailureError) -> ApplicationError {
    ApplicationError::Rejected(error.into())
}

fn refuse_violations(answers: &[Answer]) -> Result<(), ApplicationError> {
    let violations = answer_violations(answers);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ApplicationError::InvalidInput(violations))
    }
}

fn refuse_errors(errors: Vec<FailureError>) -> Result<(), ApplicationError> {
    match Failure::of(errors) {
        Some(failure) => Err(ApplicationError::Rejected(failure)),
        None => Ok(()),
    }
}

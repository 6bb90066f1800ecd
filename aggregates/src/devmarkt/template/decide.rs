//! Template command handling (spec 9.6–9.8): each command's checks in the
//! spec's order, and the events it yields. Pure: reads only the state and
//! the command.
//!
//! Input constraints come first, as in the API, where they are checked
//! before the resolver runs.

use super::commands::TemplateCommand;
use super::error::TemplateError;
use super::events::{TemplateCreated, TemplateDeleted, TemplateEvent, TemplateUpdated};
use super::failure::{Failure, FailureError};
use super::input::{template_name_violations, InputViolation, QUESTION_COUNT};
use super::question::{
    ambiguous_numbers, apply_update_actions, question_violations, sorted_by_number, Question, QuestionUpdate,
};
use super::state::{Template, TemplateSnapshot};

impl Template {
    /// The events `command` yields on this state, or why it is refused.
    pub fn decide(&self, command: TemplateCommand) -> Result<Vec<TemplateEvent>, TemplateError> {
        match command {
            TemplateCommand::Create { name, questions } => self.create(name, questions),
            TemplateCommand::Update { updates } => self.update(updates),
            TemplateCommand::Delete => self.delete(None),
            TemplateCommand::CreateRenamed { name, source, updates } => self.create_renamed(name, source, updates),
            TemplateCommand::RetireRenamed {
                renamed_to,
                expected_revision,
            } => self.retire_renamed(renamed_to, expected_revision),
        }
    }

    /// 9.6: `DUPLICATED`, then one `AMBIGUOUS_NUMBER` per repeated number.
    fn create(&self, name: String, questions: Vec<Question>) -> Result<Vec<TemplateEvent>, TemplateError> {
        let mut violations = template_name_violations(&name);
        if !QUESTION_COUNT.contains(&questions.len()) {
            violations.push(InputViolation::QuestionCount { count: questions.len() });
        }
        violations.extend(
            questions
                .iter()
                .enumerate()
                .flat_map(|(index, question)| question_violations(index, question)),
        );
        refuse_violations(violations)?;
        self.ensure_name_free()?;
        Ok(vec![self.created(name, questions, None)?])
    }

    /// 9.8 without a new name: the actions applied to the current list.
    fn update(&self, updates: Vec<QuestionUpdate>) -> Result<Vec<TemplateEvent>, TemplateError> {
        refuse_violations(update_violations(&updates))?;
        let current = self.enabled_snapshot()?;
        let questions = checked_numbers(apply_update_actions(&current.questions, &updates))?;
        Ok(vec![TemplateEvent::Updated(TemplateUpdated {
            revision: self.revision + 1,
            questions,
        })])
    }

    /// 9.7, and rename step 2 when `renamed_to` is given.
    fn delete(&self, renamed_to: Option<String>) -> Result<Vec<TemplateEvent>, TemplateError> {
        let current = self.enabled_snapshot()?;
        Ok(vec![TemplateEvent::Deleted(TemplateDeleted {
            revision: current.revision,
            renamed_to,
        })])
    }

    /// 9.8 with a new name, step 1 (on the new name).
    fn create_renamed(
        &self,
        name: String,
        source: TemplateSnapshot,
        updates: Vec<QuestionUpdate>,
    ) -> Result<Vec<TemplateEvent>, TemplateError> {
        let mut violations = template_name_violations(&name);
        violations.extend(update_violations(&updates));
        refuse_violations(violations)?;
        self.ensure_name_free()?;
        let questions = apply_update_actions(&source.questions, &updates);
        Ok(vec![self.created(name, questions, Some(source.name))?])
    }

    /// 9.8 with a new name, step 2 (on the old name).
    fn retire_renamed(&self, renamed_to: String, expected_revision: u32) -> Result<Vec<TemplateEvent>, TemplateError> {
        let current = self.enabled_snapshot()?;
        if current.revision != expected_revision {
            return Err(TemplateError::RevisionMismatch {
                expected: expected_revision,
                actual: current.revision,
            });
        }
        self.delete(Some(renamed_to))
    }

    /// `DUPLICATED` when a template is enabled under this name.
    fn ensure_name_free(&self) -> Result<(), TemplateError> {
        if self.enabled {
            Err(TemplateError::Rejected(FailureError::Duplicated.into()))
        } else {
            Ok(())
        }
    }

    /// The enabled template, else `NOT_FOUND`.
    fn enabled_snapshot(&self) -> Result<TemplateSnapshot, TemplateError> {
        self.snapshot()
            .ok_or(TemplateError::Rejected(FailureError::NotFound.into()))
    }

    /// The next revision under `name`, its numbers checked.
    fn created(
        &self,
        name: String,
        questions: Vec<Question>,
        renamed_from: Option<String>,
    ) -> Result<TemplateEvent, TemplateError> {
        Ok(TemplateEvent::Created(TemplateCreated {
            name,
            revision: self.revision + 1,
            questions: checked_numbers(questions)?,
            renamed_from,
        }))
    }
}

/// The question list sorted by number, or one `AMBIGUOUS_NUMBER` per
/// repeated number. For an update this departs from the reference, which
/// failed on its unique index (an engine error) when `APPEND` repeated a
/// number of a gapped template (spec 9.8, quirk).
fn checked_numbers(questions: Vec<Question>) -> Result<Vec<Question>, TemplateError> {
    let repeated = ambiguous_numbers(&questions)
        .into_iter()
        .map(|number| FailureError::AmbiguousNumber { number })
        .collect();
    match Failure::of(repeated) {
        Some(failure) => Err(TemplateError::Rejected(failure)),
        None => Ok(sorted_by_number(questions)),
    }
}

/// The `QuestionInput` constraints of every update entry, also of those the
/// algorithm will skip (the API validates them all).
fn update_violations(updates: &[QuestionUpdate]) -> Vec<InputViolation> {
    updates
        .iter()
        .enumerate()
        .flat_map(|(index, update)| question_violations(index, &update.question))
        .collect()
}

fn refuse_violations(violations: Vec<InputViolation>) -> Result<(), TemplateError> {
    if violations.is_empty() {
        Ok(())
    } else {
        Err(TemplateError::InvalidInput(violations))
    }
}

//! The output and input types of spec 3, 4: objects over the read-model
//! views, the `Failure` model and its unions, enums and inputs.

use super::scalars::{ApplicationIdScalar, DateTime, Long, NonNegativeInt, PositiveInt, TemplateName};
use super::{directives, limits, loaders};

const NOT_BLANK: &str = "graphql.validation.NotBlank.message";
const SIZE: &str = "graphql.validation.Size.message";
const RANGE: &str = "graphql.validation.Range.message";
use crate::devmarkt::views::{self, ApplicationView, TemplateView, UserView};
use aggregates::devmarkt::application::{self as app, Answer};
use aggregates::devmarkt::template::{Failure, FailureData, Question, UpdateAction as DomainUpdateAction};
use aggregates::devmarkt::user::{self as user, UserId};
use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, Union};

// ------------------------------------------------------------------ enums

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ApplicationStatus")]
pub enum ApplicationStatus {
    Unprocessed,
    Rejected,
    Accepted,
}

impl From<app::ApplicationStatus> for ApplicationStatus {
    fn from(status: app::ApplicationStatus) -> Self {
        match status {
            app::ApplicationStatus::Unprocessed => Self::Unprocessed,
            app::ApplicationStatus::Rejected => Self::Rejected,
            app::ApplicationStatus::Accepted => Self::Accepted,
        }
    }
}

impl From<ApplicationStatus> for app::ApplicationStatus {
    fn from(status: ApplicationStatus) -> Self {
        match status {
            ApplicationStatus::Unprocessed => Self::Unprocessed,
            ApplicationStatus::Rejected => Self::Rejected,
            ApplicationStatus::Accepted => Self::Accepted,
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role")]
pub enum Role {
    User,
    Admin,
    #[graphql(name = "NONE")]
    NoRole,
}

impl From<user::Role> for Role {
    fn from(role: user::Role) -> Self {
        match role {
            user::Role::User => Self::User,
            user::Role::Admin => Self::Admin,
            user::Role::None => Self::NoRole,
        }
    }
}

impl From<Role> for user::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::User => Self::User,
            Role::Admin => Self::Admin,
            Role::NoRole => Self::None,
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "UpdateAction")]
pub enum UpdateAction {
    Insert,
    Replace,
    Delete,
    Append,
}

impl From<UpdateAction> for DomainUpdateAction {
    fn from(action: UpdateAction) -> Self {
        match action {
            UpdateAction::Insert => Self::Insert,
            UpdateAction::Replace => Self::Replace,
            UpdateAction::Delete => Self::Delete,
            UpdateAction::Append => Self::Append,
        }
    }
}

// ----------------------------------------------------------------- inputs

#[derive(InputObject, Debug, Clone)]
#[graphql(name = "QuestionInput")]
pub struct QuestionInput {
    #[graphql(
        directive = directives::not_blank::apply(NOT_BLANK.to_owned()),
        directive = directives::size::apply(1, 256, SIZE.to_owned())
    )]
    pub question: String,
    pub number: NonNegativeInt,
    pub multiline: bool,
    #[graphql(default = 1, directive = directives::range::apply(1, 1024, RANGE.to_owned()))]
    pub min_answer_length: i32,
    pub update_action: Option<UpdateAction>,
}

impl QuestionInput {
    /// The domain question; `minAnswerLength` was range-checked before.
    pub fn to_question(&self) -> Question {
        Question {
            number: self.number.0,
            question: self.question.clone(),
            multiline: self.multiline,
            min_answer_length: self.min_answer_length.max(0) as u32,
        }
    }
}

#[derive(InputObject, Debug, Clone)]
#[graphql(name = "TemplateInput")]
pub struct TemplateInput {
    pub name: Option<TemplateName>,
    pub questions: Vec<QuestionInput>,
}

#[derive(InputObject, Debug, Clone)]
#[graphql(name = "AnswerInput")]
pub struct AnswerInput {
    pub number: NonNegativeInt,
    #[graphql(
        directive = directives::not_blank::apply(NOT_BLANK.to_owned()),
        directive = directives::size::apply(1, 1024, SIZE.to_owned())
    )]
    pub answer: String,
}

impl AnswerInput {
    pub fn to_answer(&self) -> Answer {
        Answer::new(self.number.0, self.answer.clone())
    }
}

#[derive(InputObject, Debug, Clone)]
#[graphql(name = "UserIdInput")]
pub struct UserIdInput {
    #[graphql(name = "type", directive = directives::not_blank::apply(NOT_BLANK.to_owned()))]
    pub id_type: String,
    pub number: Option<Long>,
}

impl UserIdInput {
    /// An absent number behaves as 0 (spec 4.3).
    pub fn to_user_id(&self) -> UserId {
        UserId::new(self.id_type.clone(), self.number.map_or(0, |n| n.0))
    }
}

// ---------------------------------------------------------------- objects

pub struct TemplateObject(pub TemplateView);

#[Object(name = "Template")]
impl TemplateObject {
    async fn name(&self) -> TemplateName {
        TemplateName(self.0.name.clone())
    }

    async fn questions(&self) -> Vec<QuestionObject> {
        let mut questions = self.0.questions.clone();
        questions.sort_by_key(|q| q.number);
        questions.into_iter().map(QuestionObject).collect()
    }
}

pub struct QuestionObject(pub Question);

#[Object(name = "Question")]
impl QuestionObject {
    async fn question(&self) -> &str {
        &self.0.question
    }

    async fn number(&self) -> NonNegativeInt {
        NonNegativeInt(self.0.number)
    }

    async fn multiline(&self) -> bool {
        self.0.multiline
    }

    async fn min_answer_length(&self) -> PositiveInt {
        PositiveInt(self.0.min_answer_length)
    }
}

/// An application of one epoch (nested fields read that epoch).
pub struct ApplicationObject {
    pub view: ApplicationView,
    pub epoch: u64,
}

#[Object(name = "Application")]
impl ApplicationObject {
    async fn id(&self) -> ApplicationIdScalar {
        ApplicationIdScalar(self.view.id)
    }

    /// Never written (spec 9.13).
    async fn process_time(&self) -> Option<DateTime> {
        None
    }

    async fn status(&self) -> ApplicationStatus {
        self.view.status.into()
    }

    async fn user(&self, ctx: &Context<'_>) -> Result<UserObject> {
        let view = loaders::user(ctx, self.epoch, &self.view.owner).await?;
        // The owner of a live application exists; should the read model
        // not have it yet, its id is still right.
        let view = view.unwrap_or_else(|| UserView {
            id: self.view.owner.clone(),
            role: user::Role::None,
            applications: Vec::new(),
        });
        Ok(UserObject {
            view,
            epoch: self.epoch,
        })
    }

    async fn template(&self) -> TemplateObject {
        TemplateObject(self.view.template.clone())
    }

    async fn answers(&self) -> Vec<AnswerObject> {
        let mut answers: Vec<AnswerObject> = self
            .view
            .answers
            .iter()
            .filter_map(|answer| {
                self.view.question_of(answer).map(|question| AnswerObject {
                    answer: answer.clone(),
                    question: question.clone(),
                })
            })
            .collect();
        answers.sort_by_key(|a| a.answer.number);
        answers
    }
}

pub struct AnswerObject {
    answer: Answer,
    question: Question,
}

#[Object(name = "Answer")]
impl AnswerObject {
    async fn number(&self) -> NonNegativeInt {
        NonNegativeInt(self.answer.number)
    }

    async fn answer(&self) -> &str {
        &self.answer.answer
    }

    async fn question(&self) -> QuestionObject {
        QuestionObject(self.question.clone())
    }
}

#[derive(SimpleObject)]
#[graphql(name = "ApplicationProcessEvent")]
pub struct ApplicationProcessEvent {
    pub id: ApplicationIdScalar,
    pub status: ApplicationStatus,
}

pub struct UserObject {
    pub view: UserView,
    pub epoch: u64,
}

#[Object(name = "User")]
impl UserObject {
    async fn id(&self) -> UserIdObject {
        UserIdObject {
            id_type: self.view.id.id_type.clone(),
            number: Some(Long(self.view.id.number)),
        }
    }

    async fn role(&self) -> Role {
        self.view.role.into()
    }

    async fn current_application(&self, ctx: &Context<'_>) -> Result<Option<ApplicationObject>> {
        let all = loaders::applications(ctx, self.epoch, &self.view.applications).await?;
        Ok(views::current(all).map(|view| ApplicationObject {
            view,
            epoch: self.epoch,
        }))
    }

    /// A user's applications can hold users with applications again: the
    /// one list through which a document's cost grows per level, so its
    /// complexity is its selection's times the expected length.
    #[graphql(complexity = "limits::fan_out(child_complexity)")]
    async fn applications(&self, ctx: &Context<'_>) -> Result<Vec<ApplicationObject>> {
        let mut all = loaders::applications(ctx, self.epoch, &self.view.applications).await?;
        views::reference_order(&mut all);
        Ok(all
            .into_iter()
            .map(|view| ApplicationObject {
                view,
                epoch: self.epoch,
            })
            .collect())
    }
}

#[derive(SimpleObject)]
#[graphql(name = "UserId")]
pub struct UserIdObject {
    #[graphql(name = "type")]
    pub id_type: String,
    pub number: Option<Long>,
}

// ---------------------------------------------------------------- failure

#[derive(SimpleObject)]
#[graphql(name = "Failure")]
pub struct FailureObject {
    pub errors: Vec<ErrorObject>,
}

#[derive(SimpleObject)]
#[graphql(name = "Error")]
pub struct ErrorObject {
    pub code: String,
    pub data: Option<FailureDataUnion>,
}

impl From<Failure> for FailureObject {
    fn from(failure: Failure) -> Self {
        Self {
            errors: failure
                .errors
                .iter()
                .map(|error| ErrorObject {
                    code: error.code().to_owned(),
                    data: error.data().map(FailureDataUnion::from),
                })
                .collect(),
        }
    }
}

#[derive(SimpleObject)]
pub struct NumberTemplateErrorData {
    pub number: NonNegativeInt,
}

#[derive(SimpleObject)]
pub struct NumberApplicationErrorData {
    pub number: NonNegativeInt,
}

#[derive(SimpleObject)]
pub struct AnswerTooShortApplicationErrorData {
    pub answer_length: NonNegativeInt,
    pub minimum_length: PositiveInt,
    pub number: NonNegativeInt,
}

#[derive(SimpleObject)]
pub struct TooLargeErrorData {
    pub size: Option<i32>,
}

#[derive(Union)]
#[graphql(name = "FailureData")]
pub enum FailureDataUnion {
    NumberTemplate(NumberTemplateErrorData),
    NumberApplication(NumberApplicationErrorData),
    AnswerTooShortApplication(AnswerTooShortApplicationErrorData),
    TooLarge(TooLargeErrorData),
}

impl From<FailureData> for FailureDataUnion {
    fn from(data: FailureData) -> Self {
        match data {
            FailureData::NumberTemplate { number } => Self::NumberTemplate(NumberTemplateErrorData {
                number: NonNegativeInt(number),
            }),
            FailureData::NumberApplication { number } => Self::NumberApplication(NumberApplicationErrorData {
                number: NonNegativeInt(number),
            }),
            FailureData::AnswerTooShortApplication {
                answer_length,
                minimum_length,
                number,
            } => Self::AnswerTooShortApplication(AnswerTooShortApplicationErrorData {
                answer_length: NonNegativeInt(answer_length),
                minimum_length: PositiveInt(minimum_length),
                number: NonNegativeInt(number),
            }),
            FailureData::TooLarge { size } => Self::TooLarge(TooLargeErrorData {
                size: Some(i32::try_from(size).unwrap_or(i32::MAX)),
            }),
        }
    }
}

#[derive(Union)]
#[graphql(name = "TemplateResponse")]
pub enum TemplateResponse {
    Template(TemplateObject),
    Failure(FailureObject),
}

#[derive(Union)]
#[graphql(name = "ApplicationResponse")]
pub enum ApplicationResponse {
    Application(ApplicationObject),
    Failure(FailureObject),
}

#[derive(Union)]
#[graphql(name = "UserResponse")]
pub enum UserResponse {
    User(UserObject),
    Failure(FailureObject),
}

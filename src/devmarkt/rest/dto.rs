//! Request and response bodies of the REST API (camelCase, like GraphQL).

use crate::devmarkt::views::{ApplicationView, TemplateView, UserView};
use aggregates::devmarkt::application::{Answer, ApplicationStatus};
use aggregates::devmarkt::template::{Question, QuestionUpdate, UpdateAction};
use aggregates::devmarkt::user::{Role, UserId};
use poem_openapi::{Enum, Object};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoleDto {
    Admin,
    User,
    None,
}

impl From<Role> for RoleDto {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => Self::Admin,
            Role::User => Self::User,
            Role::None => Self::None,
        }
    }
}

impl From<RoleDto> for Role {
    fn from(role: RoleDto) -> Self {
        match role {
            RoleDto::Admin => Self::Admin,
            RoleDto::User => Self::User,
            RoleDto::None => Self::None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusDto {
    Unprocessed,
    Rejected,
    Accepted,
}

impl From<ApplicationStatus> for StatusDto {
    fn from(status: ApplicationStatus) -> Self {
        match status {
            ApplicationStatus::Unprocessed => Self::Unprocessed,
            ApplicationStatus::Rejected => Self::Rejected,
            ApplicationStatus::Accepted => Self::Accepted,
        }
    }
}

impl From<StatusDto> for ApplicationStatus {
    fn from(status: StatusDto) -> Self {
        match status {
            StatusDto::Unprocessed => Self::Unprocessed,
            StatusDto::Rejected => Self::Rejected,
            StatusDto::Accepted => Self::Accepted,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UpdateActionDto {
    Insert,
    Replace,
    Delete,
    Append,
}

impl From<UpdateActionDto> for UpdateAction {
    fn from(action: UpdateActionDto) -> Self {
        match action {
            UpdateActionDto::Insert => Self::Insert,
            UpdateActionDto::Replace => Self::Replace,
            UpdateActionDto::Delete => Self::Delete,
            UpdateActionDto::Append => Self::Append,
        }
    }
}

/// A question (`QuestionInput` when sent).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QuestionDto {
    pub number: u32,
    pub question: String,
    pub multiline: bool,
    #[oai(default = "one")]
    pub min_answer_length: i64,
    /// Only for updates: what to do at position `number`; none skips the entry.
    #[oai(skip_serializing_if_is_none)]
    pub update_action: Option<UpdateActionDto>,
}

fn one() -> i64 {
    1
}

impl From<&Question> for QuestionDto {
    fn from(q: &Question) -> Self {
        Self {
            number: q.number,
            question: q.question.clone(),
            multiline: q.multiline,
            min_answer_length: i64::from(q.min_answer_length),
            update_action: None,
        }
    }
}

impl QuestionDto {
    pub fn to_question(&self) -> Question {
        Question {
            number: self.number,
            question: self.question.clone(),
            multiline: self.multiline,
            min_answer_length: self.min_answer_length.clamp(0, i64::from(u32::MAX)) as u32,
        }
    }

    pub fn to_update(&self) -> QuestionUpdate {
        QuestionUpdate {
            action: self.update_action.map(Into::into),
            question: self.to_question(),
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct TemplateDto {
    pub name: String,
    /// Sorted by number.
    pub questions: Vec<QuestionDto>,
}

impl From<&TemplateView> for TemplateDto {
    fn from(t: &TemplateView) -> Self {
        let mut questions: Vec<QuestionDto> = t.questions.iter().map(QuestionDto::from).collect();
        questions.sort_by_key(|q| q.number);
        Self {
            name: t.name.clone(),
            questions,
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateTemplate {
    pub name: String,
    /// 1 to 25 questions.
    pub questions: Vec<QuestionDto>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateTemplate {
    /// A new name; none keeps the old one.
    pub name: Option<String>,
    pub questions: Vec<QuestionDto>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AnswerDto {
    pub number: u32,
    pub answer: String,
}

impl AnswerDto {
    pub fn to_answer(&self) -> Answer {
        Answer::new(self.number, self.answer.clone())
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AnsweredQuestion {
    pub number: u32,
    pub answer: String,
    pub question: QuestionDto,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserIdDto {
    #[oai(rename = "type")]
    pub id_type: String,
    pub number: i64,
}

impl From<&UserId> for UserIdDto {
    fn from(id: &UserId) -> Self {
        Self {
            id_type: id.id_type.clone(),
            number: id.number,
        }
    }
}

impl UserIdDto {
    pub fn to_user_id(&self) -> UserId {
        UserId::new(self.id_type.clone(), self.number)
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApplicationDto {
    pub id: u32,
    pub status: StatusDto,
    /// The owner.
    pub user: UserIdDto,
    /// The template revision it was created from.
    pub template: TemplateDto,
    /// Sorted by number.
    pub answers: Vec<AnsweredQuestion>,
}

impl From<&ApplicationView> for ApplicationDto {
    fn from(a: &ApplicationView) -> Self {
        Self {
            id: a.id,
            status: a.status.into(),
            user: (&a.owner).into(),
            template: (&a.template).into(),
            answers: a
                .answers
                .iter()
                .filter_map(|answer| {
                    a.question_of(answer).map(|q| AnsweredQuestion {
                        number: answer.number,
                        answer: answer.answer.clone(),
                        question: q.into(),
                    })
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateApplication {
    pub template_name: String,
    pub answers: Vec<AnswerDto>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateApplication {
    pub answers: Vec<AnswerDto>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ProcessApplication {
    /// `ACCEPTED` or `REJECTED` (`UNPROCESSED` changes nothing).
    pub status: StatusDto,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserDto {
    pub id: UserIdDto,
    pub role: RoleDto,
    /// The `UNPROCESSED` application; absent when there is none.
    #[oai(skip_serializing_if_is_none)]
    pub current_application: Option<u32>,
    /// Ids of all applications: those with answers first, each by id.
    pub applications: Vec<u32>,
}

impl UserDto {
    pub fn new(user: &UserView, applications: &[ApplicationView]) -> Self {
        Self {
            id: (&user.id).into(),
            role: user.role.into(),
            current_application: applications
                .iter()
                .find(|a| a.status == ApplicationStatus::Unprocessed)
                .map(|a| a.id),
            applications: applications.iter().map(|a| a.id).collect(),
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateUser {
    pub user_id: UserIdDto,
    pub role: RoleDto,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateUserRole {
    pub role: RoleDto,
}

/// Whether a command changed anything.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Done {
    pub done: bool,
}

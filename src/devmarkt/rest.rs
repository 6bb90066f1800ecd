//! Devmarkt's REST endpoints (`/api/devmarkt/...`), documented in the
//! OpenAPI document: POST commands and GET read-model queries over the same
//! service, with the same `Authorization` header (`Self <jwt>` or
//! `Foreign <jwt> <type:number>`), role rules and input constraints as
//! GraphQL.
//!
//! Errors use the standard error body: 401 without a known caller, 403 for
//! a missing role (`details` names the required role), 422 for violated
//! constraints (`details` lists them), and domain failures with the
//! GraphQL `Failure` errors in `details` (404 for `NOT_FOUND` and
//! `TEMPLATE_NOT_FOUND`, 409 for conflicts with stored data, 422 for
//! answer errors).

mod checks;
mod dto;

use super::auth::Caller;
use super::service::ServiceError;
use super::Devmarkt;
use crate::http::error::{ApiError, ErrorKind, ACCESS_DENIED, CONFLICT, INVALID_PAYLOAD, NOT_FOUND, UNAUTHENTICATED};
use aggregates::devmarkt::template::{Failure, FailureError};
use aggregates::devmarkt::user::{Role, UserId};
use dto::*;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};
use serde_json::json;
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// Devmarkt: templates, applications, users.
    Devmarkt,
}

pub struct RestApi {
    pub devmarkt: Arc<Devmarkt>,
}

type Result<T> = std::result::Result<Json<T>, ApiError>;

fn service_error(error: ServiceError) -> ApiError {
    match error {
        ServiceError::Conflict => ApiError::new(CONFLICT),
        ServiceError::Invalid(message) => ApiError::with_details(INVALID_PAYLOAD, Some(vec![json!(message)])),
        ServiceError::Store(cause) => ApiError::unavailable(cause),
    }
}

/// A domain failure as an HTTP error, its errors in `details`.
fn failure(failure: Failure) -> ApiError {
    let kind: ErrorKind = match failure.errors.first() {
        Some(FailureError::NotFound | FailureError::TemplateNotFound) => NOT_FOUND,
        Some(
            FailureError::Duplicated
            | FailureError::HasUnprocessedApplication
            | FailureError::AdminUserCantBeModified
            | FailureError::AlreadyAccepted,
        ) => CONFLICT,
        _ => INVALID_PAYLOAD,
    };
    let details = failure
        .errors
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or_default())
        .collect();
    ApiError::with_details(kind, Some(details))
}

fn outcome<T, D>(
    result: std::result::Result<std::result::Result<T, Failure>, ServiceError>,
    to: impl FnOnce(&T) -> D,
) -> Result<D> {
    match result.map_err(service_error)? {
        Ok(value) => Ok(Json(to(&value))),
        Err(refusal) => Err(failure(refusal)),
    }
}

impl RestApi {
    /// The epoch and the caller, who must hold `role` (`ADMIN` may all).
    async fn caller(
        &self,
        authorization: &Header<Option<String>>,
        role: Role,
    ) -> std::result::Result<(u64, Caller), ApiError> {
        let epoch = self.devmarkt.prepare().await.map_err(service_error)?;
        let caller = self
            .devmarkt
            .resolve(epoch, authorization.0.as_deref())
            .await
            .map_err(service_error)?
            .ok_or_else(|| ApiError::new(UNAUTHENTICATED))?;
        let allowed = caller.role == Role::Admin || (role == Role::User && caller.role == Role::User);
        if !allowed {
            return Err(ApiError::with_details(
                ACCESS_DENIED,
                Some(vec![json!({"requiredRole": role.name()})]),
            ));
        }
        Ok((epoch, caller))
    }

    /// The ownership gate (spec 8.5): admins pass, others need to own `id`.
    async fn owner_gate(&self, epoch: u64, caller: &Caller, id: u32) -> std::result::Result<bool, ApiError> {
        if caller.role == Role::Admin {
            return Ok(true);
        }
        self.devmarkt
            .owns_application(epoch, &caller.id, id)
            .await
            .map_err(service_error)
    }

    async fn user_dto(&self, epoch: u64, id: &UserId) -> Result<UserDto> {
        let reader = self.devmarkt.reader(epoch);
        let user = reader
            .user(id)
            .await
            .map_err(ApiError::unavailable)?
            .ok_or_else(|| failure(FailureError::NotFound.into()))?;
        let applications = reader.applications_of(id).await.map_err(ApiError::unavailable)?;
        Ok(Json(UserDto::new(&user, &applications)))
    }
}

#[OpenApi(prefix_path = "/api/devmarkt", tag = "Tag::Devmarkt")]
impl RestApi {
    /// Every role, most powerful first.
    #[oai(path = "/roles", method = "get")]
    async fn roles(&self) -> Json<Vec<String>> {
        Json(Role::ALL.iter().map(|r| r.name().to_owned()).collect())
    }

    /// Enabled templates, sorted by name (role USER).
    #[oai(path = "/templates", method = "get")]
    async fn templates(&self, #[oai(name = "Authorization")] auth: Header<Option<String>>) -> Result<Vec<TemplateDto>> {
        let (epoch, _) = self.caller(&auth, Role::User).await?;
        let templates = self
            .devmarkt
            .reader(epoch)
            .templates()
            .await
            .map_err(ApiError::unavailable)?;
        Ok(Json(templates.iter().map(TemplateDto::from).collect()))
    }

    /// The enabled template of that name (role USER).
    #[oai(path = "/templates/:name", method = "get")]
    async fn template(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        name: Path<String>,
    ) -> Result<TemplateDto> {
        let (epoch, _) = self.caller(&auth, Role::User).await?;
        let template = self
            .devmarkt
            .reader(epoch)
            .template(&name.0)
            .await
            .map_err(ApiError::unavailable)?;
        template
            .map(|t| Json(TemplateDto::from(&t)))
            .ok_or_else(|| failure(FailureError::NotFound.into()))
    }

    /// Creates a template (role ADMIN).
    #[oai(path = "/templates", method = "post")]
    async fn create_template(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        body: Json<CreateTemplate>,
    ) -> Result<TemplateDto> {
        checks::create_template(&body.0)?;
        let (epoch, _) = self.caller(&auth, Role::Admin).await?;
        let questions = body.questions.iter().map(QuestionDto::to_question).collect();
        outcome(self.devmarkt.create_template(epoch, &body.name, questions).await, |t| {
            TemplateDto::from(t)
        })
    }

    /// Applies `updateTemplate`'s actions, optionally renaming (role ADMIN).
    #[oai(path = "/templates/:name/update", method = "post")]
    async fn update_template(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        name: Path<String>,
        body: Json<UpdateTemplate>,
    ) -> Result<TemplateDto> {
        checks::update_template(&name.0, &body.0)?;
        let (epoch, _) = self.caller(&auth, Role::Admin).await?;
        let updates = body.questions.iter().map(QuestionDto::to_update).collect();
        outcome(
            self.devmarkt
                .update_template(epoch, &name.0, body.name.as_deref(), updates)
                .await,
            |t| TemplateDto::from(t),
        )
    }

    /// Disables the template (role ADMIN); `done: false` when there was none.
    #[oai(path = "/templates/:name/delete", method = "post")]
    async fn delete_template(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        name: Path<String>,
    ) -> Result<Done> {
        let (epoch, _) = self.caller(&auth, Role::Admin).await?;
        let done = self
            .devmarkt
            .delete_template(epoch, &name.0)
            .await
            .map_err(service_error)?;
        Ok(Json(Done { done }))
    }

    /// An application (role USER, own applications only unless ADMIN).
    #[oai(path = "/applications/:id", method = "get")]
    async fn application(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        id: Path<u32>,
    ) -> Result<ApplicationDto> {
        let (epoch, caller) = self.caller(&auth, Role::User).await?;
        let application = if self.owner_gate(epoch, &caller, id.0).await? {
            self.devmarkt
                .reader(epoch)
                .application(id.0)
                .await
                .map_err(ApiError::unavailable)?
        } else {
            None
        };
        application
            .map(|a| Json(ApplicationDto::from(&a)))
            .ok_or_else(|| failure(FailureError::NotFound.into()))
    }

    /// Creates the caller's application (role USER).
    #[oai(path = "/applications", method = "post")]
    async fn create_application(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        body: Json<CreateApplication>,
    ) -> Result<ApplicationDto> {
        checks::answers(&body.answers)?;
        let (epoch, caller) = self.caller(&auth, Role::User).await?;
        let answers = body.answers.iter().map(AnswerDto::to_answer).collect();
        outcome(
            self.devmarkt
                .create_application(epoch, &caller.id, &body.template_name, answers)
                .await,
            |a| ApplicationDto::from(a),
        )
    }

    /// Replaces answers of an application (role USER, own only unless ADMIN).
    #[oai(path = "/applications/:id/update", method = "post")]
    async fn update_application(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        id: Path<u32>,
        body: Json<UpdateApplication>,
    ) -> Result<ApplicationDto> {
        checks::answers(&body.answers)?;
        let (epoch, caller) = self.caller(&auth, Role::User).await?;
        if !self.owner_gate(epoch, &caller, id.0).await? {
            return Err(failure(FailureError::NotFound.into()));
        }
        let answers = body.answers.iter().map(AnswerDto::to_answer).collect();
        outcome(self.devmarkt.update_application(epoch, id.0, answers).await, |a| {
            ApplicationDto::from(a)
        })
    }

    /// Accepts or rejects an application (role ADMIN).
    #[oai(path = "/applications/:id/process", method = "post")]
    async fn process_application(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        id: Path<u32>,
        body: Json<ProcessApplication>,
    ) -> Result<Done> {
        let (epoch, _) = self.caller(&auth, Role::Admin).await?;
        let done = self
            .devmarkt
            .process_application(epoch, id.0, body.status.into())
            .await
            .map_err(service_error)?;
        Ok(Json(Done { done }))
    }

    /// Deletes an application (role USER, own only unless ADMIN).
    #[oai(path = "/applications/:id/delete", method = "post")]
    async fn delete_application(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        id: Path<u32>,
    ) -> Result<Done> {
        let (epoch, caller) = self.caller(&auth, Role::User).await?;
        if !self.owner_gate(epoch, &caller, id.0).await? {
            return Ok(Json(Done { done: false }));
        }
        let done = self
            .devmarkt
            .delete_application(epoch, id.0)
            .await
            .map_err(service_error)?;
        Ok(Json(Done { done }))
    }

    /// A user (role ADMIN).
    #[oai(path = "/users/:type/:number", method = "get")]
    async fn user(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        #[oai(name = "type")] id_type: Path<String>,
        number: Path<i64>,
    ) -> Result<UserDto> {
        let (epoch, _) = self.caller(&auth, Role::Admin).await?;
        self.user_dto(epoch, &UserId::new(id_type.0, number.0)).await
    }

    /// A user's applications (role ADMIN), those with answers first.
    #[oai(path = "/users/:type/:number/applications", method = "get")]
    async fn user_applications(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        #[oai(name = "type")] id_type: Path<String>,
        number: Path<i64>,
    ) -> Result<Vec<ApplicationDto>> {
        let (epoch, _) = self.caller(&auth, Role::Admin).await?;
        let id = UserId::new(id_type.0, number.0);
        let reader = self.devmarkt.reader(epoch);
        if reader.user(&id).await.map_err(ApiError::unavailable)?.is_none() {
            return Err(failure(FailureError::NotFound.into()));
        }
        let applications = reader.applications_of(&id).await.map_err(ApiError::unavailable)?;
        Ok(Json(applications.iter().map(ApplicationDto::from).collect()))
    }

    /// Creates a user (role ADMIN).
    #[oai(path = "/users", method = "post")]
    async fn create_user(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        body: Json<CreateUser>,
    ) -> Result<UserDto> {
        checks::user_type(&body.user_id.id_type)?;
        let (epoch, _) = self.caller(&auth, Role::Admin).await?;
        let id = body.user_id.to_user_id();
        if let Err(refusal) = self
            .devmarkt
            .create_user(epoch, &id, body.role.into())
            .await
            .map_err(service_error)?
        {
            return Err(failure(refusal));
        }
        self.user_dto(epoch, &id).await
    }

    /// Changes a user's role (role ADMIN).
    #[oai(path = "/users/:type/:number/update", method = "post")]
    async fn update_user_role(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        #[oai(name = "type")] id_type: Path<String>,
        number: Path<i64>,
        body: Json<UpdateUserRole>,
    ) -> Result<UserDto> {
        let (epoch, _) = self.caller(&auth, Role::Admin).await?;
        let id = UserId::new(id_type.0, number.0);
        if let Err(refusal) = self
            .devmarkt
            .update_user_role(epoch, &id, body.role.into())
            .await
            .map_err(service_error)?
        {
            return Err(failure(refusal));
        }
        self.user_dto(epoch, &id).await
    }

    /// Deletes a user and its applications (role ADMIN); never `internal:1`.
    #[oai(path = "/users/:type/:number/delete", method = "post")]
    async fn delete_user(
        &self,
        #[oai(name = "Authorization")] auth: Header<Option<String>>,
        #[oai(name = "type")] id_type: Path<String>,
        number: Path<i64>,
    ) -> Result<Done> {
        let (epoch, _) = self.caller(&auth, Role::Admin).await?;
        let done = self
            .devmarkt
            .delete_user(epoch, &UserId::new(id_type.0, number.0))
            .await
            .map_err(service_error)?;
        Ok(Json(Done { done }))
    }
}

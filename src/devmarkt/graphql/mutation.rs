//! `Mutation` (spec 5, 9.6–9.16). Constraints first, then the gates, then
//! the service; domain refusals come back as `Failure` data.

use super::directives;
use super::gate::{authenticated, require, Constraints, Step};
use super::scalars::{ApplicationIdScalar, TemplateName};
use super::types::{
    AnswerInput, ApplicationObject, ApplicationResponse, ApplicationStatus, FailureObject, QuestionInput, Role,
    TemplateInput, TemplateObject, TemplateResponse, UserIdInput, UserObject, UserResponse,
};
use super::{devmarkt, epoch, internal, nullable};
use crate::devmarkt::service::Outcome;
use crate::devmarkt::views::{ApplicationView, TemplateView, UserView};
use aggregates::devmarkt::template::{Failure, FailureError, QuestionUpdate};
use aggregates::devmarkt::user::Role as DomainRole;
use async_graphql::{Context, Object, Result};

pub struct Mutation;

fn template_response(outcome: Outcome<TemplateView>) -> Result<Option<TemplateResponse>> {
    Ok(Some(match outcome.map_err(internal)? {
        Ok(view) => TemplateResponse::Template(TemplateObject(view)),
        Err(failure) => TemplateResponse::Failure(failure.into()),
    }))
}

fn user_response(outcome: Outcome<UserView>, epoch: u64) -> Result<Option<UserResponse>> {
    Ok(Some(match outcome.map_err(internal)? {
        Ok(view) => UserResponse::User(UserObject { view, epoch }),
        Err(failure) => UserResponse::Failure(failure.into()),
    }))
}

/// The user mutations' gates in the spec's order: the `userId` constraints
/// (false: a violation was reported and the field is null), then the admin role.
fn admin_on_user(ctx: &Context<'_>, user_id: &UserIdInput) -> Result<bool> {
    let mut constraints = Constraints::new(ctx);
    constraints.user_id(&[Step::Key("userId")], user_id);
    if !constraints.passed() {
        return Ok(false);
    }
    require(ctx, "Mutation", DomainRole::Admin)?;
    Ok(true)
}

fn application_response(outcome: Outcome<ApplicationView>, epoch: u64) -> Result<Option<ApplicationResponse>> {
    Ok(Some(match outcome.map_err(internal)? {
        Ok(view) => ApplicationResponse::Application(ApplicationObject { view, epoch }),
        Err(failure) => ApplicationResponse::Failure(failure.into()),
    }))
}

fn answers_checked(constraints: &mut Constraints<'_, '_>, argument: &str, answers: &[AnswerInput]) {
    for (index, answer) in answers.iter().enumerate() {
        constraints.answer(&[Step::Key(argument), Step::Index(index)], &answer.answer);
    }
}

/// The ownership gate (spec 8.5): `Ok(true)` to go on; `Ok(false)` when the
/// caller may not see the application (the field answers `NOT_FOUND`/`false`).
async fn own_application(ctx: &Context<'_>, id: ApplicationIdScalar) -> Result<bool> {
    let caller = authenticated(ctx)?;
    if caller.role == DomainRole::Admin {
        return Ok(true);
    }
    devmarkt(ctx)?
        .owns_application(epoch(ctx), &caller.id, id.0)
        .await
        .map_err(internal)
}

#[Object(name = "Mutation")]
impl Mutation {
    /// `@Auth(role: "admin")`
    #[graphql(directive = directives::auth::apply(directives::admin()))]
    async fn create_template(
        &self,
        ctx: &Context<'_>,
        name: TemplateName,
        #[graphql(directive = directives::container_size::apply(
            1,
            25,
            "graphql.validation.ContainerSize.message".to_owned()
        ))]
        questions: Vec<QuestionInput>,
    ) -> Result<Option<TemplateResponse>> {
        nullable(
            ctx,
            async {
                let mut constraints = Constraints::new(ctx);
                constraints.container_size(&[Step::Key("questions")], questions.len(), 1, 25);
                for (index, question) in questions.iter().enumerate() {
                    constraints.question(&[Step::Key("questions"), Step::Index(index)], question);
                }
                if !constraints.passed() {
                    return Ok(None);
                }
                require(ctx, "Mutation", DomainRole::Admin)?;
                let questions = questions.iter().map(QuestionInput::to_question).collect();
                template_response(devmarkt(ctx)?.create_template(epoch(ctx), &name.0, questions).await)
            }
            .await,
        )
    }

    /// `@Auth(role: "admin")`
    #[graphql(directive = directives::auth::apply(directives::admin()))]
    async fn delete_template(&self, ctx: &Context<'_>, name: TemplateName) -> Result<Option<bool>> {
        nullable(
            ctx,
            async {
                require(ctx, "Mutation", DomainRole::Admin)?;
                Ok(Some(
                    devmarkt(ctx)?
                        .delete_template(epoch(ctx), &name.0)
                        .await
                        .map_err(internal)?,
                ))
            }
            .await,
        )
    }

    /// `@Auth(role: "admin")`
    #[graphql(directive = directives::auth::apply(directives::admin()))]
    async fn update_template(
        &self,
        ctx: &Context<'_>,
        name: TemplateName,
        updated: TemplateInput,
    ) -> Result<Option<TemplateResponse>> {
        nullable(
            ctx,
            async {
                let mut constraints = Constraints::new(ctx);
                for (index, question) in updated.questions.iter().enumerate() {
                    constraints.question(
                        &[Step::Key("updated"), Step::Key("questions"), Step::Index(index)],
                        question,
                    );
                }
                if !constraints.passed() {
                    return Ok(None);
                }
                require(ctx, "Mutation", DomainRole::Admin)?;
                let updates = updated
                    .questions
                    .iter()
                    .map(|q| QuestionUpdate {
                        action: q.update_action.map(Into::into),
                        question: q.to_question(),
                    })
                    .collect();
                let new_name = updated.name.as_ref().map(|n| n.0.as_str());
                template_response(
                    devmarkt(ctx)?
                        .update_template(epoch(ctx), &name.0, new_name, updates)
                        .await,
                )
            }
            .await,
        )
    }

    /// `@Auth(role: "admin")`
    #[graphql(directive = directives::auth::apply(directives::admin()))]
    async fn create_user(&self, ctx: &Context<'_>, user_id: UserIdInput, role: Role) -> Result<Option<UserResponse>> {
        nullable(
            ctx,
            async {
                if !admin_on_user(ctx, &user_id)? {
                    return Ok(None);
                }
                let epoch = epoch(ctx);
                let outcome = devmarkt(ctx)?
                    .create_user(epoch, &user_id.to_user_id(), role.into())
                    .await;
                user_response(outcome, epoch)
            }
            .await,
        )
    }

    /// `@Auth(role: "admin")`
    #[graphql(directive = directives::auth::apply(directives::admin()))]
    async fn delete_user(&self, ctx: &Context<'_>, user_id: UserIdInput) -> Result<Option<bool>> {
        nullable(
            ctx,
            async {
                if !admin_on_user(ctx, &user_id)? {
                    return Ok(None);
                }
                let deleted = devmarkt(ctx)?
                    .delete_user(epoch(ctx), &user_id.to_user_id())
                    .await
                    .map_err(internal)?;
                Ok(Some(deleted))
            }
            .await,
        )
    }

    /// `@Auth(role: "admin")`
    #[graphql(directive = directives::auth::apply(directives::admin()))]
    async fn update_user_role(
        &self,
        ctx: &Context<'_>,
        user_id: UserIdInput,
        role: Role,
    ) -> Result<Option<UserResponse>> {
        nullable(
            ctx,
            async {
                if !admin_on_user(ctx, &user_id)? {
                    return Ok(None);
                }
                let epoch = epoch(ctx);
                let outcome = devmarkt(ctx)?
                    .update_user_role(epoch, &user_id.to_user_id(), role.into())
                    .await;
                user_response(outcome, epoch)
            }
            .await,
        )
    }

    /// `@Auth(role: "user")`
    #[graphql(directive = directives::auth::apply(directives::user()))]
    async fn create_application(
        &self,
        ctx: &Context<'_>,
        template_name: TemplateName,
        answers: Vec<AnswerInput>,
    ) -> Result<Option<ApplicationResponse>> {
        nullable(
            ctx,
            async {
                let mut constraints = Constraints::new(ctx);
                answers_checked(&mut constraints, "answers", &answers);
                if !constraints.passed() {
                    return Ok(None);
                }
                let caller = require(ctx, "Mutation", DomainRole::User)?;
                let epoch = epoch(ctx);
                let answers = answers.iter().map(AnswerInput::to_answer).collect();
                let outcome = devmarkt(ctx)?
                    .create_application(epoch, &caller.id, &template_name.0, answers)
                    .await;
                application_response(outcome, epoch)
            }
            .await,
        )
    }

    /// `@Auth(role: "user") @AuthOwnApplication(idField: "id")`
    #[graphql(directive = directives::auth::apply(directives::user()), directive = directives::auth_own_application::apply("id".to_owned()))]
    async fn delete_application(&self, ctx: &Context<'_>, id: ApplicationIdScalar) -> Result<Option<bool>> {
        nullable(
            ctx,
            async {
                if !own_application(ctx, id).await? {
                    return Ok(Some(false));
                }
                require(ctx, "Mutation", DomainRole::User)?;
                let deleted = devmarkt(ctx)?
                    .delete_application(epoch(ctx), id.0)
                    .await
                    .map_err(internal)?;
                Ok(Some(deleted))
            }
            .await,
        )
    }

    /// `@Auth(role: "user") @AuthOwnApplication(idField: "id")`
    #[graphql(directive = directives::auth::apply(directives::user()), directive = directives::auth_own_application::apply("id".to_owned()))]
    async fn update_application(
        &self,
        ctx: &Context<'_>,
        id: ApplicationIdScalar,
        updated_answers: Vec<AnswerInput>,
    ) -> Result<Option<ApplicationResponse>> {
        nullable(
            ctx,
            async {
                let mut constraints = Constraints::new(ctx);
                answers_checked(&mut constraints, "updatedAnswers", &updated_answers);
                if !constraints.passed() {
                    return Ok(None);
                }
                if !own_application(ctx, id).await? {
                    let failure: FailureObject = Failure::from(FailureError::NotFound).into();
                    return Ok(Some(ApplicationResponse::Failure(failure)));
                }
                require(ctx, "Mutation", DomainRole::User)?;
                let epoch = epoch(ctx);
                let answers = updated_answers.iter().map(AnswerInput::to_answer).collect();
                let outcome = devmarkt(ctx)?.update_application(epoch, id.0, answers).await;
                application_response(outcome, epoch)
            }
            .await,
        )
    }

    /// `@Auth(role: "admin")`
    #[graphql(directive = directives::auth::apply(directives::admin()))]
    async fn process_application(
        &self,
        ctx: &Context<'_>,
        id: ApplicationIdScalar,
        status: ApplicationStatus,
    ) -> Result<Option<bool>> {
        nullable(
            ctx,
            async {
                require(ctx, "Mutation", DomainRole::Admin)?;
                let processed = devmarkt(ctx)?
                    .process_application(epoch(ctx), id.0, status.into())
                    .await
                    .map_err(internal)?;
                Ok(Some(processed))
            }
            .await,
        )
    }
}

//! `Query` (spec 5, 9.1–9.5).

use super::directives;
use super::gate::{authenticated, require, Constraints, Step};
use super::scalars::{ApplicationIdScalar, TemplateName};
use super::types::{
    ApplicationObject, ApplicationResponse, FailureObject, TemplateObject, TemplateResponse, UserIdInput, UserObject,
    UserResponse,
};
use super::{devmarkt, epoch, internal, nullable};
use aggregates::devmarkt::template::{Failure, FailureError};
use aggregates::devmarkt::user::Role;
use async_graphql::{Context, Object, Result};

pub struct Query;

fn not_found() -> FailureObject {
    Failure::from(FailureError::NotFound).into()
}

#[Object(name = "Query")]
impl Query {
    /// Enabled templates sorted by name. `@Auth(role: "user")`
    #[graphql(directive = directives::auth::apply(directives::user()))]
    async fn templates(&self, ctx: &Context<'_>) -> Result<Option<Vec<TemplateObject>>> {
        nullable(
            ctx,
            async {
                require(ctx, "Query", Role::User)?;
                let templates = devmarkt(ctx)?.reader(epoch(ctx)).templates().await.map_err(internal)?;
                Ok(Some(templates.into_iter().map(TemplateObject).collect()))
            }
            .await,
        )
    }

    /// The enabled template of that name. `@Auth(role: "user")`
    #[graphql(directive = directives::auth::apply(directives::user()))]
    async fn template(&self, ctx: &Context<'_>, name: TemplateName) -> Result<Option<TemplateResponse>> {
        nullable(
            ctx,
            async {
                require(ctx, "Query", Role::User)?;
                let template = devmarkt(ctx)?
                    .reader(epoch(ctx))
                    .template(&name.0)
                    .await
                    .map_err(internal)?;
                Ok(Some(match template {
                    Some(template) => TemplateResponse::Template(TemplateObject(template)),
                    None => TemplateResponse::Failure(not_found()),
                }))
            }
            .await,
        )
    }

    /// `ADMIN`, `USER`, `NONE`. `@Auth(role: "admin")`
    #[graphql(directive = directives::auth::apply(directives::admin()))]
    async fn roles(&self, ctx: &Context<'_>) -> Result<Option<Vec<String>>> {
        nullable(
            ctx,
            async {
                require(ctx, "Query", Role::Admin)?;
                Ok(Some(Role::ALL.iter().map(|r| r.name().to_owned()).collect()))
            }
            .await,
        )
    }

    /// A user by id. `@Auth(role: "admin")`
    #[graphql(directive = directives::auth::apply(directives::admin()))]
    async fn user(&self, ctx: &Context<'_>, id: UserIdInput) -> Result<Option<UserResponse>> {
        nullable(
            ctx,
            async {
                let mut constraints = Constraints::new(ctx);
                constraints.user_id(&[Step::Key("id")], &id);
                if !constraints.passed() {
                    return Ok(None);
                }
                require(ctx, "Query", Role::Admin)?;
                let epoch = epoch(ctx);
                let user = devmarkt(ctx)?
                    .reader(epoch)
                    .user(&id.to_user_id())
                    .await
                    .map_err(internal)?;
                Ok(Some(match user {
                    Some(view) => UserResponse::User(UserObject { view, epoch }),
                    None => UserResponse::Failure(not_found()),
                }))
            }
            .await,
        )
    }

    /// An application by id. `@Auth(role: "user") @AuthOwnApplication(idField: "id")`
    #[graphql(directive = directives::auth::apply(directives::user()), directive = directives::auth_own_application::apply("id".to_owned()))]
    async fn application(&self, ctx: &Context<'_>, id: ApplicationIdScalar) -> Result<Option<ApplicationResponse>> {
        nullable(
            ctx,
            async {
                let caller = authenticated(ctx)?;
                let (devmarkt, epoch) = (devmarkt(ctx)?, epoch(ctx));
                if caller.role != Role::Admin
                    && !devmarkt
                        .owns_application(epoch, &caller.id, id.0)
                        .await
                        .map_err(internal)?
                {
                    return Ok(Some(ApplicationResponse::Failure(not_found())));
                }
                require(ctx, "Query", Role::User)?;
                let application = devmarkt.reader(epoch).application(id.0).await.map_err(internal)?;
                Ok(Some(match application {
                    Some(view) => ApplicationResponse::Application(ApplicationObject { view, epoch }),
                    None => ApplicationResponse::Failure(not_found()),
                }))
            }
            .await,
        )
    }
}

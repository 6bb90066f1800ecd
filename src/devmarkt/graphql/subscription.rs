//! `Subscription` (spec 5, 10): streams over the event-log feed. The role
//! gate runs when the subscription starts.

use super::directives;
use super::gate::require;
use super::scalars::ApplicationIdScalar;
use super::types::{ApplicationObject, ApplicationProcessEvent};
use super::{devmarkt, internal};
use crate::devmarkt::feed::FeedEvent;
use aggregates::devmarkt::user::Role;
use async_graphql::{Context, Result, Subscription as SubscriptionRoot};
use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast;

pub struct Subscription;

/// Every feed event from now on; a lagging subscriber skips what it missed.
fn events(receiver: broadcast::Receiver<FeedEvent>) -> impl Stream<Item = FeedEvent> {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) => return Some((event, receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// The feed for a caller holding `role`; it ends when the caller's role
/// changes or the caller is deleted (spec 10.3: the client gets `complete`
/// and subscribes again under its new role).
async fn feed(ctx: &Context<'_>, role: Role) -> Result<impl Stream<Item = FeedEvent>> {
    let caller = require(ctx, "Subscription", role)?.id.clone();
    let events = events(devmarkt(ctx)?.feed().await.map_err(internal)?);
    Ok(events.take_while(move |event| {
        let changed = matches!(event, FeedEvent::UserChanged { user } if *user == caller);
        std::future::ready(!changed)
    }))
}

#[SubscriptionRoot(name = "Subscription")]
impl Subscription {
    /// `@Auth(role: "admin")`
    #[graphql(directive = directives::auth::apply(directives::admin()))]
    async fn application_created(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = ApplicationObject>> {
        Ok(feed(ctx, Role::Admin).await?.filter_map(|event| async move {
            match event {
                FeedEvent::Created { epoch, view } => Some(ApplicationObject { view, epoch }),
                _ => None,
            }
        }))
    }

    /// `@Auth(role: "user")`
    #[graphql(directive = directives::auth::apply(directives::user()))]
    async fn application_deleted(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = ApplicationIdScalar>> {
        Ok(feed(ctx, Role::User).await?.filter_map(|event| async move {
            match event {
                FeedEvent::Deleted { id } => Some(ApplicationIdScalar(id)),
                _ => None,
            }
        }))
    }

    /// `@Auth(role: "user")`
    #[graphql(directive = directives::auth::apply(directives::user()))]
    async fn application_processed(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = ApplicationProcessEvent>> {
        Ok(feed(ctx, Role::User).await?.filter_map(|event| async move {
            match event {
                FeedEvent::Processed { id, status } => Some(ApplicationProcessEvent {
                    id: ApplicationIdScalar(id),
                    status: status.into(),
                }),
                _ => None,
            }
        }))
    }
}

//! The event-log tail behind subscriptions (spec 10).
//!
//! The reference broadcast in-process events; here one task per process
//! reads the global log from the head it found when the first subscriber
//! came, woken by this process's appends and polling for other instances'
//! (`PROJECTION_POLL_MS`), so every instance delivers every event whoever
//! wrote it. Like the reference, only events after a subscriber attached
//! reach it, and a subscriber that falls behind loses events rather than
//! holding up the others.

use super::service::{ServiceError, CASCADE_ACTOR};
use super::views::ApplicationView;
use super::Devmarkt;
use crate::event_store::{meta, EventRepository};
use aggregates::devmarkt::application::{ApplicationEvent, ApplicationId, ApplicationStatus};
use aggregates::devmarkt::user::{UserEvent, UserId};
use projections::devmarkt::keys;
use projections::{EventSource, RecordedEvent};
use std::time::Duration;
use tokio::sync::broadcast;

const BATCH: usize = 500;
const CAPACITY: usize = 1024;

/// What the subscriptions announce.
#[derive(Debug, Clone)]
pub enum FeedEvent {
    Created {
        epoch: u64,
        view: ApplicationView,
    },
    Processed {
        id: ApplicationId,
        status: ApplicationStatus,
    },
    Deleted {
        id: ApplicationId,
    },
    /// A user's role changed or the user was deleted: its subscriptions end
    /// (spec 10.3), so it subscribes again under its new role.
    UserChanged {
        user: UserId,
    },
}

impl Devmarkt {
    /// A receiver of every application event appended from now on.
    pub async fn feed(&self) -> Result<broadcast::Receiver<FeedEvent>, ServiceError> {
        let sender = self
            .feed
            .get_or_try_init(|| async {
                let head = self
                    .events
                    .head_position()
                    .await
                    .map_err(|e| ServiceError::Store(e.to_string()))?;
                let (sender, _) = broadcast::channel(CAPACITY);
                tokio::spawn(tail(self.events.clone(), head, sender.clone(), self.poll_interval));
                Ok::<_, ServiceError>(sender)
            })
            .await?;
        Ok(sender.subscribe())
    }
}

async fn tail(events: EventRepository, mut after: u64, sender: broadcast::Sender<FeedEvent>, poll: Duration) {
    let mut wake = events.appended();
    loop {
        match events.read_after(after, BATCH).await {
            Ok(batch) => {
                let full = batch.len() == BATCH;
                for event in batch {
                    after = event.position;
                    if let Some(announced) = decode(&event) {
                        // No subscriber right now is fine.
                        let _ = sender.send(announced);
                    }
                }
                if full {
                    continue;
                }
            }
            Err(error) => tracing::warn!(%error, "devmarkt feed: cannot read the event log"),
        }
        tokio::select! {
            changed = wake.changed() => if changed.is_err() { tokio::time::sleep(poll).await },
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

fn decode(event: &RecordedEvent) -> Option<FeedEvent> {
    if event.aggregate_type == "devmarkt-user" {
        return user_change(event);
    }
    if event.aggregate_type != "devmarkt-application" {
        return None;
    }
    let (epoch, natural) = keys::split(&event.aggregate_id)?;
    let id: ApplicationId = natural.parse().ok()?;
    match serde_json::from_value::<ApplicationEvent>(event.payload.clone()).ok()? {
        ApplicationEvent::Created(created) => Some(FeedEvent::Created {
            epoch,
            view: ApplicationView {
                id: created.id,
                owner: created.owner,
                status: ApplicationStatus::Unprocessed,
                template: created.template,
                answers: created.answers,
            },
        }),
        ApplicationEvent::Processed(processed) => Some(FeedEvent::Processed {
            id,
            status: processed.status.into(),
        }),
        // A `deleteUser` cascade is not announced (spec 9.10).
        ApplicationEvent::Deleted(_) if event.metadata.get(meta::ACTOR).map(String::as_str) == Some(CASCADE_ACTOR) => {
            None
        }
        ApplicationEvent::Deleted(_) => Some(FeedEvent::Deleted { id }),
        ApplicationEvent::AnswersUpdated(_) => None,
    }
}

fn user_change(event: &RecordedEvent) -> Option<FeedEvent> {
    let (_, natural) = keys::split(&event.aggregate_id)?;
    match serde_json::from_value::<UserEvent>(event.payload.clone()).ok()? {
        UserEvent::RoleUpdated(_) | UserEvent::Deleted(_) => Some(FeedEvent::UserChanged {
            user: UserId::parse_aggregate_id(natural)?,
        }),
        _ => None,
    }
}

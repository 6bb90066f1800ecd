//! The `devmarkt` projection.
//!
//! - `templates`: `<epoch>/<name>` → `{name, revision, questions}`, enabled templates only
//! - `applications`: `<epoch>/<id>` → `{id, owner: {type, number}, status, template: {name, revision,
//!   questions}, answers: [{number, answer}]}`
//! - `users`: `<epoch>/<type>:<number>` → `{id: {type, number}, role, applications: [id, …]}`
//! - `sequences`: `<epoch>` → `{lastApplicationId}`, the highest application id ever created (a
//!   hint for the service's id sequence; the aggregates decide)

use super::keys;
use crate::{ChangeSet, Projection, ProjectionError, RecordedEvent};
use aggregates::devmarkt::application::ApplicationEvent;
use aggregates::devmarkt::template::TemplateEvent;
use aggregates::devmarkt::user::UserEvent;
use async_trait::async_trait;
use serde_json::{json, Value};

pub const NAME: &str = "devmarkt";
pub const TEMPLATES: &str = "templates";
pub const APPLICATIONS: &str = "applications";
pub const USERS: &str = "users";
pub const SEQUENCES: &str = "sequences";

pub struct Devmarkt;

enum Input {
    Template(TemplateEvent),
    Application(ApplicationEvent),
    User(UserEvent),
}

fn decode(event: &RecordedEvent) -> Result<Option<Input>, ProjectionError> {
    let parsed = match event.aggregate_type.as_str() {
        "devmarkt-template" => serde_json::from_value(event.payload.clone()).map(Input::Template),
        "devmarkt-application" => serde_json::from_value(event.payload.clone()).map(Input::Application),
        "devmarkt-user" => serde_json::from_value(event.payload.clone()).map(Input::User),
        _ => return Ok(None),
    };
    parsed.map(Some).map_err(|e| ProjectionError::bad_event(event, e))
}

fn to_value<T: serde::Serialize>(event: &RecordedEvent, value: &T) -> Result<Value, ProjectionError> {
    serde_json::to_value(value).map_err(|e| ProjectionError::bad_event(event, e))
}

#[async_trait]
impl Projection for Devmarkt {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        1
    }

    async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        let Some(input) = decode(event)? else { return Ok(()) };
        let key = event.aggregate_id.as_str();
        let Some((epoch, _)) = keys::split(key) else {
            return Err(ProjectionError::bad_event(event, "aggregate id without an epoch"));
        };
        match input {
            Input::Template(e) => template(event, e, key, changes).await,
            Input::Application(e) => application(event, e, epoch, key, changes).await,
            Input::User(e) => user(event, e, key, changes).await,
        }
    }
}

async fn template(
    event: &RecordedEvent,
    e: TemplateEvent,
    key: &str,
    changes: &mut ChangeSet<'_>,
) -> Result<(), ProjectionError> {
    match e {
        TemplateEvent::Created(created) => {
            let doc = json!({
                "name": created.name,
                "revision": created.revision,
                "questions": to_value(event, &created.questions)?,
            });
            changes.put(TEMPLATES, key, doc);
        }
        TemplateEvent::Updated(updated) => {
            if let Some(mut doc) = changes.get(TEMPLATES, key).await? {
                doc["revision"] = json!(updated.revision);
                doc["questions"] = to_value(event, &updated.questions)?;
                changes.put(TEMPLATES, key, doc);
            }
        }
        TemplateEvent::Deleted(_) => changes.delete(TEMPLATES, key),
    }
    Ok(())
}

async fn application(
    event: &RecordedEvent,
    e: ApplicationEvent,
    epoch: u64,
    key: &str,
    changes: &mut ChangeSet<'_>,
) -> Result<(), ProjectionError> {
    match e {
        ApplicationEvent::Created(created) => {
            let owner_key = keys::aggregate_id(epoch, &created.owner);
            let doc = json!({
                "id": created.id,
                "owner": to_value(event, &created.owner)?,
                "status": "UNPROCESSED",
                "template": to_value(event, &created.template)?,
                "answers": to_value(event, &created.answers)?,
            });
            changes.put(APPLICATIONS, key, doc);
            if let Some(mut user) = changes.get(USERS, &owner_key).await? {
                if let Some(ids) = user["applications"].as_array_mut() {
                    ids.push(json!(created.id));
                }
                changes.put(USERS, &owner_key, user);
            }
            let sequence_key = epoch.to_string();
            let last = changes
                .get(SEQUENCES, &sequence_key)
                .await?
                .and_then(|d| d["lastApplicationId"].as_u64())
                .unwrap_or(0);
            changes.put(
                SEQUENCES,
                &sequence_key,
                json!({"lastApplicationId": last.max(u64::from(created.id))}),
            );
        }
        ApplicationEvent::AnswersUpdated(updated) => {
            let Some(mut doc) = changes.get(APPLICATIONS, key).await? else {
                return Ok(());
            };
            // Position `n` holds answer `n` (see the aggregate's state).
            if let Some(answers) = doc["answers"].as_array_mut() {
                for answer in updated.answers {
                    if let Some(stored) = answers.get_mut(answer.number as usize) {
                        stored["answer"] = json!(answer.answer);
                    }
                }
            }
            changes.put(APPLICATIONS, key, doc);
        }
        ApplicationEvent::Processed(processed) => {
            let Some(mut doc) = changes.get(APPLICATIONS, key).await? else {
                return Ok(());
            };
            doc["status"] = to_value(event, &processed.status)?;
            changes.put(APPLICATIONS, key, doc);
        }
        ApplicationEvent::Deleted(_) => {
            let Some(doc) = changes.get(APPLICATIONS, key).await? else {
                return Ok(());
            };
            changes.delete(APPLICATIONS, key);
            let owner_key = keys::aggregate_id(
                epoch,
                format!(
                    "{}:{}",
                    doc["owner"]["type"].as_str().unwrap_or_default(),
                    doc["owner"]["number"]
                ),
            );
            if let Some(mut user) = changes.get(USERS, &owner_key).await? {
                if let Some(ids) = user["applications"].as_array_mut() {
                    ids.retain(|id| *id != doc["id"]);
                }
                changes.put(USERS, &owner_key, user);
            }
        }
    }
    Ok(())
}

async fn user(
    event: &RecordedEvent,
    e: UserEvent,
    key: &str,
    changes: &mut ChangeSet<'_>,
) -> Result<(), ProjectionError> {
    match e {
        UserEvent::Created(created) => changes.put(
            USERS,
            key,
            json!({"id": to_value(event, &created.user_id)?, "role": to_value(event, &created.role)?, "applications": []}),
        ),
        UserEvent::RoleUpdated(updated) => {
            if let Some(mut doc) = changes.get(USERS, key).await? {
                doc["role"] = to_value(event, &updated.role)?;
                changes.put(USERS, key, doc);
            }
        }
        UserEvent::Deleted(_) => {
            // The reference cascades to the user's applications; the service
            // also deletes them on the command side, this keeps the read model
            // right even if that cascade was interrupted.
            if let Some(doc) = changes.get(USERS, key).await? {
                let epoch = keys::split(key).map_or(0, |(epoch, _)| epoch);
                for id in doc["applications"].as_array().into_iter().flatten() {
                    changes.delete(APPLICATIONS, &keys::aggregate_id(epoch, id));
                }
            }
            changes.delete(USERS, key);
        }
        UserEvent::CurrentApplicationClaimed(_) | UserEvent::CurrentApplicationReleased(_) => {}
    }
    Ok(())
}

//! `credibility`: the credibility rating and behaviour per identity
//! reference (spec 12.4), folded from the CVM events in log order.
//!
//! The original recomputed it in competing workers with read-modify-write
//! (lost updates, bug 30) and with the wall clock; here one projector applies
//! the events in order, with each event's own time, so a replay reproduces
//! exactly the same ratings.
//!
//! - collection `credibility`: reference → `{rating, behaviour|null, issuedAt}`
//! - collection `cvm-positions`: cvm id → `{longitude, latitude}` (votes carry no position)
//! - collections `stats-totals` and `stats-days` ([`counters`]): what the KMC
//!   identity statistics read

use super::{counters, decode, iso, occurred_at, Input};
use crate::{ChangeSet, Projection, ProjectionError, RecordedEvent};
use aggregates::kippenstummel::credibility::{recompute, Behaviour, CredibilityAction, INITIAL_RATING};
use aggregates::kippenstummel::cvm::CvmEvent;
use aggregates::kippenstummel::geo::Position;
use aggregates::kippenstummel::ident::IdentEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;

pub const NAME: &str = "credibility";
pub const CREDIBILITY: &str = "credibility";
pub const CVM_POSITIONS: &str = "cvm-positions";

/// Statistics counters ([`counters`]): identities and the sum of their
/// ratings in total, identities per day of issue.
pub const IDENTS: &str = "idents";
pub const RATING_SUM: &str = "ratingSum";

pub struct Credibility;

/// Adds (`sign` 1) or takes away (`sign` −1) an identity from the statistics.
async fn count_ident(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    issued_at: &str,
    rating: f64,
    sign: f64,
) -> Result<(), ProjectionError> {
    counters::add_total(changes, event, IDENTS, sign).await?;
    counters::add_total(changes, event, RATING_SUM, sign * rating).await?;
    counters::add_day(changes, event, issued_at, IDENTS, sign).await
}

async fn position_of(changes: &ChangeSet<'_>, cvm_id: &str) -> Result<Option<Position>, ProjectionError> {
    Ok(changes
        .get(CVM_POSITIONS, cvm_id)
        .await?
        .and_then(|d| serde_json::from_value(d).ok()))
}

fn put_position(changes: &mut ChangeSet<'_>, cvm_id: &str, position: Position) {
    changes.put(
        CVM_POSITIONS,
        cvm_id,
        json!({"longitude": position.longitude, "latitude": position.latitude}),
    );
}

async fn interact(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    reference: &str,
    action: CredibilityAction,
    position: Position,
) -> Result<(), ProjectionError> {
    let Some(doc) = changes.get(CREDIBILITY, reference).await? else {
        return Ok(()); // unknown or erased identity
    };
    let stored: Option<Behaviour> = match &doc["behaviour"] {
        serde_json::Value::Null => None,
        b => Some(serde_json::from_value(b.clone()).map_err(|e| ProjectionError::bad_event(event, e))?),
    };
    let issued_at: DateTime<Utc> = doc["issuedAt"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ProjectionError::bad_event(event, "stored credibility has no issuedAt"))?;
    let previous = doc["rating"].as_f64().unwrap_or(INITIAL_RATING);
    let next = recompute(stored, previous, action, position, issued_at, occurred_at(event));
    counters::add_total(changes, event, RATING_SUM, next.rating - previous).await?;
    changes.put(
        CREDIBILITY,
        reference,
        json!({"rating": next.rating, "behaviour": next.behaviour, "issuedAt": doc["issuedAt"]}),
    );
    Ok(())
}

#[async_trait]
impl Projection for Credibility {
    fn name(&self) -> &'static str {
        NAME
    }

    /// 2: statistics counters.
    fn version(&self) -> u32 {
        2
    }

    async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        match decode(event)? {
            Input::Ident(IdentEvent::IdentRegistered { issued_at }) => {
                let issued_at = iso(issued_at);
                count_ident(changes, event, &issued_at, INITIAL_RATING, 1.0).await?;
                changes.put(
                    CREDIBILITY,
                    &event.aggregate_id,
                    json!({"rating": INITIAL_RATING, "behaviour": null, "issuedAt": issued_at}),
                );
            }
            Input::Ident(IdentEvent::IdentErased {}) => {
                if let Some(doc) = changes.get(CREDIBILITY, &event.aggregate_id).await? {
                    let issued_at = doc["issuedAt"].as_str().unwrap_or_default();
                    let rating = doc["rating"].as_f64().unwrap_or(INITIAL_RATING);
                    count_ident(changes, event, issued_at, rating, -1.0).await?;
                }
                changes.delete(CREDIBILITY, &event.aggregate_id);
            }
            Input::Cvm(CvmEvent::Registered(e)) => {
                put_position(changes, &e.cvm_id, e.position);
                interact(
                    changes,
                    event,
                    &e.creator_identity,
                    CredibilityAction::Registration,
                    e.position,
                )
                .await?;
            }
            Input::Cvm(CvmEvent::Imported(e)) => put_position(changes, &e.cvm_id, e.position),
            Input::Cvm(CvmEvent::Repositioned(e)) => put_position(changes, &e.cvm_id, e.repositioned_position),
            Input::Cvm(CvmEvent::Synchronized(e)) => {
                if let Some(current) = position_of(changes, &e.cvm_id).await? {
                    put_position(changes, &e.cvm_id, e.position.over(current));
                }
            }
            Input::Cvm(CvmEvent::Upvoted(e)) | Input::Cvm(CvmEvent::Downvoted(e)) => {
                let action = if event.event_type == "cvm-upvoted" {
                    CredibilityAction::Upvote
                } else {
                    CredibilityAction::Downvote
                };
                if let Some(position) = position_of(changes, &e.cvm_id).await? {
                    interact(changes, event, &e.voter_identity, action, position).await?;
                }
            }
            Input::Cvm(_) | Input::Other => {}
        }
        Ok(())
    }
}

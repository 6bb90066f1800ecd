//! Kippenstummel read models built from the event log.
//!
//! Everything identity-related is keyed by the identity *reference* the
//! events carry, never by the identity: the service translates between the
//! two through the identity documents, so deleting an identity document
//! leaves nothing here that points to a person, before or after a replay.

pub mod counters;
pub mod credibility;
pub mod cvms;
pub mod job_runs;
pub mod karma;
pub mod tiles;
pub mod usage;

use crate::{ProjectionError, RecordedEvent};
use aggregates::kippenstummel::cvm::CvmEvent;
use aggregates::kippenstummel::ident::IdentEvent;
use chrono::{DateTime, Utc};

/// The events these projections understand.
pub(crate) enum Input {
    Ident(IdentEvent),
    Cvm(CvmEvent),
    Other,
}

pub(crate) fn decode(event: &RecordedEvent) -> Result<Input, ProjectionError> {
    let parsed = match event.aggregate_type.as_str() {
        "ident" => serde_json::from_value(event.payload.clone()).map(Input::Ident),
        "cvm" => serde_json::from_value(event.payload.clone()).map(Input::Cvm),
        _ => return Ok(Input::Other),
    };
    parsed.map_err(|e| ProjectionError::bad_event(event, e))
}

/// When the command behind the event was handled (falls back to when it was stored).
pub(crate) fn occurred_at(event: &RecordedEvent) -> DateTime<Utc> {
    event
        .metadata
        .get("occurred_at")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(event.recorded_at, |t| t.with_timezone(&Utc))
}

pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

//! cqrs-es `EventStore` over our repository, with snapshots that are right.
//!
//! cqrs-es 0.5's own snapshot store applies each new event twice (once in
//! `EventSink::write` during `handle`, again when it builds the snapshot), so
//! its snapshots drift from the event stream. Here the context keeps the
//! state as it was *loaded*; a snapshot is that state plus the new events,
//! applied once, and it is written in the same atomic append as the events.

use super::{EventRepository, Upcasters};
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventEnvelope, EventStore};
use serde_json::Value;
use std::collections::HashMap;
use std::marker::PhantomData;

pub struct AggregateStore<A> {
    repository: EventRepository,
    /// Take a snapshot once this many events were appended since the last
    /// one (0: never).
    snapshot_every: usize,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A> AggregateStore<A> {
    pub fn new(repository: EventRepository, snapshot_every: usize) -> Self {
        Self {
            repository,
            snapshot_every,
            _aggregate: PhantomData,
        }
    }

    fn upcasters(&self) -> &Upcasters {
        self.repository.upcasters()
    }
}

pub struct StoreContext<A> {
    pub aggregate_id: String,
    pub aggregate: A,
    /// Sequence of the last event applied to `aggregate`.
    pub current_sequence: usize,
    /// State as loaded, before `handle` touched it (only kept when snapshots are on).
    loaded_state: Option<Value>,
    snapshot_sequence: usize,
    snapshot_no: usize,
}

impl<A: Aggregate> AggregateContext<A> for StoreContext<A> {
    fn aggregate(&mut self) -> &mut A {
        &mut self.aggregate
    }
}

fn envelopes<A: Aggregate>(
    events: Vec<SerializedEvent>,
    upcasters: &Upcasters,
) -> Result<Vec<EventEnvelope<A>>, PersistenceError> {
    events
        .into_iter()
        .map(|e| EventEnvelope::<A>::try_from(super::upcast(upcasters, e)))
        .collect()
}

impl<A: Aggregate> EventStore<A> for AggregateStore<A> {
    type AC = StoreContext<A>;

    async fn load_events(&self, aggregate_id: &str) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let events = self.repository.stream_of(A::TYPE, aggregate_id, 0).await?;
        Ok(envelopes(events, self.upcasters())?)
    }

    async fn load_aggregate(&self, aggregate_id: &str) -> Result<StoreContext<A>, AggregateError<A::Error>> {
        let snapshot = if self.snapshot_every > 0 {
            self.repository.snapshot(A::TYPE, aggregate_id).await?
        } else {
            None
        };
        // A snapshot that no longer deserializes (state shape changed) is
        // ignored: the aggregate is rebuilt from all events instead.
        let (mut aggregate, snapshot_sequence, snapshot_no) = snapshot
            .and_then(|s| {
                serde_json::from_value::<A>(s.aggregate)
                    .ok()
                    .map(|a| (a, s.current_sequence, s.current_snapshot))
            })
            .unwrap_or_default();
        let events = self
            .repository
            .stream_of(A::TYPE, aggregate_id, snapshot_sequence as u64)
            .await?;
        let mut current_sequence = snapshot_sequence;
        for envelope in envelopes::<A>(events, self.upcasters())? {
            current_sequence = envelope.sequence;
            aggregate.apply(envelope.payload);
        }
        let loaded_state = if self.snapshot_every > 0 {
            Some(serde_json::to_value(&aggregate).map_err(PersistenceError::from)?)
        } else {
            None
        };
        Ok(StoreContext {
            aggregate_id: aggregate_id.to_owned(),
            aggregate,
            current_sequence,
            loaded_state,
            snapshot_sequence,
            snapshot_no,
        })
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: StoreContext<A>,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let envelopes: Vec<EventEnvelope<A>> = events
            .into_iter()
            .zip(context.current_sequence + 1..)
            .map(|(payload, sequence)| EventEnvelope {
                aggregate_id: context.aggregate_id.clone(),
                sequence,
                payload,
                metadata: metadata.clone(),
            })
            .collect();
        if envelopes.is_empty() {
            return Ok(envelopes);
        }
        let serialized = envelopes
            .iter()
            .map(SerializedEvent::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let last_sequence = context.current_sequence + envelopes.len();
        let snapshot = match context.loaded_state {
            Some(loaded) if last_sequence - context.snapshot_sequence >= self.snapshot_every => {
                let mut state: A = serde_json::from_value(loaded).map_err(PersistenceError::from)?;
                for envelope in &envelopes {
                    state.apply(envelope.payload.clone());
                }
                let state = serde_json::to_value(&state).map_err(PersistenceError::from)?;
                Some(super::SnapshotWrite {
                    aggregate_id: context.aggregate_id.clone(),
                    state,
                    last_sequence: last_sequence as u64,
                    snapshot_no: context.snapshot_no as u64 + 1,
                })
            }
            _ => None,
        };
        self.repository.append(A::TYPE, &serialized, snapshot).await?;
        Ok(envelopes)
    }
}

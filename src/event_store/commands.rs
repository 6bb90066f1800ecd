//! The command side: run a command against an aggregate, stamp metadata,
//! retry a bounded number of times on optimistic-concurrency conflicts.

use super::{meta, AggregateStore, EventRepository};
use chrono::{DateTime, Utc};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework};
use std::collections::HashMap;

/// Who did it and why, stamped on every event a command appends.
#[derive(Debug, Clone)]
pub struct CommandMetadata {
    pub correlation_id: String,
    /// Erasable reference to the acting identity, when there is one.
    pub actor: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl CommandMetadata {
    pub fn new(correlation_id: impl Into<String>, actor: Option<String>, occurred_at: DateTime<Utc>) -> Self {
        Self {
            correlation_id: correlation_id.into(),
            actor,
            occurred_at,
        }
    }

    fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::from([
            (meta::CORRELATION_ID.to_owned(), self.correlation_id.clone()),
            (
                meta::OCCURRED_AT.to_owned(),
                self.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
        ]);
        if let Some(actor) = &self.actor {
            map.insert(meta::ACTOR.to_owned(), actor.clone());
        }
        map
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The aggregate refused the command.
    #[error(transparent)]
    Rejected(E),
    /// Still conflicting after every retry: the caller answers 409.
    #[error("the aggregate kept changing concurrently ({attempts} attempts)")]
    Conflict { attempts: u32 },
    #[error("event store: {0}")]
    Store(String),
}

pub struct CommandBus<A: Aggregate> {
    framework: CqrsFramework<A, AggregateStore<A>>,
    repository: EventRepository,
    max_attempts: u32,
    metrics: crate::metrics::Metrics,
}

impl<A: Aggregate> CommandBus<A> {
    pub fn new(
        repository: EventRepository,
        snapshot_every: usize,
        max_attempts: u32,
        services: A::Services,
        metrics: crate::metrics::Metrics,
    ) -> Self {
        let store = AggregateStore::new(repository.clone(), snapshot_every);
        Self {
            repository,
            framework: CqrsFramework::new(store, Vec::new(), services),
            max_attempts: max_attempts.max(1),
            metrics,
        }
    }

    /// Runs `command` on the aggregate `id`. A conflict (another command on
    /// the same aggregate committed first) reloads and retries, up to
    /// `max_attempts` in all.
    pub async fn execute(
        &self,
        id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
    ) -> Result<(), CommandError<A::Error>>
    where
        A::Command: Clone,
    {
        let started = std::time::Instant::now();
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            match self
                .framework
                .execute_with_metadata(id, command.clone(), metadata.to_map())
                .await
            {
                Ok(()) => break Ok(()),
                Err(AggregateError::UserError(e)) => break Err(CommandError::Rejected(e)),
                Err(AggregateError::AggregateConflict) if attempt < self.max_attempts => {
                    self.metrics.command_conflicts.with_label_values(&[A::TYPE]).inc();
                }
                Err(AggregateError::AggregateConflict) => break Err(CommandError::Conflict { attempts: attempt }),
                Err(other) => break Err(CommandError::Store(other.to_string())),
            }
        };
        let result = match &outcome {
            Ok(()) => "ok",
            Err(CommandError::Rejected(_)) => "rejected",
            Err(CommandError::Conflict { .. }) => "conflict",
            Err(CommandError::Store(_)) => "error",
        };
        self.metrics
            .command_seconds
            .with_label_values(&[A::TYPE, result])
            .observe(started.elapsed().as_secs_f64());
        outcome
    }

    /// Runs one command on each of several aggregates that have no events
    /// yet (fresh ids) and appends all their events in one atomic append: a
    /// bulk import costs one transaction per batch instead of a load, a
    /// handle and an append per machine. Returns the ids whose command the
    /// aggregate refused (nothing is written for them). An id that turns out
    /// to exist fails the whole append with nothing written (`Conflict`).
    pub async fn create_many(
        &self,
        commands: Vec<(String, A::Command)>,
        metadata: &CommandMetadata,
    ) -> Result<Vec<(String, A::Error)>, CommandError<A::Error>>
    where
        A::Services: Default,
    {
        let services = A::Services::default();
        let map = metadata.to_map();
        let mut refused = Vec::new();
        let mut serialized = Vec::new();
        for (id, command) in commands {
            let mut aggregate = A::default();
            let sink = cqrs_es::event_sink::EventSink::default();
            if let Err(e) = aggregate.handle(command, &services, &sink).await {
                refused.push((id, e));
                continue;
            }
            for (sequence, payload) in sink.collect().await.into_iter().enumerate() {
                let envelope = cqrs_es::EventEnvelope::<A> {
                    aggregate_id: id.clone(),
                    sequence: sequence + 1,
                    payload,
                    metadata: map.clone(),
                };
                serialized.push(
                    cqrs_es::persist::SerializedEvent::try_from(&envelope)
                        .map_err(|e| CommandError::Store(e.to_string()))?,
                );
            }
        }
        match self.repository.append(A::TYPE, &serialized, None).await {
            Ok(_) => Ok(refused),
            Err(cqrs_es::persist::PersistenceError::OptimisticLockError) => Err(CommandError::Conflict { attempts: 1 }),
            Err(other) => Err(CommandError::Store(other.to_string())),
        }
    }
}

//! `stummel loadgen`: appends synthetic `probe` events through the real
//! command path (load, handle, append with optimistic concurrency, retries)
//! to measure throughput and projector lag, and to crash-test the store.
//! The events land in the configured store under their own aggregate type,
//! which no product reads; it refuses to run with NODE_ENV=production.

use crate::engine::Engine;
use crate::event_store::{CommandBus, CommandMetadata};
use aggregates::probe::{Probe, ProbeCommand};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Commands to send in all.
    pub commands: u64,
    /// Distinct aggregates the commands are spread over.
    pub aggregates: u64,
    /// Commands in flight at once.
    pub concurrency: usize,
    /// Events per command.
    pub batch: usize,
    /// Commands per second over all workers (0: as fast as possible).
    pub rate: u64,
    /// Print `ack <aggregate> <last sequence>` after each acknowledged command.
    pub print_acks: bool,
}

#[derive(Debug, Clone)]
pub struct LoadReport {
    pub commands: u64,
    pub events: u64,
    pub rejected: u64,
    pub elapsed: Duration,
}

pub async fn run(engine: &Engine, options: LoadOptions) -> anyhow::Result<LoadReport> {
    let bus = Arc::new(CommandBus::<Probe>::new(
        engine.events.clone(),
        engine.config.snapshot_every,
        engine.config.command_max_attempts.max(20),
        (),
        engine.metrics.clone(),
    ));
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let next = Arc::new(AtomicU64::new(0));
    let events = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers = (0..options.concurrency.max(1))
        .map(|_| {
            let (bus, next, events, rejected, options, run_id) = (
                bus.clone(),
                next.clone(),
                events.clone(),
                rejected.clone(),
                options.clone(),
                run_id.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= options.commands {
                        return;
                    }
                    if options.rate > 0 {
                        let due = started + Duration::from_secs_f64(n as f64 / options.rate as f64);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let id = format!("loadgen-{run_id}-{}", n % options.aggregates.max(1));
                    let values: Vec<i64> = (0..options.batch.max(1) as i64).map(|i| n as i64 * 10 + i).collect();
                    let count = values.len() as u64;
                    let command = if count == 1 {
                        ProbeCommand::Record { value: values[0] }
                    } else {
                        ProbeCommand::RecordMany { values }
                    };
                    let metadata = CommandMetadata::new(format!("loadgen-{run_id}-{n}"), None, chrono::Utc::now());
                    match bus.execute(&id, command, &metadata).await {
                        Ok(()) => {
                            events.fetch_add(count, Ordering::Relaxed);
                            if options.print_acks {
                                let mut out = std::io::stdout().lock();
                                let _ = writeln!(out, "ack {id} {count}");
                                let _ = out.flush();
                            }
                        }
                        Err(error) => {
                            rejected.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(%error, aggregate = %id, "loadgen command failed");
                        }
                    }
                }
            })
        })
        .collect::<Vec<_>>();
    for worker in workers {
        worker.await?;
    }
    Ok(LoadReport {
        commands: options.commands,
        events: events.load(Ordering::Relaxed),
        rejected: rejected.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    })
}

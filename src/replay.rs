//! `stummel replay` and `stummel projections`.

use crate::engine::Engine;
use indicatif::{ProgressBar, ProgressStyle};
use projections::{Namespace, Projector};
use std::sync::Arc;

/// Which projections to rebuild: the named ones, or all when `names` is empty.
pub fn select<'a>(engine: &'a Engine, names: &[String]) -> anyhow::Result<Vec<&'a Arc<Projector>>> {
    if names.is_empty() {
        return Ok(engine.projectors.iter().collect());
    }
    names
        .iter()
        .map(|name| {
            engine.projector(name).ok_or_else(|| {
                let known: Vec<_> = engine.projectors.iter().map(|p| p.name()).collect();
                anyhow::anyhow!("unknown projection {name:?} (known: {})", known.join(", "))
            })
        })
        .collect()
}

/// Rebuilds each projection into a fresh generation and swaps it in, with a
/// progress bar (events/s, ETA) per projection.
pub async fn run(engine: &Engine, names: &[String], from: u64, show_progress: bool) -> anyhow::Result<()> {
    let selected = select(engine, names)?;
    if from > 0 {
        eprintln!(
            "note: --from {from} builds the projections from position {from} on; \
             events before it are not included in the rebuilt models"
        );
    }
    for projector in selected {
        let bar = if show_progress {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{msg:>20} [{bar:30}] {pos}/{len} events  {per_sec}  ETA {eta}  ({elapsed})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(projector.name().to_owned());
        bar.set_position(from);
        let report = projector
            .rebuild(from, &[], &mut |checkpoint, head| {
                bar.set_length(head);
                bar.set_position(checkpoint);
            })
            .await
            .map_err(|e| anyhow::anyhow!("rebuilding {} failed: {e}", projector.name()))?;
        bar.finish();
        let rate = report.events as f64 / report.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{}: rebuilt generation {} up to position {} ({} events in {:.2?}, {:.0} events/s)",
            report.projection, report.generation, report.checkpoint, report.events, report.elapsed, rate
        );
    }
    Ok(())
}

/// One line per projection: name, version, active generation/version,
/// checkpoint, lag, state.
pub async fn list(engine: &Engine) -> anyhow::Result<()> {
    let head = engine.events.head_position().await?;
    println!(
        "{:<24} {:>7} {:>10} {:>14} {:>12} {:>10}  STATE",
        "NAME", "VERSION", "GENERATION", "ACTIVE-VERSION", "CHECKPOINT", "LAG"
    );
    for projector in &engine.projectors {
        let store = projector.store();
        let status = projector.status().borrow().clone();
        let active = store.active(projector.name()).await?;
        let (generation, active_version, checkpoint, state) = match active {
            None => (
                "-".to_owned(),
                "-".to_owned(),
                0,
                "not built (builds at next start)".to_owned(),
            ),
            Some(a) => {
                let checkpoint = store
                    .checkpoint(&Namespace::new(projector.name(), a.generation))
                    .await?;
                let state = if a.version != status.version {
                    "outdated (rebuilds at next start)".to_owned()
                } else if checkpoint >= head {
                    "caught up".to_owned()
                } else {
                    "behind".to_owned()
                };
                (a.generation.to_string(), a.version.to_string(), checkpoint, state)
            }
        };
        println!(
            "{:<24} {:>7} {:>10} {:>14} {:>12} {:>10}  {}",
            projector.name(),
            status.version,
            generation,
            active_version,
            checkpoint,
            head.saturating_sub(checkpoint),
            state
        );
    }
    println!("log head: {head} ({} store)", engine.events.backend_name());
    Ok(())
}

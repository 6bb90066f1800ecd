//! Whether MongoDB can take writes, as the driver's server monitoring sees it.
//!
//! Two goals pull against each other: an election makes the primary
//! unavailable for a few seconds, and operations should wait that out (the
//! server-selection timeout is long for that reason) instead of failing; but
//! during a real outage every request would then hang for that whole timeout.
//! So the driver's topology events are watched: once no writable server has
//! been seen for longer than the server-selection timeout, operations fail at
//! once (the HTTP layer answers 503) until the monitor — which checks every
//! second — sees a writable server again. Readiness reports the same view.

use mongodb::event::sdam::SdamEvent;
use mongodb::event::EventHandler;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
#[error("MongoDB has had no writable server for {0:?} ({1})")]
pub struct Unreachable(pub Duration, pub String);

#[derive(Debug, Default)]
struct State {
    /// When the topology last lost its writable server (None while it has one).
    lost_at: Option<Instant>,
    /// The last heartbeat failure, for messages.
    last_error: Option<String>,
}

#[derive(Debug)]
pub struct Reachability {
    grace: Option<Duration>,
    state: Mutex<State>,
}

impl Reachability {
    /// Fails fast after `grace` without a writable server.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace: Some(grace),
            state: Mutex::default(),
        }
    }

    /// Never fails fast (a client whose events we do not see).
    pub fn untracked() -> Self {
        Self {
            grace: None,
            state: Mutex::default(),
        }
    }

    pub fn event_handler(self: Arc<Self>) -> EventHandler<SdamEvent> {
        EventHandler::callback(move |event| self.observe(&event))
    }

    fn observe(&self, event: &SdamEvent) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            SdamEvent::TopologyDescriptionChanged(change) => {
                if change.new_description.has_writable_server() {
                    state.lost_at = None;
                    state.last_error = None;
                } else if state.lost_at.is_none() {
                    state.lost_at = Some(Instant::now());
                }
            }
            SdamEvent::ServerHeartbeatFailed(failed) => {
                state.last_error = Some(failed.failure.to_string());
            }
            _ => {}
        }
    }

    /// Err while the server has been unwritable for longer than the grace period.
    pub fn unreachable(&self) -> Option<Unreachable> {
        let grace = self.grace?;
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let lost = state.lost_at?.elapsed();
        (lost > grace).then(|| {
            Unreachable(
                Duration::from_secs(lost.as_secs()),
                state.last_error.clone().unwrap_or_else(|| "no server answers".into()),
            )
        })
    }

    /// For store operations: an error at once instead of waiting out the
    /// server-selection timeout again.
    pub fn check(&self) -> Result<(), mongodb::error::Error> {
        match self.unreachable() {
            None => Ok(()),
            Some(unreachable) => Err(mongodb::error::Error::custom(unreachable.to_string())),
        }
    }
}

/// The text of an error made by [`Reachability::check`], if it is one.
pub fn unreachable_message(error: &mongodb::error::Error) -> Option<&str> {
    error.get_custom::<String>().map(String::as_str)
}

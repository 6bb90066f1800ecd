//! The Devmarkt epoch: which generation of Devmarkt data is live.
//!
//! An event log is never rewritten, yet a QA reseed must start from the seed
//! with every sequence back at 1 (spec 12). So every Devmarkt aggregate id
//! carries the epoch (`projections::devmarkt::keys`) and a reseed starts a
//! new one: the old aggregates stay in the log, unreachable. Production
//! never reseeds and stays in epoch 0.
//!
//! This is plumbing of the service, not a business rule, so the tiny
//! aggregate lives here rather than in the domain crate.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// The only epoch aggregate's id.
pub const EPOCH_ID: &str = "devmarkt";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoch {
    pub current: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EpochCommand {
    /// Start the epoch after the current one.
    Advance,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EpochEvent {
    #[serde(rename = "devmarkt-epoch-started")]
    Started { epoch: u64 },
}

impl DomainEvent for EpochEvent {
    fn event_type(&self) -> String {
        "devmarkt-epoch-started".to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("never refused")]
pub struct EpochError;

impl Aggregate for Epoch {
    const TYPE: &'static str = "devmarkt-epoch";
    type Command = EpochCommand;
    type Event = EpochEvent;
    type Error = EpochError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            EpochCommand::Advance => {
                sink.write(
                    EpochEvent::Started {
                        epoch: self.current + 1,
                    },
                    self,
                )
                .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            EpochEvent::Started { epoch } => self.current = epoch,
        }
    }
}

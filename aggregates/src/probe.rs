//! `probe`: a deliberately small aggregate that belongs to no product. The
//! engine's conformance tests, the load generator and the benchmarks drive
//! the event store through it, so they exercise the real command path
//! (load → handle → append with optimistic concurrency) without depending on
//! Kippenstummel or Devmarkt rules.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProbeCommand {
    /// Record one value.
    Record { value: i64 },
    /// Record several values in one command (one append, several events).
    RecordMany { values: Vec<i64> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProbeEvent {
    /// Version "2": version "1" called the field `amount` (see the upcaster
    /// in the service's event store).
    Recorded { value: i64 },
}

impl DomainEvent for ProbeEvent {
    fn event_type(&self) -> String {
        match self {
            ProbeEvent::Recorded { .. } => "Recorded".to_owned(),
        }
    }

    fn event_version(&self) -> String {
        "2".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("values must not be negative (got {0})")]
    Negative(i64),
    #[error("nothing to record")]
    Empty,
}

/// Folds every value it saw; `digest` makes two states with the same count
/// and sum but a different order of values differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub count: u64,
    pub sum: i64,
    pub digest: u64,
    pub last: Option<i64>,
}

impl Probe {
    fn check(value: i64) -> Result<(), ProbeError> {
        if value < 0 {
            Err(ProbeError::Negative(value))
        } else {
            Ok(())
        }
    }
}

impl Aggregate for Probe {
    const TYPE: &'static str = "probe";
    type Command = ProbeCommand;
    type Event = ProbeEvent;
    type Error = ProbeError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let values = match command {
            ProbeCommand::Record { value } => vec![value],
            ProbeCommand::RecordMany { values } if values.is_empty() => return Err(ProbeError::Empty),
            ProbeCommand::RecordMany { values } => values,
        };
        for &value in &values {
            Self::check(value)?;
        }
        for value in values {
            sink.write(ProbeEvent::Recorded { value }, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ProbeEvent::Recorded { value } => {
                self.count += 1;
                self.sum += value;
                self.digest = self.digest.wrapping_mul(31).wrapping_add(value as u64);
                self.last = Some(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type ProbeTest = TestFramework<Probe>;

    #[test]
    fn records_a_value() {
        ProbeTest::with(())
            .given_no_previous_events()
            .when(ProbeCommand::Record { value: 3 })
            .then_expect_events(vec![ProbeEvent::Recorded { value: 3 }]);
    }

    #[test]
    fn records_many_values_in_order() {
        ProbeTest::with(())
            .given(vec![ProbeEvent::Recorded { value: 1 }])
            .when(ProbeCommand::RecordMany { values: vec![2, 3] })
            .then_expect_events(vec![
                ProbeEvent::Recorded { value: 2 },
                ProbeEvent::Recorded { value: 3 },
            ]);
    }

    #[test]
    fn rejects_negative_values_without_events() {
        ProbeTest::with(())
            .given_no_previous_events()
            .when(ProbeCommand::RecordMany { values: vec![1, -2] })
            .then_expect_error(ProbeError::Negative(-2));
    }

    #[test]
    fn rejects_an_empty_batch() {
        ProbeTest::with(())
            .given_no_previous_events()
            .when(ProbeCommand::RecordMany { values: vec![] })
            .then_expect_error(ProbeError::Empty);
    }

    #[test]
    fn digest_depends_on_order() {
        let fold = |values: &[i64]| {
            let mut probe = Probe::default();
            for &value in values {
                probe.apply(ProbeEvent::Recorded { value });
            }
            probe
        };
        assert_ne!(fold(&[1, 2]), fold(&[2, 1]));
        assert_eq!(fold(&[1, 2]).sum, 3);
    }
}

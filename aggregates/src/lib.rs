//! The domain: aggregates, their commands, events and errors, and the pure
//! rules around them.
//!
//! Pure code: no I/O, no clocks, no randomness. Time and ids come in with the
//! commands. Every aggregate implements cqrs-es's `Aggregate`.

/// Implements cqrs-es's `Aggregate` for a state type with a pure
/// `decide(&self, command) -> Result<Vec<Event>, Error>` and
/// `apply_event(&mut self, event)`: `handle` writes the decided events
/// through the sink (which applies them). Keeps the decision logic free of
/// the framework and the four aggregates free of the same boilerplate.
#[macro_export]
macro_rules! decided_aggregate {
    ($state:ty, $name:literal, $command:ty, $event:ty, $error:ty) => {
        impl cqrs_es::Aggregate for $state {
            const TYPE: &'static str = $name;
            type Command = $command;
            type Event = $event;
            type Error = $error;
            type Services = ();

            async fn handle(
                &mut self,
                command: Self::Command,
                _services: &Self::Services,
                sink: &cqrs_es::event_sink::EventSink<Self>,
            ) -> Result<(), Self::Error> {
                for event in self.decide(command)? {
                    sink.write(event, self).await;
                }
                Ok(())
            }

            fn apply(&mut self, event: Self::Event) {
                self.apply_event(event);
            }
        }
    };
}

pub mod devmarkt;
pub mod kippenstummel;
pub mod probe;

//! `ident`: the event-sourced side of an anonymous identity.
//!
//! Identities themselves are CRUD documents (as in the original); what the
//! log needs to know is that an identity *reference* exists (so karma and the
//! leaderboard can be projected) and when it was erased. The aggregate id is
//! the identity's erasable reference, never the identity: once the ident
//! document that maps identity → reference is deleted, nothing in the log or
//! in any read model built from it points back to the person.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IdentCommand {
    /// A new identity was issued.
    Register { issued_at: chrono::DateTime<chrono::Utc> },
    /// The identity was deleted (KMC): its read-model data goes too.
    Erase,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum IdentEvent {
    IdentRegistered {
        #[serde(rename = "issuedAt")]
        issued_at: chrono::DateTime<chrono::Utc>,
    },
    IdentErased {},
}

impl DomainEvent for IdentEvent {
    fn event_type(&self) -> String {
        match self {
            IdentEvent::IdentRegistered { .. } => "ident-registered",
            IdentEvent::IdentErased {} => "ident-erased",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    #[error("the identity reference is already registered")]
    AlreadyRegistered,
    #[error("the identity reference is unknown or erased")]
    Unknown,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ident {
    pub registered: bool,
    pub erased: bool,
}

impl Aggregate for Ident {
    const TYPE: &'static str = "ident";
    type Command = IdentCommand;
    type Event = IdentEvent;
    type Error = IdentError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            IdentCommand::Register { issued_at } => {
                if self.registered {
                    return Err(IdentError::AlreadyRegistered);
                }
                sink.write(IdentEvent::IdentRegistered { issued_at }, self).await;
            }
            IdentCommand::Erase => {
                if !self.registered || self.erased {
                    return Err(IdentError::Unknown);
                }
                sink.write(IdentEvent::IdentErased {}, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            IdentEvent::IdentRegistered { .. } => self.registered = true,
            IdentEvent::IdentErased {} => self.erased = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn at() -> chrono::DateTime<chrono::Utc> {
        "2026-11-25T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn registers_once() {
        TestFramework::<Ident>::with(())
            .given_no_previous_events()
            .when(IdentCommand::Register { issued_at: at() })
            .then_expect_events(vec![IdentEvent::IdentRegistered { issued_at: at() }]);
        TestFramework::<Ident>::with(())
            .given(vec![IdentEvent::IdentRegistered { issued_at: at() }])
            .when(IdentCommand::Register { issued_at: at() })
            .then_expect_error(IdentError::AlreadyRegistered);
    }

    #[test]
    fn erases_a_registered_identity_once() {
        TestFramework::<Ident>::with(())
            .given(vec![IdentEvent::IdentRegistered { issued_at: at() }])
            .when(IdentCommand::Erase)
            .then_expect_events(vec![IdentEvent::IdentErased {}]);
        TestFramework::<Ident>::with(())
            .given(vec![
                IdentEvent::IdentRegistered { issued_at: at() },
                IdentEvent::IdentErased {},
            ])
            .when(IdentCommand::Erase)
            .then_expect_error(IdentError::Unknown);
        TestFramework::<Ident>::with(())
            .given_no_previous_events()
            .when(IdentCommand::Erase)
            .then_expect_error(IdentError::Unknown);
    }

    #[test]
    fn event_names_are_stable() {
        let json = serde_json::to_value(IdentEvent::IdentRegistered { issued_at: at() }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "ident-registered", "issuedAt": "2026-11-25T10:00:00Z"})
        );
        assert_eq!(IdentEvent::IdentErased {}.event_type(), "ident-erased");
    }
}

//! Usage telemetry (spec 14): that somebody looked at the map around a
//! geohash-5 cell on a day. Nothing else: the event carries no identity,
//! address or agent, and it is recorded at most once per person, cell and
//! hour (the deduplication happens before the command, with a salted
//! fingerprint that is never stored).
//!
//! Each count is an aggregate of its own (a fresh id), so concurrent
//! counts never conflict.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub enum UsageCommand {
    Count {
        /// Geohash of precision 5.
        bucket: String,
        /// UTC day, `YYYY-MM-DD`.
        date: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum UsageEvent {
    UsageCounted { bucket: String, date: String },
}

impl DomainEvent for UsageEvent {
    fn event_type(&self) -> String {
        "usage-counted".to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("this count was recorded already")]
    AlreadyCounted,
    #[error("not a geohash of precision 5 and a YYYY-MM-DD day")]
    Malformed,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub counted: bool,
}

/// A geohash-5 cell name (base32 without a, i, l, o).
fn is_bucket(bucket: &str) -> bool {
    bucket.len() == 5 && bucket.bytes().all(|b| b"0123456789bcdefghjkmnpqrstuvwxyz".contains(&b))
}

fn is_day(date: &str) -> bool {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() && date.len() == 10
}

impl Aggregate for Usage {
    const TYPE: &'static str = "usage";
    type Command = UsageCommand;
    type Event = UsageEvent;
    type Error = UsageError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let UsageCommand::Count { bucket, date } = command;
        if self.counted {
            return Err(UsageError::AlreadyCounted);
        }
        if !is_bucket(&bucket) || !is_day(&date) {
            return Err(UsageError::Malformed);
        }
        sink.write(UsageEvent::UsageCounted { bucket, date }, self).await;
        Ok(())
    }

    fn apply(&mut self, _event: Self::Event) {
        self.counted = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn count(bucket: &str, date: &str) -> UsageCommand {
        UsageCommand::Count {
            bucket: bucket.into(),
            date: date.into(),
        }
    }

    #[test]
    fn counts_once_and_only_well_formed_cells() {
        TestFramework::<Usage>::with(())
            .given_no_previous_events()
            .when(count("u0u6b", "2026-12-02"))
            .then_expect_events(vec![UsageEvent::UsageCounted {
                bucket: "u0u6b".into(),
                date: "2026-12-02".into(),
            }]);
        TestFramework::<Usage>::with(())
            .given(vec![UsageEvent::UsageCounted {
                bucket: "u0u6b".into(),
                date: "2026-12-02".into(),
            }])
            .when(count("u0u6b", "2026-12-02"))
            .then_expect_error(UsageError::AlreadyCounted);
        for (bucket, date) in [("u0u6", "2026-12-02"), ("u0u6a", "2026-12-02"), ("u0u6b", "2026-13-02")] {
            TestFramework::<Usage>::with(())
                .given_no_previous_events()
                .when(count(bucket, date))
                .then_expect_error(UsageError::Malformed);
        }
    }
}

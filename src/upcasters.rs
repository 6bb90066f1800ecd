//! Upcasters: old event payloads turned into the current schema on read, so
//! stored events are never rewritten. They run when aggregates load and when
//! projections read the log.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::{json, Value};

/// Every upcaster, in the order they apply.
pub fn all() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(PayloadUpcaster {
        aggregate_type: "probe",
        event_type: "Recorded",
        from_version: "1",
        to_version: "2",
        convert: probe_recorded_v1_to_v2,
    })]
}

/// Rewrites one (aggregate type, event type, version) to the next version.
/// cqrs-es's `SemanticVersionEventUpcaster` matches on the event type alone,
/// which is ambiguous across aggregates, hence this small one.
struct PayloadUpcaster {
    aggregate_type: &'static str,
    event_type: &'static str,
    from_version: &'static str,
    to_version: &'static str,
    convert: fn(Value) -> Value,
}

impl EventUpcaster for PayloadUpcaster {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        event_type == self.event_type && event_version == self.from_version
    }

    fn upcast(&self, mut event: SerializedEvent) -> SerializedEvent {
        if event.aggregate_type == self.aggregate_type {
            event.payload = (self.convert)(event.payload);
            event.event_version = self.to_version.to_owned();
        }
        event
    }
}

/// `probe` `Recorded` v1 `{"Recorded": {"amount": n}}` → v2 `{"Recorded": {"value": n}}`.
fn probe_recorded_v1_to_v2(payload: Value) -> Value {
    let amount = payload.pointer("/Recorded/amount").cloned().unwrap_or(Value::Null);
    json!({"Recorded": {"value": amount}})
}

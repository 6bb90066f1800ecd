//! `usage-locations`: how often the map was looked at per geohash-5 cell
//! and UTC day (spec 14), from the `usage` aggregates' events.
//!
//! - collection `locations`: `<date>:<bucket>` → [`UsageLocation`], queryable
//!   by `day` and by the cell's centre (the usage-density view's box)

use crate::{ChangeSet, FieldKind, PositionFields, Projection, ProjectionError, QueryField, Queryable, RecordedEvent};
use aggregates::kippenstummel::usage::UsageEvent;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub const NAME: &str = "usage-locations";
pub const LOCATIONS: &str = "locations";

pub const QUERYABLE: &[Queryable] = &[Queryable {
    collection: LOCATIONS,
    fields: &[QueryField {
        path: "day",
        kind: FieldKind::Time,
    }],
    position: Some(PositionFields {
        filter_path: "center",
        longitude: "longitude",
        latitude: "latitude",
    }),
}];

pub fn locations() -> &'static Queryable {
    &QUERYABLE[0]
}

/// Views of one cell on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageLocation {
    pub bucket: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Midnight UTC of `date` (RFC 3339), what day ranges are queried by.
    pub day: String,
    pub count: u64,
    /// Centre of the geohash cell.
    pub longitude: f64,
    pub latitude: f64,
}

pub struct UsageLocations;

#[async_trait]
impl Projection for UsageLocations {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        1
    }

    fn queryable(&self) -> &'static [Queryable] {
        QUERYABLE
    }

    async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        if event.aggregate_type != "usage" {
            return Ok(());
        }
        let UsageEvent::UsageCounted { bucket, date } =
            serde_json::from_value(event.payload.clone()).map_err(|e| ProjectionError::bad_event(event, e))?;
        let key = format!("{date}:{bucket}");
        let location = match changes.get(LOCATIONS, &key).await? {
            Some(doc) => {
                let mut location: UsageLocation =
                    serde_json::from_value(doc).map_err(|e| ProjectionError::bad_event(event, e))?;
                location.count += 1;
                location
            }
            None => {
                let (centre, _, _) = geohash::decode(&bucket).map_err(|e| ProjectionError::bad_event(event, e))?;
                UsageLocation {
                    day: format!("{date}T00:00:00.000Z"),
                    bucket,
                    date,
                    count: 1,
                    longitude: centre.x,
                    latitude: centre.y,
                }
            }
        };
        changes.put(
            LOCATIONS,
            &key,
            serde_json::to_value(&location).expect("usage documents serialize"),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{run, EventLog, MemoryStore};
    use crate::{Namespace, ReadStore};
    use chrono::{TimeZone, Utc};

    #[tokio::test]
    async fn counts_per_cell_and_day_at_the_cell_centre() {
        let mut log = EventLog::starting(Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap());
        // The cell of Karlsruhe's centre (8.4037° E, 49.0069° N).
        let karlsruhe = geohash::encode(geohash::Coord { x: 8.4037, y: 49.0069 }, 5).unwrap();
        let b = karlsruhe.as_str();
        for (i, (bucket, date)) in [(b, "2026-12-02"), (b, "2026-12-02"), (b, "2026-12-03")]
            .into_iter()
            .enumerate()
        {
            let event = UsageEvent::UsageCounted {
                bucket: bucket.into(),
                date: date.into(),
            };
            log.push(
                "usage",
                &format!("u{i}"),
                "usage-counted",
                serde_json::to_value(event).unwrap(),
            );
        }
        let store = MemoryStore::default();
        let ns = Namespace::new(NAME, 1);
        run(&UsageLocations, &store, &ns, log.events(), 2).await.unwrap();
        let doc: UsageLocation = serde_json::from_value(
            store
                .get_doc(&ns, LOCATIONS, &format!("2026-12-02:{b}"))
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(doc.count, 2);
        assert_eq!(doc.day, "2026-12-02T00:00:00.000Z");
        // A geohash-5 cell is about 0.044° × 0.044°: its centre is that close.
        assert!(
            (doc.longitude - 8.4037).abs() < 0.03 && (doc.latitude - 49.0069).abs() < 0.03,
            "{doc:?}"
        );
        let next = store
            .get_doc(&ns, LOCATIONS, &format!("2026-12-03:{b}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next["count"], 1);
    }
}

//! Usage telemetry (spec 14): where the map is looked at, counted once per
//! person, geohash-5 cell and hour, without storing anything that
//! identifies the person.
//!
//! A person is a salted fingerprint, SHA-256(salt ‖ identity \0 ip \0
//! user agent), used only for the hourly deduplication key and never
//! written anywhere else; the salt is random per UTC day, shared by all
//! instances through the token store (Redis, or this process's memory) and
//! expires after 26 hours, so yesterday's fingerprints cannot be recomputed
//! or linked to today's. What is stored is a `usage-counted` event with
//! the cell and the day only: no identity (its metadata names no actor and
//! carries a fresh correlation id, not the request's), no address, no agent.

use super::stats::{window_days, MAX_DAYS};
use super::validation::{coordinates, Violations};
use super::Kippenstummel;
use crate::event_store::CommandMetadata;
use crate::http::error::ApiError;
use aggregates::kippenstummel::usage::UsageCommand;
use chrono::{NaiveDate, Utc};
use projections::kippenstummel::usage::{self as model, UsageLocation};
use projections::rsql::{BoundingBox, FieldTest, Predicate, Scalar};
use projections::DocQuery;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Views below this zoom are not counted (spec 14.1).
pub const MIN_TRACKED_ZOOM: f64 = 12.0;
const SALT_TTL: Duration = Duration::from_secs(93_600);
const DEDUP_TTL: Duration = Duration::from_secs(3_600);
/// Most cell-days one usage-density request reads; a larger box and window
/// is refused (422) rather than read: 100,000 documents take about a
/// second to read and group.
pub const MAX_USAGE_CELL_DAYS: u64 = 100_000;

/// Who looked, as far as deduplication needs to know; never stored.
pub struct Viewer {
    pub identity: Option<String>,
    pub ip: String,
    pub user_agent: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// The hex SHA-256 of the salt followed by `identity \0 ip \0 user agent`.
pub fn fingerprint(salt: &[u8], viewer: &Viewer) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(viewer.identity.as_deref().unwrap_or_default().as_bytes());
    hasher.update(b"\0");
    hasher.update(viewer.ip.as_bytes());
    hasher.update(b"\0");
    hasher.update(viewer.user_agent.as_bytes());
    hex(&hasher.finalize())
}

/// The geohash precision the usage-density view groups by at `zoom` (14.3).
pub fn precision(zoom: f64) -> usize {
    match zoom {
        z if z < 4.0 => 2,
        z if z < 7.0 => 3,
        z if z < 10.0 => 4,
        _ => 5,
    }
}

/// The centre of a raw `/cvms/within` box, when both corners are finite.
pub fn centre(bottom_left: &str, top_right: &str) -> Option<(f64, f64)> {
    let (south, west) = coordinates::parse_lat_long(bottom_left);
    let (north, east) = coordinates::parse_lat_long(top_right);
    let (lng, lat) = ((west + east) / 2.0, (south + north) / 2.0);
    (lng.is_finite() && lat.is_finite()).then_some((lng, lat))
}

impl Kippenstummel {
    /// Counts a view of the map centred at `(lng, lat)` in the background
    /// (fire and forget: a failure is logged, the view is not affected).
    pub fn track_usage(self: &Arc<Self>, lng: f64, lat: f64, viewer: Viewer) {
        let service = self.clone();
        tokio::spawn(async move {
            if let Err(error) = service.count_usage(lng, lat, viewer).await {
                tracing::warn!(%error, "usage telemetry not recorded");
            }
        });
    }

    async fn count_usage(&self, lng: f64, lat: f64, viewer: Viewer) -> Result<(), String> {
        let bucket = geohash::encode(geohash::Coord { x: lng, y: lat }, 5).map_err(|e| e.to_string())?;
        let date = Utc::now().date_naive().format("%Y-%m-%d").to_string();
        let salt = self.daily_salt(&date).await?;
        let key = format!("telemetry:usage-location:{bucket}:{}", fingerprint(&salt, &viewer));
        if !self.tokens.mark_once(&key, DEDUP_TTL).await.map_err(|e| e.0)? {
            return Ok(()); // this person was counted here within the hour
        }
        let metadata = CommandMetadata::new(uuid::Uuid::new_v4().to_string(), None, Utc::now());
        self.usage_commands
            .execute(
                &uuid::Uuid::new_v4().to_string(),
                UsageCommand::Count { bucket, date },
                &metadata,
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// Today's salt: the one any instance stored first, else a new one.
    async fn daily_salt(&self, date: &str) -> Result<Vec<u8>, String> {
        if let Some((day, salt)) = self.salt.lock().expect("salt lock").as_ref() {
            if day == date {
                return Ok(salt.clone());
            }
        }
        let mut candidate = [0u8; 32];
        rand::rng().fill_bytes(&mut candidate);
        let stored = self
            .tokens
            .put_once(&format!("telemetry:salt:{date}"), &hex(&candidate), SALT_TTL)
            .await
            .map_err(|e| e.0)?;
        let salt = unhex(&stored);
        *self.salt.lock().expect("salt lock") = Some((date.to_owned(), salt.clone()));
        Ok(salt)
    }

    /// `GET /kmc/stats/usage-density` (14.3): the cells whose centre lies
    /// in `bbox`, counted over the window, grouped by the geohash prefix
    /// that fits `zoom`, each at the count-weighted mean of its centres.
    pub async fn usage_density(
        &self,
        bbox: BoundingBox,
        zoom: f64,
        today: NaiveDate,
        last_n_days: u32,
    ) -> Result<Vec<(f64, f64, u64)>, ApiError> {
        let days = window_days(today, last_n_days.min(MAX_DAYS));
        let (Some(first), Some(last)) = (days.first(), days.last()) else {
            return Ok(Vec::new());
        };
        let Some(ns) = self.active_in(&self.documents, model::NAME).await? else {
            return Ok(Vec::new());
        };
        let at_midnight = |d: &NaiveDate| Scalar::Date(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
        let window = Predicate::And(
            Box::new(Predicate::Field {
                path: "day".into(),
                test: FieldTest::Ge(at_midnight(first)),
            }),
            Box::new(Predicate::Field {
                path: "day".into(),
                test: FieldTest::Le(at_midnight(last)),
            }),
        );
        let query = DocQuery {
            predicate: Some(&window),
            within: Some(bbox),
            offset: 0,
            limit: usize::MAX,
        };
        let store = &self.documents;
        let found = store
            .count_docs(&ns, model::locations(), &query)
            .await
            .map_err(ApiError::unavailable)?;
        if found > MAX_USAGE_CELL_DAYS {
            let mut violations = Violations::default();
            violations.add(
                "lastNDays",
                "usageWindow",
                format!("the box and window hold {found} usage records, more than {MAX_USAGE_CELL_DAYS}: narrow them"),
            );
            violations.into_result()?;
        }
        let prefix_length = precision(zoom);
        let mut groups: HashMap<String, (f64, f64, u64)> = HashMap::new();
        for (_, doc) in store
            .query_docs(&ns, model::locations(), &query)
            .await
            .map_err(ApiError::unavailable)?
        {
            let location: UsageLocation = serde_json::from_value(doc).map_err(ApiError::internal)?;
            let prefix = location
                .bucket
                .get(..prefix_length)
                .unwrap_or(&location.bucket)
                .to_owned();
            let group = groups.entry(prefix).or_insert((0.0, 0.0, 0));
            group.0 += location.longitude * location.count as f64;
            group.1 += location.latitude * location.count as f64;
            group.2 += location.count;
        }
        Ok(groups
            .into_values()
            .filter(|(_, _, n)| *n > 0)
            .map(|(lng, lat, n)| (lng / n as f64, lat / n as f64, n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(identity: Option<&str>, ip: &str) -> Viewer {
        Viewer {
            identity: identity.map(str::to_owned),
            ip: ip.into(),
            user_agent: "ua".into(),
        }
    }

    #[test]
    fn fingerprints_depend_on_salt_and_person_and_are_hex_sha256() {
        let a = fingerprint(b"salt", &viewer(None, "1.2.3.4"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, fingerprint(b"other", &viewer(None, "1.2.3.4")));
        assert_ne!(a, fingerprint(b"salt", &viewer(Some("x"), "1.2.3.4")));
        assert_ne!(a, fingerprint(b"salt", &viewer(None, "1.2.3.5")));
        assert_eq!(a, fingerprint(b"salt", &viewer(None, "1.2.3.4")));
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])), vec![0, 1, 254, 255]);
    }

    #[test]
    fn precision_follows_the_zoom() {
        assert_eq!(
            [0.0, 3.9, 4.0, 6.0, 7.0, 9.5, 10.0, 18.0].map(precision),
            [2, 2, 3, 3, 4, 4, 5, 5]
        );
    }

    #[test]
    fn the_centre_comes_from_the_raw_corners() {
        assert_eq!(centre("49,8", "50,9"), Some((8.5, 49.5)));
        assert_eq!(centre("(49,8", "50,9"), None);
    }
}

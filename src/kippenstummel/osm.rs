//! OSM import (spec 13.3): find the region with Nominatim, ask Overpass for
//! its cigarette vending machines, import them. The base URLs are
//! configurable (NOMINATIM_URL, OVERPASS_URL), so a mirror or a test server
//! can stand in for the public services.

use aggregates::kippenstummel::geo::Position;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum OsmError {
    #[error("region {0:?} not found")]
    RegionNotFound(String),
    #[error("unsupported OSM type {0:?} for region")]
    UnsupportedType(String),
    #[error("{service} answered {status}")]
    Status { service: &'static str, status: u16 },
    #[error("{0}")]
    Http(String),
}

pub struct OsmClient {
    http: reqwest::Client,
    nominatim: String,
    overpass: String,
}

/// Overpass area id of a Nominatim hit.
pub fn area_id(osm_type: &str, osm_id: u64) -> Result<u64, OsmError> {
    match osm_type {
        "relation" => Ok(3_600_000_000 + osm_id),
        "way" => Ok(2_400_000_000 + osm_id),
        "node" => Ok(1_200_000_000 + osm_id),
        other => Err(OsmError::UnsupportedType(other.to_owned())),
    }
}

/// The Overpass QL query for vending machines selling cigarettes in an area.
pub fn overpass_query(area: u64) -> String {
    format!(
        "[out:json][timeout:25]; area({area}); ( node[\"amenity\"=\"vending_machine\"][\"vending\"~\"cigarettes\"](area); ); out center;"
    )
}

impl OsmClient {
    pub fn new(nominatim: &str, overpass: &str) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("stummel/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a TLS backend is compiled in");
        Self {
            http,
            nominatim: nominatim.trim_end_matches('/').to_owned(),
            overpass: overpass.to_owned(),
        }
    }

    /// The machines Overpass knows in `region`.
    pub async fn machines_in(&self, region: &str) -> Result<Vec<Position>, OsmError> {
        let http_error = |e: reqwest::Error| OsmError::Http(e.to_string());
        let response = self
            .http
            .get(format!("{}/search", self.nominatim))
            .query(&[("q", region), ("format", "json"), ("limit", "1")])
            .send()
            .await
            .map_err(http_error)?;
        if !response.status().is_success() {
            return Err(OsmError::Status {
                service: "Nominatim",
                status: response.status().as_u16(),
            });
        }
        let hits: Vec<Value> = response.json().await.map_err(http_error)?;
        let hit = hits
            .first()
            .ok_or_else(|| OsmError::RegionNotFound(region.to_owned()))?;
        let osm_id = hit["osm_id"]
            .as_u64()
            .ok_or_else(|| OsmError::RegionNotFound(region.to_owned()))?;
        let area = area_id(hit["osm_type"].as_str().unwrap_or_default(), osm_id)?;
        let response = self
            .http
            .post(&self.overpass)
            .form(&[("data", overpass_query(area))])
            .send()
            .await
            .map_err(http_error)?;
        if !response.status().is_success() {
            return Err(OsmError::Status {
                service: "Overpass",
                status: response.status().as_u16(),
            });
        }
        let body: Value = response.json().await.map_err(http_error)?;
        Ok(body["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| Some(Position::new(e["lon"].as_f64()?, e["lat"].as_f64()?)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_ids_follow_overpass_conventions() {
        assert_eq!(area_id("relation", 62611).unwrap(), 3_600_062_611);
        assert_eq!(area_id("way", 1).unwrap(), 2_400_000_001);
        assert_eq!(area_id("node", 2).unwrap(), 1_200_000_002);
        assert!(area_id("boundary", 1).is_err());
        assert!(overpass_query(3_600_062_611).contains("area(3600062611)"));
    }
}

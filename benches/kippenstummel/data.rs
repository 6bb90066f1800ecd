//! The benchmark's map: a deterministic set of machines over Germany, denser
//! around ten cities, appended as `cvm-imported` events.

use cqrs_es::persist::SerializedEvent;
use serde_json::json;
use std::time::Instant;
use stummel::event_store::EventRepository;

const APPEND_BATCH: usize = 1000;

/// Deterministic generator (splitmix64), so every run sees the same map.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.unit().max(f64::MIN_POSITIVE);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// (name, longitude, latitude, share of all machines, spread in degrees)
pub const CITIES: [(&str, f64, f64, f64, f64); 10] = [
    ("berlin", 13.405, 52.520, 0.14, 0.12),
    ("hamburg", 9.993, 53.551, 0.08, 0.10),
    ("munich", 11.576, 48.137, 0.09, 0.10),
    ("cologne", 6.958, 50.938, 0.07, 0.08),
    ("frankfurt", 8.682, 50.111, 0.06, 0.08),
    ("stuttgart", 9.182, 48.776, 0.05, 0.07),
    ("duesseldorf", 6.773, 51.227, 0.04, 0.06),
    ("leipzig", 12.374, 51.340, 0.04, 0.06),
    ("dresden", 13.738, 51.050, 0.03, 0.06),
    ("karlsruhe", 8.404, 49.009, 0.04, 0.05),
];

/// Germany's bounding box: west, south, width, height in degrees.
pub const GERMANY: (f64, f64, f64, f64) = (6.0, 47.4, 8.9, 7.5);

pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A machine position: 64% around the cities, the rest anywhere in Germany's box.
fn machine_position(rng: &mut Rng) -> (f64, f64) {
    let mut pick = rng.unit();
    for (_, lng, lat, share, spread) in CITIES {
        if pick < share {
            // Longitude degrees are shorter up here; stretch so the spread is round on the ground.
            let lng = lng + rng.normal() * spread * 1.5;
            let lat = lat + rng.normal() * spread;
            return (round6(lng), round6(lat));
        }
        pick -= share;
    }
    let (west, south, width, height) = GERMANY;
    (round6(west + width * rng.unit()), round6(south + height * rng.unit()))
}

fn imported(rng: &mut Rng) -> SerializedEvent {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid().to_string();
    let (longitude, latitude) = machine_position(rng);
    SerializedEvent {
        aggregate_id: id.clone(),
        sequence: 1,
        aggregate_type: "cvm".into(),
        event_type: "cvm-imported".into(),
        event_version: "1".into(),
        payload: json!({"cvm-imported": {
            "cvmId": id,
            "position": {"longitude": longitude, "latitude": latitude},
            "initialScore": null,
        }}),
        metadata: json!({"correlation_id": "bench", "occurred_at": "2026-11-25T00:00:00.000Z"}),
    }
}

/// Appends `machines` `cvm-imported` events (one aggregate each) straight to the event store.
pub async fn append_machines(label: &str, repo: &EventRepository, machines: usize) {
    let mut rng = Rng(0x5eed_2026);
    let started = Instant::now();
    let mut written = 0;
    while written < machines {
        let n = APPEND_BATCH.min(machines - written);
        let events: Vec<SerializedEvent> = (0..n).map(|_| imported(&mut rng)).collect();
        repo.append("cvm", &events, None).await.unwrap();
        written += n;
    }
    let elapsed = started.elapsed();
    println!(
        "kippenstummel/{label}/append: {written} cvm-imported events in {elapsed:.2?} ({:.0} events/s, batches of {APPEND_BATCH})",
        written as f64 / elapsed.as_secs_f64()
    );
}

/// `count` import entries on a grid over Germany's box, at least 3 km apart (so
/// no two merge by the 50 m rule; an entry near an existing machine synchronizes
/// it), each with `score`, as `{cvms: [...]}` bodies of at most `per_body` entries.
pub fn import_bodies(count: usize, per_body: usize, score: i64) -> Vec<serde_json::Value> {
    let (west, south, width, height) = GERMANY;
    let columns = ((count as f64 * width / height).sqrt().ceil() as usize).max(1);
    let rows = count.div_ceil(columns);
    let entries: Vec<serde_json::Value> = (0..count)
        .map(|i| {
            let (column, row) = (i % columns, i / columns);
            let lng = west + width * (column as f64 + 0.5) / columns as f64;
            let lat = south + height * (row as f64 + 0.5) / rows as f64;
            json!({"longitude": round6(lng), "latitude": round6(lat), "score": score})
        })
        .collect();
    entries.chunks(per_body).map(|c| json!({ "cvms": c })).collect()
}

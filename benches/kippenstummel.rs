//! Kippenstummel read-side benchmark at 100,000 machines (a bench binary, not
//! a timed test). Prints one line per measurement; BENCHMARKS.md records them.
//!
//!   cargo bench --bench kippenstummel            # everything
//!   cargo bench --bench kippenstummel -- within  # only cases whose name contains "within"
//!                                                # (the models are then built with batches of 5,000)
//!
//! 1. Appends 100,000 `cvm-imported` events (one aggregate each) straight to
//!    the embedded event store in a temporary DATA_DIR: machines spread over
//!    Germany, denser around ten cities.
//! 2. Times `stummel replay --all` (the release binary) building every read model,
//!    then `cvm-tiles` alone again with batches of 5,000 events instead of 500.
//! 3. Starts `stummel serve` on that DATA_DIR and drives it over loopback with
//!    8 concurrent clients and a fixed number of requests per case:
//!    `/api/v1/cvms/within` at zooms 8, 12 and 18 over phone-sized viewports
//!    (with and without a filter from zoom 12, where filters apply) and
//!    `/api/v1/cvms?page=..&perPage=50` with and without a filter.
//!    Reports requests/s and p50/p99 latency per case.
//!
//! `STUMMEL_BENCH_MACHINES=5000` shrinks the data set for a quick smoke run
//! (the recorded numbers use the default 100,000).

use cqrs_es::persist::SerializedEvent;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stummel::event_store::{EventRepository, SqliteEventStore, SyncMode};

const DEFAULT_MACHINES: usize = 100_000;
const CLIENTS: usize = 8;
const APPEND_BATCH: usize = 1000;

/// Deterministic generator (splitmix64), so every run sees the same map.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(f64::MIN_POSITIVE);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// (name, longitude, latitude, share of all machines, spread in degrees)
const CITIES: [(&str, f64, f64, f64, f64); 10] = [
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

fn round6(x: f64) -> f64 {
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
    (round6(6.0 + 8.9 * rng.unit()), round6(47.4 + 7.5 * rng.unit()))
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

async fn append_machines(dir: &Path, machines: usize) {
    let repo = EventRepository::embedded(SqliteEventStore::open(dir, SyncMode::Normal).unwrap());
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
        "kippenstummel/append: {written} cvm-imported events in {elapsed:.2?} ({:.0} events/s, batches of {APPEND_BATCH})",
        written as f64 / elapsed.as_secs_f64()
    );
}

fn stummel(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stummel"));
    // Run inside the data directory so no `.env` file of the checkout is read.
    command
        .current_dir(dir)
        .env("DATA_DIR", dir)
        .env("NODE_ENV", "development")
        .env("LOG_LEVEL", "warn")
        .env_remove("MONGO_URI")
        .env_remove("REDIS_URI");
    command
}

/// Runs `stummel replay ARGS` and prints its report lines and the wall-clock time.
fn replay(dir: &Path, args: &[&str], batch_size: Option<usize>) {
    let mut command = stummel(dir);
    command.arg("replay").args(args).arg("--quiet");
    if let Some(size) = batch_size {
        command.env("PROJECTION_BATCH_SIZE", size.to_string());
    }
    let label = match batch_size {
        Some(size) => format!("PROJECTION_BATCH_SIZE={size} stummel replay {}", args.join(" ")),
        None => format!("stummel replay {} (default batches of 500)", args.join(" ")),
    };
    let started = Instant::now();
    let output = command.output().unwrap();
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{label} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        println!("kippenstummel/replay: {line}");
    }
    println!("kippenstummel/replay: `{label}` took {elapsed:.2?} in all");
}

/// `stummel serve` on a free port; killed when dropped.
struct Server(Child, u16);

impl Server {
    fn start(dir: &Path) -> Self {
        let mut child = stummel(dir)
            .arg("serve")
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = lines.next().expect("stummel serve exited before listening").unwrap();
            if let Some(address) = line.strip_prefix("stummel listening on http://") {
                break address.rsplit(':').next().unwrap().parse::<u16>().unwrap();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self(child, port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// One benchmark case: a path and the query strings to cycle through.
struct Case {
    name: String,
    path: &'static str,
    queries: Vec<Vec<(&'static str, String)>>,
    requests: usize,
}

/// How many items a response holds: the array of `/cvms/within`, the page of `/cvms`.
fn items(body: &Value) -> usize {
    match body {
        Value::Array(items) => items.len(),
        other => other["content"].as_array().map_or(0, Vec::len),
    }
}

async fn run_case(client: &reqwest::Client, base: &str, case: &Case) {
    let url = format!("{base}{}", case.path);
    // Warm-up, also checking every query is answered with 200 and counting items.
    let mut total_items = 0;
    for query in &case.queries {
        let response = client.get(&url).query(query).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{} {query:?}: {status} {body}", case.name);
        total_items += items(&body);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, url, next) = (client.clone(), url.clone(), next.clone());
            let queries = case.queries.clone();
            let total = case.requests;
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let sent = Instant::now();
                    let ok = match client.get(&url).query(&queries[i % queries.len()]).send().await {
                        Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    latencies.push(sent.elapsed());
                    failures += usize::from(!ok);
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(case.requests);
    let mut failures = 0;
    for worker in workers {
        let (l, f) = worker.await.unwrap();
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "kippenstummel/http/{}: {} requests, {CLIENTS} clients, {:.1} req/s, p50 {:.2?}, p99 {:.2?}, \
         {:.0} items/response, {failures} failed",
        case.name,
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        total_items as f64 / case.queries.len() as f64,
    );
}

/// Phone-sized viewports (about 4 × 3 tiles of 256 px) around the cities, jittered.
fn viewports(zoom: u8, count: usize, rng: &mut Rng) -> Vec<Vec<(&'static str, String)>> {
    let tile = 360.0 / f64::from(1u32 << zoom);
    let (half_width, half_height) = (2.0 * tile, 1.5 * tile * 0.64); // latitude degrees are longer here
    (0..count)
        .map(|i| {
            let (_, lng, lat, _, spread) = CITIES[i % CITIES.len()];
            let lng = lng + rng.normal() * spread * 0.5;
            let lat = lat + rng.normal() * spread * 0.5;
            vec![
                (
                    "bottomLeft",
                    format!("{:.6},{:.6}", lat - half_height, lng - half_width),
                ),
                ("topRight", format!("{:.6},{:.6}", lat + half_height, lng + half_width)),
                ("zoom", zoom.to_string()),
            ]
        })
        .collect()
}

fn with_filter(queries: &[Vec<(&'static str, String)>], filter: &str) -> Vec<Vec<(&'static str, String)>> {
    queries
        .iter()
        .map(|q| {
            let mut q = q.clone();
            q.push(("filter", filter.to_owned()));
            q
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let machines: usize = std::env::var("STUMMEL_BENCH_MACHINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MACHINES);
    let dir = tempfile::tempdir().unwrap();
    println!("kippenstummel: {machines} machines, DATA_DIR {}", dir.path().display());
    append_machines(dir.path(), machines).await;
    if wanted("replay") {
        replay(dir.path(), &["--all"], None);
        // The tiles again with bigger batches: each batch re-clusters the shared coarse tiles once.
        replay(dir.path(), &["--projection", "cvm-tiles"], Some(5000));
    } else {
        replay(dir.path(), &["--all"], Some(5000));
    }

    let server = Server::start(dir.path());
    let base = format!("http://127.0.0.1:{}", server.1);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let mut rng = Rng(0x0b5e_55ed);
    let z8 = viewports(8, 40, &mut rng);
    let z12 = viewports(12, 40, &mut rng);
    let z18 = viewports(18, 40, &mut rng);
    // The app's filters are score thresholds; this one keeps nearly every machine.
    let score = "score>=0";
    let pages: Vec<Vec<(&'static str, String)>> = (0..20)
        .map(|i| {
            vec![
                ("page", ((i * 37) % (machines / 50).max(1)).to_string()),
                ("perPage", "50".into()),
            ]
        })
        .collect();
    let cases = [
        ("within/z8", "/api/v1/cvms/within", z8.clone(), 2000),
        ("within/z12", "/api/v1/cvms/within", z12.clone(), 1000),
        ("within/z12-filter", "/api/v1/cvms/within", with_filter(&z12, score), 80),
        ("within/z18", "/api/v1/cvms/within", z18.clone(), 4000),
        ("within/z18-filter", "/api/v1/cvms/within", with_filter(&z18, score), 80),
        ("list/page50", "/api/v1/cvms", pages.clone(), 80),
        ("list/page50-filter", "/api/v1/cvms", with_filter(&pages, score), 80),
    ];
    for (name, path, queries, requests) in cases {
        if !wanted(name) {
            continue;
        }
        let case = Case {
            name: name.to_owned(),
            path,
            queries,
            requests,
        };
        run_case(&client, &base, &case).await;
    }
    drop(server);
}

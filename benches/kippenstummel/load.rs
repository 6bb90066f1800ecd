//! The HTTP cases: a fixed number of requests per case from concurrent
//! clients, cycling through a set of query strings.

use super::data::{Rng, CITIES};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const CLIENTS: usize = 8;

pub type Query = Vec<(&'static str, String)>;

/// One benchmark case: a path and the query strings to cycle through.
pub struct Case {
    pub name: String,
    pub path: &'static str,
    pub queries: Vec<Query>,
    pub requests: usize,
    /// `Authorization` header (the KMC endpoints).
    pub admin: Option<String>,
}

/// What a case measured.
pub struct Measured {
    pub per_second: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// How many items a response holds: the array of `/cvms/within`, the page of `/cvms`.
fn items(body: &Value) -> (usize, Option<u64>) {
    match body {
        Value::Array(items) => (items.len(), None),
        other => (
            other["content"].as_array().map_or(0, Vec::len),
            other["info"]["totalElements"].as_u64(),
        ),
    }
}

fn request(client: &reqwest::Client, url: &str, case: &Case, query: &Query) -> reqwest::RequestBuilder {
    let request = client.get(url).query(query);
    match &case.admin {
        Some(token) => request.header("Authorization", token),
        None => request,
    }
}

pub async fn run_case(client: &reqwest::Client, base: &str, label: &str, case: &Case) -> Measured {
    let url = format!("{base}{}", case.path);
    // Warm-up, also checking every query is answered with 200 and counting items.
    let (mut total_items, mut matched) = (0, 0);
    for query in &case.queries {
        let response = request(client, &url, case, query).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{} {query:?}: {status} {body}", case.name);
        let (n, total) = items(&body);
        total_items += n;
        matched += total.unwrap_or(0);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let case = Arc::new(Case {
        name: case.name.clone(),
        path: case.path,
        queries: case.queries.clone(),
        requests: case.requests,
        admin: case.admin.clone(),
    });
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, url, next, case) = (client.clone(), url.clone(), next.clone(), case.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= case.requests {
                        break;
                    }
                    let sent = Instant::now();
                    let query = &case.queries[i % case.queries.len()];
                    let ok = match request(&client, &url, &case, query).send().await {
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
    let per_second = latencies.len() as f64 / elapsed.as_secs_f64();
    let totals = if matched > 0 {
        format!(", {:.0} matching/query", matched as f64 / case.queries.len() as f64)
    } else {
        String::new()
    };
    println!(
        "kippenstummel/{label}/http/{}: {} requests, {CLIENTS} clients, {per_second:.1} req/s, p50 {:.2?}, p99 {:.2?}, \
         {:.0} items/response{totals}, {failures} failed",
        case.name,
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        total_items as f64 / case.queries.len() as f64,
    );
    Measured { per_second }
}

/// Phone-sized viewports (about 4 × 3 tiles of 256 px) around the cities, jittered.
pub fn viewports(zoom: u8, count: usize, rng: &mut Rng) -> Vec<Query> {
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

/// Pages of 50 spread over the first `machines` (the deepest pages cost the most to skip to).
pub fn pages(machines: usize, count: usize) -> Vec<Query> {
    (0..count)
        .map(|i| {
            vec![
                ("page", ((i * 37) % (machines / 50).max(1)).to_string()),
                ("perPage", "50".into()),
            ]
        })
        .collect()
}

pub fn with_filter(queries: &[Query], filter: &str) -> Vec<Query> {
    queries
        .iter()
        .map(|q| {
            let mut q = q.clone();
            q.push(("filter", filter.to_owned()));
            q
        })
        .collect()
}

//! Kippenstummel at scale (a bench binary, not a timed test): read models
//! rebuilt from 100,000 machines, the HTTP read endpoints under load, the
//! server's resident memory, and a bulk import. Prints one line per
//! measurement; BENCHMARKS.md records them.
//!
//!   cargo bench --bench kippenstummel            # everything
//!   cargo bench --bench kippenstummel -- within import  # only the cases whose name contains one of these
//!
//! Per backend (embedded SQLite; MongoDB too when `STUMMEL_BENCH_MONGO_URI`
//! is set, a URI with `{db}` where a fresh database name goes):
//!
//! 1. Appends `cvm-imported` events (one aggregate each) straight to the
//!    event store: machines spread over Germany, denser around ten cities.
//! 2. Times `stummel replay --all` (the release binary) building every read
//!    model; each projection reports its own rate.
//! 3. Starts `stummel serve` and drives it over loopback with 8 concurrent
//!    clients and a fixed number of requests per case: `/cvms/within` at
//!    zooms 8, 12, 14 and 18 over phone-sized viewports, with and without a
//!    filter; `/cvms` and `/kmc/cvms` pages with and without filters (one and
//!    two conditions, `lastVotedAt`, `bbox`), the KMC statistics (365 days)
//!    and the density grid of Germany. Reports requests/s and p50/p99
//!    latency per case, and the server's peak `VmRSS` meanwhile.
//! 4. Imports 20,000 machines through `POST /kmc/cvms/import/manual` (bodies
//!    of 1,500, the body limit) and times it until all are listed.
//!
//! `STUMMEL_BENCH_MACHINES` sets the number of machines (default 100,000);
//! `STUMMEL_BENCH_DIR` keeps the embedded data in that directory and reuses
//! an event log already there (then the map must be of the same size).

#[path = "kippenstummel/data.rs"]
mod data;
#[path = "kippenstummel/load.rs"]
mod load;
#[path = "kippenstummel/server.rs"]
mod server;

use data::{append_machines, import_bodies, Rng};
use load::{pages, run_case, viewports, with_filter, Case, Query, CLIENTS};
use serde_json::Value;
use server::{admin_token, replay, Backend, Server};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};
use stummel::event_store::{EventRepository, MongoEventStore, SqliteEventStore, SyncMode};

const DEFAULT_MACHINES: usize = 100_000;
const IMPORTED: usize = 20_000;
/// Import entries per request: 1,500 entries of ~50 bytes stay below the 100 kB body limit.
const IMPORT_PER_REQUEST: usize = 1_500;
/// The score the imported entries carry, which tells them apart when listing.
const IMPORT_SCORE: i64 = 5;

/// The HTTP cases: (name, path, queries, requests, KMC).
fn cases(machines: usize) -> Vec<(&'static str, &'static str, Vec<Query>, usize, bool)> {
    let mut rng = Rng(0x0b5e_55ed);
    let z8 = viewports(8, 40, &mut rng);
    let z12 = viewports(12, 40, &mut rng);
    let z14 = viewports(14, 40, &mut rng);
    let z18 = viewports(18, 40, &mut rng);
    // The app's filters are score thresholds; this one keeps every machine, the worst case.
    let score = "score>=0";
    let two = "score>=0;imported==true";
    // No machine of the map has a vote: the index answers with nothing.
    let voted = "lastVotedAt>2026-01-01T00:00:00.000Z";
    let berlin = "bbox=='13.25,52.45,13.55,52.60'";
    let page = pages(machines, 20);
    // The KMC statistics over their longest window, and the density grid of all of Germany.
    let year = vec![vec![("lastNDays", "365".to_owned())]];
    let germany = vec![vec![
        ("bottomLeft", "47.2,5.8".to_owned()),
        ("topRight", "55.1,15.1".to_owned()),
        ("zoom", "8".to_owned()),
    ]];
    vec![
        ("within/z8", "/api/v1/cvms/within", z8.clone(), 2000, false),
        ("within/z12", "/api/v1/cvms/within", z12.clone(), 1000, false),
        (
            "within/z12-filter",
            "/api/v1/cvms/within",
            with_filter(&z12, score),
            1000,
            false,
        ),
        ("within/z14", "/api/v1/cvms/within", z14.clone(), 2000, false),
        (
            "within/z14-filter",
            "/api/v1/cvms/within",
            with_filter(&z14, score),
            2000,
            false,
        ),
        ("within/z18", "/api/v1/cvms/within", z18.clone(), 4000, false),
        (
            "within/z18-filter",
            "/api/v1/cvms/within",
            with_filter(&z18, score),
            4000,
            false,
        ),
        ("list/page50", "/api/v1/cvms", page.clone(), 1000, false),
        (
            "list/page50-filter",
            "/api/v1/cvms",
            with_filter(&page, score),
            1000,
            false,
        ),
        (
            "list/page50-filter2",
            "/api/v1/cvms",
            with_filter(&page, two),
            1000,
            false,
        ),
        (
            "list/page50-lastVotedAt",
            "/api/v1/cvms",
            with_filter(&page, voted),
            1000,
            false,
        ),
        (
            "list/page50-bbox",
            "/api/v1/cvms",
            with_filter(&page[..1], berlin),
            1000,
            false,
        ),
        ("kmc-list/page50", "/api/v1/kmc/cvms", page.clone(), 1000, true),
        (
            "kmc-list/page50-filter2",
            "/api/v1/kmc/cvms",
            with_filter(&page, two),
            1000,
            true,
        ),
        ("kmc-stats/cvms", "/api/v1/kmc/stats/cvms", year.clone(), 1000, true),
        ("kmc-stats/votes", "/api/v1/kmc/stats/votes", year.clone(), 1000, true),
        ("kmc-stats/idents", "/api/v1/kmc/stats/idents", year.clone(), 1000, true),
        ("kmc-stats/jobs", "/api/v1/kmc/stats/jobs", year, 1000, true),
        (
            "kmc-stats/density-z8",
            "/api/v1/kmc/stats/cvms/density",
            germany,
            40,
            true,
        ),
    ]
}

/// Filtered cases and the unfiltered ones they are held to (≥ 0.5× their throughput).
const RATIOS: [(&str, &str); 5] = [
    ("within/z12-filter", "within/z12"),
    ("within/z14-filter", "within/z14"),
    ("within/z18-filter", "within/z18"),
    ("list/page50-filter", "list/page50"),
    ("list/page50-filter2", "list/page50"),
];

async fn serve_and_measure(backend: &Backend, dir: &Path, machines: usize, wanted: &dyn Fn(&str) -> bool) {
    let label = backend.label();
    let server = Server::start(backend, dir);
    let base = format!("http://127.0.0.1:{}", server.port);
    println!("kippenstummel/{label}/rss: {:.1} MiB after start", server.rss_mib());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let admin = admin_token();
    let sampler = server.sample_rss();
    let mut rates: HashMap<&str, f64> = HashMap::new();
    for (name, path, queries, requests, kmc) in cases(machines) {
        if !wanted(name) {
            continue;
        }
        let case = Case {
            name: name.to_owned(),
            path,
            queries,
            requests,
            admin: kmc.then(|| admin.clone()),
        };
        rates.insert(name, run_case(&client, &base, label, &case).await.per_second);
    }
    println!(
        "kippenstummel/{label}/rss: peak {:.1} MiB while serving, {:.1} MiB after",
        sampler.peak_mib(),
        server.rss_mib()
    );
    drop(sampler);
    for (filtered, plain) in RATIOS {
        if let (Some(f), Some(p)) = (rates.get(filtered), rates.get(plain)) {
            println!("kippenstummel/{label}/ratio: {filtered} / {plain} = {:.2}", f / p);
        }
    }
    if wanted("import") {
        import(label, &client, &base, &admin).await;
    }
}

/// Posts the import bodies, then polls until every entry is listed.
async fn import(label: &str, client: &reqwest::Client, base: &str, admin: &str) {
    let bodies = import_bodies(IMPORTED, IMPORT_PER_REQUEST, IMPORT_SCORE);
    let listed = || async {
        let page: Value = client
            .get(format!("{base}/api/v1/kmc/cvms"))
            .query(&[("filter", format!("score=={IMPORT_SCORE}")), ("perPage", "1".into())])
            .header("Authorization", admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["info"]["totalElements"].as_u64().unwrap_or(0) as usize
    };
    let before = listed().await;
    let started = Instant::now();
    for body in &bodies {
        let response = client
            .post(format!("{base}/api/v1/kmc/cvms/import/manual"))
            .header("Authorization", admin)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201, "{}", response.text().await.unwrap());
    }
    let answered = started.elapsed();
    let mut seen = before;
    while seen < before + IMPORTED && started.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = listed().await;
    }
    let elapsed = started.elapsed();
    println!(
        "kippenstummel/{label}/import: {} entries in {} requests answered in {answered:.2?}, \
         {} listed after {elapsed:.2?} ({:.0} machines/s)",
        IMPORTED,
        bodies.len(),
        seen - before,
        (seen - before) as f64 / elapsed.as_secs_f64()
    );
}

/// A MongoDB database for this run: the event log appended to it, dropped at the end.
async fn mongo_backend(template: &str, machines: usize) -> (Backend, mongodb::Database) {
    let name = format!("stummel_bench_{}", uuid::Uuid::new_v4().simple());
    let uri = template.replace("{db}", &name);
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let db = client.database(&name);
    let repo = EventRepository::mongo(MongoEventStore::with_database(client, db.clone()).await.unwrap());
    append_machines("mongodb", &repo, machines).await;
    (Backend::Mongo(uri), db)
}

#[tokio::main]
async fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let machines: usize = std::env::var("STUMMEL_BENCH_MACHINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MACHINES);
    let temp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("STUMMEL_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temp.path());
    println!("kippenstummel: {machines} machines, DATA_DIR {}", dir.display());

    if !dir.join("events.db").exists() {
        let repo = EventRepository::embedded(SqliteEventStore::open(dir, SyncMode::Normal).unwrap());
        append_machines("embedded", &repo, machines).await;
    }
    let embedded = Backend::Embedded;
    replay(&embedded, dir, &["--all"]);
    serve_and_measure(&embedded, dir, machines, &wanted).await;

    match std::env::var("STUMMEL_BENCH_MONGO_URI") {
        Ok(template) => {
            let (mongo, db) = mongo_backend(&template, machines).await;
            let mongo_dir = tempfile::tempdir().unwrap();
            replay(&mongo, mongo_dir.path(), &["--all"]);
            serve_and_measure(&mongo, mongo_dir.path(), machines, &wanted).await;
            db.drop().await.unwrap();
        }
        Err(_) => eprintln!("kippenstummel: STUMMEL_BENCH_MONGO_URI not set (no MongoDB numbers)"),
    }
}

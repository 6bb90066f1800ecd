//! Devmarkt benchmarks (a bench binary): the whole engine in-process on the
//! embedded store, projectors running, QA seed loaded.
//!
//!   cargo bench --bench devmarkt
//!
//! - create + process application throughput through the service (each
//!   creation: claim on the user, template load, create, read-your-writes
//!   wait; each process: load, process, release the slot, wait);
//! - GraphQL query latency, executing documents on the schema in-process
//!   (resolution and read-model reads, no HTTP).
//!
//! `cargo bench --bench devmarkt -- graphql` runs only the query latencies.
//!
//! Prints one line per measurement; BENCHMARKS.md records the numbers.

use aggregates::devmarkt::application::{Answer, ApplicationStatus};
use aggregates::devmarkt::user::{Role, UserId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stummel::config::{Config, Source};
use stummel::devmarkt::auth::{Auth, Caller};
use stummel::devmarkt::graphql::{schema, schema_with, Epoch, Limits};
use stummel::engine::Engine;

const USERS: usize = 2_000;
const CONCURRENCY: usize = 8;
const QUERIES: usize = 2_000;
/// Runs of the deep query (each one walks hundreds of nodes).
const DEEP_QUERIES: usize = 50;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn answers() -> Vec<Answer> {
    vec![
        Answer::new(0, "A benchmark"),
        Answer::new(1, "Rust"),
        Answer::new(2, "x".repeat(500)),
    ]
}

async fn engine(dir: &std::path::Path, sync: &str) -> Arc<Engine> {
    let values: HashMap<String, String> = [
        ("DATA_DIR", dir.to_str().unwrap()),
        ("DEVMARKT_QA", "true"),
        ("EMBEDDED_SYNC", sync),
        ("LOG_LEVEL", "error"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = Config::from_source(&Source::from_map(values)).unwrap();
    Arc::new(Engine::start(config).await.unwrap())
}

async fn throughput(engine: &Arc<Engine>, epoch: u64, sync: &str) {
    let devmarkt = engine.devmarkt.clone();
    let users: Vec<UserId> = (0..USERS as i64).map(|n| UserId::new("bench", n)).collect();
    for user in &users {
        devmarkt.create_user(epoch, user, Role::User).await.unwrap().unwrap();
    }

    let run = |users: Vec<UserId>, process: bool| {
        let devmarkt = devmarkt.clone();
        async move {
            let chunks: Vec<Vec<UserId>> = users.chunks(USERS / CONCURRENCY).map(<[UserId]>::to_vec).collect();
            let started = Instant::now();
            let tasks: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    let devmarkt = devmarkt.clone();
                    tokio::spawn(async move {
                        for user in chunk {
                            if process {
                                let id = devmarkt
                                    .reader(epoch)
                                    .current_application_of(&user)
                                    .await
                                    .unwrap()
                                    .expect("a current application")
                                    .id;
                                assert!(devmarkt
                                    .process_application(epoch, id, ApplicationStatus::Accepted)
                                    .await
                                    .unwrap());
                            } else {
                                devmarkt
                                    .create_application(epoch, &user, "Dev offered", answers())
                                    .await
                                    .unwrap()
                                    .expect("created");
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            started.elapsed()
        }
    };
    let created = run(users.clone(), false).await;
    let processed = run(users.clone(), true).await;
    let n = USERS as f64;
    println!(
        "devmarkt/create_application [{sync}]: {USERS} in {:.2} s = {:.0}/s ({CONCURRENCY} concurrent users)",
        created.as_secs_f64(),
        n / created.as_secs_f64()
    );
    println!(
        "devmarkt/process_application [{sync}]: {USERS} in {:.2} s = {:.0}/s ({CONCURRENCY} concurrent)",
        processed.as_secs_f64(),
        n / processed.as_secs_f64()
    );
    println!(
        "devmarkt/create+process [{sync}]: {:.0} applications/s end to end",
        n / (created + processed).as_secs_f64()
    );
}

/// `user(testuser:1) { applications { user { applications { … } } } }` with
/// `levels` nested fields below the root (the expensive document).
fn deep_query(levels: usize) -> String {
    let mut query = String::from("{ user(id: {type: \"testuser\", number: 1}) { ... on User { ");
    for level in 0..levels {
        query.push_str(if level % 2 == 0 {
            "applications { id "
        } else {
            "user { role "
        });
    }
    query.push_str(&"} ".repeat(levels));
    query.push_str("} } }");
    query
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "devmarkt/graphql {name}: p50 {:?}, p90 {:?}, p99 {:?} ({} queries, in-process)",
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&times, 0.99),
        times.len()
    );
}

async fn query_latency(engine: &Arc<Engine>, epoch: u64) {
    let schema = schema(engine.devmarkt.clone());
    let admin = Caller {
        id: UserId::built_in_admin(),
        role: Role::Admin,
    };
    let queries = [
        ("templates", "{ templates { name questions { number question multiline minAnswerLength } } }"),
        (
            "application",
            "{ application(id: 1) { ... on Application { id status user { id { type number } } answers { number answer question { question } } } } }",
        ),
        (
            "user+applications",
            "{ user(id: {type: \"testuser\", number: 1}) { ... on User { role currentApplication { id } applications { id status template { name } } } } }",
        ),
    ];
    for (name, query) in queries {
        let mut times = Vec::with_capacity(QUERIES);
        for _ in 0..QUERIES {
            let request = async_graphql::Request::new(query)
                .data(Auth(Some(admin.clone())))
                .data(Epoch(epoch));
            let started = Instant::now();
            let response = schema.execute(request).await;
            times.push(started.elapsed());
            assert!(response.errors.is_empty(), "{:?}", response.errors);
        }
        report(name, times);
    }
    // The document: executed with the limits raised (what it costs
    // the read model), and refused by the served schema.
    let deep = deep_query(12);
    let raised = Limits {
        depth: 64,
        complexity: usize::MAX,
        ..Limits::SERVED
    };
    let unlimited = schema_with(engine.devmarkt.clone(), raised);
    for (name, schema, refused) in [
        ("deep 12 levels, limits raised", &unlimited, false),
        ("deep 12 levels, refused", &schema, true),
    ] {
        let mut times = Vec::with_capacity(DEEP_QUERIES);
        for _ in 0..DEEP_QUERIES {
            let request = async_graphql::Request::new(deep.as_str())
                .data(Auth(Some(admin.clone())))
                .data(Epoch(epoch));
            let started = Instant::now();
            let response = schema.execute(request).await;
            times.push(started.elapsed());
            assert_eq!(response.errors.is_empty(), !refused, "{:?}", response.errors);
        }
        report(name, times);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let only_queries = std::env::args().skip(1).any(|arg| arg == "graphql");
    for sync in ["full", "normal"] {
        if only_queries && sync != "full" {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), sync).await;
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let projectors = engine.spawn_projectors(shutdown_rx);
        let epoch = engine.devmarkt.reseed().await.unwrap();
        if !only_queries {
            throughput(&engine, epoch, sync).await;
        }
        if sync == "full" {
            query_latency(&engine, epoch).await;
        }
        let _ = shutdown.send(true);
        for projector in projectors {
            let _ = projector.await;
        }
    }
}

//! Black-box tests of the `stummel` binary: real processes, real ports,
//! a private redis-server, MongoDB when STUMMEL_TEST_MONGO_URI is set.

mod support;

#[path = "service/instances.rs"]
mod instances;
#[path = "service/outages.rs"]
mod outages;

use projections::{Namespace, Projector, ProjectorConfig, ReadStore};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn ready_body(service: &Service) -> (u16, serde_json::Value) {
    let response = client().get(service.url("/api/ready")).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn serve_answers_live_ready_metrics_docs_and_404() {
    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(dir.path(), &[]);
    let http = client();

    let live = http.get(service.url("/api/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let request_id = live.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&request_id).is_ok(), "{request_id}");
    assert_eq!(live.text().await.unwrap(), "OK");

    let (status, body) = eventually(Duration::from_secs(10), || async {
        let (status, body) = ready_body(&service).await;
        (status == 200).then_some((status, body))
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["info"]["eventStore:embedded"]["status"], "up");
    assert_eq!(body["info"]["readModels:embedded"]["status"], "up");
    assert_eq!(body["info"]["projection:event-stats"]["lag"], 0);
    assert_eq!(body["error"], serde_json::json!({}));

    let missing = http.get(service.url("/api/v1/nothing?x=1")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("x-request-id"));
    let error: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(error["code"], "NOT_FOUND_ERROR");
    assert_eq!(error["message"], "Resource not found");
    assert_eq!(error["path"], "/api/v1/nothing?x=1");
    assert!(chrono::DateTime::parse_from_rfc3339(error["timestamp"].as_str().unwrap()).is_ok());
    let wrong_method = http.post(service.url("/api/live")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 404);

    let metrics = http
        .get(service.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("stummel_http_requests_total{method=\"GET\",status=\"404\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("stummel_projection_lag_events{projection=\"event-stats\"} 0"),
        "{metrics}"
    );

    let spec: serde_json::Value = http
        .get(service.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        spec["paths"]["/api/ready"]["get"]["responses"]["503"].is_object(),
        "{spec}"
    );
    let docs = http.get(service.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);

    // SIGTERM: stops accepting, finishes, exits cleanly.
    service.signal("TERM");
    let status = service.wait(Duration::from_secs(20));
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn ready_reports_redis_and_turns_503_when_it_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let uri = redis.uri();
    let service = Service::start(dir.path(), &[("REDIS_URI", uri.as_str())]);
    let (status, body) = eventually(Duration::from_secs(10), || async {
        let (status, body) = ready_body(&service).await;
        (status == 200).then_some((status, body))
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["info"]["readModels:redis"]["status"], "up");
    drop(redis);
    let (status, body) = ready_body(&service).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "error");
    assert_eq!(body["error"]["readModels:redis"]["status"], "down");
    assert!(body["error"]["readModels:redis"]["message"].is_string());
    assert_eq!(body["info"]["eventStore:embedded"]["status"], "up");
}

/// Runs `stummel serve` expecting start-up to fail; returns (exit code, stderr lines).
fn failing_start(env: &[(&str, &str)]) -> (Option<i32>, Vec<String>, bool) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_str = data.to_str().unwrap().to_owned();
    let mut all = vec![
        ("DATA_DIR", data_str.as_str()),
        ("PORT", "0"),
        ("CONNECT_TIMEOUT_MS", "1500"),
    ];
    all.extend_from_slice(env);
    let output = stummel(&["serve"], &all).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines = stderr.lines().map(str::to_owned).collect();
    (output.status.code(), lines, data.exists())
}

#[tokio::test]
async fn bad_configuration_stops_startup_with_one_line_and_writes_nothing() {
    for (env, needle) in [
        (vec![("PORT", "eighty")], "PORT must be a whole number"),
        (vec![("MONGO_URI", "localhost:27017")], "MONGO_URI must be a URI"),
        (vec![("REDIS_URI", "localhost")], "REDIS_URI must be a URI"),
        (vec![("NODE_ENV", "production")], "JWT_SECRET is required"),
        (vec![("SNAPSHOT_EVERY", "lots")], "SNAPSHOT_EVERY must be"),
        (
            vec![("NODE_ENV", ""), ("REDIS_URI", "redis://127.0.0.1:1")],
            "NODE_ENV is required with MONGO_URI or REDIS_URI",
        ),
        (vec![("TRUST_PROXY", "nginx")], "TRUST_PROXY must be"),
    ] {
        let (code, lines, wrote) = failing_start(&env);
        assert_eq!(code, Some(2), "{env:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{env:?}: {lines:?}");
        assert!(lines[0].contains(needle), "{env:?}: {lines:?}");
        assert!(!wrote, "{env:?}: the data directory was created");
    }
}

/// `docker run` of the image without secrets: the Dockerfile's environment
/// alone must stop the service with one line (Docker cannot run here, so the
/// binary runs with the `ENV` the image sets).
#[tokio::test]
async fn the_image_without_secrets_refuses_to_start() {
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    let env_line = dockerfile
        .lines()
        .find(|l| l.starts_with("ENV "))
        .expect("the Dockerfile sets an environment");
    let pairs: Vec<(String, String)> = env_line["ENV ".len()..]
        .split_whitespace()
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("ENV key=value");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    assert!(
        pairs.iter().any(|(k, v)| k == "NODE_ENV" && v == "production"),
        "{pairs:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut env: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(k, _)| k != "DATA_DIR")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("DATA_DIR", data.to_str().unwrap()));
    let output = stummel(&["serve"], &env).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("JWT_SECRET is required"), "{stderr}");
    assert!(!data.exists());
}

#[tokio::test]
async fn dotenv_files_configure_the_service_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::write(
        dir.path().join(".env"),
        format!("PORT=not-a-port\nDATA_DIR={}\n", data.display()),
    )
    .unwrap();
    std::fs::write(dir.path().join(".env.test"), "PORT=from-env-test\n").unwrap();
    // .env.<NODE_ENV> is read before .env: its value wins.
    let output = stummel(&["serve"], &[("NODE_ENV", "test")])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("\"from-env-test\""), "{stderr}");
    // A real environment variable wins over the files.
    let output = stummel(&["serve"], &[("NODE_ENV", "development")])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8(output.stderr).unwrap().contains("\"not-a-port\""));
    let mut service = {
        let mut child = stummel(&["serve"], &[("NODE_ENV", "development"), ("PORT", "0")])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().unwrap().unwrap();
        assert!(line.starts_with("stummel listening on"), "{line}");
        child
    };
    assert!(data.join("events.db").exists(), "DATA_DIR came from .env");
    let _ = service.kill();
    let _ = service.wait();
}

#[tokio::test]
async fn unreachable_servers_stop_startup_with_one_line_and_write_nothing() {
    let closed = free_port();
    let redis = format!("redis://127.0.0.1:{closed}");
    let mongo = format!("mongodb://127.0.0.1:{closed}/stummel?directConnection=true");
    for (env, needle) in [
        (vec![("REDIS_URI", redis.as_str())], "cannot reach Redis at REDIS_URI"),
        (vec![("MONGO_URI", mongo.as_str())], "cannot reach MongoDB at MONGO_URI"),
    ] {
        let started = Instant::now();
        let (code, lines, wrote) = failing_start(&env);
        assert_eq!(code, Some(1), "{env:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{env:?}: {lines:?}");
        assert!(lines[0].contains(needle), "{env:?}: {lines:?}");
        assert!(!wrote, "{env:?}: the data directory was created");
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

/// The docs of the active `event-stats` model, and its checkpoint.
async fn event_stats(store: &dyn ReadStore) -> (BTreeMap<String, serde_json::Value>, u64) {
    let active = store
        .active("event-stats")
        .await
        .unwrap()
        .expect("event-stats is built");
    let ns = Namespace::new("event-stats", active.generation);
    let docs = store.list_docs(&ns, "by-type").await.unwrap().into_iter().collect();
    (docs, store.checkpoint(&ns).await.unwrap())
}

#[tokio::test]
async fn sigkill_during_load_loses_no_acknowledged_event_and_projections_converge() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let mut load = stummel(
        &[
            "loadgen",
            "--commands",
            "10000000",
            "--aggregates",
            "16",
            "--concurrency",
            "8",
            "--batch",
            "2",
            "--print-acks",
            "--with-projectors",
        ],
        &[
            ("DATA_DIR", data.as_str()),
            ("EMBEDDED_SYNC", "full"),
            ("PROJECTION_POLL_MS", "50"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    let mut lines = BufReader::new(load.stdout.take().unwrap()).lines();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) || acked.values().sum::<u64>() < 200 {
        let line = lines.next().expect("loadgen ended early").unwrap();
        let mut parts = line.split_whitespace();
        assert_eq!(parts.next(), Some("ack"));
        let id = parts.next().unwrap().to_owned();
        *acked.entry(id).or_default() += parts.next().unwrap().parse::<u64>().unwrap();
        assert!(started.elapsed() < Duration::from_secs(60), "too slow");
    }
    load.kill().unwrap(); // SIGKILL, mid-append
    load.wait().unwrap();
    // Whatever was printed after our last read still counts: drain it.
    for line in lines.map_while(Result::ok) {
        let mut parts = line.split_whitespace();
        if let (Some("ack"), Some(id), Some(n)) = (parts.next(), parts.next(), parts.next()) {
            *acked.entry(id.to_owned()).or_default() += n.parse::<u64>().unwrap();
        }
    }

    let repo = embedded_events(dir.path());
    for (id, events) in &acked {
        let stored = repo.stream_of("probe", id, 0).await.unwrap();
        assert!(
            stored.len() as u64 >= *events,
            "{id}: {events} acknowledged, {} stored",
            stored.len()
        );
        let sequences: Vec<usize> = stored.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, (1..=stored.len()).collect::<Vec<_>>(), "{id}: no holes");
    }
    let head = repo.head_position().await.unwrap();
    assert!(head >= acked.values().sum::<u64>());
    drop(repo);

    // Restart: the projections catch up from their checkpoints (the
    // restarted service appends its start-up job runs on top)...
    let mut service = Service::start(dir.path(), &[]);
    let restarted = std::time::Instant::now();
    let reader = embedded_events(dir.path());
    eventually(Duration::from_secs(30), || async {
        let (status, body) = ready_body(&service).await;
        let checkpoint = body["info"]["projection:event-stats"]["checkpoint"].as_u64()?;
        let now = reader.head_position().await.ok()?;
        // The start-up runs begin a second after start and take milliseconds.
        let settled = restarted.elapsed() > Duration::from_secs(3);
        (status == 200 && checkpoint >= head && checkpoint == now && settled).then_some(())
    })
    .await;
    drop(reader);
    service.signal("TERM");
    assert!(service.wait(Duration::from_secs(20)).success());

    // ...to exactly what a full rebuild produces.
    let repo = embedded_events(dir.path());
    let head = repo.head_position().await.unwrap();
    let store: Arc<dyn ReadStore> = Arc::new(embedded_reads(dir.path()));
    let (live, checkpoint) = event_stats(store.as_ref()).await;
    assert_eq!(checkpoint, head, "a graceful stop finishes the projection's batch");
    assert_eq!(live.values().map(|d| d["count"].as_u64().unwrap()).sum::<u64>(), head);
    let projector = Projector::new(
        Arc::new(projections::stats::EventStats),
        store.clone(),
        Arc::new(repo),
        ProjectorConfig::default(),
    );
    projector.rebuild(0, &[], &mut |_, _| {}).await.unwrap();
    let (rebuilt, _) = event_stats(store.as_ref()).await;
    assert_eq!(live, rebuilt);
}

#[tokio::test]
async fn replay_and_projections_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let env = [("DATA_DIR", data.as_str())];
    let load = stummel(&["loadgen", "--commands", "300", "--aggregates", "5"], &env)
        .output()
        .unwrap();
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));

    let listed = stummel(&["projections"], &env).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("event-stats") && listed.contains("not built"),
        "{listed}"
    );

    let replay = stummel(&["replay", "--all"], &env).output().unwrap();
    assert!(replay.status.success());
    let out = String::from_utf8(replay.stdout).unwrap();
    assert!(
        out.contains("event-stats: rebuilt generation 1 up to position 300 (300 events"),
        "{out}"
    );
    assert!(out.contains("events/s"), "{out}");

    let again = stummel(
        &["replay", "--projection", "event-stats", "--from", "100", "--quiet"],
        &env,
    )
    .output()
    .unwrap();
    assert!(again.status.success());
    let out = String::from_utf8(again.stdout).unwrap();
    assert!(
        out.contains("rebuilt generation 2 up to position 300 (200 events"),
        "{out}"
    );

    let listed = stummel(&["projections"], &env).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("caught up") && listed.contains("log head: 300"),
        "{listed}"
    );

    let unknown = stummel(&["replay", "--projection", "nope"], &env).output().unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8(unknown.stderr)
        .unwrap()
        .contains("unknown projection \"nope\""));
    let beyond = stummel(&["replay", "--all", "--from", "301"], &env).output().unwrap();
    assert!(!beyond.status.success());
    let neither = stummel(&["replay"], &env).output().unwrap();
    assert_eq!(neither.status.code(), Some(2), "clap usage error");

    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["replay", "--help"],
        vec!["projections", "--help"],
        vec!["loadgen", "--help"],
    ] {
        let help = stummel(&args, &env).output().unwrap();
        assert!(help.status.success(), "{args:?}");
        assert!(String::from_utf8(help.stdout).unwrap().contains("Usage:"), "{args:?}");
    }
}

#[test]
fn docker_compose_describes_the_production_stack() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml")).unwrap();
    let mut compose: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    compose.apply_merge().unwrap(); // `<<: *stummel` as Compose reads it
    let services = compose["services"].as_mapping().unwrap();
    for name in ["mongo", "redis", "stummel-1", "stummel-2", "proxy"] {
        let service = &compose["services"][name];
        assert!(service.is_mapping(), "service {name} missing");
        assert!(
            service["healthcheck"]["test"].is_sequence(),
            "{name} has no health check"
        );
    }
    assert_eq!(services.len(), 5);
    let mongo_command: Vec<&str> = compose["services"]["mongo"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        mongo_command.contains(&"--replSet"),
        "MongoDB must run as a replica set (transactions)"
    );
    for replica in ["stummel-1", "stummel-2"] {
        let env = &compose["services"][replica]["environment"];
        assert!(
            env["MONGO_URI"].as_str().unwrap().contains("replicaSet=rs0"),
            "{replica}"
        );
        assert!(
            env["REDIS_URI"].as_str().unwrap().starts_with("redis://redis:"),
            "{replica}"
        );
        assert_eq!(env["NODE_ENV"].as_str(), Some("production"));
        assert_eq!(
            env["TRUST_PROXY"].as_str(),
            Some("uniquelocal"),
            "{replica}: behind nginx"
        );
        for secret in ["JWT_SECRET", "IDENT_SECRET", "DEVMARKT_JWT_SECRET"] {
            let value = env[secret].as_str().unwrap_or_default();
            assert!(
                value.starts_with(&format!("${{{secret}:?")),
                "{replica}: {secret} must be required"
            );
        }
        assert_eq!(
            compose["services"][replica]["depends_on"]["mongo"]["condition"].as_str(),
            Some("service_healthy")
        );
    }
    assert_ne!(
        compose["services"]["stummel-1"]["environment"]["INSTANCE_ID"],
        compose["services"]["stummel-2"]["environment"]["INSTANCE_ID"]
    );
    assert_eq!(compose["services"]["proxy"]["ports"][0].as_str(), Some("8080:8080"));
    let nginx = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf")).unwrap();
    assert!(nginx.contains("server stummel-1:8080") && nginx.contains("server stummel-2:8080"));
}

#[tokio::test]
#[ignore = "needs STUMMEL_TEST_MONGO_URI"]
async fn serve_on_mongodb_and_redis_is_ready() {
    let mongo = MongoDb::fresh().await;
    let redis = RedisServer::start();
    let uri = mongo_uri_for(&mongo);
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        dir.path(),
        &[("MONGO_URI", uri.as_str()), ("REDIS_URI", redis.uri().as_str())],
    );
    let body = eventually(Duration::from_secs(20), || async {
        let (status, body) = ready_body(&service).await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(body["info"]["eventStore:mongodb"]["status"], "up");
    assert_eq!(body["info"]["readModels:mongodb"]["status"], "up");
    assert_eq!(body["info"]["readModels:redis"]["status"], "up");
    assert!(
        !dir.path().join("events.db").exists(),
        "nothing embedded when MongoDB is configured"
    );
    drop(service);
    mongo.drop_database().await;
}
